import PacketDecoding
import PayloadClassification
import VerdictPolicy

/// wirecheck's version, as `--version` and the JSON summary give it: which
/// rules judged a run that an auditor keeps. A packaged binary's commit is in
/// the tarball's `BUILD` file.
public enum WirecheckVersion {
    public static let current = "0.39.0"
}

/// Facts about the capture itself, for the summary.
public struct CaptureFacts: Sendable {
    /// In words, for the text summary: a file's name, "3 files (…)", "interface any".
    public var source: String
    /// The files read, in the order given; empty for a live capture.
    public var files: [String] = []
    /// The interface captured on; nil for files.
    public var interface: String?
    /// The BPF filter the packets were read through, as given; nil for none.
    public var filter: String?
    /// libpcap's own description of itself (`pcap_lib_version`), if known.
    public var libpcapVersion: String?
    public var frames = 0
    public var tcpSegments = 0
    /// Kernel drops (live captures only).
    public var droppedByKernel: UInt64?
    public var droppedByInterface: UInt64?
    /// Flows judged early because the flow table was full (`--max-flows`).
    public var evictedFlows = 0
    /// Resets of connections not otherwise tracked, which started no flow.
    public var untrackedResets = 0
    /// Windows a classifier gave up because all flows' windows together were
    /// at their limit (a quarter of `--max-buffer`); their bytes count as unverified.
    public var windowsShed = 0
    /// IP fragments seen; datagrams rebuilt from them; datagrams lost
    /// (incomplete, or fragments that disagreed), whose TCP bytes show as gaps.
    public var fragments = 0
    public var reassembledDatagrams = 0
    public var lostDatagrams = 0
    /// Set when reading stopped early because of an error (e.g. a truncated file).
    public var readError: String?
    /// The verdicts whose flows were listed (`--show`); nil: all of them.
    public var shownVerdicts: [Verdict]?
    /// `--show failing`: the flows that fail the run were listed too.
    public var shownFailing = false
    /// IP traffic other than TCP, which no verdict covers.
    public var unjudged = UnjudgedTraffic()

    public init(source: String) { self.source = source }

    public var drops: UInt64 { (droppedByKernel ?? 0) + (droppedByInterface ?? 0) }
}

/// Lists only the flows whose verdicts are in `shown` (`--show`): on a busy
/// node a live run prints a line per flow, and the one looking for cleartext
/// wants the plaintext ones. The summary still counts every flow (the
/// caller's `RunSummary` sees them all) and says what was left out
/// (`CaptureFacts.shownVerdicts`).
///
/// `failing` lists the flows that fail the run, whatever their verdict
/// (plaintext the policy does not expect, `--fail-on`'s verdicts): on a node
/// where kubelet's probes are expected plaintext, `--show plaintext` lists
/// every probe, `--show failing` only what needs a look.
public struct ShownVerdicts<Base: Reporter>: Reporter {
    public private(set) var base: Base
    private let shown: Set<Verdict>
    private let failing: Bool
    private let failOn: Set<Verdict>

    public init(_ base: Base, shown: Set<Verdict>, failing: Bool = false, failOn: Set<Verdict> = []) {
        self.base = base
        self.shown = shown
        self.failing = failing
        self.failOn = failOn
    }

    public mutating func write(_ flow: FlowReport, to output: inout ByteWriter) {
        if shown.contains(flow.verdict) || failing && RunSummary.fails(flow.verdict, expected: flow.expected, failOn: failOn) {
            base.write(flow, to: &output)
        }
    }

    public var names: EndpointNames? {
        get { base.names }
        set { base.names = newValue }
    }

    public func summary(_ summary: RunSummary, capture: CaptureFacts) -> String {
        base.summary(summary, capture: capture)
    }
}

/// Writes reports somewhere: one per flow as it becomes final, then a summary.
public protocol Reporter: SendableMetatype {
    /// Appends the flow's report to `output`. A replay writes every report
    /// into one batch buffer this way: a String per report (allocated,
    /// checked as UTF-8, copied into the batch, freed) was a tenth of the
    /// reporting thread's work.
    mutating func write(_ flow: FlowReport, to output: inout ByteWriter)
    func summary(_ summary: RunSummary, capture: CaptureFacts) -> String
    /// Names shown beside addresses (`--names`); nil: none asked for. Set
    /// again when a live capture reads a changed names file.
    var names: EndpointNames? { get set }
}

