/// Microsoft SQL Server's TDS (port 1433, often a pod on a cluster). A
/// connection opens with PRELOGIN messages that negotiate encryption; with
/// encryption on, the TLS handshake travels inside TDS PRELOGIN packets and
/// the rest is plain TLS records (the classifier follows the packets by
/// their lengths to where the TLS starts: encrypted, "tds preamble"). With
/// encryption for the login only, the LOGIN7 message is the last TLS the
/// stream sees: the queries and results after it are TDS in clear, and this
/// probe names them where the TLS framing broke. With none, everything is
/// in clear.
///
/// A PRELOGIN says what this side will do: no encryption (then it is all
/// cleartext), or a negotiation whose outcome the stream shows (TLS after
/// it, or, for the login only, cleartext after the TLS).
extension ClearBinaryProbes {
    /// Packet types: SQL batch, RPC, tabular result, LOGIN7, PRELOGIN.
    static let tdsSQLBatch: UInt8 = 0x01, tdsRPC: UInt8 = 0x03, tdsResult: UInt8 = 0x04
    static let tdsLogin7: UInt8 = 0x10, tdsPrelogin: UInt8 = 0x12

    /// A TDS packet header at `offset`: its type and length, when the header
    /// is plausible (status bits, length 8 to 32 768, window 0).
    static func tdsHeader(_ d: UnsafeRawBufferPointer, at offset: Int) -> (type: UInt8, length: Int)? {
        guard offset + 8 <= d.count else { return nil }
        let type = d[offset], status = d[offset + 1]
        guard [tdsSQLBatch, tdsRPC, tdsResult, tdsLogin7, tdsPrelogin].contains(type), status & 0xE0 == 0, d[offset + 7] == 0 else { return nil }
        let length = Int(d[offset + 2]) << 8 | Int(d[offset + 3])
        guard (8...32_768).contains(length) else { return nil }
        return (type, length)
    }

    static func tds(_ d: UnsafeRawBufferPointer, final: Bool) -> ProbeResult? {
        guard let (type, length) = tdsHeader(d, at: 0) else { return nil }
        if waitForWhole(length, of: d, final: final) { return .needMore }
        let body = UnsafeRawBufferPointer(rebasing: d[8..<min(length, d.count)])
        if type == tdsPrelogin || type == tdsResult, let encryption = preloginEncryption(body) {
            switch encryption {
            case 0x02:
                // This side does not encrypt at all: whatever follows is in clear.
                return .cleartext(.cleartextProtocol, protocolName: "tds", evidence: "TDS PRELOGIN (encryption not supported)")
            case 0x00, 0x01, 0x03:
                let words = [0x00: "off: the login only", 0x01: "on", 0x03: "required"]
                return .negotiation(name: "tds", evidence: "TDS PRELOGIN (encryption \(words[encryption] ?? ""))", packetLength: length)
            default:
                return .negotiation(name: "tds", evidence: "TDS PRELOGIN", packetLength: length)
            }
        }
        guard let message = tdsMessage(d, type: type, length: length) else { return nil }
        return .cleartext(.cleartextProtocol, protocolName: "tds", evidence: message)
    }

    /// The ENCRYPTION option's value in a PRELOGIN option table (entries of
    /// token, offset and length, big endian, VERSION first, ended by 0xFF,
    /// every option's data inside); nil when `body` is no such table.
    static func preloginEncryption(_ body: UnsafeRawBufferPointer) -> Int? {
        guard body.count >= 6, body[0] == 0x00 else { return nil }
        var i = 0
        var encryption = -1
        while i < body.count {
            if body[i] == 0xFF { return i > 0 ? encryption : nil }
            guard i + 5 <= body.count, body[i] <= 0x08 else { return nil }
            let offset = Int(body[i + 1]) << 8 | Int(body[i + 2]), length = Int(body[i + 3]) << 8 | Int(body[i + 4])
            guard offset >= 6, offset + length <= body.count else { return nil }
            if body[i] == 0x00, length != 6 { return nil }
            if body[i] == 0x01, length >= 1 { encryption = Int(body[offset]) }
            i += 5
        }
        return nil
    }

