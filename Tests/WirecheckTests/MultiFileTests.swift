import Foundation
import Testing
#if canImport(Glibc)
import Glibc
#endif

/// Several files read as one capture (`-r A -r B …`), merged by packet time:
/// a capture rotated by `tcpdump -C` or `-G`, or captures taken at once on
/// two interfaces or nodes. Connections that cross from one file into the
/// next, or run through both, must come out exactly as from one file.
@Suite struct MultiFileTests {
    let capture = TestSupport.capturesDirectory.appendingPathComponent("permissive.pcap").path

    func wirecheck(_ arguments: [String]) throws -> TestSupport.ProcessResult {
        let binary = try #require(TestSupport.binary, "wirecheck binary not built next to the tests")
        return try TestSupport.run(binary, arguments)
    }

    /// A classic little-endian pcap's global header and its packet records.
    func records(of path: String) throws -> (header: Data, records: [Data]) {
        let data = try Data(contentsOf: URL(fileURLWithPath: path))
        let bytes = [UInt8](data)
        try #require(bytes.count >= 24 && (bytes[0...3] == [0xD4, 0xC3, 0xB2, 0xA1] || bytes[0...3] == [0x4D, 0x3C, 0xB2, 0xA1]),
                     "\(path) is not a little-endian pcap")
        var records: [Data] = []
        var offset = 24
        while offset + 16 <= bytes.count {
            let captured = Int(bytes[offset + 8]) | Int(bytes[offset + 9]) << 8 | Int(bytes[offset + 10]) << 16 | Int(bytes[offset + 11]) << 24
            try #require(offset + 16 + captured <= bytes.count)
            records.append(Data(bytes[offset..<(offset + 16 + captured)]))
            offset += 16 + captured
        }
        return (Data(bytes[0..<24]), records)
    }

    /// Writes files holding the given records each; removed by the caller.
    func write(header: Data, parts: [[Data]], name: String) throws -> [String] {
        let directory = FileManager.default.temporaryDirectory.appendingPathComponent("wirecheck-\(name)-\(UUID())")
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
        return try parts.enumerated().map { index, records in
            let path = directory.appendingPathComponent("part\(index).pcap")
            try (records.reduce(header, +)).write(to: path)
            return path.path
        }
    }

    func remove(_ paths: [String]) {
        if let first = paths.first { try? FileManager.default.removeItem(at: URL(fileURLWithPath: first).deletingLastPathComponent()) }
    }

    /// Cut in three, given out of order (as `cap1 cap10 cap2` from a shell
    /// glob): the same flows, verdicts, evidence, packet and byte counts as
    /// the whole file; each piece alone says something else.
    @Test func rotatedPiecesReadAsTheWhole() throws {
        let (header, records) = try records(of: capture)
        let third = records.count / 3
        let parts = [Array(records[..<third]), Array(records[third..<(2 * third)]), Array(records[(2 * third)...])]
        let paths = try write(header: header, parts: parts, name: "rotated")
        defer { remove(paths) }

        let whole = try wirecheck(["-r", capture, "--json"])
        let split = try wirecheck(["-r", paths[2], "-r", paths[0], "-r", paths[1], "--json"])
        #expect(split.status == whole.status)
        #expect(!TestSupport.flowLines(whole.stdout).isEmpty)
        #expect(TestSupport.flowLines(split.stdout) == TestSupport.flowLines(whole.stdout))
        let summary = try #require(try TestSupport.jsonLines(split.stdout).last)
        #expect(summary["packets"] as? Int == records.count)
        // The files as given, not in the order the merge read them.
        #expect(summary["files"] as? [String] == [paths[2], paths[0], paths[1]])
        #expect(summary["interface"] == nil)
        #expect(split.stderr.isEmpty, "stderr: \(split.stderr)")

        // The middle piece alone starts and ends mid-connection.
        let alone = try wirecheck(["-r", paths[1], "--json"])
        #expect(TestSupport.flowLines(alone.stdout) != TestSupport.flowLines(whole.stdout))

        // The text summary says what was read.
        let text = try wirecheck(["-r", paths[1], "-r", paths[0], "-r", paths[2]])
        #expect(text.stdout.contains("\(records.count) packets read from 3 files (\(paths[1]), \(paths[0]), \(paths[2]))"), "stdout: \(text.stdout)")
    }

    /// The BPF filter applies to every file, not only the first.
    @Test func filterAppliesToEveryFile() throws {
        let services = TestSupport.capturesDirectory.appendingPathComponent("lab-services.pcap").path
        let (header, records) = try records(of: services)
        let half = records.count / 2
        let paths = try write(header: header, parts: [Array(records[..<half]), Array(records[half...])], name: "filter")
        defer { remove(paths) }
        let filter = ["port", "5432"]
        let whole = try wirecheck(["-r", services, "--json"] + filter)
        let split = try wirecheck(["-r", paths[0], "-r", paths[1], "--json"] + filter)
        let all = try wirecheck(["-r", services, "--json"])
        #expect(!TestSupport.flowLines(whole.stdout).isEmpty)
        #expect(TestSupport.flowLines(whole.stdout).count < TestSupport.flowLines(all.stdout).count)
        #expect(TestSupport.flowLines(split.stdout) == TestSupport.flowLines(whole.stdout))
    }

    /// Captures taken at the same time (two interfaces, two nodes) are
    /// merged by packet time: dealt out packet by packet into two or three
    /// files, the capture reads as the whole, whatever the argument order.
    @Test(arguments: [2, 3])
    func interleavedFilesAreMerged(ways: Int) throws {
        for name in ["permissive.pcap", "lab-services.pcap"] {
            let path = TestSupport.capturesDirectory.appendingPathComponent(name).path
            let (header, records) = try self.records(of: path)
            let parts = (0..<ways).map { part in records.enumerated().filter { $0.offset % ways == part }.map(\.element) }
            let paths = try write(header: header, parts: parts, name: "interleaved")
            defer { remove(paths) }
            let whole = try wirecheck(["-r", path, "--json"])
            let merged = try wirecheck(paths.reversed().flatMap { ["-r", $0] } + ["--json"])
            #expect(TestSupport.flowLines(whole.stdout).count >= 3)
            #expect(TestSupport.flowLines(merged.stdout) == TestSupport.flowLines(whole.stdout), "\(name) in \(ways) files")
            #expect(merged.status == whole.status)
            #expect(merged.stderr.isEmpty, "stderr: \(merged.stderr)")
            let summary = try #require(try TestSupport.jsonLines(merged.stdout).last)
            #expect(summary["packets"] as? Int == records.count)

            // The filter applies to every file as it opens.
            let filter = ["tcp", "port", "80"]
            let wholeFiltered = try wirecheck(["-r", path, "--json"] + filter)
            let mergedFiltered = try wirecheck(paths.flatMap { ["-r", $0] } + ["--json"] + filter)
            #expect(TestSupport.flowLines(mergedFiltered.stdout) == TestSupport.flowLines(wholeFiltered.stdout))
        }
    }

    /// Adds `microseconds` to every record's timestamp (a microsecond pcap).
    func shifted(_ records: [Data], by microseconds: Int) -> [Data] {
        records.map { record in
            var bytes = [UInt8](record)
            func field(_ at: Int) -> Int { (0..<4).reduce(0) { $0 | Int(bytes[at + $1]) << (8 * $1) } }
            let total = field(0) * 1_000_000 + field(4) + microseconds
            for (at, value) in [(0, total / 1_000_000), (4, total % 1_000_000)] {
                for byte in 0..<4 { bytes[at + byte] = UInt8(truncatingIfNeeded: value >> (8 * byte)) }
            }
            return Data(bytes)
        }
    }

    /// The same connections captured on two nodes whose clocks differ by
    /// 0.3 ms (the client's node and the server's): every packet twice,
    /// interleaved; the verdicts and evidence are the single capture's.
    @Test func sameTrafficFromTwoNodes() throws {
        let path = TestSupport.capturesDirectory.appendingPathComponent("lab-services.pcap").path
        let (header, records) = try records(of: path)
        #expect(header[0...3] == Data([0xD4, 0xC3, 0xB2, 0xA1]), "microsecond pcap expected")
        let paths = try write(header: header, parts: [records, shifted(records, by: 300)], name: "two-nodes")
        defer { remove(paths) }
        func verdicts(_ output: String) throws -> [String] {
            try TestSupport.jsonLines(output).filter { $0["type"] as? String == "flow" }.map {
                "\($0["client"] ?? "") \($0["server"] ?? "") \($0["verdict"] ?? "") \($0["protocol"] ?? "") \($0["evidence"] ?? "")"
            }
        }
        let one = try wirecheck(["-r", path, "--json"])
        let both = try wirecheck(["-r", paths[1], "-r", paths[0], "--json"])
        #expect(try verdicts(both.stdout) == verdicts(one.stdout))
        #expect(try verdicts(one.stdout).count >= 5)
        #expect(both.status == one.status)
        let summary = try #require(try TestSupport.jsonLines(both.stdout).last)
        #expect(summary["packets"] as? Int == 2 * records.count)
    }

    /// A rotation of many files is read holding only the files that
    /// overlap open: 60 pieces under a limit of 16 open descriptors.
    @Test func longRotationFitsFewDescriptors() throws {
        let (header, records) = try records(of: capture)
        let size = max(1, records.count / 60)
        let parts = stride(from: 0, to: records.count, by: size).map { Array(records[$0..<min(records.count, $0 + size)]) }
        #expect(parts.count >= 40)
        let paths = try write(header: header, parts: parts, name: "long-rotation")
        defer { remove(paths) }
        let binary = try #require(TestSupport.binary, "wirecheck binary not built next to the tests")
        let whole = try wirecheck(["-r", capture, "--json"])
        let limited = try TestSupport.run(URL(fileURLWithPath: "/usr/bin/prlimit"), ["--nofile=16:16", binary.path] + paths.flatMap { ["-r", $0] } + ["--json"])
        #expect(limited.stderr.isEmpty, "stderr: \(limited.stderr)")
        #expect(TestSupport.flowLines(limited.stdout) == TestSupport.flowLines(whole.stdout))
    }

    /// Two files read at the same time, one cut off mid-packet: reading
    /// stops there, the results so far are kept, and the error says what
    /// was left unread.
    @Test func truncatedInterleavedFileStops() throws {
        let (header, records) = try records(of: capture)
        let even = records.enumerated().filter { $0.offset % 2 == 0 }.map(\.element)
        var odd = records.enumerated().filter { $0.offset % 2 == 1 }.map(\.element)
        let cut = odd.count / 2
        odd = Array(odd[..<cut]) + [odd[cut].dropLast(10)]
        let paths = try write(header: header, parts: [even, odd], name: "interleaved-cut")
        defer { remove(paths) }
        let run = try wirecheck(["-r", paths[0], "-r", paths[1], "--json"])
        let lines = try TestSupport.jsonLines(run.stdout)
        let error = try #require(lines.last?["readError"] as? String)
        #expect(error.hasPrefix("\(paths[1]): truncated"), "readError: \(error)")
        #expect(error.contains("1 other file was not read to the end"), "readError: \(error)")
        #expect(lines.last?["packets"] as? Int == 2 * cut)
        #expect(run.status != 3)
    }

    /// A piece cut off mid-packet (a rotation whose writer was killed):
    /// the results up to there are kept, and the error names the file and
    /// what was not read.
    @Test func truncatedPieceStopsWithItsName() throws {
        let (header, records) = try records(of: capture)
        let third = records.count / 3
        var middle = records[third..<(2 * third)].reduce(Data(), +)
        middle.removeLast(10)
        let paths = try write(header: header, parts: [Array(records[..<third]), [middle], Array(records[(2 * third)...])], name: "cut")
        defer { remove(paths) }
        let run = try wirecheck(["-r", paths[0], "-r", paths[1], "-r", paths[2], "--json"])
        let lines = try TestSupport.jsonLines(run.stdout)
        let error = try #require(lines.last?["readError"] as? String)
        #expect(error.hasPrefix("\(paths[1]): truncated"), "readError: \(error)")
        #expect(error.contains("the 1 later file was not read"), "readError: \(error)")
        #expect(lines.contains { $0["type"] as? String == "flow" })
        #expect(run.status != 3)
    }

    /// Checked before anything is read: every file opens and all share a link type.
    @Test func filesAreCheckedFirst() throws {
        let ethernet = TestSupport.capturesDirectory.appendingPathComponent("crafted-ipv6.pcap").path
        let mixed = try wirecheck(["-r", capture, "-r", ethernet])
        #expect(mixed.status == 3)
        #expect(mixed.stdout.isEmpty)
        #expect(mixed.stderr.contains("link type"), "stderr: \(mixed.stderr)")
        #expect(mixed.stderr.contains("editcap"), "stderr: \(mixed.stderr)")

        let missing = try wirecheck(["-r", capture, "-r", "/nonexistent/part9.pcap"])
        #expect(missing.status == 3)
        #expect(missing.stdout.isEmpty)
        #expect(missing.stderr.contains("/nonexistent/part9.pcap"))

        let stdin = try wirecheck(["-r", "-", "-r", capture, "-r", "-"])
        #expect(stdin.status == 3)
        #expect(stdin.stderr.contains("standard input can be read only once"), "stderr: \(stdin.stderr)")
    }

    /// A stream (a FIFO, `-r <(xzcat old.pcap.xz)`) or standard input cannot
    /// be opened twice, as a file is (once to check it, again when the merge
    /// reaches it): kept open from the check, each joins the merge from its
    /// start. Dealt out with a file, packet by packet, with and without a
    /// filter: the whole capture's flows. (Before, the stream was reopened
    /// and read as an unknown format; standard input was refused.)
    @Test(arguments: ["fifo", "stdin", "both"])
    func streamsJoinTheMerge(how: String) throws {
        let binary = try #require(TestSupport.binary, "wirecheck binary not built next to the tests")
        let path = TestSupport.capturesDirectory.appendingPathComponent("lab-services.pcap").path
        let (header, records) = try self.records(of: path)
        let parts = (0..<3).map { part in records.enumerated().filter { $0.offset % 3 == part }.map(\.element) }
        let paths = try write(header: header, parts: parts, name: "streamed")
        defer { remove(paths) }
        for filter in [[], ["tcp", "port", "5432"]] {
            let whole = try wirecheck(["-r", path, "--json"] + filter)
            let fifo = paths[1] + ".fifo"
            #expect(mkfifo(fifo, 0o600) == 0)
            defer { unlink(fifo) }
            let contents = try Data(contentsOf: URL(fileURLWithPath: paths[1]))
            var arguments: [String], stdin: String?
            switch how {
            case "fifo": (arguments, stdin) = (["-r", paths[0], "-r", fifo, "-r", paths[2]], nil)
            case "stdin": (arguments, stdin) = (["-r", paths[0], "-r", "-", "-r", paths[1]], paths[2])
            default: (arguments, stdin) = (["-r", "-", "-r", fifo, "-r", paths[0]], paths[2])
            }
            if how != "stdin" { TestSupport.feed(fifo: fifo, with: contents) }
            let child = try Subprocess(binary.path, arguments + ["--json"] + filter, stdinPath: stdin)
            defer { child.removeFiles() }
            guard let status = child.wait(timeout: 30) else {
                child.send(SIGKILL)
                _ = child.wait()
                Issue.record("wirecheck still ran after 30 s (\(how)): a stream opened twice waits for a writer that is gone")
                return
            }
            let merged = TestSupport.ProcessResult(status: status, stdout: child.stdout, stderr: child.stderr)
            #expect(TestSupport.flowLines(whole.stdout).count >= 1)
            #expect(TestSupport.flowLines(merged.stdout) == TestSupport.flowLines(whole.stdout), "\(how), filter \(filter)")
            #expect(merged.status == whole.status && merged.stderr.isEmpty, "stderr: \(merged.stderr)")
            let summary = try #require(try TestSupport.jsonLines(merged.stdout).last)
            #expect(summary["packets"] as? Int == (try TestSupport.jsonLines(whole.stdout).last)?["packets"] as? Int)
        }
    }
}
