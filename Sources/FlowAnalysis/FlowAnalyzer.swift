#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#endif
import PacketDecoding
import PayloadClassification
import StreamReassembly
import VerdictPolicy

/// Settings for flow tracking; the defaults suit a busy node.
public struct AnalyzerConfiguration: Sendable {
    /// A flow with no packet for this long (capture time) gets its verdict.
    public var idleTimeoutNanoseconds: Int64 = 300_000_000_000
    /// After FIN both ways or a reset, late duplicates (the `-i any` copy of
    /// the last packets) are absorbed for this long before the verdict.
    public var closeLingerNanoseconds: Int64 = 1_000_000_000
    /// Flows tracked at once; beyond it the oldest idle flow is judged and dropped.
    public var maximumFlows = 1_000_000
    public var budget = ReassemblyBudget()
    public var policy = PolicyOptions()
    /// Given, the flow table hands the part of its storage it is about to
    /// use (address, length), a few MiB ahead, for another thread to make
    /// present (`TableMemory.populate`): a busy capture's table grows to
    /// tens of MiB of new memory, whose page faults and zeroing then happen
    /// there, ahead of time, instead of on the analysing thread. Only tables
    /// past `FlowAnalyzer.prepareFromSlot` flows ask, so that a small
    /// capture's memory stays small.
    public var prepareMemory: (@Sendable (_ address: UInt, _ length: Int) -> Void)?

    public init() {}
}

/// Counters for the whole run.
public struct AnalyzerStatistics: Sendable, Equatable {
    public var frames = 0
    public var tcpSegments = 0
    public var notTCP = 0
    public var truncatedFrames = 0
    public var malformedFrames = 0
    /// IP fragments seen, and datagrams put back together from them.
    public var fragments = 0
    public var reassembledDatagrams = 0
    /// Datagrams given up incomplete, or dropped because fragments disagreed.
    public var abandonedDatagrams = 0
    public var conflictingDatagrams = 0
    public var unsupportedLinkType = 0
    /// Resets without payload for a connection not being tracked: the
    /// capture began just before them, or their flow had already ended (past
    /// its close linger or idle timeout). Not flows (nothing to judge), but
    /// counted, so that the report accounts for every TCP packet.
    public var untrackedResets = 0
    public var evictedFlows = 0

    public init() {}
}

/// One direction of a flow: its reassembler feeding its classifier.
struct DirectionState: Sendable {
    var assembler = DirectionAssembler()
    var classifier = DirectionClassifier()
    var closure = Closure.open

    mutating func accept(
        sequence: UInt32, payload: UnsafeRawBufferPointer, missing: Int, fingerprint: PayloadFingerprint?, budget: inout ReassemblyBudget
    ) {
        if !assembler.isStarted { classifier.markMidStream() }
        let held = classifier.heldBytes
        assembler.accept(sequence: sequence, payload: payload, missing: missing, fingerprint: fingerprint, budget: &budget, sink: &classifier)
        let holding = classifier.heldBytes
        guard holding != held else { return }
        budget.windowBytes += holding - held
        if holding > held, budget.windowBytes > budget.windowLimit {
            // All windows together are at their limit: this one, which just grew, gives up its bytes.
            classifier.shedHeldBytes()
            budget.windowBytes -= holding - classifier.heldBytes
            budget.windowsShed += 1
        }
    }

    mutating func finish(budget: inout ReassemblyBudget) -> DirectionSummary {
        // What was counted against the windows' limit is released with the classifier.
        budget.windowBytes -= classifier.heldBytes
        let missingAtEnd = assembler.flush(budget: &budget, sink: &classifier)
        // Into the classifier, not the summary: one changed after it was
        // built was copied on the way out (+70 instructions a direction).
        if missingAtEnd > 0 { classifier.noteMissingAtEnd(missingAtEnd) }
        return classifier.finish()
    }
}

/// A connection being tracked.
struct FlowState: Sendable {
    var client: Endpoint
    var server: Endpoint
    var tunnel: Tunnel
    var toServer = DirectionState()
    var toClient = DirectionState()
    var handshakeSeen = false
    var clientISN: UInt32?
    var packets = 0
    var firstSeen: Int64
    var lastSeen: Int64
    /// Set when the connection closed; the verdict follows after the linger.
    var closedAt: Int64?
    var dropsWhileOpen = false
    /// Which side closed first (FIN or reset: 1 the client, 2 the server, 0
    /// neither yet), and how long the flow had been silent before each
    /// side's first close, in tenths of a second (saturating): a close that
    /// answers the peer's, or ends a long silence, refuses nothing. Small
    /// enough to sit in the padding at the end of the state.
    var firstToClose: UInt8 = 0
    var silenceBeforeClientClose: UInt16 = 0
    var silenceBeforeServerClose: UInt16 = 0

    /// Lets every list, string and object the state holds go, leaving none
    /// (its directions' `releaseHeld`): the state may then be abandoned
    /// where it lies, not destroyed (`FlowTable.remove`).
    @inline(__always)
    mutating func releaseHeld() {
        toServer.assembler.releaseHeld()
        toServer.classifier.releaseHeld()
        toClient.assembler.releaseHeld()
        toClient.classifier.releaseHeld()
    }

    /// A state as a new flow's starts, but for its endpoints, tunnel and
    /// times, which `FlowAnalyzer.startFlow` sets. Holds no counted
    /// reference, so that `FlowTable.putBlank` may copy it bit for bit.
    static var blank: FlowState {
        let nowhere = Endpoint(address: IPAddress(ipv4: 0), port: 0)
        return FlowState(client: nowhere, server: nowhere, tunnel: .none, firstSeen: 0, lastSeen: 0)
    }
}

/// Tracks TCP flows from decoded frames and hands each finished flow's report
/// to the caller. Time comes only from packet timestamps (and, for live
/// captures, from explicit `advanceClock` calls), so replays are deterministic.
public struct FlowAnalyzer: Sendable {
    public let configuration: AnalyzerConfiguration
    public private(set) var statistics = AnalyzerStatistics()
    /// IP traffic other than TCP, counted by kind (not judged).
    public private(set) var unjudged = UnjudgedTraffic()
    /// Classifier windows given up at the limit on all of them (`ReassemblyBudget.windowLimit`).
    public var windowsShed: Int { budget.windowsShed }
    /// Bytes the classifiers' windows hold now, all flows together.
    public var windowBytes: Int { budget.windowBytes }
    private let decoder: FrameDecoder
    private var budget: ReassemblyBudget
    private var index = FlowIndex()
    /// The last flow looked up (a segment's endpoints and tunnel, and its
    /// key's hash) and its slot: segments come in runs of one flow, and a
    /// hit skips the index. Cleared when that flow ends. `secondLeg`: the
    /// endpoints are a translated flow's second capture (see `translatedLeg`).
    private var lastLookup: LastLookup?
    /// The flow the last frame's segment went to (slot, or -1, and the
    /// slot's generation), for that frame's copy (`processCopy`).
    private var lastHandledSlot = -1
    private var lastHandledGeneration: UInt32 = 0
    /// The flows' states, and per slot the times sweeps and eviction look
    /// at (`SlotActivity`, apart from the large states in a small dense
    /// array of the table's own).
    private var slots: FlowTable
    private var freeSlots: [Int] = []
    private var fragments = FragmentReassembler()
    /// Flows that closed, in the order they closed, waiting out the linger.
    /// A queue read from `closingHead`: the sweep takes the due ones off the
    /// front instead of filtering the whole list (which, with tens of
    /// thousands of connections closing per second of capture, was quadratic).
    /// Entries whose flow ended otherwise meanwhile (eviction, port reuse) are
    /// recognised by the slot's generation and skipped.
    private var closing: [ClosingEntry] = []
    private var closingHead = 0
    /// Flows captured before and after a NAT on this node, by slot: the
    /// addresses the second capture showed (see `translatedLeg`). Beside
    /// the table, not in each flow's state: most nodes translate few
    /// connections, and every open flow would pay for it.
    private var translations: [Int: TranslatedLegs] = [:]
    /// Keys in the index that are translated captures (not flows of their own).
    private var translatedKeys = 0
    /// Flows that began with a client's SYN, by the low bits of its initial
    /// sequence number (a newer one takes an older one's place): where a
    /// translated capture of the same SYN, a few microseconds later, finds
    /// its flow in one look. Empty until the first SYN.
    private var recentSYNs: [RecentSYN] = []
    private var nextGeneration: UInt32 = 0
    private var now: Int64 = 0
    private var lastIdleSweep: Int64 = 0
    private var lastCloseSweep: Int64 = 0
    /// Table storage handed to `configuration.prepareMemory`: its start, and
    /// how many bytes of it from there. `prepareAt`: the slot count at which
    /// to hand over more.
    private var preparedBase: UInt = 0
    private var preparedBytes = 0
    private var prepareAt: Int

