import Testing
@testable import PayloadClassification

/// Cleartext protocols with binary framing: recognised from their framing, never from a port.
@Suite struct ClearBinaryProbeTests {
    static func be32(_ v: Int) -> [UInt8] { [UInt8(v >> 24 & 0xFF), UInt8(v >> 16 & 0xFF), UInt8(v >> 8 & 0xFF), UInt8(v & 0xFF)] }

    static let postgresStartup: [UInt8] = {
        let body = Array("user\0alice\0database\0orders\0\0".utf8)
        return be32(8 + body.count) + [0, 3, 0, 0] + body
    }()
    static let mysqlGreeting: [UInt8] = {
        let version = Array("8.0.36\0".utf8)
        let body: [UInt8] = [10] + version + [1, 0, 0, 0] + Array(repeating: 0x41, count: 8) + [0] + Array(repeating: 0, count: 20)
        return [UInt8(body.count), 0, 0, 0] + body
    }()
    static let dnsQuery: [UInt8] = {
        let name: [UInt8] = [3] + Array("www".utf8) + [7] + Array("example".utf8) + [3] + Array("com".utf8) + [0]
        let message: [UInt8] = [0x12, 0x34, 0x01, 0x00, 0, 1, 0, 0, 0, 0, 0, 0] + name + [0, 1, 0, 1]
        return [UInt8(message.count >> 8), UInt8(message.count & 0xFF)] + message
    }()
    static let bgpKeepalive: [UInt8] = Array(repeating: 0xFF, count: 16) + [0, 19, 4]
    static let smb2Negotiate: [UInt8] = [0, 0, 0, 0x68, 0xFE, 0x53, 0x4D, 0x42] + Array(repeating: 0, count: 0x68 - 4)
    static let socks5Greeting: [UInt8] = [5, 3, 0, 3, 2]
    /// CONNECT to 10.0.0.7:443 as user "alice"; SOCKS4a: to 0.0.0.1, then the host name.
    static let socks4Connect: [UInt8] = [4, 1, 0x01, 0xBB, 10, 0, 0, 7] + Array("alice".utf8) + [0]
    static let socks4aConnect: [UInt8] = [4, 1, 0x01, 0xBB, 0, 0, 0, 1] + Array("alice".utf8) + [0] + Array("api.example.com".utf8) + [0]
    /// An NFSv3 WRITE call with AUTH_SYS credentials (record mark, XID, CALL, RPC 2, NFS, v3, proc 7).
    static let nfsCall: [UInt8] = be32(0x8000_0000 | 120) + be32(0x1234) + be32(0) + be32(2) + be32(100_003) + be32(3) + be32(7)
        + be32(1) + be32(24) + Array(repeating: 0, count: 24) + be32(0) + be32(0) + Array(repeating: 0x41, count: 52)
    static let ymsg: [UInt8] = Array("YMSG".utf8) + [0, 0x10, 0, 0, 0, 0x15, 0, 0x8A, 0, 0, 0, 0, 0, 0x40, 0x37, 0xB7] + Array("alice".utf8)

    /// Erlang distribution as two Erlang/OTP 25 nodes (Debian's erlang-base)
    /// opened it on loopback: the connecting node's name, the other's status.
    static let erlangName = TestSupport.hex("001a4e0000000d07df7fbd6b0f5511000b62406c6f63616c686f7374")
    static let erlangStatus = TestSupport.hex("0003736f6b")
    /// The older form (distribution version 5): 'n', version, flags, name.
    static let erlangNameV5: [UInt8] = [0, 20, 0x6E, 0, 5, 0, 0x0D, 0x07, 0xDF] + Array("rabbit@node-0".utf8)

    /// EPMD as those nodes used it: a registration, a lookup and its answer.
    static let epmdRegistration = TestSupport.hex("000e7887974d00000600050001630000")
    static let epmdLookup = TestSupport.hex("00027a63")
    static let epmdPort = TestSupport.hex("770087974d00000600050001630000")

