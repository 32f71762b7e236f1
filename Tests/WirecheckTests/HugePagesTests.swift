import Foundation
import Testing
@testable import FlowAnalysis

/// The flow table asks for transparent huge pages; the kernel's own account
/// (`/proc/self/smaps`) shows whether the request reached its memory.
@Suite struct HugePagesTests {
    @Test func flowTableStorageBecomesEligibleForHugePages() throws {
        let setting = (try? String(contentsOfFile: "/sys/kernel/mm/transparent_hugepage/enabled", encoding: .utf8)) ?? ""
        guard !setting.isEmpty, !setting.contains("[never]") else {
            print("HugePagesTests: skipped, transparent huge pages are unavailable or off on this kernel")
            return
        }
        var table = [UInt64]()
        table.reserveCapacity(2 << 20)  // 16 MiB, several huge pages
        HugePages.advise(&table)
        let base = table.withUnsafeBufferPointer { UInt(bitPattern: $0.baseAddress) }
        // The mapping that holds the storage's middle, and its eligibility.
        let middle = base + UInt(table.capacity * 8 / 2)
        // Read to the end: a /proc file reports size 0, and reading by size stops after one page.
        let handle = try #require(FileHandle(forReadingAtPath: "/proc/self/smaps"))
        let smaps = String(decoding: handle.readDataToEndOfFile(), as: UTF8.self)
        var inMapping = false
        var eligible: String?
        for line in smaps.split(separator: "\n") {
            let fields = line.split(separator: " ", omittingEmptySubsequences: true)
            if let range = fields.first, range.contains("-"), fields.count >= 5 {
                let bounds = range.split(separator: "-").compactMap { UInt($0, radix: 16) }
                inMapping = bounds.count == 2 && bounds[0] <= middle && middle < bounds[1]
            } else if inMapping, line.hasPrefix("THPeligible:") {
                eligible = fields.last.map(String.init)
            }
        }
        guard smaps.contains("THPeligible:") else {
            print("HugePagesTests: skipped, this kernel's smaps has no THPeligible field")
            return
        }
        #expect(eligible == "1", "the table's mapping is not eligible for huge pages (THPeligible \(eligible ?? "absent"))")
        withExtendedLifetime(table) {}
    }
}
