import Testing
@testable import PacketDecoding

/// Builds frames by hand, layer by layer. Checksums are left wrong on purpose
/// (0xDEAD, 0xBEEF): offloading leaves them so on the sending node.
enum FrameBuilder {
    static let payload = Array("GET / HTTP/1.1\r\n\r\n".utf8)
    static let mac: [UInt8] = [2, 0, 0, 0, 0, 2, 2, 0, 0, 0, 0, 1]

    static func tcp(sourcePort: UInt16 = 50_000, destinationPort: UInt16 = 80, sequence: UInt32 = 1_000,
                    options: [UInt8] = [], payload: [UInt8] = payload, flags: UInt8 = 0x18) -> [UInt8] {
        let dataOffset = UInt8((20 + options.count) / 4) << 4
        return be16(sourcePort) + be16(destinationPort) + be32(sequence) + [0, 0, 0, 0, dataOffset, flags, 0x01, 0xF6, 0xBE, 0xEF, 0, 0]
            + options + payload
    }

    static func udp(sourcePort: UInt16 = 40_000, destinationPort: UInt16, payload: [UInt8]) -> [UInt8] {
        be16(sourcePort) + be16(destinationPort) + be16(UInt16(8 + payload.count)) + [0, 0] + payload
    }

    static func ipv4(_ proto: UInt8, _ body: [UInt8], source: [UInt8] = [10, 0, 0, 1], destination: [UInt8] = [10, 0, 0, 2],
                     totalLength: Int? = nil, fragment: UInt16 = 0x4000, options: [UInt8] = []) -> [UInt8] {
        let header = 20 + options.count
        return [0x40 | UInt8(header / 4), 0] + be16(UInt16(totalLength ?? header + body.count)) + [0x12, 0x34] + be16(fragment)
            + [64, proto, 0xDE, 0xAD] + source + destination + options + body
    }

    static let v6Source: [UInt8] = [0xFD, 0] + [UInt8](repeating: 0, count: 13) + [1]
    static let v6Destination: [UInt8] = [0xFD, 0] + [UInt8](repeating: 0, count: 13) + [2]

    static func ipv6(_ next: UInt8, _ body: [UInt8], payloadLength: Int? = nil) -> [UInt8] {
        [0x60, 0, 0, 0] + be16(UInt16(payloadLength ?? body.count)) + [next, 64] + v6Source + v6Destination + body
    }

    static func ethernet(_ type: UInt16, _ body: [UInt8]) -> [UInt8] { mac + be16(type) + body }

    static func be16(_ v: UInt16) -> [UInt8] { [UInt8(v >> 8), UInt8(v & 0xFF)] }
    static func be32(_ v: UInt32) -> [UInt8] { [UInt8(v >> 24), UInt8(v >> 16 & 0xFF), UInt8(v >> 8 & 0xFF), UInt8(v & 0xFF)] }

    static let innerIPv4TCP = ipv4(6, tcp())
    static let innerEthernet = ethernet(0x0800, innerIPv4TCP)
    /// Outer addresses of tunnels, distinct from the inner ones.
    static func outer(_ proto: UInt8, _ body: [UInt8]) -> [UInt8] {
        ethernet(0x0800, ipv4(proto, body, source: [192, 168, 0, 1], destination: [192, 168, 0, 2]))
    }
    static func vxlan(port: UInt16, vni: UInt32) -> [UInt8] {
        outer(17, udp(destinationPort: port, payload: [0x08, 0, 0, 0] + Array(be32(vni << 8)) + innerEthernet))
    }
}

/// Hand-built frames through the decoder: each link layer and encapsulation,
/// the payload where it belongs, and every truncation an error or a shorter
/// payload, never a trap.
@Suite struct DecoderTests {
    typealias B = FrameBuilder
    static let payload = B.payload

    static func decode(_ frame: [UInt8], linkType: Int32, originalLength: Int? = nil) -> Result<TCPSegment, DecodeFailure> {
        frame.withUnsafeBytes { FrameDecoder(linkType: linkType).decode($0, originalLength: originalLength ?? frame.count) }
    }

