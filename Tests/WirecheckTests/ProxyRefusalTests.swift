import Foundation
import PacketDecoding
@testable import PayloadClassification
import Testing
@testable import VerdictPolicy

/// A mesh proxy refusing a cleartext request by policy answers it itself:
/// Linkerd's inbound proxy (all-authenticated, deny) with a bodiless 403 marked
/// `l5d-proxy-error`, Istio's Envoy (an AuthorizationPolicy) with a 403 whose
/// body is "RBAC: access denied". On the node that is the HTTP counterpart of
/// STRICT's reset: `plaintext-rejected`. The bytes below are laid out as
/// those proxies send them (headers in the order curl printed them from a
/// real Linkerd and a real Istio); no Linkerd or Envoy is installable here.
@Suite struct ProxyRefusalTests {
    static let request = "GET / HTTP/1.1\r\nHost: web.default.svc.cluster.local\r\nUser-Agent: curl/8.1.2\r\n"
        + "Accept: */*\r\nAuthorization: Bearer proxy-refusal-s3cret\r\n\r\n"
    static let linkerd = "HTTP/1.1 403 Forbidden\r\n"
        + "l5d-proxy-error: client 10.244.0.24:53274: server: 10.244.0.23:80: unauthorized request on route\r\n"
        + "date: Wed, 05 Jul 2023 20:33:24 GMT\r\ncontent-length: 0\r\n\r\n"
    static let istio = "HTTP/1.1 403 Forbidden\r\ncontent-length: 19\r\ncontent-type: text/plain\r\n"
        + "date: Tue, 23 Apr 2024 20:59:34 GMT\r\nserver: istio-envoy\r\nconnection: close\r\n\r\nRBAC: access denied"

    static func summary(_ chunks: [ArraySlice<UInt8>]) -> DirectionSummary {
        var classifier = DirectionClassifier()
        for chunk in chunks { chunk.withUnsafeBytes { classifier.receive($0) } }
        return classifier.finish()
    }

    static func summary(_ text: String) -> DirectionSummary {
        let bytes = Array(text.utf8)
        return summary([bytes[...]])
    }

    static func judged(_ server: DirectionSummary) -> FlowReport {
        PolicyTests.judged(summary(request), server, port: 80)
    }

    /// Each refusal is found however its bytes were cut into segments.
    @Test(arguments: [(linkerd, ProxyRefusal.Mesh.linkerd), (istio, .istio)])
    func refusalFoundHoweverCut(_ text: String, _ mesh: ProxyRefusal.Mesh) {
        let bytes = Array(text.utf8)
        let whole = Self.summary([bytes[...]])
        #expect(whole.kind == .http)
        #expect(whole.proxyRefusal == ProxyRefusal(mesh: mesh, responseLength: bytes.count))
        #expect(Self.summary(bytes.indices.map { bytes[$0...$0] }) == whole)
        var rng = SplitMix(seed: 403)
        for _ in 0..<50 {
            #expect(Self.summary(rng.chunks(of: bytes, longest: 40)) == whole)
        }
    }

