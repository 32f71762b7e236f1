import Foundation
import PacketDecoding
import Testing
@testable import PayloadClassification
@testable import Reporting
@testable import VerdictPolicy

/// The key exchange a server chose, read from its cleartext handshake: TLS
/// 1.3's key_share (and a HelloRetryRequest's), TLS 1.2's ServerKeyExchange
/// (an ECDHE curve, or under a DHE suite the prime's size), an RSA suite's
/// key transport, named from the registry with post-quantum groups flagged,
/// and the weak ones noted.
/// Messages are built by hand per RFC 8446 §4.2.8, RFC 8422 §5.4 and RFC 5246
/// §7.4.3, and fed whole, byte by byte and at random cuts.
@Suite struct KeyExchangeTests {
    typealias T = TLSBuilder

    /// RFC 8446 §4.1.3: ServerHello.random of a HelloRetryRequest.
    static let retryRandom: [UInt8] = [
        0xCF, 0x21, 0xAD, 0x74, 0xE5, 0x9A, 0x61, 0x11, 0xBE, 0x1D, 0x8C, 0x02, 0x1E, 0x65, 0xB8, 0x91,
        0xC2, 0xA2, 0x11, 0x16, 0x7A, 0xBB, 0x8C, 0x5E, 0x07, 0x9E, 0x09, 0xE2, 0xC8, 0xA8, 0x33, 0x9C,
    ]

    static func helloRetryRequest(group: Int) -> [UInt8] {
        let extensions = T.ext(43, T.u16(0x0304)) + T.ext(51, T.u16(group))
        return T.handshake(2, T.u16(0x0303) + retryRandom + T.vector8(T.filler(32, seed: 2)) + T.u16(0x1301) + [0]
            + T.vector16(extensions))
    }

    static func serverHello13(group: Int, keyLength: Int) -> [UInt8] {
        let extensions = T.ext(43, T.u16(0x0304)) + T.ext(51, T.u16(group) + T.vector16(T.filler(keyLength, seed: 5)))
        return T.handshake(2, T.u16(0x0303) + T.filler(32, seed: 4) + T.vector8(T.filler(32, seed: 2)) + T.u16(0x1302) + [0]
            + T.vector16(extensions))
    }

    /// A TLS 1.2 server's first flight in one handshake record: ServerHello
    /// (no supported_versions), Certificate, `keyExchange`, ServerHelloDone;
    /// then a ChangeCipherSpec and application data.
    static func tls12Flight(suite: Int, keyExchange: [UInt8]) -> [UInt8] {
        let hello = T.handshake(2, T.u16(0x0303) + T.filler(32, seed: 6) + T.vector8([]) + T.u16(suite) + [0]
            + T.vector16(T.ext(23, [])))
        let certificate = T.handshake(11, T.u24(303) + T.u24(300) + T.filler(300, seed: 7))
        // An RSA suite's server sends none.
        let messages = hello + certificate + (keyExchange.isEmpty ? [] : T.handshake(12, keyExchange)) + T.handshake(14, [])
        return T.record(22, messages) + T.changeCipherSpec + T.applicationData(300, seed: 8) + T.applicationData(40, seed: 9)
    }

    /// ECDHE parameters: curve type 3 (named_curve), the curve, the point,
    /// then a signature (algorithm and bytes).
    static func ecdheKeyExchange(curve: Int, pointLength: Int) -> [UInt8] {
        [3] + T.u16(curve) + T.vector8(T.filler(pointLength, seed: 10)) + T.u16(0x0804) + T.vector16(T.filler(256, seed: 11))
    }

    /// DHE parameters: the prime p, the generator g, the server's value, then a signature.
    static func dheKeyExchange(primeBytes: Int) -> [UInt8] {
        T.vector16([0xFF] + T.filler(primeBytes - 1, seed: 12)) + T.vector16([2]) + T.vector16(T.filler(primeBytes, seed: 13))
            + T.u16(0x0804) + T.vector16(T.filler(256, seed: 14))
    }

