/// HPACK decoding that keeps the dynamic table from one header block to the
/// next (RFC 7541 2.3), so every response on a connection can be read, not
/// only the first. Values are kept only for the fields `HPACK.Name` knows;
/// the others (`set-cookie`, `authorization`…) are decoded only as far as
/// their length, which the table's size accounting needs.
struct HPACKDecoder: Sendable {
    struct Entry: Sendable {
        var name: HPACK.Name
        var nameLength: Int
        var value: String?
        /// Name and value lengths plus 32 (RFC 7541 4.1).
        var size: Int
    }

    /// Newest first: dynamic index 62 is `table[0]`.
    private var table: [Entry] = []
    private var tableSize = 0
    /// The encoder's table size: 4096 until it says otherwise.
    private var maximumSize = 4_096
    /// Largest table size an encoder may set here: four times the default
    /// (which Envoy and hyper keep), so one followed direction holds at most
    /// about 40 KB (512 entries of 32 bytes or more, values cut at 512
    /// bytes). A larger table ends the following: not a refusal.
    static let sizeLimit = 16_384

    /// One decoded field: which it is, and its value when kept (printable, cut at `HPACK.valueLimit`).
    typealias Field = (name: HPACK.Name, value: String?)

    /// Decodes a whole header block and applies it to the table; nil when
    /// it is not valid HPACK (after which the table cannot be trusted).
    mutating func decode(_ block: UnsafeRawBufferPointer) -> [Field]? {
        var reader = HPACK.BlockReader(bytes: block)
        var fields: [Field] = []
        while !reader.atEnd {
            guard let first = reader.peek() else { return nil }
            if first & 0x80 != 0 {
                guard let index = reader.integer(prefixBits: 7), let entry = entry(index) else { return nil }
                fields.append((entry.name, entry.value))
            } else if first & 0xE0 == 0x20 {
                guard let size = reader.integer(prefixBits: 5), size <= Self.sizeLimit else { return nil }
                maximumSize = size
                evict(toFit: 0)
            } else {
                // A literal: with incremental indexing (01), without (0000) or never indexed (0001).
                let indexed = first & 0xC0 == 0x40
                guard let nameIndex = reader.integer(prefixBits: indexed ? 6 : 4) else { return nil }
                let name: HPACK.Name
                let nameLength: Int
                if nameIndex == 0 {
                    guard let literal = reader.string(keeping: 64) else { return nil }
                    name = literal.length <= 64 ? HPACK.Name(literal.kept) : .other
                    nameLength = literal.length
                } else {
                    guard let entry = entry(nameIndex) else { return nil }
                    (name, nameLength) = (entry.name, entry.nameLength)
                }
                guard let value = reader.string(keeping: name == .other ? 0 : HPACK.valueLimit) else { return nil }
                let text = name == .other ? nil : HPACK.text(value.kept)
                fields.append((name, text))
                if indexed { insert(Entry(name: name, nameLength: nameLength, value: text, size: nameLength + value.length + 32)) }
            }
        }
        return fields
    }

    /// Memory the table holds: its entries, and what their sizes count
    /// (bounding the values kept, which are at most that long). By their
    /// number, not the array's capacity, which is the allocator's rounding
    /// and depends on the heap's history (see `WindowBuffer`).
    var heldBytes: Int { table.count * MemoryLayout<Entry>.stride + tableSize }

    private func entry(_ index: Int) -> Entry? {
        if index <= 61 {
            guard index >= 1, let (name, value) = HPACK.staticEntry(index) else { return nil }
            return Entry(name: name, nameLength: HPACK.staticFields[index - 1].nameLength, value: value, size: 0)
        }
        let position = index - 62
        return position < table.count ? table[position] : nil
    }

    /// Adds an entry, evicting the oldest to make room; one larger than the
    /// whole table empties it and is not added (RFC 7541 4.4).
    private mutating func insert(_ entry: Entry) {
        evict(toFit: entry.size)
        guard entry.size <= maximumSize else { return }
        table.insert(entry, at: 0)
        tableSize += entry.size
    }

    private mutating func evict(toFit incoming: Int) {
        while let oldest = table.last, tableSize + incoming > maximumSize {
            tableSize -= oldest.size
            table.removeLast()
        }
    }
}

