import CacheHints
#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#endif

/// Reads a capture file on its own thread, ahead of the analysis.
///
/// libpcap's read loop alone takes a third to a half of a replay's time; on
/// a machine with a second core that time can overlap the analysis. The
/// reading thread copies each packet (once, into a batch buffer that is
/// reused; streamed past the caches where that is cheaper, see `init`'s
/// `streamsPackets`) because libpcap's own buffer is valid only until its
/// next read.
/// Memory is bounded: `batchCount` batches of `batchBytes` each, recycled; the
/// reader waits while the analysis holds all of them.
///
/// With `notesCopies`, a packet its note calls a copy of the one before
/// (`-i any`'s second capture of a packet) is neither copied nor handed over
/// when that one's note can hold its time instead (`FrameNote`).
///
/// A stream (`PacketSource.isStream`: a pipe or socket) is read ahead the
/// same way, but its batch is handed over part full whenever the next read
/// would wait for the writer, and each of its batches ends with `.timeout`,
/// so that a consumer analysing it as it arrives is never held back.
///
/// `next()` has `PacketSource.next()`'s contract: a packet's bytes stay valid
/// until the next call. Only one thread may call `next()` and `stop()`.
public final class ReadAhead: @unchecked Sendable {
    /// Packets, copied back to back, and where each one starts.
    @usableFromInline
    final class Batch {
        @usableFromInline
        struct Record {
            /// The packet's first byte: in the batch's storage, or where the
            /// source read it in place (`PacketSource.holdsInPlace`).
            var start: UnsafeRawPointer?
            var count: Int
            var originalLength: Int
            var timestampNanoseconds: Int64
            @usableFromInline var note: FrameNote?
        }
        // Touched per packet by one thread at a time (the hand-over is under
        // the mutex), so the dynamic exclusivity checks, about 80
        // instructions per access, are left out.
        @exclusivity(unchecked) var storage: UnsafeMutableRawBufferPointer
        @exclusivity(unchecked) var used = 0
        /// The records, in memory of their own rather than an array: the
        /// consumer reads them through a pointer it keeps for the batch
        /// (`ReadAhead.next()`), with no array access per packet.
        let records: UnsafeMutablePointer<Record>
        let recordCapacity: Int
        @exclusivity(unchecked) var recordCount = 0
        /// How reading ended after this batch's packets, if it did.
        @exclusivity(unchecked) var ending: ReadResult?
        /// Set when a stream's reader heard its writer quiet after this
        /// batch's packets: when data last arrived (the stream's
        /// `streamLastArrival` then), for the consumer's clock.
        @exclusivity(unchecked) var quietArrival: Int64?

        /// Packets copied with non-temporal stores, each from a 64-byte line
        /// (see `ReadAhead.init`'s `streamsPackets`); set while the batch is empty.
        @exclusivity(unchecked) var streams = false

        init(bytes: Int, records capacity: Int) {
            storage = .allocate(byteCount: bytes, alignment: 64)
            recordCapacity = max(capacity, 1)
            // Records start a line: a streamed batch writes each (64 bytes) as a whole line.
            records = UnsafeMutableRawPointer.allocate(byteCount: recordCapacity * MemoryLayout<Record>.stride, alignment: 64)
                .bindMemory(to: Record.self, capacity: recordCapacity)
        }

        deinit {
            storage.deallocate()
            // Records are plain values: nothing to deinitialize. Freed as
            // raw memory, which does not assume the type's own alignment
            // (they were allocated 64-byte aligned).
            UnsafeMutableRawPointer(records).deallocate()
        }

        var isFull: Bool { recordCount >= recordCapacity }

        func reset() {
            holdsRecord = false
            used = 0
            inPlaceBytes = 0
            lastRecordBytes = UnsafeRawBufferPointer(start: nil, count: 0)
            recordCount = 0
            ending = nil
            quietArrival = nil
        }

        /// Bytes of the packets recorded where the source read them
        /// (`appendInPlace`), counted against the batch's size all the same,
        /// so that a batch spans about as much of the file either way.
        @exclusivity(unchecked) var inPlaceBytes = 0

