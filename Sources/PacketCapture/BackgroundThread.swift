import CPcap
#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#endif

/// Runs `body` on a new POSIX thread (joinable), named `name` (at most 15
/// bytes; what `top -H` shows). Returns nil if no thread could be made, so
/// callers can do the work inline instead. Not checked for
/// sendability: callers hand over only what they synchronise themselves.
///
/// Plain pthreads rather than Dispatch or Swift concurrency: the reading and
/// reporting loops block on condition variables by design and must own a thread.
///
/// The thread runs in Linux's SCHED_BATCH class (if the system allows it):
/// both users are a replay's helpers, woken hundreds of times a second by
/// the analysing thread, which binds the replay. As ordinary threads each
/// wake-up preempted the analysing thread on its own processor (perf's
/// scheduler events: 847 preemptions at the report hand-over in one replay
/// of the benchmark capture); a batch thread waits for a free processor or
/// the next tick instead.
public func startBackgroundThread(name: String, _ body: @escaping () -> Void) -> pthread_t? {
    final class Box {
        let name: String
        let body: () -> Void
        init(_ name: String, _ body: @escaping () -> Void) { self.name = name; self.body = body }
    }
    let context = Unmanaged.passRetained(Box(name, body)).toOpaque()
    var thread = pthread_t()
    let status = pthread_create(&thread, nil, { context in
        guard let context else { return nil }
        let box = Unmanaged<Box>.fromOpaque(context).takeRetainedValue()
        _ = wirecheck_name_this_thread(box.name)
        _ = wirecheck_batch_schedule_this_thread()
        box.body()
        return nil
    }, context)
    if status != 0 {
        Unmanaged<Box>.fromOpaque(context).release()
        return nil
    }
    return thread
}
