import Testing
@testable import FlowAnalysis
@testable import PacketDecoding
import VerdictPolicy

/// IP fragment reassembly: fragments in any order come back as one datagram;
/// overlaps that disagree, incomplete datagrams and floods are dropped within limits.
@Suite struct FragmentTests {
    /// A datagram's bytes, and fragment `offset..<end` of it as a frame.
    static let datagram: [UInt8] = (0..<1_000).map { UInt8(truncatingIfNeeded: $0 &* 13 &+ 1) }

    static func fragment(_ range: Range<Int>, of data: [UInt8] = datagram, last: Bool? = nil,
                         identification: UInt32 = 7, missing: Int = 0, v6: Bool = false) -> (IPFragment, [UInt8]) {
        let frame = Array(data[range])
        let source = v6 ? IPAddress(ipv6High: 0xFD00 << 48, low: 1) : IPAddress(ipv4: 0x0A00_0001)
        let destination = v6 ? IPAddress(ipv6High: 0xFD00 << 48, low: 2) : IPAddress(ipv4: 0x0A00_0002)
        return (IPFragment(source: source, destination: destination, identification: identification, transportProtocol: 6,
                           fragmentOffset: range.lowerBound, moreFragments: !(last ?? (range.upperBound == data.count)),
                           payloadRange: 0..<frame.count, missingPayload: missing, tunnel: .none), frame)
    }

    static func add(_ reassembler: inout FragmentReassembler, _ piece: (IPFragment, [UInt8]), at time: Int64 = 0) -> FragmentReassembler.Datagram? {
        piece.1.withUnsafeBytes { reassembler.add(piece.0, frame: $0, timestamp: time) }
    }

    @Test(arguments: [
        ("in order", [0..<400, 400..<800, 800..<1_000]),
        ("last first", [800..<1_000, 400..<800, 0..<400]),
        ("overlapping, same bytes", [0..<500, 600..<900, 800..<1_000, 300..<800]),
        ("duplicated", [0..<400, 0..<400, 800..<1_000, 400..<800]),
    ])
    func reassemblesInAnyOrder(_ name: String, _ ranges: [Range<Int>]) {
        var reassembler = FragmentReassembler()
        var result: FragmentReassembler.Datagram?
        for (index, range) in ranges.enumerated() {
            let done = Self.add(&reassembler, Self.fragment(range))
            if index < ranges.count - 1 { #expect(done == nil, "\(name): complete too early") } else { result = done }
        }
        #expect(result?.bytes == Self.datagram, "\(name)")
        #expect(result?.wireLength == Self.datagram.count)
        #expect(reassembler.isEmpty)
        #expect(reassembler.statistics.reassembled == 1)
    }

    @Test func ipv6FragmentsFromAFrame() throws {
        // A real IPv6 frame with a fragment header, through the decoder.
        let tcp = [UInt8](repeating: 0, count: 20)
        let frame = FrameBuilder.ipv6(44, [6, 0, 0x00, 0x11, 0, 0, 0, 9] + tcp)  // offset 16 bytes (2 units), more fragments
        let decoded = FrameDecoder(linkType: LinkType.rawLinktype).decode(frame.withUnsafeBytes { UnsafeRawBufferPointer($0) })
        guard case .failure(.fragment(let fragment)) = decoded else {
            Issue.record("not a fragment: \(decoded)")
            return
        }
        #expect(fragment.fragmentOffset == 16)
        #expect(fragment.moreFragments)
        #expect(fragment.identification == 9)
        #expect(fragment.transportProtocol == 6)
        #expect(fragment.payloadRange.count == 20)
    }

    @Test func overlapWithDifferentBytesDropsTheDatagram() {
        var reassembler = FragmentReassembler()
        var forged = Self.datagram
        for i in 450..<500 { forged[i] ^= 0xFF }
        _ = Self.add(&reassembler, Self.fragment(0..<500))
        _ = Self.add(&reassembler, Self.fragment(400..<1_000, of: forged))
        #expect(reassembler.isEmpty)
        #expect(reassembler.statistics.conflicting == 1)
        #expect(reassembler.statistics.reassembled == 0)
    }

    @Test func uncapturedTailIsReportedAsWireLength() {
        var reassembler = FragmentReassembler()
        _ = Self.add(&reassembler, Self.fragment(0..<400))
        // The last fragment was cut by the snapshot length after 100 of its 600 bytes.
        let done = Self.add(&reassembler, Self.fragment(400..<500, last: true, missing: 500))
        #expect(done?.bytes == Array(Self.datagram[0..<500]))
        #expect(done?.wireLength == 1_000)
    }

    @Test func incompleteDatagramsExpireByPacketTime() {
        var reassembler = FragmentReassembler()
        _ = Self.add(&reassembler, Self.fragment(0..<400), at: 0)
        _ = Self.add(&reassembler, Self.fragment(0..<400, identification: 8), at: 31_000_000_000)
        #expect(reassembler.statistics.abandoned == 1)
        // The first datagram's late fragments no longer complete it.
        #expect(Self.add(&reassembler, Self.fragment(400..<1_000), at: 31_000_000_001) == nil)
    }

    @Test func floodOfIncompleteDatagramsStaysWithinLimits() {
        var limits = FragmentReassembler.Limits()
        limits.datagrams = 100
        limits.bytes = 20_000
        var reassembler = FragmentReassembler(limits: limits)
        for id in 0..<10_000 {
            _ = Self.add(&reassembler, Self.fragment(0..<400, identification: UInt32(id)))
        }
        #expect(reassembler.statistics.abandoned >= 10_000 - 100)
        #expect(reassembler.pendingDatagrams <= 100)
        #expect(reassembler.pendingBytes <= 20_000)
    }
}

/// A connection picked up mid-stream has its roles guessed from the ports;
/// the payload corrects the guess (the side sending requests is the client).
@Suite struct MidStreamRoleTests {
    @Test func requestSenderBecomesTheClient() {
        typealias B = FrameBuilder
        // The client uses a privileged source port, so the port guess is wrong.
        let request = B.ipv4(6, B.tcp(sourcePort: 1_023, destinationPort: 8_080, sequence: 5_000,
                                      payload: Array("GET /x HTTP/1.1\r\nHost: a\r\n\r\n".utf8)))
        let response = B.ipv4(6, B.tcp(sourcePort: 8_080, destinationPort: 1_023, sequence: 9_000,
                                       payload: Array("HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n".utf8)),
                              source: [10, 0, 0, 2], destination: [10, 0, 0, 1])
        var analyzer = FlowAnalyzer(linkType: LinkType.rawLinktype)
        var reports: [FlowReport] = []
        for (index, frame) in [request, response].enumerated() {
            frame.withUnsafeBytes {
                analyzer.process(frame: $0, originalLength: $0.count, timestamp: Int64(index + 1) * 1_000, emit: { reports.append($0) })
            }
        }
        analyzer.finish { reports.append($0) }
        #expect(reports.count == 1)
        #expect(reports.first?.client.description == "10.0.0.1:1023")
        #expect(reports.first?.server.description == "10.0.0.2:8080")
        #expect(reports.first?.evidence?.hasPrefix("GET /x HTTP/1.1") == true)
    }
}
