/// Receives one direction's bytes in sequence order. Bytes handed to
/// `receive` are borrowed (often straight from the capture buffer) and valid
/// only for the call.
public protocol StreamSink {
    mutating func receive(_ bytes: UnsafeRawBufferPointer)
    /// `count` bytes of the stream were never seen (lost, not captured, or
    /// given up on when a buffer limit was hit). What follows is not contiguous
    /// with what came before.
    mutating func receiveGap(_ count: Int)
}

/// Limits on out-of-order buffering, shared by every flow so that a hostile
/// capture cannot grow memory without bound.
public struct ReassemblyBudget: Sendable {
    /// Bytes one direction may hold out of order.
    public var perDirectionBytes: Int
    /// Segments one direction may hold out of order (bounds work per insert).
    public var perDirectionSegments: Int
    /// Bytes all flows together may hold out of order.
    public var totalBytes: Int
    /// Bookkeeping each held segment costs besides its bytes (its entry and
    /// buffer header), counted against the limits so that a storm of tiny
    /// segments is bounded by memory, not by payload.
    public var segmentOverhead: Int
    /// Bytes held now.
    public internal(set) var usedBytes: Int = 0
    /// Times a limit forced delivery past a hole.
    public internal(set) var forcedSkips: Int = 0
    /// Bytes the classifiers of all flows may hold together in the windows
    /// they keep before deciding (a stream picked up mid-way holds up to
    /// 64 KiB while it looks for TLS records): a quarter of `totalBytes`.
    public var windowLimit: Int
    /// Bytes those windows hold now (kept by the flow analysis).
    public var windowBytes = 0
    /// Windows given up because the limit was reached.
    public var windowsShed = 0
    /// Buffers for out-of-order bytes, reused across segments and flows so
    /// that reordering on a busy node does not mean a malloc per segment.
    var pool = SegmentBufferPool()

    public static let defaultPerDirectionBytes = 1 << 20
    public static let defaultPerDirectionSegments = 1024
    public static let defaultTotalBytes = 256 << 20
    public static let defaultSegmentOverhead = 80

    public init(
        perDirectionBytes: Int = defaultPerDirectionBytes,
        perDirectionSegments: Int = defaultPerDirectionSegments,
        totalBytes: Int = defaultTotalBytes,
        segmentOverhead: Int = defaultSegmentOverhead
    ) {
        self.perDirectionBytes = perDirectionBytes
        self.perDirectionSegments = perDirectionSegments
        self.totalBytes = totalBytes
        self.segmentOverhead = segmentOverhead
        windowLimit = totalBytes / 4
    }
}

/// What happened to one direction's bytes: the evidence that the stream
/// handed on is (or is not) the stream that was on the wire.
public struct DirectionStatistics: Sendable, Equatable {
    public var deliveredBytes: Int = 0
    public var gapBytes: Int = 0
    /// Bytes that lay before the stream's start when nothing had been
    /// handed on (see `DirectionAssembler.accept`), counted in `gapBytes` too.
    public var bytesBeforeStart: Int = 0
    /// Bytes seen again with the same content (the `-i any` double, retransmits).
    public var duplicateBytes: Int = 0
    /// Bytes seen again with different content. The first copy is kept.
    public var conflictingBytes: Int = 0
    public var peakBufferedBytes: Int = 0
    // Counts in 32 bits (they wrap rather than trap), so that the one above
    // took no room: every open flow holds two of these.
    public var gaps: UInt32 = 0
    public var outOfOrderSegments: UInt32 = 0

    public init() {}
}

/// Reassembles one direction of a TCP connection.
///
/// In-order data is passed to the sink as the caller's own bytes, with no copy
/// and no allocation; only data that arrives ahead of a hole is copied, within
/// the budget. Sequence numbers are compared modulo 2^32.
public struct DirectionAssembler: Sendable {
    // The small fields in an order that leaves no padding: every open flow
    // holds two of these (a test keeps the flow's state from growing).
    /// The next sequence number the stream expects.
    public private(set) var nextSequence: UInt32 = 0
    /// The sequence number of the FIN (or reset), when `hasFIN`; not an
    /// Optional, whose tag would not fit beside the flags below.
    private var finValue: UInt32 = 0
    /// What the peer's acknowledgements are used for now (see `PeerMark`).
    @usableFromInline var peerMark = PeerMark.none
    private var hasFIN = false
    /// Whether a first sequence number is known.
    public private(set) var isStarted = false
    /// Whether the stream started at a SYN (so no byte before it exists).
    public private(set) var startedAtSYN = false
    public private(set) var statistics = DirectionStatistics()

    /// The sequence number of the FIN, once seen.
    public var finSequence: UInt32? { hasFIN ? finValue : nil }

    /// The peer acknowledged this side, whose SYN the capture does not hold:
    /// after the client's SYN, a SYN-ACK that was sent (the client answered
    /// it) but not captured, as in a one-way capture. Inlinable: asked once
    /// per flow from another module, a call cost 0.29 M instructions on
    /// 3 000 flows.
    @inlinable public var acknowledgedWithoutSYN: Bool {
        switch peerMark {
        case .acknowledged, .acknowledgedBeforeStart: return !startedAtSYN
        case .none, .alternativeStart: return false
        }
    }

