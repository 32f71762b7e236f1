@testable import PayloadClassification
import Testing
@testable import VerdictPolicy

/// Mesh proxies refuse HTTP/2 in clear (gRPC without TLS, h2c) as they
/// refuse HTTP/1: Linkerd with a trailers-only gRPC answer (`grpc-status` 7
/// and `l5d-proxy-error`) or a bodiless `:status 403`, Envoy with
/// `grpc-status` 7 "RBAC: access denied" or a 403 whose DATA frame says so.
/// The server's side is followed frame by frame for the whole flow, its HPACK
/// table kept from one answer to the next. Frames here are laid out with a
/// small encoder below (literals with incremental indexing, then references
/// to the entries they added); the crafted capture has the same answers
/// written by python-h2's encoder (Huffman coding, its own indexing).
@Suite struct HTTP2RefusalTests {
    // MARK: A minimal HTTP/2 and HPACK writer

    static func frame(_ type: UInt8, _ flags: UInt8, _ stream: UInt32, _ payload: [UInt8]) -> [UInt8] {
        let n = payload.count
        return [UInt8(n >> 16 & 0xFF), UInt8(n >> 8 & 0xFF), UInt8(n & 0xFF), type, flags,
                UInt8(stream >> 24 & 0x7F), UInt8(stream >> 16 & 0xFF), UInt8(stream >> 8 & 0xFF), UInt8(stream & 0xFF)] + payload
    }

    /// An HPACK integer with an N-bit prefix whose other bits are `high`.
    static func integer(_ value: Int, prefixBits: Int, high: UInt8) -> [UInt8] {
        let mask = (1 << prefixBits) - 1
        guard value >= mask else { return [high | UInt8(value)] }
        var bytes = [high | UInt8(mask)]
        var rest = value - mask
        while rest >= 128 {
            bytes.append(UInt8(rest % 128 + 128))
            rest /= 128
        }
        return bytes + [UInt8(rest)]
    }

    static func string(_ text: String) -> [UInt8] {
        integer(text.utf8.count, prefixBits: 7, high: 0) + Array(text.utf8)
    }

    /// A literal field with incremental indexing and a literal name: it adds a table entry.
    static func literal(_ name: String, _ value: String) -> [UInt8] { [0x40] + string(name) + string(value) }

    /// A field from the table (static 1-61, dynamic from 62, newest first).
    static func indexed(_ index: Int) -> [UInt8] { integer(index, prefixBits: 7, high: 0x80) }

    static let endStream: UInt8 = 0x1, endHeaders: UInt8 = 0x4
    static let serverPreface: [UInt8] = frame(0x4, 0, 0, [0x00, 0x03, 0x00, 0x00, 0x00, 0x64]) + frame(0x4, 0x1, 0, [])
    static let message = "client 10.244.0.24:53274: server: 10.244.0.23:50051: unauthorized request on route"

    /// Linkerd's gRPC refusal: `:status 200` (static 8) and six literals, added to the table.
    static let linkerdGRPC: [UInt8] = [0x88] + literal("content-length", "0") + literal("content-type", "application/grpc")
        + literal("grpc-status", "7") + literal("grpc-message", message) + literal("l5d-proxy-error", message)
        + literal("date", "Wed, 02 Dec 2026 04:10:00 GMT")
    /// The same answer again, every field now from the table (the first's six entries are 62-67, newest first).
    static let linkerdGRPCAgain: [UInt8] = [0x88] + (62...67).reversed().flatMap { indexed($0) }

    /// A connection on which Linkerd refused two gRPC calls.
    static let linkerdTwice: [UInt8] = serverPreface
        + frame(0x1, endStream | endHeaders, 1, linkerdGRPC)
        + frame(0x8, 0, 0, [0, 0, 0x10, 0])                                  // WINDOW_UPDATE
        + frame(0x1, endStream | endHeaders, 3, linkerdGRPCAgain)
        + frame(0x6, 0x1, 0, [UInt8](repeating: 7, count: 8))                // PING ACK

