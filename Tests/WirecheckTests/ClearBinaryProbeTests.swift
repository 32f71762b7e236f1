import Testing
@testable import PayloadClassification

/// Cleartext protocols with binary framing: recognised from their framing, never from a port.
@Suite struct ClearBinaryProbeTests {
    static func be32(_ v: Int) -> [UInt8] { [UInt8(v >> 24 & 0xFF), UInt8(v >> 16 & 0xFF), UInt8(v >> 8 & 0xFF), UInt8(v & 0xFF)] }

    static let postgresStartup: [UInt8] = {
        let body = Array("user\0alice\0database\0orders\0\0".utf8)
        return be32(8 + body.count) + [0, 3, 0, 0] + body
    }()
    static let mysqlGreeting: [UInt8] = {
        let version = Array("8.0.36\0".utf8)
        let body: [UInt8] = [10] + version + [1, 0, 0, 0] + Array(repeating: 0x41, count: 8) + [0] + Array(repeating: 0, count: 20)
        return [UInt8(body.count), 0, 0, 0] + body
    }()
    static let dnsQuery: [UInt8] = {
        let name: [UInt8] = [3] + Array("www".utf8) + [7] + Array("example".utf8) + [3] + Array("com".utf8) + [0]
        let message: [UInt8] = [0x12, 0x34, 0x01, 0x00, 0, 1, 0, 0, 0, 0, 0, 0] + name + [0, 1, 0, 1]
        return [UInt8(message.count >> 8), UInt8(message.count & 0xFF)] + message
    }()
    static let bgpKeepalive: [UInt8] = Array(repeating: 0xFF, count: 16) + [0, 19, 4]

    @Test(arguments: [
        ("postgresql", postgresStartup, "PostgreSQL startup (user alice)"),
        ("mysql", mysqlGreeting, "MySQL greeting, server 8.0.36"),
        ("dns", dnsQuery, "DNS query for www.example.com"),
        ("bgp", bgpKeepalive + bgpKeepalive, "BGP KEEPALIVE"),
    ])
    func recognised(_ name: String, _ bytes: [UInt8], _ evidence: String) {
        var classifier = DirectionClassifier()
        bytes.withUnsafeBytes { classifier.receive($0) }
        let summary = classifier.finish()
        #expect(summary.kind == .cleartextProtocol)
        #expect(summary.protocolName == name)
        #expect(summary.evidence == evidence)
    }

    /// Picked up mid-stream, BGP is found at its next marker.
    @Test func bgpMidStream() {
        var classifier = DirectionClassifier(startsMidStream: true)
        let bytes: [UInt8] = [0x40, 0x01, 0x01, 0x00, 0x50, 0x02] + Self.bgpKeepalive + Self.bgpKeepalive
        bytes.withUnsafeBytes { classifier.receive($0) }
        let summary = classifier.finish()
        #expect(summary.protocolName == "bgp")
    }

    /// Random bytes are none of these.
    @Test func randomIsBinary() {
        var rng = SplitMix(seed: 99)
        let bytes = (0..<600).map { _ in UInt8(truncatingIfNeeded: rng.next()) }
        var classifier = DirectionClassifier()
        bytes.withUnsafeBytes { classifier.receive($0) }
        #expect(classifier.finish().kind == .binary)
    }
}
