/// Reading a decoded segment's TCP options, where it is worth the look (a
/// SYN, once per connection): the decoder hands on no option, since no
/// packet needs one on the per-packet path.
public enum TCPOptions {
    /// The value of the timestamp option (RFC 7323's TSval) the segment
    /// carries, or nil when it carries none or its header cannot be found in
    /// `frame`. The header is found back from where the payload starts:
    /// the one header length whose data-offset field says that length and
    /// whose ports and sequence number are the segment's (64 bits that
    /// another placement cannot match by chance).
    public static func timestampValue(of segment: TCPSegment, in frame: UnsafeRawBufferPointer) -> UInt32? {
        let headerEnd = segment.payloadRange.lowerBound
        guard headerEnd <= frame.count else { return nil }
        for optionsLength in stride(from: 0, through: 40, by: 4) {
            let start = headerEnd - 20 - optionsLength
            guard start >= 0 else { return nil }
            guard Int(frame[start + 12] >> 4) * 4 == 20 + optionsLength,
                  word16(frame, start) == segment.source.port, word16(frame, start + 2) == segment.destination.port,
                  word32(frame, start + 4) == segment.sequence else { continue }
            return timestamp(in: UnsafeRawBufferPointer(rebasing: frame[(start + 20)..<headerEnd]))
        }
        return nil
    }

    /// TSval from an options area: kinds 0 (end) and 1 (no-op) are one byte,
    /// every other kind gives its length; the timestamp option is kind 8, length 10.
    static func timestamp(in options: UnsafeRawBufferPointer) -> UInt32? {
        var i = 0
        while i < options.count {
            switch options[i] {
            case 0: return nil
            case 1: i += 1
            default:
                guard i + 1 < options.count else { return nil }
                let length = Int(options[i + 1])
                guard length >= 2, i + length <= options.count else { return nil }
                if options[i] == 8, length == 10 { return word32(options, i + 2) }
                i += length
            }
        }
        return nil
    }

    private static func word16(_ bytes: UnsafeRawBufferPointer, _ at: Int) -> UInt16 {
        UInt16(bytes[at]) << 8 | UInt16(bytes[at + 1])
    }

    private static func word32(_ bytes: UnsafeRawBufferPointer, _ at: Int) -> UInt32 {
        UInt32(bytes[at]) << 24 | UInt32(bytes[at + 1]) << 16 | UInt32(bytes[at + 2]) << 8 | UInt32(bytes[at + 3])
    }
}
