import Foundation
import FlowAnalysis
import PacketCapture
import VerdictPolicy

/// Paths and helpers shared by tests that run real captures and the real binary.
enum TestSupport {
    /// The package root, found from this file's location.
    static let packageRoot: URL = URL(fileURLWithPath: #filePath)
        .deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()

    static let capturesDirectory = packageRoot.appendingPathComponent("Captures")

    /// `../shared/corpus` beside the project, present on developer machines and CI only.
    static let corpusDirectory = packageRoot.deletingLastPathComponent().appendingPathComponent("shared/corpus")

    /// The `wirecheck` binary built next to the test bundle.
    static var binary: URL? {
        let executable = URL(fileURLWithPath: "/proc/self/exe").resolvingSymlinksInPath()
        var directory = executable.deletingLastPathComponent()
        // The test runner may live inside a .xctest bundle directory.
        for _ in 0..<3 {
            let candidate = directory.appendingPathComponent("wirecheck")
            var isDirectory: ObjCBool = false
            if FileManager.default.fileExists(atPath: candidate.path, isDirectory: &isDirectory), !isDirectory.boolValue {
                return candidate
            }
            directory = directory.deletingLastPathComponent()
        }
        return nil
    }

    struct ProcessResult {
        var status: Int32
        var stdout: String
        var stderr: String
    }

    /// Runs a program to completion, feeding `input` to its standard input.
    static func run(_ executable: URL, _ arguments: [String], input: Data? = nil) throws -> ProcessResult {
        let process = Process()
        process.executableURL = executable
        process.arguments = arguments
        let out = Pipe(), err = Pipe()
        process.standardOutput = out
        process.standardError = err
        let inPipe = Pipe()
        process.standardInput = input == nil ? FileHandle.nullDevice : inPipe
        try process.run()
        if let input {
            try inPipe.fileHandleForWriting.write(contentsOf: input)
            try inPipe.fileHandleForWriting.close()
        }
        // Drain both pipes while the child runs, so a large output cannot block it.
        let stdout = PipeCollector(out), stderr = PipeCollector(err)
        _ = stdout.waitForEnd(timeout: 600)
        _ = stderr.waitForEnd(timeout: 600)
        process.waitUntilExit()
        return ProcessResult(status: process.terminationStatus, stdout: stdout.text, stderr: stderr.text)
    }

    /// Analyses a capture file in-process, the way the CLI does.
    static func analyze(_ path: String, configuration: AnalyzerConfiguration = AnalyzerConfiguration()) throws -> (reports: [FlowReport], summary: RunSummary, readError: String?) {
        let source = try PacketSource.openFile(path)
        var analyzer = FlowAnalyzer(linkType: source.linkType, configuration: configuration)
        var reports: [FlowReport] = []
        var summary = RunSummary()
        var readError: String?
        let emit: (FlowReport) -> Void = { reports.append($0); summary.add($0) }
        reading: while true {
            switch source.next() {
            case .packet(let packet):
                analyzer.process(frame: packet.bytes, originalLength: packet.originalLength,
                                 timestamp: packet.timestampNanoseconds, emit: emit)
            case .timeout: continue
            case .end: break reading
            case .failed(let error): readError = error.message; break reading
            }
        }
        analyzer.finish(emit: emit)
        return (reports, summary, readError)
    }

    /// JSON Lines output parsed into dictionaries.
    static func jsonLines(_ text: String) throws -> [[String: Any]] {
        try text.split(separator: "\n").map { line in
            let object = try JSONSerialization.jsonObject(with: Data(line.utf8))
            guard let dictionary = object as? [String: Any] else { throw TestFailure("not a JSON object: \(line)") }
            return dictionary
        }
    }

    static var isRoot: Bool { geteuid() == 0 }
}

struct TestFailure: Error, CustomStringConvertible {
    var description: String
    init(_ description: String) { self.description = description }
}

/// Collects a pipe's output on a background thread so a test can wait for a line.
final class PipeCollector: @unchecked Sendable {
    private let lock = NSLock()
    private var data = Data()
    private let done = DispatchSemaphore(value: 0)

    init(_ pipe: Pipe) {
        let handle = pipe.fileHandleForReading
        Thread.detachNewThread { [self] in
            while true {
                let chunk = handle.availableData
                if chunk.isEmpty { break }
                lock.lock(); data.append(chunk); lock.unlock()
            }
            done.signal()
        }
    }

    var text: String { lock.lock(); defer { lock.unlock() }; return String(decoding: data, as: UTF8.self) }

    func waitForEnd(timeout: Double) -> Bool { done.wait(timeout: .now() + timeout) == .success }

    func waitFor(_ needle: String, timeout: Double) -> Bool {
        let deadline = Date().addingTimeInterval(timeout)
        while Date() < deadline {
            if text.contains(needle) { return true }
            Thread.sleep(forTimeInterval: 0.05)
        }
        return false
    }
}

