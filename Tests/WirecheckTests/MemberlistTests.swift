import Testing
@testable import PayloadClassification

/// Real memberlist messages and Go's LZW, for the probe and its decoder.
enum MemberlistSamples {
    /// What Alertmanager 0.25 (Debian's) sent when a second instance joined
    /// the first (`--cluster.peer`, lab namespaces, TCP 9094): a push/pull
    /// message, LZW-compressed, in its compression envelope.
    static let alertmanagerJoin = TestSupport.hex(
        "0982a4416c676f00a3427566da008e000d0c22a5e44d1a37c34a397943a6cc9c"
            + "00acaacc2923670a9d3074ca3029e3c6c1215241c89091434ac19b000a562571"
            + "33268c1c3718d3bc7113805493321741917212a64d195d306234c131058b1225"
            + "438a60113223460e1c4596d8a0a144c6121a39a69082f2460e9d66230c95b288"
            + "b10c805156e6b83115a08000007015145030c08d193672e9ce49c32620")
    /// The envelope's 15 bytes: type 9, {"Algo": 0, "Buf": str16 of 142 bytes}.
    static let envelopeLength = 15
    /// The push/pull message inside it (decoded by a separate Python
    /// implementation of Go's decoder): its header, then one member's state
    /// and Alertmanager's own (notification log, silences).
    static let alertmanagerPushPull = TestSupport.hex(
        "0683a44a6f696ec3a54e6f64657301ac5573657253746174654c656e0e87a441646472a40a6f010aab496e6361726e6174696f6e01"
            + "a44d657461a0a44e616d65ba30314d3853584a4a4345584233313938454b36344a324b343953a4506f7274cd2386a5537461746500"
            + "a356736ea60105020000000a050a036e666c0a050a0373696c")

    /// Serf 0.8.2 (Debian's: HashiCorp's own memberlist user) joining
    /// another agent on loopback: its push/pull, LZW-compressed, with 585
    /// bytes of Serf's state; and the same join with a gossip key
    /// (`-encrypt`): type 10, length, version, AES-GCM. Its first 120 bytes.
    static let serfJoin = TestSupport.hex(
            "0982a4416c676f00a3427566da00c5000d0c22a5e44d1a37c34a397943a6cc9c00acaacc2923670a9d3074ca3029e3a6"
            + "9980248748052143460ea93f0000045895c4cd983072dc604cf3c64d00524dca5c14f50f10292761da94092586149437"
            + "72e834fbb0a094458c65008cb232c78da9000504082890d590aa227638d26142258dd000a6c08a9dc34d00006070e3ca"
            + "9d4bb7aeddbb78f3eaddcbb7afdfbf80030b1e4cb8b0e1c388132b5eccb8b1df5264cd9659b9d10c9d9c6dc4509c0349"
            + "55943a14f3443ecbea299d3a73463b0c44144040")
    static let serfJoinEncrypted = TestSupport.hex("0a000000f1016fbbac567a868c719ce1c033afc87a1d0b8e2eda492a74b3a21fa98807d1387080d4243d8f7d698aabac8167ba7a262116d291acb0cee94ac1834db1ea3aad35b982b42a17ec80f28dbdc21b978f7a8d2d8d39bdbc8bc240dc6d36bfc12ca8c5a7c880c8611608341f990539c1ab8555231e")

    /// Go's `compress/lzw` writer (LSB first, 8-bit literals), written from
    /// its algorithm: a clear code first, codes growing from 9 bits when the
    /// next code reaches 512, 1024, 2048, a clear when it reaches 4095, the
    /// pending code and the end code at the close.
    static func goLZW(_ input: [UInt8]) -> [UInt8] {
        var out: [UInt8] = []
        var bits: UInt64 = 0, count = 0, width = 9, next = 257, overflow = 512
        var table: [Int: Int] = [:]
        func write(_ code: Int) {
            bits |= UInt64(code) << UInt64(count)
            count += width
            while count >= 8 {
                out.append(UInt8(truncatingIfNeeded: bits))
                bits >>= 8
                count -= 8
            }
        }
        write(256)
        guard var code = input.first.map(Int.init) else {
            write(257)
            if count > 0 { out.append(UInt8(truncatingIfNeeded: bits)) }
            return out
        }
        for byte in input.dropFirst() {
            let key = code << 8 | Int(byte)
            if let known = table[key] {
                code = known
                continue
            }
            write(code)
            code = Int(byte)
            next += 1
            if next == overflow {
                width += 1
                overflow <<= 1
            }
            if next == 4095 {
                write(256)
                width = 9
                next = 257
                overflow = 512
                table.removeAll()
                continue
            }
            table[key] = next
        }
        write(code)
        // The close counts that code as the loop does: the codes may widen, or the table clear.
        next += 1
        if next == overflow { width += 1 }
        if next == 4095 {
            write(256)
            width = 9
        }
        write(257)
        if count > 0 { out.append(UInt8(truncatingIfNeeded: bits)) }
        return out
    }

