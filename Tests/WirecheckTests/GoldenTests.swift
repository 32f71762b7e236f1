import Foundation
import PacketDecoding
import Reporting
import Testing
import VerdictPolicy

/// The verdicts a committed capture must get, from `Captures/<name>.expected.json`.
struct ExpectedCapture: Decodable, CustomTestStringConvertible {
    struct Flow: Decodable {
        var client: String
        var server: String
        var verdict: String
        var `protocol`: String?
        var tlsVersion: String?
        var sni: String?
        var alpn: [String]?
        var clientCertificate: String?
        var helloRetryRequest: Bool?
        /// The key exchange's name ("x25519", "DHE 2048-bit"), as tshark reads the server's
        /// handshake; "none" where the session agreed no key (a resumed TLS 1.2 session).
        var keyExchange: String?
        /// The server resumed a session (OpenSSL, which recorded it, said so).
        var resumed: Bool?
        /// The ClientHello offered Encrypted Client Hello (every other flow must not say so).
        var echOffered: Bool?
        /// TLS 1.3 on an external pre-shared key (every other flow must not say so).
        var externalPreSharedKey: Bool?
        /// The names the leaf certificates of a TLS 1.2 handshake give, as
        /// tshark and OpenSSL read them (scripts/expected-certificates.py);
        /// where the version is expected, absent means none may be shown.
        var serverCertificateName: String?
        var clientCertificateName: String?
        /// The ClientHello came in the SSLv2-compatible format.
        var legacySSLv2Hello: Bool?
        /// At least this many TLS alert records.
        var minAlerts: Int?
        var tunnel: String?
        /// The server's address after a DNAT on the node (absent: none may be shown).
        var translatedServer: String?
        /// The client's address after a source NAT on the node (absent: none may be shown).
        var translatedClient: String?
        var mesh: String?
        /// Plaintext on the expected-plaintext allowance.
        var expected: Bool?
        /// At least this many bytes retransmitted with different content must be reported.
        var minConflictingBytes: Int?
        /// Text the evidence must show, and the reason must contain.
        var evidenceContains: [String]?
        var reasonContains: String?
        /// Text (credentials) that must appear nowhere in the flow's text or JSON report.
        var forbidden: [String]?
    }

    var description: String?
    var exitCode: Int32
    var flows: [Flow]
    /// Packets of IP traffic besides TCP by kind (`wireguard`, `esp`, `udp`,
    /// `udp-text`, `other-ip`), as the JSON summary's `notJudged` must count them.
    var notJudged: [String: Int]?
    var name = ""

    enum CodingKeys: String, CodingKey { case description, exitCode, flows, notJudged }

    var testDescription: String { name }

    static func all() -> [ExpectedCapture] {
        let directory = TestSupport.capturesDirectory
        let files = (try? FileManager.default.contentsOfDirectory(atPath: directory.path)) ?? []
        return files.filter { $0.hasSuffix(".expected.json") }.sorted().compactMap { file in
            guard let data = FileManager.default.contents(atPath: directory.appendingPathComponent(file).path),
                  var expected = try? JSONDecoder().decode(ExpectedCapture.self, from: data) else {
                return ExpectedCapture(description: "unreadable", exitCode: -1, flows: [], name: file)
            }
            expected.name = String(file.dropLast(".expected.json".count))
            return expected
        }
    }

    var capturePath: String? {
        for ext in ["pcap", "pcapng"] {
            let path = TestSupport.capturesDirectory.appendingPathComponent("\(name).\(ext)").path
            if FileManager.default.fileExists(atPath: path) { return path }
        }
        return nil
    }
}

/// Every capture in `Captures/` is replayed and must get exactly its expected verdicts.
@Suite struct GoldenTests {
    @Test func capturesAreBundled() {
        // The lab captures are the product's reference: they must be there.
        let names = ExpectedCapture.all().map(\.name)
        #expect(names.contains("permissive"))
        #expect(names.contains("strict"))
    }

