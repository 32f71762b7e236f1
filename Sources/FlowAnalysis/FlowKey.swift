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
}