/// Follows the server's side of an HTTP/2 connection in clear (h2c, gRPC
/// without TLS) frame by frame, from its first byte, for as long as all it
/// has sent is a mesh proxy's refusal by policy: Linkerd's answer to a
/// request an authorization policy denies (`:status 403` with
/// `l5d-proxy-error`, no body; for gRPC a trailers-only answer with
/// `grpc-status` 7 or 16 and `l5d-proxy-error`), or Istio's Envoy denying one
/// by AuthorizationPolicy (`server: istio-envoy`, a 403 whose body is
/// "RBAC: access denied"; for gRPC `grpc-status` 7 with that message).
/// Connection frames (SETTINGS, PING, WINDOW_UPDATE, GOAWAY, RST_STREAM,
/// PRIORITY) carry nothing of the workload's and may come between. Anything
/// else — a response that is not such a refusal, a body, a pushed stream, a
/// frame type it does not know, a frame larger than the default maximum —
/// ends the watch: the server answered in clear.
///
/// Only h2c flows whose server side opens with SETTINGS hold one (out of
/// line); the largest thing it keeps is a header block being completed by
/// CONTINUATION frames (at most `blockLimit` bytes) and the HPACK table.
struct HTTP2Refusal: Sendable {
    /// The refusal that a header block was recognised as.
    struct Answer: Equatable, Sendable {
        var mesh: ProxyRefusal.Mesh
        /// nil: an HTTP 403; else the gRPC status (7 PERMISSION_DENIED, 16 UNAUTHENTICATED).
        var grpcStatus: UInt8?
        /// The proxy's message (Linkerd's `l5d-proxy-error`), printable.
        var message: String?
        /// Envoy's 403 announces its 19-byte body, which a DATA frame brings.
        var bodyFollows: Bool
    }

    /// The frames, wherever the segments cut them.
    private var reader = HTTP2FrameReader()
    private var decoder = HPACKDecoder()
    /// A header block waiting for CONTINUATION frames.
    private var block: (stream: UInt32, endStream: Bool, bytes: [UInt8])?
    /// Streams answered by Envoy's 403 whose body has not come yet.
    private var bodyDue: [UInt32] = []
    private var first: Answer?
    private var refusals = 0
    /// Bytes followed, all of them frames of refusals or of the connection.
    private(set) var walked = 0

    static let blockLimit = 16_384
    static var envoyDenial: [UInt8] { Probes.istioDenial }

    init() {}

    /// What is held, by what the buffers hold, not their capacities (the
    /// allocator's rounding, which depends on the heap's history: counted
    /// against the windows' limit, they made which flow gave up its window
    /// there differ from run to run; see `WindowBuffer`).
    var heldBytes: Int {
        reader.heldBytes + (block?.bytes.count ?? 0) + bodyDue.count * 4 + decoder.heldBytes
    }

    /// Follows `bytes`; false once the direction is more than refusals (the
    /// watch is then over: drop it).
    mutating func receive(_ bytes: UnsafeRawBufferPointer) -> Bool {
        var offset = 0
        while true {
            switch reader.step(bytes, at: &offset) {
            case .header(let header):
                guard let keep = Self.keepsBody(header, blockPending: block?.stream) else { return false }
                reader.read(keepingBody: keep)
            case .frame(let header):
                guard endFrame(header) else { return false }
            case .needMore:
                walked += bytes.count
                return true
            }
        }
    }

    /// The refusal and how many requests it answered, when the direction so
    /// far is nothing else and ends where a frame ends; `evidence` to show.
    func outcome() -> (refusal: ProxyRefusal, evidence: String)? {
        guard let first, reader.atFrameBoundary, block == nil, bodyDue.isEmpty else { return nil }
        var evidence: String
        if let status = first.grpcStatus {
            evidence = "gRPC status \(status) (\(status == 16 ? "UNAUTHENTICATED" : "PERMISSION_DENIED"))"
        } else {
            evidence = "HTTP/2 :status 403"
        }
        switch first.mesh {
        case .linkerd: evidence += " from the Linkerd proxy (l5d-proxy-error: \(first.message.map { String($0.prefix(160)) } ?? ""))"
        case .istio: evidence += " from Istio's Envoy (RBAC: access denied)"
        }
        if refusals > 1 { evidence += "; \(refusals) requests refused" }
        return (ProxyRefusal(mesh: first.mesh, responseLength: walked, grpcStatus: first.grpcStatus), evidence)
    }

    /// A frame's header is complete: whether it may belong to a refusal
    /// (nil: it may not), and whether its body is to be read.
    private static func keepsBody(_ header: HTTP2Frames.FrameHeader, blockPending: UInt32?) -> Bool? {
        guard header.length <= HTTP2Frames.defaultMaximumFrame, HTTP2Frames.frameIsValid(header) else { return nil }
        // A header block, once begun, continues in CONTINUATION frames of its stream alone.
        if let blockPending, header.type != HTTP2Frames.continuationType || header.stream != blockPending { return nil }
        switch header.type {
        case HTTP2Frames.headersType, HTTP2Frames.continuationType:
            return true
        case HTTP2Frames.dataType:
            // Empty, or Envoy's denial with at most a pad-length byte and padding.
            guard header.length <= envoyDenial.count + 256 else { return nil }
            return true
        case 0x2, 0x3, HTTP2Frames.settingsType, 0x6, 0x7, 0x8:
            return false  // PRIORITY, RST_STREAM, SETTINGS, PING, GOAWAY, WINDOW_UPDATE
        default:
            return nil    // PUSH_PROMISE, or a type not known here
        }
    }

