import FlowAnalysis
import PacketDecoding
import PayloadClassification
import StreamReassembly

/// The hot paths' workloads, shared by the two micro-benchmark harnesses
/// (`wirecheck-micro`, run by scripts/bench/micro.sh with callgrind and a
/// malloc counter, and the ordo-one/benchmark package in
/// Benchmarks/PackageBenchmark): the same inputs, built in memory before
/// timing, and the same operations, so the two measure the same thing.
public enum Workloads {
    public struct Workload: Sendable {
        public var name: String
        /// Payload bytes one operation handles, for throughput.
        public var bytesPerOperation: Int
        /// Builds the inputs and returns one operation.
        public var make: @Sendable () -> () -> Void
    }

    public static let all: [Workload] = [
        Workload(name: "decode-ethernet-tcp", bytesPerOperation: 1_448, make: decode),
        Workload(name: "reassembly-in-order", bytesPerOperation: 1_448, make: { reassembly(swapPairs: false) }),
        Workload(name: "reassembly-out-of-order", bytesPerOperation: 1_448, make: { reassembly(swapPairs: true) }),
        Workload(name: "reassembly-held-flood", bytesPerOperation: 2 * 1_448, make: heldFlood),
        Workload(name: "tls-framing-walk", bytesPerOperation: 16_389, make: tlsWalk),
        Workload(name: "http-probe", bytesPerOperation: httpRequest.count, make: httpProbe),
        Workload(name: "pipeline-in-order-packet", bytesPerOperation: 1_448, make: pipeline),
    ]

    // MARK: Inputs

    static func frame(sequence: UInt32, payload: [UInt8]) -> [UInt8] {
        let total = 40 + payload.count
        var frame: [UInt8] = [2, 0, 0, 0, 0, 2, 2, 0, 0, 0, 0, 1, 0x08, 0x00]
        frame += [0x45, 0, UInt8(total >> 8), UInt8(total & 0xFF), 0, 0, 0x40, 0, 64, 6, 0, 0, 10, 0, 0, 1, 10, 0, 0, 2]
        frame += [0xC3, 0x50, 0x01, 0xBB] + withUnsafeBytes(of: sequence.bigEndian, Array.init) + [0, 0, 0, 1, 0x50, 0x18, 0x01, 0xF6, 0, 0, 0, 0]
        return frame + payload
    }

    /// TLS application-data records, split into 1448-byte segments.
    static let tlsStream: [UInt8] = {
        var stream: [UInt8] = []
        var seed: UInt64 = 1
        for _ in 0..<16 {
            stream += [23, 3, 3, 0x40, 0x00]
            for _ in 0..<16_384 {
                seed = seed &* 6_364_136_223_846_793_005 &+ 1_442_695_040_888_963_407
                stream.append(UInt8(truncatingIfNeeded: seed >> 33))
            }
        }
        return stream
    }()

    static let httpRequest = Array("GET /api/v1/orders?id=42 HTTP/1.1\r\nHost: orders.default.svc.cluster.local\r\nUser-Agent: curl/8.5.0\r\nAccept: */*\r\nAuthorization: Bearer abc\r\n\r\n".utf8)

    struct NullSink: StreamSink {
        var bytes = 0
        mutating func receive(_ bytes: UnsafeRawBufferPointer) { self.bytes &+= bytes.count }
        mutating func receiveGap(_ count: Int) { bytes &+= count }
    }

    // MARK: Operations

    static func decode() -> () -> Void {
        let decoder = FrameDecoder(linkType: LinkType.ethernet)
        let bytes = frame(sequence: 1, payload: Array(tlsStream[0..<1_448]))
        return {
            bytes.withUnsafeBytes { raw in
                if case .success(let segment) = decoder.decode(raw, originalLength: raw.count) { blackHole(segment.sequence) }
            }
        }
    }

