import Foundation
import Testing
@testable import PayloadClassification
@testable import Reporting
@testable import VerdictPolicy

/// A server that resumes an earlier session shows no key exchange and asks
/// for no client certificate: both belong to the earlier handshake. Told on
/// the wire by TLS 1.2's abbreviated handshake (RFC 5246 §7.3: ServerHello,
/// perhaps a NewSessionTicket, then ChangeCipherSpec) and by TLS 1.3's
/// pre_shared_key in the ServerHello (RFC 8446 §4.2.11), with a key share
/// (psk_dhe_ke) or without (psk_ke, no forward secrecy). Messages built by
/// hand, fed whole, byte by byte and at random cuts (KeyExchangeTests.server).
@Suite struct ResumptionTests {
    typealias T = TLSBuilder
    typealias K = KeyExchangeTests

    static func serverHello12(suite: Int = 0xC02F) -> [UInt8] {
        T.handshake(2, T.u16(0x0303) + T.filler(32, seed: 20) + T.vector8(T.filler(32, seed: 21)) + T.u16(suite) + [0]
            + T.vector16(T.ext(23, []) + T.ext(0xFF01, [0])))
    }

    /// The server's side of a resumed TLS 1.2 session: ServerHello, an
    /// optional NewSessionTicket, ChangeCipherSpec, the encrypted Finished
    /// (a handshake record of ciphertext), application data.
    static func abbreviated(ticket: Bool, suite: Int = 0xC02F) -> [UInt8] {
        let newTicket = ticket ? T.handshake(4, [0, 0, 0x1C, 0x20] + T.vector16(T.filler(160, seed: 22))) : []
        return T.record(22, serverHello12(suite: suite) + newTicket) + T.changeCipherSpec + T.record(22, T.filler(40, seed: 23))
            + T.applicationData(300, seed: 24)
    }

    static func serverHello13(preSharedKey: Bool, keyShare: Bool) -> [UInt8] {
        var extensions = T.ext(43, T.u16(0x0304))
        if keyShare { extensions += T.ext(51, T.u16(0x001D) + T.vector16(T.filler(32, seed: 25))) }
        if preSharedKey { extensions += T.ext(41, T.u16(0)) }
        return T.handshake(2, T.u16(0x0303) + T.filler(32, seed: 26) + T.vector8(T.filler(32, seed: 27)) + T.u16(0x1301) + [0]
            + T.vector16(extensions))
    }

    @Test func tls12AbbreviatedHandshakeIsResumed() throws {
        for ticket in [true, false] {
            let s = K.server(Self.abbreviated(ticket: ticket))
            #expect(s.handshake.resumption == .abbreviatedHandshake, "ticket: \(ticket)")
            let report = K.report(s)
            #expect(report.verdict == .encrypted)
            let tls = try #require(report.tls)
            #expect(tls.resumed)
            // The suite names ECDHE, but this session agreed no key: none is claimed.
            #expect(tls.keyExchange == nil)
            #expect(tls.clientCertificate == "not exchanged (resumed session)")
            var text = TextReporter()
            let line = text.report(report)
            #expect(line.contains("TLS 1.2 (resumed, no certificates exchanged), SNI api.example.com"), "\(line)")
            #expect(line.components(separatedBy: "resumed").count == 2, "resumed said once: \(line)")
            var json = JSONLinesReporter()
            let object = try #require(try JSONSerialization.jsonObject(with: Data(json.report(report).utf8)) as? [String: Any])
            let tlsObject = try #require(object["tls"] as? [String: Any])
            #expect(tlsObject["resumed"] as? Bool == true)
            #expect(tlsObject["keyExchange"] is NSNull)
        }
    }

    /// A resumed session keeps the suite it began with: an RSA suite says
    /// its keys were transported under RSA (in the earlier handshake).
    @Test func resumedRSASuiteKeepsItsKeyTransport() throws {
        let s = K.server(Self.abbreviated(ticket: false, suite: 0x009C))
        #expect(s.handshake.resumption == .abbreviatedHandshake)
        let (tls, notes) = K.facts(s)
        #expect(tls.resumed && tls.keyExchange == .rsaKeyTransport)
        #expect(notes.contains { $0.contains("this flow resumed was keyed by RSA key transport") }, "\(notes)")
        var text = TextReporter()
        #expect(text.report(K.report(s)).contains("TLS 1.2 (RSA, resumed)"))
    }

    /// A full TLS 1.2 handshake (certificate, key exchange, ServerHelloDone
    /// before the ChangeCipherSpec) is not a resumption.
    @Test func tls12FullHandshakeIsNotResumed() throws {
        let s = K.server(K.tls12Flight(suite: 0xC02F, keyExchange: K.ecdheKeyExchange(curve: 0x001D, pointLength: 32)))
        #expect(s.handshake.resumption == .none)
        let tls = try #require(K.report(s).tls)
        #expect(!tls.resumed)
        #expect(tls.keyExchange == .group(0x001D))
        // Only a ServerHelloDone between (a PSK suite with no identity hint): still a full handshake.
        let pskOnly = T.record(22, Self.serverHello12(suite: 0x00A8) + T.handshake(14, [])) + T.changeCipherSpec
            + T.applicationData(100, seed: 28)
        #expect(K.server(pskOnly).handshake.resumption == .none)
    }

