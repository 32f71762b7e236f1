import Foundation
import Testing

/// The lab from `scripts/lab.sh`: a node namespace with a bridge, a webserver
/// pod behind a TLS-terminating sidecar-like proxy, a mesh client and a legacy
/// client. Needs root and network namespaces; skipped with the reason otherwise.
/// Held while a test uses the lab; `release()` lets the next one in.
struct LabLock {
    let fd: Int32
    func release() { close(fd) }
}

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

    /// The lab's namespaces, servers and state directory are the machine's, not
    /// the test run's: a second test run on the same machine (a fresh clone's
    /// `.ci/run` beside a developer's `swift test`) would tear them down mid-test.
    /// Each lab test holds this lock from `up` to `down`; flock releases it
    /// when the process exits, however it exits.
    static func exclusive() throws -> LabLock {
        let fd = open("/run/lock/wirecheck-lab.lock", O_CREAT | O_RDWR | O_CLOEXEC, 0o600)
        guard fd >= 0 else { throw TestFailure("cannot open the lab lock: \(String(cString: strerror(errno)))") }
        while flock(fd, LOCK_EX) != 0 {
            guard errno == EINTR else { close(fd); throw TestFailure("cannot lock the lab: \(String(cString: strerror(errno)))") }
        }
        return LabLock(fd: fd)
    }

    /// Records with `lab.sh COMMAND DIRECTORY ARGUMENTS…` into a fresh
    /// directory, the lab held for this test alone, and hands the directory
    /// to `body`; then takes the lab down and removes the directory.
    static func recording<T>(_ command: String, _ arguments: String..., body: (URL) throws -> T) throws -> T {
        let directory = FileManager.default.temporaryDirectory.appendingPathComponent("wirecheck-\(command)-\(UUID())")
        let lock = try exclusive()
        defer { lock.release() }
        defer {
            try? lab("down")
            try? FileManager.default.removeItem(at: directory)
        }
        try run([command, directory.path] + arguments)
        return try body(directory)
    }

    /// Why the lab cannot make a Service here (no nftables, no br_netfilter), or nil when it can.
    static let serviceUnavailableReason: String? = {
        if let unavailableReason { return unavailableReason }
        guard let check = try? TestSupport.run(URL(fileURLWithPath: "/bin/bash"), [script.path, "service-check"]) else {
            return "live Service skipped: cannot run scripts/lab.sh service-check"
        }
        return check.status == 0 ? nil : "live Service skipped: \(check.stderr.trimmingCharacters(in: .whitespacesAndNewlines))"
    }()

    static func lab(_ arguments: String...) throws { try run(arguments) }

    private static func run(_ arguments: [String]) throws {
        let result = try TestSupport.run(URL(fileURLWithPath: "/bin/bash"), [script.path] + arguments)
        guard result.status == 0 else {
            throw TestFailure("lab.sh \(arguments.joined(separator: " ")) failed (\(result.status)): \(result.stderr)")
        }
    }
}

/// The WireGuard lab from `scripts/lab-wireguard.sh`: two node namespaces
/// joined by a wireguard-go tunnel.
enum LiveWireGuard {
    static let script = TestSupport.packageRoot.appendingPathComponent("scripts/lab-wireguard.sh")

    /// Why a WireGuard tunnel cannot be brought up here (no wireguard-go, no
    /// TUN device…), or nil when it can: the script's own check, lab held.
    static let unavailableReason: String? = {
        guard TestSupport.isRoot else { return "live WireGuard skipped: needs root" }
        guard let lock = try? LiveLab.exclusive() else { return "live WireGuard skipped: cannot lock the lab" }
        defer { lock.release() }
        guard let check = try? TestSupport.run(URL(fileURLWithPath: "/bin/bash"), [script.path, "check"]) else {
            return "live WireGuard skipped: cannot run scripts/lab-wireguard.sh check"
        }
        return check.status == 0 ? nil : "live WireGuard skipped: \(check.stderr.trimmingCharacters(in: .whitespacesAndNewlines))"
    }()
}

