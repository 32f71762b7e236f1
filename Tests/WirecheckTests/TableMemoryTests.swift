import Foundation
import Testing
@testable import FlowAnalysis
import PacketDecoding

/// A busy capture's flow table has the kernel make its next memory present
/// on another thread, ahead of use (`AnalyzerConfiguration.prepareMemory`).
@Suite struct TablePreparationTests {
    /// `populate` makes exactly the asked pages present (the kernel's
    /// `mincore`), and they still read as zero.
    @Test func populateMakesTheRangePresent() throws {
        let page = 4_096, length = 64 * page
        let mapped = mmap(nil, length, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0)
        let base = try #require(mapped == MAP_FAILED ? nil : mapped)
        defer { munmap(base, length) }
        func present() -> [Bool] {
            var vector = [UInt8](repeating: 0, count: length / page)
            _ = mincore(base, length, &vector)
            return vector.map { $0 & 1 == 1 }
        }
        #expect(present().allSatisfy { !$0 }, "fresh anonymous memory is not present yet")
        // From the middle of page 8 to the middle of page 20: pages 8...20.
        guard TableMemory.populate(address: UInt(bitPattern: base) + UInt(8 * page + 100), length: 12 * page) else {
            print("TablePreparationTests: skipped, this kernel has no MADV_POPULATE_WRITE (Linux 5.14+)")
            return
        }
        let expected = (0..<64).map { (8...20).contains($0) }
        #expect(present() == expected)
        let bytes = UnsafeRawBufferPointer(start: base, count: length)
        #expect(bytes.allSatisfy { $0 == 0 })
    }

    /// Ranges recorded from the analysing thread's requests.
    final class Requests: @unchecked Sendable {
        private let lock = NSLock()
        private var ranges: [(address: UInt, length: Int)] = []
        func add(_ address: UInt, _ length: Int) { lock.withLock { ranges.append((address, length)) } }
        var all: [(address: UInt, length: Int)] { lock.withLock { ranges } }
    }

    /// No request until the table holds `prepareFromSlot` flows; then
    /// contiguous ranges that stay at least half a lead ahead of the slots in
    /// use, within the table's reserved storage.
    @Test func flowTableAsksAheadOfUseOnceBusy() {
        typealias B = FrameBuilder
        let requests = Requests()
        var configuration = AnalyzerConfiguration()
        configuration.prepareMemory = { requests.add($0, $1) }
        var analyzer = FlowAnalyzer(linkType: LinkType.rawLinktype, configuration: configuration)
        let stride = FlowTable.stride
        let flows = 20_000
        for n in 0..<flows {
            // A SYN each, from its own address and port: a new flow each.
            let syn = B.ipv4(6, B.tcp(sourcePort: UInt16(10_000 + n % 50_000), sequence: 7, payload: [], flags: 0x02),
                             source: [10, 3, UInt8(n >> 8), UInt8(n & 0xFF)])
            syn.withUnsafeBytes {
                analyzer.process(frame: $0, originalLength: $0.count, timestamp: Int64(n + 1) * 1_000, emit: { _ in })
            }
            let ranges = requests.all
            if analyzer.openFlows < FlowAnalyzer.prepareFromSlot {
                #expect(ranges.isEmpty, "asked at \(analyzer.openFlows) flows")
                continue
            }
            guard let first = ranges.first, let last = ranges.last else {
                Issue.record("no request at \(analyzer.openFlows) flows")
                return
            }
            // The first request starts where the slots in use ended then.
            let base = first.address - UInt(FlowAnalyzer.prepareFromSlot * stride)
            let preparedEnd = Int(last.address - base) + last.length
            let used = analyzer.openFlows * stride
            if preparedEnd - used < FlowAnalyzer.prepareLeadBytes / 2 {
                Issue.record("prepared only \(preparedEnd - used) bytes ahead at \(analyzer.openFlows) flows")
                return
            }
            #expect(preparedEnd <= FlowAnalyzer.initialTableCapacity * stride)
        }
        let ranges = requests.all
        #expect(ranges.count >= 2)
        for (earlier, later) in zip(ranges, ranges.dropFirst()) {
            #expect(earlier.address + UInt(earlier.length) == later.address, "ranges not contiguous")
        }
        #expect(analyzer.openFlows == flows)
    }
}
