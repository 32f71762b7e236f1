import CacheHints
import Foundation
@testable import PacketCapture
import Testing

/// Reading ahead on another thread must hand over exactly what libpcap read,
/// in order, however packets fall across batches, and end the same way.
@Suite struct ReadAheadTests {
    struct Seen: Equatable {
        var timestamp: Int64
        var originalLength: Int
        var bytes: [UInt8]
        var note: FrameNote? = nil
    }

    /// What the test keeps of a packet (its bytes copied: they are valid only until the next read).
    static func seen(_ packet: CapturedPacket) -> Seen {
        Seen(timestamp: packet.timestampNanoseconds, originalLength: packet.originalLength, bytes: Array(packet.bytes), note: packet.note)
    }

    /// The next `count` packets of `next`, or nil (an issue recorded) if it ends or fails first.
    static func take(_ count: Int, _ next: () -> ReadResult) -> [Seen]? {
        var packets: [Seen] = []
        while packets.count < count {
            guard case .packet(let packet) = next() else {
                Issue.record("expected \(count) packets, got \(packets.count)")
                return nil
            }
            packets.append(seen(packet))
        }
        return packets
    }

    /// Everything a reader yields, and how it ended.
    static func drain(_ next: () -> ReadResult) -> (packets: [Seen], ending: String) {
        var packets: [Seen] = []
        while true {
            switch next() {
            case .packet(let packet):
                packets.append(seen(packet))
            case .timeout:
                continue
            case .end:
                return (packets, "end")
            case .failed(let error):
                return (packets, "failed: \(error.message)")
            }
        }
    }

    static var capture: String { TestSupport.capturesDirectory.appendingPathComponent("crafted-protocols.pcap").path }

    /// Batch sizes that put batch boundaries everywhere: a few bytes (every
    /// packet larger than a batch), a few packets, the default.
    static let shapes: [(bytes: Int, records: Int, count: Int)] = [(1, 1, 2), (300, 3, 2), (4_000, 7, 3), (1 << 20, 4096, 6)]

    /// How packets get into the batches: copied the usual way, streamed,
    /// either as a chooser finds cheaper, or recorded where the source read
    /// them in place (not copied).
    enum Copying: CaseIterable {
        case usual, streamed, chosen, inPlace, inPlaceStreamed, inPlaceChosen

        var readsInPlace: Bool { self == .inPlace || self == .inPlaceStreamed || self == .inPlaceChosen }
    }

    /// A note made from a packet's bytes with every field set and varied
    /// (a flow hash on some packets only), as a reading thread's would be.
    @Sendable static func note(of packet: CapturedPacket, previous: UnsafeRawBufferPointer?) -> FrameNote? {
        note(of: packet.bytes)
    }

    static func note(of bytes: UnsafeRawBufferPointer) -> FrameNote? {
        guard bytes.count % 5 != 0 else { return nil }
        let value = bytes.prefix(8).reduce(UInt64(bytes.count)) { $0 << 8 | UInt64($1) }
        return FrameNote(offset: Int32(bytes.count / 3), count: Int32(bytes.count / 2), value: value,
                         repeatsPrevious: false, flowHash: bytes.count % 2 == 0 ? UInt32(bytes.count) &* 2_654_435_761 : nil)
    }

