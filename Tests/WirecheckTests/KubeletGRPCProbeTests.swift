@testable import PayloadClassification
import Testing
@testable import VerdictPolicy

/// kubelet's gRPC probes (`--expect-plaintext kube-probe`): over HTTP/2 in
/// clear, one `grpc.health.v1.Health/Check` call with kubelet's user agent on
/// a connection of its own, and only connection frames besides. The bytes
/// are a real grpc-go client's and server's (Debian's grpc-go 1.33, the
/// lab's `grpc-probe-traffic`, recorded in `Captures/lab-grpc-probes.pcap`):
/// the client dials as kubelet's prober does (`grpc.WithUserAgent
/// ("kube-probe/1.32")`); the other calls are laid out with the small HPACK
/// writer of `HTTP2RefusalTests`.
@Suite struct KubeletGRPCProbeTests {
    static func hex(_ text: String) -> [UInt8] { TestSupport.hex(text) }

    /// The probe's client side: preface, SETTINGS, SETTINGS ACK, the call's
    /// HEADERS (Huffman-coded, `user-agent: kube-probe/1.32 grpc-go/1.33.3`),
    /// its DATA (an empty HealthCheckRequest, END_STREAM), a PING ACK.
    static let probe = hex(
        "505249202a20485454502f322e300d0a0d0a534d0d0a0d0a00000004000000000000000004010000000000006a0104000000"
        + "0183864595626b2b22f394742675fb857c651d099d8bd3949d7f418d08170842b857088571b001b0ff5f8b1d75d0620d263d"
        + "4c4d65647a96eb6c655abb0f19580aec8949acac8b4c7602bb2caecf40027465864d833505b11f40899acac8b24d494f6a7f"
        + "8669f7de79b6ed000005000100000001000000000000000806010000000002041010090e0707")
    /// The same client making two calls on its connection (streams 1 and 3).
    static let twoCalls = hex(
        "505249202a20485454502f322e300d0a0d0a534d0d0a0d0a00000004000000000000000004010000000000006a0104000000"
        + "0183864595626b2b22f394742675fb857c651d099d8bd3949d7f418d08170842b857088571b001b0ff5f8b1d75d0620d263d"
        + "4c4d65647a96eb6c655abb0f19580aec8949acac8b4c7602bb2caecf40027465864d833505b11f40899acac8b24d494f6a7f"
        + "8669f7df0bce5b000005000100000001000000000000000806010000000002041010090e0707000004080000000000000000"
        + "0700000806000000000002041010090e070700000f0104000000038386c3c2c1c0bf7e8669f7de704fdb0000050001000000"
        + "03000000000000000806010000000002041010090e07070000040800000000000000000700000806000000000002041010090e0707")
    /// One call with grpc-go's own user agent (`grpc-go/1.33.3`): an application's client.
    static let applicationCall = hex(
        "505249202a20485454502f322e300d0a0d0a534d0d0a0d0a00000004000000000000000004010000000000005f0104000000"
        + "0183864595626b2b22f394742675fb857c651d099d8bd3949d7f418d08170842b857088571b001b0ff5f8b1d75d0620d263d"
        + "4c4d65647a8b9acac8b4c7602bb2caecff40027465864d833505b11f40899acac8b24d494f6a7f8669f7df00456f00000500"
        + "0100000001000000000000000806010000000002041010090e07070000040800000000000000000700000806000000000002"
        + "041010090e0707")
    /// The health server's answer to the probe: SETTINGS, SETTINGS ACK,
    /// WINDOW_UPDATE, PING, HEADERS `:status 200`, DATA (SERVING), trailers.
    static let served = hex(
        "0000060400000000000005000040000000000401000000000000040800000000000000000500000806000000000002041010"
        + "090e070700000e010400000001885f8b1d75d0620d263d4c4d65640000070000000000010000000002080100001801050000"
        + "000140889acac8b21234da8f013040899acac8b5254207317f00")

    static let preface = Array("PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n".utf8)
    static let settings = HTTP2RefusalTests.frame(0x4, 0, 0, [])

    /// A call laid out with literal (not Huffman-coded) fields, then its
    /// message: for the variations the real client does not make.
    static func call(method: String = "POST", path: String = KubeletGRPCProbe.healthCheckPath,
                     agent: String = "kube-probe/1.32 grpc-go/1.65.0", contentType: String = "application/grpc",
                     message: [UInt8] = [0, 0, 0, 0, 0], stream: UInt32 = 1) -> [UInt8] {
        typealias W = HTTP2RefusalTests
        let block = W.literal(":method", method) + W.literal(":scheme", "http") + W.literal(":path", path)
            + W.literal(":authority", "10.244.1.7:50051") + W.literal("content-type", contentType)
            + W.literal("user-agent", agent) + W.literal("te", "trailers")
        let frames = W.frame(0x1, 0x4, stream, block) + W.frame(0x0, 0x1, stream, message)
        return stream == 1 ? preface + settings + frames : frames
    }

