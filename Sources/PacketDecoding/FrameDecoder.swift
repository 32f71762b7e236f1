/// Data link types wirecheck decodes (libpcap DLT_ values).
public enum LinkType {
    public static let null: Int32 = 0
    public static let ethernet: Int32 = 1
    public static let raw: Int32 = 12
    public static let rawOpenBSD: Int32 = 14
    public static let rawLinktype: Int32 = 101
    public static let loop: Int32 = 108
    public static let linuxCooked: Int32 = 113
    public static let ipv4: Int32 = 228
    public static let ipv6: Int32 = 229
    public static let linuxCooked2: Int32 = 276
    public static let ppp: Int32 = 9
    public static let fddi: Int32 = 10
    public static let pppSerial: Int32 = 50
    public static let pppEther: Int32 = 51
    public static let ciscoHDLC: Int32 = 104
    public static let arcnetLinux: Int32 = 129
    public static let juniperEther: Int32 = 178
    public static let ipOverInfiniband: Int32 = 242

    public static let supported: Set<Int32> = [
        null, ethernet, raw, rawOpenBSD, rawLinktype, loop, linuxCooked, ipv4, ipv6, linuxCooked2,
        ppp, fddi, pppSerial, pppEther, ciscoHDLC, arcnetLinux, juniperEther, ipOverInfiniband,
    ]

    /// A name for messages.
    public static func name(_ type: Int32) -> String {
        switch type {
        case null: return "BSD loopback (NULL)"
        case ethernet: return "Ethernet"
        case raw, rawOpenBSD, rawLinktype: return "raw IP"
        case loop: return "OpenBSD loopback"
        case linuxCooked: return "Linux cooked v1"
        case linuxCooked2: return "Linux cooked v2"
        case ipv4: return "raw IPv4"
        case ipv6: return "raw IPv6"
        case ppp, pppSerial: return "PPP"
        case pppEther: return "PPPoE"
        case fddi: return "FDDI"
        case ciscoHDLC: return "Cisco HDLC"
        case arcnetLinux: return "Linux ARCNET"
        case juniperEther: return "Juniper Ethernet"
        case ipOverInfiniband: return "IP over InfiniBand"
        default: return "link type \(type)"
        }
    }
}

/// TCP header flags.
public struct TCPFlags: OptionSet, Sendable, Hashable {
    public var rawValue: UInt8
    @inlinable public init(rawValue: UInt8) { self.rawValue = rawValue }
    // Inlinable constants, not stored `static let`s: from another module each
    // of those was a call to a lazily initialised global, several per packet.
    @inlinable public static var fin: TCPFlags { TCPFlags(rawValue: 0x01) }
    @inlinable public static var syn: TCPFlags { TCPFlags(rawValue: 0x02) }
    @inlinable public static var rst: TCPFlags { TCPFlags(rawValue: 0x04) }
    @inlinable public static var psh: TCPFlags { TCPFlags(rawValue: 0x08) }
    @inlinable public static var ack: TCPFlags { TCPFlags(rawValue: 0x10) }
}

/// A decoded TCP segment: header fields plus where its payload lies in the
/// frame. It holds no pointer, so it stays valid after the frame is gone, but
/// `payloadRange` means something only for the frame it came from.
public struct TCPSegment: Sendable, Equatable {
    public var source: Endpoint
    public var destination: Endpoint
    public var sequence: UInt32
    public var acknowledgment: UInt32
    public var flags: TCPFlags
    public var window: UInt16
    /// Captured payload bytes, as offsets into the frame.
    public var payloadRange: Range<Int>
    /// Payload bytes that were on the wire but not captured (snapshot length):
    /// they follow `payloadRange` in sequence space.
    public var missingPayload: Int
    public var tunnel: Tunnel

    public init(
        source: Endpoint, destination: Endpoint, sequence: UInt32, acknowledgment: UInt32, flags: TCPFlags, window: UInt16,
        payloadRange: Range<Int>, missingPayload: Int, tunnel: Tunnel
    ) {
        self.source = source
        self.destination = destination
        self.sequence = sequence
        self.acknowledgment = acknowledgment
        self.flags = flags
        self.window = window
        self.payloadRange = payloadRange
        self.missingPayload = missingPayload
        self.tunnel = tunnel
    }
}

/// Why a frame yielded no TCP segment. Errors are data: the layer that failed
/// and the offset in the frame, never a string built per packet.
public enum DecodeFailure: Error, Sendable, Equatable {
    public enum Layer: String, Sendable {
        case link, vlan, ipv4, ipv6, ipv6Extension, tcp, udp, tunnel
    }

    /// The frame ended before a header did (snapshot length, or a cut file).
    case truncated(Layer, offset: Int)
    /// A header contradicts itself (bad version, length smaller than the header…).
    case malformed(Layer, offset: Int)
    /// A valid frame that carries no IP packet wirecheck reads (ARP, LLDP…).
    case notTCP
    /// An IP packet carrying something other than TCP (UDP, ESP, ICMP…):
    /// not judged, but counted, so the summary can say what it left aside.
    case otherTransport(OtherTransportPacket)
    /// An IP fragment: its TCP bytes cannot be judged without the others,
    /// so the fragment is described for a reassembler instead.
    case fragment(IPFragment)
    /// The capture's link type is not one wirecheck decodes.
    case unsupportedLinkType
}

