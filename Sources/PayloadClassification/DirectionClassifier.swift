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
        /// WebSocket frames after an HTTP upgrade: their payload is classified.
        case webSocket
    }

    /// Bytes buffered while looking for record boundaries after a gap. Three
    /// maximal records fit, so real TLS is always found within it.
    public static let resyncLimit = 65_536
    /// Records in a row that make a TLS resynchronisation credible.
    public static let resyncChain = 3
    /// Bytes kept after a framing break to say what they were.
    static let sampleLimit = 512

    var state: State = .probing
    // Small fields next to `state`, where they share its word: the flow table
    // holds two classifiers per open flow.
    /// The last byte of the previous segment ended a line or a tag (see `scanForUpgrade`).
    private var lastByteEndsMessage = false
    /// The server's side of HTTP or h2c is followed while all it sent may be
    /// a mesh proxy's refusals (`RareState.refusals`).
    private var watchingRefusals = false
    /// An SSH side's key exchange is followed (`RareState.sshKeyExchange`):
    /// a flag here, in the word's padding, so that the segments of an SSH
    /// session after its exchange do not each copy the out-of-line state to
    /// ask.
    private var followingSSHKeyExchange = false
    /// Next slot to overwrite in `tail` once it is full.
    private var tailNext: UInt16 = 0
    /// Memory that following a side's frames holds (a server's refusals, a
    /// client's gRPC probe), in 16-byte units (saturating): kept here, where
    /// `heldBytes` reads it inline, the following being out of line.
    @usableFromInline var followedUnits: UInt16 = 0
    /// Probe prefix, resync window, or post-break sample, depending on state.
    @usableFromInline var buffer = WindowBuffer()
    /// Offsets in `buffer` below this cannot start a record chain (32 bits:
    /// with the buffer's 12 bytes, the 16 the two took before).
    private var resyncScanStart: Int32 = 0
    public private(set) var walker = TLSRecordWalker()
    /// Preamble bytes (upgrade request, SSLv2 hello) still to pass before records.
    private var preambleLeft: Int32 = 0
    /// Stream offset just past the first HTTP head, where a CONNECT (or its
    /// answer) turns into TLS; -1 when unknown. Shares a word with `preambleLeft`.
    private var httpHeadEnd: Int32 = -1
    /// Stream offset of the next byte, gaps included.
    private var position = 0
    /// The outcome so far; the TLS counts and handshake details are the
    /// walker's and join it only in `finish()` (kept here too, they cost 100
    /// bytes per direction of every open flow).
    private var summary = SummarySoFar()
    /// The WebSocket tunnel after an upgrade (nil for almost every flow).
    private var tunnel: WebSocketTunnel?
    /// What only upgrades and PROXY headers need (nil for almost every flow):
    /// out of line, 8 bytes instead of 64 in each of the two classifiers
    /// that every open flow holds inline.
    private var rare = OutOfLine<RareState>()

    /// `startsMidStream`: the stream's first byte was not seen (no SYN), so
    /// the first bytes need not sit on a message boundary.
    public init(startsMidStream: Bool = false) {
        if startsMidStream {
            summary.startedMidStream = true
            state = .resyncing
        }
    }

    /// Lets every list, string and object the classifier holds go, leaving
    /// none: for an owner that then abandons it without destroying it
    /// (`FlowTable.remove`). Destroying a flow's state released each of its
    /// thirty lists, strings and boxes, empty or nil for the most part (a
    /// call each, about 600 instructions a flow); here each is looked at
    /// and only one that holds something is let go. Nothing else is reset:
    /// the classifier is done with. Every stored property that can hold a
    /// counted reference must be let go here (`FlowStateTeardownTests`
    /// lists them).
    @inline(__always)
    public mutating func releaseHeld() {
        buffer.releaseHeld()
        walker.releaseHeld()
        summary.releaseHeld()
        if tunnel != nil { tunnel = nil }
        rare.releaseHeld()
        if tail.capacity != 0 { tail = [] }
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
            if summary.kind == .ssh {
                // First: an SSH flow has nothing else to follow, and asking
                // about TDS packets would copy its out-of-line state.
                if followingSSHKeyExchange { followSSHKeyExchange { $0.feed(bytes, streamOffset: start) } }
            } else if rare.value?.nextPacket != nil {
                // TDS: TLS can start only where a packet ends. (Once the
                // packets cannot be followed, after a gap, the usual search
                // for TLS at segment starts takes over.)
                followPackets(bytes, streamOffset: start)
            } else if summary.kind.isCleartext {
                if watchingRefusals { watchRefusals(bytes) }
                if summary.followingGRPCProbe { followGRPCProbe(bytes) }
                if start < Self.upgradeScanLimit { scanForUpgrade(bytes, streamOffset: start) }
                if case .decided = state { upgradeIfTLS(bytes, streamOffset: start) }
            } else if summary.kind == .binary && start <= 1_024 {
                upgradeIfTLS(bytes, streamOffset: start)
            }
            if case .decided = state, summary.kind == .binary { keepTail(bytes) }
        case .probing:
            probeIncoming(bytes, streamOffset: start)
        case .resyncing:
            let before = buffer.count
            buffer.append(contentsOf: bytes)
            resync(final: false, grewFrom: before)
        case .broken:
            if buffer.count < Self.sampleLimit {
                buffer.append(contentsOf: bytes.prefix(Self.sampleLimit - buffer.count))
            }
        case .webSocket:
            walkWebSocket(bytes)
        }
    }

    /// Bytes the side sent after the last one captured (its FIN or reset
    /// came further on): counted as missing, with no effect on what the
    /// stream was, since nothing follows them.
    public mutating func noteMissingAtEnd(_ count: Int) {
        summary.gapBytes += count
    }

    public mutating func receiveGap(_ count: Int) {
        guard count > 0 else { return }
        summary.gapBytes += count
        position += count
        switch state {
        case .tls:
            if preambleLeft >= count {
                preambleLeft -= Int32(count)
            } else if preambleLeft == 0, walker.skip(count) {
                return
            } else {
                startResync()
            }
        case .probing:
            if buffer.isEmpty {
                summary.startedMidStream = true
                resyncScanStart = 0
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
            buffer.removeAllKeepingCapacity()
            resyncScanStart = 0
        case .decided:
            // A TLS header begun before the gap cannot continue after it.
            buffer.removeAll()
            lastByteEndsMessage = false
            // Nor can TDS packets be followed across it, nor HTTP/2 frames.
            if rare.value?.nextPacket != nil { stopFollowing() }
            if followingSSHKeyExchange { followSSHKeyExchange { $0.noteGap() } }
            if watchingRefusals { stopWatchingRefusals() }
            if summary.followingGRPCProbe { stopFollowingGRPCProbe() }
        case .broken:
            return
        case .webSocket:
            skipInWebSocket(count)
        }
    }

    /// The last bytes of a binary stream (a ring), to tell at the end
    /// whether it stayed too regular to be encrypted: many encrypted
    /// protocols (OpenVPN, RDP) open with a structured cleartext handshake,
    /// so the first bytes alone cannot say.
    private var tail: [UInt8] = []
    static let tailSize = 512

    /// Copied a run at a time (appended until the ring is full, then at most
    /// two copies into it): byte by byte, with an index check, a uniqueness
    /// check and a remainder each, it was about twenty instructions for every
    /// byte of a binary stream, the most of any byte wirecheck reads.
    private mutating func keepTail(_ bytes: UnsafeRawBufferPointer) {
        var recent = UnsafeRawBufferPointer(rebasing: bytes.suffix(Self.tailSize))
        if tail.count < Self.tailSize {
            let filling = min(Self.tailSize - tail.count, recent.count)
            tail.append(contentsOf: UnsafeRawBufferPointer(rebasing: recent.prefix(filling)))
            recent = UnsafeRawBufferPointer(rebasing: recent.dropFirst(filling))
        }
        guard !recent.isEmpty else { return }
        var next = Int(tailNext)
        tail.withUnsafeMutableBytes { ring in
            while let source = recent.baseAddress, let target = ring.baseAddress, !recent.isEmpty {
                let count = min(recent.count, ring.count - next)
                (target + next).copyMemory(from: source, byteCount: count)
                next = (next + count) % ring.count
                recent = UnsafeRawBufferPointer(rebasing: recent.dropFirst(count))
            }
        }
        tailNext = UInt16(next)
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
        tail = []
        summary.kind = .cleartextProtocol
        summary.protocolName = "binary"
        summary.evidence = Self.structuredBinary(bits: first)
    }

    static func structuredBinary(bits: Double) -> String {
        "structured binary data (\(Probes.formatBits(bits)) bits/byte), too regular to be encrypted"
    }

    /// The outcome; call once, when no more bytes will come. The summary is
    /// moved out, not copied (a retain and a release for each string and
    /// list in it, per direction of every flow): the classifier is spent.
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
                    buffer.removeAll()
                }
            }
        case .broken:
            if upgradedFrom != nil, rare.value?.openedWithNegotiation == true, nameCleartextRemainder() {
                // A negotiation, TLS, then cleartext (TDS encrypting the
                // login only): what crossed in clear after the TLS is the evidence.
            } else if let before = upgradedFrom {
                // Not TLS after all: the stream is what its start said it was.
                summary.kind = before.kind
                summary.protocolName = before.name
                summary.evidence = before.evidence
                summary.preamble = nil
                buffer.removeAll()
            } else {
                nameBrokenRemainder()
            }
        case .webSocket:
            finishWebSocket()
        case .decided:
            if watchingRefusals, summary.kind == .http || summary.kind == .h2c, let refused = rare.value?.refusals?.outcome() {
                summary.proxyRefusal = refused.refusal
                summary.evidence = refused.evidence
            }
        case .tls:
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
        let walked = summary.kind == .tls || walker.records > 0
        var grpcProbeOnly = false
        if summary.followingGRPCProbe, summary.kind == .h2c, let probe = rare.value?.kubeletGRPCProbe {
            grpcProbeOnly = probe.isOneWholeProbe
            summary.kubeletProbeHead = probe.sentProbeCall
        }
        var sofar = SummarySoFar()
        swap(&sofar, &summary)
        // The strings taken out, not copied: a copy retained each, and the
        // summary's end released them again (two runtime calls a string,
        // 80 000 retains on 20 000 connections).
        let protocolName = sofar.protocolName.take(), evidence = sofar.evidence.take()
        return DirectionSummary(
            kind: sofar.kind, protocolName: protocolName, bytes: sofar.bytes, gapBytes: sofar.gapBytes,
            unverifiedBytes: sofar.unverifiedBytes, startedMidStream: sofar.startedMidStream,
            resynchronised: sofar.resynchronised, windowShed: sofar.windowShed,
            kubeletProbeOnly: sofar.gapBytes == 0 && sofar.unverifiedBytes == 0
                && (sofar.kubeletProbeHead && sofar.kind == .http && sofar.bytes == Int(httpHeadEnd)
                    || grpcProbeOnly),
            openedWithKubeletProbe: sofar.kubeletProbeHead && (sofar.kind == .http || sofar.kind == .h2c),
            tlsRecords: walked ? walker.records : 0,
            tlsApplicationDataRecords: walked ? walker.applicationDataRecords : 0,
            tlsAlertRecords: walked ? walker.alertRecords : 0,
            tlsEndsOnRecordBoundary: walked ? walker.isAtRecordBoundary : false,
            framingBreak: sofar.framingBreak, preamble: sofar.preamble, evidence: evidence,
            entropy: sofar.entropy, handshake: walked ? walker.handshake.takeDetails() : TLSHandshakeDetails(),
            tlsPayloadSample: walked ? walker.payloadSample : TLSPayloadSample(),
            proxyRefusal: sofar.proxyRefusal,
            sshNewKeysSent: sofar.kind == .ssh && sofar.sshNewKeysSent
        )
    }

    /// Feeds the SSH key exchange being followed; once it has ended (NEWKEYS,
    /// or not SSH's framing), keeps only whether NEWKEYS came and lets it go.
    private mutating func followSSHKeyExchange(_ body: (inout SSHKeyExchange) -> Void) {
        var ended: SSHKeyExchange.Outcome?
        rare.change(initial: RareState()) {
            guard var exchange = $0.sshKeyExchange else { return }
            body(&exchange)
            if exchange.outcome == .following {
                $0.sshKeyExchange = exchange
            } else {
                ended = exchange.outcome
                $0.sshKeyExchange = nil
            }
        }
        guard let ended else { return }
        followingSSHKeyExchange = false
        summary.sshNewKeysSent = ended == .newKeys
    }

    // MARK: Upgrades

    /// What the stream was before it turned into TLS (STARTTLS, PostgreSQL/MySQL
    /// SSL requests, HTTP CONNECT): restored if the TLS framing then breaks.
    private var upgradedFrom: (kind: PayloadKind, name: String?, evidence: String?)? { rare.value?.upgradedFrom }

    /// A cleartext (or short binary) preamble followed, at a segment start, by
    /// a valid TLS record header: walk the rest as TLS.
    private mutating func upgradeIfTLS(_ bytes: UnsafeRawBufferPointer, streamOffset: Int) {
        guard upgradedFrom == nil, bytes.count >= 5,
              case .success = TLSRecordHeader.validate(bytes[0], bytes[1], bytes[2], bytes[3], bytes[4]) else { return }
        upgrade(carried: [], then: bytes, tlsOffset: streamOffset)
    }

    /// From `tlsOffset` on the stream is walked as TLS; what came before is
    /// the named preamble. `keepingWalker`: the walker has read the TLS that
    /// came wrapped before (TDS) and walks on from there.
    private mutating func upgrade(carried: [UInt8], then bytes: UnsafeRawBufferPointer, tlsOffset: Int,
                                  keepingWalker: Bool = false, preamble: String? = nil) {
        let before = (kind: summary.kind, name: summary.protocolName, evidence: summary.evidence)
        rare.change(initial: RareState()) { $0.upgradedFrom = before }
        let name = summary.protocolName ?? "binary"
        // After a PROXY header, which the preamble names separately.
        let preambleBytes = tlsOffset - proxyHeaderBytes
        if let preamble {
            summary.preamble = preamble
        } else if summary.kind == .http, summary.evidence?.hasPrefix("CONNECT ") == true {
            summary.preamble = "HTTP CONNECT (\(preambleBytes) bytes), then TLS"
        } else {
            summary.preamble = "\(name) preamble (\(preambleBytes) bytes), then TLS"
        }
        state = .tls
        buffer.removeAll()
        if !keepingWalker { walker = TLSRecordWalker() }
        if !carried.isEmpty { carried.withUnsafeBytes { walkTLS($0, streamOffset: tlsOffset) } }
        if case .tls = state, !bytes.isEmpty { walkTLS(bytes, streamOffset: tlsOffset + carried.count) }
    }

    /// Upgrades (STARTTLS, CONNECT, XMPP's `<proceed/>`) switch to TLS right
    /// after a line end or a closing `>`; they happen early in a connection.
    static let upgradeScanLimit = 16_384
    static func endsMessage(_ byte: UInt8) -> Bool { byte == 0x0A || byte == 0x3E }

    /// The first offset `i >= 1` in `d` where a TLS record header follows a
    /// message end: `complete` when all five header bytes are present and
    /// valid, otherwise the candidate runs off the end of `d`.
    static func upgradeCandidate(in d: UnsafeRawBufferPointer, from start: Int) -> (offset: Int, complete: Bool)? {
        var i = max(1, start)
        while i < d.count {
            // Eight bytes at a time: text and most payload have no byte in
            // 20...24 (a record's content type), so whole words are skipped.
            if i + 8 <= d.count, !mayHoldContentType(d.loadUnaligned(fromByteOffset: i, as: UInt64.self)) {
                i += 8
                continue
            }
            let b = d[i]
            if b &- 20 < 5, endsMessage(d[i - 1]) {
                if i + 5 <= d.count {
                    if case .success = TLSRecordHeader.validate(b, d[i + 1], d[i + 2], d[i + 3], d[i + 4]) {
                        return (i, true)
                    }
                } else if i + 1 == d.count || d[i + 1] == 3 {
                    return (i, false)
                }
            }
            i += 1
        }
        return nil
    }

    /// False when `splitAtUpgrade` cannot split `window`: it does not start
    /// with text, or none of its bytes is a record's content type (20...24),
    /// which TLS after a cleartext start must begin with. Sixteen bytes at a
    /// time: on a request or status line and its headers, the first segment
    /// of every HTTP flow, a fifth of `splitAtUpgrade`'s search for the
    /// first byte that is not text, which slows at every line end (940
    /// instructions a segment in the benchmark's mix, against 490 for this
    /// check eight bytes at a time and about 200 now).
    static func mayStartTLSAfterText(_ window: UnsafeRawBufferPointer) -> Bool {
        guard let first = window.first, Probes.isTextByte(first) else { return false }
        var i = 0
        let low = SIMD16<UInt8>(repeating: 20), span = SIMD16<UInt8>(repeating: 5)
        while i + 16 <= window.count {
            let bytes = window.loadUnaligned(fromByteOffset: i, as: SIMD16<UInt8>.self)
            if any((bytes &- low) .< span) { return true }
            i += 16
        }
        // The rest, as the last sixteen bytes (some looked at twice).
        if i < window.count, window.count >= 16 {
            let bytes = window.loadUnaligned(fromByteOffset: window.count - 16, as: SIMD16<UInt8>.self)
            return any((bytes &- low) .< span)
        }
        while i < window.count {
            if window[i] &- 20 < 5 { return true }
            i += 1
        }
        return false
    }

    /// True when some byte of `word` may lie in 20...24 (never false when one does).
    @inline(__always)
    static func mayHoldContentType(_ word: UInt64) -> Bool {
        // Bytes strictly between 19 and 25, the classic SWAR range test.
        let ones: UInt64 = 0x0101_0101_0101_0101
        let low = word & (ones &* 127)
        return ((ones &* (127 + 25)) &- low) & ~word & (low &+ ones &* (127 - 19)) & (ones &* 128) != 0
    }

    /// HTTP: TLS may start only where the first head ends; one position to check.
    private mutating func checkHTTPUpgrade(_ bytes: UnsafeRawBufferPointer, streamOffset start: Int) {
        let at = Int(httpHeadEnd) - start
        guard httpHeadEnd >= 0, at >= 0, at < bytes.count, bytes[at] &- 20 < 5 else { return }
        if at + 5 <= bytes.count {
            if case .success = TLSRecordHeader.validate(bytes[at], bytes[at + 1], bytes[at + 2], bytes[at + 3], bytes[at + 4]) {
                upgrade(carried: [], then: UnsafeRawBufferPointer(rebasing: bytes[at...]), tlsOffset: start + at)
            }
        } else {
            buffer.replace(with: bytes[at...])
        }
    }

    /// Looks for TLS starting right after a message end in a cleartext
    /// stream, wherever the segments were cut: a header may begin in one
    /// segment (its first bytes wait in `buffer`) and end in the next.
    private mutating func scanForUpgrade(_ bytes: UnsafeRawBufferPointer, streamOffset start: Int) {
        guard upgradedFrom == nil, !bytes.isEmpty else { return }
        if !buffer.isEmpty {
            let carried = buffer.bytes
            let need = 5 - carried.count
            if bytes.count < need {
                buffer.append(contentsOf: bytes)
                if buffer.count >= 2, buffer[1] != 3 { buffer.removeAll() }
                return
            }
            buffer.removeAll()
            let h = carried + bytes.prefix(need)
            if case .success = TLSRecordHeader.validate(h[0], h[1], h[2], h[3], h[4]) {
                upgrade(carried: carried, then: bytes, tlsOffset: start - carried.count)
                return
            }
        }
        if summary.kind == .http {
            checkHTTPUpgrade(bytes, streamOffset: start)
            return
        }
        if lastByteEndsMessage, bytes[0] &- 20 < 5 {
            if bytes.count < 5 {
                buffer.replace(with: bytes)
                lastByteEndsMessage = false
                return
            }
            if case .success = TLSRecordHeader.validate(bytes[0], bytes[1], bytes[2], bytes[3], bytes[4]) {
                upgrade(carried: [], then: bytes, tlsOffset: start)
                return
            }
        }
        if let candidate = Self.upgradeCandidate(in: bytes, from: 1) {
            let rest = UnsafeRawBufferPointer(rebasing: bytes[candidate.offset...])
            if candidate.complete {
                upgrade(carried: [], then: rest, tlsOffset: start + candidate.offset)
            } else {
                buffer.replace(with: rest)
                lastByteEndsMessage = false
            }
            return
        }
        lastByteEndsMessage = Self.endsMessage(bytes[bytes.count - 1])
    }

    // MARK: TLS

    private mutating func walkTLS(_ bytes: UnsafeRawBufferPointer, streamOffset: Int) {
        var bytes = bytes
        var offset = streamOffset
        if preambleLeft > 0 {
            let skipped = min(Int(preambleLeft), bytes.count)
            preambleLeft -= Int32(skipped)
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
            buffer.replace(with: (walker.rejectedHeader.prefix(earlier) + rest).prefix(Self.sampleLimit))
        }
    }

    // MARK: Memory

    /// Memory the window holds (probe prefix, resynchronisation window,
    /// post-break sample, a mesh refusal or a gRPC probe being followed), counted by the
    /// flow analysis against a limit on all flows' windows together.
    @inlinable public var heldBytes: Int { Int(buffer.reserved) + Int(followedUnits) * 16 }

    /// Gives the window up, because all flows' windows together are at their
    /// limit: a probe decides on what it has; a resynchronisation tries its
    /// cleartext checks once more, else counts what it held as unverified and
    /// looks again in what follows. (A post-break sample is at most 512 bytes.)
    public mutating func shedHeldBytes() {
        // A refusal no longer followed cannot be told from an answer: the
        // flow reads as the cleartext it is, never as refused.
        if watchingRefusals { stopWatchingRefusals() }
        if summary.followingGRPCProbe {
            // Not followed to its end, it cannot be told to be one probe;
            // the flow's notes say why.
            stopFollowingGRPCProbe()
            summary.windowShed = true
        }
        switch state {
        case .probing:
            if !buffer.isEmpty { probeBuffer(final: true) }
        case .resyncing:
            if !buffer.isEmpty, decideCleartextAfterGap(final: false) { return }
            if !buffer.isEmpty { summary.windowShed = true }
            summary.unverifiedBytes += buffer.count
            buffer.removeAll()
            resyncScanStart = 0
        default:
            break
        }
    }

    private mutating func startResync() {
        state = .resyncing
        buffer.removeAllKeepingCapacity()
        resyncScanStart = 0
    }

    /// Looks for `resyncChain` valid record headers in a row (or, at the end of
    /// the stream, at least two that end exactly at its last byte).
    /// `grewFrom`: the window's size before the bytes just added (the
    /// cleartext checks run as it doubles, see below).
    private mutating func resync(final: Bool, grewFrom before: Int = 0) {
        if pickupStart {
            switch decideAtPickupStart(final: final) {
            case .decided, .waiting: return
            case .undecided: break
            }
        }
        let found: Int? = buffer.withUnsafeBytes { raw -> Int? in
            var k = Int(resyncScanStart)
            var firstUndecided: Int?
            while k + 5 <= raw.count {
                // Most positions cannot start a record header (content type
                // 20-24, major version 3): skipped without the full check.
                guard raw[k] &- 20 < 5, raw[k + 1] == 3 else {
                    k += 1
                    continue
                }
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
            resyncScanStart = Int32(clamping: firstUndecided ?? max(Int(resyncScanStart), raw.count - 4))
            return nil
        }
        if let found {
            summary.unverifiedBytes += found
            summary.resynchronised = true
            state = .tls
            walker = TLSRecordWalker()
            let window = buffer.bytes
            buffer.removeAll()
            resyncScanStart = 0
            window.withUnsafeBytes { raw in
                walkTLS(UnsafeRawBufferPointer(rebasing: raw[found...]), streamOffset: position - raw.count + found)
            }
            return
        }
        // The cleartext checks read the whole window: run at every segment,
        // a flow that never resynchronised cost the square of its window
        // (64 KiB, 1 400-byte segments: 20 M instructions). Run as the window
        // passes 1, 2, 4 … 64 KiB, and at the end, they cost twice its size.
        if final || Self.doubled(from: before, to: buffer.count), decideCleartextAfterGap(final: final) { return }
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
    private var proxyHeaderBytes: Int { rare.value?.proxyHeaderBytes ?? 0 }

    enum PickupDecision {
        /// A protocol start decided the stream.
        case decided
        /// Nothing recognised there: resynchronise as after a gap.
        case undecided
        /// The probes need more bytes (an h2c preface whose first request
        /// has not arrived yet): keep them at the window's start. Bounded:
        /// the probes decide by `Probes.probeLimit` bytes.
        case waiting
    }

    /// At a pickup start that is not TLS framing: a PROXY protocol header is
    /// removed (what follows is the stream), and a recognised protocol start
    /// (h2c preface, SSH banner, a binary protocol's header, HTTP) decides.
    private mutating func decideAtPickupStart(final: Bool) -> PickupDecision {
        guard buffer.count >= 5 || final else { return .undecided }
        let result: ProbeResult? = buffer.withUnsafeBytes { raw in
            guard raw.count >= 5, case .broken = Self.chain(in: raw, from: 0) else { return nil }
            return Probes.probe(raw, final: final || raw.count >= Probes.probeLimit)
        }
        switch result {
        case .proxyHeader(let length, let name):
            guard length <= buffer.count else { return .undecided }
            rare.change(initial: RareState()) {
                $0.proxyHeader = name
                $0.proxyHeaderBytes += length
            }
            buffer.removeFirst(length)
            return .undecided  // resync goes on over what follows the header
        case .ssh(let banner):
            decide(kind: .ssh, name: "ssh", evidence: banner)
            return .decided
        case .cleartext(let kind, let name, let evidence) where kind != .text && name != "binary":
            decide(kind: kind, name: name, evidence: evidence)
            return .decided
        case .needMore:
            return .waiting
        default:
            return .undecided
        }
    }

    /// Whether a window growing from `before` to `after` bytes passed 1 KiB or one of its doublings.
    static func doubled(from before: Int, to after: Int) -> Bool {
        let was = before >> 10, now = after >> 10
        return now.bitWidth - now.leadingZeroBitCount > was.bitWidth - was.leadingZeroBitCount
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
            if Self.mayStartTLSAfterText(bytes), case .split = splitAtUpgrade(bytes, streamOffset: start) { return }
            // The common case: one segment decides, nothing is copied.
            let result = Probes.probe(bytes, final: false)
            if result != .needMore {
                apply(result, to: bytes, streamOffset: start)
                scanDecidedWindow(bytes, streamOffset: start)
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
        let window = buffer.bytes
        let split = window.withUnsafeBytes { splitAtUpgrade($0, streamOffset: position - $0.count, scanFrom: Int(resyncScanStart)) }
        switch split {
        case .split: return
        case .notYet(let resume): resyncScanStart = Int32(clamping: resume)
        case .never: resyncScanStart = .max
        }
        probeBuffer(final: buffer.count >= Probes.probeLimit)
    }

    /// Whether a probe window split into a cleartext preamble and TLS.
    enum Split { case split, notYet(resumeAt: Int), never }

    /// A cleartext start and then, right after a line end, TLS (a STARTTLS
    /// exchange, CONNECT): the start is probed alone, however the bytes
    /// arrived, and the rest is walked as TLS. The preamble is text, so TLS
    /// can only start at the window's first byte that is not text: one
    /// position, found by a scan that stops at the first binary byte (TLS and
    /// binary streams stop at once).
    private mutating func splitAtUpgrade(_ window: UnsafeRawBufferPointer, streamOffset: Int, scanFrom: Int = 1) -> Split {
        guard let first = window.first, Probes.isTextByte(first), scanFrom < Int(Int32.max) else { return .never }
        let k = Probes.endOfText(window, from: max(1, scanFrom))
        guard k + 5 <= window.count else { return .notYet(resumeAt: k) }
        guard window[k] &- 20 < 5, Self.endsMessage(window[k - 1]),
              case .success = TLSRecordHeader.validate(window[k], window[k + 1], window[k + 2], window[k + 3], window[k + 4])
        else { return .never }
        let prefix = UnsafeRawBufferPointer(rebasing: window[0..<k])
        let result = Probes.probe(prefix, final: true)
        guard case .cleartext(let kind, _, _) = result, kind.isCleartext else { return .never }
        // HTTP turns into TLS only right after its first head (CONNECT), never inside a body.
        if kind == .http, Probes.headEnd(prefix).map({ $0 + 4 }) != prefix.count { return .never }
        apply(result, to: prefix, streamOffset: streamOffset)
        upgrade(carried: [], then: UnsafeRawBufferPointer(rebasing: window[k...]), tlsOffset: streamOffset + k)
        return .split
    }

    /// After a cleartext decision on a window: a TLS header may have begun in its last bytes.
    private mutating func scanDecidedWindow(_ window: UnsafeRawBufferPointer, streamOffset: Int) {
        resyncScanStart = 0
        guard case .decided = state, summary.kind.isCleartext, streamOffset < Self.upgradeScanLimit else { return }
        scanForUpgrade(window, streamOffset: streamOffset)
    }

    /// A PROXY protocol header seen; the stream proper follows it.
    private var proxyHeader: String? { rare.value?.proxyHeader }

    /// Probes the prefix; `endOffset` is the stream offset just past it (by
    /// default the current position).
    private mutating func probeBuffer(final: Bool, endOffset: Int? = nil) {
        let window = buffer.bytes
        let result = window.withUnsafeBytes { Probes.probe($0, final: final) }
        guard result != .needMore else { return }
        buffer.removeAll()
        let end = endOffset ?? position
        window.withUnsafeBytes { apply(result, to: $0, streamOffset: end - $0.count) }
        window.withUnsafeBytes { scanDecidedWindow($0, streamOffset: end - $0.count) }
    }

    /// `result` is consumed: its strings are moved into the summary, not
    /// copied (a retain each) and then released with the result.
    private mutating func apply(_ result: consuming ProbeResult, to bytes: UnsafeRawBufferPointer, streamOffset: Int) {
        switch consume result {
        case .needMore:
            return
        case .tls(let preambleLength, let preamble):
            state = .tls
            summary.preamble = preamble
            preambleLeft = Int32(clamping: preambleLength)
            walkTLS(bytes, streamOffset: streamOffset)
        case .sslv2Hello(let length, let version):
            state = .tls
            walker.handshake.noteSSLv2Hello(version: version)
            if version == 0x0002 {
                // SSLv2 only: the whole session is SSLv2 records, the hello the first of them.
                walker.sslv2Framing = true
            } else {
                summary.preamble = "SSLv2-format ClientHello"
                preambleLeft = Int32(clamping: length)
            }
            walkTLS(bytes, streamOffset: streamOffset)
        case .sslv2ServerHello:
            state = .tls
            walker.sslv2Framing = true
            walker.handshake.noteSSLv2ServerHello()
            walkTLS(bytes, streamOffset: streamOffset)
        case .ssh(let banner):
            decide(kind: .ssh, name: "ssh", evidence: banner)
            // From its first byte: its key exchange packets can be followed.
            if !summary.startedMidStream, let lineEnd = SSHKeyExchange.endOfVersionLine(bytes) {
                let version1 = SSHKeyExchange.announcesVersion1(UnsafeRawBufferPointer(rebasing: bytes[..<lineEnd]))
                rare.change(initial: RareState()) {
                    $0.sshKeyExchange = SSHKeyExchange(firstPacketAt: streamOffset + lineEnd, version1: version1)
                }
                followingSSHKeyExchange = true
                followSSHKeyExchange { $0.feed(UnsafeRawBufferPointer(rebasing: bytes[lineEnd...]), streamOffset: streamOffset + lineEnd) }
            }
        case .cleartext(let kind, let name, let evidence):
            decide(kind: kind, name: name, evidence: evidence)
            if kind == .h2c, streamOffset == 0, HTTP2Frames.startsWithSettings(bytes) {
                // The server's side: it may be all a mesh proxy's refusals.
                watchRefusals(bytes, starting: .http2(HTTP2Refusal()))
            }
            if kind == .h2c, streamOffset == 0, !summary.startedMidStream, Probes.startsWith(bytes, Probes.h2cPreface) {
                // The client's side: it may be one of kubelet's gRPC probes.
                summary.followingGRPCProbe = true
                rare.change(initial: RareState()) { $0.kubeletGRPCProbe = KubeletGRPCProbe() }
                followGRPCProbe(UnsafeRawBufferPointer(rebasing: bytes[Probes.h2cPreface.utf8CodeUnitCount...]))
            }
            if kind == .http, streamOffset < Self.upgradeScanLimit, let end = Probes.headEnd(bytes) {
                httpHeadEnd = Int32(streamOffset + end + 4)
                if streamOffset == 0, !summary.startedMidStream {
                    summary.kubeletProbeHead = Probes.isKubeletProbe(head: UnsafeRawBufferPointer(rebasing: bytes[..<end]))
                }
                // A mesh proxy's refusal is the first thing its direction sends.
                if streamOffset == 0, let refusal = Probes.proxyRefusal(bytes, headEnd: end) {
                    summary.evidence = refusal.evidence
                    watchRefusals(bytes, starting: .http1(HTTP1Refusals()))
                }
            }
        case .binary(let entropy, let name, let evidence):
            decide(kind: .binary, name: name, evidence: evidence)
            summary.entropy = entropy
            keepTail(bytes)
        case .negotiation(let name, let evidence, let packetLength):
            // Cleartext so far; the packets that follow show the outcome.
            decide(kind: .cleartextProtocol, name: name, evidence: evidence)
            rare.change(initial: RareState()) {
                $0.openedWithNegotiation = true
                $0.nextPacket = streamOffset + packetLength
            }
            followPackets(bytes, streamOffset: streamOffset)
        case .webSocketUpgrade(let headerLength, let evidence):
            // HTTP in clear so far; the frames that follow may carry anything.
            decide(kind: .http, name: "http", evidence: evidence)
            state = .webSocket
            tunnel = WebSocketTunnel()
            if headerLength < bytes.count { walkWebSocket(UnsafeRawBufferPointer(rebasing: bytes[headerLength...])) }
        case .proxyHeader(let length, let name):
            // Probe what follows the header as if the stream started there.
            rare.change(initial: RareState()) {
                $0.proxyHeader = name
                $0.proxyHeaderBytes += length
            }
            let rest = UnsafeRawBufferPointer(rebasing: bytes[min(length, bytes.count)...])
            if !rest.isEmpty { probeIncoming(rest, streamOffset: streamOffset + length) }
        }
    }

    /// Follows a server's answers (`HTTP1Refusals`, `HTTP2Refusal`) until
    /// they are more than a mesh proxy's refusals; `starting`: a new watch,
    /// from the direction's first byte.
    private mutating func watchRefusals(_ bytes: UnsafeRawBufferPointer, starting: RefusalWatch? = nil) {
        var refusalsOnly = false
        rare.change(initial: RareState()) {
            if let starting { $0.refusals = starting }
            refusalsOnly = $0.refusals?.receive(bytes) ?? false
            if !refusalsOnly { $0.refusals = nil }
        }
        watchingRefusals = refusalsOnly
        let held = refusalsOnly ? rare.value?.refusals?.heldBytes ?? 0 : 0
        followedUnits = UInt16(clamping: (held + 15) / 16)
    }

    private mutating func stopWatchingRefusals() {
        watchingRefusals = false
        followedUnits = 0
        rare.change(initial: RareState()) { $0.refusals = nil }
    }

    /// Follows an h2c client's frames (`KubeletGRPCProbe`); once they are
    /// more than one probe, keeps only whether its call was a probe's.
    private mutating func followGRPCProbe(_ bytes: UnsafeRawBufferPointer) {
        var probeOnly = false, sentProbeCall = false, held = 0
        rare.change(initial: RareState()) {
            // Taken out of its slot before it changes, so that its buffers
            // are not shared with a copy left behind (see `RefusalWatch`).
            guard var probe = $0.kubeletGRPCProbe else { return }
            $0.kubeletGRPCProbe = nil
            probeOnly = probe.receive(bytes)
            sentProbeCall = probe.sentProbeCall
            held = probe.heldBytes
            if probeOnly { $0.kubeletGRPCProbe = probe }
        }
        guard probeOnly else {
            summary.followingGRPCProbe = false
            summary.kubeletProbeHead = sentProbeCall
            followedUnits = 0
            return
        }
        followedUnits = UInt16(clamping: (held + 15) / 16)
    }

    /// Bytes lost or a window given up: the frames cannot be followed on,
    /// and a probe whose bytes were not all seen cannot be told to be one.
    private mutating func stopFollowingGRPCProbe() {
        let sentProbeCall = rare.value?.kubeletGRPCProbe?.sentProbeCall ?? false
        rare.change(initial: RareState()) { $0.kubeletGRPCProbe = nil }
        summary.followingGRPCProbe = false
        summary.kubeletProbeHead = sentProbeCall
        followedUnits = 0
    }

    private mutating func decide(kind: PayloadKind, name: consuming String?, evidence: consuming String?) {
        state = .decided
        summary.kind = kind
        summary.protocolName = name
        summary.evidence = evidence
        buffer.removeAll()
    }

    /// After a negotiation: PRELOGIN packets (the TLS handshake wrapped in
    /// them) are followed by their lengths, wherever the segments were cut,
    /// and what they carry is walked as TLS records (so that the handshake's
    /// details are read and its framing checked); a valid TLS record header
    /// where a packet ends starts the TLS proper, walked on by the same
    /// walker. Any other packet (LOGIN7 in clear), or a wrapped payload that
    /// is not TLS, ends the following: the stream stays what its opening said.
    private mutating func followPackets(_ bytes: UnsafeRawBufferPointer, streamOffset start: Int) {
        guard var next = rare.value?.nextPacket else { return }
        var header = rare.value?.packetStart ?? []
        // Bytes come in order with nothing skipped: a header begun earlier
        // ends right before these bytes. A gap (missing bytes) loses the
        // packet boundaries, and the following ends.
        guard next + header.count >= start else { return stopFollowing() }
        var payloadFrom = rare.value?.wrappedPayloadFrom
        var i = max(0, next - start)
        // The rest of the current packet's payload that is in this call.
        if let from = payloadFrom, !walkWrapped(bytes, from: max(0, from - start), to: min(i, bytes.count)) { return stopFollowing() }
        while i < bytes.count {
            header.append(contentsOf: bytes[i..<min(bytes.count, i + 8 - header.count)])
            let first = header[0]
            if first &- 20 < 5 {
                guard header.count >= 5 else { break }
                if case .success = TLSRecordHeader.validate(header[0], header[1], header[2], header[3], header[4]),
                   walker.isAtRecordBoundary {
                    // The earlier segments' part of the header, then this one's bytes from the packet end on.
                    let carried = next < start ? Array(header.prefix(start - next)) : []
                    let rest = UnsafeRawBufferPointer(rebasing: bytes[max(0, next - start)...])
                    clearFollowing()
                    let wrapped = walker.records > 0
                    upgrade(carried: carried, then: rest, tlsOffset: next, keepingWalker: wrapped,
                            preamble: wrapped ? "TDS PRELOGIN, then the TLS handshake in PRELOGIN packets (\(next) bytes), then TLS" : nil)
                    return
                }
            } else if first == ClearBinaryProbes.tdsPrelogin, header.count < 8 {
                break
            } else if first == ClearBinaryProbes.tdsPrelogin,
                      let length = header.withUnsafeBytes({ ClearBinaryProbes.tdsHeader($0, at: 0)?.length }) {
                payloadFrom = next + 8
                next += length
                header = []
                let from = max(0, next - length + 8 - start)
                i = next - start
                if from < bytes.count, !walkWrapped(bytes, from: from, to: min(i, bytes.count)) { return stopFollowing() }
                continue
            }
            return stopFollowing()
        }
        let pending = header, payload = payloadFrom
        rare.change(initial: RareState()) { $0.nextPacket = next; $0.packetStart = pending; $0.wrappedPayloadFrom = payload }
    }

    /// Walks `bytes[from..<to]`, TLS carried in a PRELOGIN packet; false when
    /// it is not TLS framing.
    private mutating func walkWrapped(_ bytes: UnsafeRawBufferPointer, from: Int, to: Int) -> Bool {
        guard from < to else { return true }
        let part = UnsafeRawBufferPointer(rebasing: bytes[from..<to])
        return walker.walk(part) == part.count
    }

    private mutating func clearFollowing() {
        rare.change(initial: RareState()) { $0.nextPacket = nil; $0.packetStart = []; $0.wrappedPayloadFrom = nil }
    }

    private mutating func stopFollowing() {
        clearFollowing()
        // Whatever the walker read of wrapped payloads is not this stream's TLS.
        walker = TLSRecordWalker()
    }

    /// After an upgrade from binary data, the TLS stopped: true, with the
    /// summary naming it, when what followed is a recognised cleartext protocol.
    private mutating func nameCleartextRemainder() -> Bool {
        let result = buffer.withUnsafeBytes { Probes.probe($0, final: true) }
        guard case .cleartext(let kind, let name, let evidence) = result, kind.isCleartext, kind != .text, name != "binary" else { return false }
        buffer.removeAll()
        summary.kind = kind
        summary.protocolName = name
        summary.evidence = evidence
        return true
    }

    /// TLS framing broke: name what followed (cleartext after a fake header is plaintext).
    private mutating func nameBrokenRemainder() {
        let result = buffer.withUnsafeBytes { Probes.probe($0, final: true) }
        buffer.removeAll()
        switch result {
        case .cleartext(let kind, let name, let evidence):
            summary.kind = kind
            summary.protocolName = name
            summary.evidence = evidence
        case .binary(let entropy, _, _):
            summary.kind = .binary
            summary.entropy = entropy
        default:
            summary.kind = .binary
        }
    }
}

// MARK: WebSocket

extension DirectionClassifier {
    /// The tunnel, unshared before it is changed (a copied classifier must not see this one's frames).
    private mutating func uniqueTunnel() -> WebSocketTunnel? {
        guard var box = tunnel else { return nil }
        tunnel = nil
        if !isKnownUniquelyReferenced(&box) { box = box.copy() }
        tunnel = box
        return box
    }

    fileprivate mutating func walkWebSocket(_ bytes: UnsafeRawBufferPointer) {
        guard let tunnel = uniqueTunnel() else { return }
        // Once the payload is decided (SSH, text, binary) frames are still
        // checked, but their payload is no longer unmasked.
        var wantsPayload = true
        if case .decided = tunnel.inner { wantsPayload = false }
        let framed = tunnel.frames.walk(bytes, wantsPayload: wantsPayload) { payload in
            classifyTunnelled(payload, in: tunnel)
        }
        if !framed {
            // Not WebSocket after all (an upgrade that was refused, then more
            // HTTP): the stream is what its start said it was.
            self.tunnel = nil
            state = .decided
        }
    }

    fileprivate mutating func skipInWebSocket(_ count: Int) {
        guard let tunnel = uniqueTunnel() else { return }
        var kept = tunnel.frames.skip(count)
        switch tunnel.inner {
        case .tls: kept = kept && walker.skip(count)
        case .decided, .broken: break  // nothing left to verify in the payload
        case .probing: kept = false    // the first bytes, which decide, are incomplete
        }
        if !kept {
            tunnel.lostAtGap = true
            finishWebSocket()
        }
    }

    /// Payload of data frames, unmasked, in order.
    private mutating func classifyTunnelled(_ payload: UnsafeRawBufferPointer, in tunnel: WebSocketTunnel) {
        switch tunnel.inner {
        case .probing:
            let room = Probes.probeLimit - tunnel.sample.count
            tunnel.sample.append(contentsOf: payload.prefix(room))
            let result = tunnel.sample.withUnsafeBytes { Probes.probe($0, final: tunnel.sample.count >= Probes.probeLimit) }
            switch result {
            case .needMore:
                return
            case .tls(preambleLength: 0, _):
                tunnel.inner = .tls
                let sample = tunnel.sample
                tunnel.sample = []
                sample.withUnsafeBytes { walkTunnelledTLS($0, in: tunnel) }
                if room < payload.count { walkTunnelledTLS(UnsafeRawBufferPointer(rebasing: payload[room...]), in: tunnel) }
            default:
                tunnel.inner = .decided(result)
            }
        case .tls:
            walkTunnelledTLS(payload, in: tunnel)
        case .broken:
            let room = Self.sampleLimit - tunnel.sample.count
            if room > 0 { tunnel.sample.append(contentsOf: payload.prefix(room)) }
        case .decided:
            return
        }
    }

    private mutating func walkTunnelledTLS(_ payload: UnsafeRawBufferPointer, in tunnel: WebSocketTunnel) {
        guard case .tls = tunnel.inner else { return }
        let consumed = walker.walk(payload)
        guard consumed < payload.count else { return }
        if let error = walker.error {
            summary.framingBreak = FramingBreak(offset: error.offset, error: error.error)
        }
        tunnel.inner = .broken
        tunnel.sample = Array(payload[consumed...].prefix(Self.sampleLimit))
    }

    static let webSocketPreamble = "HTTP upgrade to WebSocket"

    /// Entropy of the first payload bytes the tunnel kept.
    private static func sampleEntropy(of tunnel: WebSocketTunnel) -> Double {
        tunnel.sample.withUnsafeBytes { Probes.entropy(UnsafeRawBufferPointer(rebasing: $0.prefix(sampleLimit))) }
    }

    /// What the tunnel carried becomes what this direction carried; the
    /// cleartext upgrade before it is named as the preamble.
    fileprivate mutating func finishWebSocket() {
        guard let tunnel else { return }
        self.tunnel = nil
        state = .decided
        let frames = tunnel.frames.frames
        let preamble = "\(Self.webSocketPreamble) (\(frames) frame\(frames == 1 ? "" : "s"))"
        var inner = tunnel.inner
        if case .probing = inner {
            guard !tunnel.sample.isEmpty else {
                // Frames with no data payload (pings, a close, compressed
                // messages): the cleartext upgrade is all there is to judge.
                if tunnel.frames.compressedFrames > 0 {
                    summary.evidence = (summary.evidence ?? "") + "; WebSocket payload compressed (permessage-deflate)"
                }
                return
            }
            inner = .decided(tunnel.sample.withUnsafeBytes { Probes.probe($0, final: true) })
        }
        if case .broken = inner {
            // After a broken TLS header: cleartext is named, anything else is binary.
            let named = tunnel.sample.withUnsafeBytes { Probes.probe($0, final: true) }
            if case .cleartext = named {
                inner = .decided(named)
            } else {
                inner = .decided(.binary(entropy: tunnel.sample.withUnsafeBytes { Probes.entropy($0) }))
            }
        }
        switch inner {
        case .tls:
            if tunnel.lostAtGap {
                summary.kind = .undetermined
                summary.protocolName = nil
                return
            }
            summary.kind = .tls
            summary.protocolName = "tls"
            summary.preamble = preamble + ", TLS inside"
        case .decided(.ssh(let banner)):
            summary.kind = .ssh
            summary.protocolName = "ssh"
            summary.preamble = preamble + ", SSH inside"
            summary.evidence = (summary.evidence.map { $0 + "; " } ?? "") + "WebSocket payload: " + banner
        case .decided(.cleartext(let kind, _, let evidence)) where kind.isCleartext:
            summary.evidence = (summary.evidence.map { $0 + "; " } ?? "") + "WebSocket payload: " + evidence
        case .decided(.cleartext):
            return
        case .decided(.tls), .decided(.sslv2Hello), .decided(.sslv2ServerHello):
            // TLS after a preamble of its own, or SSLv2, which the tunnel
            // does not walk: it may be encrypted, but it is not proven.
            summary.kind = .binary
            summary.protocolName = nil
            summary.preamble = preamble
            summary.entropy = Self.sampleEntropy(of: tunnel)
        case .decided(let other):
            // Binary that is no protocol wirecheck knows: no TLS followed the
            // upgrade, whose request (headers, cookies) crossed in clear, so
            // the stream stays what its start was, HTTP, as when an HTTP body
            // is high-entropy. (It read "opaque" before, which no audit fails
            // by default: an unencrypted WebSocket service passed silently.)
            let entropy: Double
            if case .binary(let measured, _, _) = other {
                entropy = measured
            } else {
                entropy = Self.sampleEntropy(of: tunnel)
            }
            let sampled = min(tunnel.sample.count, Self.sampleLimit)
            let payload = Probes.isLowEntropy(entropy, sampleSize: sampled)
                ? Self.structuredBinary(bits: entropy)
                : "binary data, entropy \(formattedEntropy(entropy)) bits/byte, not TLS"
            summary.evidence = (summary.evidence.map { $0 + "; " } ?? "") + "WebSocket payload: " + payload
        case .probing, .broken:
            return
        }
    }
}

/// `DirectionClassifier`'s rarely used state (see `OutOfLine`).
struct RareState: Sendable {
    var upgradedFrom: (kind: PayloadKind, name: String?, evidence: String?)?
    var proxyHeader: String?
    /// The PROXY header's length, wherever it was found. Both users count
    /// from its end: `pickupStart` (the header was removed from the resync
    /// window; only a stream picked up mid-way, which finds it there, asks)
    /// and an upgrade's preamble (the header is named on its own).
    var proxyHeaderBytes = 0
    /// The stream opened with a negotiation (TDS PRELOGIN): if TLS follows
    /// and then stops, what crossed in clear after it is the evidence.
    var openedWithNegotiation = false
    /// Where the next TDS packet (or the TLS) starts, while PRELOGIN packets
    /// follow each other; nil once something else came. `packetStart`: its
    /// first bytes when they arrived in earlier segments.
    var nextPacket: Int?
    var packetStart: [UInt8] = []
    /// Where the current PRELOGIN packet's payload (TLS records) began; nil
    /// for the first PRELOGIN, whose payload is the negotiation itself.
    var wrappedPayloadFrom: Int?
    /// The server's side of HTTP or h2c while it may be all a mesh proxy's refusals.
    var refusals: RefusalWatch?
    /// An SSH stream from its first byte: its key exchange in clear.
    var sshKeyExchange: SSHKeyExchange?
    /// An h2c client's side while it may be one of kubelet's gRPC probes.
    var kubeletGRPCProbe: KubeletGRPCProbe?
}

/// What a classifier has concluded so far: `DirectionSummary` without the
/// TLS counts and handshake details, which the record walker holds.
struct SummarySoFar: Sendable {
    // Word-sized fields first, the one-byte ones last (less padding).
    var protocolName: String?
    var bytes = 0
    var gapBytes = 0
    var unverifiedBytes = 0
    var evidence: String?
    /// Preamble, framing break and entropy: most streams have none of them
    /// (TLS from the start, HTTP), so they wait out of line, 8 bytes here
    /// instead of 56 in each of the two summaries every open flow holds.
    private var rare = OutOfLine<RareSummary>()
    var kind: PayloadKind = .none
    var startedMidStream = false
    var resynchronised = false
    var windowShed = false
    /// An SSH side sent NEWKEYS (see `SSHKeyExchange`).
    var sshNewKeysSent = false
    /// The stream opened with a kubelet probe's request head, or its
    /// call, over HTTP/2 (see `DirectionSummary.kubeletProbeOnly`).
    var kubeletProbeHead = false
    /// An h2c client's frames are followed while they may be one of
    /// kubelet's gRPC probes (`RareState.kubeletGRPCProbe`): a flag here,
    /// inline, so that other h2c streams' segments need not look out of line.
    var followingGRPCProbe = false

    /// Lets every string and object go (see `DirectionClassifier.releaseHeld`).
    @inline(__always)
    mutating func releaseHeld() {
        if protocolName != nil { protocolName = nil }
        if evidence != nil { evidence = nil }
        rare.releaseHeld()
    }

    var preamble: String? {
        get { rare.value?.preamble }
        set { if newValue != nil || rare.isSet { rare.change(initial: RareSummary()) { $0.preamble = newValue } } }
    }

    var framingBreak: FramingBreak? {
        get { rare.value?.framingBreak }
        set { if newValue != nil || rare.isSet { rare.change(initial: RareSummary()) { $0.framingBreak = newValue } } }
    }

    var entropy: Double? {
        get { rare.value?.entropy }
        set { if newValue != nil || rare.isSet { rare.change(initial: RareSummary()) { $0.entropy = newValue } } }
    }

    var proxyRefusal: ProxyRefusal? {
        get { rare.value?.proxyRefusal }
        set { if newValue != nil || rare.isSet { rare.change(initial: RareSummary()) { $0.proxyRefusal = newValue } } }
    }
}

/// `SummarySoFar`'s rarely set parts (see there).
struct RareSummary: Sendable {
    var preamble: String?
    var framingBreak: FramingBreak?
    var entropy: Double?
    var proxyRefusal: ProxyRefusal?
}
