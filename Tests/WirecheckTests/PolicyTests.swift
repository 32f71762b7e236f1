import Foundation
import PacketDecoding
import PayloadClassification
import Testing
@testable import VerdictPolicy

/// The verdict rules, one row per situation a node capture produces.
@Suite struct PolicyTests {
    static func direction(_ kind: PayloadKind, bytes: Int = 100, records: Int = 0, alerts: Int = 0,
                          hello: Bool = false, evidence: String? = nil) -> DirectionSummary {
        var d = DirectionSummary()
        d.kind = kind
        d.bytes = kind == .none ? 0 : bytes
        d.tlsRecords = records
        d.tlsAlertRecords = alerts
        d.handshake.clientHelloSeen = hello
        d.evidence = evidence
        d.protocolName = kind == .http ? "http" : nil
        return d
    }

    struct Row: CustomTestStringConvertible, Sendable {
        var name: String
        var client: DirectionSummary
        var server: DirectionSummary
        var serverClosure: Closure = .fin
        var clientClosure: Closure = .fin
        var clientClosedFirst = false
        var silenceBeforeServerClose: Int64 = 0
        var expected: Verdict
        var testDescription: String { name }
    }

    static let rows: [Row] = [
        Row(name: "TLS both ways", client: direction(.tls, records: 5, hello: true), server: direction(.tls, records: 6), expected: .encrypted),
        Row(name: "HTTP request and response", client: direction(.http), server: direction(.http), expected: .plaintext),
        Row(name: "request, server resets without payload", client: direction(.http), server: direction(.none),
            serverClosure: .reset, expected: .plaintextRejected),
        Row(name: "request, server closes without payload", client: direction(.http), server: direction(.none),
            serverClosure: .fin, expected: .plaintextRejected),
        // A sender that closes when done (syslog, a log shipper) is answered with a FIN: that refuses nothing.
        Row(name: "request, client closes, the server's FIN follows", client: direction(.text), server: direction(.none),
            serverClosure: .fin, clientClosedFirst: true, expected: .plaintext),
        Row(name: "request, client closes, the server resets", client: direction(.http), server: direction(.none),
            serverClosure: .reset, clientClosedFirst: true, expected: .plaintextRejected),
        Row(name: "request, server closes first after 4.9 s of silence", client: direction(.http), server: direction(.none),
            serverClosure: .fin, silenceBeforeServerClose: 4_900_000_000, expected: .plaintextRejected),
        Row(name: "request, server closes after 5 s of silence (an idle timeout)", client: direction(.http), server: direction(.none),
            serverClosure: .fin, silenceBeforeServerClose: 5_000_000_000, expected: .plaintext),
        Row(name: "request, server resets after a minute of silence", client: direction(.http), server: direction(.none),
            serverClosure: .reset, silenceBeforeServerClose: 60_000_000_000, expected: .plaintext),
        Row(name: "request, late TLS alert after the client closed", client: direction(.http),
            server: direction(.tls, records: 1, alerts: 1), serverClosure: .fin, clientClosedFirst: true,
            silenceBeforeServerClose: 9_000_000_000, expected: .plaintextRejected),
        Row(name: "request, server answers only a TLS alert and closes", client: direction(.http),
            server: direction(.tls, records: 1, alerts: 1), serverClosure: .fin, expected: .plaintextRejected),
        Row(name: "request, capture ends before any answer", client: direction(.http), server: direction(.none),
            serverClosure: .open, clientClosure: .open, expected: .plaintext),
        Row(name: "server banner only (cleartext)", client: direction(.none), server: direction(.cleartextProtocol), expected: .plaintext),
        Row(name: "TLS client, cleartext server error", client: direction(.tls, records: 1, hello: true), server: direction(.http), expected: .plaintext),
        Row(name: "no payload", client: direction(.none), server: direction(.none), expected: .inconclusive),
        Row(name: "one lone TLS header each way is not proof", client: direction(.tls, records: 1), server: direction(.tls, records: 1), expected: .inconclusive),
        Row(name: "TLS one way only, hello parsed", client: direction(.tls, records: 3, hello: true), server: direction(.none), expected: .encrypted),
        Row(name: "one lone TLS header one way", client: direction(.tls, records: 1), server: direction(.none), expected: .inconclusive),
        Row(name: "binary both ways", client: direction(.binary), server: direction(.binary), expected: .opaque),
        Row(name: "TLS then binary", client: direction(.tls, records: 3, hello: true), server: direction(.binary), expected: .opaque),
        Row(name: "never resynchronised", client: direction(.undetermined), server: direction(.tls, records: 4), expected: .inconclusive),
        Row(name: "SSH both ways", client: direction(.ssh), server: direction(.ssh), expected: .encrypted),
        Row(name: "TLS with a NULL cipher suite", client: direction(.tls, records: 5, hello: true),
            server: { var d = direction(.tls, records: 6); d.handshake.cipherSuite = 0x0002; return d }(), expected: .plaintext),
    ]