    /// The inputs the Go vectors below were made from (the same generator in Go).
    static func text(_ n: Int) -> [UInt8] {
        let words = ["alertmanager", "member", "10.111.1.122", "Incarnation", "State", "push", "pull", "node", "gossip", "a", "of",
                     "the", "silences", "nflog"]
        var x: UInt64 = 1
        var out: [UInt8] = []
        while out.count < n {
            x = x &* 6_364_136_223_846_793_005 &+ 1_442_695_040_888_963_407
            out += Array(words[Int((x >> 33) % UInt64(words.count))].utf8) + [0x20]
        }
        return Array(out.prefix(n))
    }

    static func random(_ n: Int) -> [UInt8] {
        var x: UInt64 = 7
        return (0..<n).map { _ in
            x = x &* 6_364_136_223_846_793_005 &+ 1_442_695_040_888_963_407
            return UInt8(x >> 56)
        }
    }

    static func fnv(_ bytes: [UInt8]) -> UInt64 {
        bytes.reduce(14_695_981_039_346_656_037) { ($0 ^ UInt64($1)) &* 1_099_511_628_211 }
    }
}

@Suite struct LZWTests {
    typealias S = MemberlistSamples

    static func decode(_ input: [UInt8], head: Int = 256, limit: Int = 1 << 16) -> (LZW.Result, [UInt8]) {
        var out = [UInt8](repeating: 0, count: head)
        let result = input.withUnsafeBytes { d in out.withUnsafeMutableBytes { LZW.decode(d, head: $0, limit: limit) } }
        return (result, Array(out.prefix(min(head, result.produced))))
    }

    /// The real Alertmanager bytes decode to their end code, exactly where
    /// the buffer ends, into the push/pull message.
    @Test func alertmanagerMessage() {
        let buffer = Array(S.alertmanagerJoin[S.envelopeLength...])
        #expect(buffer.count == 142)
        let (result, head) = Self.decode(buffer)
        #expect(result == LZW.Result(valid: true, ended: true, consumed: 142, produced: 131))
        #expect(head == S.alertmanagerPushPull)
        // Every prefix: valid as far as it goes, never ended, never a trap.
        for cut in 0..<buffer.count {
            let (partial, _) = Self.decode(Array(buffer[..<cut]))
            #expect(partial.valid && !partial.ended && partial.consumed == cut)
        }
    }

    /// Vectors from Go 1.19's compress/lzw (`GO111MODULE=off go run scripts/lzw-vectors.go`): the
    /// test's writer gives Go's output, length and checksum, for text that
    /// grows the codes to 12 bits and clears the table, and for random
    /// bytes; the decoder gives back every input byte.
    @Test(arguments: [
        ("text", 100, 83, UInt64(0x69b6_ee4b_fedc_7534)),
        ("text", 20_000, 3_974, UInt64(0x45b9_c9f2_a64e_7d53)),
        ("text", 200_000, 37_200, UInt64(0xff0d_ff13_c147_4252)),
        ("random", 50_000, 68_398, UInt64(0x4677_1846_5649_a88f)),
    ])
    func goVectors(kind: String, size: Int, goLength: Int, goChecksum: UInt64) {
        let input = kind == "text" ? S.text(size) : S.random(size)
        let compressed = S.goLZW(input)
        #expect(compressed.count == goLength)
        #expect(S.fnv(compressed) == goChecksum)
        let (result, decoded) = Self.decode(compressed, head: size, limit: size + 1)
        #expect(result == LZW.Result(valid: true, ended: true, consumed: compressed.count, produced: size))
        #expect(decoded.elementsEqual(input), "decoded \(decoded.count) bytes, expected \(input.count)")
    }

    /// Round trips of random inputs, from one repeated byte to any byte.
    @Test func roundTrips() {
        var rng = SplitMix(seed: 11)
        for _ in 0..<2_000 {
            let alphabet = 1 + Int(rng.next() % 256)
            let input = (0..<Int(rng.next() % 3_000)).map { _ in UInt8(rng.next() % UInt64(alphabet)) }
            let (result, decoded) = Self.decode(S.goLZW(input), head: input.count, limit: input.count + 1)
            #expect(result.valid && result.ended && result.produced == input.count)
            #expect(decoded.elementsEqual(input), "decoded \(decoded.count) bytes, expected \(input.count)")
        }
    }

    /// Random bytes: none decodes to its end (most fail within a few codes),
    /// so "decodes to an end code exactly where the buffer ends" does not
    /// happen to ciphertext.
    @Test func randomBytesFail() {
        var rng = SplitMix(seed: 12)
        var endedAtTheEnd = 0, validToTheEnd = 0
        for _ in 0..<20_000 {
            let bytes = (0..<142).map { _ in UInt8(truncatingIfNeeded: rng.next()) }
            let (result, _) = Self.decode(bytes)
            if result.valid, result.ended, result.consumed == bytes.count { endedAtTheEnd += 1 }
            if result.valid, !result.ended, result.consumed == bytes.count { validToTheEnd += 1 }
        }
        #expect(endedAtTheEnd == 0)
        #expect(validToTheEnd == 0)
    }

