/// What crossed the capture besides TCP, which wirecheck does not judge:
/// counted so that the summary says what it left aside rather than nothing,
/// and names the encrypted tunnels that node-to-node encryption (WireGuard or
/// IPsec, set up by the CNI) leaves on a node's uplink, where the pods' TCP
/// is no longer visible as flows. Told by the packets' structure, not ports.
public struct UnjudgedTraffic: Sendable, Equatable {
    public enum Kind: Int, CaseIterable, Sendable {
        case wireGuard, esp, udp, otherIP

        /// JSON's name.
        public var key: String {
            switch self {
            case .wireGuard: return "wireguard"
            case .esp: return "esp"
            case .udp: return "udp"
            case .otherIP: return "other-ip"
            }
        }

        /// "5 WireGuard packets", "1 packet of other IP protocols (ICMP…)".
        public func packets(_ count: Int) -> String {
            let noun = count == 1 ? "packet" : "packets"
            switch self {
            case .wireGuard: return "\(count) WireGuard \(noun)"
            case .esp: return "\(count) IPsec ESP \(noun)"
            case .udp: return "\(count) other UDP \(noun)"
            case .otherIP: return "\(count) \(noun) of other IP protocols (ICMP…)"
            }
        }

        /// WireGuard and ESP carry their payload encrypted (ESP unless its
        /// security association chose NULL encryption, which the wire does not show).
        public var isEncryptedTunnel: Bool { self == .wireGuard || self == .esp }
    }

    public struct Count: Sendable, Equatable {
        public var packets = 0
        /// Payload bytes on the wire (after the UDP header; after the IP header for other protocols).
        public var bytes = 0
        /// Distinct pairs of hosts, counted up to `UnjudgedTraffic.maximumPairs` in all.
        public var hostPairs = 0
    }

    public private(set) var counts = [Count](repeating: Count(), count: Kind.allCases.count)
    /// More host pairs were seen than are remembered: `hostPairs` are lower bounds.
    public private(set) var hostPairsCapped = false
    private var pairs = Set<Pair>()

    /// Host pairs remembered, all kinds together (about 200 KB at most).
    public static let maximumPairs = 4_096

    private struct Pair: Hashable {
        var kind: Int
        var lower: IPAddress
        var higher: IPAddress
    }

    public init() {}

    public var isEmpty: Bool { counts.allSatisfy { $0.packets == 0 } }

    public subscript(kind: Kind) -> Count { counts[kind.rawValue] }

    /// Counts `packet`, whose payload lies in `frame`.
    public mutating func add(_ packet: OtherTransportPacket, frame: UnsafeRawBufferPointer) {
        let payload = UnsafeRawBufferPointer(rebasing: frame[packet.payloadRange.clamped(to: 0..<frame.count)])
        let lower = min(packet.source, packet.destination), higher = max(packet.source, packet.destination)
        var kind = Self.kind(of: packet, payload: payload)
        // A full-size WireGuard data packet is padded only up to the tunnel's
        // MTU, so its length need not be 32 plus a multiple of 16: taken as
        // WireGuard between hosts already seen speaking it.
        if kind == .udp, Self.isWireGuardData(payload, wireLength: packet.payloadWireLength, aligned: false),
           pairs.contains(Pair(kind: Kind.wireGuard.rawValue, lower: lower, higher: higher)) {
            kind = .wireGuard
        }
        counts[kind.rawValue].packets += 1
        counts[kind.rawValue].bytes += packet.payloadWireLength
        let pair = Pair(kind: kind.rawValue, lower: lower, higher: higher)
        if pairs.contains(pair) { return }
        guard pairs.count < Self.maximumPairs else {
            hostPairsCapped = true
            return
        }
        pairs.insert(pair)
        counts[kind.rawValue].hostPairs += 1
    }

    static func kind(of packet: OtherTransportPacket, payload: UnsafeRawBufferPointer) -> Kind {
        switch packet.transportProtocol {
        case 17: return isWireGuard(payload, wireLength: packet.payloadWireLength) ? .wireGuard : .udp
        case 50: return .esp
        default: return .otherIP
        }
    }

    /// A WireGuard message (the protocol's paper, §5.4): a type byte 1-4,
    /// three reserved zero bytes, and the length each type has: handshake
    /// initiation 148 bytes, response 92, cookie reply 64, transport data 32
    /// plus the encrypted packet padded to 16 bytes (32 alone: a keepalive).
    static func isWireGuard(_ payload: UnsafeRawBufferPointer, wireLength: Int) -> Bool {
        guard payload.count >= 4, payload[1] == 0, payload[2] == 0, payload[3] == 0 else { return false }
        switch payload[0] {
        case 1: return wireLength == 148
        case 2: return wireLength == 92
        case 3: return wireLength == 64
        case 4: return isWireGuardData(payload, wireLength: wireLength, aligned: true)
        default: return false
        }
    }

    /// Transport data: type 4, three zero bytes, at least its 32 bytes of
    /// header and tag; `aligned`, the padded length too.
    static func isWireGuardData(_ payload: UnsafeRawBufferPointer, wireLength: Int, aligned: Bool) -> Bool {
        guard payload.count >= 4, payload[0] == 4, payload[1] == 0, payload[2] == 0, payload[3] == 0, wireLength >= 32 else { return false }
        return !aligned || (wireLength - 32) % 16 == 0
    }
}
