#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#endif
/// What the cleartext part of a TLS handshake showed, from one direction.
public struct TLSHandshakeDetails: Sendable, Equatable {
    // Stored fields in an order that leaves no padding between them, the
    // flags in bits, versions without Optional's tag byte: every open flow
    // holds two of these (a test keeps the flow's state from growing).
    /// supported_versions offered by the client (TLS 1.3 clients), GREASE removed.
    public var offeredVersions: [UInt16] = []
    public var serverName: String?
    public var alpnOffered: [String] = []
    /// ALPN chosen by the server; visible only up to TLS 1.2 (1.3 encrypts it).
    public var alpnSelected: String?
    /// The name this direction's TLS 1.2 certificate gives its holder (see
    /// `CertificateName`) as printable text, empty when none was seen or it
    /// named nobody. Bytes rather than a String: one word, not two, for a
    /// name only TLS 1.2 handshakes show, and written out as they are.
    public var certificateNameBytes: [UInt8] = []

    /// Lets every list and string go: holds none after (see `DirectionClassifier.releaseHeld`).
    @inline(__always)
    mutating func releaseHeld() {
        if offeredVersions.capacity != 0 { offeredVersions = [] }
        if serverName != nil { serverName = nil }
        if alpnOffered.capacity != 0 { alpnOffered = [] }
        if alpnSelected != nil { alpnSelected = nil }
        if certificateNameBytes.capacity != 0 { certificateNameBytes = [] }
    }

    /// The same as text, nil for none.
    public var certificateName: String? {
        certificateNameBytes.isEmpty ? nil : String(decoding: certificateNameBytes, as: UTF8.self)
    }

    /// The legacy_version field of the ClientHello.
    public var clientHelloVersion: UInt16? {
        get { clientHelloVersionValue == 0 ? nil : clientHelloVersionValue }
        set { clientHelloVersionValue = newValue ?? 0 }
    }
    /// Version the server selected (supported_versions, else ServerHello.version).
    public var selectedVersion: UInt16? {
        get { selectedVersionValue == 0 ? nil : selectedVersionValue }
        set { selectedVersionValue = newValue ?? 0 }
    }
    /// The key exchange group the server chose: the group of TLS 1.3's
    /// key_share (a HelloRetryRequest's until the ServerHello that follows
    /// it), or the named curve of a TLS 1.2 ECDHE ServerKeyExchange.
    public var keyExchangeGroup: UInt16? {
        get { keyExchangeGroupValue == 0 ? nil : keyExchangeGroupValue }
        set { keyExchangeGroupValue = newValue ?? 0 }
    }
    /// Bytes of the first vector of a TLS 1.2 ServerKeyExchange that is not
    /// ECDHE. Under a DHE suite that vector is the Diffie-Hellman prime, so
    /// this is its size; the policy, which knows the suites, decides.
    public var serverKeyExchangePrimeLength: UInt16? {
        get { primeLengthValue == 0 ? nil : primeLengthValue }
        set { primeLengthValue = newValue ?? 0 }
    }
    // Stored without Optional's tag byte, 0 for none: no version, group or
    // prime length is 0 (a hello claiming version 0x0000 reads as none).
    private var clientHelloVersionValue: UInt16 = 0
    private var selectedVersionValue: UInt16 = 0
    private var keyExchangeGroupValue: UInt16 = 0
    private var primeLengthValue: UInt16 = 0
    private var flags: UInt16 = 0
    /// Optional: suite 0x0000 (TLS_NULL_WITH_NULL_NULL) is one a server can name.
    public var cipherSuite: UInt16?

