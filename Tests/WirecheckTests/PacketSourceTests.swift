import Foundation
@testable import PacketCapture
import Testing

/// Capture files are read through a stdio buffer larger than stdio's own
/// (`PacketSource.fileReadBufferBytes`): packets that straddle its refills
/// must come out whole, and an error must still name the right byte offset.
@Suite struct PacketSourceTests {
    /// `crafted-protocols.pcap`'s records repeated after its header, so the
    /// file spans several read buffers and packets straddle every refill.
    static func repeatedCapture(times: Int) throws -> (file: URL, once: Data) {
        let whole = try Data(contentsOf: URL(fileURLWithPath: ReadAheadTests.capture))
        var data = whole.prefix(24)
        for _ in 0..<times { data.append(whole.dropFirst(24)) }
        let url = FileManager.default.temporaryDirectory.appendingPathComponent("wirecheck-source-\(UUID()).pcap")
        try data.write(to: url)
        return (url, whole)
    }

    @Test func readsAFileLargerThanItsBufferWhole() throws {
        let (url, _) = try Self.repeatedCapture(times: 40)
        defer { try? FileManager.default.removeItem(at: url) }
        let size = try #require(try FileManager.default.attributesOfItem(atPath: url.path)[.size] as? Int)
        #expect(size > 2 * PacketSource.fileReadBufferBytes)

        let once = ReadAheadTests.drain(try PacketSource.openFile(ReadAheadTests.capture).next)
        let repeated = ReadAheadTests.drain(try PacketSource.openFile(url.path).next)
        #expect(repeated.ending == "end")
        #expect(repeated.packets.count == 40 * once.packets.count)
        for copy in 0..<40 {
            let slice = repeated.packets.dropFirst(copy * once.packets.count).prefix(once.packets.count)
            #expect(Array(slice) == once.packets, "copy \(copy) differs")
        }
    }

    /// A capture file is read without stdio's per-call locking (the reads
    /// themselves are checked by the other tests here).
    @Test func fileStreamIsReadWithoutPerCallLocking() throws {
        #expect(try PacketSource.openFile(ReadAheadTests.capture).streamLockingLeftToCaller)
    }

    /// Cut mid-packet past the first buffer: the packets before the cut, then
    /// libpcap's error with the offset where reading stopped (the cut).
    @Test func aCutBeyondTheFirstBufferNamesItsOffset() throws {
        let (url, _) = try Self.repeatedCapture(times: 40)
        defer { try? FileManager.default.removeItem(at: url) }
        let data = try Data(contentsOf: url)
        let cut = PacketSource.fileReadBufferBytes + data.count / 3 + 7
        try data.prefix(cut).write(to: url)

        let read = ReadAheadTests.drain(try PacketSource.openFile(url.path).next)
        #expect(read.packets.count > 0)
        #expect(read.ending.hasPrefix("failed: truncated dump file"), "\(read.ending)")
        #expect(read.ending.contains("byte offset \(cut) of the file"), "\(read.ending)")
    }
}
