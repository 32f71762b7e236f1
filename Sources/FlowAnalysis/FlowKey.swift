import PacketDecoding

/// Identifies a connection whichever way a packet travels: the two endpoints
/// in a fixed order, plus the tunnel they were carried in. Fixed size, no
/// references, cheap to hash.
struct FlowKey: Hashable, Sendable {
    var lowAddressHigh: UInt64
    var lowAddressLow: UInt64
    var highAddressHigh: UInt64
    var highAddressLow: UInt64
    var lowPort: UInt16
    var highPort: UInt16
    var isIPv6: Bool
    var tunnelKind: UInt8
    var tunnelIdentifier: UInt32

    @inline(__always)
    init(_ a: Endpoint, _ b: Endpoint, tunnel: Tunnel) {
        // `a < b` field by field, each compared once: through `Endpoint`'s
        // `<`, the addresses were compared for equality and then again for
        // order (every packet pays it, on the reading thread).
        let aFirst: Bool
        if a.address.isIPv6 != b.address.isIPv6 {
            aFirst = !a.address.isIPv6
        } else if a.address.high != b.address.high {
            aFirst = a.address.high < b.address.high
        } else if a.address.low != b.address.low {
            aFirst = a.address.low < b.address.low
        } else {
            aFirst = a.port < b.port
        }
        let (low, high) = aFirst ? (a, b) : (b, a)
        lowAddressHigh = low.address.high
        lowAddressLow = low.address.low
        highAddressHigh = high.address.high
        highAddressLow = high.address.low
        lowPort = low.port
        highPort = high.port
        isIPv6 = low.address.isIPv6
        tunnelKind = tunnel.kind.rawValue
        // GTP-U tunnels have one TEID per direction: the two halves of a
        // connection must still meet, so the TEID is not part of the key.
        tunnelIdentifier = tunnel.kind == .gtpU ? 0 : tunnel.identifier
    }

    /// Chosen at start: without it, keys that fold to the same word could be
    /// computed in advance and sent as a flood that lands in one bucket.
    static let seed = UInt64.random(in: .min ... .max)

    /// The fields folded into one word with a seeded multiply-xorshift: the
    /// source of the flow index's hash (`indexHash`), and `Hashable`'s. Not
    /// knowing the seed, a sender can make keys fold alike only by flipping a
    /// word's top bit and cancelling it in the next word, which limits such a
    /// family to a few dozen keys: the table cannot be pushed into long probe
    /// chains.
    @inline(__always)
    func fold() -> UInt64 {
        let k: UInt64 = 0x9E37_79B9_7F4A_7C15
        var h = Self.seed
        h = (h ^ lowAddressLow) &* k
        h = (h ^ h >> 29 ^ highAddressLow) &* k
        h = (h ^ h >> 29 ^ lowAddressHigh) &* k
        h = (h ^ h >> 29 ^ highAddressHigh) &* k
        h = (h ^ h >> 29 ^ (UInt64(lowPort) | UInt64(highPort) << 16 | UInt64(tunnelIdentifier) << 32)) &* k
        h = (h ^ h >> 29 ^ (UInt64(tunnelKind) | (isIPv6 ? 0x100 : 0))) &* k
        return h
    }

    /// The 32 bits `FlowIndex` stores and places entries by.
    @inline(__always)
    var indexHash: UInt32 {
        let folded = fold()
        return UInt32(truncatingIfNeeded: folded ^ folded >> 32)
    }

    func hash(into hasher: inout Hasher) {
        hasher.combine(fold())
    }

    /// Whether `FlowKey(a, b, tunnel: t) == FlowKey(c, d, tunnel: u)`, said
    /// from the endpoints without building either key (two keys built and
    /// compared per packet cost about 80 instructions). The same endpoints
    /// either way round, in the same tunnel (a GTP-U one's TEID aside: one
    /// per direction).
    @inline(__always)
    static func same(_ a: Endpoint, _ b: Endpoint, _ t: Tunnel, as c: Endpoint, _ d: Endpoint, _ u: Tunnel) -> Bool {
        guard t.kind == u.kind, t.kind == .gtpU || t.identifier == u.identifier else { return false }
        return (a == c && b == d) || (a == d && b == c)
    }
}
