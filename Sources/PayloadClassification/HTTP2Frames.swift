/// HTTP/2 frames in clear (h2c, gRPC without TLS), walked from a stream's
/// start (after the client's preface, or the server's first frame) to its
/// first header block, whose request or status line is the evidence.
enum HTTP2Frames {
    enum Walk: Equatable {
        /// The frames so far are valid; the first header block is not complete yet.
        case needMore
        /// Not HTTP/2 framing.
        case invalid
        /// Valid frames, but no header block that decodes (none yet at the
        /// end or within the limit, or its HPACK is not valid).
        case framesOnly
        case headers(HPACK.Fields)
    }

    static let headerLength = 9
    static let dataType: UInt8 = 0x0
    static let headersType: UInt8 = 0x1
    static let settingsType: UInt8 = 0x4
    static let continuationType: UInt8 = 0x9
    /// The largest frame a peer must accept before it says otherwise (SETTINGS_MAX_FRAME_SIZE).
    static let defaultMaximumFrame = 16_384

    /// A frame's 9-byte header (RFC 9113 4.1), read at `offset`; the caller
    /// has checked that nine bytes are there.
    struct FrameHeader {
        var length: Int
        var type: UInt8
        var flags: UInt8
        var stream: UInt32

        init(_ d: UnsafeRawBufferPointer, at offset: Int) {
            length = Int(d[offset]) << 16 | Int(d[offset + 1]) << 8 | Int(d[offset + 2])
            type = d[offset + 3]
            flags = d[offset + 4]
            stream = (UInt32(d[offset + 5]) & 0x7F) << 24 | UInt32(d[offset + 6]) << 16
                | UInt32(d[offset + 7]) << 8 | UInt32(d[offset + 8])
        }
    }

    /// Whether `d` starts with a SETTINGS frame on stream 0, as a server's
    /// side of an HTTP/2 connection must (RFC 9113 3.4): six bytes per
    /// setting, no flags but ACK (which carries none), and at most 16
    /// settings, or it is likely something else.
    static func startsWithSettings(_ d: UnsafeRawBufferPointer) -> Bool {
        d.count >= headerLength && couldStartSettings(d) && (d[4] == 0 || d[2] == 0)
    }

    /// Whether the first bytes of `d` (up to nine) fit such a SETTINGS
    /// frame's header, byte by byte: also asked of fewer than nine.
    static func couldStartSettings(_ d: UnsafeRawBufferPointer) -> Bool {
        for (i, byte) in d.prefix(headerLength).enumerated() {
            switch i {
            case 0, 1, 6, 7, 8: if byte != 0 { return false }                   // length < 256; stream 0
            case 2: if byte % 6 != 0 || byte > 6 * 16 { return false }          // whole settings, at most 16
            case 3: if byte != settingsType { return false }
            case 4: if byte & 0xFE != 0 { return false }                        // no flag but ACK
            default: if byte & 0x7F != 0 { return false }                       // stream 0 (reserved bit aside)
            }
        }
        return true
    }

    /// Walks the frames from `d`'s first byte. `final`: no more bytes will
    /// come (or the caller will wait for no more).
    static func firstHeaders(_ d: UnsafeRawBufferPointer, final: Bool) -> Walk {
        var offset = 0
        while offset + headerLength <= d.count {
            let header = FrameHeader(d, at: offset)
            guard header.length <= defaultMaximumFrame, frameIsValid(header) else {
                return offset == 0 ? .invalid : .framesOnly
            }
            let bodyStart = offset + headerLength
            guard bodyStart + header.length <= d.count else { return final ? .framesOnly : .needMore }
            if header.type == headersType {
                return headerBlock(d, frameStart: offset, header, final: final)
            }
            offset = bodyStart + header.length
        }
        return final ? (offset == 0 ? .invalid : .framesOnly) : .needMore
    }

