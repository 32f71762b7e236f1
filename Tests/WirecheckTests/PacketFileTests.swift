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

    /// A disk that fills: the writing stops with a warning naming the
    /// write's own error, the verdicts stand; written by the thread reading
    /// ahead, or (with `-c`) by the analysing one. (errno is per thread:
    /// read on the analysing thread after the reading thread's write
    /// failed, it named whatever that thread had done last.)
    @Test(.enabled(if: FileManager.default.fileExists(atPath: "/dev/full"), "no /dev/full"))
    func aFullDiskStopsTheWritingNotTheAnalysis() throws {
        let whole = try wirecheck(["-r", services, "--json"])
        for limit in [[], ["-c", "1000000"]] {
            let run = try wirecheck(["-r", services, "--json", "-w", "/dev/full"] + limit)
            #expect(run.stderr.contains("-w /dev/full: writing failed (No space left on device); the file ends at an earlier packet"),
                    "\(limit): \(run.stderr)")
            #expect(run.status == whole.status)
            #expect(TestSupport.flowLines(run.stdout) == TestSupport.flowLines(whole.stdout))
        }
    }

    /// A capture of `connections` connections from the lab's flows
    /// (`scripts/bench/gen-capture.py mix`, about 3.3 KB each), in `directory`.
    func generatedCapture(connections: Int, in directory: URL) throws -> String {
        let output = directory.appendingPathComponent("generated-\(connections).pcap").path
        let generator = TestSupport.packageRoot.appendingPathComponent("scripts/bench/gen-capture.py").path
        let run = try TestSupport.run(URL(fileURLWithPath: "/usr/bin/env"), [
            "python3", generator, "mix", output, String(connections), TestSupport.capturesDirectory.appendingPathComponent("permissive.pcap").path,
        ])
        try #require(run.status == 0, "gen-capture.py: \(run.stderr)")
        return output
    }

    static func size(of path: String) -> Int {
        (try? FileManager.default.attributesOfItem(atPath: path)[.size] as? Int) ?? -1
    }

    /// `-C 1`: a new file once the one written is larger than 1 000 000
    /// bytes, named FILE, FILE1, FILE2… as tcpdump names them; the files
    /// read back together give the flows of the capture read whole.
    @Test func fileSizeSplitsTheWrittenFile() throws {
        let directory = try temporaryDirectory()
        defer { try? FileManager.default.removeItem(at: directory) }
        let capture = try generatedCapture(connections: 1000, in: directory)
        #expect(Self.size(of: capture) > 3_000_000)
        let written = directory.appendingPathComponent("kept").path
        let run = try wirecheck(["-r", capture, "--json", "-w", written, "-C", "1"])
        #expect(run.stderr.isEmpty, "\(run.stderr)")
        let names = try FileManager.default.contentsOfDirectory(atPath: directory.path).filter { $0.hasPrefix("kept") }.sorted()
        #expect(names == ["kept", "kept1", "kept2", "kept3"])
        // Each but the last ends with the first packet past the limit (the
        // capture's largest frame is a 1448-byte segment's).
        for name in names.dropLast() {
            let size = Self.size(of: directory.appendingPathComponent(name).path)
            #expect(size > 1_000_000 && size <= 1_000_000 + 16 + 1514, "\(name): \(size)")
            #expect(Self.mode(of: directory.appendingPathComponent(name).path) == 0o600)
        }
        // Each file a capture of its own (its header and whole packets) …
        for name in names {
            let alone = try wirecheck(["-r", directory.appendingPathComponent(name).path, "--json"])
            #expect(alone.stderr.isEmpty, "\(name): \(alone.stderr)")
        }
        // … and together the capture: the same flows and packets.
        let together = try wirecheck(names.flatMap { ["-r", directory.appendingPathComponent($0).path] } + ["--json"])
        #expect(TestSupport.flowLines(together.stdout) == TestSupport.flowLines(run.stdout))
        #expect(try TestSupport.jsonLines(together.stdout).last?["packets"] as? Int
                == TestSupport.jsonLines(run.stdout).last?["packets"] as? Int)
        #expect(together.status == run.status)
    }

    /// `-z gzip` with `-C 1`: each file compressed once closed, the last one
    /// too (tcpdump leaves its last file as it is), and wirecheck returns
    /// once they are: the compressed files read back together give the flows
    /// of the capture read whole.
    @Test(.enabled(if: PostRotate.found("gzip"), "gzip not installed"))
    func postRotateCommandCompressesEveryFile() throws {
        let directory = try temporaryDirectory()
        defer { try? FileManager.default.removeItem(at: directory) }
        let capture = try generatedCapture(connections: 1000, in: directory)
        let written = directory.appendingPathComponent("kept").path
        let run = try wirecheck(["-r", capture, "--json", "-w", written, "-C", "1", "-z", "gzip"])
        #expect(run.stderr.isEmpty, "\(run.stderr)")
        let names = try FileManager.default.contentsOfDirectory(atPath: directory.path).filter { $0.hasPrefix("kept") }.sorted()
        #expect(names == ["kept.gz", "kept1.gz", "kept2.gz", "kept3.gz"])
        let together = try wirecheck(names.flatMap { ["-r", directory.appendingPathComponent($0).path] } + ["--json"])
        #expect(TestSupport.flowLines(together.stdout) == TestSupport.flowLines(run.stdout))
        #expect(try TestSupport.jsonLines(together.stdout).last?["packets"] as? Int
                == TestSupport.jsonLines(run.stdout).last?["packets"] as? Int)
        #expect(together.status == run.status)
    }

    /// A command that fails is named with each file on stderr, the files and
    /// the verdicts as without it; one that writes on stdout does not reach
    /// the report there; and a slow one is waited for.
    @Test func postRotateCommandFailuresOutputAndWaiting() throws {
        let directory = try temporaryDirectory()
        defer { try? FileManager.default.removeItem(at: directory) }
        let capture = try generatedCapture(connections: 1000, in: directory)
        let plain = try wirecheck(["-r", capture, "--json"])
        let failing = try wirecheck(["-r", capture, "--json", "-w", directory.appendingPathComponent("f").path, "-C", "1", "-z", "false"])
        for name in ["f", "f1", "f2", "f3"] {
            #expect(failing.stderr.contains("wirecheck: -z false: \(directory.appendingPathComponent(name).path): exited with status 1\n"),
                    "\(failing.stderr)")
            #expect(Self.size(of: directory.appendingPathComponent(name).path) > 24)
        }
        #expect(failing.status == plain.status)
        #expect(TestSupport.flowLines(failing.stdout) == TestSupport.flowLines(plain.stdout))

        let script = try PostRotate.script("echo \"handed $1\"\nsleep 1.5\nmv \"$1\" \"$1.done\"\n", named: "slow.sh", in: directory)
        let slow = try wirecheck(["-r", capture, "--json", "-w", directory.appendingPathComponent("s").path, "-C", "2", "-z", script])
        // Its echo went to stderr; stdout is the report alone.
        #expect(try TestSupport.jsonLines(slow.stdout).count == TestSupport.jsonLines(plain.stdout).count)
        #expect(slow.stderr.contains("handed \(directory.appendingPathComponent("s1").path)\n"), "\(slow.stderr)")
        #expect(slow.stderr.contains("wirecheck: -z \(script): waiting for it on"), "\(slow.stderr)")
        let done = try FileManager.default.contentsOfDirectory(atPath: directory.path).filter { $0.hasPrefix("s") && $0 != "slow.sh" }.sorted()
        #expect(done == ["s.done", "s1.done"])
    }

    /// As many commands at once as wirecheck may use processors: allowed one
    /// (`taskset`), a replay's four files are handed over one after the
    /// other, never two at once, however fast they were closed.
    @Test(.enabled(if: FileManager.default.isExecutableFile(atPath: "/usr/bin/taskset"), "taskset not installed"))
    func postRotateCommandsRunAsManyAtOnceAsProcessors() throws {
        let directory = try temporaryDirectory()
        defer { try? FileManager.default.removeItem(at: directory) }
        let capture = try generatedCapture(connections: 1000, in: directory)
        let log = directory.appendingPathComponent("log").path
        // 0.6 s each: the four take 2.4 s one after the other, so that the
        // replay (on the one processor, whatever else the machine runs)
        // may take up to 1.4 s past the first file and still leave the
        // second of waiting that the message below needs (at 0.3 s each it
        // had 0.2 s, which a loaded machine can use up).
        let script = try PostRotate.script("echo start >> \(log)\nsleep 0.6\necho end >> \(log)\n", named: "log.sh", in: directory)
        let binary = try #require(TestSupport.binary, "wirecheck binary not built next to the tests")
        let run = try TestSupport.run(URL(fileURLWithPath: "/usr/bin/taskset"), [
            "-c", "0", binary.path, "-r", capture, "-w", directory.appendingPathComponent("k").path, "-C", "1", "-z", script,
        ])
        #expect(run.status == 1, "\(run.stderr)")
        // Read without throwing: if no command ran, stderr says why.
        let lines = ((try? String(contentsOfFile: log, encoding: .utf8)) ?? "").split(separator: "\n")
        #expect(lines == Array(repeating: ["start", "end"], count: 4).flatMap { $0 }, "\(lines); stderr: \(run.stderr)")
        // After a second of waiting, the one or two files left are named.
        #expect(run.stderr.contains("waiting for it on \(directory.appendingPathComponent("k").path)"), "\(run.stderr)")
    }

    /// A Ctrl-C while wirecheck waits for the commands leaves the one running
    /// and runs none of those waiting, saying which; the report is whole.
    @Test(.enabled(if: FileManager.default.isExecutableFile(atPath: "/usr/bin/taskset"), "taskset not installed"))
    func ctrlCWhileWaitingLeavesTheCommands() throws {
        let directory = try temporaryDirectory()
        defer { try? FileManager.default.removeItem(at: directory) }
        let capture = try generatedCapture(connections: 1000, in: directory)
        let script = try PostRotate.script("sleep 3\n", named: "slow.sh", in: directory)
        let binary = try #require(TestSupport.binary, "wirecheck binary not built next to the tests")
        let kept = directory.appendingPathComponent("k").path
        let child = try Subprocess("/usr/bin/taskset", ["-c", "0", binary.path, "-r", capture, "--json", "-w", kept, "-C", "1", "-z", script])
        defer { child.send(SIGKILL); _ = child.wait(); child.removeFiles() }
        #expect(child.waitForStderr("waiting for it on", timeout: 10), "stderr: \(child.stderr)")
        // The report is whole before the wait: not held back by the commands.
        #expect(try TestSupport.jsonLines(child.stdout).last?["type"] as? String == "summary")
        child.send(SIGINT)
        #expect(child.wait(timeout: 2) == 1, "stderr: \(child.stderr)")
        #expect(child.stderr.contains("wirecheck: -z \(script): left running on \(kept); not run on \(kept)1, \(kept)2, \(kept)3\n"),
                "stderr: \(child.stderr)")
        #expect(try TestSupport.jsonLines(child.stdout).last?["type"] as? String == "summary")
    }

    /// `-W 2` with `-C 1`: a ring of two files, FILE0 and FILE1, the oldest
    /// overwritten; what is left is the capture's last packets, in order.
    @Test func fileCountKeepsARing() throws {
        let directory = try temporaryDirectory()
        defer { try? FileManager.default.removeItem(at: directory) }
        let capture = try generatedCapture(connections: 1000, in: directory)
        let written = directory.appendingPathComponent("ring").path
        let run = try wirecheck(["-r", capture, "--json", "-w", written, "-C", "1", "-W", "2"])
        #expect(run.stderr.isEmpty, "\(run.stderr)")
        let names = try FileManager.default.contentsOfDirectory(atPath: directory.path).filter { $0.hasPrefix("ring") }.sorted()
        #expect(names == ["ring0", "ring1"])
        // Four files' worth: the third went over the first (ring0), the fourth, the capture's end, over the second.
        let whole = try TestSupport.jsonLines(run.stdout).last?["packets"] as? Int ?? 0
        let first = try TestSupport.jsonLines(wirecheck(["-r", directory.appendingPathComponent("ring0").path, "--json"]).stdout)
        let second = try TestSupport.jsonLines(wirecheck(["-r", directory.appendingPathComponent("ring1").path, "--json"]).stdout)
        let kept = (first.last?["packets"] as? Int ?? 0) + (second.last?["packets"] as? Int ?? 0)
        #expect(kept > 0 && kept < whole / 2, "\(kept) of \(whole)")
        #expect(Self.size(of: directory.appendingPathComponent("ring0").path) > 1_000_000)
        #expect(Self.size(of: directory.appendingPathComponent("ring1").path) < 1_000_000)
        // Ten files: two digits, ring00 to ring09; the four written are ring00 to ring03.
        let ten = directory.appendingPathComponent("ten").path
        _ = try wirecheck(["-r", capture, "-w", ten, "-C", "1", "-W", "10"])
        #expect(try FileManager.default.contentsOfDirectory(atPath: directory.path).filter { $0.hasPrefix("ten") }.sorted()
                == ["ten0", "ten1", "ten2", "ten3"])
        let eleven = directory.appendingPathComponent("eleven").path
        _ = try wirecheck(["-r", capture, "-w", eleven, "-C", "1", "-W", "11"])
        #expect(try FileManager.default.contentsOfDirectory(atPath: directory.path).filter { $0.hasPrefix("eleven") }.sorted()
                == ["eleven00", "eleven01", "eleven02", "eleven03"])
    }

    /// The same names and sizes as tcpdump's `-C`/`-W` over the same capture
    /// (its files are microsecond pcap and wirecheck's nanosecond: the same
    /// header and record sizes).
    @Test(.enabled(if: FileManager.default.isExecutableFile(atPath: "/usr/bin/tcpdump"), "tcpdump not installed"))
    func rotationMatchesTcpdumps() throws {
        let directory = try temporaryDirectory()
        defer { try? FileManager.default.removeItem(at: directory) }
        let capture = try generatedCapture(connections: 1000, in: directory)
        let expected: [(options: [String], suffixes: [String])] = [
            (["-C", "1"], ["", "1", "2", "3"]), (["-C", "1", "-W", "3"], ["0", "1", "2"]), (["-C", "2", "-W", "1"], [""]),
        ]
        for (options, suffixes) in expected {
            let ours = directory.appendingPathComponent("ours").path, theirs = directory.appendingPathComponent("theirs").path
            _ = try wirecheck(["-r", capture, "-w", ours] + options)
            let tcpdump = try TestSupport.run(URL(fileURLWithPath: "/usr/bin/tcpdump"), ["-r", capture, "-w", theirs, "-Z", "root"] + options)
            #expect(tcpdump.status == 0, "\(tcpdump.stderr)")
            let files = try FileManager.default.contentsOfDirectory(atPath: directory.path)
            let ourFiles = files.filter { $0.hasPrefix("ours") }.sorted(), theirFiles = files.filter { $0.hasPrefix("theirs") }.sorted()
            #expect(ourFiles.map { String($0.dropFirst(4)) } == suffixes, "\(options)")
            #expect(theirFiles.map { String($0.dropFirst(6)) } == suffixes, "\(options)")
            for (mine, other) in zip(ourFiles, theirFiles) {
                #expect(Self.size(of: directory.appendingPathComponent(mine).path) == Self.size(of: directory.appendingPathComponent(other).path),
                        "\(options): \(mine)")
            }
            for file in ourFiles + theirFiles { try FileManager.default.removeItem(at: directory.appendingPathComponent(file)) }
        }
    }

    /// A next file that cannot be opened (a directory by its name): the
    /// writing stops with a warning naming it, the files before stay whole,
    /// and the analysis goes on to the same verdicts.
    @Test func aNextFileThatCannotBeOpenedStopsTheWriting() throws {
        let directory = try temporaryDirectory()
        defer { try? FileManager.default.removeItem(at: directory) }
        let capture = try generatedCapture(connections: 1000, in: directory)
        let written = directory.appendingPathComponent("kept").path
        try FileManager.default.createDirectory(atPath: written + "2", withIntermediateDirectories: false)
        let run = try wirecheck(["-r", capture, "--json", "-w", written, "-C", "1"])
        let whole = try wirecheck(["-r", capture, "--json"])
        #expect(run.stderr.contains("-w \(written): writing failed (-w \(written)2: "), "\(run.stderr)")
        #expect(run.stderr.contains("the files written end with \(written)1, at an earlier packet"), "\(run.stderr)")
        #expect(run.status == whole.status)
        #expect(TestSupport.flowLines(run.stdout) == TestSupport.flowLines(whole.stdout))
        let replay = try wirecheck(["-r", written, "-r", written + "1", "--json"])
        #expect(replay.stderr.isEmpty, "\(replay.stderr)")
        #expect(Self.size(of: written + "1") > 1_000_000)
        // A symbolic link planted under a next name (wirecheck runs as root,
        // often into /tmp) is refused as the first file's would be; the
        // file it points to is left alone.
        let target = directory.appendingPathComponent("target").path
        try Data("not a capture".utf8).write(to: URL(fileURLWithPath: target))
        let planted = directory.appendingPathComponent("planted").path
        try FileManager.default.createSymbolicLink(atPath: planted + "1", withDestinationPath: target)
        let symbolic = try wirecheck(["-r", capture, "-w", planted, "-C", "1"])
        #expect(symbolic.stderr.contains("writing failed (-w \(planted)1: is a symbolic link; refusing to follow it)"), "\(symbolic.stderr)")
        #expect(try String(contentsOfFile: target, encoding: .utf8) == "not a capture")
        #expect(symbolic.status == whole.status)
        // Not a regular file: -C has nothing to split.
        let device = try wirecheck(["-r", capture, "-w", "/dev/null", "-C", "1"])
        #expect(device.status == 3)
        #expect(device.stderr.contains("-C and -G split a regular file, and this is not one"), "\(device.stderr)")
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

        let replay = try Self.expectReplay(of: [written], binary: binary, toGive: live)
        let liveSummary = try #require(try TestSupport.jsonLines(child.stdout).last)
        #expect(try TestSupport.jsonLines(replay.stdout).last?["packets"] as? Int == liveSummary["packets"] as? Int)
    }

    /// `-C` live, as tcpdump runs on a node: privileges dropped to the
    /// tcpdump user (when there is one) before the first file, each next file
    /// opened as that user; a 2.5 MB answer over loopback fills three files,
    /// which read back together give the flow seen live.
    @Test func liveCaptureSplitByFileSize() throws {
        let binary = try #require(TestSupport.binary, "wirecheck binary not built next to the tests")
        let directory = try Self.directoryForTheDroppedUser("wirecheck-live-rotate")
        defer { try? FileManager.default.removeItem(at: directory) }
        let written = directory.appendingPathComponent("live").path
        let port = 23_000 + Int(getpid() % 1000)
        let child = try Subprocess(binary.path, ["-i", "lo", "--json", "-w", written, "-C", "1", "tcp port \(port)"])
        defer { child.send(SIGKILL); _ = child.wait(); child.removeFiles() }
        #expect(child.waitForStderr("listening on lo", timeout: 10), "stderr: \(child.stderr)")
        try Self.sendLargeAnswer(port: port)
        let live = LiveNamesTests.waitForFlows(child, count: 1)
        #expect(live.count == 1, "stdout: \(child.stdout)")
        child.send(SIGINT)
        #expect(child.wait(timeout: 10) == 1, "stderr: \(child.stderr)")
        let names = try FileManager.default.contentsOfDirectory(atPath: directory.path).sorted()
        #expect(names == ["live", "live1", "live2"], "stderr: \(child.stderr)")
        for name in names { try Self.expectOwnedByTheDroppedUser(directory.appendingPathComponent(name).path) }
        _ = try Self.expectReplay(of: names.map { directory.appendingPathComponent($0).path }, binary: binary, toGive: live)
    }

    /// One HTTP request over loopback answered with 2.5 MB: three of `-C 1`'s files.
    static func sendLargeAnswer(port: Int) throws {
        let script = """
            import socket, threading
            server = socket.socket(); server.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            server.bind(("127.0.0.1", \(port))); server.listen(1)
            def serve():
                conn, _ = server.accept(); conn.recv(4096)
                body = b"x" * 2500000
                conn.sendall(b"HTTP/1.1 200 OK\\r\\nContent-Length: %d\\r\\n\\r\\n" % len(body) + body); conn.close()
            worker = threading.Thread(target=serve); worker.start()
            client = socket.create_connection(("127.0.0.1", \(port)))
            client.sendall(b"GET /large HTTP/1.1\\r\\nHost: rotate-test\\r\\n\\r\\n")
            while client.recv(65536): pass
            client.close(); worker.join(); server.close()
            """
        let exchange = try TestSupport.run(URL(fileURLWithPath: "/usr/bin/env"), ["python3", "-c", script])
        try #require(exchange.status == 0, "\(exchange.stderr)")
    }

    /// `-z` live, as on a node: run as the tcpdump user on each file, and
    /// the Ctrl-C typed at a terminal (the signal to wirecheck's whole
    /// process group) does not cut short a command still running: the last
    /// file is handed over after it and waited for.
    @Test func livePostRotateCommandOutlivesCtrlC() throws {
        let binary = try #require(TestSupport.binary, "wirecheck binary not built next to the tests")
        let directory = try Self.directoryForTheDroppedUser("wirecheck-live-postrotate")
        defer { try? FileManager.default.removeItem(at: directory) }
        // It says who it ran as, and how many sockets it holds (the capture's
        // is not handed down), in files beside the one it was handed.
        let script = try PostRotate.script(
            "ls -l /proc/$$/fd | grep -c socket: > \"$1.sockets\"\nsleep 3\nid -u > \"$1.uid\"\nmv \"$1\" \"$1.done\"\n",
            named: "slow.sh", in: directory)
        let written = directory.appendingPathComponent("live").path
        let port = 26_000 + Int(getpid() % 1000)
        // setsid: a process group of its own, which the test can signal whole.
        let child = try Subprocess("/usr/bin/setsid", [binary.path, "-i", "lo", "--json", "-w", written, "-C", "1", "-z", script,
                                                       "tcp port \(port)"])
        defer { child.send(SIGKILL); _ = child.wait(); child.removeFiles() }
        #expect(child.waitForStderr("listening on lo", timeout: 10), "stderr: \(child.stderr)")
        try LivePacketFileTests.sendLargeAnswer(port: port)
        let live = LiveNamesTests.waitForFlows(child, count: 1)
        #expect(live.count == 1, "stdout: \(child.stdout)")
        // At once: the last rotation's command is still in its second.
        kill(-child.pid, SIGINT)
        #expect(child.wait(timeout: 10) == 1, "stderr: \(child.stderr)")
        let names = try FileManager.default.contentsOfDirectory(atPath: directory.path).filter { $0.hasSuffix(".done") }.sorted()
        #expect(names == ["live.done", "live1.done", "live2.done"], "stderr: \(child.stderr)")
        let dropped = getpwnam("tcpdump")?.pointee.pw_uid ?? 0
        for name in names {
            try Self.expectOwnedByTheDroppedUser(directory.appendingPathComponent(name).path)
            let ranAs = try String(contentsOfFile: directory.appendingPathComponent(name.dropLast(".done".count) + ".uid").path, encoding: .utf8)
            #expect(ranAs == "\(dropped)\n", "\(name)")
            let sockets = try String(contentsOfFile: directory.appendingPathComponent(name.dropLast(".done".count) + ".sockets").path, encoding: .utf8)
            #expect(sockets == "0\n", "\(name)")
        }
        _ = try Self.expectReplay(of: names.map { directory.appendingPathComponent($0).path }, binary: binary, toGive: live)
    }

    /// A command root can run and the user wirecheck drops to cannot (in a
    /// directory only root may enter) is refused once dropped, before
    /// anything is captured, saying how to mend it.
    @Test(.enabled(if: getpwnam("tcpdump") != nil, "no tcpdump user to drop to"))
    func postRotateCommandTheDroppedUserCannotRun() throws {
        let binary = try #require(TestSupport.binary, "wirecheck binary not built next to the tests")
        let directory = try Self.directoryForTheDroppedUser("wirecheck-live-unrunnable")
        defer { try? FileManager.default.removeItem(at: directory) }
        let hidden = directory.appendingPathComponent("root-only")
        try FileManager.default.createDirectory(at: hidden, withIntermediateDirectories: false)
        chmod(hidden.path, 0o700)
        let script = try PostRotate.script("exit 0\n", named: "compress.sh", in: hidden)
        let run = try TestSupport.run(binary, ["-i", "lo", "--duration", "2", "-w", directory.appendingPathComponent("k").path, "-C", "1", "-z", script])
        #expect(run.status == 3)
        #expect(run.stderr.contains("wirecheck: -z \(script): tcpdump, the user wirecheck runs as, cannot run it; put it where that user can, or keep root with -Z root"),
                "stderr: \(run.stderr)")
        #expect(!FileManager.default.fileExists(atPath: directory.appendingPathComponent("k").path))
    }

    /// Replays `files` (one capture) and expects the plaintext flows seen live.
    static func expectReplay(of files: [String], binary: URL, toGive live: [[String: Any]]) throws -> TestSupport.ProcessResult {
        let replay = try TestSupport.run(binary, files.flatMap { ["-r", $0] } + ["--json"])
        #expect(replay.status == 1, "stderr: \(replay.stderr)")
        let flows = try TestSupport.jsonLines(replay.stdout).filter { $0["type"] as? String == "flow" }
        #expect(flows.count == live.count)
        // Live, flows are reported as they end; replayed, in the same order.
        for (replayed, seen) in zip(flows, live) {
            for key in ["client", "server", "verdict", "evidence", "firstSeen", "lastSeen"] {
                #expect(replayed[key] as? String == seen[key] as? String, "\(key)")
            }
            #expect(replayed["packets"] as? Int == seen["packets"] as? Int)
        }
        return replay
    }

    /// `-G 1` live: a file a second, named by the second it began (`%s`),
    /// opened as the tcpdump user; three exchanges 1.2 s apart land in three
    /// files or more, each holding only packets of its own second, and the
    /// files read back together give the three flows seen live.
    @Test func liveCaptureSplitBySeconds() throws {
        let binary = try #require(TestSupport.binary, "wirecheck binary not built next to the tests")
        let directory = try Self.directoryForTheDroppedUser("wirecheck-live-seconds")
        defer { try? FileManager.default.removeItem(at: directory) }
        let pattern = directory.appendingPathComponent("live-%s.pcap").path
        let port = 24_000 + Int(getpid() % 1000)
        let child = try Subprocess(binary.path, ["-i", "lo", "--json", "-w", pattern, "-G", "1", "tcp port \(port)"])
        defer { child.send(SIGKILL); _ = child.wait(); child.removeFiles() }
        #expect(child.waitForStderr("listening on lo", timeout: 10), "stderr: \(child.stderr)")
        let started = Int64(time(nil))
        for round in 0..<3 {
            if round > 0 { Thread.sleep(forTimeInterval: 1.2) }
            try LiveNamesTests.exchange(port: port)
        }
        let live = LiveNamesTests.waitForFlows(child, count: 3)
        #expect(live.count == 3, "stdout: \(child.stdout)")
        child.send(SIGINT)
        #expect(child.wait(timeout: 10) == 1, "stderr: \(child.stderr)")

        var holding: [String] = []
        for name in try FileManager.default.contentsOfDirectory(atPath: directory.path).sorted() {
            let path = directory.appendingPathComponent(name).path
            let second = try #require(Int64(name.dropFirst("live-".count).dropLast(".pcap".count)), "\(name)")
            #expect(name.hasPrefix("live-") && name.hasSuffix(".pcap"))
            #expect(second >= started - 1 && second <= Int64(time(nil)), "\(name)")
            try Self.expectOwnedByTheDroppedUser(path)
            let packets = try PacketFileRotationTests.packets(in: path)
            #expect(packets.allSatisfy { $0.nanoseconds / 1_000_000_000 == second }, "\(name)")
            // The first file, begun by the clock, may have no packet.
            if !packets.isEmpty { holding.append(path) }
        }
        // One a second (an exchange crossing into the next second is in two).
        #expect(holding.count >= 3 && holding.count <= 6, "\(holding)")
        _ = try Self.expectReplay(of: holding, binary: binary, toGive: live)
    }

    /// `-G 1 -W 2`: two files written, then the capture stops by itself, as
    /// tcpdump's, with the verdicts and summary of what it analysed.
    @Test func liveCaptureStopsAfterItsTimedFiles() throws {
        let binary = try #require(TestSupport.binary, "wirecheck binary not built next to the tests")
        let directory = try Self.directoryForTheDroppedUser("wirecheck-live-stop")
        defer { try? FileManager.default.removeItem(at: directory) }
        let pattern = directory.appendingPathComponent("t%s").path
        let port = 25_000 + Int(getpid() % 1000)
        let child = try Subprocess(binary.path, ["-i", "lo", "--json", "-w", pattern, "-G", "1", "-W", "2", "tcp port \(port)"])
        defer { child.send(SIGKILL); _ = child.wait(); child.removeFiles() }
        #expect(child.waitForStderr("listening on lo", timeout: 10), "stderr: \(child.stderr)")
        // Every 1.2 s until it stops: within three exchanges at most.
        var status: Int32?
        for _ in 0..<4 where status == nil {
            try LiveNamesTests.exchange(port: port)
            status = child.wait(timeout: 1.2)
        }
        #expect(status == 1 || status == 2, "stderr: \(child.stderr)")
        let names = try FileManager.default.contentsOfDirectory(atPath: directory.path).sorted()
        #expect(names.count == 2, "\(names)")
        #expect(child.stderr.contains("-G 1 -W 2: 2 files written, the last \(directory.path)/\(names.last ?? "")"), "stderr: \(child.stderr)")
        let summary = try TestSupport.jsonLines(child.stdout).last
        #expect(summary?["type"] as? String == "summary")
        let replay = try TestSupport.run(binary, names.flatMap { ["-r", directory.appendingPathComponent($0).path] } + ["--json"])
        #expect(try TestSupport.jsonLines(replay.stdout).last?["packets"] as? Int == summary?["packets"] as? Int)
    }

    /// A new directory the user wirecheck drops to (tcpdump, when there is one) can write in.
    static func directoryForTheDroppedUser(_ prefix: String) throws -> URL {
        let directory = FileManager.default.temporaryDirectory.appendingPathComponent("\(prefix)-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: false)
        if let user = getpwnam("tcpdump") { chown(directory.path, user.pointee.pw_uid, user.pointee.pw_gid) }
        return directory
    }

    /// Written as the user wirecheck dropped to, readable by it alone.
    static func expectOwnedByTheDroppedUser(_ path: String) throws {
        var info = stat()
        #expect(stat(path, &info) == 0)
        #expect(info.st_uid == (getpwnam("tcpdump")?.pointee.pw_uid ?? 0), "\(path) owned by uid \(info.st_uid)")
        #expect(info.st_mode & 0o777 == 0o600)
    }
}

/// `-z`'s programs, where the tests need one.
enum PostRotate {
    static func found(_ program: String) -> Bool {
        ["/usr/bin", "/bin"].contains { FileManager.default.isExecutableFile(atPath: "\($0)/\(program)") }
    }

    /// A shell script for `-z`, `body` after its `#!` line; its path.
    /// Written through a descriptor that no child inherits (`O_CLOEXEC`):
    /// tests run in parallel, and a process another test starts while the
    /// script is open for writing would keep it open for its whole life,
    /// making every exec of the script fail with "text file busy" (ETXTBSY).
    static func script(_ body: String, named name: String, in directory: URL) throws -> String {
        let path = directory.appendingPathComponent(name).path
        let descriptor = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0o755)
        guard descriptor >= 0 else { throw TestFailure("cannot create \(path): \(String(cString: strerror(errno)))") }
        defer { close(descriptor) }
        let bytes = Array(("#!/bin/sh\n" + body).utf8)
        let written = bytes.withUnsafeBytes { write(descriptor, $0.baseAddress, $0.count) }
        guard written == bytes.count else { throw TestFailure("cannot write \(path)") }
        fchmod(descriptor, 0o755)
        return path
    }
}