    /// Bytes missing between the ServerHello and the ChangeCipherSpec may
    /// have held the certificate: no resumption is claimed.
    @Test func gapBeforeChangeCipherSpecClaimsNothing() {
        let full = K.tls12Flight(suite: 0xC02F, keyExchange: K.ecdheKeyExchange(curve: 0x001D, pointLength: 32))
        // The flight's record header and ServerHello (48 bytes) arrive; the
        // next 20 bytes (the Certificate's header and first bytes) do not.
        let helloEnd = 5 + 48
        #expect(full[5] == 2 && full[helloEnd] == 11, "the flight's layout changed")
        let s = ClassifierTests.classify([.data(Array(full[..<helloEnd])), .gap(20), .data(Array(full[(helloEnd + 20)...]))])
        #expect(s.handshake.serverHelloSeen && s.handshake.gapInHandshake)
        #expect(s.handshake.resumption == .none)
    }

    /// TLS 1.3 servers send a ChangeCipherSpec after the ServerHello for
    /// middleboxes' sake: not a resumption. A pre_shared_key is.
    @Test func tls13PreSharedKey() throws {
        let fresh = K.server(T.serverFlight + T.applicationData(200, seed: 29))
        #expect(fresh.handshake.resumption == .none)

        let withShare = K.server(T.record(22, Self.serverHello13(preSharedKey: true, keyShare: true)) + T.changeCipherSpec
            + T.applicationData(200, seed: 30))
        #expect(withShare.handshake.resumption == .preSharedKeyWithKeyShare)
        let (tls, notes) = K.facts(withShare)
        #expect(tls.resumed && tls.keyExchange == .group(0x001D))
        #expect(notes.isEmpty, "\(notes)")
        var text = TextReporter()
        #expect(text.report(K.report(withShare)).contains("TLS 1.3 (x25519, resumed)"))

        let pskOnly = K.server(T.record(22, Self.serverHello13(preSharedKey: true, keyShare: false)) + T.changeCipherSpec
            + T.applicationData(200, seed: 31))
        #expect(pskOnly.handshake.resumption == .preSharedKeyOnly)
        let (onlyTLS, onlyNotes) = K.facts(pskOnly)
        #expect(onlyTLS.resumed && onlyTLS.keyExchange == .preSharedKeyOnly)
        #expect(onlyNotes.contains { $0.contains("pre-shared key alone") && $0.contains("no forward secrecy") }, "\(onlyNotes)")
        #expect(text.report(K.report(pskOnly)).contains("TLS 1.3 (PSK only, resumed)"))
    }

    /// The ServerHello after a HelloRetryRequest (and the ChangeCipherSpec
    /// middlebox compatibility sends between them) carries the PSK.
    @Test func preSharedKeyAfterHelloRetryRequest() {
        let s = K.server(T.record(22, K.helloRetryRequest(group: 0x001D)) + T.changeCipherSpec
            + T.record(22, Self.serverHello13(preSharedKey: true, keyShare: true)) + T.applicationData(200, seed: 34))
        #expect(s.handshake.helloRetryRequest && s.handshake.serverHelloAfterRetrySeen)
        #expect(s.handshake.resumption == .preSharedKeyWithKeyShare)
    }

    /// A ServerHello whose key_share extension is cut short (it claims 36
    /// bytes, 2 follow) after its pre_shared_key: the key share may have
    /// been lost, so PSK-only is not claimed.
    @Test func truncatedServerHelloClaimsNoPSKOnly() {
        let extensions = T.ext(43, T.u16(0x0304)) + T.ext(41, T.u16(0)) + T.u16(51) + T.u16(36) + T.u16(0x001D)
        let hello = T.handshake(2, T.u16(0x0303) + T.filler(32, seed: 26) + T.vector8([]) + T.u16(0x1301) + [0]
            + T.vector16(extensions))
        let s = K.server(T.record(22, hello) + T.applicationData(100, seed: 32))
        #expect(s.handshake.resumption == .none)
        #expect(K.facts(s).0.keyExchange == nil)
    }

    /// The summary counts resumed TLS 1.2 sessions apart from flows whose
    /// handshake was not seen, and calls PSK-only sessions what they are.
    @Test func summaryCountsResumedSessions() throws {
        var summary = RunSummary()
        summary.add(K.report(K.server(T.serverFlight)))
        summary.add(K.report(K.server(Self.abbreviated(ticket: true))))
        summary.add(K.report(K.server(Self.abbreviated(ticket: false))))
        summary.add(K.report(K.server(T.record(22, Self.serverHello13(preSharedKey: true, keyShare: false)) + T.applicationData(100, seed: 33))))
        // Resumed on an RSA suite: its key exchange is known (RSA), not counted as resumed.
        summary.add(K.report(K.server(Self.abbreviated(ticket: false, suite: 0x009C))))
        #expect(summary.keyExchangeResumed == 2)
        #expect(summary.keyExchangeNotSeen == 0)
        let text = TextReporter().summary(summary, capture: CaptureFacts(source: "test"))
        #expect(text.contains("TLS key exchange (5 encrypted TLS flows): 1 PSK only (no forward secrecy), 1 RSA (no forward secrecy), 1 x25519, 2 resumed (agreed in an earlier handshake); none of those seen post-quantum\n"), "\(text)")
        let json = try #require(try JSONSerialization.jsonObject(with: Data(JSONLinesReporter().summary(summary, capture: CaptureFacts(source: "test")).utf8)) as? [String: Any])
        #expect(json["keyExchangeResumed"] as? Int == 2)
        #expect(json["keyExchangeNotSeen"] as? Int == 0)
    }

