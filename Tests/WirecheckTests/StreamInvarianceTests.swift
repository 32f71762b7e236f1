import Foundation
import PacketCapture
import PacketDecoding
import PayloadClassification
import StreamReassembly
import Testing

/// The verdict must not depend on how the bytes were cut into segments or in
/// which order the segments arrived: whole, byte by byte, split at random
/// points, or shuffled through the reassembler, the summary is the same.
@Suite struct StreamInvarianceTests {
    /// Each direction of each flow in a committed capture, as (sequence, payload) segments.
    static func directions(of capture: String) throws -> [[Segment]] {
        let source = try PacketSource.openFile(TestSupport.capturesDirectory.appendingPathComponent(capture).path)
        let decoder = FrameDecoder(linkType: source.linkType)
        var byDirection: [String: [Segment]] = [:]
        var order: [String] = []
        while case .packet(let packet) = source.next() {
            guard case .success(let segment) = decoder.decode(packet.bytes, originalLength: packet.originalLength),
                  !segment.payloadRange.isEmpty else { continue }
            let key = "\(segment.source)>\(segment.destination)"
            if byDirection[key] == nil { order.append(key) }
            byDirection[key, default: []].append(Segment(sequence: segment.sequence,
                                                         bytes: Array(packet.bytes[segment.payloadRange])))
        }
        return order.compactMap { byDirection[$0] }
    }

    static func stream(_ segments: [Segment]) -> [UInt8] {
        assemble(segments).sink.bytes
    }

    static func classify(_ chunks: [ArraySlice<UInt8>]) -> DirectionSummary {
        var classifier = DirectionClassifier()
        for chunk in chunks { chunk.withUnsafeBytes { classifier.receive($0) } }
        return classifier.finish()
    }

    /// Directions with payload: under STRICT the refused client gets nothing back.
    @Test(arguments: [("permissive.pcap", 6), ("strict.pcap", 5)])
    func sameSummaryHoweverCut(_ capture: String, _ directionsWithPayload: Int) throws {
        let directions = try Self.directions(of: capture)
        #expect(directions.count == directionsWithPayload)
        var rng = SplitMix(seed: 7)
        for segments in directions {
            let bytes = Self.stream(segments)
            let whole = Self.classify([bytes[...]])
            #expect(whole.kind == .tls || whole.kind == .http)
            let byteByByte = Self.classify(bytes.indices.map { bytes[$0...$0] })
            #expect(byteByByte == whole)
            for _ in 0..<20 {
                #expect(Self.classify(rng.chunks(of: bytes, longest: 300)) == whole)
            }
            // Through the reassembler, segments shuffled and doubled.
            for _ in 0..<10 {
                var shuffled = segments + segments
                for k in shuffled.indices.reversed() where k > 0 {
                    shuffled.swapAt(k, Int(rng.next() % UInt64(k + 1)))
                }
                let start = segments.map(\.sequence).min { DirectionAssemblerOrder.before($0, $1) }
                let reassembled = assemble(shuffled, start: start).sink.bytes
                #expect(reassembled == bytes)
            }
        }
    }
}

enum DirectionAssemblerOrder {
    /// `a` comes before `b` in sequence space (modulo 2^32).
    static func before(_ a: UInt32, _ b: UInt32) -> Bool { Int32(bitPattern: a &- b) < 0 }
}
