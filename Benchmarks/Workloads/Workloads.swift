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

    /// What an operation changes, reached through a pointer the closure
    /// holds. A closure's captured `var` lives in a box whose every access
    /// is checked for exclusivity at run time: nine calls into the runtime
    /// per pipeline operation, about 750 instructions, a quarter of what that
    /// benchmark counted, and no product code pays them.
    final class Mutable<State> {
        let pointer: UnsafeMutablePointer<State>
        init(_ state: State) {
            pointer = .allocate(capacity: 1)
            pointer.initialize(to: state)
        }
        deinit {
            pointer.deinitialize(count: 1)
            pointer.deallocate()
        }
    }

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

    struct Reassembly {
        var assembler = DirectionAssembler()
        var budget = ReassemblyBudget()
        var sink = NullSink()

        mutating func accept(sequence: UInt32, payload: UnsafeRawBufferPointer) {
            assembler.accept(sequence: sequence, payload: payload, budget: &budget, sink: &sink)
        }
    }

    static func reassembly(swapPairs: Bool) -> () -> Void {
        var initial = Reassembly()
        initial.assembler.startAtSYN(initialSequence: 0)
        let state = Mutable((reassembly: initial, sequence: UInt32(1)))
        let segment = Array(tlsStream[0..<1_448])
        return {
            let s = state.pointer
            segment.withUnsafeBytes { raw in
                let sequence = s.pointee.sequence
                if swapPairs {
                    // Every pair arrives second segment first: one held, one in order.
                    s.pointee.reassembly.accept(sequence: sequence &+ 1_448, payload: raw)
                    s.pointee.reassembly.accept(sequence: sequence, payload: raw)
                    s.pointee.sequence = sequence &+ 2 * 1_448
                } else {
                    s.pointee.reassembly.accept(sequence: sequence, payload: raw)
                    s.pointee.sequence = sequence &+ 1_448
                }
            }
            blackHole(s.pointee.reassembly.sink.bytes)
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
        var initial = Reassembly()
        let segment = Array(tlsStream[0..<1_448])
        let held = 256
        initial.assembler.startAtSYN(initialSequence: 0)
        @Sendable func sequence(ofSegment index: Int) -> UInt32 { 1 &+ UInt32(truncatingIfNeeded: index &* 1_448) }
        segment.withUnsafeBytes { raw in
            for index in stride(from: 1, to: 2 * held, by: 2) {
                initial.accept(sequence: sequence(ofSegment: index), payload: raw)
            }
        }
        let state = Mutable((reassembly: initial, hole: 0))
        return {
            let s = state.pointer
            let hole = s.pointee.hole
            segment.withUnsafeBytes { raw in
                s.pointee.reassembly.accept(sequence: sequence(ofSegment: hole + 2 * held + 1), payload: raw)
                s.pointee.reassembly.accept(sequence: sequence(ofSegment: hole), payload: raw)
            }
            s.pointee.hole = hole + 2
            blackHole(s.pointee.reassembly.sink.bytes)
        }
    }

    static func tlsWalk() -> () -> Void {
        let walker = Mutable(TLSRecordWalker())
        let record = Array(tlsStream[0..<16_389])
        return {
            let w = walker.pointer
            record.withUnsafeBytes { blackHole(w.pointee.walk($0)) }
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
        let timestamp: Int64 = 1_000_000_000
        var syn = frame(sequence: 0, payload: [])
        syn[47] = 0x02  // SYN: the flow starts at its first byte
        syn.withUnsafeBytes { analyzer.process(frame: $0, originalLength: $0.count, timestamp: timestamp, emit: { _ in }) }
        // The stream repeats, record boundaries included (it is a whole number of records).
        let frames: [[UInt8]] = stride(from: 0, to: tlsStream.count, by: 1_448).map {
            frame(sequence: 0, payload: Array(tlsStream[$0..<min(tlsStream.count, $0 + 1_448)]))
        }
        let state = Mutable((analyzer: analyzer, timestamp: timestamp, frames: frames, sequence: UInt32(1), index: 0))
        return {
            let s = state.pointer
            let index = s.pointee.index, sequence = s.pointee.sequence
            let payloadLength = s.pointee.frames[index].count - 54
            let timestamp = s.pointee.timestamp + 1_000
            s.pointee.timestamp = timestamp
            s.pointee.frames[index].withUnsafeMutableBytes { raw in
                raw.storeBytes(of: sequence.bigEndian, toByteOffset: 38, as: UInt32.self)
                s.pointee.analyzer.process(frame: UnsafeRawBufferPointer(raw), originalLength: raw.count, timestamp: timestamp, emit: { _ in })
            }
            s.pointee.sequence = sequence &+ UInt32(payloadLength)
            s.pointee.index = index + 1 == s.pointee.frames.count ? 0 : index + 1
        }
    }

    /// Keeps a value alive past the optimizer.
    @inline(never)
    public static func blackHole<T>(_ value: T) { _ = value }
}
