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
        writeOctet(v >> 24, to: out, at: &count)
        count += 1
        writeOctet((v >> 16) & 0xFF, to: out, at: &count)
        count += 1
        writeOctet((v >> 8) & 0xFF, to: out, at: &count)
        count += 1
        // Its dot lies past the count: overwritten by the colon, or ignored.
        writeOctet(v & 0xFF, to: out, at: &count)
        guard let port else { return count }
        out[count] = UInt8(ascii: ":")
        count += 1
        let value = Int(port)
        let digits = value >= 10_000 ? 5 : value >= 1_000 ? 4 : value >= 100 ? 3 : value >= 10 ? 2 : 1
        var rest = value
        for position in stride(from: count + digits - 1, through: count, by: -1) {
            out[position] = UInt8(48 + rest % 10)
            rest /= 10
        }
        return count + digits
    }

    /// One octet's digits and a dot after them, stored as one four-byte word
    /// from a table (a report line writes eight octets; digit-by-digit
    /// division was a tenth of formatting it). `count` moves past the digits.
    /// The word ends at byte 15 at most, inside the caller's 21.
    @inline(__always)
    private static func writeOctet(_ octet: UInt32, to out: UnsafeMutablePointer<UInt8>, at count: inout Int) {
        UnsafeMutableRawPointer(out + count).storeBytes(of: octetWithDot[Int(octet)], toByteOffset: 0, as: UInt32.self)
        count += octet >= 100 ? 3 : octet >= 10 ? 2 : 1
    }

    /// For each octet value, its decimal digits then "." as the bytes of a
    /// little-endian word (the first digit lowest).
    static let octetWithDot: [UInt32] = (0..<256).map { (value: Int) -> UInt32 in
        var word: UInt32 = 0
        for (index, byte) in (String(value) + ".").utf8.enumerated() { word |= UInt32(byte) << (8 * UInt32(index)) }
        return UInt32(littleEndian: word)
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

extension IPAddress {
    /// Parses the forms `description` writes and those people type:
    /// `10.1.2.3`, `fd00::1`, `::ffff:10.1.2.3` (RFC 4291 text, any case).
    /// nil for anything else, including a port or a zone (`%eth0`).
    public init?(parsing text: Substring) {
        if !text.contains(":") {
            guard let v4 = Self.parseIPv4(text) else { return nil }
            self.init(ipv4: v4)
            return
        }
        guard let groups = Self.parseIPv6(text) else { return nil }
        var high: UInt64 = 0, low: UInt64 = 0
        for i in 0..<4 { high = high << 16 | UInt64(groups[i]) }
        for i in 4..<8 { low = low << 16 | UInt64(groups[i]) }
        self.init(ipv6High: high, low: low)
    }

    /// Four decimal parts of 0-255, no leading zeros (which some tools read as octal).
    static func parseIPv4(_ text: Substring) -> UInt32? {
        let parts = text.split(separator: ".", omittingEmptySubsequences: false)
        guard parts.count == 4 else { return nil }
        var value: UInt32 = 0
        for part in parts {
            guard (1...3).contains(part.count), part.allSatisfy({ $0.isASCII && $0.isNumber }),
                  part.count == 1 || part.first != "0", let byte = UInt8(part) else { return nil }
            value = value << 8 | UInt32(byte)
        }
        return value
    }

    /// Eight 16-bit groups; `::` stands for one run of zero groups, and the
    /// last 32 bits may be written as a dotted quad.
    static func parseIPv6(_ text: Substring) -> [UInt16]? {
        let halves = text.split(separator: "::", maxSplits: 2, omittingEmptySubsequences: false)
        guard halves.count <= 2 else { return nil }
        func groups(_ part: Substring) -> [UInt16]? {
            guard !part.isEmpty else { return [] }
            var result: [UInt16] = []
            let fields = part.split(separator: ":", omittingEmptySubsequences: false)
            for (index, field) in fields.enumerated() {
                if index == fields.count - 1, field.contains(".") {
                    guard let v4 = parseIPv4(field) else { return nil }
                    result += [UInt16(v4 >> 16), UInt16(v4 & 0xFFFF)]
                } else {
                    guard (1...4).contains(field.count), field.allSatisfy(\.isHexDigit), let group = UInt16(field, radix: 16) else { return nil }
                    result.append(group)
                }
            }
            return result
        }
        guard let head = groups(halves[0]) else { return nil }
        if halves.count == 1 { return head.count == 8 ? head : nil }
        guard let tail = groups(halves[1]), head.count + tail.count <= 7 else { return nil }
        return head + [UInt16](repeating: 0, count: 8 - head.count - tail.count) + tail
    }
}

/// An address range written as a prefix (`10.244.0.0/16`, `fd00::/64`); one
/// address is a range of its full length. What a user names when a rule is
/// about a subnet (pods of a node, the nodes themselves) rather than a port.
public struct IPNetwork: Sendable, Equatable, CustomStringConvertible {
    /// The first address of the range (its bits past the prefix are zero).
    public let address: IPAddress
    /// 0-32 for IPv4, 0-128 for IPv6.
    public let prefixLength: Int

    /// Why a text is not a range, said so that the user can mend it.
    public enum ParseError: Error, Equatable, CustomStringConvertible {
        case notAnAddress(String)
        case badPrefixLength(String)
        /// Bits set past the prefix (`10.244.1.5/16`): tcpdump refuses it
        /// too, since the user may have meant the address or the range.
        case bitsPastPrefix(String, range: String)

        public var description: String {
            switch self {
            case .notAnAddress(let text): return "'\(text)' is not an IPv4 or IPv6 address"
            case .badPrefixLength(let text): return "'\(text)' has a prefix length out of range (0-32 for IPv4, 0-128 for IPv6)"
            case .bitsPastPrefix(let text, let range): return "'\(text)' has bits set past its prefix: the range is \(range)"
            }
        }
    }

    /// `ADDRESS` or `ADDRESS/LENGTH`.
    public init(parsing text: Substring) throws(ParseError) {
        let parts = text.split(separator: "/", maxSplits: 1, omittingEmptySubsequences: false)
        guard let address = IPAddress(parsing: parts[0]) else { throw .notAnAddress(String(text)) }
        let bits = address.isIPv6 ? 128 : 32
        var length = bits
        if parts.count == 2 {
            guard (1...3).contains(parts[1].count), parts[1].allSatisfy({ $0.isASCII && $0.isNumber }),
                  let given = Int(parts[1]), given <= bits else { throw .badPrefixLength(String(text)) }
            length = given
        }
        let masked = Self.masked(address, prefixLength: length)
        guard masked == address else {
            throw .bitsPastPrefix(String(text), range: "\(masked)/\(length)")
        }
        self.address = address
        self.prefixLength = length
    }

    /// Whether the range holds this address: never one of the other family,
    /// since masking keeps the family and addresses compare it.
    public func contains(_ other: IPAddress) -> Bool {
        Self.masked(other, prefixLength: prefixLength) == address
    }

    /// `10.244.0.0/16`; one address as itself.
    public var description: String {
        prefixLength == (address.isIPv6 ? 128 : 32) ? address.description : "\(address)/\(prefixLength)"
    }

    /// The address with its bits past the prefix cleared.
    static func masked(_ address: IPAddress, prefixLength: Int) -> IPAddress {
        func mask(keeping bits: Int, of width: Int) -> UInt64 {
            // Shifts of the full width or more give zero (Swift's smart shift).
            let all: UInt64 = width == 64 ? ~0 : (1 << UInt64(width)) - 1
            return bits <= 0 ? 0 : (all << UInt64(width - min(bits, width))) & all
        }
        if !address.isIPv6 {
            return IPAddress(ipv4: UInt32(truncatingIfNeeded: address.low & mask(keeping: prefixLength, of: 32)))
        }
        return IPAddress(ipv6High: address.high & mask(keeping: prefixLength, of: 64),
                         low: address.low & mask(keeping: prefixLength - 64, of: 64))
    }
}
