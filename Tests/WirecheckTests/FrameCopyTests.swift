import FlowAnalysis
import Foundation
import PacketCapture
import PacketDecoding
import Reporting
import StreamReassembly
import Testing
import VerdictPolicy

/// `-i any` captures a packet once per interface it crosses, back to back. A
/// frame whose TCP segment repeats the previous frame's in every field and
/// payload byte is counted, not analysed again (`FrameCopyDetector`,
/// `FlowAnalyzer.processCopy`): reports must be what analysing every frame gives.
@Suite struct FrameCopyTests {
    typealias B = FrameBuilder

    /// Offsets in an untagged Ethernet + IPv4 (no options) + TCP frame.
    static let acknowledgmentOffset = 14 + 20 + 8
    static let windowOffset = 14 + 20 + 14

    static func frame(mac: UInt8 = 1, payload: [UInt8] = B.payload, flags: UInt8 = 0x18, sourcePort: UInt16 = 50_000) -> [UInt8] {
        var bytes = B.ethernet(0x0800, B.ipv4(6, B.tcp(sourcePort: sourcePort, payload: payload, flags: flags)))
        bytes[11] = mac  // the source MAC: another interface's capture of the same packet
        return bytes
    }

    /// The detector, handed the frame before each one (as the reading
    /// thread does, from its copy of it) or not (as the analyser's loop).
    struct Examiner {
        var detector = FrameCopyDetector(linkType: 1)
        let handsPrevious: Bool
        var previous: [UInt8]?

        init(handsPrevious: Bool) { self.handsPrevious = handsPrevious }

        mutating func examine(_ frame: [UInt8]) -> FrameCopyDetector.Examined? {
            defer { previous = frame }
            return frame.withUnsafeBytes { bytes in
                guard handsPrevious, let previous else { return detector.examine(bytes, originalLength: bytes.count) }
                return previous.withUnsafeBytes { detector.examine(bytes, originalLength: bytes.count, previousFrame: $0) }
            }
        }
    }

    static func examine(_ detector: inout Examiner, _ frame: [UInt8]) -> Bool? {
        detector.examine(frame)?.repeatsPrevious
    }

    @Test(arguments: [false, true])
    func aSegmentRepeatedInEveryFieldAndByteIsACopy(handsPrevious: Bool) {
        var detector = Examiner(handsPrevious: handsPrevious)
        let first = Self.frame()
        #expect(Self.examine(&detector, first) == false, "the first frame repeats nothing")
        #expect(Self.examine(&detector, Self.frame(mac: 9)) == true, "the same segment behind another link header")
        #expect(Self.examine(&detector, first) == true, "a third capture of it")

        var changedByte = Self.frame()
        changedByte[changedByte.count - 3] ^= 0x20
        var changedAck = first
        changedAck[Self.acknowledgmentOffset + 3] = 7
        var changedWindow = first
        changedWindow[Self.windowOffset + 1] ^= 1
        let others: [(String, [UInt8])] = [
            ("one payload byte", changedByte), ("the acknowledgement", changedAck), ("the window", changedWindow),
            ("the flags", Self.frame(flags: 0x19)), ("a port", Self.frame(sourcePort: 50_001)),
            ("the payload's length", Self.frame(payload: B.payload + [0x41])), ("no payload", Self.frame(payload: [])),
        ]
        for (what, other) in others {
            _ = Self.examine(&detector, first)
            #expect(Self.examine(&detector, other) == false, "\(what) differs")
        }
        // Empty payloads: the same acknowledgement twice is a copy.
        _ = Self.examine(&detector, Self.frame(payload: [], flags: 0x10))
        #expect(Self.examine(&detector, Self.frame(mac: 3, payload: [], flags: 0x10)) == true)

        // A frame with no TCP segment between the two: nothing to repeat.
        _ = Self.examine(&detector, first)
        let udp = B.ethernet(0x0800, B.ipv4(17, B.udp(destinationPort: 53, payload: [1, 2, 3])))
        #expect(detector.examine(udp) == nil)
        #expect(Self.examine(&detector, first) == false)
    }

