import Foundation
import Testing

/// `-w`: the packets read, written as tcpdump writes them, so that the
/// evidence behind a verdict can be kept and judged again.
@Suite struct PacketFileTests {
    let services = TestSupport.capturesDirectory.appendingPathComponent("lab-services.pcap").path

    func wirecheck(_ arguments: [String]) throws -> TestSupport.ProcessResult {
        let binary = try #require(TestSupport.binary, "wirecheck binary not built next to the tests")
        return try TestSupport.run(binary, arguments)
    }

    func temporaryDirectory() throws -> URL {
        let directory = FileManager.default.temporaryDirectory.appendingPathComponent("wirecheck-write-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: false)
        return directory
    }

    static func mode(of path: String) -> mode_t {
        var info = stat()
        return stat(path, &info) == 0 ? info.st_mode & 0o777 : 0
    }

    /// Read through a filter and written: the file holds what passed it, and
    /// replayed gives the same flows, line for line.
    @Test func writtenPacketsReplayToTheSameVerdicts() throws {
        let directory = try temporaryDirectory()
        defer { try? FileManager.default.removeItem(at: directory) }
        let written = directory.appendingPathComponent("kept.pcap").path
        let filtered = try wirecheck(["-r", services, "--json", "-w", written, "port", "5432"])
        #expect(filtered.stderr.isEmpty, "stderr: \(filtered.stderr)")
        let all = try wirecheck(["-r", services, "--json"])
        let replay = try wirecheck(["-r", written, "--json"])
        #expect(replay.status == filtered.status)
        #expect(!TestSupport.flowLines(filtered.stdout).isEmpty)
        #expect(TestSupport.flowLines(filtered.stdout).count < TestSupport.flowLines(all.stdout).count)
        #expect(TestSupport.flowLines(replay.stdout) == TestSupport.flowLines(filtered.stdout))
        let filteredPackets = try TestSupport.jsonLines(filtered.stdout).last?["packets"] as? Int
        #expect(try TestSupport.jsonLines(replay.stdout).last?["packets"] as? Int == filteredPackets)
        // Credentials crossed in clear in this capture: the file is its owner's only.
        #expect(Self.mode(of: written) == 0o600)
    }

    /// Every bundled capture (link types, tunnels, fragments, IPv6, copies
    /// from `-i any`), written and replayed: the same flow lines, packets and exit status.
    @Test func everyBundledCaptureReplaysFromWhatWasWritten() throws {
        let directory = try temporaryDirectory()
        defer { try? FileManager.default.removeItem(at: directory) }
        let captures = try FileManager.default.contentsOfDirectory(atPath: TestSupport.capturesDirectory.path)
            .filter { $0.hasSuffix(".pcap") || $0.hasSuffix(".pcapng") }.sorted()
        #expect(captures.count >= 20)
        for name in captures {
            let capture = TestSupport.capturesDirectory.appendingPathComponent(name).path
            let written = directory.appendingPathComponent(name + ".written.pcap").path
            let first = try wirecheck(["-r", capture, "--json", "-w", written])
            let replay = try wirecheck(["-r", written, "--json"])
            #expect(replay.status == first.status, "\(name)")
            #expect(TestSupport.flowLines(replay.stdout) == TestSupport.flowLines(first.stdout), "\(name)")
            #expect(try TestSupport.jsonLines(replay.stdout).last?["packets"] as? Int
                    == TestSupport.jsonLines(first.stdout).last?["packets"] as? Int, "\(name)")
        }
    }

    /// A nanosecond capture written again is the same file, byte for byte:
    /// each packet's bytes, lengths and time to the nanosecond (JSON shows
    /// microseconds, so the flow lines alone would not tell).
    @Test func aNanosecondCaptureIsWrittenAsItWasRead() throws {
        let directory = try temporaryDirectory()
        defer { try? FileManager.default.removeItem(at: directory) }
        let bytes = [UInt8](try Data(contentsOf: TestSupport.capturesDirectory.appendingPathComponent("permissive.pcap")))
        try #require(bytes.count > 24 && bytes[0...3] == [0xD4, 0xC3, 0xB2, 0xA1], "permissive.pcap is not a little-endian microsecond pcap")
        // The same packets in a nanosecond pcap, each 123 ns after its microsecond.
        var nanosecond = [0x4D, 0x3C, 0xB2, 0xA1] + bytes[4..<24]
        var offset = 24
        while offset + 16 <= bytes.count {
            func field(_ at: Int) -> UInt32 { (0..<4).reduce(0) { $0 | UInt32(bytes[offset + at + $1]) << (8 * $1) } }
            let fraction = field(4) * 1000 + 123, captured = Int(field(8))
            try #require(offset + 16 + captured <= bytes.count)
            nanosecond += bytes[offset..<(offset + 4)] + (0..<4).map { UInt8(truncatingIfNeeded: fraction >> (8 * $0)) }
            nanosecond += bytes[(offset + 8)..<(offset + 16 + captured)]
            offset += 16 + captured
        }
        let input = directory.appendingPathComponent("nanosecond.pcap").path
        let written = directory.appendingPathComponent("written.pcap").path
        try Data(nanosecond).write(to: URL(fileURLWithPath: input))
        _ = try wirecheck(["-r", input, "-w", written])
        #expect(try Data(contentsOf: URL(fileURLWithPath: written)) == Data(nanosecond))
    }

