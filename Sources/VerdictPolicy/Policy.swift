import PacketDecoding
import PayloadClassification

/// Turns what was seen on a flow into a verdict with a reason. Pure: the same
/// observation always gives the same report.
/// Site choices the rules take into account.
public struct PolicyOptions: Sendable, Equatable {
    /// Server ports where Istio sends plaintext by design: 15020 (merged
    /// Prometheus metrics), 15021 (health checks), 15090 (Envoy metrics),
    /// 15010 (istiod's plaintext XDS). Plaintext to them is reported as
    /// expected and does not fail the run. Compared, not hashed: a set
    /// lookup hashed the port for every plaintext flow.
    @inlinable
    public static func isIstioPlaintextPort(_ port: UInt16) -> Bool {
        switch port {
        case 15_010, 15_020, 15_021, 15_090: return true
        default: return false
        }
    }

    /// Plaintext to Istio's ports is expected (`--no-istio-allowance` turns it off).
    public var istioAllowance = true
    /// The site's own plaintext by design (`--expect-plaintext`'s entries):
    /// expected too, and the reason names the entry that allowed them, the
    /// first that matches. (One array, searched only for plaintext flows: the
    /// options are copied for every packet handed to `process(…emit:)`, and
    /// a second collection there cost a tenth more instructions per packet.)
    public var expectedPlaintext: [PlaintextExpectation] = []

    public init() {}
}

public enum VerdictPolicy {
    /// A server that closes after this long without traffic is timing out
    /// an idle connection; a refusal follows the client's first bytes at once.
    public static let refusalSilenceLimit: Int64 = 5_000_000_000

    static func seconds(_ nanoseconds: Int64) -> String {
        let tenths = nanoseconds / 100_000_000
        return tenths >= 100 ? "\(tenths / 10) s" : "\(tenths / 10).\(tenths % 10) s"
    }

    /// Takes the observation, which becomes part of the report: a caller that
    /// is done with it hands it over rather than copying it (and everything
    /// it holds) once more per flow.
    public static func judge(_ o: consuming FlowObservation, options: PolicyOptions = PolicyOptions()) -> FlowReport {
        // Taken apart into constants, each moved into the report: read as
        // a tuple's fields, each was copied and the tuple destroyed after
        // (the TLS facts' copy through the runtime's generic Optional copy,
        // about 230 instructions a flow, and a release of each string).
        let (verdict, reason, protocolName, tls, notes, expected, expectedListing, mesh) = assess(o, options: options)
        return FlowReport(observation: o, verdict: verdict, why: reason, protocolName: protocolName, tls: tls,
                          notes: notes, expected: expected, expectedListing: expectedListing, mesh: mesh)
    }

    /// Everything a report says besides the observation. The observation is
    /// borrowed here, so that its directions are read where they lie (through
    /// the consuming `judge`, each was copied and destroyed twice per flow).
    private static func assess(_ o: FlowObservation, options: PolicyOptions) -> (
        verdict: Verdict, reason: Reason, protocolName: String?, tls: TLSFacts?,
        notes: [String], expected: Bool, expectedListing: PlaintextExpectation?, mesh: Mesh?
    ) {
        let c = o.clientToServer, s = o.serverToClient
        let (verdict, reason) = decide(o, c, s)
        let port = o.listeningPort
        // What the facts say is read before they become an Optional, and
        // they are moved into it: read through the Optional (`flatMap`,
        // `tls?.keyExchange`), they were copied, and each copy destroyed,
        // five times a flow.
        var tls: TLSFacts?, mesh: Mesh?, keyExchange: TLSFacts.KeyExchange?
        if c.kind == .tls || s.kind == .tls || c.tlsRecords > 0 || s.tlsRecords > 0 {
            let facts = tlsFacts(c, s)
            mesh = Mesh.identify(facts, serverPort: port)
            keyExchange = facts.keyExchange
            tls = consume facts
        }
        // The reason then says so (see `FlowReport.reason`).
        let byIstio = verdict == .plaintext && options.istioAllowance && PolicyOptions.isIstioPlaintextPort(port)
        let listing = verdict == .plaintext && !byIstio && !options.expectedPlaintext.isEmpty
            ? options.expectedPlaintext.first(where: { $0.matches(o) }) : nil
        var notes = notes(o, c, s, keyExchange: keyExchange)
        if verdict == .plaintext, !byIstio, listing == nil, c.openedWithKubeletProbe,
           options.expectedPlaintext.contains(.kubeletProbe) {
            // Listed, and it looks like one: say why it was not taken for one.
            let why = c.kubeletProbeOnly ? "the server answered other than in HTTP or HTTP/2"
                : c.gapBytes > 0 || c.unverifiedBytes > 0 ? "some of the client's bytes were not captured, so it cannot be told to be one probe"
                : c.windowShed ? "its frames were no longer followed at the memory limit, so it cannot be told to be one probe"
                : "it sent more after that request (kubelet opens a connection for each probe)"
            notes.append("the client opened with kubelet's probe request, but \(why): not allowed as a probe (--expect-plaintext kube-probe)")
        }
        return (verdict, reason, protocolName(c, s), tls, notes, byIstio || listing != nil, listing, mesh)
    }

