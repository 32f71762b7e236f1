import FlowAnalysis
import Foundation
import PacketDecoding
import PayloadClassification
import Reporting
import Testing
import VerdictPolicy

/// On a node, a connection to a Service's ClusterIP is rewritten (DNAT) to a
/// pod's address between the client pod's interface and the server pod's,
/// and `-i any` captures it on both: the same SYN, client and initial
/// sequence number, to two destinations. It must be one flow, reported with
/// the address it was translated to, and nothing else may be taken for one.
@Suite struct TranslatedFlowTests {
    static let client: [UInt8] = [10, 0, 0, 5]
    static let service: [UInt8] = [10, 96, 0, 10]
    static let pod: [UInt8] = [10, 0, 0, 6]
    static let request = Array("GET / HTTP/1.1\r\nHost: web\r\n\r\n".utf8)
    static let response = Array("HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nhi".utf8)

    static func frame(from source: [UInt8], _ sourcePort: UInt16, to destination: [UInt8], _ destinationPort: UInt16,
                      sequence: UInt32, acknowledgment: UInt32, flags: UInt8, options: [UInt8] = [], payload: [UInt8] = []) -> [UInt8] {
        typealias B = FrameBuilder
        let tcp = B.be16(sourcePort) + B.be16(destinationPort) + B.be32(sequence) + B.be32(acknowledgment)
            + [UInt8((20 + options.count) / 4) << 4, flags, 0x01, 0xF6, 0xBE, 0xEF, 0, 0] + options + payload
        guard source.count == 16 else { return B.ethernet(0x0800, B.ipv4(6, tcp, source: source, destination: destination)) }
        return B.ethernet(0x86DD, [0x60, 0, 0, 0] + B.be16(UInt16(tcp.count)) + [6, 64] + source + destination + tcp)
    }

    /// One connection's packets as the server at `server`:`port` sees them
    /// (client ISN 100, server ISN 500), each with its capture time.
    static func connection(to server: [UInt8], _ port: UInt16, clientISN: UInt32 = 100, response: [UInt8] = response,
                           client: [UInt8] = client, clientPort: UInt16 = 40_000, synTimestamp: UInt32? = nil) -> [[UInt8]] {
        let c = clientISN, s: UInt32 = 500, p = clientPort
        let q = UInt32(request.count), r = UInt32(response.count)
        return [
            frame(from: client, p, to: server, port, sequence: c, acknowledgment: 0, flags: 0x02,
                  options: synTimestamp.map(synOptions) ?? []),
            frame(from: server, port, to: client, p, sequence: s, acknowledgment: c + 1, flags: 0x12),
            frame(from: client, p, to: server, port, sequence: c + 1, acknowledgment: s + 1, flags: 0x10),
            frame(from: client, p, to: server, port, sequence: c + 1, acknowledgment: s + 1, flags: 0x18, payload: request),
            frame(from: server, port, to: client, p, sequence: s + 1, acknowledgment: c + 1 + q, flags: 0x18, payload: response),
            frame(from: client, p, to: server, port, sequence: c + 1 + q, acknowledgment: s + 1 + r, flags: 0x11),
            frame(from: server, port, to: client, p, sequence: s + 1 + r, acknowledgment: c + 2 + q, flags: 0x11),
            frame(from: client, p, to: server, port, sequence: c + 2 + q, acknowledgment: s + 2 + r, flags: 0x10),
        ]
    }

    /// A Linux SYN's options: MSS, SACK permitted, timestamp (TSval, TSecr 0), no-op, window scale.
    static func synOptions(_ timestampValue: UInt32) -> [UInt8] {
        [2, 4, 0x05, 0xB4, 4, 2, 8, 10] + FrameBuilder.be32(timestampValue) + [0, 0, 0, 0, 1, 3, 3, 7]
    }

