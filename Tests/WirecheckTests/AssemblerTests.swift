import Testing
@testable import StreamReassembly

// MARK: Shared helpers (also used by StreamInvarianceTests, ClearBinaryProbeTests, ClassifierTests)

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
    var gapTotal: Int { events.reduce(0) { if case .gap(let n) = $1 { return $0 + n } else { return $0 } } }
    /// Stream length the events account for: data plus gaps.
    var length: Int { events.reduce(0) { if case .data(let d) = $1 { return $0 + d.count } else if case .gap(let n) = $1 { return $0 + n } else { return $0 } } }
}

/// A segment: sequence number and payload.
struct Segment: Sendable {
    var sequence: UInt32
    var bytes: [UInt8]
    var missing = 0
}

func assemble(_ segments: [Segment], start: UInt32? = nil, budget: ReassemblyBudget = ReassemblyBudget(), flush: Bool = true,
              afterEach: (DirectionAssembler) -> Void = { _ in })
    -> (sink: RecordingSink, assembler: DirectionAssembler, budget: ReassemblyBudget) {
    var assembler = DirectionAssembler()
    if let start { assembler.startAtSYN(initialSequence: start &- 1) }
    var sink = RecordingSink()
    var budget = budget
    for segment in segments {
        segment.bytes.withUnsafeBytes { raw in
            assembler.accept(sequence: segment.sequence, payload: raw, missing: segment.missing, budget: &budget, sink: &sink)
        }
        afterEach(assembler)
    }
    if flush { assembler.flush(budget: &budget, sink: &sink) }
    return (sink, assembler, budget)
}

/// Deterministic stream content: byte `i` of the stream is `bytes(i..<i+1)`.
func bytes(_ range: Range<Int>) -> [UInt8] { range.map { UInt8(truncatingIfNeeded: $0 &* 7 &+ 3) } }

/// A tiny deterministic generator (no global state; tests run in parallel).
struct SplitMix: RandomNumberGenerator {
    var state: UInt64
    init(seed: UInt64) { state = seed &+ 0x9E37_79B9_7F4A_7C15 }
    mutating func next() -> UInt64 {
        state &+= 0x9E37_79B9_7F4A_7C15
        var z = state
        z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
        z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
        return z ^ (z >> 31)
    }

    /// Uniform in `0..<bound` (bound > 0).
    mutating func below(_ bound: Int) -> Int { Int(next() % UInt64(bound)) }

    /// `bytes` cut at random points into pieces of 1 to `longest` bytes, in order.
    mutating func chunks(of bytes: [UInt8], longest: Int) -> [ArraySlice<UInt8>] {
        var chunks: [ArraySlice<UInt8>] = []
        var i = 0
        while i < bytes.count {
            let n = 1 + below(longest)
            chunks.append(bytes[i..<min(bytes.count, i + n)])
            i += n
        }
        return chunks
    }
}