    /// Linux cooked v2 (`-i any`): a frame equal to the one before in every
    /// byte but the interface, packet type and address fields of its link
    /// header is a copy, not decoded again; one differing anywhere else
    /// (payload, protocol, length on the wire) is decoded and judged as usual.
    @Test func cookedCopiesAreToldByTheBytesTheDecoderReads() {
        func cooked(interface: UInt8, packetType: UInt8 = 0, protocolHigh: UInt8 = 0x08, payload: [UInt8] = B.payload) -> [UInt8] {
            [protocolHigh, 0x00, 0, 0, 0, 0, 0, interface, 0, 1, packetType, 6, 2, 0, 0, 0, 0, interface, 0, 0]
                + B.ipv4(6, B.tcp(sourcePort: 50_000, payload: payload, flags: 0x18))
        }
        var changed = B.payload
        changed[3] ^= 1
        let frames = [cooked(interface: 3), cooked(interface: 4, packetType: 4), cooked(interface: 5, payload: changed),
                      cooked(interface: 6, packetType: 4, payload: changed), cooked(interface: 6, protocolHigh: 0x86, payload: changed),
                      cooked(interface: 3), cooked(interface: 3, payload: changed)]
        var byBytes = Examiner(handsPrevious: true), byFingerprint = Examiner(handsPrevious: false)
        byBytes.detector = FrameCopyDetector(linkType: LinkType.linuxCooked2)
        byFingerprint.detector = FrameCopyDetector(linkType: LinkType.linuxCooked2)
        var answers: [Bool?] = []
        for frame in frames {
            let a = byBytes.examine(frame), b = byFingerprint.examine(frame)
            #expect(a?.repeatsPrevious == b?.repeatsPrevious && a?.fingerprint == b?.fingerprint && a?.segment == b?.segment)
            answers.append(a?.repeatsPrevious)
        }
        #expect(answers == [false, true, false, true, nil, false, false], "\(answers)")
    }

    /// Handed the frame before, the detector compares bytes instead of
    /// fingerprints: the same answers and the same fingerprints, frame by
    /// frame, on captures full of copies and with a conflicting one.
    @Test func comparingBytesAnswersAsFingerprintsDo() throws {
        for url in [try Self.tripledCapture(), try Self.conflictCapturedTwice()] {
            defer { try? FileManager.default.removeItem(at: url) }
            let (frames, linkType) = try Self.frames(of: url.path)
            var byFingerprint = Examiner(handsPrevious: false), byBytes = Examiner(handsPrevious: true)
            byFingerprint.detector = FrameCopyDetector(linkType: linkType)
            byBytes.detector = FrameCopyDetector(linkType: linkType)
            var copies = 0
            for frame in frames {
                let a = byFingerprint.examine(frame.bytes), b = byBytes.examine(frame.bytes)
                #expect(a?.repeatsPrevious == b?.repeatsPrevious && a?.fingerprint == b?.fingerprint && a?.segment == b?.segment)
                if b?.repeatsPrevious == true { copies += 1 }
            }
            #expect(copies > 0)
        }
    }

    /// Each frame in turn through the detector, copies to `processCopy`, the
    /// rest to `process`, as wirecheck's loop does; or every frame to
    /// `process`. The reports as JSON Lines, and how many copies were counted.
    static func replay(_ frames: [(bytes: [UInt8], time: Int64)], linkType: Int32, countingCopies: Bool) -> (lines: [String], copies: Int) {
        var analyzer = FlowAnalyzer(linkType: linkType)
        var detector = FrameCopyDetector(linkType: linkType)
        var json = JSONLinesReporter()
        var lines: [String] = []
        var copies = 0
        let emit: (FlowReport) -> Void = { report in
            var writer = ByteWriter(capacity: 256)
            json.write(report, to: &writer)
            lines.append(writer.string)
        }
        let observe: (consuming FlowObservation) -> Void = { emit(VerdictPolicy.judge($0)) }
        for (bytes, time) in frames {
            bytes.withUnsafeBytes { frame in
                guard countingCopies else {
                    analyzer.process(frame: frame, originalLength: frame.count, timestamp: time, observe: observe)
                    return
                }
                let examined = detector.examine(frame, originalLength: frame.count)
                if examined?.repeatsPrevious == true { copies += 1 }
                analyzer.process(examined, frame: frame, originalLength: frame.count, timestamp: time, observe: observe)
            }
        }
        analyzer.finish(observe: observe)
        return (lines, copies)
    }

