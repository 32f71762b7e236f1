import Foundation
import PacketCapture
import Testing

/// `-C`, `-G` and `-W`'s decisions and names, as tcpdump makes them, and a
/// source splitting its file by packet time.
@Suite struct PacketFileRotationTests {
    typealias Slot = PacketFileRotation.Slot

    /// A packet time, in nanoseconds, `second` seconds and a half after 1970.
    func s(_ second: Int64) -> Int64 { second * 1_000_000_000 + 500_000_000 }

    /// `-G` is looked at first: when both are due, the new interval starts
    /// with `-C`'s count at 0; otherwise `-C` numbers on within the interval.
    @Test func timeComesBeforeSize() {
        let both = PacketFileRotation(bytesPerFile: 1_000, secondsPerFile: 60)
        let slot = Slot(index: 2, startSecond: 100)
        #expect(both.step(from: slot, writtenBytes: 1_000, at: s(159), filesStarted: 1) == .same)
        #expect(both.step(from: slot, writtenBytes: 1_001, at: s(159), filesStarted: 1) == .nextFile(Slot(index: 3, startSecond: 100)))
        #expect(both.step(from: slot, writtenBytes: 1_001, at: s(160), filesStarted: 1) == .nextInterval(Slot(index: 0, startSecond: 160)))
        #expect(both.step(from: slot, writtenBytes: 24, at: s(7_000), filesStarted: 1) == .nextInterval(Slot(index: 0, startSecond: 7_000)))
        // Whole seconds: 59.999 s after is not yet a minute; before 1970, floored.
        #expect(both.step(from: slot, writtenBytes: 24, at: 160 * 1_000_000_000 - 1, filesStarted: 1) == .same)
        #expect(both.step(from: Slot(startSecond: -61), writtenBytes: 24, at: -1, filesStarted: 1) == .nextInterval(Slot(startSecond: -1)))
        #expect(both.step(from: Slot(startSecond: -60), writtenBytes: 24, at: -1, filesStarted: 1) == .same)
        // A clock set back is no reason for a new file.
        #expect(both.step(from: slot, writtenBytes: 24, at: s(40), filesStarted: 1) == .same)
    }

    /// `-W` with `-C` is a ring (within each of `-G`'s intervals); with `-G`
    /// alone it is how many files are written before the capture stops.
    @Test func fileCountRingsOrStops() {
        let ring = PacketFileRotation(bytesPerFile: 10, secondsPerFile: 60, fileCount: 3)
        #expect(ring.step(from: Slot(index: 2, startSecond: 0), writtenBytes: 11, at: s(1), filesStarted: 5) == .nextFile(Slot(index: 0, startSecond: 0)))
        #expect(ring.step(from: Slot(index: 1, startSecond: 0), writtenBytes: 11, at: s(60), filesStarted: 5) == .nextInterval(Slot(index: 0, startSecond: 60)))
        let timed = PacketFileRotation(secondsPerFile: 10, fileCount: 3)
        #expect(timed.step(from: Slot(startSecond: 0), writtenBytes: 1 << 40, at: s(9), filesStarted: 3) == .same)
        #expect(timed.step(from: Slot(startSecond: 0), writtenBytes: 24, at: s(10), filesStarted: 2) == .nextInterval(Slot(startSecond: 10)))
        #expect(timed.step(from: Slot(startSecond: 0), writtenBytes: 24, at: s(10), filesStarted: 3) == .stop)
        let unbounded = PacketFileRotation(secondsPerFile: 10)
        #expect(unbounded.step(from: Slot(startSecond: 0), writtenBytes: 24, at: s(10), filesStarted: 1_000) == .nextInterval(Slot(startSecond: 10)))
    }

