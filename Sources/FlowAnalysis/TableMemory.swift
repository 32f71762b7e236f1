#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#endif

/// Making the flow table's next memory present before the analysing thread
/// writes to it.
///
/// The table holds every open flow's state inline (1.2 KB each; tens of
/// thousands of flows while closed ones wait out their linger), so a busy
/// capture's table grows to tens of MiB of memory the kernel has never given
/// out. Faulted in on first write, each new page was a fault and its zeroing
/// on the analysing thread, the pipeline's critical path. `populate`, called
/// on another thread for the part about to be used, does that work there.
///
/// Transparent huge pages (`MADV_HUGEPAGE`), used earlier to the same end,
/// were dropped: on a virtual machine whose host reclaims the guest's free
/// 2 MiB blocks, each new huge page was a fresh fault on the host too, and
/// the same replay spent 0.15-0.2 s more CPU than with small pages.
public enum TableMemory {
    /// Makes the pages of `length` bytes from `address` present and writable
    /// now (`MADV_POPULATE_WRITE`, Linux 5.14), without changing what they
    /// hold. False where the kernel cannot (older kernels, memory no longer
    /// mapped); the pages are then faulted in on first use, as without it.
    @discardableResult
    public static func populate(address: UInt, length: Int) -> Bool {
        #if os(Linux)
        // madvise wants a page-aligned start; pages are 16 or 64 KiB on some arm64 kernels.
        let pageMask = UInt(max(4_096, sysconf(Int32(_SC_PAGESIZE)))) - 1
        let start = address & ~pageMask
        guard length > 0, let pointer = UnsafeMutableRawPointer(bitPattern: start) else { return false }
        let populateWrite: Int32 = 23  // MADV_POPULATE_WRITE; not in every libc's headers
        return madvise(pointer, Int(address - start) + length, populateWrite) == 0
        #else
        return false
        #endif
    }
}