    /// Both captures of each packet, one after the other as a node captures
    /// them: requests before the translation first, answers after it first.
    /// `translatedClient`: the client's address and port after a source NAT
    /// (the same ones when nil); `timestamps`: the SYN's TSval in each capture.
    static func translated(servicePort: UInt16 = 80, podPort: UInt16 = 8080, podResponse: [UInt8] = response,
                           addresses: (client: [UInt8], service: [UInt8], pod: [UInt8]) = (client, service, pod),
                           translatedClient: ([UInt8], UInt16)? = nil,
                           timestamps: (UInt32?, UInt32?) = (nil, nil)) -> [[UInt8]] {
        let before = connection(to: addresses.service, servicePort, client: addresses.client, synTimestamp: timestamps.0)
        let after = connection(to: addresses.pod, podPort, response: podResponse, client: translatedClient?.0 ?? addresses.client,
                               clientPort: translatedClient?.1 ?? 40_000, synTimestamp: timestamps.1)
        // Answers (the connection's 2nd, 5th and 7th packets) come from the pod.
        return zip(before, after).enumerated().flatMap { index, pair in [1, 4, 6].contains(index) ? [pair.1, pair.0] : [pair.0, pair.1] }
    }

    static func analyze(_ frames: [[UInt8]], spacing: Int64 = 1_000, gapBefore: [Int: Int64] = [:]) -> [FlowReport] {
        var analyzer = FlowAnalyzer(linkType: 1)
        var reports: [FlowReport] = []
        var time: Int64 = 1_000_000_000
        for (index, frame) in frames.enumerated() {
            time += spacing + (gapBefore[index] ?? 0)
            frame.withUnsafeBytes { analyzer.process(frame: $0, originalLength: $0.count, timestamp: time) { reports.append($0) } }
        }
        analyzer.finish { reports.append($0) }
        return reports
    }

    @Test func bothCapturesOfATranslatedConnectionAreOneFlow() throws {
        let frames = Self.translated()
        let reports = Self.analyze(frames)
        try #require(reports.count == 1, "\(reports.map { "\($0.client) -> \($0.server)" })")
        let flow = reports[0]
        #expect("\(flow.client)" == "10.0.0.5:40000")
        #expect("\(flow.server)" == "10.96.0.10:80", "the address the client sent to")
        #expect(flow.observation.translatedServer.map { "\($0)" } == "10.0.0.6:8080")
        #expect(flow.verdict == .plaintext)
        #expect(flow.observation.packets == frames.count, "every packet of both captures counted")
        #expect(flow.observation.duplicateBytes == Self.request.count + Self.response.count, "the second capture's bytes are duplicates")
        #expect(flow.observation.conflictingBytes == 0)
        #expect(flow.observation.end == .closed)
    }

    @Test func anIPv6ServiceIsTranslatedAlike() throws {
        func v6(_ last: UInt8) -> [UInt8] { [0xFD, 0] + [UInt8](repeating: 0, count: 13) + [last] }
        let reports = Self.analyze(Self.translated(addresses: (v6(5), [0xFD, 0, 0, 0x96] + [UInt8](repeating: 0, count: 11) + [10], v6(6))))
        try #require(reports.count == 1, "\(reports.map { "\($0.client) -> \($0.server)" })")
        #expect("\(reports[0].server)" == "[fd00:96::a]:80")
        #expect(reports[0].observation.translatedServer.map { "\($0)" } == "[fd00::6]:8080")
        #expect(reports[0].verdict == .plaintext && reports[0].observation.conflictingBytes == 0)
    }

    @Test func aTranslatedFlowIsOneOpenFlowAgainstTheLimit() {
        // --max-flows counts connections: the second key is not another flow.
        var analyzer = FlowAnalyzer(linkType: 1)
        for (index, frame) in Self.translated().prefix(4).enumerated() {
            frame.withUnsafeBytes { analyzer.process(frame: $0, originalLength: $0.count, timestamp: Int64(index) * 1_000) { _ in } }
        }
        #expect(analyzer.openFlows == 1)
    }

