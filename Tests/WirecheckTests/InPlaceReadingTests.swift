import Foundation
@testable import PacketCapture
import Testing

/// A file read in place (`MappedRecords`) must give exactly what libpcap
/// gives reading it: every packet's time, lengths and bytes, and the same
/// ending (libpcap's own error and byte offset for a damaged file), for
/// every capture bundled or in the corpus and for files built here to hit
/// each rule of when a record is left to libpcap.
@Suite struct InPlaceReadingTests {
    typealias Drained = (packets: [ReadAheadTests.Seen], ending: String)

    /// The file read both ways (with `filter`, if given); whether it was
    /// read in place at its start, and still at its end.
    static func bothWays(_ path: String, filter: String? = nil) throws -> (inPlace: Drained, libpcap: Drained, atStart: Bool, atEnd: Bool) {
        let mapped = try PacketSource.openFile(path)
        let plain = try PacketSource.openFile(path, inPlace: false)
        #expect(!plain.readsInPlace)
        if let filter {
            try mapped.setFilter(filter)
            try plain.setFilter(filter)
        }
        let atStart = mapped.readsInPlace
        let inPlace = ReadAheadTests.drain(mapped.next)
        return (inPlace, ReadAheadTests.drain(plain.next), atStart, mapped.readsInPlace)
    }

    static func temporary(_ data: Data, _ suffix: String = "pcap") throws -> URL {
        let url = FileManager.default.temporaryDirectory.appendingPathComponent("wirecheck-inplace-\(UUID()).\(suffix)")
        try data.write(to: url)
        return url
    }

    /// `data`, a file whose first three packets or more are read in place
    /// and then a record left to libpcap: read both ways alike. Its ending.
    @discardableResult
    static func expectLeftToLibpcap(_ data: Data, _ suffix: String = "pcap") throws -> String {
        let url = try temporary(data, suffix)
        defer { try? FileManager.default.removeItem(at: url) }
        let read = try bothWays(url.path)
        #expect(read.atStart && !read.atEnd)
        #expect(read.inPlace.packets.count >= 3)
        #expect(read.inPlace.packets == read.libpcap.packets)
        #expect(read.inPlace.ending == read.libpcap.ending)
        return read.inPlace.ending
    }

    // MARK: pcap

    static func le32(_ value: UInt32) -> [UInt8] { withUnsafeBytes(of: value.littleEndian, Array.init) }
    static func le16(_ value: UInt16) -> [UInt8] { withUnsafeBytes(of: value.littleEndian, Array.init) }
    static func le64(_ value: UInt64) -> [UInt8] { withUnsafeBytes(of: value.littleEndian, Array.init) }

    struct Record {
        var seconds: UInt32 = 1_700_000_000
        var fraction: UInt32 = 0
        var captured: UInt32? = nil
        var length: UInt32? = nil
        var bytes: [UInt8]
    }

    static func frame(_ size: Int, seed: Int) -> [UInt8] { (0..<size).map { UInt8(truncatingIfNeeded: $0 &* 31 &+ seed) } }

    static func pcap(magic: UInt32 = 0xA1B2_C3D4, minor: UInt16 = 4, snaplen: UInt32 = 65_535, linkType: UInt32 = 1,
                     _ records: [Record], tail: [UInt8] = []) -> Data {
        var data = le32(magic) + le16(2) + le16(minor) + le32(0) + le32(0) + le32(snaplen) + le32(linkType)
        for record in records {
            data += le32(record.seconds) + le32(record.fraction) + le32(record.captured ?? UInt32(record.bytes.count))
                + le32(record.length ?? UInt32(record.bytes.count)) + record.bytes
        }
        return Data(data + tail)
    }

