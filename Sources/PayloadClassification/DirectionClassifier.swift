import StreamReassembly

/// Classifies one direction of a TCP stream as its bytes arrive in order.
///
/// The first bytes are probed (copied into a small prefix only when one
/// segment is not enough to decide). Once a stream is TLS, every record header
/// is checked for the life of the flow with O(1) state and no buffering. A gap
/// inside a record body is skipped; a gap across a record boundary, or a
/// stream picked up mid-way, is resynchronised by finding a chain of valid
/// record headers before trusting the framing again.
public struct DirectionClassifier: StreamSink, Sendable {
    enum State: Sendable {
        /// Deciding from the first bytes.
        case probing
        /// Walking TLS records.
        case tls
        /// Decided for good (cleartext, SSH, binary): bytes are only counted.
        case decided
        /// Looking for record boundaries (or cleartext) after a gap or a mid-stream start.
        case resyncing
        /// TLS framing broke; a sample of what followed is kept to name it.
        case broken
    }

    /// Bytes buffered while looking for record boundaries after a gap. Three
    /// maximal records fit, so real TLS is always found within it.
    public static let resyncLimit = 65_536
    /// Records in a row that make a TLS resynchronisation credible.
    public static let resyncChain = 3
    /// Bytes kept after a framing break to say what they were.
    static let sampleLimit = 512

    var state: State = .probing
    /// Probe prefix, resync window, or post-break sample, depending on state.
    private var buffer: [UInt8] = []
    /// Offsets in `buffer` below this cannot start a record chain.
    private var resyncScanStart = 0
    public private(set) var walker = TLSRecordWalker()
    /// Preamble bytes (upgrade request, SSLv2 hello) still to pass before records.
    private var preambleLeft = 0
    /// Stream offset of the next byte, gaps included.
    private var position = 0
    private var summary = DirectionSummary()

    /// `startsMidStream`: the stream's first byte was not seen (no SYN), so
    /// the first bytes need not sit on a message boundary.
    public init(startsMidStream: Bool = false) {
        if startsMidStream {
            summary.startedMidStream = true
            state = .resyncing
        }
    }

    /// Marks a stream whose beginning was not captured. Only meaningful before any byte.
    public mutating func markMidStream() {
        guard position == 0, case .probing = state else { return }
        summary.startedMidStream = true
        state = .resyncing
    }

    // MARK: StreamSink

    public mutating func receive(_ bytes: UnsafeRawBufferPointer) {
        guard !bytes.isEmpty else { return }
        summary.bytes += bytes.count
        let start = position
        position += bytes.count
        switch state {
        case .tls:
            walkTLS(bytes, streamOffset: start)
        case .decided:
            if summary.kind.isCleartext || (summary.kind == .binary && start <= 1_024) {
                upgradeIfTLS(bytes, streamOffset: start)
            }
            if case .decided = state, summary.kind == .binary { keepTail(bytes) }
        case .probing:
            probeIncoming(bytes, streamOffset: start)
        case .resyncing:
            buffer.append(contentsOf: bytes)
            resync(final: false)
        case .broken:
            if buffer.count < Self.sampleLimit {
                buffer.append(contentsOf: bytes.prefix(Self.sampleLimit - buffer.count))
            }
        }
    }

    public mutating func receiveGap(_ count: Int) {
        guard count > 0 else { return }
        summary.gapBytes += count
        position += count
        switch state {
        case .tls:
            if preambleLeft >= count {
                preambleLeft -= count
            } else if preambleLeft == 0, walker.skip(count) {
                return
            } else {
                startResync()
            }
        case .probing:
            if buffer.isEmpty {
                summary.startedMidStream = true
                state = .resyncing
            } else {
                probeBuffer(final: true)
                // Decided on what came before the gap; now apply the gap to that state.
                position -= count
                summary.gapBytes -= count
                receiveGap(count)
            }
        case .resyncing:
            summary.unverifiedBytes += buffer.count
            buffer.removeAll(keepingCapacity: true)
            resyncScanStart = 0
        case .decided, .broken:
            return
        }
    }

    /// The last bytes of a binary stream (a ring), to tell at the end
    /// whether it stayed too regular to be encrypted: many encrypted
    /// protocols (OpenVPN, RDP) open with a structured cleartext handshake,
    /// so the first bytes alone cannot say.
    private var tail: [UInt8] = []
    private var tailNext = 0
    static let tailSize = 512

    private mutating func keepTail(_ bytes: UnsafeRawBufferPointer) {
        for byte in bytes.suffix(Self.tailSize) {
            if tail.count < Self.tailSize {
                tail.append(byte)
            } else {
                tail[tailNext] = byte
                tailNext = (tailNext + 1) % Self.tailSize
            }
        }
    }