    /// The server direction's summary, the same whichever way the bytes were cut.
    static func server(_ stream: [UInt8], sourceLocation: SourceLocation = #_sourceLocation) -> DirectionSummary {
        let whole = ClassifierTests.classify(stream)
        let byteByByte = ClassifierTests.classify(stream.map { StreamPiece.data([$0]) })
        #expect(byteByByte.handshake == whole.handshake, "byte by byte", sourceLocation: sourceLocation)
        var rng = SplitMix(seed: UInt64(stream.count))
        for _ in 0..<20 {
            var cuts = Set<Int>()
            for _ in 0..<4 { cuts.insert(Int(rng.next() % UInt64(stream.count))) }
            var pieces: [StreamPiece] = []
            var start = 0
            for cut in cuts.sorted() where cut > start {
                pieces.append(.data(Array(stream[start..<cut])))
                start = cut
            }
            pieces.append(.data(Array(stream[start...])))
            #expect(ClassifierTests.classify(pieces).handshake == whole.handshake, "cut at \(cuts.sorted())", sourceLocation: sourceLocation)
        }
        return whole
    }

    /// The report of a flow whose server sent `server` (the client: a TLS 1.3 first flight).
    static func report(_ server: DirectionSummary) -> FlowReport {
        report(client: ClassifierTests.classify(T.clientFlight), server: server)
    }

    /// A TLS flow to port 443 whose directions classified as given, judged.
    static func report(client: DirectionSummary, server: DirectionSummary) -> FlowReport {
        var observation = FlowObservation(client: Endpoint(address: IPAddress(ipv4: 0x0A6F_010A), port: 40_000),
                                          server: Endpoint(address: IPAddress(ipv4: 0x0A6F_017A), port: 443))
        observation.handshakeSeen = true
        observation.clientToServer = client
        observation.serverToClient = server
        return VerdictPolicy.judge(observation)
    }

    /// The TLS facts and notes of that report.
    static func facts(_ server: DirectionSummary) -> (TLSFacts, [String]) {
        let report = report(server)
        return (report.tls ?? TLSFacts(), report.notes)
    }

    /// The versions the client offered, named in the report: its
    /// supported_versions (GREASE removed), else its hello's own version.
    @Test func offeredVersionsAreNamedFromTheHello() {
        func offered(_ versions: [Int]) -> [String] {
            let hello = T.clientHello(serverName: "a.example", alpn: ["h2"], versions: versions)
            let client = ClassifierTests.classify(T.record(22, hello, version: 0x0301))
            return (Self.report(client: client, server: Self.server(T.record(22, T.serverHello()))).tls ?? TLSFacts()).offeredVersions
        }
        #expect(offered([0x0A0A, 0x0304, 0x0303]) == ["TLS 1.3", "TLS 1.2"])
        #expect(offered([0x7F1C, 0x0304]) == ["0x7f1c", "TLS 1.3"])
        #expect(offered([0x0A0A]) == ["TLS 1.2"], "only GREASE offered: the hello's own version")
        #expect(TLSFacts().offeredVersions.isEmpty)
    }

    @Test func tls13ServerHelloNamesItsGroup() {
        let s = Self.server(T.record(22, Self.serverHello13(group: 0x11EC, keyLength: 1_120)) + T.changeCipherSpec
            + T.applicationData(500, seed: 1))
        #expect(s.handshake.keyExchangeGroup == 0x11EC)
        let (tls, notes) = Self.facts(s)
        #expect(tls.keyExchange == .group(0x11EC))
        #expect(tls.keyExchange?.name == "X25519MLKEM768")
        #expect(tls.keyExchange?.postQuantum == true)
        #expect(notes.isEmpty, "\(notes)")

        let classical = Self.server(T.serverFlight)
        #expect(classical.handshake.keyExchangeGroup == 0x001D)
        #expect(Self.facts(classical).0.keyExchange?.name == "x25519")
        #expect(Self.facts(classical).0.keyExchange?.postQuantum == false)
    }

