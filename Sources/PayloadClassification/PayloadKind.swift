/// What one direction of a stream carried.
public enum PayloadKind: String, Sendable, Equatable, CaseIterable {
    /// No payload bytes.
    case none
    /// Every byte walked as TLS record framing (after a recognised preamble).
    case tls
    /// SSH: version banner, then binary packets (encrypted after key exchange).
    case ssh
    /// HTTP/1.x request or response.
    case http
    /// HTTP/2 with prior knowledge (cleartext h2, gRPC without TLS).
    case h2c
    /// A recognised cleartext protocol other than HTTP (see `protocolName`).
    case cleartextProtocol
    /// Mostly printable text that is no known protocol.
    case text
    /// Binary data that is neither TLS nor a known cleartext protocol.
    case binary
    /// Too little, or only bytes after a gap that never resynchronised.
    case undetermined

    /// True for kinds that expose application data in clear.
    public var isCleartext: Bool {
        switch self {
        case .http, .h2c, .cleartextProtocol, .text: return true
        default: return false
        }
    }
}

/// The outcome for one direction of a flow, for the verdict policy.
public struct DirectionSummary: Sendable, Equatable {
    public var kind: PayloadKind
    /// Protocol name for reports: "tls", "http", "postgresql", "text"…
    public var protocolName: Optional<String>
    /// Payload bytes seen (delivered by reassembly).
    public var bytes: Int
    /// Bytes known to be missing (gaps reported by reassembly).
    public var gapBytes: Int
    /// Bytes seen but not covered by the classification (skipped while
    /// looking for record boundaries after a gap or mid-stream pickup).
    public var unverifiedBytes: Int
    /// The stream did not start at its first byte (no SYN, or a gap before any decision).
    public var startedMidStream: Bool
    /// TLS framing had to be found again after a gap or a mid-stream start.
    public var resynchronised: Bool
    /// Bytes held while deciding were given up at the memory limit on all
    /// flows' windows (they count in `unverifiedBytes`), or a client's
    /// frames were no longer followed there (a possible gRPC probe).
    public var windowShed: Bool
    /// The direction's bytes, from its first, are one HTTP GET request head
    /// with kubelet's `User-Agent: kube-probe/…` and nothing else, or over
    /// HTTP/2 in clear one gRPC health check call with that user agent and
    /// only connection frames besides (`KubeletGRPCProbe`): a probe (kubelet
    /// opens a connection for each). (Here, in the padding after the flags
    /// above, it costs no space.)
    public var kubeletProbeOnly: Bool
    /// The direction opened with such a request head (or call), whatever
    /// followed: so that a flow `kube-probe` did not allow can say why.
    public var openedWithKubeletProbe: Bool
    /// TLS records walked.
    public var tlsRecords: Int
    public var tlsApplicationDataRecords: Int
    public var tlsAlertRecords: Int
    /// The last TLS record seen was complete: the stream ended between records.
    public var tlsEndsOnRecordBoundary: Bool
    /// Where and why TLS framing stopped being valid.
    public var framingBreak: Optional<FramingBreak>
    /// A preamble before TLS: "PostgreSQL SSLRequest", "SMTP STARTTLS"…
    public var preamble: Optional<String>
    /// The shortest proof: a request line with Host, a status line, a banner.
    /// Credentials are redacted before they get here.
    public var evidence: Optional<String>
    /// Shannon entropy (bits per byte) of the first bytes, for opaque data.
    public var entropy: Optional<Double>
    public var handshake: TLSHandshakeDetails
    /// What the first application data records carried (see `TLSPayloadSample`).
    public var tlsPayloadSample: TLSPayloadSample
    /// The direction opened with a service mesh proxy's refusal of a request.
    public var proxyRefusal: Optional<ProxyRefusal>
    /// SSH whose key exchange was followed up to this side's NEWKEYS, which
    /// it sends only after the peer's key exchange reply (`SSHKeyExchange`).
    public var sshNewKeysSent: Bool

    /// Nothing seen. The stored properties have no default values on purpose
    /// (the optionals are spelled `Optional<…>`, which has no implicit nil):
    /// with them, initializers built the summary in a temporary and returned
    /// a copy of it (a retain of each string and list).
    public init() {
        self.init(
            kind: .none, protocolName: nil, bytes: 0, gapBytes: 0, unverifiedBytes: 0,
            startedMidStream: false, resynchronised: false, windowShed: false, kubeletProbeOnly: false, openedWithKubeletProbe: false,
            tlsRecords: 0, tlsApplicationDataRecords: 0,
            tlsAlertRecords: 0, tlsEndsOnRecordBoundary: false, framingBreak: nil, preamble: nil,
            evidence: nil, entropy: nil, handshake: TLSHandshakeDetails(), tlsPayloadSample: TLSPayloadSample(),
            proxyRefusal: nil, sshNewKeysSent: false
        )
    }