    public init(linkType: Int32, configuration: AnalyzerConfiguration = AnalyzerConfiguration()) {
        self.configuration = configuration
        decoder = FrameDecoder(linkType: linkType)
        budget = configuration.budget
        prepareAt = configuration.prepareMemory == nil ? Int.max : Self.prepareFromSlot
        // Pre-sized so that a busy node does not rehash the table while it fills;
        // up to 65 536 flows (a few MiB), beyond that it grows by doubling.
        let initial = min(configuration.maximumFlows, Self.initialTableCapacity)
        index.reserveCapacity(initial)
        // Address space only: pages are touched as slots fill, and growth by
        // doubling would copy every open flow's state each time.
        slots = FlowTable(reservingCapacity: initial)
        freeSlots.reserveCapacity(initial)
    }

    /// Flow-table entries allocated up front.
    public static let initialTableCapacity = 65_536
    /// Table size (slots in use) from which `prepareMemory` is called, and
    /// how far ahead of the slots in use it keeps the storage prepared.
    static let prepareFromSlot = 4_096
    static let prepareLeadBytes = 4 << 20

    /// Flows being tracked now (a translated flow's second key is not another flow).
    public var openFlows: Int { index.count - translatedKeys }

    /// Asks for the memory where the flow of a coming segment whose hash is
    /// `flowHash` will be looked up (a hint; see `flowHash(of:)`).
    @inline(__always)
    public func prefetchLookup(flowHash: UInt32) {
        index.prefetch(hash: flowHash)
    }

    /// Takes one captured frame. Reports of flows that became final are passed to `emit`.
    public mutating func process(
        frame: UnsafeRawBufferPointer, originalLength: Int, timestamp: Int64,
        emit: (FlowReport) -> Void
    ) {
        let policy = configuration.policy
        process(frame: frame, originalLength: originalLength, timestamp: timestamp) { emit(VerdictPolicy.judge($0, options: policy)) }
    }

    /// Ends the capture: every flow still tracked gets its verdict, oldest first.
    public mutating func finish(emit: (FlowReport) -> Void) {
        let policy = configuration.policy
        finish { emit(VerdictPolicy.judge($0, options: policy)) }
    }

    /// As `process(frame:originalLength:timestamp:emit:)`, but hands over what
    /// was observed of each final flow, unjudged: judging and reporting can
    /// then run elsewhere (`VerdictPolicy.judge` is a pure function).
    ///
    /// `payloadFingerprint`: the fingerprint of `frame[range]`, computed by
    /// whoever read the frame (a `FrameCopyDetector`, on a reading thread);
    /// used only if `range` is exactly the TCP payload found here.
    /// `flowHash`: `FlowAnalyzer.flowHash(of:)` of the TCP segment in
    /// `frame`, likewise computed by whoever read and decoded it.
    public mutating func process(
        frame: UnsafeRawBufferPointer, originalLength: Int, timestamp: Int64,
        payloadFingerprint: (range: Range<Int>, fingerprint: PayloadFingerprint)? = nil, flowHash: UInt32? = nil,
        observe: (consuming FlowObservation) -> Void
    ) {
        _ = processFrame(frame, originalLength: originalLength, timestamp: timestamp, payloadFingerprint: payloadFingerprint,
                         flowHash: flowHash, copyAt: nil, observe: observe)
    }

    /// The hash by which the analysis finds `segment`'s flow: the same for
    /// both directions, and seeded at start (see `FlowKey.fold`). Public so
    /// that a reading thread that decoded the segment anyway can hand it
    /// over with the frame (`process(frame:…flowHash:…)`).
    public static func flowHash(of segment: TCPSegment) -> UInt32 {
        FlowKey(segment.source, segment.destination, tunnel: segment.tunnel).indexHash
    }

    /// As `process(frame:…)`, for a frame that a copy of it followed,
    /// captured at `copyAt` (a `FrameCopyDetector` found it so). True when
    /// the copy was counted here, as `processCopy(at:…)` would have counted
    /// it; false leaves it to `processCopy`: the frame went to no flow, or
    /// moving the clock to the copy's time is due to sweep the flows.
    @discardableResult
    public mutating func process(
        frame: UnsafeRawBufferPointer, originalLength: Int, timestamp: Int64,
        payloadFingerprint: (range: Range<Int>, fingerprint: PayloadFingerprint)?, flowHash: UInt32? = nil, copyAt: Int64,
        observe: (consuming FlowObservation) -> Void
    ) -> Bool {
        processFrame(frame, originalLength: originalLength, timestamp: timestamp, payloadFingerprint: payloadFingerprint,
                     flowHash: flowHash, copyAt: copyAt, observe: observe)
    }

    /// The two above: inlined into each, so that frames without a copy
    /// (all of an Ethernet capture) pay nothing for the copy's checks.
    @inline(__always)
    private mutating func processFrame(
        _ frame: UnsafeRawBufferPointer, originalLength: Int, timestamp: Int64,
        payloadFingerprint: (range: Range<Int>, fingerprint: PayloadFingerprint)?, flowHash: UInt32?, copyAt: Int64?,
        observe: (consuming FlowObservation) -> Void
    ) -> Bool {
        statistics.frames += 1
        advanceClockPerPacket(to: timestamp, observe: observe)
        lastHandledSlot = -1
        // The usual frame first, without `decode`'s large result (its branch
        // below handles the same segment the same way).
        if let segment = decoder.decodeCommon(frame, originalLength: originalLength) {
            statistics.tcpSegments += 1
            let fingerprint = payloadFingerprint.flatMap { $0.range == segment.payloadRange ? $0.fingerprint : nil }
            handle(segment, frame: frame, fingerprint: fingerprint, flowHash: flowHash, timestamp: timestamp, observe: observe)
            guard let copyAt else { return false }
            return countCopyInPassing(at: copyAt)
        }
        switch decoder.decode(frame, originalLength: originalLength) {
        case .success(let segment):
            statistics.tcpSegments += 1
            let fingerprint = payloadFingerprint.flatMap { $0.range == segment.payloadRange ? $0.fingerprint : nil }
            handle(segment, frame: frame, fingerprint: fingerprint, flowHash: flowHash, timestamp: timestamp, observe: observe)
            guard let copyAt else { return false }
            return countCopyInPassing(at: copyAt)
        case .failure(let failure):
            switch failure {
            case .notTCP: statistics.notTCP += 1
            case .otherTransport(let packet):
                statistics.notTCP += 1
                unjudged.add(packet, frame: frame)
            case .truncated: statistics.truncatedFrames += 1
            case .malformed: statistics.malformedFrames += 1
            case .fragment(let fragment):
                statistics.fragments += 1
                if let datagram = fragments.add(fragment, frame: frame, timestamp: timestamp) {
                    datagram.bytes.withUnsafeBytes { bytes in
                        switch decoder.decodeReassembled(bytes, wireLength: datagram.wireLength, from: fragment) {
                        case .success(let segment):
                            statistics.tcpSegments += 1
                            handle(segment, frame: bytes, fingerprint: nil, timestamp: timestamp, observe: observe)
                        case .failure(.otherTransport(let packet)):
                            unjudged.add(packet, frame: bytes)
                        case .failure:
                            break
                        }
                    }
                }
                copyFragmentStatistics()
            case .unsupportedLinkType: statistics.unsupportedLinkType += 1
            }
        }
        return false
    }

