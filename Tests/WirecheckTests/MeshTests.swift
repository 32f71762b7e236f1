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
}

