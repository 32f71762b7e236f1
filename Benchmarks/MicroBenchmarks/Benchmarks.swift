import BenchmarkWorkloads

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
/// Inputs are built in memory before timing (`Workloads`); nothing here reads files.
@main
enum MicroBenchmarks {
    static func main() {
        let arguments = CommandLine.arguments
        if arguments.count == 3, let benchmark = Workloads.all.first(where: { $0.name == arguments[1] }), let count = Int(arguments[2]) {
            let work = benchmark.make()
            for _ in 0..<count { work() }
            return
        }
        print("benchmark                      ns/op      MB/s")
        for benchmark in Workloads.all {
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

    // MARK: Helpers

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
