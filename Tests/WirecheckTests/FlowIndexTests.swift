import PacketDecoding
import Testing
@testable import FlowAnalysis

/// The flow index against a `Dictionary` model. The index stores only
/// hashes and asks the caller to confirm a slot, as the analyzer does with
/// the flow's addresses; here the hashes are chosen, so that whole runs of
/// keys share one hash (the caller's check must tell them apart), probe runs
/// wrap around the table's end and get shifted back on removal.
@Suite struct FlowIndexTests {
    /// A table with keys and their hashes, as the analyzer keeps flows.
    struct Harness {
        var index = FlowIndex()
        var keyOfSlot: [Int: Int] = [:]
        let hash: (Int) -> UInt32

        func slot(of key: Int) -> Int? {
            index.slot(hash: hash(key)) { keyOfSlot[$0] == key }
        }

        mutating func add(_ key: Int, slot: Int) {
            index.insert(hash: hash(key), slot: slot)
            keyOfSlot[slot] = key
        }

        mutating func remove(_ key: Int, slot: Int) {
            index.remove(hash: hash(key), slot: slot)
            keyOfSlot[slot] = nil
        }
    }

    /// Few distinct hashes (so equal hashes are common), or 32-bit hashes
    /// whose low bits, which place entries, collide.
    static func hashing(_ kind: Int) -> (Int) -> UInt32 {
        switch kind {
        case 0: { UInt32($0 % 7) }
        case 1: { UInt32(truncatingIfNeeded: $0 &* 0x9E37_79B9) & 0xFFFF_0007 }
        default: { FlowIndexTests.key($0).indexHash }
        }
    }

    static func key(_ n: Int) -> FlowKey {
        let client = Endpoint(address: IPAddress(ipv4: 0x0A00_0000 | UInt32(n % 7)), port: UInt16(30_000 + n))
        let server = Endpoint(address: IPAddress(ipv4: 0x0A01_0001), port: 443)
        return FlowKey(client, server, tunnel: Tunnel(kind: n % 5 == 0 ? .vxlan : .none, identifier: UInt32(n % 3)))
    }