    /// A HelloRetryRequest names the group the server wants; the ServerHello
    /// that follows it has the final say.
    @Test func helloRetryRequestThenServerHello() {
        let retryOnly = Self.server(T.record(22, Self.helloRetryRequest(group: 0x0017)) + T.changeCipherSpec)
        #expect(retryOnly.handshake.helloRetryRequest)
        #expect(retryOnly.handshake.keyExchangeGroup == 0x0017)
        // The handshake stopped there: the group was asked for, no key agreed.
        #expect(!retryOnly.handshake.serverHelloAfterRetrySeen)
        #expect(Self.facts(retryOnly).0.keyExchange == nil)

        // The ServerHello after the ChangeCipherSpec that middlebox
        // compatibility puts after a HelloRetryRequest is still read.
        let both = Self.server(T.record(22, Self.helloRetryRequest(group: 0x0018)) + T.changeCipherSpec
            + T.record(22, Self.serverHello13(group: 0x0018, keyLength: 97)) + T.applicationData(200, seed: 2))
        #expect(both.handshake.helloRetryRequest)
        #expect(both.handshake.serverHelloAfterRetrySeen)
        #expect(both.handshake.keyExchangeGroup == 0x0018)
        #expect(Self.facts(both).0.keyExchange?.name == "secp384r1")
        // Then handshake records are ciphertext in application data records;
        // a handshake record after it is not parsed (the parse would find garbage).
        let garbage = T.record(22, [2, 0, 0, 4, 0xFF, 0xFF, 0xFF, 0xFF])
        let after = Self.server(T.record(22, Self.helloRetryRequest(group: 0x0018)) + T.changeCipherSpec
            + T.record(22, Self.serverHello13(group: 0x0018, keyLength: 97)) + garbage + T.applicationData(200, seed: 2))
        #expect(after.handshake == both.handshake)
    }

    /// A key_share that does not parse names nothing, and breaks nothing else.
    @Test func truncatedKeyShareNamesNoGroup() {
        let extensions = T.ext(43, T.u16(0x0304)) + T.ext(51, T.u16(0x001D) + T.u16(32))
        let hello = T.handshake(2, T.u16(0x0303) + T.filler(32, seed: 4) + T.vector8([]) + T.u16(0x1301) + [0] + T.vector16(extensions))
        let s = Self.server(T.record(22, hello) + T.applicationData(100, seed: 3))
        #expect(s.handshake.serverHelloSeen && s.handshake.selectedVersion == 0x0304)
        #expect(s.handshake.keyExchangeGroup == nil)
        #expect(!s.handshake.malformedMessage)
        #expect(Self.facts(s).0.keyExchange == nil)
    }

    @Test func tls12ECDHENamesItsCurve() {
        for (curve, point, name) in [(0x001D, 32, "x25519"), (0x0017, 65, "secp256r1"), (0x0019, 133, "secp521r1")] {
            let s = Self.server(Self.tls12Flight(suite: 0xC02F, keyExchange: Self.ecdheKeyExchange(curve: curve, pointLength: point)))
            #expect(s.kind == .tls)
            #expect(s.handshake.keyExchangeGroup == UInt16(curve), "\(name)")
            let (tls, notes) = Self.facts(s)
            #expect(tls.keyExchange?.name == name)
            #expect(notes.isEmpty, "\(notes)")
        }
        // A point of the wrong length for its curve is not taken for one.
        let odd = Self.server(Self.tls12Flight(suite: 0xC02F, keyExchange: Self.ecdheKeyExchange(curve: 0x0017, pointLength: 64)))
        #expect(odd.handshake.keyExchangeGroup == nil)
        #expect(Self.facts(odd).0.keyExchange == nil, "an ECDHE suite: the first vector is no prime")
        // A curve under 128-bit security is noted.
        let small = Self.server(Self.tls12Flight(suite: 0xC013, keyExchange: Self.ecdheKeyExchange(curve: 0x0013, pointLength: 49)))
        let (smallFacts, smallNotes) = Self.facts(small)
        #expect(smallFacts.keyExchange?.name == "secp192r1")
        #expect(smallNotes.contains { $0.hasPrefix("the key exchange group secp192r1 is under 128-bit security") }, "\(smallNotes)")
    }