extension Reporter {
    /// The flow's report on its own.
    public mutating func report(_ flow: FlowReport) -> String {
        var output = ByteWriter(capacity: 512)
        write(flow, to: &output)
        return output.string
    }
}

/// One line per flow for people; the summary says what it means.
public struct TextReporter: Reporter {
    /// Names shown beside addresses (`--names`); nil: none asked for.
    public var names: EndpointNames?

    public init(names: EndpointNames? = nil) { self.names = names }

    /// Where the verdict's column ends and continuation lines start.
    static let indent = 19

    /// Servers listed in the text summary; JSON lists all that were tracked.
    static let failingServersShown = 20

    /// The IP traffic besides TCP, which no verdict covers, in one line;
    /// and when there were no flows but encrypted tunnels, where to look.
    static func unjudgedText(_ traffic: UnjudgedTraffic, flows: Int, names: EndpointNames? = nil) -> String {
        guard !traffic.isEmpty else { return "" }
        let capped = traffic.hostPairsCapped ? " or more" : ""
        var parts: [String] = []
        for kind in UnjudgedTraffic.Kind.allCases where traffic[kind].packets > 0 {
            let count = traffic[kind]
            parts.append(kind.packets(count.packets) + " between \(count.hostPairs)\(capped) host pair\(count.hostPairs == 1 && capped.isEmpty ? "" : "s")"
                + (kind.remark.map { " (\($0))" } ?? ""))
        }
        var text = "not judged (not TCP): " + parts.joined(separator: ", ") + "\n"
        if flows == 0, traffic[.wireGuard].packets + traffic[.esp].packets > 0 {
            text += "note: the pods' TCP inside those tunnels is judged where it is captured before the node encrypts it: on the pods' interfaces, or -i any (see the README)\n"
        }
        text += cleartextUDPText(traffic, names: names)
        return text
    }

    /// Destinations listed in the text summary; JSON lists all that were tracked.
    static let cleartextDestinationsShown = 10

    /// Where cleartext UDP (memberlist gossip, text) went, most packets first.
    static func cleartextUDPText(_ traffic: UnjudgedTraffic, names: EndpointNames?) -> String {
        let ranked = traffic.cleartextDestinationsRanked
        guard !ranked.isEmpty else { return "" }
        func label(_ destination: Endpoint) -> String {
            names?.name(of: destination.address).map { "\(destination) (\($0))" } ?? "\(destination)"
        }
        let shown = ranked.prefix(cleartextDestinationsShown)
        let width = shown.map { label($0.destination.destination).count }.max() ?? 0
        var text = "cleartext UDP by destination, most packets first:\n"
        for entry in shown {
            let destination = label(entry.destination.destination)
            text += "  " + destination + String(repeating: " ", count: width - destination.count)
            text += "  \(entry.packets) packet\(entry.packets == 1 ? "" : "s") (\(entry.destination.kind == .memberlist ? "memberlist gossip" : "text"))\n"
        }
        let unlisted = ranked.dropFirst(cleartextDestinationsShown)
        let unlistedPackets = unlisted.reduce(0) { $0 + $1.packets } + traffic.cleartextPacketsUnlisted
        if unlistedPackets > 0 {
            text += "  and \(unlistedPackets) packet\(unlistedPackets == 1 ? "" : "s") to "
            text += traffic.cleartextPacketsUnlisted > 0
                ? "more than \(unlisted.count) other destinations (only the first \(UnjudgedTraffic.maximumDestinations) seen are tracked; --json lists those)\n"
                : "\(unlisted.count) other destination\(unlisted.count == 1 ? "" : "s") (--json lists them all)\n"
        }
        return text
    }

