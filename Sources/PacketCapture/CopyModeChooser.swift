/// Chooses, batch by batch, how the reading thread copies packets: the usual
/// way or streamed (non-temporal stores, `ReadAhead`'s `streamsPackets`).
///
/// Which is faster depends on where the two threads run, and that can change
/// while wirecheck runs. On the development machine's 2-vCPU virtual machine
/// the host placed the vCPUs sometimes close (a cache line's round trip about
/// 110 ns) and sometimes far (about 430 ns), changing within minutes to
/// hours. Far, the usual copy's stores each waited for the line to come back
/// from the other processor, and streaming made the replay 6 to 16 % faster
/// (taking turns, 5-round blocks); close, streaming every batch cost 1 to 2.5 % (the
/// analysing thread then reads the packets from memory rather than from a
/// shared cache). The reading thread's own CPU time per
/// byte shows the first effect and not the second, so streaming is chosen
/// only when the usual copy's batches cost clearly more (`margin`): over
/// 1 GB replays, the usual copy's trials cost 0.91 to 1.14 times the
/// streamed ones' per byte with the vCPUs close (once 1.26), 1.26 to 1.46
/// far.
///
/// It tries both in turn on a few batches (`trial`), then uses the cheaper
/// for `stretch` batches, then tries again: with the defaults, 16 MiB tried
/// in every 256 MiB read.
public struct CopyModeChooser: Sendable {
    /// Batches tried, alternating, before each choice (half each way).
    public let trial: Int
    /// Batches filled the chosen way between trials.
    public let stretch: Int
    /// How much more the usual copy must cost per byte for streaming to be chosen.
    public let margin: Double

    /// Where in the cycle of `trial` + `stretch` batches the next batch falls.
    private var position = 0
    private var usual = (nanoseconds: 0, bytes: 0)
    private var streamed = (nanoseconds: 0, bytes: 0)
    /// The last choice (the usual copy until a trial says otherwise).
    public private(set) var streams = false
    /// Set for a choice made once and for all.
    private let fixed: Bool

    /// - Parameters:
    ///   - trial: batches tried before each choice, rounded up to an even number (at least 2).
    ///   - stretch: batches filled the chosen way between trials.
    ///   - margin: how much more per byte the usual copy must cost for streaming to be chosen.
    public init(trial: Int = 16, stretch: Int = 240, margin: Double = 1.2) {
        self.trial = max(2, trial + trial % 2)
        self.stretch = max(0, stretch)
        self.margin = margin
        fixed = false
    }

    /// Always the one way: to measure one against the other, or to test either.
    public init(always streams: Bool) {
        trial = 0
        stretch = 0
        margin = 1
        self.streams = streams
        fixed = true
    }

    /// Whether the next batch is to be streamed.
    public var streamsNext: Bool {
        !fixed && position < trial ? position % 2 == 1 : streams
    }

    /// Records what filling the batch just filled (the way `streamsNext` said)
    /// took: the reading thread's CPU time and the bytes copied.
    public mutating func record(nanoseconds: Int, bytes: Int) {
        guard !fixed else { return }
        if position < trial {
            if position % 2 == 1 {
                streamed.nanoseconds += max(0, nanoseconds)
                streamed.bytes += max(0, bytes)
            } else {
                usual.nanoseconds += max(0, nanoseconds)
                usual.bytes += max(0, bytes)
            }
            if position == trial - 1 { choose() }
        }
        position += 1
        if position >= trial + stretch { position = 0 }
    }

    private mutating func choose() {
        defer {
            usual = (0, 0)
            streamed = (0, 0)
        }
        // Without bytes both ways (a capture's last batches) the choice stands.
        guard usual.bytes > 0, streamed.bytes > 0 else { return }
        let usualPerByte = Double(usual.nanoseconds) / Double(usual.bytes)
        let streamedPerByte = Double(streamed.nanoseconds) / Double(streamed.bytes)
        streams = usualPerByte > streamedPerByte * margin
    }
}
