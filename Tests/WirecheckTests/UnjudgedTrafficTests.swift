import Foundation
import Testing
@testable import PacketDecoding
@testable import Reporting
@testable import VerdictPolicy

/// IP traffic besides TCP is counted by kind for the summary: WireGuard told
/// by its messages' structure (type, reserved zeros, each type's length; the
/// WireGuard paper §5.4), ESP by its protocol number, the rest as other UDP
/// or other IP protocols; host pairs counted up to a bound.
@Suite struct UnjudgedTrafficTests {
    static let a = IPAddress(ipv4: 0x0ACA_0001), b = IPAddress(ipv4: 0x0ACA_0002), c = IPAddress(ipv4: 0x0ACA_0003)

    /// Counts one packet of `proto` from `source` to `destination` whose payload is `payload`.
    static func add(_ traffic: inout UnjudgedTraffic, _ proto: UInt8 = 17, _ source: IPAddress = a, _ destination: IPAddress = b,
                    payload: [UInt8]) {
        let packet = OtherTransportPacket(source: source, destination: destination, transportProtocol: proto,
                                          sourcePort: 51_820, destinationPort: 51_820, payloadRange: 0..<payload.count,
                                          payloadWireLength: payload.count, tunnel: .none)
        payload.withUnsafeBytes { traffic.add(packet, frame: $0) }
    }

    static func message(_ type: UInt8, length: Int) -> [UInt8] {
        [type, 0, 0, 0] + [UInt8](repeating: 0x5C, count: length - 4)
    }

    @Test func wireGuardMessagesByTypeAndLength() {
        for (type, length) in [(UInt8(1), 148), (2, 92), (3, 64), (4, 32), (4, 48), (4, 32 + 16 * 87)] {
            var traffic = UnjudgedTraffic()
            Self.add(&traffic, payload: Self.message(type, length: length))
            #expect(traffic[.wireGuard].packets == 1, "type \(type), \(length) bytes")
        }
        // A length its type does not have, a reserved byte set, an unknown type: other UDP.
        var other = UnjudgedTraffic()
        Self.add(&other, payload: Self.message(1, length: 147))
        Self.add(&other, payload: Self.message(2, length: 93))
        Self.add(&other, payload: Self.message(4, length: 31))
        Self.add(&other, payload: Self.message(4, length: 50))
        Self.add(&other, payload: [1, 0, 1, 0] + [UInt8](repeating: 0, count: 144))
        Self.add(&other, payload: Self.message(5, length: 64))
        Self.add(&other, payload: [4, 0])
        #expect(other[.wireGuard].packets == 0)
        #expect(other[.udp].packets == 7)
    }

    /// Transport data at the tunnel's MTU is not padded to 16 bytes: taken as
    /// WireGuard only between hosts already seen speaking it.
    @Test func fullSizeDataAfterAHandshake() {
        var traffic = UnjudgedTraffic()
        let fullSize = Self.message(4, length: 1_452)
        Self.add(&traffic, payload: fullSize)
        #expect(traffic[.udp].packets == 1 && traffic[.wireGuard].packets == 0)
        Self.add(&traffic, 17, Self.b, Self.a, payload: Self.message(2, length: 92))
        Self.add(&traffic, payload: fullSize)
        #expect(traffic[.wireGuard].packets == 2)
        // Another pair of hosts: not yet.
        Self.add(&traffic, 17, Self.a, Self.c, payload: fullSize)
        #expect(traffic[.udp].packets == 2)
        #expect(traffic[.wireGuard].hostPairs == 1)
        #expect(traffic[.wireGuard].bytes == 92 + 1_452)
    }

    @Test func espAndOtherProtocols() {
        var traffic = UnjudgedTraffic()
        Self.add(&traffic, 50, payload: [0, 0, 0x10, 1] + [UInt8](repeating: 7, count: 60))
        Self.add(&traffic, 1, payload: [8, 0, 0, 0, 0, 1, 0, 1])
        // ESP's first bytes (its SPI) can look like anything: the protocol number says ESP.
        Self.add(&traffic, 50, payload: Self.message(1, length: 148))
        #expect(traffic[.esp].packets == 2 && traffic[.esp].hostPairs == 1)
        #expect(traffic[.otherIP].packets == 1)
        #expect(UnjudgedTraffic.Kind.esp.isEncryptedTunnel && !UnjudgedTraffic.Kind.udp.isEncryptedTunnel)
    }

