import Foundation
import Testing

/// The binary as users run it: exit codes, errors on stderr, results never lost.
@Suite struct CLITests {
    let permissive = TestSupport.capturesDirectory.appendingPathComponent("permissive.pcap").path

    func wirecheck(_ arguments: [String], stdinPath: String? = nil) throws -> TestSupport.ProcessResult {
        let binary = try #require(TestSupport.binary, "wirecheck binary not built next to the tests")
        return try TestSupport.run(binary, arguments, stdinPath: stdinPath)
    }

    @Test func helpDocumentsExitCodes() throws {
        let run = try wirecheck(["--help"])
        #expect(run.status == 0)
        #expect(run.stdout.contains("Exit status"))
        #expect(run.stdout.contains("plaintext-rejected"))
        #expect(run.stdout.replacingOccurrences(of: "\n", with: " ").contains("not expected by design (Istio's plaintext ports, --expect-plaintext)"))
        #expect(run.stdout.replacingOccurrences(of: "\n", with: " ").contains("or a file's replay stopped by Ctrl-C before its end"))
    }

    @Test(arguments: [["--no-such-flag"], ["-c", "0", "-r", "x.pcap"], ["-i", "lo", "-r", "x.pcap"], ["--duration", "-1"],
                      ["--idle-timeout", "1e30"], ["--duration", "nan"], ["--max-buffer", "9223372036854775807"],
                      ["--show", "nope"], ["--show", ","], ["--fail-on", "encrypted"], ["--expect-plaintext", "0"],
                      ["--expect-plaintext", "65536"], ["--expect-plaintext", "80,,443"], ["--expect-plaintext", "http"],
                      ["-r", "x.pcap", "-C", "1"], ["-r", "x.pcap", "-w", "y.pcap", "-W", "2"], ["-r", "x.pcap", "-w", "y.pcap", "-C", "0"],
                      ["-r", "x.pcap", "-w", "y.pcap", "-C", "1.5"], ["-r", "x.pcap", "-w", "y.pcap", "-C", "9223372036855"],
                      ["-r", "x.pcap", "-w", "y.pcap", "-C", "1", "-W", "0"]])
    func usageErrorsExitThree(_ arguments: [String]) throws {
        let run = try wirecheck(arguments)
        #expect(run.status == 3)
        #expect(run.stderr.contains("wirecheck:"))
        #expect(run.stdout.isEmpty)
    }

    /// `-G` splits a live capture's file by the clock, naming each by its
    /// time: refused, saying why, with a replay, without a pattern to name
    /// the files by, and with the options it needs missing or out of range.
    @Test(arguments: [
        (["-r", "x.pcap", "-w", "y-%s", "-G", "60"], "-G splits a live capture's file by the clock; a capture file is split by time with editcap -i"),
        (["-G", "60"], "-G splits -w's file: give -w FILE too"),
        (["-r", "x.pcap", "-w", "-"], "-w -: packets cannot go to standard output (the report does); give a file name"),
        (["-w", "plain.pcap", "-G", "60"], "-G names each file by the time it began: give -w a strftime pattern"),
        (["-w", "100%%.pcap", "-G", "60"], "-G names each file by the time it began"),
        (["-w", "y-%s", "-G", "0"], "-G must be a positive number of seconds"),
        (["-w", "y-%s", "-G", "1000000001"], "-G must be a positive number of seconds"),
        (["-w", "y-%s", "-G", "1.5"], "-G"),
        (["-w", "y", "-W", "2"], "-W keeps a ring of -C's files or stops -G's after so many: give -C or -G too"),
        (["-r", "x.pcap", "-w", "y", "-z", "gzip"], "-z runs on each of -C's or -G's files: give -C or -G too"),
        (["-r", "x.pcap", "-w", "y", "-C", "1", "-z", "no-such-program-here"], "-z no-such-program-here: no such program on PATH"),
        (["-r", "x.pcap", "-w", "y", "-C", "1", "-z", "/nonexistent/gzip"], "-z /nonexistent/gzip: not an executable file"),
        (["-r", "x.pcap", "-w", "y", "-C", "1", "-z", "/etc/passwd"], "-z /etc/passwd: not an executable file"),
    ])
    func fileRotationUsageErrors(_ arguments: [String], _ message: String) throws {
        let run = try wirecheck(arguments)
        #expect(run.status == 3)
        #expect(run.stderr.contains(message), "stderr: \(run.stderr)")
        #expect(run.stdout.isEmpty)
    }

    @Test func fileThatIsNotACaptureExitsThree() throws {
        let path = FileManager.default.temporaryDirectory.appendingPathComponent("wirecheck-not-a-capture-\(UUID()).txt")
        try Data("GET / HTTP/1.1\r\nHost: example\r\n\r\n".utf8).write(to: path)
        defer { try? FileManager.default.removeItem(at: path) }
        let run = try wirecheck(["-r", path.path])
        #expect(run.status == 3)
        #expect(run.stderr.contains("unknown file format"), "stderr: \(run.stderr)")
    }

    /// Bad inputs where nothing can be read: a clear message and exit 3.
    @Test func unreadableInputsExitThree() throws {
        let directory = FileManager.default.temporaryDirectory
        let empty = directory.appendingPathComponent("wirecheck-empty-\(UUID()).pcap")
        try Data().write(to: empty)
        // A valid file header, then a packet header cut short: no packet can be read.
        let cut = directory.appendingPathComponent("wirecheck-cut-header-\(UUID()).pcap")
        try Data(try Data(contentsOf: URL(fileURLWithPath: permissive)).prefix(30)).write(to: cut)
        defer { try? FileManager.default.removeItem(at: empty); try? FileManager.default.removeItem(at: cut) }
        for path in ["/dev/null", directory.path, empty.path, cut.path] {
            let run = try wirecheck(["-r", path])
            #expect(run.status == 3, "\(path): \(run.stderr)")
            #expect(run.stderr.hasPrefix("wirecheck: \(path): "), "\(path): \(run.stderr)")
            #expect(run.stdout.isEmpty)
        }
    }

    /// A capture of a link type wirecheck does not decode: exit 3, the type
    /// named as libpcap names it, and what wirecheck reads instead.
    @Test func aLinkTypeNotDecodedIsNamedWithWhatIsRead() throws {
        let sunATM = try FrameCopyTests.writeCapture([], linkType: 123)
        defer { try? FileManager.default.removeItem(at: sunATM) }
        let run = try wirecheck(["-r", sunATM.path])
        #expect(run.status == 3)
        #expect(run.stderr.contains("SUNATM (Sun raw ATM), link type 123 is not a link type wirecheck decodes"), "\(run.stderr)")
        #expect(run.stderr.contains("it reads BSD loopback (NULL), Ethernet,") && run.stderr.contains("Linux cooked v2"), "\(run.stderr)")
        #expect(!run.stderr.contains("link type link type"))
    }

