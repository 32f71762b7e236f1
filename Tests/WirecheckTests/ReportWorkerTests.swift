import Foundation
import Testing
import VerdictPolicy

/// File replays judge and report on a second thread, in batches. The binary's
/// reports must be the library's (which reports inline), in the same order,
/// across many batches and with flows ending both during the replay and at its end.
@Suite struct ReportWorkerTests {
    typealias B = FrameBuilder

    /// A classic pcap file of `flows` HTTP exchanges, 1 ms apart, each closed
    /// with FIN both ways (most end during the replay, the last ones at its end).
    static func writeCapture(flows: Int, to url: URL) throws {
        var file: [UInt8] = [0xD4, 0xC3, 0xB2, 0xA1, 2, 0, 4, 0] + [UInt8](repeating: 0, count: 8) + [0xFF, 0xFF, 0, 0, 1, 0, 0, 0]
        var micros = 0
        func record(_ frame: [UInt8]) {
            micros += 1_000
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
}
