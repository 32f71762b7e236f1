/// The bytes a classifier holds while it decides (probe prefix,
/// resynchronisation window, post-break sample), and what they count against
/// the limit on all flows' windows together: the capacity asked for, not the
/// one the allocator gave.
///
/// An allocator may hand out a larger block than asked for, depending on what
/// was freed before (by this thread, or late by the reporting thread), so
/// counting `Array.capacity` made the windows' total, and so which flow gave
/// its window up at the limit, depend on the heap's history: the same frames
/// could give other reports (the pipeline fuzzer's second analyzer, fed the
/// same frames with its allocations interleaved, found it). What is asked for
/// depends on the bytes alone; the array's capacity is at least that.
@usableFromInline
struct WindowBuffer: Sendable {
    @usableFromInline private(set) var bytes: [UInt8] = []
    /// The capacity asked for since the buffer was last emptied, doubling as
    /// it grows (a window holds at most the resynchronisation limit and a
    /// segment, so this stays below twice that: 32 bits, which keep the
    /// classifier's size).
    @usableFromInline private(set) var reserved: Int32 = 0

    var count: Int { bytes.count }
    var isEmpty: Bool { bytes.isEmpty }
    subscript(index: Int) -> UInt8 { bytes[index] }

    /// Gives the bytes' storage back: holds nothing after (see `DirectionClassifier.releaseHeld`).
    @inline(__always)
    mutating func releaseHeld() {
        if bytes.capacity != 0 { bytes = [] }
    }

    mutating func append(contentsOf new: some Collection<UInt8>) {
        let needed = bytes.count + new.count
        // The array's own check too: a copy made of it (a state copied out)
        // leaves it shared, and a removal then reallocates it smaller.
        if needed > Int(reserved) || needed > bytes.capacity {
            let asked = max(needed, 2 * Int(reserved), 16)
            bytes.reserveCapacity(asked)
            reserved = Int32(clamping: asked)
        }
        bytes.append(contentsOf: new)
    }

    /// Holds `new` instead, in a block of its size.
    mutating func replace(with new: some Collection<UInt8>) {
        removeAll()
        append(contentsOf: new)
    }

    /// Empty, its block freed.
    mutating func removeAll() {
        bytes = []
        reserved = 0
    }

    /// Empty, its block kept (and counted) for what comes next.
    mutating func removeAllKeepingCapacity() {
        bytes.removeAll(keepingCapacity: true)
    }

    /// The first `count` bytes dropped; the block kept.
    mutating func removeFirst(_ count: Int) {
        bytes.removeFirst(count)
    }

    func withUnsafeBytes<Result>(_ body: (UnsafeRawBufferPointer) throws -> Result) rethrows -> Result {
        try bytes.withUnsafeBytes(body)
    }
}