    public var clientHelloSeen: Bool {
        get { flag(Self.clientHelloBit) }
        set { setFlag(Self.clientHelloBit, newValue) }
    }
    public var serverHelloSeen: Bool {
        get { flag(Self.serverHelloBit) }
        set { setFlag(Self.serverHelloBit, newValue) }
    }
    public var helloRetryRequest: Bool {
        get { flag(Self.helloRetryBit) }
        set { setFlag(Self.helloRetryBit, newValue) }
    }
    /// A TLS 1.2 CertificateRequest was seen (server asks for a client certificate).
    public var certificateRequestSeen: Bool {
        get { flag(Self.certificateRequestBit) }
        set { setFlag(Self.certificateRequestBit, newValue) }
    }
    /// A Certificate message was seen; `certificateEmpty` says whether it held none.
    public var certificateSeen: Bool {
        get { flag(Self.certificateBit) }
        set { setFlag(Self.certificateBit, newValue) }
    }
    public var certificateEmpty: Bool {
        get { flag(Self.certificateEmptyBit) }
        set { setFlag(Self.certificateEmptyBit, newValue) }
    }
    /// The stream opened with an SSLv2-format ClientHello (legacy clients).
    public var sslv2Hello: Bool {
        get { flag(Self.sslv2Bit) }
        set { setFlag(Self.sslv2Bit, newValue) }
    }
    /// A message claimed more than the parser keeps, or did not parse.
    public var malformedMessage: Bool {
        get { flag(Self.malformedBit) }
        set { setFlag(Self.malformedBit, newValue) }
    }
    /// Bytes of a handshake record were missing from the capture; parsing
    /// stopped there rather than read what follows as the message's rest.
    public var gapInHandshake: Bool {
        get { flag(Self.gapBit) }
        set { setFlag(Self.gapBit, newValue) }
    }
    /// The ServerHello that answers the client's second ClientHello, after a
    /// HelloRetryRequest, was seen: the handshake went on.
    public var serverHelloAfterRetrySeen: Bool {
        get { flag(Self.helloAfterRetryBit) }
        set { setFlag(Self.helloAfterRetryBit, newValue) }
    }
    /// The ClientHello carried an outer encrypted_client_hello extension
    /// (ECH): its server_name is the outer, public name, and the name the
    /// client wants may be encrypted inside. Browsers also send it as GREASE
    /// (random bytes, the outer name the real one), which the wire cannot
    /// tell apart: only the server's encrypted answer says whether it was used.
    public var echOffered: Bool {
        get { flag(Self.echBit) }
        set { setFlag(Self.echBit, newValue) }
    }
    private static let malformedBit: UInt16 = 1, gapBit: UInt16 = 2, helloAfterRetryBit: UInt16 = 4, echBit: UInt16 = 8
    private static let clientHelloBit: UInt16 = 16, serverHelloBit: UInt16 = 32, helloRetryBit: UInt16 = 64
    private static let certificateRequestBit: UInt16 = 128, certificateBit: UInt16 = 256, certificateEmptyBit: UInt16 = 512
    private static let sslv2Bit: UInt16 = 1024
    @inline(__always) private func flag(_ bit: UInt16) -> Bool { flags & bit != 0 }
    @inline(__always) private mutating func setFlag(_ bit: UInt16, _ on: Bool) { flags = on ? flags | bit : flags & ~bit }

    /// Whether and how the server resumed an earlier session.
    public var resumption = Resumption.none
    /// ClientHello: bit i set when the client's i-th pre-shared key identity
    /// (of the first 8) has an obfuscated_ticket_age of 0, which RFC 8446
    /// §4.2.11 asks of keys established out of band; a resumption ticket's age
    /// is offset by a random 32-bit value.
    public var externalKeyIdentities: UInt8 = 0
    /// ServerHello: the client's identity the server's pre_shared_key
    /// selected (`noSelectedIdentity` when none was, or beyond 254).
    public var selectedKeyIdentity: UInt8 = noSelectedIdentity
    public static let noSelectedIdentity: UInt8 = 255

    public init() {}

    /// How a server resumed a session (one byte of the flow's state).
    public enum Resumption: UInt8, Sendable {
        case none
        /// Up to TLS 1.2, the abbreviated handshake: the server's
        /// ChangeCipherSpec came after its ServerHello with no certificate,
        /// key exchange or ServerHelloDone between. Keys, and any client
        /// certificate, come from an earlier handshake.
        case abbreviatedHandshake
        /// TLS 1.3: the ServerHello accepted one of the client's pre-shared
        /// keys (a resumption ticket, or a key shared out of band) and
        /// carries a key share: fresh (EC)DHE as well (psk_dhe_ke).
        case preSharedKeyWithKeyShare
        /// TLS 1.3: a pre-shared key accepted and no key_share extension at
        /// all (psk_ke): the keys come from that key alone.
        case preSharedKeyOnly
    }

    public var resumed: Bool { resumption != .none }
}