        /// Records are streamed to their lines (non-temporal stores), each
        /// one when the next comes (`heldRecord`): set for batches of
        /// packets read in place, whose records are all the reading thread
        /// writes. A batch's record lines were last read on the analysing
        /// thread's processor; stored the usual way, each was first fetched
        /// for ownership from there, and with that processor far away (a
        /// cache line round trip of 400 ns and more on this project's virtual
        /// machine) the reading thread's time on the 1 GB Ethernet capture
        /// doubled, to about 0.4 s, nearly all of it just after reading each
        /// packet (perf).
        @exclusivity(unchecked) var streamsRecords = false
        /// With `streamsRecords`, the last record (index `recordCount - 1`),
        /// not yet stored: held until the next one comes, so that a copy's
        /// time (`noteCopy`) goes into it here, not into a line being
        /// streamed to memory (read back at once, it would come from there).
        @exclusivity(unchecked) var heldRecord = Record(start: nil, count: 0, originalLength: 0, timestampNanoseconds: 0, note: nil)
        @exclusivity(unchecked) var holdsRecord = false

        /// Streams the held record to its line (with `streamsRecords`, before
        /// another is appended and before the batch is handed over).
        @inline(__always)
        func storeHeldRecord() {
            guard holdsRecord else { return }
            holdsRecord = false
            withUnsafeBytes(of: &heldRecord) { wirecheck_store_line_streaming(records + recordCount - 1, $0.baseAddress) }
        }

        /// Records a packet whose bytes stay valid where they are (read in
        /// place) without copying them; false when the batch is full.
        @inline(__always)
        func appendInPlace(_ packet: CapturedPacket, note: FrameNote?) -> Bool {
            guard recordCount < recordCapacity else { return false }
            lastRecordBytes = packet.bytes
            let record = Record(
                start: packet.bytes.baseAddress, count: packet.bytes.count, originalLength: packet.originalLength,
                timestampNanoseconds: packet.timestampNanoseconds, note: note)
            if streamsRecords {
                storeHeldRecord()
                heldRecord = record
                holdsRecord = true
            } else {
                (records + recordCount).initialize(to: record)
            }
            recordCount += 1
            inPlaceBytes += packet.bytes.count
            return true
        }

        /// Copies a packet in; false when it does not fit (the batch is handed over first).
        @inline(__always)
        func append(_ packet: CapturedPacket, note: FrameNote?) -> Bool {
            let count = packet.bytes.count
            guard recordCount < recordCapacity else { return false }
            storeHeldRecord()
            // Streamed, a packet takes whole lines.
            let size = streams ? wirecheck_streamed_size(count) : count
            if size > storage.count - used {
                // A packet larger than an empty batch gets a batch of its size.
                guard used == 0, recordCount == 0 else { return false }
                storage.deallocate()
                storage = .allocate(byteCount: size, alignment: 64)
            }
            if count > 0, let source = packet.bytes.baseAddress, let target = storage.baseAddress {
                if streams {
                    wirecheck_copy_streaming(target + used, source, count)
                } else {
                    (target + used).copyMemory(from: source, byteCount: count)
                }
                lastRecordBytes = UnsafeRawBufferPointer(start: target + used, count: count)
            } else {
                lastRecordBytes = UnsafeRawBufferPointer(start: nil, count: 0)
            }
            var record = Record(start: storage.baseAddress.map { UnsafeRawPointer($0 + used) }, count: count, originalLength: packet.originalLength,
                                timestampNanoseconds: packet.timestampNanoseconds, note: note)
            // A record is plain bytes (no references), so writing them initializes it.
            if streams, MemoryLayout<Record>.stride == 64 {
                withUnsafeBytes(of: &record) { wirecheck_store_line_streaming(records + recordCount, $0.baseAddress) }
            } else {
                (records + recordCount).initialize(to: record)
            }
            recordCount += 1
            used += size
            return true
        }

        /// The last packet copied in (set by `append`, read by the reading
        /// thread for the packet after it; empty in an empty batch).
        @exclusivity(unchecked) var lastRecordBytes = UnsafeRawBufferPointer(start: nil, count: 0)

        /// Notes a copy of the last packet in its note instead of storing
        /// it; false if the last packet has no note, or one copy noted already.
        @inline(__always)
        func noteCopy(timestampNanoseconds: Int64) -> Bool {
            guard timestampNanoseconds != FrameNote.noCopy, recordCount > 0 else { return false }
            if holdsRecord {
                guard let note = heldRecord.note, !note.hasCopy else { return false }
                heldRecord.note?.copyTimestampNanoseconds = timestampNanoseconds
                return true
            }
            guard let note = records[recordCount - 1].note, !note.hasCopy else { return false }
            records[recordCount - 1].note?.copyTimestampNanoseconds = timestampNanoseconds
            return true
        }
    }

