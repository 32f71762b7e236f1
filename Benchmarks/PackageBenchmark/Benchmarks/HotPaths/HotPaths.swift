import Benchmark
import BenchmarkWorkloads

/// wirecheck's hot paths, one `Workloads` operation per iteration: decoding a
/// frame, reassembly in order and out of order, the TLS record walk, the HTTP
/// probe and one in-order packet through the whole pipeline.
///
/// Metrics: throughput (varies with the machine: reported, never checked)
/// and malloc counts per operation (exact: the interposer counts every call).
/// The static thresholds in Thresholds/ hold the allocation counts; `thresholds
/// check` fails when a workload allocates more, in particular when the
/// in-order paths allocate at all. Instructions need hardware counters (perf
/// events), which virtual machines often lack: scripts/bench/micro.sh counts
/// them with callgrind instead.
let benchmarks: @Sendable () -> Void = {
    Benchmark.defaultConfiguration = .init(
        metrics: [.throughput, .mallocCountTotal],
        timeUnits: .nanoseconds,
        warmupIterations: 3,
        scalingFactor: .kilo,
        maxDuration: .seconds(1),
        maxIterations: .kilo(10),
        thresholds: [
            // Allocations must not grow at all; speed is for reading, not for failing.
            .mallocCountTotal: .init(absolute: [.p90: 0]),
            .throughput: .none,
        ]
    )
    // Out of order, 3 allocations per 1000 operations showed at p90 when the
    // thresholds were written, in every run, and the same 3 with 256 segments
    // held (stop 32); micro.sh's difference of two run lengths finds none per
    // extra operation in either, so they are not per packet. A small margin
    // there; none anywhere else.
    let allocationMargin = ["reassembly-out-of-order": 5, "reassembly-held-flood": 5]
    for workload in Workloads.all {
        var configuration = Benchmark.defaultConfiguration
        if let margin = allocationMargin[workload.name] {
            configuration.thresholds?[.mallocCountTotal] = .init(absolute: [.p90: margin])
        }
        Benchmark(workload.name, configuration: configuration) { benchmark in
            let operation = workload.make()
            benchmark.startMeasurement()
            for _ in benchmark.scaledIterations { operation() }
        }
    }
}