    /// As wirecheck's loop with a reading thread: a frame followed by its
    /// copy is processed with the copy's time (`copyAt`), and the copy goes
    /// to `processCopy` only if that did not count it. The reports, and how
    /// many copies were counted with their frame.
    static func replayFoldingCopies(_ frames: [(bytes: [UInt8], time: Int64)], linkType: Int32) -> (lines: [String], folded: Int) {
        var analyzer = FlowAnalyzer(linkType: linkType)
        var detector = FrameCopyDetector(linkType: linkType)
        var lines: [String] = []
        var folded = 0
        let observe: (consuming FlowObservation) -> Void = { observation in
            var json = JSONLinesReporter()
            var writer = ByteWriter(capacity: 256)
            json.write(VerdictPolicy.judge(observation), to: &writer)
            lines.append(writer.string)
        }
        // Examined first, as the reading thread does ahead of the analysis.
        let examined = frames.map { frame in frame.bytes.withUnsafeBytes { detector.examine($0, originalLength: $0.count) } }
        var index = 0
        while index < frames.count {
            let (bytes, time) = frames[index]
            let copyFollows = examined[index].map { !$0.repeatsPrevious } == true && index + 1 < frames.count
                && examined[index + 1]?.repeatsPrevious == true
            bytes.withUnsafeBytes { frame in
                guard let found = examined[index], !found.repeatsPrevious else {
                    analyzer.process(examined[index], frame: frame, originalLength: frame.count, timestamp: time, observe: observe)
                    return
                }
                let fingerprint = found.fingerprint.map { (found.segment.payloadRange, $0) }
                guard copyFollows else {
                    analyzer.process(frame: frame, originalLength: frame.count, timestamp: time, payloadFingerprint: fingerprint, observe: observe)
                    return
                }
                let copyAt = frames[index + 1].time
                if analyzer.process(frame: frame, originalLength: frame.count, timestamp: time,
                                    payloadFingerprint: fingerprint, copyAt: copyAt, observe: observe) {
                    folded += 1
                } else {
                    analyzer.processCopy(at: copyAt, of: frame, originalLength: frame.count, payloadFingerprint: fingerprint, observe: observe)
                }
            }
            index += copyFollows ? 2 : 1
        }
        analyzer.finish(observe: observe)
        return (lines, folded)
    }

    static func frames(of path: String) throws -> (frames: [(bytes: [UInt8], time: Int64)], linkType: Int32) {
        let source = try PacketSource.openFile(path)
        var frames: [(bytes: [UInt8], time: Int64)] = []
        reading: while true {
            switch source.next() {
            case .packet(let packet): frames.append((Array(packet.bytes), packet.timestampNanoseconds))
            case .timeout: continue
            case .end, .failed: break reading
            }
        }
        return (frames, source.linkType)
    }

    /// The lab's captures are `-i any` (each packet on the pod's veth and on
    /// the bridge): counting the copies changes no report.
    @Test func countingCopiesChangesNoReportOfTheBundledCaptures() throws {
        var copies = 0, folded = 0
        for name in FingerprintHandOverTests.captures {
            let path = TestSupport.capturesDirectory.appendingPathComponent(name).path
            let (frames, linkType) = try Self.frames(of: path)
            let every = Self.replay(frames, linkType: linkType, countingCopies: false)
            let counted = Self.replay(frames, linkType: linkType, countingCopies: true)
            #expect(counted.lines == every.lines, "\(name)")
            copies += counted.copies
            let folding = Self.replayFoldingCopies(frames, linkType: linkType)
            #expect(folding.lines == every.lines, "\(name)")
            folded += folding.folded
        }
        #expect(copies > 300, "the lab's -i any captures hold copies: \(copies)")
        #expect(folded > 300, "copies counted with their frame: \(folded)")
    }

