/// Follows the client's side of HTTP/2 in clear, from just after its
/// preface, while it may be one of kubelet's gRPC probes. kubelet's gRPC
/// prober (grpc-go, `grpc.WithUserAgent("kube-probe/1.32")`) dials for each
/// probe, makes one call to `/grpc.health.v1.Health/Check` with one
/// `HealthCheckRequest` message, and closes. Besides that call's header
/// block and its message, only connection frames may come (SETTINGS, PING,
/// WINDOW_UPDATE, PRIORITY, GOAWAY, and the call's RST_STREAM when it is
/// given up); a second call, a frame on another stream, a message larger
/// than a health check's, or a frame type not known here is more than a
/// probe, and the following ends.
///
/// Only h2c clients hold one (out of line). It keeps the frame being read
/// and the call's header block or message, within the `sideLimit` bytes of
/// frames a probe's client may send at all.
struct KubeletGRPCProbe: Sendable {
    enum Stage: Equatable, Sendable {
        /// Connection frames so far; the call's HEADERS has not come.
        case beforeCall
        /// The call's header block is being completed by CONTINUATION frames.
        case callHeaders(stream: UInt32, endStream: Bool)
        /// The call is a probe's; its message has not ended the stream yet.
        case callOpen(stream: UInt32)
        /// The probe's call is complete: only connection frames may follow.
        case callEnded(stream: UInt32)
        /// Something other than one probe's call: no longer followed.
        case moreThanAProbe
    }

    static let healthCheckPath = "/grpc.health.v1.Health/Check"
    /// grpc-go's header block for kubelet's call is about 100 bytes (106 in
    /// the lab's capture).
    static let blockLimit = 1_024
    /// A `HealthCheckRequest` names one service: a few dozen bytes.
    static let messageLimit = 1_024
    /// kubelet's client sends about 200 bytes in all (its preface and
    /// settings, the call, a few PINGs and WINDOW_UPDATEs): a side that
    /// goes on sending connection frames past this is no probe, however
    /// well formed its frames.
    static let sideLimit = 4_096

    private var reader = HTTP2FrameReader()
    private(set) var stage = Stage.beforeCall
    /// The header block, then the message, as they arrive.
    private var held: [UInt8] = []
    /// Bytes of the frames begun, from just after the preface.
    private var followed = 0

    init() {}

    /// The whole of a probe's call came, and nothing else but connection
    /// frames (the bytes so far end where a frame ends).
    var isOneWholeProbe: Bool {
        if case .callEnded = stage { return reader.atFrameBoundary }
        return false
    }

    /// The client's header block was a probe's and its call ended (whatever
    /// came after): a flow that looks like a probe, to say why it is not.
    private(set) var sentProbeCall = false

    /// What is held, by what the buffers hold (see `HTTP2Refusal.heldBytes`).
    var heldBytes: Int { reader.heldBytes + held.count }

    /// Follows `bytes`; false once the side is more than one probe (drop the
    /// bytes' following then; `sentProbeCall` stays as it was).
    mutating func receive(_ bytes: UnsafeRawBufferPointer) -> Bool {
        guard stage != .moreThanAProbe else { return false }
        var offset = 0
        while true {
            switch reader.step(bytes, at: &offset) {
            case .header(let header):
                // Counted by frames, so that however the segments cut them
                // the same frame is the first past the limit.
                followed += HTTP2Frames.headerLength + header.length
                guard followed <= Self.sideLimit, let keep = keepsBody(header) else { return endFollowing() }
                reader.read(keepingBody: keep)
            case .frame(let header):
                guard endFrame(header) else { return endFollowing() }
            case .needMore:
                return true
            }
        }
    }

    private mutating func endFollowing() -> Bool {
        stage = .moreThanAProbe
        reader = HTTP2FrameReader()
        held = []
        return false
    }

    /// A frame's header is complete: whether a probe's client may send it
    /// now (nil: it may not), and whether its body is to be read.
    private func keepsBody(_ header: HTTP2Frames.FrameHeader) -> Bool? {
        guard header.length <= HTTP2Frames.defaultMaximumFrame, HTTP2Frames.frameIsValid(header) else { return nil }
        switch (header.type, stage) {
        case (HTTP2Frames.continuationType, .callHeaders(let stream, _)):
            return header.stream == stream ? true : nil
        case (_, .callHeaders):
            return nil        // a header block continues in CONTINUATION frames alone
        case (HTTP2Frames.headersType, .beforeCall):
            return true
        case (HTTP2Frames.dataType, .callOpen(let stream)):
            return header.stream == stream ? true : nil
        case (HTTP2Frames.settingsType, _), (0x2, _), (0x6, _), (0x7, _), (0x8, _):
            return false      // SETTINGS, PRIORITY, PING, GOAWAY, WINDOW_UPDATE
        case (0x3, .callOpen(let stream)), (0x3, .callEnded(let stream)):
            return header.stream == stream ? false : nil  // RST_STREAM: the call given up
        default:
            return nil        // a second call, data on another stream, a push, an unknown type
        }
    }

    /// A frame is complete: apply it; false when it is more than a probe sends.
    private mutating func endFrame(_ header: HTTP2Frames.FrameHeader) -> Bool {
        let endStream = header.flags & 0x1 != 0
        switch header.type {
        case HTTP2Frames.headersType:
            guard let fragment = HTTP2Frames.unpadded(reader.body, flags: header.flags, priority: true),
                  fragment.count <= Self.blockLimit else { return false }
            held = Array(fragment)
            stage = .callHeaders(stream: header.stream, endStream: endStream)
            return header.flags & 0x4 == 0 || callStarts()
        case HTTP2Frames.continuationType:
            guard held.count + reader.body.count <= Self.blockLimit else { return false }
            held += reader.body
            return header.flags & 0x4 == 0 || callStarts()
        case HTTP2Frames.dataType:
            guard let payload = HTTP2Frames.unpadded(reader.body, flags: header.flags, priority: false),
                  held.count + payload.count <= Self.messageLimit else { return false }
            held += payload
            return !endStream || callEnds(stream: header.stream)
        default:
            return true
        }
    }

    /// The call's header block is complete: a probe's, or the end of following.
    private mutating func callStarts() -> Bool {
        guard case .callHeaders(let stream, let endStream) = stage,
              let fields = held.withUnsafeBytes({ HPACK.decode($0) }), Self.isProbeCall(fields) else { return false }
        held = []
        stage = .callOpen(stream: stream)
        return !endStream || callEnds(stream: stream)
    }

    /// The call's stream ended: its data must be one uncompressed gRPC
    /// message (a flag byte 0, a 4-byte length, that many bytes).
    private mutating func callEnds(stream: UInt32) -> Bool {
        guard held.count >= 5, held[0] == 0 else { return false }
        let length = Int(held[1]) << 24 | Int(held[2]) << 16 | Int(held[3]) << 8 | Int(held[4])
        guard length == held.count - 5 else { return false }
        held = []
        stage = .callEnded(stream: stream)
        sentProbeCall = true
        return true
    }

    /// A gRPC health check from kubelet's prober: POST to the Health
    /// service's Check, content-type `application/grpc`, and the user agent
    /// kubelet sets (grpc-go appends its own: `kube-probe/1.32 grpc-go/1.65.0`).
    static func isProbeCall(_ fields: HPACK.Fields) -> Bool {
        fields.method == "POST" && fields.path == healthCheckPath
            && fields.userAgent?.hasPrefix("kube-probe/") == true
            && fields.contentType?.hasPrefix("application/grpc") == true
    }
}
