/// A decoder for the LZW variant of Go's `compress/lzw` with least
/// significant bits first and 8-bit literals: what HashiCorp's memberlist
/// compresses its messages with. LZW-compressed text is as dense as 6-7
/// bits/byte, so the entropy test alone calls it "could be ciphertext".
///
/// The format: codes of 9 bits, growing to 12; 256 clears the table, 257
/// ends the data; each code after the first defines the next table entry
/// as the previous code's expansion plus the first byte of this one's. Go's
/// decoder rejects a code beyond the next entry to be defined, which random
/// bytes send within a few codes (200 000 random 142-byte inputs: none
/// decoded to their end; 0.4 % met an end code early).
enum LZW {
    struct Result: Equatable {
        /// Every code read was valid.
        var valid: Bool
        /// The end code was read (after it, only the rest of its byte).
        var ended: Bool
        /// Bytes of input read, up to and including the end code's last one.
        var consumed: Int
        /// Bytes decoded (at most `limit`).
        var produced: Int
    }

    static let clear = 256
    static let end = 257
    static let maxWidth = 12

    /// Decodes `input`, writing the first `head.count` decoded bytes into
    /// `head` and counting the rest, until the end code, an invalid code,
    /// the end of the input, or `limit` bytes decoded (which bounds the work
    /// whatever the input: each decoded byte costs one step).
    static func decode(_ input: UnsafeRawBufferPointer, head: UnsafeMutableRawBufferPointer, limit: Int = 1 << 16) -> Result {
        withUnsafeTemporaryAllocation(of: UInt16.self, capacity: 1 << maxWidth) { prefix in
            withUnsafeTemporaryAllocation(of: UInt8.self, capacity: 2 << maxWidth) { bytes in
                // suffix: bytes[0..<4096]; one expansion, written backwards: bytes[4096...].
                decode(input, head: head, limit: limit, prefix: prefix, bytes: bytes)
            }
        }
    }

    private static func decode(
        _ input: UnsafeRawBufferPointer, head: UnsafeMutableRawBufferPointer, limit: Int,
        prefix: UnsafeMutableBufferPointer<UInt16>, bytes: UnsafeMutableBufferPointer<UInt8>
    ) -> Result {
        let tableSize = 1 << maxWidth
        var width = 9, next = end, overflow = 1 << 9
        var last = -1
        var bits: UInt32 = 0, bitCount = 0, position = 0
        var produced = 0
        var result = Result(valid: true, ended: false, consumed: 0, produced: 0)

        /// Appends one decoded byte to the head or the count.
        func emit(_ byte: UInt8) {
            if produced < head.count { head[produced] = byte }
            produced += 1
        }

        while produced < limit {
            while bitCount < width {
                guard position < input.count else {
                    result.consumed = position
                    result.produced = produced
                    return result
                }
                bits |= UInt32(input[position]) << UInt32(bitCount)
                position += 1
                bitCount += 8
            }
            let code = Int(bits & UInt32((1 << width) - 1))
            bits >>= UInt32(width)
            bitCount -= width

            var first: UInt8
            if code < clear {
                first = UInt8(code)
                emit(first)
            } else if code == clear {
                width = 9
                next = end
                overflow = 1 << 9
                last = -1
                continue
            } else if code == end {
                result.ended = true
                break
            } else if code <= next {
                // A defined entry, or the one about to be: the previous
                // expansion and its own first byte. (With the table full,
                // entry `next` is the last one defined, and no entry follows.)
                let aboutToBe = code == next && last >= 0
                guard aboutToBe || code < next || next == tableSize - 1 else { result.valid = false; break }
                // Each entry's prefix is an earlier entry, so the walk ends.
                var c = aboutToBe ? last : code
                var length = 0
                while c >= clear {
                    bytes[tableSize + length] = bytes[c]
                    length += 1
                    c = Int(prefix[c])
                }
                first = UInt8(c)
                emit(first)
                while length > 0 {
                    length -= 1
                    emit(bytes[tableSize + length])
                }
                if aboutToBe { emit(first) }
            } else {
                result.valid = false
                break
            }
            if last >= 0, next < tableSize {
                bytes[next] = first
                prefix[next] = UInt16(last)
            }
            last = code
            next += 1
            if next >= overflow {
                if width == maxWidth {
                    // The table is full: entries stop being defined until a clear.
                    last = -1
                    next -= 1
                } else {
                    width += 1
                    overflow = 1 << width
                }
            }
        }
        result.consumed = position
        result.produced = produced
        return result
    }
}
