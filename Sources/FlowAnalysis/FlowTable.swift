import CacheHints

/// The flow table's states, in one block of memory: a slot holds a state
/// only while a flow occupies it, and a state is reached through a pointer
/// to where it lies.
///
/// It replaces an array of optional states. Reaching into one of those went
/// through the array's accessor coroutine and outlined helpers that test the
/// optional's tag (up to six calls a packet), and a new flow's state was
/// copied on its way into its slot, through the optional (five copies a
/// connection, 440 instructions). Here a state is reached by a pointer,
/// started as a copy of a blank one where it will lie (`putBlank`), and
/// ended where it lies.
///
/// Copy on write, as the array was: the analyser is a value, and a copy of
/// it must not share its flows' states.
struct FlowTable: Sendable {
    private final class Storage: @unchecked Sendable {
        let base: UnsafeMutablePointer<FlowState>
        let capacity: Int
        /// Slots handed out so far (occupied or not): those below `count`.
        /// Unchecked: the table is a value, and only its owner reaches it
        /// (checked, each access was a call into the runtime).
        @exclusivity(unchecked) var count = 0
        /// One bit per slot: whether it holds a state (which must be
        /// deinitialized with the storage, and copied with it).
        let occupied: UnsafeMutablePointer<UInt64>
        let occupiedWords: Int
        /// A new flow's state as its initializer leaves it, but for the
        /// fields every flow sets (`FlowState.blank`): copied bit for bit
        /// into a slot to start a flow (see `putBlank`).
        let blank: UnsafeMutablePointer<FlowState>
        /// Each slot's activity (when its flow was seen, whether it closed),
        /// for every slot handed out, occupied or not: kept apart from the
        /// states, small and together, for the sweeps that read them all.
        let activity: UnsafeMutablePointer<SlotActivity>

        init(capacity: Int) {
            self.capacity = max(1, capacity)
            base = .allocate(capacity: self.capacity)
            occupiedWords = (self.capacity + 63) / 64
            occupied = .allocate(capacity: occupiedWords)
            occupied.initialize(repeating: 0, count: occupiedWords)
            blank = .allocate(capacity: 1)
            blank.initialize(to: .blank)
            activity = .allocate(capacity: self.capacity)
        }

        deinit {
            for slot in 0..<count where isOccupied(slot) { (base + slot).deinitialize(count: 1) }
            base.deallocate()
            occupied.deallocate()
            blank.deinitialize(count: 1)
            blank.deallocate()
            activity.deallocate()
        }

        @inline(__always)
        func isOccupied(_ slot: Int) -> Bool { occupied[slot >> 6] & (1 << UInt64(slot & 63)) != 0 }

        @inline(__always)
        func mark(_ slot: Int, occupied isOccupied: Bool) {
            if isOccupied { occupied[slot >> 6] |= 1 << UInt64(slot & 63) } else { occupied[slot >> 6] &= ~(1 << UInt64(slot & 63)) }
        }

        /// A storage of `capacity` slots holding what this one holds: states
        /// copied (`moving`: false) or moved bit for bit (true, for growth;
        /// Swift moves any value of these types by copying its bytes, and
        /// this storage then holds no state: it must not deinitialize them).
        func copy(capacity newCapacity: Int, moving: Bool) -> Storage {
            let new = Storage(capacity: max(newCapacity, count))
            new.count = count
            new.occupied.update(from: occupied, count: occupiedWords)
            new.activity.initialize(from: activity, count: count)
            if moving {
                UnsafeMutableRawPointer(new.base).copyMemory(from: base, byteCount: count * MemoryLayout<FlowState>.stride)
                occupied.update(repeating: 0, count: occupiedWords)
                count = 0
            } else {
                for slot in 0..<count where isOccupied(slot) { (new.base + slot).initialize(to: base[slot]) }
            }
            return new
        }
    }

    private var storage: Storage

    init(reservingCapacity capacity: Int) {
        storage = Storage(capacity: capacity)
    }

    /// Slots handed out so far (occupied or not); new slots are numbered from here.
    var count: Int { storage.count }
    /// Slots the storage has room for before it grows (and moves).
    var capacity: Int { storage.capacity }
    /// Where the storage begins (for `AnalyzerConfiguration.prepareMemory`).
    var baseAddress: UInt { UInt(bitPattern: storage.base) }
    static var stride: Int { MemoryLayout<FlowState>.stride }

    func isOccupied(_ slot: Int) -> Bool {
        slot >= 0 && slot < storage.count && storage.isOccupied(slot)
    }