    /// A DNS query for web.default.svc.cluster.local (type A, class IN).
    static let dnsQuery: [UInt8] = [0x12, 0x34, 0x01, 0x00, 0, 1, 0, 0, 0, 0, 0, 0]
        + [3] + Array("web".utf8) + [7] + Array("default".utf8) + [3] + Array("svc".utf8) + [7] + Array("cluster".utf8)
        + [5] + Array("local".utf8) + [0, 0, 1, 0, 1]

    @Test func dnsByItsHeaderAndQuestion() {
        var traffic = UnjudgedTraffic()
        Self.add(&traffic, payload: Self.dnsQuery)
        // The answer: the question repeated, then a record whose name points back at it.
        var answer = Self.dnsQuery
        answer[2] = 0x81
        answer[3] = 0x80
        answer[7] = 1
        answer += [0xC0, 12, 0, 1, 0, 1, 0, 0, 0, 30, 0, 4, 10, 96, 0, 10]
        Self.add(&traffic, 17, Self.b, Self.a, payload: answer)
        // mDNS asks for a unicast reply with the class's top bit.
        var mdns = Self.dnsQuery
        mdns[mdns.count - 2] = 0x80
        Self.add(&traffic, payload: mdns)
        // An mDNS answer without its question.
        let announcement: [UInt8] = [0, 0, 0x84, 0, 0, 0, 0, 1, 0, 0, 0, 0] + [4] + Array("node".utf8) + [5] + Array("local".utf8)
            + [0, 0, 1, 0x80, 1, 0, 0, 0, 120, 0, 4, 10, 0, 0, 9]
        Self.add(&traffic, payload: announcement)
        #expect(traffic[.dns].packets == 4 && traffic[.dns].hostPairs == 1)
        // NetBIOS name service: the same format, one 32-byte label of letters A-P.
        let netbios: [UInt8] = [0x80, 0x01, 0x01, 0x10, 0, 1, 0, 0, 0, 0, 0, 0, 32] + Array("EBEFEOEEEDEFEMEJEEFEEFEGCACACAAA".utf8)
            + [0, 0, 0x20, 0, 1]
        var nbns = UnjudgedTraffic()
        Self.add(&nbns, payload: netbios)
        #expect(nbns[.dns].packets == 0 && nbns[.udp].packets == 1)
        // Near misses: 65 questions, the Z bit, a label over 63 bytes, a
        // pointer in the question, a name running past the end, class 2, a status opcode.
        var other = UnjudgedTraffic()
        var twoQuestions = Self.dnsQuery; twoQuestions[5] = 65
        var zBit = Self.dnsQuery; zBit[3] = 0x40
        let longLabel = Array(Self.dnsQuery.prefix(12)) + [64] + [UInt8](repeating: 0x61, count: 64) + [0, 0, 1, 0, 1]
        var pointer = Self.dnsQuery; pointer[12] = 0xC0
        var classTwo = Self.dnsQuery; classTwo[classTwo.count - 1] = 2
        var opcode = Self.dnsQuery; opcode[2] = 0x10
        for payload in [twoQuestions, zBit, longLabel, pointer, classTwo, opcode, Array(Self.dnsQuery.prefix(30))] {
            Self.add(&other, payload: payload)
        }
        #expect(other[.dns].packets == 0, "\(other)")
        #expect(other[.udp].packets == 7)
    }