    /// As `process(frame:…)` for a frame a `FrameCopyDetector` has examined
    /// (nil: it held no TCP segment of its own): a copy of the frame before
    /// goes to `processCopy`, any other segment is handled without being
    /// decoded again.
    public mutating func process(
        _ examined: FrameCopyDetector.Examined?, frame: UnsafeRawBufferPointer, originalLength: Int, timestamp: Int64,
        observe: (consuming FlowObservation) -> Void
    ) {
        guard let examined else {
            process(frame: frame, originalLength: originalLength, timestamp: timestamp, observe: observe)
            return
        }
        if examined.repeatsPrevious {
            processCopy(at: timestamp, of: frame, originalLength: originalLength,
                        payloadFingerprint: examined.fingerprint.map { (examined.segment.payloadRange, $0) }, observe: observe)
            return
        }
        statistics.frames += 1
        advanceClock(to: timestamp, observe: observe)
        lastHandledSlot = -1
        statistics.tcpSegments += 1
        handle(examined.segment, frame: frame, fingerprint: examined.fingerprint, timestamp: timestamp, observe: observe)
    }

    /// Takes a copy of the frame `process` was just given, captured at
    /// `timestamp`: a frame whose TCP segment is the same as that frame's in
    /// every field and payload byte (`FrameCopyDetector`), as `-i any`
    /// captures a packet once per interface it crosses, back to back. A
    /// copy tells a flow nothing its first did not (its acknowledgement, FIN
    /// or reset noted again, its bytes a duplicate), so it is counted in the
    /// flow's packets and time, not taken apart again: half the packets of
    /// such a capture. The copy of a frame that went to no flow, or whose flow
    /// ended meanwhile (the clock moved to the copy's time first, as for any
    /// frame), is processed as a frame.
    public mutating func processCopy(
        at timestamp: Int64, of frame: UnsafeRawBufferPointer, originalLength: Int,
        payloadFingerprint: (range: Range<Int>, fingerprint: PayloadFingerprint)? = nil, flowHash: UInt32? = nil,
        observe: (consuming FlowObservation) -> Void
    ) {
        // The clock moved first, as for any frame; then the move is done
        // and the copy is counted as in passing, if its flow is still there.
        advanceClock(to: timestamp, observe: observe)
        if !countCopyInPassing(at: timestamp) {
            process(frame: frame, originalLength: originalLength, timestamp: timestamp, payloadFingerprint: payloadFingerprint,
                    flowHash: flowHash, observe: observe)
        }
    }

    /// `processCopy(at: timestamp…)` where moving the clock to `timestamp`
    /// would only move it (no sweep is due: once due, a sweep notes when it
    /// ran, even if it lets no flow go) and the frame just processed went to
    /// a flow; false, having done nothing, otherwise (`processCopy` calls it
    /// once it has moved the clock). The flow's state is reached through the
    /// table's pointer: through the array's accessor, with the clock's and
    /// the checks' calls, a copy cost 170 instructions.
    @inline(never)
    mutating func countCopyInPassing(at timestamp: Int64) -> Bool {
        let slot = lastHandledSlot
        guard timestamp <= now
                || (Self.elapsed(from: lastIdleSweep, to: timestamp) < 1_000_000_000
                    && (Self.elapsed(from: lastCloseSweep, to: timestamp) < 1_000_000 || closingHead >= closing.count)),
              slots.activity(slot).occupied, slots.activity(slot).generation == lastHandledGeneration,
              let (flow, activity) = slots.stateAndActivity(at: slot)
        else { return false }
        flow.pointee.noteCopy(at: timestamp)
        now = max(now, timestamp)
        statistics.frames += 1
        statistics.tcpSegments += 1
        activity.pointee.lastSeen = max(activity.pointee.lastSeen, timestamp)
        return true
    }

    /// Capture time from `earlier` to `later`, saturating: timestamps are
    /// whatever the file says (pcapng's 64-bit ones wrap when made
    /// nanoseconds), and the difference of two can overflow, which trapped.
    @inline(__always)
    static func elapsed(from earlier: Int64, to later: Int64) -> Int64 {
        let (difference, overflow) = later.subtractingReportingOverflow(earlier)
        return overflow ? (later > earlier ? .max : .min) : difference
    }

    /// `advanceClock`, its test inlined into the per-packet path: most
    /// packets move the clock by microseconds and are due for no sweep (the
    /// call alone cost 35 instructions a packet).
    @inline(__always)
    private mutating func advanceClockPerPacket(to timestamp: Int64, observe: (consuming FlowObservation) -> Void) {
        guard timestamp > now else { return }
        if Self.elapsed(from: lastCloseSweep, to: timestamp) < 1_000_000 || closingHead >= closing.count,
           Self.elapsed(from: lastIdleSweep, to: timestamp) < 1_000_000_000 {
            now = timestamp
            return
        }
        advanceClock(to: timestamp, observe: observe)
    }

    /// Moves time forward (live captures call this when no packet comes): closed
    /// flows past their linger and idle flows are handed over.
    public mutating func advanceClock(to timestamp: Int64, observe: (consuming FlowObservation) -> Void) {
        guard timestamp > now else { return }
        now = timestamp
        // Closed flows are let go every millisecond of capture time, not in
        // batches every 100 ms: a slot freed here is reused by the next new
        // connections while its memory is still in cache (with batches, the
        // thousands of slots freed at once had gone cold again by the time
        // they were reused; writing a new flow's state (then 1.7 KB) into a cold
        // slot was a fifth of the analysing thread's time on a busy capture).
        if Self.elapsed(from: lastCloseSweep, to: now) >= 1_000_000, closingHead < closing.count {
            lastCloseSweep = now
            while closingHead < closing.count {
                let entry = closing[closingHead]
                let current = slots.activity(entry.slot)
                guard current.occupied, current.generation == entry.generation, current.closedAt == entry.closedAt else {
                    closingHead += 1  // the flow ended otherwise, or its slot holds another flow now
                    continue
                }
                // Close times grow with packet time; a later one is not due if this one is not.
                guard Self.elapsed(from: entry.closedAt, to: now) >= configuration.closeLingerNanoseconds else { break }
                closingHead += 1
                let far = closingHead - 1 + Self.summingUpLead, near = closingHead - 1 + Self.summingUpLead / 2
                prepareSummingUp(farSlot: far < closing.count ? closing[far].slot : nil,
                                 nearSlot: near < closing.count ? closing[near].slot : nil)
                finalize(entry.slot, end: .closed, observe: observe)
            }
            if closingHead > 1_024, closingHead * 2 > closing.count {
                closing.removeFirst(closingHead)
                closingHead = 0
            }
        }
        if Self.elapsed(from: lastIdleSweep, to: now) >= 1_000_000_000 {
            lastIdleSweep = now
            var idle: [Int] = []
            for slot in 0..<slots.count {
                let entry = slots.activity(slot)
                if entry.occupied, entry.closedAt == nil, Self.elapsed(from: entry.lastSeen, to: now) >= configuration.idleTimeoutNanoseconds {
                    idle.append(slot)
                }
            }
            for slot in idle { finalize(slot, end: .idle, observe: observe) }
        }
    }

    /// How many flows ahead of the one being summed up the close sweep and
    /// `finish` ask for a state's memory. A flow is summed up a second of
    /// capture time after it closed (or at the end), when its 1.2 KB state
    /// has long left the cache: summing up then waited on one line after
    /// another (perf: the summing-up's functions took several times their
    /// share of the instructions). Summing one up takes a few thousand
    /// instructions, time enough for the next states' lines to arrive.
    static let summingUpLead = 4

