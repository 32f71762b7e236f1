import Foundation
import Testing

/// A real gRPC client (grpcio: gRPC's C core, its own HTTP/2 and HPACK) calls
/// over HTTP/2 in clear, captured live on loopback: a server answering as
/// Linkerd's proxy refuses by policy (python-h2: grpc-status 7 and
/// `l5d-proxy-error`, two calls on one connection) reads
/// `plaintext-rejected`; the same call served on the next connection reads
/// `plaintext`. No Linkerd runs here: the refusal is laid out from
/// linkerd2-proxy's error responder (`scripts/lab-grpc.py`).
@Suite(.enabled(if: TestSupport.isRoot, "needs root to capture live"))
struct LiveGRPCRefusalTests {
    @Test func grpcCallsRefusedByAProxyAndServed() throws {
        let binary = try #require(TestSupport.binary, "wirecheck binary not built next to the tests")
        let python = URL(fileURLWithPath: "/usr/bin/python3")
        let modules = try TestSupport.run(python, ["-c", "import grpc, h2"])
        try #require(modules.status == 0, "python3-grpcio and python3-h2 are needed (scripts/setup.sh --lab): \(modules.stderr)")

        // A range of its own: the live tests run at once, each listening on lo.
        let port = 22_000 + Int(getpid() % 1000)
        let child = try Subprocess(binary.path, ["-i", "lo", "--json", "-Z", "root", "tcp port \(port)"])
        defer { child.send(SIGKILL); _ = child.wait(); child.removeFiles() }
        #expect(child.waitForStderr("listening on lo", timeout: 10), "stderr: \(child.stderr)")

        let script = TestSupport.packageRoot.appendingPathComponent("scripts/lab-grpc.py").path
        let calls = try TestSupport.run(python, [script, String(port)])
        #expect(calls.status == 0, "stderr: \(calls.stderr)")
        // The client saw what the verdicts must say.
        #expect(calls.stdout == "refused PERMISSION_DENIED\nrefused PERMISSION_DENIED\nserved\n")

        let flows = LiveNamesTests.waitForFlows(child, count: 2)
        child.send(SIGINT)
        #expect(child.wait(timeout: 10) == 1, "stderr: \(child.stderr)")
        try #require(flows.count == 2, "stdout: \(child.stdout)")
        #expect(flows.map { $0["verdict"] as? String } == ["plaintext-rejected", "plaintext"], "stdout: \(child.stdout)")
        #expect(flows.map { $0["protocol"] as? String } == ["h2c", "h2c"])
        let refused = flows[0]
        #expect((refused["reason"] as? String)?.contains(
            "the server's Linkerd proxy refused it by policy (gRPC status 7, PERMISSION_DENIED) and sent nothing else") == true)
        #expect((refused["evidence"] as? String)?.contains("unauthorized request on route); 2 requests refused") == true,
                "stdout: \(child.stdout)")
        #expect(!child.stdout.contains("live-grpc-s3cret"))
    }
}