    /// Names: `-G`'s pattern through strftime (`%s`, seconds since 1970,
    /// whatever the zone), then `-C`'s number; without `-G` a `%` is a `%`.
    @Test func namesAreTcpdumps() {
        let second: Int64 = 1_700_000_000
        let timed = PacketFileRotation(secondsPerFile: 60)
        #expect(timed.fileName("cap-%s.pcap", slot: Slot(startSecond: second)) == "cap-1700000000.pcap")
        #expect(timed.fileName("100%%-%s", slot: Slot(startSecond: second)) == "100%-1700000000")
        let both = PacketFileRotation(bytesPerFile: 1, secondsPerFile: 60)
        #expect(both.fileName("cap-%s.pcap", slot: Slot(index: 0, startSecond: second)) == "cap-1700000000.pcap")
        #expect(both.fileName("cap-%s.pcap", slot: Slot(index: 2, startSecond: second)) == "cap-1700000000.pcap2")
        let ring = PacketFileRotation(bytesPerFile: 1, secondsPerFile: 60, fileCount: 12)
        #expect(ring.fileName("cap-%s-", slot: Slot(index: 3, startSecond: second)) == "cap-1700000000-03")
        let sized = PacketFileRotation(bytesPerFile: 1)
        #expect(sized.fileName("a%s", slot: Slot(index: 1, startSecond: second)) == "a%s1")
        // -G alone, with -W: no number (tcpdump's names).
        #expect(PacketFileRotation(secondsPerFile: 1, fileCount: 5).fileName("t-%s", slot: Slot(startSecond: 5)) == "t-5")
    }

    @Test(arguments: [("cap-%Y%m%d-%H%M%S.pcap", true), ("a%s", true), ("%%%H", true), ("plain", false), ("a%%b", false),
                      ("trailing%", false), ("", false)])
    func timeConversionsAreFound(_ pattern: String, _ found: Bool) {
        #expect(PacketFileRotation.hasTimeConversion(pattern) == found)
    }