    /// The Redis Cluster bus as two redis-server 7.0 nodes (Debian's) used it
    /// after CLUSTER MEET: the MEET and the PONG, their first 80 bytes and
    /// zeros standing in for the rest (2256 bytes each).
    static let redisMeet = TestSupport.hex("52436d62000008d000011b5900020000000000000000000000000000000000000000000000000000"
        + "6333303464393563306439633437653630336166323862373332333466323639386537636264636600000000") + [UInt8](repeating: 0, count: 200)
    static let redisPong = TestSupport.hex("52436d62000008d000011b5a00010000000000000000000000000000000000000000000000000000"
        + "3832366137353530343533646136643538646232656164346330646132623439346131633661663600000000") + [UInt8](repeating: 0, count: 200)

    @Test(arguments: [
        ("redis-cluster", redisMeet, "Redis Cluster bus MEET from node c304d95c0d9c47e603af28b73234f2698e7cbdcf"),
        ("redis-cluster", redisPong, "Redis Cluster bus PONG from node 826a7550453da6d58db2ead4c0da2b494a1c6af6"),
        ("epmd", epmdRegistration, "EPMD registration of node c"),
        ("epmd", epmdLookup, "EPMD lookup of node c"),
        ("epmd", epmdPort, "EPMD port of node c"),
        ("erlang-dist", erlangName, "Erlang distribution handshake from node b@localhost"),
        ("erlang-dist", erlangStatus, "Erlang distribution handshake status ok"),
        ("erlang-dist", erlangNameV5, "Erlang distribution handshake from node rabbit@node-0"),
        ("postgresql", postgresStartup, "PostgreSQL startup (user alice)"),
        ("mysql", mysqlGreeting, "MySQL greeting, server 8.0.36"),
        ("dns", dnsQuery, "DNS query for www.example.com"),
        ("bgp", bgpKeepalive + bgpKeepalive, "BGP KEEPALIVE"),
        ("smb", smb2Negotiate, "SMB2 message"),
        ("socks", socks5Greeting, "SOCKS5 greeting"),
        ("socks", socks4Connect, "SOCKS4 request"),
        ("socks", socks4aConnect, "SOCKS4 request"),
        ("onc-rpc", nfsCall, "ONC RPC call: NFS v3 procedure 7"),
        ("postgresql", Array("R".utf8) + be32(8) + be32(3), "PostgreSQL cleartext password requested"),
        ("ymsg", ymsg, "Yahoo Messenger (YMSG) packet"),
    ])
    func recognised(_ name: String, _ bytes: [UInt8], _ evidence: String) {
        var classifier = DirectionClassifier()
        bytes.withUnsafeBytes { classifier.receive($0) }
        let summary = classifier.finish()
        #expect(summary.kind == .cleartextProtocol)
        #expect(summary.protocolName == name)
        #expect(summary.evidence == evidence)
    }

