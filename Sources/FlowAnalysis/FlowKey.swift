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

    init(_ a: Endpoint, _ b: Endpoint, tunnel: Tunnel) {
        let (low, high) = a < b ? (a, b) : (b, a)
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

    /// Five whole words into the seeded hasher (the synthesised version fed
    /// nine fields of mixed widths, the largest cost of a table lookup).
    /// Every field still goes in; the tunnel kind and address family are
    /// folded into one address word, so at most 512 distinct keys can be
    /// made to collide by choosing them, never an unbounded number.
    func hash(into hasher: inout Hasher) {
        hasher.combine(lowAddressLow)
        hasher.combine(highAddressLow)
        hasher.combine(lowAddressHigh ^ UInt64(tunnelKind) << 56 ^ (isIPv6 ? 1 << 55 : 0))
        hasher.combine(highAddressHigh)
        hasher.combine(UInt64(lowPort) | UInt64(highPort) << 16 | UInt64(tunnelIdentifier) << 32)
    }
}