/// An IP packet that is not TCP, as a view into its frame.
public struct OtherTransportPacket: Sendable, Equatable {
    public var source: IPAddress
    public var destination: IPAddress
    /// The IP protocol number (17 UDP, 50 ESP, 1 ICMP…).
    public var transportProtocol: UInt8
    /// UDP's ports; 0 for other protocols.
    public var sourcePort: UInt16
    public var destinationPort: UInt16
    /// The captured part of what follows the transport header (UDP's
    /// payload; for other protocols, everything after the IP header).
    public var payloadRange: Range<Int>
    /// That payload's length on the wire (the snapshot length may have cut it).
    public var payloadWireLength: Int
    public var tunnel: Tunnel

    public init(source: IPAddress, destination: IPAddress, transportProtocol: UInt8, sourcePort: UInt16, destinationPort: UInt16,
                payloadRange: Range<Int>, payloadWireLength: Int, tunnel: Tunnel) {
        self.source = source
        self.destination = destination
        self.transportProtocol = transportProtocol
        self.sourcePort = sourcePort
        self.destinationPort = destinationPort
        self.payloadRange = payloadRange
        self.payloadWireLength = payloadWireLength
        self.tunnel = tunnel
    }
}

/// One IPv4 or IPv6 fragment, as a view into its frame: enough for a
/// reassembler to put the datagram back together and decode what it carries.
public struct IPFragment: Sendable, Equatable {
    public var source: IPAddress
    public var destination: IPAddress
    /// The IP identification (16 bits in IPv4, 32 in IPv6's fragment header).
    public var identification: UInt32
    /// The protocol the reassembled datagram carries (6 = TCP, 17 = UDP…).
    public var transportProtocol: UInt8
    /// Where this fragment's data lies in the datagram, in bytes.
    public var fragmentOffset: Int
    /// False on the last fragment, which fixes the datagram's length.
    public var moreFragments: Bool
    /// Captured fragment data, as offsets into the frame.
    public var payloadRange: Range<Int>
    /// Fragment data on the wire but not captured (snapshot length).
    public var missingPayload: Int
    public var tunnel: Tunnel
}

/// Decodes frames of one link type down to TCP, through VLAN tags and
/// VXLAN, Geneve, GRE and IP-in-IP tunnels. Reads the frame in place.
/// IP and TCP checksums are ignored on purpose: captures taken on the sending
/// host carry offloaded, not-yet-computed checksums.
public struct FrameDecoder: Sendable {
    public let linkType: Int32
    /// How many encapsulations deep to follow before giving up (loops in hostile input).
    public static let maximumNesting = 4

    public init(linkType: Int32) {
        self.linkType = linkType
    }

    /// The usual frame alone (untagged IPv4 carrying TCP over Ethernet or
    /// Linux cooked v2, as `plainIPv4TCP` takes it); nil for any other, which
    /// `decode` then takes. The same segment `decode` gives, without its
    /// `Result`: building and handing back that large enum (a failure can
    /// describe a fragment or another transport) was most of `decode`'s 160
    /// instructions a packet, and both replay threads decode every packet.
    ///
    /// Inlinable: returned from a call, the segment was written field by
    /// field and read back in wider loads at once, which the processor
    /// cannot forward from the pending stores (perf: a third of the caller's
    /// own samples on the first of those loads).
    @inlinable @inline(__always)
    public func decodeCommon(_ frame: UnsafeRawBufferPointer, originalLength: Int? = nil) -> TCPSegment? {
        let offset: Int
        switch linkType {
        case LinkType.ethernet:
            guard frame.count >= 15, frame[12] == 0x08, frame[13] == 0x00 else { return nil }
            offset = 14
        case LinkType.linuxCooked2:
            guard frame.count >= 21, frame[0] == 0x08, frame[1] == 0x00 else { return nil }
            offset = 20
        default:
            return nil
        }
        guard frame[offset] >> 4 == 4 else { return nil }
        return plainIPv4TCP(FrameReader(frame, wireLength: originalLength), offset: offset)
    }

    /// `decodeCommon`, called: the reading thread's copy detector ran 6.7 M
    /// more instructions on 20 000 connections with it inlined.
    @inline(never)
    public func decodeCommonOutOfLine(_ frame: UnsafeRawBufferPointer, originalLength: Int? = nil) -> TCPSegment? {
        decodeCommon(frame, originalLength: originalLength)
    }

