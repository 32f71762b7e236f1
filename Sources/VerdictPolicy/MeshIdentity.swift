/// Which service mesh, if any, a TLS flow's cleartext handshake points to.
/// Encrypted traffic outside a mesh is still encrypted; this says whose.
public enum Mesh: String, Sendable, Equatable {
    /// Istio sidecar mutual TLS: Istio ALPN values, or the `outbound_.<port>_.<subset>_.<host>` SNI.
    case istioSidecar = "istio-sidecar"
    /// Istio ambient HBONE: TLS 1.3 to port 15008 with ALPN h2 and no SNI.
    case istioAmbient = "istio-ambient"
    /// Linkerd: SNI `<sa>.<ns>.serviceaccount.identity.linkerd.<trust domain>`.
    case linkerd

    /// ALPN values Istio sidecars offer for mutual TLS between workloads.
    /// Compared, not hashed: a set hashed every value of every TLS flow.
    static func isIstioALPN(_ value: String) -> Bool {
        switch value {
        case "istio", "istio-peer-exchange", "istio-http/1.0", "istio-http/1.1", "istio-h2": return true
        default: return false
        }
    }

    /// Recognises the mesh from what the handshake showed; nil for other TLS.
    public static func identify(_ tls: TLSFacts, serverPort: UInt16) -> Mesh? {
        if tls.alpnOffered.contains(where: isIstioALPN) { return .istioSidecar }
        if let sni = tls.serverName {
            if isIstioOutboundSNI(sni) { return .istioSidecar }
            if sni.contains(".serviceaccount.identity.linkerd.") { return .linkerd }
        }
        if serverPort == 15_008, tls.serverName == nil, tls.alpnOffered.contains("h2"),
           tls.version == "TLS 1.3" || tls.version == nil {
            return .istioAmbient
        }
        return nil
    }

    /// `outbound_.80_._.webserver.default.svc.cluster.local`: direction, port
    /// (digits, then `_`), subset (ending in `_`), host. Read in place: split
    /// into parts, it made an array for every TLS flow with a server name.
    static func isIstioOutboundSNI(_ sni: String) -> Bool {
        var rest = Substring(sni).utf8
        func take(_ literal: StaticString) -> Bool {
            let bytes = UnsafeBufferPointer(start: literal.utf8Start, count: literal.utf8CodeUnitCount)
            guard rest.starts(with: bytes) else { return false }
            rest = rest.dropFirst(bytes.count)
            return true
        }
        guard take("outbound_.") || take("inbound_.") else { return false }
        let digits = rest.prefix { $0 >= UInt8(ascii: "0") && $0 <= UInt8(ascii: "9") }.count
        guard digits > 0 else { return false }
        rest = rest.dropFirst(digits)
        guard take("_.") else { return false }
        guard let dot = rest.firstIndex(of: UInt8(ascii: ".")), dot > rest.startIndex,
              rest[rest.index(before: dot)] == UInt8(ascii: "_") else { return false }
        return rest.index(after: dot) < rest.endIndex
    }
}