    /// Before a flow is summed up: asks for the state of the flow
    /// `summingUpLead` flows on (`farSlot`), and for the flow index's line
    /// of the one half as far (`nearSlot`), whose state has arrived by then
    /// and names its key. Removing a finished flow from the index waited on
    /// that line: with the states prefetched, that one load had 73 % of
    /// `finalize`'s own perf samples. Mutating, though it changes nothing:
    /// a non-mutating method called here was handed a copy of the whole
    /// analyser (see `FlowTable.prefetch`).
    @inline(__always)
    private mutating func prepareSummingUp(farSlot: Int?, nearSlot: Int?) {
        if let farSlot { slots.prefetch(farSlot) }
        if let nearSlot, let state = slots.stateForReading(at: nearSlot) {
            index.prefetch(hash: FlowKey(state.pointee.client, state.pointee.server, tunnel: state.pointee.tunnel).indexHash)
        }
    }

    /// Marks every open flow as having been open while the kernel dropped packets.
    public mutating func noteDrops() {
        for slot in 0..<slots.count { slots.state(at: slot)?.pointee.dropsWhileOpen = true }
    }

    private mutating func copyFragmentStatistics() {
        statistics.reassembledDatagrams = fragments.statistics.reassembled
        statistics.abandonedDatagrams = fragments.statistics.abandoned
        statistics.conflictingDatagrams = fragments.statistics.conflicting
    }

    /// Ends the capture, handing over observations, oldest flow first.
    public mutating func finish(observe: (consuming FlowObservation) -> Void) {
        fragments.abandonAll()
        copyFragmentStatistics()
        let remaining = (0..<slots.count)
            .filter { slots.activity($0).occupied }
            .sorted { slots.activity($0).firstSeen < slots.activity($1).firstSeen }
        for (position, slot) in remaining.enumerated() {
            let far = position + Self.summingUpLead, near = position + Self.summingUpLead / 2
            prepareSummingUp(farSlot: far < remaining.count ? remaining[far] : nil, nearSlot: near < remaining.count ? remaining[near] : nil)
            let end: FlowEnd = slots.activity(slot).closedAt == nil ? .captureEnded : .closed
            finalize(slot, end: end, observe: observe)
        }
        closing.removeAll()
        closingHead = 0
    }

    // MARK: Per segment

    /// `flowHash`: `Self.flowHash(of: segment)`, if the reading thread
    /// computed it (trusted: a wrong one would split the flow's directions).
    private mutating func handle(
        _ segment: TCPSegment, frame: UnsafeRawBufferPointer, fingerprint: PayloadFingerprint?, flowHash: UInt32? = nil,
        timestamp: Int64, observe: (consuming FlowObservation) -> Void
    ) {
        let isSYN = segment.flags.contains(.syn) && !segment.flags.contains(.ack)
        let hash: UInt32
        var slot: Int?
        var secondLeg = false
        // The same flow as the last segment's: its hash is the last one's.
        // Without a hash handed over (live captures, one processor) none
        // is computed for a run of one flow's segments.
        if let last = lastLookup, flowHash == nil || flowHash == last.hash,
           FlowKey.same(last.source, last.destination, last.tunnel, as: segment.source, segment.destination, segment.tunnel) {
            hash = last.hash
            slot = last.slot
            secondLeg = last.secondLeg
        } else {
            hash = flowHash ?? Self.flowHash(of: segment)
            slot = index.slot(hash: hash) { candidate in
                if slotHolds(candidate, segment: segment) { return true }
                guard holdsTranslated(candidate, segment: segment) else { return false }
                secondLeg = true
                return true
            }
            if let slot { lastLookup = LastLookup(segment, hash: hash, slot: slot, secondLeg: secondLeg) }
        }
        if secondLeg, let existing = slot {
            // A translated flow's other capture is analysed as its first: in
            // the addresses the flow began with (the client's own, for one
            // whose source was translated too).
            guard isSYN, isNewConnection(slot: existing, syn: asFirstLeg(segment, slot: existing)) else {
                return apply(asFirstLeg(segment, slot: existing), to: existing, frame: frame, fingerprint: fingerprint, timestamp: timestamp)
            }
            finalize(existing, end: .portReused, observe: observe)
            slot = nil
        } else if let existing = slot, isSYN, isNewConnection(slot: existing, syn: segment) {
            // Port reuse: the old connection is over.
            finalize(existing, end: .portReused, observe: observe)
            slot = nil
        }
        if slot == nil {
            // A lone reset for a connection not tracked (often the late copy of
            // one that just ended) says nothing; any other segment is a flow.
            let hasPayload = !segment.payloadRange.isEmpty || segment.missingPayload > 0
            guard !segment.flags.contains(.rst) || hasPayload else {
                statistics.untrackedResets += 1
                return
            }
            if isSYN, let translated = translatedLeg(of: segment, frame: frame, timestamp: timestamp) {
                addLeg(Translation(client: segment.source, server: segment.destination), to: translated)
                lastLookup = LastLookup(segment, hash: hash, slot: translated, secondLeg: true)
                return apply(asFirstLeg(segment, slot: translated), to: translated, frame: frame, fingerprint: fingerprint, timestamp: timestamp)
            }
            let started = startFlow(hash: hash, segment: segment, timestamp: timestamp, observe: observe)
            if isSYN { rememberSYN(segment, frame: frame, slot: started, timestamp: timestamp) }
            slot = started
        }
        guard let slot else { return }
        apply(segment, to: slot, frame: frame, fingerprint: fingerprint, timestamp: timestamp)
    }

    /// The segment taken by its flow, and the flow's activity noted.
    @inline(__always)
    private mutating func apply(
        _ segment: TCPSegment, to slot: Int, frame: UnsafeRawBufferPointer, fingerprint: PayloadFingerprint?, timestamp: Int64
    ) {
        // Mutated where it lies: a flow's state is large and copying it per
        // packet shows in profiles.
        // State and activity through one check that the table is this
        // analyser's own (the activity's array of its own took another).
        guard let (state, activity) = slots.stateAndActivity(at: slot) else { return }
        let closed = state.pointee.update(with: segment, frame: frame, fingerprint: fingerprint, timestamp: timestamp, budget: &budget)
        activity.pointee.lastSeen = max(activity.pointee.lastSeen, timestamp)
        if closed { activity.pointee.closedAt = timestamp }
        let generation = activity.pointee.generation
        if closed { closing.append(ClosingEntry(slot: slot, generation: generation, closedAt: timestamp)) }
        lastHandledSlot = slot
        lastHandledGeneration = generation
    }

    /// Reads the few fields it needs where the flow lies, rather than copy the
    /// whole state (1.2 KB, and a retain for every buffer it holds) for every
    /// SYN that finds its flow: under `-i any` that is each SYN's second copy.
    /// Mutating only so that the analyzer is passed by reference, not copied.
    private mutating func isNewConnection(slot: Int, syn: TCPSegment) -> Bool {
        // Through a pointer: the array's getter copied the whole state.
        guard let flow = slots.stateForReading(at: slot) else { return false }
        let client = flow.pointee.client, clientISN = flow.pointee.clientISN
        guard syn.source == client || clientISN == nil else {
            // A SYN from the server side: the roles are reversed, a new connection.
            return true
        }
        if let isn = clientISN { return isn != syn.sequence }
        return slots.activity(slot).closedAt != nil
    }

    /// Whether `slot` holds `segment`'s flow: the index keeps only hashes,
    /// and the flow's addresses are read where it lies (the packet's update
    /// reads them next anyway), not copied out with the rest of its state.
    private func slotHolds(_ slot: Int, segment: TCPSegment) -> Bool {
        guard let flow = slots.stateForReading(at: slot) else { return false }
        return FlowKey.same(flow.pointee.client, flow.pointee.server, flow.pointee.tunnel,
                            as: segment.source, segment.destination, segment.tunnel)
    }

    /// Whether `slot` holds a translated flow whose second capture
    /// `segment` is (see `translatedLeg`). Apart from `slotHolds`' closure:
    /// the table of translations read inside it made every lookup retain
    /// and release it.
    private func holdsTranslated(_ slot: Int, segment: TCPSegment) -> Bool {
        guard !translations.isEmpty, let legs = translations[slot] else { return false }
        return legs.leg(matching: segment.source, segment.destination, tunnel: segment.tunnel) != nil
    }