    static func decide(_ o: FlowObservation, _ c: DirectionSummary, _ s: DirectionSummary) -> (Verdict, Reason) {
        let how = o.serverClosure == .reset ? "reset the connection" : "closed the connection"

        if c.kind.isCleartext || s.kind.isCleartext {
            if c.kind.isCleartext, s.kind == .none, s.gapBytes > 0 {
                // The server sent bytes the capture does not hold: whether it
                // answered or refused cannot be told, and the client's
                // cleartext crossed the wire either way.
                return (.plaintext, Reason(text: "client sent cleartext \(name(c)); the server's \(s.gapBytes) bytes were not captured or did not follow its SYN-ACK, so no refusal can be told"))
            }
            if c.kind.isCleartext, s.kind == .none, o.serverClosure == .open, o.serverSynAckMissing {
                // Not one of the server's packets is in the capture (the
                // client acknowledged a SYN-ACK it does not hold): a refusal
                // would not be either. The cleartext crossed the wire.
                return (.plaintext, Reason(text: "client sent cleartext \(name(c)); the server's packets were not captured (the client acknowledged a SYN-ACK the capture does not hold), so no answer or refusal can be told"))
            }
            if c.kind.isCleartext, s.kind == .none || isAlertOnly(s) {
                let alert = s.kind != .none
                let answered = alert ? "answered only with a TLS alert" : "sent no payload"
                let what = name(c)
                if o.serverClosure != .open {
                    // A refusal is the server's decision on the first bytes:
                    // it closes first, at once. A FIN answering the client's
                    // own (syslog, a log shipper: send, then close) or a close
                    // after a long silence (an idle timeout) refuses nothing.
                    let silence = o.serverSilenceBeforeClose
                    if !alert, silence >= refusalSilenceLimit {
                        return (.plaintext, Reason(text: "client sent cleartext \(what); the server sent no payload and \(how) after \(seconds(silence)) without traffic (an idle timeout, not a refusal)"))
                    }
                    if !alert, o.serverClosure == .fin, o.clientClosedFirst {
                        return (.plaintext, Reason(text: "client sent cleartext \(what) and closed the connection; the server sent no payload and closed after it (answering the client's close, not refusing it)"))
                    }
                    return (.plaintextRejected, "client sent cleartext \(what); server \(answered) and \(how)")
                }
                // No refusal was seen, and the client's cleartext crossed the wire: that is the leak.
                if o.clientClosure == .reset {
                    return (.plaintext, "client sent cleartext \(what) and reset the connection; no answer or refusal from the server was captured")
                }
                return (.plaintext, "client sent cleartext \(what); the server neither answered nor closed before the capture ended")
            }
            if c.kind == .http || c.kind == .h2c, c.kind == s.kind, let refusal = proxyRefusal(s) {
                return (.plaintextRejected, Reason(text: "client sent cleartext \(name(c)); the server's \(refusal.mesh.name) proxy refused it by policy (\(refusal.answer)) and sent nothing else"))
            }
            if c.kind.isCleartext, s.kind.isCleartext {
                return (.plaintext, Reason(.cleartextBothWays(serverNamesFlow(c, s) ? name(s) : name(c))))
            }
            if s.kind.isCleartext {
                return (.plaintext, Reason(text: "server sent cleartext \(name(s))" + (c.kind == .none ? "" : "; client sent \(describe(c))")))
            }
            return (.plaintext, "client sent cleartext \(name(c)); server sent \(describe(s))")
        }

        switch (c.kind, s.kind) {
        case (.none, .none):
            if c.gapBytes > 0 || s.gapBytes > 0 {
                return (.inconclusive, Reason(text: "payload sent (\(c.gapBytes) client, \(s.gapBytes) server bytes), none of it captured or following its side's SYN"))
            }
            if o.clientClosure == .reset || o.serverClosure == .reset {
                return (.inconclusive, "no payload: the connection was reset before any data")
            }
            return (.inconclusive, o.handshakeSeen ? "no payload: TCP handshake only" : "no payload captured")
        case (.tls, .tls):
            guard provesTLS(c), provesTLS(s) else {
                return (.inconclusive, "too little TLS to prove framing (\(c.tlsRecords) client, \(s.tlsRecords) server records)")
            }
            if let suite = s.handshake.cipherSuite, isNullCipherSuite(suite) {
                return (.plaintext, "TLS with a NULL cipher suite, \(describeSuite(suite)): the records are authenticated but not encrypted")
            }
            if let clear = recordsInClear(c, s) { return (.plaintext, clear) }
            let preamble = c.preamble ?? s.preamble
            let pickedUpMidStream = c.resynchronised || s.resynchronised || c.startedMidStream || s.startedMidStream
            guard let preamble, preamble.hasPrefix("SSLv2") else {
                return (.encrypted, Reason(.tlsFraming(clientRecords: c.tlsRecords, serverRecords: s.tlsRecords,
                                                       preamble: preamble, pickedUpMidStream: pickedUpMidStream,
                                                       helloSeen: c.handshake.clientHelloSeen || s.handshake.serverHelloSeen)))
            }
            // No upgrade: the client's hello is itself a record, in the legacy SSLv2 format.
            let client = c.tlsRecords == 0 ? "" : ", then \(c.tlsRecords) client records"
            var reason = "every byte in both directions is TLS framing (a ClientHello in the legacy SSLv2 format\(client); \(s.tlsRecords) server records)"
            if pickedUpMidStream { reason += Reason.pickedUpMidStreamHelloSeen.description }
            return (.encrypted, Reason(text: reason))
        case (.ssh, .ssh):
            let upgrade = (c.preamble ?? s.preamble).map { " after an upgrade: \($0)" } ?? ""
            return (.encrypted, Reason(text: "SSH in both directions (banner, then binary packets)" + upgrade))
        case (.tls, .none), (.none, .tls):
            // One direction captured (or answered with nothing): all of it is TLS.
            let (side, who, other) = c.kind == .tls ? (c, "client", "server") : (s, "server", "client")
            let silent = c.kind == .tls ? s : c
            if silent.gapBytes > 0 || (c.kind == .tls && o.serverSynAckMissing) {
                // The other side's bytes are missing (a one-way capture, a
                // lost answer): application data records show that it took
                // part in a TLS handshake, without which no keys exist to
                // encrypt them; a hello alone shows nothing of the other side.
                let missing = silent.gapBytes > 0 ? "the \(other)'s \(silent.gapBytes) bytes were not captured" : "the \(other)'s packets were not captured"
                guard side.tlsApplicationDataRecords > 0, provesTLS(side) else {
                    let placed = silent.gapBytes > 0 ? " or did not follow its SYN" : ""
                    return (.inconclusive, Reason(text: "the \(who)'s bytes are TLS record framing (\(side.tlsRecords) record\(side.tlsRecords == 1 ? "" : "s")), but \(missing)\(placed)"))
                }
                if let clear = recordsInClear(c, s) { return (.plaintext, clear) }
                return (.encrypted, Reason(text: "every byte seen is TLS record framing (\(side.tlsRecords) \(who) records, \(side.tlsApplicationDataRecords) of application data, encrypted with keys agreed in a TLS handshake with the \(other)); \(missing)"))
            }
            guard provesTLS(side) else {
                return (.inconclusive, "only the \(who) sent bytes, too few to prove TLS framing (\(side.tlsRecords) record)")
            }
            if let clear = recordsInClear(c, s) { return (.plaintext, clear) }
            return (.encrypted, "every byte seen is TLS record framing (\(side.tlsRecords) \(who) records); the \(other) sent no payload")
        case (.ssh, .none), (.none, .ssh):
            let who = c.kind == .ssh ? "client" : "server"
            let (side, silent) = c.kind == .ssh ? (c, s) : (s, c)
            if silent.gapBytes > 0 {
                guard side.sshNewKeysSent else {
                    return (.inconclusive, Reason(text: "SSH from the \(who), but the other side's \(silent.gapBytes) bytes were not captured or did not follow its SYN"))
                }
                // NEWKEYS (SSH-1: the session key) follows the other side's
                // key exchange reply: it spoke SSH, and keys were agreed.
                return (.encrypted, Reason(text: "SSH from the \(who) (banner, then binary packets) through the end of its key exchange, which needs the other side's reply; the other side's \(silent.gapBytes) bytes were not captured"))
            }
            return (.encrypted, "SSH from the \(who) (banner, then binary packets); the other side sent no payload")
        default:
            break
        }
        if c.kind == .binary || s.kind == .binary {
            let side = c.kind == .binary ? c : s
            let who = c.kind == .binary ? "client" : "server"
            if let framingBreak = side.framingBreak {
                return (.opaque, "\(who): \(framingBreak)")
            }
            let entropy = side.entropy.map { ", entropy \(formattedEntropy($0)) bits/byte" } ?? ""
            if let named = side.evidence {
                // A protocol's own encryption, named by its framing: not TLS, so not proven.
                return (.opaque, "\(who) sent \(named)\(entropy): not TLS, so its encryption cannot be checked")
            }
            return (.opaque, "\(who) sent binary data that is neither TLS nor known cleartext\(entropy)")
        }
        if c.kind == .undetermined || s.kind == .undetermined {
            let who = c.kind == .undetermined ? "client" : "server"
            let side = c.kind == .undetermined ? c : s
            if side.protocolName == "whitespace", side.gapBytes == 0 {
                let other = c.kind == .undetermined ? s : c
                return (.inconclusive, "\(who) sent only whitespace (no application data); the other side sent \(describe(other))")
            }
            let cause = side.gapBytes > 0 ? "after \(side.gapBytes) missing bytes" : "in a stream picked up mid-way"
            return (.inconclusive, "\(who) bytes \(cause) never resynchronised to TLS records or known cleartext")
        }
        return (.inconclusive, "client sent \(describe(c)), server sent \(describe(s))")
    }