    /// Structured binary whose first bytes pass for a DNS header (a length, a
    /// query opcode, one question, the root name) but whose record counts no
    /// message of that length could hold is not DNS: OpenFlow's replies on
    /// 6633 read "DNS query for ." before.
    @Test func dnsCountsMustFitTheMessage() {
        let header: [UInt8] = [0x20, 0x10, 0, 0, 0, 0x31, 0, 1, 0x3B, 0, 0, 0, 0x20, 0x10, 0]
        let bytes = header + (0..<600).map { UInt8([0, 1, 0x3A, 0x10, 0x20][$0 % 5]) }
        #expect(ClearBinaryProbes.dnsOverTCP(UnsafeRawBufferPointer(start: nil, count: 0)) == nil)
        bytes.withUnsafeBytes { #expect(ClearBinaryProbes.dnsOverTCP($0) == nil) }
        Self.dnsQuery.withUnsafeBytes { #expect(ClearBinaryProbes.dnsOverTCP($0) != nil) }
    }

    /// A SOCKS4 request's user ID is text: OpenFlow 1.3's messages start
    /// with version 4 and, for ERROR, type 1, as a SOCKS4 CONNECT does, and
    /// end in a zero byte often enough (they read "SOCKS4 request" before).
    @Test func socks4NeedsTextAfterTheAddress() {
        let openFlowError: [UInt8] = [4, 1, 0, 16, 0, 0, 0, 9, 0, 1, 0, 5, 0x12, 0x34, 0x56, 0]
        openFlowError.withUnsafeBytes { #expect(ClearBinaryProbes.socks($0) == nil) }
        Self.socks4Connect.withUnsafeBytes { #expect(ClearBinaryProbes.socks($0) != nil) }
        // Two NULs inside without the SOCKS4a address: not a request.
        let twoNames: [UInt8] = [4, 1, 0x01, 0xBB, 10, 0, 0, 7] + Array("a".utf8) + [0] + Array("b".utf8) + [0]
        twoNames.withUnsafeBytes { #expect(ClearBinaryProbes.socks($0) == nil) }
    }

    /// Picked up mid-stream, BGP is found at its next marker.
    @Test func bgpMidStream() {
        var classifier = DirectionClassifier(startsMidStream: true)
        let bytes: [UInt8] = [0x40, 0x01, 0x01, 0x00, 0x50, 0x02] + Self.bgpKeepalive + Self.bgpKeepalive
        bytes.withUnsafeBytes { classifier.receive($0) }
        let summary = classifier.finish()
        #expect(summary.protocolName == "bgp")
    }

    /// Picked up mid-stream at a message start, a strong signature decides
    /// (captures start between segments, and segments start messages).
    @Test func signatureAtPickupStart() {
        for (bytes, name) in [(Self.smb2Negotiate, "smb"), (Array("PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n".utf8) + [0, 0, 0, 4, 0, 0, 0, 0, 0], "h2c")] {
            var classifier = DirectionClassifier(startsMidStream: true)
            bytes.withUnsafeBytes { classifier.receive($0) }
            #expect(classifier.finish().protocolName == name)
        }
    }

    /// rsh and rlogin send NUL-terminated strings: text, not binary.
    @Test func nulTerminatedStringsAreText() {
        var classifier = DirectionClassifier()
        Array("1022\0".utf8).withUnsafeBytes { classifier.receive($0) }
        Array("lns\0root\0mkdir testdir\0".utf8).withUnsafeBytes { classifier.receive($0) }
        let summary = classifier.finish()
        #expect(summary.kind == .text)
        #expect(summary.evidence == "1022 lns root mkdir testdir")
    }

    /// A stray line end is no application data.
    @Test func whitespaceOnlyIsUndetermined() {
        var classifier = DirectionClassifier()
        Array("\r\n".utf8).withUnsafeBytes { classifier.receive($0) }
        #expect(classifier.finish().kind == .undetermined)
    }

    /// A MongoDB-looking header whose flags use undefined bits is not MongoDB.
    @Test func mongoNeedsValidFlags() {
        var rng = SplitMix(seed: 5)
        let header: [UInt8] = [0x45, 0x4B, 0, 0, 2, 6, 1, 0x55, 0, 0, 3, 0x9E, 1, 0, 0, 0, 0x8F, 0xE0, 0xA8, 0xCF]
        let bytes = header + (0..<600).map { _ in UInt8(truncatingIfNeeded: rng.next()) }
        var classifier = DirectionClassifier()
        bytes.withUnsafeBytes { classifier.receive($0) }
        #expect(classifier.finish().protocolName != "mongodb")
    }

    /// Binary data too regular to be ciphertext, from its first to its last
    /// bytes, is data in clear; one that turns random later (an encrypted
    /// protocol's cleartext handshake) stays opaque.
    @Test func lowEntropyBinaryIsCleartextOnlyIfItStaysSo() {
        let structured = (0..<4_000).map { UInt8([0, 1, 2, 0x30, 0x02][$0 % 5]) }
        var classifier = DirectionClassifier()
        structured.withUnsafeBytes { classifier.receive($0) }
        let summary = classifier.finish()
        #expect(summary.kind == .cleartextProtocol)
        #expect(summary.protocolName == "binary")

        var rng = SplitMix(seed: 8)
        let thenRandom = Array(structured.prefix(1_000)) + (0..<3_000).map { _ in UInt8(truncatingIfNeeded: rng.next()) }
        var second = DirectionClassifier()
        thenRandom.withUnsafeBytes { second.receive($0) }
        #expect(second.finish().kind == .binary)
    }

    /// What decides at the end is the stream's last 512 bytes, however the
    /// stream arrived (whole, byte by byte, in chunks of any size across the
    /// ring's wrap): random bytes just before them are forgotten, random bytes
    /// among them are not.
    @Test(arguments: 0..<12)
    func theLastBytesDecideHoweverTheyArrive(_ seed: Int) {
        var rng = SplitMix(seed: UInt64(seed) &+ 900)
        func structured(_ count: Int) -> [UInt8] { (0..<count).map { UInt8([0, 1, 2, 0x30, 0x02][$0 % 5]) } }
        let random = (0..<1_000).map { _ in UInt8(truncatingIfNeeded: rng.next()) }
        for (stream, kind) in [(structured(4_000) + random + structured(512), PayloadKind.cleartextProtocol),
                               (structured(4_000) + random + structured(100), .binary)] {
            var chunks: [Range<Int>] = []
            var start = 0
            while start < stream.count {
                let size = switch seed % 3 {
                case 0: stream.count  // whole
                case 1: 1 + rng.below(3)  // byte by byte, nearly
                default: [1, 511, 512, 513, 700, 1_300][rng.below(6)]
                }
                chunks.append(start..<min(stream.count, start + size))
                start += size
            }
            var classifier = DirectionClassifier()
            for chunk in chunks { stream[chunk].withUnsafeBytes { classifier.receive($0) } }
            #expect(classifier.finish().kind == kind, "seed \(seed), \(stream.count) bytes in \(chunks.count) chunks")
        }
    }

    /// Short exchanges are judged too (a ZooKeeper connect request: 48 bytes,
    /// mostly zeros), from 32 bytes on; 32 random bytes stay opaque, and
    /// fewer than 32 bytes are too few to tell.
    @Test func shortLowEntropyBinary() {
        // Length, protocol version, last zxid seen, timeout, session id, password (length 16).
        let zooKeeperConnect: [UInt8] = Self.be32(44) + Array(repeating: 0, count: 12) + Self.be32(30_000)
            + Array(repeating: 0, count: 8) + Self.be32(16) + Array(repeating: 0, count: 16)
        var rng = SplitMix(seed: 32)
        let random = (0..<32).map { _ in UInt8(truncatingIfNeeded: rng.next()) }
        #expect(zooKeeperConnect.count == 48)
        for (bytes, kind) in [(zooKeeperConnect, PayloadKind.cleartextProtocol), (random, .binary),
                              (Array(zooKeeperConnect.prefix(31)), .binary)] {
            var classifier = DirectionClassifier()
            bytes.withUnsafeBytes { classifier.receive($0) }
            let summary = classifier.finish()
            #expect(summary.kind == kind, "\(bytes.count) bytes: \(summary.kind)")
        }
    }

    /// Line-based protocols are named from their first line; credentials in
    /// it never reach the evidence.
    @Test(arguments: [
        ("220 mail.example.com ESMTP Postfix\r\n", "smtp", "220 mail.example.com ESMTP Postfix"),
        ("EHLO client.example\r\nAUTH PLAIN AGFsaWNlAHMzY3JldA==\r\n", "smtp", "EHLO client.example"),
        ("220 (vsFTPd 3.0.5)\r\n", "ftp", "220 (vsFTPd 3.0.5)"),
        ("AUTH TLS\r\n", "ftp", "AUTH [redacted]"),
        ("* OK [CAPABILITY IMAP4rev1] Dovecot ready.\r\n", "imap", "* OK [CAPABILITY IMAP4rev1] Dovecot ready."),
        ("a001 LOGIN alice s3cret\r\n", "imap", "a001 LOGIN [redacted]"),
        ("+OK POP3 server ready\r\n", "pop3", "+OK POP3 server ready"),
        ("*2\r\n$4\r\nAUTH\r\n$6\r\ns3cret\r\n", "redis", "Redis command AUTH [redacted]"),
        ("*3\r\n$3\r\nSET\r\n$1\r\nk\r\n$1\r\nv\r\n", "redis", "Redis command SET"),
        ("+OK\r\n", "redis", "Redis reply +OK"),
    ])
    func textProtocolNamed(_ text: String, _ name: String, _ evidence: String) {
        var classifier = DirectionClassifier()
        Array(text.utf8).withUnsafeBytes { classifier.receive($0) }
        let summary = classifier.finish()
        #expect(summary.kind == .cleartextProtocol)
        #expect(summary.protocolName == name)
        #expect(summary.evidence == evidence)
        #expect(summary.evidence?.contains("s3cret") == false)
    }

    @Test func upgradeHeaderInEvidence() {
        var classifier = DirectionClassifier()
        Array("GET / HTTP/1.1\r\nHost: api\r\nConnection: Upgrade, HTTP2-Settings\r\nUpgrade: h2c\r\n\r\n".utf8)
            .withUnsafeBytes { classifier.receive($0) }
        #expect(classifier.finish().evidence == "GET / HTTP/1.1 (Host: api; Upgrade: h2c)")
    }

    /// Random bytes are none of these.
    @Test func randomIsBinary() {
        var rng = SplitMix(seed: 99)
        let bytes = (0..<600).map { _ in UInt8(truncatingIfNeeded: rng.next()) }
        var classifier = DirectionClassifier()
        bytes.withUnsafeBytes { classifier.receive($0) }
        #expect(classifier.finish().kind == .binary)
    }
}

/// The word-at-a-time scan for the end of a text run agrees with the byte
/// test it stands for: every byte value at every position of a word, and
/// random mixes of text and binary from every start.
@Suite struct EndOfTextTests {
    static func reference(_ bytes: [UInt8], from start: Int) -> Int {
        var k = max(0, start)
        while k < bytes.count, Probes.isTextByte(bytes[k]) { k += 1 }
        return k
    }

    @Test func everyByteValueAtEveryPositionOfAWord() {
        for length in [8, 9, 16, 23] {
            for position in 0..<length {
                for value in 0...255 {
                    var bytes = [UInt8](repeating: UInt8(ascii: "a"), count: length)
                    bytes[position] = UInt8(value)
                    let got = bytes.withUnsafeBytes { Probes.endOfText($0, from: 0) }
                    #expect(got == Self.reference(bytes, from: 0), "length \(length), byte \(value) at \(position)")
                }
            }
        }
    }

    @Test func randomMixesFromEveryStart() {
        var generator = SystemRandomNumberGenerator()
        let alphabet: [UInt8] = Array("GET / HTTP/1.1\r\n\tHost: x".utf8) + [0x00, 0x1F, 0x7F, 0x80, 0xFF, 0x16, 0x03]
        for _ in 0..<2_000 {
            let length = Int.random(in: 0...40, using: &generator)
            let bytes = (0..<length).map { _ in
                Int.random(in: 0..<10, using: &generator) == 0 ? alphabet.randomElement(using: &generator) ?? 0 : UInt8(ascii: "t")
            }
            for start in 0...length {
                #expect(bytes.withUnsafeBytes { Probes.endOfText($0, from: start) } == Self.reference(bytes, from: start))
            }
        }
    }
}