    @Test func missingFileExitsThree() throws {
        let run = try wirecheck(["-r", "/nonexistent/capture.pcap"])
        #expect(run.status == 3)
        #expect(run.stderr.contains("No such file"), "stderr: \(run.stderr)")
    }

    @Test func invalidFilterExitsThree() throws {
        let run = try wirecheck(["-r", permissive, "host", "and", "and"])
        #expect(run.status == 3)
        #expect(run.stderr.contains("invalid filter"))
    }

    @Test func filterSelectsFlows() throws {
        // Only the legacy client: one plaintext flow, exit 1.
        let legacy = try wirecheck(["-r", permissive, "--json", "host", "10.111.1.20"])
        #expect(legacy.status == 1)
        let flows = try TestSupport.jsonLines(legacy.stdout).filter { $0["type"] as? String == "flow" }
        #expect(flows.count == 1)
        #expect(flows.first?["verdict"] as? String == "plaintext")
        // The summary says which packets its result covers.
        #expect(try TestSupport.jsonLines(legacy.stdout).last?["filter"] as? String == "host 10.111.1.20")
        let text = try wirecheck(["-r", permissive, "host", "10.111.1.20"])
        #expect(text.stdout.contains("packets read from \(permissive) through the filter \"host 10.111.1.20\", "), "\(text.stdout)")
        // Nothing matches: exit 2, inconclusive.
        let none = try wirecheck(["-r", permissive, "--json", "port", "9"])
        #expect(none.status == 2)
        let summary = try TestSupport.jsonLines(none.stdout).last
        #expect(summary?["result"] as? String == "inconclusive")
        #expect(summary?["flows"] as? Int == 0)
        // No flow judged: no time span.
        #expect(summary?["firstSeen"] is NSNull && summary?["lastSeen"] is NSNull, "\(String(describing: summary))")
    }

    /// `--version` names wirecheck's version and libpcap's, as the JSON summary does.
    @Test func versionNamesWirecheckAndLibpcap() throws {
        let run = try wirecheck(["--version"])
        #expect(run.status == 0)
        let lines = run.stdout.split(separator: "\n").map(String.init)
        #expect(lines.count == 2, "\(run.stdout)")
        let version = try #require(lines.first?.wholeMatch(of: /wirecheck (\d+\.\d+\.\d+)/)?.1, "\(run.stdout)")
        #expect(lines.last?.hasPrefix("libpcap version ") == true, "\(run.stdout)")
        let summary = try #require(try TestSupport.jsonLines(try wirecheck(["-r", permissive, "--json"]).stdout).last)
        #expect(summary["version"] as? String == String(version))
        #expect(summary["libpcap"] as? String == lines.last)
    }

    /// Istio's plaintext-by-design ports pass unless the allowance is switched off;
    /// --fail-on makes other verdicts fail a strict audit.
    @Test func policyOptions() throws {
        let health = TestSupport.capturesDirectory.appendingPathComponent("crafted-istio-health-port.pcap").path
        #expect(try wirecheck(["-r", health]).status == 0)
        #expect(try wirecheck(["-r", health, "--no-istio-allowance"]).status == 1)
        let strict = TestSupport.capturesDirectory.appendingPathComponent("strict.pcap").path
        #expect(try wirecheck(["-r", strict]).status == 0)
        #expect(try wirecheck(["-r", strict, "--fail-on", "plaintext-rejected"]).status == 1)
        #expect(try wirecheck(["-r", strict, "--fail-on", "opaque,inconclusive"]).status == 0)
        let bogus = try wirecheck(["-r", strict, "--fail-on", "encrypted"])
        #expect(bogus.status == 3)
        #expect(bogus.stderr.contains("--fail-on"))
    }

    /// --expect-plaintext adds a site's own plaintext-by-design ports (Linkerd's
    /// proxy admin port, say) to Istio's: reported, not failing, and the reason
    /// says which list allowed it.
    @Test func expectPlaintextPorts() throws {
        let permissive = TestSupport.capturesDirectory.appendingPathComponent("permissive.pcap").path
        #expect(try wirecheck(["-r", permissive]).status == 1)
        let allowed = try wirecheck(["-r", permissive, "--expect-plaintext", "4191, 80"])
        #expect(allowed.status == 0, "\(allowed.stdout)")
        #expect(allowed.stdout.contains("plaintext (expected)"), "\(allowed.stdout)")
        #expect(allowed.stdout.contains("(expected: port 80 is listed by --expect-plaintext)"), "\(allowed.stdout)")
        #expect(allowed.stdout.hasSuffix("result: PASS (no plaintext flow besides the 1 expected)\n"), "\(allowed.stdout)")
        #expect(try wirecheck(["-r", permissive, "--expect-plaintext", "8080"]).status == 1)
        // Istio's own ports keep their reason; switching Istio's allowance off
        // leaves the ports given here allowed.
        let health = TestSupport.capturesDirectory.appendingPathComponent("crafted-istio-health-port.pcap").path
        #expect(try wirecheck(["-r", health]).stdout.contains("Istio sends plaintext to port 15021 by design"))
        let relisted = try wirecheck(["-r", health, "--no-istio-allowance", "--expect-plaintext", "15021"])
        #expect(relisted.status == 0)
        #expect(relisted.stdout.contains("(expected: port 15021 is listed by --expect-plaintext)"), "\(relisted.stdout)")
        #expect(try wirecheck(["-r", permissive, "--no-istio-allowance", "--expect-plaintext", "80"]).status == 0)
    }

