import CMallocStatistics
@testable import FlowAnalysis
import PacketDecoding
import StreamReassembly
import Testing
#if canImport(Glibc)
import Glibc
#endif

/// The flow table's storage: states put in, changed and ended where they
/// lie, the storage growing, and copies of the table not sharing states.
@Suite struct FlowTableTests {
    static func state(_ n: Int) -> FlowState {
        FlowState(client: Endpoint(address: IPAddress(ipv4: 0x0A00_0000 | UInt32(n)), port: UInt16(1_000 + n % 50_000)),
                  server: Endpoint(address: IPAddress(ipv4: 0x0A01_0001), port: 443), tunnel: Tunnel(kind: .none),
                  firstSeen: Int64(n), lastSeen: Int64(n))
    }

    static func client(_ table: FlowTable, _ slot: Int) -> UInt16? { table.stateForReading(at: slot)?.pointee.client.port }

    /// Starts flow `n` as the analyser starts one: a blank state in `free`
    /// (else at the end), its endpoints and times set.
    @discardableResult
    static func start(_ n: Int, in table: inout FlowTable, reusing free: Int? = nil) -> Int {
        let (slot, state) = table.putBlank(reusing: free, activity: .vacant)
        let made = Self.state(n)
        state.pointee.client = made.client
        state.pointee.server = made.server
        state.pointee.tunnel = made.tunnel
        state.pointee.firstSeen = made.firstSeen
        state.pointee.lastSeen = made.lastSeen
        return slot
    }

