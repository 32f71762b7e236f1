import PacketDecoding

/// A server whose plaintext the site expects by design (`--expect-plaintext`):
/// a port on any address, or a port on one address or a range. A port alone
/// allows it on every server of the node; an address keeps the allowance to
/// the one service that needs it (a node exporter on the nodes' addresses,
/// not port 9100 wherever it is).
public struct ExpectedPlaintextServer: Sendable, Equatable, CustomStringConvertible {
    /// nil: any address.
    public let network: IPNetwork?
    public let port: UInt16

    public init(port: UInt16, network: IPNetwork? = nil) {
        self.port = port
        self.network = network
    }

    /// Why an entry was refused, in words that show the forms taken.
    public struct ParseError: Error, Equatable, CustomStringConvertible {
        public let description: String
    }

    /// `PORT`, `ADDRESS:PORT` or `RANGE:PORT` (`10.244.0.0/16:9100`), IPv6
    /// in brackets (`[fd00::1]:8080`, `[fd00::/64]:8080`).
    public init(parsing text: Substring) throws(ParseError) {
        let forms = "a port (1-65535), ADDRESS:PORT or RANGE:PORT, e.g. 4191,10.244.0.0/16:9100,[fd00::1]:8080"
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
            if text.first != "[", network?.address.isIPv6 == true {
                throw ParseError(description: "'\(text)': write an IPv6 address in brackets, then its port, as [fd00::1]:8080")
            }
            if text.first == "[", network?.address.isIPv6 == false {
                throw ParseError(description: "'\(text)': brackets are for IPv6 addresses; write \(host):\(port)")
            }
        }
        self.init(port: port, network: network)
    }

    /// Whether this flow's server is the one named: a port alone by the port
    /// the server listens on (after a NAT, the pod's), as Istio's allowance;
    /// an address by the server the client sent to or, after a NAT the
    /// capture shows, the one it reached (a Service's ClusterIP and port,
    /// or its pod's).
    public func matches(_ observation: FlowObservation) -> Bool {
        guard let network else { return observation.listeningPort == port }
        if observation.server.port == port, network.contains(observation.server.address) { return true }
        guard let translated = observation.translatedServer else { return false }
        return translated.port == port && network.contains(translated.address)
    }

    /// As the reason names it: `port 9100`, `10.244.0.0/16:9100`, `[fd00::1]:8080`.
    public var description: String {
        guard let network else { return "port \(port)" }
        return network.address.isIPv6 ? "[\(network)]:\(port)" : "\(network):\(port)"
    }
}