    /// QUIC: a long header names its version; the short headers that
    /// follow between the same hosts are taken as QUIC after it.
    @Test func quicByLongHeaderThenShortHeaders() {
        var traffic = UnjudgedTraffic()
        let shortHeader: [UInt8] = [0x43] + [UInt8](repeating: 0x9E, count: 40)
        Self.add(&traffic, payload: shortHeader)
        #expect(traffic[.udp].packets == 1)
        let initial: [UInt8] = [0xC3, 0, 0, 0, 1, 8] + [UInt8](repeating: 7, count: 8) + [0] + [UInt8](repeating: 0, count: 1_180)
        Self.add(&traffic, payload: initial)
        Self.add(&traffic, 17, Self.b, Self.a, payload: shortHeader)
        #expect(traffic[.quic].packets == 2 && traffic[.quic].hostPairs == 1)
        #expect(UnjudgedTraffic.Kind.quic.isEncrypted && !UnjudgedTraffic.Kind.quic.isEncryptedTunnel)
        // Version 2 and a draft; version negotiation (version 0, fixed bit free).
        for version: [UInt8] in [[0x6B, 0x33, 0x43, 0xCF], [0xFF, 0, 0, 29], Array("Q050".utf8), Array("T051".utf8)] {
            var v = UnjudgedTraffic()
            Self.add(&v, payload: [0xC0] + version + [0, 0] + [UInt8](repeating: 0, count: 30))
            #expect(v[.quic].packets == 1, "\(version)")
        }
        var negotiation = UnjudgedTraffic()
        Self.add(&negotiation, payload: [0x80, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1])
        #expect(negotiation[.quic].packets == 1)
        // An unknown version, a connection ID over 20 bytes, the fixed bit clear: other UDP.
        var other = UnjudgedTraffic()
        Self.add(&other, payload: [0xC0, 0, 0, 0, 7, 0, 0] + [UInt8](repeating: 0, count: 20))
        Self.add(&other, payload: [0xC0, 0, 0, 0, 1, 21] + [UInt8](repeating: 0, count: 30))
        Self.add(&other, payload: [0x80, 0, 0, 0, 1, 0, 0] + [UInt8](repeating: 0, count: 20))
        #expect(other[.quic].packets == 0 && other[.udp].packets == 3)
    }

    /// Both directions are one pair; past the bound, pairs stop being
    /// remembered and the counts say they are lower bounds.
    @Test func hostPairsAreBounded() {
        var traffic = UnjudgedTraffic()
        Self.add(&traffic, payload: [1])
        Self.add(&traffic, 17, Self.b, Self.a, payload: [1])
        #expect(traffic[.udp].hostPairs == 1 && !traffic.hostPairsCapped)
        for n in 0..<(UnjudgedTraffic.maximumPairs + 10) {
            Self.add(&traffic, 17, IPAddress(ipv4: 0x0B00_0000 + UInt32(n)), Self.a, payload: [1])
        }
        #expect(traffic[.udp].hostPairs == UnjudgedTraffic.maximumPairs)
        #expect(traffic.hostPairsCapped)
        #expect(traffic[.udp].packets == UnjudgedTraffic.maximumPairs + 12)
    }

    @Test func summariesSayWhatWasNotJudged() throws {
        var facts = CaptureFacts(source: "test")
        #expect(!TextReporter().summary(RunSummary(), capture: facts).contains("not judged"))
        #expect(!JSONLinesReporter().summary(RunSummary(), capture: facts).contains("notJudged"))
        Self.add(&facts.unjudged, payload: Self.message(1, length: 148))
        Self.add(&facts.unjudged, 17, Self.b, Self.a, payload: Self.message(2, length: 92))
        Self.add(&facts.unjudged, 1, payload: [8, 0, 0, 0])
        let text = TextReporter().summary(RunSummary(), capture: facts)
        #expect(text.contains("not judged (not TCP): 2 WireGuard packets between 1 host pair (encrypted tunnel), 1 packet of other IP protocols (ICMP…) between 1 host pair\n"), "\(text)")
        // No flow at all, but encrypted tunnels: where the flows inside can be judged.
        #expect(text.contains("note: the pods' TCP inside those tunnels is judged where it is captured before the node encrypts it"))
        let json = try #require(try JSONSerialization.jsonObject(with: Data(JSONLinesReporter().summary(RunSummary(), capture: facts).utf8)) as? [String: Any])
        let kinds = try #require(json["notJudged"] as? [[String: Any]])
        #expect(kinds.map { $0["kind"] as? String } == ["wireguard", "other-ip"])
        #expect(kinds.map { $0["encrypted"] as? Bool } == [true, false])
        #expect(kinds.map { $0["tunnel"] as? Bool } == [true, false])
        #expect(kinds.map { $0["packets"] as? Int } == [2, 1])
        #expect(kinds.map { $0["bytes"] as? Int } == [240, 4])
        #expect(json["notJudgedHostPairsCapped"] == nil)
    }

