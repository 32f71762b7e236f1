import FlowAnalysis
import PacketDecoding
import PayloadClassification
import StreamReassembly

#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#endif

/// Micro-benchmarks of the hot paths, one operation at a time:
///
///     wirecheck-micro                      every benchmark, ns/op and MB/s
///     wirecheck-micro NAME ITERATIONS      one benchmark, a fixed count (for
///                                          scripts/bench/micro.sh, which runs
///                                          it under a malloc counter and
///                                          callgrind to get allocations and
///                                          instructions per operation)
///
/// Inputs are built in memory before timing; nothing here reads files.
@main
enum MicroBenchmarks {
    static func main() {
        let arguments = CommandLine.arguments
        if arguments.count == 3, let benchmark = all.first(where: { $0.name == arguments[1] }), let count = Int(arguments[2]) {
            let work = benchmark.make()
            for _ in 0..<count { work() }
            return
        }
        print("benchmark                      ns/op      MB/s")
        for benchmark in all {
            let work = benchmark.make()
            for _ in 0..<1_000 { work() }  // warm up
            var iterations = 1_000
            var elapsed = 0.0
            while elapsed < 0.3 {
                iterations *= 2
                let start = now()
                for _ in 0..<iterations { work() }
                elapsed = now() - start
            }
            let nanoseconds = elapsed * 1e9 / Double(iterations)
            let megabytes = Double(benchmark.bytesPerOperation) / nanoseconds * 1e9 / 1e6
            print(pad(benchmark.name, 26), pad(format(nanoseconds), 10, right: true), pad(format(megabytes), 10, right: true))
        }
    }

    struct Benchmark: Sendable {
        var name: String
        /// Payload bytes one operation handles, for throughput.
        var bytesPerOperation: Int
        /// Builds the inputs and returns one operation.
        var make: @Sendable () -> () -> Void
    }

    static let all: [Benchmark] = [
        Benchmark(name: "decode-ethernet-tcp", bytesPerOperation: 1_448, make: decode),
        Benchmark(name: "reassembly-in-order", bytesPerOperation: 1_448, make: { reassembly(swapPairs: false) }),
        Benchmark(name: "reassembly-out-of-order", bytesPerOperation: 1_448, make: { reassembly(swapPairs: true) }),
        Benchmark(name: "tls-framing-walk", bytesPerOperation: 16_389, make: tlsWalk),
        Benchmark(name: "http-probe", bytesPerOperation: httpRequest.count, make: httpProbe),
        Benchmark(name: "pipeline-in-order-packet", bytesPerOperation: 1_448, make: pipeline),
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

    // MARK: Helpers

    @inline(never)
    static func blackHole<T>(_ value: T) { _ = value }

    static func now() -> Double {
        var time = timespec()
        clock_gettime(CLOCK_MONOTONIC, &time)
        return Double(time.tv_sec) + Double(time.tv_nsec) / 1e9
    }

    static func format(_ value: Double) -> String {
        let tenths = Int((value * 10).rounded())
        return "\(tenths / 10).\(tenths % 10)"
    }

    static func pad(_ text: String, _ width: Int, right: Bool = false) -> String {
        let padding = String(repeating: " ", count: max(0, width - text.count))
        return right ? padding + text : text + padding
    }
}