    /// Decodes one frame. `originalLength` is its length on the wire (pcap's
    /// `len`); when it exceeds the captured bytes the segment reports the
    /// payload it is missing rather than treating the lengths as malformed.
    public func decode(_ frame: UnsafeRawBufferPointer, originalLength: Int? = nil) -> Result<TCPSegment, DecodeFailure> {
        let reader = FrameReader(frame, wireLength: originalLength)
        switch linkType {
        case LinkType.ethernet:
            // The usual frame, untagged IPv4, goes straight to its header: the
            // general path hands the result back through three more layers
            // (the same checks, in the same order, decide).
            if reader.u16(12) == 0x0800, let first = reader.u8(14), first >> 4 == 4 {
                if let segment = plainIPv4TCP(reader, offset: 14) { return .success(segment) }
                return decodeIPv4(reader, offset: 14, tunnel: .none, depth: 0)
            }
            return decodeEthernet(reader, offset: 0, tunnel: .none, depth: 0)
        case LinkType.linuxCooked2:
            guard let proto = reader.u16(0), reader.has(20) else { return .failure(.truncated(.link, offset: 0)) }
            if proto == 0x0800, let first = reader.u8(20), first >> 4 == 4 {
                if let segment = plainIPv4TCP(reader, offset: 20) { return .success(segment) }
                return decodeIPv4(reader, offset: 20, tunnel: .none, depth: 0)
            }
            return decodeEtherType(proto, reader, offset: 20, tunnel: .none, depth: 0)
        case LinkType.linuxCooked:
            guard let proto = reader.u16(14), reader.has(16) else { return .failure(.truncated(.link, offset: 0)) }
            return decodeEtherType(proto, reader, offset: 16, tunnel: .none, depth: 0)
        case LinkType.raw, LinkType.rawOpenBSD, LinkType.rawLinktype, LinkType.ipv4, LinkType.ipv6:
            return decodeIP(reader, offset: 0, tunnel: .none, depth: 0)
        case LinkType.null, LinkType.loop:
            guard let family = reader.u32(0) else { return .failure(.truncated(.link, offset: 0)) }
            // NULL stores the family in the writer's byte order, LOOP in network order.
            // AF_INET is 2 everywhere; AF_INET6 is 10, 24, 28 or 30 depending on the
            // system. The field is in the writer's byte order, so try both.
            func isIPFamily(_ value: UInt32) -> Bool {
                value == 2 || value == 10 || value == 24 || value == 28 || value == 30
            }
            guard isIPFamily(family) || isIPFamily(family.byteSwapped) else { return .failure(.notTCP) }
            return decodeIP(reader, offset: 4, tunnel: .none, depth: 0)
        case LinkType.ppp, LinkType.pppSerial:
            return decodePPP(reader, offset: 0)
        case LinkType.pppEther:
            // A PPPoE session header (6 bytes), then the PPP protocol.
            return decodePPP(reader, offset: 6)
        case LinkType.ciscoHDLC:
            // Address, control, then an EtherType.
            guard let proto = reader.u16(2), reader.has(4) else { return .failure(.truncated(.link, offset: 0)) }
            return decodeEtherType(proto, reader, offset: 4, tunnel: .none, depth: 0)
        case LinkType.fddi:
            // Frame control and two addresses, then LLC/SNAP naming the EtherType.
            guard let dsap = reader.u8(13), let ssap = reader.u8(14), let proto = reader.u16(19), reader.has(21) else {
                return .failure(.truncated(.link, offset: 0))
            }
            guard dsap == 0xAA, ssap == 0xAA else { return .failure(.notTCP) }
            return decodeEtherType(proto, reader, offset: 21, tunnel: .none, depth: 0)
        case LinkType.arcnetLinux:
            // Source, destination, a 2-byte offset, the protocol; RFC 1201 framing
            // adds a split flag and a sequence number, RFC 1051's does not.
            guard let type = reader.u8(4) else { return .failure(.truncated(.link, offset: 0)) }
            switch type {
            case 240: return decodeIP(reader, offset: 5, tunnel: .none, depth: 0)       // IP, RFC 1051
            case 212, 0xC4: return decodeIP(reader, offset: 8, tunnel: .none, depth: 0) // IP, IPv6, RFC 1201
            default: return .failure(.notTCP)
            }
        case LinkType.ipOverInfiniband:
            // RFC 4391 as Linux captures it: a 40-byte pseudo-header, then EtherType and 2 reserved bytes.
            guard let proto = reader.u16(40), reader.has(44) else { return .failure(.truncated(.link, offset: 0)) }
            return decodeEtherType(proto, reader, offset: 44, tunnel: .none, depth: 0)
        case LinkType.juniperEther:
            // "MGC", flags; an extension block when flagged; then Ethernet, or IP when there is no L2 header.
            guard let magic = reader.u32(0) else { return .failure(.truncated(.link, offset: 0)) }
            guard magic >> 8 == 0x4D_4743 else { return .failure(.malformed(.link, offset: 0)) }
            let flags = UInt8(truncatingIfNeeded: magic)
            var header = 4
            if flags & 0x80 != 0 {
                guard let extensions = reader.u16(4) else { return .failure(.truncated(.link, offset: 0)) }
                header = 6 + Int(extensions)
            }
            if flags & 0x02 != 0 { return decodeIP(reader, offset: header, tunnel: .none, depth: 0) }
            return decodeEthernet(reader, offset: header, tunnel: .none, depth: 0)
        default:
            return .failure(.unsupportedLinkType)
        }
    }

    /// PPP: optional address and control bytes (0xFF 0x03), then a protocol
    /// number, one byte when compressed.
    private func decodePPP(_ reader: FrameReader, offset: Int) -> Result<TCPSegment, DecodeFailure> {
        var cursor = offset
        if reader.u8(cursor) == 0xFF {
            guard let control = reader.u8(cursor + 1) else { return .failure(.truncated(.link, offset: offset)) }
            if control == 0x03 { cursor += 2 }
        }
        guard let first = reader.u8(cursor) else { return .failure(.truncated(.link, offset: offset)) }
        var proto = UInt16(first)
        if first & 1 == 0 {
            guard let full = reader.u16(cursor) else { return .failure(.truncated(.link, offset: offset)) }
            proto = full
            cursor += 2
        } else {
            cursor += 1
        }
        guard proto == 0x21 || proto == 0x57 else { return .failure(.notTCP) }
        return decodeIP(reader, offset: cursor, tunnel: .none, depth: 0)
    }