    /// UDP text in clear (syslog, DogStatsD, Graphite) is named apart from
    /// other UDP: the first 32 bytes, or all of a shorter datagram of at least
    /// 16, printable ASCII or line breaks.
    @Test func textDatagramsInClear() throws {
        let texts = [
            "<13>1 2026-12-02T10:00:00Z node app - - - login ok for alice\n",
            "http.requests:1|c|#service:web,env:prod",
            "servers.node1.cpu.load 0.42 1796205600\n",
            "sixteen bytes ok",
            "tab\tand\r\nline breaks.......",
        ]
        for text in texts {
            var traffic = UnjudgedTraffic()
            Self.add(&traffic, payload: Array(text.utf8))
            #expect(traffic[.udpText].packets == 1 && traffic[.udp].packets == 0, "\(text)")
        }
        // Too short to tell; a NUL, a control byte or a byte above ASCII
        // within the first 32; random bytes; a DNS query stays DNS.
        var rng = SplitMix(seed: 7)
        let random = (0..<64).map { _ in UInt8(truncatingIfNeeded: rng.next()) }
        let others: [[UInt8]] = [
            Array("fifteen bytes!!".utf8),
            Array("metric.name:1|c".utf8) + [0] + Array("more text after a NUL".utf8),
            Array("escape \u{1B}[31m colours in a log line".utf8),
            Array("caf\u{E9} au lait, served as UTF-8".utf8),
            random,
        ]
        for payload in others {
            var traffic = UnjudgedTraffic()
            Self.add(&traffic, payload: payload)
            #expect(traffic[.udpText].packets == 0 && traffic[.udp].packets == 1, "\(payload)")
        }
        // Only the first 32 bytes are read: a binary tail after them does not matter.
        var tail = UnjudgedTraffic()
        Self.add(&tail, payload: Array("0123456789abcdefghijklmnopqrstuv".utf8) + [0, 1, 2, 3])
        #expect(tail[.udpText].packets == 1)

        var facts = CaptureFacts(source: "test")
        Self.add(&facts.unjudged, payload: Array(texts[1].utf8))
        Self.add(&facts.unjudged, 17, Self.b, Self.a, payload: Array(texts[2].utf8))
        let text = TextReporter().summary(RunSummary(), capture: facts)
        #expect(text.contains("not judged (not TCP): 2 UDP packets of printable text (syslog, statsd…) between 1 host pair (cleartext)\n"), "\(text)")
        let json = try #require(try JSONSerialization.jsonObject(with: Data(JSONLinesReporter().summary(RunSummary(), capture: facts).utf8)) as? [String: Any])
        let kinds = try #require(json["notJudged"] as? [[String: Any]])
        #expect(kinds.map { $0["kind"] as? String } == ["udp-text"])
        #expect(kinds.map { $0["encrypted"] as? Bool } == [false])
    }

    /// MessagePack's fixstr: a length byte and the string.
    static func fixstr(_ text: String) -> [UInt8] { [0xA0 | UInt8(text.utf8.count)] + Array(text.utf8) }

    /// A memberlist message: its type, then a map whose keys come in name order.
    static func gossip(_ type: UInt8, keys: [String]) -> [UInt8] {
        [type, 0x80 | UInt8(keys.count)] + keys.flatMap { fixstr($0) + [0x01] }
    }

    static func withCRC(_ message: [UInt8]) -> [UInt8] {
        let sum = message.withUnsafeBytes { UnjudgedTraffic.crc32($0) }
        return [12, UInt8(sum >> 24), UInt8(sum >> 16 & 0xFF), UInt8(sum >> 8 & 0xFF), UInt8(sum & 0xFF)] + message
    }

