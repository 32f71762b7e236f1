import Testing
@testable import PayloadClassification

/// Real h2c bytes: curl 7.88 (nghttp2, Huffman-coded headers) asking nginx
/// 1.22 `GET /api/v1/orders?token=h2-query-secret&x=1` with an
/// Authorization header and a cookie, recorded on a namespace's loopback.
enum H2CSamples {
    static func hex(_ text: String) -> [UInt8] { TestSupport.hex(text) }

    static let curlRequest = hex(
        "505249202a20485454502f322e300d0a0d0a534d0d0a0d0a00001204000000000000030000006400040200000000020000000000000408000000000001ff0001"
            + "00005c01050000000182049e6075998ee160f6485b11fe24fd4b5413896ed696cf4b20a4b0a9f8f3007f86418a089d5c0b8170dc780f077a8825b650c3abbcf2e153032a2f2a1f0890ba51d85b149c4b20a4b0a95927ea5abf1f118941a482712c439fa98b"
            + "000000040100000000")
    static let nginxResponse = hex(
        "000012040000000000000300000080000400010000000500ffffff0000040800000000007fff0000000000040100000000"
            + "000030010400000001887689aa6355e580ae212e1f6196df697e940054be52282009c5040b827ee05a53168dff5f87497ca58ae819aa5c0133"
            + "0000030001000000016f6b0a")
    /// What the request's values were: none may reach any output.
    static let secrets = ["h2-query-secret", "Bearer", "h2-secret-token", "h2-cookie"]
}

@Suite struct HTTP2Tests {
    static func huffman(_ hex: String) -> String? {
        H2CSamples.hex(hex).withUnsafeBytes { HPACKHuffman.decode($0, limit: 512) }.map { String(decoding: $0, as: UTF8.self) }
    }

    static func fields(_ bytes: [UInt8]) -> HPACK.Fields? {
        bytes.withUnsafeBytes { HPACK.decode($0) }
    }

    static func walk(_ bytes: [UInt8], final: Bool) -> HTTP2Frames.Walk {
        bytes.withUnsafeBytes { HTTP2Frames.firstHeaders($0, final: final) }
    }

    static func frame(type: UInt8, flags: UInt8, stream: UInt32, _ payload: [UInt8]) -> [UInt8] {
        [UInt8(payload.count >> 16 & 0xFF), UInt8(payload.count >> 8 & 0xFF), UInt8(payload.count & 0xFF), type, flags,
         UInt8(stream >> 24 & 0x7F), UInt8(stream >> 16 & 0xFF), UInt8(stream >> 8 & 0xFF), UInt8(stream & 0xFF)] + payload
    }

    /// RFC 7541 Appendix C's Huffman-coded strings.
    @Test(arguments: [
        ("f1e3c2e5f23a6ba0ab90f4ff", "www.example.com"),
        ("a8eb10649cbf", "no-cache"),
        ("25a849e95ba97d7f", "custom-key"),
        ("25a849e95bb8e8b4bf", "custom-value"),
        ("6402", "302"),
        ("aec3771a4b", "private"),
        ("d07abe941054d444a8200595040b8166e082a62d1bff", "Mon, 21 Oct 2013 20:13:21 GMT"),
        ("9d29ad171863c78f0b97c8e9ae82ae43d3", "https://www.example.com"),
    ])
    func huffmanMatchesTheRFCExamples(_ hex: String, _ text: String) {
        #expect(Self.huffman(hex) == text)
    }

    @Test func huffmanRejectsWhatNoEncoderWrites() {
        #expect(Self.huffman("ffffffff") == nil, "EOS (30 ones) inside a string")
        #expect(Self.huffman("07ff") == nil, "11 bits of padding: more than 7")
        #expect(Self.huffman("00") == nil, "padding that is not all ones")
        #expect(Self.huffman("") == "")
    }

    /// The table's shape: a canonical code uses every code point of its
    /// longest length exactly (Kraft's sum is 1), so one wrong length breaks it.
    @Test func huffmanLengthsMakeACompleteCode() {
        #expect(HPACKHuffman.lengths.count == 257)
        let kraft = HPACKHuffman.lengths.reduce(0) { $0 + (1 << (HPACKHuffman.longest - Int($1))) }
        #expect(kraft == 1 << HPACKHuffman.longest)
    }