    /// TLS framing around bytes that cannot be ciphertext: application data
    /// records whose bodies read as text or are full of zeros (a NULL cipher
    /// suite whose handshake the capture missed, or cleartext dressed as TLS).
    /// Reads only the two samples: an array of the summaries cost each TLS
    /// flow two copies of them (a retain for each string and list in them).
    static func recordsInClear(_ c: DirectionSummary, _ s: DirectionSummary) -> Reason? {
        let (who, why): (String, String)
        if c.kind == .tls, let clientWhy = c.tlsPayloadSample.inClear {
            (who, why) = ("client", clientWhy)
        } else if s.kind == .tls, let serverWhy = s.tlsPayloadSample.inClear {
            (who, why) = ("server", serverWhy)
        } else {
            return nil
        }
        return Reason(text: "TLS record framing without encryption: the \(who)'s application data records \(why), which ciphertext never does")
    }

    /// Cipher suites that encrypt nothing (RFC 5246, 4785, 4492, 5487, 5489,
    /// 9150): framing and MACs, application data in clear.
    static func isNullCipherSuite(_ suite: UInt16) -> Bool {
        // A switch, not a Set: a lookup hashed the suite for every TLS flow.
        switch suite {
        case 0x0000, 0x0001, 0x0002, 0x001C, 0x002C, 0x002D, 0x002E, 0x003B, 0x0082, 0x0083, 0x00B0, 0x00B1, 0x00B4, 0x00B5,
             0x00B8, 0x00B9, 0xC001, 0xC006, 0xC00B, 0xC010, 0xC015, 0xC039, 0xC03A, 0xC03B, 0xC0B4, 0xC0B5:
            return true
        default:
            return false
        }
    }