    /// The peer's acknowledgements say which of two SYNs the stream follows
    /// while both are possible, then how far the side is known to have sent:
    /// one four-byte slot serves both in turn, so that the furthest
    /// acknowledgement costs an open flow no bytes (its two directions' small
    /// fields fill sixteen bytes each).
    @usableFromInline enum PeerMark: Sendable {
        case none
        /// Where the stream would start after another SYN seen before any
        /// data (see `startAtSYN`), until an acknowledgement decides.
        case alternativeStart(UInt32)
        /// The furthest acknowledgement seen of this side's bytes.
        case acknowledged(UInt32)
        /// The same, while the stream has no start (none of the side's
        /// bytes and no SYN captured: a one-way capture): `nextSequence`
        /// holds the first acknowledgement seen meanwhile, so that what the
        /// peer acknowledged after it is known to have been sent.
        case acknowledgedBeforeStart(UInt32)
    }

    /// The stream has a start now (a SYN, or its first bytes): an
    /// acknowledgement kept before it stays the furthest one.
    private mutating func markStarted() {
        isStarted = true
        if case .acknowledgedBeforeStart(let furthest) = peerMark { peerMark = .acknowledged(furthest) }
    }

    /// Segments held out of order, in order of their starts (non-empty
    /// ones disjoint; an empty one, an uncaptured tail's place, may sit
    /// inside another or at its end), from `pendingHead` on: those before it
    /// were delivered and are dropped from the array in bulk
    /// (`removeFirstHeld`). Removing each from the front shifted all the
    /// others, up to 1 024 of them, for every segment a flood of out-of-order
    /// data pushed out (half the analysing thread's time in
    /// `scripts/bench/attack.sh`'s reassembly storm).
    private var pending: [PendingSegment] = []
    private var pendingBytes = 0
    /// Fingerprints of the last segments delivered, to tell an identical
    /// retransmission from one with different bytes.
    private var recent = RecentSegments()
    /// Where the held segments start in `pending`. Declared here, after
    /// `recent`, where it fills padding: an open flow takes no more memory.
    private var pendingHead: UInt32 = 0

    public init() {}

    /// Lets the held segments' list go, leaving the assembler holding no
    /// counted reference: for an owner that then abandons it without
    /// destroying it (`FlowTable.remove`; a release per list, of an empty
    /// one for most flows, was the destruction's cost). Nothing else is
    /// reset: the assembler is done with.
    @inline(__always)
    public mutating func releaseHeld() {
        if pending.capacity != 0 { pending = [] }
    }

    /// Payload bytes held out of order now.
    public private(set) var bufferedBytes = 0

    /// What the held segments count against the limits: their buffers plus bookkeeping.
    public var bufferedFootprint: Int { pendingBytes }

    /// Segments held out of order now (bounded by `ReassemblyBudget.perDirectionSegments`).
    public var bufferedSegments: Int { heldCount }

    /// The array is emptied when its last held segment goes
    /// (`removeFirstHeld`), so it holds entries only while some are held:
    /// its own count says it, on every packet's path, without the head.
    private var heldIsEmpty: Bool { pending.isEmpty }
    private var heldCount: Int { pending.count - Int(pendingHead) }
    /// A held list's array of this capacity or less (384 bytes) is never
    /// moved into a smaller one (see `removeFirstHeld`).
    static let unshrunkHeldCapacity = 16
    /// The held list's array's capacity in entries (for tests).
    var heldListCapacity: Int { pending.capacity }
    private var firstHeld: PendingSegment? { heldIsEmpty ? nil : pending[Int(pendingHead)] }

    /// Takes the first held segment out (its slot keeps no reference to its
    /// buffer, which goes back to the pool unshared).
    private mutating func removeFirstHeld() -> PendingSegment {
        let head = Int(pendingHead)
        let first = pending[head]
        pending[head].bytes = []
        if head + 1 == pending.count {
            // Emptied: a small array is kept for the next hole; a larger one
            // (what a flood left) is freed, not kept for the flow's life.
            if pending.capacity > Self.unshrunkHeldCapacity { pending = [] } else { pending.removeAll(keepingCapacity: true) }
            pendingHead = 0
        } else if head + 1 >= 16, (head + 1) * 4 >= pending.count {
            // Dropped in bulk once they are a quarter of the array: a shift
            // of the held ones is paid for by a third as many removals, so a
            // removal costs O(1) on average, and the array stays within a
            // third of what the held segments alone need (their entries are
            // counted against the budget, the delivered ones' are not).
            // Moved into an array of their own size instead when they fill
            // less than a quarter of its capacity: the array then shrinks
            // with the held segments (AssemblerTests holds it to five times
            // their number plus 64, however they come and go), and a copy of
            // what is left is paid for by the removals that made it so few.
            // (It kept its largest size for the flow's life: a flow that
            // once held a thousand segments kept 32 KB of entries, counted
            // nowhere, however few it held after; 34 MiB per thousand such
            // flows, without bound across flows.)
            let kept = pending.count - (head + 1)
            if pending.capacity > Self.unshrunkHeldCapacity, kept * 4 < pending.capacity {
                var smaller: [PendingSegment] = []
                smaller.reserveCapacity(kept)
                smaller.append(contentsOf: pending[(head + 1)...])
                pending = smaller
            } else {
                pending.removeFirst(head + 1)
            }
            pendingHead = 0
        } else {
            pendingHead += 1
        }
        assert(pending.isEmpty ? pendingHead == 0 : Int(pendingHead) < pending.count, "the array holds entries only while some are held")
        return first
    }