    /// Decodes what a reassembled IP datagram carries. `datagram` is its
    /// captured data (from offset 0); `wireLength` the datagram's full length,
    /// more when the end of a fragment was not captured.
    public func decodeReassembled(_ datagram: UnsafeRawBufferPointer, wireLength: Int, from fragment: IPFragment) -> Result<TCPSegment, DecodeFailure> {
        let reader = FrameReader(datagram, wireLength: wireLength)
        return decodeTransport(
            fragment.transportProtocol, reader, offset: 0, end: reader.wireLength,
            source: fragment.source, destination: fragment.destination, tunnel: fragment.tunnel, depth: 1
        )
    }

    private func decodeEthernet(_ reader: FrameReader, offset: Int, tunnel: Tunnel, depth: Int) -> Result<TCPSegment, DecodeFailure> {
        guard let type = reader.u16(offset + 12), reader.has(offset + 14) else {
            return .failure(.truncated(.link, offset: offset))
        }
        if type <= 1_500 {
            // 802.3 length field: an LLC header follows; SNAP carries the EtherType.
            // A frame cut inside the LLC/SNAP header is truncated, not "not TCP".
            guard let dsap = reader.u8(offset + 14), let ssap = reader.u8(offset + 15), let control = reader.u8(offset + 16) else {
                return .failure(.truncated(.link, offset: offset))
            }
            guard dsap == 0xAA, ssap == 0xAA, control == 0x03 else { return .failure(.notTCP) }
            guard let snapType = reader.u16(offset + 20) else { return .failure(.truncated(.link, offset: offset)) }
            return decodeEtherType(snapType, reader, offset: offset + 22, tunnel: tunnel, depth: depth)
        }
        return decodeEtherType(type, reader, offset: offset + 14, tunnel: tunnel, depth: depth)
    }

    private func decodeEtherType(_ firstType: UInt16, _ reader: FrameReader, offset: Int, tunnel: Tunnel, depth: Int) -> Result<TCPSegment, DecodeFailure> {
        var type = firstType
        var offset = offset
        // 802.1Q, 802.1ad (QinQ) and the old 0x9100 tag, any number deep.
        while type == 0x8100 || type == 0x88A8 || type == 0x9100 {
            guard let inner = reader.u16(offset + 2), reader.has(offset + 4) else {
                return .failure(.truncated(.vlan, offset: offset))
            }
            type = inner
            offset += 4
        }
        switch type {
        case 0x0800, 0x86DD:
            return decodeIP(reader, offset: offset, tunnel: tunnel, depth: depth)
        case 0x8847, 0x8848:
            // MPLS: labels until the bottom-of-stack bit; the payload's first
            // nibble says IPv4 or IPv6 (pseudowires carrying Ethernet are not followed).
            var label = offset
            while true {
                guard let entry = reader.u32(label) else { return .failure(.truncated(.link, offset: label)) }
                label += 4
                if entry & 0x100 != 0 { break }
                if label - offset > 64 { return .failure(.malformed(.link, offset: offset)) }
            }
            return decodeIP(reader, offset: label, tunnel: tunnel, depth: depth)
        case 0x8864:
            // PPPoE session: 6-byte header, then the PPP protocol number.
            guard let proto = reader.u16(offset + 6) else { return .failure(.truncated(.link, offset: offset)) }
            guard proto == 0x0021 || proto == 0x0057 else { return .failure(.notTCP) }
            return decodeIP(reader, offset: offset + 8, tunnel: tunnel, depth: depth)
        default:
            return .failure(.notTCP)
        }
    }

    private func decodeIP(_ reader: FrameReader, offset: Int, tunnel: Tunnel, depth: Int) -> Result<TCPSegment, DecodeFailure> {
        guard let first = reader.u8(offset) else { return .failure(.truncated(.ipv4, offset: offset)) }
        switch first >> 4 {
        case 4: return decodeIPv4(reader, offset: offset, tunnel: tunnel, depth: depth)
        case 6: return decodeIPv6(reader, offset: offset, tunnel: tunnel, depth: depth)
        default: return .failure(.malformed(.ipv4, offset: offset))
        }
    }

    /// The general path alone, without `plainIPv4TCP`: what tests compare
    /// `decode` with.
    func decodeGenerally(_ frame: UnsafeRawBufferPointer, originalLength: Int? = nil) -> Result<TCPSegment, DecodeFailure> {
        let reader = FrameReader(frame, wireLength: originalLength)
        switch linkType {
        case LinkType.ethernet:
            return decodeEthernet(reader, offset: 0, tunnel: .none, depth: 0)
        case LinkType.linuxCooked2:
            guard let proto = reader.u16(0), reader.has(20) else { return .failure(.truncated(.link, offset: 0)) }
            return decodeEtherType(proto, reader, offset: 20, tunnel: .none, depth: 0)
        default:
            return decode(frame, originalLength: originalLength)
        }
    }

