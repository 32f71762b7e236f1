import Foundation
import Testing
#if canImport(Glibc)
import Glibc
#endif

/// A capture streamed in (`zstdcat big.pcap.zst | wirecheck -r -`, `ssh node
/// tcpdump -U -w - | wirecheck -r -`) is read on a thread of its own when two
/// processors are allowed, as a file is, but what that thread has read is
/// handed on whenever it catches up with the writer, not only when its batch
/// is full: a stream that trickles, never quiet for the 100 ms that count as
/// quiet, still gets its verdicts as they become final.
@Suite struct StreamReadAheadTests {
    typealias Stream = StoppedReplayTests.Stream

    /// Filler timed now, as pcap records of Linux cooked v2 frames: with
    /// `copied`, an acknowledgement of a connection of its own captured
    /// twice, as `-i any` captures a bridged pod's packet (on its veth, then
    /// on the bridge: the second a copy of the first, wirecheck's reader
    /// notes it and stores nothing), else a frame of no protocol wirecheck
    /// judges (ethertype 0x88B5, for local experiments), which adds no flow.
    static func fillerRecords(copied: Bool) -> [UInt8] {
        var now = timespec()
        clock_gettime(CLOCK_REALTIME, &now)
        func word(_ value: UInt32) -> [UInt8] { (0..<4).map { UInt8(truncatingIfNeeded: value >> (8 * $0)) } }
        func record(_ frame: [UInt8], microsecondsLater: Int) -> [UInt8] {
            // Microseconds kept below a second, the copy's included.
            word(UInt32(truncatingIfNeeded: now.tv_sec)) + word(UInt32(min(now.tv_nsec / 1_000, 999_000) + microsecondsLater))
                + word(UInt32(frame.count)) + word(UInt32(frame.count)) + frame
        }
        // Protocol, reserved, interface index, ARPHRD_ETHER, packet type, address length, address.
        func cooked(_ protocolType: [UInt8], interface: UInt8) -> [UInt8] {
            protocolType + [0, 0, 0, 0, 0, interface, 0, 1, 0, 6, 2, 0, 0, 0, 0, 1, 0, 0]
        }
        guard copied else { return record(cooked([0x88, 0xB5], interface: 1) + [UInt8](repeating: 0, count: 46), microsecondsLater: 0) }
        let ipv4: [UInt8] = [0x45, 0, 0, 40, 0, 0, 0x40, 0, 64, 6, 0, 0, 10, 9, 9, 1, 10, 9, 9, 2]
        let ack: [UInt8] = [0x9C, 0x40, 0x27, 0x0F, 0, 0, 0, 1, 0, 0, 0, 1, 0x50, 0x10, 0xFF, 0xFF, 0, 0, 0, 0]
        return record(cooked([0x08, 0x00], interface: 3) + ipv4 + ack, microsecondsLater: 0)
            + record(cooked([0x08, 0x00], interface: 4) + ipv4 + ack, microsecondsLater: 10)
    }

    static var twoProcessorsAllowed: Bool {
        let allowed = ReportWorkerTests.allowedProcessors().count >= 2
        if !allowed { print("skipped: StreamReadAheadTests needs two processors allowed, to read a stream ahead") }
        return allowed
    }

    /// permissive.pcap (3 flows, closed within 0.7 s, the last packet a second
    /// old), then filler every 30 ms: the writer never falls quiet, and the
    /// few hundred frames a test sends are far from filling a batch. The
    /// verdicts come while it trickles, as replaying the file gives them;
    /// also when each burst ends with a copy of its packet (`-i any`).
    @Test(.enabled(if: twoProcessorsAllowed), arguments: [false, true])
    func aTricklingStreamsVerdictsComeWhileItTrickles(copied: Bool) throws {
        let binary = try #require(TestSupport.binary, "wirecheck binary not built next to the tests")
        let pcap = try QuietStreamTests.capture(lastPacketAge: 1)
        let (replay, expected) = try QuietStreamTests.replayed(pcap, binary: binary)

        let stream = try Stream("trickle")
        #expect(pcap.withUnsafeBytes { write(stream.writer, $0.baseAddress, $0.count) } == pcap.count)
        var seen = false
        var sawReader = false
        let deadline = Date().addingTimeInterval(5)
        while Date() < deadline {
            let filler = Self.fillerRecords(copied: copied)
            #expect(filler.withUnsafeBytes { write(stream.writer, $0.baseAddress, $0.count) } == filler.count)
            sawReader = sawReader || stream.child.threadNames.contains("wc-read")
            if stream.child.stdout.contains(expected) {
                seen = true
                break
            }
            Thread.sleep(forTimeInterval: 0.03)
        }
        #expect(sawReader, "the stream was not read on a thread of its own (threads: \(stream.child.threadNames))")
        #expect(seen, "no verdicts while the stream trickled: \(stream.child.stdout) stderr: \(stream.child.stderr)")
        #expect(stream.child.wait(timeout: 0.1) == nil, "wirecheck ended with the stream still open")
        guard let status = stream.stop(with: SIGINT) else { return }
        #expect(status == replay.status, "stderr: \(stream.child.stderr)")
        // The copied filler's own connection is judged at the end, after the
        // rest; the other filler starts no flow.
        let verdicts = QuietStreamTests.verdicts(stream.child.stdout)
        #expect(copied ? verdicts.hasPrefix(expected) && verdicts != expected : verdicts == expected, "verdicts: \(verdicts)")
        #expect(stream.child.stderr.isEmpty, "stderr: \(stream.child.stderr)")
    }

    /// `-c 5` on a stream whose writer stops in the middle of the sixth
    /// record and stays open: wirecheck ends after five packets, although
    /// its reading thread is then waiting for the rest of that record (it
    /// is told to stop, and does within 100 ms).
    @Test(.enabled(if: twoProcessorsAllowed))
    func aCountEndsAStreamStalledInARecord() throws {
        let pcap = try [UInt8](Data(contentsOf: URL(fileURLWithPath: StoppedReplayTests.permissive)))
        let sixth = StoppedReplayTests.records(of: pcap)[5]
        let stream = try Stream("stalled-count", options: ["-c", "5"])
        let sent = pcap[..<(sixth.offset + 10)]
        #expect(sent.withUnsafeBytes { write(stream.writer, $0.baseAddress, $0.count) } == sent.count)
        let status = stream.child.wait(timeout: 5)
        #expect(status != nil, "wirecheck did not end after -c 5 with the writer stalled in a record")
        if status == nil { _ = stream.stop(with: SIGKILL) }
        #expect(stream.child.stdout.contains("5 packets read from"), "\(stream.child.stdout) stderr: \(stream.child.stderr)")
    }
}