    /// Times with the sign bit set (libpcap reads both fields as signed),
    /// microseconds and nanoseconds, an original length below the captured
    /// one, an empty record: read in place to the end, as libpcap reads them.
    @Test(arguments: [0xA1B2_C3D4, 0xA1B2_3C4D] as [UInt32]) func pcapTimesAndLengths(magic: UInt32) throws {
        let records = [
            Record(seconds: 0x7FFF_FFFF, fraction: 999_999, bytes: Self.frame(60, seed: 1)),
            Record(seconds: 0x8000_0001, fraction: 0xFFFF_FFFF, bytes: Self.frame(1514, seed: 2)),
            Record(seconds: 0xFFFF_FFFF, fraction: 0x8000_0000, length: 10, bytes: Self.frame(80, seed: 3)),
            Record(seconds: 0, fraction: 1, bytes: []),
            Record(bytes: Self.frame(65_535, seed: 4)),
        ]
        let url = try Self.temporary(Self.pcap(magic: magic, records))
        defer { try? FileManager.default.removeItem(at: url) }
        let read = try Self.bothWays(url.path)
        #expect(read.atStart && read.atEnd)
        #expect(read.inPlace.ending == "end")
        #expect(read.inPlace.packets.count == records.count)
        #expect(read.inPlace.packets == read.libpcap.packets)
        #expect(read.inPlace.ending == read.libpcap.ending)
    }