    struct Case: Sendable, CustomTestStringConvertible {
        var name: String
        var linkType: Int32
        var frame: [UInt8]
        var source = "10.0.0.1:50000"
        var destination = "10.0.0.2:80"
        var tunnel = Tunnel.none
        var testDescription: String { name }
    }

    static let cases: [Case] = [
        Case(name: "Ethernet", linkType: LinkType.ethernet, frame: B.innerEthernet),
        Case(name: "802.1Q", linkType: LinkType.ethernet, frame: B.mac + [0x81, 0x00, 0x00, 0x64, 0x08, 0x00] + B.innerIPv4TCP),
        Case(name: "QinQ", linkType: LinkType.ethernet,
             frame: B.mac + [0x88, 0xA8, 0x00, 0x0A, 0x81, 0x00, 0x00, 0x64, 0x08, 0x00] + B.innerIPv4TCP),
        Case(name: "802.3 with LLC/SNAP", linkType: LinkType.ethernet,
             frame: B.mac + [0x00, 0x40, 0xAA, 0xAA, 0x03, 0, 0, 0, 0x08, 0x00] + B.innerIPv4TCP),
        Case(name: "Ethernet padding not in payload", linkType: LinkType.ethernet,
             frame: B.innerEthernet + [0, 0, 0, 0, 0, 0]),
        Case(name: "IPv4 options", linkType: LinkType.ethernet,
             frame: B.ethernet(0x0800, B.ipv4(6, B.tcp(), options: [1, 1, 1, 0]))),
        Case(name: "TCP options", linkType: LinkType.ethernet,
             frame: B.ethernet(0x0800, B.ipv4(6, B.tcp(options: [1, 1, 8, 10] + [UInt8](repeating: 0, count: 8))))),
        Case(name: "IPv4 total length 0 (TSO)", linkType: LinkType.ethernet,
             frame: B.ethernet(0x0800, B.ipv4(6, B.tcp(), totalLength: 0))),
        Case(name: "raw IPv4 (101)", linkType: LinkType.rawLinktype, frame: B.innerIPv4TCP),
        Case(name: "raw IPv4 (12)", linkType: LinkType.raw, frame: B.innerIPv4TCP),
        Case(name: "raw IPv6 (101)", linkType: LinkType.rawLinktype, frame: B.ipv6(6, B.tcp()),
             source: "[fd00::1]:50000", destination: "[fd00::2]:80"),
        Case(name: "IPv6 hop-by-hop", linkType: LinkType.ethernet,
             frame: B.ethernet(0x86DD, B.ipv6(0, [6, 0, 5, 2, 0, 0, 1, 0] + B.tcp())),
             source: "[fd00::1]:50000", destination: "[fd00::2]:80"),
        Case(name: "IPv6 hop-by-hop and destination options", linkType: LinkType.rawLinktype,
             frame: B.ipv6(0, [60, 0, 1, 4, 0, 0, 0, 0] + [6, 1] + [UInt8](repeating: 1, count: 14) + B.tcp()),
             source: "[fd00::1]:50000", destination: "[fd00::2]:80"),
        Case(name: "IPv6 payload length 0 (GSO)", linkType: LinkType.rawLinktype, frame: B.ipv6(6, B.tcp(), payloadLength: 0),
             source: "[fd00::1]:50000", destination: "[fd00::2]:80"),
        Case(name: "BSD loopback, little-endian family", linkType: LinkType.null, frame: [2, 0, 0, 0] + B.innerIPv4TCP),
        Case(name: "BSD loopback, big-endian family", linkType: LinkType.null, frame: [0, 0, 0, 2] + B.innerIPv4TCP),
        Case(name: "BSD loopback IPv6 (macOS AF_INET6 30)", linkType: LinkType.null, frame: [30, 0, 0, 0] + B.ipv6(6, B.tcp()),
             source: "[fd00::1]:50000", destination: "[fd00::2]:80"),
        Case(name: "Linux cooked v1", linkType: LinkType.linuxCooked,
             frame: [0, 0, 0, 1, 0, 6, 2, 0, 0, 0, 0, 1, 0, 0, 0x08, 0x00] + B.innerIPv4TCP),
        Case(name: "Linux cooked v2", linkType: LinkType.linuxCooked2,
             frame: [0x08, 0x00, 0, 0, 0, 0, 0, 3, 0, 1, 0, 6, 2, 0, 0, 0, 0, 1, 0, 0] + B.innerIPv4TCP),
        Case(name: "Linux cooked v2, IPv6", linkType: LinkType.linuxCooked2,
             frame: [0x86, 0xDD, 0, 0, 0, 0, 0, 3, 0, 1, 0, 6, 2, 0, 0, 0, 0, 1, 0, 0] + B.ipv6(6, B.tcp()),
             source: "[fd00::1]:50000", destination: "[fd00::2]:80"),
        Case(name: "VXLAN 4789", linkType: LinkType.ethernet, frame: B.vxlan(port: 4789, vni: 42),
             tunnel: Tunnel(kind: .vxlan, identifier: 42)),
        Case(name: "VXLAN 8472 (flannel)", linkType: LinkType.ethernet, frame: B.vxlan(port: 8472, vni: 0xABCDEF),
             tunnel: Tunnel(kind: .vxlan, identifier: 0xABCDEF)),
        Case(name: "Geneve 6081", linkType: LinkType.ethernet,
             frame: B.outer(17, B.udp(destinationPort: 6081, payload: [0, 0, 0x65, 0x58, 0, 0x01, 0x02, 0] + B.innerEthernet)),
             tunnel: Tunnel(kind: .geneve, identifier: 0x102)),
        Case(name: "Geneve with an option, IPv4 inside", linkType: LinkType.ethernet,
             frame: B.outer(17, B.udp(destinationPort: 6081,
                                      payload: [0x01, 0, 0x08, 0x00, 0, 0, 7, 0] + [0x01, 0x02, 0x03, 0x00] + B.innerIPv4TCP)),
             tunnel: Tunnel(kind: .geneve, identifier: 7)),
        Case(name: "GRE carrying IPv4", linkType: LinkType.ethernet,
             frame: B.outer(47, [0x00, 0x00, 0x08, 0x00] + B.innerIPv4TCP), tunnel: Tunnel(kind: .gre)),
        Case(name: "GRE with key and checksum", linkType: LinkType.ethernet,
             frame: B.outer(47, [0xA0, 0x00, 0x08, 0x00, 0, 0, 0, 0, 0, 0, 0, 9] + B.innerIPv4TCP), tunnel: Tunnel(kind: .gre, identifier: 9)),
        Case(name: "GRE transparent Ethernet bridging", linkType: LinkType.ethernet,
             frame: B.outer(47, [0x00, 0x00, 0x65, 0x58] + B.innerEthernet), tunnel: Tunnel(kind: .gre)),
        Case(name: "IP-in-IP", linkType: LinkType.ethernet, frame: B.outer(4, B.innerIPv4TCP), tunnel: Tunnel(kind: .ipInIP)),
        Case(name: "IPv6 in IPv4 (6in4)", linkType: LinkType.ethernet, frame: B.outer(41, B.ipv6(6, B.tcp())),
             source: "[fd00::1]:50000", destination: "[fd00::2]:80", tunnel: Tunnel(kind: .ipInIP)),
        Case(name: "GRE in UDP 4754", linkType: LinkType.ethernet,
             frame: B.outer(17, B.udp(destinationPort: 4754, payload: [0x00, 0x00, 0x08, 0x00] + B.innerIPv4TCP)),
             tunnel: Tunnel(kind: .gre)),
        Case(name: "WCCP v2 redirect in GRE", linkType: LinkType.ethernet,
             frame: B.outer(47, [0x00, 0x00, 0x88, 0x3E, 0x05, 0x59, 0x00, 0x48] + B.innerIPv4TCP), tunnel: Tunnel(kind: .gre)),
        Case(name: "AYIYA (server port 5072), IPv6 inside", linkType: LinkType.ethernet,
             frame: B.outer(17, B.udp(sourcePort: 5072, destinationPort: 53_000,
                                      payload: [0x41, 0x52, 0x11, 41, 0, 0, 0, 1] + [UInt8](repeating: 7, count: 16 + 20) + B.ipv6(6, B.tcp()))),
             source: "[fd00::1]:50000", destination: "[fd00::2]:80", tunnel: Tunnel(kind: .ayiya)),
        Case(name: "Aruba GRE 0x8240, 802.11 QoS data with an A-MSDU", linkType: LinkType.ethernet,
             frame: B.outer(47, [0x00, 0x00, 0x82, 0x40] + [0x88, 0x02, 0, 0] + [UInt8](repeating: 1, count: 18) + [0, 0]
                                + [0x80, 0x00] + [UInt8](repeating: 2, count: 12) + [0x01, 0x21]
                                + [0xAA, 0xAA, 0x03, 0, 0, 0, 0x08, 0x00] + B.innerIPv4TCP),
             tunnel: Tunnel(kind: .gre)),
        Case(name: "PPP with address and control", linkType: LinkType.ppp, frame: [0xFF, 0x03, 0x00, 0x21] + B.innerIPv4TCP),
        Case(name: "PPP, compressed protocol", linkType: LinkType.pppSerial, frame: [0x21] + B.innerIPv4TCP),
        Case(name: "PPPoE link type", linkType: LinkType.pppEther, frame: [0x11, 0, 0, 1, 0, 42, 0x00, 0x21] + B.innerIPv4TCP),
        Case(name: "Cisco HDLC", linkType: LinkType.ciscoHDLC, frame: [0x0F, 0x00, 0x08, 0x00] + B.innerIPv4TCP),
        Case(name: "FDDI", linkType: LinkType.fddi,
             frame: [0x50] + B.mac + [0xAA, 0xAA, 0x03, 0, 0, 0, 0x08, 0x00] + B.innerIPv4TCP),
        Case(name: "Linux ARCNET, RFC 1051", linkType: LinkType.arcnetLinux, frame: [0xBE, 0x50, 0xC3, 0x00, 240] + B.innerIPv4TCP),
        Case(name: "Linux ARCNET, RFC 1201", linkType: LinkType.arcnetLinux,
             frame: [0xBE, 0x50, 0xC0, 0x00, 212, 0x00, 0x01, 0x6B] + B.innerIPv4TCP),
        Case(name: "IP over InfiniBand", linkType: LinkType.ipOverInfiniband,
             frame: [UInt8](repeating: 0, count: 40) + [0x08, 0x00, 0, 0] + B.innerIPv4TCP),
        Case(name: "Juniper Ethernet with extensions", linkType: LinkType.juniperEther,
             frame: [0x4D, 0x47, 0x43, 0x80, 0x00, 0x04, 1, 2, 3, 4] + B.innerEthernet),
    ]

