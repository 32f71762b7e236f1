import Foundation
import Testing

/// The README's commands that write a `--names` file, taken from the README
/// as it stands and run by a real kubectl against a stand-in API server
/// (there is no cluster here): what they write must be a file wirecheck reads
/// without a skipped line, naming each address by the pod that has it now.
@Suite(.enabled(if: Kubectl.onPath != nil,
                "no kubectl on PATH: scripts/setup.sh --kubectl installs Debian's kubernetes-client"))
struct KubectlNamesTests {

    /// The `kubectl get` lines of the README's block that ends with `wirecheck … --names`.
    static func readmeCommands() throws -> [String] {
        let readme = try String(contentsOf: TestSupport.packageRoot.appendingPathComponent("README.md"), encoding: .utf8)
        let blocks = readme.components(separatedBy: "```").enumerated().filter { $0.offset % 2 == 1 }.map(\.element)
        let block = try #require(blocks.first { $0.contains("kubectl get nodes") && $0.contains("--names names.txt") },
                                 "README has no block of kubectl commands writing names.txt")
        return block.split(separator: "\n").map(String.init).filter { $0.hasPrefix("kubectl get ") }
    }

    /// Answers kubectl's discovery requests and lists `pods`, `nodes` and
    /// `services` from a JSON file, with the API server's field selectors
    /// on a pod's `status.phase` (`=`, `==`, `!=`, comma for "and"); any
    /// other selector is refused as the API server refuses it. Prints its
    /// port, then serves until killed.
    static let apiServer = #"""
        import json, sys
        from http.server import BaseHTTPRequestHandler, HTTPServer
        from urllib.parse import urlsplit, parse_qs
        cluster = json.load(open(sys.argv[1]))
        def resource(name, kind, namespaced):
            return {"name": name, "singularName": kind.lower(), "namespaced": namespaced, "kind": kind, "verbs": ["get", "list"]}
        discovery = {
            "/version": {"major": "1", "minor": "31", "gitVersion": "v1.31.0"},
            "/api": {"kind": "APIVersions", "versions": ["v1"],
                     "serverAddressByClientCIDRs": [{"clientCIDR": "0.0.0.0/0", "serverAddress": "127.0.0.1"}]},
            "/apis": {"kind": "APIGroupList", "apiVersion": "v1", "groups": []},
            "/api/v1": {"kind": "APIResourceList", "groupVersion": "v1", "resources": [
                resource("pods", "Pod", True), resource("nodes", "Node", False), resource("services", "Service", True)]},
        }
        def phase_matches(item, selector):
            for term in filter(None, selector.split(",")):
                for operator in ("!=", "==", "="):
                    if operator in term:
                        field, value = term.split(operator, 1)
                        break
                else:
                    return None
                if field != "status.phase":
                    return None
                equal = item.get("status", {}).get("phase") == value
                if equal != (operator != "!="):
                    return False
            return True
        class Handler(BaseHTTPRequestHandler):
            def answer(self, code, body):
                data = json.dumps(body).encode()
                self.send_response(code)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)
            def do_GET(self):
                url = urlsplit(self.path)
                if url.path in discovery:
                    return self.answer(200, discovery[url.path])
                kind = url.path.rsplit("/", 1)[-1]
                if not url.path.startswith("/api/v1/") or kind not in cluster:
                    return self.answer(404, {"kind": "Status", "apiVersion": "v1", "status": "Failure", "reason": "NotFound", "code": 404})
                items = cluster[kind]
                selector = parse_qs(url.query).get("fieldSelector", [""])[0]
                if selector:
                    matches = [phase_matches(item, selector) for item in items] if kind == "pods" else [None]
                    if None in matches or phase_matches({}, selector) is None:
                        return self.answer(400, {"kind": "Status", "apiVersion": "v1", "status": "Failure", "code": 400,
                                                 "reason": "BadRequest", "message": "field label not supported: " + selector})
                    items = [item for item, keep in zip(items, matches) if keep]
                self.answer(200, {"kind": kind[:-1].capitalize() + "List", "apiVersion": "v1",
                                  "metadata": {"resourceVersion": "1"}, "items": items})
            def log_message(self, *arguments):
                pass
        server = HTTPServer(("127.0.0.1", 0), Handler)
        print(server.server_address[1], flush=True)
        server.serve_forever()
        """#

    /// A node with a host-network pod and dual-stack addresses; a completed
    /// Job's pod still showing the address that a running pod has now (the
    /// API lists it first); a pod not given an address yet; a dual-stack
    /// Service, a headless one and an ExternalName one. Addresses are those
    /// of `Captures/permissive.pcap`.
    static let cluster = #"""
        {"nodes": [
          {"metadata": {"name": "node-1"}, "status": {"addresses": [
            {"type": "InternalIP", "address": "10.111.1.1"}, {"type": "InternalIP", "address": "fd00:10:111::1"},
            {"type": "Hostname", "address": "node-1"}]}}],
         "pods": [
          {"metadata": {"namespace": "default", "name": "backup-28912345-xk2lp"},
           "status": {"phase": "Succeeded", "podIP": "10.111.1.20", "podIPs": [{"ip": "10.111.1.20"}]}},
          {"metadata": {"namespace": "default", "name": "legacy-client-5c7d"},
           "status": {"phase": "Running", "podIP": "10.111.1.20", "podIPs": [{"ip": "10.111.1.20"}]}},
          {"metadata": {"namespace": "default", "name": "mesh-client-6b8f"},
           "status": {"phase": "Running", "podIP": "10.111.1.10", "podIPs": [{"ip": "10.111.1.10"}]}},
          {"metadata": {"namespace": "default", "name": "pending-0"}, "status": {"phase": "Pending"}},
          {"metadata": {"namespace": "default", "name": "webserver-7d9f"},
           "status": {"phase": "Running", "podIP": "10.111.1.122",
                      "podIPs": [{"ip": "10.111.1.122"}, {"ip": "fd00:10:111::122"}]}},
          {"metadata": {"namespace": "kube-system", "name": "kube-proxy-node-1"}, "spec": {"hostNetwork": true},
           "status": {"phase": "Running", "podIP": "10.111.1.1", "podIPs": [{"ip": "10.111.1.1"}]}}],
         "services": [
          {"metadata": {"namespace": "default", "name": "external"}, "spec": {"type": "ExternalName", "externalName": "db.example.org"}},
          {"metadata": {"namespace": "default", "name": "webserver"},
           "spec": {"type": "ClusterIP", "clusterIP": "10.96.0.80", "clusterIPs": ["10.96.0.80", "fd00:96::80"]}},
          {"metadata": {"namespace": "default", "name": "webserver-headless"},
           "spec": {"type": "ClusterIP", "clusterIP": "None", "clusterIPs": ["None"]}}]}
        """#

    @Test func readmeCommandsWriteANamesFileWirecheckReads() throws {
        let kubectl = try #require(Kubectl.onPath)
        let commands = try Self.readmeCommands()
        #expect(commands.count == 3, "\(commands)")
        let directory = FileManager.default.temporaryDirectory.appendingPathComponent("wirecheck-kubectl-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: false)
        defer { try? FileManager.default.removeItem(at: directory) }
        let clusterFile = directory.appendingPathComponent("cluster.json")
        try Data(Self.cluster.utf8).write(to: clusterFile)

        let server = try Subprocess("/usr/bin/env", ["python3", "-c", Self.apiServer, clusterFile.path])
        defer { server.send(SIGKILL); _ = server.wait(); server.removeFiles() }
        let deadline = Date().addingTimeInterval(10)
        var port: Int?
        while port == nil, Date() < deadline {
            port = Int(server.stdout.trimmingCharacters(in: .whitespacesAndNewlines))
            if port == nil { Thread.sleep(forTimeInterval: 0.05) }
        }
        let serverPort = try #require(port, "stand-in API server did not start: \(server.stderr)")
        let kubeconfig = directory.appendingPathComponent("kubeconfig")
        try Data("""
            apiVersion: v1
            kind: Config
            clusters: [{name: stand-in, cluster: {server: "http://127.0.0.1:\(serverPort)"}}]
            users: [{name: nobody, user: {}}]
            contexts: [{name: stand-in, context: {cluster: stand-in, user: nobody}}]
            current-context: stand-in

            """.utf8).write(to: kubeconfig)

        // The commands as the README gives them, in a shell, writing names.txt
        // in the directory (kubectl's cache goes to HOME: the directory too).
        let script = "set -e; cd '\(directory.path)'; " + commands.joined(separator: "\n")
        let run = try TestSupport.run(URL(fileURLWithPath: "/usr/bin/env"), [
            "KUBECONFIG=\(kubeconfig.path)", "HOME=\(directory.path)",
            "PATH=\(kubectl.deletingLastPathComponent().path):/usr/bin:/bin", "sh", "-c", script,
        ])
        #expect(run.status == 0, "kubectl: \(run.stderr)")
        let names = try String(contentsOf: directory.appendingPathComponent("names.txt"), encoding: .utf8)
        #expect(names == """
            10.111.1.1 fd00:10:111::1 node/node-1
            10.111.1.20 default/legacy-client-5c7d
            10.111.1.10 default/mesh-client-6b8f
            10.111.1.122 fd00:10:111::122 default/webserver-7d9f
            10.111.1.1 kube-system/kube-proxy-node-1
            10.96.0.80 fd00:96::80 svc/default/webserver

            """, "names.txt as written:\n\(names)")

        let binary = try #require(TestSupport.binary, "wirecheck binary not built next to the tests")
        let permissive = TestSupport.capturesDirectory.appendingPathComponent("permissive.pcap").path
        let report = try TestSupport.run(binary, ["-r", permissive, "--names", directory.appendingPathComponent("names.txt").path])
        #expect(report.status == 1)
        #expect(report.stderr.isEmpty, "stderr: \(report.stderr)")
        #expect(report.stdout.contains("10.111.1.20:56088 (default/legacy-client-5c7d) -> 10.111.1.122:80 (default/webserver-7d9f)  http"),
                "\(report.stdout)")
        #expect(report.stdout.contains("10.111.1.10:32836 (default/mesh-client-6b8f) -> 10.111.1.122:80 (default/webserver-7d9f)  tls"),
                "\(report.stdout)")
    }
}

enum Kubectl {
    /// The first `kubectl` on PATH, as a shell would run it.
    static var onPath: URL? {
        let path = ProcessInfo.processInfo.environment["PATH"] ?? "/usr/bin:/bin"
        return path.split(separator: ":")
            .map { URL(fileURLWithPath: String($0)).appendingPathComponent("kubectl") }
            .first { FileManager.default.isExecutableFile(atPath: $0.path) }
    }
}