    /// The first held segment (index into `pending`) for which `isAfter` is
    /// true, `pending.count` if none; `isAfter` must be false up to some
    /// segment and true from it on, as a bound on where held segments start
    /// is (they are kept in order of their starts). A binary search: a flood
    /// of out-of-order data holds a thousand segments, and reading each of
    /// them for every segment that came was a fifth of the storm's time.
    private func firstHeldIndex(where isAfter: (PendingSegment) -> Bool) -> Int {
        var low = Int(pendingHead), high = pending.count
        while low < high {
            let middle = low + (high - low) / 2
            if isAfter(pending[middle]) { high = middle } else { low = middle + 1 }
        }
        return low
    }

    /// True once the FIN has been seen and every byte before it delivered.
    public var isFinished: Bool {
        guard let finSequence else { return false }
        return isStarted && heldIsEmpty && Self.offset(of: finSequence, from: nextSequence) <= 0
    }

    /// Starts the stream at a SYN: data begins at `initialSequence + 1`.
    /// A SYN seen after data was already handed on (a capture that reorders
    /// the handshake behind the first data) marks the start but never moves
    /// the stream back over bytes the sink already has.
    ///
    /// Another SYN with a different initial sequence number, before any
    /// data, is kept aside rather than taken or ignored: a server that
    /// answered a retransmitted SYN afresh, or a middlebox's SYN-ACK before
    /// the server's, leaves two starts, and only the peer's acknowledgement
    /// says which one its data follows (`notePeerAcknowledgment`). Taking
    /// the first always read the data after a later one as bytes from
    /// before the stream began; taking the last lost streams whose peer had
    /// acknowledged the first.
    public mutating func startAtSYN(initialSequence: UInt32) {
        let untouched = statistics.deliveredBytes == 0 && statistics.gapBytes == 0 && heldIsEmpty
        if isStarted, startedAtSYN {
            if untouched, initialSequence &+ 1 != nextSequence {
                peerMark = .alternativeStart(initialSequence &+ 1)
            }
            return
        }
        if !isStarted || untouched { nextSequence = initialSequence &+ 1 }
        markStarted()
        startedAtSYN = true
    }

    /// The peer acknowledged `acknowledgment` (a segment the other way with
    /// ACK set). Settles which of two SYNs this stream follows, while no
    /// data has been taken: one acknowledging the alternative start moves
    /// the stream there, and any other leaves it as it is (the peer may
    /// acknowledge data the capture missed, which must stay a gap). Then
    /// keeps the furthest acknowledgement: `flush` reads bytes acknowledged
    /// beyond the last one captured as sent and lost (a one-way capture, an
    /// answer dropped with its close), so that a side whose bytes all went
    /// missing is not read as silent.
    @inline(__always)
    public mutating func notePeerAcknowledgment(_ acknowledgment: UInt32) {
        if case .acknowledged(let furthest) = peerMark {
            // The common case, inline: a later acknowledgement moves the mark on.
            if Self.offset(of: acknowledgment, from: furthest) > 0 { peerMark = .acknowledged(acknowledgment) }
            return
        }
        notePeerAcknowledgmentFurther(acknowledgment)
    }

    @inline(never)
    private mutating func notePeerAcknowledgmentFurther(_ acknowledgment: UInt32) {
        let alternativeStart: UInt32
        switch peerMark {
        case .alternativeStart(let start):
            alternativeStart = start
        case .acknowledgedBeforeStart(let furthest):
            if Self.offset(of: acknowledgment, from: furthest) > 0 { peerMark = .acknowledgedBeforeStart(acknowledgment) }
            return
        case .none where !isStarted:
            nextSequence = acknowledgment
            peerMark = .acknowledgedBeforeStart(acknowledgment)
            return
        case .none, .acknowledged:
            peerMark = .acknowledged(acknowledgment)
            return
        }
        let untouched = statistics.deliveredBytes == 0 && statistics.gapBytes == 0 && heldIsEmpty
        if !untouched {
            peerMark = .acknowledged(acknowledgment)
        } else if acknowledgment == alternativeStart {
            nextSequence = alternativeStart
            peerMark = .acknowledged(acknowledgment)
        } else if acknowledgment == nextSequence {
            peerMark = .acknowledged(acknowledgment)
        }
    }

    /// Records a FIN at the sequence number after the segment's payload.
    /// A reset is recorded the same way (`flush` reads either as where the
    /// side's bytes ended); only a FIN ends the stream for `isFinished`,
    /// which is asked only of flows closed by FINs both ways.
    public mutating func noteFIN(at sequence: UInt32) {
        if !hasFIN {
            finValue = sequence
            hasFIN = true
        }
    }