    @Test(arguments: ExpectedCapture.all())
    func capture(_ expected: ExpectedCapture) throws {
        let path = try #require(expected.capturePath, "no capture file for \(expected.name).expected.json")
        let result = try TestSupport.analyze(path)
        #expect(result.readError == nil)
        #expect(result.reports.count == expected.flows.count, "flows: \(result.reports.map { "\($0.client)->\($0.server) \($0.verdict.rawValue)" })")
        // In order of first packet, so that a reused 4-tuple matches its connections in turn.
        var unmatched = result.reports.sorted { $0.observation.firstSeenNanoseconds < $1.observation.firstSeenNanoseconds }
        for flow in expected.flows {
            let index = try #require(unmatched.firstIndex { "\($0.client)" == flow.client && "\($0.server)" == flow.server },
                                     "no flow \(flow.client) -> \(flow.server)")
            let report = unmatched.remove(at: index)
            #expect(report.verdict.rawValue == flow.verdict, "\(flow.client): \(report.reason)")
            if let proto = flow.protocol { #expect(report.protocolName == proto) }
            if let version = flow.tlsVersion {
                #expect(report.tls?.version == version)
                #expect(report.tls?.serverCertificateName == flow.serverCertificateName, "\(flow.client)")
                #expect(report.tls?.clientCertificateName == flow.clientCertificateName, "\(flow.client)")
            }
            if let sni = flow.sni { #expect(report.tls?.serverName == sni) }
            if let alpn = flow.alpn { #expect(report.tls?.alpnOffered == alpn) }
            if let certificate = flow.clientCertificate { #expect(report.tls?.clientCertificate == certificate) }
            if let retry = flow.helloRetryRequest { #expect(report.tls?.helloRetryRequest == retry) }
            if let exchange = flow.keyExchange { #expect((report.tls?.keyExchange?.name ?? "none") == exchange, "\(flow.client)") }
            if let resumed = flow.resumed { #expect(report.tls?.resumed == resumed, "\(flow.client)") }
            #expect((report.tls?.echOffered ?? false) == (flow.echOffered ?? false), "\(flow.client)")
            #expect((report.tls?.externalPreSharedKey ?? false) == (flow.externalPreSharedKey ?? false), "\(flow.client)")
            if let legacy = flow.legacySSLv2Hello { #expect(report.tls?.legacySSLv2Hello == legacy) }
            if let alerts = flow.minAlerts { #expect((report.tls?.alerts ?? 0) >= alerts, "\(flow.client): \(report.tls?.alerts ?? 0) alerts") }
            #expect(report.expected == (flow.expected ?? false))
            if let mesh = flow.mesh { #expect(report.mesh?.rawValue == mesh) }
            if let tunnel = flow.tunnel { #expect(report.observation.tunnel.description == tunnel) }
            #expect(report.observation.translatedServer.map { "\($0)" } == flow.translatedServer, "\(flow.client)")
            #expect(report.observation.translatedClient.map { "\($0)" } == flow.translatedClient, "\(flow.client)")
            for text in flow.evidenceContains ?? [] {
                #expect(report.evidence?.contains(text) == true, "\(flow.client): evidence \(report.evidence ?? "none") lacks \(text)")
            }
            if let text = flow.reasonContains { #expect(report.reason.contains(text), "\(flow.client): \(report.reason)") }
            if let forbidden = flow.forbidden {
                var text = TextReporter(), json = JSONLinesReporter()
                let output = text.report(report) + json.report(report)
                for secret in forbidden { #expect(!output.contains(secret), "\(flow.client): output shows \(secret)") }
            }
            if let conflicting = flow.minConflictingBytes {
                #expect(report.observation.conflictingBytes >= conflicting)
                #expect(report.notes.contains { $0.contains("different content") })
            }
        }
        #expect(result.summary.exitCode == expected.exitCode)
    }

    /// The binary agrees with the library: same verdicts, and the documented exit code.
    @Test(arguments: ExpectedCapture.all())
    func binaryExitCode(_ expected: ExpectedCapture) throws {
        let binary = try #require(TestSupport.binary, "wirecheck binary not built next to the tests")
        let path = try #require(expected.capturePath)
        let run = try TestSupport.run(binary, ["-r", path, "--json"])
        #expect(run.status == expected.exitCode, "stderr: \(run.stderr)")
        let lines = try TestSupport.jsonLines(run.stdout)
        let flows = lines.filter { $0["type"] as? String == "flow" }
        #expect(flows.count == expected.flows.count)
        let summary = try #require(lines.last)
        #expect(summary["type"] as? String == "summary")
        #expect(summary["flows"] as? Int == expected.flows.count)
        if let notJudged = expected.notJudged {
            let kinds = (summary["notJudged"] as? [[String: Any]]) ?? []
            for (kind, packets) in notJudged {
                #expect(kinds.first { $0["kind"] as? String == kind }?["packets"] as? Int == packets, "\(kind): \(kinds)")
            }
        }
    }
}