    @Test func endpointText() {
        #expect(Endpoint(address: IPAddress(ipv4: 0), port: 0).description == "0.0.0.0:0")
        #expect(Endpoint(address: IPAddress(ipv4: 0xFFFF_FFFF), port: 65_535).description == "255.255.255.255:65535")
        #expect(Endpoint(address: IPAddress(ipv4: 0x0A6F_017A), port: 80).description == "10.111.1.122:80")
        #expect(IPAddress(ipv4: 0xC0A8_0009).description == "192.168.0.9")
        #expect(Endpoint(address: IPAddress(ipv6High: 0xFD00 << 48, low: 1), port: 443).description == "[fd00::1]:443")
    }

    /// Report lines write endpoints straight into their buffer; the text is
    /// the description's, for every digit count of every octet and the port,
    /// after other bytes and across the buffer's growth, and for IPv6.
    @Test func endpointWrittenInPlaceReadsAsItsDescription() {
        var endpoints = [Endpoint(address: IPAddress(ipv6High: 0x2001_0DB8 << 32, low: 0x10), port: 8443)]
        for octet: UInt32 in [0, 7, 10, 99, 100, 255] {
            for port: UInt16 in [0, 9, 10, 443, 8080, 65_535] {
                endpoints.append(Endpoint(address: IPAddress(ipv4: octet << 24 | (255 - octet) << 16 | octet << 8 | 1), port: port))
            }
        }
        var generator = SystemRandomNumberGenerator()
        for _ in 0..<500 {
            endpoints.append(Endpoint(address: IPAddress(ipv4: UInt32.random(in: 0...UInt32.max, using: &generator)),
                                      port: UInt16.random(in: 0...UInt16.max, using: &generator)))
        }
        var writer = ByteWriter(capacity: 16)
        var expected = ""
        for endpoint in endpoints {
            writer.append(endpoint)
            writer.append(" ")
            expected += endpoint.description + " "
        }
        #expect(writer.string == expected)
    }