    @Test func aTranslatedCaptureWithOtherBytesIsStillCompared() throws {
        // One byte of the answer differs between the two captures: one flow,
        // and the difference reported as any conflicting retransmission is.
        var altered = Self.response
        altered[altered.count - 1] = UInt8(ascii: "o")
        let reports = Self.analyze(Self.translated(podResponse: altered))
        try #require(reports.count == 1)
        #expect(reports[0].observation.conflictingBytes > 0)
        #expect(reports[0].notes.contains { $0.contains("different content") })
    }

    @Test func otherConnectionsAreNotTakenForTranslations() {
        let before = Self.connection(to: Self.service, 80)
        // Another initial sequence number: another connection from the same port.
        let otherISN = Self.connection(to: Self.pod, 8080, clientISN: 7_777)
        #expect(Self.analyze([before[0], otherISN[0]] + before.dropFirst() + otherISN.dropFirst()).count == 2)
        // The same SYN to another address after the first was answered.
        let after = Self.connection(to: Self.pod, 8080)
        #expect(Self.analyze([before[0], before[1], after[0]] + before.dropFirst(2) + after.dropFirst()).count == 2)
        // More than a second later.
        let late = Self.analyze([before[0], after[0]] + before.dropFirst() + after.dropFirst(), gapBefore: [1: 2_000_000_000])
        #expect(late.count == 2)
        #expect(late.allSatisfy { $0.observation.translatedServer == nil })
    }

    @Test func portPoliciesLookAtThePortThePodListensOn() throws {
        // Plaintext to a Service port 80 that the node sends to a pod's 15021
        // (Istio's health port): on the allowance; the other way round, not.
        let toHealthPort = Self.analyze(Self.translated(servicePort: 80, podPort: 15_021))
        try #require(toHealthPort.count == 1)
        #expect(toHealthPort[0].expected)
        #expect(toHealthPort[0].reason.contains("port 15021"))
        let fromHealthPort = Self.analyze(Self.translated(servicePort: 15_021, podPort: 8080))
        try #require(fromHealthPort.count == 1)
        #expect(!fromHealthPort[0].expected)
    }

    @Test func reportsShowTheTranslatedAddressAndItsName() throws {
        let reports = Self.analyze(Self.translated())
        try #require(reports.count == 1)
        let names = EndpointNames(parsing: "10.96.0.10 svc/shop/web\n10.0.0.6 shop/web-7d9f\n")
        var text = TextReporter(names: names), plain = TextReporter()
        #expect(text.report(reports[0]).contains("10.0.0.5:40000 -> 10.96.0.10:80 (svc/shop/web) (DNAT to 10.0.0.6:8080 shop/web-7d9f)"))
        #expect(plain.report(reports[0]).contains("-> 10.96.0.10:80 (DNAT to 10.0.0.6:8080)  http"))
        var json = JSONLinesReporter(names: names)
        let object = try #require(try JSONSerialization.jsonObject(with: Data(json.report(reports[0]).utf8)) as? [String: Any])
        #expect(object["server"] as? String == "10.96.0.10:80")
        #expect(object["translatedServer"] as? String == "10.0.0.6:8080")
        #expect(object["translatedServerName"] as? String == "shop/web-7d9f")
        // An untranslated flow says so: null, not absent.
        let direct = Self.analyze(Self.connection(to: Self.pod, 8080))
        var unnamed = JSONLinesReporter()
        let line = try #require(direct.first.map { unnamed.report($0) })
        #expect(line.contains("\"translatedServer\":null"))
    }

    // MARK: Source NAT

    static let node: [UInt8] = [192, 168, 1, 10]