    /// The flow's client and server, read where the flow lies.
    private func endpoints(of slot: Int) -> (client: Endpoint, server: Endpoint, tunnel: Tunnel)? {
        guard let flow = slots.stateForReading(at: slot) else { return nil }
        return (flow.pointee.client, flow.pointee.server, flow.pointee.tunnel)
    }

    /// Takes `leg` as another capture of `slot`'s flow: its key leads there.
    /// A capture after both a destination and a source NAT brings the one
    /// between them along: with a bridge, the node captures a packet on its
    /// way through the bridge with only the destination rewritten (the
    /// source is rewritten as it leaves by the pod's port), and that view
    /// may start with the server's answer, which no SYN would announce.
    @inline(never)  // Seldom taken: kept out of the per-packet handler.
    private mutating func addLeg(_ leg: Translation, to slot: Int) {
        guard let flow = endpoints(of: slot) else { return }
        var legs = translations[slot] ?? TranslatedLegs(tunnel: flow.tunnel)
        func insert(_ candidate: Translation) {
            guard legs.add(candidate) else { return }
            index.insert(hash: FlowKey(candidate.client, candidate.server, tunnel: flow.tunnel).indexHash, slot: slot)
            translatedKeys += 1
        }
        insert(leg)
        if leg.client != flow.client, leg.server != flow.server { insert(Translation(client: flow.client, server: leg.server)) }
        translations[slot] = legs
    }

    /// `segment`, of a translated flow's other capture, with the addresses
    /// of the first: the client's and the server's as the client sent it.
    @inline(never)  // Seldom taken: kept out of the per-packet handler.
    private func asFirstLeg(_ segment: TCPSegment, slot: Int) -> TCPSegment {
        guard let legs = translations[slot],
              let translated = legs.leg(matching: segment.source, segment.destination, tunnel: segment.tunnel),
              let endpoints = endpoints(of: slot) else { return segment }
        var first = segment
        if segment.source == translated.client {
            first.source = endpoints.client
            first.destination = endpoints.server
        } else {
            first.source = endpoints.server
            first.destination = endpoints.client
        }
        return first
    }

    /// The flow whose SYN `syn` repeats with other addresses: the same
    /// initial sequence number, within a second, before that flow's server
    /// answered, and either the same client address and port (and tunnel)
    /// to another destination, or another client address or port with the
    /// same TCP timestamp (TSval). That is one connection captured on both
    /// sides of a NAT on this node: kube-proxy rewrites a Service's ClusterIP
    /// to a pod's address between the client pod's interface and the server
    /// pod's (destination NAT), and the client's address too for a NodePort
    /// or load balancer's connection it sends to a pod on another path
    /// (`externalTrafficPolicy: Cluster`: source NAT), as a node does for a
    /// pod's connection leaving the cluster; `-i any` captures it on both.
    /// Its packets then go to one flow (the second capture's bytes are
    /// duplicates, compared as any retransmission's), reported once with the
    /// addresses it was translated to. A new connection's initial sequence
    /// number is chosen afresh for each destination (RFC 6528), so another
    /// connection from the same port does not repeat it; where the client's
    /// address changed too, the 32 bits of the sequence number alone would
    /// let two busy clients' connections meet by chance, so the timestamp
    /// must match as well (Linux offsets it by a random value per pair of
    /// addresses): a SYN without one is not merged across a source NAT.
    private func translatedLeg(of syn: TCPSegment, frame: UnsafeRawBufferPointer, timestamp: Int64) -> Int? {
        let position = Int(syn.sequence & Self.recentSYNMask)
        guard position < recentSYNs.count else { return nil }
        let entry = recentSYNs[position]
        let sameClient = entry.client == syn.source
        guard entry.initialSequence == syn.sequence,
              sameClient || (entry.timestampValue != nil && entry.timestampValue == TCPOptions.timestampValue(of: syn, in: frame)),
              slots.activity(entry.slot).occupied,
              slots.activity(entry.slot).generation == entry.generation, slots.activity(entry.slot).closedAt == nil,
              Self.elapsed(from: entry.timestamp, to: timestamp) <= Self.translationWindowNanoseconds,
              translations[entry.slot]?.isFull != true else { return nil }
        // Field by field where the flow lies (the whole state is 1.1 KB).
        guard let flow = slots.stateForReading(at: entry.slot) else { return nil }
        let unanswered = flow.pointee.tunnel == syn.tunnel && (flow.pointee.server != syn.destination || !sameClient)
            && !flow.pointee.toClient.assembler.isStarted
        return unanswered ? entry.slot : nil
    }

    private mutating func rememberSYN(_ syn: TCPSegment, frame: UnsafeRawBufferPointer, slot: Int, timestamp: Int64) {
        if recentSYNs.isEmpty {
            let none = RecentSYN(client: syn.source, initialSequence: ~syn.sequence, timestampValue: nil, slot: -1, generation: 0, timestamp: 0)
            recentSYNs = Array(repeating: none, count: Int(Self.recentSYNMask) + 1)
        }
        recentSYNs[Int(syn.sequence & Self.recentSYNMask)] = RecentSYN(
            client: syn.source, initialSequence: syn.sequence, timestampValue: TCPOptions.timestampValue(of: syn, in: frame),
            slot: slot, generation: slots.activity(slot).generation, timestamp: timestamp)
    }

    /// How far apart the two captures of a translated SYN may be; and the
    /// SYNs remembered (by 6 bits of the initial sequence number, which the
    /// client chose at random): a new connection between the two captures
    /// takes its place only once in 64.
    static let translationWindowNanoseconds: Int64 = 1_000_000_000
    static let recentSYNMask: UInt32 = 63

    private mutating func startFlow(hash: UInt32, segment: TCPSegment, timestamp: Int64, observe: (consuming FlowObservation) -> Void) -> Int {
        if openFlows >= min(configuration.maximumFlows, FlowIndex.slotLimit) { evictOldest(observe: observe) }
        let (client, server) = roles(for: segment)
        let slot: Int
        nextGeneration &+= 1
        let entry = SlotActivity(occupied: true, firstSeen: timestamp, lastSeen: timestamp, closedAt: nil, generation: nextGeneration)
        // Free slots are ones `finalize` emptied: `putBlank` always takes one.
        // (A listed slot that is not empty, which `finalize` never leaves,
        // would give way to a new one, never be overwritten.)
        let (started, state) = slots.putBlank(reusing: freeSlots.popLast(), activity: entry)
        slot = started
        state.pointee.client = client
        state.pointee.server = server
        state.pointee.tunnel = segment.tunnel
        state.pointee.firstSeen = timestamp
        state.pointee.lastSeen = timestamp
        if slots.count >= prepareAt { prepareStorageAhead() }
        index.insert(hash: hash, slot: slot)
        lastLookup = LastLookup(segment, hash: hash, slot: slot, secondLeg: false)
        return slot
    }

    /// Hands the next stretch of the table's reserved storage to
    /// `prepareMemory`: enough that the slots in use stay a lead behind it.
    private mutating func prepareStorageAhead() {
        guard let prepare = configuration.prepareMemory else {
            prepareAt = Int.max
            return
        }
        let stride = FlowTable.stride
        let base = slots.baseAddress
        let used = slots.count * stride
        if base != preparedBase {
            // New storage (the table grew): what the move copied in is present.
            preparedBase = base
            preparedBytes = used
        }
        let reserved = slots.capacity * stride
        let target = min(reserved, used + 2 * Self.prepareLeadBytes)
        if target > preparedBytes {
            prepare(base + UInt(preparedBytes), target - preparedBytes)
            preparedBytes = target
        }
        // Next: once the slots in use come within a lead of the prepared end;
        // with all of the storage prepared, when it is full and must move.
        prepareAt = preparedBytes >= reserved
            ? slots.capacity + 1
            : max(slots.count + 1, (preparedBytes - Self.prepareLeadBytes) / stride)
    }