    /// Copied the usual way, streamed (`streamsPackets`, each packet from a
    /// line of its own, padded to whole lines), each way in turn as a
    /// chooser that tries both on every other batch has it, and recorded in
    /// place from the mapped file (records stored the usual way, streamed,
    /// and each way in turn). Each packet keeps its own note (`note` is given).
    @Test(arguments: 0..<shapes.count, Copying.allCases) func sameAsReadingDirectly(shape: Int, copying: Copying) throws {
        var direct = Self.drain(try PacketSource.openFile(Self.capture, inPlace: false).next)
        #expect(direct.packets.count > 100)
        for index in direct.packets.indices {
            direct.packets[index].note = direct.packets[index].bytes.withUnsafeBytes { Self.note(of: $0) }
        }
        #expect(direct.packets.contains { $0.note?.flowHash != nil } && direct.packets.contains { $0.note == nil })
        let (bytes, records, count) = Self.shapes[shape]
        let chooser = switch copying {
        case .usual, .inPlace: CopyModeChooser(always: false)
        case .streamed, .inPlaceStreamed: CopyModeChooser(always: true)
        case .chosen, .inPlaceChosen: CopyModeChooser(trial: 1_000_000, stretch: 0)
        }
        let source = try PacketSource.openFile(Self.capture, inPlace: copying.readsInPlace)
        #expect(source.readsInPlace == copying.readsInPlace)
        let reader = ReadAhead(source: source, batchBytes: bytes, batchRecords: records, batchCount: count,
                               note: Self.note(of:previous:), streamsPackets: copying != .usual, chooser: chooser)
        #expect(reader.start())
        var misaligned = 0, inPlace = 0
        let ahead = Self.drain {
            let result = reader.next()
            if case .packet(let packet) = result {
                if let start = packet.bytes.baseAddress, Int(bitPattern: start) % 64 != 0 { misaligned += 1 }
                if source.holdsInPlace(packet.bytes) { inPlace += 1 }
            }
            return result
        }
        // Read in place, every packet is handed over from the mapping.
        #expect(inPlace == (copying.readsInPlace ? direct.packets.count : 0))
        // Streamed, every packet starts a line; copied back to back, several
        // to a batch, most do not.
        if copying == .streamed { #expect(misaligned == 0) } else if records > 1 { #expect(misaligned > 0) }
        reader.stop()
        #expect(ahead.ending == direct.ending)
        #expect(ahead.packets.count == direct.packets.count)
        #expect(ahead.packets == direct.packets)
        // After the end it keeps saying so.
        if case .end = reader.next() {} else { Issue.record("a stopped reader should say .end") }
    }

    /// A file cut off mid-packet: the packets before the cut, then the same error.
    @Test func cutOffFileEndsWithTheSameError() throws {
        let whole = try Data(contentsOf: URL(fileURLWithPath: Self.capture))
        let url = FileManager.default.temporaryDirectory.appendingPathComponent("wirecheck-readahead-\(UUID()).pcap")
        defer { try? FileManager.default.removeItem(at: url) }
        try whole.prefix(whole.count / 2 + 7).write(to: url)

        let direct = Self.drain(try PacketSource.openFile(url.path, inPlace: false).next)
        #expect(direct.ending.hasPrefix("failed"))
        for (streams, inPlace) in [(false, false), (true, false), (false, true)] {
            let reader = ReadAhead(source: try PacketSource.openFile(url.path, inPlace: inPlace), batchBytes: 2_000, batchRecords: 5,
                                   batchCount: 2, streamsPackets: streams, chooser: CopyModeChooser(always: streams))
            #expect(reader.start())
            let ahead = Self.drain(reader.next)
            reader.stop()
            #expect(ahead.ending == direct.ending)
            #expect(ahead.packets == direct.packets)
        }
    }

    /// A streamed batch writes each record as one whole line: records are
    /// 64 bytes and start a line. Were the note to grow, records would
    /// quietly go back to the usual stores (slower far apart); this says so.
    @Test func aRecordIsOneLine() {
        #expect(MemoryLayout<ReadAhead.Batch.Record>.stride == 64)
        let batch = ReadAhead.Batch(bytes: 4_096, records: 3)
        #expect(Int(bitPattern: batch.records) % 64 == 0)
    }

    /// The streamed copy writes every byte and zeroes the last line's rest,
    /// for every length up to a few lines and every source alignment.
    @Test func aStreamedCopyIsExactAndPadded() {
        let source = (0..<400).map { UInt8(truncatingIfNeeded: $0 &* 7 &+ 3) }
        let target = UnsafeMutableRawBufferPointer.allocate(byteCount: 512, alignment: 64)
        defer { target.deallocate() }
        var wrong = 0
        for length in 0...260 {
            for offset in 0..<17 {
                target.initializeMemory(as: UInt8.self, repeating: 0xEE)
                source.withUnsafeBytes { bytes in
                    wirecheck_copy_streaming(target.baseAddress!, bytes.baseAddress! + offset, length)
                }
                wirecheck_store_fence()
                let padded = wirecheck_streamed_size(length)
                if padded % 64 != 0 || padded < length || padded >= length + 64 { wrong += 1 }
                if Array(target[0..<length]) != Array(source[offset..<offset + length]) { wrong += 1 }
                if target[length..<padded].contains(where: { $0 != 0 }) { wrong += 1 }
                // Nothing past the whole lines is written.
                if target[padded...].contains(where: { $0 != 0xEE }) { wrong += 1 }
            }
        }
        #expect(wrong == 0)
    }

    /// The bundled capture opened to be read, writing what is read to a new
    /// file (`-w`) at the path returned.
    static func writingSource() throws -> (PacketSource, String) {
        let source = try PacketSource.openFile(Self.capture)
        let path = FileManager.default.temporaryDirectory.appendingPathComponent("wirecheck-readahead-\(UUID().uuidString).pcap").path
        let descriptor = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0o600)
        try #require(descriptor >= 0)
        try source.startWriting(to: descriptor)
        return (source, path)
    }

