import PacketDecoding
import PayloadClassification

/// The answer for one flow.
public enum Verdict: String, Sendable, CaseIterable, Comparable {
    /// Every payload byte seen in both directions is valid TLS (or SSH) framing.
    case encrypted
    /// Cleartext application data crossed the wire: a failure.
    case plaintext
    /// A cleartext client was refused: the server sent nothing and closed or
    /// reset. What a STRICT workload does to a client outside the mesh.
    case plaintextRejected = "plaintext-rejected"
    /// Payload that is neither valid TLS nor recognisable cleartext.
    case opaque
    /// The capture cannot tell (no payload, too little, gaps that never resynchronised).
    case inconclusive

    /// Report order: the order of declaration.
    var rank: Int {
        switch self {
        case .encrypted: return 0
        case .plaintext: return 1
        case .plaintextRejected: return 2
        case .opaque: return 3
        case .inconclusive: return 4
        }
    }

    public static func < (lhs: Verdict, rhs: Verdict) -> Bool { lhs.rank < rhs.rank }
}

/// How one side ended its half of the connection.
public enum Closure: String, Sendable, Equatable {
    case open, fin, reset
}

/// Why a flow's verdict was made final.
public enum FlowEnd: String, Sendable, Equatable {
    /// FIN both ways or a reset, then a short linger for late duplicates.
    case closed
    /// No packet for the idle timeout (by capture time).
    case idle
    /// The capture ended (end of file, Ctrl-C, -c, --duration).
    case captureEnded = "capture-ended"
    /// The flow table was full and this was the oldest idle flow.
    case evicted
    /// A new SYN reused the 4-tuple.
    case portReused = "port-reused"
}

/// Everything the policy needs to know about one flow, from the stages before it.
public struct FlowObservation: Sendable {
    public var client: Endpoint
    public var server: Endpoint
    public var tunnel: Tunnel
    public var clientToServer: DirectionSummary
    public var serverToClient: DirectionSummary
    /// The client's SYN was captured, so the stream starts at its first byte.
    public var handshakeSeen: Bool
    public var clientClosure: Closure
    public var serverClosure: Closure
    public var packets: Int
    public var firstSeenNanoseconds: Int64
    public var lastSeenNanoseconds: Int64
    /// Bytes retransmitted with content different from the first copy.
    public var conflictingBytes: Int
    /// Bytes seen twice with the same content (the `-i any` double, retransmits).
    public var duplicateBytes: Int
    public var end: FlowEnd
    /// The kernel dropped packets while this flow was open.
    public var dropsWhileOpen: Bool
    /// The client closed (FIN or reset) before the server did, if the
    /// server did at all: a sender that sends and closes (syslog, a log
    /// shipper) is answered by the server's FIN, which refuses nothing.
    public var clientClosedFirst: Bool
    /// How long the flow had been silent when the server first closed, in
    /// nanoseconds: an idle timeout, not a decision about the client's bytes.
    public var serverSilenceBeforeClose: Int64
    /// Payload bytes that lay before their direction's start (the SYN's
    /// sequence number) when nothing had been taken: after a SYN the capture
    /// missed, or another connection's. Counted in the directions' gaps.
    public var bytesBeforeStart: Int
    /// The client's SYN was captured and the client acknowledged the
    /// server's SYN-ACK, which the capture does not hold (a one-way capture,
    /// drops): the server's silence there says nothing of the server.
    public var serverSynAckMissing: Bool
    /// The server's address after a destination NAT on the capturing node
    /// (a Service's ClusterIP rewritten to a pod's by kube-proxy): the same
    /// connection was captured on both sides of the translation, and `server`
    /// is the address the client sent to. nil for a flow seen untranslated.
    public var translatedServer: Endpoint?
    /// The client's address after a source NAT on the capturing node (a
    /// NodePort's connection masqueraded to the node's address, a pod's
    /// connection leaving the cluster): `client` is the address it came
    /// from. nil for a flow whose client was not seen translated.
    public var translatedClient: Endpoint?

