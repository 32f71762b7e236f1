import CSpawn

#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#endif

/// `-z`: a command run on each of `-w`'s files once it is closed, as tcpdump
/// runs it (`-z gzip` compresses each rotated file): `COMMAND FILE`, without
/// a shell (the file's name is one argument, whatever it holds), at the
/// lowest priority, as the user wirecheck runs as by then. Unlike tcpdump's,
/// the last file gets it too, and wirecheck waits for the commands and says
/// which failed, so that what follows it finds the files done.
///
/// Used by one thread at a time: the one writing the files (the capture's,
/// or a replay's reading thread), then the one that waits at the end.
final class PostRotateCommand {
    /// As given to `-z`: a name looked up on PATH, or a path.
    let command: String
    /// Commands run at once, at most: a replay closes files far faster than
    /// gzip compresses them, and must not start a process per file at once.
    let concurrency: Int
    /// Commands started and not yet waited for, with the file each was given.
    private var running: [(pid: pid_t, file: String)] = []
    /// Files waiting for one of those to end, oldest first, from `nextWaiting`
    /// (an index, not removals from the front: a replay may queue thousands).
    private var waiting: [String] = []
    private var nextWaiting = 0
    /// How commands ended or why they could not start, until `finished` hands them over.
    private var outcomes: [(file: String, failure: String?)] = []

    init(command: String, concurrency: Int) {
        self.command = command
        self.concurrency = max(concurrency, 1)
    }

    /// Whether `command` can be started, by the real user (`access`): a path
    /// to an executable file, or a name found on PATH (as posix_spawnp looks).
    static func canRun(_ command: String) -> Bool {
        guard !command.isEmpty else { return false }
        func executable(_ path: String) -> Bool {
            var info = stat()
            return stat(path, &info) == 0 && info.st_mode & S_IFMT == S_IFREG && access(path, X_OK) == 0
        }
        if command.contains("/") { return executable(command) }
        let path = getenv("PATH").map { String(cString: $0) } ?? "/usr/local/bin:/usr/bin:/bin"
        return path.split(separator: ":", omittingEmptySubsequences: false).contains { directory in
            executable((directory.isEmpty ? "." : String(directory)) + "/" + command)
        }
    }

    /// Runs the command on `file` now, or once fewer than `concurrency` run
    /// (never waiting: the capture goes on).
    func run(on file: String) {
        reap()
        waiting.append(file)
        startWaiting()
    }

    /// Starts the files waiting, as far as `concurrency` allows.
    private func startWaiting() {
        while running.count < concurrency, nextWaiting < waiting.count {
            let file = waiting[nextWaiting]
            nextWaiting += 1
            if let failure = start(on: file) { outcomes.append((file, "could not be started (\(failure))")) }
        }
        if nextWaiting == waiting.count {
            waiting.removeAll(keepingCapacity: true)
            nextWaiting = 0
        }
    }

    /// Starts the command on `file`; the reason, if it could not be started.
    /// Its output goes to stderr (never into the report on stdout), its input
    /// is /dev/null, it has no other descriptor of wirecheck's, and it runs
    /// in a process group of its own, so that the Ctrl-C that ends the
    /// capture does not cut short the last compression.
    private func start(on file: String) -> String? {
        var actions = posix_spawn_file_actions_t()
        var attributes = posix_spawnattr_t()
        posix_spawn_file_actions_init(&actions)
        posix_spawnattr_init(&attributes)
        defer {
            posix_spawn_file_actions_destroy(&actions)
            posix_spawnattr_destroy(&attributes)
        }
        posix_spawn_file_actions_addopen(&actions, 0, "/dev/null", O_RDONLY, 0)
        posix_spawn_file_actions_adddup2(&actions, 2, 1)
        // Nothing else of wirecheck's: not the capture socket (a command
        // outliving wirecheck would keep the kernel capturing into it), not
        // the file being written, not the report.
        let closing = wirecheck_spawn_close_from(&actions, 3)
        guard closing == 0 else { return String(cString: strerror(closing)) }
        // Signals as a new program expects them: none blocked (the thread
        // that writes may block some), SIGPIPE and those wirecheck catches
        // at their defaults.
        var empty = sigset_t(), defaults = sigset_t()
        sigemptyset(&empty)
        sigemptyset(&defaults)
        for signal in [SIGPIPE, SIGINT, SIGTERM, SIGUSR1] { sigaddset(&defaults, signal) }
        posix_spawnattr_setsigmask(&attributes, &empty)
        posix_spawnattr_setsigdefault(&attributes, &defaults)
        posix_spawnattr_setpgroup(&attributes, 0)
        posix_spawnattr_setflags(&attributes, Int16(POSIX_SPAWN_SETSIGMASK | POSIX_SPAWN_SETSIGDEF | POSIX_SPAWN_SETPGROUP))

        var pid: pid_t = 0
        let arguments = [command, file].map { $0.withCString { strdup($0) } }
        defer { arguments.forEach { free($0) } }
        let status = (arguments + [nil]).withUnsafeBufferPointer { argv -> Int32 in
            guard let argv = argv.baseAddress else { return EINVAL }
            return posix_spawnp(&pid, command, &actions, &attributes, argv, environ)
        }
        guard status == 0 else { return String(cString: strerror(status)) }
        // tcpdump's child lowers its own priority; a spawned one is lowered
        // by its parent, an instant after it starts.
        setpriority(__priority_which_t(PRIO_PROCESS.rawValue), id_t(pid), 19)
        running.append((pid, file))
        return nil
    }

    /// The commands that have ended since the last look, each with how it
    /// failed (nil when it exited with status 0); those waiting are started
    /// as others end. Never waits: a blocking wait would not return on
    /// Ctrl-C (signal handlers restart it).
    func finished() -> [(file: String, failure: String?)] {
        reap()
        startWaiting()
        defer { outcomes.removeAll() }
        return outcomes
    }

    /// Takes in the commands that have ended (into `outcomes`).
    private func reap() {
        running.removeAll { command in
            var status: Int32 = 0
            var result: pid_t
            repeat {
                result = waitpid(command.pid, &status, WNOHANG)
            } while result < 0 && errno == EINTR
            guard result != 0 else { return false }
            outcomes.append((command.file, result < 0 ? String(cString: strerror(errno)) : Self.failure(status)))
            return true
        }
    }

    /// Files whose commands run, and those that wait to.
    var unfinishedFiles: (running: [String], waiting: [String]) { (running.map(\.file), Array(waiting[nextWaiting...])) }

    /// How a wait status says the command failed; nil for exit status 0.
    static func failure(_ status: Int32) -> String? {
        let signal = status & 0x7f
        if signal == 0 {
            let code = (status >> 8) & 0xff
            return code == 0 ? nil : "exited with status \(code)"
        }
        return "killed by signal \(signal)"
    }
}
