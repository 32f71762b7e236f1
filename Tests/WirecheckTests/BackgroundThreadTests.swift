#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#endif
import Foundation
import PacketCapture
import Testing

/// A replay's helper threads are named and scheduled as batch work, so that
/// waking them does not preempt the analysing thread.
@Suite struct BackgroundThreadTests {
    final class Seen: @unchecked Sendable {
        var policy: Int32 = -1
        var name = ""
    }

    @Test func aBackgroundThreadIsNamedAndBatchScheduled() throws {
        let seen = Seen()
        let thread = try #require(startBackgroundThread(name: "wc-test") {
            seen.policy = sched_getscheduler(0)
            seen.name = (try? String(contentsOfFile: "/proc/thread-self/comm", encoding: .utf8)) ?? ""
        })
        pthread_join(thread, nil)
        #expect(seen.name == "wc-test\n")
        // 3 is SCHED_BATCH (Linux), which Swift's Glibc module does not name.
        #expect(seen.policy == 3)
        // The thread that started it keeps its class.
        #expect(sched_getscheduler(0) == 0)
    }
}