    /// A NodePort with `externalTrafficPolicy: Cluster`: an outside client's
    /// connection to the node's port 30080 goes to a pod on 8080 from the
    /// node's address, another port (destination and source NAT at once).
    @Test func aNodePortConnectionThroughBothTranslationsIsOneFlow() throws {
        let frames = Self.translated(servicePort: 30_080, addresses: (Self.client, Self.node, Self.pod),
                                     translatedClient: (Self.node, 41_234), timestamps: (0x1234_5678, 0x1234_5678))
        let reports = Self.analyze(frames)
        try #require(reports.count == 1, "\(reports.map { "\($0.client) -> \($0.server)" })")
        let flow = reports[0]
        #expect("\(flow.client)" == "10.0.0.5:40000" && "\(flow.server)" == "192.168.1.10:30080")
        #expect(flow.observation.translatedServer.map { "\($0)" } == "10.0.0.6:8080")
        #expect(flow.observation.translatedClient.map { "\($0)" } == "192.168.1.10:41234")
        #expect(flow.verdict == .plaintext)
        #expect(flow.observation.packets == frames.count, "every packet of both captures counted")
        #expect(flow.observation.duplicateBytes == Self.request.count + Self.response.count, "the second capture's bytes are duplicates")
        #expect(flow.observation.conflictingBytes == 0 && flow.observation.end == .closed)
        #expect(flow.observation.clientToServer.bytes == Self.request.count, "the translated client's bytes are the client's")
        var text = TextReporter()
        #expect(text.report(flow).contains("-> 192.168.1.10:30080 (DNAT to 10.0.0.6:8080, SNAT to 192.168.1.10:41234)"))
        var json = JSONLinesReporter(names: EndpointNames(parsing: "192.168.1.10 node/worker-1\n"))
        let object = try #require(try JSONSerialization.jsonObject(with: Data(json.report(flow).utf8)) as? [String: Any])
        #expect(object["translatedClient"] as? String == "192.168.1.10:41234")
        #expect(object["translatedClientName"] as? String == "node/worker-1")
    }

    /// Through a bridge the node also captures the packet between the two
    /// translations (destination rewritten, source not yet): in the lab's
    /// recording that view began with the server's SYN-ACK, which no SYN of
    /// its own announced. It belongs to the flow too: no third flow picked
    /// up mid-stream.
    @Test func theViewBetweenTheTranslationsBelongsToTheFlow() throws {
        let before = Self.connection(to: Self.node, 30_080, synTimestamp: 11)
        let between = Self.connection(to: Self.pod, 8080)
        let after = Self.connection(to: Self.pod, 8080, client: Self.node, clientPort: 41_234, synTimestamp: 11)
        // Requests before and after the translations; answers after them, between them and before them.
        let frames = (0..<before.count).flatMap { index in
            [1, 4, 6].contains(index) ? [after[index], between[index], before[index]] : [before[index], after[index]]
        }
        let reports = Self.analyze(frames)
        try #require(reports.count == 1, "\(reports.map { "\($0.client) -> \($0.server)" })")
        let flow = reports[0]
        #expect(flow.observation.packets == frames.count)
        #expect(flow.observation.translatedServer.map { "\($0)" } == "10.0.0.6:8080")
        #expect(flow.observation.translatedClient.map { "\($0)" } == "192.168.1.10:41234")
        #expect(flow.notes.isEmpty, "\(flow.notes)")
        #expect(flow.observation.conflictingBytes == 0 && flow.observation.end == .closed)
        var analyzer = FlowAnalyzer(linkType: 1)
        for (index, frame) in frames.prefix(5).enumerated() {
            frame.withUnsafeBytes { analyzer.process(frame: $0, originalLength: $0.count, timestamp: Int64(index) * 1_000) { _ in } }
        }
        #expect(analyzer.openFlows == 1, "three keys, one flow")
    }