    /// Every field at once (how a classifier hands over its result).
    @inlinable
    public init(
        kind: PayloadKind, protocolName: String?, bytes: Int, gapBytes: Int, unverifiedBytes: Int,
        startedMidStream: Bool, resynchronised: Bool, windowShed: Bool, kubeletProbeOnly: Bool = false, openedWithKubeletProbe: Bool = false,
        tlsRecords: Int, tlsApplicationDataRecords: Int,
        tlsAlertRecords: Int, tlsEndsOnRecordBoundary: Bool, framingBreak: FramingBreak?, preamble: String?,
        evidence: String?, entropy: Double?, handshake: TLSHandshakeDetails, tlsPayloadSample: TLSPayloadSample,
        proxyRefusal: ProxyRefusal?, sshNewKeysSent: Bool
    ) {
        self.kind = kind
        self.protocolName = protocolName
        self.bytes = bytes
        self.gapBytes = gapBytes
        self.unverifiedBytes = unverifiedBytes
        self.startedMidStream = startedMidStream
        self.resynchronised = resynchronised
        self.windowShed = windowShed
        self.kubeletProbeOnly = kubeletProbeOnly
        self.openedWithKubeletProbe = openedWithKubeletProbe
        self.tlsRecords = tlsRecords
        self.tlsApplicationDataRecords = tlsApplicationDataRecords
        self.tlsAlertRecords = tlsAlertRecords
        self.tlsEndsOnRecordBoundary = tlsEndsOnRecordBoundary
        self.framingBreak = framingBreak
        self.preamble = preamble
        self.evidence = evidence
        self.entropy = entropy
        self.handshake = handshake
        self.tlsPayloadSample = tlsPayloadSample
        self.proxyRefusal = proxyRefusal
        self.sshNewKeysSent = sshNewKeysSent
    }
}

/// A service mesh proxy answering a request with its own refusal by policy,
/// so the request never reached the workload: Linkerd's 403 marked with an
/// `l5d-proxy-error` header (what its inbound proxy sends for HTTP that an
/// authorization policy such as `all-authenticated` denies), or Istio's Envoy
/// 403 "RBAC: access denied" (an AuthorizationPolicy); over HTTP/2 in clear,
/// the same as frames, or a gRPC status (see `HTTP2Refusal`). Seen in clear
/// on the node, it is the HTTP counterpart of STRICT's reset: the mesh
/// refused the cleartext request.
public struct ProxyRefusal: Sendable, Equatable {
    public enum Mesh: UInt8, Sendable, Equatable {
        case linkerd, istio

        public var name: String {
            switch self {
            case .linkerd: return "Linkerd"
            case .istio: return "Istio"
            }
        }
    }

    public var mesh: Mesh
    /// Bytes of the refusals (heads and bodies, one per request on the
    /// connection; over HTTP/2 with the connection's own frames). A direction
    /// that sent more answered something besides refusals.
    public var responseLength: Int
    /// The gRPC status of a refusal answering gRPC (7 PERMISSION_DENIED,
    /// 16 UNAUTHENTICATED); nil for an HTTP 403.
    public var grpcStatus: UInt8?

    public init(mesh: Mesh, responseLength: Int, grpcStatus: UInt8? = nil) {
        self.mesh = mesh
        self.responseLength = responseLength
        self.grpcStatus = grpcStatus
    }

    /// How the proxy refused: "403", "gRPC status 7, PERMISSION_DENIED".
    public var answer: String {
        guard let grpcStatus else { return "403" }
        return "gRPC status \(grpcStatus), \(grpcStatus == 16 ? "UNAUTHENTICATED" : "PERMISSION_DENIED")"
    }
}

/// Counts over the first 32 bytes of a direction's TLS application data
/// record bodies (after each record's first 8, which in TLS 1.2's AES-GCM are
/// the explicit nonce, a counter mostly of zeros), taken only where the
/// direction's hello was not captured. Encryption leaves those bytes
/// indistinguishable from random; records whose bodies read as text or are
/// full of zero bytes are framing without encryption (a NULL cipher suite
/// whose handshake was not captured, or cleartext dressed as TLS).
public struct TLSPayloadSample: Sendable, Equatable {
    public var sampled: UInt8 = 0
    public var printable: UInt8 = 0
    public var zeros: UInt8 = 0

    /// Bytes sampled per direction: all that is judged.
    public static let target: UInt8 = 32
    /// Fewest bytes the counts are read from (a direction with less says nothing).
    public static let minimum: UInt8 = 32

    public init() {}

    /// Adds `bytes` (at most `target` in all: the caller cuts the slice).
    public mutating func add(_ bytes: UnsafeRawBufferPointer) {
        var printableCount: UInt8 = 0
        var zeroCount: UInt8 = 0
        for byte in bytes {
            // Printable ASCII (0x20-0x7E), tab, line feed, carriage return;
            // selects rather than branches.
            let visible: UInt8 = (byte &- 0x20) < 0x5F ? 1 : 0
            let tab: UInt8 = byte == 0x09 ? 1 : 0
            let lineFeed: UInt8 = byte == 0x0A ? 1 : 0
            let carriageReturn: UInt8 = byte == 0x0D ? 1 : 0
            printableCount &+= visible | tab | lineFeed | carriageReturn
            zeroCount &+= byte == 0 ? 1 : 0
        }
        sampled &+= UInt8(truncatingIfNeeded: bytes.count)
        printable &+= printableCount
        zeros &+= zeroCount
    }

    /// Why the sampled bytes cannot be ciphertext, or nil. A random byte is
    /// printable with probability 98/256 and zero with 1/256: 31 printable
    /// of 32 happens to ciphertext with odds of about 2 in 10^12, 8 zeros of
    /// 32 about 6 in 10^13. Text in clear is all printable; structured binary
    /// (lengths, small integers) is a quarter zeros or more.
    public var inClear: String? {
        guard sampled >= Self.minimum else { return nil }
        if printable >= sampled - 1 {
            return "hold printable text (\(printable) of their first \(sampled) bytes)"
        }
        if zeros >= sampled / 4 {
            return "are full of zero bytes (\(zeros) of their first \(sampled))"
        }
        return nil
    }
}

/// TLS framing that broke partway through a stream.
public struct FramingBreak: Sendable, Equatable, CustomStringConvertible {
    public var offset: Int
    public var error: TLSFramingError

    public var description: String { "TLS framing broke at byte \(offset): \(error)" }
}
