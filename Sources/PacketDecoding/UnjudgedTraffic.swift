/// What crossed the capture besides TCP, which wirecheck does not judge:
/// counted so that the summary says what it left aside rather than nothing,
/// and names the encrypted tunnels that node-to-node encryption (WireGuard or
/// IPsec, set up by the CNI) leaves on a node's uplink, where the pods' TCP
/// is no longer visible as flows. Told by the packets' structure, not ports.
public struct UnjudgedTraffic: Sendable, Equatable {
    public enum Kind: Int, CaseIterable, Sendable {
        case wireGuard, esp, quic, dns, memberlist, udpText, udp, otherIP

        /// JSON's name.
        public var key: String {
            switch self {
            case .wireGuard: return "wireguard"
            case .esp: return "esp"
            case .quic: return "quic"
            case .dns: return "dns"
            case .memberlist: return "memberlist"
            case .udpText: return "udp-text"
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
            case .quic: return "\(count) QUIC \(noun)"
            case .dns: return "\(count) DNS \(noun)"
            case .memberlist: return "\(count) memberlist gossip \(noun) (Alertmanager, Consul, Serf)"
            case .udpText: return "\(count) UDP \(noun) of printable text (syslog, statsd…)"
            case .udp: return "\(count) other UDP \(noun)"
            case .otherIP: return "\(count) \(noun) of other IP protocols (ICMP…)"
            }
        }

        /// WireGuard and ESP carry whole IP packets encrypted (ESP unless
        /// its security association chose NULL encryption, which the wire
        /// does not show).
        public var isEncryptedTunnel: Bool { self == .wireGuard || self == .esp }

        /// The payload is encrypted: the tunnels, and QUIC (TLS 1.3 inside;
        /// only its Initial packets, the ClientHello's, can be read by anyone).
        public var isEncrypted: Bool { isEncryptedTunnel || self == .quic }

        /// What the text summary says of it, if anything.
        public var remark: String? {
            switch self {
            case .wireGuard, .esp: return "encrypted tunnel"
            case .quic: return "encrypted"
            case .dns, .memberlist, .udpText: return "cleartext"
            case .udp, .otherIP: return nil
            }
        }
    }

    public struct Count: Sendable, Equatable {
        public var packets = 0
        /// Payload bytes on the wire (after the UDP header; after the IP header for other protocols).
        public var bytes = 0
        /// Distinct pairs of hosts, counted up to `UnjudgedTraffic.maximumPairs` in all.
        public var hostPairs = 0
    }

    /// A place cleartext UDP went to: what the summary lists, so that a
    /// log line in clear can be traced to its receiver.
    public struct CleartextDestination: Hashable, Sendable {
        public var kind: Kind
        public var destination: Endpoint
    }

    public private(set) var counts = [Count](repeating: Count(), count: Kind.allCases.count)
    /// Packets of the kinds named cleartext besides DNS (memberlist gossip,
    /// text) by destination, up to `maximumDestinations` destinations.
    public private(set) var cleartextDestinations: [CleartextDestination: Int] = [:]
    /// Packets to destinations beyond that bound.
    public private(set) var cleartextPacketsUnlisted = 0
    /// Destinations remembered (about 64 KB at most).
    public static let maximumDestinations = 1_024
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

    /// Cleartext UDP's destinations, most packets first (then by address).
    public var cleartextDestinationsRanked: [(destination: CleartextDestination, packets: Int)] {
        cleartextDestinations.map { (destination: $0.key, packets: $0.value) }.sorted {
            $0.packets != $1.packets ? $0.packets > $1.packets
                : $0.destination.destination != $1.destination.destination ? $0.destination.destination < $1.destination.destination
                : $0.destination.kind.rawValue < $1.destination.kind.rawValue
        }
    }

    public subscript(kind: Kind) -> Count { counts[kind.rawValue] }