    @Test(arguments: cases)
    func decodesTCP(_ c: Case) throws {
        let segment = try Self.decode(c.frame, linkType: c.linkType).get()
        #expect(segment.source.description == c.source)
        #expect(segment.destination.description == c.destination)
        #expect(segment.sequence == 1_000)
        #expect(segment.flags == [.psh, .ack])
        #expect(segment.window == 0x01F6)
        #expect(segment.tunnel == c.tunnel)
        #expect(Array(c.frame[segment.payloadRange]) == Self.payload)
        #expect(segment.payloadRange.upperBound == c.frame.count - (c.name.contains("padding") ? 6 : 0))
        #expect(segment.missingPayload == 0)
    }

    /// Every prefix of every frame, the wire length known (snapshot length):
    /// a failure, or a segment whose payload lies within the bytes given with
    /// what was cut reported as missing. Never a trap.
    @Test(arguments: cases)
    func everyTruncation(_ c: Case) {
        var successes = 0
        for length in 0..<c.frame.count {
            let prefix = Array(c.frame[0..<length])
            let result = prefix.withUnsafeBytes { FrameDecoder(linkType: c.linkType).decode($0, originalLength: c.frame.count) }
            switch result {
            case .success(let segment):
                successes += 1
                #expect(segment.payloadRange.upperBound <= length)
                #expect(Array(prefix[segment.payloadRange]) == Array(Self.payload.prefix(segment.payloadRange.count)), "cut at \(length)")
                #expect(segment.payloadRange.count + segment.missingPayload == Self.payload.count, "cut at \(length)")
                #expect(segment.tunnel == c.tunnel)
            case .failure(let failure):
                // Cut inside the headers: the frame was too short, never "not TCP".
                switch failure {
                case .truncated: break
                default: Issue.record("cut at \(length): \(failure)")
                }
            }
        }
        // Cut anywhere in the payload (or the padding) still decodes.
        let padding = c.name.contains("padding") ? 6 : 0
        #expect(successes == Self.payload.count + padding)
    }

