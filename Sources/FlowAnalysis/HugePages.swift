#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#endif

/// Transparent huge pages for the flow table's storage.
///
/// The table holds every open flow's state inline (1.3 KB each; tens of
/// thousands of flows while closed ones wait out their linger), and each
/// packet touches a scattered entry: with 4 KiB pages, the first touch of
/// every page was a fault and its zeroing on the analysing thread (about 8 %
/// of its time on the 1 GB benchmark replay), and every access a likely TLB
/// miss. Most kernels leave huge pages to `madvise` (the default setting), so
/// the table asks for them; where they are off, the request changes nothing.
public enum HugePages {
    /// Size of a transparent huge page on x86-64 and arm64 (4 KiB base pages).
    static let size = 2 << 20

    /// Advises the whole 2 MiB-aligned part of `array`'s storage, including
    /// its reserved capacity. Called after each reallocation (growth moves the
    /// storage); a storage smaller than two huge pages is left alone.
    static func advise<Element>(_ array: inout [Element]) {
        let bytes = array.capacity * MemoryLayout<Element>.stride
        guard bytes >= 2 * size else { return }
        array.withUnsafeMutableBufferPointer { buffer in
            guard let base = buffer.baseAddress else { return }
            let start = (UInt(bitPattern: base) + UInt(size - 1)) & ~UInt(size - 1)
            let end = (UInt(bitPattern: base) + UInt(bytes)) & ~UInt(size - 1)
            guard end > start, let pointer = UnsafeMutableRawPointer(bitPattern: start) else { return }
            #if os(Linux)
            // Failure (huge pages disabled, an old kernel) only means small pages.
            _ = madvise(pointer, Int(end - start), MADV_HUGEPAGE)
            #endif
        }
    }

    /// Makes the pages of `length` bytes from `address` present and writable
    /// now (`MADV_POPULATE_WRITE`, Linux 5.14), without changing what they
    /// hold: called on another thread for the part of the flow table about to
    /// be used (see `AnalyzerConfiguration.prepareMemory`). False where the
    /// kernel cannot (older kernels, memory no longer mapped); the pages are
    /// then simply faulted in on first use, as without it.
    @discardableResult
    public static func populate(address: UInt, length: Int) -> Bool {
        let pageMask = UInt(4_096 - 1)
        let start = address & ~pageMask
        guard length > 0, let pointer = UnsafeMutableRawPointer(bitPattern: start) else { return false }
        #if os(Linux)
        let populateWrite: Int32 = 23  // MADV_POPULATE_WRITE; not in every libc's headers
        return madvise(pointer, Int(address - start) + length, populateWrite) == 0
        #else
        return false
        #endif
    }
}
