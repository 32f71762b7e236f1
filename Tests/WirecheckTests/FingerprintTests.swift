import Testing
@testable import StreamReassembly

/// The retransmission fingerprint must tell apart payloads a sender would
/// use to hide a conflicting retransmission: any changed bit, any length,
/// blocks moved or swapped, zero padding.
@Suite struct FingerprintTests {
    static func hash(_ bytes: [UInt8]) -> UInt64 {
        bytes.withUnsafeBytes { RecentSegments.hash($0) }
    }

    @Test func everyBitFlipChangesIt() {
        var random = SplitMix(seed: 11)
        for length in [1, 2, 3, 4, 5, 7, 8, 9, 15, 16, 17, 31, 63, 64, 65, 100, 127, 128, 200] {
            let payload = (0..<length).map { _ in UInt8(truncatingIfNeeded: random.next()) }
            let original = Self.hash(payload)
            for index in 0..<length {
                for bit in 0..<8 {
                    var changed = payload
                    changed[index] ^= UInt8(1 << bit)
                    #expect(Self.hash(changed) != original, "length \(length), byte \(index), bit \(bit)")
                }
            }
        }
    }

    @Test func lengthAndZeroPaddingCount() {
        var seen: [UInt64: Int] = [:]
        for length in 0...200 {
            let value = Self.hash([UInt8](repeating: 0, count: length))
            #expect(seen[value] == nil, "zeros of length \(length) and \(seen[value] ?? -1) collide")
            seen[value] = length
        }
    }

    @Test func movedOrSwappedBlocksChangeIt() {
        var random = SplitMix(seed: 12)
        let payload = (0..<1_448).map { _ in UInt8(truncatingIfNeeded: random.next()) }
        let original = Self.hash(payload)
        for size in [8, 16, 32, 64] {
            for (first, second) in [(0, 1), (0, 4), (3, 9), (1, 2)] {
                var swapped = payload
                let a = first * size, b = second * size
                for k in 0..<size { swapped.swapAt(a + k, b + k) }
                #expect(Self.hash(swapped) != original, "blocks of \(size) at \(a) and \(b) swapped")
            }
        }
        // Rotated by one 64-byte block: every lane sees other data.
        let rotated = Array(payload[64...] + payload[..<64])
        #expect(Self.hash(rotated) != original)
    }

    @Test func sameBytesSameFingerprint() {
        let payload = Array("GET / HTTP/1.1\r\nHost: example\r\n\r\n".utf8)
        #expect(Self.hash(payload) == Self.hash(Array(payload)))
    }
}