    /// --expect-plaintext with an address or a range allows that server only:
    /// a Service's address as the client sent to it, or the pod's after the
    /// node's DNAT, and nothing else on the port.
    @Test func expectPlaintextServers() throws {
        let permissive = TestSupport.capturesDirectory.appendingPathComponent("permissive.pcap").path
        let allowed = try wirecheck(["-r", permissive, "--expect-plaintext", "10.111.1.0/24:80"])
        #expect(allowed.status == 0, "\(allowed.stdout)")
        #expect(allowed.stdout.contains("(expected: 10.111.1.0/24:80 is listed by --expect-plaintext)"), "\(allowed.stdout)")
        #expect(allowed.stdout.hasSuffix("result: PASS (no plaintext flow besides the 1 expected)\n"), "\(allowed.stdout)")
        for other in ["10.111.1.121:80", "10.111.2.0/24:80", "10.111.1.122:8080", "[fd00::/8]:80"] {
            #expect(try wirecheck(["-r", permissive, "--expect-plaintext", other]).status == 1, "\(other)")
        }
        let service = TestSupport.capturesDirectory.appendingPathComponent("lab-service-permissive.pcap").path
        for listed in ["10.96.0.10:80", "10.111.1.122:80"] {
            let run = try wirecheck(["-r", service, "--json", "--expect-plaintext", "10.111.2.9:80, \(listed)"])
            #expect(run.status == 0, "\(listed): \(run.stdout)")
            let plaintext = try TestSupport.jsonLines(run.stdout).filter { $0["verdict"] as? String == "plaintext" }
            #expect(plaintext.count == 1 && plaintext.first?["expected"] as? Bool == true, "\(listed)")
            #expect((plaintext.first?["reason"] as? String)?.hasSuffix("(expected: \(listed) is listed by --expect-plaintext)") == true, "\(listed)")
        }
        let refused = try wirecheck(["-r", permissive, "--expect-plaintext", "4191,10.244.1.5/16:9100"])
        #expect(refused.status == 3)
        #expect(refused.stderr.contains("--expect-plaintext: '10.244.1.5/16:9100': '10.244.1.5/16' has bits set past its prefix: the range is 10.244.0.0/16"), "\(refused.stderr)")
    }

    /// `from RANGE [to SERVER]` allows the plaintext of clients in the range
    /// only: on the lab's NodePort capture (kube-proxy's DNAT and SNAT), the
    /// legacy client's flow by its own address or, as the pod saw it, the
    /// node's; another client's range, or the right one to another port, not.
    @Test func expectPlaintextFromClients() throws {
        let nodePort = TestSupport.capturesDirectory.appendingPathComponent("lab-nodeport-permissive.pcap").path
        for listed in ["from 10.111.1.20 to 80", "from 10.111.1.0/24", "from 10.111.1.1 to 10.111.1.1:30080"] {
            let run = try wirecheck(["-r", nodePort, "--json", "--expect-plaintext", "4191, \(listed)"])
            #expect(run.status == 0, "\(listed): \(run.stdout)")
            let plaintext = try TestSupport.jsonLines(run.stdout).filter { $0["verdict"] as? String == "plaintext" }
            #expect(plaintext.count == 1 && plaintext.first?["expected"] as? Bool == true, "\(listed)")
            let by = plaintext.first?["expectedBy"] as? [String: Any]
            #expect(by?["by"] as? String == "--expect-plaintext" && by?["entry"] as? String == listed, "\(listed): \(String(describing: by))")
        }
        let text = try wirecheck(["-r", nodePort, "--expect-plaintext", "from 10.111.1.20 to 80"])
        #expect(text.stdout.contains("(expected: from 10.111.1.20 to 80 is listed by --expect-plaintext)"), "\(text.stdout)")
        #expect(text.stdout.contains("expected plaintext: 1 flow by --expect-plaintext 'from 10.111.1.20 to 80'"), "\(text.stdout)")
        for other in ["from 10.111.1.21", "from 10.111.1.20 to 81", "from 10.111.2.0/24 to 80"] {
            #expect(try wirecheck(["-r", nodePort, "--expect-plaintext", other]).status == 1, "\(other)")
        }
        let refused = try wirecheck(["-r", nodePort, "--expect-plaintext", "from 10.111.1.20:52006 to 80"])
        #expect(refused.status == 3)
        #expect(refused.stderr.contains("a client is an address or range, without a port"), "\(refused.stderr)")
    }

    /// kubelet's gRPC probe in the lab's capture (grpc-go, one Health/Check
    /// call on its own connection) passes with `kube-probe`; the same client's
    /// two calls on one connection and an application's call do not.
    @Test func kubeProbeAllowsTheLabsGRPCProbe() throws {
        let capture = TestSupport.capturesDirectory.appendingPathComponent("lab-grpc-probes.pcap").path
        let run = try wirecheck(["-r", capture, "--json", "--expect-plaintext", "kube-probe"])
        #expect(run.status == 1, "\(run.stdout)")
        let lines = try TestSupport.jsonLines(run.stdout)
        let flows = lines.filter { $0["type"] as? String == "flow" }
        #expect(flows.map { $0["client"] as? String } == ["10.111.1.1:43784", "10.111.1.1:43796", "10.111.1.20:37416"], "\(flows)")
        #expect(flows.map { $0["expected"] as? Bool ?? false } == [true, false, false], "\(flows)")
        let by = flows.first?["expectedBy"] as? [String: Any]
        #expect(by?["by"] as? String == "--expect-plaintext" && by?["entry"] as? String == "kube-probe", "\(flows)")
        #expect((flows.dropFirst().first?["notes"] as? [String])?.contains { $0.contains("sent more after that request") } == true, "\(flows)")
        #expect((flows.last?["notes"] as? [String])?.isEmpty == true, "\(flows)")
        #expect(lines.last?["plaintextExpected"] as? Int == 1, "\(lines.last ?? [:])")
        let text = try wirecheck(["-r", capture, "--expect-plaintext", "kube-probe"])
        #expect(text.stdout.contains("\nexpected plaintext: 1 flow by --expect-plaintext kube-probe\n"), "\(text.stdout)")
    }