    @Test func theRealProbeIsOneProbe() {
        let summary = ClassifierTests.classify(Self.probe)
        #expect(summary.kind == .h2c && summary.kubeletProbeOnly && summary.openedWithKubeletProbe)
        #expect(summary.evidence == "HTTP/2 prior-knowledge preface (PRI * HTTP/2.0), then POST /grpc.health.v1.Health/Check "
            + "(:authority 10.111.1.122:50051; content-type application/grpc; user-agent kube-probe/1.32 grpc-go/1.33.3)")
        // The call laid out by the writer here is one too.
        #expect(ClassifierTests.classify(Self.call()).kubeletProbeOnly)
    }

    /// However the segments cut the frames: in two anywhere, or a byte at a time.
    @Test func aProbeCutAnywhereIsOneProbe() {
        for cut in 1..<Self.probe.count {
            let pieces: [StreamPiece] = [.data(Array(Self.probe[..<cut])), .data(Array(Self.probe[cut...]))]
            let summary = ClassifierTests.classify(pieces)
            #expect(summary.kubeletProbeOnly && summary.openedWithKubeletProbe, "cut at \(cut)")
        }
        #expect(ClassifierTests.classify(Self.probe.map { StreamPiece.data([$0]) }).kubeletProbeOnly)
    }

    @Test func moreOrOtherThanOneProbeCallIsNotAProbe() {
        // A second call on the connection: it opened with a probe's call.
        let twice = ClassifierTests.classify(Self.twoCalls)
        #expect(!twice.kubeletProbeOnly && twice.openedWithKubeletProbe)
        // An application's client (its own user agent), or not a health check.
        let application = ClassifierTests.classify(Self.applicationCall)
        #expect(application.kind == .h2c && !application.kubeletProbeOnly && !application.openedWithKubeletProbe)
        #expect(application.evidence?.contains("user-agent") == false)
        for (what, bytes) in [("another agent", Self.call(agent: "grpc-health-probe/0.4.25")),
                              ("an agent ending in kube-probe", Self.call(agent: "not-kube-probe/1.32")),
                              ("another method", Self.call(path: "/grpc.health.v1.Health/Watch")),
                              ("GET", Self.call(method: "GET")),
                              ("not gRPC", Self.call(contentType: "application/json")),
                              ("a compressed message", Self.call(message: [1, 0, 0, 0, 0])),
                              ("a message shorter than it says", Self.call(message: [0, 0, 0, 0, 2, 0x0A])),
                              ("two messages", Self.call(message: [0, 0, 0, 0, 0, 0, 0, 0, 0, 0])),
                              ("a message larger than a health check's", Self.call(message: [0, 0, 0, 0x08, 0] + [UInt8](repeating: 0x41, count: 2048)))] {
            #expect(!ClassifierTests.classify(bytes).kubeletProbeOnly, "\(what)")
        }
        // After the call: data on its stream, another stream's frame, a frame
        // type not known here; a call whose message never ended it.
        for (what, extra) in [("a second probe call, its fields in full", Self.call(stream: 3)),
                              ("data after the end", HTTP2RefusalTests.frame(0x0, 0x1, 1, [0, 0, 0, 0, 0])),
                              ("another stream's reset", HTTP2RefusalTests.frame(0x3, 0, 3, [0, 0, 0, 8])),
                              ("an unknown frame", HTTP2RefusalTests.frame(0xF0, 0, 0, [1, 2, 3]))] {
            let summary = ClassifierTests.classify(Self.probe + extra)
            #expect(!summary.kubeletProbeOnly && summary.openedWithKubeletProbe, "\(what)")
        }
        let unended = Self.call(message: [0, 0, 0, 0, 0]).dropLast(14) + HTTP2RefusalTests.frame(0x0, 0, 1, [0, 0, 0, 0, 0])
        #expect(!ClassifierTests.classify(Array(unended)).kubeletProbeOnly)
        // Connection frames after the call (a GOAWAY, which a client may send at close, the call's reset) keep it one.
        let closing = HTTP2RefusalTests.frame(0x7, 0, 0, [0, 0, 0, 1, 0, 0, 0, 0]) + HTTP2RefusalTests.frame(0x3, 0, 1, [0, 0, 0, 8])
        #expect(ClassifierTests.classify(Self.probe + closing).kubeletProbeOnly)
        // But not a side that goes on pinging past what a probe's client sends.
        let ping = HTTP2RefusalTests.frame(0x6, 0, 0, [UInt8](repeating: 7, count: 8))
        let pings = (KubeletGRPCProbe.sideLimit - Self.probe.count + Self.preface.count) / ping.count
        #expect(ClassifierTests.classify(Self.probe + Array([[UInt8]](repeating: ping, count: pings).joined())).kubeletProbeOnly)
        let pinging = ClassifierTests.classify(Self.probe + Array([[UInt8]](repeating: ping, count: pings + 1).joined()))
        #expect(!pinging.kubeletProbeOnly && pinging.openedWithKubeletProbe)
    }

    @Test func aProbeNotWhollyCapturedIsNotOne() {
        // Cut inside its last frame; bytes lost before or after it; picked up mid-way.
        #expect(!ClassifierTests.classify(Array(Self.probe.dropLast(3))).kubeletProbeOnly)
        #expect(!ClassifierTests.classify([.gap(10), .data(Self.probe)]).kubeletProbeOnly)
        let lostAfter = ClassifierTests.classify([.data(Self.probe), .gap(17)])
        #expect(!lostAfter.kubeletProbeOnly && lostAfter.openedWithKubeletProbe)
        // A gap inside the frames: what follows cannot be read as frames.
        let cut = Self.probe.count - 30
        #expect(!ClassifierTests.classify([.data(Array(Self.probe[..<cut])), .gap(5), .data(Array(Self.probe[(cut + 5)...]))]).kubeletProbeOnly)
        #expect(!ClassifierTests.classify(Self.probe, midStream: true).kubeletProbeOnly)
        // The server's side never is one.
        #expect(!ClassifierTests.classify(Self.served).kubeletProbeOnly)
    }

    /// The probe's flow, answered over HTTP/2, passes with `kube-probe` and
    /// names kubelet in the reason; the two calls' flow says why it did not.
    @Test func kubeProbeAllowsGRPCProbes() throws {
        var options = PolicyOptions()
        options.expectedPlaintext = [try ExpectedPlaintextTests.entry("kube-probe")]
        var o = ExpectedPlaintextTests.flow(server: "10.111.1.122:50051")
        o.clientToServer = ClassifierTests.classify(Self.probe)
        o.serverToClient = ClassifierTests.classify(Self.served)
        #expect(o.serverToClient.kind == .h2c)
        let report = VerdictPolicy.judge(o, options: options)
        #expect(report.verdict == .plaintext && report.expected && report.expectedListing == .kubeletProbe)
        #expect(report.reason.hasSuffix("(expected: kubelet's probe, and kube-probe is listed by --expect-plaintext)"), "\(report.reason)")
        #expect(!VerdictPolicy.judge(o, options: PolicyOptions()).expected)
        o.clientToServer = ClassifierTests.classify(Self.twoCalls)
        let twice = VerdictPolicy.judge(o, options: options)
        #expect(!twice.expected)
        #expect(twice.notes.contains { $0.contains("but it sent more after that request (kubelet opens a connection for each probe)") }, "\(twice.notes)")
        o.clientToServer = ClassifierTests.classify(Self.probe)
        o.serverToClient = ClassifierTests.classify(Array("SSH-2.0-OpenSSH_9.6\r\n".utf8))
        let sshAnswer = VerdictPolicy.judge(o, options: options)
        #expect(!sshAnswer.expected)
        #expect(sshAnswer.notes.contains { $0.contains("but the server answered other than in HTTP or HTTP/2") }, "\(sshAnswer.notes)")
    }

    /// What following holds is counted while the call's frames arrive, and
    /// nothing once the probe is complete.
    @Test func heldBytesAreCountedAndBounded() {
        var classifier = DirectionClassifier()
        // The probe decides at the call's header block; the DATA frame after
        // it (9 + 5 bytes, then a 17-byte PING ACK) is followed: cut after
        // its header and two bytes of its message, those eleven are held.
        let dataStart = Self.probe.count - 31
        Array(Self.probe[..<(dataStart + 11)]).withUnsafeBytes { classifier.receive($0) }
        #expect(classifier.heldBytes == 16)
        Array(Self.probe[(dataStart + 11)...]).withUnsafeBytes { classifier.receive($0) }
        #expect(classifier.heldBytes == 0)
        #expect(classifier.finish().kubeletProbeOnly)
        // Given up at the memory limit on all flows' windows: not followed
        // to its end, it is not one; the notes say why.
        var shed = DirectionClassifier()
        Array(Self.probe[..<(dataStart + 20)]).withUnsafeBytes { shed.receive($0) }
        shed.shedHeldBytes()
        #expect(shed.heldBytes == 0)
        Array(Self.probe[(dataStart + 20)...]).withUnsafeBytes { shed.receive($0) }
        let shedSummary = shed.finish()
        #expect(!shedSummary.kubeletProbeOnly && shedSummary.openedWithKubeletProbe && shedSummary.windowShed)
        var options = PolicyOptions()
        options.expectedPlaintext = [.kubeletProbe]
        var o = ExpectedPlaintextTests.flow(server: "10.111.1.122:50051")
        o.clientToServer = shedSummary
        o.serverToClient = ClassifierTests.classify(Self.served)
        let report = VerdictPolicy.judge(o, options: options)
        #expect(!report.expected)
        #expect(report.notes.contains { $0.contains("but its frames were no longer followed at the memory limit") }, "\(report.notes)")
        #expect(report.notes.contains { $0.contains("(or a client's frames followed) were given up at the memory limit") }, "\(report.notes)")
        // A block too large for a probe's ends the following and frees it.
        var large = DirectionClassifier()
        let big = Self.call(path: KubeletGRPCProbe.healthCheckPath + String(repeating: "x", count: 2_000))
        big.withUnsafeBytes { large.receive($0) }
        #expect(large.heldBytes == 0)
        #expect(!large.finish().kubeletProbeOnly)
    }
}