    @Test func linkerdRefusalIsRejectedNotPlaintext() {
        let report = Self.judged(Self.summary(Self.linkerd))
        #expect(report.verdict == .plaintextRejected)
        #expect(report.reason == "client sent cleartext HTTP; the server's Linkerd proxy refused it by policy (403) and sent nothing else")
        let evidence = report.evidence ?? ""
        #expect(evidence.contains("HTTP/1.1 403 Forbidden from the Linkerd proxy (l5d-proxy-error: client 10.244.0.24:53274: "
            + "server: 10.244.0.23:80: unauthorized request on route)"))
        #expect(!evidence.contains("proxy-refusal-s3cret"))
    }

    @Test func istioRefusalIsRejectedNotPlaintext() {
        let report = Self.judged(Self.summary(Self.istio))
        #expect(report.verdict == .plaintextRejected)
        #expect(report.reason == "client sent cleartext HTTP; the server's Istio proxy refused it by policy (403) and sent nothing else")
        #expect(report.evidence?.contains("HTTP/1.1 403 Forbidden from Istio's Envoy (RBAC: access denied)") == true)
    }

    /// A client keeping its connection open sends its next request on it;
    /// Linkerd refuses each (its policy refusals keep the connection).
    @Test func refusalsOnAKeptConnectionAreRejected() {
        let bytes = Array((Self.linkerd + Self.linkerd + Self.linkerd).utf8)
        let whole = Self.summary([bytes[...]])
        #expect(whole.proxyRefusal == ProxyRefusal(mesh: .linkerd, responseLength: bytes.count))
        #expect(Self.summary(bytes.indices.map { bytes[$0...$0] }) == whole)
        var rng = SplitMix(seed: 3)
        for _ in 0..<50 {
            #expect(Self.summary(rng.chunks(of: bytes, longest: 60)) == whole)
        }
        let report = Self.judged(whole)
        #expect(report.verdict == .plaintextRejected)
        #expect(report.evidence?.contains("unauthorized request on route); 3 requests refused") == true)
        // Envoy's too, body and all.
        let envoy = Self.summary(Self.istio + Self.istio)
        #expect(Self.judged(envoy).verdict == .plaintextRejected)
        #expect(envoy.evidence?.hasSuffix("(RBAC: access denied); 2 requests refused") == true)
    }

    /// The HTTP/1 watch's pending answer counts with the classifiers'
    /// windows; given up, the flow is no longer taken for a refusal.
    @Test func shedWatchIsNotARefusal() {
        var classifier = DirectionClassifier()
        Array((Self.linkerd + "HTTP/1.1 403").utf8).withUnsafeBytes { classifier.receive($0) }
        #expect(classifier.heldBytes > 0)
        classifier.shedHeldBytes()
        Array(Self.linkerd.dropFirst(12).utf8).withUnsafeBytes { classifier.receive($0) }
        #expect(classifier.finish().proxyRefusal == nil)
    }

    /// The watch counts the bytes it holds, not its array's capacity (here
    /// that of the whole refusal it held before): what the allocator gave
    /// depends on the heap's history, and counted against the windows'
    /// limit it made a replay's reports differ from run to run.
    @Test func aWatchCountsTheBytesItHolds() {
        var watch = HTTP1Refusals()
        let bytes = Array((Self.linkerd + "HTTP/1.1 403").utf8)
        #expect(bytes.withUnsafeBytes { watch.receive($0) })
        #expect(watch.heldBytes == 12)
    }

    /// Anything short of a proxy's whole refusal, and nothing more, is the
    /// server answering in clear.
    @Test(arguments: [
        // The application's own 403.
        "HTTP/1.1 403 Forbidden\r\nContent-Type: text/plain\r\nContent-Length: 9\r\n\r\nForbidden",
        // The proxy's other errors are not refusals by policy (the workload is down, say).
        linkerd.replacingOccurrences(of: "403 Forbidden", with: "502 Bad Gateway"),
        // A body where Linkerd sends none.
        linkerd.replacingOccurrences(of: "content-length: 0\r\n\r\n", with: "content-length: 5\r\n\r\nhello"),
        // Refused, then the next request on the connection served in clear.
        linkerd + "HTTP/1.1 200 OK\r\ncontent-length: 12\r\n\r\npublic page\n",
        // An application's 403 passed on by Envoy (which names itself in every response).
        "HTTP/1.1 403 Forbidden\r\ncontent-length: 19\r\nserver: istio-envoy\r\n\r\nyou may not see it.",
        // Envoy's denial cut short: the capture ended inside its body.
        String(istio.dropLast(5)),
        // Envoy's denial and more after it.
        istio + "HTTP/1.1 200 OK\r\ncontent-length: 2\r\n\r\nok",
        // Two refusals, the second cut short, or an Envoy denial after a Linkerd one (not one proxy).
        linkerd + String(linkerd.prefix(40)),
        linkerd + istio,
        istio + String(istio.dropLast(3)),
        // Refusals passed on from further away, which the client's request reached in clear:
        // an nginx relaying a Linkerd-meshed backend's 403,
        "HTTP/1.1 403 Forbidden\r\nServer: nginx/1.22.1\r\nDate: Wed, 05 Jul 2023 20:33:24 GMT\r\nContent-Length: 0\r\n"
            + "Connection: keep-alive\r\nl5d-proxy-error: unauthorized request on route\r\n\r\n",
        // and an Istio ingress gateway relaying a sidecar's RBAC denial.
        istio.replacingOccurrences(of: "server: istio-envoy\r\n", with: "server: istio-envoy\r\nx-envoy-upstream-service-time: 3\r\n"),
    ])
    func otherAnswersStayPlaintext(_ server: String) {
        let report = Self.judged(Self.summary(server))
        #expect(report.verdict == .plaintext, "\(report.reason)")
    }

    /// A refusal picked up mid-stream cannot be told from a later response:
    /// the classifier does not take it for one, and the policy would not
    /// trust one from a direction picked up mid-way (or with bytes missing).
    @Test func refusalPickedUpMidStreamIsNotTrusted() {
        var classifier = DirectionClassifier(startsMidStream: true)
        Array(Self.linkerd.utf8).withUnsafeBytes { classifier.receive($0) }
        let server = classifier.finish()
        #expect(server.proxyRefusal == nil)
        #expect(Self.judged(server).verdict != .plaintextRejected)
        var pickedUp = Self.summary(Self.linkerd)
        #expect(Self.judged(pickedUp).verdict == .plaintextRejected)
        pickedUp.startedMidStream = true
        #expect(Self.judged(pickedUp).verdict == .plaintext)
        var gap = Self.summary(Self.linkerd)
        gap.gapBytes = 10
        #expect(Self.judged(gap).verdict == .plaintext)
    }
}
