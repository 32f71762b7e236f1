import Foundation
import PacketCapture
import Testing
import VerdictPolicy
#if canImport(Glibc)
import Glibc
#endif

/// Ctrl-C and SIGTERM during a replay: a capture streamed in through a pipe
/// ends as a live capture does, at once even while its writer is quiet; a
/// file's replay stopped before its end says so and passes nothing.
@Suite struct StoppedReplayTests {
    static let strict = TestSupport.capturesDirectory.appendingPathComponent("strict.pcap").path
    static let permissive = TestSupport.capturesDirectory.appendingPathComponent("permissive.pcap").path

    static func temporary(_ name: String) -> String {
        FileManager.default.temporaryDirectory.appendingPathComponent("wirecheck-\(name)-\(UUID().uuidString)").path
    }

    /// The report without its "packets read from SOURCE" line, which names the source.
    static func withoutSource(_ report: String) -> String {
        report.split(separator: "\n", omittingEmptySubsequences: false).filter { !$0.contains(" packets read from ") }.joined(separator: "\n")
    }

    /// wirecheck reading a FIFO the test writes into. The test opens it to
    /// read and write, so that opening does not wait for wirecheck, and the
    /// pipe stays open (with nothing more in it) for as long as the test holds it.
    final class Stream {
        let fifo: String
        let child: Subprocess
        let writer: Int32

        init(_ name: String, options: [String] = []) throws {
            let binary = try #require(TestSupport.binary, "wirecheck binary not built next to the tests")
            fifo = StoppedReplayTests.temporary(name)
            #expect(mkfifo(fifo, 0o600) == 0)
            child = try Subprocess(binary.path, ["-r", fifo] + options)
            writer = open(fifo, O_RDWR)
            #expect(writer >= 0)
        }

        deinit {
            close(writer)
            unlink(fifo)
            child.removeFiles()
        }

        /// Writes `bytes`, and waits until wirecheck has read them all
        /// (nothing left in the pipe), then a moment for it to analyse them.
        func send(_ bytes: ArraySlice<UInt8>) {
            #expect(bytes.withUnsafeBytes { write(writer, $0.baseAddress, $0.count) } == bytes.count)
            var unread: Int32 = 1
            let deadline = Date().addingTimeInterval(10)
            while unread > 0, Date() < deadline {
                _ = ioctl(writer, UInt(FIONREAD), &unread)
                Thread.sleep(forTimeInterval: 0.02)
            }
            #expect(unread == 0, "wirecheck did not read the FIFO")
            Thread.sleep(forTimeInterval: 0.3)
        }

        /// Sends `signal` and waits at most 5 s for wirecheck to end.
        func stop(with signal: Int32) -> Int32? { child.stop(with: signal, within: 5) }
    }

    /// A capture fed through a FIFO whose writer then falls silent, the pipe
    /// left open (`ssh node tcpdump -w - | wirecheck -r -`, the remote side
    /// quiet): SIGINT ends it within moments, with the verdicts of what came
    /// through, the same as replaying the file, and no claim of a replay cut
    /// short (a stream has no end of its own to reach). Before, the read
    /// blocked on the pipe was restarted after the handler, and wirecheck
    /// waited for the writer to close.
    @Test(arguments: [SIGINT, SIGTERM])
    func aStreamEndsAtOnceWhenStoppedWhileItsWriterIsQuiet(signal: Int32) throws {
        let binary = try #require(TestSupport.binary, "wirecheck binary not built next to the tests")
        let stream = try Stream("fifo")
        stream.send(try [UInt8](Data(contentsOf: URL(fileURLWithPath: Self.permissive)))[...])
        guard let status = stream.stop(with: signal) else { return }
        let file = try TestSupport.run(binary, ["-r", Self.permissive])
        let child = stream.child
        #expect(status == file.status && status == 1, "stderr: \(child.stderr)")
        #expect(Self.withoutSource(child.stdout) == Self.withoutSource(file.stdout))
        #expect(child.stdout.contains("84 packets read from \(stream.fifo)"), "\(child.stdout)")
        #expect(!child.stdout.contains("stopped") && child.stderr.isEmpty, "stderr: \(child.stderr)")
    }

