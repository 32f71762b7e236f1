/// Walks RFC 6455 WebSocket frames after an HTTP upgrade and hands the
/// payload of data frames, unmasked, to the caller.
///
/// WebSocket tunnels (wstunnel, websockify, cloud shells) carry TLS or SSH
/// inside binary frames; others carry JSON in clear. The frames themselves
/// say nothing: only their payload does, so it is unmasked and classified.
/// Every frame header is checked for the life of the stream; one that breaks
/// the rules ends the walk (the stream is then judged on what came before).
struct WebSocketFrameWalker: Sendable {
    /// The current frame is masked. Client frames should be and server frames
    /// should not be (RFC 6455 5.1), but tunnels in the wild send unmasked
    /// client frames: each frame's mask bit is followed, whichever side sent it.
    private var frameMasked = false
    /// Header bytes carried over from the previous call (at most 14).
    private var header: [UInt8] = []
    /// Payload bytes left in the current frame.
    private var payloadLeft: UInt64 = 0
    private var maskKey: (UInt8, UInt8, UInt8, UInt8) = (0, 0, 0, 0)
    private var maskPhase = 0
    /// The current frame's payload goes to the caller (data, not control, and not compressed).
    private var deliverPayload = false
    /// A fragmented data message is open: only continuation and control frames may follow.
    private var inMessage = false
    /// The open message is compressed (permessage-deflate sets RSV1 on its first frame).
    private var messageCompressed = false

    private(set) var frames = 0
    private(set) var compressedFrames = 0
    /// Why the walk stopped, if a header broke the rules.
    private(set) var error: String?

    /// Walks `bytes`, calling `payload` with unmasked data-frame payload
    /// (unless `wantsPayload` is false: headers are still checked, payload is
    /// only skipped). Returns false once a frame header is invalid.
    mutating func walk(_ bytes: UnsafeRawBufferPointer, wantsPayload: Bool = true,
                       payload: (UnsafeRawBufferPointer) -> Void) -> Bool {
        guard error == nil else { return false }
        var i = 0
        while i < bytes.count {
            if payloadLeft > 0 {
                let n = Int(min(payloadLeft, UInt64(bytes.count - i)))
                if deliverPayload, wantsPayload {
                    unmask(UnsafeRawBufferPointer(rebasing: bytes[i..<(i + n)]), to: payload)
                } else {
                    maskPhase = (maskPhase + n) & 3
                }
                payloadLeft -= UInt64(n)
                i += n
                continue
            }
            // Gather a header: 2 bytes, then the extended length and mask key.
            header.append(bytes[i])
            i += 1
            guard header.count >= 2 else { continue }
            let needed = Self.headerLength(header[1])
            guard header.count >= needed else { continue }
            guard startFrame() else { return false }
            header.removeAll(keepingCapacity: true)
        }
        return true
    }

    /// A gap of `count` bytes: fine inside a frame's payload (its data is lost,
    /// the framing is not); false when it reaches a frame header.
    mutating func skip(_ count: Int) -> Bool {
        guard error == nil, header.isEmpty, UInt64(count) <= payloadLeft else { return false }
        payloadLeft -= UInt64(count)
        maskPhase = (maskPhase + count) & 3
        return true
    }

    private static func headerLength(_ second: UInt8) -> Int {
        let lengthField = second & 0x7F
        return 2 + (lengthField == 126 ? 2 : lengthField == 127 ? 8 : 0) + (second & 0x80 != 0 ? 4 : 0)
    }