    /// Nothing seen yet: no payload, both sides open. The stored properties
    /// have no default values on purpose: with them, every initializer built
    /// the observation in a temporary and returned a copy of it.
    public init(client: Endpoint, server: Endpoint) {
        self.init(
            client: client, server: server, tunnel: .none, clientToServer: DirectionSummary(), serverToClient: DirectionSummary(),
            handshakeSeen: false, clientClosure: .open, serverClosure: .open, packets: 0,
            firstSeenNanoseconds: 0, lastSeenNanoseconds: 0, conflictingBytes: 0, duplicateBytes: 0,
            end: .captureEnded, dropsWhileOpen: false
        )
    }

    /// Everything at once: how the flow analyzer builds one, moving the
    /// summaries in (a mutable observation filled field by field was copied
    /// whole, a retain per string and list, to be returned).
    @inlinable
    public init(
        client: Endpoint, server: Endpoint, tunnel: Tunnel,
        clientToServer: consuming DirectionSummary, serverToClient: consuming DirectionSummary,
        handshakeSeen: Bool, clientClosure: Closure, serverClosure: Closure, packets: Int,
        firstSeenNanoseconds: Int64, lastSeenNanoseconds: Int64, conflictingBytes: Int, duplicateBytes: Int,
        end: FlowEnd, dropsWhileOpen: Bool, clientClosedFirst: Bool = false, serverSilenceBeforeClose: Int64 = 0,
        bytesBeforeStart: Int = 0, serverSynAckMissing: Bool = false, translatedServer: Endpoint? = nil,
        translatedClient: Endpoint? = nil
    ) {
        self.client = client
        self.server = server
        self.tunnel = tunnel
        self.clientToServer = clientToServer
        self.serverToClient = serverToClient
        self.handshakeSeen = handshakeSeen
        self.clientClosure = clientClosure
        self.serverClosure = serverClosure
        self.packets = packets
        self.firstSeenNanoseconds = firstSeenNanoseconds
        self.lastSeenNanoseconds = lastSeenNanoseconds
        self.conflictingBytes = conflictingBytes
        self.duplicateBytes = duplicateBytes
        self.end = end
        self.dropsWhileOpen = dropsWhileOpen
        self.clientClosedFirst = clientClosedFirst
        self.serverSilenceBeforeClose = serverSilenceBeforeClose
        self.bytesBeforeStart = bytesBeforeStart
        self.serverSynAckMissing = serverSynAckMissing
        self.translatedServer = translatedServer
        self.translatedClient = translatedClient
    }

    /// Payload bytes seen in both directions.
    public var payloadBytes: Int { clientToServer.bytes + serverToClient.bytes }

    /// The port the server itself listens on: after a destination NAT the
    /// translated one (a pod's port, not its Service's), which is what the
    /// port-based policy (Istio's plaintext ports, `--expect-plaintext`,
    /// ambient's 15008) is about.
    public var listeningPort: UInt16 { translatedServer?.port ?? server.port }
}

/// The TLS facts a report shows, merged from both directions.
public struct TLSFacts: Sendable, Equatable {
    /// What `clientCertificate` says of a resumed TLS 1.2 session, whose
    /// abbreviated handshake exchanges no certificates.
    public static let notExchangedResumed = "not exchanged (resumed session)"