/// Parses handshake messages from the bodies of handshake records, across
/// record and segment boundaries. Only messages whose contents matter
/// (ClientHello, ServerHello, Certificate, CertificateRequest) are buffered,
/// each up to `maximumMessage`; the rest are skipped by count.
public struct HandshakeParser: Sendable {
    public private(set) var details = TLSHandshakeDetails()
    /// Body bytes kept for parsing when a message spans several feeds.
    private var body: [UInt8] = []
    private var bodyLeft = 0
    /// Bytes of the current message kept for parsing.
    private var keepLimit = 0
    private var messages: UInt8 = 0
    /// The server sent a message only a full handshake has (Certificate,
    /// ServerKeyExchange, CertificateRequest, ServerHelloDone).
    private var fullHandshakeMessageSeen = false
    // The small fields together, so that they share one word of the flow's
    // state (which a test keeps from growing).
    /// The message header read so far (type and 24-bit length), and how many of its 4 bytes.
    private var header: UInt32 = 0
    private var headerCount: UInt8 = 0
    private var bodyType: UInt8 = 0
    private var keepBody = false
    /// No byte of the current message's body has been seen yet.
    private var bodyUntouched = false

    /// Large post-quantum key shares make ClientHellos of 2–3 KB; 64 KiB is plenty.
    public static let maximumMessage = 65_536
    /// Of a Certificate message, the bytes kept for the leaf's name: leaf
    /// certificates are 1–2 KB, those with hundreds of names a few more;
    /// a longer one is not read (its name is not shown).
    static let maximumCertificateKept = 16_384
    /// After this many messages nothing more is learned from the cleartext part.
    static let maximumMessages = 16

    public init() {}

    /// Lets every list and string go (see `DirectionClassifier.releaseHeld`).
    @inline(__always)
    mutating func releaseHeld() {
        details.releaseHeld()
        if body.capacity != 0 { body = [] }
    }

    /// Hands over what was learned, leaving nothing behind (moved, not copied:
    /// the parser is done once its stream has ended).
    public mutating func takeDetails() -> TLSHandshakeDetails {
        var taken = TLSHandshakeDetails()
        swap(&taken, &details)
        return taken
    }

    /// After a HelloRetryRequest, the ServerHello to come is in a cleartext
    /// handshake record even after the server's ChangeCipherSpec (TLS 1.3's
    /// middlebox compatibility sends one after the HelloRetryRequest; TLS
    /// 1.3 encrypts everything else in application data records).
    public var awaitsServerHelloAfterRetry: Bool {
        details.helloRetryRequest && !details.serverHelloAfterRetrySeen && details.selectedVersion == 0x0304
    }

    /// Whether more handshake bytes could still tell something.
    public var wantsBytes: Bool {
        Int(messages) < Self.maximumMessages && !details.malformedMessage && !details.gapInHandshake
    }

    /// Handshake bytes were not captured: what was learned stays, nothing more is parsed.
    public mutating func noteGap() {
        details.gapInHandshake = true
        headerCount = 0
        body.removeAll()
        bodyLeft = 0
    }