    /// A frame's fragment without its padding (and a HEADERS frame's
    /// priority fields); nil when the padding does not fit.
    static func unpadded(_ body: [UInt8], flags: UInt8, priority: Bool) -> ArraySlice<UInt8>? {
        var start = 0
        var end = body.count
        if flags & 0x8 != 0 {
            guard let padding = body.first, Int(padding) < body.count else { return nil }
            start = 1
            end -= Int(padding)
        }
        if priority, flags & 0x20 != 0 { start += 5 }
        guard start <= end else { return nil }
        return body[start..<end]
    }

    /// Frame types whose shape is fixed by RFC 9113, checked; unknown types
    /// are allowed (peers must ignore them).
    static func frameIsValid(_ header: FrameHeader) -> Bool {
        let (length, flags, stream) = (header.length, header.flags, header.stream)
        switch header.type {
        case dataType, headersType, continuationType: return stream != 0     // DATA, HEADERS, CONTINUATION
        case 0x2: return stream != 0 && length == 5                          // PRIORITY
        case 0x3: return stream != 0 && length == 4                          // RST_STREAM
        case settingsType: return stream == 0 && length % 6 == 0 && (flags & 0x1 == 0 || length == 0)
        case 0x5: return stream != 0 && length >= 4                          // PUSH_PROMISE
        case 0x6: return stream == 0 && length == 8                          // PING
        case 0x7: return stream == 0 && length >= 8                          // GOAWAY
        case 0x8: return length == 4                                         // WINDOW_UPDATE
        default: return true
        }
    }

    /// The header block that starts in the HEADERS frame at `frameStart`,
    /// with the CONTINUATION frames that complete it, decoded.
    private static func headerBlock(_ d: UnsafeRawBufferPointer, frameStart: Int, _ header: FrameHeader, final: Bool) -> Walk {
        var start = frameStart + headerLength
        var end = start + header.length
        if header.flags & 0x8 != 0 {
            // PADDED: a pad-length byte first, that many bytes of padding last.
            guard header.length >= 1, Int(d[start]) < header.length else { return .framesOnly }
            end -= Int(d[start])
            start += 1
        }
        if header.flags & 0x20 != 0 {
            // PRIORITY: stream dependency and weight first.
            guard end - start >= 5 else { return .framesOnly }
            start += 5
        }
        if header.flags & 0x4 != 0 { return decoded(UnsafeRawBufferPointer(rebasing: d[start..<end])) }
        // Without END_HEADERS, CONTINUATION frames of the same stream follow at once.
        var block = Array(UnsafeRawBufferPointer(rebasing: d[start..<end]))
        var offset = frameStart + headerLength + header.length
        while true {
            guard offset + headerLength <= d.count else { return final ? .framesOnly : .needMore }
            let continuation = FrameHeader(d, at: offset)
            guard continuation.type == continuationType, continuation.stream == header.stream,
                  continuation.length <= defaultMaximumFrame else { return .framesOnly }
            let bodyStart = offset + headerLength
            guard bodyStart + continuation.length <= d.count else { return final ? .framesOnly : .needMore }
            block.append(contentsOf: UnsafeRawBufferPointer(rebasing: d[bodyStart..<(bodyStart + continuation.length)]))
            offset = bodyStart + continuation.length
            if continuation.flags & 0x4 != 0 { return block.withUnsafeBytes { decoded($0) } }
        }
    }

    /// A complete header block's fields, or `.framesOnly` when it is not
    /// valid HPACK or names none of the fields shown.
    private static func decoded(_ block: UnsafeRawBufferPointer) -> Walk {
        guard let fields = HPACK.decode(block), !fields.isEmpty else { return .framesOnly }
        return .headers(fields)
    }

    // MARK: Evidence

