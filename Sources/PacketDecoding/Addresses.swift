/// An IPv4 or IPv6 address held in a fixed 16 bytes, so flow keys never allocate.
/// IPv4 addresses live in the low 32 bits with `isIPv6 == false`.
public struct IPAddress: Hashable, Comparable, Sendable, CustomStringConvertible {
    public var high: UInt64
    public var low: UInt64
    public var isIPv6: Bool

    public init(ipv4: UInt32) {
        high = 0
        low = UInt64(ipv4)
        isIPv6 = false
    }

    public init(ipv6High high: UInt64, low: UInt64) {
        self.high = high
        self.low = low
        isIPv6 = true
    }

    public static func < (lhs: IPAddress, rhs: IPAddress) -> Bool {
        if lhs.isIPv6 != rhs.isIPv6 { return !lhs.isIPv6 }
        if lhs.high != rhs.high { return lhs.high < rhs.high }
        return lhs.low < rhs.low
    }

    /// Dotted quad for IPv4; RFC 5952 text (lower case, longest zero run as `::`) for IPv6.
    public var description: String {
        if !isIPv6 { return Self.dottedQuad(UInt32(truncatingIfNeeded: low), port: nil) }
        var groups = [UInt16](repeating: 0, count: 8)
        for i in 0..<4 {
            groups[i] = UInt16(truncatingIfNeeded: high >> (48 - 16 * UInt64(i)))
            groups[i + 4] = UInt16(truncatingIfNeeded: low >> (48 - 16 * UInt64(i)))
        }
        // Longest run of two or more zero groups becomes "::".
        var bestStart = -1, bestLength = 0, runStart = -1
        for i in 0...8 {
            if i < 8, groups[i] == 0 {
                if runStart < 0 { runStart = i }
            } else if runStart >= 0 {
                let length = i - runStart
                if length > bestLength, length >= 2 { bestStart = runStart; bestLength = length }
                runStart = -1
            }
        }
        func hex(_ range: Range<Int>) -> String {
            range.map { String(groups[$0], radix: 16) }.joined(separator: ":")
        }
        if bestStart < 0 { return hex(0..<8) }
        return hex(0..<bestStart) + "::" + hex((bestStart + bestLength)..<8)
    }
}

/// An address and TCP port.
public struct Endpoint: Hashable, Comparable, Sendable, CustomStringConvertible {
    public var address: IPAddress
    public var port: UInt16

    public init(address: IPAddress, port: UInt16) {
        self.address = address
        self.port = port
    }

    public static func < (lhs: Endpoint, rhs: Endpoint) -> Bool {
        lhs.address != rhs.address ? lhs.address < rhs.address : lhs.port < rhs.port
    }

    /// `10.0.0.1:80`, or `[fd00::1]:443` for IPv6.
    public var description: String {
        if !address.isIPv6 { return IPAddress.dottedQuad(UInt32(truncatingIfNeeded: address.low), port: port) }
        return "[\(address)]:\(port)"
    }
}

extension IPAddress {
    /// "a.b.c.d" or "a.b.c.d:port", written digit by digit into one
    /// allocation: every flow's report line names two endpoints, and string
    /// interpolation of five integers showed in profiles.
    static func dottedQuad(_ v: UInt32, port: UInt16?) -> String {
        String(unsafeUninitializedCapacity: maximumDottedQuadLength) { buffer in
            guard let base = buffer.baseAddress else { return 0 }
            return writeDottedQuad(v, port: port, to: base)
        }
    }

    /// "255.255.255.255:65535".
    static let maximumDottedQuadLength = 21

    /// Writes "a.b.c.d" or "a.b.c.d:port" at `out` (room for
    /// `maximumDottedQuadLength` bytes) and returns how many bytes it wrote.
    @usableFromInline
    static func writeDottedQuad(_ v: UInt32, port: UInt16?, to out: UnsafeMutablePointer<UInt8>) -> Int {
        var count = 0
        func put(_ value: Int) {
            if value >= 10_000 { out[count] = UInt8(48 + value / 10_000); count += 1 }
            if value >= 1_000 { out[count] = UInt8(48 + value / 1_000 % 10); count += 1 }
            if value >= 100 { out[count] = UInt8(48 + value / 100 % 10); count += 1 }
            if value >= 10 { out[count] = UInt8(48 + value / 10 % 10); count += 1 }
            out[count] = UInt8(48 + value % 10)
            count += 1
        }
        put(Int(v >> 24))
        out[count] = UInt8(ascii: ".")
        count += 1
        put(Int((v >> 16) & 0xFF))
        out[count] = UInt8(ascii: ".")
        count += 1
        put(Int((v >> 8) & 0xFF))
        out[count] = UInt8(ascii: ".")
        count += 1
        put(Int(v & 0xFF))
        if let port {
            out[count] = UInt8(ascii: ":")
            count += 1
            put(Int(port))
        }
        return count
    }
}

/// The overlay a packet was carried in, when it was decapsulated. Part of the
/// flow key: the same inner addresses in two virtual networks are two flows.
public struct Tunnel: Hashable, Sendable, CustomStringConvertible {
    public enum Kind: UInt8, Sendable {
        case none, vxlan, geneve, ipInIP, gre, gtpU, ayiya
    }

    public var kind: Kind
    /// VXLAN/Geneve VNI, GRE key or GTP-U TEID; 0 when the encapsulation has none.
    public var identifier: UInt32

    public init(kind: Kind, identifier: UInt32 = 0) {
        self.kind = kind
        self.identifier = identifier
    }

    public static let none = Tunnel(kind: .none)

    public var description: String {
        switch kind {
        case .none: return "none"
        case .vxlan: return "vxlan vni \(identifier)"
        case .geneve: return "geneve vni \(identifier)"
        case .ipInIP: return "ip-in-ip"
        case .gre: return identifier == 0 ? "gre" : "gre key \(identifier)"
        case .gtpU: return "gtp-u teid \(identifier)"
        case .ayiya: return "ayiya"
        }
    }
}
