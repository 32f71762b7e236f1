import Foundation
import Testing

/// Compressed capture files, as `tcpdump -z gzip` leaves rotated captures:
/// gzip is read through zlib; other compressions get an error that says how
/// to decompress; a corrupt or cut-off gzip stream is reported, not taken
/// for a clean end.
@Suite struct CompressedCaptureTests {
    let capture = TestSupport.capturesDirectory.appendingPathComponent("permissive.pcap").path

    func wirecheck(_ arguments: [String]) throws -> TestSupport.ProcessResult {
        let binary = try #require(TestSupport.binary, "wirecheck binary not built next to the tests")
        return try TestSupport.run(binary, arguments)
    }

    func temporaryFile(_ name: String, _ contents: Data) throws -> String {
        let url = FileManager.default.temporaryDirectory.appendingPathComponent("wirecheck-\(UUID())-\(name)")
        try contents.write(to: url)
        return url.path
    }

    @Test func gzipReadsAsThePlainFile() throws {
        // Compressed into a file directly: stdout through a String is not byte-exact.
        let path = FileManager.default.temporaryDirectory.appendingPathComponent("wirecheck-\(UUID()).pcap.gz").path
        let shell = try TestSupport.run(URL(fileURLWithPath: "/bin/sh"), ["-c", "gzip -c -9 \"$0\" > \"$1\"", capture, path])
        try #require(shell.status == 0, "gzip failed: \(shell.stderr)")
        defer { try? FileManager.default.removeItem(atPath: path) }
        let plain = try wirecheck(["-r", capture, "--json"])
        let compressed = try wirecheck(["-r", path, "--json"])
        #expect(!TestSupport.flowLines(plain.stdout).isEmpty)
        #expect(TestSupport.flowLines(compressed.stdout) == TestSupport.flowLines(plain.stdout))
        #expect(compressed.status == plain.status)
        #expect(compressed.stderr.isEmpty, "stderr: \(compressed.stderr)")

        // Cut off mid-stream (a rotation whose writer was killed): what was
        // read is kept, and the run says the data ended early, even where the
        // cut falls between two packets.
        let bytes = try Data(contentsOf: URL(fileURLWithPath: path))
        for keep in [bytes.count / 2, bytes.count - 8] {
            let cut = try temporaryFile("cut.pcap.gz", bytes.prefix(keep))
            defer { try? FileManager.default.removeItem(atPath: cut) }
            let run = try wirecheck(["-r", cut, "--json"])
            let summary = try #require(try TestSupport.jsonLines(run.stdout).last)
            #expect((summary["readError"] as? String)?.contains("gzip-compressed data is corrupt or cut off") == true,
                    "kept \(keep) of \(bytes.count): \(run.stdout)")
            #expect(run.status != 3)
        }
    }

    @Test func gzipThatIsNoCapture() throws {
        let text = FileManager.default.temporaryDirectory.appendingPathComponent("wirecheck-\(UUID()).txt").path
        try Data("not a capture\n".utf8).write(to: URL(fileURLWithPath: text))
        let path = text + ".gz"
        let shell = try TestSupport.run(URL(fileURLWithPath: "/bin/sh"), ["-c", "gzip -c \"$0\" > \"$1\"", text, path])
        try #require(shell.status == 0)
        defer {
            try? FileManager.default.removeItem(atPath: text)
            try? FileManager.default.removeItem(atPath: path)
        }
        let run = try wirecheck(["-r", path])
        #expect(run.status == 3)
        #expect(run.stderr.contains("unknown file format (of the gzip-compressed file's content)"), "stderr: \(run.stderr)")

        let garbage = try temporaryFile("garbage.gz", Data([0x1F, 0x8B, 0x08, 0x00] + Array("not deflate data at all".utf8)))
        defer { try? FileManager.default.removeItem(atPath: garbage) }
        let corrupt = try wirecheck(["-r", garbage])
        #expect(corrupt.status == 3)
        #expect(corrupt.stderr.contains("corrupt or cut off"), "stderr: \(corrupt.stderr)")
    }

    /// Compressions wirecheck does not read: the error names the tool.
    @Test(arguments: [
        ([0x42, 0x5A, 0x68, 0x39, 0x31, 0x41], "bzcat"),
        ([0xFD, 0x37, 0x7A, 0x58, 0x5A, 0x00], "xzcat"),
        ([0x28, 0xB5, 0x2F, 0xFD, 0x00, 0x00], "zstdcat"),
        ([0x04, 0x22, 0x4D, 0x18, 0x00, 0x00], "lz4cat"),
    ] as [([UInt8], String)])
    func otherCompressionsSayHowToRead(magic: [UInt8], command: String) throws {
        let path = try temporaryFile("capture.compressed", Data(magic + [UInt8](repeating: 0x5A, count: 64)))
        defer { try? FileManager.default.removeItem(atPath: path) }
        let run = try wirecheck(["-r", path])
        #expect(run.status == 3)
        #expect(run.stderr.contains("unknown file format; it is"), "stderr: \(run.stderr)")
        #expect(run.stderr.contains("\(command) FILE | wirecheck -r -"), "stderr: \(run.stderr)")
    }

    /// A file name that is a pipe is not peeked at for compression: the
    /// bytes peeked would be lost to libpcap.
    @Test func pipesAreNotPeekedAt() throws {
        let binary = try #require(TestSupport.binary)
        let run = try TestSupport.run(URL(fileURLWithPath: "/bin/sh"),
                                      ["-c", "cat \"$0\" | \"$1\" -r /dev/stdin --json", capture, binary.path])
        let plain = try wirecheck(["-r", capture, "--json"])
        #expect(TestSupport.flowLines(run.stdout) == TestSupport.flowLines(plain.stdout), "stderr: \(run.stderr)")
    }
}
