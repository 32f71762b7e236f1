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
        box.body()
        return nil
    }, context)
    if status != 0 {
        Unmanaged<Box>.fromOpaque(context).release()
        return nil
    }
    return thread
}