    @Test func crc32MatchesZlib() {
        #expect(Array("123456789".utf8).withUnsafeBytes { UnjudgedTraffic.crc32($0) } == 0xCBF4_3926)
        #expect([UInt8]().withUnsafeBytes { UnjudgedTraffic.crc32($0) } == 0)
    }

    /// memberlist's gossip without a gossip key (Alertmanager's cluster, Consul,
    /// Serf): its messages' structure, and the CRC-32 when one is sent. The
    /// lab's real Alertmanagers' datagrams are in Captures/lab-services.pcap.
    @Test func memberlistGossipInClear() {
        let ping = Self.gossip(0, keys: ["Node", "SeqNo", "SourceAddr", "SourceNode", "SourcePort"])
        let ack = Self.gossip(2, keys: ["Payload", "SeqNo"])
        let alive = Self.gossip(4, keys: ["Addr", "Incarnation", "Meta", "Node", "Port", "Vsn"])
        let dead = Self.gossip(5, keys: ["From", "Incarnation", "Node"])
        let compound = [7, 2] + [UInt8(0), UInt8(alive.count), 0, UInt8(dead.count)] + alive + dead
        let labelled = [244, 5] + Array("prod1".utf8) + ping
        let map16 = [UInt8(3), 0xDE, 0, 3] + Self.fixstr("Incarnation") + [1]
        for (name, payload) in [("ping", ping), ("ack", ack), ("compound", compound), ("with a CRC", Self.withCRC(compound)),
                                ("labelled", labelled), ("map16", map16)] {
            var traffic = UnjudgedTraffic()
            Self.add(&traffic, payload: payload)
            #expect(traffic[.memberlist].packets == 1, "\(name)")
        }
        // A CRC that does not match the datagram; a key no message starts
        // with; a user message (the application's bytes); compound parts
        // that do not add up to the datagram; a gossip key's ciphertext
        // (version 1, a nonce, random bytes): other UDP.
        var badCRC = Self.withCRC(compound)
        badCRC[badCRC.count - 1] ^= 1
        var rng = SplitMix(seed: 11)
        let encrypted = [UInt8(1)] + (0..<120).map { _ in UInt8(truncatingIfNeeded: rng.next()) }
        let short = [UInt8(7), 2, 0, UInt8(alive.count), 0, UInt8(dead.count + 1)] + alive + dead
        // A right checksum over bytes that are not gossip proves nothing: the structure is read first.
        let checksummedNoise = Self.withCRC((0..<64).map { _ in UInt8(truncatingIfNeeded: rng.next()) })
        for (name, payload) in [("bad CRC", badCRC), ("checksummed noise", checksummedNoise), ("unknown key", Self.gossip(0, keys: ["Nodes", "SeqNo"])),
                                ("user message", [8] + Array("alertmanager state".utf8) + [0, 1, 2]),
                                ("parts not adding up", short), ("encrypted", encrypted)] {
            var traffic = UnjudgedTraffic()
            Self.add(&traffic, payload: payload)
            #expect(traffic[.memberlist].packets == 0 && traffic[.udp].packets == 1, "\(name)")
        }
        // Cut by the snapshot length: the CRC cannot be checked, the structure still is.
        let whole = Self.withCRC(compound)
        var cut = UnjudgedTraffic()
        let packet = OtherTransportPacket(source: Self.a, destination: Self.b, transportProtocol: 17, sourcePort: 9094, destinationPort: 9094,
                                          payloadRange: 0..<40, payloadWireLength: whole.count, tunnel: .none)
        whole.withUnsafeBytes { cut.add(packet, frame: UnsafeRawBufferPointer(rebasing: $0[0..<40])) }
        #expect(cut[.memberlist].packets == 1)
    }

