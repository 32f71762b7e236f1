/// HashiCorp memberlist, the gossip that keeps Alertmanager clusters (port
/// 9094) and the rings of Loki, Mimir, Tempo and Cortex (7946) together:
/// in clear unless a gossip key or TLS is configured. Over TCP each side
/// sends a message: a type byte, then MessagePack; by default compressed
/// first (type 9: a map of `Algo` 0, LZW, and `Buf`, the compressed
/// message), which made it read as `opaque`, "could be ciphertext", and
/// pass the run, while it carries the cluster's members and state in clear.
/// Encrypted with a gossip key (type 10: a length, a version byte, a nonce,
/// AES-GCM ciphertext and tag) it stays `opaque`, named: ciphertext cannot
/// be proven, but an auditor sees what the flow is.
///
/// Grafana's dskit (Loki, Mimir, Tempo, Cortex) carries memberlist over a
/// TCP transport of its own, one connection per operation, opened with a
/// byte: 2, a stream (memberlist's messages follow, as above), or 1, a
/// "packet" (the sender's address as a length and `host:port`, then a
/// message memberlist would have sent over UDP, then its MD5). This framing
/// is read from dskit's tcp_transport.go; no dskit traffic was captured here.
enum Memberlist {
    /// memberlist's message types (net.go), those a stream starts with.
    static let messageNames: [UInt8: String] = [
        0: "ping", 1: "indirect ping", 2: "ack", 3: "suspect", 4: "alive", 5: "dead", 6: "push/pull",
        7: "compound", 8: "user message", 11: "nack", 13: "error",
    ]
    static let compressed: UInt8 = 9
    static let encrypted: UInt8 = 10
    static let pushPull: UInt8 = 6
    /// The application's own bytes, not MessagePack.
    static let userMessage: UInt8 = 8
    /// A label header (type 244, length, label) may open a stream.
    static let label: UInt8 = 244

    /// dskit's transport: the byte opening a stream, and a packet.
    static let dskitPacket: UInt8 = 1
    static let dskitStream: UInt8 = 2
    /// Message types a gossip packet (memberlist's UDP messages) starts with.
    static let packetTypes: Set<UInt8> = [0, 1, 2, 3, 4, 5, 7, 8, 9, 11, 12]

    static func probe(_ d: UnsafeRawBufferPointer, final: Bool) -> ProbeResult? {
        guard d.count >= 2 else { return nil }
        switch d[0] {
        case dskitStream:
            // The stream's own first message must be recognised: 2 opens many things.
            switch message(UnsafeRawBufferPointer(rebasing: d[1...]), final: final) {
            case .cleartext(let kind, let name, let evidence)?:
                return .cleartext(kind, protocolName: name, evidence: evidence + " (dskit TCP transport stream)")
            case .needMore?:
                return .needMore
            default:
                return nil
            }
        case dskitPacket:
            return dskitPacket(d, final: final)
        default:
            return message(d, final: final)
        }
    }

    /// A dskit "packet": 1, the sender's advertised `host:port`, a gossip message.
    static func dskitPacket(_ d: UnsafeRawBufferPointer, final: Bool) -> ProbeResult? {
        let length = Int(d[1])
        guard (7...255).contains(length) else { return nil }
        guard d.count >= 3 + length else { return final ? nil : .needMore }
        let address = d[2..<(2 + length)]
        guard let text = ClearBinaryProbes.visibleName(address), let colon = address.lastIndex(of: 0x3A),
              colon > address.startIndex, colon < address.endIndex - 1,
              address[(colon + 1)...].allSatisfy({ (0x30...0x39).contains($0) }),
              packetTypes.contains(d[2 + length]) else { return nil }
        return .cleartext(.cleartextProtocol, protocolName: "memberlist",
                          evidence: "memberlist gossip packet from \(text) (dskit TCP transport)")
    }