    /// Takes one segment. `missing` is payload that was on the wire after
    /// `payload` but not captured (snapshot length); it is reported as a gap.
    /// `fingerprint`, when given, is `PayloadFingerprint(of: payload)`
    /// computed ahead (by the reading thread); otherwise it is computed here.
    public mutating func accept<Sink: StreamSink>(
        sequence: UInt32,
        payload: UnsafeRawBufferPointer,
        missing: Int = 0,
        fingerprint: PayloadFingerprint? = nil,
        budget: inout ReassemblyBudget,
        sink: inout Sink
    ) {
        let length = payload.count + missing
        guard length > 0 else { return }
        if !isStarted {
            // Picked up mid-stream: the first byte seen starts the stream.
            nextSequence = sequence
            markStarted()
        }
        let offset = Self.offset(of: sequence, from: nextSequence)
        if offset + length <= 0 {
            if startedAtSYN, length > 1, statistics.deliveredBytes == 0, statistics.gapBytes == statistics.bytesBeforeStart,
               heldIsEmpty {
                // Before a SYN's start with nothing handed on, bytes cannot
                // be a retransmission (there was no first copy): they follow
                // a SYN the capture missed, or belong to another connection.
                // Counted as a gap at the start, not silently as duplicates,
                // or a server that answered would read as one that sent
                // nothing (and a refused cleartext client as a proof of STRICT).
                // One byte is a keep-alive probe's, which some stacks fill.
                // (A copy of bytes already counted, the -i any double, is a duplicate.)
                if recent.compare(sequence: sequence, payload: payload, fingerprint: fingerprint) == .same {
                    statistics.duplicateBytes += payload.count
                    return
                }
                recent.remember(sequence: sequence, length: payload.count, fingerprint: fingerprint ?? PayloadFingerprint(of: payload))
                sink.receiveGap(length)
                reportGap(length)
                statistics.bytesBeforeStart += length
                return
            }
            noteRetransmission(sequence: sequence, payload: payload, fingerprint: fingerprint)
            return
        }
        if offset <= 0 {
            if heldIsEmpty {
                // The common case: no held data to reconcile, the bytes go straight on.
                deliverInOrder(sequence: sequence, payload: payload, missing: missing, skipping: -offset, fingerprint: fingerprint, sink: &sink)
            } else {
                deliverKeepingHeldCopies(sequence: sequence, payload: payload, missing: missing, budget: &budget, sink: &sink)
            }
            drainPending(budget: &budget, sink: &sink)
            return
        }
        statistics.outOfOrderSegments &+= 1
        insertPending(sequence: sequence, payload: payload, missing: missing, budget: &budget, sink: &sink)
    }

    /// Delivers everything still held, reporting the holes between as gaps.
    /// Called when the flow ends: nothing more can fill them.
    ///
    /// Returns the bytes missing at the end: a FIN or reset further on than
    /// the last byte seen, or else the peer's acknowledgement of bytes past
    /// it, says the side sent bytes the capture lost. They are counted as a
    /// gap but not handed to the sink, since nothing follows them: the caller
    /// adds them to what the classifier reports, so that a server whose
    /// answer was lost is not read as one that sent nothing (and, if it then
    /// closed, as a refusal: a pass for a leak), while a stream that was TLS
    /// to its last captured byte stays TLS.
    ///
    /// An acknowledgement also counts a FIN, which the capture may have lost
    /// with the bytes: one past the last byte is read as that FIN, so the
    /// count is a lower bound (one byte short when the side had not closed).
    @discardableResult
    public mutating func flush<Sink: StreamSink>(budget: inout ReassemblyBudget, sink: inout Sink) -> Int {
        while !heldIsEmpty {
            skipToFirstPending(budget: &budget, sink: &sink)
        }
        let end: UInt32
        switch peerMark {
        case _ where !isStarted:
            // Nothing of the side's but acknowledgements: the bytes sent
            // between the first and the furthest (as a lower bound).
            guard case .acknowledgedBeforeStart(let furthest) = peerMark else { return 0 }
            end = furthest &- 1
        case _ where hasFIN:
            // The side's own number; an acknowledgement past it acknowledges nothing it sent.
            end = finValue
        case .acknowledged(let furthest):
            end = furthest &- 1
        default:
            return 0
        }
        // Bounded: a sequence number further off belongs to nothing of this stream.
        let missing = Self.offset(of: end, from: nextSequence)
        guard missing > 0, missing <= Self.largestGapBeforeEnd else { return 0 }
        reportGap(missing)
        nextSequence = end
        return missing
    }

    /// The most bytes a FIN or reset may show missing before it (64 MiB).
    static let largestGapBeforeEnd = 1 << 26

    /// Where `sequence` lies relative to `base`, modulo 2^32: negative means before.
    @inline(__always)
    static func offset(of sequence: UInt32, from base: UInt32) -> Int {
        Int(Int32(bitPattern: sequence &- base))
    }

    // MARK: In order