    /// The common case in one pass: an IPv4 packet, not a fragment, with a
    /// length field, carrying TCP, both headers captured and consistent. One
    /// bounds check covers both headers, and the fields are read without the
    /// general path's per-field checks and its result handed through two more
    /// layers (about 100 instructions per packet). Anything else, including
    /// every malformed or truncated case, is nil: the general path decodes it
    /// and names the failure. For every frame both give the same segment
    /// (a test compares them over every committed and corpus capture).
    @inlinable @inline(__always)
    func plainIPv4TCP(_ reader: FrameReader, offset: Int) -> TCPSegment? {
        let bytes = reader.base
        guard offset >= 0, offset + 20 <= bytes.count else { return nil }
        let headerLength = Int(bytes[offset] & 0x0F) * 4
        let transport = offset + headerLength
        guard headerLength >= 20, transport + 20 <= bytes.count else { return nil }
        let totalLength = Int(UInt16(bigEndian: bytes.loadUnaligned(fromByteOffset: offset + 2, as: UInt16.self)))
        let fragmentField = UInt16(bigEndian: bytes.loadUnaligned(fromByteOffset: offset + 6, as: UInt16.self))
        let end = offset + totalLength
        guard bytes[offset + 9] == 6, fragmentField & 0x3FFF == 0, totalLength >= headerLength, end <= reader.wireLength
        else { return nil }
        let tcpHeaderLength = Int(bytes[transport + 12] >> 4) * 4
        let payloadStart = transport + tcpHeaderLength
        guard tcpHeaderLength >= 20, payloadStart <= end, payloadStart <= bytes.count else { return nil }
        let capturedEnd = min(end, bytes.count)
        func u16(_ at: Int) -> UInt16 { UInt16(bigEndian: bytes.loadUnaligned(fromByteOffset: at, as: UInt16.self)) }
        func u32(_ at: Int) -> UInt32 { UInt32(bigEndian: bytes.loadUnaligned(fromByteOffset: at, as: UInt32.self)) }
        return TCPSegment(
            source: Endpoint(address: IPAddress(ipv4: u32(offset + 12)), port: u16(transport)),
            destination: Endpoint(address: IPAddress(ipv4: u32(offset + 16)), port: u16(transport + 2)),
            sequence: u32(transport + 4), acknowledgment: u32(transport + 8),
            flags: TCPFlags(rawValue: bytes[transport + 13] & 0x1F),
            window: u16(transport + 14),
            payloadRange: payloadStart..<capturedEnd,
            missingPayload: end - capturedEnd,
            tunnel: .none
        )
    }

    private func decodeIPv4(_ reader: FrameReader, offset: Int, tunnel: Tunnel, depth: Int) -> Result<TCPSegment, DecodeFailure> {
        guard reader.has(offset + 20),
              let versionIHL = reader.u8(offset),
              let totalLength16 = reader.u16(offset + 2),
              let fragmentField = reader.u16(offset + 6),
              let proto = reader.u8(offset + 9),
              let src = reader.u32(offset + 12),
              let dst = reader.u32(offset + 16)
        else { return .failure(.truncated(.ipv4, offset: offset)) }
        let headerLength = Int(versionIHL & 0x0F) * 4
        guard headerLength >= 20 else { return .failure(.malformed(.ipv4, offset: offset)) }
        guard reader.has(offset + headerLength) else { return .failure(.truncated(.ipv4, offset: offset)) }
        var totalLength = Int(totalLength16)
        // Zero means a TSO super-packet captured before segmentation: the frame is the packet.
        if totalLength == 0 { totalLength = reader.wireLength - offset }
        guard totalLength >= headerLength else { return .failure(.malformed(.ipv4, offset: offset)) }
        let end = offset + totalLength
        if fragmentField & 0x3FFF != 0 {
            guard end <= reader.wireLength else { return .failure(.malformed(.ipv4, offset: offset)) }
            let dataStart = offset + headerLength
            let capturedEnd = max(dataStart, min(end, reader.count))
            return .failure(.fragment(IPFragment(
                source: IPAddress(ipv4: src), destination: IPAddress(ipv4: dst),
                identification: UInt32(reader.u16(offset + 4) ?? 0), transportProtocol: proto,
                fragmentOffset: Int(fragmentField & 0x1FFF) * 8, moreFragments: fragmentField & 0x2000 != 0,
                payloadRange: dataStart..<capturedEnd, missingPayload: end - capturedEnd, tunnel: tunnel)))
        }
        return decodeTransport(
            proto, reader, offset: offset + headerLength, end: end,
            source: IPAddress(ipv4: src), destination: IPAddress(ipv4: dst), tunnel: tunnel, depth: depth
        )
    }

