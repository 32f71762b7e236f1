import ArgumentParser
import CStreamInput
import FlowAnalysis
import PacketCapture
import PacketDecoding
import Reporting
import StreamReassembly
import VerdictPolicy

#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#endif

/// Set by SIGINT/SIGTERM; the read loop checks it between packets and on
/// every read timeout, so Ctrl-C ends the capture cleanly with a summary.
nonisolated(unsafe) var stopRequested: sig_atomic_t = 0
/// Set by SIGUSR1: a live capture writes its counts so far to stderr and
/// goes on, as tcpdump does on Linux.
nonisolated(unsafe) var countsRequested: sig_atomic_t = 0

struct Wirecheck: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "wirecheck",
        abstract: "Prove whether TCP flows are encrypted: a verdict per flow from live traffic or a capture file.",
        discussion: """
        Verdicts: encrypted (every payload byte in both directions is TLS record framing), \
        plaintext (cleartext application data crossed the wire), plaintext-rejected (a cleartext \
        client got no payload back and the server closed or reset: what Istio STRICT does to a \
        client outside the mesh; or a mesh proxy's own refusal of cleartext HTTP, HTTP/2 or gRPC \
        by policy (a 403 or gRPC status 7, as Linkerd's and Istio's send), opaque (neither TLS \
        nor known cleartext), inconclusive (the capture cannot tell; the reason says why). Ports are never used to decide.

        Exit status: 0 no plaintext flow and at least one conclusive flow; 1 at least one \
        plaintext flow not expected by design (Istio's plaintext ports, --expect-plaintext), or a \
        verdict named by --fail-on; 2 nothing conclusive (no matching traffic, or only inconclusive flows, \
        or a file's replay stopped by Ctrl-C before its end); 3 usage, permission or capture error.

        Examples:
          wirecheck -i any host 10.111.1.122 and port 80
          wirecheck -r Captures/permissive.pcap --json
        """,
        version: "wirecheck \(WirecheckVersion.current)\n\(PacketSource.libraryVersion)"
    )

    @Option(name: [.customShort("i"), .long], help: ArgumentHelp("Interface to capture on (default: any).", valueName: "interface"))
    var interface: String?

    @Option(name: [.customShort("r"), .long], help: ArgumentHelp(
        "Read packets from a pcap or pcapng file, gzip-compressed or not ('-' for standard input). Repeat it to read several files as one capture, merged by packet time (a rotated tcpdump -C/-G capture, or captures taken at once on two interfaces or nodes).",
        valueName: "file"))
    var read: [String] = []

    @Option(name: [.customShort("s"), .long], help: ArgumentHelp("Snapshot length in bytes for live capture.", valueName: "bytes"))
    var snaplen: Int32 = 262_144

    @Option(name: [.customShort("B"), .long], help: ArgumentHelp("Kernel capture buffer size in KiB.", valueName: "KiB"))
    var bufferSize: Int32 = 32_768

    @Option(name: [.customShort("c"), .long], help: ArgumentHelp("Stop after this many packets.", valueName: "packets"))
    var count: Int?

    @Option(help: ArgumentHelp("Stop after this many seconds.", valueName: "seconds"))
    var duration: Double?

    @Option(name: .customShort("Z"), help: ArgumentHelp(
        "After opening the interface, run as this user (default: tcpdump when it exists; -Z root keeps root).",
        valueName: "user"))
    var user: String?

    @Flag(help: "Write JSON Lines: one object per flow, then a summary object.")
    var json = false

    @Option(name: [.customShort("o"), .long], help: ArgumentHelp(
        "Write the report to this file instead of standard output (\"-\": standard output; opened after privileges are dropped; symbolic links and other users' files in shared directories are refused).",
        valueName: "file"))
    var output: String?

    @Option(name: [.customShort("w"), .customLong("write")], help: ArgumentHelp(
        "Also write the packets read (after the filter) to this pcap file, as tcpdump -w does: payload and credentials included, a new file readable by its owner only; opened like --output.",
        valueName: "file"))
    var packetFile: String?

    @Option(name: [.customShort("C"), .customLong("file-size")], help: ArgumentHelp(
        "With -w: once the file is larger than this many millions of bytes, start a new one (named as tcpdump -C names them: FILE, FILE1, FILE2…).",
        valueName: "millions of bytes"))
    var fileSize: Int64?

    @Option(name: [.customShort("G"), .customLong("rotate-seconds")], help: ArgumentHelp(
        "With -w, in a live capture: start a new file with the first packet this many seconds after the file began, -w's name being a strftime pattern (cap-%Y%m%d-%H%M%S.pcap), as tcpdump -G.",
        valueName: "seconds"))
    var rotateSeconds: Int64?

    @Option(name: [.customShort("W"), .customLong("file-count")], help: ArgumentHelp(
        "With -C: keep at most this many files, overwriting the oldest (a ring, named FILE0, FILE1… as tcpdump -W names them). With -G alone: stop the capture after this many files.",
        valueName: "files"))
    var fileCount: Int?

    @Option(name: [.customShort("z"), .customLong("postrotate-command")], help: ArgumentHelp(
        "With -C or -G: run this command on each file once it is closed, the last one too (-z gzip), as tcpdump -z: 'COMMAND FILE', no shell, at the lowest priority; wirecheck waits for it at the end.",
        valueName: "command"))
    var postRotateCommand: String?

    @Option(help: ArgumentHelp(
        "Also fail (exit 1) on these verdicts, comma-separated: opaque, inconclusive, plaintext-rejected.",
        valueName: "verdicts"))
    var failOn: String?

    @Option(help: ArgumentHelp(
        "List only flows with these verdicts, comma-separated (e.g. plaintext,plaintext-rejected), or failing: the flows that fail the run (plaintext not expected, --fail-on's verdicts); the summary still counts every flow.",
        valueName: "verdicts"))
    var show: String?

    @Option(help: ArgumentHelp(
        "Show names beside addresses, from this file: lines of 'ADDRESS... NAME', e.g. pods and services listed by kubectl (see the README).",
        valueName: "file"))
    var names: String?

    @Option(help: ArgumentHelp(
        "In a live capture, how often to look for changes to the --names file, which is read again once it has stopped changing.",
        valueName: "seconds"))
    var namesInterval: Double = 10

    @Flag(help: "Count plaintext to Istio's plaintext-by-design ports (15010, 15020, 15021, 15090) as a failure too.")
    var noIstioAllowance = false

    @Option(help: ArgumentHelp(
        "Plaintext expected by design, comma-separated: to a port on any address (4191, Linkerd's proxy admin port, which kubelet probes and Prometheus scrapes in clear), or on an address or range (10.111.1.0/24:9100, [fd00::1]:8080), or kube-probe (kubelet's HTTP and gRPC probes), or from clients in a range, to any server or to one of those ('from 35.191.0.0/16 to 8080', quoted): reported as plaintext (expected), not failing.",
        valueName: "list"))
    var expectPlaintext: String?

    @Option(help: ArgumentHelp("Flows tracked at once; beyond it the oldest idle flow gets its verdict and is dropped.", valueName: "flows"))
    var maxFlows: Int = AnalyzerConfiguration().maximumFlows

    @Option(help: ArgumentHelp("Out-of-order bytes held per direction of a flow, in KiB, before a gap is declared.", valueName: "KiB"))
    var maxFlowBuffer: Int = ReassemblyBudget.defaultPerDirectionBytes / 1024

    @Option(help: ArgumentHelp("Out-of-order bytes held by all flows together, in MiB.", valueName: "MiB"))
    var maxBuffer: Int = ReassemblyBudget.defaultTotalBytes / (1024 * 1024)

    @Option(help: ArgumentHelp("Seconds without a packet (capture time) after which a flow gets its verdict.", valueName: "seconds"))
    var idleTimeout: Double = 300

    @Argument(help: "BPF filter expression, as tcpdump takes it (e.g. host 10.111.1.122 and port 80).")
    var filter: [String] = []

    func validate() throws {
        if interface != nil, !read.isEmpty { throw ValidationError("-i and -r cannot be used together") }
        if read.filter({ $0 == "-" }).count > 1 { throw ValidationError("-r -: standard input can be read only once") }
        // tcpdump's `-w -` writes packets to standard output; here the report goes there.
        if packetFile == "-" { throw ValidationError("-w -: packets cannot go to standard output (the report does); give a file name") }
        if let count, count <= 0 { throw ValidationError("-c must be a positive number of packets") }
        if let duration, !(duration > 0) { throw ValidationError("--duration must be a positive number of seconds") }
        if snaplen <= 0 { throw ValidationError("-s must be positive") }
        if bufferSize <= 0 { throw ValidationError("-B must be positive") }
        if let fileSize {
            guard packetFile != nil else { throw ValidationError("-C splits -w's file: give -w FILE too") }
            guard fileSize > 0, fileSize <= Int64.max / PacketFileRotation.unitBytes else {
                throw ValidationError("-C must be a positive number of millions of bytes")
            }
        }
        if let rotateSeconds {
            guard let packetFile else { throw ValidationError("-G splits -w's file: give -w FILE too") }
            guard read.isEmpty else {
                throw ValidationError("-G splits a live capture's file by the clock; a capture file is split by time with editcap -i SECONDS")
            }
            guard rotateSeconds > 0, rotateSeconds <= 1_000_000_000 else {
                throw ValidationError("-G must be a positive number of seconds, under 10^9")
            }
            guard PacketFileRotation.hasTimeConversion(packetFile) else {
                throw ValidationError("-G names each file by the time it began: give -w a strftime pattern, such as cap-%Y%m%d-%H%M%S.pcap")
            }
        }
        if let fileCount {
            guard fileSize != nil || rotateSeconds != nil else {
                throw ValidationError("-W keeps a ring of -C's files or stops -G's after so many: give -C or -G too")
            }
            guard fileCount > 0 else { throw ValidationError("-W must be a positive number of files") }
        }
        if let postRotateCommand {
            guard fileSize != nil || rotateSeconds != nil else {
                throw ValidationError("-z runs on each of -C's or -G's files: give -C or -G too")
            }
            guard PostRotateCommand.canRun(postRotateCommand) else {
                throw ValidationError("-z \(postRotateCommand): \(postRotateCommand.contains("/") ? "not an executable file" : "no such program on PATH")")
            }
        }
        if !(idleTimeout > 0) { throw ValidationError("--idle-timeout must be positive") }
        _ = try failOnVerdicts()
        _ = try plaintextExpectations()
        _ = try shownFlows()
        if maxFlows <= 0 || maxFlowBuffer <= 0 || maxBuffer <= 0 {
            throw ValidationError("--max-flows, --max-flow-buffer and --max-buffer must be positive")
        }
        // Upper bounds keep the conversions to bytes and nanoseconds exact.
        if maxFlowBuffer > 1 << 30 || maxBuffer > 1 << 30 {
            throw ValidationError("--max-flow-buffer and --max-buffer are too large")
        }
        if !(namesInterval > 0) || namesInterval > 1e6 { throw ValidationError("--names-interval must be a positive number of seconds") }
        if idleTimeout > 1e9 || (duration ?? 0) > 1e9 {
            throw ValidationError("--idle-timeout and --duration must be under 10^9 seconds")
        }
    }

    /// `--expect-plaintext`'s entries, in the order given (the first that
    /// matches a flow is the one its reason names).
    func plaintextExpectations() throws -> [PlaintextExpectation] {
        guard let expectPlaintext else { return [] }
        var entries: [PlaintextExpectation] = []
        for word in expectPlaintext.split(separator: ",", omittingEmptySubsequences: false) {
            do {
                let entry = try PlaintextExpectation(parsing: word)
                if !entries.contains(entry) { entries.append(entry) }
            } catch {
                throw ValidationError("--expect-plaintext: \(error)")
            }
        }
        return entries
    }

    func failOnVerdicts() throws -> Set<Verdict> {
        guard let failOn else { return [] }
        return try Self.verdicts(failOn, option: "--fail-on", allowed: Verdict.allCases.filter { $0 != .encrypted })
    }

    /// `--show`'s verdicts, in the order verdicts are listed, and whether
    /// `failing` (the flows that fail the run) was named; nil without it.
    func shownFlows() throws -> (verdicts: [Verdict], failing: Bool)? {
        guard let show else { return nil }
        let words = show.split(separator: ",").map { String($0.filter { $0 != " " }) }
        let failing = words.contains("failing")
        let named = words.filter { $0 != "failing" }.joined(separator: ",")
        let chosen = try Self.verdicts(named, option: "--show", allowed: Verdict.allCases, also: ["failing"])
        guard !chosen.isEmpty || failing else { throw ValidationError("--show: name at least one verdict") }
        return (Verdict.allCases.filter(chosen.contains), failing)
    }

    /// A comma-separated list of verdict names, each one of `allowed`.
    static func verdicts(_ list: String, option: String, allowed: [Verdict], also: [String] = []) throws -> Set<Verdict> {
        var verdicts: Set<Verdict> = []
        for name in list.split(separator: ",") {
            let trimmed = String(name.filter { $0 != " " })
            guard let verdict = Verdict(rawValue: trimmed), allowed.contains(verdict) else {
                throw ValidationError("\(option): '\(trimmed)' is not one of \((allowed.map(\.rawValue) + also).joined(separator: ", "))")
            }
            verdicts.insert(verdict)
        }
        return verdicts
    }

    /// Runs the capture and returns the exit status.
    func execute() -> Int32 {
        var endpointNames: EndpointNames?
        if let names {
            do {
                endpointNames = try NamesFile.load(names)
            } catch {
                standardError("wirecheck: \(error)\n")
                return 3
            }
            if let skipped = endpointNames?.skippedLines, skipped > 0 {
                standardError("wirecheck: --names \(names): \(skipped) line\(skipped == 1 ? "" : "s") without an address skipped\n")
            }
        }
        let source: PacketSource
        let sourceName: String
        do {
            if !read.isEmpty {
                source = try PacketSource.openFiles(read)
                sourceName = Self.describe(files: read)
            } else {
                var options = LiveCaptureOptions()
                options.interface = liveInterface
                options.snapshotLength = snaplen
                options.bufferKiB = bufferSize
                source = try PacketSource.openInterface(options)
                sourceName = "interface \(options.interface)"
            }
            if let filterExpression { try source.setFilter(filterExpression) }
        } catch {
            standardError("wirecheck: \(error)\n")
            return 3
        }
        guard LinkType.supported.contains(source.linkType) else {
            // Named by libpcap ("unsupported link type link type 123" before),
            // with what wirecheck does read.
            var readable: [String] = []
            for type in LinkType.supported.sorted() where !readable.contains(LinkType.name(type)) { readable.append(LinkType.name(type)) }
            standardError("wirecheck: \(sourceName): \(linkTypeDescription(source.linkType)) is not a link type wirecheck decodes; "
                          + "it reads \(readable.joined(separator: ", "))\n")
            return 3
        }
        // As many at once as processors (the command is usually gzip).
        let postRotate = postRotateCommand.map { PostRotateCommand(command: $0, concurrency: usableProcessors()) }
        if source.isLive {
            // The capture socket is open and filtered: root is no longer needed.
            var runningAs = ""
            if let target = Privileges.target(requested: user) {
                do {
                    try Privileges.drop(to: target)
                    runningAs = ", running as \(target)"
                } catch {
                    standardError("wirecheck: \(error)\n")
                    return 3
                }
            }
            // The report file is opened as the user wirecheck now runs as, as tcpdump does with -w.
            if !openOutput() || !openPacketFile(for: source, postRotate: postRotate) { return 3 }
            // Like tcpdump: say where we listen, on stderr, once capture is active.
            standardError("wirecheck: listening on \(liveInterface), link-type \(LinkType.name(source.linkType)), snapshot length \(source.snapshotLength) bytes\(runningAs)\n")
        } else if !openOutput() || !openPacketFile(for: source, postRotate: postRotate) {
            return 3
        }
        // Wrapped only when asked: the plain reporters keep their specialised path.
        let failOn = (try? failOnVerdicts()) ?? []
        switch (json, (try? shownFlows()) ?? nil) {
        case (true, nil):
            var reporter = JSONLinesReporter(names: endpointNames)
            return analyze(source, sourceName: sourceName, reporter: &reporter, postRotate: postRotate)
        case (false, nil):
            var reporter = TextReporter(names: endpointNames)
            return analyze(source, sourceName: sourceName, reporter: &reporter, postRotate: postRotate)
        case (true, let shown?):
            var reporter = ShownVerdicts(JSONLinesReporter(names: endpointNames), shown: Set(shown.verdicts), failing: shown.failing, failOn: failOn)
            return analyze(source, sourceName: sourceName, reporter: &reporter, postRotate: postRotate)
        case (false, let shown?):
            var reporter = ShownVerdicts(TextReporter(names: endpointNames), shown: Set(shown.verdicts), failing: shown.failing, failOn: failOn)
            return analyze(source, sourceName: sourceName, reporter: &reporter, postRotate: postRotate)
        }
    }

    /// How the summary names what was read: the file, or how many files and which.
    static func describe(files: [String]) -> String {
        guard files.count > 1 else { return files.first == "-" ? "standard input" : files.first ?? "" }
        let shown = files.count <= 4 ? files.joined(separator: ", ") : "\(files[0]), \(files[1]) … \(files[files.count - 1])"
        return "\(files.count) files (\(shown))"
    }

    /// The interface a live capture opens.
    private var liveInterface: String { interface ?? "any" }

    /// The BPF filter's words as one expression; nil for none.
    private var filterExpression: String? { filter.isEmpty ? nil : filter.joined(separator: " ") }

    /// A live capture's counts so far, for SIGUSR1: one line, on stderr.
    static func countsSoFar(_ summary: RunSummary, open: Int, packets: Int, statistics: CaptureStatistics?) -> String {
        // As the summary counts them: plaintext the policy expects said apart.
        let verdicts = Verdict.allCases.map { verdict in
            let expected = verdict == .plaintext && summary.expectedPlaintext > 0 ? " (\(summary.expectedPlaintext) expected)" : ""
            return "\(summary.count(verdict)) \(verdict.rawValue)\(expected)"
        }.joined(separator: ", ")
        var line = "wirecheck: so far \(packets) packet\(packets == 1 ? "" : "s"), \(summary.flows) flow\(summary.flows == 1 ? "" : "s") judged"
        line += " (\(verdicts)), \(open) open"
        if let statistics {
            line += ", \(statistics.droppedByKernel) dropped by the kernel, \(statistics.droppedByInterface) by the interface"
        }
        return line + "\n"
    }

    /// Has `source` write what it reads to `-w`'s file, if given; says why not
    /// on failure. Never one of the files being read (truncated, it would be
    /// lost before it was read) nor the report's.
    private func openPacketFile(for source: PacketSource, postRotate: PostRotateCommand?) -> Bool {
        guard let packetFile else { return true }
        // Checked again as the user wirecheck now runs as, who will start it.
        if let postRotate, !PostRotateCommand.canRun(postRotate.command) {
            let user = getpwuid(geteuid()).map { String(cString: $0.pointee.pw_name) } ?? "uid \(geteuid())"
            standardError("wirecheck: -z \(postRotate.command): \(user), the user wirecheck runs as, cannot run it; "
                          + "put it where that user can, or keep root with -Z root\n")
            return false
        }
        let rotation = packetFileRotation
        do {
            // In a ring the first file's name has its number too (FILE0);
            // with -G, the time it began, by the clock (as tcpdump's).
            let firstSlot = PacketFileRotation.Slot(index: 0, startSecond: Int64(time(nil)))
            let first = rotation?.fileName(packetFile, slot: firstSlot) ?? packetFile
            let descriptor = try Self.openPacketFile(first, reading: read, rotating: rotation != nil)
            // Each next file is checked and opened as the first was, as the
            // user wirecheck runs as by then (as tcpdump opens them).
            let inputs = read
            // -z: each file once closed (the last one too, at the end).
            let closed = postRotate.map { commands in
                { (slot: PacketFileRotation.Slot) in commands.run(on: rotation?.fileName(packetFile, slot: slot) ?? packetFile) }
            }
            try source.startWriting(to: descriptor, rotation: rotation, first: firstSlot, closed: closed) {
                (slot: PacketFileRotation.Slot) throws(CaptureError) -> Int32 in
                let name = rotation?.fileName(packetFile, slot: slot) ?? packetFile
                do throws(OutputFile.Failure) {
                    return try Self.openPacketFile(name, reading: inputs, rotating: true)
                } catch {
                    throw CaptureError(.openFailed, error.description)
                }
            }
            return true
        } catch let failure as OutputFile.Failure {
            standardError("wirecheck: \(failure)\n")
        } catch {
            standardError("wirecheck: -w \(packetFile): \(error)\n")
        }
        return false
    }

    /// `-z`'s commands that ended, those that failed named on stderr.
    static func sayHowTheyEnded(_ ended: [(file: String, failure: String?)], of commands: PostRotateCommand) {
        for (file, failure) in ended {
            if let failure { standardError("wirecheck: -z \(commands.command): \(file): \(failure)\n") }
        }
    }

    /// Waits for `-z`'s commands, so that what runs after wirecheck finds the
    /// files done; a Ctrl-C or SIGTERM while it waits leaves them running.
    static func waitForTheEnd(of commands: PostRotateCommand) {
        let signalled = stopRequested
        let started = wallClockNanoseconds()
        var said = false
        while true {
            sayHowTheyEnded(commands.finished(), of: commands)
            let (running, waiting) = commands.unfinishedFiles
            if running.isEmpty, waiting.isEmpty { return }
            if stopRequested != signalled {
                let notRun = waiting.isEmpty ? "" : "; not run on \(listed(waiting))"
                standardError("wirecheck: -z \(commands.command): left running on \(listed(running))\(notRun)\n")
                return
            }
            if !said, wallClockNanoseconds() - started >= 1_000_000_000 {
                said = true
                standardError("wirecheck: -z \(commands.command): waiting for it on \(listed(running + waiting)) (Ctrl-C leaves it running)\n")
            }
            usleep(20_000)
        }
    }

    /// Files named in a message: all of a few, else the first two and how many more.
    static func listed(_ files: [String]) -> String {
        files.count <= 3 ? files.joined(separator: ", ") : "\(files[0]), \(files[1]) and \(files.count - 2) more"
    }

    /// How `-C`, `-G` and `-W` split `-w`'s file; nil without `-C` or `-G`.
    private var packetFileRotation: PacketFileRotation? {
        guard fileSize != nil || rotateSeconds != nil else { return nil }
        return PacketFileRotation(bytesPerFile: fileSize.map { $0 * PacketFileRotation.unitBytes },
                                  secondsPerFile: rotateSeconds, fileCount: fileCount)
    }

    /// Where a failed write left the packets written: "the file ends", or
    /// with `-C` or `-G` "the files written end with" the last one started.
    private func writtenEnd(_ source: PacketSource) -> String {
        guard let packetFile, let rotation = packetFileRotation else { return "the file ends" }
        return "the files written end with \(rotation.fileName(packetFile, slot: source.writtenFile)),"
    }

    /// Opens one of `-w`'s files for writing: never one of the files being
    /// read (truncated, it would be lost before it was read) nor the
    /// report's; `rotating`, only a regular file (`-C` would otherwise
    /// create `/dev/null1`…).
    private static func openPacketFile(_ path: String, reading inputs: [String], rotating: Bool) throws(OutputFile.Failure) -> Int32 {
        var target = stat()
        if stat(path, &target) == 0 {
            for input in inputs where input != "-" {
                var info = stat()
                if stat(input, &info) == 0, info.st_dev == target.st_dev, info.st_ino == target.st_ino {
                    throw OutputFile.Failure(description: "-w \(path): is \(input), a capture being read; write elsewhere")
                }
            }
        }
        let descriptor = try OutputFile.open(path, option: "-w", mode: 0o600)
        var written = stat(), report = stat()
        if fstat(descriptor, &written) == 0, fstat(reportDescriptor, &report) == 0,
           written.st_dev == report.st_dev, written.st_ino == report.st_ino {
            close(descriptor)
            throw OutputFile.Failure(description: "-w \(path): is where the report goes too; write elsewhere")
        }
        if rotating, written.st_mode & S_IFMT != S_IFREG {
            close(descriptor)
            throw OutputFile.Failure(description: "-w \(path): -C and -G split a regular file, and this is not one")
        }
        // It holds what crossed in clear, credentials included: its owner's
        // only, also when it was there before (and wirecheck's).
        if written.st_mode & S_IFMT == S_IFREG, written.st_uid == geteuid() { fchmod(descriptor, 0o600) }
        return descriptor
    }

    /// Points the report at `--output`, if given; says why not on failure.
    /// "-" is standard output, as `-r -` is standard input (it made a file
    /// named "-").
    private func openOutput() -> Bool {
        guard let output, output != "-" else { return true }
        do {
            reportDescriptor = try OutputFile.open(output)
            return true
        } catch {
            standardError("wirecheck: \(error)\n")
            return false
        }
    }

    private func analyze<R: Reporter>(_ source: PacketSource, sourceName: String, reporter: inout R, postRotate: PostRotateCommand?) -> Int32 {
        installSignalHandlers()
        var configuration = AnalyzerConfiguration()
        configuration.idleTimeoutNanoseconds = Int64(idleTimeout * 1e9)
        configuration.policy.istioAllowance = !noIstioAllowance
        configuration.policy.expectedPlaintext = (try? plaintextExpectations()) ?? []
        configuration.maximumFlows = maxFlows
        configuration.budget = ReassemblyBudget(perDirectionBytes: maxFlowBuffer * 1024, totalBytes: maxBuffer * 1024 * 1024)
        // A stream's verdicts go out as they come, as a live capture's.
        batchReports = !source.isLive && !source.isStream
        var summary = RunSummary(failOn: (try? failOnVerdicts()) ?? [])
        var facts = CaptureFacts(source: sourceName)
        if source.isLive { facts.interface = liveInterface } else { facts.files = read }
        facts.filter = filterExpression
        facts.libpcapVersion = PacketSource.libraryVersion
        if let shown = (try? shownFlows()) ?? nil {
            facts.shownVerdicts = shown.verdicts
            facts.shownFailing = shown.failing
        }
        let deadline = duration.map { wallClockNanoseconds() + Int64($0 * 1e9) }
        // A stream's quiet writer would hold the read past it.
        if let deadline, source.isStream { wirecheck_stop_streams_at(deadline) }
        var packets = 0
        var lastDrops: UInt64 = 0
        var lastStatsCheck = wallClockNanoseconds()
        // A live capture, or one streamed in, runs for as long as it is let:
        // counts on SIGUSR1, names kept current as pods come and go, -w's
        // file flushed each second (for a stream, after a packet or 100 ms of quiet).
        let runsOn = source.isLive || source.isStream
        var namesWatch = runsOn ? names.map {
            NamesFile.Watch(path: $0, interval: Int64(namesInterval * 1e9), now: lastStatsCheck)
        } : nil

        // File replays judge and report on another thread, and read ahead on
        // a third, when this process may run on more than one processor
        // (with one, handing work between threads only costs). Live captures
        // report inline, as soon as each flow is final.
        let policy = configuration.policy
        // A stream (`zstdcat F | wirecheck -r -`, `tcpdump -w - | …`) reports
        // inline, each verdict as soon as it is final, but is read ahead all
        // the same: its reader hands on what it has read whenever it would
        // wait for the writer (`ReadAhead`), not only when a batch is full.
        // Not with `-w`, whose file this loop flushes while a stream runs
        // (the reading thread would be writing it).
        let processors = usableProcessors()
        let threaded = !source.isLive && !source.isStream && processors >= 2
        let readsAhead = threaded || (source.isStream && packetFile == nil && processors >= 2)
        let worker = threaded ? ReportWorker(reporter: reporter, summary: summary, policy: policy) : nil
        let workerRunning = worker?.start() ?? false
        if workerRunning, let worker {
            configuration.prepareMemory = { address, length in worker.prepareMemory(address: address, length: length) }
        }
        var analyzer = FlowAnalyzer(linkType: source.linkType, configuration: configuration)
        let observe: (consuming FlowObservation) -> Void = { observation in
            if workerRunning, let worker {
                worker.submit(observation)
                return
            }
            let report = VerdictPolicy.judge(observation, options: policy)
            summary.add(report)
            writeReports { reporter.write(report, to: &$0) }
        }
        /// Waits for the worker's last report: nothing else may write until then.
        func settle() {
            if workerRunning, let worker { (summary, reporter) = worker.finish() }
        }

        // libpcap's read loop is a third or more of a replay's time.
        // `-c` counts every packet: copies are then handed over one by one.
        // Packets may be streamed into the batches (`CopyModeChooser`) where
        // the notes need not read the packet before back (not `-i any`'s).
        let readAhead = readsAhead
            ? ReadAhead(source: source, note: Self.frameNotes(linkType: source.linkType), notesCopies: count == nil,
                        writesAhead: count == nil && duration == nil,
                        streamsPackets: !FrameCopyDetector(linkType: source.linkType).comparesPreviousFrame) : nil
        // Without it, this loop recognises copies itself.
        var copies = FrameCopyDetector(linkType: source.linkType)
        // Kept alive by `readAhead` (stopped after the loop); used unretained,
        // which spares a retain and a release per packet.
        // A source writing `-w`'s file is read ahead (and written by that
        // thread) only where the replay reads to the end: with `-c` or
        // `--duration` it would write past where the analysis stops, and
        // this loop then reads the source itself.
        let ahead = readAhead?.start() == true ? readAhead.map { Unmanaged.passUnretained($0) } : nil
        // Read once: an option's property wrapper costs hundreds of instructions per access.
        let packetLimit = count
        // Set when a signal asked the replay to finish early; and whether
        // that left part of a file unread.
        var finishing = false
        var stoppedEarly = false
        // The last packet's time, read directly (a quiet stream's clock starts from it).
        var lastPacketTime: Int64 = 0
        draining: while true {
            reading: while stopRequested == 0 {
                if let packetLimit, packets >= packetLimit { break draining }
                if let deadline, wallClockNanoseconds() >= deadline { break draining }
                if let ahead {
                    switch ahead._withUnsafeGuaranteedRef({ $0.next() }) {
                    case .packet(let packet):
                        packets += 1
                        // The flow index's line for the packet four ahead, by the
                        // hash the reading thread noted: the index is larger than
                        // the cache, and its first load was 29 % of the flow
                        // lookup's time (perf). (The whole state too cost more
                        // than it saved, as stop 18 found.)
                        if let hash = ahead._withUnsafeGuaranteedRef({ $0.note(ahead: 4) })?.flowHash {
                            analyzer.prefetchLookup(flowHash: hash)
                        }
                        guard let note = packet.note else {
                            analyzer.process(frame: packet.bytes, originalLength: packet.originalLength,
                                             timestamp: packet.timestampNanoseconds, observe: observe)
                            continue reading
                        }
                        let fingerprint = note.count > 0 ? (note.range, PayloadFingerprint(value: note.value)) : nil
                        let flowHash = note.flowHash
                        // A copy noted with the packet is counted by its flow
                        // with it where it can be (`copyAt`), else on its own.
                        var copyTaken = false
                        if note.repeatsPrevious {
                            analyzer.processCopy(at: packet.timestampNanoseconds, of: packet.bytes, originalLength: packet.originalLength,
                                                 payloadFingerprint: fingerprint, flowHash: flowHash, observe: observe)
                        } else if note.hasCopy {
                            copyTaken = analyzer.process(frame: packet.bytes, originalLength: packet.originalLength,
                                                         timestamp: packet.timestampNanoseconds, payloadFingerprint: fingerprint,
                                                         flowHash: flowHash, copyAt: note.copyTimestampNanoseconds, observe: observe)
                        } else {
                            analyzer.process(frame: packet.bytes, originalLength: packet.originalLength,
                                             timestamp: packet.timestampNanoseconds, payloadFingerprint: fingerprint, flowHash: flowHash,
                                             observe: observe)
                        }
                        if note.hasCopy {
                            packets += 1
                            if !copyTaken {
                                analyzer.processCopy(at: note.copyTimestampNanoseconds, of: packet.bytes, originalLength: packet.originalLength,
                                                     payloadFingerprint: fingerprint, flowHash: flowHash, observe: observe)
                            }
                        }
                        continue reading
                    case .end:
                        // The file's end, reached before a stop could cut it short.
                        if !ahead._withUnsafeGuaranteedRef({ $0.endedEarly }) { stoppedEarly = false }
                        break draining
                    case .failed(let error):
                        facts.readError = error.message
                        break draining
                    case .timeout:
                        // A stream read ahead, after each batch: what a live
                        // loop does between packets, below; and, its writer
                        // quiet, the flows closed before the quiet judged
                        // when a live capture's would be.
                        if let clock = PacketSource.quietStreamClock(lastPacket: ahead._withUnsafeGuaranteedRef({ $0.lastPacketTimestamp }),
                                                                     lastArrival: ahead._withUnsafeGuaranteedRef({ $0.quietArrival }),
                                                                     now: wallClockNanoseconds()) {
                            analyzer.advanceClock(to: clock, observe: observe)
                        }
                    }
                } else {
                    let result = source.next()
                    switch result {
                    case .packet(let packet):
                        packets += 1
                        lastPacketTime = packet.timestampNanoseconds
                        analyzer.process(copies.examine(packet.bytes, originalLength: packet.originalLength), frame: packet.bytes,
                                         originalLength: packet.originalLength, timestamp: packet.timestampNanoseconds, observe: observe)
                    case .timeout where source.isStream:
                        // Quiet: flows closed before it are judged when a live capture's would be.
                        if let clock = PacketSource.quietStreamClock(lastPacket: lastPacketTime, lastArrival: source.streamLastArrival,
                                                                     now: wallClockNanoseconds()) {
                            analyzer.advanceClock(to: clock, observe: observe)
                        }
                    case .timeout:
                        analyzer.advanceClock(to: wallClockNanoseconds(), observe: observe)
                    case .end:
                        break draining
                    case .failed(let error):
                        facts.readError = error.message
                        break draining
                    }
                }
                if runsOn {
                    if countsRequested != 0 {
                        countsRequested = 0
                        standardError(Self.countsSoFar(summary, open: analyzer.openFlows, packets: analyzer.statistics.frames,
                                                       statistics: source.statistics()))
                    }
                    let now = wallClockNanoseconds()
                    switch namesWatch?.check(now: now) {
                    case .reloaded(let fresh)?:
                        reporter.names = fresh
                        standardError("wirecheck: --names \(names ?? ""): read again, \(fresh.count) address\(fresh.count == 1 ? "" : "es") named\n")
                    case .failed(let message)?:
                        standardError("wirecheck: \(message)\n")
                    default:
                        break
                    }
                    if now - lastStatsCheck >= 1_000_000_000 {
                        lastStatsCheck = now
                        if let failure = source.flushWritten() {
                            standardError("wirecheck: -w \(packetFile ?? ""): writing failed (\(failure)); \(writtenEnd(source)) at an earlier packet, the analysis goes on\n")
                        }
                        if let postRotate { Self.sayHowTheyEnded(postRotate.finished(), of: postRotate) }
                        if let stats = source.statistics(), stats.droppedByKernel + stats.droppedByInterface > lastDrops {
                            lastDrops = stats.droppedByKernel + stats.droppedByInterface
                            analyzer.noteDrops()
                        }
                    }
                }
            }
            // Ctrl-C or SIGTERM: a live capture or a stream ends here, as
            // asked; a file's replay stops short of its end, which the report
            // says. Read ahead, what the reading thread has read (and written
            // to -w's file) is analysed first, unless a second signal comes.
            guard !finishing else { break draining }
            stoppedEarly = !source.isLive && !source.isStream
            guard let ahead else { break draining }
            finishing = true
            // Taken: the loop goes on until the reading thread's last packet,
            // or a second signal.
            stopRequested = 0
            ahead._withUnsafeGuaranteedRef { $0.finishEarly() }
        }
        readAhead?.stop()
        if source.fileLimitReached, let packetFile, let rotation = packetFileRotation, let fileCount {
            // As tcpdump's -G with -W: the files asked for are written.
            standardError("wirecheck: -G \(rotateSeconds ?? 0) -W \(fileCount): \(fileCount) file\(fileCount == 1 ? "" : "s") written, "
                          + "the last \(rotation.fileName(packetFile, slot: source.writtenFile)); the capture stops\n")
        }
        if let failure = source.finishWriting() {
            standardError("wirecheck: -w \(packetFile ?? ""): writing failed (\(failure)); \(writtenEnd(source)) at an earlier packet\n")
        }
        if let stats = source.statistics() {
            if stats.droppedByKernel + stats.droppedByInterface > lastDrops { analyzer.noteDrops() }
            facts.droppedByKernel = stats.droppedByKernel
            facts.droppedByInterface = stats.droppedByInterface
        }
        if let error = facts.readError, packets == 0, !source.isLive {
            settle()
            // Nothing could be read: an error, not an empty result.
            standardError("wirecheck: \(sourceName): \(error)\n")
            if let postRotate { Self.waitForTheEnd(of: postRotate) }
            return 3
        }
        analyzer.finish(observe: observe)
        settle()
        summary.coversWholeCapture = !stoppedEarly
        facts.frames = analyzer.statistics.frames
        facts.tcpSegments = analyzer.statistics.tcpSegments
        facts.unjudged = analyzer.unjudged
        facts.evictedFlows = analyzer.statistics.evictedFlows
        facts.untrackedResets = analyzer.statistics.untrackedResets
        facts.windowsShed = analyzer.windowsShed
        facts.fragments = analyzer.statistics.fragments
        facts.reassembledDatagrams = analyzer.statistics.reassembledDatagrams
        facts.lostDatagrams = analyzer.statistics.abandonedDatagrams + analyzer.statistics.conflictingDatagrams
        standardOutput(reporter.summary(summary, capture: facts))
        flushReports()
        if let error = facts.readError {
            standardError("wirecheck: warning: \(sourceName): reading stopped early: \(error); results cover the \(packets) packets before it\n")
        }
        if stoppedEarly {
            standardError("wirecheck: warning: \(sourceName): the replay was stopped before its end; results cover the \(packets) packets read\n")
        }
        // After the report: it is not held back while the last file is compressed.
        if let postRotate { Self.waitForTheEnd(of: postRotate) }
        return summary.exitCode
    }
}