    /// The copy of a late segment to a flow whose close linger ends between
    /// the two captures is not lost with the flow: it is analysed as a frame
    /// (it starts a flow of its own, as it would have), and the copy of a
    /// lone reset, which started none, is a lone reset again.
    @Test func aCopyWhoseFlowEndedMeanwhileIsAnalysedAsAFrame() {
        func segment(fromClient: Bool, flags: UInt8, payload: [UInt8] = [], mac: UInt8 = 1) -> [UInt8] {
            let client: [UInt8] = [10, 0, 0, 1], server: [UInt8] = [10, 0, 0, 2]
            var bytes = B.ethernet(0x0800, B.ipv4(6, B.tcp(sourcePort: fromClient ? 50_000 : 80, destinationPort: fromClient ? 80 : 50_000,
                                                           sequence: fromClient ? 1_000 : 5_000, payload: payload, flags: flags),
                                                  source: fromClient ? client : server, destination: fromClient ? server : client))
            bytes[11] = mac
            return bytes
        }
        let second: Int64 = 1_000_000_000
        let late = segment(fromClient: true, flags: 0x18, payload: Array("late".utf8))
        let frames: [(bytes: [UInt8], time: Int64)] = [
            (segment(fromClient: true, flags: 0x02), 0),
            (segment(fromClient: false, flags: 0x12), 1_000),
            (segment(fromClient: false, flags: 0x14), 2_000),  // a reset ends the flow at once
            (late, second),  // within the 1 s linger: taken by the flow
            (segment(fromClient: true, flags: 0x18, payload: Array("late".utf8), mac: 2), second + 1_000_000),  // the linger is over
            (segment(fromClient: true, flags: 0x14), 3 * second),
            (segment(fromClient: true, flags: 0x14, mac: 2), 3 * second + 1_000),
        ]
        let every = Self.replay(frames, linkType: 1, countingCopies: false)
        let counted = Self.replay(frames, linkType: 1, countingCopies: true)
        #expect(counted.copies == 2)
        #expect(counted.lines == every.lines)
        // Counted with its frame, the late copy would join the ended flow:
        // the clock's move to its time is due to let that flow go first. The
        // last reset closes the second flow, which the clock's move to its
        // copy's time would then sweep (not yet let go): that copy is
        // processed on its own too.
        let folding = Self.replayFoldingCopies(frames, linkType: 1)
        #expect(folding.lines == every.lines)
        #expect(folding.folded == 0)
        #expect(every.lines.count == 2, "the late copy starts a flow of its own: \(every.lines)")
        // The first: SYN, SYN-ACK, reset, the late segment; the second: its copy, the reset and that one's copy.
        #expect(every.lines.map { $0.contains("\"packets\":4,") } == [true, false] && every.lines[1].contains("\"packets\":3,"),
                "\(every.lines)")
    }

    /// A copy whose time has come for the idle sweep is processed on its
    /// own, not counted with its frame: the sweep runs then, notes its
    /// time, and so does not run again at the next packet's, which a flow
    /// idle by then still takes. Counted with its frame, the copy would
    /// leave the sweep to that packet, which would end its flow first.
    @Test func aCopyDueForTheIdleSweepIsProcessedOnItsOwn() {
        func segment(port: UInt16, flags: UInt8, payload: [UInt8] = [], mac: UInt8 = 1) -> [UInt8] {
            var bytes = B.ethernet(0x0800, B.ipv4(6, B.tcp(sourcePort: port, destinationPort: 80, sequence: 1_000, payload: payload, flags: flags),
                                                  source: [10, 0, 0, 1], destination: [10, 0, 0, 2]))
            bytes[11] = mac
            return bytes
        }
        let second: Int64 = 1_000_000_000, start = 1_000 * second
        let frames: [(bytes: [UInt8], time: Int64)] = [
            (segment(port: 40_000, flags: 0x02), start),  // flow A; the idle timeout is 300 s
            (segment(port: 40_001, flags: 0x02), start + 298 * second),  // flow B; a sweep runs (A not idle)
            (segment(port: 40_001, flags: 0x18, payload: Array("b".utf8)), start + 298 * second + 999_000_000),
            // Its copy comes 1 s after the last sweep: one runs (A still not idle).
            (segment(port: 40_001, flags: 0x18, payload: Array("b".utf8), mac: 2), start + 299 * second + 1_000_000),
            // Past A's timeout, under 1 s after that sweep: A takes it.
            (segment(port: 40_000, flags: 0x18, payload: Array("a".utf8)), start + 300 * second + 500_000),
        ]
        let every = Self.replay(frames, linkType: 1, countingCopies: false)
        let folding = Self.replayFoldingCopies(frames, linkType: 1)
        #expect(every.lines.count == 2, "A and B, A with its late segment: \(every.lines)")
        #expect(folding.lines == every.lines)
        #expect(folding.folded == 0)
    }

    /// The binary counts copies on the reading thread (a replay with two
    /// processors) or in its one loop (one processor, or live): the same
    /// output either way, on captures with copies two and three deep.
    @Test func oneProcessorOrTwoTheSameOutputWithCopies() throws {
        let binary = try #require(TestSupport.binary, "wirecheck binary not built next to the tests")
        guard let taskset = TestSupport.taskset else { return }
        let first = try #require(ReportWorkerTests.allowedProcessors().first, "no Cpus_allowed_list in /proc/self/status")
        let tripled = try Self.tripledCapture(), conflict = try Self.conflictCapturedTwice()
        defer { for url in [tripled, conflict] { try? FileManager.default.removeItem(at: url) } }
        let conflictOutput = try TestSupport.run(binary, ["-r", conflict.path])
        #expect(conflictOutput.stdout.contains("5 bytes were retransmitted with different content"), "\(conflictOutput.stdout)")
        for path in [tripled.path, conflict.path]
            + ["permissive.pcap", "strict.pcap"].map({ TestSupport.capturesDirectory.appendingPathComponent($0).path }) {
            for extra in [[], ["-c", "1000000"]] {
                let threaded = try TestSupport.run(binary, ["-r", path, "--json"] + extra)
                let single = try TestSupport.run(taskset, ["-c", "\(first)", binary.path, "-r", path, "--json"] + extra)
                #expect(threaded.stdout.contains("\"type\":\"flow\""))
                #expect(single.status == threaded.status && single.stdout == threaded.stdout, "\(path) \(extra)")
            }
        }
    }

    /// `permissive.pcap` (an `-i any` capture) with every
    /// frame written three times, 1 µs apart, as a classic pcap file.
    static func tripledCapture() throws -> URL {
        let (frames, linkType) = try Self.frames(of: TestSupport.capturesDirectory.appendingPathComponent("permissive.pcap").path)
        return try Self.writeCapture(frames.flatMap { frame in (0..<3).map { (frame.bytes, frame.time + Int64($0) * 1_000) } }, linkType: linkType)
    }

    /// A classic pcap file (microseconds) in the temporary directory.
    static func writeCapture(_ frames: [(bytes: [UInt8], time: Int64)], linkType: Int32) throws -> URL {
        var file: [UInt8] = [0xD4, 0xC3, 0xB2, 0xA1, 2, 0, 4, 0] + [UInt8](repeating: 0, count: 8) + [0xFF, 0xFF, 0, 0]
        file += withUnsafeBytes(of: UInt32(linkType).littleEndian, Array.init)
        for (bytes, time) in frames {
            let micros = time / 1_000
            let fields = [UInt32(micros / 1_000_000), UInt32(micros % 1_000_000), UInt32(bytes.count), UInt32(bytes.count)]
            for field in fields { file += withUnsafeBytes(of: field.littleEndian, Array.init) }
            file += bytes
        }
        let url = FileManager.default.temporaryDirectory.appendingPathComponent("wirecheck-copies-\(UUID()).pcap")
        try Data(file).write(to: url)
        return url
    }

    /// A retransmission with other bytes than the first copy, captured twice
    /// (`-i any`): its 5 bytes conflict once, not once per interface.
    static func conflictCapturedTwice() throws -> URL {
        func segment(fromClient: Bool, sequence: UInt32, flags: UInt8, payload: [UInt8] = [], mac: UInt8 = 1) -> [UInt8] {
            let client: [UInt8] = [10, 0, 0, 1], server: [UInt8] = [10, 0, 0, 2]
            var bytes = B.ethernet(0x0800, B.ipv4(6, B.tcp(sourcePort: fromClient ? 50_000 : 80, destinationPort: fromClient ? 80 : 50_000,
                                                           sequence: sequence, payload: payload, flags: flags),
                                                  source: fromClient ? client : server, destination: fromClient ? server : client))
            bytes[11] = mac
            return bytes
        }
        let base: Int64 = 1_790_000_000_000_000_000
        return try Self.writeCapture([
            (segment(fromClient: true, sequence: 1_000, flags: 0x02), base),
            (segment(fromClient: false, sequence: 9_000, flags: 0x12), base + 1_000_000),
            (segment(fromClient: true, sequence: 1_001, flags: 0x18, payload: Array("hello".utf8)), base + 2_000_000),
            (segment(fromClient: true, sequence: 1_001, flags: 0x18, payload: Array("HELLO".utf8)), base + 3_000_000),
            (segment(fromClient: true, sequence: 1_001, flags: 0x18, payload: Array("HELLO".utf8), mac: 2), base + 3_001_000),
        ], linkType: 1)
    }

    /// Reading ahead with `notesCopies`: a copy is not handed over but held in
    /// the note of the packet before it (one at most, with its time); a copy
    /// at the start of a batch, or a second one, is handed over, its note
    /// saying so. Nothing is lost: originals plus copies are every packet.
    /// Read in place, with the records stored the usual way and streamed
    /// (a streamed batch holds its last record back, and a copy's time goes there).
    @Test(arguments: [(300, 3, 2), (4_000, 7, 3), (1 << 20, 4096, 6)], [false, true])
    func readingAheadHoldsCopiesInTheNoteBefore(shape: (bytes: Int, records: Int, count: Int), streamsRecords: Bool) throws {
        let url = try Self.tripledCapture()
        defer { try? FileManager.default.removeItem(at: url) }
        let path = url.path
        let source = try PacketSource.openFile(path)
        #expect(source.readsInPlace)
        let linkType = source.linkType
        final class Box: @unchecked Sendable { var detector: FrameCopyDetector; init(_ l: Int32) { detector = FrameCopyDetector(linkType: l) } }
        let box = Box(linkType)
        let reader = ReadAhead(source: source, batchBytes: shape.bytes, batchRecords: shape.records, batchCount: shape.count, note: { packet, previous in
            let examined = previous.map { box.detector.examine(packet.bytes, originalLength: packet.originalLength, previousFrame: $0) }
                ?? box.detector.examine(packet.bytes, originalLength: packet.originalLength)
            guard let found = examined else { return nil }
            return FrameNote(offset: Int32(found.segment.payloadRange.lowerBound), count: Int32(found.segment.payloadRange.count),
                             value: found.fingerprint?.value ?? 0, repeatsPrevious: found.repeatsPrevious)
        }, notesCopies: true, chooser: CopyModeChooser(always: streamsRecords))
        #expect(reader.start())
        var timestamps: [Int64] = []
        var handedCopies = 0, heldCopies = 0
        reading: while true {
            switch reader.next() {
            case .packet(let packet):
                timestamps.append(packet.timestampNanoseconds)
                if packet.note?.repeatsPrevious == true { handedCopies += 1 }
                if let note = packet.note, note.hasCopy {
                    heldCopies += 1
                    timestamps.append(note.copyTimestampNanoseconds)
                }
            case .timeout: continue
            case .end, .failed: break reading
            }
        }
        reader.stop()
        let direct = try Self.frames(of: path).frames.map(\.time)
        #expect(timestamps == direct, "every packet, in order, once")
        // Each frame's first copy is held (but where its original ended a
        // batch), the second handed over: a note holds one.
        #expect(heldCopies > direct.count / 4 && handedCopies >= direct.count / 3, "\(heldCopies), \(handedCopies) of \(direct.count)")
    }
}
