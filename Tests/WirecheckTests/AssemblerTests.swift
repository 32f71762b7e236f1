import Testing
@testable import StreamReassembly

/// Records what the assembler hands on.
struct RecordingSink: StreamSink {
    enum Event: Equatable { case data([UInt8]), gap(Int) }
    var events: [Event] = []

    mutating func receive(_ bytes: UnsafeRawBufferPointer) {
        // Merge adjacent data so tests compare streams, not segmentations.
        if case .data(let previous)? = events.last {
            events[events.count - 1] = .data(previous + Array(bytes))
        } else {
            events.append(.data(Array(bytes)))
        }
    }

    mutating func receiveGap(_ count: Int) { events.append(.gap(count)) }

    var bytes: [UInt8] { events.flatMap { if case .data(let d) = $0 { return d } else { return [] } } }
}

/// A segment: sequence number and payload.
struct Segment: Sendable {
    var sequence: UInt32
    var bytes: [UInt8]
    var missing = 0
}

func assemble(_ segments: [Segment], start: UInt32? = nil, budget: ReassemblyBudget = ReassemblyBudget(), flush: Bool = true)
    -> (sink: RecordingSink, assembler: DirectionAssembler, budget: ReassemblyBudget) {
    var assembler = DirectionAssembler()
    if let start { assembler.startAtSYN(initialSequence: start &- 1) }
    var sink = RecordingSink()
    var budget = budget
    for segment in segments {
        segment.bytes.withUnsafeBytes { raw in
            assembler.accept(sequence: segment.sequence, payload: raw, missing: segment.missing, budget: &budget, sink: &sink)
        }
    }
    if flush { assembler.flush(budget: &budget, sink: &sink) }
    return (sink, assembler, budget)
}

func bytes(_ range: Range<Int>) -> [UInt8] { range.map { UInt8(truncatingIfNeeded: $0 &* 7 &+ 3) } }

@Suite struct AssemblerTests {
    struct Case: Sendable, CustomTestStringConvertible {
        var name: String
        var segments: [Segment]
        var expected: [RecordingSink.Event]
        var duplicateBytes = 0
        var conflictingBytes = 0
        var testDescription: String { name }
    }

    static let base: UInt32 = 1_000
    static func seg(_ from: Int, _ to: Int, missing: Int = 0, content: [UInt8]? = nil) -> Segment {
        Segment(sequence: base &+ UInt32(from), bytes: content ?? bytes(from..<to), missing: missing)
    }

    static let cases: [Case] = [
        Case(name: "in order", segments: [seg(0, 10), seg(10, 25)], expected: [.data(bytes(0..<25))]),
        Case(name: "exact duplicate ignored", segments: [seg(0, 10), seg(0, 10), seg(10, 20), seg(10, 20)],
             expected: [.data(bytes(0..<20))], duplicateBytes: 20),
        Case(name: "reordered", segments: [seg(10, 20), seg(20, 30), seg(0, 10)], expected: [.data(bytes(0..<30))]),
        Case(name: "overlapping retransmission extends", segments: [seg(0, 10), seg(5, 15)],
             expected: [.data(bytes(0..<15))], duplicateBytes: 5),
        Case(name: "conflicting retransmission keeps first copy",
             segments: [seg(0, 10), seg(0, 10, content: [UInt8](repeating: 0xEE, count: 10)), seg(10, 20)],
             expected: [.data(bytes(0..<20))], conflictingBytes: 10),
        Case(name: "conflict with held out-of-order data",
             segments: [seg(10, 20), seg(10, 20, content: [UInt8](repeating: 0xEE, count: 10)), seg(0, 10)],
             expected: [.data(bytes(0..<20))], conflictingBytes: 10),
        Case(name: "snaplen truncation is a gap", segments: [seg(0, 10, missing: 5), seg(15, 20)],
             expected: [.data(bytes(0..<10)), .gap(5), .data(bytes(15..<20))]),
        Case(name: "hole reported at flush", segments: [seg(0, 10), seg(20, 30)],
             expected: [.data(bytes(0..<10)), .gap(10), .data(bytes(20..<30))]),
    ]

    @Test(arguments: cases)
    func delivery(_ c: Case) {
        let result = assemble(c.segments, start: Self.base)
        #expect(result.sink.events == c.expected)
        #expect(result.assembler.statistics.duplicateBytes == c.duplicateBytes)
        #expect(result.assembler.statistics.conflictingBytes == c.conflictingBytes)
        #expect(result.budget.usedBytes == 0, "flush leaves nothing held")
    }

    @Test func sequenceWraparound() {
        let start: UInt32 = 0xFFFF_FFF0
        let data = bytes(0..<64)
        let segments = stride(from: 0, to: 64, by: 8).reversed().map {
            Segment(sequence: start &+ UInt32($0), bytes: Array(data[$0..<($0 + 8)]))
        }
        let result = assemble(segments, start: start)
        #expect(result.sink.events == [.data(data)])
    }