    /// How the encrypted TLS flows' keys were agreed, in one line; empty when there were none.
    static func keyExchangeText(_ summary: RunSummary) -> String {
        let ranked = summary.keyExchangesRanked
        let unknown = summary.keyExchangeNotSeen + summary.keyExchangeResumed
        guard !ranked.isEmpty || unknown > 0 else { return "" }
        var parts = ranked.map { entry in
            "\(entry.flows) \(entry.exchange.name)"
                + (entry.exchange.postQuantum ? " (post-quantum)"
                    : entry.exchange.lacksForwardSecrecy ? " (no forward secrecy)" : "")
        }
        if summary.keyExchangeResumed > 0 {
            parts.append("\(summary.keyExchangeResumed) resumed (agreed in an earlier handshake)")
        }
        if summary.keyExchangeNotSeen > 0 { parts.append("\(summary.keyExchangeNotSeen) not seen") }
        let postQuantum = ranked.filter(\.exchange.postQuantum).map(\.flows).reduce(0, +)
        let encrypted = ranked.map(\.flows).reduce(unknown, +)
        // What can be said of them all, from what was seen: nothing when none was.
        let verdict: String
        if ranked.isEmpty {
            verdict = ""
        } else if postQuantum == encrypted {
            verdict = "; all post-quantum"
        } else if postQuantum == 0 {
            verdict = unknown > 0 ? "; none of those seen post-quantum" : "; none post-quantum"
        } else {
            verdict = ""
        }
        return "TLS key exchange (\(encrypted) encrypted TLS flow\(encrypted == 1 ? "" : "s")): " + parts.joined(separator: ", ")
            + verdict + "\n"
    }

    /// `expected plaintext: 12 flows by --expect-plaintext kube-probe, 2 to Istio's port 15021`:
    /// what passed as expected, and by which rule.
    static func allowancesText(_ summary: RunSummary) -> String {
        let ranked = summary.allowancesRanked
        guard !ranked.isEmpty else { return "" }
        let parts = ranked.map { entry -> String in
            let flows = "\(entry.flows) flow\(entry.flows == 1 ? "" : "s")"
            if case .istioPort = entry.allowance { return "\(flows) to \(entry.allowance) (by design)" }
            return "\(flows) by \(entry.allowance)"
        }
        return "expected plaintext: " + parts.joined(separator: ", ") + "\n"
    }

    /// "failing flows by server": the servers that took the failing flows,
    /// most first, for the summary. Empty when no flow failed.
    static func failingServersText(_ servers: FailingServers, names: EndpointNames? = nil) -> String {
        guard !servers.isEmpty else { return "" }
        // Only the servers shown are ranked out: up to 10 000 are tracked.
        let shown = servers.ranked(first: failingServersShown)
        var text = "failing flows by server, most first:\n"
        func label(_ server: Endpoint) -> String {
            names?.name(of: server.address).map { "\(server) (\($0))" } ?? "\(server)"
        }
        let width = shown.map { label($0.server).count }.max() ?? 0
        for entry in shown {
            let server = label(entry.server)
            text += "  " + server + String(repeating: " ", count: width - server.count)
            text += "  \(entry.verdict.rawValue)  \(entry.flows) flow\(entry.flows == 1 ? "" : "s") from "
            text += "\(entry.clients)\(entry.clientsCapped ? "+" : "") client\(entry.clients == 1 ? "" : "s")"
            if !entry.protocols.isEmpty { text += " (\(entry.protocols.joined(separator: ", ")))" }
            text += "\n"
        }
        let unlistedServers = servers.count - shown.count
        let unlistedFlows = servers.trackedFlows - shown.reduce(0) { $0 + $1.flows } + servers.untrackedFlows
        if unlistedFlows > 0 {
            let count = servers.untrackedFlows > 0 ? "more than \(unlistedServers)" : "\(unlistedServers)"
            text += "  and \(unlistedFlows) failing flow\(unlistedFlows == 1 ? "" : "s") to \(count) other server\(unlistedServers == 1 && servers.untrackedFlows == 0 ? "" : "s")"
            text += servers.untrackedFlows > 0
                ? " (only the first \(FailingServers.serverLimit) servers seen are tracked; --json lists those)\n"
                : " (--json lists them all)\n"
        }
        return text
    }

    /// An address a NAT rewrote, with its name if it has one.
    private func appendTranslated(_ endpoint: Endpoint, to line: inout ByteWriter) {
        line.append(endpoint)
        if names != nil, let name = names?.name(of: endpoint.address) {
            line.append(UInt8(ascii: " "))
            line.append(name)
        }
    }