    @Test(arguments: rows)
    func verdict(_ row: Row) {
        var observation = FlowObservation(
            client: Endpoint(address: IPAddress(ipv4: 0x0A6F_010A), port: 40_000),
            server: Endpoint(address: IPAddress(ipv4: 0x0A6F_017A), port: 80)
        )
        observation.handshakeSeen = true
        observation.clientToServer = row.client
        observation.serverToClient = row.server
        observation.serverClosure = row.serverClosure
        observation.clientClosure = row.clientClosure
        observation.clientClosedFirst = row.clientClosedFirst
        observation.serverSilenceBeforeClose = row.silenceBeforeServerClose
        let report = VerdictPolicy.judge(observation)
        #expect(report.verdict == row.expected, "\(report.reason)")
        #expect(!report.reason.isEmpty)
    }

    /// The client acknowledged a SYN-ACK the capture does not hold: the
    /// server's silence says nothing of the server. A cleartext request is
    /// plaintext with no refusal to tell; one side's lone TLS hello proves
    /// nothing; a note says why either way.
    @Test func aServerWhosePacketsWereNotCapturedIsNotSilent() {
        func judge(_ client: DirectionSummary, synAckMissing: Bool, serverClosure: Closure = .open) -> FlowReport {
            var observation = FlowObservation(
                client: Endpoint(address: IPAddress(ipv4: 0x0A6F_010A), port: 40_000),
                server: Endpoint(address: IPAddress(ipv4: 0x0A6F_017A), port: 80)
            )
            observation.handshakeSeen = true
            observation.clientToServer = client
            observation.serverSynAckMissing = synAckMissing
            observation.serverClosure = serverClosure
            return VerdictPolicy.judge(observation)
        }
        let http = Self.direction(.http)
        let unseen = judge(http, synAckMissing: true)
        #expect(unseen.verdict == .plaintext && unseen.reason.contains("the server's packets were not captured"), "\(unseen.reason)")
        #expect(unseen.notes.contains { $0.contains("acknowledged a SYN-ACK the capture does not hold") })
        let silent = judge(http, synAckMissing: false)
        #expect(silent.verdict == .plaintext && silent.reason.contains("neither answered nor closed"), "\(silent.reason)")
        #expect(!silent.notes.contains { $0.contains("SYN-ACK") })
        // A server's reset that was captured is a refusal, whatever else was lost.
        #expect(judge(http, synAckMissing: true, serverClosure: .reset).verdict == .plaintextRejected)
        let hello = Self.direction(.tls, records: 1, hello: true)
        let lone = judge(hello, synAckMissing: true)
        #expect(lone.verdict == .inconclusive && lone.reason.contains("the server's packets were not captured"), "\(lone.reason)")
        #expect(judge(hello, synAckMissing: false).verdict == .encrypted)
        var applicationData = Self.direction(.tls, records: 4, hello: true)
        applicationData.tlsApplicationDataRecords = 2
        let proven = judge(applicationData, synAckMissing: true)
        #expect(proven.verdict == .encrypted && proven.reason.contains("the server's packets were not captured"), "\(proven.reason)")
    }

    @Test func conflictingRetransmissionIsSurfaced() {
        var observation = FlowObservation(
            client: Endpoint(address: IPAddress(ipv4: 1), port: 40_000),
            server: Endpoint(address: IPAddress(ipv4: 2), port: 443)
        )
        observation.clientToServer = Self.direction(.tls, records: 4, hello: true)
        observation.serverToClient = Self.direction(.tls, records: 4)
        observation.conflictingBytes = 12
        let report = VerdictPolicy.judge(observation)
        #expect(report.notes.contains { $0.contains("12 bytes were retransmitted with different content") })
    }

