// swift-tools-version:6.1
import Foundation
import PackageDescription

// The hot paths' micro-benchmarks under ordo-one/benchmark, in a package of
// their own so that wirecheck itself does not depend on it. Run from this
// folder (scripts/bench/package-benchmark.sh does, and checks the thresholds):
//
//     swift package --disable-sandbox benchmark
//     swift package --disable-sandbox benchmark thresholds check
//
// The workloads are wirecheck's own (its `BenchmarkWorkloads` library), the
// same that scripts/bench/micro.sh counts instructions of with callgrind.

// wirecheck is this folder's grandparent, and a local package is named after
// its folder, which is whatever the clone was called: read it, do not assume it.
let wirecheckFolder = URL(fileURLWithPath: Context.packageDirectory).deletingLastPathComponent().deletingLastPathComponent()
let wirecheckIdentity = wirecheckFolder.lastPathComponent.lowercased()

let package = Package(
    name: "PackageBenchmark",
    dependencies: [
        .package(path: "../.."),
        // Only the malloc interposer (allocation counts): the trait list
        // replaces the defaults, which on Linux with Swift 6.3 add an ARC
        // runtime interposer from a package the mirror does not carry.
        .package(url: "https://github.com/ordo-one/benchmark", from: "1.38.0", traits: ["MallocInterposer"]),
    ],
    targets: [
        .executableTarget(
            name: "HotPaths",
            dependencies: [
                .product(name: "Benchmark", package: "benchmark"),
                .product(name: "BenchmarkWorkloads", package: wirecheckIdentity),
            ],
            path: "Benchmarks/HotPaths",
            plugins: [.plugin(name: "BenchmarkPlugin", package: "benchmark")]
        ),
    ]
)