    /// Written as bytes, never as Strings appended to each other: a line per
    /// flow is per-flow work, and String appends showed in profiles of
    /// captures with many short flows.
    public mutating func write(_ flow: FlowReport, to line: inout ByteWriter) {
        let start = line.count
        line.append(flow.verdict.rawValue)
        if flow.expected { line.append(" (expected)") }
        line.append(repeating: UInt8(ascii: " "), count: max(1, Self.indent - (line.count - start)))
        line.append(flow.client)
        if names != nil { Self.appendName(names?.name(of: flow.client.address), to: &line) }
        line.append(" -> ")
        line.append(flow.server)
        if names != nil { Self.appendName(names?.name(of: flow.server.address), to: &line) }
        let translatedServer = flow.observation.translatedServer, translatedClient = flow.observation.translatedClient
        if translatedServer != nil || translatedClient != nil {
            line.append(" (")
            if let translatedServer {
                line.append("DNAT to ")
                appendTranslated(translatedServer, to: &line)
                if translatedClient != nil { line.append(", ") }
            }
            if let translatedClient {
                line.append("SNAT to ")
                appendTranslated(translatedClient, to: &line)
            }
            line.append(UInt8(ascii: ")"))
        }
        if flow.observation.tunnel != .none {
            line.append(" [")
            line.append(flow.observation.tunnel.description)
            line.append(UInt8(ascii: "]"))
        }
        if let name = flow.protocolName {
            line.append("  ")
            line.append(name)
        }
        if let mesh = flow.mesh {
            line.append(" (")
            line.append(mesh.rawValue)
            line.append(UInt8(ascii: ")"))
        }
        if let tls = flow.tls, flow.protocolName == "tls" {
            line.append("  ")
            line.append(tls.version ?? "version not seen")
            if let exchange = tls.keyExchange {
                line.append(" (")
                line.append(exchange.name)
                if exchange.postQuantum { line.append(", post-quantum") }
                if tls.resumed { line.append(", resumed") }
                if tls.externalPreSharedKey { line.append(", external PSK") }
                line.append(UInt8(ascii: ")"))
            } else if tls.resumed {
                // Said once: the certificates' absence is the resumption's.
                line.append(tls.clientCertificate == TLSFacts.notExchangedResumed ? " (resumed, no certificates exchanged)" : " (resumed)")
            } else if tls.externalPreSharedKey {
                line.append(" (external PSK)")
            }
            if let sni = tls.serverName {
                line.append(", SNI ")
                line.append(sni)
                if tls.echOffered { line.append(" (outer name: ECH offered)") }
            } else if tls.echOffered {
                line.append(", ECH offered")
            }
            for (index, alpn) in tls.alpnOffered.enumerated() {
                line.append(index == 0 ? ", ALPN " : ",")
                line.append(alpn)
            }
            if tls.legacySSLv2Hello { line.append(", legacy SSLv2-format hello") }
            tls.withCertificateNames { server, client in
                if !server.isEmpty {
                    line.append(", server cert ")
                    line.append(server)
                }
                if let cert = tls.clientCertificate, cert != TLSFacts.notExchangedResumed {
                    line.append(", client cert ")
                    line.append(cert)
                    if !client.isEmpty {
                        line.append(" (")
                        line.append(client)
                        line.append(UInt8(ascii: ")"))
                    }
                }
            }
        } else {
            flow.writeEvidence(to: &line, before: "  \"", after: "\"")
        }
        line.append(UInt8(ascii: "\n"))
        line.append(repeating: UInt8(ascii: " "), count: Self.indent)
        line.append("why: ")
        flow.writeReason(to: &line)
        for note in flow.notes {
            line.append(UInt8(ascii: "\n"))
            line.append(repeating: UInt8(ascii: " "), count: Self.indent)
            line.append("note: ")
            line.append(note)
        }
        line.append(UInt8(ascii: "\n"))
    }

    /// " (shop/orders-7d9f)" after an address that has a name. Static, and
    /// reached only with `--names`: as a method reading `names` itself it
    /// cost every flow line two calls and their exclusivity checks.
    private static func appendName(_ name: String?, to line: inout ByteWriter) {
        guard let name else { return }
        line.append(" (")
        line.append(name)
        line.append(UInt8(ascii: ")"))
    }

