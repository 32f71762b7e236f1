import Foundation
import Testing

/// A live capture reads its `--names` file again when it changes: a pod
/// created after the start is named, an address handed to another pod gets
/// the new pod's name, and a file that cannot be used keeps the names before.
@Suite(.enabled(if: TestSupport.isRoot, "needs root to capture live"))
struct LiveNamesTests {
    func binary() throws -> URL { try #require(TestSupport.binary, "wirecheck binary not built next to the tests") }

    /// One cleartext HTTP exchange over loopback to `port`, both ends closed.
    static func exchange(port: Int) throws {
        let script = """
            import socket, threading
            server = socket.socket(); server.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            server.bind(("127.0.0.1", \(port))); server.listen(1)
            def serve():
                conn, _ = server.accept(); conn.recv(4096)
                conn.sendall(b"HTTP/1.1 200 OK\\r\\nContent-Length: 2\\r\\n\\r\\nok"); conn.close()
            worker = threading.Thread(target=serve); worker.start()
            client = socket.create_connection(("127.0.0.1", \(port)))
            client.sendall(b"GET / HTTP/1.1\\r\\nHost: names-test\\r\\n\\r\\n"); client.recv(4096); client.close()
            worker.join(); server.close()
            """
        let run = try TestSupport.run(URL(fileURLWithPath: "/usr/bin/env"), ["python3", "-c", script])
        guard run.status == 0 else { throw TestFailure("loopback exchange failed: \(run.stderr)") }
    }

    /// Polls standard output until `count` flow lines are there.
    static func waitForFlows(_ child: Subprocess, count: Int, timeout: Double = 15) -> [[String: Any]] {
        let deadline = Date().addingTimeInterval(timeout)
        var flows: [[String: Any]] = []
        while Date() < deadline {
            flows = ((try? TestSupport.jsonLines(child.stdout)) ?? []).filter { $0["type"] as? String == "flow" }
            if flows.count >= count { break }
            Thread.sleep(forTimeInterval: 0.1)
        }
        return flows
    }

    @Test func namesFileReadAgainWhenItChanges() throws {
        let directory = FileManager.default.temporaryDirectory.appendingPathComponent("wirecheck-live-names-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: false)
        defer { try? FileManager.default.removeItem(at: directory) }
        let names = directory.appendingPathComponent("names.txt")
        func write(_ text: String) throws {
            // As a script refreshing it would: a new file renamed over the old.
            let fresh = directory.appendingPathComponent("names.new")
            try Data(text.utf8).write(to: fresh)
            guard rename(fresh.path, names.path) == 0 else { throw TestFailure("rename: \(String(cString: strerror(errno)))") }
        }
        try write("127.0.0.1 default/old-pod\n")
        let port = 18_000 + Int(getpid() % 1000)
        let child = try Subprocess(try binary().path, ["-i", "lo", "--json", "-Z", "root", "--names", names.path,
                                                       "--names-interval", "0.2", "tcp port \(port)"])
        defer { child.send(SIGKILL); _ = child.wait(); child.removeFiles() }
        #expect(child.waitForStderr("listening on lo", timeout: 10), "stderr: \(child.stderr)")

        try Self.exchange(port: port)
        #expect(Self.waitForFlows(child, count: 1).count == 1, "stdout: \(child.stdout)")
        // The address now belongs to another pod.
        try write("127.0.0.1 default/new-pod\n")
        #expect(child.waitForStderr("--names \(names.path): read again, 1 address named", timeout: 10), "stderr: \(child.stderr)")
        try Self.exchange(port: port)
        #expect(Self.waitForFlows(child, count: 2).count == 2, "stdout: \(child.stdout)")
        // A file with no names in it is refused; the names before stay.
        try write("# nothing yet\n")
        #expect(child.waitForStderr("the names read before stay", timeout: 10), "stderr: \(child.stderr)")
        try Self.exchange(port: port)
        let flows = Self.waitForFlows(child, count: 3)

        child.send(SIGINT)
        #expect(child.wait(timeout: 10) == 1, "stderr: \(child.stderr)")
        #expect(flows.map { $0["serverName"] as? String } == ["default/old-pod", "default/new-pod", "default/new-pod"],
                "stdout: \(child.stdout)")
        let summary = try #require(try TestSupport.jsonLines(child.stdout).last)
        #expect(summary["interface"] as? String == "lo")
        #expect(summary["filter"] as? String == "tcp port \(port)")
        #expect(summary["files"] == nil)
        let failing = try #require(summary["failingServers"] as? [[String: Any]])
        #expect(failing.first?["name"] as? String == "default/new-pod")
    }
}
