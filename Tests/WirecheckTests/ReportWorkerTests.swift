import Foundation
import Testing
import VerdictPolicy

/// File replays judge and report on a second thread, in batches. The binary's
/// reports must be the library's (which reports inline), in the same order,
/// across many batches and with flows ending both during the replay and at its end.
@Suite struct ReportWorkerTests {
    typealias B = FrameBuilder

    /// A classic pcap file of `flows` HTTP exchanges, packets `spacingMicros`
    /// apart (1 ms by default), each closed with FIN both ways (most end
    /// during the replay, the last ones at its end).
    static func writeCapture(flows: Int, spacingMicros: Int = 1_000, to url: URL) throws {
        var file: [UInt8] = [0xD4, 0xC3, 0xB2, 0xA1, 2, 0, 4, 0] + [UInt8](repeating: 0, count: 8) + [0xFF, 0xFF, 0, 0, 1, 0, 0, 0]
        var micros = 0
        func record(_ frame: [UInt8]) {
            micros += spacingMicros
            let fields = [UInt32(1_790_000_000 + micros / 1_000_000), UInt32(micros % 1_000_000), UInt32(frame.count), UInt32(frame.count)]
            for field in fields { file += withUnsafeBytes(of: field.littleEndian, Array.init) }
            file += frame
        }
        for n in 0..<flows {
            let client: [UInt8] = [10, 1, UInt8(n >> 8), UInt8(n & 0xFF)], server: [UInt8] = [10, 2, 0, 1]
            let port = UInt16(20_000 + n)
            let request = Array("GET /item/\(n) HTTP/1.1\r\nHost: shop\r\n\r\n".utf8)
            let response = Array("HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n".utf8)
            func packet(fromClient: Bool, sequence: UInt32, payload: [UInt8], flags: UInt8) -> [UInt8] {
                let segment = B.tcp(sourcePort: fromClient ? port : 80, destinationPort: fromClient ? 80 : port,
                                    sequence: sequence, payload: payload, flags: flags)
                return B.ethernet(0x0800, B.ipv4(6, segment, source: fromClient ? client : server, destination: fromClient ? server : client))
            }
            record(packet(fromClient: true, sequence: 1_000, payload: request, flags: 0x18))
            record(packet(fromClient: false, sequence: 9_000, payload: response, flags: 0x18))
            record(packet(fromClient: true, sequence: 1_000 + UInt32(request.count), payload: [], flags: 0x11))
            record(packet(fromClient: false, sequence: 9_000 + UInt32(response.count), payload: [], flags: 0x11))
        }
        try Data(file).write(to: url)
    }

    @Test func binaryReportsAreTheLibrarysInOrder() throws {
        let binary = try #require(TestSupport.binary, "wirecheck binary not built next to the tests")
        let url = FileManager.default.temporaryDirectory.appendingPathComponent("wirecheck-worker-\(UUID()).pcap")
        defer { try? FileManager.default.removeItem(at: url) }
        try Self.writeCapture(flows: 1_500, to: url)

        let library = try TestSupport.analyze(url.path)
        #expect(library.reports.count == 1_500)
        let run = try TestSupport.run(binary, ["-r", url.path, "--json"])
        #expect(run.status == library.summary.exitCode, "stderr: \(run.stderr)")
        let flows = try TestSupport.jsonLines(run.stdout).filter { $0["type"] as? String == "flow" }
        #expect(flows.count == library.reports.count)
        for (line, report) in zip(flows, library.reports) {
            #expect(line["client"] as? String == "\(report.client)")
            #expect(line["server"] as? String == "\(report.server)")
            #expect(line["verdict"] as? String == report.verdict.rawValue)
            #expect(line["reason"] as? String == report.reason)
            #expect(line["evidence"] as? String == report.evidence)
        }
        let summary = try #require(TestSupport.jsonLines(run.stdout).last)
        #expect(summary["flows"] as? Int == 1_500)
        #expect(summary["plaintext"] as? Int == library.summary.count(.plaintext))
    }