    /// RFC 7541 C.3.1 (literals) and C.4.1 (Huffman): the same request; C.6.1: a response.
    @Test func decodesTheRFCHeaderBlocks() throws {
        let plain = try #require(Self.fields(H2CSamples.hex("828684410f7777772e6578616d706c652e636f6d")))
        #expect(plain == HPACK.Fields(method: "GET", path: "/", authority: "www.example.com"))
        let huffman = try #require(Self.fields(H2CSamples.hex("828684418cf1e3c2e5f23a6ba0ab90f4ff")))
        #expect(huffman == plain)
        let response = try #require(Self.fields(H2CSamples.hex(
            "488264025885aec3771a4b6196d07abe941054d444a8200595040b8166e082a62d1bff6e919d29ad171863c78f0b97c8e9ae82ae43d3")))
        #expect(response.status == "302")
        #expect(response.method == nil && response.path == nil)
    }

    /// Entries a block adds may be referred to later in the same block; any
    /// other dynamic index is invalid (the table starts empty).
    @Test func dynamicTableWithinOneBlock() {
        let literalPath: [UInt8] = [0x40, 5] + Array(":path".utf8) + [4] + Array("/dyn".utf8)
        #expect(Self.fields(literalPath + [0xBE])?.path == "/dyn")
        #expect(Self.fields(literalPath + [0xBF]) == nil)
        #expect(Self.fields([0x80]) == nil, "index 0")
        #expect(Self.fields([0x82, 0x04]) == nil, "a literal cut off")
    }

    /// Values of fields not shown are stepped over, not decoded: an
    /// Authorization value that is not even valid Huffman does not matter.
    @Test func otherValuesAreNeverDecoded() {
        let block: [UInt8] = [0x82, 0x1F, 0x08, 0x84, 0x00, 0x00, 0x00, 0x00, 0x84]
        #expect(Self.fields(block) == HPACK.Fields(method: "GET", path: "/"))
    }

    @Test func framesPaddedPrioritizedAndContinued() {
        let block: [UInt8] = [0x82, 0x84, 0x41, 0x03] + Array("a.b".utf8)
        let settings = Self.frame(type: 4, flags: 0, stream: 0, [0, 3, 0, 0, 0, 100])
        // PADDED (2 bytes of padding) and PRIORITY (5 bytes) around the block.
        let padded = Self.frame(type: 1, flags: 0x4 | 0x8 | 0x20, stream: 1, [2] + [0, 0, 0, 0, 16] + block + [0, 0])
        let expected = HTTP2Frames.Walk.headers(HPACK.Fields(method: "GET", path: "/", authority: "a.b"))
        #expect(Self.walk(settings + padded, final: false) == expected)
        // The same block in a HEADERS frame and a CONTINUATION.
        let split = Self.frame(type: 1, flags: 0, stream: 1, Array(block.prefix(3)))
            + Self.frame(type: 9, flags: 0x4, stream: 1, Array(block.dropFirst(3)))
        #expect(Self.walk(settings + split, final: false) == expected)
        #expect(Self.walk(Array((settings + split).dropLast(2)), final: false) == .needMore)
        #expect(Self.walk(Array((settings + split).dropLast(2)), final: true) == .framesOnly)
        // A CONTINUATION of another stream is a protocol error: no headers from it.
        let wrongStream = Self.frame(type: 1, flags: 0, stream: 1, Array(block.prefix(3)))
            + Self.frame(type: 9, flags: 0x4, stream: 3, Array(block.dropFirst(3)))
        #expect(Self.walk(settings + wrongStream, final: false) == .framesOnly)
        // HEADERS on stream 0, or a PING of the wrong length, first: not HTTP/2.
        #expect(Self.walk(Self.frame(type: 1, flags: 0x4, stream: 0, block), final: false) == .invalid)
        #expect(Self.walk(Self.frame(type: 6, flags: 0, stream: 0, [1, 2, 3]), final: false) == .invalid)
    }

    /// The probes on real curl and nginx bytes: the request line and the
    /// status, and none of the request's secrets.
    @Test func probesShowTheRequestAndStatusOnly() throws {
        let request = H2CSamples.curlRequest.withUnsafeBytes { Probes.probe($0, final: false) }
        guard case .cleartext(.h2c, "h2c", let evidence) = request else { Issue.record("\(request)"); return }
        #expect(evidence == "HTTP/2 prior-knowledge preface (PRI * HTTP/2.0), then GET /api/v1/orders?token=[redacted]&x=[redacted] (:authority 127.0.0.1:8081)")
        for secret in H2CSamples.secrets { #expect(!evidence.contains(secret)) }
        let response = H2CSamples.nginxResponse.withUnsafeBytes { Probes.probe($0, final: false) }
        #expect(response == .cleartext(.h2c, protocolName: "h2c", evidence: "HTTP/2 :status 200 (content-type text/plain)"))
        // Before the request's HEADERS frame is whole, the probe waits; at the end it settles for the preface.
        let cut = Array(H2CSamples.curlRequest.prefix(100))
        #expect(cut.withUnsafeBytes { Probes.probe($0, final: false) } == .needMore)
        #expect(cut.withUnsafeBytes { Probes.probe($0, final: true) }
            == .cleartext(.h2c, protocolName: "h2c", evidence: Probes.h2cPrefaceEvidence))
    }

    /// Every prefix of real h2c bytes, and random bytes behind a preface or
    /// as a header block, decode or are refused: never a trap.
    @Test func prefixesAndRandomBytesAreSafe() {
        for sample in [H2CSamples.curlRequest, H2CSamples.nginxResponse] {
            for end in 0...sample.count {
                let prefix = Array(sample.prefix(end))
                for final in [false, true] { _ = prefix.withUnsafeBytes { Probes.probe($0, final: final) } }
            }
        }
        var rng = SplitMix(seed: 7_541)
        let preface = Array("PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n".utf8)
        for _ in 0..<20_000 {
            let bytes = (0..<rng.below(200)).map { _ in UInt8(truncatingIfNeeded: rng.next()) }
            _ = bytes.withUnsafeBytes { HPACK.decode($0) }
            _ = bytes.withUnsafeBytes { HPACKHuffman.decode($0, limit: 64) }
            _ = Self.walk(bytes, final: true)
            _ = (preface + bytes).withUnsafeBytes { Probes.probe($0, final: true) }
        }
    }

    /// A server's SETTINGS frame is specific enough to name HTTP/2; other
    /// binary streams that start with zero bytes are left to the other probes.
    @Test func serverSettingsFrameOnlyWhenItIsOne() {
        let emptySettings: [UInt8] = [0, 0, 0, 4, 0, 0, 0, 0, 0]
        #expect(emptySettings.withUnsafeBytes { Probes.h2cServer($0, final: true) }
            == .cleartext(.h2c, protocolName: "h2c", evidence: "HTTP/2 SETTINGS frame (a server's connection preface)"))
        #expect([UInt8]([0, 0, 0x12, 4]).withUnsafeBytes { Probes.h2cServer($0, final: false) } == .needMore)
        #expect([UInt8]([0, 0, 0x13, 4]).withUnsafeBytes { Probes.h2cServer($0, final: false) } == nil, "not a multiple of 6")
        #expect([UInt8]([0, 0, 0, 5, 0, 0, 0, 1, 0, 0]).withUnsafeBytes { Probes.h2cServer($0, final: true) } == nil)
        #expect([UInt8]([0, 0, 0x06, 4, 0, 0, 0, 0, 1]).withUnsafeBytes { Probes.h2cServer($0, final: true) } == nil, "stream 1")
        // A SETTINGS frame longer than 16 settings is something else.
        let long = [UInt8]([0, 0, 0x66, 4, 0, 0, 0, 0, 0]) + [UInt8](repeating: 0, count: 0x66)
        #expect(long.withUnsafeBytes { Probes.h2cServer($0, final: true) } == nil)
    }
}