    public mutating func feed(_ bytes: UnsafeRawBufferPointer) {
        var i = 0
        while i < bytes.count, wantsBytes {
            if bodyLeft > 0 {
                let take = min(bodyLeft, bytes.count - i)
                if keepBody, bodyUntouched, take == bodyLeft {
                    // The whole body is in this feed (the usual case): parsed
                    // where it lies, not copied first.
                    finishMessage(UnsafeRawBufferPointer(rebasing: bytes[i..<(i + min(take, keepLimit))]))
                    bodyLeft = 0
                    i += take
                    continue
                }
                if keepBody, body.count < keepLimit {
                    let kept = min(take, keepLimit - body.count)
                    body.append(contentsOf: UnsafeRawBufferPointer(rebasing: bytes[i..<(i + kept)]))
                    if bodyType == 11, body.count >= 6 {
                        // certificate_list's length, then the leaf's: keep no more than the leaf.
                        keepLimit = min(keepLimit, 6 + (Int(body[3]) << 16 | Int(body[4]) << 8 | Int(body[5])))
                    }
                }
                bodyUntouched = false
                bodyLeft -= take
                i += take
                if bodyLeft == 0 { finishKeptMessage() }
                continue
            }
            if headerCount == 0, bytes.count - i >= 4 {
                // A whole header in this feed (the usual case): one load.
                header = UInt32(bigEndian: bytes.loadUnaligned(fromByteOffset: i, as: UInt32.self))
                headerCount = 4
                i += 4
            } else {
                header = header << 8 | UInt32(bytes[i])
                headerCount += 1
                i += 1
            }
            if headerCount == 4 {
                bodyType = UInt8(truncatingIfNeeded: header >> 24)
                let length = Int(header & 0xFF_FFFF)
                headerCount = 0
                switch bodyType {
                case 1, 2: keepBody = length <= Self.maximumMessage
                case 11, 12, 13:
                    keepBody = length <= Self.maximumMessage
                    fullHandshakeMessageSeen = true
                case 14:
                    keepBody = false
                    fullHandshakeMessageSeen = true
                default: keepBody = false
                }
                // Hellos are parsed whole; of a Certificate its first (leaf)
                // certificate, for its holder's name (the limit shrinks to
                // that certificate once its length is in), of a
                // ServerKeyExchange its first four bytes (curve type, named
                // curve, point length; or a DH prime's length), and a
                // CertificateRequest only exists.
                switch bodyType {
                case 11: keepLimit = min(length, Self.maximumCertificateKept)
                case 12: keepLimit = 4
                case 13: keepLimit = 0
                default: keepLimit = length
                }
                // Only when it holds something: on the empty list (every
                // message parsed where it lies leaves it so) the removal
                // still checked and released its storage, a runtime call
                // or two per message.
                if !body.isEmpty { body.removeAll(keepingCapacity: true) }
                bodyLeft = length
                bodyUntouched = true
                if length == 0 { finishMessage(UnsafeRawBufferPointer(start: nil, count: 0)) }
            }
        }
    }

    /// A ChangeCipherSpec record started: the cleartext handshake of this
    /// direction ends. On the server's side, straight after a TLS 1.2 (or
    /// older) ServerHello, it marks the abbreviated handshake of a resumed
    /// session. Not when a message was under way or bytes were missing (a
    /// lost Certificate must not read as resumption), nor for TLS 1.3, whose
    /// servers may send one after every ServerHello (middlebox compatibility).
    /// (Out of line: once per direction, kept out of the record walk's loop.)
    @inline(never)
    public mutating func noteChangeCipherSpec() {
        guard details.serverHelloSeen, !details.helloRetryRequest, !fullHandshakeMessageSeen,
              !details.gapInHandshake, !details.malformedMessage, headerCount == 0, bodyLeft == 0,
              let version = details.selectedVersion, version >= 0x0300, version < 0x0304
        else { return }
        details.resumption = .abbreviatedHandshake
    }

    /// Marks an SSLv2 SERVER-HELLO: the server chose SSL 2.0.
    mutating func noteSSLv2ServerHello() {
        details.sslv2Hello = true
        details.serverHelloSeen = true
        details.selectedVersion = 0x0002
    }

    /// Marks an SSLv2-format ClientHello, parsed by the direction classifier.
    mutating func noteSSLv2Hello(version: UInt16) {
        details.sslv2Hello = true
        details.clientHelloSeen = true
        details.clientHelloVersion = version
    }

    /// Ends a message whose kept body was gathered across feeds.
    private mutating func finishKeptMessage() {
        let kept = body
        kept.withUnsafeBytes { finishMessage($0) }
        body.removeAll()
    }

    /// Ends a message; `kept` is its body, up to `keepLimit` bytes.
    private mutating func finishMessage(_ kept: UnsafeRawBufferPointer) {
        messages &+= 1  // at most maximumMessages
        guard keepBody else { return }
        var reader = ByteReader(kept)
        switch bodyType {
        case 1:
            if !parseClientHello(&reader) { details.malformedMessage = true }
        case 2:
            if !parseServerHello(&reader) { details.malformedMessage = true }
        case 11:
            details.certificateSeen = true
            // TLS 1.2: certificate_list<0..2^24-1>; TLS 1.3 would be encrypted.
            if let length = reader.u24() { details.certificateEmpty = length == 0 } else { details.malformedMessage = true }
            if !details.certificateEmpty { details.certificateNameBytes = CertificateName.leafName(inCertificateMessage: kept) }
        case 12:
            // The message's whole length is still in `header` (its next
            // header has not started).
            parseServerKeyExchange(&reader, length: Int(header & 0xFF_FFFF))
        case 13:
            details.certificateRequestSeen = true
        default:
            break
        }
    }