@Suite(.serialized, .enabled(if: LiveLab.unavailableReason == nil, Comment(rawValue: LiveLab.unavailableReason ?? "")))
struct LiveLabTests {
    /// Node-to-node encryption as a CNI's WireGuard mode sets it up, live:
    /// wirecheck on `-i any` in one node while a request crosses the tunnel
    /// to the other, Ctrl-C at the end. The request is cleartext on the
    /// tunnel's inner interface (that hop is plaintext), and so is a UDP syslog
    /// line (logger); on the veth only WireGuard, which the summary counts
    /// apart as an encrypted tunnel.
    @Test(.enabled(if: LiveWireGuard.unavailableReason == nil, Comment(rawValue: LiveWireGuard.unavailableReason ?? "")))
    func liveWireGuard() throws {
        let binary = try #require(TestSupport.binary, "wirecheck binary not built next to the tests")
        let output = FileManager.default.temporaryDirectory.appendingPathComponent("wirecheck-wireguard-\(UUID()).jsonl")
        defer { try? FileManager.default.removeItem(at: output) }
        let lock = try LiveLab.exclusive()
        defer { lock.release() }
        let run = try TestSupport.run(URL(fileURLWithPath: "/bin/bash"), [LiveWireGuard.script.path, "--live", binary.path, output.path])
        #expect(run.status == 0, "stderr: \(run.stderr)")
        let text = try String(contentsOf: output, encoding: .utf8)
        let lines = try TestSupport.jsonLines(text)
        let flows = lines.filter { $0["type"] as? String == "flow" }
        #expect(flows.count == 1, "\(text)")
        #expect((flows.first?["client"] as? String)?.hasPrefix("10.203.0.1:") == true)
        #expect(flows.first?["server"] as? String == "10.203.0.2:8080")
        #expect(flows.first?["verdict"] as? String == "plaintext")
        #expect(flows.first?["protocol"] as? String == "http")
        let summary = try #require(lines.last)
        #expect(summary["droppedByKernel"] as? Int == 0)
        let kinds = (summary["notJudged"] as? [[String: Any]]) ?? []
        let wireGuard = try #require(kinds.first { $0["kind"] as? String == "wireguard" }, "\(summary)")
        // Handshake initiation and response, then the request's and the answer's packets.
        #expect((wireGuard["packets"] as? Int ?? 0) >= 6, "\(wireGuard)")
        #expect(wireGuard["tunnel"] as? Bool == true && wireGuard["encrypted"] as? Bool == true)
        #expect(wireGuard["hostPairs"] as? Int == 1)
        // The UDP syslog line sent through the tunnel, in clear on its inner interface.
        let syslog = try #require(kinds.first { $0["kind"] as? String == "udp-text" }, "\(summary)")
        #expect(syslog["packets"] as? Int == 1 && syslog["encrypted"] as? Bool == false, "\(syslog)")
        let destinations = (summary["cleartextUDP"] as? [[String: Any]]) ?? []
        #expect(destinations.map { "\($0["destination"] ?? "") \($0["kind"] ?? "") \($0["packets"] ?? "")" } == ["10.203.0.2:514 udp-text 1"], "\(summary)")
        // Nothing else between the nodes was taken for plain UDP.
        #expect(!kinds.contains { $0["kind"] as? String == "udp" }, "\(kinds)")
    }

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
        let (output, status, stderr) = try Self.captureLabTraffic(mode: scenario.mode, filter: ["host", "10.111.1.122", "and", "port", "80"])
        let lines = try TestSupport.jsonLines(output)
        let flows = lines.filter { $0["type"] as? String == "flow" }
        let mesh = flows.filter { ($0["client"] as? String)?.hasPrefix("10.111.1.10:") == true }
        let legacy = flows.filter { ($0["client"] as? String)?.hasPrefix("10.111.1.20:") == true }
        #expect(mesh.count == 2, "flows: \(output)")
        for flow in mesh {
            #expect(flow["verdict"] as? String == "encrypted", "\(flow)")
            let tls = flow["tls"] as? [String: Any]
            #expect(tls?["sni"] as? String == "outbound_.80_._.webserver.default.svc.cluster.local")
        }
        #expect(Set(mesh.compactMap { ($0["tls"] as? [String: Any])?["version"] as? String }) == ["TLS 1.2", "TLS 1.3"])
        #expect(legacy.count == 1, "flows: \(output)")
        #expect(legacy.first?["verdict"] as? String == scenario.legacyVerdict, "\(legacy)")
        #expect(!output.contains("wirecheck-secret-token"))
        let summary = try #require(lines.last)
        #expect(summary["type"] as? String == "summary")
        #expect(summary["droppedByKernel"] as? Int == 0)
        #expect(status == scenario.exitCode, "stderr: \(stderr)")
    }

    /// Both modes, through the node's NAT: the legacy client's request is
    /// answered in PERMISSIVE, refused in STRICT.
    static let translationScenarios = [
        Scenario(mode: "permissive", legacyVerdict: "plaintext", exitCode: 1),
        Scenario(mode: "strict", legacyVerdict: "plaintext-rejected", exitCode: 0),
    ]

    /// On a node, clients call a Service: kube-proxy rewrites its ClusterIP
    /// to a pod's address (DNAT) between the client pod's interface and the
    /// server pod's, and `-i any` captures each connection on both sides.
    /// Live, through a real DNAT (nftables, the bridged answers through
    /// br_netfilter, as kube-proxy needs them): each connection is one flow,
    /// to the ClusterIP, with the pod's address it was translated to.
    @Test(.enabled(if: LiveLab.serviceUnavailableReason == nil, Comment(rawValue: LiveLab.serviceUnavailableReason ?? "")),
          arguments: Self.translationScenarios)
    func liveCaptureThroughAService(_ scenario: Scenario) throws {
        let (output, status, stderr) = try Self.captureLabTraffic(
            mode: scenario.mode, filter: ["tcp", "port", "80"], setup: "service-up", traffic: "service-traffic")
        try Self.expectOneFlowPerTranslatedConnection(output, status: status, stderr: stderr, scenario: scenario,
                                                      server: "10.96.0.10:80", translatedClientPrefix: nil)
    }

    /// A NodePort with `externalTrafficPolicy: Cluster`: kube-proxy rewrites
    /// the node's port to a pod's (DNAT) and the client's address to the
    /// node's (masquerade, a random port), and `-i any` captures each
    /// connection before the translations, on the bridge between them, and
    /// after both. Live, through real NAT: one flow per connection, to the
    /// node's port, with both translated addresses.
    @Test(.enabled(if: LiveLab.serviceUnavailableReason == nil, Comment(rawValue: LiveLab.serviceUnavailableReason ?? "")),
          arguments: Self.translationScenarios)
    func liveCaptureThroughANodePort(_ scenario: Scenario) throws {
        let (output, status, stderr) = try Self.captureLabTraffic(
            mode: scenario.mode, filter: ["tcp", "port", "80", "or", "tcp", "port", "30080"], setup: "service-up",
            traffic: "nodeport-traffic")
        try Self.expectOneFlowPerTranslatedConnection(output, status: status, stderr: stderr, scenario: scenario,
                                                      server: "10.111.1.1:30080", translatedClientPrefix: "10.111.1.1:")
    }

    /// The mesh client's and the legacy client's connections through the
    /// node's NAT, each one flow to `server` translated to the webserver's
    /// address, and, with `translatedClientPrefix`, from a translated client.
    static func expectOneFlowPerTranslatedConnection(
        _ output: String, status: Int32?, stderr: String, scenario: Scenario, server: String, translatedClientPrefix: String?
    ) throws {
        let lines = try TestSupport.jsonLines(output)
        let flows = lines.filter { $0["type"] as? String == "flow" }
        #expect(flows.count == 2, "flows: \(output)")
        for flow in flows {
            #expect(flow["server"] as? String == server, "\(flow)")
            #expect(flow["translatedServer"] as? String == "10.111.1.122:80", "\(flow)")
            let translatedClient = flow["translatedClient"] as? String
            if let translatedClientPrefix {
                #expect(translatedClient?.hasPrefix(translatedClientPrefix) == true && translatedClient != flow["client"] as? String,
                        "\(flow)")
            } else {
                #expect(translatedClient == nil, "\(flow)")
            }
            #expect(flow["handshakeSeen"] as? Bool == true && flow["gapBytes"] as? Int == 0, "\(flow)")
        }
        let mesh = flows.filter { ($0["client"] as? String)?.hasPrefix("10.111.1.10:") == true }
        let legacy = flows.filter { ($0["client"] as? String)?.hasPrefix("10.111.1.20:") == true }
        #expect(mesh.count == 1 && mesh.first?["verdict"] as? String == "encrypted" && mesh.first?["mesh"] as? String == "istio-sidecar",
                "\(mesh)")
        #expect(legacy.count == 1 && legacy.first?["verdict"] as? String == scenario.legacyVerdict, "\(legacy)")
        #expect(!output.contains("wirecheck-secret-token"))
        let summary = try #require(lines.last)
        #expect(summary["flows"] as? Int == 2)
        #expect(summary["droppedByKernel"] as? Int == 0)
        #expect(status == scenario.exitCode, "stderr: \(stderr)")
    }

    /// The documented check's run: the lab up in `mode` (then `lab.sh
    /// setup`, if given), wirecheck on `-i any --json` in the node with
    /// `filter` while `lab.sh traffic` runs (a mesh client and a legacy
    /// client call the webserver), then Ctrl-C, as a user stops it.
    static func captureLabTraffic(
        mode: String, filter: [String], setup: String? = nil, traffic: String = "traffic"
    ) throws -> (output: String, status: Int32?, stderr: String) {
        let binary = try #require(TestSupport.binary, "wirecheck binary not built next to the tests")
        let lock = try LiveLab.exclusive()
        defer { lock.release() }
        try LiveLab.lab("up", mode)
        defer { try? LiveLab.lab("down") }
        if let setup { try LiveLab.lab(setup) }

        let ip = FileManager.default.isExecutableFile(atPath: "/usr/sbin/ip") ? "/usr/sbin/ip" : "/sbin/ip"
        let wirecheck = try Subprocess(ip, ["netns", "exec", "wc-node", binary.path, "-i", "any", "--json"] + filter)
        defer {
            if wirecheck.wait(timeout: 0) == nil { wirecheck.send(SIGKILL); _ = wirecheck.wait() }
            wirecheck.removeFiles()
        }
        #expect(wirecheck.waitForStderr("listening on any", timeout: 15), "stderr: \(wirecheck.stderr)")

        try LiveLab.lab(traffic)
        // Let the last flow's close linger pass, then stop as a user would: Ctrl-C.
        Thread.sleep(forTimeInterval: 1.5)
        wirecheck.send(SIGINT)
        let status = wirecheck.wait(timeout: 15)
        #expect(status != nil, "wirecheck did not stop on SIGINT")
        return (wirecheck.stdout, status, wirecheck.stderr)
    }

    /// A one-way capture, as a filter on one direction (or asymmetric
    /// routing) makes it: only the packets to the webserver. The mesh
    /// client's TLS still proves encryption (its application data records
    /// need the server's handshake), and says the server's bytes were not
    /// captured; the legacy client's cleartext request is plaintext, no
    /// refusal can be told: in PERMISSIVE its answer's bytes are missing, in
    /// STRICT the server's reset is (the previous build said the server
    /// sent nothing, and neither answered nor closed).
    @Test(arguments: [("permissive", "bytes were not captured"), ("strict", "the server's packets were not captured")])
    func liveOneWayCapture(mode: String, legacyReason: String) throws {
        let (output, status, stderr) = try Self.captureLabTraffic(mode: mode, filter: ["dst", "host", "10.111.1.122", "and", "dst", "port", "80"])

        let flows = try TestSupport.jsonLines(output).filter { $0["type"] as? String == "flow" }
        let mesh = flows.filter { ($0["client"] as? String)?.hasPrefix("10.111.1.10:") == true }
        let legacy = flows.filter { ($0["client"] as? String)?.hasPrefix("10.111.1.20:") == true }
        #expect(mesh.count == 2, "flows: \(output)")
        for flow in mesh {
            #expect(flow["verdict"] as? String == "encrypted", "\(flow)")
            #expect((flow["reason"] as? String)?.contains("of application data") == true, "\(flow)")
            #expect((flow["reason"] as? String)?.contains("the server's") == true && (flow["gapBytes"] as? Int ?? 0) > 0, "\(flow)")
        }
        #expect(legacy.count == 1, "flows: \(output)")
        #expect(legacy.first?["verdict"] as? String == "plaintext", "\(legacy)")
        #expect((legacy.first?["reason"] as? String)?.contains("refusal can be told") == true, "\(legacy)")
        #expect((legacy.first?["reason"] as? String)?.contains(legacyReason) == true, "\(legacy)")
        #expect(!output.contains("wirecheck-secret-token"))
        #expect(status == 1, "stderr: \(stderr)")
    }

    /// kubelet's probes, live: from the node's address, one GET with
    /// kubelet's User-Agent per connection, allowed by `--expect-plaintext
    /// kube-probe`; two such requests on one connection are not (kubelet
    /// never sends them), nor is the legacy client's request.
    @Test func liveKubeletProbes() throws {
        let (output, status, stderr) = try Self.captureLabTraffic(
            mode: "permissive", filter: ["--expect-plaintext", "kube-probe", "host", "10.111.1.122", "and", "port", "80"],
            traffic: "probe-traffic")
        let flows = try TestSupport.jsonLines(output).filter { $0["type"] as? String == "flow" }
        let fromNode = flows.filter { ($0["client"] as? String)?.hasPrefix("10.111.1.1:") == true }
        let legacy = flows.filter { ($0["client"] as? String)?.hasPrefix("10.111.1.20:") == true }
        #expect(fromNode.count == 2 && legacy.count == 1, "flows: \(output)")
        let probe = fromNode.filter { $0["bytesToServer"] as? Int ?? 0 < 150 }, twice = fromNode.filter { $0["bytesToServer"] as? Int ?? 0 >= 150 }
        #expect(probe.count == 1 && twice.count == 1, "flows: \(output)")
        for flow in fromNode {
            #expect(flow["verdict"] as? String == "plaintext", "\(flow)")
            #expect((flow["evidence"] as? String)?.contains("User-Agent: kube-probe/1.32") == true, "\(flow)")
        }
        #expect(probe.first?["expected"] as? Bool == true, "\(probe)")
        #expect((probe.first?["reason"] as? String)?.hasSuffix("(expected: kubelet's probe, and kube-probe is listed by --expect-plaintext)") == true, "\(probe)")
        #expect(twice.first?["expected"] == nil, "\(twice)")
        #expect((twice.first?["notes"] as? [String])?.contains { $0.contains("sent more after that request") } == true, "\(twice)")
        #expect(legacy.first?["verdict"] as? String == "plaintext" && legacy.first?["expected"] == nil, "\(legacy)")
        let summary = try #require(TestSupport.jsonLines(output).last)
        #expect(summary["plaintextExpected"] as? Int == 1, "\(summary)")
        #expect(status == 1, "stderr: \(stderr)")
    }

    /// kubelet's gRPC probes, live: a grpc-go health server in the webserver
    /// pod, probed from the node's address as kubelet's gRPC prober does
    /// (grpc-go, `kube-probe/1.32`, one call per connection), allowed by
    /// `--expect-plaintext kube-probe`; two calls on one connection and an
    /// application's call are not.
    @Test func liveKubeletGRPCProbes() throws {
        let (output, status, stderr) = try Self.captureLabTraffic(
            mode: "permissive", filter: ["--expect-plaintext", "kube-probe", "host", "10.111.1.122", "and", "port", "50051"],
            traffic: "grpc-probe-traffic")
        let flows = try TestSupport.jsonLines(output).filter { $0["type"] as? String == "flow" }
        #expect(flows.count == 3, "flows: \(output)\nstderr: \(stderr)")
        for flow in flows {
            #expect(flow["verdict"] as? String == "plaintext" && flow["protocol"] as? String == "h2c", "\(flow)")
            #expect((flow["evidence"] as? String)?.contains("POST /grpc.health.v1.Health/Check") == true, "\(flow)")
        }
        let fromNode = flows.filter { ($0["client"] as? String)?.hasPrefix("10.111.1.1:") == true }
        let probe = fromNode.filter { $0["expected"] as? Bool == true }
        #expect(fromNode.count == 2 && probe.count == 1, "flows: \(output)")
        #expect((probe.first?["evidence"] as? String)?.contains("user-agent kube-probe/1.32 grpc-go/") == true, "\(probe)")
        #expect((probe.first?["reason"] as? String)?.hasSuffix("(expected: kubelet's probe, and kube-probe is listed by --expect-plaintext)") == true, "\(probe)")
        let twice = fromNode.filter { $0["expected"] == nil }
        #expect((twice.first?["notes"] as? [String])?.contains { $0.contains("sent more after that request") } == true, "\(twice)")
        let legacy = flows.filter { ($0["client"] as? String)?.hasPrefix("10.111.1.20:") == true }
        #expect(legacy.count == 1 && legacy.first?["expected"] == nil, "\(legacy)")
        let summary = try #require(TestSupport.jsonLines(output).last)
        #expect(summary["plaintextExpected"] as? Int == 1, "\(summary)")
        #expect(status == 1, "stderr: \(stderr)")
    }

    /// A node's long capture as it is kept: rotated by tcpdump every second
    /// and each closed file gzipped (`tcpdump -G 1 -z gzip`). Read as
    /// several files, given newest first, every connection comes out whole
    /// (SYN seen, closed), however the rotations cut them: three traffic
    /// runs of three flows.
    @Test func rotatedGzippedCapture() throws {
        let binary = try #require(TestSupport.binary, "wirecheck binary not built next to the tests")
        try LiveLab.recording("record-rotated", "3") { directory in try checkRotated(binary: binary, directory: directory) }
    }

    func checkRotated(binary: URL, directory: URL) throws {
        let files = try FileManager.default.contentsOfDirectory(atPath: directory.path).filter { $0.hasPrefix("cap-") }.sorted(by: >)
        #expect(files.count >= 2, "\(files)")
        #expect(files.contains { $0.hasSuffix(".pcap.gz") }, "\(files)")
        let run = try TestSupport.run(binary, files.flatMap { ["-r", directory.appendingPathComponent($0).path] } + ["--json"])
        let lines = try TestSupport.jsonLines(run.stdout)
        let flows = lines.filter { $0["type"] as? String == "flow" }
        #expect(flows.count == 9, "stderr: \(run.stderr)")
        #expect(flows.filter { $0["verdict"] as? String == "encrypted" }.count == 6)
        #expect(flows.filter { $0["verdict"] as? String == "plaintext" }.count == 3)
        #expect(flows.allSatisfy { $0["handshakeSeen"] as? Bool == true && $0["end"] as? String == "closed" })
        #expect(run.status == 1)
    }

    /// Captures taken at the same time on several interfaces (one tcpdump
    /// per pod's veth; several nodes' captures are alike): each connection
    /// is in its client's file and in the webserver's. Read together, given
    /// in any order, they are merged by packet time: each connection is one
    /// flow, whole, holding every packet of both files, with no warning.
    @Test func perInterfaceCaptures() throws {
        let binary = try #require(TestSupport.binary, "wirecheck binary not built next to the tests")
        try LiveLab.recording("record-interfaces") { directory in try checkPerInterface(binary: binary, directory: directory) }
    }

    func checkPerInterface(binary: URL, directory: URL) throws {
        let files = ["veth-legacy.pcap", "veth-mesh.pcap", "veth-web.pcap"].map { directory.appendingPathComponent($0).path }
        let run = try TestSupport.run(binary, files.flatMap { ["-r", $0] } + ["--json"])
        let lines = try TestSupport.jsonLines(run.stdout)
        let flows = lines.filter { $0["type"] as? String == "flow" }
        #expect(flows.count == 3, "stdout: \(run.stdout) stderr: \(run.stderr)")
        #expect(flows.filter { $0["verdict"] as? String == "encrypted" && $0["mesh"] as? String == "istio-sidecar" }.count == 2)
        #expect(flows.filter { $0["verdict"] as? String == "plaintext" && $0["protocol"] as? String == "http" }.count == 1)
        #expect(flows.allSatisfy { $0["handshakeSeen"] as? Bool == true && $0["end"] as? String == "closed" && $0["gapBytes"] as? Int == 0 })
        // Every packet of the three files belongs to one of the three flows.
        var packetsInFiles = 0
        for file in files {
            let alone = try TestSupport.jsonLines(try TestSupport.run(binary, ["-r", file, "--json"]).stdout)
            packetsInFiles += try #require(alone.last?["packets"] as? Int)
        }
        #expect(lines.last?["packets"] as? Int == packetsInFiles)
        #expect(flows.reduce(0) { $0 + ($1["packets"] as? Int ?? 0) } == packetsInFiles)
        #expect(run.stderr.isEmpty, "stderr: \(run.stderr)")
        #expect(run.status == 1)
    }
}