    /// Cut files: the wire length is unknown (taken as the bytes present).
    /// Any answer will do but a trap, and a payload stays within the frame.
    @Test(arguments: cases)
    func everyTruncationWithoutWireLength(_ c: Case) {
        for length in 0...c.frame.count {
            let prefix = Array(c.frame[0..<length])
            let result = prefix.withUnsafeBytes { FrameDecoder(linkType: c.linkType).decode($0, originalLength: nil) }
            if case .success(let segment) = result {
                #expect(segment.payloadRange.upperBound <= length)
                #expect(segment.missingPayload == 0)
            }
        }
    }

    /// Precise failures: the layer and offset of the header that was cut or wrong.
    @Test(arguments: [
        ("empty Ethernet", LinkType.ethernet, [UInt8](), DecodeFailure.truncated(.link, offset: 0)),
        ("Ethernet header cut", LinkType.ethernet, Array(B.innerEthernet.prefix(13)), .truncated(.link, offset: 0)),
        ("VLAN tag cut", LinkType.ethernet, B.mac + [0x81, 0x00, 0x00], .truncated(.vlan, offset: 14)),
        ("IPv4 header cut", LinkType.ethernet, Array(B.innerEthernet.prefix(14 + 19)), .truncated(.ipv4, offset: 14)),
        // Cut with no wire length given: the IP length then overstates the frame.
        ("TCP header cut in a cut file", LinkType.ethernet, Array(B.innerEthernet.prefix(14 + 20 + 19)), .malformed(.ipv4, offset: 34)),
        ("IPv6 header cut", LinkType.rawLinktype, Array(B.ipv6(6, B.tcp()).prefix(39)), .truncated(.ipv6, offset: 0)),
        ("IP version 5", LinkType.rawLinktype, [0x50] + Array(B.innerIPv4TCP.dropFirst()), .malformed(.ipv4, offset: 0)),
        ("IHL below 5", LinkType.rawLinktype, [0x44] + Array(B.innerIPv4TCP.dropFirst()), .malformed(.ipv4, offset: 0)),
        ("total length below header", LinkType.rawLinktype, B.ipv4(6, B.tcp(), totalLength: 19), .malformed(.ipv4, offset: 0)),
        ("total length beyond wire", LinkType.rawLinktype, B.ipv4(6, B.tcp(), totalLength: 1_500), .malformed(.ipv4, offset: 20)),
        ("TCP data offset below 5", LinkType.rawLinktype,
         B.ipv4(6, Array(B.tcp()[0..<12]) + [0x40] + Array(B.tcp()[13...])), .malformed(.tcp, offset: 20)),
        ("TCP header beyond IP length", LinkType.rawLinktype, B.ipv4(6, B.tcp(), totalLength: 30), .malformed(.tcp, offset: 20)),
        ("unsupported link type", Int32(147), B.innerIPv4TCP, .unsupportedLinkType),
    ])
    func preciseFailure(_ name: String, _ linkType: Int32, _ frame: [UInt8], _ expected: DecodeFailure) {
        #expect(Self.decode(frame, linkType: linkType) == .failure(expected), "\(name)")
    }