    private func decodeIPv6(_ reader: FrameReader, offset: Int, tunnel: Tunnel, depth: Int) -> Result<TCPSegment, DecodeFailure> {
        guard reader.has(offset + 40),
              let payloadLength16 = reader.u16(offset + 4),
              let firstNext = reader.u8(offset + 6),
              let srcHigh = reader.u64(offset + 8), let srcLow = reader.u64(offset + 16),
              let dstHigh = reader.u64(offset + 24), let dstLow = reader.u64(offset + 32)
        else { return .failure(.truncated(.ipv6, offset: offset)) }
        var payloadLength = Int(payloadLength16)
        // Zero: a jumbogram or a GSO super-packet; the frame holds the packet.
        if payloadLength == 0 { payloadLength = reader.wireLength - offset - 40 }
        let end = offset + 40 + payloadLength
        var next = firstNext
        var cursor = offset + 40
        // Walk extension headers; a bounded count keeps hostile chains cheap.
        for _ in 0..<16 {
            switch next {
            case 0, 43, 60, 135, 139, 140:
                guard let following = reader.u8(cursor), let units = reader.u8(cursor + 1) else {
                    return .failure(.truncated(.ipv6Extension, offset: cursor))
                }
                next = following
                cursor += (Int(units) + 1) * 8
            case 51: // Authentication Header counts 4-byte units, minus two.
                guard let following = reader.u8(cursor), let units = reader.u8(cursor + 1) else {
                    return .failure(.truncated(.ipv6Extension, offset: cursor))
                }
                next = following
                cursor += (Int(units) + 2) * 4
            case 44:
                guard let following = reader.u8(cursor), let fragment = reader.u16(cursor + 2),
                      let identification = reader.u32(cursor + 4) else {
                    return .failure(.truncated(.ipv6Extension, offset: cursor))
                }
                // Offset or more-fragments set: a real fragment. Neither: an atomic fragment.
                if fragment & 0xFFF9 != 0 {
                    let dataStart = cursor + 8
                    guard dataStart <= end, end <= reader.wireLength else {
                        return .failure(.malformed(.ipv6Extension, offset: cursor))
                    }
                    let capturedEnd = max(dataStart, min(end, reader.count))
                    return .failure(.fragment(IPFragment(
                        source: IPAddress(ipv6High: srcHigh, low: srcLow), destination: IPAddress(ipv6High: dstHigh, low: dstLow),
                        identification: identification, transportProtocol: following,
                        fragmentOffset: Int(fragment & 0xFFF8), moreFragments: fragment & 1 != 0,
                        payloadRange: dataStart..<capturedEnd, missingPayload: end - capturedEnd, tunnel: tunnel)))
                }
                next = following
                cursor += 8
            default:
                guard cursor <= end else { return .failure(.malformed(.ipv6Extension, offset: cursor)) }
                return decodeTransport(
                    next, reader, offset: cursor, end: end,
                    source: IPAddress(ipv6High: srcHigh, low: srcLow),
                    destination: IPAddress(ipv6High: dstHigh, low: dstLow),
                    tunnel: tunnel, depth: depth
                )
            }
            if cursor > end { return .failure(.malformed(.ipv6Extension, offset: cursor)) }
        }
        return .failure(.malformed(.ipv6Extension, offset: cursor))
    }

    /// `end` is where the IP packet ends on the wire (IP length field), which
    /// trims Ethernet padding and tells how much the snapshot length cut.
    private func decodeTransport(
        _ proto: UInt8, _ reader: FrameReader, offset: Int, end: Int,
        source: IPAddress, destination: IPAddress, tunnel: Tunnel, depth: Int
    ) -> Result<TCPSegment, DecodeFailure> {
        guard end <= reader.wireLength else {
            // The IP header claims more than the frame had on the wire.
            return .failure(.malformed(source.isIPv6 ? .ipv6 : .ipv4, offset: offset))
        }
        switch proto {
        case 6:
            return decodeTCP(reader, offset: offset, end: end, source: source, destination: destination, tunnel: tunnel)
        case 4, 41:
            guard depth < Self.maximumNesting else { return .failure(.malformed(.tunnel, offset: offset)) }
            return decodeIP(reader, offset: offset, tunnel: Tunnel(kind: .ipInIP), depth: depth + 1)
        case 47:
            guard depth < Self.maximumNesting else { return .failure(.malformed(.tunnel, offset: offset)) }
            return decodeGRE(reader, offset: offset, depth: depth + 1)
        case 17:
            guard depth < Self.maximumNesting else { return .failure(.notTCP) }
            return decodeUDP(reader, offset: offset, end: end, source: source, destination: destination, tunnel: tunnel, depth: depth + 1)
        default:
            return .failure(.otherTransport(Self.otherTransport(
                proto, reader, payload: offset, end: end, source: source, destination: destination, ports: (0, 0), tunnel: tunnel)))
        }
    }

    /// A packet not judged, described; the payload's range kept within the
    /// captured bytes whatever the headers claim.
    private static func otherTransport(
        _ proto: UInt8, _ reader: FrameReader, payload: Int, end: Int,
        source: IPAddress, destination: IPAddress, ports: (UInt16, UInt16), tunnel: Tunnel
    ) -> OtherTransportPacket {
        let capturedEnd = max(0, min(end, reader.count))
        let start = min(max(0, payload), capturedEnd)
        return OtherTransportPacket(
            source: source, destination: destination, transportProtocol: proto,
            sourcePort: ports.0, destinationPort: ports.1,
            payloadRange: start..<capturedEnd, payloadWireLength: max(0, end - payload), tunnel: tunnel)
    }

    private func decodeTCP(
        _ reader: FrameReader, offset: Int, end: Int,
        source: IPAddress, destination: IPAddress, tunnel: Tunnel
    ) -> Result<TCPSegment, DecodeFailure> {
        guard reader.has(offset + 20),
              let srcPort = reader.u16(offset), let dstPort = reader.u16(offset + 2),
              let seq = reader.u32(offset + 4), let ack = reader.u32(offset + 8),
              let dataOffsetByte = reader.u8(offset + 12), let flagsByte = reader.u8(offset + 13),
              let window = reader.u16(offset + 14)
        else { return .failure(.truncated(.tcp, offset: offset)) }
        let headerLength = Int(dataOffsetByte >> 4) * 4
        guard headerLength >= 20, offset + headerLength <= end else { return .failure(.malformed(.tcp, offset: offset)) }
        guard reader.has(offset + headerLength) else { return .failure(.truncated(.tcp, offset: offset)) }
        let payloadStart = offset + headerLength
        let capturedEnd = min(end, reader.count)
        return .success(TCPSegment(
            source: Endpoint(address: source, port: srcPort),
            destination: Endpoint(address: destination, port: dstPort),
            sequence: seq, acknowledgment: ack,
            flags: TCPFlags(rawValue: flagsByte & 0x1F),
            window: window,
            payloadRange: payloadStart..<capturedEnd,
            missingPayload: end - capturedEnd,
            tunnel: tunnel
        ))
    }