    /// A cipher suite's number as the registry writes it: four hex digits.
    static func hex4(_ suite: UInt16) -> String {
        let digits = String(suite, radix: 16, uppercase: true)
        return String(repeating: "0", count: 4 - digits.count) + digits
    }

    /// What makes a negotiated cipher suite unfit, if anything (NULL suites
    /// aside: those are no encryption at all). From the IANA registry as
    /// tshark names it: anonymous key exchange (the server is not
    /// authenticated), export grade, RC4 (RFC 7465), single DES.
    static func cipherSuiteWeakness(_ suite: UInt16) -> String? {
        switch suite {
        case 0x0017, 0x0018, 0x0019, 0x001A, 0x001B, 0x0034, 0x003A, 0x0046, 0x006C, 0x006D, 0x0089, 0x009B, 0x00A6, 0x00A7,
             0x00BF, 0x00C5, 0xC016, 0xC017, 0xC018, 0xC019, 0xC046, 0xC047, 0xC05A, 0xC05B, 0xC084, 0xC085:
            return "has no server authentication (anonymous key exchange): encrypted, but anyone in the path can read it by posing as the server"
        case 0x0003, 0x0006, 0x0008, 0x000B, 0x000E, 0x0011, 0x0014, 0x0026, 0x0027, 0x0028, 0x0029, 0x002A, 0x002B,
             0x0060, 0x0061, 0x0062, 0x0063, 0x0064, 0x0065:
            return "is export grade (40- or 56-bit keys): encrypted, but breakable"
        case 0x0004, 0x0005, 0x0020, 0x0024, 0x0066, 0x008A, 0x008E, 0x0092, 0xC002, 0xC007, 0xC00C, 0xC011, 0xC033:
            return "uses RC4, prohibited since 2015 (RFC 7465): encrypted, but breakable"
        case 0x0009, 0x000C, 0x000F, 0x0012, 0x0015, 0x001E, 0x0022, 0xFEFE, 0xFFE1:
            return "uses single DES (56-bit keys): encrypted, but breakable"
        default:
            return nil
        }
    }

    /// One valid header is not proof: require a parsed hello or several records.
    static func provesTLS(_ d: DirectionSummary) -> Bool {
        d.tlsRecords >= 2 || d.handshake.clientHelloSeen || d.handshake.serverHelloSeen
            || (d.tlsRecords == 1 && d.tlsEndsOnRecordBoundary && d.bytes > 5 + d.unverifiedBytes)
    }