    @Test func statesStayWhereTheyArePutAsTheTableGrows() {
        var table = FlowTable(reservingCapacity: 4)
        for n in 0..<100 { #expect(Self.start(n, in: &table) == n) }
        #expect(table.count == 100 && table.capacity >= 100)
        for n in 0..<100 { #expect(Self.client(table, n) == UInt16(1_000 + n)) }
        // Removed: the slot is empty, and removing it again does nothing.
        for slot in stride(from: 0, to: 100, by: 3) {
            table.state(at: slot)?.pointee.packets = 77
            table.remove(slot)
            #expect(!table.isOccupied(slot) && table.stateForReading(at: slot) == nil && table.state(at: slot) == nil)
            table.remove(slot)
            #expect(Self.client(table, slot + 1) == UInt16(1_001 + slot) || slot + 1 == 100)
        }
        // Started again in the empty slots; changed in place.
        // A restarted state is as new: nothing of the one before.
        for slot in stride(from: 0, to: 100, by: 3) {
            #expect(Self.start(500 + slot, in: &table, reusing: slot) == slot)
            #expect(table.stateForReading(at: slot)?.pointee.packets == 0)
        }
        for slot in 0..<100 { table.state(at: slot)?.pointee.packets = slot }
        for slot in 0..<100 {
            #expect(Self.client(table, slot) == UInt16(1_000 + (slot % 3 == 0 ? 500 + slot : slot)))
            #expect(table.stateForReading(at: slot)?.pointee.packets == slot)
        }
        #expect(table.count == 100 && !table.isOccupied(100) && !table.isOccupied(-1))
        // A slot that is not empty, or was never handed out, is not reused:
        // the state goes at the end, and the one there is left as it was.
        #expect(Self.start(900, in: &table, reusing: 1) == 100 && Self.client(table, 1) == 1_001)
        #expect(Self.start(901, in: &table, reusing: -1) == 101 && Self.start(902, in: &table, reusing: 500) == 102)
        #expect(Self.client(table, 100) == 1_900 && Self.client(table, 102) == 1_902 && table.count == 103)
    }

    /// A copy of the table (as of the analyser, a value) has its own states.
    /// A prefetch asks for an occupied slot's own state and for nothing
    /// else (emptied, never handed out, negative slots); it changes no state
    /// and shares none with a copy.
    @Test func prefetchingAnySlotChangesNothing() {
        var table = FlowTable(reservingCapacity: 4)
        for n in 0..<5 { Self.start(n, in: &table) }
        table.remove(3)
        let copy = table
        for slot in [0, 1, 2, 4] {
            #expect(table.prefetchStart(slot) == table.stateForReading(at: slot).map { UnsafeRawPointer($0) }, "slot \(slot)")
            #expect(table.prefetchStart(slot) != nil)
        }
        for slot in [-1, 3, 5, 1_000, Int.max] { #expect(table.prefetchStart(slot) == nil, "slot \(slot)") }
        for slot in [-1, 0, 3, 4, 5, 1_000, Int.max] { table.prefetch(slot) }
        for n in [0, 1, 2, 4] { #expect(Self.client(table, n) == UInt16(1_000 + n)) }
        #expect(!table.isOccupied(3) && table.count == 5)
        table.state(at: 0)?.pointee.packets = 9
        #expect(copy.stateForReading(at: 0)?.pointee.packets == 0)
    }

    /// Each slot's activity lives with its state: set when the state
    /// starts, kept as the storage grows, marked unoccupied when the state
    /// ends, its own in a copy of the table; vacant for a slot never handed out.
    @Test func activityStaysWithItsSlot() {
        var table = FlowTable(reservingCapacity: 2)
        for n in 0..<40 {
            let seen = SlotActivity(occupied: true, firstSeen: Int64(n), lastSeen: Int64(n), closedAt: nil, generation: UInt32(n))
            #expect(table.putBlank(reusing: nil, activity: seen).slot == n)
        }
        for n in 0..<40 { #expect(table.activity(n).generation == UInt32(n) && table.activity(n).occupied) }
        table.remove(7)
        #expect(!table.activity(7).occupied && table.activity(7).generation == 7)
        for slot in [-1, 40, Int.max] { #expect(!table.activity(slot).occupied && table.stateAndActivity(at: slot) == nil) }
        let copy = table
        table.stateAndActivity(at: 3)?.activity.pointee.lastSeen = 99
        table.stateAndActivity(at: 5)?.activity.pointee.closedAt = 5
        #expect(table.activity(3).lastSeen == 99 && copy.activity(3).lastSeen == 3)
        #expect(table.activity(5).closedAt == 5 && copy.activity(5).closedAt == nil)
        #expect(table.stateAndActivity(at: 7) == nil)
        let restarted = SlotActivity(occupied: true, firstSeen: 70, lastSeen: 70, closedAt: nil, generation: 700)
        #expect(table.putBlank(reusing: 7, activity: restarted).slot == 7 && table.activity(7).generation == 700)
    }

    @Test func aCopyDoesNotShareStates() {
        var original = FlowTable(reservingCapacity: 8)
        for n in 0..<6 { Self.start(n, in: &original) }
        var copy = original
        copy.state(at: 1)?.pointee.packets = 42
        copy.remove(2)
        Self.start(7, in: &copy)
        #expect(original.stateForReading(at: 1)?.pointee.packets == 0)
        #expect(original.isOccupied(2) && Self.client(original, 2) == 1_002)
        #expect(original.count == 6 && copy.count == 7)
        #expect(copy.stateForReading(at: 1)?.pointee.packets == 42 && !copy.isOccupied(2))
        original.state(at: 0)?.pointee.packets = 5
        #expect(copy.stateForReading(at: 0)?.pointee.packets == 0)
    }


    /// What a state holds besides itself (here its out-of-order bytes) is
    /// given back when the table goes, when a slot is emptied, and when a
    /// copy of the table goes: the storage ends states by hand, and a state
    /// it forgot would leak silently. Measured by glibc's count of heap bytes
    /// in use, in a process of its own, where no other test allocates meanwhile.
    @Test func statesGiveBackTheirMemory() async {
        #if canImport(Glibc)
        await #expect(processExitsWith: .success) {
            func inUse() -> Int { wirecheck_test_heap_bytes_in_use() }
            /// 512 flows, each holding 16 out-of-order segments of 4 KiB
            /// (below malloc's mmap threshold, so counted in `uordblks`).
            func filledTable(budget: inout ReassemblyBudget) -> FlowTable {
                var table = FlowTable(reservingCapacity: 512)
                let payload = [UInt8](repeating: 0x41, count: 4_096)
                payload.withUnsafeBytes { bytes in
                    for n in 0..<512 {
                        let slot = FlowTableTests.start(n, in: &table)
                        guard let state = table.state(at: slot) else { continue }
                        // The first byte starts the stream; the rest lie past a hole.
                        state.pointee.toServer.accept(sequence: 0, payload: UnsafeRawBufferPointer(rebasing: bytes[0..<1]),
                                                      missing: 0, fingerprint: nil, budget: &budget)
                        for k in 0..<16 {
                            state.pointee.toServer.accept(sequence: UInt32(100 + k * 8_192), payload: bytes,
                                                          missing: 0, fingerprint: nil, budget: &budget)
                        }
                    }
                }
                return table
            }
            let held = 512 * 16 * 4_096
            var budget = ReassemblyBudget(totalBytes: 1 << 30)
            let before = inUse()
            var table: FlowTable? = filledTable(budget: &budget)
            // The states do hold the bytes (else the rest proves nothing).
            guard inUse() - before >= held else { exit(2) }
            table = nil
            guard inUse() - before < held / 8 else { exit(3) }

            // Emptying slots gives back their states' bytes.
            table = filledTable(budget: &budget)
            for slot in 0..<512 { table?.remove(slot) }
            guard inUse() - before < held / 8 else { exit(4) }
            table = nil

            // A copy changed (so it has storage of its own, the states
            // copied into it), then both dropped.
            do {
                var original = filledTable(budget: &budget)
                var copy = original
                copy.state(at: 0)?.pointee.packets = 1
                original.state(at: 1)?.pointee.packets = 1
                guard original.stateForReading(at: 0)?.pointee.packets == 0,
                      copy.stateForReading(at: 1)?.pointee.packets == 0 else { exit(6) }
            }
            guard inUse() - before < held / 8 else { exit(5) }
            exit(0)
        }
        #endif
    }
}