    // No default values (optionals spelled `Optional<…>`, which has no
    // implicit nil): with them, building the facts made a temporary and
    // returned a copy of it, a retain of every string and list, per flow.
    // Stored in an order that leaves no padding (words, then the small
    // fields): the reporting thread copies the facts several times a flow,
    // and at 144 bytes it did so with memcpy calls, three per flow more (a
    // test keeps them within 128; 121 now).
    /// "TLS 1.3", from the ServerHello; nil when the handshake was not seen.
    public var version: Optional<String>
    public var serverName: Optional<String>
    public var alpnOffered: [String]
    public var alpnSelected: Optional<String>
    /// Client certificate: "sent", "empty", "requested", "not visible (TLS 1.3)",
    /// `notExchangedResumed`, or nil when unknown.
    public var clientCertificate: Optional<String>
    /// Versions the client offered (supported_versions, else its hello's
    /// version), by name. Named when asked (only JSON lines show them):
    /// the list of names was an allocation per TLS flow on the reporting thread.
    public var offeredVersions: [String] {
        offeredVersionNumbers.isEmpty
            ? (helloVersion == 0 ? [] : [Self.versionName(helloVersion)])
            : offeredVersionNumbers.map(Self.versionName)
    }
    /// Versions the client's supported_versions offered (GREASE removed), as the handshake parser kept them.
    public var offeredVersionNumbers: [UInt16]
    public var alerts: Int
    /// The names the server's and the client's TLS 1.2 certificates give
    /// their holders (a SPIFFE ID, a DNS name, `CN=…`), as presented: not
    /// verified; printable text. TLS 1.3 encrypts certificates. End to end
    /// in one array, the server's first (`serverCertificateNameCount`
    /// bytes): one reference to count per copy rather than two. Bytes as
    /// the handshake parser kept them: reporters write them out without
    /// making a String per flow.
    public var certificateNames: [UInt8]
    /// The key exchange the server chose; nil when its handshake message was not seen.
    public var keyExchange: Optional<KeyExchange>
    public var cipherSuite: Optional<UInt16>
    public var serverCertificateNameCount: UInt16
    /// The ClientHello's own version field, 0 without one: what the client
    /// offered when it sent no supported_versions.
    public var helloVersion: UInt16
    /// The handshake's cleartext part was captured.
    public var handshakeSeen: Bool
    public var legacySSLv2Hello: Bool
    /// Handshake bytes were missing from the capture: details stop at the gap.
    public var handshakeIncomplete: Bool
    /// The server answered the first ClientHello with a HelloRetryRequest (TLS 1.3).
    public var helloRetryRequest: Bool
    /// The server resumed an earlier session (TLS 1.2's abbreviated
    /// handshake; TLS 1.3's pre_shared_key): keys and any client certificate
    /// belong to an earlier handshake, which a TLS 1.2 resumption does not show.
    public var resumed: Bool
    /// The ClientHello offered Encrypted Client Hello: `serverName` is the
    /// outer, public name, and the one the client asked for may be hidden
    /// (or, for a browser's GREASE, be that same name: the wire cannot tell).
    public var echOffered: Bool
    /// TLS 1.3 on a pre-shared key established out of band (the client marked
    /// it so: obfuscated_ticket_age 0), not resumed from an earlier session.
    public var externalPreSharedKey: Bool

    /// The server's and the client's certificate names, each empty for none.
    public func withCertificateNames<Result>(
        _ body: (_ server: UnsafeBufferPointer<UInt8>, _ client: UnsafeBufferPointer<UInt8>) -> Result
    ) -> Result {
        certificateNames.withUnsafeBufferPointer { names in
            let split = min(Int(serverCertificateNameCount), names.count)
            return body(UnsafeBufferPointer(rebasing: names[..<split]), UnsafeBufferPointer(rebasing: names[split...]))
        }
    }

    /// The server's certificate name as text, nil for none.
    public var serverCertificateName: String? { withCertificateNames { server, _ in Self.text(server) } }
    /// The client's certificate name as text, nil for none.
    public var clientCertificateName: String? { withCertificateNames { _, client in Self.text(client) } }
    private static func text(_ bytes: UnsafeBufferPointer<UInt8>) -> String? {
        bytes.isEmpty ? nil : String(decoding: bytes, as: UTF8.self)
    }

