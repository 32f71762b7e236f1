import Foundation
import PacketDecoding
import PayloadClassification
import Testing
@testable import VerdictPolicy

/// `--expect-plaintext` entries: what they take, what they refuse and why,
/// and which flows they allow.
@Suite struct ExpectedPlaintextTests {
    static func address(_ text: String) -> IPAddress {
        IPAddress(parsing: Substring(text)) ?? IPAddress(ipv4: 0)
    }

    static func network(_ text: String) throws -> IPNetwork {
        try IPNetwork(parsing: Substring(text))
    }

    @Test func rangesHoldTheirAddressesAndNoOthers() throws {
        let pods = try Self.network("10.244.0.0/16")
        #expect(pods.contains(Self.address("10.244.0.0")))
        #expect(pods.contains(Self.address("10.244.255.255")))
        #expect(!pods.contains(Self.address("10.245.0.0")))
        #expect(!pods.contains(Self.address("10.243.255.255")))
        // Never the other family, not even its mapped form.
        #expect(!pods.contains(Self.address("::ffff:10.244.1.1")))
        let one = try Self.network("10.111.1.122")
        #expect(one.prefixLength == 32 && one.description == "10.111.1.122")
        #expect(one.contains(Self.address("10.111.1.122")) && !one.contains(Self.address("10.111.1.123")))
        let everything = try Self.network("0.0.0.0/0")
        #expect(everything.contains(Self.address("255.255.255.255")) && !everything.contains(Self.address("::1")))
        // IPv6 prefixes inside the high half, at its edge and in the low half.
        let v6 = try Self.network("fd00:10:244::/48")
        #expect(v6.contains(Self.address("fd00:10:244:ffff::1")) && !v6.contains(Self.address("fd00:10:245::1")))
        let half = try Self.network("fd00:1:2:3::/64")
        #expect(half.contains(Self.address("fd00:1:2:3:ffff:ffff:ffff:ffff")) && !half.contains(Self.address("fd00:1:2:4::")))
        let narrow = try Self.network("fd00::1:0/112")
        #expect(narrow.contains(Self.address("fd00::1:ffff")) && !narrow.contains(Self.address("fd00::2:0")))
        #expect(narrow.description == "fd00::1:0/112")
        #expect(try Self.network("::/0").contains(Self.address("fd00::1")))
        #expect(try Self.network("fd00::1/128").description == "fd00::1")
    }