extension Wirecheck {
    /// For the reading thread: each TCP payload's fingerprint, which every
    /// delivered segment needs (retransmissions are compared by it),
    /// computed while the packet's bytes are in that thread's cache, and,
    /// with `countingCopies`, whether the packet is a copy of the one before
    /// it (`FrameCopyDetector`: `-i any`'s second capture of a packet), to
    /// be counted rather than handed over (`FlowAnalyzer.processCopy`).
    static func frameNotes(linkType: Int32) -> @Sendable (CapturedPacket, UnsafeRawBufferPointer?) -> FrameNote? {
        // Only the reading thread calls the closure, one packet after another.
        final class Detector: @unchecked Sendable {
            @exclusivity(unchecked) var detector: FrameCopyDetector
            /// The last note's flow hash: a copy's segment is the one before
            /// it in every field, its hash too (half of a cooked capture's frames).
            @exclusivity(unchecked) var lastFlowHash: UInt32?
            init(linkType: Int32) { detector = FrameCopyDetector(linkType: linkType) }
        }
        let state = Detector(linkType: linkType)
        @Sendable func note(_ found: FrameCopyDetector.Examined?) -> FrameNote? {
            guard let found, let offset = Int32(exactly: found.segment.payloadRange.lowerBound),
                  let count = Int32(exactly: found.segment.payloadRange.count) else {
                state.lastFlowHash = nil
                return nil
            }
            let flowHash = found.repeatsPrevious ? state.lastFlowHash ?? FlowAnalyzer.flowHash(of: found.segment)
                                                 : FlowAnalyzer.flowHash(of: found.segment)
            state.lastFlowHash = flowHash
            return FrameNote(offset: offset, count: count, value: found.fingerprint?.value ?? 0, repeatsPrevious: found.repeatsPrevious,
                             flowHash: flowHash)
        }
        guard state.detector.comparesPreviousFrame else {
            return { packet, _ in note(state.detector.examine(packet.bytes, originalLength: packet.originalLength)) }
        }
        return { packet, previous in
            guard let previous else { return note(state.detector.examine(packet.bytes, originalLength: packet.originalLength)) }
            return note(state.detector.examine(packet.bytes, originalLength: packet.originalLength, previousFrame: previous))
        }
    }
}

