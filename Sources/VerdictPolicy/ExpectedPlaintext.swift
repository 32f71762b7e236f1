import PacketDecoding
import PayloadClassification

/// Plaintext the site expects by design (`--expect-plaintext`): to a port on
/// any address, to a port on one address or a range, or kubelet's HTTP
/// probes. A port alone allows it on every server of the node; an address
/// keeps the allowance to the one service that needs it (a node exporter on
/// the nodes' addresses, not port 9100 wherever it is).
public enum PlaintextExpectation: Sendable, Equatable, CustomStringConvertible {
    /// A port on any address.
    case port(UInt16)
    /// A port on an address or range.
    case server(IPNetwork, port: UInt16)
    /// kubelet's HTTP and gRPC probes (`kube-probe`): a connection whose
    /// client sent one GET request with kubelet's `User-Agent: kube-probe/…`,
    /// or over HTTP/2 in clear one gRPC health check call with that user
    /// agent, and nothing else, answered in HTTP (or HTTP/2) or not at all. A mesh that lets probes through
    /// in clear (Linkerd's default policy authorizes them) shows one such
    /// flow per probe and pod; by what was said, not by address or port.
    case kubeletProbe
    /// From clients in an address range, to any server or to those of a
    /// server entry (`from 35.191.0.0/16 to 8080`): plaintext a site
    /// expects from a client outside the mesh (a cloud load balancer's
    /// health checkers, a scraper), not from everyone to that port.
    indirect case fromClients(IPNetwork, to: PlaintextExpectation?)

    /// Why an entry was refused, in words that show the forms taken.
    public struct ParseError: Error, Equatable, CustomStringConvertible {
        public let description: String
    }

    /// `PORT`, `ADDRESS:PORT` or `RANGE:PORT` (`10.244.0.0/16:9100`), IPv6
    /// in brackets (`[fd00::1]:8080`, `[fd00::/64]:8080`), `kube-probe`, or
    /// `from RANGE` and `from RANGE to` one of the first three. Spaces
    /// elsewhere are ignored (`10.0.0.0/8 : 80`, as a list is often typed).
    public init(parsing text: Substring) throws(ParseError) {
        let words = text.split(whereSeparator: { $0 == " " || $0 == "\t" })
        if words.first == "from" {
            self = try Self.fromClients(words)
            return
        }
        try self.init(server: Substring(words.joined()))
    }

    /// `from RANGE` or `from RANGE to SERVER`, in words.
    private static func fromClients(_ words: [Substring]) throws(ParseError) -> PlaintextExpectation {
        // The entry as messages quote it, spaced as the forms are.
        let entry = words.joined(separator: " ")
        guard words.count == 2 || words.count == 4 && words[2] == "to" else {
            throw ParseError(description: "'\(entry)': write from RANGE, or from RANGE to a port, ADDRESS:PORT or RANGE:PORT, e.g. from 35.191.0.0/16 to 8080")
        }
        // A client's address alone: its ports are the kernel's choice.
        let clientText = words[1].first == "[" && words[1].last == "]" ? words[1].dropFirst().dropLast() : words[1]
        let clients: IPNetwork
        do {
            clients = try IPNetwork(parsing: clientText)
        } catch {
            // `10.1.2.3:5000`: a port where none belongs.
            let hint = clientText.contains(".") && clientText.contains(":") ? " (a client is an address or range, without a port)" : ""
            throw ParseError(description: "'\(entry)': \(error)\(hint)")
        }
        guard words.count == 4 else { return .fromClients(clients, to: nil) }
        let server = try PlaintextExpectation(server: words[3])
        guard server != .kubeletProbe else {
            throw ParseError(description: "'\(entry)': kube-probe is an entry of its own, not a server")
        }
        return .fromClients(clients, to: server)
    }