    /// Stopping early (`-c`, Ctrl-C) while the reading thread waits for a free
    /// batch returns promptly, and so does stopping before anything was read.
    /// A source writing its packets (`-w`) is not read ahead unless allowed
    /// to: its reads would run past where the analysis stops (`-c`).
    @Test func aWritingSourceIsNotReadAhead() throws {
        let (source, path) = try Self.writingSource()
        defer { try? FileManager.default.removeItem(atPath: path) }
        #expect(source.isWriting)
        let reader = ReadAhead(source: source)
        #expect(!reader.start())
        // Read on this thread instead, every packet is written.
        var read = 0
        while case .packet = source.next() { read += 1 }
        #expect(source.finishWriting() == nil)
        let copy = try PacketSource.openFile(path)
        var written = 0
        while case .packet = copy.next() { written += 1 }
        #expect(read > 0 && written == read)
    }

    /// Allowed to (`writesAhead`, a replay read to the end), the reading
    /// thread writes each packet as it reads it: the file holds every packet
    /// handed over, in order, and then the capture's end.
    @Test func aWritingSourceReadAheadWritesAsItReads() throws {
        let (source, path) = try Self.writingSource()
        defer { try? FileManager.default.removeItem(atPath: path) }
        let reader = ReadAhead(source: source, batchBytes: 2_000, batchRecords: 5, batchCount: 2, writesAhead: true)
        #expect(reader.start())
        let ahead = Self.drain(reader.next)
        reader.stop()
        #expect(source.finishWriting() == nil)
        let written = Self.drain(try PacketSource.openFile(path).next)
        let direct = Self.drain(try PacketSource.openFile(Self.capture).next)
        #expect(ahead.packets.count > 10)
        #expect(written.packets == ahead.packets)
        #expect(written.packets == direct.packets)
    }

    @Test func stopsWhileTheReaderWaits() throws {
        let reader = ReadAhead(source: try PacketSource.openFile(Self.capture), batchBytes: 100, batchRecords: 1, batchCount: 2)
        #expect(reader.start())
        guard case .packet = reader.next() else {
            Issue.record("expected a packet")
            return
        }
        usleep(50_000)  // the reader fills the other batch and waits
        #expect(Self.stops(reader, within: 5), "stop() did not return while the reader waited for a batch")
        if case .end = reader.next() {} else { Issue.record("a stopped reader should say .end") }

        let idle = ReadAhead(source: try PacketSource.openFile(Self.capture))
        #expect(idle.start())
        #expect(Self.stops(idle, within: 5), "stop() did not return right after start()")
    }

    /// Calls `stop()` on another thread and waits at most `seconds`, so a
    /// hang fails the test instead of hanging the whole run.
    static func stops(_ reader: ReadAhead, within seconds: Double) -> Bool {
        let done = DispatchSemaphore(value: 0)
        Thread.detachNewThread {
            reader.stop()
            done.signal()
        }
        return done.wait(timeout: .now() + seconds) == .success
    }
}