    /// Cleartext UDP (memberlist gossip, text; not DNS) is listed by
    /// destination, most packets first, up to a bound; the text summary shows
    /// the first ten and counts the rest.
    @Test func cleartextUDPByDestination() throws {
        func send(_ traffic: inout UnjudgedTraffic, to destination: IPAddress, port: UInt16, _ payload: [UInt8]) {
            let packet = OtherTransportPacket(source: Self.a, destination: destination, transportProtocol: 17, sourcePort: 40_000,
                                              destinationPort: port, payloadRange: 0..<payload.count, payloadWireLength: payload.count, tunnel: .none)
            payload.withUnsafeBytes { traffic.add(packet, frame: $0) }
        }
        let line = Array("<13>1 2026-12-02T10:00:00Z node app - - - login ok".utf8)
        let ping = Self.gossip(0, keys: ["Node", "SeqNo"])
        var traffic = UnjudgedTraffic()
        for _ in 0..<3 { send(&traffic, to: Self.b, port: 514, line) }
        send(&traffic, to: Self.c, port: 9094, ping)
        send(&traffic, to: Self.c, port: 514, line)
        // DNS and other UDP are not listed.
        send(&traffic, to: Self.b, port: 53, [0x12, 0x34, 0x01, 0x00, 0, 1, 0, 0, 0, 0, 0, 0, 3] + Array("web".utf8) + [0, 0, 1, 0, 1])
        send(&traffic, to: Self.b, port: 9999, [0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16])
        #expect(traffic[.dns].packets == 1 && traffic[.udp].packets == 1)
        let ranked = traffic.cleartextDestinationsRanked
        #expect(ranked.map { "\($0.destination.destination) \($0.destination.kind.key) \($0.packets)" }
            == ["10.202.0.2:514 udp-text 3", "10.202.0.3:514 udp-text 1", "10.202.0.3:9094 memberlist 1"])
        var facts = CaptureFacts(source: "test")
        facts.unjudged = traffic
        let text = TextReporter().summary(RunSummary(), capture: facts)
        #expect(text.contains("cleartext UDP by destination, most packets first:\n  10.202.0.2:514   3 packets (text)\n  10.202.0.3:514   1 packet (text)\n  10.202.0.3:9094  1 packet (memberlist gossip)\n"), "\(text)")
        let json = try #require(try JSONSerialization.jsonObject(with: Data(JSONLinesReporter().summary(RunSummary(), capture: facts).utf8)) as? [String: Any])
        let listed = try #require(json["cleartextUDP"] as? [[String: Any]])
        #expect(listed.map { $0["destination"] as? String } == ["10.202.0.2:514", "10.202.0.3:514", "10.202.0.3:9094"])
        #expect(listed.map { $0["kind"] as? String } == ["udp-text", "udp-text", "memberlist"])
        #expect(listed.map { $0["packets"] as? Int } == [3, 1, 1])
        #expect(json["cleartextUDPToUnlistedDestinations"] == nil)

        // Beyond the bound, packets to new destinations are counted apart.
        var many = UnjudgedTraffic()
        for port in 1...(UnjudgedTraffic.maximumDestinations + 5) { send(&many, to: Self.b, port: UInt16(port), line) }
        send(&many, to: Self.b, port: 1, line)
        #expect(many.cleartextDestinations.count == UnjudgedTraffic.maximumDestinations)
        #expect(many.cleartextPacketsUnlisted == 5)
        #expect(many.cleartextDestinationsRanked.first?.packets == 2)
        facts.unjudged = many
        let manyText = TextReporter().summary(RunSummary(), capture: facts)
        #expect(manyText.contains("  and \(UnjudgedTraffic.maximumDestinations - 10 + 5) packets to more than \(UnjudgedTraffic.maximumDestinations - 10) other destinations (only the first \(UnjudgedTraffic.maximumDestinations) seen are tracked; --json lists those)\n"), "\(manyText)")
        let manyJSON = try #require(try JSONSerialization.jsonObject(with: Data(JSONLinesReporter().summary(RunSummary(), capture: facts).utf8)) as? [String: Any])
        #expect(manyJSON["cleartextUDPToUnlistedDestinations"] as? Int == 5)
        #expect((manyJSON["cleartextUDP"] as? [[String: Any]])?.count == UnjudgedTraffic.maximumDestinations)
    }
}
