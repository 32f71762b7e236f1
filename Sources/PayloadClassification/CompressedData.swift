import CInflate

/// Compressed data looks as random as ciphertext (7.4-7.9 bits/byte), so
/// the entropy test calls it `opaque`, "could be ciphertext", which no audit
/// fails by default; yet anyone who inflates it reads it. Filebeat ships
/// logs to Logstash zlib-compressed and, by default, without TLS. What tells
/// the two apart is zlib itself: it rejects ciphertext within a few bytes
/// (200 000 random 512-byte samples: 12 462 offsets with a valid zlib header,
/// none decoded past 96 bytes), while compressed data decodes to the end of
/// the sample or to its stream's end, checksum and all.
enum CompressedData {
    /// Offsets searched for a stream's start: a protocol's frame header
    /// comes first (Beats: 12 bytes; MongoDB's OP_COMPRESSED: 25).
    static let searchedOffsets = 128
    /// Bytes that must decode without error when the stream does not end
    /// within the sample: random bytes never got that far (above), except
    /// as a "stored" block, which deflate copies unchecked (8 of 1 000 000
    /// random samples of 10 to 512 bytes with a zlib header planted in each,
    /// all inflating to fewer bytes than they took). So such a stream must
    /// also have shrunk its data by a ninth or more, as compression does.
    static let decodedWithoutEnd = 128

    /// The first zlib or gzip stream that starts within `searchedOffsets`
    /// bytes of `d` and inflates, as cleartext: a protocol this project does
    /// not name, carrying compressed data in clear.
    static func find(in d: UnsafeRawBufferPointer) -> ProbeResult? {
        guard d.count >= 10 else { return nil }
        for k in 0..<min(searchedOffsets, d.count - 9) {
            let format: Int32
            if isZlibHeader(d[k], d[k + 1]) {
                format = 0
            } else if d[k] == 0x1F, d[k + 1] == 0x8B, d[k + 2] == 8, d[k + 3] & 0xE0 == 0 {
                format = 1
            } else {
                continue
            }
            let rest = UnsafeRawBufferPointer(rebasing: d[k...])
            let check = wirecheck_inflate_check(rest.baseAddress, rest.count, format)
            guard check.valid != 0,
                  check.ended != 0 || (check.consumed == rest.count && check.consumed >= decodedWithoutEnd
                                       && check.produced >= check.consumed + check.consumed / 8) else { continue }
            let name = format == 0 ? "zlib" : "gzip"
            return .cleartext(.cleartextProtocol, protocolName: name,
                              evidence: evidence(name, at: k, consumed: check.consumed, produced: check.produced,
                                                 printable: check.printable))
        }
        return nil
    }

    /// A zlib header: deflate (method 8) with a window of at most 32 KiB,
    /// no preset dictionary, and the check bits that make the two bytes a
    /// multiple of 31.
    static func isZlibHeader(_ cmf: UInt8, _ flg: UInt8) -> Bool {
        cmf & 0x0F == 8 && cmf >> 4 <= 7 && flg & 0x20 == 0 && (Int(cmf) << 8 | Int(flg)) % 31 == 0
    }

    /// What was inflated, not what it said: the data may hold secrets.
    static func evidence(_ name: String, at offset: Int, consumed: Int, produced: Int, printable: Int) -> String {
        let share = produced == 0 ? 0 : printable * 100 / produced
        let start = offset == 0 ? "" : " from byte \(offset)"
        return "\(name)-compressed data\(start): \(consumed) bytes inflate to \(produced) (\(share) % text), so it is compressed, not encrypted"
    }
}
