import Testing
@testable import VerdictPolicy

@Suite struct MeshTests {
    static func facts(sni: String? = nil, alpn: [String] = [], version: String? = "TLS 1.3") -> TLSFacts {
        var facts = TLSFacts()
        facts.serverName = sni
        facts.alpnOffered = alpn
        facts.version = version
        return facts
    }

    @Test(arguments: [
        (facts(alpn: ["istio-peer-exchange", "istio"]), UInt16(80), Mesh?.some(.istioSidecar)),
        (facts(alpn: ["istio-h2"]), 8080, .istioSidecar),
        (facts(sni: "outbound_.9080_.v1_.reviews.default.svc.cluster.local"), 9080, .istioSidecar),
        (facts(sni: "outbound_.80_._.webserver.default.svc.cluster.local", alpn: ["http/1.1"]), 80, .istioSidecar),
        (facts(alpn: ["h2"]), 15_008, .istioAmbient),
        (facts(sni: "web.default.serviceaccount.identity.linkerd.cluster.local", alpn: []), 4143, .linkerd),
        (facts(sni: "www.example.com", alpn: ["h2", "http/1.1"]), 443, nil),
        (facts(alpn: ["h2"]), 443, nil),
        (facts(sni: "outbound_.x_._.svc"), 80, nil),
        (facts(sni: "api.example", alpn: ["h2"]), 15_008, nil),
    ])
    func identify(_ facts: TLSFacts, _ port: UInt16, _ expected: Mesh?) {
        #expect(Mesh.identify(facts, serverPort: port) == expected)
    }

    /// The SNI is read in place; its four parts as Istio writes them, and
    /// each way of missing one.
    @Test(arguments: [
        ("outbound_.80_.v1_.reviews", true), ("inbound_.9080_._.ratings.default.svc.cluster.local", true),
        ("outbound_.80_._.a.b.c", true), ("outbound_.80_.v1_..x", true),
        ("outbound_.80_._.", false), ("outbound_.80._.x", false), ("outbound_._._.x", false),
        ("outbound_.80_.v1.x", false), ("outbound_.80_..x", false), ("outbound_.80_._", false), ("outbound_.80_", false),
        ("Outbound_.80_._.x", false), ("outbound.80_._.x", false), ("", false), ("www.example.com", false),
    ])
    func istioSNI(_ sni: String, _ expected: Bool) {
        #expect(Mesh.isIstioOutboundSNI(sni) == expected)
    }

    @Test func istioALPNValues() {
        for value in ["istio", "istio-peer-exchange", "istio-http/1.0", "istio-http/1.1", "istio-h2"] { #expect(Mesh.isIstioALPN(value)) }
        for value in ["h2", "http/1.1", "istio-http/2", "istio-", "Istio", ""] { #expect(!Mesh.isIstioALPN(value)) }
    }
}
