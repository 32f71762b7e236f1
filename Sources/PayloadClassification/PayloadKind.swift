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
    public var kind: PayloadKind = .none
    /// Protocol name for reports: "tls", "http", "postgresql", "text"…
    public var protocolName: String?
    /// Payload bytes seen (delivered by reassembly).
    public var bytes: Int = 0
    /// Bytes known to be missing (gaps reported by reassembly).
    public var gapBytes: Int = 0
    /// Bytes seen but not covered by the classification (skipped while
    /// looking for record boundaries after a gap or mid-stream pickup).
    public var unverifiedBytes: Int = 0
    /// The stream did not start at its first byte (no SYN, or a gap before any decision).
    public var startedMidStream = false
    /// TLS framing had to be found again after a gap or a mid-stream start.
    public var resynchronised = false
    /// TLS records walked.
    public var tlsRecords: Int = 0
    public var tlsApplicationDataRecords: Int = 0
    public var tlsAlertRecords: Int = 0
    /// The last TLS record seen was complete: the stream ended between records.
    public var tlsEndsOnRecordBoundary = false
    /// Where and why TLS framing stopped being valid.
    public var framingBreak: FramingBreak?
    /// A preamble before TLS: "PostgreSQL SSLRequest", "SMTP STARTTLS"…
    public var preamble: String?
    /// The shortest proof: a request line with Host, a status line, a banner.
    /// Credentials are redacted before they get here.
    public var evidence: String?
    /// Shannon entropy (bits per byte) of the first bytes, for opaque data.
    public var entropy: Double?
    public var handshake = TLSHandshakeDetails()

    public init() {}
}

/// TLS framing that broke partway through a stream.
public struct FramingBreak: Sendable, Equatable, CustomStringConvertible {
    public var offset: Int
    public var error: TLSFramingError

    public var description: String { "TLS framing broke at byte \(offset): \(error)" }
}