    /// The summary says what passed as expected and by which rule: Istio's
    /// port by design, each `--expect-plaintext` entry; nothing when none did.
    @Test func summaryCountsExpectedPlaintextByRule() throws {
        let health = TestSupport.capturesDirectory.appendingPathComponent("crafted-istio-health-port.pcap").path
        let text = try wirecheck(["-r", health])
        #expect(text.stdout.contains("\nexpected plaintext: 1 flow to Istio's port 15021 (by design)\n"), "\(text.stdout)")
        let listed = try wirecheck(["-r", health, "--no-istio-allowance", "--expect-plaintext", "4191,15021"])
        #expect(listed.stdout.contains("\nexpected plaintext: 1 flow by --expect-plaintext 15021\n"), "\(listed.stdout)")
        let json = try TestSupport.jsonLines(try wirecheck(["-r", health, "--json"]).stdout)
        let by = try #require(json.last?["plaintextExpectedBy"] as? [[String: Any]])
        #expect(by.count == 1 && by[0]["by"] as? String == "istio" && by[0]["entry"] as? String == "port 15021" && by[0]["flows"] as? Int == 1, "\(by)")
        // Each expected flow says the same; others carry neither field.
        let flows = json.filter { $0["type"] as? String == "flow" }
        let expected = flows.filter { $0["expected"] as? Bool == true }
        #expect(expected.count == 1 && flows.count == 2, "\(flows)")
        let flowBy = expected.first?["expectedBy"] as? [String: Any]
        #expect(flowBy?["by"] as? String == "istio" && flowBy?["entry"] as? String == "port 15021", "\(expected)")
        #expect(flows.filter { $0["expectedBy"] != nil }.count == 1)
        let permissive = TestSupport.capturesDirectory.appendingPathComponent("permissive.pcap").path
        let none = try wirecheck(["-r", permissive, "--json", "--expect-plaintext", "4191"])
        #expect(try TestSupport.jsonLines(none.stdout).last?["plaintextExpectedBy"] == nil)
        #expect(try !wirecheck(["-r", permissive]).stdout.contains("expected plaintext:"))
        let range = try TestSupport.jsonLines(try wirecheck(["-r", permissive, "--json", "--expect-plaintext", "10.111.1.0/24:80"]).stdout)
        let entries = try #require(range.last?["plaintextExpectedBy"] as? [[String: Any]])
        #expect(entries.count == 1 && entries[0]["by"] as? String == "--expect-plaintext" && entries[0]["entry"] as? String == "10.111.1.0/24:80", "\(entries)")
        let listedFlow = range.first { $0["expected"] as? Bool == true }?["expectedBy"] as? [String: Any]
        #expect(listedFlow?["by"] as? String == "--expect-plaintext" && listedFlow?["entry"] as? String == "10.111.1.0/24:80", "\(range)")
    }

    /// `--show failing` lists the flows that fail the run and no others:
    /// plaintext the policy does not expect, and `--fail-on`'s verdicts.
    @Test func showFailingListsWhatFailsTheRun() throws {
        let services = TestSupport.capturesDirectory.appendingPathComponent("lab-services.pcap").path
        func servers(_ arguments: [String]) throws -> (servers: [String], summary: [String: Any]) {
            let lines = try TestSupport.jsonLines(try wirecheck(["-r", services, "--json"] + arguments).stdout)
            let flows = lines.filter { $0["type"] as? String == "flow" }
            return (flows.compactMap { $0["server"] as? String }, lines.last ?? [:])
        }
        let all = try servers([])
        let failing = try servers(["--show", "failing", "--expect-plaintext", "10.111.1.122:25"])
        #expect(all.servers.count == 12 && failing.servers.count == 9, "\(failing.servers)")
        #expect(!failing.servers.contains("10.111.1.122:25"))
        #expect(failing.summary["flows"] as? Int == 12 && failing.summary["shownVerdicts"] as? [String] == ["failing"], "\(failing.summary)")
        // `plaintext` lists the expected one too.
        let plaintext = try servers(["--show", "plaintext", "--expect-plaintext", "10.111.1.122:25"])
        #expect(plaintext.servers.count == 10 && plaintext.servers.contains("10.111.1.122:25"), "\(plaintext.servers)")
        // With a verdict beside it, both are listed.
        let both = try servers(["--show", "failing, encrypted", "--expect-plaintext", "10.111.1.122:25"])
        #expect(both.servers.count == 11 && both.summary["shownVerdicts"] as? [String] == ["failing", "encrypted"], "\(both.summary)")
        // --fail-on's verdicts fail the run, so they are listed.
        let protocols = TestSupport.capturesDirectory.appendingPathComponent("crafted-protocols.pcap").path
        func verdicts(_ arguments: [String]) throws -> Set<String> {
            let lines = try TestSupport.jsonLines(try wirecheck(["-r", protocols, "--json", "--show", "failing"] + arguments).stdout)
            return Set(lines.filter { $0["type"] as? String == "flow" }.compactMap { $0["verdict"] as? String })
        }
        #expect(try verdicts([]) == ["plaintext"])
        #expect(try verdicts(["--fail-on", "opaque"]) == ["plaintext", "opaque"])
        let text = try wirecheck(["-r", services, "--show", "failing,plaintext-rejected"])
        #expect(text.stdout.contains("note: flows listed only when failing the run, plaintext-rejected (--show); the counts cover every flow"), "\(text.stdout)")
        #expect(try wirecheck(["-r", services, "--show", "failng"]).stderr.contains("is not one of encrypted, plaintext, plaintext-rejected, opaque, inconclusive, failing"))
    }

    /// A full flow table judges the oldest flow early: every flow still gets its verdict.
    @Test func evictedFlowsKeepTheirVerdicts() throws {
        let run = try wirecheck(["-r", permissive, "--json", "--max-flows", "1"])
        let lines = try TestSupport.jsonLines(run.stdout)
        let flows = lines.filter { $0["type"] as? String == "flow" }
        #expect(flows.map { $0["verdict"] as? String } == ["encrypted", "encrypted", "plaintext"])
        #expect(flows.filter { $0["end"] as? String == "evicted" }.count == 2)
        #expect(lines.last?["evictedFlows"] as? Int == 2)
        #expect(run.status == 1)
    }

