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

    /// Nothing seen. The stored properties have no default values on purpose
    /// (the optionals are spelled `Optional<…>`, which has no implicit nil):
    /// with them, initializers built the summary in a temporary and returned
    /// a copy of it (a retain of each string and list).
    public init() {
        self.init(
            kind: .none, protocolName: nil, bytes: 0, gapBytes: 0, unverifiedBytes: 0,
            startedMidStream: false, resynchronised: false, tlsRecords: 0, tlsApplicationDataRecords: 0,
            tlsAlertRecords: 0, tlsEndsOnRecordBoundary: false, framingBreak: nil, preamble: nil,
            evidence: nil, entropy: nil, handshake: TLSHandshakeDetails()
        )
    }

    /// Every field at once (how a classifier hands over its result).
    @inlinable
    public init(
        kind: PayloadKind, protocolName: String?, bytes: Int, gapBytes: Int, unverifiedBytes: Int,
        startedMidStream: Bool, resynchronised: Bool, tlsRecords: Int, tlsApplicationDataRecords: Int,
        tlsAlertRecords: Int, tlsEndsOnRecordBoundary: Bool, framingBreak: FramingBreak?, preamble: String?,
        evidence: String?, entropy: Double?, handshake: TLSHandshakeDetails
    ) {
        self.kind = kind
        self.protocolName = protocolName
        self.bytes = bytes
        self.gapBytes = gapBytes
        self.unverifiedBytes = unverifiedBytes
        self.startedMidStream = startedMidStream
        self.resynchronised = resynchronised
        self.tlsRecords = tlsRecords
        self.tlsApplicationDataRecords = tlsApplicationDataRecords
        self.tlsAlertRecords = tlsAlertRecords
        self.tlsEndsOnRecordBoundary = tlsEndsOnRecordBoundary
        self.framingBreak = framingBreak
        self.preamble = preamble
        self.evidence = evidence
        self.entropy = entropy
        self.handshake = handshake
    }
}

/// TLS framing that broke partway through a stream.
public struct FramingBreak: Sendable, Equatable, CustomStringConvertible {
    public var offset: Int
    public var error: TLSFramingError

    public var description: String { "TLS framing broke at byte \(offset): \(error)" }
}
