import Foundation
import FlowAnalysis
import PacketCapture
import VerdictPolicy

/// Paths and helpers shared by tests that run real captures and the real binary.
enum TestSupport {
    /// Bytes from lower-case hex digits ("0a1b..."), as samples are written in tests.
    static func hex(_ text: String) -> [UInt8] {
        var bytes: [UInt8] = []
        var high: UInt8?
        for c in text.utf8 {
            let v = c <= 0x39 ? c - 0x30 : c - 0x61 + 10
            if let h = high { bytes.append(h << 4 | v); high = nil } else { high = v }
        }
        return bytes
    }

    /// The package root, found from this file's location.
    static let packageRoot: URL = URL(fileURLWithPath: #filePath)
        .deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()

    static let capturesDirectory = packageRoot.appendingPathComponent("Captures")

    /// `../shared/corpus` beside the project, present on developer machines and CI only.
    static let corpusDirectory = packageRoot.deletingLastPathComponent().appendingPathComponent("shared/corpus")

    /// The `wirecheck` binary built next to the test bundle.
    static var binary: URL? { builtProduct("wirecheck") }

    /// util-linux's `taskset`, to run a command on chosen processors; nil,
    /// saying so, when it is not installed (the caller skips).
    static var taskset: URL? {
        let taskset = URL(fileURLWithPath: "/usr/bin/taskset")
        guard FileManager.default.isExecutableFile(atPath: taskset.path) else {
            print("skipped: /usr/bin/taskset (util-linux) not installed")
            return nil
        }
        return taskset
    }

    /// An executable product built next to the test bundle.
    static func builtProduct(_ name: String) -> URL? {
        let executable = URL(fileURLWithPath: "/proc/self/exe").resolvingSymlinksInPath()
        var directory = executable.deletingLastPathComponent()
        // The test runner may live inside a .xctest bundle directory.
        for _ in 0..<3 {
            let candidate = directory.appendingPathComponent(name)
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

    /// Runs a program to completion. Output goes to files, not pipes, so a
    /// daemon the program leaves behind (the lab's nginx) cannot hold it open.
    static func run(_ executable: URL, _ arguments: [String], stdinPath: String? = nil) throws -> ProcessResult {
        let child = try Subprocess(executable.path, arguments, stdinPath: stdinPath)
        let status = child.wait()
        defer { child.removeFiles() }
        return ProcessResult(status: status, stdout: child.stdout, stderr: child.stderr)
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

    /// The flow lines of JSON Lines output, as written (for comparing two runs line for line).
    static func flowLines(_ text: String) -> [String] {
        text.split(separator: "\n").map(String.init).filter { $0.hasPrefix(#"{"type":"flow""#) }
    }

    static var isRoot: Bool { geteuid() == 0 }

    /// Writes `contents` into the FIFO at `path` on a thread of its own (more
    /// than a pipe holds would block the test), once a reader has it open
    /// (waiting at most 30 s), then closes it: the reader sees the end.
    /// A reader that goes away fails the write (EPIPE) instead of ending the tests.
    static func feed(fifo path: String, with contents: Data) {
        signal(SIGPIPE, SIG_IGN)
        let writer = Thread {
            // ENXIO while no reader has it open.
            var descriptor: Int32 = -1
            for _ in 0..<3_000 {
                descriptor = open(path, O_WRONLY | O_NONBLOCK)
                if descriptor >= 0 || errno != ENXIO { break }
                usleep(10_000)
            }
            guard descriptor >= 0 else { return }
            _ = fcntl(descriptor, F_SETFL, 0)
            _ = contents.withUnsafeBytes { Glibc.write(descriptor, $0.baseAddress, $0.count) }
            close(descriptor)
        }
        writer.start()
    }
}

struct TestFailure: Error, CustomStringConvertible {
    var description: String
    init(_ description: String) { self.description = description }
}

/// A child process started with posix_spawn and reaped with waitpid.
/// (Foundation's Process sometimes never notices its child exited on Linux,
/// hanging `waitUntilExit`; this has no such machinery to go wrong.)
final class Subprocess: @unchecked Sendable {
    let pid: pid_t
    let stdoutPath: String
    let stderrPath: String
    private var exitStatus: Int32?

    init(_ path: String, _ arguments: [String], stdinPath: String? = nil) throws {
        let base = FileManager.default.temporaryDirectory.appendingPathComponent("wirecheck-test-\(UUID().uuidString)").path
        stdoutPath = base + ".out"
        stderrPath = base + ".err"
        var actions = posix_spawn_file_actions_t()
        posix_spawn_file_actions_init(&actions)
        defer { posix_spawn_file_actions_destroy(&actions) }
        posix_spawn_file_actions_addopen(&actions, 0, stdinPath ?? "/dev/null", O_RDONLY, 0)
        posix_spawn_file_actions_addopen(&actions, 1, stdoutPath, O_WRONLY | O_CREAT | O_TRUNC, 0o600)
        posix_spawn_file_actions_addopen(&actions, 2, stderrPath, O_WRONLY | O_CREAT | O_TRUNC, 0o600)
        let argv: [UnsafeMutablePointer<CChar>?] = ([path] + arguments).map { strdup($0) } + [nil]
        defer { for pointer in argv { free(pointer) } }
        // The calling thread (a libdispatch worker) blocks all signals and a
        // child inherits that mask: start it with none blocked, as a shell would.
        var attributes = posix_spawnattr_t()
        posix_spawnattr_init(&attributes)
        defer { posix_spawnattr_destroy(&attributes) }
        var empty = sigset_t()
        sigemptyset(&empty)
        posix_spawnattr_setsigmask(&attributes, &empty)
        posix_spawnattr_setflags(&attributes, Int16(POSIX_SPAWN_SETSIGMASK))
        var child: pid_t = 0
        let result = posix_spawn(&child, path, &actions, &attributes, argv, environ)
        guard result == 0 else { throw TestFailure("cannot start \(path): \(String(cString: strerror(result)))") }
        pid = child
    }

    /// Waits for the child and returns its exit status (128+n if killed by signal n).
    func wait() -> Int32 {
        if let exitStatus { return exitStatus }
        var status: Int32 = 0
        while waitpid(pid, &status, 0) < 0, errno == EINTR {}
        let code = (status & 0x7F) == 0 ? (status >> 8) & 0xFF : 128 + (status & 0x7F)
        exitStatus = code
        return code
    }

    /// Waits at most `timeout` seconds; nil if still running.
    func wait(timeout: Double) -> Int32? {
        let deadline = Date().addingTimeInterval(timeout)
        while Date() < deadline {
            if let exitStatus { return exitStatus }
            var status: Int32 = 0
            let result = waitpid(pid, &status, WNOHANG)
            if result == pid {
                exitStatus = (status & 0x7F) == 0 ? (status >> 8) & 0xFF : 128 + (status & 0x7F)
                return exitStatus
            }
            Thread.sleep(forTimeInterval: 0.05)
        }
        return nil
    }

    func send(_ signal: Int32) { kill(pid, signal) }

    var stdout: String { (try? String(contentsOfFile: stdoutPath, encoding: .utf8)) ?? "" }
    /// The names of its threads (`comm`), as wirecheck names them (`wc-read`, `wc-report`).
    var threadNames: [String] {
        let tasks = (try? FileManager.default.contentsOfDirectory(atPath: "/proc/\(pid)/task")) ?? []
        return tasks.compactMap { try? String(contentsOfFile: "/proc/\(pid)/task/\($0)/comm", encoding: .utf8) }
            .map { $0.trimmingCharacters(in: .whitespacesAndNewlines) }
    }
    var stderr: String { (try? String(contentsOfFile: stderrPath, encoding: .utf8)) ?? "" }

    /// Polls stderr until it contains `needle`.
    func waitForStderr(_ needle: String, timeout: Double) -> Bool {
        let deadline = Date().addingTimeInterval(timeout)
        while Date() < deadline {
            if stderr.contains(needle) { return true }
            Thread.sleep(forTimeInterval: 0.05)
        }
        return false
    }

    func removeFiles() {
        try? FileManager.default.removeItem(atPath: stdoutPath)
        try? FileManager.default.removeItem(atPath: stderrPath)
    }
}
