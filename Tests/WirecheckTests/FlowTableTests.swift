@testable import FlowAnalysis
import PacketDecoding
import Testing

/// The flow table's storage: states put in, changed and ended where they
/// lie, the storage growing, and copies of the table not sharing states.
@Suite struct FlowTableTests {
    static func state(_ n: Int) -> FlowState {
        FlowState(client: Endpoint(address: IPAddress(ipv4: 0x0A00_0000 | UInt32(n)), port: UInt16(1_000 + n % 50_000)),
                  server: Endpoint(address: IPAddress(ipv4: 0x0A01_0001), port: 443), tunnel: Tunnel(kind: .none),
                  firstSeen: Int64(n), lastSeen: Int64(n))
    }

    static func client(_ table: FlowTable, _ slot: Int) -> UInt16? { table.stateForReading(at: slot)?.pointee.client.port }

    @Test func statesStayWhereTheyArePutAsTheTableGrows() {
        var table = FlowTable(reservingCapacity: 4)
        for n in 0..<100 { #expect(table.append { Self.state(n) } == n) }
        #expect(table.count == 100 && table.capacity >= 100)
        for n in 0..<100 { #expect(Self.client(table, n) == UInt16(1_000 + n)) }
        // Removed: the slot is empty, and removing it again does nothing.
        for slot in stride(from: 0, to: 100, by: 3) {
            table.remove(slot)
            #expect(!table.isOccupied(slot) && table.stateForReading(at: slot) == nil && table.state(at: slot) == nil)
            table.remove(slot)
            #expect(Self.client(table, slot + 1) == UInt16(1_001 + slot) || slot + 1 == 100)
        }
        // Put back into the empty slots only; changed in place.
        for slot in 0..<100 {
            let empty = slot % 3 == 0
            #expect(table.put(at: slot) { Self.state(500 + slot) } == empty)
            table.state(at: slot)?.pointee.packets = slot
        }
        #expect(!table.put(at: 100) { Self.state(0) } && !table.put(at: -1) { Self.state(0) })
        for slot in 0..<100 {
            #expect(Self.client(table, slot) == UInt16(1_000 + (slot % 3 == 0 ? 500 + slot : slot)))
            #expect(table.stateForReading(at: slot)?.pointee.packets == slot)
        }
        #expect(table.count == 100 && !table.isOccupied(100) && !table.isOccupied(-1))
    }

    /// A copy of the table (as of the analyser, a value) has its own states.
    /// A prefetch asks for an occupied slot's own state and for nothing
    /// else (emptied, never handed out, negative slots); it changes no state
    /// and shares none with a copy.
    @Test func prefetchingAnySlotChangesNothing() {
        var table = FlowTable(reservingCapacity: 4)
        for n in 0..<5 { _ = table.append { Self.state(n) } }
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

    @Test func aCopyDoesNotShareStates() {
        var original = FlowTable(reservingCapacity: 8)
        for n in 0..<6 { _ = original.append { Self.state(n) } }
        var copy = original
        copy.state(at: 1)?.pointee.packets = 42
        copy.remove(2)
        _ = copy.append { Self.state(7) }
        #expect(original.stateForReading(at: 1)?.pointee.packets == 0)
        #expect(original.isOccupied(2) && Self.client(original, 2) == 1_002)
        #expect(original.count == 6 && copy.count == 7)
        #expect(copy.stateForReading(at: 1)?.pointee.packets == 42 && !copy.isOccupied(2))
        original.state(at: 0)?.pointee.packets = 5
        #expect(copy.stateForReading(at: 0)?.pointee.packets == 0)
    }
}