    private let source: PacketSource
    private let note: (@Sendable (CapturedPacket, _ previous: UnsafeRawBufferPointer?) -> FrameNote?)?
    private let notesCopies: Bool
    private let batchBytes: Int
    private let batchRecords: Int
    private let streamsPackets: Bool
    /// Only the reading thread touches these.
    private var chooser: CopyModeChooser
    private var unfilledBatches: Int

    private var mutex = pthread_mutex_t()
    private var changed = pthread_cond_t()
    /// Guarded by `mutex`.
    private var filled: [Batch] = []
    private var free: [Batch] = []
    private var stopping = false
    /// Set by `finishEarly()`: the reading thread publishes what it has read
    /// (the packet it read last included) and ends, with `readingEnded`.
    private var finishingEarly = false
    private var readingEnded = false
    private var thread = pthread_t()
    private var running = false
    /// The reading thread writes `-w`'s file as it reads (`PacketSource.next()`).
    private let writesAhead: Bool

    /// The consumer's batch and its position; only the consumer touches them
    /// (so, per packet, without dynamic exclusivity checks).
    @exclusivity(unchecked) private var current: Batch?
    /// `current`'s records and record count, read per packet without
    /// going through the batch object (`current` keeps them alive; a
    /// published batch is not changed until it is recycled).
    @exclusivity(unchecked) @usableFromInline var currentRecords: UnsafeMutablePointer<Batch.Record>?
    @exclusivity(unchecked) @usableFromInline var currentCount = 0
    @exclusivity(unchecked) @usableFromInline var position = 0
    /// A stream's `.timeout`, as `next()` returned it last: when its data
    /// last arrived, if its writer was quiet (0 if not), and the time of the
    /// last packet handed over before it. For the consumer, which moves its
    /// clock by the quiet.
    public private(set) var quietArrival: Int64 = 0
    public private(set) var lastPacketTimestamp: Int64 = 0
    /// Whether `current`'s `.timeout` was returned already.
    @exclusivity(unchecked) private var quietTaken = false
    /// The source is a stream: each batch ends with a `.timeout`.
    private let followsWriter: Bool
    /// Whether `next()`'s `.end` came from `finishEarly()` rather than the
    /// source's end (a file read to its last packet before the request).
    /// For the consumer.
    public private(set) var endedEarly = false

    /// - Parameters:
    ///   - batchBytes: bytes of packets per batch (a larger packet gets a batch of its own size).
    ///   - batchCount: batches in circulation, the bound on memory.
    ///   - note: run on the reading thread for each packet, in order, before
    ///     it is copied; its result comes back as the packet's `note` (the
    ///     caller computes there what needs every byte, while they are in
    ///     that cache). `previous`: the packet just before, as copied into
    ///     the batch being filled, when it is there (nil after a packet that
    ///     was not copied, or at a batch's start): what a copy of it can be
    ///     compared with byte for byte.
    ///   - writesAhead: a source writing its packets (`-w`) is read ahead too,
    ///     its file written by the reading thread as it reads: for a caller
    ///     that reads to the end (no `-c` or `--duration`, which would stop
    ///     the analysis short of what was read and so written). Without it
    ///     such a source is not read ahead.
    ///   - notesCopies: a packet whose note says `repeatsPrevious` is then
    ///     not handed over when the packet before it is in the same batch
    ///     with a note that holds no copy yet: that note takes its time
    ///     (`copyTimestampNanoseconds`). Others are handed over as they are.
    ///   - streamsPackets: packets may be copied into the batches with
    ///     non-temporal stores (x86-64), each from a 64-byte line, batch by
    ///     batch where `CopyModeChooser` finds it cheaper. A batch's memory
    ///     was last read on the analysing thread's processor; written the
    ///     usual way, each line is first fetched from there for ownership,
    ///     and with that processor far away the reading thread's stores wait
    ///     on those fetches (in perf, its hottest instructions were then
    ///     stores just after the copy). Each packet's record, a line of its
    ///     own, is streamed with it: far apart, that took the reading thread
    ///     from 0.39 to 0.23 s on a 1 GB replay. `note` is then given no
    ///     previous packet (read back at once it would come from memory):
    ///     for notes that do not compare. A source read in place
    ///     (`PacketSource.readsInPlace`) has no packet copied: its records
    ///     alone may be streamed, chosen the same way whatever this says
    ///     (a note's previous packet is then the mapped one, not a copy).
    public init(
        source: PacketSource, batchBytes: Int = 1 << 20, batchRecords: Int = 4096, batchCount: Int = 6,
        note: (@Sendable (CapturedPacket, _ previous: UnsafeRawBufferPointer?) -> FrameNote?)? = nil, notesCopies: Bool = false,
        writesAhead: Bool = false, streamsPackets: Bool = false, chooser: CopyModeChooser = CopyModeChooser()
    ) {
        self.streamsPackets = streamsPackets
        self.chooser = chooser
        unfilledBatches = max(batchCount, 2)
        self.source = source
        followsWriter = source.isStream
        self.writesAhead = writesAhead
        self.note = note
        self.notesCopies = notesCopies
        self.batchBytes = max(batchBytes, 1)
        self.batchRecords = max(batchRecords, 1)
        pthread_mutex_init(&mutex, nil)
        pthread_cond_init(&changed, nil)
        free = (0..<max(batchCount, 2)).map { _ in Batch(bytes: self.batchBytes, records: self.batchRecords) }
        filled.reserveCapacity(free.count)
    }