    /// A connection already open with the addresses of the view between the
    /// translations (the client's port used again, straight to the pod)
    /// keeps its own packets: the index finds it before the translated
    /// flow's key, added later.
    @Test func theViewBetweenIsNotTakenFromAnotherConnection() throws {
        let direct = Self.connection(to: Self.pod, 8080, clientISN: 9_000)
        let before = Self.connection(to: Self.node, 30_080, synTimestamp: 11)
        let after = Self.connection(to: Self.pod, 8080, client: Self.node, clientPort: 41_234, synTimestamp: 11)
        let translated = zip(before, after).enumerated().flatMap { index, pair in [1, 4, 6].contains(index) ? [pair.1, pair.0] : [pair.0, pair.1] }
        let reports = Self.analyze(Array(direct.prefix(4)) + translated + direct.dropFirst(4))
        try #require(reports.count == 2, "\(reports.map { "\($0.client) -> \($0.server)" })")
        let own = try #require(reports.first { "\($0.server)" == "10.0.0.6:8080" })
        #expect(own.observation.packets == direct.count && own.observation.end == .closed && own.notes.isEmpty, "\(own.notes)")
        let nodePort = try #require(reports.first { "\($0.server)" == "192.168.1.10:30080" })
        #expect(nodePort.observation.packets == translated.count && nodePort.observation.translatedClient != nil)
    }

    /// The same through an IPv6 NodePort (dual-stack clusters).
    @Test func anIPv6NodePortIsTranslatedAlike() throws {
        func v6(_ last: UInt8) -> [UInt8] { [0xFD, 0] + [UInt8](repeating: 0, count: 13) + [last] }
        let frames = Self.translated(servicePort: 30_080, addresses: (v6(5), v6(10), v6(6)), translatedClient: (v6(10), 41_234),
                                     timestamps: (0xABCD, 0xABCD))
        let reports = Self.analyze(frames)
        try #require(reports.count == 1, "\(reports.map { "\($0.client) -> \($0.server)" })")
        #expect("\(reports[0].server)" == "[fd00::a]:30080")
        #expect(reports[0].observation.translatedServer.map { "\($0)" } == "[fd00::6]:8080")
        #expect(reports[0].observation.translatedClient.map { "\($0)" } == "[fd00::a]:41234")
        #expect(reports[0].observation.packets == frames.count && reports[0].observation.conflictingBytes == 0)
        let untimed = Self.analyze(Self.translated(servicePort: 30_080, addresses: (v6(5), v6(10), v6(6)), translatedClient: (v6(10), 41_234)))
        #expect(untimed.count == 2, "no timestamps, no merge across the source NAT")
    }

    /// A pod's connection leaving the cluster, masqueraded to the node's
    /// address on its way out: the same server, another client address.
    @Test func aSourceTranslationAloneIsOneFlow() throws {
        let server: [UInt8] = [10, 200, 0, 1]
        let frames = Self.translated(servicePort: 443, podPort: 443, addresses: (Self.client, server, server),
                                     translatedClient: (Self.node, 50_000), timestamps: (77, 77))
        let reports = Self.analyze(frames)
        try #require(reports.count == 1, "\(reports.map { "\($0.client) -> \($0.server)" })")
        #expect(reports[0].observation.translatedServer == nil)
        #expect(reports[0].observation.translatedClient.map { "\($0)" } == "192.168.1.10:50000")
        var text = TextReporter()
        #expect(text.report(reports[0]).contains("10.0.0.5:40000 -> 10.200.0.1:443 (SNAT to 192.168.1.10:50000)"))
        var json = JSONLinesReporter()
        #expect(json.report(reports[0]).contains("\"translatedServer\":null,\"translatedClient\":\"192.168.1.10:50000\""))
    }

    /// Across a source NAT the initial sequence number is not enough: the
    /// SYNs' timestamps must match too, and a SYN without one is never merged.
    @Test func aSourceTranslationNeedsTheSameTimestamp() {
        for timestamps in [(nil, nil), (5, 6), (nil, 5), (5, nil)] as [(UInt32?, UInt32?)] {
            let reports = Self.analyze(Self.translated(servicePort: 30_080, addresses: (Self.client, Self.node, Self.pod),
                                                       translatedClient: (Self.node, 41_234), timestamps: timestamps))
            #expect(reports.count == 2, "\(timestamps)")
            #expect(reports.allSatisfy { $0.observation.translatedClient == nil && $0.observation.translatedServer == nil })
        }
    }