    @Test(arguments: [1, 2, 3, 4], [0, 1, 2]) func matchesADictionary(seed: UInt64, hashing: Int) {
        var random = SplitMix(seed: seed)
        var table = Harness(hash: Self.hashing(hashing))
        var model: [Int: Int] = [:]  // key to slot
        var nextSlot = 0
        for _ in 0..<20_000 {
            let key = Int(random.next() % 60)
            switch random.next() % 3 {
            case 0 where model[key] == nil:
                table.add(key, slot: nextSlot)
                model[key] = nextSlot
                nextSlot += 1
            case 1:
                if let slot = model[key] { table.remove(key, slot: slot) }
                model[key] = nil
            default:
                break
            }
            #expect(table.index.count == model.count)
            #expect(table.slot(of: key) == model[key])
        }
        for key in 0..<60 { #expect(table.slot(of: key) == model[key]) }
    }

    @Test func growsAndStillFindsEverything() {
        var table = Harness(hash: { FlowIndexTests.key($0).indexHash })
        table.index = FlowIndex(minimumCapacity: 4)
        for n in 0..<5_000 { table.add(n, slot: n) }
        #expect(table.index.count == 5_000)
        for n in 0..<5_000 { #expect(table.slot(of: n) == n) }
        for n in stride(from: 0, to: 5_000, by: 2) { table.remove(n, slot: n) }
        #expect(table.index.count == 2_500)
        for n in 0..<5_000 { #expect(table.slot(of: n) == (n % 2 == 0 ? nil : n)) }
        #expect(table.slot(of: 9_999) == nil)
    }

    /// Removing a slot that is not there (or under another hash) changes nothing.
    @Test func removingAnAbsentEntryIsHarmless() {
        var table = Harness(hash: { UInt32($0 % 3) })
        for n in 0..<10 { table.add(n, slot: n) }
        table.index.remove(hash: 1, slot: 99)
        table.index.remove(hash: 2, slot: 1)  // slot 1 was added under hash 1
        #expect(table.index.count == 10)
        for n in 0..<10 { #expect(table.slot(of: n) == n) }
    }

    /// The key, and so its hash, is the same whichever way a packet travels.
    @Test func bothDirectionsShareAHash() {
        let a = Endpoint(address: IPAddress(ipv4: 0x0A00_0001), port: 51_000)
        let b = Endpoint(address: IPAddress(ipv4: 0x0A00_0002), port: 80)
        #expect(FlowKey(a, b, tunnel: Tunnel(kind: .none)).indexHash == FlowKey(b, a, tunnel: Tunnel(kind: .none)).indexHash)
        #expect(FlowKey(a, b, tunnel: Tunnel(kind: .none)) == FlowKey(b, a, tunnel: Tunnel(kind: .none)))
    }

    /// Endpoints and tunnels from small pools, so that equal addresses,
    /// ports, families and tunnels are common: an IPv4 address and an IPv6
    /// one with the same low bits, ports that decide an order alone.
    static let endpoints: [Endpoint] = {
        let addresses = [IPAddress(ipv4: 0x0A00_0001), IPAddress(ipv4: 0x0A00_0002), IPAddress(ipv6High: 0, low: 0x0A00_0001),
                         IPAddress(ipv6High: 0xFD00_0000_0000_0000, low: 0x0A00_0001), IPAddress(ipv6High: 0xFD00_0000_0000_0000, low: 2)]
        return addresses.flatMap { address in [80, 443, 51_000].map { Endpoint(address: address, port: UInt16($0)) } }
    }()
    static let tunnels = [Tunnel(kind: .none), Tunnel(kind: .vxlan, identifier: 1), Tunnel(kind: .vxlan, identifier: 2),
                          Tunnel(kind: .gtpU, identifier: 1), Tunnel(kind: .gtpU, identifier: 2), Tunnel(kind: .gre)]

    /// The key orders its endpoints as `Endpoint`'s `<` does (its own
    /// comparison is written out for speed), whichever way round it is given them.
    @Test func theKeyOrdersItsEndpointsAsEndpointsCompare() {
        for a in Self.endpoints {
            for b in Self.endpoints {
                let (low, high) = a < b ? (a, b) : (b, a)
                for key in [FlowKey(a, b, tunnel: .none), FlowKey(b, a, tunnel: .none)] {
                    #expect(key.lowAddressHigh == low.address.high && key.lowAddressLow == low.address.low && key.lowPort == low.port
                            && key.highAddressHigh == high.address.high && key.highAddressLow == high.address.low
                            && key.highPort == high.port && key.isIPv6 == low.address.isIPv6, "\(a) \(b)")
                }
            }
        }
    }

    /// `FlowKey.same`, which the analyzer asks per packet instead of
    /// building keys, says what comparing the two keys says: for every pair
    /// of views drawn from the pools (GTP-U's per-direction TEIDs included).
    /// A view's two endpoints are of one family, as one IP header's are
    /// (the key keeps one family flag, so it would take an IPv4 address and
    /// an IPv6 one with the same bits for one; `same` does not).
    @Test func sameAgreesWithComparingKeys() {
        var random = SplitMix(seed: 42)
        func pick<T>(_ pool: [T]) -> T { pool[Int(random.next() % UInt64(pool.count))] }
        let families = [Self.endpoints.filter { !$0.address.isIPv6 }, Self.endpoints.filter { $0.address.isIPv6 }]
        func pair() -> (Endpoint, Endpoint) {
            let family = pick(families)
            return (pick(family), pick(family))
        }
        var agreed = 0, same = 0
        for _ in 0..<200_000 {
            let (a, b) = pair(), t = pick(Self.tunnels)
            // Half the time the second view is the first, reversed or not, in a related tunnel.
            let related = random.next() % 2 == 0
            let (c, d) = related ? (random.next() % 2 == 0 ? (a, b) : (b, a)) : pair()
            let u = related && random.next() % 2 == 0 ? t : pick(Self.tunnels)
            let expected = FlowKey(a, b, tunnel: t) == FlowKey(c, d, tunnel: u)
            #expect(FlowKey.same(a, b, t, as: c, d, u) == expected, "\(a) \(b) \(t) against \(c) \(d) \(u)")
            agreed += 1
            if expected { same += 1 }
        }
        // Both answers were asked for often.
        #expect(same > 20_000 && agreed - same > 20_000, "\(same) of \(agreed)")
    }
}
