import FlowAnalysis
import Testing
import VerdictPolicy

/// The close bookkeeping measures the silence before a side's close from
/// capture timestamps, which a file can set to anything.
@Suite struct CloseTimingTests {
    typealias B = FrameBuilder

    static func frame(fromClient: Bool, flags: UInt8, payload: [UInt8] = []) -> [UInt8] {
        let client: [UInt8] = [10, 0, 0, 1], server: [UInt8] = [10, 0, 0, 2]
        let segment = B.tcp(sourcePort: fromClient ? 50_000 : 80, destinationPort: fromClient ? 80 : 50_000,
                            sequence: fromClient ? 1_001 : 5_001, payload: payload, flags: flags)
        return B.ethernet(0x0800, B.ipv4(6, segment, source: fromClient ? client : server, destination: fromClient ? server : client))
    }

    static func judge(_ packets: [(fromClient: Bool, flags: UInt8, payload: [UInt8], time: Int64)]) -> [FlowReport] {
        var analyzer = FlowAnalyzer(linkType: 1)
        var reports: [FlowReport] = []
        for packet in packets {
            let bytes = frame(fromClient: packet.fromClient, flags: packet.flags, payload: packet.payload)
            bytes.withUnsafeBytes { analyzer.process(frame: $0, originalLength: bytes.count, timestamp: packet.time) { reports.append($0) } }
        }
        analyzer.finish { reports.append($0) }
        return reports
    }

    static let request = Array("GET / HTTP/1.1\r\nHost: a\r\n\r\n".utf8)

    /// A request, then the server's FIN: a refusal when it follows at once,
    /// not after 5 s without traffic.
    @Test func silenceBeforeTheServersClose() {
        for (delay, expected): (Int64, Verdict) in [(3_000_000_000, .plaintextRejected), (4_900_000_000, .plaintextRejected),
                                                    (5_000_000_000, .plaintext), (60_000_000_000, .plaintext)] {
            let reports = Self.judge([(true, 0x18, Self.request, 1_000), (false, 0x11, [], 1_000 + delay)])
            #expect(reports.map(\.verdict) == [expected], "\(delay)")
        }
    }

    /// Timestamps at the ends of the range (a hostile or broken file) do not
    /// trap: the analyzer took differences of them, which overflowed (a
    /// 236-byte pcapng crashed stop 18's binary; see CLITests). A jump forward
    /// makes the request plaintext (judged idle, the FIN then opening another
    /// flow, or closed after a silence); time going backwards is no silence.
    @Test func extremeTimestamps() {
        for (first, last) in [(Int64.min, Int64.max), (Int64.min + 1, Int64.max - 1), (0, Int64.max), (Int64.min, 0),
                              (Int64.max, Int64.min), (Int64.max, 0)] {
            let reports = Self.judge([(true, 0x18, Self.request, first), (false, 0x11, [], last)])
            if last > first {
                #expect(reports.first?.verdict == .plaintext && reports.count <= 2, "\(first) \(last)")
            } else {
                #expect(reports.map(\.verdict) == [.plaintextRejected], "\(first) \(last)")
            }
        }
    }
}