    /// The client sent the SYN; without it, a guess that never affects the verdict's
    /// direction-independent rules: the SYN-ACK sender is the server, else the
    /// side on a well-known port, else the packet's destination.
    private func roles(for segment: TCPSegment) -> (client: Endpoint, server: Endpoint) {
        let src = segment.source, dst = segment.destination
        if segment.flags.contains(.syn) {
            return segment.flags.contains(.ack) ? (dst, src) : (src, dst)
        }
        if src.port < 1024, dst.port >= 1024 { return (dst, src) }
        if dst.port < 1024, src.port >= 1024 { return (src, dst) }
        if src.port < 32_768, dst.port >= 32_768 { return (dst, src) }
        return (src, dst)
    }

    // MARK: Verdicts

    /// The table is full: the least recently seen 1% of flows get their
    /// verdicts and make room. Evicting in batches keeps a SYN flood linear:
    /// one scan per `maximumFlows / 100` new flows, not one per flow.
    private mutating func evictOldest(observe: (consuming FlowObservation) -> Void) {
        var candidates: [(slot: Int, lastSeen: Int64)] = []
        candidates.reserveCapacity(openFlows)
        for slot in 0..<slots.count where slots.activity(slot).occupied {
            candidates.append((slot, slots.activity(slot).lastSeen))
        }
        let batch = max(1, configuration.maximumFlows / 100)
        // Estimate the 1% cut-off from an evenly spaced sample instead of
        // sorting every flow: linear per batch.
        let stride = max(1, candidates.count / 1_000)
        let sample = Swift.stride(from: 0, to: candidates.count, by: stride).map { candidates[$0].lastSeen }.sorted()
        let cutIndex = min(sample.count - 1, max(0, sample.count * batch / max(1, candidates.count)))
        let cutoff = sample.isEmpty ? Int64.max : sample[cutIndex]
        var chosen = candidates.filter { $0.lastSeen <= cutoff }
        if chosen.count > batch {
            chosen.sort { $0.lastSeen < $1.lastSeen }
            chosen.removeLast(chosen.count - batch)
        }
        for (slot, _) in chosen {
            statistics.evictedFlows += 1
            finalize(slot, end: .evicted, observe: observe)
        }
    }

    /// Payload that only a client sends: a TLS ClientHello, an HTTP request,
    /// an RPC call, a PostgreSQL startup, an h2c preface.
    static func speaksFirst(_ d: DirectionSummary) -> Bool {
        if d.handshake.clientHelloSeen, !d.handshake.serverHelloSeen { return true }
        guard let evidence = d.evidence else { return d.kind == .h2c }
        if d.kind == .http { return !evidence.hasPrefix("HTTP/") }
        return evidence.hasPrefix("ONC RPC call") || evidence.hasPrefix("PostgreSQL startup")
    }

    private mutating func finalize(_ slot: Int, end: FlowEnd, observe: (consuming FlowObservation) -> Void) {
        // Summarised where the state lies, then emptied: taking the state out
        // first copied all of it (about 1.1 KB, cold after the close linger)
        // to read a part.
        guard let flow = slots.state(at: slot) else { return }
        let translated = translations.isEmpty ? nil : translations.removeValue(forKey: slot)
        let observation = flow.pointee.observation(end: end, translation: translated, budget: &budget)
        slots.remove(slot)
        // The key is direction-symmetric: the observation's roles, swapped or not, give it.
        index.remove(hash: FlowKey(observation.client, observation.server, tunnel: observation.tunnel).indexHash, slot: slot)
        translated?.forEach { leg in
            index.remove(hash: FlowKey(leg.client, leg.server, tunnel: observation.tunnel).indexHash, slot: slot)
            translatedKeys -= 1
        }
        lastLookup = nil
        freeSlots.append(slot)

        observe(observation)
    }

    fileprivate static func observation(
        of flow: inout FlowState, end: FlowEnd, translation: TranslatedLegs?, budget: inout ReassemblyBudget
    ) -> FlowObservation {
        let fromClient = flow.toServer.finish(budget: &budget)
        let fromServer = flow.toClient.finish(budget: &budget)
        let clientStats = flow.toServer.assembler.statistics, serverStats = flow.toClient.assembler.statistics
        // Picked up mid-stream, the roles were a guess from the ports; the
        // payload may say otherwise (the "server" side sent the requests).
        let swap = !flow.handshakeSeen && speaksFirst(fromServer) && !speaksFirst(fromClient)
        // Built in one initializer call and returned as built: filled field
        // by field, it was copied whole (a retain per string and list) on
        // the way out, once per flow.
        return FlowObservation(
            client: swap ? flow.server : flow.client, server: swap ? flow.client : flow.server, tunnel: flow.tunnel,
            clientToServer: swap ? fromServer : fromClient, serverToClient: swap ? fromClient : fromServer,
            handshakeSeen: flow.handshakeSeen,
            clientClosure: swap ? flow.toClient.closure : flow.toServer.closure,
            serverClosure: swap ? flow.toServer.closure : flow.toClient.closure,
            packets: flow.packets, firstSeenNanoseconds: flow.firstSeen, lastSeenNanoseconds: flow.lastSeen,
            conflictingBytes: clientStats.conflictingBytes + serverStats.conflictingBytes,
            duplicateBytes: clientStats.duplicateBytes + serverStats.duplicateBytes,
            end: end, dropsWhileOpen: flow.dropsWhileOpen,
            clientClosedFirst: flow.firstToClose == (swap ? 2 : 1),
            serverSilenceBeforeClose: Int64(swap ? flow.silenceBeforeClientClose : flow.silenceBeforeServerClose) * 100_000_000,
            bytesBeforeStart: clientStats.bytesBeforeStart + serverStats.bytesBeforeStart,
            serverSynAckMissing: flow.handshakeSeen && flow.toClient.assembler.acknowledgedWithoutSYN,
            // Translated flows began with the client's SYN: their roles are never swapped.
            translatedServer: translation?.firstServer(otherThan: flow.server),
            translatedClient: translation?.firstClient(otherThan: flow.client)
        )
    }
}

/// Recognises a frame whose TCP segment repeats the previous frame's: the
/// same addresses, ports, tunnel, sequence and acknowledgement numbers,
/// flags, window and lengths, and the same payload by its keyed fingerprint
/// (as the assembler tells a retransmission from a conflicting one). `-i
/// any` captures a packet once per interface it crosses, back to back: such
/// a copy is taken with `FlowAnalyzer.processCopy`. Run on every frame in
/// order, by the thread that reads frames ahead of the analyser or by the
/// analyser's own loop; it keeps the previous frame's decoded segment. On a
/// reading thread the fingerprint, which the assembler needs for every
/// segment it delivers, is computed while the bytes are in that processor's
/// cache (on the analysing thread, reading every payload byte for it was its
/// largest single cost, mostly waiting for memory the reading thread had
/// just written), and handed over with the frame.
public struct FrameCopyDetector: Sendable {
    /// What a frame holds: its TCP segment, its payload's fingerprint (nil
    /// with no payload), and whether it repeats the frame before it.
    public struct Examined {
        public var segment: TCPSegment
        public var fingerprint: PayloadFingerprint?
        public var repeatsPrevious: Bool
    }

    private let decoder: FrameDecoder
    /// The last frame's segment; meaningful only with `hasPrevious` (not an
    /// Optional: written for every packet, moving it in and out of one cost
    /// more than the rest of the check).
    private var previous = TCPSegment(
        source: Endpoint(address: IPAddress(ipv4: 0), port: 0), destination: Endpoint(address: IPAddress(ipv4: 0), port: 0),
        sequence: 0, acknowledgment: 0, flags: TCPFlags(rawValue: 0), window: 0, payloadRange: 0..<0, missingPayload: 0,
        tunnel: Tunnel(kind: .none))
    private var hasPrevious = false
    /// The last frame's payload fingerprint; 0 with no payload.
    private var previousFingerprint: UInt64 = 0
    private var previousOriginalLength = 0
    /// Link-header bytes the decoder never reads, for the link types whose
    /// captures are full of copies (`-i any`): Linux cooked v2's fields after
    /// its protocol (the interface, packet type, address), v1's before its
    /// protocol. A frame equal to the one before in every other byte decodes
    /// as it did; nil for other link types.
    private let unreadLinkBytes: Range<Int>?