    public func summary(_ summary: RunSummary, capture: CaptureFacts) -> String {
        var text = "\n\(summary.flows) flow\(summary.flows == 1 ? "" : "s"): "
        text += "\(summary.count(.encrypted)) encrypted, \(summary.count(.plaintext)) plaintext"
        text += summary.expectedPlaintext > 0 ? " (\(summary.expectedPlaintext) expected), " : ", "
        text += "\(summary.count(.plaintextRejected)) plaintext-rejected, \(summary.count(.opaque)) opaque, "
        text += "\(summary.count(.inconclusive)) inconclusive\n"
        text += "\(capture.frames) packets read from \(capture.source)"
        if let filter = capture.filter { text += " through the filter \"\(filter)\"" }
        text += ", \(capture.tcpSegments) TCP"
        if let kernel = capture.droppedByKernel {
            text += ", \(kernel) dropped by the kernel, \(capture.droppedByInterface ?? 0) by the interface"
        }
        text += "\n"
        text += Self.unjudgedText(capture.unjudged, flows: summary.flows, names: names)
        if capture.fragments > 0 {
            text += "\(capture.fragments) IP fragments: \(capture.reassembledDatagrams) datagrams reassembled"
            text += capture.lostDatagrams > 0 ? ", \(capture.lostDatagrams) incomplete or inconsistent (their bytes count as gaps)\n" : "\n"
        }
        if capture.drops > 0 { text += "warning: packets were dropped; verdicts of flows open at the time are suspect\n" }
        // Also here, not only on stderr: a report kept in a file (`-o`, a
        // redirect) must not show a PASS without saying what it covers.
        if let error = capture.readError {
            text += "warning: reading stopped early: \(error); verdicts cover only the \(capture.frames) packets before it\n"
        }
        if !summary.coversWholeCapture {
            text += "warning: the replay was stopped (Ctrl-C or SIGTERM) before the end of the capture: verdicts cover only the \(capture.frames) packets read, the rest was not checked\n"
        }
        if let shown = capture.shownVerdicts {
            let listed = (capture.shownFailing ? ["failing the run"] : []) + shown.map(\.rawValue)
            text += "note: flows listed only when \(listed.joined(separator: ", ")) (--show); the counts cover every flow\n"
        }
        text += Self.keyExchangeText(summary)
        text += Self.failingServersText(summary.failingServers, names: names)
        text += Self.allowancesText(summary)
        if capture.untrackedResets > 0 {
            let one = capture.untrackedResets == 1
            text += "note: \(capture.untrackedResets) TCP reset packet\(one ? " of a connection" : "s of connections")"
            text += " with no other packet in the flow table (begun before the capture, or already judged): no flow to judge\n"
        }
        if capture.evictedFlows > 0 {
            text += "note: the flow table was full: \(capture.evictedFlows) flows got their verdict early (--max-flows)\n"
        }
        if capture.windowsShed > 0 {
            text += "note: the classifiers' windows were at their memory limit (a quarter of --max-buffer): \(capture.windowsShed) times a stream gave up the bytes it held while looking for TLS records or a protocol's start; they count as unverified\n"
        }
        switch summary.result {
        case .fail:
            if summary.count(.plaintext) > summary.expectedPlaintext {
                text += "result: FAIL (cleartext application data on the wire)\n"
            } else {
                let named = summary.failOn.sorted().map(\.rawValue).joined(separator: ", ")
                text += "result: FAIL (--fail-on \(named))\n"
            }
        case .pass:
            // Plaintext the policy expects does not fail the run, but it is plaintext: not "none".
            let expected = summary.expectedPlaintext
            text += expected == 0 ? "result: PASS (no plaintext flow)\n"
                : "result: PASS (no plaintext flow besides the \(expected) expected)\n"
        case .inconclusive:
            text += !summary.coversWholeCapture ? "result: INCONCLUSIVE (the replay was stopped before the end of the capture)\n"
                : "result: INCONCLUSIVE (no flow could be judged)\n"
        }
        return text
    }
}

/// JSON Lines: one object per flow, then one summary object.
public struct JSONLinesReporter: Reporter {
    /// Names for addresses (`--names`): with them, every flow carries
    /// `clientName` and `serverName` (null where an address has none).
    public var names: EndpointNames?

    public init(names: EndpointNames? = nil) { self.names = names }

    /// `by` (`istio` or `--expect-plaintext`) and `entry` (`port 15021`,
    /// `kube-probe`): the same on a flow and in the summary's count.
    static func addAllowance(_ allowance: PlaintextAllowance, to object: inout JSONObject) {
        switch allowance {
        case .istioPort(let port):
            object.add("by", "istio")
            object.add("entry", "port \(port)")
        case .listed(let listed):
            object.add("by", "--expect-plaintext")
            object.add("entry", listed.description)
        }
    }