    /// Cut by the snapshot length (wire length known): each header reports its own truncation.
    @Test(arguments: [
        ("TCP header", B.innerEthernet, 14 + 20 + 19, DecodeFailure.truncated(.tcp, offset: 34)),
        ("TCP options", B.ethernet(0x0800, B.ipv4(6, B.tcp(options: [1, 1, 1, 1]))), 14 + 20 + 22, .truncated(.tcp, offset: 34)),
        ("UDP header", B.vxlan(port: 4789, vni: 1), 14 + 20 + 3, .truncated(.udp, offset: 34)),
        ("VXLAN header", B.vxlan(port: 4789, vni: 1), 14 + 20 + 8 + 7, .truncated(.tunnel, offset: 42)),
        ("inner Ethernet", B.vxlan(port: 4789, vni: 1), 14 + 20 + 8 + 8 + 13, .truncated(.link, offset: 50)),
        ("LLC/SNAP header", B.mac + [0x00, 0x40, 0xAA, 0xAA, 0x03, 0, 0, 0, 0x08, 0x00] + B.innerIPv4TCP, 20, .truncated(.link, offset: 0)),
        ("IPv6 extension header", B.ipv6(0, [6, 0, 5, 2, 0, 0, 1, 0] + B.tcp()), 40, .truncated(.ipv6Extension, offset: 40)),
    ])
    func snaplenFailure(_ name: String, _ frame: [UInt8], _ cut: Int, _ expected: DecodeFailure) {
        let linkType = frame.first == 0x60 ? LinkType.rawLinktype : LinkType.ethernet
        #expect(Self.decode(Array(frame.prefix(cut)), linkType: linkType, originalLength: frame.count) == .failure(expected), "\(name)")
    }

    @Test(arguments: [
        ("ARP", LinkType.ethernet, B.ethernet(0x0806, [UInt8](repeating: 0, count: 28))),
        ("BSD loopback, other family", LinkType.null, [7, 0, 0, 0] + B.innerIPv4TCP),
        ("802.3 without SNAP", LinkType.ethernet, B.mac + [0x00, 0x40, 0x42, 0x42, 0x03] + [UInt8](repeating: 0, count: 40)),
    ])
    func notTCP(_ name: String, _ linkType: Int32, _ frame: [UInt8]) {
        #expect(Self.decode(frame, linkType: linkType) == .failure(.notTCP), "\(name)")
    }