    /// A frame is complete: apply it.
    private mutating func endFrame(_ header: HTTP2Frames.FrameHeader) -> Bool {
        let body = reader.body
        let endStream = header.flags & 0x1 != 0
        switch header.type {
        case HTTP2Frames.headersType:
            guard let fragment = HTTP2Frames.unpadded(body, flags: header.flags, priority: true) else { return false }
            if header.flags & 0x4 != 0 { return answered(fragment, stream: header.stream, endStream: endStream) }
            block = (header.stream, endStream, Array(fragment))
            return true
        case HTTP2Frames.continuationType:
            guard var pending = block, pending.bytes.count + body.count <= Self.blockLimit else { return false }
            pending.bytes += body
            block = nil
            if header.flags & 0x4 != 0 { return answered(pending.bytes[...], stream: pending.stream, endStream: pending.endStream) }
            block = pending
            return true
        case HTTP2Frames.dataType:
            guard let payload = HTTP2Frames.unpadded(body, flags: header.flags, priority: false) else { return false }
            if payload.isEmpty { return !(endStream && bodyDue.contains(header.stream)) }
            guard let due = bodyDue.firstIndex(of: header.stream), endStream, payload.elementsEqual(Self.envoyDenial) else { return false }
            bodyDue.remove(at: due)
            return true
        default:
            return true
        }
    }

    /// A complete header block on `stream`: it must decode, and be a refusal
    /// by the same mesh as the first.
    private mutating func answered(_ block: ArraySlice<UInt8>, stream: UInt32, endStream: Bool) -> Bool {
        guard let fields = block.withUnsafeBytes({ decoder.decode($0) }),
              let answer = Self.refusal(fields), first == nil || first?.mesh == answer.mesh else { return false }
        // Envoy's 403 has its denial to come; the other answers have no body
        // (their stream ends here, or with an empty DATA frame).
        if answer.bodyFollows {
            guard !endStream else { return false }
            bodyDue.append(stream)
        }
        if first == nil { first = answer }
        refusals += 1
        return true
    }

    /// Whether a response's fields are a mesh proxy's refusal, and whose.
    /// Each proxy's answer carries only the fields its local reply has: one
    /// with more (`x-envoy-upstream-service-time`, an application's headers)
    /// was relayed from further away, so a request reached a server in clear.
    static func refusal(_ fields: [HPACKDecoder.Field]) -> Answer? {
        var status: String?, contentLength: String?, contentType: String?
        var grpcStatus: String?, grpcMessage: String?, proxyError: String?, server: String?
        var linkerdOnly = true, envoyOnly = true
        for (name, value) in fields {
            let value = value ?? ""
            switch name {
            case .status:
                guard status == nil else { return nil }
                status = value
            case .contentLength: contentLength = value
            case .contentType: contentType = value
            case .grpcStatus: grpcStatus = value
            case .grpcMessage: grpcMessage = value
            case .date: break
            case .l5dProxyError:
                proxyError = value
                envoyOnly = false
            case .l5dProxyConnection: envoyOnly = false
            case .server:
                server = value
                linkerdOnly = false
            default:
                return nil
            }
        }
        let grpc = contentType?.hasPrefix("application/grpc") == true
        let noBody = contentLength == nil || contentLength == "0"
        if linkerdOnly, let proxyError, noBody {
            if status == "403", contentType == nil, grpcStatus == nil {
                return Answer(mesh: .linkerd, grpcStatus: nil, message: proxyError, bodyFollows: false)
            }
            if status == "200", grpc, let code = grpcStatus, code == "7" || code == "16" {
                return Answer(mesh: .linkerd, grpcStatus: UInt8(code), message: proxyError, bodyFollows: false)
            }
        }
        if envoyOnly, server == "istio-envoy" {
            if status == "403", grpcStatus == nil, contentLength == String(envoyDenial.count) {
                return Answer(mesh: .istio, grpcStatus: nil, message: nil, bodyFollows: true)
            }
            if status == "200", grpc, noBody, grpcStatus == "7", grpcMessage == "RBAC: access denied" {
                return Answer(mesh: .istio, grpcStatus: 7, message: nil, bodyFollows: false)
            }
        }
        return nil
    }
}