    deinit {
        // The reading thread holds a reference while it reads, so it has
        // finished by now; the last reference may be dropped on that thread.
        if running {
            if pthread_equal(thread, pthread_self()) != 0 { pthread_detach(thread) } else { pthread_join(thread, nil) }
        }
        pthread_cond_destroy(&changed)
        pthread_mutex_destroy(&mutex)
    }

    /// The packets the consumer is about to read were written by the reading
    /// thread, on the other processor: each first read of one of their cache
    /// lines waited for it to come across. The decoder's loads of the headers
    /// and, above all, the TLS walker's loads of record headers scattered
    /// through a packet (a server's handshake flight) were among the
    /// analysing thread's largest waits in perf profiles. So each `next()` asks for the lines of the
    /// packet a few records ahead (of its first 2 KiB: a GRO'd super-frame
    /// of 64 KiB is mostly bulk that nobody reads).
    static let prefetchDistance = 3
    static let prefetchBytes = 2048

    @inline(__always)
    private func prefetch(record index: Int) {
        guard index < currentCount, let records = currentRecords else { return }
        let record = records[index]
        guard let start = record.start else { return }
        var line = 0
        while line < min(record.count, Self.prefetchBytes) {
            wirecheck_prefetch(start + line)
            line += 64
        }
    }

    /// The note of the packet `distance` packets (1 or more) after the one
    /// `next()` returned last, if it is in the batch at hand: for a caller
    /// that asks for memory it will need then. Only the consumer may call it.
    /// Inlinable, with the consumer's position and batch it reads: it was
    /// a call per packet from the analysing thread's loop in another module
    /// (25 instructions a packet, 14 fewer inlined).
    @inlinable @inline(__always)
    public func note(ahead distance: Int) -> FrameNote? {
        let index = position - 1 + distance
        guard distance > 0, index >= 0, index < currentCount, let records = currentRecords else { return nil }
        return records[index].note
    }

    /// Starts reading; false if no thread could be made (then read `source` directly).
    public func start() -> Bool {
        guard !running else { return true }
        // Reading ahead would write past where the analysis stops (`-c`),
        // unless the caller reads to the end.
        guard !source.isWriting || writesAhead else { return false }
        // The thread keeps the reader alive while it reads.
        guard let thread = startBackgroundThread(name: "wc-read", { self.readLoop() }) else { return false }
        self.thread = thread
        running = true
        return true
    }

    /// The next packet, or how reading ended (`.end`, `.failed`), as
    /// `PacketSource.next()`; for a stream, `.timeout` after each batch's
    /// packets (and `quietArrival`, when its reader then heard the writer
    /// quiet), per batch rather than per packet.
    public func next() -> ReadResult {
        while true {
            if position < currentCount, let records = currentRecords {
                let record = records[position]
                position += 1
                prefetch(record: position + Self.prefetchDistance)
                return .packet(CapturedPacket(
                    timestampNanoseconds: record.timestampNanoseconds,
                    originalLength: record.originalLength,
                    bytes: UnsafeRawBufferPointer(start: record.start, count: record.count),
                    note: record.note
                ))
            }
            if let ending = nextBatch() { return ending }
        }
    }