    /// The work is bounded by `limit`, whatever the input: a run of one
    /// byte makes ever longer entries, and decoding stops soon after `limit`.
    @Test func workIsBounded() {
        let compressed = S.goLZW([UInt8](repeating: 0x41, count: 2_000_000))
        let (result, _) = Self.decode(compressed, limit: 10_000)
        #expect(result.valid && !result.ended)
        #expect(result.produced >= 10_000 && result.produced < 10_000 + 4_096)
    }
}

@Suite struct MemberlistProbeTests {
    typealias S = MemberlistSamples

    @Test func compressedPushPull() {
        let summary = ClassifierTests.classify(S.alertmanagerJoin)
        #expect(summary.kind == .cleartextProtocol)
        #expect(summary.protocolName == "memberlist")
        #expect(summary.evidence == "memberlist push/pull (join): the state of 1 member and 14 bytes of application state, "
            + "LZW-compressed (142 bytes decode to 131), so it is compressed, not encrypted")
    }

    /// Serf's join, a second real memberlist user: plaintext; with a gossip
    /// key the message is ciphertext: binary (so `opaque`), named.
    @Test func serf() {
        let plain = ClassifierTests.classify(S.serfJoin)
        #expect(plain.protocolName == "memberlist")
        #expect(plain.evidence == "memberlist push/pull (join): the state of 1 member and 585 bytes of application state, "
            + "LZW-compressed (197 bytes decode to 681), so it is compressed, not encrypted")
        // With a key: ciphertext, named. Binary, so `opaque`: its encryption is not TLS and cannot be checked.
        let encrypted = ClassifierTests.classify(S.serfJoinEncrypted)
        #expect(encrypted.kind == .binary, "\(encrypted)")
        #expect(encrypted.protocolName == "memberlist")
        #expect(encrypted.evidence == "memberlist message encrypted with the cluster's gossip key (AES-GCM, version 1)")
        // The same framing around regular bytes is not taken for ciphertext.
        var regular = Array(S.serfJoinEncrypted)
        for i in 18..<regular.count { regular[i] = UInt8(i % 4) }
        #expect(regular.withUnsafeBytes { Memberlist.probe($0, final: true) } == nil)
        // Every prefix of it, as a whole stream (the fuzzer's find: a message cut before its nonce ended trapped).
        for cut in 0...S.serfJoinEncrypted.count {
            let prefix = Array(S.serfJoinEncrypted.prefix(cut))
            _ = prefix.withUnsafeBytes { Memberlist.probe($0, final: true) }
            _ = ClassifierTests.classify(prefix)
        }
    }

    /// Without compression (memberlist's `EnableCompression` off), and after a label header.
    @Test func plainAndLabelled() {
        let plain = ClassifierTests.classify(S.alertmanagerPushPull)
        #expect(plain.protocolName == "memberlist")
        #expect(plain.evidence == "memberlist push/pull (join): the state of 1 member and 14 bytes of application state")
        let labelled = ClassifierTests.classify([244, 4] + Array("prod".utf8) + S.alertmanagerJoin)
        #expect(labelled.protocolName == "memberlist")
    }

    /// Grafana dskit's TCP transport (Loki, Mimir, Tempo, Cortex), framed as
    /// its tcp_transport.go writes (not captured from a real ring): a stream
    /// opens with 2, then memberlist's messages; a packet with 1, the
    /// sender's address, a gossip message, its MD5.
    @Test func dskitTransport() {
        let stream = ClassifierTests.classify([2] + S.alertmanagerJoin)
        #expect(stream.protocolName == "memberlist")
        #expect(stream.evidence?.hasSuffix("so it is compressed, not encrypted (dskit TCP transport stream)") == true, "\(String(describing: stream.evidence))")
        let address = Array("10.244.1.7:7946".utf8)
        // An alive message: type 4, then a MessagePack map (its fields elided), then 16 bytes of digest.
        let packet: [UInt8] = [1, UInt8(address.count)] + address + [4, 0x87, 0xA4] + Array("Addr".utf8)
            + [UInt8](repeating: 0x5A, count: 40) + [UInt8](repeating: 0xC1, count: 16)
        let gossip = ClassifierTests.classify(packet)
        #expect(gossip.protocolName == "memberlist")
        #expect(gossip.evidence == "memberlist gossip packet from 10.244.1.7:7946 (dskit TCP transport)")
        // 2 before anything else is not memberlist's stream.
        let other = [UInt8]([2]) + Array("hello world, this is not memberlist".utf8)
        #expect(other.withUnsafeBytes { Memberlist.probe($0, final: true) } == nil)
    }

    /// The envelope around bytes that are not LZW (ciphertext, or a
    /// corrupted buffer) is not memberlist in clear.
    @Test func envelopeAroundRandomBytesIsNot() {
        var rng = SplitMix(seed: 13)
        for _ in 0..<2_000 {
            var message = S.alertmanagerJoin
            for i in S.envelopeLength..<message.count { message[i] = UInt8(truncatingIfNeeded: rng.next()) }
            let result = message.withUnsafeBytes { Memberlist.probe($0, final: true) }
            #expect(result == nil)
        }
    }
}
