import Foundation
import Testing
@testable import PayloadClassification
@testable import Reporting
@testable import VerdictPolicy

/// Encrypted Client Hello (ECH, draft-ietf-tls-esni): a client
/// that uses it sends an outer ClientHello whose server_name is a public name
/// and whose encrypted_client_hello extension (0xFE0D) holds the real hello,
/// encrypted. The SNI wirecheck shows is then not the name the client asked
/// for, and the report says so. A browser's GREASE ECH looks the same on the
/// wire (random bytes, the outer name the real one), so only "offered" is
/// claimed. Hellos built by hand, fed whole, byte by byte and at random cuts.
@Suite struct EncryptedClientHelloTests {
    typealias T = TLSBuilder
    typealias K = KeyExchangeTests

    /// ECHClientHello in its outer form: type 0, an HPKE suite (HKDF-SHA256,
    /// AES-128-GCM), a config id, the encapsulated key, the encrypted inner hello.
    static let outer = T.ext(0xFE0D, [0] + T.u16(1) + T.u16(1) + [0x2A]
        + T.vector16(T.filler(32, seed: 40)) + T.vector16(T.filler(208, seed: 41)))
    /// The inner form: one byte, 1. Sent in clear only to a backend behind an
    /// ECH front, whose ClientHello is the real one.
    static let inner = T.ext(0xFE0D, [1])

    static func clientFlight(_ extra: [UInt8], serverName: String = "public.example.com") -> [UInt8] {
        T.record(22, T.clientHello(serverName: serverName, alpn: ["h2", "http/1.1"], extraExtensions: extra), version: 0x0301)
            + T.changeCipherSpec + T.applicationData(53, seed: 10) + T.applicationData(700, seed: 11)
    }

    static func report(client: [UInt8]) -> FlowReport {
        K.report(client: K.server(client), server: ClassifierTests.classify(T.serverFlight))
    }

    @Test func outerExtensionIsOffered() throws {
        let c = K.server(Self.clientFlight(Self.outer))
        #expect(c.handshake.echOffered)
        // The extensions after it are still read.
        #expect(c.handshake.offeredVersions == [0x0304, 0x0303])
        #expect(!c.handshake.malformedMessage)
        let report = Self.report(client: Self.clientFlight(Self.outer))
        #expect(report.verdict == .encrypted)
        let tls = try #require(report.tls)
        #expect(tls.echOffered)
        #expect(tls.serverName == "public.example.com")
        var text = TextReporter()
        let line = text.report(report)
        #expect(line.contains("SNI public.example.com (outer name: ECH offered), ALPN h2,http/1.1"), "\(line)")
        var json = JSONLinesReporter()
        let object = try #require(try JSONSerialization.jsonObject(with: Data(json.report(report).utf8)) as? [String: Any])
        let tlsObject = try #require(object["tls"] as? [String: Any])
        #expect(tlsObject["echOffered"] as? Bool == true)
        #expect(tlsObject["sni"] as? String == "public.example.com")
        #expect(report.evidence?.contains("SNI public.example.com (outer name: ECH offered)") == true, "\(report.evidence ?? "none")")
    }

    @Test func innerFormAndNoExtensionAreNotOffered() throws {
        for (name, extra) in [("inner", Self.inner), ("none", []), ("empty", T.ext(0xFE0D, []))] {
            let c = K.server(Self.clientFlight(extra))
            #expect(!c.handshake.echOffered, "\(name)")
            #expect(c.handshake.serverName == "public.example.com", "\(name)")
            #expect(c.handshake.offeredVersions == [0x0304, 0x0303], "\(name)")
            let report = Self.report(client: Self.clientFlight(extra))
            var text = TextReporter()
            #expect(!text.report(report).contains("ECH"), "\(name)")
            var json = JSONLinesReporter()
            let object = try #require(try JSONSerialization.jsonObject(with: Data(json.report(report).utf8)) as? [String: Any])
            #expect((object["tls"] as? [String: Any])?["echOffered"] == nil, "\(name)")
        }
    }

    /// A hello that offers ECH without any server_name (allowed; the outer
    /// name is then missing, not hidden) still says ECH was offered.
    @Test func offeredWithoutServerName() throws {
        let body = T.u16(0x0303) + T.filler(32, seed: 1) + T.vector8([]) + T.vector16(T.u16(0x1301)) + T.vector8([0])
            + T.vector16(Self.outer + T.ext(43, T.vector8(T.u16(0x0304))))
        let flight = T.record(22, T.handshake(1, body), version: 0x0301) + T.applicationData(300, seed: 12)
        let report = Self.report(client: flight)
        let tls = try #require(report.tls)
        #expect(tls.echOffered && tls.serverName == nil)
        var text = TextReporter()
        #expect(text.report(report).contains("TLS 1.3 (x25519), ECH offered"), "\(text.report(report))")
    }

    /// Public captures (`../shared/corpus`) whose ClientHellos carry ECH, as
    /// tshark's TLS dissector reads them: Cloudflare's ECH test site (the
    /// outer name `cloudflare-ech.com`), and Chrome's GREASE.
    @Test(.enabled(if: Corpus.available, Corpus.skipReason)) func corpusCaptures() throws {
        let expected = [
            "zeek/testing/btest/Traces/tls/tls13-ech.pcap": "cloudflare-ech.com",
            "zeek/testing/btest/Traces/tls/chrome-1250-tls-x25519-kyber.pcap": "lh3.google.com",
            "nDPI/tests/cfgs/default/pcap/tls_ech.pcapng": "performance.radar.cloudflare.com",
        ]
        for (capture, outerName) in expected {
            let reports = try TestSupport.analyze(Corpus.capturesDirectory.appendingPathComponent(capture).path).reports
            let withHello = reports.filter { $0.tls?.serverName != nil }
            #expect(!withHello.isEmpty, "\(capture)")
            for report in withHello {
                #expect(report.tls?.echOffered == true && report.tls?.serverName == outerName, "\(capture) \(report.client)")
            }
        }
    }
}
