/// Why a stream stopped being TLS record framing.
public enum TLSFramingError: Error, Sendable, Equatable, CustomStringConvertible {
    case badContentType(UInt8)
    case badVersion(UInt16)
    case oversizedRecord(Int)
    /// An SSLv2 record header with a zero length.
    case emptySSLv2Record

    public var description: String {
        switch self {
        case .emptySSLv2Record: return "an SSLv2 record header with length 0"
        case .badContentType(let type): return "byte 0x\(String(type, radix: 16)) is not a TLS content type"
        case .badVersion(let version): return "0x\(String(version, radix: 16)) is not a TLS record version"
        case .oversizedRecord(let length): return "record length \(length) exceeds 2^14+2048"
        }
    }
}

/// A TLS record header (RFC 8446 §5.1), checked.
public struct TLSRecordHeader: Sendable, Equatable {
    public var contentType: UInt8
    public var version: UInt16
    public var length: Int

    /// The largest record any TLS version allows: 2^14 plaintext plus 2048 of expansion.
    public static let maximumLength = 16_384 + 2_048

    /// Validates a header: content type 20–24 (change_cipher_spec, alert,
    /// handshake, application_data, heartbeat), version 0x0300–0x0304,
    /// length within the maximum.
    public static func validate(_ b0: UInt8, _ b1: UInt8, _ b2: UInt8, _ b3: UInt8, _ b4: UInt8) -> Result<TLSRecordHeader, TLSFramingError> {
        guard (20...24).contains(b0) else { return .failure(.badContentType(b0)) }
        let version = UInt16(b1) << 8 | UInt16(b2)
        guard b1 == 3, b2 <= 4 else { return .failure(.badVersion(version)) }
        let length = Int(b3) << 8 | Int(b4)
        guard length <= maximumLength else { return .failure(.oversizedRecord(length)) }
        return .success(TLSRecordHeader(contentType: b0, version: version, length: length))
    }

    public static func isPlausible(_ b0: UInt8, _ b1: UInt8, _ b2: UInt8) -> Bool {
        (20...24).contains(b0) && b1 == 3 && b2 <= 4
    }
}

/// Walks a stream of TLS records, checking every header, in O(1) state: a
/// carry for a header split across segments and a count of body bytes left.
/// Handshake bytes (before encryption starts) go to a `HandshakeParser`.
public struct TLSRecordWalker: Sendable {
    // Word-sized fields first, then the small ones together: Swift lays
    // fields out in declaration order, and the flow table holds two walkers
    // per open flow (scattered, the small fields cost 17 bytes of padding).
    private var carried = 0
    /// Body bytes left in the current record.
    private var remaining = 0
    /// Stream offset of the current position, for error reports.
    public private(set) var offset = 0
    public private(set) var records = 0
    public private(set) var applicationDataRecords = 0
    public private(set) var alertRecords = 0
    /// Set when framing broke; nothing after it is walked.
    public private(set) var error: (offset: Int, error: TLSFramingError)?
    private var carry: (UInt8, UInt8, UInt8, UInt8, UInt8) = (0, 0, 0, 0, 0)
    private var currentType: UInt8 = 0
    /// Body bytes of the current application data record still to skip
    /// before sampling (its first 8: an explicit nonce in TLS 1.2's AEAD suites).
    private var sampleSkip: UInt8 = 0
    /// The first application data bytes, counted (a few bytes, in padding).
    public private(set) var payloadSample = TLSPayloadSample()
    public private(set) var changeCipherSpecSeen = false
    /// SSLv2 framing (a session that began with an SSLv2 hello and stayed
    /// SSLv2): 2-byte headers (high bit set, 15-bit length) or 3-byte ones
    /// (14-bit length and a padding count), no content type or version.
    public var sslv2Framing = false
    /// Version of the first record header (0x0301 is usual for ClientHello).
    public private(set) var firstRecordVersion: UInt16 = 0
    /// The five bytes of the header that broke the framing. Some of them may
    /// have arrived in earlier calls to `walk` (collected in the carry), so
    /// the caller cannot always find them in the bytes it passed last.
    public private(set) var rejectedHeader: [UInt8] = []
    public var handshake = HandshakeParser()

    public init() {}

    /// Lets every list and string go (see `DirectionClassifier.releaseHeld`).
    @inline(__always)
    mutating func releaseHeld() {
        if rejectedHeader.capacity != 0 { rejectedHeader = [] }
        handshake.releaseHeld()
    }

    /// True when the walker stands exactly between records.
    public var isAtRecordBoundary: Bool { carried == 0 && remaining == 0 }

    /// Body bytes still expected in the current record.
    public var bytesLeftInRecord: Int { remaining }