    /// A server direction that is a mesh proxy's refusal and nothing more:
    /// opened with it, whole, and sent nothing after it (a later response
    /// would be the workload answering in clear).
    static func proxyRefusal(_ s: DirectionSummary) -> ProxyRefusal? {
        guard s.kind == .http || s.kind == .h2c, let refusal = s.proxyRefusal, s.bytes == refusal.responseLength,
              s.gapBytes == 0, !s.startedMidStream else { return nil }
        return refusal
    }

    static func isAlertOnly(_ d: DirectionSummary) -> Bool {
        d.kind == .tls && d.tlsRecords > 0 && d.tlsRecords == d.tlsAlertRecords
    }

    static func name(_ d: DirectionSummary) -> String {
        switch d.kind {
        case .http: return "HTTP"
        case .h2c: return "HTTP/2 (h2c)"
        case .text: return "text"
        default: return d.protocolName ?? d.kind.rawValue
        }
    }

    static func describe(_ d: DirectionSummary) -> String {
        switch d.kind {
        case .none: return "no payload"
        case .tls: return "TLS"
        case .ssh: return "SSH"
        case .binary: return "binary data"
        case .undetermined: return "unclassified bytes"
        default: return "cleartext \(name(d))"
        }
    }

    /// Whether the server's direction names a flow cleartext both ways. The server's
    /// greeting says what it serves ("220 … GridFTP Server", "+OK POP server
    /// ready"), while a client's first command can be shared by several
    /// protocols (`AUTH` opens FTP's security exchange as well as SMTP's and
    /// POP3's logins) or be plain text (`USER ftp`). So a server that names its
    /// protocol wins over a client that names another or none; a server that
    /// only sent structured binary data does not (Kafka's answers).
    /// (A Bool, not the summary: returning a summary copied it, strings and
    /// lists retained, for every flow.)
    static func serverNamesFlow(_ c: DirectionSummary, _ s: DirectionSummary) -> Bool {
        guard c.kind == .cleartextProtocol || c.kind == .text, s.kind == .cleartextProtocol,
              let name = s.protocolName else { return false }
        return name != "binary"
    }

    static func protocolName(_ c: DirectionSummary, _ s: DirectionSummary) -> String? {
        // Checked one by one: `for d in [c, s]` built an array of two large summaries per flow.
        if c.kind.isCleartext {
            if s.kind.isCleartext, serverNamesFlow(c, s) { return s.protocolName ?? s.kind.rawValue }
            return c.protocolName ?? c.kind.rawValue
        }
        if s.kind.isCleartext { return s.protocolName ?? s.kind.rawValue }
        if c.kind == .tls || s.kind == .tls { return "tls" }
        if c.kind == .ssh || s.kind == .ssh { return "ssh" }
        if c.kind == .binary || s.kind == .binary {
            // Named binary (a protocol's own encryption, such as memberlist's) keeps its name.
            return (c.kind == .binary ? c.protocolName : nil) ?? (s.kind == .binary ? s.protocolName : nil) ?? "binary"
        }
        return nil
    }

    static func tlsFacts(_ c: DirectionSummary, _ s: DirectionSummary) -> TLSFacts {
        let hello = c.handshake, server = s.handshake
        let external = usesExternalKey(hello, server)
        let certificate: String?
        if server.selectedVersion == 0x0304 {
            certificate = "not visible (TLS 1.3 encrypts it)"
        } else if hello.certificateSeen {
            certificate = hello.certificateEmpty ? "empty" : "sent"
        } else if server.certificateRequestSeen {
            certificate = "requested"
        } else if server.resumption == .abbreviatedHandshake {
            certificate = TLSFacts.notExchangedResumed
        } else {
            certificate = nil
        }
        // One initializer call, returned as built (see TLSFacts).
        return TLSFacts(
            version: server.selectedVersion.map(TLSFacts.versionName),
            serverName: hello.serverName,
            alpnOffered: hello.alpnOffered,
            alpnSelected: server.alpnSelected,
            cipherSuite: server.cipherSuite,
            handshakeSeen: hello.clientHelloSeen || server.serverHelloSeen,
            clientCertificate: certificate,
            legacySSLv2Hello: hello.sslv2Hello || server.sslv2Hello,
            handshakeIncomplete: hello.gapInHandshake || server.gapInHandshake,
            offeredVersionNumbers: hello.offeredVersions,
            helloVersion: hello.clientHelloVersion,
            helloRetryRequest: server.helloRetryRequest,
            alerts: c.tlsAlertRecords + s.tlsAlertRecords,
            keyExchange: keyExchange(server),
            resumed: server.resumed && !external,
            echOffered: hello.echOffered,
            externalPreSharedKey: external,
            serverCertificateNameBytes: server.certificateNameBytes,
            clientCertificateNameBytes: hello.certificateNameBytes
        )
    }