    private mutating func deliverInOrder<Sink: StreamSink>(
        sequence: UInt32, payload: UnsafeRawBufferPointer, missing: Int, skipping: Int,
        fingerprint: PayloadFingerprint?, sink: inout Sink
    ) {
        // Only captured bytes count as seen twice; an uncaptured tail over known data is just unknown.
        if skipping > 0 { statistics.duplicateBytes += min(skipping, payload.count) }
        if skipping < payload.count {
            let fresh = UnsafeRawBufferPointer(rebasing: payload[skipping...])
            sink.receive(fresh)
            statistics.deliveredBytes += fresh.count
            if skipping == 0 {
                recent.remember(sequence: sequence, length: payload.count, fingerprint: fingerprint ?? PayloadFingerprint(of: payload))
            }
        }
        let missingFresh = missing - max(0, skipping - payload.count)
        if missingFresh > 0 {
            sink.receiveGap(missingFresh)
            statistics.gapBytes += missingFresh
            statistics.gaps &+= 1
        }
        nextSequence = sequence &+ UInt32(truncatingIfNeeded: payload.count + missing)
    }

    /// Delivers an in-order segment that reaches into data held out of order.
    /// The held bytes arrived first, so they are what the stream carries
    /// (first copy wins, as for any other overlap); the new segment fills only
    /// the holes, and its bytes over held data are compared with them.
    private mutating func deliverKeepingHeldCopies<Sink: StreamSink>(
        sequence: UInt32, payload: UnsafeRawBufferPointer, missing: Int,
        budget: inout ReassemblyBudget, sink: inout Sink
    ) {
        let end = sequence &+ UInt32(truncatingIfNeeded: payload.count + missing)
        let alreadyDelivered = Self.offset(of: nextSequence, from: sequence)
        if alreadyDelivered > 0 { statistics.duplicateBytes += min(alreadyDelivered, payload.count + missing) }
        while Self.offset(of: end, from: nextSequence) > 0 {
            // Position of the stream's next byte inside this segment.
            let cursor = Self.offset(of: nextSequence, from: sequence)
            if let held = firstHeld, Self.offset(of: held.sequence, from: nextSequence) <= 0 {
                let heldEnd = held.sequence &+ UInt32(truncatingIfNeeded: held.bytes.count)
                compareOverlap(held: held, payload: payload, payloadSequence: sequence)
                deliverFirstPending(budget: &budget, sink: &sink)
                if Self.offset(of: heldEnd, from: nextSequence) > 0 { nextSequence = heldEnd }
                continue
            }
            let untilHeld = firstHeld.map { Self.offset(of: $0.sequence, from: nextSequence) } ?? Int.max
            if cursor < payload.count {
                let count = min(payload.count - cursor, untilHeld)
                let fresh = UnsafeRawBufferPointer(rebasing: payload[cursor..<(cursor + count)])
                sink.receive(fresh)
                statistics.deliveredBytes += count
                nextSequence = nextSequence &+ UInt32(truncatingIfNeeded: count)
            } else {
                // The segment's uncaptured tail, up to the next held data.
                let count = min(Self.offset(of: end, from: nextSequence), untilHeld)
                sink.receiveGap(count)
                reportGap(count)
                nextSequence = nextSequence &+ UInt32(truncatingIfNeeded: count)
            }
        }
    }

    /// Counts the bytes where a held segment and a later segment overlap as
    /// duplicate or conflicting.
    private mutating func compareOverlap(held: PendingSegment, payload: UnsafeRawBufferPointer, payloadSequence: UInt32) {
        let from = max(0, Self.offset(of: held.sequence, from: payloadSequence))
        let to = min(payload.count, Self.offset(of: held.sequence, from: payloadSequence) + held.bytes.count)
        guard to > from else { return }
        let heldStart = from - Self.offset(of: held.sequence, from: payloadSequence)
        let same = held.bytes[heldStart..<(heldStart + to - from)]
            .elementsEqual(UnsafeRawBufferPointer(rebasing: payload[from..<to]))
        if same { statistics.duplicateBytes += to - from } else { statistics.conflictingBytes += to - from }
    }

    private mutating func noteRetransmission(sequence: UInt32, payload: UnsafeRawBufferPointer, fingerprint: PayloadFingerprint?) {
        switch recent.compare(sequence: sequence, payload: payload, fingerprint: fingerprint) {
        case .different:
            statistics.conflictingBytes += payload.count
        case .same, .unknown:
            // Data delivered longer ago cannot be compared; it counts as a duplicate.
            statistics.duplicateBytes += payload.count
        }
    }

    // MARK: Out of order