    /// Counts `packet`, whose payload lies in `frame`.
    public mutating func add(_ packet: OtherTransportPacket, frame: UnsafeRawBufferPointer) {
        let payload = UnsafeRawBufferPointer(rebasing: frame[packet.payloadRange.clamped(to: 0..<frame.count)])
        let lower = min(packet.source, packet.destination), higher = max(packet.source, packet.destination)
        var kind = Self.kind(of: packet, payload: payload)
        if kind == .udp {
            // A full-size WireGuard data packet is padded only up to the
            // tunnel's MTU, so its length need not be 32 plus a multiple of
            // 16; a QUIC short header has no version to tell it by. Each is
            // taken as such between hosts already seen speaking it.
            if Self.isWireGuardData(payload, wireLength: packet.payloadWireLength, aligned: false),
               pairs.contains(Pair(kind: Kind.wireGuard.rawValue, lower: lower, higher: higher)) {
                kind = .wireGuard
            } else if Self.isQUICShortHeader(payload), pairs.contains(Pair(kind: Kind.quic.rawValue, lower: lower, higher: higher)) {
                kind = .quic
            }
        }
        counts[kind.rawValue].packets += 1
        counts[kind.rawValue].bytes += packet.payloadWireLength
        if kind == .memberlist || kind == .udpText {
            let key = CleartextDestination(kind: kind, destination: Endpoint(address: packet.destination, port: packet.destinationPort))
            if let seen = cleartextDestinations[key] {
                cleartextDestinations[key] = seen + 1
            } else if cleartextDestinations.count < Self.maximumDestinations {
                cleartextDestinations[key] = 1
            } else {
                cleartextPacketsUnlisted += 1
            }
        }
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
        case 17:
            if isWireGuard(payload, wireLength: packet.payloadWireLength) { return .wireGuard }
            if isQUICLongHeader(payload) { return .quic }
            if isDNS(payload) { return .dns }
            if isMemberlistGossip(payload, wireLength: packet.payloadWireLength) { return .memberlist }
            if isText(payload) { return .udpText }
            return .udp
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

    /// A QUIC long header (RFC 9000 §17.2, RFC 9369): header form bit set,
    /// a known version (1, 2, the drafts 0xff0000xx, Google's Q0xx and T0xx,
    /// or 0 for version negotiation, the one whose fixed bit may be clear), then connection
    /// IDs of at most 20 bytes each.
    static func isQUICLongHeader(_ payload: UnsafeRawBufferPointer) -> Bool {
        guard payload.count >= 7, payload[0] & 0x80 != 0 else { return false }
        let version = UInt32(payload[1]) << 24 | UInt32(payload[2]) << 16 | UInt32(payload[3]) << 8 | UInt32(payload[4])
        // Google's QUIC, Q046 and later, and its TLS versions (T0xx) share the long header.
        let google = (payload[1] == 0x51 || payload[1] == 0x54) && payload[2...4].allSatisfy { (0x30...0x39).contains($0) }
        guard version == 1 || version == 0x6B33_43CF || version & 0xFFFF_FF00 == 0xFF00_0000 || version == 0 || google else {
            return false
        }
        guard version == 0 || payload[0] & 0x40 != 0 else { return false }
        let destinationLength = Int(payload[5])
        guard destinationLength <= 20, payload.count > 6 + destinationLength else { return false }
        return Int(payload[6 + destinationLength]) <= 20
    }

    /// A QUIC short header's first byte: header form clear, fixed bit set.
    static func isQUICShortHeader(_ payload: UnsafeRawBufferPointer) -> Bool {
        payload.count >= 2 && payload[0] & 0xC0 == 0x40
    }

    /// A DNS message (RFC 1035 §4.1; mDNS and LLMNR share it): a query,
    /// notify or update opcode, the reserved Z bit clear, and questions (one
    /// as a rule; mDNS asks several at once) or, in a response without any
    /// (mDNS answers so), at least one answer. The first name is labels of at most 63 bytes, 255 in all
    /// (nothing comes before it, so no compression pointer can), then a type
    /// and a class: IN, CH, HS or ANY (mDNS sets the top bit). NetBIOS name
    /// service uses the same format with one 32-byte label of letters A-P:
    /// not DNS.
    static func isDNS(_ payload: UnsafeRawBufferPointer) -> Bool {
        guard payload.count >= 17 else { return false }
        let opcode = payload[2] >> 3 & 0x0F
        let response = payload[2] & 0x80 != 0
        let questions = UInt16(payload[4]) << 8 | UInt16(payload[5])
        let answers = UInt16(payload[6]) << 8 | UInt16(payload[7])
        guard opcode == 0 || opcode == 4 || opcode == 5, payload[3] & 0x40 == 0,
              (1...64).contains(questions) || questions == 0 && response && answers > 0 else { return false }
        var i = 12, nameLength = 0, labels = 0
        while true {
            guard i < payload.count else { return false }
            let label = Int(payload[i])
            i += 1
            if label == 0 { break }
            guard label <= 63 else { return false }
            nameLength += label + 1
            guard nameLength <= 255 else { return false }
            labels += 1
            i += label
        }
        guard i + 4 <= payload.count else { return false }
        if labels == 1, nameLength == 33, payload[13..<45].allSatisfy({ (0x41...0x50).contains($0) }) { return false }
        let dnsClass = (UInt16(payload[i + 2]) << 8 | UInt16(payload[i + 3])) & 0x7FFF
        return dnsClass == 1 || dnsClass == 3 || dnsClass == 4 || dnsClass == 255
    }

    /// HashiCorp memberlist's gossip in clear (memberlist's net.go), as
    /// Alertmanager's cluster (9094), Consul, Serf and Nomad send it without a
    /// gossip key: the members' names and addresses readable. Perhaps a label
    /// header (type 244, its length, the label), perhaps a CRC-32 (type 12,
    /// the checksum of the rest, checked when the whole datagram was captured
    /// and the rest has the structure below), then a message: a type byte and a MessagePack map whose first
    /// key is one of the fields its messages begin with (go-msgpack writes
    /// them in name order: ping's `Node`, ack's `Payload`, alive's `Addr`…),
    /// or a compound message (7, a count, each part's length) whose first part
    /// is one. With a gossip key a datagram is a version byte, a nonce and
    /// ciphertext: not recognised, other UDP.
    static func isMemberlistGossip(_ payload: UnsafeRawBufferPointer, wireLength: Int) -> Bool {
        var message = payload
        if message.count >= 2, message[0] == 244 {
            let end = 2 + Int(message[1])
            guard message.count > end else { return false }
            message = UnsafeRawBufferPointer(rebasing: message[end...])
        }
        let whole = payload.count == wireLength
        if message.count >= 8, message[0] == 12 {
            // The structure first: any UDP datagram may start with 12, and
            // the checksum reads every byte of it.
            let checked = UnsafeRawBufferPointer(rebasing: message[5...])
            guard isMemberlistMessage(checked, compound: true, whole: whole) else { return false }
            guard whole else { return true }
            let sum = UInt32(message[1]) << 24 | UInt32(message[2]) << 16 | UInt32(message[3]) << 8 | UInt32(message[4])
            return sum == crc32(checked)
        }
        return isMemberlistMessage(message, compound: true, whole: whole)
    }

    /// First keys of memberlist's messages' maps, in name order and (older
    /// encoders) in field order: ping, indirect ping, ack, nack, suspect,
    /// alive, dead, compress.
    private static let memberlistFirstKeys: [[UInt8]] = ["Addr", "Algo", "From", "Incarnation", "Nack", "Node", "Payload", "SeqNo"].map { Array($0.utf8) }

    private static func isMemberlistMessage(_ m: UnsafeRawBufferPointer, compound: Bool, whole: Bool) -> Bool {
        guard m.count >= 3 else { return false }
        switch m[0] {
        case 0, 1, 2, 3, 4, 5, 9, 11:
            var i: Int
            switch m[1] {
            case 0x81...0x8F: i = 2
            case 0xDE: i = 4
            default: return false
            }
            guard i < m.count, (0xA1...0xBF).contains(m[i]) else { return false }
            let keyLength = Int(m[i] & 0x1F)
            i += 1
            guard m.count >= i + keyLength else { return false }
            let key = UnsafeRawBufferPointer(rebasing: m[i..<(i + keyLength)])
            return memberlistFirstKeys.contains { key.elementsEqual($0) }
        case 7 where compound:
            let parts = Int(m[1])
            let start = 2 + 2 * parts
            guard parts > 0, m.count > start else { return false }
            var total = 0
            for part in 0..<parts { total += Int(m[2 + 2 * part]) << 8 | Int(m[3 + 2 * part]) }
            // Every byte belongs to a part (unless the capture cut the datagram).
            guard whole ? total == m.count - start : total >= m.count - start else { return false }
            let firstLength = Int(m[2]) << 8 | Int(m[3])
            let first = UnsafeRawBufferPointer(rebasing: m[start..<min(m.count, start + firstLength)])
            return isMemberlistMessage(first, compound: false, whole: whole)
        default:
            return false
        }
    }

    /// CRC-32 as zlib and Go's hash/crc32 compute it (IEEE, reflected).
    static func crc32(_ bytes: UnsafeRawBufferPointer) -> UInt32 {
        var crc: UInt32 = 0xFFFF_FFFF
        for byte in bytes {
            crc ^= UInt32(byte)
            for _ in 0..<8 { crc = crc & 1 != 0 ? crc >> 1 ^ 0xEDB8_8320 : crc >> 1 }
        }
        return ~crc
    }

    /// Text in clear, as syslog (RFC 5426), statsd and DogStatsD, and
    /// Graphite's plaintext protocol send it over UDP: the first 32 bytes (all
    /// of them in a shorter datagram, at least 16) printable ASCII, tab, CR or
    /// LF. Random bytes pass with odds of (98/256)^16, under 1 in 4 million,
    /// for the shortest; ciphertext's framing (DTLS, WireGuard) is not text.
    static func isText(_ payload: UnsafeRawBufferPointer) -> Bool {
        guard payload.count >= 16 else { return false }
        for byte in payload.prefix(32) where !((0x20...0x7E).contains(byte) || byte == 0x09 || byte == 0x0A || byte == 0x0D) {
            return false
        }
        return true
    }

    /// Transport data: type 4, three zero bytes, at least its 32 bytes of
    /// header and tag; `aligned`, the padded length too.
    static func isWireGuardData(_ payload: UnsafeRawBufferPointer, wireLength: Int, aligned: Bool) -> Bool {
        guard payload.count >= 4, payload[0] == 4, payload[1] == 0, payload[2] == 0, payload[3] == 0, wireLength >= 32 else { return false }
        return !aligned || (wireLength - 32) % 16 == 0
    }
}