    private mutating func parseClientHello(_ r: inout ByteReader) -> Bool {
        guard let version = r.u16(), r.skip(32),
              let sessionLength = r.u8(), r.skip(Int(sessionLength)),
              let suitesLength = r.u16(), r.skip(Int(suitesLength)),
              let compressionLength = r.u8(), r.skip(Int(compressionLength))
        else { return false }
        details.clientHelloSeen = true
        details.clientHelloVersion = version
        guard r.remaining > 0 else { return true }
        guard var extensions = r.vector16() else { return false }
        while extensions.remaining > 0 {
            guard let type = extensions.u16(), var data = extensions.vector16() else { return false }
            switch type {
            case 0: // server_name
                guard var list = data.vector16() else { return false }
                while list.remaining > 0 {
                    guard let nameType = list.u8(), let name = list.vector16() else { return false }
                    if nameType == 0, details.serverName == nil { details.serverName = name.printableText() }
                }
            case 16: // application_layer_protocol_negotiation
                guard var list = data.vector16() else { return false }
                // A list clients commonly send is taken whole, an array made
                // once: built name by name, the list was an allocation per
                // ClientHello here and its release on the reporting thread.
                if details.alpnOffered.isEmpty, let common = Self.commonALPNList(list.unreadBytes) {
                    details.alpnOffered = common
                    continue
                }
                // Counted first so the list is allocated once, not regrown per name.
                details.alpnOffered.reserveCapacity(details.alpnOffered.count + list.countVector8Entries())
                while list.remaining > 0 {
                    guard let name = list.vector8() else { return false }
                    details.alpnOffered.append(name.protocolID())
                }
            case 0xFE0D: // encrypted_client_hello: its first byte 0 is the outer form
                // (1, the inner form, is what a backend behind an ECH front
                // sees in clear: the real name, nothing hidden).
                if data.u8() == 0 { details.echOffered = true }
            case 41: // pre_shared_key: identities<7..2^16-1> (identity<1..2^16-1>, obfuscated_ticket_age), then binders
                guard var identities = data.vector16() else { return false }
                var index = 0
                while identities.remaining > 0 {
                    guard identities.vector16() != nil, let age = identities.u32() else { return false }
                    if index < 8, age == 0 { details.externalKeyIdentities |= 1 << UInt8(index) }
                    index += 1
                }
            case 43: // supported_versions
                guard var list = data.vector8() else { return false }
                // TLS 1.3 alone (an Istio sidecar's mutual TLS, as the lab
                // captures show it), or 1.3 then 1.2 (most other clients),
                // GREASE aside: an array made once, not one per ClientHello.
                if details.offeredVersions.isEmpty, let common = Self.commonVersionList(list) {
                    details.offeredVersions = common
                    continue
                }
                details.offeredVersions.reserveCapacity(details.offeredVersions.count + list.remaining / 2)
                while list.remaining >= 2 {
                    guard let v = list.u16() else { return false }
                    if !Self.isGREASE(v) { details.offeredVersions.append(v) }
                }
            default:
                break
            }
        }
        return true
    }

    static let tls13Only: [UInt16] = [0x0304]
    static let tls13Then12: [UInt16] = [0x0304, 0x0303]

    /// `tls13Only` or `tls13Then12` if a supported_versions list is one of
    /// them with nothing else but GREASE; nil otherwise.
    static func commonVersionList(_ list: ByteReader) -> [UInt16]? {
        var probe = list, found = 0
        while probe.remaining >= 2 {
            guard let version = probe.u16() else { return nil }
            if isGREASE(version) { continue }
            guard found < 2, version == (found == 0 ? 0x0304 : 0x0303) else { return nil }
            found += 1
        }
        return found == 1 ? tls13Only : found == 2 ? tls13Then12 : nil
    }

    /// ALPN lists as clients commonly send them, whole: an Istio sidecar's
    /// (the lab's captures), and the usual HTTP ones.
    static let commonALPNLists: [[String]] = [
        ["istio-peer-exchange", "istio-http/1.1", "istio", "http/1.1"],
        ["h2", "http/1.1"],
        ["h2"],
        ["http/1.1"],
    ]
    /// Their wire encodings: each name after its length byte.
    static let commonALPNListEncodings = KnownByteStrings(commonALPNLists.map { names in
        names.flatMap { [UInt8($0.utf8.count)] + Array($0.utf8) }
    })

