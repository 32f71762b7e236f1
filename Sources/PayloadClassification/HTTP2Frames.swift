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
    static let headersType: UInt8 = 0x1
    static let settingsType: UInt8 = 0x4
    static let continuationType: UInt8 = 0x9
    /// The largest frame a peer must accept before it says otherwise (SETTINGS_MAX_FRAME_SIZE).
    static let defaultMaximumFrame = 16_384

    /// Whether `d` starts with a SETTINGS frame on stream 0, as a server's
    /// side of an HTTP/2 connection must (RFC 9113 3.4): six bytes per
    /// setting, no flags but ACK, and not so long that it is anything else.
    static func startsWithSettings(_ d: UnsafeRawBufferPointer) -> Bool {
        guard d.count >= headerLength, d[3] == settingsType, d[4] & 0xFE == 0,
              d[5] & 0x7F == 0, d[6] == 0, d[7] == 0, d[8] == 0 else { return false }
        let length = Int(d[0]) << 16 | Int(d[1]) << 8 | Int(d[2])
        return length % 6 == 0 && length <= 6 * 16 && (d[4] == 0 || length == 0)
    }

    /// Walks the frames from `d`'s first byte. `final`: no more bytes will
    /// come (or the caller will wait for no more).
    static func firstHeaders(_ d: UnsafeRawBufferPointer, final: Bool) -> Walk {
        var offset = 0
        while offset + headerLength <= d.count {
            let length = Int(d[offset]) << 16 | Int(d[offset + 1]) << 8 | Int(d[offset + 2])
            let type = d[offset + 3]
            let flags = d[offset + 4]
            let stream = (UInt32(d[offset + 5]) & 0x7F) << 24 | UInt32(d[offset + 6]) << 16
                | UInt32(d[offset + 7]) << 8 | UInt32(d[offset + 8])
            guard length <= defaultMaximumFrame, frameIsValid(type: type, flags: flags, length: length, stream: stream) else {
                return offset == 0 ? .invalid : .framesOnly
            }
            let bodyStart = offset + headerLength
            guard bodyStart + length <= d.count else { return final ? .framesOnly : .needMore }
            if type == headersType {
                return headerBlock(d, frameStart: offset, length: length, flags: flags, stream: stream, final: final)
            }
            offset = bodyStart + length
        }
        return final ? (offset == 0 ? .invalid : .framesOnly) : .needMore
    }

    /// Frame types whose shape is fixed by RFC 9113, checked; unknown types
    /// are allowed (peers must ignore them).
    private static func frameIsValid(type: UInt8, flags: UInt8, length: Int, stream: UInt32) -> Bool {
        switch type {
        case 0x0, headersType, continuationType: return stream != 0          // DATA, HEADERS, CONTINUATION
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
    private static func headerBlock(
        _ d: UnsafeRawBufferPointer, frameStart: Int, length: Int, flags: UInt8, stream: UInt32, final: Bool
    ) -> Walk {
        var start = frameStart + headerLength
        var end = start + length
        if flags & 0x8 != 0 {
            // PADDED: a pad-length byte first, that many bytes of padding last.
            guard length >= 1, Int(d[start]) < length else { return .framesOnly }
            end -= Int(d[start])
            start += 1
        }
        if flags & 0x20 != 0 {
            // PRIORITY: stream dependency and weight first.
            guard end - start >= 5 else { return .framesOnly }
            start += 5
        }
        if flags & 0x4 != 0 {
            let fields = HPACK.decode(UnsafeRawBufferPointer(rebasing: d[start..<end]))
            guard let fields, !fields.isEmpty else { return .framesOnly }
            return .headers(fields)
        }
        // Without END_HEADERS, CONTINUATION frames of the same stream follow at once.
        var block = Array(UnsafeRawBufferPointer(rebasing: d[start..<end]))
        var offset = frameStart + headerLength + length
        while true {
            guard offset + headerLength <= d.count else { return final ? .framesOnly : .needMore }
            let continuationLength = Int(d[offset]) << 16 | Int(d[offset + 1]) << 8 | Int(d[offset + 2])
            let continuationStream = (UInt32(d[offset + 5]) & 0x7F) << 24 | UInt32(d[offset + 6]) << 16
                | UInt32(d[offset + 7]) << 8 | UInt32(d[offset + 8])
            guard d[offset + 3] == continuationType, continuationStream == stream,
                  continuationLength <= defaultMaximumFrame else { return .framesOnly }
            guard offset + headerLength + continuationLength <= d.count else { return final ? .framesOnly : .needMore }
            block.append(contentsOf: UnsafeRawBufferPointer(rebasing: d[(offset + headerLength)..<(offset + headerLength + continuationLength)]))
            let endsBlock = d[offset + 4] & 0x4 != 0
            offset += headerLength + continuationLength
            if endsBlock {
                let fields = block.withUnsafeBytes { HPACK.decode($0) }
                guard let fields, !fields.isEmpty else { return .framesOnly }
                return .headers(fields)
            }
        }
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