    static func reassembly(swapPairs: Bool) -> () -> Void {
        var assembler = DirectionAssembler()
        var budget = ReassemblyBudget()
        var sink = NullSink()
        let segment = Array(tlsStream[0..<1_448])
        var sequence: UInt32 = 1
        assembler.startAtSYN(initialSequence: 0)
        return {
            segment.withUnsafeBytes { raw in
                if swapPairs {
                    // Every pair arrives second segment first: one held, one in order.
                    assembler.accept(sequence: sequence &+ 1_448, payload: raw, budget: &budget, sink: &sink)
                    assembler.accept(sequence: sequence, payload: raw, budget: &budget, sink: &sink)
                    sequence &+= 2 * 1_448
                } else {
                    assembler.accept(sequence: sequence, payload: raw, budget: &budget, sink: &sink)
                    sequence &+= 1_448
                }
            }
            blackHole(sink.bytes)
        }
    }

    /// A direction holding 256 segments out of order (every other one of
    /// the stream ahead): each operation holds one more at the far end and
    /// fills the oldest hole, which hands on that hole and the held segment
    /// after it. What a flood of out-of-order data costs per segment once
    /// the held list is long: where a segment goes and what it overlaps is a
    /// binary search, the delivered ones leave the list in bulk, and their
    /// buffers go back to the pool unshared (no allocation per segment).
    static func heldFlood() -> () -> Void {
        var assembler = DirectionAssembler()
        var budget = ReassemblyBudget()
        var sink = NullSink()
        let segment = Array(tlsStream[0..<1_448])
        let held = 256
        assembler.startAtSYN(initialSequence: 0)
        func sequence(ofSegment index: Int) -> UInt32 { 1 &+ UInt32(truncatingIfNeeded: index &* 1_448) }
        segment.withUnsafeBytes { raw in
            for index in stride(from: 1, to: 2 * held, by: 2) {
                assembler.accept(sequence: sequence(ofSegment: index), payload: raw, budget: &budget, sink: &sink)
            }
        }
        var hole = 0
        return {
            segment.withUnsafeBytes { raw in
                assembler.accept(sequence: sequence(ofSegment: hole + 2 * held + 1), payload: raw, budget: &budget, sink: &sink)
                assembler.accept(sequence: sequence(ofSegment: hole), payload: raw, budget: &budget, sink: &sink)
            }
            hole += 2
            blackHole(sink.bytes)
        }
    }

    static func tlsWalk() -> () -> Void {
        var walker = TLSRecordWalker()
        let record = Array(tlsStream[0..<16_389])
        return {
            record.withUnsafeBytes { blackHole(walker.walk($0)) }
        }
    }

    static func httpProbe() -> () -> Void {
        let request = httpRequest
        return {
            var classifier = DirectionClassifier()
            request.withUnsafeBytes { classifier.receive($0) }
            blackHole(classifier.finish().bytes)
        }
    }

    /// One in-order TLS segment of an established flow through decode,
    /// flow lookup, reassembly, classification (record walk). The frames are
    /// built once; each operation writes the next sequence number in place.
    static func pipeline() -> () -> Void {
        var analyzer = FlowAnalyzer(linkType: LinkType.ethernet)
        var timestamp: Int64 = 1_000_000_000
        var syn = frame(sequence: 0, payload: [])
        syn[47] = 0x02  // SYN: the flow starts at its first byte
        syn.withUnsafeBytes { analyzer.process(frame: $0, originalLength: $0.count, timestamp: timestamp, emit: { _ in }) }
        // The stream repeats, record boundaries included (it is a whole number of records).
        var frames: [[UInt8]] = stride(from: 0, to: tlsStream.count, by: 1_448).map {
            frame(sequence: 0, payload: Array(tlsStream[$0..<min(tlsStream.count, $0 + 1_448)]))
        }
        var sequence: UInt32 = 1
        var index = 0
        return {
            let payloadLength = frames[index].count - 54
            frames[index].withUnsafeMutableBytes { raw in
                raw.storeBytes(of: sequence.bigEndian, toByteOffset: 38, as: UInt32.self)
                timestamp += 1_000
                analyzer.process(frame: UnsafeRawBufferPointer(raw), originalLength: raw.count, timestamp: timestamp, emit: { _ in })
            }
            sequence &+= UInt32(payloadLength)
            index = index + 1 == frames.count ? 0 : index + 1
        }
    }

    /// Keeps a value alive past the optimizer.
    @inline(never)
    public static func blackHole<T>(_ value: T) { _ = value }
}