    /// Binary data whose first and last bytes are both far from random is
    /// data in clear (zero-filled files, BER-encoded LDAP, a proxy's
    /// handshake): not `opaque`, which is for what could be ciphertext.
    private mutating func reconsiderBinary() {
        guard summary.kind == .binary, let first = summary.entropy,
              Probes.isLowEntropy(first, sampleSize: min(summary.bytes, Self.sampleLimit)) else { return }
        if !tail.isEmpty {
            let last = tail.withUnsafeBytes { Probes.entropy($0) }
            guard Probes.isLowEntropy(last, sampleSize: tail.count) else { return }
        }
        summary.kind = .cleartextProtocol
        summary.protocolName = "binary"
        summary.evidence = "structured binary data (\(Probes.formatBits(first)) bits/byte), too regular to be encrypted"
        tail = []
    }

    /// The outcome; call once no more bytes will come.
    public mutating func finish() -> DirectionSummary {
        switch state {
        case .probing:
            if !buffer.isEmpty { probeBuffer(final: true) }
        case .resyncing:
            resync(final: true)
            if case .resyncing = state {
                if !buffer.isEmpty, decideCleartextAfterGap(final: true) {
                    // decided
                } else {
                    summary.unverifiedBytes += buffer.count
                    if summary.bytes > 0 { summary.kind = .undetermined }
                    buffer = []
                }
            }
        case .broken:
            if let before = upgradedFrom {
                // Not TLS after all: the stream is what its start said it was.
                summary.kind = before.kind
                summary.protocolName = before.name
                summary.evidence = before.evidence
                summary.preamble = nil
                buffer = []
            } else {
                nameBrokenRemainder()
            }
        case .tls, .decided:
            break
        }
        if let proxyHeader {
            summary.preamble = [proxyHeader, summary.preamble].compactMap { $0 }.joined(separator: ", ")
        }
        if case .decided = state { reconsiderBinary() }
        // Probing or resynchronising may have just found TLS above.
        if case .tls = state {
            summary.kind = .tls
            summary.protocolName = "tls"
        }
        if summary.kind == .tls || walker.records > 0 {
            summary.tlsEndsOnRecordBoundary = walker.isAtRecordBoundary
            summary.tlsRecords = walker.records
            summary.tlsApplicationDataRecords = walker.applicationDataRecords
            summary.tlsAlertRecords = walker.alertRecords
            summary.handshake = walker.handshake.details
        }
        return summary
    }

    // MARK: Upgrades

    /// What the stream was before it turned into TLS (STARTTLS, PostgreSQL/MySQL
    /// SSL requests, HTTP CONNECT): restored if the TLS framing then breaks.
    private var upgradedFrom: (kind: PayloadKind, name: String?, evidence: String?)?

    /// A cleartext (or short binary) preamble followed, at a segment start, by
    /// a valid TLS record header: walk the rest as TLS.
    private mutating func upgradeIfTLS(_ bytes: UnsafeRawBufferPointer, streamOffset: Int) {
        guard upgradedFrom == nil, bytes.count >= 5,
              case .success = TLSRecordHeader.validate(bytes[0], bytes[1], bytes[2], bytes[3], bytes[4]) else { return }
        upgradedFrom = (summary.kind, summary.protocolName, summary.evidence)
        let name = summary.protocolName ?? "binary"
        summary.preamble = "\(name) preamble (\(streamOffset) bytes), then TLS"
        state = .tls
        walker = TLSRecordWalker()
        walkTLS(bytes, streamOffset: streamOffset)
    }

    // MARK: TLS

    private mutating func walkTLS(_ bytes: UnsafeRawBufferPointer, streamOffset: Int) {
        var bytes = bytes
        var offset = streamOffset
        if preambleLeft > 0 {
            let skipped = min(preambleLeft, bytes.count)
            preambleLeft -= skipped
            bytes = UnsafeRawBufferPointer(rebasing: bytes[skipped...])
            offset += skipped
        }
        guard !bytes.isEmpty else { return }
        let walkedBefore = walker.offset
        let consumed = walker.walk(bytes)
        if consumed < bytes.count {
            let rest = UnsafeRawBufferPointer(rebasing: bytes[consumed...])
            // The bad header may have begun in earlier calls (its first bytes
            // held in the walker's carry): start the break and the sample at
            // the header itself, so that the outcome does not depend on where
            // the stream was cut into segments.
            var earlier = 0
            if let error = walker.error {
                earlier = min(max(0, walkedBefore - error.offset), walker.rejectedHeader.count)
                summary.framingBreak = FramingBreak(offset: offset + consumed - earlier, error: error.error)
            }
            state = .broken
            buffer = Array((walker.rejectedHeader.prefix(earlier) + rest).prefix(Self.sampleLimit))
        }
    }