    private func decodeUDP(
        _ reader: FrameReader, offset: Int, end: Int,
        source: IPAddress, destination: IPAddress, tunnel: Tunnel, depth: Int
    ) -> Result<TCPSegment, DecodeFailure> {
        // Cut before the port: truncated (it may have been a tunnel carrying TCP).
        // Cut after it: each tunnel below reports its own truncation, anything else is not TCP.
        guard let srcPort = reader.u16(offset), let dstPort = reader.u16(offset + 2) else {
            return .failure(.truncated(.udp, offset: offset))
        }
        let body = offset + 8
        if srcPort == 5072 || dstPort == 5072 { return decodeAYIYA(reader, offset: body, depth: depth) }
        switch dstPort {
        case 4754: // GRE in UDP (RFC 8086).
            return decodeGRE(reader, offset: body, depth: depth)
        case 4789, 8472: // VXLAN: IANA port, and the Linux default that Flannel uses.
            guard let flags = reader.u8(body), let vniWord = reader.u32(body + 4), reader.has(body + 8) else {
                return .failure(.truncated(.tunnel, offset: body))
            }
            guard flags & 0x08 != 0 else { return .failure(.malformed(.tunnel, offset: body)) }
            return decodeEthernet(reader, offset: body + 8, tunnel: Tunnel(kind: .vxlan, identifier: vniWord >> 8), depth: depth)
        case 6081: // Geneve.
            guard let versionOptions = reader.u8(body), let proto = reader.u16(body + 2),
                  let vniWord = reader.u32(body + 4) else {
                return .failure(.truncated(.tunnel, offset: body))
            }
            guard versionOptions >> 6 == 0 else { return .failure(.malformed(.tunnel, offset: body)) }
            let inner = body + 8 + Int(versionOptions & 0x3F) * 4
            guard reader.has(inner) else { return .failure(.truncated(.tunnel, offset: body)) }
            let tunnel = Tunnel(kind: .geneve, identifier: vniWord >> 8)
            if proto == 0x6558 { return decodeEthernet(reader, offset: inner, tunnel: tunnel, depth: depth) }
            return decodeEtherType(proto, reader, offset: inner, tunnel: tunnel, depth: depth)
        case 2152: // GTP-U (mobile core): a G-PDU carries an IP packet.
            guard let flags = reader.u8(body), let type = reader.u8(body + 1), let teid = reader.u32(body + 4) else {
                return .failure(.truncated(.tunnel, offset: body))
            }
            guard flags >> 5 == 1, flags & 0x10 != 0, type == 0xFF else { return .failure(.notTCP) }
            var inner = body + 8
            if flags & 0x07 != 0 {
                // Sequence number, N-PDU number, next extension type; then extensions.
                guard var next = reader.u8(body + 11) else { return .failure(.truncated(.tunnel, offset: body)) }
                inner = body + 12
                var extensions = 0
                while next != 0 {
                    guard let units = reader.u8(inner), units > 0, extensions < 8 else {
                        return .failure(.malformed(.tunnel, offset: inner))
                    }
                    let end = inner + Int(units) * 4
                    guard let following = reader.u8(end - 1) else { return .failure(.truncated(.tunnel, offset: inner)) }
                    next = following
                    inner = end
                    extensions += 1
                }
            }
            return decodeIP(reader, offset: inner, tunnel: Tunnel(kind: .gtpU, identifier: teid), depth: depth)
        default:
            return .failure(.otherTransport(Self.otherTransport(
                17, reader, payload: body, end: end, source: source, destination: destination,
                ports: (srcPort, dstPort), tunnel: tunnel)))
        }
    }

    private func decodeGRE(_ reader: FrameReader, offset: Int, depth: Int) -> Result<TCPSegment, DecodeFailure> {
        guard let flags = reader.u16(offset), let proto = reader.u16(offset + 2) else {
            return .failure(.truncated(.tunnel, offset: offset))
        }
        // Version 0 only; version 1 is PPTP's enhanced GRE carrying PPP.
        guard flags & 0x0007 == 0 else { return .failure(.notTCP) }
        var cursor = offset + 4
        if flags & 0x8000 != 0 { cursor += 4 } // checksum + reserved
        var key: UInt32 = 0
        if flags & 0x2000 != 0 {
            guard let k = reader.u32(cursor) else { return .failure(.truncated(.tunnel, offset: cursor)) }
            key = k
            cursor += 4
        }
        if flags & 0x1000 != 0 { cursor += 4 } // sequence number
        guard reader.has(cursor) else { return .failure(.truncated(.tunnel, offset: offset)) }
        let tunnel = Tunnel(kind: .gre, identifier: key)
        if proto == 0x6558 { return decodeEthernet(reader, offset: cursor, tunnel: tunnel, depth: depth) }
        // Aruba controllers carry 802.11 frames under 0x8200, 0x8210 … 0x8250.
        if proto & 0xFF0F == 0x8200, proto <= 0x8250 { return decode80211(reader, offset: cursor, tunnel: tunnel, depth: depth) }
        if proto == 0x883E {
            // WCCP redirection: version 1 puts the IP packet right here, version 2 after a 4-byte header.
            guard let first = reader.u8(cursor) else { return .failure(.truncated(.tunnel, offset: cursor)) }
            return decodeIP(reader, offset: first >> 4 == 4 ? cursor : cursor + 4, tunnel: tunnel, depth: depth)
        }
        return decodeEtherType(proto, reader, offset: cursor, tunnel: tunnel, depth: depth)
    }