    /// A reset of a connection wirecheck is not tracking (the capture began
    /// just before it, or its flow was already judged) starts no flow: it
    /// carries nothing to judge. The summary counts such packets, so that
    /// every TCP packet read is accounted for: here a flow's late reset after
    /// its close linger, and a lone reset captured twice (`-i any`), with one
    /// processor or more.
    @Test func untrackedResetsAreCountedNotFlows() throws {
        typealias B = FrameBuilder
        func segment(client: UInt8, fromClient: Bool, flags: UInt8, mac: UInt8 = 1) -> [UInt8] {
            let clientAddress: [UInt8] = [10, 0, 0, client], server: [UInt8] = [10, 0, 0, 2]
            var bytes = B.ethernet(0x0800, B.ipv4(6, B.tcp(sourcePort: fromClient ? 50_000 : 80, destinationPort: fromClient ? 80 : 50_000,
                                                           sequence: fromClient ? 1_000 : 5_000, payload: [], flags: flags),
                                                  source: fromClient ? clientAddress : server, destination: fromClient ? server : clientAddress))
            bytes[11] = mac
            return bytes
        }
        let second: Int64 = 1_000_000_000, base = 1_790_000_000 * second
        let capture = try FrameCopyTests.writeCapture([
            (segment(client: 1, fromClient: true, flags: 0x02), base),
            (segment(client: 1, fromClient: false, flags: 0x12), base + 1_000_000),
            (segment(client: 1, fromClient: false, flags: 0x14), base + 2_000_000),  // the flow ends
            (segment(client: 1, fromClient: true, flags: 0x14), base + 3 * second),  // past the 1 s linger
            (segment(client: 3, fromClient: true, flags: 0x14), base + 4 * second),  // a connection seen only by its reset
            (segment(client: 3, fromClient: true, flags: 0x14, mac: 2), base + 4 * second + 1_000),  // and its copy
        ], linkType: 1)
        defer { try? FileManager.default.removeItem(at: capture) }
        let run = try wirecheck(["-r", capture.path, "--json"])
        let lines = try TestSupport.jsonLines(run.stdout)
        #expect(lines.filter { $0["type"] as? String == "flow" }.count == 1, "\(run.stdout)")
        #expect(lines.last?["tcpPackets"] as? Int == 6)
        #expect(lines.last?["untrackedResets"] as? Int == 3, "\(run.stdout)")
        let text = try wirecheck(["-r", capture.path]).stdout
        #expect(text.contains("note: 3 TCP reset packets of connections with no other packet in the flow table"), "\(text)")
        // Only a reset: nothing to judge (exit 2), one packet said in the singular.
        let lone = try FrameCopyTests.writeCapture([(segment(client: 3, fromClient: true, flags: 0x14), base)], linkType: 1)
        defer { try? FileManager.default.removeItem(at: lone) }
        let loneRun = try wirecheck(["-r", lone.path])
        #expect(loneRun.status == 2)
        #expect(loneRun.stdout.contains("note: 1 TCP reset packet of a connection with no other packet in the flow table"), "\(loneRun.stdout)")
        let permissiveText = try wirecheck(["-r", permissive]).stdout
        #expect(!permissiveText.contains("TCP reset packet"), "\(permissiveText)")
        #expect(try TestSupport.jsonLines(wirecheck(["-r", permissive, "--json"]).stdout).last?["untrackedResets"] as? Int == 0)
        if let taskset = TestSupport.taskset, let first = ReportWorkerTests.allowedProcessors().first,
           let binary = TestSupport.binary {
            let single = try TestSupport.run(taskset, ["-c", "\(first)", binary.path, "-r", capture.path, "--json"])
            #expect(single.stdout == run.stdout)
        }
    }

    @Test func readsStandardInput() throws {
        let run = try wirecheck(["-r", "-", "--json"], stdinPath: permissive)
        #expect(run.status == 1)
        #expect(try TestSupport.jsonLines(run.stdout).filter { $0["type"] as? String == "flow" }.count == 3)
    }

    @Test func countStopsEarly() throws {
        let run = try wirecheck(["-r", permissive, "--json", "-c", "4"])
        let summary = try #require(try TestSupport.jsonLines(run.stdout).last)
        #expect(summary["packets"] as? Int == 4)
    }

    /// Hand-made files with hostile headers: an absurd captured length and a
    /// captured length beyond the snapshot length (after good packets: results
    /// plus a warning naming the offset; as the first record: exit 3), and a
    /// pcapng file with a block type nobody defined (skipped, as the format says).
    @Test func hostileRecordHeaders() throws {
        let permissiveData = try Data(contentsOf: URL(fileURLWithPath: permissive))
        let directory = FileManager.default.temporaryDirectory
        func le32(_ v: UInt32) -> [UInt8] { withUnsafeBytes(of: v.littleEndian, Array.init) }
        func write(_ bytes: [UInt8], _ name: String) throws -> String {
            let url = directory.appendingPathComponent("wirecheck-\(name)-\(UUID()).cap")
            try Data(bytes).write(to: url)
            return url.path
        }
        for (name, caplen) in [("absurd", UInt32(0x7FFF_FFFF)), ("over-snaplen", UInt32(300_000))] {
            let record = le32(0) + le32(0) + le32(caplen) + le32(caplen) + [UInt8](repeating: 0, count: 64)
            let afterGood = try write(Array(permissiveData) + record, name)
            let run = try wirecheck(["-r", afterGood, "--json"])
            #expect(run.status == 1, "\(name): \(run.stderr)")
            #expect(run.stderr.contains("warning") && run.stderr.contains("byte offset \(permissiveData.count + 16)"), "\(name): \(run.stderr)")
            #expect(try TestSupport.jsonLines(run.stdout).filter { $0["type"] as? String == "flow" }.count == 3)
            let alone = try write(Array(permissiveData.prefix(24)) + record, name)
            let first = try wirecheck(["-r", alone])
            #expect(first.status == 3, "\(name): \(first.stderr)")
            #expect(!first.stderr.isEmpty)
            try? FileManager.default.removeItem(atPath: afterGood)
            try? FileManager.default.removeItem(atPath: alone)
        }

        // pcapng: section header, interface (the permissive capture's link type), an unknown block,
        // then the packets of the permissive capture.
        let bytes = Array(permissiveData)
        var pcapng: [UInt8] = le32(0x0A0D_0D0A) + le32(28) + le32(0x1A2B_3C4D) + [1, 0, 0, 0] + [UInt8](repeating: 0xFF, count: 8) + le32(28)
        pcapng += le32(1) + le32(20) + [bytes[20], bytes[21], 0, 0] + le32(262_144) + le32(20)
        pcapng += le32(0x0BAD_0001) + le32(16) + [1, 2, 3, 4] + le32(16)
        // Classic pcap records (16-byte header, then data) become enhanced packet blocks.
        var offset = 24
        while offset + 16 <= bytes.count {
            let caplen = Int(UInt32(bytes[offset + 8]) | UInt32(bytes[offset + 9]) << 8 | UInt32(bytes[offset + 10]) << 16 | UInt32(bytes[offset + 11]) << 24)
            let data = Array(bytes[(offset + 16)..<(offset + 16 + caplen)])
            let padded = data + [UInt8](repeating: 0, count: (4 - data.count % 4) % 4)
            let length = UInt32(32 + padded.count)
            let seconds = UInt64(bytes[offset]) | UInt64(bytes[offset + 1]) << 8 | UInt64(bytes[offset + 2]) << 16 | UInt64(bytes[offset + 3]) << 24
            let micros = UInt64(bytes[offset + 4]) | UInt64(bytes[offset + 5]) << 8 | UInt64(bytes[offset + 6]) << 16 | UInt64(bytes[offset + 7]) << 24
            let timestamp = seconds * 1_000_000 + micros
            pcapng += le32(6) + le32(length) + le32(0) + le32(UInt32(timestamp >> 32)) + le32(UInt32(timestamp & 0xFFFF_FFFF))
            pcapng += le32(UInt32(caplen)) + le32(UInt32(caplen)) + padded + le32(length)
            offset += 16 + caplen
        }
        let unknownBlock = try write(pcapng, "unknown-block")
        defer { try? FileManager.default.removeItem(atPath: unknownBlock) }
        let run = try wirecheck(["-r", unknownBlock, "--json"])
        #expect(run.status == 1, "stderr: \(run.stderr)")
        #expect(try TestSupport.jsonLines(run.stdout).filter { $0["type"] as? String == "flow" }.count == 3)

        // Then a second interface of another link type (Ethernet), as dumpcap
        // writes for a capture on several interfaces: libpcap stops there, and
        // the warning says how to split the file.
        #expect(bytes[20] != 1 || bytes[21] != 0, "the permissive capture is not Ethernet")
        let ethernetInterface = le32(1) + le32(20) + [1, 0, 0, 0] + le32(262_144) + le32(20)
        let twoInterfaces = try write(pcapng + ethernetInterface, "two-interfaces")
        defer { try? FileManager.default.removeItem(atPath: twoInterfaces) }
        let mixed = try wirecheck(["-r", twoInterfaces, "--json"])
        #expect(mixed.status == 1, "stderr: \(mixed.stderr)")
        #expect(mixed.stderr.contains("one link type") && mixed.stderr.contains("editcap -F pcap"), "stderr: \(mixed.stderr)")
        #expect(try TestSupport.jsonLines(mixed.stdout).filter { $0["type"] as? String == "flow" }.count == 3)
    }

