import Foundation
import Testing

/// The lab from `scripts/lab.sh`: a node namespace with a bridge, a webserver
/// pod behind a TLS-terminating sidecar-like proxy, a mesh client and a legacy
/// client. Needs root and network namespaces; skipped with the reason otherwise.
enum LiveLab {
    static let script = TestSupport.packageRoot.appendingPathComponent("scripts/lab.sh")

    /// Why the lab cannot run here, or nil when it can.
    static let unavailableReason: String? = {
        guard TestSupport.isRoot else { return "live lab skipped: needs root (network namespaces, capture)" }
        guard FileManager.default.isExecutableFile(atPath: script.path) else { return "live lab skipped: scripts/lab.sh missing" }
        guard let check = try? TestSupport.run(URL(fileURLWithPath: "/bin/bash"), [script.path, "check"]) else {
            return "live lab skipped: cannot run scripts/lab.sh check"
        }
        return check.status == 0 ? nil : "live lab skipped: \(check.stderr.trimmingCharacters(in: .whitespacesAndNewlines))"
    }()

    static func lab(_ arguments: String...) throws {
        let result = try TestSupport.run(URL(fileURLWithPath: "/bin/bash"), [script.path] + arguments)
        guard result.status == 0 else {
            throw TestFailure("lab.sh \(arguments.joined(separator: " ")) failed (\(result.status)): \(result.stderr)")
        }
    }
}

@Suite(.serialized, .enabled(if: LiveLab.unavailableReason == nil, Comment(rawValue: LiveLab.unavailableReason ?? "")))
struct LiveLabTests {
    struct Scenario: Sendable, CustomTestStringConvertible {
        var mode: String
        var legacyVerdict: String
        var exitCode: Int32
        var testDescription: String { mode }
    }

    /// The documented check, automated: wirecheck on `-i any` in the node while
    /// a mesh client and a legacy client call the webserver; Ctrl-C ends it.
    @Test(arguments: [
        Scenario(mode: "permissive", legacyVerdict: "plaintext", exitCode: 1),
        Scenario(mode: "strict", legacyVerdict: "plaintext-rejected", exitCode: 0),
    ])
    func liveCapture(_ scenario: Scenario) throws {
        let binary = try #require(TestSupport.binary, "wirecheck binary not built next to the tests")
        try LiveLab.lab("up", scenario.mode)
        defer { try? LiveLab.lab("down") }

        let process = Process()
        process.executableURL = URL(fileURLWithPath: "/usr/sbin/ip")
        if !FileManager.default.isExecutableFile(atPath: "/usr/sbin/ip") { process.executableURL = URL(fileURLWithPath: "/sbin/ip") }
        process.arguments = ["netns", "exec", "wc-node", binary.path, "-i", "any", "--json",
                             "host", "10.111.1.122", "and", "port", "80"]
        let out = Pipe(), err = Pipe()
        process.standardOutput = out
        process.standardError = err
        process.standardInput = FileHandle.nullDevice
        let stdout = PipeCollector(out), stderr = PipeCollector(err)
        try process.run()
        defer { if process.isRunning { process.terminate() } }
        #expect(stderr.waitFor("listening on any", timeout: 15), "stderr: \(stderr.text)")

        try LiveLab.lab("traffic")
        // Let the last flow's close linger pass, then stop as a user would: Ctrl-C.
        Thread.sleep(forTimeInterval: 1.5)
        process.interrupt()
        #expect(stdout.waitForEnd(timeout: 15), "wirecheck did not stop on SIGINT")
        process.waitUntilExit()

        let lines = try TestSupport.jsonLines(stdout.text)
        let flows = lines.filter { $0["type"] as? String == "flow" }
        let mesh = flows.filter { ($0["client"] as? String)?.hasPrefix("10.111.1.10:") == true }
        let legacy = flows.filter { ($0["client"] as? String)?.hasPrefix("10.111.1.20:") == true }
        #expect(mesh.count == 2, "flows: \(stdout.text)")
        for flow in mesh {
            #expect(flow["verdict"] as? String == "encrypted", "\(flow)")
            let tls = flow["tls"] as? [String: Any]
            #expect(tls?["sni"] as? String == "outbound_.80_._.webserver.default.svc.cluster.local")
        }
        #expect(Set(mesh.compactMap { ($0["tls"] as? [String: Any])?["version"] as? String }) == ["TLS 1.2", "TLS 1.3"])
        #expect(legacy.count == 1, "flows: \(stdout.text)")
        #expect(legacy.first?["verdict"] as? String == scenario.legacyVerdict, "\(legacy)")
        #expect(!stdout.text.contains("wirecheck-secret-token"))
        let summary = try #require(lines.last)
        #expect(summary["type"] as? String == "summary")
        #expect(summary["droppedByKernel"] as? Int == 0)
        #expect(process.terminationStatus == scenario.exitCode, "stderr: \(stderr.text)")
    }
}