    /// The common list (`commonALPNLists`) whose encoding `bytes` is, if any.
    static func commonALPNList(_ bytes: UnsafeRawBufferPointer) -> [String]? {
        commonALPNListEncodings.index(of: bytes).map { commonALPNLists[$0] }
    }

    private mutating func parseServerHello(_ r: inout ByteReader) -> Bool {
        guard let version = r.u16(), let random = r.bytes(32),
              let sessionLength = r.u8(), r.skip(Int(sessionLength)),
              let cipher = r.u16(), r.skip(1)
        else { return false }
        details.serverHelloSeen = true
        details.selectedVersion = version
        details.cipherSuite = cipher
        let isRetryRequest = random.elementsEqual(Self.helloRetryRandom)
        if isRetryRequest {
            details.helloRetryRequest = true
        } else if details.helloRetryRequest {
            details.serverHelloAfterRetrySeen = true
        }
        guard r.remaining > 0 else { return true }
        guard var extensions = r.vector16() else { return false }
        var preSharedKey = false, keyShare = false
        while extensions.remaining > 0 {
            guard let type = extensions.u16(), var data = extensions.vector16() else { return false }
            switch type {
            case 43:
                if let selected = data.u16() { details.selectedVersion = selected }
            case 16:
                if var list = data.vector16(), let name = list.vector8() { details.alpnSelected = name.protocolID() }
            case 41: // pre_shared_key: the server took one of the client's PSKs
                preSharedKey = true
                if let selected = data.u16(), selected < UInt16(TLSHandshakeDetails.noSelectedIdentity) { details.selectedKeyIdentity = UInt8(selected) }
            case 51: // key_share: a group and its key, or a HelloRetryRequest's group alone
                keyShare = true
                // One that does not parse names no group (and costs nothing else).
                if let group = data.u16(), isRetryRequest || data.vector16().map({ $0.remaining > 0 }) == true {
                    details.keyExchangeGroup = group
                }
            default:
                break
            }
        }
        // Only from a whole extension list: one cut short may have lost the key share.
        if preSharedKey, !isRetryRequest { details.resumption = keyShare ? .preSharedKeyWithKeyShare : .preSharedKeyOnly }
        return true
    }

    /// TLS 1.2's ServerKeyExchange (RFC 8422 §5.4, RFC 5246 §7.4.3): an ECDHE
    /// one names its curve (curve type 3), followed by the server's point,
    /// whose length must be the curve's; otherwise its first vector is kept
    /// as a possible DH prime. Only the first four bytes are at hand, and
    /// `length`, the message's.
    private mutating func parseServerKeyExchange(_ r: inout ByteReader, length: Int) {
        guard let first = r.u16(), let next = r.u16() else { return }
        let curveType = first >> 8
        let group = (first & 0xFF) << 8 | next >> 8
        let pointLength = Int(next & 0xFF)
        if curveType == 3, pointLength > 0, 4 + pointLength <= length,
           let expected = Self.pointLength(ofCurve: group), expected == pointLength {
            details.keyExchangeGroup = group
        } else if first > 0, 2 + Int(first) <= length {
            details.serverKeyExchangePrimeLength = first
        }
    }

    /// The length of a server's public value on the named curves TLS 1.2
    /// uses (uncompressed points for the NIST and Brainpool curves).
    static func pointLength(ofCurve group: UInt16) -> Int? {
        switch group {
        case 0x0017, 0x001A, 0x0016: return 65   // secp256r1, brainpoolP256r1, secp256k1
        case 0x0018, 0x001B: return 97           // secp384r1, brainpoolP384r1
        case 0x0019: return 133                  // secp521r1
        case 0x001C: return 129                  // brainpoolP512r1
        case 0x0015: return 57                   // secp224r1
        case 0x0013: return 49                   // secp192r1
        case 0x001D: return 32                   // x25519
        case 0x001E: return 56                   // x448
        default: return nil
        }
    }

    /// RFC 8701 GREASE values: 0x?A?A with both bytes equal.
    static func isGREASE(_ value: UInt16) -> Bool {
        value & 0x0F0F == 0x0A0A && value >> 8 == value & 0xFF
    }

