// swift-tools-version:6.1
import PackageDescription

/// Every target is built with the same settings: explicit existentials and
/// imports that say which module a name comes from; and, in release builds,
/// cross-module optimization, since the pipeline's stages are modules of
/// their own: with it the analysing thread of a replay ran 1.3 % fewer
/// instructions, and the replay 2.4 % faster taking turns with the build
/// without it (the flag then given on the command line; stop 40,
/// performance history).
let settings: [SwiftSetting] = [
    .enableUpcomingFeature("ExistentialAny"),
    .enableUpcomingFeature("MemberImportVisibility"),
    .unsafeFlags(["-cross-module-optimization"], .when(configuration: .release)),
]

let package = Package(
    name: "wirecheck",
    products: [
        .executable(name: "wirecheck", targets: ["wirecheck"]),
        // For the ordo-one/benchmark package in Benchmarks/PackageBenchmark
        // (a package of its own, so that its dependencies stay out of this one).
        .library(name: "BenchmarkWorkloads", targets: ["BenchmarkWorkloads"]),
    ],
    dependencies: [
        .package(url: "https://github.com/apple/swift-argument-parser", from: "1.5.0"),
    ],
    targets: [
        // libpcap, from Debian's libpcap-dev.
        .systemLibrary(name: "CPcap", pkgConfig: "libpcap", providers: [.apt(["libpcap-dev"])]),

        // The pipeline, one stage per target; data flows down this list and no
        // stage imports a later one.
        // A prefetch hint, which Swift cannot spell (header-only C).
        .target(name: "CacheHints"),
        // gzip-compressed capture files as a stdio stream for libpcap (zlib, from Debian's zlib1g-dev).
        // DWARF 4: valgrind 3.19 (Debian 12), which the benchmarks profile
        // with, gives up on the binary over this file's DWARF 5.
        .target(name: "CGzip", cSettings: [.unsafeFlags(["-gdwarf-4"])], linkerSettings: [.linkedLibrary("z")]),
        // Captures streamed in through a pipe, read so that Ctrl-C is noticed while the writer is quiet.
        .target(name: "CStreamInput", cSettings: [.unsafeFlags(["-gdwarf-4"])]),
        // Capture files read where they are mapped, kept from ending the process if they shrink meanwhile.
        .target(name: "CMappedFile", cSettings: [.unsafeFlags(["-gdwarf-4"])]),
        .target(name: "PacketCapture", dependencies: ["CPcap", "CacheHints", "CGzip", "CStreamInput", "CMappedFile"], swiftSettings: settings),
        .target(name: "PacketDecoding", swiftSettings: settings),
        .target(name: "StreamReassembly", swiftSettings: settings),
        // zlib's inflate, to tell compressed data (cleartext to anyone) from
        // ciphertext: one C function, DWARF 4 for valgrind as above.
        .target(name: "CInflate", cSettings: [.unsafeFlags(["-gdwarf-4"])], linkerSettings: [.linkedLibrary("z")]),
        // Byte searches over text heads with SSE2's comparisons and masks (header-only C).
        .target(name: "CByteScan"),
        .target(name: "PayloadClassification", dependencies: ["StreamReassembly", "CInflate", "CByteScan"], swiftSettings: settings),
        .target(name: "VerdictPolicy", dependencies: ["PacketDecoding", "PayloadClassification"], swiftSettings: settings),
        .target(
            name: "FlowAnalysis",
            dependencies: ["CacheHints", "PacketDecoding", "StreamReassembly", "PayloadClassification", "VerdictPolicy"],
            swiftSettings: settings
        ),
        .target(name: "Reporting", dependencies: ["VerdictPolicy", "PayloadClassification", "PacketDecoding"], swiftSettings: settings),
        // -z's commands start with only the descriptors they are given (one
        // glibc call Swift cannot see; DWARF 4 for valgrind as above).
        .target(name: "CSpawn", cSettings: [.unsafeFlags(["-gdwarf-4"])]),
        .executableTarget(
            name: "wirecheck",
            dependencies: [
                "CacheHints", "PacketCapture", "PacketDecoding", "StreamReassembly", "VerdictPolicy", "FlowAnalysis", "Reporting", "CSpawn",
                "CStreamInput",
                .product(name: "ArgumentParser", package: "swift-argument-parser"),
            ],
            swiftSettings: settings,
            // jemalloc (Debian's libjemalloc-dev) instead of glibc's malloc:
            // the analysing thread allocates a finished flow's evidence and
            // names, the reporting thread frees them, and glibc gives those
            // back to the allocating thread's arena under its lock, where its
            // next malloc finds them in lines the other processor last wrote.
            // jemalloc keeps each thread's frees in its own cache and returns
            // them in batches: the replay 3 to 11 % faster (stop 47,
            // performance history). Linked ahead of the C library, so its
            // malloc serves libpcap and the Swift runtime as well.
            linkerSettings: [.linkedLibrary("jemalloc")]
        ),

        // Micro-benchmarks of the hot paths: the workloads, and a runner that
        // scripts/bench/micro.sh runs with allocation and instruction counts
        // against checked-in thresholds (Benchmarks/PackageBenchmark runs the
        // same workloads under ordo-one/benchmark).
        .target(
            name: "BenchmarkWorkloads",
            dependencies: ["PacketDecoding", "StreamReassembly", "PayloadClassification", "FlowAnalysis"],
            path: "Benchmarks/Workloads", swiftSettings: settings
        ),
        .executableTarget(
            name: "wirecheck-micro", dependencies: ["BenchmarkWorkloads"],
            path: "Benchmarks/MicroBenchmarks", swiftSettings: settings
        ),

        // Fuzz harnesses (scripts/fuzz.sh builds them with -sanitize=fuzzer and
        // -DFUZZING; a plain build makes replay tools that run files through the
        // same harness, so they are compiled, and their corpus replayed, in every test run).
        .target(name: "FuzzSupport", path: "Fuzz/FuzzSupport", swiftSettings: settings),
        .executableTarget(name: "fuzz-decoder", dependencies: ["FuzzSupport", "PacketDecoding"],
                          path: "Fuzz/FuzzDecoder", swiftSettings: settings),
        .executableTarget(name: "fuzz-pipeline",
                          dependencies: ["FuzzSupport", "PacketDecoding", "StreamReassembly", "VerdictPolicy", "FlowAnalysis", "Reporting"],
                          path: "Fuzz/FuzzPipeline", swiftSettings: settings),
        .executableTarget(name: "fuzz-handshake", dependencies: ["FuzzSupport", "PayloadClassification"],
                          path: "Fuzz/FuzzHandshake", swiftSettings: settings),

        // Test support only: glibc's count of heap bytes in use.
        .target(name: "CMallocStatistics", path: "Tests/CMallocStatistics"),
        .testTarget(
            name: "WirecheckTests",
            dependencies: [
                "CMallocStatistics", "CacheHints", "PacketCapture", "PacketDecoding", "StreamReassembly", "PayloadClassification",
                "VerdictPolicy", "FlowAnalysis", "Reporting",
            ],
            swiftSettings: settings
        ),
    ]
)