    /// How the session's keys were agreed: a named group (TLS 1.3's
    /// key_share, TLS 1.2's ECDHE curve) or, for TLS 1.2 DHE, a prime the
    /// server sent, of which only the size says anything; or, under a TLS
    /// 1.2 RSA suite, no agreement at all: the client encrypted the secret
    /// to the server's certificate key.
    public enum KeyExchange: Sendable, Hashable {
        case group(UInt16)
        case finiteField(bits: Int)
        case rsaKeyTransport
        /// TLS 1.3 resumed with a pre-shared key and no key_share (psk_ke):
        /// the keys come from that key alone.
        case preSharedKeyOnly

        /// "x25519", "X25519MLKEM768", "DHE 2048-bit"; an unnamed group as its number.
        public var name: String {
            switch self {
            case .group(let group): return TLSNames.group(group)?.name ?? "0x" + VerdictPolicy.hex4(group)
            case .finiteField(let bits): return "DHE \(bits)-bit"
            case .rsaKeyTransport: return "RSA"
            case .preSharedKeyOnly: return "PSK only"
            }
        }

        /// ML-KEM, alone or in a hybrid: the session's keys stay safe from a
        /// quantum computer later given the recording.
        public var postQuantum: Bool {
            if case .group(let group) = self { return TLSNames.group(group)?.postQuantum ?? false }
            return false
        }

        /// No ephemeral key agreement: whoever later obtains the long-term
        /// key (the server's RSA key, the pre-shared key) can decrypt a recording.
        public var lacksForwardSecrecy: Bool { self == .rsaKeyTransport || self == .preSharedKeyOnly }
    }

    /// Nothing known.
    public init() {
        self.init(
            version: nil, serverName: nil, alpnOffered: [], alpnSelected: nil, cipherSuite: nil, handshakeSeen: false,
            clientCertificate: nil, legacySSLv2Hello: false, handshakeIncomplete: false, offeredVersionNumbers: [], helloVersion: nil,
            helloRetryRequest: false, alerts: 0, keyExchange: nil, resumed: false, echOffered: false, externalPreSharedKey: false,
            serverCertificateNameBytes: [], clientCertificateNameBytes: []
        )
    }

    @inlinable
    public init(
        version: String?, serverName: String?, alpnOffered: [String], alpnSelected: String?, cipherSuite: UInt16?,
        handshakeSeen: Bool, clientCertificate: String?, legacySSLv2Hello: Bool, handshakeIncomplete: Bool,
        offeredVersionNumbers: [UInt16], helloVersion: UInt16?, helloRetryRequest: Bool, alerts: Int, keyExchange: KeyExchange?, resumed: Bool,
        echOffered: Bool, externalPreSharedKey: Bool, serverCertificateNameBytes: [UInt8], clientCertificateNameBytes: [UInt8]
    ) {
        self.version = version
        self.serverName = serverName
        self.alpnOffered = alpnOffered
        self.alpnSelected = alpnSelected
        self.cipherSuite = cipherSuite
        self.handshakeSeen = handshakeSeen
        self.clientCertificate = clientCertificate
        self.legacySSLv2Hello = legacySSLv2Hello
        self.handshakeIncomplete = handshakeIncomplete
        self.offeredVersionNumbers = offeredVersionNumbers
        self.helloVersion = helloVersion ?? 0
        self.helloRetryRequest = helloRetryRequest
        self.alerts = alerts
        self.keyExchange = keyExchange
        self.resumed = resumed
        self.echOffered = echOffered
        self.externalPreSharedKey = externalPreSharedKey
        // One array: either name alone is taken as it is, both are joined.
        if clientCertificateNameBytes.isEmpty {
            self.certificateNames = serverCertificateNameBytes
        } else if serverCertificateNameBytes.isEmpty {
            self.certificateNames = clientCertificateNameBytes
        } else {
            self.certificateNames = serverCertificateNameBytes + clientCertificateNameBytes
        }
        self.serverCertificateNameCount = UInt16(truncatingIfNeeded: serverCertificateNameBytes.count)
    }