    /// A capture cut off mid-packet: what was read is analysed and reported,
    /// with a warning on stderr, and the exit code follows the verdicts.
    @Test func truncatedCaptureKeepsResults() throws {
        let data = try Data(contentsOf: URL(fileURLWithPath: permissive))
        let cut = FileManager.default.temporaryDirectory.appendingPathComponent("wirecheck-cut-\(UUID()).pcap")
        // Cut inside the last packet's body.
        try data.prefix(data.count - 20).write(to: cut)
        defer { try? FileManager.default.removeItem(at: cut) }
        let run = try wirecheck(["-r", cut.path, "--json"])
        #expect(run.stderr.contains("warning"), "stderr: \(run.stderr)")
        #expect(run.stderr.contains("truncated"), "stderr: \(run.stderr)")
        #expect(run.stderr.contains("byte offset \(data.count - 20)"), "stderr: \(run.stderr)")
        let lines = try TestSupport.jsonLines(run.stdout)
        #expect(lines.filter { $0["type"] as? String == "flow" }.count == 3)
        #expect(lines.last?["type"] as? String == "summary")
        #expect((lines.last?["readError"] as? String)?.contains("truncated") == true)
        #expect(run.status == 1)
        // The text report says so too: kept in a file, it is read without stderr.
        let text = try wirecheck(["-r", cut.path])
        #expect(text.stdout.contains("warning: reading stopped early: truncated"), "stdout: \(text.stdout)")
        #expect(text.status == 1)
    }

    /// `--show` lists only the chosen verdicts' flows; counts, failing
    /// servers and exit status still cover every flow, and the summary says
    /// what was left out.
    @Test func showListsOnlyTheChosenVerdicts() throws {
        let all = try wirecheck(["-r", permissive, "--json"])
        let shown = try wirecheck(["-r", permissive, "--json", "--show", "plaintext,plaintext-rejected"])
        let allLines = try TestSupport.jsonLines(all.stdout), shownLines = try TestSupport.jsonLines(shown.stdout)
        let shownFlows = shownLines.filter { $0["type"] as? String == "flow" }
        #expect(shownFlows.count == 1)
        #expect(shownFlows.allSatisfy { $0["verdict"] as? String == "plaintext" })
        #expect(allLines.filter { $0["type"] as? String == "flow" }.count == 3)
        let summary = try #require(shownLines.last)
        #expect(summary["flows"] as? Int == 3)
        #expect(summary["encrypted"] as? Int == 2)
        #expect(summary["shownVerdicts"] as? [String] == ["plaintext", "plaintext-rejected"])
        #expect(allLines.last?["shownVerdicts"] == nil)
        #expect(shown.status == all.status)

        let text = try wirecheck(["-r", permissive, "--show", "encrypted"])
        let lines = text.stdout.split(separator: "\n")
        #expect(lines.filter { $0.hasPrefix("encrypted ") }.count == 2, "stdout: \(text.stdout)")
        #expect(!lines.contains { $0.hasPrefix("plaintext ") })
        #expect(text.stdout.contains("note: flows listed only when encrypted (--show); the counts cover every flow"))
        #expect(text.stdout.contains("10.111.1.122:80  plaintext  1 flow"))
        #expect(text.status == 1)
    }