    private mutating func insertPending<Sink: StreamSink>(
        sequence: UInt32, payload: UnsafeRawBufferPointer, missing: Int,
        budget: inout ReassemblyBudget, sink: inout Sink
    ) {
        // Make room first: a limit forces delivery past the oldest hole rather
        // than blocking or growing.
        while !heldIsEmpty,
              pendingBytes + payload.count > budget.perDirectionBytes
                || budget.usedBytes + payload.count > budget.totalBytes
                || heldCount >= budget.perDirectionSegments {
            budget.forcedSkips += 1
            skipToFirstPending(budget: &budget, sink: &sink)
        }
        let offset = Self.offset(of: sequence, from: nextSequence)
        if offset <= 0 || payload.count > budget.perDirectionBytes || budget.usedBytes + payload.count > budget.totalBytes {
            // Either the skip made this segment current, or it cannot be held at
            // all: deliver it now, after a gap for whatever is missing before it.
            if offset > 0 {
                budget.forcedSkips += 1
                reportGap(offset)
                sink.receiveGap(offset)
                nextSequence = sequence
            }
            if Self.offset(of: sequence, from: nextSequence) + payload.count + missing > 0 {
                deliverInOrder(sequence: sequence, payload: payload, missing: missing,
                               skipping: max(0, -Self.offset(of: sequence, from: nextSequence)), fingerprint: nil, sink: &sink)
            }
            drainPending(budget: &budget, sink: &sink)
            return
        }

        let end = offset + payload.count
        // Held segments that overlap this one (as the loop below reads them):
        // the nearest non-empty one starting before it, if it reaches past
        // its start (non-empty ones are disjoint; an empty one, the gap an
        // uncaptured tail left, ends where it starts), and those starting
        // within it, but for empty ones at its very start. Found by a binary
        // search and a step or two, rather than by reading every held one.
        let atOrAfter = firstHeldIndex { Self.offset(of: $0.sequence, from: nextSequence) >= offset }
        var scanFrom = atOrAfter
        var before = atOrAfter
        while before > Int(pendingHead) {
            before -= 1
            let held = pending[before]
            guard !held.bytes.isEmpty else { continue }
            if Self.offset(of: held.sequence, from: nextSequence) + held.bytes.count > offset { scanFrom = before }
            break
        }
        var overlapsHeld = scanFrom < atOrAfter
        var next = atOrAfter
        while !overlapsHeld, next < pending.count {
            let start = Self.offset(of: pending[next].sequence, from: nextSequence)
            guard start < end else { break }
            overlapsHeld = start > offset || !pending[next].bytes.isEmpty
            next += 1
        }
        if !overlapsHeld {
            // The common case (plain reordering): one piece, nothing to compare.
            storePending(offset..<end, of: payload, at: offset, missingTail: missing, budget: &budget)
        } else {
            // Copy only the parts not already held; compare the parts that are.
            var start = offset
            var pieces: [Range<Int>] = []  // stream offsets, relative to nextSequence
            for segment in pending[scanFrom...] {
                let segStart = Self.offset(of: segment.sequence, from: nextSequence)
                let segEnd = segStart + segment.bytes.count
                if segEnd <= start { continue }
                if segStart >= end { break }
                if segStart > start { pieces.append(start..<segStart) }
                let overlapStart = max(start, segStart), overlapEnd = min(end, segEnd)
                if overlapEnd > overlapStart {
                    let held = segment.bytes[(overlapStart - segStart)..<(overlapEnd - segStart)]
                    let seen = UnsafeRawBufferPointer(rebasing: payload[(overlapStart - offset)..<(overlapEnd - offset)])
                    if held.elementsEqual(seen) {
                        statistics.duplicateBytes += overlapEnd - overlapStart
                    } else {
                        statistics.conflictingBytes += overlapEnd - overlapStart
                    }
                }
                start = max(start, segEnd)
                if start >= end { break }
            }
            if start < end { pieces.append(start..<end) }
            if missing > 0, pieces.last?.upperBound != end {
                // The captured part ended inside held data: keep the uncaptured tail
                // as an empty segment so it becomes a gap of the right size in place.
                pieces.append(end..<end)
            }
            for piece in pieces {
                storePending(piece, of: payload, at: offset, missingTail: piece.upperBound == end ? missing : 0, budget: &budget)
            }
        }
        // A segment that filled holes between held segments is stored as
        // several pieces, and pooled buffers count whole, so the checks above
        // are not enough: enforce the limits again now that they are in.
        while heldCount > budget.perDirectionSegments || pendingBytes > budget.perDirectionBytes
                || budget.usedBytes > budget.totalBytes, !heldIsEmpty {
            budget.forcedSkips += 1
            skipToFirstPending(budget: &budget, sink: &sink)
        }
        statistics.peakBufferedBytes = max(statistics.peakBufferedBytes, bufferedBytes)
    }

    /// Copies `piece` (stream offsets relative to `nextSequence`) of a payload
    /// that starts at `payloadOffset` into a held segment, in sequence order.
    private mutating func storePending(
        _ piece: Range<Int>, of payload: UnsafeRawBufferPointer, at payloadOffset: Int, missingTail: Int,
        budget: inout ReassemblyBudget
    ) {
        var buffer = budget.pool.take(capacity: piece.count)
        buffer.append(contentsOf: UnsafeRawBufferPointer(
            rebasing: payload[(piece.lowerBound - payloadOffset)..<(piece.upperBound - payloadOffset)]))
        // The budget counts what the buffer takes, not just what it holds.
        let footprint = SegmentBufferPool.footprint(of: piece.count) + budget.segmentOverhead
        let segment = PendingSegment(
            sequence: nextSequence &+ UInt32(truncatingIfNeeded: piece.lowerBound), bytes: buffer,
            missingTail: missingTail, footprint: footprint)
        let position = firstHeldIndex { Self.offset(of: $0.sequence, from: nextSequence) > piece.lowerBound }
        if position == pending.count { pending.append(segment) } else { pending.insert(segment, at: position) }
        pendingBytes += footprint
        bufferedBytes += piece.count
        budget.usedBytes += footprint
    }