    /// A client that only sent line ends was not picked up mid-stream: say what it did.
    @Test func whitespaceOnlyClientIsNamedAsSuch() {
        var observation = FlowObservation(
            client: Endpoint(address: IPAddress(ipv4: 1), port: 40_000),
            server: Endpoint(address: IPAddress(ipv4: 2), port: 22)
        )
        observation.handshakeSeen = true
        observation.clientToServer = Self.direction(.undetermined, bytes: 2)
        observation.clientToServer.protocolName = "whitespace"
        observation.serverToClient = Self.direction(.ssh, bytes: 58)
        let report = VerdictPolicy.judge(observation)
        #expect(report.verdict == .inconclusive)
        #expect(report.reason == "client sent only whitespace (no application data); the other side sent SSH")
    }

    /// Cleartext both ways is named by the server's greeting when the client's
    /// first command is shared or unnamed: GridFTP's control channel opens with
    /// `AUTH GSSAPI` (read as SMTP from the client alone), vsftpd's with
    /// `USER` (plain text); Kafka's structured binary answers do not rename it.
    @Test(arguments: [
        ("AUTH GSSAPI\r\nADAT FgMBAGsBAABnAwFQW20Q\r\n", "220 alpha GridFTP Server 6.14 [Globus Toolkit 5.2.2] ready.\r\n", "ftp"),
        ("AUTH PLAIN AGFsaWNlAHMzY3JldA==\r\n", "+OK POP server ready H mimap8\r\n", "pop3"),
        ("USER anonymous\r\n", "220 (vsFTPd 3.0.3)\r\n", "ftp"),
        ("EHLO client.example\r\n", "220 mail.example.com ESMTP Postfix\r\n", "smtp"),
        ("PING\r\n", "+PONG\r\n", "redis"),
        ("USER anonymous\r\n", "331 Please specify the password.\r\n", "text"),
    ])
    func cleartextFlowNamedByServerGreeting(_ client: String, _ server: String, _ name: String) {
        func summary(_ text: String) -> DirectionSummary {
            var classifier = DirectionClassifier()
            Array(text.utf8).withUnsafeBytes { classifier.receive($0) }
            return classifier.finish()
        }
        let report = Self.judged(summary(client), summary(server), port: 2811)
        #expect(report.verdict == .plaintext)
        #expect(report.protocolName == name)
        #expect(report.reason == "cleartext \(name) in both directions")
    }

    /// A flow whose TCP handshake was seen, judged on its two directions.
    static func judged(_ client: DirectionSummary, _ server: DirectionSummary, port: UInt16) -> FlowReport {
        var observation = FlowObservation(
            client: Endpoint(address: IPAddress(ipv4: 0x0A6F_010A), port: 40_000),
            server: Endpoint(address: IPAddress(ipv4: 0x0A6F_017A), port: port)
        )
        observation.handshakeSeen = true
        observation.clientToServer = client
        observation.serverToClient = server
        return VerdictPolicy.judge(observation)
    }

    /// A side whose bytes were all missing, or could not be placed in its
    /// stream, did send something: no verdict may rest on its silence. A
    /// cleartext client's request is then plaintext, never a refusal; one
    /// side's TLS or SSH proves nothing about the other's bytes.
    @Test func aSideWithOnlyMissingBytesIsNotSilent() {
        var unplaced = Self.direction(.none)
        unplaced.gapBytes = 169
        var observation = FlowObservation(
            client: Endpoint(address: IPAddress(ipv4: 0x0A6F_010A), port: 40_000),
            server: Endpoint(address: IPAddress(ipv4: 0x0A6F_017A), port: 80)
        )
        observation.handshakeSeen = true
        observation.clientToServer = Self.direction(.http, evidence: "GET / HTTP/1.1")
        observation.serverToClient = unplaced
        observation.serverClosure = .reset
        let refusedLooking = VerdictPolicy.judge(observation)
        #expect(refusedLooking.verdict == .plaintext, "\(refusedLooking.reason)")
        #expect(refusedLooking.reason.contains("169 bytes were not captured or did not follow its SYN-ACK"))
        // Without the missing bytes, the same flow is the refusal STRICT makes.
        observation.serverToClient = Self.direction(.none)
        #expect(VerdictPolicy.judge(observation).verdict == .plaintextRejected)

        let tls = Self.judged(Self.direction(.tls, records: 7, hello: true), unplaced, port: 443)
        #expect(tls.verdict == .inconclusive, "\(tls.reason)")
        #expect(Self.judged(Self.direction(.tls, records: 7, hello: true), Self.direction(.none), port: 443).verdict == .encrypted)
        let ssh = Self.judged(Self.direction(.ssh), unplaced, port: 22)
        #expect(ssh.verdict == .inconclusive, "\(ssh.reason)")
        var both = observation
        both.clientToServer = unplaced
        both.serverToClient = unplaced
        #expect(!VerdictPolicy.judge(both).reason.contains("no payload"))
    }