    private mutating func startResync() {
        state = .resyncing
        buffer.removeAll(keepingCapacity: true)
        resyncScanStart = 0
    }

    /// Looks for `resyncChain` valid record headers in a row (or, at the end of
    /// the stream, at least two that end exactly at its last byte).
    private mutating func resync(final: Bool) {
        if pickupStart, decideAtPickupStart(final: final) { return }
        let found: Int? = buffer.withUnsafeBytes { raw -> Int? in
            var k = resyncScanStart
            var firstUndecided: Int?
            while k + 5 <= raw.count {
                switch Self.chain(in: raw, from: k) {
                case .found:
                    return k
                case .endsExactly(let headers) where final && (headers >= 2 || k == 0):
                    // At the end of the stream, records that fill it exactly from
                    // its first byte (or two in a row anywhere) are framing, not chance.
                    return k
                case .broken:
                    break
                case .endsExactly, .runsOff:
                    if firstUndecided == nil { firstUndecided = k }
                }
                k += 1
            }
            resyncScanStart = firstUndecided ?? max(resyncScanStart, raw.count - 4)
            return nil
        }
        if let found {
            summary.unverifiedBytes += found
            summary.resynchronised = true
            state = .tls
            walker = TLSRecordWalker()
            let window = buffer
            buffer = []
            resyncScanStart = 0
            window.withUnsafeBytes { raw in
                walkTLS(UnsafeRawBufferPointer(rebasing: raw[found...]), streamOffset: position - raw.count + found)
            }
            return
        }
        if buffer.count >= 1_024 || final, decideCleartextAfterGap(final: final) { return }
        if buffer.count >= Self.resyncLimit {
            // Real TLS would have shown a chain by now.
            let entropy = buffer.withUnsafeBytes { Probes.entropy(UnsafeRawBufferPointer(rebasing: $0.prefix(4_096))) }
            decide(kind: .binary, name: nil, evidence: nil)
            summary.entropy = entropy
        }
    }

    /// True while the resync window still starts at the first byte of a
    /// stream picked up mid-way (no SYN seen, nothing skipped yet). Captures
    /// usually start between segments, and segments usually start messages,
    /// so a strong signature right there is a message start, not chance.
    private var pickupStart: Bool {
        summary.startedMidStream && summary.gapBytes == 0 && summary.unverifiedBytes == 0 && resyncScanStart == 0
            && position == buffer.count + proxyHeaderBytes
    }

    /// Bytes of a PROXY protocol header removed from the window at a pickup start.
    private var proxyHeaderBytes = 0

    /// At a pickup start that is not TLS framing: a PROXY protocol header is
    /// removed (what follows is the stream), and a recognised protocol start
    /// (h2c preface, SSH banner, a binary protocol's header, HTTP) decides.
    private mutating func decideAtPickupStart(final: Bool) -> Bool {
        guard buffer.count >= 5 || final else { return false }
        let result: ProbeResult = buffer.withUnsafeBytes { raw in
            guard raw.count >= 5, case .broken = Self.chain(in: raw, from: 0) else { return .needMore }
            return Probes.probe(raw, final: final)
        }
        switch result {
        case .proxyHeader(let length, let name):
            guard length <= buffer.count else { return false }
            proxyHeader = name
            proxyHeaderBytes += length
            buffer.removeFirst(length)
            return false  // resync goes on over what follows the header
        case .ssh(let banner):
            decide(kind: .ssh, name: "ssh", evidence: banner)
            return true
        case .cleartext(let kind, let name, let evidence) where kind != .text && name != "binary":
            decide(kind: kind, name: name, evidence: evidence)
            return true
        default:
            return false
        }
    }

    enum ChainResult { case found, endsExactly(Int), runsOff, broken }

    static func chain(in raw: UnsafeRawBufferPointer, from start: Int) -> ChainResult {
        var position = start
        var headers = 0
        while position + 5 <= raw.count {
            guard case .success(let header) = TLSRecordHeader.validate(
                raw[position], raw[position + 1], raw[position + 2], raw[position + 3], raw[position + 4]
            ) else { return .broken }
            headers += 1
            position += 5 + header.length
            if headers >= resyncChain { return .found }
        }
        return position == raw.count ? .endsExactly(headers) : .runsOff
    }