    static let clientCall: [UInt8] = Array("PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n".utf8) + frame(0x4, 0, 0, [])
        + frame(0x1, endHeaders, 1, [0x83, 0x86] + literal(":path", "/helloworld.Greeter/SayHello")
            + literal("content-type", "application/grpc") + literal("authorization", "Bearer h2-refusal-s3cret"))
        + frame(0x0, endStream, 1, [0, 0, 0, 0, 7, 0x0A, 5] + Array("alice".utf8))

    static func summary(_ chunks: [ArraySlice<UInt8>]) -> DirectionSummary {
        var classifier = DirectionClassifier()
        for chunk in chunks { chunk.withUnsafeBytes { classifier.receive($0) } }
        return classifier.finish()
    }

    static func summary(_ bytes: [UInt8]) -> DirectionSummary { summary([bytes[...]]) }

    static func judged(_ server: DirectionSummary) -> FlowReport {
        PolicyTests.judged(summary(clientCall), server, port: 50051)
    }

    // MARK: Tests

    @Test func linkerdRefusingTwoCallsIsRejected() {
        let server = Self.summary(Self.linkerdTwice)
        #expect(server.kind == .h2c)
        #expect(server.proxyRefusal == ProxyRefusal(mesh: .linkerd, responseLength: Self.linkerdTwice.count, grpcStatus: 7))
        let report = Self.judged(server)
        #expect(report.verdict == .plaintextRejected)
        #expect(report.reason == "client sent cleartext HTTP/2 (h2c); the server's Linkerd proxy refused it by policy "
            + "(gRPC status 7, PERMISSION_DENIED) and sent nothing else")
        let evidence = report.evidence ?? ""
        #expect(evidence.contains("gRPC status 7 (PERMISSION_DENIED) from the Linkerd proxy (l5d-proxy-error: \(Self.message)); 2 requests refused"))
        #expect(!evidence.contains("h2-refusal-s3cret"))
    }

    /// Frames cut anywhere (inside a frame header, a header block, a body) give the same summary.
    @Test func refusalFoundHoweverCut() {
        let bytes = Self.linkerdTwice
        let whole = Self.summary(bytes)
        #expect(whole.proxyRefusal != nil)
        #expect(Self.summary(bytes.indices.map { bytes[$0...$0] }) == whole)
        var rng = SplitMix(seed: 2)
        for _ in 0..<50 {
            #expect(Self.summary(rng.chunks(of: bytes, longest: 30)) == whole)
        }
    }

    @Test func linkerdHTTP2ForbiddenAndEnvoyDenialsAreRejected() {
        let linkerd403 = Self.serverPreface + Self.frame(0x1, Self.endStream | Self.endHeaders, 1,
            [0x08] + Self.string("403") + Self.literal("l5d-proxy-error", Self.message) + [0x0F, 0x0D] + Self.string("0"))
        // A literal without indexing for :status (static name 8), then content-length by its static name (28).
        #expect(Self.judged(Self.summary(linkerd403)).reason.contains("Linkerd proxy refused it by policy (403)"))

        let envoy403 = [0x08] + Self.string("403") + Self.literal("content-length", "19")
            + Self.literal("content-type", "text/plain") + Self.literal("server", "istio-envoy")
        let denial = Self.frame(0x0, Self.endStream, 1, Array("RBAC: access denied".utf8))
        let envoyHTTP = Self.serverPreface + Self.frame(0x1, Self.endHeaders, 1, envoy403) + denial
        let report = Self.judged(Self.summary(envoyHTTP))
        #expect(report.verdict == .plaintextRejected)
        #expect(report.evidence?.contains("HTTP/2 :status 403 from Istio's Envoy (RBAC: access denied)") == true)

        let envoyGRPC = Self.serverPreface + Self.frame(0x1, Self.endStream | Self.endHeaders, 1, [0x88]
            + Self.literal("content-type", "application/grpc") + Self.literal("grpc-status", "7")
            + Self.literal("grpc-message", "RBAC: access denied") + Self.literal("server", "istio-envoy"))
        #expect(Self.judged(Self.summary(envoyGRPC)).reason.contains("Istio proxy refused it by policy (gRPC status 7, PERMISSION_DENIED)"))
    }

    static let notRefusals: [(String, [UInt8])] = {
        var cases: [(String, [UInt8])] = []
        let both = endStream | endHeaders
        // Refused, then the next call served: its DATA frame.
        let served: [UInt8] = frame(0x1, endHeaders, 5, [0x88]) + frame(0x0, 0, 5, [0, 0, 0, 0, 2, 0x0A, 0])
        cases.append(("served after", linkerdTwice + served))
        // A gRPC server's own PERMISSION_DENIED (no l5d-proxy-error).
        var own: [UInt8] = [0x88] + literal("content-type", "application/grpc")
        own += literal("grpc-status", "7") + literal("grpc-message", "no admin role")
        cases.append(("application's", serverPreface + frame(0x1, both, 1, own)))
        // Linkerd's answer relayed by something that adds its own header.
        let relayed: [UInt8] = linkerdGRPC + literal("x-envoy-upstream-service-time", "3")
        cases.append(("relayed", serverPreface + frame(0x1, both, 1, relayed)))
        // The second answer refers to a table entry that does not exist.
        let badReference: [UInt8] = frame(0x1, both, 3, [0x88] + indexed(70))
        cases.append(("bad table reference", serverPreface + frame(0x1, both, 1, linkerdGRPC) + badReference))
        // Linkerd's answer for another reason than policy (a 502: the workload is down).
        let badGateway: [UInt8] = [0x08] + string("502") + literal("l5d-proxy-error", message)
        cases.append(("not 403", serverPreface + frame(0x1, both, 1, badGateway)))
        // Envoy's 403 whose body never came (the capture ended).
        var envoyHead: [UInt8] = [0x08] + string("403") + literal("content-length", "19")
        envoyHead += literal("server", "istio-envoy")
        cases.append(("body missing", serverPreface + frame(0x1, endHeaders, 1, envoyHead)))
        // A pushed stream.
        cases.append(("push", linkerdTwice + frame(0x5, endHeaders, 1, [0, 0, 0, 2, 0x82])))
        // A frame type not known here.
        cases.append(("unknown frame", linkerdTwice + frame(0x0B, 0, 0, Array("hello".utf8))))
        // The direction ends inside a frame.
        cases.append(("cut short", Array(linkerdTwice.dropLast(3))))
        // After two refusals, a header block whose CONTINUATION never came.
        cases.append(("no continuation", linkerdTwice + frame(0x1, endStream, 5, linkerdGRPCAgain)))
        return cases
    }()

    /// Anything besides the proxy's refusals and connection frames is the server answering in clear.
    @Test(arguments: notRefusals)
    func otherServersStayPlaintext(_ name: String, _ bytes: [UInt8]) {
        let server = Self.summary(bytes)
        #expect(server.kind == .h2c, "\(name)")
        #expect(server.proxyRefusal == nil, "\(name)")
        #expect(Self.judged(server).verdict == .plaintext, "\(name)")
    }

    /// A bodiless answer may end its stream with an empty DATA frame rather than on its HEADERS.
    @Test func emptyDataFrameEndsARefusal() {
        let bytes = Self.serverPreface + Self.frame(0x1, Self.endHeaders, 1, Self.linkerdGRPC) + Self.frame(0x0, Self.endStream, 1, [])
        #expect(Self.summary(bytes).proxyRefusal?.grpcStatus == 7)
        let withBody = Self.serverPreface + Self.frame(0x1, Self.endHeaders, 1, Self.linkerdGRPC) + Self.frame(0x0, Self.endStream, 1, [0])
        #expect(Self.summary(withBody).proxyRefusal == nil)
    }

    /// A header block split over HEADERS and CONTINUATION frames is read whole.
    @Test func headerBlockInContinuationFrames() {
        let block = Self.linkerdGRPC
        let bytes = Self.serverPreface + Self.frame(0x1, Self.endStream, 1, Array(block[..<20]))
            + Self.frame(0x9, 0, 1, Array(block[20..<60])) + Self.frame(0x9, Self.endHeaders, 1, Array(block[60...]))
        #expect(Self.summary(bytes).proxyRefusal?.mesh == .linkerd)
    }

    /// The watch counts the bytes it holds (here four of a frame's header),
    /// not its buffers' capacities, which the frames before grew and which
    /// the allocator's rounding, depending on the heap's history, decides.
    @Test func aWatchCountsTheBytesItHolds() {
        var watch = HTTP2Refusal()
        let bytes = Self.serverPreface + Array(Self.frame(0x1, Self.endStream | Self.endHeaders, 1, Self.linkerdGRPC).prefix(4))
        #expect(bytes.withUnsafeBytes { watch.receive($0) })
        #expect(watch.heldBytes == 4)
    }

    /// The watch's memory counts with the classifiers' windows; given up at
    /// their limit, the flow reads as the cleartext it is, never as refused.
    @Test func shedWatchIsNotARefusal() {
        var classifier = DirectionClassifier()
        Self.linkerdTwice.withUnsafeBytes { classifier.receive($0) }
        #expect(classifier.heldBytes > 0)
        classifier.shedHeldBytes()
        #expect(classifier.heldBytes == 0)
        let server = classifier.finish()
        #expect(server.kind == .h2c)
        #expect(server.proxyRefusal == nil)
    }

    /// Bytes missing in the server's direction end the watch: what they held is unknown.
    @Test func gapEndsTheWatch() {
        var classifier = DirectionClassifier()
        let bytes = Self.linkerdTwice
        let cut = Self.serverPreface.count + 20
        bytes[..<cut].withUnsafeBytes { classifier.receive($0) }
        classifier.receiveGap(10)
        bytes[(cut + 10)...].withUnsafeBytes { classifier.receive($0) }
        #expect(classifier.finish().proxyRefusal == nil)
    }

    /// The table's size accounting: after the encoder shrinks it to 64
    /// bytes, only the newest entry that fits remains, and a reference to an
    /// evicted one is invalid.
    @Test func tableEvictsByDecodedSize() {
        var decoder = HPACKDecoder()
        let first = Self.literal("grpc-status", "7") + Self.literal("l5d-proxy-error", "x")
        #expect(first.withUnsafeBytes { decoder.decode($0) }?.count == 2)
        // Entry sizes: grpc-status 11 + 1 + 32 = 44, l5d-proxy-error 15 + 1 + 32 = 48; both fit in 4096.
        #expect(Self.indexed(63).withUnsafeBytes { decoder.decode($0) }?.first?.name == .grpcStatus)
        // Size update to 48: only l5d-proxy-error (62) stays.
        let shrink = Self.integer(48, prefixBits: 5, high: 0x20)
        #expect((shrink + Self.indexed(62)).withUnsafeBytes { decoder.decode($0) }?.first?.name == .l5dProxyError)
        #expect(Self.indexed(63).withUnsafeBytes { decoder.decode($0) } == nil)
        // A table larger than followed here (memory per flow stays bounded).
        #expect(Self.integer(HPACKDecoder.sizeLimit, prefixBits: 5, high: 0x20).withUnsafeBytes { decoder.decode($0) } != nil)
        #expect(Self.integer(HPACKDecoder.sizeLimit + 1, prefixBits: 5, high: 0x20).withUnsafeBytes { decoder.decode($0) } == nil)
    }
}
