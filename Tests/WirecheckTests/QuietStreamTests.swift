import Foundation
import PacketCapture
import Testing
#if canImport(Glibc)
import Glibc
#endif

/// A capture streamed in as it is taken (`ssh node tcpdump -U -w - | wirecheck
/// -r -`) whose writer falls quiet: the flows that closed before the quiet
/// get their verdicts as in a live capture, a second after their close,
/// instead of waiting for the next packet or the end. The reader hears of
/// the quiet only between two records, so a record cut by a pause is read
/// whole; a capture whose packets are old keeps its own time.
@Suite struct QuietStreamTests {
    typealias Stream = StoppedReplayTests.Stream
    static let permissive = StoppedReplayTests.permissive

    /// permissive.pcap (3 flows, all closed, within 0.7 s) with its times
    /// moved so that its last packet is `age` seconds old.
    static func capture(lastPacketAge age: Int) throws -> [UInt8] {
        var bytes = try [UInt8](Data(contentsOf: URL(fileURLWithPath: permissive)))
        let records = StoppedReplayTests.records(of: bytes)
        let last = try #require(records.last).offset
        let shift = UInt32(truncatingIfNeeded: Int(Date().timeIntervalSince1970) - age - Int(StoppedReplayTests.word(bytes, last)))
        for record in records {
            let seconds = StoppedReplayTests.word(bytes, record.offset) &+ shift
            for index in 0..<4 { bytes[record.offset + index] = UInt8(truncatingIfNeeded: seconds >> (8 * index)) }
        }
        return bytes
    }

    /// The same packets as pcapng (as dumpcap writes to a pipe): a section
    /// header, one interface, an enhanced packet block per packet.
    static func pcapng(_ pcap: [UInt8]) -> [UInt8] {
        func word(_ value: UInt32) -> [UInt8] { (0..<4).map { UInt8(truncatingIfNeeded: value >> (8 * $0)) } }
        func block(_ type: UInt32, _ body: [UInt8]) -> [UInt8] {
            let padded = body + [UInt8](repeating: 0, count: (4 - body.count % 4) % 4)
            let length = UInt32(12 + padded.count)
            return word(type) + word(length) + padded + word(length)
        }
        let linkType = StoppedReplayTests.word(pcap, 20), snapshot = StoppedReplayTests.word(pcap, 16)
        var output = block(0x0A0D_0D0A, word(0x1A2B_3C4D) + [1, 0, 0, 0] + [UInt8](repeating: 0xFF, count: 8))
        output += block(1, word(linkType & 0xFFFF) + word(snapshot))
        for record in StoppedReplayTests.records(of: pcap) {
            let microseconds = UInt64(StoppedReplayTests.word(pcap, record.offset)) * 1_000_000
                + UInt64(StoppedReplayTests.word(pcap, record.offset + 4))
            let data = pcap[(record.offset + 16)..<(record.offset + record.length)]
            output += block(6, word(0) + word(UInt32(microseconds >> 32)) + word(UInt32(truncatingIfNeeded: microseconds))
                                + word(UInt32(data.count)) + Array(pcap[(record.offset + 12)..<(record.offset + 16)]) + data)
        }
        return output
    }

    /// The verdict lines of a text report (before its blank line).
    static func verdicts(_ report: String) -> String {
        report.components(separatedBy: "\n\n").first ?? ""
    }

    /// Polls the child's stdout until it holds `text`.
    static func waitForStdout(_ child: Subprocess, containing text: String, timeout: Double) -> Bool {
        let deadline = Date().addingTimeInterval(timeout)
        while Date() < deadline {
            if child.stdout.contains(text) { return true }
            Thread.sleep(forTimeInterval: 0.05)
        }
        return false
    }

    /// `pcap` replayed as a file: its report, and the verdict lines a stream of it should give.
    static func replayed(_ pcap: [UInt8], binary: URL) throws -> (replay: TestSupport.ProcessResult, expected: String) {
        let file = StoppedReplayTests.temporary("live") + ".pcap"
        try Data(pcap).write(to: URL(fileURLWithPath: file))
        defer { unlink(file) }
        let replay = try TestSupport.run(binary, ["-r", file])
        let expected = Self.verdicts(replay.stdout)
        #expect(expected.split(separator: "\n").count == 6, "\(replay.stdout)")
        return (replay, expected)
    }