    /// `--names`: pods' and services' names beside their addresses, in the
    /// flow lines, JSON and the failing-servers list; nothing changes without it.
    @Test func namesShownBesideAddresses() throws {
        let directory = FileManager.default.temporaryDirectory.appendingPathComponent("wirecheck-names-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: directory) }
        let names = directory.appendingPathComponent("names.txt")
        // A line with no address: kubectl's jsonpath for a pod not given one yet, without the README's filter.
        try Data("""
            10.111.1.10 default/mesh-client-6b8f
            10.111.1.20 default/legacy-client-5c7d
            10.111.1.122 fd00::7a default/webserver-7d9f
             default/pending-0

            """.utf8).write(to: names)
        let text = try wirecheck(["-r", permissive, "--names", names.path])
        #expect(text.stdout.contains("10.111.1.20:") && text.stdout.contains(" (default/legacy-client-5c7d) -> 10.111.1.122:80 (default/webserver-7d9f)  http"), "\(text.stdout)")
        #expect(text.stdout.contains("  10.111.1.122:80 (default/webserver-7d9f)  plaintext  1 flow from 1 client (http)"), "\(text.stdout)")
        #expect(text.stderr.contains("1 line without an address skipped"), "\(text.stderr)")
        #expect(text.status == 1)

        let json = try TestSupport.jsonLines(try wirecheck(["-r", permissive, "--json", "--names", names.path]).stdout)
        let flows = json.filter { $0["type"] as? String == "flow" }
        #expect(flows.count == 3)
        #expect(flows.allSatisfy { $0["serverName"] as? String == "default/webserver-7d9f" })
        #expect(Set(flows.compactMap { $0["clientName"] as? String }) == ["default/mesh-client-6b8f", "default/legacy-client-5c7d"])
        let servers = try #require(json.last?["failingServers"] as? [[String: Any]])
        #expect(servers.first?["name"] as? String == "default/webserver-7d9f")

        // Where cleartext UDP went is named too (the WireGuard lab's syslog line).
        let wireGuard = TestSupport.capturesDirectory.appendingPathComponent("lab-wireguard.pcap").path
        try Data("10.203.0.2 kube-system/log-receiver-0\n".utf8).write(to: names)
        let udp = try wirecheck(["-r", wireGuard, "--names", names.path])
        #expect(udp.stdout.contains("\n  10.203.0.2:514 (kube-system/log-receiver-0)  1 packet (text)\n"), "\(udp.stdout)")
        let udpJSON = try TestSupport.jsonLines(try wirecheck(["-r", wireGuard, "--json", "--names", names.path]).stdout)
        let destinations = try #require(udpJSON.last?["cleartextUDP"] as? [[String: Any]])
        #expect(destinations.map { $0["name"] as? String } == ["kube-system/log-receiver-0"])

        let plain = try TestSupport.jsonLines(try wirecheck(["-r", permissive, "--json"]).stdout)
        #expect(plain.allSatisfy { $0["clientName"] == nil && $0["serverName"] == nil })
        #expect((plain.last?["failingServers"] as? [[String: Any]])?.first?["name"] == nil)

        let missing = try wirecheck(["-r", permissive, "--names", directory.appendingPathComponent("absent").path])
        #expect(missing.status == 3)
        #expect(missing.stderr.contains("--names") && missing.stderr.contains("No such file"), "\(missing.stderr)")
        let wrong = try wirecheck(["-r", permissive, "--names", permissive])
        #expect(wrong.status == 3)
        #expect(wrong.stderr.contains("no line gives an address and a name"), "\(wrong.stderr)")
    }

    /// A pcapng whose two packets' timestamps, made nanoseconds, land near
    /// the two ends of Int64 (64-bit timestamps wrap when multiplied): the
    /// analyzer subtracted them and trapped (stop 18's binary: SIGILL, exit
    /// 132, no report). Now both flows are reported.
    @Test func extremeTimestampsDoNotCrash() throws {
        func le32(_ v: UInt32) -> [UInt8] { withUnsafeBytes(of: v.littleEndian, Array.init) }
        func block(_ type: UInt32, _ body: [UInt8]) -> [UInt8] {
            let padded = body + [UInt8](repeating: 0, count: (4 - body.count % 4) % 4)
            let length = UInt32(12 + padded.count)
            return le32(type) + le32(length) + padded + le32(length)
        }
        func frame(fromClient: Bool, flags: UInt8, payload: [UInt8]) -> [UInt8] {
            let segment = FrameBuilder.tcp(sourcePort: fromClient ? 50_000 : 80, destinationPort: fromClient ? 80 : 50_000,
                                           sequence: fromClient ? 1_000 : 5_000, payload: payload, flags: flags)
            let client: [UInt8] = [10, 0, 0, 1], server: [UInt8] = [10, 0, 0, 2]
            return FrameBuilder.ethernet(0x0800, FrameBuilder.ipv4(6, segment, source: fromClient ? client : server,
                                                                   destination: fromClient ? server : client))
        }
        func packet(seconds: UInt64, _ bytes: [UInt8]) -> [UInt8] {
            let micros = seconds * 1_000_000  // the interface's default resolution
            return block(6, le32(0) + le32(UInt32(micros >> 32)) + le32(UInt32(micros & 0xFFFF_FFFF))
                + le32(UInt32(bytes.count)) + le32(UInt32(bytes.count)) + bytes)
        }
        let header = block(0x0A0D_0D0A, le32(0x1A2B_3C4D) + [1, 0, 0, 0] + [UInt8](repeating: 0xFF, count: 8))
        let interface = block(1, [1, 0, 0, 0] + le32(65_535))
        let capture = header + interface
            + packet(seconds: 9_223_372_037, frame(fromClient: true, flags: 0x18, payload: Array("GET / HTTP/1.1\r\nHost: a\r\n\r\n".utf8)))
            + packet(seconds: 9_223_372_036, frame(fromClient: false, flags: 0x11, payload: []))
        let path = FileManager.default.temporaryDirectory.appendingPathComponent("wirecheck-extreme-\(UUID().uuidString).pcapng")
        try Data(capture).write(to: path)
        defer { try? FileManager.default.removeItem(at: path) }
        let run = try wirecheck(["-r", path.path, "--json"])
        #expect(run.status == 1, "stderr: \(run.stderr)")
        let lines = try TestSupport.jsonLines(run.stdout)
        #expect(lines.filter { $0["type"] as? String == "flow" }.count == 2)
        #expect(lines.last?["plaintext"] as? Int == 1)
    }

    /// The documented JSON Lines contract.
    @Test func jsonContract() throws {
        let run = try wirecheck(["-r", permissive, "--json"])
        let lines = try TestSupport.jsonLines(run.stdout)
        let flows = lines.filter { $0["type"] as? String == "flow" }
        #expect(flows.count == 3)
        let isoPattern = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\.\d{6}Z$/
        for flow in flows {
            for key in ["client", "server", "verdict", "reason", "protocol", "evidence", "firstSeen", "lastSeen"] {
                #expect(flow[key] is String, "\(key) in \(flow)")
            }
            #expect(flow["packets"] is Int)
            #expect(flow["bytes"] is Int)
            #expect((flow["firstSeen"] as? String)?.wholeMatch(of: isoPattern) != nil)
            #expect((flow["server"] as? String) == "10.111.1.122:80")
        }
        let encrypted = flows.filter { $0["verdict"] as? String == "encrypted" }
        #expect(encrypted.count == 2)
        for flow in encrypted {
            let tls = try #require(flow["tls"] as? [String: Any])
            #expect(tls["version"] is String)
            #expect(tls["sni"] as? String == "outbound_.80_._.webserver.default.svc.cluster.local")
            #expect((tls["alpn"] as? [String])?.first == "istio-peer-exchange")
        }
        let summary = try #require(lines.last)
        #expect(summary["type"] as? String == "summary")
        for key in ["flows", "encrypted", "plaintext", "plaintextRejected", "opaque", "inconclusive"] {
            #expect(summary[key] is Int, "\(key)")
        }
        #expect(summary["result"] as? String == "fail")
        // What the result covers: the files read, no filter, and the span of the flows' packets.
        #expect(summary["files"] as? [String] == [permissive])
        #expect(summary["interface"] == nil)
        #expect(summary["filter"] is NSNull)
        let firstSeen = flows.compactMap { $0["firstSeen"] as? String }, lastSeen = flows.compactMap { $0["lastSeen"] as? String }
        #expect(summary["firstSeen"] as? String == firstSeen.min())
        #expect(summary["lastSeen"] as? String == lastSeen.max())
        #expect(firstSeen.min() != lastSeen.max())
    }

    /// The legacy client sends a bearer token; it is on the wire, never in the output.
    @Test func credentialsNeverPrinted() throws {
        let data = try Data(contentsOf: URL(fileURLWithPath: permissive))
        #expect(data.range(of: Data("wirecheck-secret-token".utf8)) != nil, "the capture should carry the token")
        for format in [[], ["--json"]] {
            let run = try wirecheck(["-r", permissive] + format)
            #expect(!run.stdout.contains("wirecheck-secret-token"))
            #expect(!run.stdout.contains("Bearer"))
            #expect(run.stdout.contains("Authorization: [redacted]"))
        }
    }

    /// `--duration` ends a live capture on a quiet interface: summary, exit 2 (nothing seen).
    @Test(.enabled(if: TestSupport.isRoot, "needs root to open an interface"))
    func durationEndsLiveCapture() throws {
        let started = Date()
        let run = try wirecheck(["-i", "lo", "--json", "--duration", "1", "port", "9"])
        let elapsed = Date().timeIntervalSince(started)
        #expect(run.status == 2, "stderr: \(run.stderr)")
        #expect(elapsed >= 1 && elapsed < 5, "took \(elapsed) s")
        let summary = try #require(try TestSupport.jsonLines(run.stdout).last)
        #expect(summary["result"] as? String == "inconclusive")
        #expect(summary["droppedByKernel"] as? Int == 0)
    }

    @Test(.enabled(if: TestSupport.isRoot, "needs root to open an interface"))
    func unknownInterfaceExitsThree() throws {
        let run = try wirecheck(["-i", "wcnosuch0", "--duration", "1"])
        #expect(run.status == 3)
        #expect(run.stderr.contains("wcnosuch0"))
    }

    // MARK: --output

    /// A fresh directory, world-writable and sticky like /tmp.
    func sharedDirectory() throws -> URL {
        let directory = FileManager.default.temporaryDirectory.appendingPathComponent("wirecheck-shared-\(UUID())")
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: false)
        try FileManager.default.setAttributes([.posixPermissions: 0o1777], ofItemAtPath: directory.path)
        return directory
    }