    /// After a gap or mid-stream: HTTP at a line start, or mostly text.
    private mutating func decideCleartextAfterGap(final: Bool) -> Bool {
        let result: ProbeResult? = buffer.withUnsafeBytes { raw in
            if let http = Probes.httpAtLineStart(raw) { return http }
            if let bgp = ClearBinaryProbes.bgpAnywhere(raw) { return bgp }
            // Text only: bytes after a gap may sit inside a TLS certificate,
            // whose DER is too regular to pass for ciphertext, so the
            // low-entropy rule for binary data does not apply here.
            let generic = Probes.generic(raw, final: final)
            if case .cleartext(let kind, _, _) = generic, kind == .text || kind == .cleartextProtocol { return generic }
            return nil
        }
        guard let result, case .cleartext(let kind, let name, let evidence) = result else { return false }
        decide(kind: kind, name: name, evidence: evidence)
        return true
    }

    // MARK: Probing

    private mutating func probeIncoming(_ bytes: UnsafeRawBufferPointer, streamOffset start: Int) {
        if buffer.isEmpty {
            // The common case: one segment decides, nothing is copied.
            let result = Probes.probe(bytes, final: false)
            if result != .needMore {
                apply(result, to: bytes, streamOffset: start)
                return
            }
        }
        if !buffer.isEmpty, buffer.count <= 1_024, bytes.count >= 5,
           case .success = TLSRecordHeader.validate(bytes[0], bytes[1], bytes[2], bytes[3], bytes[4]) {
            // A short preamble (a SOCKS or proxy handshake, an SSL request
            // the probes do not know) and then TLS from a segment start:
            // decide on the preamble alone, then walk the rest as TLS.
            probeBuffer(final: true, endOffset: start)
            if case .decided = state { upgradeIfTLS(bytes, streamOffset: start); return }
        }
        buffer.append(contentsOf: bytes)
        probeBuffer(final: buffer.count >= Probes.probeLimit)
    }

    /// A PROXY protocol header seen; the stream proper follows it.
    private var proxyHeader: String?

    /// Probes the prefix; `endOffset` is the stream offset just past it (by
    /// default the current position).
    private mutating func probeBuffer(final: Bool, endOffset: Int? = nil) {
        let window = buffer
        let result = window.withUnsafeBytes { Probes.probe($0, final: final) }
        guard result != .needMore else { return }
        buffer = []
        let end = endOffset ?? position
        window.withUnsafeBytes { apply(result, to: $0, streamOffset: end - $0.count) }
    }

    private mutating func apply(_ result: ProbeResult, to bytes: UnsafeRawBufferPointer, streamOffset: Int) {
        switch result {
        case .needMore:
            return
        case .tls(let preambleLength, let preamble):
            state = .tls
            summary.preamble = preamble
            preambleLeft = preambleLength
            walkTLS(bytes, streamOffset: streamOffset)
        case .sslv2Hello(let length, let version):
            state = .tls
            walker.handshake.noteSSLv2Hello(version: version)
            if version == 0x0002 {
                // SSLv2 only: the whole session is SSLv2 records, the hello the first of them.
                walker.sslv2Framing = true
            } else {
                summary.preamble = "SSLv2-format ClientHello"
                preambleLeft = length
            }
            walkTLS(bytes, streamOffset: streamOffset)
        case .sslv2ServerHello:
            state = .tls
            walker.sslv2Framing = true
            walker.handshake.noteSSLv2ServerHello()
            walkTLS(bytes, streamOffset: streamOffset)
        case .ssh(let banner):
            decide(kind: .ssh, name: "ssh", evidence: banner)
        case .cleartext(let kind, let name, let evidence):
            decide(kind: kind, name: name, evidence: evidence)
        case .binary(let entropy):
            decide(kind: .binary, name: nil, evidence: nil)
            summary.entropy = entropy
            keepTail(bytes)
        case .proxyHeader(let length, let name):
            // Probe what follows the header as if the stream started there.
            proxyHeader = name
            let rest = UnsafeRawBufferPointer(rebasing: bytes[min(length, bytes.count)...])
            if !rest.isEmpty { probeIncoming(rest, streamOffset: streamOffset + length) }
        }
    }

    private mutating func decide(kind: PayloadKind, name: String?, evidence: String?) {
        state = .decided
        summary.kind = kind
        summary.protocolName = name
        summary.evidence = evidence
        buffer = []
    }

    /// TLS framing broke: name what followed (cleartext after a fake header is plaintext).
    private mutating func nameBrokenRemainder() {
        let result = buffer.withUnsafeBytes { Probes.probe($0, final: true) }
        buffer = []
        switch result {
        case .cleartext(let kind, let name, let evidence):
            summary.kind = kind
            summary.protocolName = name
            summary.evidence = evidence
        case .binary(let entropy):
            summary.kind = .binary
            summary.entropy = entropy
        default:
            summary.kind = .binary
        }
    }
}