    @Test func midStreamStartsAtFirstByteSeen() {
        let result = assemble([Segment(sequence: 5_000, bytes: bytes(0..<10)), Segment(sequence: 5_010, bytes: bytes(10..<20))])
        #expect(result.sink.events == [.data(bytes(0..<20))])
        #expect(!result.assembler.startedAtSYN)
    }

    @Test func perDirectionLimitForcesGapAndStaysBounded() {
        var budget = ReassemblyBudget(perDirectionBytes: 100, perDirectionSegments: 1_000, totalBytes: 1_000)
        budget.forcedSkips = 0
        // The first 10 bytes never arrive; 30 segments of 10 bytes wait behind the hole.
        let waiting = (1...30).map { Self.seg($0 * 10, $0 * 10 + 10) }
        var assembler = DirectionAssembler()
        assembler.startAtSYN(initialSequence: Self.base &- 1)
        var sink = RecordingSink()
        for segment in waiting {
            segment.bytes.withUnsafeBytes { assembler.accept(sequence: segment.sequence, payload: $0, budget: &budget, sink: &sink) }
            #expect(assembler.bufferedBytes <= 100)
        }
        #expect(budget.forcedSkips >= 1)
        #expect(sink.events.first == .gap(10))
        assembler.flush(budget: &budget, sink: &sink)
        #expect(sink.bytes == bytes(10..<310))
        #expect(budget.usedBytes == 0)
    }

    @Test func segmentLimit() {
        var budget = ReassemblyBudget(perDirectionBytes: 1 << 20, perDirectionSegments: 4, totalBytes: 1 << 20)
        var assembler = DirectionAssembler()
        assembler.startAtSYN(initialSequence: Self.base &- 1)
        var sink = RecordingSink()
        for i in 1...10 {
            let segment = Self.seg(i * 10, i * 10 + 5)  // holes everywhere
            segment.bytes.withUnsafeBytes { assembler.accept(sequence: segment.sequence, payload: $0, budget: &budget, sink: &sink) }
        }
        #expect(budget.forcedSkips >= 1)
        #expect(assembler.bufferedBytes <= 4 * 5)
    }

    @Test func finAfterAllData() {
        var assembler = DirectionAssembler()
        var budget = ReassemblyBudget()
        var sink = RecordingSink()
        assembler.startAtSYN(initialSequence: 99)
        assembler.noteFIN(at: 110)
        #expect(!assembler.isFinished)
        bytes(0..<10).withUnsafeBytes { assembler.accept(sequence: 100, payload: $0, budget: &budget, sink: &sink) }
        #expect(assembler.isFinished)
    }

    /// Random segmentations of one stream, with duplicates, overlaps and any
    /// order, against an obviously correct model: a bitmap of bytes seen; what
    /// must come out is the stream with the never-seen runs as gaps.
    @Test(arguments: 0..<200)
    func randomAgainstBitmapModel(_ seed: Int) {
        var rng = SplitMix(seed: UInt64(seed))
        let length = 50 + Int(rng.next() % 400)
        let stream = (0..<length).map { _ in UInt8(truncatingIfNeeded: rng.next()) }
        let start = UInt32(truncatingIfNeeded: rng.next())
        var segments: [Segment] = []
        var seen = [Bool](repeating: false, count: length)
        for _ in 0..<(5 + Int(rng.next() % 40)) {
            let from = Int(rng.next() % UInt64(length))
            let to = min(length, from + 1 + Int(rng.next() % 60))
            segments.append(Segment(sequence: start &+ UInt32(from), bytes: Array(stream[from..<to])))
            for i in from..<to { seen[i] = true }
        }
        let result = assemble(segments, start: start)
        // Model: the stream up to the last byte seen, holes as gaps.
        var expected: [RecordingSink.Event] = []
        let last = seen.lastIndex(of: true) ?? -1
        var i = 0
        while i <= last {
            var j = i
            while j <= last, seen[j] == seen[i] { j += 1 }
            expected.append(seen[i] ? .data(Array(stream[i..<j])) : .gap(j - i))
            i = j
        }
        #expect(result.sink.events == expected, "seed \(seed)")
        #expect(result.assembler.statistics.conflictingBytes == 0)
    }
}

/// A tiny deterministic generator (no global state; tests run in parallel).
struct SplitMix {
    var state: UInt64
    init(seed: UInt64) { state = seed &+ 0x9E37_79B9_7F4A_7C15 }
    mutating func next() -> UInt64 {
        state &+= 0x9E37_79B9_7F4A_7C15
        var z = state
        z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
        z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
        return z ^ (z >> 31)
    }
}