    public mutating func write(_ flow: FlowReport, to output: inout ByteWriter) {
        let o = flow.observation
        var json = JSONObject(appendingTo: output)
        json.add("type", "flow")
        json.add("client", flow.client)
        json.add("server", flow.server)
        if let translated = o.translatedServer { json.add("translatedServer", translated) } else { json.addNull("translatedServer") }
        if let translated = o.translatedClient { json.add("translatedClient", translated) } else { json.addNull("translatedClient") }
        if let names {
            json.add("clientName", names.name(of: flow.client.address))
            json.add("serverName", names.name(of: flow.server.address))
            json.add("translatedServerName", o.translatedServer.flatMap { names.name(of: $0.address) })
            json.add("translatedClientName", o.translatedClient.flatMap { names.name(of: $0.address) })
        }
        json.add("verdict", flow.verdict.rawValue)
        if let allowance = flow.allowance {
            json.add("expected", true)
            json.addObject("expectedBy") { Self.addAllowance(allowance, to: &$0) }
        }
        let reason = json.openString("reason")
        flow.writeReason(to: &json.bytes)
        json.closeString(openedAt: reason, hasValue: true)
        json.add("protocol", flow.protocolName)
        if let tls = flow.tls { json.addObject("tls") { Self.addTLS(tls, to: &$0) } } else { json.addNull("tls") }
        json.add("mesh", flow.mesh?.rawValue)
        let evidence = json.openString("evidence")
        json.closeString(openedAt: evidence, hasValue: flow.writeEvidence(to: &json.bytes, before: "", after: ""))
        json.add("packets", o.packets)
        json.add("bytes", o.payloadBytes)
        json.add("bytesToServer", o.clientToServer.bytes)
        json.add("bytesToClient", o.serverToClient.bytes)
        json.addTimestamp("firstSeen", nanoseconds: o.firstSeenNanoseconds)
        json.addTimestamp("lastSeen", nanoseconds: o.lastSeenNanoseconds)
        json.add("tunnel", o.tunnel == .none ? nil : o.tunnel.description)
        json.add("handshakeSeen", o.handshakeSeen)
        json.add("clientClose", o.clientClosure.rawValue)
        json.add("serverClose", o.serverClosure.rawValue)
        json.add("end", o.end.rawValue)
        json.add("gapBytes", o.clientToServer.gapBytes + o.serverToClient.gapBytes)
        json.add("conflictingBytes", o.conflictingBytes)
        json.add("notes", flow.notes)
        output = json.finishLine()
    }

    /// The `tls` object's members.
    static func addTLS(_ tls: TLSFacts, to json: inout JSONObject) {
        json.add("version", tls.version)
        json.add("sni", tls.serverName)
        json.add("alpn", tls.alpnOffered)
        json.add("alpnSelected", tls.alpnSelected)
        json.addHex4("cipherSuite", tls.cipherSuite)
        json.add("cipherSuiteName", tls.cipherSuite.flatMap(TLSNames.cipherSuite))
        json.add("keyExchange", tls.keyExchange?.name)
        json.add("postQuantum", tls.keyExchange?.postQuantum)
        json.add("resumed", tls.resumed)
        json.add("handshakeSeen", tls.handshakeSeen)
        json.add("clientCertificate", tls.clientCertificate)
        tls.withCertificateNames { server, client in
            json.addText("serverCertificateName", server)
            json.addText("clientCertificateName", client)
        }
        json.add("alerts", tls.alerts)
        if tls.legacySSLv2Hello { json.add("legacySSLv2Hello", true) }
        if tls.handshakeIncomplete { json.add("handshakeIncomplete", true) }
        json.add("offeredVersions", tls.offeredVersions)
        if tls.helloRetryRequest { json.add("helloRetryRequest", true) }
        if tls.echOffered { json.add("echOffered", true) }
        if tls.externalPreSharedKey { json.add("externalPreSharedKey", true) }
    }

