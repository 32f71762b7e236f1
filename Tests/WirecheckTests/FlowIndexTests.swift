import PacketDecoding
import Testing
@testable import FlowAnalysis

/// The flow index against a `Dictionary` model: random inserts, moves,
/// removals and lookups over a small key pool, so probe runs collide, wrap
/// around the table's end and get shifted back on removal.
@Suite struct FlowIndexTests {
    static func key(_ n: Int) -> FlowKey {
        let client = Endpoint(address: IPAddress(ipv4: 0x0A00_0000 | UInt32(n % 7)), port: UInt16(30_000 + n))
        let server = Endpoint(address: IPAddress(ipv4: 0x0A01_0001), port: 443)
        return FlowKey(client, server, tunnel: Tunnel(kind: n % 5 == 0 ? .vxlan : .none, identifier: UInt32(n % 3)))
    }

    @Test(arguments: [1, 2, 3, 4]) func matchesADictionary(seed: UInt64) {
        var random = SplitMix(seed: seed)
        var index = FlowIndex()
        var model: [FlowKey: Int] = [:]
        let pool = (0..<60).map(Self.key)
        for step in 0..<20_000 {
            let key = pool[Int(random.next() % UInt64(pool.count))]
            switch random.next() % 3 {
            case 0:
                index.insert(key, slot: step)
                model[key] = step
            case 1:
                index.remove(key)
                model[key] = nil
            default:
                break
            }
            #expect(index.count == model.count)
            #expect(index[key] == model[key])
        }
        for key in pool { #expect(index[key] == model[key]) }
    }

    @Test func growsAndStillFindsEverything() {
        var index = FlowIndex(minimumCapacity: 4)
        for n in 0..<5_000 { index.insert(Self.key(n), slot: n) }
        #expect(index.count == 5_000)
        for n in 0..<5_000 { #expect(index[Self.key(n)] == n) }
        for n in stride(from: 0, to: 5_000, by: 2) { index.remove(Self.key(n)) }
        #expect(index.count == 2_500)
        for n in 0..<5_000 { #expect(index[Self.key(n)] == (n % 2 == 0 ? nil : n)) }
        #expect(index[Self.key(9_999)] == nil)
    }

    /// The key is the same whichever way a packet travels.
    @Test func bothDirectionsShareAnEntry() {
        let a = Endpoint(address: IPAddress(ipv4: 0x0A00_0001), port: 51_000)
        let b = Endpoint(address: IPAddress(ipv4: 0x0A00_0002), port: 80)
        var index = FlowIndex()
        index.insert(FlowKey(a, b, tunnel: Tunnel(kind: .none)), slot: 7)
        #expect(index[FlowKey(b, a, tunnel: Tunnel(kind: .none))] == 7)
    }
}
