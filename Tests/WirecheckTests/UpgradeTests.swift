import Testing
@testable import PayloadClassification

/// Builds WebSocket frames (RFC 6455) for tests.
enum WebSocketBuilder {
    static func frame(_ opcode: UInt8, _ payload: [UInt8], fin: Bool = true, mask: [UInt8]? = nil, rsv1: Bool = false) -> [UInt8] {
        var out: [UInt8] = [(fin ? 0x80 : 0) | (rsv1 ? 0x40 : 0) | opcode]
        let maskBit: UInt8 = mask == nil ? 0 : 0x80
        if payload.count < 126 {
            out.append(maskBit | UInt8(payload.count))
        } else if payload.count <= 0xFFFF {
            out += [maskBit | 126, UInt8(payload.count >> 8), UInt8(payload.count & 0xFF)]
        } else {
            out.append(maskBit | 127)
            for shift in stride(from: 56, through: 0, by: -8) { out.append(UInt8(truncatingIfNeeded: payload.count >> shift)) }
        }
        guard let mask else { return out + payload }
        out += mask
        return out + payload.enumerated().map { $0.element ^ mask[$0.offset & 3] }
    }

    static let clientHead = Array("GET /tunnel HTTP/1.1\r\nHost: gw\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Key: x3JJHMbDL1EzLkh9GBhXDw==\r\nSec-WebSocket-Version: 13\r\n\r\n".utf8)
    static let serverHead = Array("HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Accept: HSmrc0sMlYUkAGmm5OPpG2HaGWk=\r\n\r\n".utf8)

    /// `payload` cut into a fragmented binary message (binary, continuations), with a ping in between.
    static func message(_ payload: [UInt8], masked: Bool) -> [UInt8] {
        let mask: [UInt8]? = masked ? [0x37, 0xFA, 0x21, 0x3D] : nil
        let cut1 = payload.count / 3, cut2 = 2 * payload.count / 3
        return frame(0x2, Array(payload[0..<cut1]), fin: false, mask: mask)
            + frame(0x9, Array("ping".utf8), mask: mask)
            + frame(0x0, Array(payload[cut1..<cut2]), fin: false, mask: mask)
            + frame(0x0, Array(payload[cut2...]), mask: mask)
    }
}

@Suite struct UpgradeTests {
    typealias T = TLSBuilder
    typealias W = WebSocketBuilder

