import Foundation
import Testing

/// SIGUSR1, as with tcpdump on Linux: a live capture writes its counts so
/// far on stderr and goes on capturing; the final report is unchanged.
@Suite(.enabled(if: TestSupport.isRoot, "needs root to capture live"))
struct LiveCountsTests {
    /// wirecheck capturing on lo with `arguments`, after one HTTP exchange
    /// judged, and the counts line SIGUSR1 then gave.
    static func countsAfterOneExchange(port: Int, _ arguments: [String] = []) throws -> (child: Subprocess, line: String) {
        let binary = try #require(TestSupport.binary, "wirecheck binary not built next to the tests")
        let child = try Subprocess(binary.path, ["-i", "lo", "--json", "-Z", "root"] + arguments + ["tcp port \(port)"])
        #expect(child.waitForStderr("listening on lo", timeout: 10), "stderr: \(child.stderr)")
        do {
            try LiveNamesTests.exchange(port: port)
        } catch {
            child.send(SIGKILL); _ = child.wait(); child.removeFiles()
            throw error
        }
        #expect(LiveNamesTests.waitForFlows(child, count: 1).count == 1, "stdout: \(child.stdout)")
        child.send(SIGUSR1)
        #expect(child.waitForStderr("wirecheck: so far ", timeout: 10), "stderr: \(child.stderr)")
        let line = child.stderr.split(separator: "\n").first { $0.hasPrefix("wirecheck: so far ") } ?? ""
        return (child, String(line))
    }

    @Test func countsSoFarOnSIGUSR1() throws {
        let port = 20_000 + Int(getpid() % 1000)
        let (child, line) = try Self.countsAfterOneExchange(port: port)
        defer { child.send(SIGKILL); _ = child.wait(); child.removeFiles() }
        #expect(line.contains(" packets, 1 flow judged (0 encrypted, 1 plaintext, 0 plaintext-rejected, 0 opaque, 0 inconclusive), 0 open, 0 dropped by the kernel, 0 by the interface"),
                "\(line)")
        // Still capturing: a second exchange is judged too.
        try LiveNamesTests.exchange(port: port)
        #expect(LiveNamesTests.waitForFlows(child, count: 2).count == 2, "stdout: \(child.stdout)")
        child.send(SIGINT)
        #expect(child.wait(timeout: 10) == 1, "stderr: \(child.stderr)")
        #expect(try TestSupport.jsonLines(child.stdout).last?["flows"] as? Int == 2)
    }

    /// Expected plaintext is said apart, as the summary says it.
    @Test func countsSoFarSayWhatWasExpected() throws {
        let port = 21_000 + Int(getpid() % 1000)
        let (child, line) = try Self.countsAfterOneExchange(port: port, ["--expect-plaintext", "\(port)"])
        defer { child.send(SIGKILL); _ = child.wait(); child.removeFiles() }
        #expect(line.contains("1 flow judged (0 encrypted, 1 plaintext (1 expected), 0 plaintext-rejected, 0 opaque, 0 inconclusive)"), "\(line)")
        child.send(SIGINT)
        #expect(child.wait(timeout: 10) == 0, "stderr: \(child.stderr)")
    }
}