    /// TLS 1.3: the pre-shared key the server selected is one the client
    /// marked as established out of band (its obfuscated_ticket_age 0), not
    /// a resumption ticket.
    static func usesExternalKey(_ hello: TLSHandshakeDetails, _ server: TLSHandshakeDetails) -> Bool {
        guard server.resumption == .preSharedKeyWithKeyShare || server.resumption == .preSharedKeyOnly else { return false }
        // Identities from the ninth on have no bit: the shift past 8 gives 0.
        return hello.externalKeyIdentities & (1 << server.selectedKeyIdentity) != 0
    }

    /// The named group the server chose, or under a DHE suite the size of
    /// the prime its ServerKeyExchange carried (any other suite's first
    /// vector is something else: a PSK identity hint, say), or RSA key
    /// transport when the suite says so (TLS_RSA_…: no ServerKeyExchange).
    static func keyExchange(_ server: TLSHandshakeDetails) -> TLSFacts.KeyExchange? {
        // A HelloRetryRequest names the group the server wants; no key is
        // agreed until the ServerHello after it.
        if server.helloRetryRequest, !server.serverHelloAfterRetrySeen { return nil }
        if let group = server.keyExchangeGroup { return .group(group) }
        // A TLS 1.3 ServerHello taking a PSK without a key share (psk_ke).
        // A resumed TLS 1.2 session keeps the suite it began with, so an RSA
        // suite says how its keys were agreed, in the earlier handshake; an
        // (EC)DHE suite does not say on which group or prime.
        if server.resumption == .preSharedKeyOnly { return .preSharedKeyOnly }
        guard let suite = server.cipherSuite, let name = TLSNames.cipherSuite(suite) else { return nil }
        if name.hasPrefix("TLS_RSA_") { return .rsaKeyTransport }
        guard let length = server.serverKeyExchangePrimeLength,
              name.hasPrefix("TLS_DHE_") || name.hasPrefix("TLS_DH_anon_"), !name.contains("_PSK_") else { return nil }
        return .finiteField(bits: Int(length) * 8)
    }

    /// A suite as `TLS_RSA_WITH_RC4_128_SHA (0x0005)`, or its number alone when unnamed.
    static func describeSuite(_ suite: UInt16) -> String {
        guard let name = TLSNames.cipherSuite(suite) else { return "0x" + hex4(suite) }
        return name + " (0x" + hex4(suite) + ")"
    }

    /// What makes a negotiated key exchange weak, if anything: a DH prime
    /// under 2048 bits (Logjam; RFC 7919's smallest group is 2048), or a
    /// curve under 128-bit security.
    /// `resumed`: the session began in an earlier handshake (TLS 1.2's
    /// abbreviated one), which is where an RSA suite transported its keys.
    /// `externalKey`: TLS 1.3's pre-shared key was established out of band.
    static func keyExchangeWeakness(_ exchange: TLSFacts.KeyExchange, resumed: Bool = false, externalKey: Bool = false) -> String? {
        switch exchange {
        case .finiteField(let bits) where bits < 2048:
            return "the key exchange uses a \(bits)-bit Diffie-Hellman prime: encrypted, but within reach of a well-resourced attacker (Logjam); 2048 bits is the least RFC 7919 defines"
        case .group(0x0013), .group(0x0015):
            return "the key exchange group \(exchange.name) is under 128-bit security: encrypted, but weaker than any current peer needs"
        case .rsaKeyTransport where resumed:
            return "the session this flow resumed was keyed by RSA key transport (its cipher suite's): no forward secrecy, so whoever later obtains the server's private key can decrypt a recording of this flow together with the handshake that began the session"
        case .rsaKeyTransport:
            return "the key exchange is RSA key transport: no forward secrecy, so whoever later obtains the server's private key can decrypt a recording of this flow"
        case .preSharedKeyOnly where externalKey:
            return "the keys come from a pre-shared key established out of band, without (EC)DHE (TLS 1.3 psk_ke): no forward secrecy, so whoever later obtains that key can decrypt a recording of this flow"
        case .preSharedKeyOnly:
            return "the session resumed on a pre-shared key alone, without (EC)DHE (TLS 1.3 psk_ke): no forward secrecy, so whoever later obtains that key, or the server's ticket key, can decrypt a recording of this flow"
        default:
            return nil
        }
    }

    static func evidence(_ c: DirectionSummary, _ s: DirectionSummary, tls: TLSFacts?) -> String? {
        switch (c.evidence, s.evidence) {
        case (let client?, let server?): return client + " | " + server
        case (let client?, nil): return client
        case (nil, let server?): return server
        case (nil, nil): break
        }
        guard let tls else { return nil }
        var text = ByteWriter(capacity: 160)
        appendTLSEvidence(tls, to: &text)
        return text.isEmpty ? nil : text.string
    }