    @Test(arguments: ["pcap", "pcapng"])
    func aLiveStreamsVerdictsComeWhileItsWriterIsQuiet(format: String) throws {
        let binary = try #require(TestSupport.binary, "wirecheck binary not built next to the tests")
        let pcap = try Self.capture(lastPacketAge: 1)
        let (replay, expected) = try Self.replayed(pcap, binary: binary)

        let stream = try Stream("quiet-\(format)")
        stream.send((format == "pcap" ? pcap : Self.pcapng(pcap))[...])
        // The writer stays open and quiet: the verdicts come all the same.
        #expect(Self.waitForStdout(stream.child, containing: expected, timeout: 5),
                "no verdicts while the writer was quiet: \(stream.child.stdout) stderr: \(stream.child.stderr)")
        #expect(stream.child.wait(timeout: 0.1) == nil, "wirecheck ended with the stream still open")
        guard let status = stream.stop(with: SIGINT) else { return }
        #expect(status == replay.status, "stderr: \(stream.child.stderr)")
        #expect(StoppedReplayTests.withoutSource(stream.child.stdout) == StoppedReplayTests.withoutSource(replay.stdout))
        #expect(stream.child.stderr.isEmpty, "stderr: \(stream.child.stderr)")
    }

    /// An old capture fed through a pipe (`zcat old.pcap.gz | wirecheck -r
    /// -`): a pause in the pipe is not time passing in the capture, so
    /// nothing is judged on it; the verdicts come at the end, as before.
    @Test func anOldCaptureThroughAPipeKeepsItsOwnTime() throws {
        let binary = try #require(TestSupport.binary, "wirecheck binary not built next to the tests")
        let pcap = try Self.capture(lastPacketAge: 3_600)
        let stream = try Stream("quiet-old")
        stream.send(pcap[...])
        Thread.sleep(forTimeInterval: 1.5)
        #expect(!stream.child.stdout.contains("encrypted") && !stream.child.stdout.contains("plaintext"),
                "judged on the pipe's pause: \(stream.child.stdout)")
        guard let status = stream.stop(with: SIGINT) else { return }
        let replay = try TestSupport.run(binary, ["-r", Self.permissive])
        #expect(status == replay.status)
        #expect(Self.verdicts(stream.child.stdout) == Self.verdicts(replay.stdout))
    }

    /// Records cut by pauses longer than the reader's 100 ms wait, in a
    /// record's header and in its data, and a pcapng block likewise: each is
    /// read whole, the report the same as the file's, no error.
    @Test(arguments: ["pcap", "pcapng"])
    func aRecordCutByAPauseIsReadWhole(format: String) throws {
        let binary = try #require(TestSupport.binary, "wirecheck binary not built next to the tests")
        let pcap = try Self.capture(lastPacketAge: 1)
        let bytes = format == "pcap" ? pcap : Self.pcapng(pcap)
        let file = StoppedReplayTests.temporary("cut") + "." + format
        try Data(bytes).write(to: URL(fileURLWithPath: file))
        defer { unlink(file) }
        let replay = try TestSupport.run(binary, ["-r", file])

        // Cuts: in the file's header, in the first record's header (its
        // length not yet seen), just after that length, in the data, and
        // one byte short of a record's end.
        let second = StoppedReplayTests.records(of: pcap)[1]
        let cuts = [6, 24 + 3, 24 + 13, second.offset + 40, second.offset + second.length - 1, bytes.count - 300].sorted()
        let stream = try Stream("cut-\(format)")
        var start = 0
        for cut in cuts {
            stream.send(bytes[start..<cut])
            Thread.sleep(forTimeInterval: 0.35)
            start = cut
        }
        stream.send(bytes[start...])
        guard let status = stream.stop(with: SIGINT) else { return }
        #expect(status == replay.status, "stderr: \(stream.child.stderr)")
        #expect(stream.child.stderr.isEmpty, "stderr: \(stream.child.stderr)")
        #expect(StoppedReplayTests.withoutSource(stream.child.stdout) == StoppedReplayTests.withoutSource(replay.stdout),
                "\(stream.child.stdout)")
    }

    /// A capture cut off, or broken, in a stream: the warning says where
    /// reading stopped, as for a file (ftell cannot say it for a pipe; the
    /// stream counts what its reader took), also for a stream merged with a file.
    @Test(arguments: ["cut off", "broken"])
    func aStreamSaysWhereReadingStopped(how: String) throws {
        let binary = try #require(TestSupport.binary, "wirecheck binary not built next to the tests")
        var bytes = try [UInt8](Data(contentsOf: URL(fileURLWithPath: StoppedReplayTests.strict)))
        let expected: String
        if how == "cut off" {
            bytes = Array(bytes.prefix(10_000))
            expected = "only got 339 (reading stopped at byte offset 10000 of the "
        } else {
            // The tenth record's captured length made impossible: libpcap
            // stops after its header, with more of the stream read ahead.
            let record = StoppedReplayTests.records(of: bytes)[9].offset
            bytes[record + 8 ..< record + 12] = [0, 0, 0x42, 0]
            expected = "invalid packet capture length 4325376, bigger than snaplen of 262144 (reading stopped at byte offset \(record + 16) of the "
        }
        let path = StoppedReplayTests.temporary("stopped") + ".pcap"
        try Data(bytes).write(to: URL(fileURLWithPath: path))
        defer { unlink(path) }
        let file = try TestSupport.run(binary, ["-r", path])
        #expect(file.stderr.contains(expected + "file)"), "stderr: \(file.stderr)")
        for merged in [false, true] {
            let fifo = StoppedReplayTests.temporary("stopped-fifo")
            #expect(mkfifo(fifo, 0o600) == 0)
            defer { unlink(fifo) }
            TestSupport.feed(fifo: fifo, with: Data(bytes))
            let stream = try TestSupport.run(binary, (merged ? ["-r", Self.permissive] : []) + ["-r", fifo])
            #expect(merged || stream.status == file.status, "stderr: \(stream.stderr)")
            #expect(stream.stderr.contains(expected + "stream)"), "stderr: \(stream.stderr)")
        }
    }

    @Test func aQuietStreamsClockMovesOnlyForLivePackets() {
        let second: Int64 = 1_000_000_000
        let arrival = 1_800_000_000 * second
        // Arrived 0.2 s after it was taken, quiet for 3 s since.
        #expect(PacketSource.quietStreamClock(lastPacket: arrival - second / 5, lastArrival: arrival, now: arrival + 3 * second)
                == arrival - second / 5 + 3 * second)
        // The sender's clock a little ahead of ours.
        #expect(PacketSource.quietStreamClock(lastPacket: arrival + 2 * second, lastArrival: arrival, now: arrival + second)
                == arrival + 3 * second)
        // An hour old, or from far in the future: the capture keeps its time.
        #expect(PacketSource.quietStreamClock(lastPacket: arrival - 3_600 * second, lastArrival: arrival, now: arrival + second) == nil)
        #expect(PacketSource.quietStreamClock(lastPacket: arrival + 3_600 * second, lastArrival: arrival, now: arrival + second) == nil)
        #expect(PacketSource.quietStreamClock(lastPacket: arrival - PacketSource.liveSkewNanoseconds, lastArrival: arrival,
                                              now: arrival + second) == arrival - PacketSource.liveSkewNanoseconds + second)
        // Nothing arrived yet, no packet yet, no time passed, or times a file made up.
        #expect(PacketSource.quietStreamClock(lastPacket: arrival, lastArrival: 0, now: arrival) == nil)
        #expect(PacketSource.quietStreamClock(lastPacket: 0, lastArrival: arrival, now: arrival + second) == nil)
        #expect(PacketSource.quietStreamClock(lastPacket: arrival, lastArrival: arrival, now: arrival) == nil)
        #expect(PacketSource.quietStreamClock(lastPacket: .max, lastArrival: .min + 1, now: .max) == nil)
        #expect(PacketSource.quietStreamClock(lastPacket: .max - second, lastArrival: .max - 2 * second, now: .max) == nil)
    }
}