    /// Walks `bytes`. Returns how many were consumed: all of them, unless the
    /// framing broke, in which case the rest starts at the bad header.
    @discardableResult
    public mutating func walk(_ bytes: UnsafeRawBufferPointer) -> Int {
        guard error == nil else { return 0 }
        if sslv2Framing { return walkSSLv2(bytes) }
        var i = 0
        let n = bytes.count
        while i < n {
            if remaining > 0 {
                let take = min(remaining, n - i)
                if currentType == 22, !changeCipherSpecSeen || handshake.awaitsServerHelloAfterRetry, handshake.wantsBytes {
                    handshake.feed(UnsafeRawBufferPointer(rebasing: bytes[i..<(i + take)]))
                } else if currentType == 23, payloadSample.sampled < TLSPayloadSample.target,
                          !handshake.details.clientHelloSeen, !handshake.details.serverHelloSeen {
                    // Only where this direction's hello was not captured: with
                    // one, the negotiated suite says whether the records are
                    // encrypted (the policy catches NULL suites from it).
                    sample(UnsafeRawBufferPointer(rebasing: bytes[i..<(i + take)]))
                }
                remaining -= take
                i += take
                offset += take
                continue
            }
            // Collect a 5-byte header, possibly across calls.
            if carried == 0, n - i >= 5 {
                if !accept(bytes[i], bytes[i + 1], bytes[i + 2], bytes[i + 3], bytes[i + 4], at: offset) { return i }
                i += 5
                offset += 5
                continue
            }
            setCarry(carried, bytes[i])
            carried += 1
            i += 1
            offset += 1
            if carried == 5 {
                carried = 0
                if !accept(carry.0, carry.1, carry.2, carry.3, carry.4, at: offset - 5) { return max(0, i - 5) }
            }
        }
        return n
    }

    /// Counts the body bytes after the record's skipped start, up to the
    /// sample's size: two branch-free counts over a slice, once per segment.
    @inline(never)
    private mutating func sample(_ body: UnsafeRawBufferPointer) {
        let skipped = min(Int(sampleSkip), body.count)
        sampleSkip -= UInt8(skipped)
        let wanted = min(body.count - skipped, Int(TLSPayloadSample.target - payloadSample.sampled))
        guard wanted > 0 else { return }
        payloadSample.add(UnsafeRawBufferPointer(rebasing: body[skipped..<(skipped + wanted)]))
    }

    private mutating func walkSSLv2(_ bytes: UnsafeRawBufferPointer) -> Int {
        var i = 0
        while i < bytes.count {
            if remaining > 0 {
                let take = min(remaining, bytes.count - i)
                remaining -= take
                i += take
                offset += take
                continue
            }
            setCarry(carried, bytes[i])
            carried += 1
            i += 1
            offset += 1
            let headerLength = carry.0 & 0x80 != 0 ? 2 : 3
            guard carried == headerLength else { continue }
            carried = 0
            let length = carry.0 & 0x80 != 0
                ? Int(carry.0 & 0x7F) << 8 | Int(carry.1)
                : Int(carry.0 & 0x3F) << 8 | Int(carry.1)
            guard length > 0 else {
                error = (offset - headerLength, .emptySSLv2Record)
                return max(0, i - headerLength)
            }
            records += 1
            remaining = length
        }
        return bytes.count
    }

    /// Skips `count` unseen bytes. Succeeds only when they lie inside the
    /// current record's body, where framing is known to continue.
    public mutating func skip(_ count: Int) -> Bool {
        guard error == nil, carried == 0, count <= remaining else { return false }
        if currentType == 22, !changeCipherSpecSeen || handshake.awaitsServerHelloAfterRetry, handshake.wantsBytes { handshake.noteGap() }
        remaining -= count
        offset += count
        return true
    }

    private mutating func setCarry(_ index: Int, _ byte: UInt8) {
        switch index {
        case 0: carry.0 = byte
        case 1: carry.1 = byte
        case 2: carry.2 = byte
        case 3: carry.3 = byte
        default: carry.4 = byte
        }
    }

    private mutating func accept(_ b0: UInt8, _ b1: UInt8, _ b2: UInt8, _ b3: UInt8, _ b4: UInt8, at headerOffset: Int) -> Bool {
        switch TLSRecordHeader.validate(b0, b1, b2, b3, b4) {
        case .failure(let failure):
            error = (headerOffset, failure)
            rejectedHeader = [b0, b1, b2, b3, b4]
            return false
        case .success(let header):
            if records == 0 { firstRecordVersion = header.version }
            records += 1
            currentType = header.contentType
            remaining = header.length
            switch header.contentType {
            case 20:
                if !changeCipherSpecSeen { handshake.noteChangeCipherSpec() }
                changeCipherSpecSeen = true
            case 21: alertRecords += 1
            case 23:
                applicationDataRecords += 1
                sampleSkip = 8
            default: break
            }
            return true
        }
    }
}
