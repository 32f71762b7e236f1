import FuzzSupport
import PacketDecoding

/// (a) The decoder stack on single frames. Input: one byte choosing the link
/// type, one byte of extra wire length (snapshot-length truncation), the frame.
func decodeOneFrame(_ data: UnsafeRawBufferPointer) {
    var input = FuzzInput(data)
    guard let selector = input.byte(), let missing = input.byte() else { return }
    let types = LinkType.supported.sorted()
    let linkType = types[Int(selector) % types.count]
    let frame = input.rest()
    let decoder = FrameDecoder(linkType: linkType)
    let decoded = decoder.decode(frame, originalLength: frame.count + Int(missing))
    // The short path for the usual frame gives what the full decoder gives, or nothing.
    if let common = decoder.decodeCommon(frame, originalLength: frame.count + Int(missing)) {
        precondition(decoded == .success(common), "decodeCommon disagrees with decode")
    }
    switch decoded {
    case .success(let segment):
        // A decoded payload must lie inside the frame it came from.
        precondition(segment.payloadRange.lowerBound >= 0 && segment.payloadRange.upperBound <= frame.count,
                     "payload range outside the frame")
        precondition(segment.missingPayload >= 0, "negative missing payload")
    case .failure(.otherTransport(let packet)):
        // Traffic besides TCP: its payload inside the frame, and the kinds
        // told from it (WireGuard, QUIC, DNS, memberlist, text) on any bytes.
        precondition(packet.payloadRange.lowerBound >= 0 && packet.payloadRange.upperBound <= frame.count,
                     "payload range outside the frame")
        precondition(packet.payloadWireLength >= packet.payloadRange.count, "wire length under the captured payload")
        var traffic = UnjudgedTraffic()
        traffic.add(packet, frame: frame)
        traffic.add(packet, frame: frame)
        precondition(traffic.counts.reduce(0) { $0 + $1.packets } == 2, "a packet not counted once")
    case .failure:
        break
    }
}

@main
enum HarnessMain {
    static func main() { runHarness(decodeOneFrame) }
}
