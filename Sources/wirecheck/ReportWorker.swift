#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#endif
import CacheHints
import FlowAnalysis
import PacketCapture
import Reporting
import VerdictPolicy

/// Judges and reports finished flows on their own thread during a file replay.
///
/// Judging a flow and formatting its report is per-flow work, about a fifth
/// of a replay of short connections; the analysing thread hands observations
/// over in batches and goes on decoding and reassembling. Reports keep their
/// order (one consumer, first in, first out), and memory stays bounded: the
/// analysing thread waits when `maximumQueuedBatches` are pending. The worker is the
/// only writer of reports until `finish()` returns.
final class ReportWorker<R: Reporter>: @unchecked Sendable {
    static var batchSize: Int { 256 }
    static var maximumQueuedBatches: Int { 16 }

    private var mutex = pthread_mutex_t()
    private var changed = pthread_cond_t()
    /// Guarded by `mutex`.
    private var queued: [ObservationBatch] = []
    private var closed = false
    /// Memory the analysing thread will use soon, to be made present here
    /// (see `AnalyzerConfiguration.prepareMemory`). Guarded by `mutex`.
    private var memoryToPrepare: [(address: UInt, length: Int)] = []
    /// The batch being filled; only the analysing thread touches it.
    private var filling = ObservationBatch(capacity: batchSize)
    private let policy: PolicyOptions
    /// Owned by the worker thread while it runs (taken out into locals, so
    /// that each flow does not pay for dynamic exclusivity checks on the
    /// class's properties); read back after `finish()`.
    private var owned: (reporter: R, summary: RunSummary)?
    private var thread = pthread_t()

    init(reporter: R, summary: RunSummary, policy: PolicyOptions) {
        owned = (reporter, summary)
        self.policy = policy
        pthread_mutex_init(&mutex, nil)
        pthread_cond_init(&changed, nil)
    }

    deinit {
        pthread_cond_destroy(&changed)
        pthread_mutex_destroy(&mutex)
    }

    /// Starts the thread; false if it could not be created (the caller then reports inline).
    func start() -> Bool {
        guard let thread = startBackgroundThread(name: "wc-report", { self.run() }) else { return false }
        self.thread = thread
        return true
    }

    /// Called on the analysing thread for every finished flow.
    func submit(_ observation: consuming FlowObservation) {
        filling.append(observation)
        if filling.isFull { handOver() }
    }

    /// Hands over what is left, waits for every report to be written, and
    /// returns the run's summary and the reporter.
    func finish() -> (RunSummary, R) {
        handOver()
        pthread_mutex_lock(&mutex)
        closed = true
        pthread_cond_broadcast(&changed)
        pthread_mutex_unlock(&mutex)
        pthread_join(thread, nil)
        guard let (reporter, summary) = owned else { preconditionFailure("the report worker's state was not handed back") }
        return (summary, reporter)
    }

    /// Called on the analysing thread: asks the worker to make the range's
    /// pages present before that thread writes to them.
    func prepareMemory(address: UInt, length: Int) {
        pthread_mutex_lock(&mutex)
        memoryToPrepare.append((address, length))
        pthread_cond_broadcast(&changed)
        pthread_mutex_unlock(&mutex)
    }

    private func handOver() {
        guard !filling.isEmpty else { return }
        let batch = filling
        filling = ObservationBatch(capacity: Self.batchSize)
        pthread_mutex_lock(&mutex)
        while queued.count >= Self.maximumQueuedBatches { pthread_cond_wait(&changed, &mutex) }
        queued.append(batch)
        pthread_cond_broadcast(&changed)
        pthread_mutex_unlock(&mutex)
    }

    private func run() {
        guard var (reporter, summary) = owned.take() else { return }
        defer { owned = (reporter, summary) }
        while true {
            pthread_mutex_lock(&mutex)
            while queued.isEmpty, memoryToPrepare.isEmpty, !closed { pthread_cond_wait(&changed, &mutex) }
            if !memoryToPrepare.isEmpty {
                // First: the analysing thread is about to write there.
                let ranges = memoryToPrepare
                memoryToPrepare = []
                pthread_mutex_unlock(&mutex)
                for range in ranges { TableMemory.populate(address: range.address, length: range.length) }
                continue
            }
            if queued.isEmpty {
                pthread_mutex_unlock(&mutex)
                return
            }
            let batch = queued.removeFirst()
            pthread_cond_broadcast(&changed)
            pthread_mutex_unlock(&mutex)
            writeReports { output in
                while let observation = batch.takeNext() {
                    let report = VerdictPolicy.judge(observation, options: policy)
                    summary.add(report)
                    reporter.write(report, to: &output)
                }
            }
        }
    }
}

/// Observations handed from the analysing thread to the worker, moved in and
/// moved out, never copied: an array of them was copied element by element
/// to be taken apart in order (a retain and a release of every string and
/// list an observation holds). One thread fills a batch, then the other
/// empties it; never both at once.
final class ObservationBatch: @unchecked Sendable {
    private let storage: UnsafeMutablePointer<FlowObservation>
    private let capacity: Int
    private var count = 0
    /// Observations before this index have been taken.
    private var taken = 0

    init(capacity: Int) {
        self.capacity = max(1, capacity)
        storage = .allocate(capacity: self.capacity)
    }

    deinit {
        (storage + taken).deinitialize(count: count - taken)
        storage.deallocate()
    }

    var isEmpty: Bool { count == taken }
    var isFull: Bool { count == capacity }

    /// Moves `observation` in; the caller checks `isFull` first.
    func append(_ observation: consuming FlowObservation) {
        precondition(count < capacity, "observation batch overfilled")
        (storage + count).initialize(to: observation)
        count += 1
    }

    /// Moves the oldest observation not yet taken out, or nil.
    func takeNext() -> FlowObservation? {
        guard taken < count else { return nil }
        defer { taken += 1 }
        // The batch was written on the analysing thread's processor: moving
        // an observation out (about 700 bytes) first waited for its lines to
        // come across (half of this thread's memmove samples in perf). The
        // one two ahead is asked for now, while this one is judged.
        if taken + Self.prefetchDistance < count {
            let next = UnsafeRawPointer(storage + taken + Self.prefetchDistance)
            var line = 0
            while line < MemoryLayout<FlowObservation>.size {
                wirecheck_prefetch(next + line)
                line += 64
            }
        }
        return (storage + taken).move()
    }

    /// Observations ahead whose lines `takeNext()` asks for.
    static var prefetchDistance: Int { 2 }
}