    /// The second capture's SYN sent again (the first was lost beyond the
    /// node) is that connection's, not a new one that ends it.
    @Test func aRetransmittedTranslatedSYNKeepsTheFlow() throws {
        var frames = Self.translated(servicePort: 30_080, addresses: (Self.client, Self.node, Self.pod),
                                     translatedClient: (Self.node, 41_234), timestamps: (9, 9))
        frames.insert(frames[1], at: 2)
        let reports = Self.analyze(frames)
        try #require(reports.count == 1, "\(reports.map { "\($0.client) -> \($0.server) \($0.observation.end)" })")
        #expect(reports[0].observation.end == .closed && reports[0].observation.packets == frames.count)
    }
}

@Suite struct TCPOptionsTests {
    static func segment(_ frame: [UInt8]) throws -> TCPSegment {
        try frame.withUnsafeBytes { bytes in try FrameDecoder(linkType: 1).decode(bytes, originalLength: bytes.count).get() }
    }

    static func timestamp(_ frame: [UInt8]) throws -> UInt32? {
        let segment = try Self.segment(frame)
        return frame.withUnsafeBytes { TCPOptions.timestampValue(of: segment, in: $0) }
    }

    @Test func theTimestampIsReadWhereverTheOptionsPutIt() throws {
        typealias T = TranslatedFlowTests
        func syn(_ options: [UInt8], payload: [UInt8] = []) -> [UInt8] {
            T.frame(from: T.client, 40_000, to: T.pod, 80, sequence: 99, acknowledgment: 0, flags: 0x02, options: options, payload: payload)
        }
        #expect(try Self.timestamp(syn(T.synOptions(0xDEAD_BEEF))) == 0xDEAD_BEEF)
        #expect(try Self.timestamp(syn([1, 1, 8, 10, 0, 0, 0, 42, 0, 0, 0, 0])) == 42)
        #expect(try Self.timestamp(syn(T.synOptions(7), payload: Array("data".utf8))) == 7, "with payload after the header")
        // No options, no timestamp among them, an end of options before it, a length running past the header.
        #expect(try Self.timestamp(syn([])) == nil)
        #expect(try Self.timestamp(syn([2, 4, 5, 0xB4])) == nil)
        #expect(try Self.timestamp(syn([0, 0, 0, 0, 8, 10, 0, 0, 0, 42, 0, 0])) == nil)
        #expect(try Self.timestamp(syn([2, 4, 5, 0xB4, 8, 10, 0, 0])) == nil)
        #expect(try Self.timestamp(syn([2, 0, 8, 10, 0, 0, 0, 42, 0, 0, 0, 0])) == nil, "a zero length ends the walk")
        // IPv6.
        let v6a: [UInt8] = [0xFD] + [UInt8](repeating: 0, count: 14) + [5], v6b: [UInt8] = [0xFD] + [UInt8](repeating: 0, count: 14) + [6]
        let v6 = T.frame(from: v6a, 40_000, to: v6b, 80, sequence: 1, acknowledgment: 0, flags: 0x02, options: T.synOptions(3))
        #expect(try Self.timestamp(v6) == 3)
    }

    /// A segment whose header is not where its payload says (another
    /// frame's bytes) yields nothing rather than bytes read at random.
    @Test func aHeaderThatDoesNotMatchTheSegmentYieldsNothing() throws {
        typealias T = TranslatedFlowTests
        let frame = T.frame(from: T.client, 40_000, to: T.pod, 80, sequence: 99, acknowledgment: 0, flags: 0x02, options: T.synOptions(5))
        var segment = try Self.segment(frame)
        segment.sequence = 100
        #expect(frame.withUnsafeBytes { TCPOptions.timestampValue(of: segment, in: $0) } == nil)
        segment = try Self.segment(frame)
        segment.payloadRange = 10..<10
        #expect(frame.withUnsafeBytes { TCPOptions.timestampValue(of: segment, in: $0) } == nil)
        segment.payloadRange = 500..<500
        #expect(frame.withUnsafeBytes { TCPOptions.timestampValue(of: segment, in: $0) } == nil)
    }
}
