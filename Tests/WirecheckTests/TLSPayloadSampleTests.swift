import Testing
@testable import PayloadClassification
@testable import VerdictPolicy

/// TLS framing is not encryption: application data records whose bodies read
/// as text, or are full of zero bytes, are not ciphertext.
@Suite struct TLSPayloadSampleTests {
    static func record(_ body: [UInt8], type: UInt8 = 23) -> [UInt8] {
        [type, 3, 3, UInt8(body.count >> 8), UInt8(body.count & 0xFF)] + body
    }

    static func sample(_ stream: [UInt8]) -> TLSPayloadSample {
        var walker = TLSRecordWalker()
        stream.withUnsafeBytes { _ = walker.walk($0) }
        return walker.payloadSample
    }

    /// Ciphertext as TLS 1.2's AES-GCM writes it: an explicit nonce that is a
    /// record counter (seven zero bytes and a small number), then random
    /// bytes. None of 50 000 such streams looks clear, because each record's
    /// first 8 bytes are skipped: counted, the counters' zeros alone would
    /// flag the streams of short records.
    @Test func ciphertextNeverLooksClear() {
        var rng = SplitMix(seed: 20_261_201)
        var flagged = 0
        for _ in 0..<50_000 {
            var stream: [UInt8] = []
            var counter: UInt8 = 1
            while stream.count < 400 {
                let length = 24 + rng.below(300)
                let body = [0, 0, 0, 0, 0, 0, 0, counter] + (0..<(length - 8)).map { _ in UInt8(truncatingIfNeeded: rng.next()) }
                stream += Self.record(body)
                counter &+= 1
            }
            if Self.sample(stream).inClear != nil { flagged += 1 }
        }
        #expect(flagged == 0)
    }

    @Test func textAndZerosAreNotCiphertext() {
        let text = Self.sample(Self.record(Array("12345678GET /secret HTTP/1.1\r\nHost: bank\r\nCookie: a=b\r\n\r\n".utf8)))
        #expect(text.inClear?.hasPrefix("hold printable text") == true, "\(text)")
        // Structured binary (a length-prefixed message with small integers).
        var structured: [UInt8] = Array(repeating: 0, count: 8)
        for i in 0..<16 { structured += [0, 0, 0, UInt8(i), 0x08, UInt8(i * 7 & 0xFF)] }
        let zeros = Self.sample(Self.record(structured))
        #expect(zeros.inClear?.hasPrefix("are full of zero bytes") == true, "\(zeros)")
        // Handshake records (before encryption they are cleartext by design) are not sampled.
        let handshake = Self.sample(Self.record(Array(repeating: 0x41, count: 200), type: 22))
        #expect(handshake.sampled == 0 && handshake.inClear == nil)
        // Fewer than 32 bytes sampled: no judgement.
        let short = Self.sample(Self.record(Array("12345678short text, only 30 by!".utf8)))
        #expect(short.sampled < TLSPayloadSample.minimum && short.inClear == nil)
    }

    /// However the records are cut into segments, the counts are the same.
    @Test func sameSampleHoweverCut() {
        let stream = Self.record(Array("12345678GET /a HTTP/1.1\r\n".utf8)) + Self.record(Array("abcdefghHost: example.org\r\nAccept: */*\r\n\r\n".utf8))
        let whole = Self.sample(stream)
        var walker = TLSRecordWalker()
        for byte in stream { [byte].withUnsafeBytes { _ = walker.walk($0) } }
        #expect(walker.payloadSample == whole)
        #expect(whole.sampled == TLSPayloadSample.target, "17 bytes from the first record's body, 15 from the second's")
    }

    @Test func policySaysPlaintext() {
        var client = DirectionSummary(), server = DirectionSummary()
        client.kind = .tls
        server.kind = .tls
        client.tlsRecords = 4
        server.tlsRecords = 4
        client.handshake.clientHelloSeen = true
        #expect(VerdictPolicy.recordsInClear(client, server) == nil)
        server.tlsPayloadSample = Self.sample(Self.record(Array("12345678HTTP/1.1 200 OK\r\nContent-Length: 5\r\n\r\nhello, world".utf8)))
        let reason = VerdictPolicy.recordsInClear(client, server)
        #expect(reason?.description.contains("the server's application data records hold printable text") == true)
    }
}