    /// IP packets that are not TCP are described for the summary's count:
    /// addresses, protocol, UDP's ports, the payload's place and wire length.
    @Test(arguments: [
        ("UDP", LinkType.rawLinktype, B.ipv4(17, B.udp(destinationPort: 53, payload: [1, 2, 3, 4])),
         UInt8(17), "10.0.0.1", "10.0.0.2", UInt16(40_000), UInt16(53), 28..<32, 4),
        ("UDP to a non-tunnel port", LinkType.ethernet, B.outer(17, B.udp(destinationPort: 4790, payload: B.innerEthernet)),
         17, "192.168.0.1", "192.168.0.2", 40_000, 4790, 42..<(42 + B.innerEthernet.count), B.innerEthernet.count),
        ("ICMP", LinkType.rawLinktype, B.ipv4(1, [8, 0, 0, 0, 0, 1, 0, 1]), 1, "10.0.0.1", "10.0.0.2", 0, 0, 20..<28, 8),
        ("ESP", LinkType.ethernet, B.outer(50, [0, 0, 0x10, 1, 0, 0, 0, 7] + [UInt8](repeating: 0xA5, count: 40)),
         50, "192.168.0.1", "192.168.0.2", 0, 0, 34..<82, 48),
        ("IPv6 UDP", LinkType.rawLinktype, B.ipv6(17, B.udp(destinationPort: 53, payload: [1, 2, 3, 4])),
         17, "fd00::1", "fd00::2", 40_000, 53, 48..<52, 4),
        // The IP length claims more than the snapshot kept: the range stops at the captured end.
        ("UDP cut by the snapshot length", LinkType.rawLinktype, B.ipv4(17, B.udp(destinationPort: 9, payload: [UInt8](repeating: 1, count: 10))),
         17, "10.0.0.1", "10.0.0.2", 40_000, 9, 28..<34, 10),
    ] as [(String, Int32, [UInt8], UInt8, String, String, UInt16, UInt16, Range<Int>, Int)])
    func otherTransport(_ name: String, _ linkType: Int32, _ frame: [UInt8], _ proto: UInt8, _ source: String, _ destination: String,
                        _ sourcePort: UInt16, _ destinationPort: UInt16, _ payload: Range<Int>, _ wireLength: Int) throws {
        let cut = name.contains("snapshot") ? Array(frame.prefix(34)) : frame
        let result = cut.withUnsafeBytes { FrameDecoder(linkType: linkType).decode($0, originalLength: frame.count) }
        guard case .failure(.otherTransport(let packet)) = result else {
            Issue.record("\(name): \(result)")
            return
        }
        #expect(packet.transportProtocol == proto, "\(name)")
        #expect("\(packet.source)" == source && "\(packet.destination)" == destination, "\(name)")
        #expect(packet.sourcePort == sourcePort && packet.destinationPort == destinationPort, "\(name)")
        #expect(packet.payloadRange == payload, "\(name)")
        #expect(packet.payloadWireLength == wireLength, "\(name)")
    }

    @Test(arguments: [
        ("IPv4 more fragments", B.ipv4(6, B.tcp(), fragment: 0x2000)),
        ("IPv4 later fragment", B.ipv4(6, B.tcp(), fragment: 0x00B9)),
        ("IPv4 last fragment", B.ipv4(6, B.tcp(), fragment: 0x0010)),
        ("IPv6 fragment header", B.ipv6(44, [6, 0, 0x00, 0x01, 0, 0, 0, 1] + B.tcp())),
    ])
    func fragmentsAreNotParsedAsTCP(_ name: String, _ frame: [UInt8]) {
        guard case .failure(.fragment) = Self.decode(frame, linkType: LinkType.rawLinktype) else {
            Issue.record("\(name): not decoded as a fragment")
            return
        }
    }

