import Foundation
import PacketDecoding
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
        var tunnel: String?
    }

    var description: String?
    var exitCode: Int32
    var flows: [Flow]
    var name = ""

    enum CodingKeys: String, CodingKey { case description, exitCode, flows }

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
        let byEndpoints = Dictionary(result.reports.map { ("\($0.client) \($0.server)", $0) }, uniquingKeysWith: { a, _ in a })
        #expect(result.reports.count == expected.flows.count, "flows: \(result.reports.map { "\($0.client)->\($0.server) \($0.verdict.rawValue)" })")
        for flow in expected.flows {
            let report = try #require(byEndpoints["\(flow.client) \(flow.server)"], "no flow \(flow.client) -> \(flow.server)")
            #expect(report.verdict.rawValue == flow.verdict, "\(flow.client): \(report.reason)")
            if let proto = flow.protocol { #expect(report.protocolName == proto) }
            if let version = flow.tlsVersion { #expect(report.tls?.version == version) }
            if let sni = flow.sni { #expect(report.tls?.serverName == sni) }
            if let alpn = flow.alpn { #expect(report.tls?.alpnOffered == alpn) }
            if let tunnel = flow.tunnel { #expect(report.observation.tunnel.description == tunnel) }
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
    }
}