    /// ServerHello.random of a HelloRetryRequest (RFC 8446 §4.1.3): SHA-256 of "HelloRetryRequest".
    static let helloRetryRandom: [UInt8] = [
        0xCF, 0x21, 0xAD, 0x74, 0xE5, 0x9A, 0x61, 0x11, 0xBE, 0x1D, 0x8C, 0x02, 0x1E, 0x65, 0xB8, 0x91,
        0xC2, 0xA2, 0x11, 0x16, 0x7A, 0xBB, 0x8C, 0x5E, 0x07, 0x9E, 0x09, 0xE2, 0xC8, 0xA8, 0x33, 0x9C,
    ]
}

/// Reads big-endian fields from a byte array; every read returns nil past the end.
/// A view valid only while its buffer is: parsing a hello then costs no
/// reference counting (an ArraySlice per vector did, a tenth of the parse).
struct ByteReader {
    /// The first unread byte and how many are left: a read is a check of
    /// `remaining`, a load and two adds, with no offset into a buffer to
    /// add and check on every access (the handshake's extension loops read
    /// a few fields per extension, tens of extensions per hello).
    private var cursor: UnsafeRawPointer?
    private(set) var remaining: Int

    init(_ bytes: UnsafeRawBufferPointer) {
        cursor = bytes.baseAddress
        remaining = bytes.baseAddress == nil ? 0 : bytes.count
    }

    /// The bytes not read yet.
    var unreadBytes: UnsafeRawBufferPointer { UnsafeRawBufferPointer(start: cursor, count: remaining) }

    /// Moves past `count` bytes, which the caller has checked are there.
    @inline(__always)
    private mutating func advance(_ count: Int) {
        cursor = cursor.map { $0 + count }
        remaining -= count
    }

    @inline(__always)
    mutating func u8() -> UInt8? {
        guard remaining >= 1, let at = cursor else { return nil }
        advance(1)
        return at.load(as: UInt8.self)
    }

    @inline(__always)
    mutating func u16() -> UInt16? {
        guard remaining >= 2, let at = cursor else { return nil }
        advance(2)
        return UInt16(bigEndian: at.loadUnaligned(as: UInt16.self))
    }

    @inline(__always)
    mutating func u24() -> Int? {
        guard remaining >= 3, let at = cursor else { return nil }
        advance(3)
        return Int(at.load(as: UInt8.self)) << 16 | Int(UInt16(bigEndian: at.loadUnaligned(fromByteOffset: 1, as: UInt16.self)))
    }

    @inline(__always)
    mutating func u32() -> UInt32? {
        guard remaining >= 4, let at = cursor else { return nil }
        advance(4)
        return UInt32(bigEndian: at.loadUnaligned(as: UInt32.self))
    }

    @inline(__always)
    mutating func skip(_ count: Int) -> Bool {
        guard count >= 0, remaining >= count else { return false }
        advance(count)
        return true
    }

    @inline(__always)
    mutating func bytes(_ count: Int) -> UnsafeRawBufferPointer? {
        guard count >= 0, remaining >= count else { return nil }
        let taken = UnsafeRawBufferPointer(start: cursor, count: count)
        advance(count)
        return taken
    }

    @inline(__always)
    mutating func vector8() -> ByteReader? {
        guard let length = u8(), let slice = bytes(Int(length)) else { return nil }
        return ByteReader(slice)
    }

    /// How many length-prefixed (one byte) entries the unread bytes hold,
    /// without reading them; a malformed tail is not counted.
    func countVector8Entries() -> Int {
        var probe = self, entries = 0
        while probe.remaining > 0, probe.vector8() != nil { entries += 1 }
        return entries
    }

    @inline(__always)
    mutating func vector16() -> ByteReader? {
        guard let length = u16(), let slice = bytes(Int(length)) else { return nil }
        return ByteReader(slice)
    }

    /// An ALPN protocol ID as text: one of the common ones (IANA's, the
    /// meshes') is returned as the literal, without decoding or allocating:
    /// decoding and validating each name cost about 330 instructions, and a
    /// mesh client offers four or five per connection.
    func protocolID() -> String {
        let bytes = unreadBytes
        guard bytes.baseAddress != nil else { return "" }
        if let known = Self.commonProtocolIDTable.index(of: bytes) { return Self.commonProtocolIDs[known] }
        return printableText()
    }