func installSignalHandlers() {
    // Counted, not just set: a second one leaves -z's commands running.
    let handler: @convention(c) (Int32) -> Void = { _ in
        stopRequested &+= 1
        // A capture streamed in ends at its next read, even while its writer is quiet.
        wirecheck_stop_streams()
    }
    signal(SIGINT, handler)
    signal(SIGTERM, handler)
    // Caught in replays too, where it does nothing: by default it would end the process.
    signal(SIGUSR1, { _ in countsRequested = 1 })
    // A parent may have started us with these blocked (threads of runtimes
    // like libdispatch block everything and children inherit the mask).
    var mask = sigset_t()
    sigemptyset(&mask)
    sigaddset(&mask, SIGINT)
    sigaddset(&mask, SIGTERM)
    sigaddset(&mask, SIGUSR1)
    pthread_sigmask(SIG_UNBLOCK, &mask, nil)
}

/// Processors this process may run on: the affinity mask (`taskset`, a
/// container's cpuset) as the kernel reports it in /proc/self/status
/// (`sched_getaffinity` is not visible from Swift's Glibc module), else
/// those online.
func usableProcessors() -> Int {
    if let status = fopen("/proc/self/status", "r") {
        defer { fclose(status) }
        var line = [CChar](repeating: 0, count: 4096)
        let key = "Cpus_allowed:"
        while fgets(&line, Int32(line.count), status) != nil {
            // "Cpus_allowed:\tff,ffffffff": a hexadecimal mask, one bit per
            // processor. Other lines are skipped unread (a String per line
            // was 90 allocations).
            guard strncmp(line, key, key.utf8.count) == 0 else { continue }
            let count = line.dropFirst(key.utf8.count).prefix { $0 != 0 }.reduce(0) { total, character in
                total + (Character(Unicode.Scalar(UInt8(bitPattern: character))).hexDigitValue?.nonzeroBitCount ?? 0)
            }
            if count > 0 { return count }
            break
        }
    }
    return sysconf(Int32(_SC_NPROCESSORS_ONLN))
}