    /// A stream in a merge (`-r FIFO -r FILE`) whose writer falls quiet in
    /// the middle of a record, then SIGINT: the stream ends as one read
    /// alone does (its records before the cut analysed), the file is read
    /// to its end, and there is no error (stop 49 said "truncated dump file"
    /// and that the replay was stopped before its end).
    @Test func aStreamInAMergeStoppedMidRecordEndsQuietly() throws {
        let stream = try Stream("fifo-merged", options: ["-r", Self.permissive])
        let capture = try [UInt8](Data(contentsOf: URL(fileURLWithPath: Self.strict)))
        let records = Self.records(of: capture)
        try #require(records.count > 6)
        // Five records, and ten bytes of the sixth's header.
        stream.send(capture[0..<(records[5].offset + 10)])
        guard stream.stop(with: SIGINT) != nil else { return }
        let child = stream.child
        #expect(child.stderr.isEmpty, "stderr: \(child.stderr)")
        #expect(child.stdout.contains("89 packets read from 2 files"), "\(child.stdout.suffix(400))")
        #expect(!child.stdout.contains("stopped"), "\(child.stdout.suffix(400))")
    }

    /// `--duration` ends a stream on time, its writer quiet or not (it
    /// ran until the next packet came, or the pipe closed).
    @Test func aStreamEndsWhenItsDurationIsUp() throws {
        let binary = try #require(TestSupport.binary, "wirecheck binary not built next to the tests")
        let started = Date()
        let stream = try Stream("fifo-duration", options: ["--duration", "2"])
        stream.send(try [UInt8](Data(contentsOf: URL(fileURLWithPath: Self.permissive)))[...])
        guard let status = stream.child.wait(timeout: 8) else {
            _ = stream.stop(with: SIGKILL)
            Issue.record("wirecheck still ran 8 s into a 2 s --duration, its input quiet but open")
            return
        }
        #expect(Date().timeIntervalSince(started) >= 1.9)
        let file = try TestSupport.run(binary, ["-r", Self.permissive])
        #expect(status == file.status, "stderr: \(stream.child.stderr)")
        #expect(Self.withoutSource(stream.child.stdout) == Self.withoutSource(file.stdout))
    }

    /// A stream runs for as long as a live capture: SIGUSR1 asks for the
    /// counts so far, written to stderr at once, its writer quiet or not.
    @Test func aStreamGivesItsCountsOnSIGUSR1() throws {
        let stream = try Stream("fifo-counts")
        let capture = try [UInt8](Data(contentsOf: URL(fileURLWithPath: Self.permissive)))
        // All of it but its last record; the signal; then that record.
        let lastRecord = try #require(Self.records(of: capture).last).offset
        stream.send(capture[0..<lastRecord])
        stream.child.send(SIGUSR1)
        #expect(stream.child.waitForStderr("wirecheck: so far 83 packets, ", timeout: 5), "stderr: \(stream.child.stderr)")
        stream.send(capture[lastRecord...])
        stream.child.send(SIGUSR1)
        #expect(stream.child.waitForStderr("wirecheck: so far 84 packets, ", timeout: 5), "stderr: \(stream.child.stderr)")
        guard stream.stop(with: SIGINT) != nil else { return }
        #expect(stream.child.stdout.contains("84 packets read from \(stream.fifo)"), "\(stream.child.stdout)")
    }

    /// `strict.pcap`'s records again and again, each copy a second later
    /// than the last ended (its connections closed and let go by then, the
    /// next copy's are new flows): a capture that passes, large enough that
    /// a replay can be stopped in the middle.
    /// A little-endian 32-bit word of a pcap file (as tcpdump writes on x86).
    static func word(_ bytes: [UInt8], _ offset: Int) -> UInt32 {
        UInt32(bytes[offset]) | UInt32(bytes[offset + 1]) << 8 | UInt32(bytes[offset + 2]) << 16 | UInt32(bytes[offset + 3]) << 24
    }

    /// Where each record of a little-endian pcap file lies (its 16-byte header included).
    static func records(of capture: [UInt8]) -> [(offset: Int, length: Int)] {
        #expect(capture.prefix(4) == [0xD4, 0xC3, 0xB2, 0xA1])
        var records: [(offset: Int, length: Int)] = []
        var offset = 24
        while offset + 16 <= capture.count {
            let length = 16 + Int(word(capture, offset + 8))
            records.append((offset, length))
            offset += length
        }
        return records
    }