    static let commonProtocolIDs = [
        "h2", "http/1.1", "http/1.0", "h3", "h2c", "grpc-exp", "acme-tls/1", "dot", "postgresql", "mqtt",
        "istio", "istio-peer-exchange", "istio-http/1.0", "istio-http/1.1", "istio-h2", "transport.l5d.io/v1",
    ]
    /// Their bytes, compared without a reference count or a UTF-8 view per
    /// name (that loop was two thirds of the lookup).
    static let commonProtocolIDTable = KnownByteStrings(commonProtocolIDs.map { Array($0.utf8) })

    /// Whether a byte of a name from the wire is shown as it is: printable
    /// ASCII but the backslash, which starts the `\xNN` escape any other
    /// byte is shown as (here and in `CertificateName`).
    @inline(__always)
    static func printsAsIs(_ byte: UInt8) -> Bool {
        byte >= 0x20 && byte < 0x7F && byte != UInt8(ascii: "\\")
    }

    /// Whether every byte prints as it is (`printsAsIs`), eight at a time:
    /// the names this is asked about (an SNI, a certificate's SPIFFE ID) are
    /// tens of bytes, and a byte at a time took about eight instructions each.
    static func allPrintAsIs(_ bytes: UnsafeRawBufferPointer) -> Bool {
        let count = bytes.count
        guard count >= 8 else { return bytes.allSatisfy(printsAsIs) }
        let ones: UInt64 = 0x0101_0101_0101_0101, highs: UInt64 = 0x8080_8080_8080_8080
        // Each term is non-zero when some byte of the word is outside what
        // prints as it is: its high bit set; below 0x20 (a borrow into the
        // high bit of a byte under 0x80); 0x7F or the backslash (a zero
        // byte after the exclusive or). Exact for "some byte", which is all
        // that is asked.
        @inline(__always) func bad(_ word: UInt64) -> Bool {
            let low = (word &- 0x20 &* ones) & ~word
            let delete = word ^ (0x7F &* ones), backslash = word ^ (0x5C &* ones)
            return (word | low | ((delete &- ones) & ~delete) | ((backslash &- ones) & ~backslash)) & highs != 0
        }
        var offset = 0
        while offset + 8 <= count {
            if bad(bytes.loadUnaligned(fromByteOffset: offset, as: UInt64.self)) { return false }
            offset += 8
        }
        // The last word, overlapping ones already looked at.
        return offset == count || !bad(bytes.loadUnaligned(fromByteOffset: count - 8, as: UInt64.self))
    }

    /// The unread bytes as text, with anything unprintable escaped, so names
    /// from the wire cannot inject control characters into reports.
    func printableText() -> String {
        let bytes = unreadBytes
        // The usual case (SNI, ALPN): plain ASCII, checked a word at a time,
        // then copied as UTF-8, which ASCII is. (Checking and copying it
        // byte by byte took about 530 instructions an SNI.)
        if Self.allPrintAsIs(bytes) { return String(decoding: bytes, as: UTF8.self) }
        var text = ""
        for byte in bytes {
            if Self.printsAsIs(byte) {
                text.unicodeScalars.append(Unicode.Scalar(byte))
            } else {
                text += "\\x" + (byte < 16 ? "0" : "") + String(byte, radix: 16)
            }
        }
        return text
    }
}

/// Byte strings known in advance, end to end in one array, each found by
/// an exact match (its length first, then `memcmp`): for names from the wire
/// that are usually one of a few, looked up without a String, a reference
/// count or a UTF-8 view per candidate.
struct KnownByteStrings: Sendable {
    private let blob: [UInt8]
    private let spans: [(offset: Int, count: Int)]

    init(_ strings: [[UInt8]]) {
        blob = strings.flatMap { $0 }
        var offset = 0
        spans = strings.map { string in
            defer { offset += string.count }
            return (offset, string.count)
        }
    }

    /// The position, among the strings given, of the one `bytes` equals; nil for none.
    func index(of bytes: UnsafeRawBufferPointer) -> Int? {
        guard let base = bytes.baseAddress else { return nil }
        return blob.withUnsafeBufferPointer { blob in
            guard let blobBase = blob.baseAddress else { return nil }
            for (index, span) in spans.enumerated() where span.count == bytes.count {
                if memcmp(blobBase + span.offset, base, span.count) == 0 { return index }
            }
            return nil
        }
    }
}
