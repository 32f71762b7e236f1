#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#endif

/// Runs `body` on a new POSIX thread (joinable). Returns nil if no thread could
/// be made, so callers can do the work inline instead. Not checked for
/// sendability: callers hand over only what they synchronise themselves.
///
/// Plain pthreads rather than Dispatch or Swift concurrency: the reading and
/// reporting loops block on condition variables by design and must own a thread.
public func startBackgroundThread(_ body: @escaping () -> Void) -> pthread_t? {
    final class Box { let body: () -> Void; init(_ body: @escaping () -> Void) { self.body = body } }
    let context = Unmanaged.passRetained(Box(body)).toOpaque()
    var thread = pthread_t()
    let status = pthread_create(&thread, nil, { context in
        guard let context else { return nil }
        Unmanaged<Box>.fromOpaque(context).takeRetainedValue().body()
        return nil
    }, context)
    if status != 0 {
        Unmanaged<Box>.fromOpaque(context).release()
        return nil
    }
    return thread
}