    public static func versionName(_ version: UInt16) -> String {
        switch version {
        case 0x0002: return "SSL 2.0"
        case 0x0300: return "SSL 3.0"
        case 0x0301: return "TLS 1.0"
        case 0x0302: return "TLS 1.1"
        case 0x0303: return "TLS 1.2"
        case 0x0304: return "TLS 1.3"
        default: return "0x" + String(version, radix: 16)
        }
    }
}

/// One flow's verdict with its evidence: what reporters print.
public struct FlowReport: Sendable {
    public var observation: FlowObservation
    public var verdict: Verdict
    /// Why this verdict, kept as facts until written (see `Reason`).
    public var why: Reason
    /// "tls", "http", "ssh", "text"…; nil when nothing was seen.
    public var protocolName: String?
    public var tls: TLSFacts?
    /// Caveats: drops, conflicting retransmissions, mid-stream pickup.
    public var notes: [String]
    /// Plaintext that policy expects (Istio's plaintext-by-design ports, and
    /// those given to `--expect-plaintext`): reported, not failing.
    public var expected = false
    /// The `--expect-plaintext` entry that made it expected (nil: Istio's
    /// allowance, or not expected).
    public var expectedListing: PlaintextExpectation? = nil
    /// The service mesh the TLS handshake points to; nil for other TLS and for non-TLS flows.
    public var mesh: Mesh? = nil

    public var client: Endpoint { observation.client }
    public var server: Endpoint { observation.server }

    /// What let this plaintext pass; nil when it was not expected.
    public var allowance: PlaintextAllowance? {
        guard expected else { return nil }
        return expectedListing.map(PlaintextAllowance.listed) ?? .istioPort(observation.listeningPort)
    }

    /// One sentence: why this verdict.
    public var reason: String {
        guard expected else { return why.description }
        var out = ByteWriter(capacity: 200)
        writeReason(to: &out)
        return out.string
    }

    /// The reason, appended to `out` without making a String of it.
    public func writeReason(to out: inout ByteWriter) {
        why.write(to: &out)
        guard expected else { return }
        if expectedListing == .kubeletProbe {
            out.append(" (expected: kubelet's probe, and kube-probe is listed by --expect-plaintext)")
        } else if let expectedListing {
            out.append(" (expected: ")
            out.append(expectedListing.description)
            out.append(" is listed by --expect-plaintext)")
        } else {
            out.append(" (expected: Istio sends plaintext to port ")
            out.appendDecimal(Int(observation.listeningPort))
            out.append(" by design)")
        }
    }

    /// The shortest proof (request line, status line, banner, or the TLS
    /// version, SNI and ALPN), credentials redacted. Put together when asked
    /// for: the text report of a TLS flow shows those facts itself and never
    /// asks, and building it for every flow was a sixth of judging one.
    public var evidence: String? {
        VerdictPolicy.evidence(observation.clientToServer, observation.serverToClient, tls: tls)
    }

    /// The evidence between `before` and `after`, appended to `out`; nothing
    /// when there is none (false). The two directions' texts are copied in
    /// place rather than joined into a new String first, the TLS facts
    /// written straight in.
    @discardableResult
    public func writeEvidence(to out: inout ByteWriter, before: StaticString, after: StaticString) -> Bool {
        let client = observation.clientToServer.evidence, server = observation.serverToClient.evidence
        guard client != nil || server != nil else {
            guard let tls else { return false }
            let mark = out.count
            out.append(before)
            let start = out.count
            VerdictPolicy.appendTLSEvidence(tls, to: &out)
            guard out.count > start else {
                out.truncate(to: mark)
                return false
            }
            out.append(after)
            return true
        }
        out.append(before)
        if let client { out.append(client) }
        if client != nil, server != nil { out.append(" | ") }
        if let server { out.append(server) }
        out.append(after)
        return true
    }
}