    /// The TLS version, SNI and ALPN offered, and whether the handshake was
    /// seen: the evidence of a TLS flow with no cleartext to show. Appended as
    /// bytes (String appends per item showed in profiles); nothing when none is known.
    static func appendTLSEvidence(_ tls: TLSFacts, to text: inout ByteWriter) {
        let start = text.count
        if let version = tls.version { text.append(version) }
        if let sni = tls.serverName {
            text.append(text.count == start ? "SNI " : ", SNI ")
            text.append(sni)
            if tls.echOffered { text.append(" (outer name: ECH offered)") }
        } else if tls.echOffered {
            text.append(text.count == start ? "ECH offered" : ", ECH offered")
        }
        for (index, alpn) in tls.alpnOffered.enumerated() {
            text.append(index > 0 ? "," : text.count == start ? "ALPN " : ", ALPN ")
            text.append(alpn)
        }
        if !tls.handshakeSeen { text.append(text.count == start ? "handshake not seen" : ", handshake not seen") }
    }

    /// `keyExchange`: the TLS facts' (worked out once, for both).
    static func notes(_ o: FlowObservation, _ c: DirectionSummary, _ s: DirectionSummary, keyExchange: TLSFacts.KeyExchange?) -> [String] {
        var notes: [String] = []
        if o.conflictingBytes > 0 {
            notes.append("\(o.conflictingBytes) bytes were retransmitted with different content; the first copy was used")
        }
        let gaps = c.gapBytes + s.gapBytes - o.bytesBeforeStart
        if gaps > 0 { notes.append("\(gaps) payload bytes were not captured (gaps)") }
        if o.bytesBeforeStart > 0 {
            notes.append("\(o.bytesBeforeStart) payload bytes lay before their side's SYN (after a SYN-ACK the capture missed, or another connection's): not analysed")
        }
        if o.serverSynAckMissing {
            notes.append("the client acknowledged a SYN-ACK the capture does not hold on this path (a one-way capture, the other direction in another tunnel, or drops)")
        }
        if c.unverifiedBytes + s.unverifiedBytes > 0 {
            notes.append("\(c.unverifiedBytes + s.unverifiedBytes) bytes before resynchronisation were not classified")
        }
        if c.windowShed || s.windowShed {
            notes.append("bytes held while looking for TLS records (or a client's frames followed) were given up at the memory limit on all flows' windows (a quarter of --max-buffer)")
        }
        if !o.handshakeSeen { notes.append("TCP handshake not captured: picked up mid-stream") }
        switch s.handshake.selectedVersion {
        case 0x0002: notes.append("SSL 2.0: encrypted, but with a protocol broken and prohibited since 2011 (RFC 6176)")
        case 0x0300: notes.append("SSL 3.0: encrypted, but with a protocol broken and prohibited since 2015 (RFC 7568)")
        case 0x0301: notes.append("TLS 1.0: deprecated since 2021 (RFC 8996)")
        case 0x0302: notes.append("TLS 1.1: deprecated since 2021 (RFC 8996)")
        default: break
        }
        if let suite = s.handshake.cipherSuite, let weakness = cipherSuiteWeakness(suite) {
            notes.append("the cipher suite \(describeSuite(suite)) \(weakness)")
        }
        // (A NULL suite's flow is plaintext: how its keys were agreed does not matter.)
        if let exchange = keyExchange,
           let weakness = keyExchangeWeakness(exchange, resumed: s.handshake.resumption == .abbreviatedHandshake,
                                              externalKey: usesExternalKey(c.handshake, s.handshake)),
           !(s.handshake.cipherSuite.map(isNullCipherSuite) ?? false) {
            notes.append(weakness)
        }
        if o.dropsWhileOpen { notes.append("the kernel dropped packets while this flow was open: verdict suspect") }
        return notes
    }
}

/// Totals over all flows, and what they mean for the exit code.
public struct RunSummary: Sendable {
    public enum Result: String, Sendable { case pass, fail, inconclusive }

    /// Flows by verdict, at the verdict's rank: a dictionary keyed by the
    /// verdict hashed its name for every flow.
    private var countsByRank = [Int](repeating: 0, count: Verdict.allCases.count)
    public var flows = 0
    /// Plaintext flows on the expected-plaintext allowance (counted in `.plaintext` too).
    public var expectedPlaintext = 0
    /// Verdicts besides `plaintext` that fail the run (`--fail-on`).
    public var failOn: Set<Verdict> { didSet { failOnRanks = Self.ranks(failOn) } }
    /// `failOn` as one bit per verdict rank: asked for every flow, where the
    /// set hashed the verdict each time.
    private var failOnRanks: UInt8
    /// Where the flows that fail the run went.
    public private(set) var failingServers = FailingServers()
    /// Encrypted TLS flows by the key exchange their server chose, and
    /// those whose choice was not seen (no handshake captured): what a
    /// move to post-quantum key exchange, or away from RSA, has reached.
    /// (A list searched in order, not a dictionary: a run sees a handful
    /// of key exchanges, and hashing one per flow cost more than the search.)
    public private(set) var keyExchanges: [(exchange: TLSFacts.KeyExchange, flows: Int)] = []
    /// Expected plaintext flows by what allowed them (a list searched in
    /// order, as `keyExchanges`: a run has a few allowances).
    public private(set) var allowances: [(allowance: PlaintextAllowance, flows: Int)] = []
    /// Encrypted TLS flows that resumed a TLS 1.2 session: their keys were
    /// agreed in an earlier handshake, perhaps not in this capture.
    public private(set) var keyExchangeResumed = 0
    public private(set) var keyExchangeNotSeen = 0
    /// The first and last packet times of the flows judged (nanoseconds
    /// since the epoch), nil before the first: when the traffic a result
    /// covers crossed the wire.
    public var firstSeenNanoseconds: Int64? { flowsSeen ? earliest : nil }
    public var lastSeenNanoseconds: Int64? { flowsSeen ? latest : nil }
    private var earliest = Int64.max, latest = Int64.min, flowsSeen = false