    /// A memberlist stream message, after a label header if there is one.
    static func message(_ d: UnsafeRawBufferPointer, final: Bool) -> ProbeResult? {
        guard d.count >= 2, d[0] == compressed || d[0] == pushPull || d[0] == encrypted || d[0] == label else { return nil }
        var start = 0
        if d[0] == label {
            let length = Int(d[1])
            guard (1...255).contains(length) else { return nil }
            if d.count < 3 + length { return final ? nil : .needMore }
            start = 2 + length
        }
        let message = UnsafeRawBufferPointer(rebasing: d[start...])
        guard let type = message.first else { return final ? nil : .needMore }
        switch type {
        case compressed:
            return compressedMessage(message, final: final)
        case encrypted:
            return encryptedMessage(message, final: final)
        case pushPull:
            guard let summary = pushPullSummary(message) else { return nil }
            return .cleartext(.cleartextProtocol, protocolName: "memberlist", evidence: "memberlist \(summary)")
        default:
            return nil
        }
    }

    /// Type 9: `{Algo: 0, Buf: …}`, the buffer an LZW stream that decodes
    /// to its end code exactly where the buffer ends, into a memberlist message.
    static func compressedMessage(_ m: UnsafeRawBufferPointer, final: Bool) -> ProbeResult? {
        let available = UnsafeRawBufferPointer(rebasing: m[1...])
        var reader = MessagePackReader(available)
        guard let entries = reader.mapHeader(), entries == 2 else { return nil }
        var algorithm: Int?
        var buffer: Range<Int>?
        for _ in 0..<2 {
            switch reader.string() {
            case "Algo": algorithm = reader.integer()
            case "Buf": buffer = reader.bytes()
            default: return nil
            }
        }
        guard algorithm == 0, let buffer else { return nil }
        let whole = buffer.upperBound <= available.count
        if !whole, ClearBinaryProbes.waitForWhole(1 + buffer.upperBound, of: m, final: final) { return .needMore }
        let compressed = UnsafeRawBufferPointer(rebasing: available[buffer.lowerBound..<min(buffer.upperBound, available.count)])
        var head = [UInt8](repeating: 0, count: 256)
        let decoded = head.withUnsafeMutableBytes { LZW.decode(compressed, head: $0) }
        // Whole: it must end where the buffer does. Cut by the probe window: valid as far as it goes.
        guard decoded.valid, whole ? decoded.ended && decoded.consumed == compressed.count : compressed.count >= 64 else { return nil }
        let inner = head.withUnsafeBytes { UnsafeRawBufferPointer(rebasing: $0[0..<min(decoded.produced, $0.count)]) }
        guard let first = inner.first, let name = messageNames[first] else { return nil }
        let what: String
        if first == pushPull {
            guard let summary = pushPullSummary(inner) else { return nil }
            what = summary
        } else {
            // Any other message is a MessagePack map (a user message is the application's own bytes).
            guard inner.count >= 2, first == userMessage || MessagePackReader(UnsafeRawBufferPointer(rebasing: inner[1...])).isMap else { return nil }
            what = name
        }
        let size = whole ? "\(compressed.count) bytes decode to \(decoded.produced)"
            : "its first \(compressed.count) bytes decode to \(decoded.produced)"
        return .cleartext(.cleartextProtocol, protocolName: "memberlist",
                          evidence: "memberlist \(what), LZW-compressed (\(size)), so it is compressed, not encrypted")
    }

    /// Type 10: a 4-byte length, then version 0 (AES-GCM, PKCS#7 padding) or 1
    /// (AES-GCM), a 12-byte nonce, the ciphertext and a 16-byte tag. Named
    /// only when the length fits what follows and the bytes after the nonce
    /// look random.
    static func encryptedMessage(_ m: UnsafeRawBufferPointer, final: Bool) -> ProbeResult? {
        guard m.count >= 6 else { return final ? nil : .needMore }
        let length = ClearBinaryProbes.u32be(m, 1)
        guard m[5] <= 1, (29...(1 << 24)).contains(length) else { return nil }
        if ClearBinaryProbes.waitForWhole(5 + length, of: m, final: final) { return .needMore }
        // A message, or several (a stream holds one per exchange): the first must end where the next begins.
        guard m.count <= 5 + length || m[5 + length] == encrypted else { return nil }
        // What follows the nonce: at least a tag's worth must be here to judge it.
        let end = min(m.count, 5 + length)
        guard end >= 18 + 16 else { return nil }
        let ciphertext = UnsafeRawBufferPointer(rebasing: m[18..<end])
        let entropy = Probes.entropy(ciphertext)
        guard !Probes.isLowEntropy(entropy, sampleSize: ciphertext.count) else { return nil }
        return .binary(entropy: entropy, name: "memberlist",
                       evidence: "memberlist message encrypted with the cluster's gossip key (AES-GCM, version \(m[5]))")
    }