    @Test func rangesRefusedSayWhy() {
        #expect(throws: IPNetwork.ParseError.bitsPastPrefix("10.244.1.5/16", range: "10.244.0.0/16")) {
            try Self.network("10.244.1.5/16")
        }
        #expect(throws: IPNetwork.ParseError.bitsPastPrefix("fd00::1/64", range: "fd00::/64")) {
            try Self.network("fd00::1/64")
        }
        for bad in ["10.0.0.0/33", "fd00::/129", "10.0.0.0/", "10.0.0.0/-1", "10.0.0.0/+8", "10.0.0.0/0008"] {
            #expect(throws: IPNetwork.ParseError.badPrefixLength(bad)) { try Self.network(bad) }
        }
        for bad in ["", "10.0.0", "10.0.0.256", "pods", "10.0.0.0/16/2"] {
            #expect(throws: (any Error).self) { try Self.network(bad) }
        }
    }

    static func entry(_ text: String) throws(PlaintextExpectation.ParseError) -> PlaintextExpectation {
        try PlaintextExpectation(parsing: Substring(text))
    }

    @Test func entriesTakeAPortAnAddressOrARange() throws {
        #expect(try Self.entry("4191") == .port(4191))
        #expect(try Self.entry("10.111.1.122:9100") == PlaintextExpectation.server(Self.network("10.111.1.122"), port: 9100))
        #expect(try Self.entry("10.111.1.0/24:9100") == PlaintextExpectation.server(Self.network("10.111.1.0/24"), port: 9100))
        #expect(try Self.entry("[fd00::1]:8080") == PlaintextExpectation.server(Self.network("fd00::1"), port: 8080))
        #expect(try Self.entry("[fd00::/64]:8080") == PlaintextExpectation.server(Self.network("fd00::/64"), port: 8080))
        // As the reason names them.
        #expect(try Self.entry("4191").description == "port 4191")
        #expect(try Self.entry("10.111.1.0/24:9100").description == "10.111.1.0/24:9100")
        #expect(try Self.entry("[FD00:0::1]:8080").description == "[fd00::1]:8080")
        #expect(try Self.entry("[fd00::/64]:8080").description == "[fd00::/64]:8080")
    }

    @Test(arguments: [
        ("0", "is not a port"), ("65536", "is not a port"), ("http", "is not a port"), ("", "is not a port"),
        ("+80", "is not a port"), ("10.1.2.3", "has no port: give ADDRESS:PORT, as 10.1.2.3:9100"),
        ("10.1.2.3:", "is not a port"), ("10.1.2.3:0", "is not a port"), ("10.1.2.3:http", "is not a port"),
        ("fd00::1:8080", "write an IPv6 address in brackets"), ("fd00::1", "write an IPv6 address in brackets"),
        ("[fd00::1]", "needs a port after it"), ("[fd00::1]8080", "needs a port after it"),
        ("[10.1.2.3]:80", "brackets are for IPv6 addresses; write 10.1.2.3:80"),
        ("10.1.2.300:80", "is not an IPv4 or IPv6 address"), ("pods:80", "is not an IPv4 or IPv6 address"),
        ("10.244.1.5/16:9100", "bits set past its prefix: the range is 10.244.0.0/16"),
        ("[::ffff:10.1.2.3]:80", ""),
    ])
    func entriesRefusedSayWhy(text: String, says: String) {
        if says.isEmpty {
            // A mapped IPv6 address in brackets is IPv6, and taken.
            #expect(throws: Never.self) { try Self.entry(text) }
            return
        }
        do {
            let taken = try Self.entry(text)
            Issue.record("'\(text)' was taken as \(taken)")
        } catch {
            #expect(error.description.contains(says), "\(error)")
            #expect(error.description.contains("'\(text)'"), "\(error)")
        }
    }

    /// `from RANGE [to SERVER]`: clients in a range, to any server or to a
    /// server entry's; spelled back as written, a port alone as its number.
    @Test func entriesFromClients() throws {
        let checkers = try Self.network("35.191.0.0/16")
        #expect(try Self.entry("from 35.191.0.0/16") == .fromClients(checkers, to: nil))
        #expect(try Self.entry("from 35.191.0.0/16 to 8080") == .fromClients(checkers, to: .port(8080)))
        #expect(try Self.entry(" from\t35.191.0.0/16  to 10.0.0.0/8:30080 ")
                == .fromClients(checkers, to: .server(Self.network("10.0.0.0/8"), port: 30080)))
        #expect(try Self.entry("from [fd00::/64] to [fd00::1]:80") == .fromClients(Self.network("fd00::/64"), to: .server(Self.network("fd00::1"), port: 80)))
        #expect(try Self.entry("from 35.191.0.0/16 to 8080").description == "from 35.191.0.0/16 to 8080")
        #expect(try Self.entry("from 35.191.0.0/16").description == "from 35.191.0.0/16")
        #expect(try Self.entry("from 10.1.2.3 to [fd00::/64]:80").description == "from 10.1.2.3 to [fd00::/64]:80")
        #expect(try PlaintextAllowance.listed(Self.entry("from 35.191.0.0/16 to 8080")).description
                == "--expect-plaintext 'from 35.191.0.0/16 to 8080'")
        #expect(try PlaintextAllowance.listed(Self.entry("8080")).description == "--expect-plaintext 8080")
    }

    /// Entries made of random words (the forms' own, pieces of them, stray
    /// brackets, colons and slashes): each is taken or refused with a
    /// reason naming it, never a trap; each taken is written back, as the
    /// list spells it, into the same entry.
    @Test func randomEntriesAreTakenOrRefusedAndSpelledBack() {
        let pieces = ["from", "to", "kube-probe", "10.1.2.3", "10.0.0.0/8", "10.1.2.3/33", "[fd00::1]", "fd00::/64", "[fd00::/64]:80",
                      "80", "0", "65536", ":", "/", "[", "]", "[]", "10.1.2.3:80", "10.0.0.0/8:9100", " ", "\t", "x", "", "from from"]
        // Seeded: a failure names an entry that fails again.
        var generator = SplitMix(seed: 38)
        var taken = 0
        for _ in 0..<5_000 {
            let count = Int.random(in: 1...5, using: &generator)
            let text = (0..<count).map { _ in pieces.randomElement(using: &generator) ?? "" }
                .joined(separator: Bool.random(using: &generator) ? " " : "")
            do {
                let entry = try Self.entry(text)
                taken += 1
                #expect(try Self.entry(entry.listed) == entry, "'\(text)' taken as \(entry), written back as '\(entry.listed)'")
            } catch {
                #expect(!error.description.isEmpty, "'\(text)'")
            }
        }
        #expect(taken > 100, "\(taken) of 5000 random entries taken")
    }

    @Test(arguments: [
        ("from", "write from RANGE, or from RANGE to"), ("from 10.1.2.3 8080", "write from RANGE"),
        ("from 10.1.2.3 to", "write from RANGE"), ("from 10.1.2.3 at 80", "write from RANGE"),
        ("from 10.1.2.3 to 80 to 81", "write from RANGE"), ("from pods to 80", "is not an IPv4 or IPv6 address"),
        ("from 10.1.2.3:5000 to 80", "a client is an address or range, without a port"),
        ("from 10.244.1.5/16", "the range is 10.244.0.0/16"), ("from 10.1.2.3 to 0", "is not a port"),
        ("from 10.1.2.3 to kube-probe", "kube-probe is an entry of its own"),
        ("from 10.1.2.3 to from 10.1.2.4", "write from RANGE"), ("from 10.1.2.3 to 10.1.2.4", "has no port"),
    ])
    func clientEntriesRefusedSayWhy(text: String, says: String) {
        do {
            let taken = try Self.entry(text)
            Issue.record("'\(text)' was taken as \(taken)")
        } catch {
            #expect(error.description.contains(says), "\(error)")
        }
    }

    /// The client as it sent, or as the server saw it after the node's
    /// source NAT; with a server entry, that entry must match too.
    @Test func clientEntriesMatchTheClientAsItSentOrAsTranslated() throws {
        var nodePort = Self.flow(server: "10.111.1.1:30080", translatedServer: "10.111.1.122:80")
        nodePort.translatedClient = Endpoint(address: Self.address("10.111.1.1"), port: 20324)
        for entry in ["from 10.111.1.20", "from 10.111.1.0/24", "from 10.111.1.1", "from 10.111.1.20 to 80",
                      "from 10.111.1.20 to 10.111.1.1:30080", "from 10.0.0.0/8 to 10.111.1.122:80"] {
            #expect(try Self.entry(entry).matches(nodePort), "\(entry)")
        }
        // Not another client, nor the right client to another server or port.
        for entry in ["from 10.111.1.21", "from 10.111.2.0/24", "from fd00::/8", "from 10.111.1.20 to 81",
                      "from 10.111.1.20 to 10.111.1.2:30080", "from 10.111.1.20 to 30080"] {
            #expect(try !Self.entry(entry).matches(nodePort), "\(entry)")
        }
        // Without a source NAT only the client as it sent.
        let direct = Self.flow(server: "10.111.1.122:80")
        #expect(try Self.entry("from 10.111.1.20 to 80").matches(direct))
        #expect(try !Self.entry("from 10.111.1.1 to 80").matches(direct))
    }

    static func flow(server: String, translatedServer: String? = nil) -> FlowObservation {
        func endpoint(_ text: String) -> Endpoint {
            let colon = text.lastIndex(of: ":") ?? text.endIndex
            let host = text[..<colon].trimmingCharacters(in: ["[", "]"])
            return Endpoint(address: address(host), port: UInt16(text[text.index(after: colon)...]) ?? 0)
        }
        var o = FlowObservation(client: endpoint("10.111.1.20:50462"), server: endpoint(server))
        o.translatedServer = translatedServer.map(endpoint)
        return o
    }

    @Test func entriesMatchTheServerAsAddressedOrAsTranslated() throws {
        let service = Self.flow(server: "10.96.0.10:80", translatedServer: "10.111.1.122:8080")
        // A port alone: the port the server listens on (the pod's), as Istio's allowance.
        #expect(try Self.entry("8080").matches(service))
        #expect(try !Self.entry("80").matches(service))
        // An address: the Service's address and port, or the pod's.
        #expect(try Self.entry("10.96.0.10:80").matches(service))
        #expect(try Self.entry("10.96.0.0/12:80").matches(service))
        #expect(try Self.entry("10.111.1.122:8080").matches(service))
        #expect(try Self.entry("10.111.1.0/24:8080").matches(service))
        // Not an address with the other's port, nor another address.
        #expect(try !Self.entry("10.96.0.10:8080").matches(service))
        #expect(try !Self.entry("10.111.1.122:80").matches(service))
        #expect(try !Self.entry("10.111.2.0/24:8080").matches(service))
        let direct = Self.flow(server: "10.111.1.122:80")
        #expect(try Self.entry("10.111.1.122:80").matches(direct))
        #expect(try !Self.entry("10.111.1.121:80").matches(direct))
        let v6 = Self.flow(server: "[fd00::7a]:9100")
        #expect(try Self.entry("[fd00::/64]:9100").matches(v6))
        #expect(try !Self.entry("[fd01::/64]:9100").matches(v6))
        #expect(try !Self.entry("0.0.0.0/0:9100").matches(v6))
    }

    /// The policy takes the first entry that matches, and names it; Istio's
    /// own ports keep their reason.
    @Test func thePolicyNamesTheEntryThatAllowedAFlow() throws {
        var http = DirectionSummary()
        http.kind = .http
        http.bytes = 100
        http.protocolName = "http"
        var o = Self.flow(server: "10.96.0.10:80", translatedServer: "10.111.1.122:8080")
        o.clientToServer = http
        o.serverToClient = http
        var options = PolicyOptions()
        #expect(!VerdictPolicy.judge(o, options: options).expected)
        options.expectedPlaintext = [try Self.entry("10.111.2.0/24:8080"), try Self.entry("10.96.0.0/12:80"), try Self.entry("8080")]
        let report = VerdictPolicy.judge(o, options: options)
        #expect(report.expected && report.verdict == .plaintext)
        #expect(report.expectedListing == (try Self.entry("10.96.0.0/12:80")))
        #expect(report.reason.hasSuffix("(expected: 10.96.0.0/12:80 is listed by --expect-plaintext)"), "\(report.reason)")
        options.expectedPlaintext = [try Self.entry("10.111.2.0/24:8080")]
        #expect(!VerdictPolicy.judge(o, options: options).expected)
        // Encrypted flows are never "expected".
        var tls = DirectionSummary()
        tls.kind = .tls
        tls.bytes = 500
        tls.tlsRecords = 5
        tls.handshake.clientHelloSeen = true
        o.clientToServer = tls
        o.serverToClient = tls
        options.expectedPlaintext = [try Self.entry("8080")]
        let encrypted = VerdictPolicy.judge(o, options: options)
        #expect(encrypted.verdict == .encrypted && !encrypted.expected && encrypted.expectedListing == nil)
    }

    // MARK: kubelet's probes

    /// The request kubelet's prober sends (Go's client, `DisableKeepAlives`).
    static func probe(agent: String = "kube-probe/1.32", method: String = "GET", close: Bool = true) -> [UInt8] {
        Array(("\(method) /healthz HTTP/1.1\r\nHost: 10.244.1.7:8080\r\nUser-Agent: \(agent)\r\nAccept: */*\r\n"
            + (close ? "Connection: close\r\n" : "") + "\r\n").utf8)
    }

    static let answer = Array("HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok".utf8)

    /// One probe request and nothing else, whole or cut anywhere, is a
    /// probe; anything more or other is not.
    @Test func aDirectionIsAProbeOnlyWhenItSaysOneProbeRequest() {
        let request = Self.probe()
        #expect(ClassifierTests.classify(request).kubeletProbeOnly)
        for cut in [1, 5, 30, request.count - 4, request.count - 1] {
            let pieces: [StreamPiece] = [.data(Array(request[..<cut])), .data(Array(request[cut...]))]
            #expect(ClassifierTests.classify(pieces).kubeletProbeOnly, "cut at \(cut)")
        }
        // A second request on the connection (kubelet opens one per probe).
        #expect(!ClassifierTests.classify(Self.probe(close: false) + request).kubeletProbeOnly)
        // A body, another client, another method, the header in another case
        // (Go writes it as `User-Agent`), bytes the capture lost.
        #expect(!ClassifierTests.classify(request + Array("x".utf8)).kubeletProbeOnly)
        #expect(!ClassifierTests.classify(Self.probe(agent: "curl/8.5.0")).kubeletProbeOnly)
        #expect(!ClassifierTests.classify(Self.probe(agent: "not-kube-probe/1.32")).kubeletProbeOnly)
        #expect(!ClassifierTests.classify(Self.probe(method: "POST")).kubeletProbeOnly)
        let lower = Array(String(decoding: request, as: UTF8.self).replacingOccurrences(of: "User-Agent", with: "user-agent").utf8)
        #expect(!ClassifierTests.classify(lower).kubeletProbeOnly)
        // Go's client writes Host, then User-Agent: elsewhere, it is another client.
        let reordered = Array("GET /healthz HTTP/1.1\r\nHost: 10.244.1.7:8080\r\nAccept: */*\r\nUser-Agent: kube-probe/1.32\r\n\r\n".utf8)
        #expect(!ClassifierTests.classify(reordered).kubeletProbeOnly)
        #expect(!ClassifierTests.classify([.gap(10), .data(request)]).kubeletProbeOnly)
        #expect(!ClassifierTests.classify(request, midStream: true).kubeletProbeOnly)
        // The answer's side never is.
        #expect(!ClassifierTests.classify(Self.answer).kubeletProbeOnly)
    }

    /// The evidence names kubelet's prober as the client; other agents are
    /// not shown.
    @Test func theEvidenceNamesKubeletsProber() {
        #expect(ClassifierTests.classify(Self.probe()).evidence == "GET /healthz HTTP/1.1 (Host: 10.244.1.7:8080; User-Agent: kube-probe/1.32)")
        #expect(ClassifierTests.classify(Self.probe(agent: "curl/8.5.0")).evidence == "GET /healthz HTTP/1.1 (Host: 10.244.1.7:8080)")
    }

    /// `kube-probe` allows a probe flow answered in HTTP or not at all, and
    /// names kubelet in the reason; not a flow whose client said more.
    @Test func kubeProbeAllowsProbesOnly() throws {
        var options = PolicyOptions()
        options.expectedPlaintext = [try Self.entry("kube-probe")]
        var o = Self.flow(server: "10.244.1.7:8080")
        o.clientToServer = ClassifierTests.classify(Self.probe())
        o.serverToClient = ClassifierTests.classify(Self.answer)
        let report = VerdictPolicy.judge(o, options: options)
        #expect(report.verdict == .plaintext && report.expected && report.expectedListing == .kubeletProbe)
        #expect(report.reason.hasSuffix("(expected: kubelet's probe, and kube-probe is listed by --expect-plaintext)"), "\(report.reason)")
        #expect(!VerdictPolicy.judge(o, options: PolicyOptions()).expected)
        // Answered with something other than HTTP: not a probe's exchange.
        o.serverToClient = ClassifierTests.classify(Array("SSH-2.0-OpenSSH_9.6\r\n".utf8))
        let sshAnswer = VerdictPolicy.judge(o, options: options)
        #expect(sshAnswer.verdict == .plaintext && !sshAnswer.expected)
        #expect(sshAnswer.notes.contains { $0.hasPrefix("the client opened with kubelet's probe request, but the server answered other than in HTTP") }, "\(sshAnswer.notes)")
        o.serverToClient = ClassifierTests.classify(Self.answer)
        o.clientToServer = ClassifierTests.classify(Self.probe(close: false) + Self.probe())
        let twice = VerdictPolicy.judge(o, options: options)
        #expect(!twice.expected)
        #expect(twice.notes.contains { $0.contains("but it sent more after that request (kubelet opens a connection for each probe)") }, "\(twice.notes)")
        // Not listed: no such note.
        #expect(!VerdictPolicy.judge(o, options: PolicyOptions()).notes.contains { $0.contains("kubelet") })
        // Bytes after the request that the capture lost: more may have been sent.
        o.clientToServer = ClassifierTests.classify([.data(Self.probe()), .gap(10)])
        #expect(o.clientToServer.openedWithKubeletProbe && !o.clientToServer.kubeletProbeOnly)
        let lost = VerdictPolicy.judge(o, options: options)
        #expect(!lost.expected)
        #expect(lost.notes.contains { $0.contains("some of the client's bytes were not captured, so it cannot be told to be one probe") }, "\(lost.notes)")
    }

    /// Allowances are counted per rule, most flows first, then by name.
    @Test func theSummaryRanksAllowances() throws {
        var http = DirectionSummary()
        http.kind = .http
        http.bytes = 100
        http.protocolName = "http"
        var options = PolicyOptions()
        options.expectedPlaintext = [try Self.entry("10.96.0.0/12:80"), try Self.entry("kube-probe")]
        var summary = RunSummary()
        for server in ["10.96.0.10:80", "10.111.1.5:15021", "10.96.0.11:80", "10.111.1.6:15020", "10.111.1.7:8080"] {
            var o = Self.flow(server: server)
            o.clientToServer = http
            o.serverToClient = http
            summary.add(VerdictPolicy.judge(o, options: options))
        }
        let ranked = summary.allowancesRanked.map { "\($0.allowance): \($0.flows)" }
        #expect(ranked == ["--expect-plaintext 10.96.0.0/12:80: 2", "Istio's port 15020: 1", "Istio's port 15021: 1"], "\(ranked)")
        #expect(summary.expectedPlaintext == 4 && summary.count(.plaintext) == 5 && summary.result == .fail)
    }
}