    @Test func tls12DHEGivesThePrimeSize() {
        let strong = Self.server(Self.tls12Flight(suite: 0x009E, keyExchange: Self.dheKeyExchange(primeBytes: 256)))
        #expect(strong.handshake.serverKeyExchangePrimeLength == 256)
        let (strongFacts, strongNotes) = Self.facts(strong)
        #expect(strongFacts.keyExchange == .finiteField(bits: 2_048))
        #expect(strongFacts.keyExchange?.name == "DHE 2048-bit")
        #expect(strongNotes.isEmpty, "\(strongNotes)")

        let weak = Self.server(Self.tls12Flight(suite: 0x0039, keyExchange: Self.dheKeyExchange(primeBytes: 128)))
        let (weakFacts, weakNotes) = Self.facts(weak)
        #expect(weakFacts.keyExchange?.name == "DHE 1024-bit")
        #expect(weakNotes.contains { $0.hasPrefix("the key exchange uses a 1024-bit Diffie-Hellman prime") }, "\(weakNotes)")

        // Under a PSK suite the first vector is the identity hint, not a prime.
        let psk = Self.server(Self.tls12Flight(suite: 0x00A8, keyExchange: T.vector16(Array("hint".utf8))))
        #expect(psk.handshake.serverKeyExchangePrimeLength == 4)
        #expect(Self.facts(psk).0.keyExchange == nil)
    }

    /// A TLS 1.2 RSA suite sends no ServerKeyExchange: the client encrypts
    /// the secret to the certificate's key, and a note says what that costs.
    @Test func rsaKeyTransportIsNamedAndNoted() {
        let s = Self.server(Self.tls12Flight(suite: 0x009C, keyExchange: []))
        let (facts, notes) = Self.facts(s)
        #expect(facts.keyExchange == .rsaKeyTransport)
        #expect(facts.keyExchange?.name == "RSA")
        #expect(notes.contains { $0.hasPrefix("the key exchange is RSA key transport: no forward secrecy") }, "\(notes)")
        // An ECDHE suite whose ServerKeyExchange was not seen says nothing.
        let unseen = Self.server(T.record(22, T.handshake(2, T.u16(0x0303) + T.filler(32, seed: 6) + T.vector8([]) + T.u16(0xC02F) + [0]))
            + T.applicationData(100, seed: 1))
        #expect(Self.facts(unseen).0.keyExchange == nil)
        #expect(Self.facts(unseen).1.isEmpty)
    }

    @Test func unnamedGroupsAreShownByNumber() {
        #expect(TLSFacts.KeyExchange.group(0x4138).name == "0x4138")
        #expect(!TLSFacts.KeyExchange.group(0x4138).postQuantum)
        #expect(TLSFacts.KeyExchange.group(0x6399).postQuantum, "Chrome's Kyber draft hybrid")
        #expect(TLSFacts.KeyExchange.group(0x0201).name == "MLKEM768")
    }

    /// JSON carries the names; the text line shows the group after the version.
    @Test func reportsShowTheKeyExchange() throws {
        let s = Self.server(T.record(22, Self.serverHello13(group: 0x11EC, keyLength: 1_120)) + T.applicationData(500, seed: 1))
        let report = Self.report(s)
        var json = JSONLinesReporter()
        let line = json.report(report)
        let object = try #require(try JSONSerialization.jsonObject(with: Data(line.utf8)) as? [String: Any])
        let tls = try #require(object["tls"] as? [String: Any])
        #expect(tls["keyExchange"] as? String == "X25519MLKEM768")
        #expect(tls["postQuantum"] as? Bool == true)
        #expect(tls["cipherSuite"] as? String == "0x1302")
        #expect(tls["cipherSuiteName"] as? String == "TLS_AES_256_GCM_SHA384")
        var text = TextReporter()
        #expect(text.report(report).contains("TLS 1.3 (X25519MLKEM768, post-quantum), SNI api.example.com"))
    }