    /// A client's pre_shared_key extension: identities with their
    /// obfuscated ticket ages (0 marks a key established out of band), binders.
    static func preSharedKeyExtension(_ identities: [(name: String, age: UInt32)]) -> [UInt8] {
        let list = identities.flatMap { T.vector16(Array($0.name.utf8)) + T.u16(Int($0.age >> 16)) + T.u16(Int($0.age & 0xFFFF)) }
        let binders = identities.flatMap { _ in T.vector8(T.filler(32, seed: 50)) }
        return T.ext(41, T.vector16(list) + T.vector16(binders))
    }

    static func serverHello13(selecting identity: Int, keyShare: Bool) -> [UInt8] {
        var extensions = T.ext(43, T.u16(0x0304))
        if keyShare { extensions += T.ext(51, T.u16(0x001D) + T.vector16(T.filler(32, seed: 25))) }
        extensions += T.ext(41, T.u16(identity))
        return T.handshake(2, T.u16(0x0303) + T.filler(32, seed: 26) + T.vector8(T.filler(32, seed: 27)) + T.u16(0x1301) + [0]
            + T.vector16(extensions))
    }

    static func report(pskIdentities: [(name: String, age: UInt32)], selecting identity: Int, keyShare: Bool) -> FlowReport {
        let hello = T.clientHello(serverName: "api.example.com", alpn: ["h2"], extraExtensions: Self.preSharedKeyExtension(pskIdentities))
        return K.report(client: K.server(T.record(22, hello, version: 0x0301) + T.changeCipherSpec + T.applicationData(300, seed: 51)),
                        server: K.server(T.record(22, Self.serverHello13(selecting: identity, keyShare: keyShare)) + T.changeCipherSpec
                            + T.applicationData(300, seed: 52)))
    }

    /// TLS 1.3 on a pre-shared key established out of band (RFC 8446
    /// §4.2.11: its obfuscated_ticket_age 0) is not a resumption: nothing
    /// began in an earlier handshake. A ticket's age is offset by a random
    /// value, so an age of 0 tells them apart where the client follows the RFC.
    @Test func externalPreSharedKeyIsNotResumption() throws {
        let external = Self.report(pskIdentities: [("wirecheck-psk", 0)], selecting: 0, keyShare: true)
        let tls = try #require(external.tls)
        #expect(tls.externalPreSharedKey && !tls.resumed && tls.keyExchange == .group(0x001D))
        var text = TextReporter()
        #expect(text.report(external).contains("TLS 1.3 (x25519, external PSK)"), "\(text.report(external))")
        var json = JSONLinesReporter()
        let object = try #require(try JSONSerialization.jsonObject(with: Data(json.report(external).utf8)) as? [String: Any])
        let tlsObject = try #require(object["tls"] as? [String: Any])
        #expect(tlsObject["externalPreSharedKey"] as? Bool == true && tlsObject["resumed"] as? Bool == false)

        let keyOnly = Self.report(pskIdentities: [("wirecheck-psk", 0)], selecting: 0, keyShare: false)
        #expect(text.report(keyOnly).contains("TLS 1.3 (PSK only, external PSK)"), "\(text.report(keyOnly))")
        #expect(keyOnly.notes.contains { $0.contains("established out of band") && $0.contains("no forward secrecy") }, "\(keyOnly.notes)")

        // A ticket (its age not 0) is a resumption; with both offered, the
        // one the server selected decides.
        let ticket = try #require(Self.report(pskIdentities: [("ticket", 0x9E37_79B9)], selecting: 0, keyShare: true).tls)
        #expect(ticket.resumed && !ticket.externalPreSharedKey)
        let both: [(name: String, age: UInt32)] = [("ticket", 0x9E37_79B9), ("wirecheck-psk", 0)]
        #expect(try #require(Self.report(pskIdentities: both, selecting: 0, keyShare: true).tls).resumed)
        let second = try #require(Self.report(pskIdentities: both, selecting: 1, keyShare: true).tls)
        #expect(second.externalPreSharedKey && !second.resumed)
        // A client that offered no PSK identities the server's selection can name: resumed, as before.
        for selected in [3, 8, 200] {
            let unknown = try #require(Self.report(pskIdentities: [("wirecheck-psk", 0)], selecting: selected, keyShare: true).tls)
            #expect(unknown.resumed && !unknown.externalPreSharedKey, "identity \(selected)")
        }
    }
}