    /// "GET /path (:authority host)", the path's query values and any
    /// user information in the authority redacted.
    static func requestSummary(_ fields: HPACK.Fields) -> String? {
        guard let method = fields.method ?? (fields.path != nil ? "?" : nil) else { return nil }
        var summary = method
        if let path = fields.path {
            var target = Redaction.redactTarget(path)
            if target.count > 200 { target = String(target.prefix(197)) + "..." }
            summary += " " + target
        }
        var details: [String] = []
        if let authority = fields.authority, !authority.isEmpty {
            let host = authority.lastIndex(of: "@").map { Redaction.marker + "@" + authority[authority.index(after: $0)...] } ?? authority
            details.append(":authority " + String(host.prefix(120)))
        }
        if let contentType = fields.contentType, !contentType.isEmpty { details.append("content-type " + String(contentType.prefix(80))) }
        // Shown only when it is kubelet's prober (as in HTTP/1's evidence).
        if let agent = fields.userAgent, agent.hasPrefix("kube-probe/") { details.append("user-agent " + String(agent.prefix(60))) }
        if !details.isEmpty { summary += " (" + details.joined(separator: "; ") + ")" }
        return summary
    }

    /// ":status 200 (content-type application/grpc)".
    static func responseSummary(_ fields: HPACK.Fields) -> String? {
        guard let status = fields.status else { return nil }
        var summary = ":status " + String(status.prefix(16))
        if let contentType = fields.contentType, !contentType.isEmpty { summary += " (content-type " + String(contentType.prefix(80)) + ")" }
        return summary
    }
}

/// Cuts one direction's bytes into HTTP/2 frames wherever its segments were
/// cut: a frame's header is gathered (it may come a byte at a time), then
/// its body is kept, for the frames the caller reads, or counted past. The
/// caller steps through the bytes:
///
///     while true {
///         switch reader.step(bytes, at: &offset) {
///         case .header(let header): check it, then reader.read(keepingBody:)
///         case .frame(let header): use reader.body
///         case .needMore: return
///         }
///     }
struct HTTP2FrameReader: Sendable {
    enum Step {
        /// A frame's header is complete: check it, then call `read(keepingBody:)`.
        case header(HTTP2Frames.FrameHeader)
        /// A frame is complete; `body` holds its body when it was kept.
        case frame(HTTP2Frames.FrameHeader)
        /// Every byte given is used.
        case needMore
    }

    private var headerBytes: [UInt8] = []
    /// The complete frame's body, when kept (until the next frame starts).
    private(set) var body: [UInt8] = []
    private var bodyLeft = 0
    private var keepsBody = false

    init() {}

    /// No frame is begun: the bytes so far end where a frame ends.
    var atFrameBoundary: Bool { headerBytes.isEmpty }

    /// What is held, by what the buffers hold (see `HTTP2Refusal.heldBytes`).
    var heldBytes: Int { headerBytes.count + body.count }

    private var header: HTTP2Frames.FrameHeader {
        headerBytes.withUnsafeBytes { HTTP2Frames.FrameHeader($0, at: 0) }
    }

    /// After `.header`: read the frame's body, keeping it or not.
    mutating func read(keepingBody: Bool) {
        keepsBody = keepingBody
        bodyLeft = header.length
    }

    /// The next step through `bytes` from `offset`, which it moves on.
    mutating func step(_ bytes: UnsafeRawBufferPointer, at offset: inout Int) -> Step {
        if headerBytes.count < HTTP2Frames.headerLength {
            if headerBytes.isEmpty { body.removeAll(keepingCapacity: true) }
            let take = min(HTTP2Frames.headerLength - headerBytes.count, bytes.count - offset)
            headerBytes.append(contentsOf: UnsafeRawBufferPointer(rebasing: bytes[offset..<(offset + take)]))
            offset += take
            return headerBytes.count == HTTP2Frames.headerLength ? .header(header) : .needMore
        }
        let take = min(bodyLeft, bytes.count - offset)
        if keepsBody { body.append(contentsOf: UnsafeRawBufferPointer(rebasing: bytes[offset..<(offset + take)])) }
        bodyLeft -= take
        offset += take
        guard bodyLeft == 0 else { return .needMore }
        let complete = header
        headerBytes.removeAll(keepingCapacity: true)
        return .frame(complete)
    }
}