    /// Makes the storage this table's own before a change.
    @inline(__always)
    private mutating func makeUnique() {
        if !isKnownUniquelyReferenced(&storage) { storage = storage.copy(capacity: storage.capacity, moving: false) }
    }

    /// The state in `slot`, to read or change where it lies; nil if the slot
    /// holds none. Valid until the table next changes (a state put in or
    /// ended, or the storage grown or copied).
    @inline(__always)
    mutating func state(at slot: Int) -> UnsafeMutablePointer<FlowState>? {
        guard isOccupied(slot) else { return nil }
        makeUnique()
        return storage.base + slot
    }

    /// The state in `slot` and its activity, to change where they lie
    /// (after one check that the storage is this table's own, where the
    /// activity kept in an array of its own took a second, a runtime call
    /// every packet); nil if the slot holds no state. Valid until the table
    /// next changes.
    @inline(__always)
    mutating func stateAndActivity(at slot: Int) -> (state: UnsafeMutablePointer<FlowState>, activity: UnsafeMutablePointer<SlotActivity>)? {
        guard isOccupied(slot) else { return nil }
        makeUnique()
        return (storage.base + slot, storage.activity + slot)
    }

    /// The activity noted for `slot`; a vacant one for a slot never handed out.
    @inline(__always)
    func activity(_ slot: Int) -> SlotActivity {
        guard slot >= 0, slot < storage.count else { return .vacant }
        return storage.activity[slot]
    }

    /// The state in `slot`, to read; nil if the slot holds none. Valid until the table next changes.
    @inline(__always)
    func stateForReading(at slot: Int) -> UnsafePointer<FlowState>? {
        guard isOccupied(slot) else { return nil }
        return UnsafePointer(storage.base + slot)
    }

    /// Where `prefetch` starts for `slot`: its state's first byte, nil when
    /// the slot holds none (nothing is asked for then).
    @inline(__always)
    func prefetchStart(_ slot: Int) -> UnsafeRawPointer? {
        guard isOccupied(slot) else { return nil }
        return UnsafeRawPointer(storage.base + slot)
    }

    /// Asks for every cache line of the state in `slot` (a hint: nothing
    /// happens if the slot is empty, and no result depends on it).
    @inline(__always)
    func prefetch(_ slot: Int) {
        guard let start = prefetchStart(slot) else { return }
        var offset = 0
        while offset < Self.stride {
            wirecheck_prefetch(start + offset)
            offset += 64
        }
    }

    /// Starts a state in `free`, if it is a slot handed out before and empty
    /// now, else in a new slot at the end (the storage doubles when full), as a bit
    /// for bit copy of `FlowState.blank`; returns the slot and where the
    /// state lies, for the caller to set the fields each flow sets (none of
    /// them counted references: setting them releases nothing).
    ///
    /// One copy of a state that lies in cache, where building one, even by
    /// a closure where it would lie, took the compiler's four part-copies
    /// through the stack and the initializers of every field (starting a
    /// flow took 795 instructions, 440 now). Sound because the blank state
    /// holds no counted reference (its lists are empty, its optionals nil;
    /// `BlankFlowStateTests` checks it): a copy shares nothing with it.
    @inline(__always)
    mutating func putBlank(reusing free: Int?, activity: SlotActivity) -> (slot: Int, state: UnsafeMutablePointer<FlowState>) {
        makeUnique()
        let slot: Int
        if let free, free >= 0, free < storage.count, !storage.isOccupied(free) {
            slot = free
        } else {
            if storage.count == storage.capacity { storage = storage.copy(capacity: storage.capacity * 2, moving: true) }
            slot = storage.count
            storage.count += 1
        }
        let state = storage.base + slot
        UnsafeMutableRawPointer(state).copyMemory(from: storage.blank, byteCount: MemoryLayout<FlowState>.size)
        (storage.activity + slot).initialize(to: activity)
        storage.mark(slot, occupied: true)
        return (slot, state)
    }

    /// Ends the state in `slot` where it lies, leaving the slot empty (and
    /// its activity unoccupied).
    ///
    /// Not destroyed: its lists, strings and objects let go
    /// (`FlowState.releaseHeld`, which looks at each and releases only one
    /// that holds something), it holds no counted reference, so its bytes
    /// are left where they are, as a slot never used, for `putBlank` to
    /// copy over. Destroying it released all thirty, empty or nil for the
    /// most part: 625 instructions a flow, 156 now.
    mutating func remove(_ slot: Int) {
        guard isOccupied(slot) else { return }
        makeUnique()
        storage.mark(slot, occupied: false)
        storage.activity[slot].occupied = false
        storage.base[slot].releaseHeld()
    }
}
