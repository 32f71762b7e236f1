import FuzzSupport
import PayloadClassification

/// (c) The TLS handshake parser, fed in chunks of a size the input chooses
/// (messages split across records and segments). The input after the chunk
/// byte is a TLS stream: the direction classifier walks its record framing and
/// hands record bodies to its own parser; a bare parser also gets the bytes
/// after the first record header, as raw handshake messages.
func parseHandshake(_ data: UnsafeRawBufferPointer) {
    var input = FuzzInput(data)
    guard let chunkByte = input.byte() else { return }
    let chunk = Int(chunkByte) + 1
    let stream = input.rest()

    var parser = HandshakeParser()
    var classifier = DirectionClassifier()
    var offset = 0
    while offset < stream.count {
        let end = min(stream.count, offset + chunk)
        let piece = UnsafeRawBufferPointer(rebasing: stream[offset..<end])
        classifier.receive(piece)
        if end > 5 {
            parser.feed(UnsafeRawBufferPointer(rebasing: stream[max(offset, 5)..<end]))
        }
        offset = end
    }
    _ = parser.details
    _ = classifier.finish()
}

@main
enum HarnessMain {
    static func main() { runHarness(parseHandshake) }
}
