import Testing
@testable import PacketDecoding

/// Hand-built frames through the decoder: each link layer, the payload where it
/// belongs, and every truncation an error or a shorter payload, never a trap.
@Suite struct DecoderTests {
    static let payload = Array("GET / HTTP/1.1\r\n\r\n".utf8)

    static func ipv4TCP(payload: [UInt8] = payload, totalLengthOverride: Int? = nil) -> [UInt8] {
        let total = totalLengthOverride ?? 20 + 20 + payload.count
        let ip: [UInt8] = [0x45, 0, UInt8(total >> 8), UInt8(total & 0xFF), 0, 0, 0x40, 0, 64, 6, 0xDE, 0xAD,
                           10, 0, 0, 1, 10, 0, 0, 2]
        let tcp: [UInt8] = [0xC3, 0x50, 0x00, 0x50, 0, 0, 0x03, 0xE8, 0, 0, 0, 0, 0x50, 0x18, 0x01, 0xF6, 0xBE, 0xEF, 0, 0]
        return ip + tcp + payload
    }

    static let ethernetHeader: [UInt8] = [2, 0, 0, 0, 0, 2, 2, 0, 0, 0, 0, 1]

    static func decode(_ frame: [UInt8], linkType: Int32) -> Result<TCPSegment, DecodeFailure> {
        frame.withUnsafeBytes { FrameDecoder(linkType: linkType).decode($0, originalLength: frame.count) }
    }

    struct Case: Sendable, CustomTestStringConvertible {
        var name: String
        var linkType: Int32
        var frame: [UInt8]
        var testDescription: String { name }
    }

    static let cases: [Case] = [
        Case(name: "Ethernet", linkType: LinkType.ethernet, frame: ethernetHeader + [0x08, 0x00] + ipv4TCP()),
        Case(name: "802.1Q", linkType: LinkType.ethernet, frame: ethernetHeader + [0x81, 0x00, 0x00, 0x64, 0x08, 0x00] + ipv4TCP()),
        Case(name: "QinQ", linkType: LinkType.ethernet,
             frame: ethernetHeader + [0x88, 0xA8, 0x00, 0x0A, 0x81, 0x00, 0x00, 0x64, 0x08, 0x00] + ipv4TCP()),
        Case(name: "802.3 with LLC/SNAP", linkType: LinkType.ethernet,
             frame: ethernetHeader + [0x00, 0x40, 0xAA, 0xAA, 0x03, 0, 0, 0, 0x08, 0x00] + ipv4TCP()),
        Case(name: "Ethernet padding not in payload", linkType: LinkType.ethernet,
             frame: ethernetHeader + [0x08, 0x00] + ipv4TCP() + [0, 0, 0, 0, 0, 0]),
        Case(name: "raw IPv4", linkType: LinkType.rawLinktype, frame: ipv4TCP()),
        Case(name: "BSD loopback, little-endian family", linkType: LinkType.null, frame: [2, 0, 0, 0] + ipv4TCP()),
        Case(name: "BSD loopback, big-endian family", linkType: LinkType.null, frame: [0, 0, 0, 2] + ipv4TCP()),
        Case(name: "Linux cooked v1", linkType: LinkType.linuxCooked,
             frame: [0, 0, 0, 1, 0, 6, 2, 0, 0, 0, 0, 1, 0, 0, 0x08, 0x00] + ipv4TCP()),
        Case(name: "Linux cooked v2", linkType: LinkType.linuxCooked2,
             frame: [0x08, 0x00, 0, 0, 0, 0, 0, 3, 0, 1, 0, 6, 2, 0, 0, 0, 0, 1, 0, 0] + ipv4TCP()),
    ]

    @Test(arguments: cases)
    func decodesTCP(_ c: Case) throws {
        let segment = try Self.decode(c.frame, linkType: c.linkType).get()
        #expect(segment.source.description == "10.0.0.1:50000")
        #expect(segment.destination.description == "10.0.0.2:80")
        #expect(segment.sequence == 1_000)
        #expect(segment.flags == [.psh, .ack])
        #expect(Array(c.frame[segment.payloadRange]) == Self.payload)
        #expect(segment.missingPayload == 0)
    }

    /// Every prefix of every frame: a failure or a segment whose payload lies
    /// within the bytes given, with what was cut reported as missing.
    @Test(arguments: cases)
    func everyTruncation(_ c: Case) {
        for length in 0..<c.frame.count {
            let prefix = Array(c.frame[0..<length])
            let result = prefix.withUnsafeBytes { FrameDecoder(linkType: c.linkType).decode($0, originalLength: c.frame.count) }
            if case .success(let segment) = result {
                #expect(segment.payloadRange.upperBound <= length)
                #expect(segment.payloadRange.count + segment.missingPayload == Self.payload.count, "cut at \(length)")
            }
        }
    }

    @Test func checksumsAreIgnored() throws {
        // 0xDEAD and 0xBEEF above are wrong checksums, as offloading leaves them on the node.
        let segment = try Self.decode(Self.ipv4TCP(), linkType: LinkType.rawLinktype).get()
        #expect(segment.payloadRange.count == Self.payload.count)
    }

    @Test func fragmentsAreNotParsedAsTCP() {
        var frame = Self.ipv4TCP()
        frame[6] = 0x20  // more fragments
        guard case .failure(.fragment) = Self.decode(frame, linkType: LinkType.rawLinktype) else {
            Issue.record("a first fragment must be reported as a fragment")
            return
        }
    }
}