    /// The run's summary counts the encrypted TLS flows by key exchange, and
    /// says whether all, some or none were post-quantum.
    @Test func summaryCountsKeyExchanges() throws {
        func flow(_ server: [UInt8]) -> FlowReport { Self.report(Self.server(server)) }
        let hybrid = T.record(22, Self.serverHello13(group: 0x11EC, keyLength: 1_120)) + T.applicationData(500, seed: 1)
        let rsa = Self.tls12Flight(suite: 0x009C, keyExchange: [])
        var summary = RunSummary()
        for report in [flow(T.serverFlight), flow(hybrid), flow(T.serverFlight), flow(rsa)] { summary.add(report) }
        // A TLS flow whose server side was picked up after its hello: not seen.
        summary.add(Self.report(ClassifierTests.classify(T.applicationData(300, seed: 4) + T.applicationData(300, seed: 5), midStream: true)))
        #expect(summary.keyExchangesRanked.map { "\($0.flows) \($0.exchange.name)" } == ["2 x25519", "1 RSA", "1 X25519MLKEM768"])
        #expect(summary.keyExchangeNotSeen == 1)
        let text = TextReporter().summary(summary, capture: CaptureFacts(source: "test"))
        #expect(text.contains("TLS key exchange (5 encrypted TLS flows): 2 x25519, 1 RSA (no forward secrecy), 1 X25519MLKEM768 (post-quantum), 1 not seen\n"), "\(text)")
        let json = try #require(try JSONSerialization.jsonObject(with: Data(JSONLinesReporter().summary(summary, capture: CaptureFacts(source: "test")).utf8)) as? [String: Any])
        let exchanges = try #require(json["keyExchanges"] as? [[String: Any]])
        #expect(exchanges.map { $0["keyExchange"] as? String } == ["x25519", "RSA", "X25519MLKEM768"])
        #expect(exchanges.map { $0["postQuantum"] as? Bool } == [false, false, true])
        #expect(exchanges.map { $0["flows"] as? Int } == [2, 1, 1])
        #expect(json["keyExchangeNotSeen"] as? Int == 1)

        var allHybrid = RunSummary()
        allHybrid.add(flow(hybrid))
        #expect(TextReporter().summary(allHybrid, capture: CaptureFacts(source: "test")).contains("1 X25519MLKEM768 (post-quantum); all post-quantum\n"))
        var classical = RunSummary()
        classical.add(flow(T.serverFlight))
        #expect(TextReporter().summary(classical, capture: CaptureFacts(source: "test")).contains("1 x25519; none post-quantum\n"))
        // Of flows whose key exchange was not seen, nothing is said; of some seen, only of those.
        var unseen = RunSummary()
        let midStream = Self.report(ClassifierTests.classify(T.applicationData(300, seed: 4) + T.applicationData(300, seed: 5), midStream: true))
        unseen.add(midStream)
        #expect(TextReporter().summary(unseen, capture: CaptureFacts(source: "test")).contains("TLS key exchange (1 encrypted TLS flow): 1 not seen\n"))
        unseen.add(flow(T.serverFlight))
        #expect(TextReporter().summary(unseen, capture: CaptureFacts(source: "test")).contains("1 x25519, 1 not seen; none of those seen post-quantum\n"))
        // No encrypted TLS flow: no line, no JSON member.
        #expect(!TextReporter().summary(RunSummary(), capture: CaptureFacts(source: "test")).contains("key exchange"))
        #expect(!JSONLinesReporter().summary(RunSummary(), capture: CaptureFacts(source: "test")).contains("keyExchange"))
    }

    /// The names against the IANA registry as tshark names it, where tshark
    /// is installed: every suite named here has tshark's name; every group
    /// too, below the post-quantum range, which tshark 4.0 still fills with
    /// the experimental code points that came before ML-KEM.
    @Test(.enabled(if: FileManager.default.isExecutableFile(atPath: "/usr/bin/tshark"), "tshark not installed: the names' cross-check is skipped"))
    func namesMatchTheRegistry() throws {
        let values = try TestSupport.run(URL(fileURLWithPath: "/usr/bin/tshark"), ["-G", "values"])
        var suites = 0, groups = 0
        for line in values.stdout.split(separator: "\n") {
            let fields = line.split(separator: "\t", omittingEmptySubsequences: false)
            guard fields.count == 4, fields[0] == "V" else { continue }
            let name = String(fields[3])
            if fields[1] == "tls.handshake.ciphersuite", let code = UInt16(fields[2]), let ours = TLSNames.cipherSuite(code) {
                suites += 1
                #expect(ours == name, "0x\(VerdictPolicy.hex4(code))")
            }
            if fields[1] == "tls.handshake.extensions_supported_group", fields[2].hasPrefix("0x"),
               let code = UInt16(fields[2].dropFirst(2), radix: 16), code < 0x0200, let ours = TLSNames.group(code) {
                groups += 1
                #expect(ours.name == name, "0x\(VerdictPolicy.hex4(code))")
            }
        }
        #expect(suites > 150, "only \(suites) suites compared")
        #expect(groups >= 16, "only \(groups) groups compared")
    }
}