    public func summary(_ summary: RunSummary, capture: CaptureFacts) -> String {
        var json = JSONObject()
        json.add("type", "summary")
        json.add("version", WirecheckVersion.current)
        if let version = capture.libpcapVersion { json.add("libpcap", version) }
        if let interface = capture.interface { json.add("interface", interface) } else { json.add("files", capture.files) }
        json.add("filter", capture.filter)
        if let first = summary.firstSeenNanoseconds, let last = summary.lastSeenNanoseconds {
            json.addTimestamp("firstSeen", nanoseconds: first)
            json.addTimestamp("lastSeen", nanoseconds: last)
        } else {
            json.addNull("firstSeen")
            json.addNull("lastSeen")
        }
        json.add("flows", summary.flows)
        json.add("encrypted", summary.count(.encrypted))
        json.add("plaintext", summary.count(.plaintext))
        json.add("plaintextExpected", summary.expectedPlaintext)
        if !summary.allowances.isEmpty {
            json.addObjects("plaintextExpectedBy", summary.allowancesRanked) { object, entry in
                Self.addAllowance(entry.allowance, to: &object)
                object.add("flows", entry.flows)
            }
        }
        json.add("plaintextRejected", summary.count(.plaintextRejected))
        json.add("opaque", summary.count(.opaque))
        json.add("inconclusive", summary.count(.inconclusive))
        json.add("result", summary.result.rawValue)
        json.add("packets", capture.frames)
        json.add("tcpPackets", capture.tcpSegments)
        if let kernel = capture.droppedByKernel {
            json.add("droppedByKernel", kernel)
            json.add("droppedByInterface", capture.droppedByInterface ?? 0)
        }
        json.add("evictedFlows", capture.evictedFlows)
        json.add("untrackedResets", capture.untrackedResets)
        if capture.windowsShed > 0 { json.add("windowsShed", capture.windowsShed) }
        if !capture.unjudged.isEmpty {
            let kinds = UnjudgedTraffic.Kind.allCases.filter { capture.unjudged[$0].packets > 0 }
            json.addObjects("notJudged", kinds) { object, kind in
                let count = capture.unjudged[kind]
                object.add("kind", kind.key)
                object.add("encrypted", kind.isEncrypted)
                object.add("tunnel", kind.isEncryptedTunnel)
                object.add("packets", count.packets)
                object.add("bytes", count.bytes)
                object.add("hostPairs", count.hostPairs)
            }
            if capture.unjudged.hostPairsCapped { json.add("notJudgedHostPairsCapped", true) }
            let destinations = capture.unjudged.cleartextDestinationsRanked
            if !destinations.isEmpty {
                json.addObjects("cleartextUDP", destinations) { object, entry in
                    object.add("destination", entry.destination.destination)
                    if let names { object.add("name", names.name(of: entry.destination.destination.address)) }
                    object.add("kind", entry.destination.kind.key)
                    object.add("packets", entry.packets)
                }
            }
            if capture.unjudged.cleartextPacketsUnlisted > 0 {
                json.add("cleartextUDPToUnlistedDestinations", capture.unjudged.cleartextPacketsUnlisted)
            }
        }
        if capture.fragments > 0 {
            json.add("fragments", capture.fragments)
            json.add("reassembledDatagrams", capture.reassembledDatagrams)
            json.add("lostDatagrams", capture.lostDatagrams)
        }
        if summary.keyExchangeNotSeen > 0 || summary.keyExchangeResumed > 0 || !summary.keyExchanges.isEmpty {
            json.addObjects("keyExchanges", summary.keyExchangesRanked) { object, entry in
                object.add("keyExchange", entry.exchange.name)
                object.add("postQuantum", entry.exchange.postQuantum)
                object.add("flows", entry.flows)
            }
            json.add("keyExchangeResumed", summary.keyExchangeResumed)
            json.add("keyExchangeNotSeen", summary.keyExchangeNotSeen)
        }
        if !summary.failingServers.isEmpty {
            json.addObjects("failingServers", summary.failingServers.ranked) { object, entry in
                object.add("server", entry.server)
                if let names { object.add("name", names.name(of: entry.server.address)) }
                object.add("verdict", entry.verdict.rawValue)
                object.add("flows", entry.flows)
                object.add("clients", entry.clients)
                object.add("clientsCapped", entry.clientsCapped)
                object.add("protocols", entry.protocols)
            }
            if summary.failingServers.untrackedFlows > 0 { json.add("failingFlowsToUnlistedServers", summary.failingServers.untrackedFlows) }
        }
        if let shown = capture.shownVerdicts { json.add("shownVerdicts", (capture.shownFailing ? ["failing"] : []) + shown.map(\.rawValue)) }
        if let error = capture.readError { json.add("readError", error) }
        if !summary.coversWholeCapture { json.add("stoppedEarly", true) }
        return json.line()
    }
}