    /// A server entry: `PORT`, `ADDRESS:PORT`, `RANGE:PORT` or `kube-probe`.
    private init(server text: Substring) throws(ParseError) {
        if text == "kube-probe" {
            self = .kubeletProbe
            return
        }
        let forms = "a port (1-65535), ADDRESS:PORT, RANGE:PORT or kube-probe, e.g. 4191,10.244.0.0/16:9100,[fd00::1]:8080"
        let host: Substring?, portText: Substring
        if text.first == "[" {
            guard let close = text.firstIndex(of: "]"), text[close...].hasPrefix("]:") else {
                throw ParseError(description: "'\(text)': an IPv6 address in brackets needs a port after it, as [fd00::1]:8080")
            }
            host = text[text.index(after: text.startIndex)..<close]
            portText = text[text.index(close, offsetBy: 2)...]
        } else if let colon = text.firstIndex(of: ":") {
            guard text[text.index(after: colon)...].firstIndex(of: ":") == nil else {
                throw ParseError(description: "'\(text)': write an IPv6 address in brackets, then its port, as [fd00::1]:8080")
            }
            host = text[..<colon]
            portText = text[text.index(after: colon)...]
        } else {
            if (try? IPNetwork(parsing: text)) != nil {
                throw ParseError(description: "'\(text)' has no port: give ADDRESS:PORT, as \(text):9100")
            }
            host = nil
            portText = text
        }
        guard portText.allSatisfy({ $0.isASCII && $0.isNumber }), let port = UInt16(portText), port > 0 else {
            throw ParseError(description: "'\(text)' is not \(forms)")
        }
        var network: IPNetwork?
        if let host {
            do {
                network = try IPNetwork(parsing: host)
            } catch {
                throw ParseError(description: "'\(text)': \(error)")
            }
            // (Without brackets the host has no colon, so it is never IPv6.)
            if text.first == "[", network?.address.isIPv6 == false {
                throw ParseError(description: "'\(text)': brackets are for IPv6 addresses; write \(host):\(port)")
            }
        }
        self = network.map { .server($0, port: port) } ?? .port(port)
    }

    /// Whether this flow is plaintext the entry allows. A port alone by the
    /// port the server listens on (after a NAT, the pod's), as Istio's
    /// allowance; an address by the server the client sent to or, after a
    /// NAT the capture shows, the one it reached (a Service's ClusterIP and
    /// port, or its pod's).
    public func matches(_ observation: FlowObservation) -> Bool {
        switch self {
        case .port(let port):
            return observation.listeningPort == port
        case .server(let network, let port):
            if observation.server.port == port, network.contains(observation.server.address) { return true }
            guard let translated = observation.translatedServer else { return false }
            return translated.port == port && network.contains(translated.address)
        case .kubeletProbe:
            let answer = observation.serverToClient.kind
            return observation.clientToServer.kubeletProbeOnly && (answer == .http || answer == .h2c || answer == .none)
        case .fromClients(let clients, let server):
            // The client as it sent, or as the server saw it after the node's source NAT.
            guard clients.contains(observation.client.address)
                    || observation.translatedClient.map({ clients.contains($0.address) }) == true else { return false }
            return server?.matches(observation) ?? true
        }
    }

    /// As the reason names it: `port 9100`, `10.244.0.0/16:9100`,
    /// `[fd00::1]:8080`, `kube-probe`.
    public var description: String {
        switch self {
        case .port(let port): return "port \(port)"
        case .server(let network, let port):
            return network.address.isIPv6 ? "[\(network)]:\(port)" : "\(network):\(port)"
        case .kubeletProbe: return "kube-probe"
        case .fromClients(let clients, let server):
            return server.map { "from \(clients) to \($0.listed)" } ?? "from \(clients)"
        }
    }

    /// As written in the list: a port alone as its number (`to 30080`).
    var listed: String {
        if case .port(let port) = self { return String(port) }
        return description
    }
}

/// What let a plaintext flow pass: Istio's plaintext-by-design port, or an
/// `--expect-plaintext` entry. Counted in the summary, so that an auditor
/// sees what was waved through, and by which rule.
public enum PlaintextAllowance: Sendable, Equatable, CustomStringConvertible {
    case istioPort(UInt16)
    case listed(PlaintextExpectation)

    /// `Istio's port 15021`, `--expect-plaintext kube-probe`.
    public var description: String {
        switch self {
        case .istioPort(let port): return "Istio's port \(port)"
        case .listed(let entry):
            if case .fromClients = entry { return "--expect-plaintext '\(entry)'" }
            return "--expect-plaintext \(entry.listed)"
        }
    }
}