    public init(failOn: Set<Verdict> = []) {
        self.failOn = failOn
        failOnRanks = Self.ranks(failOn)
    }

    private static func ranks(_ verdicts: Set<Verdict>) -> UInt8 {
        verdicts.reduce(0) { $0 | 1 << $1.rank }
    }

    public mutating func add(_ report: FlowReport) {
        add(report.verdict, expected: report.expected)
        earliest = min(earliest, report.observation.firstSeenNanoseconds)
        latest = max(latest, report.observation.lastSeenNanoseconds)
        flowsSeen = true
        if fails(report.verdict, expected: report.expected) { failingServers.add(report) }
        if let allowance = report.allowance {
            if let index = allowances.firstIndex(where: { $0.allowance == allowance }) {
                allowances[index].flows += 1
            } else {
                allowances.append((allowance, 1))
            }
        }
        if report.verdict == .encrypted, report.protocolName == "tls" {
            if let exchange = report.tls?.keyExchange {
                if let index = keyExchanges.firstIndex(where: { $0.exchange == exchange }) {
                    keyExchanges[index].flows += 1
                } else {
                    keyExchanges.append((exchange, 1))
                }
            } else if report.tls?.resumed == true {
                keyExchangeResumed += 1
            } else {
                keyExchangeNotSeen += 1
            }
        }
    }

    /// `allowances`, most flows first (then by name, for a stable order).
    public var allowancesRanked: [(allowance: PlaintextAllowance, flows: Int)] {
        allowances.sorted { $0.flows != $1.flows ? $0.flows > $1.flows : $0.allowance.description < $1.allowance.description }
    }

    /// `keyExchanges`, most flows first (then by name, for a stable order).
    public var keyExchangesRanked: [(exchange: TLSFacts.KeyExchange, flows: Int)] {
        keyExchanges.sorted { $0.flows != $1.flows ? $0.flows > $1.flows : $0.exchange.name < $1.exchange.name }
    }

    /// Whether a flow with this verdict fails the run.
    public func fails(_ verdict: Verdict, expected: Bool) -> Bool {
        verdict == .plaintext ? !expected : failOnRanks & 1 << verdict.rank != 0
    }

    /// The rule itself, for those that list flows without a summary of their own (`--show failing`).
    public static func fails(_ verdict: Verdict, expected: Bool, failOn: Set<Verdict>) -> Bool {
        verdict == .plaintext ? !expected : failOn.contains(verdict)
    }

    /// Counts one flow with this verdict (`expected`: on the plaintext allowance).
    public mutating func add(_ verdict: Verdict, expected: Bool = false) {
        countsByRank[verdict.rank] += 1
        if expected { expectedPlaintext += 1 }
        flows += 1
    }

    public func count(_ verdict: Verdict) -> Int { countsByRank[verdict.rank] }

    /// False when a replay was stopped (Ctrl-C, SIGTERM) before the end of
    /// its file: the flows judged cover part of the capture, and none failing
    /// there proves nothing of the rest. A failure found stands. The reports
    /// say so (text `warning:`, JSON `stoppedEarly`). A live capture or a
    /// stream, which end that way by design, always cover theirs.
    public var coversWholeCapture = true

    /// fail: any plaintext flow not on the allowance, or any verdict named by
    /// `--fail-on`. pass: none, at least one conclusive flow, and the whole
    /// capture read. inconclusive: nothing conclusive (no matching traffic,
    /// only inconclusive flows), or a replay stopped before its end.
    public var result: Result {
        if count(.plaintext) - expectedPlaintext > 0 { return .fail }
        if failOn.contains(where: { count($0) > 0 }) { return .fail }
        if flows - count(.inconclusive) > 0, coversWholeCapture { return .pass }
        return .inconclusive
    }

    /// 0 pass, 1 fail, 2 inconclusive (3 is for errors, decided by the CLI).
    public var exitCode: Int32 {
        switch result {
        case .pass: return 0
        case .fail: return 1
        case .inconclusive: return 2
        }
    }
}