    /// A source splitting its file by packet time (the bundled lab capture's
    /// 6 s, a file a second): each file holds the packets of the second it
    /// is named by, and together they are the capture, packet for packet.
    @Test func aSourceSplitsItsFileByPacketTime() throws {
        let capture = TestSupport.capturesDirectory.appendingPathComponent("lab-services.pcap").path
        let directory = FileManager.default.temporaryDirectory.appendingPathComponent("wirecheck-rotate-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: false)
        defer { try? FileManager.default.removeItem(at: directory) }
        let whole = try Self.packets(in: capture)
        let firstSecond = try #require(whole.first).nanoseconds / 1_000_000_000
        let pattern = directory.appendingPathComponent("cap-%s").path
        let rotation = PacketFileRotation(secondsPerFile: 1)
        func open(_ slot: Slot) throws(CaptureError) -> Int32 {
            let descriptor = Glibc.open(rotation.fileName(pattern, slot: slot), O_WRONLY | O_CREAT | O_EXCL, 0o600)
            guard descriptor >= 0 else { throw CaptureError(.openFailed, "cannot create \(slot)") }
            return descriptor
        }
        let source = try PacketSource.openFile(capture)
        let first = Slot(startSecond: firstSecond)
        try source.startWriting(to: try open(first), rotation: rotation, first: first, openFile: open)
        reading: while true {
            switch source.next() {
            case .packet: continue reading
            case .end: break reading
            case .timeout: continue reading
            case .failed(let error): Issue.record("\(error)"); break reading
            }
        }
        #expect(source.finishWriting() == nil)
        #expect(!source.fileLimitReached)

        let names = try FileManager.default.contentsOfDirectory(atPath: directory.path)
        let seconds = names.compactMap { Int64($0.dropFirst("cap-".count)) }.sorted()
        #expect(seconds.count == names.count, "\(names)")
        #expect(seconds.count >= 5, "\(names)")
        var together: [Packet] = []
        for second in seconds {
            let packets = try Self.packets(in: rotation.fileName(pattern, slot: Slot(startSecond: second)))
            #expect(!packets.isEmpty)
            #expect(packets.allSatisfy { $0.nanoseconds / 1_000_000_000 == second }, "cap-\(second)")
            together += packets
        }
        #expect(together == whole)
    }

    /// `-G 1 -W 2` on the same capture: reading ends at the first packet of
    /// a third second, which is neither returned nor written, and stays ended,
    /// even for a packet stamped earlier that follows it (a live capture's
    /// timestamps are not always in order), which would otherwise fit the
    /// last file.
    @Test func aSourceStopsAfterItsTimedFiles() throws {
        let bundled = TestSupport.capturesDirectory.appendingPathComponent("lab-services.pcap").path
        let path = FileManager.default.temporaryDirectory.appendingPathComponent("wirecheck-stop-\(UUID().uuidString)-%s").path
        let whole = try Self.packets(in: bundled)
        let firstSecond = try #require(whole.first).nanoseconds / 1_000_000_000
        // The second file begins with the first packet of a later second; the
        // stop comes with the first packet of a second after that one's.
        let secondStart = try #require(whole.first { $0.nanoseconds / 1_000_000_000 > firstSecond }).nanoseconds / 1_000_000_000
        let expected = whole.prefix { $0.nanoseconds / 1_000_000_000 <= secondStart }
        let stopping = try #require(whole.dropFirst(expected.count).first)
        let earlier = Packet(nanoseconds: secondStart * 1_000_000_000, bytes: stopping.bytes)
        let capture = path.replacingOccurrences(of: "%s", with: "input.pcap")
        try Self.write(Array(expected) + [stopping, earlier] + whole.dropFirst(expected.count + 1),
                       linkType: PacketSource.openFile(bundled).linkType, to: capture)
        defer { unlink(capture) }
        let rotation = PacketFileRotation(secondsPerFile: 1, fileCount: 2)
        var opened: [String] = []
        func open(_ slot: Slot) throws(CaptureError) -> Int32 {
            opened.append(rotation.fileName(path, slot: slot))
            return Glibc.open(rotation.fileName(path, slot: slot), O_WRONLY | O_CREAT | O_EXCL, 0o600)
        }
        defer { for name in opened { unlink(name) } }
        let source = try PacketSource.openFile(capture)
        let first = Slot(startSecond: firstSecond)
        try source.startWriting(to: try open(first), rotation: rotation, first: first, openFile: open)
        var returned: [Int64] = []
        while case .packet(let packet) = source.next() { returned.append(packet.timestampNanoseconds) }
        #expect(source.fileLimitReached)
        guard case .end = source.next() else { Issue.record("read on after the stop"); return }
        #expect(source.finishWriting() == nil)
        #expect(returned == expected.map(\.nanoseconds))
        #expect(returned.count < whole.count)
        #expect(opened.count == 2)
        let written = try opened.flatMap { try Self.packets(in: $0) }
        #expect(written == Array(expected))
    }

    struct Packet: Equatable {
        var nanoseconds: Int64
        var bytes: [UInt8]
    }

    /// `packets` as a nanosecond pcap file of `linkType`.
    static func write(_ packets: [Packet], linkType: Int32, to path: String) throws {
        var bytes: [UInt8] = []
        func append<T: FixedWidthInteger>(_ value: T) { withUnsafeBytes(of: value.littleEndian) { bytes += $0 } }
        append(UInt32(0xa1b2_3c4d)); append(UInt16(2)); append(UInt16(4)); append(Int32(0)); append(UInt32(0))
        append(UInt32(262_144)); append(UInt32(linkType))
        for packet in packets {
            append(UInt32(packet.nanoseconds / 1_000_000_000)); append(UInt32(packet.nanoseconds % 1_000_000_000))
            append(UInt32(packet.bytes.count)); append(UInt32(packet.bytes.count))
            bytes += packet.bytes
        }
        try Data(bytes).write(to: URL(fileURLWithPath: path))
    }

    static func packets(in path: String) throws -> [Packet] {
        let source = try PacketSource.openFile(path)
        var packets: [Packet] = []
        while case .packet(let packet) = source.next() {
            packets.append(Packet(nanoseconds: packet.timestampNanoseconds, bytes: Array(packet.bytes)))
        }
        return packets
    }
}