    /// Recycles the batch read to its end and takes the next one (waiting
    /// for it); how reading ended instead, when it has. Once per batch, kept
    /// out of `next()`, whose per-packet path it would otherwise weigh on.
    @inline(never)
    private func nextBatch() -> ReadResult? {
        if let batch = current {
            if let ending = batch.ending { return ending }
            // A stream's batch ends with a `.timeout`: the consumer's turn to
            // look after what a live loop does between packets, and, after
            // a quiet, to move its clock.
            if followsWriter, !quietTaken {
                quietTaken = true
                quietArrival = batch.quietArrival ?? 0
                return .timeout
            }
            currentRecords = nil
            currentCount = 0
            current = nil
            recycle(batch)
        }
        guard running else { return .end }
        pthread_mutex_lock(&mutex)
        while filled.isEmpty, !readingEnded { pthread_cond_wait(&changed, &mutex) }
        guard !filled.isEmpty else {
            // Ended early (`finishEarly()`), everything it read handed over.
            pthread_mutex_unlock(&mutex)
            endedEarly = true
            return .end
        }
        let batch = filled.removeFirst()
        pthread_mutex_unlock(&mutex)
        current = batch
        currentRecords = batch.records
        currentCount = batch.recordCount
        position = 0
        quietTaken = false
        // A stream's consumer wants it at a quiet, when every packet handed
        // over is analysed; kept per batch, not per packet.
        if batch.recordCount > 0 {
            let last = batch.records[batch.recordCount - 1]
            lastPacketTimestamp = last.note.map { $0.hasCopy ? $0.copyTimestampNanoseconds : last.timestampNanoseconds }
                ?? last.timestampNanoseconds
        }
        return nil
    }

    /// Asks the reading thread to stop reading, as `stop()`, but to hand
    /// over first every packet it has read: `next()` returns them, then
    /// `.end`. For a replay stopped by Ctrl-C: `-w`'s file, which that
    /// thread writes as it reads, then holds exactly the packets analysed.
    /// Only the consumer may call it; `stop()` after, as always.
    public func finishEarly() {
        guard running else { return }
        pthread_mutex_lock(&mutex)
        finishingEarly = true
        pthread_cond_broadcast(&changed)
        pthread_mutex_unlock(&mutex)
    }

    /// Stops the reading thread (after `-c`, a deadline or Ctrl-C) and waits for it.
    public func stop() {
        guard running else { return }
        pthread_mutex_lock(&mutex)
        stopping = true
        pthread_cond_broadcast(&changed)
        pthread_mutex_unlock(&mutex)
        // A stream's reader may be waiting for the rest of a record from a quiet writer.
        source.stopStream()
        pthread_join(thread, nil)
        running = false
    }

    private func recycle(_ batch: Batch) {
        batch.reset()
        pthread_mutex_lock(&mutex)
        free.append(batch)
        pthread_cond_broadcast(&changed)
        pthread_mutex_unlock(&mutex)
    }

