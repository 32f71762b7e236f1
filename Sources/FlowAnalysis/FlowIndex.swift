import CacheHints

/// Flow hash to flow-table slot: open addressing with linear probing over
/// 8-byte entries, each 32 bits of the key's hash and the slot.
///
/// The key itself is not stored: the caller confirms a candidate slot against
/// the flow that slot holds, whose addresses it reads for the packet anyway.
/// With the key inside, an entry took 56 bytes and the table for 65 536
/// flows 7 MiB, so nearly every lookup missed the cache (the profile's
/// largest single cost after copying packets); now that table is 1 MiB.
///
/// The hash comes from the seeded fold (`FlowKey.indexHash`), which a sender
/// cannot predict; the table stays at most half full, so probe runs stay
/// short. Removal shifts later entries of the run back instead of leaving
/// tombstones, so a table with heavy churn (short connections) never slows
/// down; the stored hash says where each entry's run starts, so neither
/// removal nor growth needs the keys.
struct FlowIndex {
    /// `hash << 32 | slot`; `empty` (slot `UInt32.max`) marks a free entry.
    private var entries: [UInt64]
    private var mask: Int
    private(set) var count = 0

    private static let empty = UInt64.max

    /// Slots must be below this (the flow table's size is capped to it).
    static let slotLimit = Int(UInt32.max)

    init(minimumCapacity: Int = 0) {
        let size = Self.tableSize(for: minimumCapacity)
        entries = [UInt64](repeating: Self.empty, count: size)
        mask = size - 1
    }

    /// A power of two at least twice `count`, and at least 16.
    private static func tableSize(for count: Int) -> Int {
        var size = 16
        while size < count * 2 { size *= 2 }
        return size
    }

    private static func entry(hash: UInt32, slot: Int) -> UInt64 {
        UInt64(hash) << 32 | UInt64(UInt32(truncatingIfNeeded: slot))
    }

    private static func hash(of entry: UInt64) -> UInt32 { UInt32(truncatingIfNeeded: entry >> 32) }

    private static func slot(of entry: UInt64) -> Int { Int(UInt32(truncatingIfNeeded: entry)) }

    /// Asks for the cache line where a lookup of `hash` starts (a hint).
    @inline(__always)
    func prefetch(hash: UInt32) {
        entries.withUnsafeBufferPointer { table in
            if let base = table.baseAddress { wirecheck_prefetch(base + (Int(hash) & mask)) }
        }
    }

    /// The slot whose hash is `hash` and which `matches` confirms, if any.
    func slot(hash: UInt32, where matches: (Int) -> Bool) -> Int? {
        let mask = self.mask
        return entries.withUnsafeBufferPointer { table in
            var position = Int(hash) & mask
            while true {
                let entry = table[position]
                if entry == Self.empty { return nil }
                if Self.hash(of: entry) == hash, matches(Self.slot(of: entry)) { return Self.slot(of: entry) }
                position = (position + 1) & mask
            }
        }
    }

    /// Adds `slot` under `hash`. The caller has checked that its key is not
    /// in the index (two entries for one key would both be found).
    mutating func insert(hash: UInt32, slot: Int) {
        precondition(slot >= 0 && slot < Self.slotLimit, "flow slot out of range")
        if (count + 1) * 2 > entries.count { grow() }
        let mask = self.mask
        entries.withUnsafeMutableBufferPointer { table in
            var position = Int(hash) & mask
            while table[position] != Self.empty { position = (position + 1) & mask }
            table[position] = Self.entry(hash: hash, slot: slot)
        }
        count += 1
    }

    /// Forgets `slot` (added under `hash`); entries after it in its probe run
    /// move back over the gap.
    mutating func remove(hash: UInt32, slot: Int) {
        let mask = self.mask
        let wanted = Self.entry(hash: hash, slot: slot)
        let found: Bool = entries.withUnsafeMutableBufferPointer { table in
            var hole = Int(hash) & mask
            while true {
                if table[hole] == Self.empty { return false }
                if table[hole] == wanted { break }
                hole = (hole + 1) & mask
            }
            var next = (hole + 1) & mask
            while table[next] != Self.empty {
                // The entry at `next` may fill the hole unless its home lies
                // after the hole (cyclically), where a lookup would stop short.
                let home = Int(Self.hash(of: table[next])) & mask
                if (next - home) & mask >= (next - hole) & mask {
                    table[hole] = table[next]
                    hole = next
                }
                next = (next + 1) & mask
            }
            table[hole] = Self.empty
            return true
        }
        if found { count -= 1 }
    }

    /// Makes room for `minimumCapacity` keys without growing.
    mutating func reserveCapacity(_ minimumCapacity: Int) {
        if Self.tableSize(for: minimumCapacity) > entries.count { rehash(into: Self.tableSize(for: minimumCapacity)) }
    }

    private mutating func grow() { rehash(into: entries.count * 2) }

    private mutating func rehash(into size: Int) {
        let old = entries
        entries = [UInt64](repeating: Self.empty, count: size)
        mask = size - 1
        count = 0
        for entry in old where entry != Self.empty { insert(hash: Self.hash(of: entry), slot: Self.slot(of: entry)) }
    }
}
