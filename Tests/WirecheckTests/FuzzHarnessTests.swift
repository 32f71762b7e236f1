import Foundation
import Testing

/// The fuzz harnesses, built without the fuzzer, are replay tools: they run
/// inputs through exactly the code libFuzzer drives. Every test run replays
/// the seeds made from the committed captures and every past finding kept in
/// `Tests/FuzzRegressions/HARNESS/`, so the harnesses cannot rot and a fixed
/// crash cannot come back.
@Suite struct FuzzHarnessTests {
    static let harnesses = ["decoder", "pipeline", "handshake"]

    @Test(arguments: harnesses)
    func seedsAndPastFindingsReplayCleanly(harness: String) throws {
        let replay = try #require(TestSupport.builtProduct("fuzz-\(harness)"), "fuzz-\(harness) not built (swift build --build-tests builds it)")
        let seeds = FileManager.default.temporaryDirectory.appendingPathComponent("wirecheck-seeds-\(UUID().uuidString)")
        defer { try? FileManager.default.removeItem(at: seeds) }
        let captures = try FileManager.default.contentsOfDirectory(atPath: TestSupport.capturesDirectory.path)
            .filter { $0.hasSuffix(".pcap") }
            .map { TestSupport.capturesDirectory.appendingPathComponent($0).path }
        let python = URL(fileURLWithPath: "/usr/bin/env")
        let made = try TestSupport.run(python, ["python3", TestSupport.packageRoot.appendingPathComponent("scripts/fuzz-seeds.py").path, seeds.path] + captures)
        #expect(made.status == 0, "fuzz-seeds.py failed: \(made.stderr)")

        var inputs: [String] = []
        for directory in [seeds.appendingPathComponent(harness),
                          TestSupport.packageRoot.appendingPathComponent("Tests/FuzzRegressions/\(harness)")] {
            let names = (try? FileManager.default.contentsOfDirectory(atPath: directory.path)) ?? []
            inputs += names.filter { !$0.hasPrefix(".") }.sorted().map { directory.appendingPathComponent($0).path }
        }
        #expect(inputs.count >= 5, "too few inputs to replay for \(harness)")
        let result = try TestSupport.run(replay, inputs)
        #expect(result.status == 0, "replay of \(harness) failed: \(result.stderr.suffix(2_000))")
        #expect(result.stderr.contains("replay: \(inputs.count) inputs, no finding"))
    }
}