    /// An atomic IPv6 fragment (offset 0, no more fragments) is the whole packet.
    @Test func atomicIPv6FragmentIsDecoded() throws {
        let frame = B.ipv6(44, [6, 0, 0, 0, 0, 0, 0, 1] + B.tcp())
        let segment = try Self.decode(frame, linkType: LinkType.rawLinktype).get()
        #expect(Array(frame[segment.payloadRange]) == Self.payload)
    }

    /// The decoder never looks at checksums: two frames that differ only in
    /// them decode to the same segment.
    @Test func checksumsAreIgnored() throws {
        var zeroed = B.innerIPv4TCP
        zeroed[10] = 0; zeroed[11] = 0     // IPv4 header checksum
        zeroed[36] = 0; zeroed[37] = 0     // TCP checksum
        let a = try Self.decode(B.innerIPv4TCP, linkType: LinkType.rawLinktype).get()
        let b = try Self.decode(zeroed, linkType: LinkType.rawLinktype).get()
        #expect(a == b)
        #expect(Array(zeroed[b.payloadRange]) == Self.payload)
    }

    /// Snapshot length: the captured part of the payload and how much is missing.
    @Test func snaplenReportsMissingPayload() throws {
        let frame = B.innerEthernet
        let captured = Array(frame.prefix(14 + 40 + 5))
        let segment = try Self.decode(captured, linkType: LinkType.ethernet, originalLength: frame.count).get()
        #expect(Array(captured[segment.payloadRange]) == Array(Self.payload.prefix(5)))
        #expect(segment.missingPayload == Self.payload.count - 5)
    }

    /// TSO with a snapshot length: the IP length is 0, so the wire length decides.
    @Test func tsoWithSnaplen() throws {
        let big = [UInt8](repeating: 0x41, count: 9_000)
        let frame = B.ethernet(0x0800, B.ipv4(6, B.tcp(payload: big), totalLength: 0))
        let captured = Array(frame.prefix(262))
        let segment = try Self.decode(captured, linkType: LinkType.ethernet, originalLength: frame.count).get()
        #expect(segment.payloadRange == 54..<262)
        #expect(segment.missingPayload == 9_000 - 208)
    }

    /// Tunnels inside tunnels are followed only so deep; a loop cannot recurse forever.
    @Test func nestingIsBounded() {
        var frame = B.innerIPv4TCP
        for _ in 0..<(FrameDecoder.maximumNesting + 1) { frame = B.ipv4(4, frame) }
        #expect(Self.decode(frame, linkType: LinkType.rawLinktype) == .failure(.malformed(.tunnel, offset: 20 * FrameDecoder.maximumNesting + 20)))
        var shallow = B.innerIPv4TCP
        for _ in 0..<FrameDecoder.maximumNesting { shallow = B.ipv4(4, shallow) }
        #expect((try? Self.decode(shallow, linkType: LinkType.rawLinktype).get())?.tunnel == Tunnel(kind: .ipInIP))
    }

    /// Garbage of every length through every link type: answers, never traps.
    @Test func randomFramesNeverTrap() {
        var rng = SplitMix(seed: 4_242)
        let linkTypes = Array(LinkType.supported)
        for round in 0..<2_000 {
            // Start from a valid frame and corrupt a few bytes, so the decoder gets deep.
            let c = Self.cases[round % Self.cases.count]
            var frame = c.frame
            for _ in 0..<(1 + rng.below(4)) { frame[rng.below(frame.count)] = UInt8(truncatingIfNeeded: rng.next()) }
            let cut = rng.below(frame.count + 1)
            let prefix = Array(frame[0..<cut])
            let linkType = rng.below(4) == 0 ? linkTypes[rng.below(linkTypes.count)] : c.linkType
            let result = prefix.withUnsafeBytes { FrameDecoder(linkType: linkType).decode($0, originalLength: frame.count) }
            if case .success(let segment) = result {
                #expect(segment.payloadRange.lowerBound >= 0 && segment.payloadRange.upperBound <= cut)
                #expect(segment.missingPayload >= 0)
            }
        }
    }
}
