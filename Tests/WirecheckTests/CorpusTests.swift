import Foundation
import Testing
import VerdictPolicy

/// Public captures from other projects' test suites (`../shared/corpus`), present
/// on developer machines and CI but not in a user's clone: skipped, with the
/// reason, when absent.
enum Corpus {
    static let directory = TestSupport.corpusDirectory
    static let capturesDirectory = directory.appendingPathComponent("captures")
    static let available = FileManager.default.fileExists(atPath: directory.appendingPathComponent("labels.jsonl").path)
    static let skipReason: Comment = "../shared/corpus is absent: corpus tests skipped"

    /// One labelled flow from `labels.jsonl`.
    struct Label {
        var capture: String
        var client: String
        var server: String
        var label: String
    }

    static func labels() throws -> [Label] {
        let text = try String(contentsOf: directory.appendingPathComponent("labels.jsonl"), encoding: .utf8)
        return try text.split(separator: "\n").map { line in
            guard let object = try JSONSerialization.jsonObject(with: Data(line.utf8)) as? [String: Any],
                  let capture = object["capture"] as? String, let client = object["client"] as? String,
                  let server = object["server"] as? String, let label = object["label"] as? String else {
                throw TestFailure("bad label line: \(line)")
            }
            return Label(capture: capture, client: client, server: server, label: label)
        }
    }

    /// The verdicts a label allows.
    static func accepts(_ label: String, _ verdict: Verdict, protocolName: String?) -> Bool {
        switch label {
        case "tls": return verdict == .encrypted
        case "http", "other-plaintext", "h2c": return verdict == .plaintext || verdict == .plaintextRejected
        // The corpus calls SSH "opaque" (not TLS, not cleartext); wirecheck calls it encrypted, protocol ssh.
        case "opaque": return verdict == .opaque || (verdict == .encrypted && protocolName == "ssh")
        case "no-payload": return verdict == .inconclusive
        default: return false
        }
    }
}

@Suite(.enabled(if: Corpus.available, Corpus.skipReason))
struct CorpusTests {
    /// Malformed captures (fuzzer output, truncations, bad headers) must give a
    /// clean exit (0–3), never a crash or a hang, and keep the results computed.
    @Test func malformedCapturesNeverCrash() throws {
        let binary = try #require(TestSupport.binary, "wirecheck binary not built next to the tests")
        let table = try String(contentsOf: Corpus.directory.appendingPathComponent("malformed.tsv"), encoding: .utf8)
        let files = table.split(separator: "\n").dropFirst().compactMap { $0.split(separator: "\t").first.map(String.init) }
        #expect(files.count > 100)
        var failures: [String] = []
        for file in files {
            let path = Corpus.capturesDirectory.appendingPathComponent(file).path
            // Alone, and merged with itself (every packet twice, equal
            // times: the merge's reads of bad records and its ties).
            for arguments in [["-r", path], ["-r", path, "-r", path]] {
                let run = try TestSupport.run(binary, arguments + ["--json"])
                if !(0...3).contains(run.status) {
                    failures.append("\(file) \(arguments.count / 2)x: exit \(run.status) \(run.stderr.suffix(200))")
                } else if run.status != 3, !run.stdout.contains("\"type\":\"summary\"") {
                    failures.append("\(file) \(arguments.count / 2)x: exit \(run.status) without a summary")
                }
            }
        }
        #expect(failures.isEmpty, "\(failures.count) of \(files.count): \(failures.prefix(10))")
    }

    /// Agreement with the corpus labels. The product target is 99 % (issue 4);
    /// until classification reaches it this guards against regressions at the
    /// level last measured, and prints the accuracy and the disagreements.
    static let regressionFloor = 0.98

    @Test func conformance() throws {
        let labels = try Corpus.labels()
        var byCapture: [String: [Corpus.Label]] = [:]
        for label in labels { byCapture[label.capture, default: []].append(label) }
        var agreed = 0
        var disagreements: [String] = []
        for (capture, expected) in byCapture.sorted(by: { $0.key < $1.key }) {
            let path = Corpus.capturesDirectory.appendingPathComponent(capture).path
            let reports = (try? TestSupport.analyze(path).reports) ?? []
            var verdicts: [String: FlowReport] = [:]
            for report in reports {
                verdicts["\(report.client) \(report.server)"] = report
                verdicts["\(report.server) \(report.client)"] = verdicts["\(report.server) \(report.client)"] ?? report
            }
            for label in expected {
                if let report = verdicts["\(label.client) \(label.server)"], Corpus.accepts(label.label, report.verdict, protocolName: report.protocolName) {
                    agreed += 1
                } else {
                    let got = verdicts["\(label.client) \(label.server)"].map { "\($0.verdict.rawValue): \($0.reason)" } ?? "no flow"
                    disagreements.append("\(capture) \(label.client)->\(label.server) label \(label.label), got \(got)")
                }
            }
        }
        let accuracy = Double(agreed) / Double(max(1, labels.count))
        print("corpus conformance: \(agreed)/\(labels.count) labelled flows agree (\(Double(Int((accuracy * 1000).rounded())) / 10) %)")
        for line in disagreements { print("  disagree: \(line)") }
        #expect(accuracy >= Self.regressionFloor, "accuracy \(accuracy) below the floor \(Self.regressionFloor)")
    }
}