    /// Kafka's answers are structured binary data, not a greeting: the client names the flow.
    @Test func structuredBinaryServerDoesNotRenameTheFlow() {
        var client = Self.direction(.cleartextProtocol), server = Self.direction(.cleartextProtocol)
        client.protocolName = "kafka"
        server.protocolName = "binary"
        let report = Self.judged(client, server, port: 9092)
        #expect(report.protocolName == "kafka")
        #expect(report.reason == "cleartext kafka in both directions")
    }

    /// Binary named by its framing as a protocol's own encryption (memberlist
    /// with a gossip key) is still `opaque`, with the name in reason and protocol.
    @Test func namedBinaryStaysOpaque() {
        var observation = FlowObservation(
            client: Endpoint(address: IPAddress(ipv4: 0x0A6F_010A), port: 40_000),
            server: Endpoint(address: IPAddress(ipv4: 0x0A6F_017A), port: 7946)
        )
        observation.handshakeSeen = true
        var client = Self.direction(.binary, evidence: "memberlist message encrypted with the cluster's gossip key (AES-GCM, version 1)")
        client.protocolName = "memberlist"
        client.entropy = 7.04
        observation.clientToServer = client
        observation.serverToClient = client
        let report = VerdictPolicy.judge(observation)
        #expect(report.verdict == .opaque)
        #expect(report.protocolName == "memberlist")
        #expect(report.reason == "client sent memberlist message encrypted with the cluster's gossip key (AES-GCM, version 1), "
            + "entropy 7.04 bits/byte: not TLS, so its encryption cannot be checked")
        // Unnamed binary keeps its words.
        observation.clientToServer = Self.direction(.binary)
        observation.serverToClient = Self.direction(.binary)
        #expect(VerdictPolicy.judge(observation).protocolName == "binary")
    }

    /// The reasons most flows get are kept as facts and spelled out when
    /// written: the sentence must be exactly the one the policy documents,
    /// the same as a String and written in place.
    @Test func reasonsKeptAsFactsReadAsSentences() {
        func judged(_ client: DirectionSummary, _ server: DirectionSummary, port: UInt16 = 80) -> FlowReport {
            Self.judged(client, server, port: port)
        }
        var upgraded = Self.direction(.tls, records: 12, hello: true)
        upgraded.preamble = "PostgreSQL SSLRequest"
        var pickedUp = Self.direction(.tls, records: 1_234_567)
        pickedUp.resynchronised = true
        let cases: [(FlowReport, String)] = [
            (judged(Self.direction(.tls, records: 5, hello: true), Self.direction(.tls, records: 60)),
             "every byte in both directions is TLS record framing (5 client, 60 server records)"),
            (judged(upgraded, pickedUp),
             "every byte in both directions is TLS record framing (12 client, 1234567 server records) after an upgrade: "
                + "PostgreSQL SSLRequest; picked up mid-stream, framing verified after resynchronising, part of the handshake seen"),
            (judged(Self.direction(.tls, records: 3), pickedUp),
             "every byte in both directions is TLS record framing (3 client, 1234567 server records); "
                + "picked up mid-stream, framing verified after resynchronising, handshake not seen"),
            (judged(Self.direction(.http), Self.direction(.http)), "cleartext HTTP in both directions"),
            (judged(Self.direction(.http), Self.direction(.http), port: 15_021),
             "cleartext HTTP in both directions (expected: Istio sends plaintext to port 15021 by design)"),
            (judged(Self.direction(.none), Self.direction(.none)), "no payload: TCP handshake only"),
        ]
        for (report, sentence) in cases {
            #expect(report.reason == sentence)
            var written = ByteWriter(capacity: 8)
            report.writeReason(to: &written)
            #expect(written.string == sentence)
        }
        #expect(cases[4].0.expected && !cases[3].0.expected)
    }

    /// Evidence written in place reads as the joined String does, and
    /// nothing (not even the quotes) is written when there is none.
    @Test func evidenceWrittenInPlaceMatchesTheString() {
        func report(_ client: String?, _ server: String?, tls: Bool = false) -> FlowReport {
            var observation = FlowObservation(
                client: Endpoint(address: IPAddress(ipv4: 0x0A6F_010A), port: 40_000),
                server: Endpoint(address: IPAddress(ipv4: 0x0A6F_017A), port: 80)
            )
            // TLS without a parsed hello: the evidence is built from the TLS facts.
            observation.clientToServer = Self.direction(tls ? .tls : .http, records: tls ? 3 : 0, evidence: client)
            observation.serverToClient = Self.direction(tls ? .tls : .http, records: tls ? 3 : 0, evidence: server)
            return VerdictPolicy.judge(observation)
        }
        let reports = [report("GET / HTTP/1.1 (Host: a)", "HTTP/1.1 200 OK"), report("GET / HTTP/1.1", nil),
                       report(nil, "220 mail ESMTP"), report(nil, nil), report(nil, nil, tls: true)]
        let expected = ["GET / HTTP/1.1 (Host: a) | HTTP/1.1 200 OK", "GET / HTTP/1.1", "220 mail ESMTP", nil, "handshake not seen"]
        for (report, text) in zip(reports, expected) {
            #expect(report.evidence == text)
            var written = ByteWriter(capacity: 8)
            report.writeEvidence(to: &written, before: "<", after: ">")
            #expect(written.string == (text.map { "<" + $0 + ">" } ?? ""))
        }
    }

    /// The NULL suites by name (RFC 5246 NULL_WITH_NULL_NULL, RSA_WITH_NULL_MD5/SHA/SHA256;
    /// RFC 4785 PSK; RFC 4492 ECDH(E) and ECDH_anon; RFC 5487 PSK SHA256/384;
    /// RFC 5489 ECDHE_PSK; RFC 9150 TLS 1.3 integrity-only): NULL; AEAD and CBC suites are not.
    @Test func nullCipherSuites() {
        let null: [UInt16] = [0x0000, 0x0001, 0x0002, 0x001C, 0x003B, 0x002C, 0x002D, 0x002E, 0x0082, 0x0083, 0xC001, 0xC006, 0xC00B, 0xC010, 0xC015,
                              0x00B0, 0x00B1, 0x00B4, 0x00B5, 0x00B8, 0x00B9, 0xC039, 0xC03A, 0xC03B, 0xC0B4, 0xC0B5]
        for suite in null { #expect(VerdictPolicy.isNullCipherSuite(suite), "0x\(String(suite, radix: 16))") }
        for suite: UInt16 in [0x1301, 0x1302, 0x1303, 0xC02B, 0xC02F, 0xC030, 0xCCA8, 0x009C, 0x002F, 0x0035, 0x000A, 0xFFFF] {
            #expect(!VerdictPolicy.isNullCipherSuite(suite), "0x\(String(suite, radix: 16))")
        }
    }

    /// Encrypted with a deprecated protocol or an unfit cipher suite: still
    /// `encrypted` (the bytes are ciphertext), with a note that says why it
    /// is weak; a modern handshake gets none.
    @Test func weakTLSIsNoted() {
        func report(version: UInt16, suite: UInt16) -> FlowReport {
            var observation = FlowObservation(client: Endpoint(address: IPAddress(ipv4: 0x0A6F_010A), port: 40_000),
                                              server: Endpoint(address: IPAddress(ipv4: 0x0A6F_017A), port: 443))
            observation.handshakeSeen = true
            observation.clientToServer = Self.direction(.tls, records: 5, hello: true)
            var server = Self.direction(.tls, records: 6)
            server.handshake.selectedVersion = version
            server.handshake.cipherSuite = suite
            observation.serverToClient = server
            return VerdictPolicy.judge(observation)
        }
        let rc4 = report(version: 0x0301, suite: 0x0005)
        #expect(rc4.verdict == .encrypted)
        #expect(rc4.notes.contains("TLS 1.0: deprecated since 2021 (RFC 8996)"), "\(rc4.notes)")
        // (An RSA suite's key transport gets its own note: KeyExchangeTests.)
        #expect(rc4.notes.contains("the cipher suite TLS_RSA_WITH_RC4_128_SHA (0x0005) uses RC4, prohibited since 2015 (RFC 7465): encrypted, but breakable"), "\(rc4.notes)")
        let anonymous = report(version: 0x0303, suite: 0x00A7)
        #expect(anonymous.verdict == .encrypted)
        #expect(anonymous.notes.contains { $0.hasPrefix("the cipher suite TLS_DH_anon_WITH_AES_256_GCM_SHA384 (0x00A7) has no server authentication") }, "\(anonymous.notes)")
        #expect(report(version: 0x0300, suite: 0x0003).notes.contains { $0.hasPrefix("SSL 3.0:") })
        #expect(report(version: 0x0300, suite: 0x0003).notes.contains { $0.contains("export grade") })
        #expect(report(version: 0x0303, suite: 0x0009).notes.contains { $0.contains("single DES") })
        for (version, suite): (UInt16, UInt16) in [(0x0304, 0x1301), (0x0304, 0x1303), (0x0303, 0xC02F), (0x0303, 0xCCA8), (0x0303, 0xC02C)] {
            #expect(report(version: version, suite: suite).notes.isEmpty, "0x\(VerdictPolicy.hex4(suite))")
        }
    }

    /// The suite lists against the IANA registry as tshark names it, where
    /// tshark is installed (scripts/setup.sh --compare): every suite named
    /// NULL, anonymous, export, RC4 or single DES is caught, and no other.
    @Test(.enabled(if: FileManager.default.isExecutableFile(atPath: "/usr/bin/tshark"), "tshark not installed: the cross-check against its cipher suite registry is skipped"))
    func cipherSuiteListsMatchTheRegistry() throws {
        let values = try TestSupport.run(URL(fileURLWithPath: "/usr/bin/tshark"), ["-G", "values"])
        var checked = 0
        for line in values.stdout.split(separator: "\n") {
            let fields = line.split(separator: "\t", omittingEmptySubsequences: false)
            guard fields.count == 4, fields[0] == "V", fields[1] == "tls.handshake.ciphersuite", let code = UInt16(fields[2]) else { continue }
            let name = String(fields[3])
            checked += 1
            let null = name.hasSuffix("_NULL_NULL") || name.contains("_WITH_NULL_")
            #expect(VerdictPolicy.isNullCipherSuite(code) == null || code == 0xC0B4 || code == 0xC0B5, "\(name)")
            let weak = name.contains("_anon_") || name.contains("EXPORT") || name.contains("_RC4_")
                || name.contains("_DES_") || name.contains("DES40")
            #expect((VerdictPolicy.cipherSuiteWeakness(code) != nil) == (weak && !null), "\(name)")
        }
        #expect(checked > 300, "tshark listed only \(checked) cipher suites")
    }

    @Test func exitCodes() {
        func summary(_ verdicts: [Verdict]) -> RunSummary {
            var s = RunSummary()
            for v in verdicts { s.add(v) }
            return s
        }
        #expect(summary([]).exitCode == 2)
        #expect(summary([.inconclusive, .inconclusive]).exitCode == 2)
        #expect(summary([.encrypted, .inconclusive]).exitCode == 0)
        #expect(summary([.encrypted, .plaintextRejected]).exitCode == 0)
        #expect(summary([.encrypted, .plaintext]).exitCode == 1)
        #expect(summary([.plaintext, .inconclusive]).result == .fail)
        var counted = summary([.encrypted, .plaintext, .plaintextRejected, .opaque, .inconclusive, .opaque])
        #expect(Verdict.allCases.map(counted.count) == [1, 1, 1, 2, 1])
        counted.add(.plaintext, expected: true)
        #expect(counted.count(.plaintext) == 2 && counted.expectedPlaintext == 1 && counted.flows == 7)
        #expect(counted.result == .fail)
    }
}