    /// `-c` stops the writing where the reading stops.
    @Test func countStopsTheWritingToo() throws {
        let directory = try temporaryDirectory()
        defer { try? FileManager.default.removeItem(at: directory) }
        let written = directory.appendingPathComponent("first.pcap").path
        _ = try wirecheck(["-r", services, "-c", "25", "-w", written])
        let replay = try wirecheck(["-r", written, "--json"])
        #expect(try TestSupport.jsonLines(replay.stdout).last?["packets"] as? Int == 25, "\(replay.stdout)")
    }

    /// A disk that fills: the writing stops with a warning, the verdicts stand.
    @Test(.enabled(if: FileManager.default.fileExists(atPath: "/dev/full"), "no /dev/full"))
    func aFullDiskStopsTheWritingNotTheAnalysis() throws {
        let run = try wirecheck(["-r", services, "--json", "-w", "/dev/full"])
        let whole = try wirecheck(["-r", services, "--json"])
        #expect(run.stderr.contains("-w /dev/full: writing failed (No space left on device); the file is incomplete"), "\(run.stderr)")
        #expect(run.status == whole.status)
        #expect(TestSupport.flowLines(run.stdout) == TestSupport.flowLines(whole.stdout))
    }

    /// Never over a capture being read (it would be emptied before it was
    /// read), nor over the report's file.
    @Test func refusesToWriteOverWhatItReads() throws {
        let directory = try temporaryDirectory()
        defer { try? FileManager.default.removeItem(at: directory) }
        let capture = directory.appendingPathComponent("capture.pcap").path
        try FileManager.default.copyItem(atPath: services, toPath: capture)
        let size = try FileManager.default.attributesOfItem(atPath: capture)[.size] as? Int
        let over = try wirecheck(["-r", capture, "-w", capture])
        #expect(over.status == 3)
        #expect(over.stderr.contains("-w \(capture): is \(capture), a capture being read"), "\(over.stderr)")
        #expect(try FileManager.default.attributesOfItem(atPath: capture)[.size] as? Int == size)
        // The same file by another name.
        let link = directory.appendingPathComponent("link.pcap").path
        try FileManager.default.linkItem(atPath: capture, toPath: link)
        #expect(try wirecheck(["-r", capture, "-w", link]).status == 3)
        let report = directory.appendingPathComponent("report.txt").path
        let both = try wirecheck(["-r", capture, "-o", report, "-w", report])
        #expect(both.status == 3)
        #expect(both.stderr.contains("is where the report goes too"), "\(both.stderr)")
        // A planted symbolic link is refused, as for --output.
        let planted = directory.appendingPathComponent("planted.pcap").path
        try FileManager.default.createSymbolicLink(atPath: planted, withDestinationPath: report)
        let symbolic = try wirecheck(["-r", capture, "-w", planted])
        #expect(symbolic.status == 3)
        #expect(symbolic.stderr.contains("-w \(planted): is a symbolic link"), "\(symbolic.stderr)")
    }
}

/// A live capture written with `-w`: usable while wirecheck runs (flushed
/// every second), and replayed after Ctrl-C to the same verdicts.
@Suite(.enabled(if: TestSupport.isRoot, "needs root to capture live"))
struct LivePacketFileTests {
    @Test func liveCaptureWrittenAndReplayed() throws {
        let binary = try #require(TestSupport.binary, "wirecheck binary not built next to the tests")
        let directory = FileManager.default.temporaryDirectory.appendingPathComponent("wirecheck-live-write-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: false)
        defer { try? FileManager.default.removeItem(at: directory) }
        let written = directory.appendingPathComponent("live.pcap").path
        let port = 19_000 + Int(getpid() % 1000)
        let child = try Subprocess(binary.path, ["-i", "lo", "--json", "-Z", "root", "-w", written, "tcp port \(port)"])
        defer { child.send(SIGKILL); _ = child.wait(); child.removeFiles() }
        #expect(child.waitForStderr("listening on lo", timeout: 10), "stderr: \(child.stderr)")
        try LiveNamesTests.exchange(port: port)
        let live = LiveNamesTests.waitForFlows(child, count: 1)
        #expect(live.count == 1, "stdout: \(child.stdout)")
        // Before the end: the exchange is in the file already (a pcap header is 24 bytes).
        let deadline = Date().addingTimeInterval(5)
        var size = 0
        while size <= 24 * 10, Date() < deadline {
            size = (try? FileManager.default.attributesOfItem(atPath: written)[.size] as? Int) ?? 0
            Thread.sleep(forTimeInterval: 0.1)
        }
        #expect(size > 24 * 10, "\(written): \(size) bytes while running")
        child.send(SIGINT)
        #expect(child.wait(timeout: 10) == 1, "stderr: \(child.stderr)")
        #expect(PacketFileTests.mode(of: written) == 0o600)

        let replay = try TestSupport.run(binary, ["-r", written, "--json"])
        #expect(replay.status == 1, "stderr: \(replay.stderr)")
        let flows = try TestSupport.jsonLines(replay.stdout).filter { $0["type"] as? String == "flow" }
        #expect(flows.count == 1)
        for key in ["client", "server", "verdict", "evidence", "firstSeen", "lastSeen"] {
            #expect(flows.first?[key] as? String == live.first?[key] as? String, "\(key)")
        }
        #expect(flows.first?["packets"] as? Int == live.first?["packets"] as? Int)
        let liveSummary = try #require(try TestSupport.jsonLines(child.stdout).last)
        #expect(try TestSupport.jsonLines(replay.stdout).last?["packets"] as? Int == liveSummary["packets"] as? Int)
    }
}