    /// Thousands of flows at once (closed ones wait out their linger): the
    /// flow table asks the worker to prepare its next memory ahead of use
    /// (`AnalyzerConfiguration.prepareMemory`). The reports are the library's,
    /// which prepares nothing.
    @Test func busyTableWithPreparedMemoryReportsTheSame() throws {
        let binary = try #require(TestSupport.binary, "wirecheck binary not built next to the tests")
        let url = FileManager.default.temporaryDirectory.appendingPathComponent("wirecheck-busy-\(UUID()).pcap")
        defer { try? FileManager.default.removeItem(at: url) }
        // 6 000 flows in 24 ms of capture time: all are in the table at the end.
        try Self.writeCapture(flows: 6_000, spacingMicros: 1, to: url)

        let library = try TestSupport.analyze(url.path)
        let inline = library.reports.map { "\($0.client) \($0.server) \($0.verdict.rawValue) \($0.reason)" }
        let run = try TestSupport.run(binary, ["-r", url.path, "--json"])
        #expect(run.status == library.summary.exitCode, "stderr: \(run.stderr)")
        let threaded = try TestSupport.jsonLines(run.stdout).filter { $0["type"] as? String == "flow" }.map {
            "\($0["client"] as? String ?? "") \($0["server"] as? String ?? "") \($0["verdict"] as? String ?? "") \($0["reason"] as? String ?? "")"
        }
        #expect(inline.count == 6_000)
        #expect(threaded == inline)
    }

    /// Allowed one processor (`taskset`), a replay runs on one thread: same
    /// output, and no thread started besides the main one.
    @Test func oneProcessorReplaysOnOneThreadWithTheSameOutput() throws {
        let binary = try #require(TestSupport.binary, "wirecheck binary not built next to the tests")
        guard let taskset = TestSupport.taskset else { return }
        let url = FileManager.default.temporaryDirectory.appendingPathComponent("wirecheck-one-cpu-\(UUID()).pcap")
        defer { try? FileManager.default.removeItem(at: url) }
        try Self.writeCapture(flows: 1_500, to: url)

        // Processors this test may use (a CI container's cpuset need not include 0).
        let allowed = Self.allowedProcessors()
        let first = try #require(allowed.first, "no Cpus_allowed_list in /proc/self/status")
        let threaded = try TestSupport.run(binary, ["-r", url.path, "--json"])
        let single = try TestSupport.run(taskset, ["-c", "\(first)", binary.path, "-r", url.path, "--json"])
        #expect(single.status == threaded.status, "stderr: \(single.stderr)")
        #expect(single.stdout == threaded.stdout)
        // Threads, from the kernel, polled while a long replay runs: one
        // allowed processor, one thread; two, three. (A capture streamed in
        // through a pipe is always analysed on one thread: StoppedReplayTests.)
        let (long, _) = try StoppedReplayTests.longPassingCapture(copies: 3_000)
        defer { unlink(long) }
        func threads(_ processors: String) throws -> (most: Int, names: Set<String>) {
            let child = try Subprocess(taskset.path, ["-c", processors, binary.path, "-r", long, "--json"])
            defer { child.removeFiles() }
            var most = 0
            var names = Set<String>()
            while let status = try? String(contentsOfFile: "/proc/\(child.pid)/status", encoding: .utf8), !status.contains("State:\tZ") {
                let count = status.split(separator: "\n").first { $0.hasPrefix("Threads:") }.flatMap { Int($0.dropFirst(8).trimmingCharacters(in: .whitespaces)) } ?? 0
                most = max(most, count)
                // Every name seen once it runs wirecheck (before, taskset's or the
                // test's; a thread just started is named a moment later).
                let main = try? String(contentsOfFile: "/proc/\(child.pid)/comm", encoding: .utf8)
                guard main?.hasPrefix("wirecheck") == true else { usleep(500); continue }
                names.formUnion(child.threadNames)
                usleep(500)
            }
            #expect(child.wait() == 0, "stderr: \(child.stderr)")
            return (most, names)
        }
        #expect(try threads("\(first)").most == 1)
        if allowed.count >= 2 {
            let (most, names) = try threads("\(allowed[0]),\(allowed[1])")
            #expect(most == 3)
            // Named, so that `top -H` tells the reading and reporting threads apart.
            #expect(names == ["wirecheck", "wc-report", "wc-read"], "thread names: \(names)")
        }
    }

    /// The processors in this process's affinity mask, from "Cpus_allowed_list:\t0-1,4".
    static func allowedProcessors() -> [Int] {
        guard let status = try? String(contentsOfFile: "/proc/self/status", encoding: .utf8),
              let line = status.split(separator: "\n").first(where: { $0.hasPrefix("Cpus_allowed_list:") }),
              let list = line.split(separator: ":").last else { return [] }
        return list.split(separator: ",").flatMap { part -> [Int] in
            let bounds = part.split(separator: "-").compactMap { Int($0.trimmingCharacters(in: .whitespaces)) }
            guard let low = bounds.first, let high = bounds.last, low <= high else { return [] }
            return Array(low...high)
        }
    }
}
