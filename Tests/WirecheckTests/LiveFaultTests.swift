import Foundation
import Testing

/// Live capture as root: privileges dropped after opening, and an interface
/// that vanishes mid-capture (a pod deleted) still gives a summary.
@Suite(.enabled(if: TestSupport.isRoot, "needs root to capture live"))
struct LiveFaultTests {
    static var ip: String { FileManager.default.isExecutableFile(atPath: "/usr/sbin/ip") ? "/usr/sbin/ip" : "/sbin/ip" }

    func binary() throws -> URL { try #require(TestSupport.binary, "wirecheck binary not built next to the tests") }

    /// Once the socket is open, wirecheck runs as the unprivileged user, not root.
    @Test(.enabled(if: getpwnam("tcpdump") != nil, "no tcpdump user to drop to"))
    func dropsRootAfterOpening() throws {
        let child = try Subprocess(try binary().path, ["-i", "lo", "--json", "port", "9"])
        defer { child.send(SIGKILL); _ = child.wait(); child.removeFiles() }
        #expect(child.waitForStderr("running as tcpdump", timeout: 10), "stderr: \(child.stderr)")
        let status = try String(contentsOfFile: "/proc/\(child.pid)/status", encoding: .utf8)
        let uids = status.split(separator: "\n").first { $0.hasPrefix("Uid:") }?.split(separator: "\t").dropFirst()
        let expected = String(getpwnam("tcpdump").pointee.pw_uid)
        #expect(uids.map(Array.init) == [Substring(expected), Substring(expected), Substring(expected), Substring(expected)],
                "real, effective, saved and filesystem uid must all be tcpdump's: \(String(describing: uids))")
        child.send(SIGINT)
        #expect(child.wait(timeout: 10) == 2)
    }

    @Test func unknownUserIsAnError() throws {
        let run = try TestSupport.run(try binary(), ["-i", "lo", "-Z", "wirecheck-no-such-user", "--duration", "1"])
        #expect(run.status == 3)
        #expect(run.stderr.contains("no such user"))
    }

    /// The interface goes away mid-capture: a warning, the summary of what was
    /// captured, and the exit code of the verdicts (2 here: nothing conclusive).
    @Test func interfaceVanishing() throws {
        let namespace = "wc-vanish-\(getpid())"
        func ip(_ arguments: String...) throws {
            let run = try TestSupport.run(URL(fileURLWithPath: Self.ip), arguments)
            guard run.status == 0 else { throw TestFailure("ip \(arguments.joined(separator: " ")): \(run.stderr)") }
        }
        try ip("netns", "add", namespace)
        defer { try? ip("netns", "del", namespace) }
        try ip("-n", namespace, "link", "add", "va", "type", "veth", "peer", "name", "vb")
        try ip("-n", namespace, "link", "set", "va", "up")
        try ip("-n", namespace, "link", "set", "vb", "up")
        let child = try Subprocess(Self.ip, ["netns", "exec", namespace, try binary().path, "-i", "va", "--json"])
        defer { if child.wait(timeout: 0) == nil { child.send(SIGKILL); _ = child.wait() }; child.removeFiles() }
        #expect(child.waitForStderr("listening on va", timeout: 10))
        try ip("-n", namespace, "link", "del", "va")
        let status = child.wait(timeout: 10)
        #expect(status == 2, "stderr: \(child.stderr)")
        #expect(child.stderr.contains("warning"))
        let summary = try TestSupport.jsonLines(child.stdout).last
        #expect(summary?["type"] as? String == "summary")
        #expect(summary?["readError"] is String)
    }
}