    @Test func outputFileGetsTheReport() throws {
        let directory = try sharedDirectory()
        defer { try? FileManager.default.removeItem(at: directory) }
        let file = directory.appendingPathComponent("report.jsonl")
        try Data("old contents that must go\n".utf8).write(to: file)
        let toFile = try wirecheck(["-r", permissive, "--json", "-o", file.path])
        let toStdout = try wirecheck(["-r", permissive, "--json"])
        #expect(toFile.status == 1)
        #expect(toFile.stdout.isEmpty)
        #expect(try String(contentsOf: file, encoding: .utf8) == toStdout.stdout)
    }

    /// `-o -` is standard output, as `-r -` is standard input: no file named "-".
    @Test func outputDashIsStandardOutput() throws {
        let binary = try #require(TestSupport.binary, "wirecheck binary not built next to the tests")
        let directory = try sharedDirectory()
        defer { try? FileManager.default.removeItem(at: directory) }
        let script = "cd '\(directory.path)' && '\(binary.path)' -r '\(permissive)' --json -o -"
        let dash = try TestSupport.run(URL(fileURLWithPath: "/bin/sh"), ["-c", script])
        let plain = try wirecheck(["-r", permissive, "--json"])
        #expect(dash.status == 1, "stderr: \(dash.stderr)")
        #expect(!dash.stdout.isEmpty)
        #expect(dash.stdout == plain.stdout)
        #expect(try FileManager.default.contentsOfDirectory(atPath: directory.path).isEmpty)
    }

    /// Plants `report.txt` in a shared directory as a link (made by `link`)
    /// to a file holding "precious", runs wirecheck with `-o report.txt`, and
    /// checks it refused with `message` and left the file alone.
    func expectRefusedLink(_ message: String, link: (URL, URL) throws -> Void) throws {
        let directory = try sharedDirectory()
        defer { try? FileManager.default.removeItem(at: directory) }
        let victim = directory.appendingPathComponent("victim")
        try Data("precious\n".utf8).write(to: victim)
        let report = directory.appendingPathComponent("report.txt")
        try link(report, victim)
        let run = try wirecheck(["-r", permissive, "-o", report.path])
        #expect(run.status == 3)
        #expect(run.stderr.contains(message), "stderr: \(run.stderr)")
        #expect(try String(contentsOf: victim, encoding: .utf8) == "precious\n")
    }

    @Test func outputRefusesASymbolicLink() throws {
        try expectRefusedLink("symbolic link") { try FileManager.default.createSymbolicLink(at: $0, withDestinationURL: $1) }
    }

    @Test func outputRefusesHardLinksAndOthersFilesInSharedDirectories() throws {
        try expectRefusedLink("hard links") { try FileManager.default.linkItem(at: $1, to: $0) }
        let directory = try sharedDirectory()
        defer { try? FileManager.default.removeItem(at: directory) }

        // Planted by another user (only testable as root, who can chown).
        guard TestSupport.isRoot else { return }
        let planted = directory.appendingPathComponent("planted.txt")
        try Data("theirs\n".utf8).write(to: planted)
        #expect(chown(planted.path, 65_534, 65_534) == 0)
        let other = try wirecheck(["-r", permissive, "-o", planted.path])
        #expect(other.status == 3)
        #expect(other.stderr.contains("owned by another user"), "stderr: \(other.stderr)")
        #expect(try String(contentsOf: planted, encoding: .utf8) == "theirs\n")
    }
}