    static let smtpClient = Array("EHLO client.example\r\nSTARTTLS\r\n".utf8) + T.clientFlight
    static let smtpServer = Array("220 mail.example ESMTP\r\n250-mail.example\r\n250 STARTTLS\r\n220 2.0.0 Ready to start TLS\r\n".utf8) + T.serverFlight
    static let connect = Array("CONNECT api.example.com:443 HTTP/1.1\r\nHost: api.example.com:443\r\n\r\n".utf8) + T.clientFlight
    static let xmpp = Array("<?xml version='1.0'?><stream:stream to='chat.example' xmlns='jabber:client' version='1.0'><starttls xmlns='urn:ietf:params:xml:ns:xmpp-tls'/>".utf8) + T.clientFlight
    static let webSocketTLS = W.clientHead + W.message(T.clientFlight, masked: true) + W.frame(0x8, [0x03, 0xE8], mask: [1, 2, 3, 4])
    static let webSocketSSH = W.serverHead + W.message(Array("SSH-2.0-OpenSSH_9.6\r\n".utf8) + T.filler(900, seed: 40), masked: false)
    static let webSocketText = W.clientHead + W.frame(0x1, Array(#"{"op":"subscribe","channel":"orders","user":"alice"}"#.utf8), mask: [9, 8, 7, 6])
    static let webSocketRandom = W.serverHead + W.frame(0x2, T.filler(2_000, seed: 41))
    /// Binary frames far from random (a game or telemetry protocol in clear).
    static let webSocketStructured = W.clientHead
        + (0..<40).flatMap { n in W.frame(0x2, [0, 0, 0, UInt8(n), 0x01, 0x00, UInt8(n * 3 & 0x3F), 0, 0, 0, 0x10, 0x20], mask: [5, 6, 7, 8]) }

    static func classify(_ bytes: [UInt8]) -> DirectionSummary { ClassifierTests.classify(bytes) }

    @Test func smtpStartTLSFromTheClient() {
        let summary = Self.classify(Self.smtpClient)
        #expect(summary.kind == .tls)
        #expect(summary.preamble == "smtp preamble (31 bytes), then TLS")
        #expect(summary.handshake.serverName == "api.example.com")
    }

    @Test func smtpStartTLSFromTheServer() {
        let summary = Self.classify(Self.smtpServer)
        #expect(summary.kind == .tls)
        #expect(summary.preamble?.hasPrefix("smtp preamble") == true)
        #expect(summary.handshake.cipherSuite == 0x1301)
    }

    /// The preamble is kept out of line (`OutOfLine`) but a classifier stays
    /// a value: a copy whose TLS then breaks drops the preamble it shares
    /// with the original, and the original keeps it.
    @Test func copiesKeepTheirOwnPreamble() {
        var original = DirectionClassifier()
        Self.connect.withUnsafeBytes { original.receive($0) }
        var copy = original
        Array("GET /secret HTTP/1.1\r\nHost: x\r\n\r\n".utf8).withUnsafeBytes { copy.receive($0) }
        let copied = copy.finish(), kept = original.finish()
        #expect(copied.kind == .http)
        #expect(copied.preamble == nil)
        #expect(kept.kind == .tls)
        #expect(kept.preamble == "HTTP CONNECT (67 bytes), then TLS")
    }

    /// The check that lets a first segment skip `splitAtUpgrade` says yes
    /// exactly where a split could be: a window that starts with text and
    /// holds a byte in 20...24 anywhere (a miss would lose an upgrade).
    /// Every length up to 40, with such a byte or any other put at random
    /// places, over text, line ends and tabs: the sixteen-byte blocks, the
    /// overlapping last block and the byte loop of short windows.
    @Test func aFirstSegmentSkipsTheUpgradeSearchOnlyWhereNoRecordCanStart() {
        var rng = SplitMix(seed: 52)
        let texts: [UInt8] = Array("GET / HTTP/1.1\r\nHost: a\t~ ".utf8)
        for length in 0...40 {
            for trial in 0..<60 {
                var window = (0..<length).map { _ in texts[Int(rng.next() % UInt64(texts.count))] }
                if trial % 3 == 1, length > 0 { window[Int(rng.next() % UInt64(length))] = UInt8(20 + rng.next() % 5) }
                if trial % 3 == 2, length > 0 { window[Int(rng.next() % UInt64(length))] = UInt8(truncatingIfNeeded: rng.next()) }
                let expected = window.first.map { Probes.isTextByte($0) } == true && window.contains { (20...24).contains($0) }
                let said = window.withUnsafeBytes { DirectionClassifier.mayStartTLSAfterText($0) }
                #expect(said == expected, "\(window)")
            }
        }
        // Text alone, however long: no.
        let head = Array("HTTP/1.1 200 OK\r\nServer: nginx\r\nContent-Length: 0\r\n\r\n".utf8)
        #expect(!head.withUnsafeBytes { DirectionClassifier.mayStartTLSAfterText($0) })
        #expect(Self.connect.withUnsafeBytes { DirectionClassifier.mayStartTLSAfterText($0) })
    }

    @Test func connectThenTLS() {
        let summary = Self.classify(Self.connect)
        #expect(summary.kind == .tls)
        #expect(summary.preamble == "HTTP CONNECT (67 bytes), then TLS")
        #expect(summary.evidence?.hasPrefix("CONNECT api.example.com:443 HTTP/1.1") == true)
    }

    @Test func xmppStartTLSEndsWithATag() {
        let summary = Self.classify(Self.xmpp)
        #expect(summary.kind == .tls)
        #expect(summary.handshake.clientHelloSeen)
    }

    /// A TLS-looking header after a line end that is not followed by TLS
    /// framing leaves the stream what its start said it was.
    @Test func fakeUpgradeStaysCleartext() {
        let stream = Array("EHLO client.example\r\n".utf8) + [0x16, 0x03, 0x01, 0x00, 0x04] + Array("ABCDMAIL FROM:<a@b>\r\nDATA\r\nsecret\r\n".utf8)
        let summary = Self.classify(stream)
        #expect(summary.kind.isCleartext)
        #expect(summary.preamble == nil)
    }

    @Test func webSocketCarryingTLS() {
        let summary = Self.classify(Self.webSocketTLS)
        #expect(summary.kind == .tls)
        #expect(summary.preamble == "HTTP upgrade to WebSocket (5 frames), TLS inside")
        #expect(summary.handshake.serverName == "api.example.com")
        #expect(summary.tlsRecords == 5)
    }

    @Test func webSocketCarryingSSH() {
        let summary = Self.classify(Self.webSocketSSH)
        #expect(summary.kind == .ssh)
        #expect(summary.evidence?.contains("WebSocket payload: SSH-2.0-OpenSSH_9.6") == true)
    }

    @Test func webSocketCarryingTextIsCleartext() {
        let summary = Self.classify(Self.webSocketText)
        #expect(summary.kind == .http)
        #expect(summary.evidence?.contains("WebSocket payload:") == true)
    }

    /// High-entropy bytes that are no known protocol: no TLS followed the
    /// upgrade, which was itself cleartext HTTP, so the stream stays HTTP (an
    /// upgrade that no TLS follows is plaintext) and says what the frames held.
    @Test func webSocketCarryingRandomBytesStaysHTTP() {
        let summary = Self.classify(Self.webSocketRandom)
        #expect(summary.kind == .http)
        #expect(summary.preamble == nil)
        #expect(summary.evidence?.hasPrefix("HTTP/1.1 101") == true, "evidence: \(summary.evidence ?? "none")")
        #expect(summary.evidence?.contains("WebSocket payload: binary data, entropy 7.") == true, "evidence: \(summary.evidence ?? "none")")
        #expect(summary.evidence?.hasSuffix("bits/byte, not TLS") == true, "evidence: \(summary.evidence ?? "none")")
    }

    /// TLS behind a preamble of its own inside the frames (here PostgreSQL's
    /// SSLRequest) is not walked there: not proven encrypted, not shown in
    /// clear, so the direction stays binary (opaque) with the upgrade named.
    @Test func webSocketCarryingTLSAfterAPreambleIsNotProven() {
        let sslRequest: [UInt8] = [0, 0, 0, 8, 0x04, 0xD2, 0x16, 0x2F]
        let summary = Self.classify(W.clientHead + W.message(sslRequest + T.clientFlight, masked: true))
        #expect(summary.kind == .binary)
        #expect(summary.preamble?.hasPrefix("HTTP upgrade to WebSocket") == true, "preamble: \(summary.preamble ?? "none")")
    }

    /// Structured binary frames are data in clear, and the upgrade request
    /// that opened them stays the evidence (it read "binary" with no request).
    @Test func webSocketCarryingStructuredBinaryStaysHTTP() {
        let summary = Self.classify(Self.webSocketStructured)
        #expect(summary.kind == .http)
        #expect(summary.protocolName == "http")
        #expect(summary.evidence?.hasPrefix("GET ") == true, "evidence: \(summary.evidence ?? "none")")
        #expect(summary.evidence?.contains("WebSocket payload: structured binary data") == true, "evidence: \(summary.evidence ?? "none")")
    }

    /// An upgrade request the server refused: the next request on the
    /// connection is no WebSocket frame, and the stream stays HTTP.
    @Test func refusedWebSocketUpgradeStaysHTTP() {
        let stream = W.clientHead + Array("GET /other HTTP/1.1\r\nHost: gw\r\n\r\n".utf8)
        let summary = Self.classify(stream)
        #expect(summary.kind == .http)
        #expect(summary.preamble == nil)
    }

    /// permessage-deflate: compressed payload cannot be judged, the upgrade is all there is.
    @Test func compressedWebSocketPayload() {
        let stream = W.clientHead + W.frame(0x2, T.filler(300, seed: 42), mask: [1, 1, 1, 1], rsv1: true)
        let summary = Self.classify(stream)
        #expect(summary.kind == .http)
        #expect(summary.evidence?.contains("compressed") == true)
    }

    /// TLS framing broken inside the tunnel, cleartext after it: not encrypted.
    @Test func brokenTLSInsideWebSocket() {
        let inner: [UInt8] = [0x17, 0x03, 0x03, 0x00, 0x05] + Array("ABCDEGET /secret HTTP/1.1\r\nHost: b\r\n\r\n".utf8)
        let summary = Self.classify(W.clientHead + W.frame(0x2, inner, mask: [5, 6, 7, 8]))
        #expect(summary.kind != .tls)
        #expect(summary.framingBreak != nil)
    }

    /// A gap inside a frame carrying TLS record bodies is skipped like any record gap.
    @Test func gapInsideTunnelledRecord() {
        let stream = W.serverHead + W.frame(0x2, T.serverFlight)
        let cut = W.serverHead.count + 4 + 200
        let summary = ClassifierTests.classify([.data(Array(stream[..<cut])), .gap(100), .data(Array(stream[(cut + 100)...]))])
        #expect(summary.kind == .tls)
        #expect(summary.gapBytes == 100)
    }

    /// Once the tunnel's payload is decided (SSH here), a gap inside a frame changes nothing.
    @Test func gapAfterTunnelledSSHIsDecided() {
        let stream = W.serverHead + W.frame(0x2, Array("SSH-2.0-OpenSSH_9.6\r\n".utf8) + T.filler(2_000, seed: 43))
        let cut = stream.count - 900
        let summary = ClassifierTests.classify([.data(Array(stream[..<cut])), .gap(300), .data(Array(stream[(cut + 300)...]))])
        #expect(summary.kind == .ssh)
        #expect(summary.gapBytes == 300)
    }

    static let inputs: [ClassifierTests.Input] = [
        .init(name: "SMTP STARTTLS client", pieces: [.data(smtpClient)]),
        .init(name: "SMTP STARTTLS server", pieces: [.data(smtpServer)]),
        .init(name: "CONNECT then TLS", pieces: [.data(connect)]),
        .init(name: "XMPP starttls then TLS", pieces: [.data(xmpp)]),
        .init(name: "WebSocket with TLS inside", pieces: [.data(webSocketTLS)]),
        .init(name: "WebSocket with SSH inside", pieces: [.data(webSocketSSH)]),
        .init(name: "WebSocket with text inside", pieces: [.data(webSocketText)]),
        .init(name: "WebSocket with random bytes inside", pieces: [.data(webSocketRandom)]),
        .init(name: "WebSocket with structured binary inside", pieces: [.data(webSocketStructured)]),
    ]

    @Test(arguments: inputs)
    func sameSummaryHoweverCut(_ input: ClassifierTests.Input) {
        ClassifierTests().sameSummaryHoweverCut(input)
    }
}