    public init(linkType: Int32) {
        decoder = FrameDecoder(linkType: linkType)
        switch linkType {
        case LinkType.linuxCooked2: unreadLinkBytes = 2..<20
        case LinkType.linuxCooked: unreadLinkBytes = 0..<14
        default: unreadLinkBytes = nil
        }
    }

    /// Whether handing `examine` the frame before pays: for the link types
    /// whose captures are full of copies. Elsewhere most frames are no copy,
    /// and comparing headers before the fingerprint cost the reading thread
    /// more than the rare copy saved.
    public var comparesPreviousFrame: Bool { unreadLinkBytes != nil }

    /// Whether `frame` repeats `previousFrame` in every byte the decoder reads.
    /// Compared through the base addresses, the lengths checked once: two
    /// slices of each frame and their checks were about a hundred
    /// instructions per copy besides the comparison itself.
    private func repeatsEveryReadByte(_ frame: UnsafeRawBufferPointer, originalLength: Int,
                                      of previousFrame: UnsafeRawBufferPointer, unread: Range<Int>) -> Bool {
        guard frame.count == previousFrame.count, originalLength == previousOriginalLength, frame.count >= unread.upperBound,
              let current = frame.baseAddress, let previous = previousFrame.baseAddress else {
            return false
        }
        return memcmp(current + unread.upperBound, previous + unread.upperBound, frame.count - unread.upperBound) == 0
            && memcmp(current, previous, unread.lowerBound) == 0
    }

    /// nil when the frame holds no TCP segment of its own (not TCP, or an IP
    /// fragment, whose datagram is rebuilt first): the frame after it
    /// repeats nothing. A frame repeats the one before when their segments
    /// agree in every header field and their payloads' fingerprints match.
    public mutating func examine(_ frame: UnsafeRawBufferPointer, originalLength: Int) -> Examined? {
        previousOriginalLength = originalLength
        guard let segment = segment(of: frame, originalLength: originalLength) else {
            hasPrevious = false
            return nil
        }
        let fingerprint = segment.payloadRange.isEmpty
            ? nil : PayloadFingerprint(of: UnsafeRawBufferPointer(rebasing: frame[segment.payloadRange]))
        let value = fingerprint?.value ?? 0
        let repeats = hasPrevious && value == previousFingerprint && Self.sameHeaders(segment, previous)
        return remember(segment, fingerprint: fingerprint, repeats: repeats)
    }

    /// As `examine(_:originalLength:)`, with the frame examined last at hand
    /// (the reading thread's copy of it): a frame whose headers repeat it is
    /// compared with it byte for byte, and takes its fingerprint, instead of
    /// reading every byte for a fingerprint of its own (memcmp is many times
    /// cheaper); a cooked frame equal to it in every byte the decoder reads
    /// is not even decoded. The same answers, at a cost only where copies
    /// are the rule (`-i any`): the headers are compared before the
    /// fingerprint, which most frames need anyway.
    public mutating func examine(_ frame: UnsafeRawBufferPointer, originalLength: Int,
                                 previousFrame: UnsafeRawBufferPointer) -> Examined? {
        if hasPrevious, let unread = unreadLinkBytes,
           repeatsEveryReadByte(frame, originalLength: originalLength, of: previousFrame, unread: unread) {
            // It would decode to the same segment.
            return Examined(segment: previous, fingerprint: previous.payloadRange.isEmpty ? nil : PayloadFingerprint(value: previousFingerprint),
                            repeatsPrevious: true)
        }
        previousOriginalLength = originalLength
        guard let segment = segment(of: frame, originalLength: originalLength) else {
            hasPrevious = false
            return nil
        }
        // The sequence number and length first, in place: most frames differ there.
        let headersRepeat = hasPrevious && segment.sequence == previous.sequence
            && segment.payloadRange.count == previous.payloadRange.count && Self.sameHeaders(segment, previous)
        if headersRepeat, previous.payloadRange.upperBound <= previousFrame.count,
           Self.equalBytes(UnsafeRawBufferPointer(rebasing: frame[segment.payloadRange]),
                           UnsafeRawBufferPointer(rebasing: previousFrame[previous.payloadRange])) {
            previous = segment
            let fingerprint = segment.payloadRange.isEmpty ? nil : PayloadFingerprint(value: previousFingerprint)
            return Examined(segment: segment, fingerprint: fingerprint, repeatsPrevious: true)
        }
        let fingerprint = segment.payloadRange.isEmpty
            ? nil : PayloadFingerprint(of: UnsafeRawBufferPointer(rebasing: frame[segment.payloadRange]))
        let value = fingerprint?.value ?? 0
        return remember(segment, fingerprint: fingerprint, repeats: headersRepeat && value == previousFingerprint)
    }

    /// The frame's TCP segment, the usual frame by the short path.
    @inline(__always)
    private func segment(of frame: UnsafeRawBufferPointer, originalLength: Int) -> TCPSegment? {
        if let segment = decoder.decodeCommonOutOfLine(frame, originalLength: originalLength) { return segment }
        guard case .success(let segment) = decoder.decode(frame, originalLength: originalLength) else { return nil }
        return segment
    }

    private mutating func remember(_ segment: TCPSegment, fingerprint: PayloadFingerprint?, repeats: Bool) -> Examined {
        previous = segment
        hasPrevious = true
        previousFingerprint = fingerprint?.value ?? 0
        return Examined(segment: segment, fingerprint: fingerprint, repeatsPrevious: repeats)
    }

    static func equalBytes(_ a: UnsafeRawBufferPointer, _ b: UnsafeRawBufferPointer) -> Bool {
        guard a.count == b.count else { return false }
        guard a.count > 0, let x = a.baseAddress, let y = b.baseAddress else { return true }
        return memcmp(x, y, a.count) == 0
    }

    /// Every field the analysis reads, but where the payload lies in the frame.
    static func sameHeaders(_ a: TCPSegment, _ b: TCPSegment) -> Bool {
        a.sequence == b.sequence && a.acknowledgment == b.acknowledgment && a.flags == b.flags && a.window == b.window
            && a.payloadRange.count == b.payloadRange.count && a.missingPayload == b.missingPayload
            && a.source == b.source && a.destination == b.destination && a.tunnel == b.tunnel
    }
}

extension FlowState {
    /// What was observed, for the verdict; the state is finished with (its
    /// held data flushed as gaps) and is to be discarded.
    mutating func observation(end: FlowEnd, translation: TranslatedLegs?, budget: inout ReassemblyBudget) -> FlowObservation {
        FlowAnalyzer.observation(of: &self, end: end, translation: translation, budget: &budget)
    }

