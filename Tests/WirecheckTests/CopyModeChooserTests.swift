import PacketCapture
import Testing

/// The reading thread streams its copies only where trials show the usual
/// copy clearly dearer, and tries again now and then.
@Suite struct CopyModeChooserTests {
    /// Feeds `batches` batches of 1 MiB, each costing `usual` or `streamed`
    /// nanoseconds per byte as the chooser had it copied; answers the ways used.
    static func run(_ chooser: inout CopyModeChooser, batches: Int, usual: Double, streamed: Double) -> [Bool] {
        (0..<batches).map { _ in
            let streams = chooser.streamsNext
            let bytes = 1 << 20
            chooser.record(nanoseconds: Int(Double(bytes) * (streams ? streamed : usual)), bytes: bytes)
            return streams
        }
    }

    @Test func triesBothThenKeepsTheUsualCopyWhenItIsNoDearer() {
        var chooser = CopyModeChooser(trial: 4, stretch: 10)
        let ways = Self.run(&chooser, batches: 14, usual: 0.3, streamed: 0.3)
        #expect(ways == [false, true, false, true] + Array(repeating: false, count: 10))
        #expect(!chooser.streams)
    }

    @Test func streamsWhenTheUsualCopyIsClearlyDearer() {
        var chooser = CopyModeChooser(trial: 4, stretch: 10)
        let ways = Self.run(&chooser, batches: 14, usual: 0.45, streamed: 0.3)
        #expect(ways == [false, true, false, true] + Array(repeating: true, count: 10))
    }

    /// Dearer by less than the margin (10 % against 15 %) is noise.
    @Test func aSmallDifferenceIsNotEnough() {
        var chooser = CopyModeChooser(trial: 4, stretch: 10, margin: 1.15)
        _ = Self.run(&chooser, batches: 14, usual: 0.33, streamed: 0.3)
        #expect(!chooser.streams)
        var wider = CopyModeChooser(trial: 4, stretch: 10, margin: 1.05)
        _ = Self.run(&wider, batches: 14, usual: 0.33, streamed: 0.3)
        #expect(wider.streams)
    }

    /// After the stretch it tries again, and follows what it finds then.
    @Test func triesAgainAfterEachStretch() {
        var chooser = CopyModeChooser(trial: 2, stretch: 3)
        let far = Self.run(&chooser, batches: 5, usual: 0.5, streamed: 0.3)
        #expect(far == [false, true, true, true, true])
        let close = Self.run(&chooser, batches: 5, usual: 0.3, streamed: 0.3)
        #expect(close == [false, true, false, false, false])
    }

    /// A trial that copied nothing one way (a capture's last batches) leaves the choice as it was.
    @Test func aTrialWithoutBytesChangesNothing() {
        var chooser = CopyModeChooser(trial: 2, stretch: 2)
        _ = Self.run(&chooser, batches: 4, usual: 0.5, streamed: 0.3)
        #expect(chooser.streams)
        chooser.record(nanoseconds: 1_000, bytes: 0)
        chooser.record(nanoseconds: 1_000, bytes: 0)
        #expect(chooser.streams)
    }

    @Test func aFixedChoiceNeverChanges() {
        for streams in [false, true] {
            var chooser = CopyModeChooser(always: streams)
            let ways = Self.run(&chooser, batches: 50, usual: streams ? 0.1 : 9, streamed: streams ? 9 : 0.1)
            #expect(ways == Array(repeating: streams, count: 50))
        }
    }
}