func wallClockNanoseconds() -> Int64 {
    var now = timespec()
    clock_gettime(CLOCK_REALTIME, &now)
    return Int64(now.tv_sec) * 1_000_000_000 + Int64(now.tv_nsec)
}

/// Where reports go: standard output, or the `--output` file.
nonisolated(unsafe) var reportDescriptor: Int32 = STDOUT_FILENO

/// Live captures write each verdict as soon as it is final, even when stdout
/// is a pipe. Replays of files batch reports into 64 KiB writes instead: a
/// system call per flow showed in profiles of captures with many short flows.
nonisolated(unsafe) var batchReports = false
/// The batch lies in a block of its own, not among the globals: the report
/// worker writes its length at every append, and `stopRequested`, which the
/// analysing loop reads every packet, shared its cache line, so that read
/// missed whenever a report had been written since. 128 bytes, aligned:
/// processors fetch lines in adjacent pairs.
nonisolated(unsafe) private let pendingReports: UnsafeMutablePointer<ByteWriter> = {
    let line = UnsafeMutableRawPointer.allocate(byteCount: 128, alignment: 128)
    let writer = line.bindMemory(to: ByteWriter.self, capacity: 1)
    writer.initialize(to: ByteWriter(capacity: 80 << 10))
    return writer
}()

