import PacketDecoding

/// Flow key to flow-table slot: open addressing with linear probing.
///
/// Replaces a `Dictionary<FlowKey, Int>`, which hashed every lookup's folded
/// key once more with SipHash (`Hasher`), about a tenth of a replay's time.
/// The seeded fold (`FlowKey.fold()`) already spreads keys a sender cannot
/// predict; the table stays at most half full, so probe runs stay short.
/// Removal shifts later entries of the run back instead of leaving
/// tombstones, so a table with heavy churn (short connections) never slows
/// down.
struct FlowIndex {
    private struct Entry {
        var key: FlowKey
        /// The flow's slot; negative when the entry is empty.
        var slot: Int
    }

    private var entries: [Entry]
    private var mask: Int
    private(set) var count = 0

    init(minimumCapacity: Int = 0) {
        let size = Self.tableSize(for: minimumCapacity)
        entries = Self.emptyEntries(size)
        mask = size - 1
    }

    /// A power of two at least twice `count`, and at least 16.
    private static func tableSize(for count: Int) -> Int {
        var size = 16
        while size < count * 2 { size *= 2 }
        return size
    }

    private static func emptyEntries(_ count: Int) -> [Entry] {
        let nowhere = Endpoint(address: IPAddress(ipv4: 0), port: 0)
        let empty = Entry(key: FlowKey(nowhere, nowhere, tunnel: Tunnel(kind: .none)), slot: -1)
        return [Entry](repeating: empty, count: count)
    }

    /// Where `key`'s probe run starts in a table of `mask + 1` entries.
    private static func home(_ key: FlowKey, mask: Int) -> Int {
        let folded = key.fold()
        return Int(truncatingIfNeeded: folded ^ folded >> 32) & mask
    }

    /// The slot of `key`'s flow, if it is tracked.
    subscript(key: FlowKey) -> Int? {
        let mask = self.mask
        return entries.withUnsafeBufferPointer { table in
            var position = Self.home(key, mask: mask)
            while true {
                let entry = table[position]
                if entry.slot < 0 { return nil }
                if entry.key == key { return entry.slot }
                position = (position + 1) & mask
            }
        }
    }

    /// Adds `key` (or moves it to `slot` if present).
    mutating func insert(_ key: FlowKey, slot: Int) {
        assert(slot >= 0, "flow slots are non-negative")
        if (count + 1) * 2 > entries.count { grow() }
        let mask = self.mask
        var position = Self.home(key, mask: mask)
        let added: Bool = entries.withUnsafeMutableBufferPointer { table in
            while true {
                if table[position].slot < 0 {
                    table[position] = Entry(key: key, slot: slot)
                    return true
                }
                if table[position].key == key {
                    table[position].slot = slot
                    return false
                }
                position = (position + 1) & mask
            }
        }
        if added { count += 1 }
    }

    /// Forgets `key`; entries after it in its probe run move back over the gap.
    mutating func remove(_ key: FlowKey) {
        let mask = self.mask
        var hole = Self.home(key, mask: mask)
        let found: Bool = entries.withUnsafeMutableBufferPointer { table in
            while true {
                if table[hole].slot < 0 { return false }
                if table[hole].key == key { break }
                hole = (hole + 1) & mask
            }
            var next = (hole + 1) & mask
            while table[next].slot >= 0 {
                // The entry at `next` may fill the hole unless its home lies
                // after the hole (cyclically), where a lookup would stop short.
                let wanted = Self.home(table[next].key, mask: mask)
                if (next - wanted) & mask >= (next - hole) & mask {
                    table[hole] = table[next]
                    hole = next
                }
                next = (next + 1) & mask
            }
            table[hole].slot = -1
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
        entries = Self.emptyEntries(size)
        mask = size - 1
        count = 0
        for entry in old where entry.slot >= 0 { insert(entry.key, slot: entry.slot) }
    }
}
