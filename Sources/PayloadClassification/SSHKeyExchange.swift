/// Follows one side of an SSH connection through its key exchange, the part
/// that is in clear (RFC 4253 §6, §7): binary packets from the end of the
/// version line on, each `packet_length` (4 bytes), `padding_length`, then
/// the message number, until the side sends SSH_MSG_NEWKEYS. From there its
/// packets are encrypted and nothing more is read. SSH protocol 1 (a
/// "SSH-1.5" version line) frames packets as a length, 1 to 8 bytes of
/// padding (8 minus the length modulo 8), then the type; its client's first
/// packet, SSH_CMSG_SESSION_KEY, ends the exchange the same way.
///
/// Why: a side sends NEWKEYS (or the session key) only after the peer's key
/// exchange reply (its public key), so it proves that the peer spoke SSH and
/// keys were agreed. That is what lets a one-way capture (the other
/// direction lost, as its acknowledgements show) still be judged encrypted;
/// a side that stopped at its banner and KEXINIT proves nothing of the peer.
struct SSHKeyExchange: Sendable, Equatable {
    enum Outcome: Sendable, Equatable {
        /// Packets in clear, none of them NEWKEYS yet.
        case following
        /// The side sent NEWKEYS: what follows is encrypted.
        case newKeys
        /// Not SSH's packet framing, or a gap lost the packet boundaries.
        case stopped
    }

    private(set) var outcome = Outcome.following
    /// Stream offset where the next packet starts.
    private var next: Int
    /// Its first bytes, when they came in an earlier segment.
    private var header: [UInt8] = []
    /// The side's KEXINIT has been read (NEWKEYS counts only after it).
    private var keyExchangeStarted = false
    /// SSH protocol 1 framing.
    private let version1: Bool

    /// The largest packet OpenSSH accepts (256 KiB; RFC 4253 §6.1 requires
    /// 35 000 bytes at least): a KEXINIT listing a thousand algorithms, as
    /// Zeek's kex-quadratic test capture sends, takes 40 556.
    static let largestPacket = 262_144
    static let newKeys: UInt8 = 21
    static let keyExchangeInit: UInt8 = 20
    /// SSH protocol 1: SSH_CMSG_SESSION_KEY.
    static let sessionKey: UInt8 = 3

    /// `offset`: the stream offset just past the version line; `version1`:
    /// that line announced protocol 1 ("SSH-1.5", not 1.99, which is 2).
    init(firstPacketAt offset: Int, version1: Bool = false) {
        next = offset
        self.version1 = version1
    }

    /// Bytes at `start` in the stream, following everything fed before.
    mutating func feed(_ bytes: UnsafeRawBufferPointer, streamOffset start: Int) {
        guard outcome == .following else { return }
        // A header begun earlier ends right before these bytes; anything
        // else means bytes were skipped, and the boundaries are lost.
        guard next + header.count >= start else { return stop() }
        var i = next + header.count - start
        if version1 { return feedVersion1(bytes, from: i) }
        while i < bytes.count {
            let wanted = 6 - header.count
            let end = min(bytes.count, i + wanted)
            header.append(contentsOf: UnsafeRawBufferPointer(rebasing: bytes[i..<end]))
            guard header.count == 6 else { return }
            let length = Int(header[0]) << 24 | Int(header[1]) << 16 | Int(header[2]) << 8 | Int(header[3])
            let padding = Int(header[4]), message = header[5]
            // At least four bytes of padding and a message number, within the limit.
            guard length >= padding + 2, padding >= 4, length <= Self.largestPacket else { return stop() }
            // KEXINIT, key exchange messages (30-49) after it, NEWKEYS, or the
            // generic ones anywhere (disconnect, ignore, unimplemented, debug).
            let generic = (1...4).contains(message)
            let exchange = message == Self.keyExchangeInit
                || (keyExchangeStarted && (message == Self.newKeys || (30...49).contains(message)))
            guard generic || exchange else { return stop() }
            if message == Self.newKeys {
                outcome = .newKeys
                header = []
                return
            }
            if message == Self.keyExchangeInit { keyExchangeStarted = true }
            next += 4 + length
            header = []
            i = next - start
        }
    }

    /// SSH protocol 1: only the first packet is read. A client's is the
    /// session key (encrypted with the server's public key, so sent only
    /// after the server's first packet), a server's is its public key,
    /// which says nothing of the client: either way following ends there.
    private mutating func feedVersion1(_ bytes: UnsafeRawBufferPointer, from i: Int) {
        guard i < bytes.count else { return }
        header.append(contentsOf: UnsafeRawBufferPointer(rebasing: bytes[i..<min(bytes.count, i + 13 - header.count)]))
        guard header.count >= 4 else { return }
        let length = Int(header[0]) << 24 | Int(header[1]) << 16 | Int(header[2]) << 8 | Int(header[3])
        // Type, data and a 4-byte CRC; at most 256 KiB (the protocol's own limit).
        guard length >= 5, length <= 262_144 else { return stop() }
        let typeAt = 4 + (8 - length % 8)
        guard header.count > typeAt else { return }
        if header[typeAt] == Self.sessionKey {
            outcome = .newKeys
            header = []
        } else {
            stop()
        }
    }

    /// Bytes were lost: packets can no longer be followed.
    mutating func noteGap() {
        if outcome == .following { stop() }
    }

    private mutating func stop() {
        outcome = .stopped
        header = []
    }

    /// Where the version line ends in a stream's first bytes (just past its
    /// line feed), or nil when it has not ended within them.
    static func endOfVersionLine(_ bytes: UnsafeRawBufferPointer) -> Int? {
        guard let lineFeed = bytes.firstIndex(of: UInt8(ascii: "\n")) else { return nil }
        return lineFeed + 1
    }

    /// Whether a version line announces SSH protocol 1 ("SSH-1.5-…"; a
    /// "SSH-1.99-…" server speaks protocol 2 as well).
    static func announcesVersion1(_ line: UnsafeRawBufferPointer) -> Bool {
        line.count >= 6 && line[4] == UInt8(ascii: "1") && line[5] == UInt8(ascii: ".")
            && !(line.count >= 8 && line[6] == UInt8(ascii: "9") && line[7] == UInt8(ascii: "9"))
    }
}