    static func longPassingCapture(copies: Int) throws -> (path: String, packets: Int) {
        let original = try [UInt8](Data(contentsOf: URL(fileURLWithPath: strict)))
        func word(_ offset: Int) -> UInt32 { Self.word(original, offset) }
        let records = Self.records(of: original)
        let first = Int(word(24)), last = Int(word(records[records.count - 1].offset))
        let span = UInt32(last - first + 3)
        var output = Array(original[0..<24])
        output.reserveCapacity(24 + copies * (original.count - 24))
        for copy in 0..<copies {
            let shift = UInt32(copy) &* span
            for record in records {
                let seconds = word(record.offset) &+ shift
                output += [UInt8(seconds & 0xFF), UInt8(seconds >> 8 & 0xFF), UInt8(seconds >> 16 & 0xFF), UInt8(seconds >> 24)]
                output += original[(record.offset + 4)..<(record.offset + record.length)]
            }
        }
        let path = temporary("long") + ".pcap"
        try Data(output).write(to: URL(fileURLWithPath: path))
        return (path, copies * records.count)
    }

    /// strict.pcap's TLS flows only: its refused cleartext client, cut off
    /// by the stop before the server's reset, would be plaintext (its
    /// request crossed the wire, and no refusal was seen), as it should.
    static let tlsOnly = ["not", "host", "10.111.1.20"]

    /// Opening the file reads its first 1 MiB (libpcap reads the header
    /// through a stdio buffer of that size), before wirecheck catches
    /// signals: past the second MiB it is replaying.
    static let readBeforeHandlers = 2 << 20

    /// How far the process has read its file `path`: its descriptor's
    /// position (what libpcap read), or the bytes of the file's mapping in
    /// memory (a file read in place, whose pages are mapped as they are
    /// read), whichever is larger; nil while it has not opened it.
    static func readProgress(of pid: pid_t, in path: String) -> Int? {
        let mapped = mappedResidentBytes(of: pid, in: path)
        let position = readPosition(of: pid, in: path)
        guard mapped != nil || position != nil else { return nil }
        return max(mapped ?? 0, position ?? 0)
    }

    /// The resident bytes of the process's mappings of `path` (`/proc/PID/smaps`).
    static func mappedResidentBytes(of pid: pid_t, in path: String) -> Int? {
        // Read to its end: String(contentsOfFile:) stops at a /proc file's first few KiB.
        guard let data = FileHandle(forReadingAtPath: "/proc/\(pid)/smaps")?.readDataToEndOfFile() else { return nil }
        let smaps = String(decoding: data, as: UTF8.self)
        var inMapping = false, total: Int?
        for line in smaps.split(separator: "\n") {
            if line.first?.isHexDigit == true, line.contains("-") {
                inMapping = line.hasSuffix(" " + path)
            } else if inMapping, line.hasPrefix("Rss:") {
                let kilobytes = line.dropFirst(4).trimmingCharacters(in: .whitespaces).split(separator: " ").first.flatMap { Int($0) } ?? 0
                total = (total ?? 0) + kilobytes * 1024
            }
        }
        return total
    }

    /// Where the process has read its open file `path` up to (its
    /// descriptor's position), nil while it has not opened it.
    static func readPosition(of pid: pid_t, in path: String) -> Int? {
        let descriptors = "/proc/\(pid)/fd"
        guard let entries = try? FileManager.default.contentsOfDirectory(atPath: descriptors) else { return nil }
        for entry in entries {
            guard let target = try? FileManager.default.destinationOfSymbolicLink(atPath: "\(descriptors)/\(entry)"), target == path,
                  let info = try? String(contentsOfFile: "/proc/\(pid)/fdinfo/\(entry)", encoding: .utf8),
                  let line = info.split(separator: "\n").first(where: { $0.hasPrefix("pos:") }) else { continue }
            return Int(line.dropFirst(4).trimmingCharacters(in: .whitespaces))
        }
        return nil
    }

