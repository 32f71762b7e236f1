import Testing
@testable import PayloadClassification

/// Load balancers and ingress controllers prepend a PROXY protocol header;
/// what follows it decides the verdict, whether it arrives whole or in pieces.
@Suite struct ProxyProtocolTests {
    static let v1 = Array("PROXY TCP4 192.0.2.1 10.111.1.122 51884 80\r\n".utf8)
    static let v2: [UInt8] = Probes.proxyV2Signature + [0x21, 0x11, 0x00, 0x0C] + [192, 0, 2, 1, 10, 111, 1, 122, 0xCA, 0xAC, 0x00, 0x50]

    static func summary(_ bytes: [UInt8], pieces: Int) -> DirectionSummary {
        var classifier = DirectionClassifier()
        let size = max(1, bytes.count / pieces)
        var i = 0
        while i < bytes.count {
            bytes[i..<min(bytes.count, i + size)].withUnsafeBytes { classifier.receive($0) }
            i += size
        }
        return classifier.finish()
    }

    /// What only PROXY headers and upgrades need is kept out of line, yet a
    /// classifier stays a value: a copy taken after the header keeps its own
    /// upgrade. Each stream below turns to TLS and then breaks its framing,
    /// so its summary falls back to what it was before the upgrade; with the
    /// state shared, the original's later upgrade would overwrite the copy's.
    @Test func copiesKeepTheirOwnRareState() {
        let secret = Array("GET /secret HTTP/1.1\r\nHost: x\r\n\r\n".utf8)
        var original = DirectionClassifier()
        Self.v1.withUnsafeBytes { original.receive($0) }
        var copy = original
        (UpgradeTests.connect + secret).withUnsafeBytes { copy.receive($0) }
        (UpgradeTests.smtpClient + secret).withUnsafeBytes { original.receive($0) }
        let copied = copy.finish(), kept = original.finish()
        #expect(copied.kind == .http)
        #expect(copied.evidence?.hasPrefix("CONNECT api.example.com:443 HTTP/1.1") == true)
        #expect(kept.protocolName == "smtp")
        #expect(kept.preamble == "PROXY protocol v1")
    }

    /// An upgrade after the header: the preamble counts the upgrade's own
    /// bytes (67 for this CONNECT request), not the header's too, which is
    /// named on its own; however the bytes arrive.
    @Test(arguments: [("v1", v1), ("v2", v2)])
    func upgradeAfterHeaderCountsItsOwnBytes(_ name: String, _ header: [UInt8]) {
        let stream = header + UpgradeTests.connect
        let whole = Self.summary(stream, pieces: 1)
        #expect(whole.kind == .tls)
        #expect(whole.preamble == "PROXY protocol \(name), HTTP CONNECT (67 bytes), then TLS")
        for pieces in [3, 50, stream.count] {
            #expect(Self.summary(stream, pieces: pieces) == whole, "\(pieces) pieces")
        }
    }

    @Test(arguments: [("v1", v1), ("v2", v2)])
    func tlsAfterHeader(_ name: String, _ header: [UInt8]) throws {
        let directions = try StreamInvarianceTests.directions(of: "permissive.pcap")
        let clientTLS = StreamInvarianceTests.stream(try #require(directions.first))
        let whole = Self.summary(header + clientTLS, pieces: 1)
        #expect(whole.kind == .tls)
        #expect(whole.preamble == "PROXY protocol \(name)")
        #expect(whole.handshake.serverName == "outbound_.80_._.webserver.default.svc.cluster.local")
        for pieces in [3, 50, header.count + clientTLS.count] {
            #expect(Self.summary(header + clientTLS, pieces: pieces) == whole, "\(pieces) pieces")
        }
    }

    @Test(arguments: [("v1", v1), ("v2", v2)])
    func httpAfterHeader(_ name: String, _ header: [UInt8]) {
        let request = Array("GET /health HTTP/1.1\r\nHost: web\r\n\r\n".utf8)
        let whole = Self.summary(header + request, pieces: 1)
        #expect(whole.kind == .http)
        #expect(whole.evidence == "GET /health HTTP/1.1 (Host: web)")
        #expect(Self.summary(header + request, pieces: header.count + request.count) == whole)
    }
}
