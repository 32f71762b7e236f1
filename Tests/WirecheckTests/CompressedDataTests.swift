import Testing
@testable import PayloadClassification

/// Compressed streams as zlib and gzip write them (made with Python's zlib
/// from forty JSON log lines with tokens in them, 7 083 bytes).
enum CompressedSamples {
    static func hex(_ text: String) -> [UInt8] { TestSupport.hex(text) }

    /// The whole zlib stream (599 bytes), checksum and all.
    static let zlib = hex(
        "789ca5d8bb6edb401085e13e4f21b08eac3d67783510244d90942954a5932d3a310c5d202a4961e8dd23abe314c9600e" +
        "40800077b9f8bb0f3bafd5a7f3f36e9cce9bddb1ba5f542c6c97e0b2608dfebe94eb73574af95ebd5f54d76dd3e6c7f8" +
        "b6edcbe7f562b5393eaf7e6375386dc7d3b42a1fcf879771ff61b2c7939d9765f175bdfeb6c21d162ce5edf7975f0fe3" +
        "693f9ec7e97ac26b753c6c6feffd66773bf2cff8b0ecb6c3d3b25497ebeeb7cfd371f3785b9b7e1e8ed5e5f2eef5bfb5" +
        "08d676f35aa46ba1d432588b7a9ecb742e955c0be612f35c4be79a925b4773fb796e9dcead95dc26986bcd3cb749e736" +
        "4a6e1bccad39cf6dd3b9ad92db457387796e97ceed94dc3e98dbb4f3dc3e9ddb2bb94330b7b579ee90ce1d845c444deb" +
        "1c6ac8ab0685358459f3ae09b029b2212a5bef64439e3628b6216adbe06c431e3728ba21aadbe074439e3728be21ea1b" +
        "8a030e79e1a01087287180330e79e4a02887a87280630e79e7a040872874a0930e79eaa05887a87530871df2da41e18e" +
        "51ee503bef98f78e8a778c7a87da81c73c7854c063f82ad7f8bb9c709953c463543cb48e3ce6c9a3421ea3e4a175e631" +
        "6f1e15f31836af73e6316f1e15f31836af77e6316f1e15f31836af77e6316f1e15f318366f70e6316f1e15f318358fc5" +
        "99c7bc7954ccb3a8798433cff2e699629e45cd239c799637cf14f32c6a1ee9ccb3bc79a69867e109a6f911a630c354cc" +
        "b3f010d39c799637cf14f32c6a1e6b679ee5cd33c53c8b9ac7c6996779f34c31cfa2e6b171e659de3c53ccb3a8796c9d" +
        "799637cf14f32c6c5ee7ccb3bc79f60ff3fe025766f89a")
    /// gzip of the first 600 bytes of the same lines.
    static let gzip = hex(
        "1f8b0800000000000203a5ce3d0f82301006e0dd5fd174b6f4ae183f480c2e4647874e6e05aa1202346dd581f0df0536" +
        "260924975c72f7dee569e8c9e7a5765e958646840a105b8682014adc47005d050070a76b42bb98534fddc72e6749b832" +
        "39ff20af6da6ade310fbbad0d5d185a90d3d037295f2c631402200faf3e29d685b69af5df7a1a1a6ce865ea97278f9d5" +
        "09db65870703da76e97eec8c4a879d7bd586b6edaaf9abc589dadd588bb3b5b8442b266a7133e68ad95cb1841b4ee40a" +
        "8c7f54d5dae758020000")

    /// A Beats batch as Filebeat sends it: window frame, then the compressed frame.
    static let beatsBatch: [UInt8] = Array("2W".utf8) + [0, 0, 0, 40] + Array("2C".utf8) + be32(zlib.count) + zlib
    /// A made-up binary protocol: an 8-byte header, then the compressed stream.
    static let framedZlib: [UInt8] = [0xCA, 0xFE, 0, 1] + be32(zlib.count) + zlib
    static func be32(_ v: Int) -> [UInt8] { [UInt8(v >> 24 & 0xFF), UInt8(v >> 16 & 0xFF), UInt8(v >> 8 & 0xFF), UInt8(v & 0xFF)] }
}

@Suite struct CompressedDataTests {
    typealias S = CompressedSamples

    static func find(_ bytes: [UInt8]) -> ProbeResult? { bytes.withUnsafeBytes { CompressedData.find(in: $0) } }

    static func evidence(_ result: ProbeResult?) -> (name: String, evidence: String)? {
        guard case .cleartext(let kind, let name, let evidence) = result, kind == .cleartextProtocol else { return nil }
        return (name, evidence)
    }