    /// A replay of a file that passes (its TLS flows), stopped by SIGINT once it has begun
    /// reading the packets: the report says it was stopped and how many packets it
    /// covers, the result is inconclusive (exit 2: the rest of the file was
    /// not checked, and a PASS would vouch for it), and `-w`'s file holds
    /// exactly the packets analysed, those the reading thread had read
    /// ahead included. The whole file passes (exit 0).
    @Test func aFileReplayStoppedBeforeItsEndPassesNothing() throws {
        let binary = try #require(TestSupport.binary, "wirecheck binary not built next to the tests")
        let (capture, packets) = try Self.longPassingCapture(copies: 3_000)
        defer { unlink(capture) }
        let whole = try TestSupport.run(binary, ["-r", capture] + Self.tlsOnly)
        #expect(whole.status == 0 && whole.stdout.contains("result: PASS"), "\(whole.stdout.suffix(300))")

        let written = Self.temporary("written") + ".pcap"
        defer { unlink(written) }
        let child = try Subprocess(binary.path, ["-r", capture, "-w", written, "--json"] + Self.tlsOnly)
        defer { child.removeFiles() }
        let deadline = Date().addingTimeInterval(20)
        while (Self.readProgress(of: child.pid, in: capture) ?? 0) <= Self.readBeforeHandlers, Date() < deadline { usleep(200) }
        guard let status = child.stop(with: SIGINT, within: 60) else { return }
        let lines = try TestSupport.jsonLines(child.stdout)
        let summary = try #require(lines.last)
        let analysed = try #require(summary["packets"] as? Int)
        try #require(analysed < packets, "the replay ended before the signal came (\(analysed) of \(packets) packets): nothing to test")
        #expect(status == 2, "stderr: \(child.stderr)")
        #expect(summary["result"] as? String == "inconclusive")
        #expect(summary["stoppedEarly"] as? Bool == true)
        #expect((summary["plaintext"] as? Int) == 0 && (summary["encrypted"] as? Int ?? 0) > 0)
        #expect(child.stderr.contains("the replay was stopped before its end; results cover the \(analysed) packets read"),
                "stderr: \(child.stderr)")
        // The packets -w wrote are those analysed, not more.
        let source = try PacketSource.openFile(written)
        var count = 0
        while case .packet = source.next() { count += 1 }
        #expect(count == analysed)
    }

    /// The same replay in the text report, and on one processor (no reading
    /// thread): the warning and the result line say what happened.
    @Test func theTextReportSaysTheReplayWasStopped() throws {
        let binary = try #require(TestSupport.binary, "wirecheck binary not built next to the tests")
        let taskset = "/usr/bin/taskset"
        try #require(FileManager.default.isExecutableFile(atPath: taskset), "taskset (util-linux) is not installed")
        let (capture, packets) = try Self.longPassingCapture(copies: 3_000)
        defer { unlink(capture) }
        let child = try Subprocess(taskset, ["-c", "0", binary.path, "-r", capture] + Self.tlsOnly)
        defer { child.removeFiles() }
        let deadline = Date().addingTimeInterval(20)
        while (Self.readProgress(of: child.pid, in: capture) ?? 0) <= Self.readBeforeHandlers, Date() < deadline { usleep(200) }
        guard let status = child.stop(with: SIGTERM, within: 60) else { return }
        let read = child.stdout.split(separator: "\n").first { $0.contains(" packets read from ") }
        let analysed = read.flatMap { Int($0.prefix { $0 != " " }) } ?? packets
        try #require(analysed < packets, "the replay ended before the signal came: nothing to test")
        #expect(status == 2)
        #expect(child.stdout.contains("warning: the replay was stopped (Ctrl-C or SIGTERM) before the end of the capture: verdicts cover only the \(analysed) packets read"))
        #expect(child.stdout.contains("result: INCONCLUSIVE (the replay was stopped before the end of the capture)"), "\(child.stdout.suffix(400))")
    }

    /// A failure found before the stop stands: the plaintext was on the
    /// wire. Without one, no pass: conclusive flows (opaque ones here) cover
    /// only what was read.
    @Test func aFailureFoundBeforeTheStopStands() {
        var summary = RunSummary()
        summary.coversWholeCapture = false
        #expect(summary.result == .inconclusive)
        summary.add(FailingServersTests.report(client: 1, server: 2, opaque: true))
        #expect(summary.result == .inconclusive && summary.exitCode == 2)
        summary.coversWholeCapture = true
        #expect(summary.result == .pass && summary.exitCode == 0)
        summary.coversWholeCapture = false
        summary.add(FailingServersTests.report(client: 1, server: 3))
        #expect(summary.result == .fail && summary.exitCode == 1)
    }
}

extension Subprocess {
    /// Sends `signal` and waits at most `seconds` for the process to end:
    /// its exit status, or nil (and an issue) if it still ran, for which it
    /// is then killed.
    func stop(with signal: Int32, within seconds: Double) -> Int32? {
        send(signal)
        if let status = wait(timeout: seconds) { return status }
        send(SIGKILL)
        _ = wait()
        Issue.record("still running \(seconds) s after signal \(signal)")
        return nil
    }
}