    /// Records libpcap would change or refuse, and ends inside a record:
    /// left to libpcap where they start, which reads on to the same packets
    /// and the same message, byte offset included.
    @Test(arguments: 0..<5) func pcapRecordsLeftToLibpcap(rule: Int) throws {
        let good = (0..<3).map { Record(fraction: UInt32($0), bytes: Self.frame(100 + $0, seed: $0)) }
        let data: Data
        switch rule {
        case 0:  // larger than the snapshot length: libpcap cuts it, and reads on
            data = Self.pcap(snaplen: 120, good + [Record(bytes: Self.frame(200, seed: 9))] + good)
        case 1:  // larger than libpcap's largest: an error
            data = Self.pcap(snaplen: 0x7FFF_FFFF, good + [Record(bytes: Self.frame(300_000, seed: 9))] + good)
        case 2:  // the file ends inside a record's header
            data = Self.pcap(good, tail: [1, 2, 3, 4, 5])
        case 3:  // ... and inside its bytes
            data = Self.pcap(good, tail: Self.le32(1) + Self.le32(2) + Self.le32(100) + Self.le32(100) + Self.frame(40, seed: 5))
        default:  // a captured length past the file's end, then nothing
            data = Self.pcap(good + [Record(captured: 0xFFFF, bytes: Self.frame(10, seed: 9))])
        }
        let ending = try Self.expectLeftToLibpcap(data)
        if rule != 0 { #expect(ending.contains("byte offset"), "\(ending)") }
    }

    /// Files libpcap reads with quirks are left to it whole: the other byte
    /// order, an older version, a link type whose headers libpcap fixes up.
    @Test func pcapFilesLeftWholeToLibpcap() throws {
        let records = [Record(bytes: Self.frame(64, seed: 1)), Record(bytes: Self.frame(70, seed: 2))]
        var swapped = Self.pcap(records)
        // The header's fields in the other byte order (the records' too).
        func swap32(_ at: Int) { swapped.replaceSubrange(at..<at + 4, with: swapped[at..<at + 4].reversed()) }
        func swap16(_ at: Int) { swapped.replaceSubrange(at..<at + 2, with: swapped[at..<at + 2].reversed()) }
        swap32(0); swap16(4); swap16(6); swap32(16); swap32(20)
        var at = 24
        for record in records {
            (0..<4).forEach { swap32(at + 4 * $0) }
            at += 16 + record.bytes.count
        }
        for data in [swapped, Self.pcap(minor: 3, records), Self.pcap(linkType: 220, records)] {
            let url = try Self.temporary(data)
            defer { try? FileManager.default.removeItem(at: url) }
            let read = try Self.bothWays(url.path)
            #expect(!read.atStart)
            #expect(read.inPlace.packets == read.libpcap.packets && read.inPlace.packets.count == 2)
        }
    }

    /// A filter passes the same packets read in place as read by libpcap,
    /// on the captured bytes and with the original length.
    @Test func aFilterPassesTheSamePackets() throws {
        let path = TestSupport.capturesDirectory.appendingPathComponent("crafted-protocols.pcap").path
        for filter in ["tcp port 80", "len > 300", "tcp[tcpflags] & tcp-syn != 0"] {
            let read = try Self.bothWays(path, filter: filter)
            #expect(read.atStart)
            #expect(read.inPlace.packets.count > 0)
            #expect(read.inPlace.packets == read.libpcap.packets, "\(filter)")
            #expect(read.inPlace.ending == read.libpcap.ending)
        }
    }

    // MARK: pcapng

    static func block(_ type: UInt32, _ body: [UInt8], trailer: UInt32? = nil, length: UInt32? = nil) -> [UInt8] {
        let padded = body + [UInt8](repeating: 0, count: (4 - body.count % 4) % 4)
        let total = UInt32(12 + padded.count)
        return le32(type) + le32(length ?? total) + padded + le32(trailer ?? total)
    }

    static func sectionHeader() -> [UInt8] {
        block(0x0A0D_0D0A, le32(0x1A2B_3C4D) + le16(1) + le16(0) + le64(UInt64.max))
    }

    static func option(_ code: UInt16, _ value: [UInt8]) -> [UInt8] {
        le16(code) + le16(UInt16(value.count)) + value + [UInt8](repeating: 0, count: (4 - value.count % 4) % 4)
    }

    static func interface(linkType: UInt16 = 1, snaplen: UInt32 = 65_535, options: [[UInt8]] = []) -> [UInt8] {
        let listed = options.isEmpty ? [] : options.flatMap { $0 } + option(0, [])
        return block(1, le16(linkType) + le16(0) + le32(snaplen) + listed)
    }

    static func packet(interface: UInt32 = 0, time: UInt64, bytes: [UInt8], captured: UInt32? = nil, length: UInt32? = nil) -> [UInt8] {
        block(6, le32(interface) + le32(UInt32(truncatingIfNeeded: time >> 32)) + le32(UInt32(truncatingIfNeeded: time))
            + le32(captured ?? UInt32(bytes.count)) + le32(length ?? UInt32(bytes.count)) + bytes)
    }

    static func packets(_ count: Int, from seed: Int) -> [UInt8] {
        (0..<count).flatMap { index in
            packet(time: 1_700_000_000_123_456 &+ UInt64(index * 1_000_003 + seed), bytes: frame(60 + 7 * index + seed, seed: index + seed))
        }
    }

    /// Time resolutions of every power of ten libpcap takes, times with the
    /// high bits set, and blocks libpcap skips among the packets: read in
    /// place to the end, as libpcap reads them.
    @Test(arguments: [nil, 0, 3, 6, 9, 12, 19] as [UInt8?]) func pcapngResolutions(decimals: UInt8?) throws {
        let options = decimals.map { [Self.option(9, [$0]), Self.option(2, Array("eth0".utf8))] } ?? [Self.option(2, Array("any".utf8))]
        var data = Self.sectionHeader() + Self.interface(options: options)
        data += Self.packets(3, from: 0)
        data += Self.block(5, Self.le32(0) + Self.le64(12_345))          // interface statistics
        data += Self.block(4, [1, 0, 8, 0, 10, 0, 0, 1] + Array("name\0".utf8))  // name resolution
        data += Self.packet(time: 0xFFFF_FFFF_FFFF_FFFF, bytes: Self.frame(90, seed: 7))
        data += Self.packet(time: 0x8000_0000_0000_0001, bytes: Self.frame(91, seed: 8), length: 5)
        data += Self.block(0x0000_0BAD, Self.frame(13, seed: 1))          // custom
        data += Self.packet(time: 0, bytes: [])
        data += Self.packets(4, from: 11)
        let url = try Self.temporary(Data(data), "pcapng")
        defer { try? FileManager.default.removeItem(at: url) }
        let read = try Self.bothWays(url.path)
        #expect(read.atStart && read.atEnd)
        #expect(read.inPlace.ending == "end")
        #expect(read.inPlace.packets.count == 10)
        #expect(read.inPlace.packets == read.libpcap.packets)
    }

    /// Blocks libpcap acts on, and blocks damaged or cut off, each after a
    /// few packets: left to libpcap where they start, the same packets and
    /// the same ending after them.
    @Test(arguments: 0..<12) func pcapngBlocksLeftToLibpcap(rule: Int) throws {
        let head = Self.sectionHeader() + Self.interface(snaplen: 200) + Self.packets(3, from: 0)
        let more = Self.packets(2, from: 20)
        let frame = Self.frame(100, seed: 3)
        let rest: [UInt8]
        switch rule {
        case 0: rest = Self.interface(snaplen: 200) + Self.packet(interface: 1, time: 5, bytes: frame) + more  // a second interface
        case 1: rest = Self.interface(linkType: 113, snaplen: 200) + more                       // of another link type
        case 2: rest = Self.block(3, Self.le32(100) + frame) + more                               // a simple packet block
        case 3: rest = Self.sectionHeader() + Self.interface(snaplen: 200) + more                 // a new section
        case 4: rest = Self.packet(interface: 1, time: 5, bytes: frame) + more                    // an interface never described
        case 5: rest = Self.packet(time: 5, bytes: Self.frame(300, seed: 1)) + more               // beyond the snapshot length
        case 6: rest = Self.packet(time: 5, bytes: frame, captured: 200) + more                   // beyond its block
        case 7: rest = Self.block(6, Self.frame(20, seed: 2), trailer: 99) + more                 // trailer disagrees
        case 8: rest = Self.block(6, Self.frame(20, seed: 2), length: 30) + more                  // not a multiple of 4
        case 9: rest = Self.block(6, Self.frame(20, seed: 2), length: 8) + more                   // shorter than a block
        case 10: rest = Array(more.prefix(more.count - 9))                                          // cut off inside a block
        default: rest = Self.le32(6) + Self.le32(1 << 30)                                         // a block far past the end
        }
        try Self.expectLeftToLibpcap(Data(head + rest), "pcapng")
    }

    /// A binary time resolution or a time offset: the file is left to libpcap whole.
    @Test func pcapngInterfacesLeftWholeToLibpcap() throws {
        for options in [[Self.option(9, [0x80 | 20])], [Self.option(14, Self.le64(3600))]] {
            let data = Self.sectionHeader() + Self.interface(options: options) + Self.packets(3, from: 0)
            let url = try Self.temporary(Data(data), "pcapng")
            defer { try? FileManager.default.removeItem(at: url) }
            let read = try Self.bothWays(url.path)
            #expect(!read.atStart)
            #expect(read.inPlace.packets == read.libpcap.packets && read.inPlace.packets.count == 3)
        }
    }

    // MARK: every capture at hand

    /// Every bundled capture and every corpus capture (malformed ones
    /// included; skipped visibly without the corpus), with and without a
    /// filter: the same packets and endings both ways; and most are read in place.
    @Test func everyCaptureReadsAsLibpcapReadsIt() throws {
        var paths = try FileManager.default.contentsOfDirectory(atPath: TestSupport.capturesDirectory.path)
            .filter { $0.hasSuffix(".pcap") }.map { TestSupport.capturesDirectory.appendingPathComponent($0).path }
        let bundled = paths.count
        if Corpus.available, let walker = FileManager.default.enumerator(atPath: Corpus.capturesDirectory.path) {
            for case let name as String in walker where [".pcap", ".pcapng", ".cap"].contains(where: name.hasSuffix) {
                paths.append(Corpus.capturesDirectory.appendingPathComponent(name).path)
            }
        } else {
            print("InPlaceReadingTests: \(Corpus.skipReason)")
        }
        var inPlace = 0, differing: [String] = []
        for path in paths {
            // A file libpcap cannot open fails alike either way.
            guard let read = try? Self.bothWays(path) else { continue }
            if read.atStart { inPlace += 1 }
            if read.inPlace.packets != read.libpcap.packets || read.inPlace.ending != read.libpcap.ending { differing.append(path) }
            guard let filtered = try? Self.bothWays(path, filter: "tcp and len > 100") else { continue }
            if filtered.inPlace.packets != filtered.libpcap.packets || filtered.inPlace.ending != filtered.libpcap.ending {
                differing.append(path + " (filtered)")
            }
        }
        #expect(differing.isEmpty, "\(differing)")
        #expect(inPlace >= bundled)
        if Corpus.available { #expect(inPlace > paths.count / 2, "\(inPlace) of \(paths.count) read in place") }
    }

    /// Several files merged (`-r A -r B`): each is read in place too (its
    /// mapping is there while the merge reads it), and the merge gives
    /// their packets, as libpcap reads them, in time order.
    @Test func mergedFilesAreReadInPlace() throws {
        func records(_ times: [UInt32]) -> [Record] {
            times.map { Record(seconds: 1_700_000_000 + $0, bytes: Self.frame(100 + Int($0), seed: Int($0))) }
        }
        let first = try Self.temporary(Self.pcap(records([1, 3, 5, 7])))
        let second = try Self.temporary(Data(Self.sectionHeader() + Self.interface() + (0..<4).flatMap { index in
            Self.packet(time: (1_700_000_000 + UInt64(2 * index + 2)) * 1_000_000, bytes: Self.frame(50 + index, seed: index))
        }), "pcapng")
        defer {
            try? FileManager.default.removeItem(at: first)
            try? FileManager.default.removeItem(at: second)
        }
        let merged = try PacketSource.openFiles([second.path, first.path])
        var mappedWhileReading = false
        let read = ReadAheadTests.drain {
            let result = merged.next()
            if !mappedWhileReading, let maps = FileHandle(forReadingAtPath: "/proc/self/maps")?.readDataToEndOfFile() {
                let text = String(decoding: maps, as: UTF8.self)
                mappedWhileReading = text.contains(first.path) && text.contains(second.path)
            }
            return result
        }
        #expect(mappedWhileReading)
        #expect(read.ending == "end")
        let each = try [first, second].flatMap { ReadAheadTests.drain(try PacketSource.openFile($0.path, inPlace: false).next).packets }
        #expect(read.packets == each.sorted { $0.timestamp < $1.timestamp })
        #expect(read.packets.count == 8)
    }

    // MARK: a file that grows or shrinks

    /// Still being written (tcpdump -w) when it was mapped: the records
    /// written since are read too (by libpcap, from the mapping's end), as
    /// libpcap reading the whole file would have read them.
    @Test(arguments: [false, true]) func aFileThatGrowsIsReadToItsNewEnd(cutMidRecord: Bool) throws {
        let records = (0..<20).map { Record(fraction: UInt32($0), bytes: Self.frame(500 + $0, seed: $0)) }
        let whole = Self.pcap(records)
        let first = cutMidRecord ? whole.count / 2 : Self.pcap(Array(records.prefix(10))).count
        let url = try Self.temporary(whole.prefix(first))
        defer { try? FileManager.default.removeItem(at: url) }
        let source = try PacketSource.openFile(url.path)
        #expect(source.readsInPlace)
        // Read what there is first (up to a cut record, which waits).
        guard let packets = ReadAheadTests.take(5, source.next) else { return }
        let handle = try FileHandle(forWritingTo: url)
        handle.seekToEndOfFile()
        handle.write(whole.dropFirst(first))
        try handle.close()
        let rest = ReadAheadTests.drain(source.next)
        #expect(rest.ending == "end")
        let plain = ReadAheadTests.drain(try PacketSource.openFile(url.path, inPlace: false).next)
        #expect(plain.packets.count == 20)
        #expect(packets + rest.packets == plain.packets)
    }

    /// Truncated while it is read (as tcpdump -C -W rewrites a name): no
    /// SIGBUS, the packets before the cut as they were, then an error that
    /// says so and where.
    @Test func aFileThatShrinksGivesAnError() throws {
        let records = (0..<400).map { Record(fraction: UInt32($0), bytes: Self.frame(8_000, seed: $0)) }
        let url = try Self.temporary(Self.pcap(records))
        defer { try? FileManager.default.removeItem(at: url) }
        let source = try PacketSource.openFile(url.path)
        #expect(source.readsInPlace)
        guard let before = ReadAheadTests.take(10, source.next) else { return }
        #expect(truncate(url.path, 200_000) == 0)
        let rest = ReadAheadTests.drain(source.next)
        #expect(rest.ending.hasPrefix("failed: the file shrank while it was being read"), "\(rest.ending)")
        #expect(rest.ending.contains("byte offset"))
        // Read before the cut, the first packets are as they were.
        let plain = ReadAheadTests.drain(try PacketSource.openFile(url.path, inPlace: false).next)
        #expect(Array(plain.packets.prefix(10)) == before)
    }
}