    /// Takes one segment; true when it closed the flow (see `closeIfDone`).
    /// Inlined into the per-packet path, its one caller (left to itself the
    /// compiler stopped inlining it when the close bookkeeping grew it).
    @inline(__always)
    mutating func update(
        with segment: TCPSegment, frame: UnsafeRawBufferPointer, fingerprint: PayloadFingerprint? = nil, timestamp: Int64,
        budget: inout ReassemblyBudget
    ) -> Bool {
        packets += 1
        let previous = lastSeen
        lastSeen = max(lastSeen, timestamp)
        let fromClient = segment.source == client
        let payload = UnsafeRawBufferPointer(rebasing: frame[segment.payloadRange])
        let length = payload.count + segment.missingPayload

        if segment.flags.contains(.syn) {
            if fromClient {
                toServer.assembler.startAtSYN(initialSequence: segment.sequence)
                if !segment.flags.contains(.ack) {
                    handshakeSeen = true
                    clientISN = segment.sequence
                }
            } else {
                toClient.assembler.startAtSYN(initialSequence: segment.sequence)
            }
        }
        // An acknowledgement settles which of two SYN-ACKs the peer's data
        // follows (see `startAtSYN`), then says how far the peer has sent.
        // Not a reset's: one aborting a connection attempt carries ACK with
        // an acknowledgement of 0, of nothing the peer sent.
        if segment.flags.contains(.ack), !segment.flags.contains(.rst) {
            if fromClient {
                toClient.assembler.notePeerAcknowledgment(segment.acknowledgment)
            } else {
                toServer.assembler.notePeerAcknowledgment(segment.acknowledgment)
            }
        }
        // Data on a SYN starts one past the SYN's sequence number.
        let dataSequence = segment.flags.contains(.syn) ? segment.sequence &+ 1 : segment.sequence
        if length > 0 {
            if fromClient {
                toServer.accept(sequence: dataSequence, payload: payload, missing: segment.missingPayload, fingerprint: fingerprint, budget: &budget)
            } else {
                toClient.accept(sequence: dataSequence, payload: payload, missing: segment.missingPayload, fingerprint: fingerprint, budget: &budget)
            }
        }
        if segment.flags.contains(.fin) {
            let finSequence = dataSequence &+ UInt32(truncatingIfNeeded: length)
            if fromClient {
                toServer.assembler.noteFIN(at: finSequence)
                if toServer.closure == .open { noteFirstClose(fromClient: true, at: timestamp, previous: previous); toServer.closure = .fin }
            } else {
                toClient.assembler.noteFIN(at: finSequence)
                if toClient.closure == .open { noteFirstClose(fromClient: false, at: timestamp, previous: previous); toClient.closure = .fin }
            }
        }
        if segment.flags.contains(.rst) {
            // Where the side's bytes ended, as a FIN's would say (a reset
            // answering a segment takes its sequence number from that
            // segment's acknowledgement, RFC 793); not from one with neither
            // an ACK nor a sequence number (answering a SYN: 0).
            let endSequence = dataSequence &+ UInt32(truncatingIfNeeded: length)
            let acknowledges = segment.flags.contains(.ack) || segment.sequence != 0
            if fromClient {
                if toServer.closure == .open { noteFirstClose(fromClient: true, at: timestamp, previous: previous) }
                toServer.closure = .reset
                if acknowledges { toServer.assembler.noteFIN(at: endSequence) }
            } else {
                if toClient.closure == .open { noteFirstClose(fromClient: false, at: timestamp, previous: previous) }
                toClient.closure = .reset
                if acknowledges { toClient.assembler.noteFIN(at: endSequence) }
            }
        }
        return closeIfDone(at: timestamp)
    }

    /// Counts a copy of the segment just taken (see `FlowAnalyzer.processCopy`).
    mutating func noteCopy(at timestamp: Int64) {
        packets += 1
        lastSeen = max(lastSeen, timestamp)
    }

    /// Notes a side's first close: whether it came first, and the silence before it.
    /// Out of line: twice per flow at most, and inlined it made `update` too
    /// large to be inlined into the per-packet path (+0.8 M instructions on
    /// the 3 000-flow replay).
    @inline(never)
    mutating func noteFirstClose(fromClient: Bool, at timestamp: Int64, previous: Int64) {
        if firstToClose == 0 { firstToClose = fromClient ? 1 : 2 }
        let silence = max(0, FlowAnalyzer.elapsed(from: previous, to: timestamp))
        let tenths = UInt16(clamping: silence / 100_000_000)
        if fromClient { silenceBeforeClientClose = tenths } else { silenceBeforeServerClose = tenths }
    }

    /// Marks the flow closed (FIN both ways, or a reset) the first time it is; true then.
    /// Inlined into the per-packet update (a call per packet before).
    @inline(__always)
    mutating func closeIfDone(at timestamp: Int64) -> Bool {
        guard closedAt == nil else { return false }
        // Whether each stream delivered everything up to its FIN is asked only
        // once both FINs were seen (closure `.fin`, set where the FIN is
        // noted): asking an assembler, defined in another module, copied it
        // (some 200 bytes) twice on every packet.
        let done = toServer.closure == .reset || toClient.closure == .reset
            || (toServer.closure == .fin && toClient.closure == .fin
                && toServer.assembler.isFinished && toClient.assembler.isFinished)
        if done { closedAt = timestamp }
        return done
    }
}

/// What sweeps and eviction need to know about a slot.
struct SlotActivity: Sendable {
    var occupied: Bool
    var firstSeen: Int64
    var lastSeen: Int64
    var closedAt: Int64?
    /// Which flow holds the slot: slots are reused, queue entries must not be.
    var generation: UInt32

    /// A slot no flow holds.
    static let vacant = SlotActivity(occupied: false, firstSeen: 0, lastSeen: 0, closedAt: nil, generation: 0)
}

/// A flow that began with a client's SYN (see `FlowAnalyzer.translatedLeg`).
struct RecentSYN: Sendable {
    var client: Endpoint
    var initialSequence: UInt32
    /// The SYN's TCP timestamp, if it had one.
    var timestampValue: UInt32?
    var slot: Int
    var generation: UInt32
    var timestamp: Int64
}

/// The addresses a translated flow's other capture showed.
struct Translation: Sendable, Equatable {
    var client: Endpoint
    var server: Endpoint
}

/// A flow's other captures through NAT on the node, in the order they were
/// found: up to three (before the translations is the flow itself; after
/// the destination NAT, after the source NAT too, and a spare), held inline.
struct TranslatedLegs: Sendable {
    let tunnel: Tunnel
    private var legs: (Translation?, Translation?, Translation?) = (nil, nil, nil)

    init(tunnel: Tunnel) { self.tunnel = tunnel }

    var isFull: Bool { legs.2 != nil }

    /// The legs in the order they were added (no array: no allocation).
    private func leg(_ position: Int) -> Translation? {
        switch position {
        case 0: return legs.0
        case 1: return legs.1
        default: return legs.2
        }
    }

    /// Adds `new` unless it is there already or there is no room.
    mutating func add(_ new: Translation) -> Bool {
        guard leg(matching: new.client, new.server, tunnel: tunnel) == nil else { return false }
        if legs.0 == nil { legs.0 = new } else if legs.1 == nil { legs.1 = new } else if legs.2 == nil { legs.2 = new } else { return false }
        return true
    }

    /// The leg with these endpoints (either way round) in `tunnel`.
    func leg(matching a: Endpoint, _ b: Endpoint, tunnel: Tunnel) -> Translation? {
        for position in 0..<3 {
            guard let leg = leg(position) else { return nil }
            if FlowKey.same(leg.client, leg.server, self.tunnel, as: a, b, tunnel) { return leg }
        }
        return nil
    }

    func forEach(_ body: (Translation) -> Void) {
        for position in 0..<3 { if let leg = leg(position) { body(leg) } }
    }

    func firstServer(otherThan server: Endpoint) -> Endpoint? {
        for position in 0..<3 { if let leg = leg(position), leg.server != server { return leg.server } }
        return nil
    }

    func firstClient(otherThan client: Endpoint) -> Endpoint? {
        for position in 0..<3 { if let leg = leg(position), leg.client != client { return leg.client } }
        return nil
    }
}

/// See `FlowAnalyzer.lastLookup`.
struct LastLookup: Sendable {
    var hash: UInt32
    var source: Endpoint
    var destination: Endpoint
    var tunnel: Tunnel
    var slot: Int
    var secondLeg: Bool

    init(_ segment: TCPSegment, hash: UInt32, slot: Int, secondLeg: Bool) {
        self.hash = hash
        source = segment.source
        destination = segment.destination
        tunnel = segment.tunnel
        self.slot = slot
        self.secondLeg = secondLeg
    }
}

struct ClosingEntry: Sendable {
    var slot: Int
    var generation: UInt32
    var closedAt: Int64
}