/// The run's summary (and any other text for the report stream), after the reports.
func standardOutput(_ text: String) {
    writeReports { $0.append(text) }
}

/// Lets `write` append reports to the output: into the batch for a replay
/// (written out every 64 KiB), straight out for a live capture. One thread
/// at a time: the report worker while it runs, else the analysing thread.
func writeReports(_ write: (inout ByteWriter) -> Void) {
    guard batchReports else {
        var output = ByteWriter(capacity: 512)
        write(&output)
        writeAll(UnsafeRawBufferPointer(output.bytes), to: reportDescriptor)
        return
    }
    write(&pendingReports.pointee)
    if pendingReports.pointee.count >= 65_536 { flushReports() }
}

/// Writes out batched reports; called before anything goes to stderr and at the end.
func flushReports() {
    guard !pendingReports.pointee.isEmpty else { return }
    writeAll(UnsafeRawBufferPointer(pendingReports.pointee.bytes), to: reportDescriptor)
    pendingReports.pointee.removeAll()
}

func standardError(_ text: String) {
    flushReports()
    writeAll(text, to: STDERR_FILENO)
}

private func writeAll(_ text: String, to descriptor: Int32) {
    var text = text
    text.withUTF8 { writeAll(UnsafeRawBufferPointer($0), to: descriptor) }
}

private func writeAll(_ bytes: UnsafeRawBufferPointer, to descriptor: Int32) {
    var offset = 0
    while offset < bytes.count {
        let written = write(descriptor, bytes.baseAddress.map { $0 + offset }, bytes.count - offset)
        if written < 0, errno == EINTR { continue }
        guard written > 0 else { return }
        offset += written
    }
}

@main
enum Main {
    static func main() {
        let command: Wirecheck
        do {
            command = try Wirecheck.parse()
        } catch {
            if Wirecheck.exitCode(for: error) == .success {
                // --help and friends.
                print(Wirecheck.fullMessage(for: error))
                exit(0)
            }
            standardError("wirecheck: \(Wirecheck.message(for: error))\n")
            standardError("Usage: " + Wirecheck.usageString() + "\n")
            exit(3)
        }
        exit(command.execute())
    }
}