    /// A whole stream, at the start or after a frame header, is named with
    /// where it starts and what it inflated to, never with what it says.
    @Test func wholeStreams() throws {
        let atStart = try #require(Self.evidence(Self.find(S.zlib)))
        #expect(atStart.name == "zlib")
        #expect(atStart.evidence == "zlib-compressed data: 599 bytes inflate to 7083 (100 % text), so it is compressed, not encrypted")
        let framed = try #require(Self.evidence(Self.find(S.framedZlib)))
        #expect(framed.evidence.hasPrefix("zlib-compressed data from byte 8: 599 bytes inflate to 7083"))
        // Fluentd's forward protocol, compressed: a msgpack array, the tag, then bin32 holding gzip.
        let header: [UInt8] = [0x93, 0xA4] + Array("kube".utf8) + [0xC6]
        let forward: [UInt8] = header + S.be32(S.gzip.count) + S.gzip
        let gzip = try #require(Self.evidence(Self.find(forward)))
        #expect(gzip.name == "gzip")
        #expect(gzip.evidence.hasPrefix("gzip-compressed data from byte 11: 202 bytes inflate to 600"))
        for found in [atStart, framed, gzip] {
            #expect(!found.evidence.contains("token") && !found.evidence.contains("s3cr3t"))
        }
    }

    /// A stream cut off (the classifier sees 512 bytes) is taken when at
    /// least 128 bytes decode without error and inflate to more than they
    /// were; fewer prove nothing (random bytes with a zlib header got as far
    /// as 96), and so does a start that has not yet shrunk anything (here,
    /// the first 128 bytes inflate to 90: most are the block's code tables).
    @Test func cutStreams() {
        #expect(Self.evidence(Self.find(Array(S.zlib.prefix(500))))?.evidence.hasPrefix("zlib-compressed data: 500 bytes inflate to 5556") == true)
        #expect(Self.evidence(Self.find(Array(S.zlib.prefix(256)))) != nil)
        #expect(Self.find(Array(S.zlib.prefix(128))) == nil)
        #expect(Self.find(Array(S.zlib.prefix(100))) == nil)
    }

    /// Damage that zlib notices (a changed byte; its checksum at the end)
    /// leaves the bytes unexplained.
    @Test func damagedStreams() {
        var checksum = S.zlib
        checksum[checksum.count - 1] ^= 0x01
        #expect(Self.find(checksum) == nil)
        var body = S.zlib
        body[40] ^= 0xFF
        #expect(Self.find(body) == nil)
    }

    /// Ciphertext is never taken for compressed data, even where its bytes
    /// happen to form a zlib header: here one is planted in each of 100 000
    /// random samples of 10 to 512 bytes (random bytes carry one by chance at
    /// about one offset in 1 000), and zlib must reject every one. Short
    /// samples are what test the 128-byte rule: with 32, 0.3 % were taken.
    @Test func randomBytesWithAZlibHeaderAreNotCompressed() {
        var rng = SplitMix(seed: 2026_12_01)
        var taken = 0
        for _ in 0..<100_000 {
            let count = 10 + Int(rng.next() % 503)
            var bytes = (0..<count).map { _ in UInt8(truncatingIfNeeded: rng.next()) }
            let at = Int(rng.next() % UInt64(min(120, count - 9)))
            let cmf = UInt8(truncatingIfNeeded: 0x08 | (rng.next() % 8) << 4)
            let top = Int(rng.next() & 0xC0)
            let flg = UInt8(top + (31 - (Int(cmf) << 8 | top) % 31) % 31)
            bytes[at] = cmf
            bytes[at + 1] = flg
            #expect(CompressedData.isZlibHeader(cmf, flg))
            if Self.find(bytes) != nil { taken += 1 }
        }
        #expect(taken == 0)
    }

    /// Through the classifier: high-entropy compressed bytes are cleartext
    /// (whole, byte by byte or cut anywhere: see the invariance test), and a
    /// Beats batch is named as such.
    @Test func classified() {
        let framed = ClassifierTests.classify(S.framedZlib)
        #expect(framed.kind == .cleartextProtocol)
        #expect(framed.protocolName == "zlib")
        let beats = ClassifierTests.classify(S.beatsBatch)
        #expect(beats.protocolName == "beats")
        #expect(beats.evidence == "Beats (Lumberjack v2) batch: a window of 40 events, then a zlib-compressed frame of 599 bytes")
        let random = ClassifierTests.classify(TLSBuilder.filler(700, seed: 5))
        #expect(random.kind == .binary)
    }
}