    private mutating func startFrame() -> Bool {
        let first = header[0], second = header[1]
        let fin = first & 0x80 != 0, rsv1 = first & 0x40 != 0
        let opcode = first & 0x0F
        guard first & 0x30 == 0 else { return fail("reserved bits RSV2/RSV3 set") }
        frameMasked = second & 0x80 != 0
        var length = UInt64(second & 0x7F)
        var k = 2
        if length == 126 {
            length = UInt64(header[2]) << 8 | UInt64(header[3])
            k = 4
        } else if length == 127 {
            length = 0
            for j in 2..<10 { length = length << 8 | UInt64(header[j]) }
            guard length >> 63 == 0 else { return fail("64-bit length with its top bit set") }
            k = 10
        }
        if frameMasked {
            maskKey = (header[k], header[k + 1], header[k + 2], header[k + 3])
        }
        maskPhase = 0
        switch opcode {
        case 0x8, 0x9, 0xA:
            // Close, ping, pong: never fragmented, at most 125 bytes, never compressed.
            guard fin, length <= 125, !rsv1 else { return fail("invalid control frame") }
            deliverPayload = false
        case 0x1, 0x2:
            guard !inMessage else { return fail("new message inside a fragmented one") }
            messageCompressed = rsv1
            inMessage = !fin
            deliverPayload = !rsv1
        case 0x0:
            guard inMessage, !rsv1 else { return fail("continuation frame outside a message") }
            inMessage = !fin
            deliverPayload = !messageCompressed
        default:
            return fail("reserved opcode \(opcode)")
        }
        frames += 1
        if opcode < 0x8, !deliverPayload { compressedFrames += 1 }
        payloadLeft = length
        return true
    }

    private mutating func fail(_ why: String) -> Bool {
        error = why
        return false
    }

    /// Unmasks through a small stack buffer: payload is handed on in pieces, never kept.
    private mutating func unmask(_ bytes: UnsafeRawBufferPointer, to payload: (UnsafeRawBufferPointer) -> Void) {
        guard frameMasked else { payload(bytes); return }
        let key = UInt32(maskKey.0) | UInt32(maskKey.1) << 8 | UInt32(maskKey.2) << 16 | UInt32(maskKey.3) << 24
        withUnsafeTemporaryAllocation(byteCount: 1_024, alignment: 8) { scratch in
            var done = 0
            while done < bytes.count {
                let n = min(scratch.count, bytes.count - done)
                // The key from the current phase on, twice: eight bytes XORed at a time.
                let rotated = maskPhase == 0 ? key : key >> (8 * UInt32(maskPhase)) | key << (32 - 8 * UInt32(maskPhase))
                let word = UInt64(rotated) | UInt64(rotated) << 32
                var j = 0
                while j + 8 <= n {
                    let masked = bytes.loadUnaligned(fromByteOffset: done + j, as: UInt64.self)
                    scratch.storeBytes(of: masked ^ word, toByteOffset: j, as: UInt64.self)
                    j += 8
                }
                while j < n {
                    scratch[j] = bytes[done + j] ^ UInt8(truncatingIfNeeded: word >> (8 * UInt64(j & 7)))
                    j += 1
                }
                maskPhase = (maskPhase + n) & 3
                payload(UnsafeRawBufferPointer(rebasing: scratch[0..<n]))
                done += n
            }
        }
    }
}

/// A WebSocket tunnel seen from one direction: the frame walk and what its
/// payload turned out to be. Kept out of line (a flow pays one pointer for
/// it) because few flows ever upgrade; copied on write like any value.
final class WebSocketTunnel: @unchecked Sendable {
    enum Inner: Sendable {
        /// Gathering the first payload bytes to probe.
        case probing
        /// Payload walked as TLS records by the classifier's walker.
        case tls
        /// Decided from the first payload bytes (SSH, cleartext, binary).
        case decided(ProbeResult)
        /// TLS framing inside the frames broke; a sample of what followed is kept.
        case broken
    }

    var frames = WebSocketFrameWalker()
    var inner: Inner = .probing
    /// First payload bytes (to probe), or a sample after a TLS framing break.
    var sample: [UInt8] = []
    /// The frame walk stopped on a gap that reached a frame header.
    var lostAtGap = false

    init() {}

    func copy() -> WebSocketTunnel {
        let other = WebSocketTunnel()
        other.frames = frames
        other.inner = inner
        other.sample = sample
        other.lostAtGap = lostAtGap
        return other
    }
}
