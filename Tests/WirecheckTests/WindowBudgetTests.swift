import FlowAnalysis
@testable import PayloadClassification
import StreamReassembly
import Testing
import VerdictPolicy

/// Streams picked up mid-way hold up to 64 KiB each while they look for TLS
/// records; all flows' windows together stay within a quarter of the buffer
/// budget (`--max-buffer`): past it, the stream whose window grew gives its
/// bytes up (counted as unverified), and the summary says how often.
@Suite struct WindowBudgetTests {
    typealias B = FrameBuilder

    /// `flows` connections picked up mid-way (no handshake), each sending
    /// `segments` segments of 1 400 bytes of binary data that holds no TLS
    /// record header, one flow after another in turn.
    static func run(flows: Int, segments: Int, totalBytes: Int) -> (reports: [FlowReport], peak: Int, limit: Int, shed: Int, left: Int) {
        var configuration = AnalyzerConfiguration()
        configuration.budget = ReassemblyBudget(totalBytes: totalBytes)
        var analyzer = FlowAnalyzer(linkType: 1, configuration: configuration)
        var reports: [FlowReport] = []
        var rng = SplitMix(seed: 64)
        var peak = 0
        var time: Int64 = 1_000
        for round in 0..<segments {
            for flow in 0..<flows {
                let payload = (0..<1_400).map { _ in UInt8(truncatingIfNeeded: rng.next()) | 0x80 }
                let segment = B.tcp(sourcePort: UInt16(40_000 + flow), destinationPort: 9_092,
                                    sequence: UInt32(7_000 + round * 1_400), payload: payload, flags: 0x18)
                let frame = B.ethernet(0x0800, B.ipv4(6, segment, source: [10, 0, 1, UInt8(flow)], destination: [10, 0, 2, 1]))
                time += 1_000
                frame.withUnsafeBytes { analyzer.process(frame: $0, originalLength: frame.count, timestamp: time) { reports.append($0) } }
                peak = max(peak, analyzer.windowBytes)
            }
        }
        analyzer.finish { reports.append($0) }
        return (reports, peak, configuration.budget.windowLimit, analyzer.windowsShed, analyzer.windowBytes)
    }

    @Test func windowsStayWithinTheirShareOfTheBudget() {
        // 20 flows x 56 KB of windows against a 256 KiB limit.
        let tight = Self.run(flows: 20, segments: 40, totalBytes: 1 << 20)
        #expect(tight.shed > 0)
        // Over by at most the one window that just grew (its capacity, up to 64 KiB).
        #expect(tight.peak <= tight.limit + 65_536, "peak \(tight.peak), limit \(tight.limit)")
        #expect(tight.left == 0, "what was counted is released with the flows")
        #expect(tight.reports.count == 20)
        #expect(tight.reports.allSatisfy { $0.verdict == .inconclusive })
        // Each flow whose window was given up says so.
        let shedNote = "given up at the memory limit on all flows' windows"
        #expect(tight.reports.contains { $0.notes.contains { $0.contains(shedNote) } })

        // With room for every window nothing is given up, and the verdicts are the same.
        let roomy = Self.run(flows: 20, segments: 40, totalBytes: 64 << 20)
        #expect(roomy.shed == 0)
        #expect(roomy.peak > tight.limit + 65_536, "the tight run's limit was binding")
        #expect(roomy.left == 0)
        #expect(roomy.reports.map(\.verdict) == tight.reports.map(\.verdict))
        #expect(!roomy.reports.contains { $0.notes.contains { $0.contains(shedNote) } })
    }

    /// A window counts the capacity it asked for, which the bytes alone
    /// decide, not the capacity the allocator gave (for 100 bytes, 104 or
    /// more, by what the heap held before): counted that way, which flow
    /// gave its window up at the limit depended on the heap's history.
    @Test func aWindowCountsWhatItAskedForNotWhatTheAllocatorGave() {
        var classifier = DirectionClassifier()
        classifier.markMidStream()
        let binary = [UInt8](repeating: 0xC3, count: 100)
        var counted: [Int] = []
        for count in [100, 100, 1] {
            binary.prefix(count).withUnsafeBytes { classifier.receive($0) }
            counted.append(classifier.heldBytes)
        }
        #expect(counted == [100, 200, 400])
    }

    /// Over, never under: a window left sharing its array (a state copied
    /// out) keeps its count through a removal that moves it to a smaller
    /// array, and asks again when that one is too small.
    @Test func aWindowAsksAgainWhenItsArrayWasMovedSmaller() {
        var window = WindowBuffer()
        window.append(contentsOf: [UInt8](repeating: 1, count: 100))
        #expect(window.reserved == 100 && window.bytes.capacity >= 100)
        let copy = window.bytes
        window.removeFirst(90)
        #expect(window.reserved == 100 && window.count == 10)
        window.append(contentsOf: [UInt8](repeating: 2, count: 150))
        #expect(window.reserved == 200 && window.bytes.capacity >= 200)
        #expect(window.bytes == [UInt8](repeating: 1, count: 10) + [UInt8](repeating: 2, count: 150))
        #expect(copy.count == 100)
        window.removeAll()
        #expect(window.reserved == 0 && window.isEmpty)
    }
}