    /// Delivers pending segments that have become contiguous.
    private mutating func drainPending<Sink: StreamSink>(budget: inout ReassemblyBudget, sink: inout Sink) {
        while let first = firstHeld, Self.offset(of: first.sequence, from: nextSequence) <= 0 {
            deliverFirstPending(budget: &budget, sink: &sink)
        }
    }

    /// Hands on the first held segment, which starts at or before `nextSequence`.
    private mutating func deliverFirstPending<Sink: StreamSink>(budget: inout ReassemblyBudget, sink: inout Sink) {
        var first = removeFirstHeld()
        defer { budget.pool.recycle(&first.bytes) }
        let offset = Self.offset(of: first.sequence, from: nextSequence)
        pendingBytes -= first.footprint
        bufferedBytes -= first.bytes.count
        budget.usedBytes -= first.footprint
        first.bytes.withUnsafeBytes { raw in
            if offset + raw.count + first.missingTail > 0 {
                deliverInOrder(sequence: first.sequence, payload: raw, missing: first.missingTail,
                               skipping: -offset, fingerprint: nil, sink: &sink)
            } else {
                // An in-order segment already delivered all of it: a second
                // copy, counted like the partly covered case above.
                statistics.duplicateBytes += raw.count
            }
        }
    }

    /// Gives up on the hole before the first pending segment.
    private mutating func skipToFirstPending<Sink: StreamSink>(budget: inout ReassemblyBudget, sink: inout Sink) {
        guard let first = firstHeld else { return }
        let hole = Self.offset(of: first.sequence, from: nextSequence)
        if hole > 0 {
            reportGap(hole)
            sink.receiveGap(hole)
            nextSequence = first.sequence
        }
        drainPending(budget: &budget, sink: &sink)
    }

    private mutating func reportGap(_ count: Int) {
        statistics.gapBytes += count
        statistics.gaps &+= 1
    }
}

/// Out-of-order bytes, copied because the capture buffer will be reused.
///
/// 24 bytes, not 32: a flood holds a thousand of these per direction, and
/// every insert into the middle of the list moves those after it.
struct PendingSegment: Sendable {
    var sequence: UInt32
    /// Bytes the capture lacks at the segment's end (IP lengths keep it
    /// below 2^32; clamped, never wrapped, should one not).
    private var missingTailCount: UInt32
    var bytes: [UInt8]
    /// What the bytes' buffer counts against the budget.
    var footprint: Int

    var missingTail: Int { Int(missingTailCount) }

    init(sequence: UInt32, bytes: [UInt8], missingTail: Int, footprint: Int) {
        self.sequence = sequence
        missingTailCount = UInt32(clamping: missingTail)
        self.bytes = bytes
        self.footprint = footprint
    }
}

/// Free buffers for out-of-order segments: full-size segments (the common
/// case of reordering) reuse fixed buffers instead of a malloc each; small
/// and oversized pieces get buffers of their own size. Bounded: at most
/// `maximumBuffers` free buffers are kept.
struct SegmentBufferPool: Sendable {
    static let maximumBuffers = 1_024
    /// Pooled buffers' capacity: one full-size Ethernet segment.
    static let bufferCapacity = 2_048
    /// Pieces at least this long use a pooled buffer.
    static let pooledFrom = 1_024
    private var free: [[UInt8]] = []

    var count: Int { free.count }

    /// What a piece of `count` bytes costs, as counted against the budget.
    static func footprint(of count: Int) -> Int {
        isPooled(count) ? bufferCapacity : count
    }

    static func isPooled(_ count: Int) -> Bool { count >= pooledFrom && count <= bufferCapacity }

    mutating func take(capacity: Int) -> [UInt8] {
        if Self.isPooled(capacity), let buffer = free.popLast() { return buffer }
        var buffer: [UInt8] = []
        buffer.reserveCapacity(Self.isPooled(capacity) ? Self.bufferCapacity : capacity)
        return buffer
    }

    mutating func recycle(_ buffer: inout [UInt8]) {
        defer { buffer = [] }
        guard free.count < Self.maximumBuffers, Self.isPooled(buffer.count),
              buffer.capacity >= Self.bufferCapacity else { return }
        buffer.removeAll(keepingCapacity: true)
        free.append(buffer)
    }
}

/// A segment payload's keyed 64-bit fingerprint, by which a retransmission
/// is told to be the same bytes or different ones (see `RecentSegments.hash`).
/// Public so that it can be computed ahead, on the thread that read the
/// packet, while its bytes are still in that processor's cache.
public struct PayloadFingerprint: Sendable, Equatable {
    public var value: UInt64

    public init(of payload: UnsafeRawBufferPointer) {
        value = RecentSegments.hash(payload)
    }

    /// A value that `init(of:)` produced earlier (carried between threads as a number).
    public init(value: UInt64) {
        self.value = value
    }
}

/// A few fingerprints of recently delivered segments. The `-i any` double and
/// fast retransmits arrive within a few packets of the original, so a short
/// history catches them without keeping delivered bytes.
struct RecentSegments: Sendable {
    enum Comparison { case same, different, unknown }