// MARK: Tests

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
    static func junk(_ count: Int) -> [UInt8] { [UInt8](repeating: 0xEE, count: count) }

    static let cases: [Case] = [
        Case(name: "in order", segments: [seg(0, 10), seg(10, 25)], expected: [.data(bytes(0..<25))]),
        Case(name: "exact duplicate ignored", segments: [seg(0, 10), seg(0, 10), seg(10, 20), seg(10, 20)],
             expected: [.data(bytes(0..<20))], duplicateBytes: 20),
        Case(name: "old duplicate after more data", segments: [seg(0, 10), seg(10, 20), seg(20, 30), seg(0, 10)],
             expected: [.data(bytes(0..<30))], duplicateBytes: 10),
        Case(name: "reordered", segments: [seg(10, 20), seg(20, 30), seg(0, 10)], expected: [.data(bytes(0..<30))]),
        Case(name: "reversed", segments: [seg(30, 40), seg(20, 30), seg(10, 20), seg(0, 10)], expected: [.data(bytes(0..<40))]),
        Case(name: "overlapping retransmission extends", segments: [seg(0, 10), seg(5, 15)],
             expected: [.data(bytes(0..<15))], duplicateBytes: 5),
        Case(name: "duplicate of held out-of-order data", segments: [seg(10, 20), seg(10, 20), seg(0, 10)],
             expected: [.data(bytes(0..<20))], duplicateBytes: 10),
        Case(name: "segment covering held data on both sides", segments: [seg(10, 20), seg(5, 25), seg(0, 5)],
             expected: [.data(bytes(0..<25))], duplicateBytes: 10),
        Case(name: "conflicting retransmission keeps first copy",
             segments: [seg(0, 10), seg(0, 10, content: junk(10)), seg(10, 20)],
             expected: [.data(bytes(0..<20))], conflictingBytes: 10),
        Case(name: "conflict with held out-of-order data",
             segments: [seg(10, 20), seg(10, 20, content: junk(10)), seg(0, 10)],
             expected: [.data(bytes(0..<20))], conflictingBytes: 10),
        Case(name: "partial conflict with held data keeps held bytes, adds new ones",
             segments: [seg(10, 20), seg(15, 25, content: junk(10)), seg(0, 10)],
             expected: [.data(bytes(0..<20) + junk(5))], conflictingBytes: 5),
        Case(name: "snaplen truncation is a gap", segments: [seg(0, 10, missing: 5), seg(15, 20)],
             expected: [.data(bytes(0..<10)), .gap(5), .data(bytes(15..<20))]),
        Case(name: "snaplen truncation of a held segment", segments: [seg(10, 15, missing: 5), seg(0, 10), seg(20, 25)],
             expected: [.data(bytes(0..<15)), .gap(5), .data(bytes(20..<25))]),
        Case(name: "headers-only segment is all gap", segments: [seg(0, 10), seg(10, 10, missing: 30), seg(40, 45)],
             expected: [.data(bytes(0..<10)), .gap(30), .data(bytes(40..<45))]),
        Case(name: "hole reported at flush", segments: [seg(0, 10), seg(20, 30)],
             expected: [.data(bytes(0..<10)), .gap(10), .data(bytes(20..<30))]),
        Case(name: "holes at flush, first byte missing", segments: [seg(40, 50), seg(10, 20)],
             expected: [.gap(10), .data(bytes(10..<20)), .gap(20), .data(bytes(40..<50))]),
        Case(name: "in-order segment over held data keeps the held (first) copy",
             segments: [seg(10, 20), seg(0, 30, content: bytes(0..<10) + junk(10) + bytes(20..<30))],
             expected: [.data(bytes(0..<30))], conflictingBytes: 10),
        // An overlap that disagrees anywhere counts as conflicting as a whole.
        Case(name: "in-order segment over several held pieces compares each",
             segments: [seg(10, 15), seg(20, 25), seg(0, 30, content: bytes(0..<12) + junk(3) + bytes(15..<30))],
             expected: [.data(bytes(0..<30))], duplicateBytes: 5, conflictingBytes: 5),
        Case(name: "in-order segment starting inside delivered data, over held data",
             segments: [seg(0, 10), seg(20, 25), seg(5, 30)],
             expected: [.data(bytes(0..<30))], duplicateBytes: 10),
        Case(name: "in-order segment with uncaptured tail reaching held data",
             segments: [seg(20, 30), seg(0, 10, missing: 15)],
             expected: [.data(bytes(0..<10)), .gap(10), .data(bytes(20..<30))]),
        Case(name: "held segment whose captured part ends inside held data keeps its uncaptured tail",
             segments: [seg(20, 30), seg(15, 25, missing: 10), seg(0, 15), seg(35, 40)],
             expected: [.data(bytes(0..<30)), .gap(5), .data(bytes(35..<40))], duplicateBytes: 5),
    ]

    /// Reordering on a busy node must not cost a fresh buffer per held
    /// segment: buffers go back to a bounded pool and are taken from it again.
    @Test func outOfOrderBuffersComeFromAPool() {
        var assembler = DirectionAssembler()
        var sink = RecordingSink()
        var budget = ReassemblyBudget()
        assembler.startAtSYN(initialSequence: Self.base &- 1)
        for round in 0..<100 {
            let from = round * 3_000
            // Each round: the second full-size segment arrives first and is held, then the first fills the hole.
            for (a, b) in [(from + 1_500, from + 3_000), (from, from + 1_500)] {
                bytes(a..<b).withUnsafeBytes {
                    assembler.accept(sequence: Self.base &+ UInt32(a), payload: $0, budget: &budget, sink: &sink)
                }
            }
            #expect(budget.pool.count == 1, "round \(round): one buffer, reused")
        }
        #expect(sink.bytes == bytes(0..<300_000))
        #expect(budget.usedBytes == 0)
        // A held full-size segment counts its whole pooled buffer against the limits.
        bytes(301_500..<303_000).withUnsafeBytes {
            assembler.accept(sequence: Self.base &+ 301_500, payload: $0, budget: &budget, sink: &sink)
        }
        #expect(assembler.bufferedBytes == 1_500)
        #expect(assembler.bufferedFootprint == SegmentBufferPool.bufferCapacity + budget.segmentOverhead)
        #expect(budget.usedBytes == SegmentBufferPool.bufferCapacity + budget.segmentOverhead)
    }

    @Test func synAfterDataNeverMovesTheStreamBack() {
        var assembler = DirectionAssembler()
        var sink = RecordingSink()
        var budget = ReassemblyBudget()
        let data = bytes(0..<10)
        data.withUnsafeBytes { assembler.accept(sequence: 1_000, payload: $0, budget: &budget, sink: &sink) }
        assembler.startAtSYN(initialSequence: 499)
        #expect(assembler.startedAtSYN)
        #expect(assembler.nextSequence == 1_010)
        data.withUnsafeBytes { assembler.accept(sequence: 1_000, payload: $0, budget: &budget, sink: &sink) }
        #expect(sink.bytes == data, "the same bytes delivered twice after a late SYN")
    }

    /// Two SYNs with different initial sequence numbers before any data
    /// (a server's second SYN-ACK, a middlebox's first): the peer's
    /// acknowledgement says which start the data follows.
    @Test func theAcknowledgedSYNDecidesWhereTheStreamStarts() {
        let data = bytes(0..<10)
        func run(acknowledge: [UInt32], dataAt sequence: UInt32, deliveredBefore: Bool = false) -> RecordingSink {
            var assembler = DirectionAssembler()
            var sink = RecordingSink()
            var budget = ReassemblyBudget()
            assembler.startAtSYN(initialSequence: 499)
            if deliveredBefore { data.withUnsafeBytes { assembler.accept(sequence: 500, payload: $0, budget: &budget, sink: &sink) } }
            assembler.startAtSYN(initialSequence: 499)  // the same SYN again (-i any): nothing to decide
            assembler.startAtSYN(initialSequence: 8_999)
            for acknowledgment in acknowledge { assembler.notePeerAcknowledgment(acknowledgment) }
            data.withUnsafeBytes { assembler.accept(sequence: sequence, payload: $0, budget: &budget, sink: &sink) }
            assembler.flush(budget: &budget, sink: &sink)
            return sink
        }
        // The peer acknowledges the second SYN: its data is the stream.
        #expect(run(acknowledge: [9_000], dataAt: 9_000).events == [.data(data)])
        // The peer acknowledges the first: data after it is the stream; a
        // later acknowledgement of the second changes nothing.
        #expect(run(acknowledge: [500, 9_000], dataAt: 500).events == [.data(data)])
        // An acknowledgement of neither (data the capture missed) moves
        // nothing: what follows it is after a gap from the first start.
        #expect(run(acknowledge: [520], dataAt: 520).events == [.gap(20), .data(data)])
        // Data already taken: a SYN after it, acknowledged, moves nothing.
        #expect(run(acknowledge: [9_000], dataAt: 510, deliveredBefore: true).events == [.data(data + data)])
    }

    /// Bytes that lie wholly before a SYN's start while nothing has been
    /// taken cannot be a retransmission (there was no first copy): they are
    /// a gap at the start, counted once, not duplicates that vanish. One
    /// byte is a keep-alive probe's; once data was taken, old bytes are
    /// retransmissions as ever.
    @Test func bytesBeforeTheStartAreAGapNotDuplicates() {
        let data = bytes(0..<40)
        func run(_ segments: [(UInt32, [UInt8])]) -> (RecordingSink, DirectionStatistics) {
            var assembler = DirectionAssembler()
            var sink = RecordingSink()
            var budget = ReassemblyBudget()
            assembler.startAtSYN(initialSequence: 99_999)
            for (sequence, payload) in segments {
                payload.withUnsafeBytes { assembler.accept(sequence: sequence, payload: $0, budget: &budget, sink: &sink) }
            }
            assembler.flush(budget: &budget, sink: &sink)
            return (sink, assembler.statistics)
        }
        // Data after a SYN the capture missed, each segment captured twice.
        let (missed, missedStats) = run([(5_000, data), (5_000, data), (5_040, data), (5_040, data)])
        #expect(missed.events == [.gap(40), .gap(40)])
        #expect(missedStats.bytesBeforeStart == 80 && missedStats.gapBytes == 80)
        #expect(missedStats.duplicateBytes == 80)
        // A keep-alive probe's one byte, just before the start.
        let (probe, probeStats) = run([(99_999, [0])])
        #expect(probe.events.isEmpty && probeStats.duplicateBytes == 1 && probeStats.bytesBeforeStart == 0)
        // Data taken first: bytes before it are retransmissions.
        let (taken, takenStats) = run([(100_000, data), (100_000, data)])
        #expect(taken.events == [.data(data)] && takenStats.duplicateBytes == 40 && takenStats.bytesBeforeStart == 0)
    }

    /// A FIN (or reset) further on than the last byte seen says the side
    /// sent bytes the capture lost: flush reports them as missing at the end
    /// (counted as a gap, not handed to the sink, nothing follows them).
    @Test func aCloseBeyondTheLastByteSaysBytesWereLost() {
        let data = bytes(0..<40)
        func run(start: UInt32?, fin: UInt32?) -> (missing: Int, sink: RecordingSink, stats: DirectionStatistics) {
            var assembler = DirectionAssembler()
            var sink = RecordingSink()
            var budget = ReassemblyBudget()
            if let start { assembler.startAtSYN(initialSequence: start) }
            data.withUnsafeBytes { assembler.accept(sequence: 1_001, payload: $0, budget: &budget, sink: &sink) }
            if let fin { assembler.noteFIN(at: fin) }
            let missing = assembler.flush(budget: &budget, sink: &sink)
            return (missing, sink, assembler.statistics)
        }
        let lost = run(start: 1_000, fin: 1_041 + 169)
        #expect(lost.missing == 169 && lost.stats.gapBytes == 169 && lost.sink.events == [.data(data)])
        #expect(run(start: 1_000, fin: 1_041).missing == 0, "a FIN right after the last byte")
        #expect(run(start: 1_000, fin: nil).missing == 0)
        #expect(run(start: 1_000, fin: 1_041 &+ UInt32(DirectionAssembler.largestGapBeforeEnd) &+ 1).missing == 0,
                "a sequence number too far off to be this stream's")
        #expect(run(start: 1_000, fin: 1_041 &+ UInt32(DirectionAssembler.largestGapBeforeEnd)).missing
                == DirectionAssembler.largestGapBeforeEnd)
        // Picked up mid-stream (no SYN), the first byte seen starts the stream.
        #expect(run(start: nil, fin: 1_041 + 7).missing == 7)
    }

    /// The peer's acknowledgements past the last byte seen say the side sent
    /// bytes the capture lost (a one-way capture, an answer dropped with its
    /// close). One past the last byte may be a lost FIN, so the count is a
    /// lower bound; the side's own FIN, when seen, says where it ended.
    @Test func acknowledgementsBeyondTheLastByteSayBytesWereLost() {
        let data = bytes(0..<10)
        func run(syn: UInt32? = 999, dataAt: UInt32? = 1_000, fin: UInt32? = nil, acks: [UInt32], acksFirst: Bool = false)
            -> (missing: Int, sink: RecordingSink, stats: DirectionStatistics) {
            var assembler = DirectionAssembler()
            var sink = RecordingSink()
            var budget = ReassemblyBudget()
            if let syn { assembler.startAtSYN(initialSequence: syn) }
            if acksFirst { for ack in acks { assembler.notePeerAcknowledgment(ack) } }
            if let dataAt { data.withUnsafeBytes { assembler.accept(sequence: dataAt, payload: $0, budget: &budget, sink: &sink) } }
            if !acksFirst { for ack in acks { assembler.notePeerAcknowledgment(ack) } }
            if let fin { assembler.noteFIN(at: fin) }
            let missing = assembler.flush(budget: &budget, sink: &sink)
            return (missing, sink, assembler.statistics)
        }
        #expect(run(acks: [1_000, 1_010]).missing == 0, "everything acknowledged was captured")
        #expect(run(acks: [1_011]).missing == 0, "one past the last byte: read as a lost FIN")
        let lost = run(acks: [1_000, 1_510])
        #expect(lost.missing == 499 && lost.stats.gapBytes == 499 && lost.sink.events == [.data(data)])
        #expect(run(acks: [1_510, 1_200, 1_005]).missing == 499, "the furthest acknowledgement counts")
        #expect(run(fin: 1_010, acks: [1_511]).missing == 0, "the side's own FIN says where it ended")
        #expect(run(fin: 1_300, acks: [1_301]).missing == 290)
        #expect(run(acks: [900]).missing == 0, "before the start")
        #expect(run(acks: [1_010 &+ UInt32(DirectionAssembler.largestGapBeforeEnd) &+ 2]).missing == 0, "too far off")
        // Nothing of the side's captured: from the first acknowledgement to the furthest.
        #expect(run(syn: nil, dataAt: nil, acks: [5_000, 5_300]).missing == 299)
        #expect(run(syn: nil, dataAt: nil, acks: [5_000]).missing == 0)
        // Its bytes picked up after acknowledgements: they start the stream, the furthest still counts.
        #expect(run(syn: nil, dataAt: 5_100, acks: [5_000, 5_300], acksFirst: true).missing == 5_299 - 5_110)
        // The SYN seen after acknowledgements starts the stream.
        #expect(run(syn: 999, dataAt: nil, acks: [1_000, 1_100], acksFirst: true).missing == 99)
        // Acknowledged without its SYN (a SYN-ACK the capture missed), or not.
        func acknowledgedWithoutSYN(syn: UInt32?, acks: [UInt32]) -> Bool {
            var assembler = DirectionAssembler()
            if let syn { assembler.startAtSYN(initialSequence: syn) }
            for ack in acks { assembler.notePeerAcknowledgment(ack) }
            return assembler.acknowledgedWithoutSYN
        }
        #expect(acknowledgedWithoutSYN(syn: nil, acks: [1_000]))
        #expect(!acknowledgedWithoutSYN(syn: 999, acks: [1_000]))
        #expect(!acknowledgedWithoutSYN(syn: nil, acks: []))
        // Across the wrap of sequence numbers.
        // (the last byte seen is 0xFFFF_FFFA; acknowledged up to 0x0F, FIN read at 0x0F: 5 + 15 bytes)
        #expect(run(syn: 0xFFFF_FFF0, dataAt: 0xFFFF_FFF1, acks: [0xFFFF_FFFB, 0x10]).missing == 20)
    }

    @Test(arguments: cases)
    func delivery(_ c: Case) {
        let result = assemble(c.segments, start: Self.base)
        #expect(result.sink.events == c.expected)
        #expect(result.assembler.statistics.duplicateBytes == c.duplicateBytes)
        #expect(result.assembler.statistics.conflictingBytes == c.conflictingBytes)
        #expect(result.assembler.statistics.deliveredBytes == result.sink.bytes.count)
        #expect(result.assembler.statistics.gapBytes == result.sink.gapTotal)
        #expect(result.budget.usedBytes == 0, "flush leaves nothing held")
        #expect(result.assembler.bufferedBytes == 0)
    }

    /// Before flush, only the contiguous prefix is out; the rest waits in the budget.
    @Test func heldDataIsNotDeliveredBeforeTheHoleFills() {
        var assembler = DirectionAssembler()
        assembler.startAtSYN(initialSequence: Self.base &- 1)
        var budget = ReassemblyBudget()
        var sink = RecordingSink()
        for s in [Self.seg(0, 10), Self.seg(20, 30), Self.seg(30, 35)] {
            s.bytes.withUnsafeBytes { assembler.accept(sequence: s.sequence, payload: $0, budget: &budget, sink: &sink) }
        }
        #expect(sink.events == [.data(bytes(0..<10))])
        #expect(assembler.bufferedBytes == 15)
        #expect(budget.usedBytes == 15 + 2 * budget.segmentOverhead)
        #expect(assembler.nextSequence == Self.base &+ 10)
        #expect(assembler.statistics.outOfOrderSegments == 2)
        #expect(assembler.statistics.peakBufferedBytes == 15)
        let fill = Self.seg(10, 20)
        fill.bytes.withUnsafeBytes { assembler.accept(sequence: fill.sequence, payload: $0, budget: &budget, sink: &sink) }
        #expect(sink.events == [.data(bytes(0..<35))])
        #expect(budget.usedBytes == 0)
        #expect(assembler.nextSequence == Self.base &+ 35)
    }

    /// A segment entirely before the stream position changes nothing but statistics.
    @Test func staleSegmentLeavesStateUntouched() {
        var assembler = DirectionAssembler()
        assembler.startAtSYN(initialSequence: Self.base &- 1)
        var budget = ReassemblyBudget()
        var sink = RecordingSink()
        for s in [Self.seg(0, 20), Self.seg(30, 40)] {
            s.bytes.withUnsafeBytes { assembler.accept(sequence: s.sequence, payload: $0, budget: &budget, sink: &sink) }
        }
        let before = (assembler.nextSequence, assembler.bufferedBytes, budget.usedBytes, sink.events)
        let stale = Self.seg(5, 15)
        stale.bytes.withUnsafeBytes { assembler.accept(sequence: stale.sequence, payload: $0, budget: &budget, sink: &sink) }
        #expect(assembler.nextSequence == before.0)
        #expect(assembler.bufferedBytes == before.1)
        #expect(budget.usedBytes == before.2)
        #expect(sink.events == before.3)
        #expect(assembler.statistics.duplicateBytes == 10)
    }

    /// An empty segment (a pure ACK) neither starts a stream nor moves it.
    @Test func emptySegmentIsIgnored() {
        var assembler = DirectionAssembler()
        var budget = ReassemblyBudget()
        var sink = RecordingSink()
        [UInt8]().withUnsafeBytes { assembler.accept(sequence: 77, payload: $0, budget: &budget, sink: &sink) }
        #expect(!assembler.isStarted)
        #expect(sink.events.isEmpty)
    }

    @Test(arguments: [UInt32(0xFFFF_FFF0), 0xFFFF_FFFF, 0, 0x7FFF_FFF8])
    func sequenceWraparound(_ start: UInt32) {
        let data = bytes(0..<64)
        let segments = stride(from: 0, to: 64, by: 8).reversed().map {
            Segment(sequence: start &+ UInt32($0), bytes: Array(data[$0..<($0 + 8)]))
        }
        let result = assemble(segments, start: start)
        #expect(result.sink.events == [.data(data)])
        #expect(result.assembler.nextSequence == start &+ 64)
    }

    /// A hole that straddles 2^32, picked up mid-stream, comes out as a gap of the right size.
    @Test func holeAcrossWraparound() {
        let start: UInt32 = 0xFFFF_FFF6  // 10 bytes before zero
        let segments = [
            Segment(sequence: start, bytes: bytes(0..<4)),
            Segment(sequence: start &+ 16, bytes: bytes(16..<24)),  // sequence 6
            Segment(sequence: start &+ 4, bytes: bytes(4..<8)),     // 0xFFFFFFFA
        ]
        let result = assemble(segments)  // mid-stream: the first segment starts the stream
        #expect(result.sink.events == [.data(bytes(0..<8)), .gap(8), .data(bytes(16..<24))])
        #expect(result.assembler.nextSequence == 6 &+ 8)
    }

    /// With a SYN, data arriving ahead of the first byte waits for it; without
    /// one, the first byte seen starts the stream and earlier bytes are late.
    @Test func synStartVersusMidStream() {
        let segments = [Self.seg(10, 20), Self.seg(0, 10), Self.seg(20, 30)]
        let withSYN = assemble(segments, start: Self.base)
        #expect(withSYN.assembler.startedAtSYN)
        #expect(withSYN.sink.events == [.data(bytes(0..<30))])

        let midStream = assemble(segments)
        #expect(!midStream.assembler.startedAtSYN)
        #expect(midStream.sink.events == [.data(bytes(10..<30))])
        #expect(midStream.assembler.statistics.duplicateBytes == 10, "bytes before the pickup point count as already seen")
    }

    /// After a SYN the first data byte is ISN+1; a first segment past it is a hole, not a start.
    @Test func synStartReportsLeadingHole() {
        let result = assemble([Self.seg(5, 15)], start: Self.base)
        #expect(result.sink.events == [.gap(5), .data(bytes(5..<15))])
    }

    /// Holes are only given up at the byte limit: the oldest hole is skipped,
    /// reported as a gap of exactly its size, and the buffer never exceeds the limit.
    @Test func perDirectionByteLimit() {
        var budget = ReassemblyBudget(perDirectionBytes: 50, perDirectionSegments: 1_000, totalBytes: 1_000, segmentOverhead: 0)
        var assembler = DirectionAssembler()
        assembler.startAtSYN(initialSequence: Self.base &- 1)
        var sink = RecordingSink()
        // Ten-byte segments at 20, 40, 60…: ten-byte holes between them (twenty before the first).
        for i in 1...12 {
            let s = Self.seg(i * 20, i * 20 + 10)
            s.bytes.withUnsafeBytes { assembler.accept(sequence: s.sequence, payload: $0, budget: &budget, sink: &sink) }
            #expect(assembler.bufferedBytes <= 50)
            #expect(budget.usedBytes == assembler.bufferedBytes)
            #expect(budget.forcedSkips == max(0, i - 5), "segment \(i)")
        }
        // Five held fit; each of the seven after forced one skip.
        var expected: [RecordingSink.Event] = [.gap(20), .data(bytes(20..<30))]
        for i in 2...7 { expected += [.gap(10), .data(bytes(i * 20..<(i * 20 + 10)))] }
        #expect(sink.events == expected)
        assembler.flush(budget: &budget, sink: &sink)
        for i in 8...12 { expected += [.gap(10), .data(bytes(i * 20..<(i * 20 + 10)))] }
        #expect(sink.events == expected)
        #expect(budget.usedBytes == 0)
        #expect(assembler.statistics.peakBufferedBytes == 50)
    }

    /// A segment bigger than the limit is never held: delivered at once after a gap.
    @Test func segmentLargerThanLimitIsDeliveredAfterGap() {
        var budget = ReassemblyBudget(perDirectionBytes: 16, perDirectionSegments: 100, totalBytes: 1_000, segmentOverhead: 0)
        var assembler = DirectionAssembler()
        assembler.startAtSYN(initialSequence: Self.base &- 1)
        var sink = RecordingSink()
        for s in [Self.seg(10, 20), Self.seg(30, 70)] {
            s.bytes.withUnsafeBytes { assembler.accept(sequence: s.sequence, payload: $0, budget: &budget, sink: &sink) }
            #expect(assembler.bufferedBytes <= 16)
        }
        #expect(sink.events == [.gap(10), .data(bytes(10..<20)), .gap(10), .data(bytes(30..<70))])
        #expect(assembler.bufferedBytes == 0)
        #expect(budget.usedBytes == 0)
        #expect(assembler.nextSequence == Self.base &+ 70)
    }

    /// The total budget is shared: one direction's hoard forces the other to skip.
    @Test func totalBudgetIsShared() {
        var budget = ReassemblyBudget(perDirectionBytes: 100, perDirectionSegments: 100, totalBytes: 60, segmentOverhead: 0)
        var a = DirectionAssembler(), b = DirectionAssembler()
        a.startAtSYN(initialSequence: 0)
        b.startAtSYN(initialSequence: 0)
        var sinkA = RecordingSink(), sinkB = RecordingSink()
        bytes(0..<50).withUnsafeBytes { a.accept(sequence: 11, payload: $0, budget: &budget, sink: &sinkA) }
        #expect(budget.usedBytes == 50)
        bytes(0..<20).withUnsafeBytes { b.accept(sequence: 11, payload: $0, budget: &budget, sink: &sinkB) }
        #expect(sinkB.events == [.gap(10), .data(bytes(0..<20))])
        #expect(sinkA.events.isEmpty)
        #expect(budget.usedBytes == 50)
        #expect(budget.forcedSkips == 1)
    }

    @Test func segmentLimit() {
        var budget = ReassemblyBudget(perDirectionBytes: 1 << 20, perDirectionSegments: 4, totalBytes: 1 << 20, segmentOverhead: 0)
        var assembler = DirectionAssembler()
        assembler.startAtSYN(initialSequence: Self.base &- 1)
        var sink = RecordingSink()
        for i in 1...10 {
            let segment = Self.seg(i * 10, i * 10 + 5)  // five-byte holes everywhere
            segment.bytes.withUnsafeBytes { assembler.accept(sequence: segment.sequence, payload: $0, budget: &budget, sink: &sink) }
            #expect(assembler.bufferedSegments <= 4)
            #expect(assembler.bufferedBytes == 5 * min(i, 4))
        }
        #expect(budget.forcedSkips == 6)
        var expected: [RecordingSink.Event] = [.gap(10), .data(bytes(10..<15))]
        for i in 2...6 { expected += [.gap(5), .data(bytes(i * 10..<(i * 10 + 5)))] }
        #expect(sink.events == expected)
    }

    /// One segment that fills several holes between held segments is stored in
    /// pieces; the segment limit must hold after it too.
    @Test func segmentLimitHoldsWhenOneSegmentSplitsIntoPieces() {
        var budget = ReassemblyBudget(perDirectionBytes: 1 << 20, perDirectionSegments: 4, totalBytes: 1 << 20, segmentOverhead: 0)
        var assembler = DirectionAssembler()
        assembler.startAtSYN(initialSequence: Self.base &- 1)
        var sink = RecordingSink()
        for s in [Self.seg(20, 25), Self.seg(40, 45), Self.seg(60, 65), Self.seg(15, 70)] {
            s.bytes.withUnsafeBytes { assembler.accept(sequence: s.sequence, payload: $0, budget: &budget, sink: &sink) }
            #expect(assembler.bufferedSegments <= 4)
            #expect(assembler.bufferedBytes <= 55)
        }
        assembler.flush(budget: &budget, sink: &sink)
        // Whatever was skipped, the stream is the right bytes at the right places.
        #expect(sink.events.first == .gap(15))
        #expect(sink.bytes == bytes(15..<70))
        #expect(sink.length == 70)
    }

    @Test func finAfterAllData() {
        var assembler = DirectionAssembler()
        var budget = ReassemblyBudget()
        var sink = RecordingSink()
        assembler.startAtSYN(initialSequence: 99)
        assembler.noteFIN(at: 120)
        #expect(!assembler.isFinished)
        bytes(10..<20).withUnsafeBytes { assembler.accept(sequence: 110, payload: $0, budget: &budget, sink: &sink) }
        #expect(!assembler.isFinished, "data before the FIN is still held")
        bytes(0..<10).withUnsafeBytes { assembler.accept(sequence: 100, payload: $0, budget: &budget, sink: &sink) }
        #expect(assembler.isFinished)
        #expect(sink.events == [.data(bytes(0..<20))])
        assembler.noteFIN(at: 500)
        #expect(assembler.finSequence == 120, "the first FIN counts")
    }

    @Test func finWithoutDataIsFinishedAtOnce() {
        var assembler = DirectionAssembler()
        assembler.startAtSYN(initialSequence: 0xFFFF_FFFF)
        assembler.noteFIN(at: 0)
        #expect(assembler.isFinished)
    }

    /// Random segmentations of one stream, with duplicates, overlaps and any
    /// order, against an obviously correct model: a bitmap of bytes seen.
    /// Before flush exactly the contiguous prefix of the union is delivered;
    /// after flush the stream up to the last byte seen, holes as gaps.
    @Test(arguments: 0..<200)
    func randomAgainstBitmapModel(_ seed: Int) {
        checkAgainstBitmapModel(seed: seed, rng: SplitMix(seed: UInt64(seed)), length: 50...449, segments: 5...44, longest: 60)
    }

    /// The same with hundreds of short segments, most held at once: where
    /// each goes and what it overlaps is found by binary search among the
    /// held ones, and delivered ones leave the front of the list in bulk.
    @Test(arguments: 0..<100)
    func manySegmentsAgainstBitmapModel(_ seed: Int) {
        checkAgainstBitmapModel(seed: seed, rng: SplitMix(seed: UInt64(seed) &+ 50_000), length: 500...2_999, segments: 100...699, longest: 8)
    }

    private func checkAgainstBitmapModel(seed: Int, rng: SplitMix, length lengths: ClosedRange<Int>, segments counts: ClosedRange<Int>, longest: Int) {
        var rng = rng
        let length = lengths.lowerBound + rng.below(lengths.count)
        let stream = (0..<length).map { _ in UInt8(truncatingIfNeeded: rng.next()) }
        // Every fourth run starts just before 2^32 so segments straddle it.
        let start = seed % 4 == 0 ? UInt32.max &- UInt32(rng.below(length)) : UInt32(truncatingIfNeeded: rng.next())
        var segments: [Segment] = []
        var seen = [Bool](repeating: false, count: length)
        for _ in 0..<(counts.lowerBound + rng.below(counts.count)) {
            let from = rng.below(length)
            let to = min(length, from + 1 + rng.below(longest))
            segments.append(Segment(sequence: start &+ UInt32(from), bytes: Array(stream[from..<to])))
            for i in from..<to { seen[i] = true }
            if rng.below(4) == 0, let again = segments.randomElement(using: &rng) { segments.append(again) }
        }

        // The held list's array stays within a small multiple of what it
        // holds, however the segments come and go (it kept its largest size
        // before: memory no budget counted).
        var worst = (capacity: 0, held: 0)
        let held = assemble(segments, start: start, flush: false) { assembler in
            if assembler.heldListCapacity > 5 * assembler.bufferedSegments + 64,
               assembler.heldListCapacity - assembler.bufferedSegments > worst.capacity - worst.held {
                worst = (assembler.heldListCapacity, assembler.bufferedSegments)
            }
        }
        #expect(worst.capacity == 0, "seed \(seed): an array of \(worst.capacity) entries for \(worst.held) held segments")
        let prefix = seen.firstIndex(of: false) ?? length
        #expect(held.sink.events == (prefix == 0 ? [] : [.data(Array(stream[0..<prefix]))]), "seed \(seed)")
        let unionCount = seen.filter { $0 }.count
        #expect(held.assembler.bufferedBytes == unionCount - prefix, "seed \(seed)")
        #expect(held.budget.usedBytes == held.assembler.bufferedFootprint)

        let result = assemble(segments, start: start)
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
        #expect(result.assembler.statistics.deliveredBytes == unionCount)
        #expect(result.assembler.statistics.gapBytes == last + 1 - unionCount)
        let total = segments.reduce(0) { $0 + $1.bytes.count }
        #expect(result.assembler.statistics.duplicateBytes == total - unionCount, "seed \(seed)")
    }

    /// Hundreds of segments held at once (every other one of a stream),
    /// then the holes filled from the front: each fill delivers the hole and
    /// the held segment after it, and the rest stay held, in order, until
    /// their turn (the delivered ones are dropped from the front of the list
    /// in bulk, not one shift each).
    @Test func aFloodOfHeldSegmentsDrainsInOrder() {
        let pieces = 300, size = 4
        let stream = bytes(0..<(2 * pieces * size))
        var budget = ReassemblyBudget()
        var assembler = DirectionAssembler()
        assembler.startAtSYN(initialSequence: 999)
        var sink = RecordingSink()
        func send(_ piece: Int) {
            stream[(piece * size)..<((piece + 1) * size)].withUnsafeBytes {
                assembler.accept(sequence: 1_000 + UInt32(piece * size), payload: $0, budget: &budget, sink: &sink)
            }
        }
        for piece in stride(from: 1, to: 2 * pieces, by: 2) { send(piece) }
        #expect(assembler.bufferedSegments == pieces)
        #expect(sink.events.isEmpty)
        for (filled, piece) in stride(from: 0, to: 2 * pieces, by: 2).enumerated() {
            send(piece)
            #expect(assembler.bufferedSegments == pieces - filled - 1, "after filling hole \(filled)")
            #expect(sink.bytes == Array(stream[0..<((piece + 2) * size)]), "after filling hole \(filled)")
            #expect(assembler.heldListCapacity <= 4 * assembler.bufferedSegments + 64,
                    "the held list's array shrinks with its segments (after filling hole \(filled))")
        }
        #expect(assembler.bufferedBytes == 0 && budget.usedBytes == 0)
        #expect(sink.events == [.data(stream)])
        #expect(assembler.heldListCapacity <= 64, "the emptied list is small")
    }

    /// A held segment's entry: a flood holds a thousand per direction, and
    /// an insert into the middle moves those after it.
    @Test func aHeldSegmentsEntryIsTwentyFourBytes() {
        #expect(MemoryLayout<PendingSegment>.stride <= 24)
    }

    /// A thousand segments held and handed on at once, one left past a
    /// second hole: what the flow keeps afterwards is the size of what it
    /// holds (an open flow kept 32 KB of entries for its life before, counted
    /// nowhere, however few it then held).
    @Test func aDrainedFloodLeavesNoLargeListBehind() {
        var budget = ReassemblyBudget()
        var assembler = DirectionAssembler()
        assembler.startAtSYN(initialSequence: 999)
        var sink = RecordingSink()
        func send(_ offset: Int) {
            [UInt8(truncatingIfNeeded: offset)].withUnsafeBytes {
                assembler.accept(sequence: 1_000 + UInt32(offset), payload: $0, budget: &budget, sink: &sink)
            }
        }
        for offset in 1...1_000 { send(offset) }
        send(1_002)
        #expect(assembler.bufferedSegments == 1_001 && assembler.heldListCapacity >= 1_001)
        send(0)
        #expect(assembler.bufferedSegments == 1)
        #expect(sink.bytes == (0...1_000).map { UInt8(truncatingIfNeeded: $0) })
        #expect(assembler.heldListCapacity <= 64, "capacity \(assembler.heldListCapacity) for one held segment")
        send(1_001)
        #expect(assembler.bufferedSegments == 0 && budget.usedBytes == 0)
        #expect(sink.bytes == (0...1_002).map { UInt8(truncatingIfNeeded: $0) })
        // Emptied, it keeps no more than a small array for the next hole:
        // here, and when a hole's filling delivers all it held at once.
        #expect(assembler.heldListCapacity <= DirectionAssembler.unshrunkHeldCapacity,
                "capacity \(assembler.heldListCapacity) with nothing held")
        for offset in 1_004...1_100 { send(offset) }
        #expect(assembler.bufferedSegments == 97)
        send(1_003)
        #expect(assembler.bufferedSegments == 0 && sink.bytes.count == 1_101)
        #expect(assembler.heldListCapacity <= DirectionAssembler.unshrunkHeldCapacity,
                "capacity \(assembler.heldListCapacity) with nothing held")
    }

    /// Random segmentations under tight limits: whatever is skipped, every
    /// delivered byte is the right byte at the right stream position, the
    /// buffer never exceeds either limit, and the events cover the stream.
    @Test(arguments: 0..<100)
    func randomUnderLimits(_ seed: Int) {
        var rng = SplitMix(seed: UInt64(seed) &+ 10_000)
        let length = 100 + rng.below(400)
        let stream = (0..<length).map { _ in UInt8(truncatingIfNeeded: rng.next()) }
        let start = UInt32(truncatingIfNeeded: rng.next())
        let byteLimit = 20 + rng.below(80), segmentLimit = 1 + rng.below(6)
        var budget = ReassemblyBudget(perDirectionBytes: byteLimit, perDirectionSegments: segmentLimit, totalBytes: 1 << 20, segmentOverhead: 0)
        var assembler = DirectionAssembler()
        assembler.startAtSYN(initialSequence: start &- 1)
        var sink = RecordingSink()
        var end = 0
        for _ in 0..<(10 + rng.below(60)) {
            let from = rng.below(length)
            let to = min(length, from + 1 + rng.below(40))
            end = max(end, to)
            stream[from..<to].withUnsafeBytes {
                assembler.accept(sequence: start &+ UInt32(from), payload: $0, budget: &budget, sink: &sink)
            }
            #expect(assembler.bufferedBytes <= byteLimit, "seed \(seed)")
            #expect(assembler.bufferedSegments <= segmentLimit, "seed \(seed)")
        }
        assembler.flush(budget: &budget, sink: &sink)
        var position = 0
        for event in sink.events {
            switch event {
            case .data(let d):
                #expect(Array(stream[position..<min(length, position + d.count)]) == d, "seed \(seed) at \(position)")
                position += d.count
            case .gap(let n):
                #expect(n > 0)
                position += n
            }
        }
        #expect(position == end, "seed \(seed)")
        #expect(budget.usedBytes == 0)
    }
}