    /// A push/pull message's header: how many members' states follow, and
    /// whether it is a join. Its three fields name it; their values are counts.
    static func pushPullSummary(_ m: UnsafeRawBufferPointer) -> String? {
        guard m.count >= 2 else { return nil }
        var reader = MessagePackReader(UnsafeRawBufferPointer(rebasing: m[1...]))
        guard reader.mapHeader() == 3 else { return nil }
        var nodes: Int?, userState: Int?, join: Bool?
        for _ in 0..<3 {
            switch reader.string() {
            case "Nodes": nodes = reader.integer()
            case "UserStateLen": userState = reader.integer()
            case "Join": join = reader.boolean()
            default: return nil
            }
        }
        guard let nodes, let userState, let join else { return nil }
        return "push/pull\(join ? " (join)" : ""): the state of \(nodes) member\(nodes == 1 ? "" : "s")"
            + (userState > 0 ? " and \(userState) bytes of application state" : "")
    }
}

/// Just enough MessagePack to read memberlist's headers: map headers,
/// strings, binary and string payloads (as ranges), integers, booleans.
/// Every read goes through a `ByteReader`, so none reads past the end.
struct MessagePackReader {
    private let d: UnsafeRawBufferPointer
    private var reader: ByteReader

    init(_ d: UnsafeRawBufferPointer) {
        self.d = d
        reader = ByteReader(d)
    }

    private var offset: Int { d.count - reader.remaining }

    /// Whether the next value is a map.
    var isMap: Bool {
        guard let byte = reader.unreadBytes.first else { return false }
        return byte & 0xF0 == 0x80 || byte == 0xDE || byte == 0xDF
    }

    mutating func mapHeader() -> Int? {
        guard isMap, let byte = reader.u8() else { return nil }
        switch byte {
        case 0xDE: return reader.u16().map(Int.init)
        case 0xDF: return reader.u32().map(Int.init)
        default: return Int(byte & 0x0F)
        }
    }

    /// A string value, when it is short text (a field name).
    mutating func string() -> String? {
        guard let range = bytes(), range.count <= 64, range.upperBound <= d.count else { return nil }
        return String(decoding: UnsafeRawBufferPointer(rebasing: d[range]), as: UTF8.self)
    }

    /// Where a string or binary value's bytes are; its end may lie past
    /// what is here (the caller checks, to wait or to read a prefix).
    mutating func bytes() -> Range<Int>? {
        guard let byte = reader.u8() else { return nil }
        let length: Int?
        switch byte {
        case 0xA0...0xBF: length = Int(byte & 0x1F)
        case 0xD9, 0xC4: length = reader.u8().map(Int.init)
        case 0xDA, 0xC5: length = reader.u16().map(Int.init)
        case 0xDB, 0xC6: length = reader.u32().map(Int.init)
        default: return nil
        }
        guard let length else { return nil }
        let start = offset
        _ = reader.skip(min(length, reader.remaining))
        return start..<(start + length)
    }

    mutating func integer() -> Int? {
        switch reader.u8() {
        case let byte? where byte < 0x80: return Int(byte)
        case 0xCC?, 0xD0?: return reader.u8().map(Int.init)
        case 0xCD?, 0xD1?: return reader.u16().map(Int.init)
        case 0xCE?, 0xD2?: return reader.u32().map(Int.init)
        default: return nil
        }
    }

    mutating func boolean() -> Bool? {
        switch reader.u8() {
        case 0xC2?: return false
        case 0xC3?: return true
        default: return nil
        }
    }
}
