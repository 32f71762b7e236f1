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
    static let istioALPN: Set<String> = ["istio", "istio-peer-exchange", "istio-http/1.0", "istio-http/1.1", "istio-h2"]

    /// Recognises the mesh from what the handshake showed; nil for other TLS.
    public static func identify(_ tls: TLSFacts, serverPort: UInt16) -> Mesh? {
        if tls.alpnOffered.contains(where: istioALPN.contains) { return .istioSidecar }
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

    /// `outbound_.80_._.webserver.default.svc.cluster.local`: direction, port, subset, host.
    static func isIstioOutboundSNI(_ sni: String) -> Bool {
        let parts = sni.split(separator: ".", maxSplits: 3, omittingEmptySubsequences: false)
        guard parts.count == 4, parts[0] == "outbound_" || parts[0] == "inbound_" else { return false }
        let port = parts[1]
        return port.hasSuffix("_") && port.dropLast().allSatisfy(\.isNumber) && !port.dropLast().isEmpty
            && parts[2].hasSuffix("_") && !parts[3].isEmpty
    }
}