    private var entries: (Entry, Entry, Entry, Entry) = (.empty, .empty, .empty, .empty)
    private var next: UInt8 = 0

    /// 16 bytes: the flow table holds eight of these per open flow.
    struct Entry: Sendable {
        var sequence: UInt32
        /// Payload length (clamped; a captured segment is far below 2 GiB).
        var length: Int32
        var hash: UInt64
        static let empty = Entry(sequence: 0, length: -1, hash: 0)
    }

    mutating func remember(sequence: UInt32, length: Int, fingerprint: PayloadFingerprint) {
        let entry = Entry(sequence: sequence, length: Int32(clamping: length), hash: fingerprint.value)
        switch next {
        case 0: entries.0 = entry
        case 1: entries.1 = entry
        case 2: entries.2 = entry
        default: entries.3 = entry
        }
        next = (next + 1) & 3
    }

    func compare(sequence: UInt32, payload: UnsafeRawBufferPointer, fingerprint: PayloadFingerprint? = nil) -> Comparison {
        for entry in [entries.0, entries.1, entries.2, entries.3]
        where entry.sequence == sequence && entry.length == Int32(clamping: payload.count) {
            return entry.hash == (fingerprint ?? PayloadFingerprint(of: payload)).value ? .same : .different
        }
        return .unknown
    }

    /// Chosen at start: with known secrets a sender could compute a
    /// different payload with the same fingerprint and slip a conflicting
    /// retransmission past as a duplicate; with secret ones it cannot.
    static let secrets: (UInt64, UInt64, UInt64, UInt64, UInt64, UInt64, UInt64, UInt64) = {
        var generator = SystemRandomNumberGenerator()
        return (generator.next(), generator.next(), generator.next(), generator.next(),
                generator.next(), generator.next(), generator.next(), generator.next())
    }()

    /// The 128-bit product of two words, folded to 64 bits: one multiply
    /// mixes every bit of both inputs into the middle bits of the result.
    @inline(__always)
    static func fold(_ x: UInt64, _ y: UInt64) -> UInt64 {
        let (high, low) = x.multipliedFullWidth(by: y)
        return high ^ low
    }

    /// A fast keyed 64-bit fingerprint of the payload. Every delivered segment
    /// is hashed (and every duplicate again, to compare), so it takes 16
    /// bytes per multiply in four independent chains (no dependency from one
    /// chain's multiply to another's) and mixes them at the end. Each step
    /// folds the chain's state with the data, so moving or swapping blocks
    /// changes the result.
    static func hash(_ bytes: UnsafeRawBufferPointer) -> UInt64 {
        let n = bytes.count
        let s = Self.secrets
        var a = s.0 ^ UInt64(truncatingIfNeeded: n), b = s.1, c = s.2, d = s.3
        var i = 0
        while i + 64 <= n {
            a = fold(a ^ bytes.loadUnaligned(fromByteOffset: i, as: UInt64.self),
                     bytes.loadUnaligned(fromByteOffset: i + 8, as: UInt64.self) ^ s.4)
            b = fold(b ^ bytes.loadUnaligned(fromByteOffset: i + 16, as: UInt64.self),
                     bytes.loadUnaligned(fromByteOffset: i + 24, as: UInt64.self) ^ s.5)
            c = fold(c ^ bytes.loadUnaligned(fromByteOffset: i + 32, as: UInt64.self),
                     bytes.loadUnaligned(fromByteOffset: i + 40, as: UInt64.self) ^ s.6)
            d = fold(d ^ bytes.loadUnaligned(fromByteOffset: i + 48, as: UInt64.self),
                     bytes.loadUnaligned(fromByteOffset: i + 56, as: UInt64.self) ^ s.7)
            i += 64
        }
        var h = fold(a ^ s.5, b ^ s.6) ^ fold(c ^ s.7, d ^ s.4)
        while i + 16 <= n {
            h = fold(h ^ bytes.loadUnaligned(fromByteOffset: i, as: UInt64.self),
                     bytes.loadUnaligned(fromByteOffset: i + 8, as: UInt64.self) ^ s.4)
            i += 16
        }
        // The last 0 to 15 bytes, read as (possibly overlapping) words that
        // cover each of them; for a given length (mixed in at the start) the
        // mapping is one to one.
        let left = n - i
        var first: UInt64 = 0, second: UInt64 = 0
        if left >= 8 {
            first = bytes.loadUnaligned(fromByteOffset: i, as: UInt64.self)
            second = bytes.loadUnaligned(fromByteOffset: n - 8, as: UInt64.self)
        } else if left >= 4 {
            first = UInt64(bytes.loadUnaligned(fromByteOffset: i, as: UInt32.self))
            second = UInt64(bytes.loadUnaligned(fromByteOffset: n - 4, as: UInt32.self))
        } else if left > 0 {
            first = UInt64(bytes[i]) | UInt64(bytes[i + left / 2]) << 8 | UInt64(bytes[n - 1]) << 16
        }
        h = fold(h ^ first, second ^ s.5)
        return fold(h ^ s.6, s.7)
    }
}