    /// The reading thread: fills free batches until the file ends or `stop()`.
    /// One batch is filled per pass of the outer loop, so that the packet
    /// loop works on a constant batch and a source held without retaining
    /// them per packet (two retain/release pairs per packet before).
    private func readLoop() {
        // `self` holds the source for as long as this thread runs.
        let source = Unmanaged.passUnretained(self.source)
        // A packet that did not fit the last batch, and its note; its bytes
        // stay valid (in libpcap's buffer) until the next read, which comes
        // after it is copied.
        var carried: (packet: CapturedPacket, note: FrameNote?)?
        defer {
            pthread_mutex_lock(&mutex)
            readingEnded = true
            pthread_cond_broadcast(&changed)
            pthread_mutex_unlock(&mutex)
        }
        // A source reading its file in place: its packets' bytes are
        // recorded where they are, not copied (nor streamed, nor timed).
        let inPlace = source._withUnsafeGuaranteedRef { $0.readsInPlace }
        let followsWriter = self.followsWriter
        while let (batch, last) = takeFree(carrying: carried != nil) {
            // Read in place, only the records are written: streamed or not,
            // as chosen the same way (`CopyModeChooser`), by what a batch's
            // records cost the reading thread per byte of packets.
            let choosing = inPlace ? MemoryLayout<Batch.Record>.stride == 64 : streamsPackets
            batch.streams = streamsPackets && !inPlace && chooser.streamsNext
            batch.streamsRecords = inPlace && choosing && chooser.streamsNext
            let started = choosing ? Self.threadCPUNanoseconds() : 0
            // Whether the last packet read is the batch's last record.
            var previousStored = false
            // Whether a stream's batch goes on before it is full.
            var handedOnEarly = false
            if let (packet, note) = carried {
                // An empty batch takes any packet (and has none to count a copy in).
                previousStored = inPlace && source._withUnsafeGuaranteedRef({ $0.holdsInPlace(packet.bytes) })
                    ? batch.appendInPlace(packet, note: note) : batch.append(packet, note: note)
                carried = nil
            }
            if last {
                // Finishing early: the packet read last, handed over, and no more read.
                publish(batch)
                return
            }
            filling: while true {
                // Unwritten, reads skip the check for the file (7 instructions a packet).
                let result = writesAhead ? source._withUnsafeGuaranteedRef { $0.next() } : source._withUnsafeGuaranteedRef { $0.nextUnwritten() }
                switch result {
                case .packet(let packet):
                    // Computed once: a packet carried to the next batch keeps it.
                    let packetNote = note?(packet, previousStored && !batch.streams ? batch.lastRecordBytes : nil)
                    if notesCopies, let packetNote, packetNote.repeatsPrevious, batch.noteCopy(timestampNanoseconds: packet.timestampNanoseconds) {
                        previousStored = false
                        // `-i any`'s second capture often ends a burst.
                        if followsWriter, source._withUnsafeGuaranteedRef({ $0.streamWouldWait() }) {
                            handedOnEarly = true
                            break filling
                        }
                        continue
                    }
                    // Read in place, a packet stays valid: recorded, not copied
                    // (those libpcap reads after a record left to it are copied).
                    let stored = inPlace && source._withUnsafeGuaranteedRef({ $0.holdsInPlace(packet.bytes) })
                        ? batch.appendInPlace(packet, note: packetNote) : batch.append(packet, note: packetNote)
                    guard stored else {
                        carried = (packet, packetNote)
                        break filling
                    }
                    previousStored = true
                    if batch.isFull || batch.used + batch.inPlaceBytes >= batchBytes { break filling }
                    // A stream's packets go on when its writer has sent no more
                    // yet, to be analysed as they come, not when the batch is full.
                    if followsWriter, source._withUnsafeGuaranteedRef({ $0.streamWouldWait() }) {
                        handedOnEarly = true
                        break filling
                    }
                case .timeout:
                    // A stream's writer quiet (100 ms, between two records):
                    // the consumer hears of it after what was read.
                    batch.quietArrival = source._withUnsafeGuaranteedRef { $0.streamLastArrival }
                    handedOnEarly = true
                    break filling
                case .end, .failed:
                    batch.ending = result
                    publish(batch)
                    return
                }
            }
            // A batch's first filling also faults its pages in: not counted.
            // A stream's batch handed on part full says little of the copy's cost.
            if choosing, !handedOnEarly {
                if unfilledBatches > 0 {
                    unfilledBatches -= 1
                } else {
                    chooser.record(nanoseconds: Self.threadCPUNanoseconds() - started, bytes: batch.used + batch.inPlaceBytes)
                }
            }
            publish(batch)
        }
    }

    /// The calling thread's CPU time: what filling a batch cost it, however
    /// long it was preempted meanwhile.
    private static func threadCPUNanoseconds() -> Int {
        var time = timespec()
        guard clock_gettime(CLOCK_THREAD_CPUTIME_ID, &time) == 0 else { return 0 }
        return time.tv_sec &* 1_000_000_000 &+ time.tv_nsec
    }

    /// A free batch, or nil once stopping. Finishing early, nil too, unless
    /// `carrying` a packet already read: then a batch for it alone (`last`;
    /// the consumer, still reading, frees one).
    private func takeFree(carrying: Bool) -> (batch: Batch, last: Bool)? {
        pthread_mutex_lock(&mutex)
        defer { pthread_mutex_unlock(&mutex) }
        while free.isEmpty, !stopping, !(finishingEarly && !carrying) { pthread_cond_wait(&changed, &mutex) }
        if stopping || (finishingEarly && !carrying) { return nil }
        return (free.removeLast(), finishingEarly)
    }

    private func publish(_ batch: Batch) {
        batch.storeHeldRecord()
        // Streamed stores are weakly ordered: they land before the batch is handed over.
        if batch.streams || batch.streamsRecords { wirecheck_store_fence() }
        pthread_mutex_lock(&mutex)
        filled.append(batch)
        pthread_cond_broadcast(&changed)
        pthread_mutex_unlock(&mutex)
    }
}