    /// AYIYA ("anything in anything", IPv6 tunnel brokers, UDP 5072): a header
    /// whose identity and signature lengths it states itself, then the packet.
    private func decodeAYIYA(_ reader: FrameReader, offset: Int, depth: Int) -> Result<TCPSegment, DecodeFailure> {
        guard let lengths = reader.u8(offset), let signature = reader.u8(offset + 1),
              let operation = reader.u8(offset + 2), let next = reader.u8(offset + 3) else {
            return .failure(.truncated(.tunnel, offset: offset))
        }
        guard operation & 0x0F == 1, next == 4 || next == 41 else { return .failure(.notTCP) } // forwarded IPv4/IPv6
        let inner = offset + 8 + (1 << Int(lengths >> 4)) + Int(signature >> 4) * 4
        guard reader.has(inner) else { return .failure(.truncated(.tunnel, offset: offset)) }
        return decodeIP(reader, offset: inner, tunnel: Tunnel(kind: .ayiya), depth: depth)
    }

    /// An 802.11 data frame, as wireless controllers (Aruba) tunnel them in GRE:
    /// MAC header, then LLC/SNAP naming the EtherType.
    private func decode80211(_ reader: FrameReader, offset: Int, tunnel: Tunnel, depth: Int) -> Result<TCPSegment, DecodeFailure> {
        guard let control = reader.u8(offset), let flags = reader.u8(offset + 1) else {
            return .failure(.truncated(.link, offset: offset))
        }
        let type = (control >> 2) & 0x03, subtype = control >> 4
        guard type == 2, subtype & 0x04 == 0 else { return .failure(.notTCP) }  // data frames carrying data only
        var header = 24
        if flags & 0x03 == 0x03 { header += 6 }       // ToDS and FromDS: a fourth address
        if subtype & 0x08 != 0 { header += 2 }        // QoS control
        if flags & 0x80 != 0, subtype & 0x08 != 0 { header += 4 }  // HT control
        guard flags & 0x40 == 0 else { return .failure(.notTCP) }  // protected: cannot be read here
        var llc = offset + header
        if subtype & 0x08 != 0 {
            // QoS control says whether the body is an A-MSDU: subframes of
            // destination, source and length, each followed by LLC/SNAP. The first is decoded.
            guard let qos = reader.u8(offset + 24 + (flags & 0x03 == 0x03 ? 6 : 0)) else {
                return .failure(.truncated(.link, offset: offset))
            }
            if qos & 0x80 != 0 { llc += 14 }
        }
        guard let dsap = reader.u8(llc), let ssap = reader.u8(llc + 1), let etherType = reader.u16(llc + 6) else {
            return .failure(.truncated(.link, offset: llc))
        }
        guard dsap == 0xAA, ssap == 0xAA else { return .failure(.notTCP) }
        return decodeEtherType(etherType, reader, offset: llc + 8, tunnel: tunnel, depth: depth)
    }
}

/// Bounds-checked big-endian reads from a frame. Every read returns nil past
/// the captured bytes, so no input can make the decoder read out of bounds.
@usableFromInline
struct FrameReader {
    @usableFromInline let base: UnsafeRawBufferPointer
    /// Captured bytes.
    var count: Int { base.count }
    /// Bytes on the wire. Lengths in headers are checked against this, and
    /// payload beyond `count` is reported as missing, not invented.
    @usableFromInline var wireLength: Int

    /// Inlinable, as `decodeCommon`, its caller on every packet of both
    /// replay threads, is: only usable from inlinable code, it was a call
    /// a packet from the analysing thread (29 instructions a packet there,
    /// counting what the inlined body let the compiler fold).
    @inlinable
    init(_ base: UnsafeRawBufferPointer, wireLength: Int? = nil) {
        self.base = base
        self.wireLength = max(wireLength ?? base.count, base.count)
    }

    @inline(__always) func has(_ end: Int) -> Bool { end >= 0 && end <= base.count }

    @inline(__always) func u8(_ offset: Int) -> UInt8? {
        guard offset >= 0, offset < base.count else { return nil }
        return base[offset]
    }

    @inline(__always) func u16(_ offset: Int) -> UInt16? {
        guard offset >= 0, offset <= base.count - 2 else { return nil }
        return UInt16(bigEndian: base.loadUnaligned(fromByteOffset: offset, as: UInt16.self))
    }

    @inline(__always) func u32(_ offset: Int) -> UInt32? {
        guard offset >= 0, offset <= base.count - 4 else { return nil }
        return UInt32(bigEndian: base.loadUnaligned(fromByteOffset: offset, as: UInt32.self))
    }

    @inline(__always) func u64(_ offset: Int) -> UInt64? {
        guard offset >= 0, offset <= base.count - 8 else { return nil }
        return UInt64(bigEndian: base.loadUnaligned(fromByteOffset: offset, as: UInt64.self))
    }
}