    /// What a cleartext TDS message at the start of `d` (its header
    /// checked) is, in words; nil when its body does not fit its type.
    static func tdsMessage(_ d: UnsafeRawBufferPointer, type: UInt8, length: Int) -> String? {
        let body = UnsafeRawBufferPointer(rebasing: d[min(8, d.count)..<min(length, d.count)])
        switch type {
        case tdsSQLBatch:
            guard let text = tdsBatchText(body), let word = firstWord(ofUTF16: text) else { return nil }
            return "TDS SQL batch (\(word) …)"
        case tdsRPC:
            guard let rest = tdsBatchText(body), rest.count >= 4 else { return nil }
            return "TDS RPC request"
        case tdsLogin7:
            return tdsLogin(body, packetLength: length)
        case tdsResult:
            guard let first = body.first, let name = tdsTokens[first] else { return nil }
            return "TDS response (\(name))"
        default:
            return nil
        }
    }

    /// Tokens a server's reply starts with, by name.
    static let tdsTokens: [UInt8: String] = [
        0x81: "column metadata", 0xAD: "login acknowledgement", 0xE3: "environment change", 0xAA: "error",
        0xAB: "info", 0xFD: "done", 0xFE: "done", 0xFF: "done", 0x79: "return status", 0xA9: "order",
    ]

    /// A batch's or an RPC's payload after its ALL_HEADERS (TDS 7.2 on: a
    /// 32-bit little-endian total length, then headers of their own length).
    static func tdsBatchText(_ body: UnsafeRawBufferPointer) -> UnsafeRawBufferPointer? {
        guard body.count >= 4 else { return nil }
        let total = u32le(body, 0)
        guard (4...body.count).contains(total) else { return nil }
        var i = 4
        while i < total {
            guard i + 6 <= total else { return nil }
            let header = u32le(body, i)
            guard header >= 6, i + header <= total else { return nil }
            i += header
        }
        return UnsafeRawBufferPointer(rebasing: body[total...])
    }

    /// The first word of UTF-16LE text (ASCII letters only), when the text
    /// starts with one: "SELECT", "EXEC"… The rest of a query may hold
    /// literals (a password in ALTER LOGIN), so no more is shown.
    static func firstWord(ofUTF16 text: UnsafeRawBufferPointer) -> String? {
        var i = 0
        // Leading spaces, tabs and line breaks.
        while i + 1 < text.count, text[i + 1] == 0, [0x20, 0x09, 0x0A, 0x0D].contains(text[i]) { i += 2 }
        var word: [UInt8] = []
        while i + 1 < text.count, text[i + 1] == 0, word.count < 16 {
            let c = text[i]
            guard (0x41...0x5A).contains(c) || (0x61...0x7A).contains(c) else { break }
            word.append(c)
            i += 2
        }
        guard word.count >= 2, i + 1 >= text.count || text[i + 1] == 0 else { return nil }
        return String(decoding: word, as: UTF8.self).uppercased()
    }

    /// LOGIN7: its own length first (matching the packet's), a TDS version,
    /// then offsets and lengths of its strings. The user name is shown; the
    /// password (only scrambled on the wire) never.
    static func tdsLogin(_ body: UnsafeRawBufferPointer, packetLength: Int) -> String? {
        guard body.count >= 94 else { return nil }
        let declared = u32le(body, 0)
        guard declared == packetLength - 8 || (declared > packetLength - 8 && declared <= 65_535), body[7] >= 0x70, body[7] <= 0x74 else {
            return nil
        }
        func field(_ at: Int) -> (offset: Int, characters: Int) {
            (Int(body[at]) | Int(body[at + 1]) << 8, Int(body[at + 2]) | Int(body[at + 3]) << 8)
        }
        let user = field(40)
        guard user.offset >= 94 || user.characters == 0 else { return nil }
        var name = ""
        if user.characters > 0, user.offset + 2 * user.characters <= body.count {
            let raw = UnsafeRawBufferPointer(rebasing: body[user.offset..<(user.offset + 2 * user.characters)])
            var ascii: [UInt8] = []
            for k in stride(from: 0, to: raw.count, by: 2) where raw[k + 1] == 0 && Probes.isTextByte(raw[k]) { ascii.append(raw[k]) }
            if ascii.count == user.characters { name = String(decoding: ascii, as: UTF8.self) }
        }
        return name.isEmpty ? "TDS LOGIN7 (password [redacted])" : "TDS LOGIN7 (user \(name), password [redacted])"
    }
}
