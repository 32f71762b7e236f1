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
    if case .success(let segment) = decoder.decode(frame, originalLength: frame.count + Int(missing)) {
        // A decoded payload must lie inside the frame it came from.
        precondition(segment.payloadRange.lowerBound >= 0 && segment.payloadRange.upperBound <= frame.count,
                     "payload range outside the frame")
        precondition(segment.missingPayload >= 0, "negative missing payload")
    }
}

@main
enum HarnessMain {
    static func main() { runHarness(decodeOneFrame) }
}
