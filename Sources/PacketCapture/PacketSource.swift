import CGzip
import CMappedFile
import CPcap
import CStreamInput

#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#endif

/// Why a capture could not be opened or read. The message is libpcap's own
/// wording where it has one, so users can search for it.
public struct CaptureError: Error, Sendable, CustomStringConvertible {
    public enum Kind: Sendable, Equatable {
        case openFailed
        case noSuchDevice
        case permissionDenied
        case invalidFilter
        case readFailed
    }

    public var kind: Kind
    public var message: String

    public init(_ kind: Kind, _ message: String) {
        self.kind = kind
        self.message = message
    }

    public var description: String { message }
}

/// One captured frame. `bytes` points into libpcap's buffer and is valid only
/// until the next call to `PacketSource.next()`: callers must not keep it.
public struct CapturedPacket {
    /// Capture time in nanoseconds since the Unix epoch.
    public var timestampNanoseconds: Int64
    /// Length of the frame on the wire; larger than `bytes.count` when the
    /// snapshot length cut it short.
    public var originalLength: Int
    public var bytes: UnsafeRawBufferPointer
    /// What the reading thread computed from the packet's bytes, if asked
    /// to (`ReadAhead`'s `note`).
    public var note: FrameNote? = nil
}

/// A 64-bit value computed from `bytes[offset..<offset + count]` of a packet
/// on the thread that read it, while its bytes were in that processor's cache.
public struct FrameNote: Sendable, Equatable {
    public var offset: Int32
    public var count: Int32
    public var value: UInt64
    /// The capture time of a copy of this packet that followed it and was
    /// not handed over (`ReadAhead`), or `FrameNote.noCopy`; one at most, so
    /// that each copy's time is known (a second copy is handed over as a
    /// packet, as is a copy captured at `noCopy` itself). Not an Optional:
    /// the note is copied with every packet, and its tag made it 8 bytes larger.
    public var copyTimestampNanoseconds: Int64 = FrameNote.noCopy
    @inlinable public static var noCopy: Int64 { .min }
    @inlinable public var hasCopy: Bool { copyTimestampNanoseconds != Self.noCopy }
    /// Set by whoever computed the note: the packet is a copy of the one
    /// before it (for what the caller reads of packets). `ReadAhead` then
    /// notes it in that packet's note rather than handing it over.
    public var repeatsPrevious: Bool
    /// The hash by which the analysis finds the packet's flow (see
    /// `flowHash`), if the reader computed it. Two fields, not an Optional,
    /// so that the note stays 32 bytes.
    private var flowHashKnown = false
    private var knownFlowHash: UInt32 = 0

    public init(offset: Int32, count: Int32, value: UInt64, repeatsPrevious: Bool = false, flowHash: UInt32? = nil) {
        self.offset = offset
        self.count = count
        self.value = value
        self.repeatsPrevious = repeatsPrevious
        self.flowHash = flowHash
    }

    /// Computed on the reading thread from the segment it decoded anyway
    /// (`FlowAnalyzer.flowHash(of:)`), so that the analysing thread, which
    /// has the most work, does not hash the flow's key again.
    public var flowHash: UInt32? {
        get { flowHashKnown ? knownFlowHash : nil }
        set {
            flowHashKnown = newValue != nil
            knownFlowHash = newValue ?? 0
        }
    }

    public var range: Range<Int> { Int(offset)..<(Int(offset) + Int(count)) }
}

/// What one read from the source produced.
public enum ReadResult {
    case packet(CapturedPacket)
    /// A live capture's read timeout expired with no packet, or a stream's
    /// writer has been quiet for 100 ms between two packets: a chance to
    /// check for Ctrl-C or a deadline, and to move the flows' clock.
    case timeout
    /// End of the file, or the loop was broken.
    case end
    /// The source failed mid-way (a file cut off mid-packet, an interface that
    /// went away). What was read before stays valid.
    case failed(CaptureError)
}

/// Counters from the kernel for a live capture.
public struct CaptureStatistics: Sendable, Equatable {
    public var received: UInt64
    public var droppedByKernel: UInt64
    public var droppedByInterface: UInt64
}

/// Settings for a live capture, named after tcpdump's flags.
public struct LiveCaptureOptions: Sendable {
    public var interface: String = "any"
    public var snapshotLength: Int32 = 262_144
    /// Kernel buffer size; large so that a burst does not cost drops.
    public var bufferKiB: Int32 = 32_768
    public var promiscuous: Bool = true
    /// Read timeout, so the loop wakes up to notice signals and deadlines.
    public var timeoutMilliseconds: Int32 = 200
    /// Deliver every packet as it arrives (one wake-up per packet) rather than
    /// in blocks the kernel hands over when full or after `blockMilliseconds`.
    /// Off by default: at a gigabit of short flows, per-packet wake-ups cost
    /// more CPU than the analysis and the kernel started dropping.
    public var immediate = false
    /// Longest a packet waits in a kernel block before delivery when not
    /// immediate: verdicts still appear within a fraction of a second.
    public var blockMilliseconds: Int32 = 100

    public init() {}
}

/// A libpcap handle, live or reading a file. Not thread-safe except for
/// `breakLoop()`, which may be called from a signal handler or another thread.
public final class PacketSource {
    /// libpcap's description of itself, as `tcpdump --version` prints it
    /// ("libpcap version 1.10.3 (with TPACKET_V3)").
    public static var libraryVersion: String { String(cString: pcap_lib_version()) }

    /// The open handle (for several files, one that reads nothing: see
    /// `openFiles`). A constant: read per packet, as a variable it cost a
    /// dynamic exclusivity check each time (3 % of the reading thread's
    /// samples on the cooked benchmark capture).
    private let handle: OpaquePointer
    /// `true` for interfaces, where reads can time out and statistics exist.
    public let isLive: Bool
    /// For live captures: a descriptor to wait on, and how long a wait may last.
    private let selectableDescriptor: Int32
    private let timeoutMilliseconds: Int32

    /// The stdio buffer libpcap reads a capture file through, when we gave it one.
    private var fileBuffer: UnsafeMutableRawPointer?

    /// A file's packets read where it is mapped (`MappedRecords`), until one
    /// is left to libpcap; nil for anything else, and from then on.
    @exclusivity(unchecked) private var inPlace: MappedRecords?
    /// The mapping `inPlace` reads, kept to the end: the packets read from it
    /// stay valid until then (`holdsInPlace`).
    @exclusivity(unchecked) private var mapping: OpaquePointer?
    @exclusivity(unchecked) private var mappedBytes: UnsafeRawBufferPointer?
    /// The filter, compiled again for `inPlace` to apply (libpcap's handle
    /// has its own copy for the packets left to it).
    @exclusivity(unchecked) private var inPlaceFilter: bpf_program?

    /// Several files read as one capture (`openFiles`), merged by packet
    /// time; nil for one file or an interface.
    @exclusivity(unchecked) private var merge: FileMerge?
    /// Set by `breakLoop()`: the end it causes is not a file's end.
    @exclusivity(unchecked) private var breakRequested = false
    /// Whether the file being read is gzip-compressed (read through zlib).
    private var readingGzip = false
    /// Whether the capture comes through a pipe or socket (`tcpdump
    /// -w - | wirecheck -r -`, `-r <(zcat F)`) rather than from a file: it
    /// has no end of its own to reach, and arrives as it is written.
    public var isStream: Bool { streamInput != nil }
    /// The stream reader's state when `isStream` (owned by the handle's FILE).
    private var streamInput: OpaquePointer?

    /// Whether a stream's next `next()` would wait for its writer: no whole
    /// record left read but not taken, nothing in the pipe now. A reader on
    /// a thread of its own (`ReadAhead`) then hands on what it has read. A
    /// poll of the pipe only when stdio's buffer runs dry; false for a file.
    public func streamWouldWait() -> Bool {
        guard let streamInput, let file = pcap_file(handle) else { return false }
        return wirecheck_stream_would_wait(streamInput, file) != 0
    }

    /// Ends a stream at its next read, within 100 ms however quiet its
    /// writer: for a thread other than the reading one, once it needs no
    /// more (the reading thread may be waiting in the middle of a record).
    public func stopStream() {
        if let streamInput { wirecheck_stream_stop(streamInput) }
    }
    /// A stream's quiet writer: the wall time (CLOCK_REALTIME nanoseconds) at
    /// which its data last arrived, as of its last `.timeout`.
    public private(set) var streamLastArrival: Int64 = 0
    /// Where every packet `next()` returns is also written (`-w`): libpcap's
    /// dump file; nil when not asked.
    @exclusivity(unchecked) private var dumper: OpaquePointer?
    /// `-C`/`-G`/`-W`: when the file is split, and where the next file comes
    /// from (given its slot, a descriptor open for writing).
    private var rotation: (plan: PacketFileRotation, openFile: (PacketFileRotation.Slot) throws(CaptureError) -> Int32)?
    /// Bytes in the file being written (libpcap's 24-byte file header, 16 per
    /// record and the bytes captured), counted rather than asked of stdio.
    private var writtenBytes: Int64 = 0
    /// The file being written (`PacketFileRotation.fileName`).
    @exclusivity(unchecked) public private(set) var writtenFile = PacketFileRotation.Slot()
    /// Files of `-G`'s intervals started, the first included (for `-W`).
    @exclusivity(unchecked) private var timedFilesStarted = 1
    /// Set when `-G` with `-W` has written its files: reading then ends, as
    /// tcpdump exits, before the packet that would have started one more.
    /// Read per packet written, by the one thread that reads: unchecked (the
    /// runtime's exclusivity check was 76 instructions a packet).
    @exclusivity(unchecked) public private(set) var fileLimitReached = false
    /// Told of each file closed whole (`-z`), the last one too.
    private var closed: ((PacketFileRotation.Slot) -> Void)?
    /// Why writing stopped at a rotation, until `flushWritten` reports it.
    private var rotationFailure: String?
    /// The error number of the first write that failed (0: none yet).
    private var writeError: Int32 = 0

    private init(handle: OpaquePointer, isLive: Bool, timeoutMilliseconds: Int32 = 0, fileBuffer: UnsafeMutableRawPointer? = nil) {
        self.handle = handle
        self.isLive = isLive
        self.timeoutMilliseconds = timeoutMilliseconds
        self.selectableDescriptor = isLive ? pcap_get_selectable_fd(handle) : -1
        self.fileBuffer = fileBuffer
    }

    deinit {
        _ = finishWriting()
        // Closes the file too; its buffer is freed after it.
        pcap_close(handle)
        fileBuffer?.deallocate()
        if var program = inPlaceFilter { pcap_freecode(&program) }
        if let mapping { wirecheck_unmap(mapping) }
    }

    /// Whether this source reads its file in place (see `MappedRecords`),
    /// as far as it has read.
    public var readsInPlace: Bool { inPlace != nil }

    /// Whether `bytes`, a packet `next()` returned, were read in place: they
    /// then stay valid as long as this source, not only until the next read.
    @inline(__always)
    public func holdsInPlace(_ bytes: UnsafeRawBufferPointer) -> Bool {
        guard let mapped = mappedBytes, let start = bytes.baseAddress, let base = mapped.baseAddress else { return false }
        return start >= base && start < base + mapped.count
    }

    /// Bytes per read from a capture file. libpcap reads through stdio, whose
    /// default buffer is 4 KiB: a read call every few packets, whose cost
    /// was a fifth of libpcap's own read loop on a 2 GB capture.
    public static let fileReadBufferBytes = 1 << 20

    /// Opens a pcap or pcapng file; `-` reads standard input. With
    /// `inPlace`, a regular file's packets are read where the file is
    /// mapped, as far as `MappedRecords` can (without, libpcap reads them
    /// all: the tests compare the two).
    public static func openFile(_ path: String, inPlace: Bool = true) throws(CaptureError) -> PacketSource {
        let (handle, buffer, gzip, stream) = try openFileHandle(path)
        let source = fileSource(path: path, handle: handle, buffer: buffer, gzip: gzip, stream: stream, inPlace: inPlace)
        // Read alone (not merged with other files), a stream's quiet
        // writer hands control back as a live capture's read timeout does.
        if let stream { wirecheck_stream_report_quiet(stream) }
        return source
    }

    /// The source reading a handle `openFileHandle` opened (which it takes
    /// over), in place where it can (`MappedRecords`): a regular file,
    /// neither compressed nor standard input.
    static func fileSource(path: String, handle: OpaquePointer, buffer: UnsafeMutableRawPointer?, gzip: Bool, stream: OpaquePointer?,
                           inPlace: Bool = true) -> PacketSource {
        let source = PacketSource(handle: handle, isLive: false, fileBuffer: buffer)
        source.readingGzip = gzip
        source.streamInput = stream
        if inPlace, !gzip, stream == nil, path != "-", let file = pcap_file(handle),
           let records = MappedRecords.open(file: file, handle: handle) {
            source.inPlace = records
            source.mapping = records.mapping
            source.mappedBytes = UnsafeRawBufferPointer(start: records.base, count: records.size)
        }
        return source
    }

    /// Opens several capture files to be read as one capture, merged by
    /// packet time as `mergecap` merges them: a capture rotated by `tcpdump
    /// -C` or `-G` (whose files follow one another, whatever order the
    /// arguments came in: `cap1`, `cap10`, `cap2`… is how a shell sorts
    /// tcpdump's rotated names), and captures taken at the same time on two
    /// interfaces or two nodes, whose packets interleave. A connection seen
    /// in several files stays one flow. Each file is checked before anything
    /// is read: all must open and share one link type. Files are opened as
    /// the merge reaches their first packet and closed at their end, so a
    /// long rotation holds only the files that overlap open at once.
    public static func openFiles(_ paths: [String]) throws(CaptureError) -> PacketSource {
        guard paths.count > 1 else { return try openFile(paths.first ?? "-") }
        var firstPackets: [FileMerge.File] = []
        var linkType: (path: String, type: Int32)?
        var snapshotLength: Int32 = 0
        // Streams and standard input cannot be opened a second time: their
        // sources are kept from here for the merge (closed with it, or when
        // this fails and drops them).
        for path in paths {
            let handle: OpaquePointer, buffer: UnsafeMutableRawPointer?, gzip: Bool, stream: OpaquePointer?
            (handle, buffer, gzip, stream) = try openFileHandle(path)
            let type = pcap_datalink(handle)
            if let (firstPath, firstType) = linkType, type != firstType {
                pcap_close(handle)
                buffer?.deallocate()
                throw CaptureError(.openFailed, "\(path): link type \(linkTypeName(type)), "
                    + "but \(firstPath) has \(linkTypeName(firstType)): several files are read as one capture "
                    + "only when they share a link type (read them one at a time, or convert one with editcap -T)")
            }
            linkType = linkType ?? (path, type)
            snapshotLength = max(snapshotLength, pcap_snapshot(handle))
            if stream != nil || path == "-" {
                // Read from the start of the merge: its first packet's time
                // is known only once it has come.
                let reader = FileMerge.Reader(path: path, source: fileSource(path: path, handle: handle, buffer: buffer, gzip: gzip, stream: stream))
                firstPackets.append(FileMerge.File(path: path, firstTimestamp: .min, opened: reader))
                continue
            }
            let probe = PacketSource(handle: handle, isLive: false, fileBuffer: buffer)
            var first: Int64?
            if case .packet(let packet) = probe.next() { first = packet.timestampNanoseconds }
            firstPackets.append(FileMerge.File(path: path, firstTimestamp: first))
        }
        // Stable: files with equal first times, or none (empty, or unreadable
        // at once: their error comes when they are read), keep their order.
        let ordered = firstPackets.enumerated().sorted { a, b in
            let x = a.element.firstTimestamp ?? .max, y = b.element.firstTimestamp ?? .max
            return x != y ? x < y : a.offset < b.offset
        }.map(\.element)
        // The merged capture's own handle reads nothing: it gives the link
        // type and snapshot length, and compiles the filter.
        guard let type = linkType?.type, let handle = pcap_open_dead(type, max(snapshotLength, 1)) else {
            throw CaptureError(.openFailed, "cannot make a libpcap handle for the merged capture")
        }
        let source = PacketSource(handle: handle, isLive: false)
        source.merge = FileMerge(files: ordered, linkType: type)
        return source
    }

    /// Opens a file for libpcap, through a large stdio buffer (see
    /// `fileReadBufferBytes`); also says whether it is read through zlib, and
    /// the stream reader's state when it is a stream (a pipe or socket, see `isStream`).
    static func openFileHandle(_ path: String) throws(CaptureError) -> (OpaquePointer, UnsafeMutableRawPointer?, gzip: Bool, stream: OpaquePointer?) {
        var errbuf = [CChar](repeating: 0, count: Int(PCAP_ERRBUF_SIZE) + 1)
        let precision = UInt32(PCAP_TSTAMP_PRECISION_NANO)
        if let (handle, stream) = try openStreamHandle(path, precision: precision, errbuf: &errbuf) { return (handle, nil, false, stream) }
        guard path != "-" else {
            guard let handle = pcap_open_offline_with_tstamp_precision(path, precision, &errbuf) else {
                throw openFailure(path, errbuf)
            }
            if let stream = pcap_file(handle) { readByOneThread(stream) }
            return (handle, nil, false, nil)
        }
        // Opened here rather than by libpcap, to give it a larger buffer,
        // and to read a gzip-compressed file (as tcpdump -z leaves rotated
        // ones) through zlib: libpcap reads no compressed file.
        let gzip = isGzip(path)
        guard let file = gzip ? wirecheck_open_gzip(path) : fopen(path, "rb") else {
            // libpcap's wording for the same failure.
            throw CaptureError(.openFailed, "\(path): \(String(cString: strerror(errno)))")
        }
        let buffer = UnsafeMutableRawPointer.allocate(byteCount: fileReadBufferBytes, alignment: 64)
        setvbuf(file, buffer.assumingMemoryBound(to: CChar.self), _IOFBF, fileReadBufferBytes)
        readByOneThread(file)
        guard let handle = pcap_fopen_offline_with_tstamp_precision(file, precision, &errbuf) else {
            fclose(file)
            buffer.deallocate()
            throw openFailure(path, errbuf)
        }
        return (handle, buffer, gzip, nil)
    }

    /// `path` ("-": standard input) opened as a stream for libpcap when it is
    /// a pipe or socket (`wirecheck_open_stream`: reads that wait in slices,
    /// so that `wirecheck_stop_streams()`, called by a signal handler, or a
    /// `--duration` ends them); nil for a regular file or a
    /// device (`/dev/null` stays an empty file, an error), read as files.
    private static func openStreamHandle(_ path: String, precision: UInt32, errbuf: inout [CChar]) throws(CaptureError) -> (OpaquePointer, stream: OpaquePointer)? {
        var status = stat()
        let described = path == "-" ? fstat(STDIN_FILENO, &status) : stat(path, &status)
        let kind = status.st_mode & S_IFMT
        guard described == 0, kind == S_IFIFO || kind == S_IFSOCK else { return nil }
        let descriptor = path == "-" ? dup(STDIN_FILENO) : open(path, O_RDONLY | O_CLOEXEC)
        guard descriptor >= 0 else {
            throw CaptureError(.openFailed, "\(path): \(String(cString: strerror(errno)))")
        }
        var stream: OpaquePointer?
        guard let file = wirecheck_open_stream(descriptor, &stream), let stream else {
            close(descriptor)
            throw CaptureError(.openFailed, "\(path): \(String(cString: strerror(errno)))")
        }
        // What is there is read at once, whatever the buffer's size: up to
        // the 1 MiB the stream asks of its pipe.
        setvbuf(file, nil, _IOFBF, 1 << 20)
        readByOneThread(file)
        guard let handle = pcap_fopen_offline_with_tstamp_precision(file, precision, &errbuf) else {
            fclose(file)
            // An empty stream's end, or a stop before its header came.
            if wirecheck_streams_stopped() != 0 { throw CaptureError(.openFailed, "\(path): stopped before a capture header arrived") }
            throw openFailure(path, errbuf)
        }
        return (handle, stream)
    }

    /// libpcap reads a file with two `fread` calls per packet, and in a
    /// process with threads each call takes and releases the stream's lock
    /// (15 % of a bare read loop over the 1 GB benchmark capture). Only one
    /// thread at a time ever reads the stream (the reading thread, or the
    /// main one), and it is closed after that thread is done, so stdio is
    /// told to leave locking to its caller.
    private static func readByOneThread(_ stream: UnsafeMutablePointer<FILE>) {
        _ = __fsetlocking(stream, Int32(FSETLOCKING_BYCALLER))
    }

    /// Whether stdio leaves the capture file's locking to us (see
    /// `readByOneThread`); false for live captures, which have no stream.
    var streamLockingLeftToCaller: Bool {
        guard let stream = pcap_file(handle) else { return false }
        return __fsetlocking(stream, Int32(FSETLOCKING_QUERY)) == Int32(FSETLOCKING_BYCALLER)
    }

    private static func openFailure(_ path: String, _ errbuf: [CChar]) -> CaptureError {
        let detail = message(errbuf)
        // libpcap names the file itself in some messages; do not say it twice.
        var text = detail.hasPrefix(path) ? detail : "\(path): \(detail)"
        if isGzip(path) {
            text += detail.contains("unknown file format") ? " (of the gzip-compressed file's content)" : Self.gzipReadFailure
        } else if detail.contains("unknown file format"), path != "-", let compression = compression(of: path) {
            text += "; it is \(compression.name)-compressed (as tcpdump -z leaves rotated files): decompress it first, "
                + "e.g. \(compression.command) FILE | wirecheck -r -"
        }
        return CaptureError(.openFailed, withHint(text))
    }

    static func isGzip(_ path: String) -> Bool { path != "-" && compression(of: path)?.name == "gzip" }

    static let gzipReadFailure = " (the gzip-compressed data is corrupt or cut off)"

    /// The compression a file's first bytes announce, for the error when
    /// libpcap does not know its format (it reads no compressed file).
    /// Only regular files are looked at: from a pipe (`-r <(zcat F)`), the
    /// bytes read here would be lost to libpcap.
    static func compression(of path: String) -> (name: String, command: String)? {
        var status = stat()
        guard stat(path, &status) == 0, status.st_mode & S_IFMT == S_IFREG, let file = fopen(path, "rb") else { return nil }
        defer { fclose(file) }
        var magic = [UInt8](repeating: 0, count: 6)
        let count = fread(&magic, 1, magic.count, file)
        let known: [(bytes: [UInt8], name: String, command: String)] = [
            ([0x1F, 0x8B], "gzip", "zcat"),
            ([0x42, 0x5A, 0x68], "bzip2", "bzcat"),
            ([0xFD, 0x37, 0x7A, 0x58, 0x5A, 0x00], "xz", "xzcat"),
            ([0x28, 0xB5, 0x2F, 0xFD], "zstd", "zstdcat"),
            ([0x04, 0x22, 0x4D, 0x18], "lz4", "lz4cat"),
        ]
        return known.first { count >= $0.bytes.count && Array(magic.prefix($0.bytes.count)) == $0.bytes }.map { ($0.name, $0.command) }
    }

    /// Opens a network interface for capture, delivering packets within
    /// `blockMilliseconds` (or at once with `immediate`), so that
    /// verdicts appear as flows close rather than when a buffer fills.
    public static func openInterface(_ options: LiveCaptureOptions) throws(CaptureError) -> PacketSource {
        var errbuf = [CChar](repeating: 0, count: Int(PCAP_ERRBUF_SIZE) + 1)
        guard let handle = pcap_create(options.interface, &errbuf) else {
            throw CaptureError(.openFailed, "\(options.interface): \(message(errbuf))")
        }
        pcap_set_snaplen(handle, options.snapshotLength)
        pcap_set_promisc(handle, options.promiscuous ? 1 : 0)
        pcap_set_timeout(handle, options.immediate ? options.timeoutMilliseconds : options.blockMilliseconds)
        pcap_set_immediate_mode(handle, options.immediate ? 1 : 0)
        pcap_set_buffer_size(handle, options.bufferKiB &* 1024)
        _ = pcap_set_tstamp_precision(handle, Int32(PCAP_TSTAMP_PRECISION_NANO))
        let status = pcap_activate(handle)
        if status < 0 {
            let detail = String(cString: pcap_geterr(handle))
            let statusText = String(cString: pcap_statustostr(status))
            pcap_close(handle)
            let text = detail.isEmpty ? statusText : detail
            switch status {
            case PCAP_ERROR_NO_SUCH_DEVICE:
                throw CaptureError(.noSuchDevice, "\(options.interface): no such interface (\(text))")
            case PCAP_ERROR_PERM_DENIED:
                throw CaptureError(.permissionDenied, "\(options.interface): permission denied; run as root or grant CAP_NET_RAW (\(text))")
            default:
                throw CaptureError(.openFailed, "\(options.interface): \(text)")
            }
        }
        // libpcap ignores the read timeout in immediate mode on Linux and would
        // block in poll() forever on a quiet interface, deaf to Ctrl-C. Read
        // non-blocking and wait on the descriptor ourselves, with a timeout.
        if pcap_setnonblock(handle, 1, &errbuf) != 0 {
            pcap_close(handle)
            throw CaptureError(.openFailed, "\(options.interface): \(message(errbuf))")
        }
        return PacketSource(handle: handle, isLive: true, timeoutMilliseconds: options.timeoutMilliseconds)
    }

    /// The data link type (DLT_ value) of every packet from this source.
    public var linkType: Int32 { pcap_datalink(handle) }

    /// Snapshot length: no captured frame is longer.
    public var snapshotLength: Int { Int(pcap_snapshot(handle)) }

    /// Compiles and installs a BPF filter in tcpdump's syntax.
    public func setFilter(_ expression: String) throws(CaptureError) {
        // Several files: compiled here, where an error belongs (the merged
        // capture's own handle takes no filter); each file gets it as it opens.
        let program = try Self.install(filter: expression, on: handle, compileOnly: merge != nil, keep: inPlace != nil)
        merge?.filter = expression
        if var replaced = inPlaceFilter { pcap_freecode(&replaced) }
        inPlaceFilter = program
    }

    /// Compiles `expression` for `handle` and installs it there (unless
    /// `compileOnly`); with `keep`, also returns the compiled program, for
    /// the caller to apply (`pcap_offline_filter`) and free.
    @discardableResult
    static func install(filter expression: String, on handle: OpaquePointer, compileOnly: Bool = false,
                        keep: Bool = false) throws(CaptureError) -> bpf_program? {
        var program = bpf_program()
        if pcap_compile(handle, &program, expression, 1, PCAP_NETMASK_UNKNOWN) != 0 {
            throw CaptureError(.invalidFilter, "invalid filter \"\(expression)\": \(String(cString: pcap_geterr(handle)))")
        }
        if !compileOnly, pcap_setfilter(handle, &program) != 0 {
            pcap_freecode(&program)
            throw CaptureError(.invalidFilter, "cannot install filter: \(String(cString: pcap_geterr(handle)))")
        }
        guard keep else {
            pcap_freecode(&program)
            return nil
        }
        return program
    }

    /// Reads the next packet. The packet's bytes stay valid until the next call.
    @inline(__always)
    public func next() -> ReadResult {
        if dumper != nil { return nextWritten() }
        return nextUnwritten()
    }

    /// `next()` for a source that writes no file: `ReadAhead`'s loop, which
    /// a writing source never starts (`isWriting`), reads without asking
    /// (the check cost its thread 7 instructions a packet).
    @inline(__always)
    func nextUnwritten() -> ReadResult {
        if let merge { return breakRequested ? .end : merge.next() }
        return read()
    }

    /// Whether the packets read are written to a file (`startWriting`).
    public var isWriting: Bool { dumper != nil }

    /// `next()` while writing the packets to `-w`'s file.
    @inline(never)
    private func nextWritten() -> ReadResult {
        // Stopped by -G's -W: nothing more is read (or written).
        if fileLimitReached { return .end }
        let result: ReadResult
        if let merge { result = breakRequested ? .end : merge.next() } else { result = read() }
        if dumper != nil, case .packet(let packet) = result {
            if let rotation {
                switch rotation.plan.step(from: writtenFile, writtenBytes: writtenBytes, at: packet.timestampNanoseconds,
                                          filesStarted: timedFilesStarted) {
                case .same:
                    break
                case .nextInterval(let slot):
                    timedFilesStarted += 1
                    startNextFile(slot)
                case .nextFile(let slot):
                    startNextFile(slot)
                case .stop:
                    fileLimitReached = true
                    return .end
                }
            }
            if let dumper {
                Self.dump(packet, to: dumper)
                writtenBytes += 16 + Int64(UInt32(clamping: packet.bytes.count))
                // The first failed write's error number, taken on the thread
                // that wrote (errno is per thread; by the flush, on the
                // analysing thread or later, it says something else).
                if writeError == 0, ferror_unlocked(pcap_dump_file(dumper)) != 0 { writeError = errno }
            }
        }
        return result
    }

    /// `-C`, `-G`: closes the file written (its data handed to the kernel) and
    /// opens `next`; on failure, writing stops and `flushWritten` says why.
    private func startNextFile(_ next: PacketFileRotation.Slot) {
        guard let rotation, let current = dumper else { return }
        if let failure = flushWritten() {
            rotationFailure = failure
            return
        }
        dumper = nil
        if fclose(pcap_dump_file(current)) != 0 {
            rotationFailure = String(cString: strerror(errno))
            return
        }
        closed?(writtenFile)
        do {
            try openDumper(rotation.openFile(next))
            writtenFile = next
        } catch {
            rotationFailure = error.message
        }
    }

    /// From now on, writes every packet `next()` returns to `descriptor` (which
    /// it takes over) as a pcap file, as `tcpdump -w` does: this capture's
    /// link type and snapshot length, nanosecond timestamps, each packet as
    /// captured (so a replay of the file gives the same verdicts).
    ///
    /// With `rotation`, a file larger than its limit, or older than its
    /// seconds, is closed before the next packet and `openFile(slot)` gives
    /// the next, as tcpdump's `-C`, `-G` and `-W`; `first` is the file
    /// `descriptor` is (for `-G`, the second it was started, by the clock).
    /// `closed` is told of each file once closed whole, the last one by
    /// `finishWriting` (not one whose writing failed).
    public func startWriting(
        to descriptor: Int32, rotation: PacketFileRotation? = nil, first: PacketFileRotation.Slot = .init(),
        closed: ((PacketFileRotation.Slot) -> Void)? = nil, openFile: ((PacketFileRotation.Slot) throws(CaptureError) -> Int32)? = nil
    ) throws(CaptureError) {
        guard dumper == nil else { throw CaptureError(.openFailed, "already writing the packets to a file") }
        try openDumper(descriptor)
        writtenFile = first
        timedFilesStarted = 1
        fileLimitReached = false
        if let rotation, let openFile { self.rotation = (rotation, openFile) }
        self.closed = closed
    }

    /// Makes `descriptor` (taken over) the file written, its header first.
    private func openDumper(_ descriptor: Int32) throws(CaptureError) {
        guard let file = fdopen(descriptor, "w") else {
            let reason = String(cString: strerror(errno))
            close(descriptor)
            throw CaptureError(.openFailed, reason)
        }
        guard let opened = pcap_dump_fopen(handle, file) else {
            let reason = String(cString: pcap_geterr(handle))
            fclose(file)
            throw CaptureError(.openFailed, reason)
        }
        dumper = opened
        writeError = 0
        writtenBytes = 24
    }

    /// Hands what was written so far to the kernel, so that the file is whole
    /// up to here if wirecheck is killed. The error, if writing failed (the
    /// disk full): writing then stops, the file ending at an earlier packet.
    public func flushWritten() -> String? {
        if let failure = rotationFailure {
            rotationFailure = nil
            return failure
        }
        guard let dumper else { return nil }
        let flushed = pcap_dump_flush(dumper) == 0
        // The error of the first write that failed, else of the flush.
        let code = writeError != 0 ? writeError : flushed ? 0 : errno
        guard !flushed || ferror(pcap_dump_file(dumper)) != 0 else { return nil }
        let reason = code != 0 ? String(cString: strerror(code)) : "a write failed"
        pcap_dump_close(dumper)
        self.dumper = nil
        return reason
    }

    /// Flushes and closes the written file; the error, if writing failed.
    public func finishWriting() -> String? {
        guard let dumper else { return flushWritten() }
        let failure = flushWritten()
        if failure == nil {
            self.dumper = nil
            if fclose(pcap_dump_file(dumper)) != 0 { return String(cString: strerror(errno)) }
            closed?(writtenFile)
        }
        return failure
    }

    /// One packet into the dump file, its timestamp split back into seconds
    /// and nanoseconds (the handles are opened with nanosecond precision).
    private static func dump(_ packet: CapturedPacket, to dumper: OpaquePointer) {
        let (quotient, remainder) = packet.timestampNanoseconds.quotientAndRemainder(dividingBy: 1_000_000_000)
        // Before 1970 the remainder is negative: a second earlier, a positive fraction.
        let seconds = remainder < 0 ? quotient - 1 : quotient, fraction = remainder < 0 ? remainder + 1_000_000_000 : remainder
        var header = pcap_pkthdr()
        header.ts.tv_sec = Int(seconds)
        header.ts.tv_usec = Int(fraction)
        header.caplen = UInt32(clamping: packet.bytes.count)
        header.len = UInt32(clamping: packet.originalLength)
        guard let bytes = packet.bytes.baseAddress?.assumingMemoryBound(to: UInt8.self) else {
            // No bytes captured: the record's header alone.
            var none: UInt8 = 0
            return pcap_dump(UnsafeMutablePointer<UInt8>(dumper), &header, &none)
        }
        pcap_dump(UnsafeMutablePointer<UInt8>(dumper), &header, bytes)
    }

    /// One read from the handle. Kept small: it runs once per packet,
    /// inlined into the reading loop.
    @inline(__always)
    private func read() -> ReadResult {
        if inPlace != nil { return readInPlace() }
        var header: UnsafeMutablePointer<pcap_pkthdr>?
        var data: UnsafePointer<UInt8>?
        let status = pcap_next_ex(handle, &header, &data)
        switch status {
        case 1:
            return Self.packet(header: header, data: data)
        case 0:
            // Live, non-blocking: nothing buffered. Wait for the descriptor;
            // a timeout or a signal hands control back to the caller.
            if selectableDescriptor >= 0 {
                var descriptor = pollfd(fd: selectableDescriptor, events: Int16(POLLIN), revents: 0)
                _ = poll(&descriptor, 1, timeoutMilliseconds)
            }
            return .timeout
        case PCAP_ERROR_BREAK:
            // A file's end, or `breakLoop()`.
            return .end
        default:
            if isStream {
                // Its writer quiet between two packets (nothing of the next read).
                if let streamInput, wirecheck_stream_take_quiet(streamInput, &streamLastArrival) != 0 {
                    if let file = pcap_file(handle) { clearerr(file) }
                    return .timeout
                }
                // Stopped (`wirecheck_stop_streams()`, a deadline) within a packet: its end, not a fault.
                if wirecheck_streams_stopped() != 0 { return .end }
            }
            return .failed(CaptureError(.readFailed, withHint(Self.readFailure(handle, isLive: isLive, gzip: readingGzip, stream: streamInput))))
        }
    }

    /// `read()` from the mapping: the next packet the filter passes, or, at
    /// a record left to libpcap, libpcap's read from there on.
    @inline(__always)
    private func readInPlace() -> ReadResult {
        while true {
            // As libpcap's read after `pcap_breakloop`.
            if breakRequested { return .end }
            switch inPlace?.next() {
            case nil:
                return .end
            case .end:
                // A file still being written (tcpdump -w) has grown since it
                // was mapped: libpcap reads on, as it would have.
                guard let mapped = mappedBytes, let file = pcap_file(handle) else { return .end }
                var status = stat()
                guard fstat(fileno(file), &status) == 0, Int(status.st_size) > mapped.count else { return .end }
                return leaveToLibpcap(at: mapped.count)
            case .packet(let packet):
                if inPlaceFilter != nil, !passesInPlaceFilter(packet) { continue }
                return .packet(packet)
            case .leave(let offset):
                return leaveToLibpcap(at: offset)
            case .shrank(let offset):
                inPlace = nil
                return .failed(CaptureError(.readFailed, "the file shrank while it was being read (another program "
                    + "truncated or rewrote it): nothing after byte offset \(offset) was read, and the last packets "
                    + "before it may have been read as zeros"))
            }
        }
    }

    /// Whether the filter passes a packet read in place, as libpcap's read
    /// applies it (to the captured bytes, with the original length).
    @inline(never)
    private func passesInPlaceFilter(_ packet: CapturedPacket) -> Bool {
        guard var program = inPlaceFilter else { return true }
        var header = pcap_pkthdr()
        header.caplen = UInt32(truncatingIfNeeded: packet.bytes.count)
        header.len = UInt32(truncatingIfNeeded: packet.originalLength)
        var none: UInt8 = 0
        guard let bytes = packet.bytes.baseAddress?.assumingMemoryBound(to: UInt8.self) else {
            return pcap_offline_filter(&program, &header, &none) != 0
        }
        return pcap_offline_filter(&program, &header, bytes) != 0
    }

    /// Leaves reading to libpcap from the record at `offset` on: its stream
    /// is moved there (libpcap has read nothing since the file's header).
    @inline(never)
    private func leaveToLibpcap(at offset: Int) -> ReadResult {
        inPlace = nil
        guard let file = pcap_file(handle), fseeko(file, off_t(offset), SEEK_SET) == 0 else {
            return .failed(CaptureError(.readFailed, "cannot move to byte offset \(offset) of the file: \(String(cString: strerror(errno)))"))
        }
        return read()
    }

    /// How far a quiet stream's clock has come: the last packet's time
    /// moved on by the wall time since its data arrived, so that flows
    /// closed before the quiet get their verdicts (1 s after their close, as
    /// in a live capture) without waiting for a next packet. Only for a
    /// stream whose packets looked live when they arrived (their time within
    /// `liveSkewNanoseconds` of the wall clock, as `tcpdump -w - | wirecheck -r -`'s
    /// are): an old capture fed through a pipe keeps its own time, which a
    /// pause in the pipe says nothing about. Nil when the clock stays.
    public static func quietStreamClock(lastPacket: Int64, lastArrival: Int64, now: Int64) -> Int64? {
        guard lastPacket > 0, lastArrival > 0, now > lastArrival else { return nil }
        let (skew, overflow) = lastArrival.subtractingReportingOverflow(lastPacket)
        guard !overflow, skew.magnitude <= UInt64(liveSkewNanoseconds) else { return nil }
        let (clock, late) = lastPacket.addingReportingOverflow(now - lastArrival)
        return late ? nil : clock
    }

    /// How far a stream's packet times may be from the wall clock for it
    /// to count as live: the way over ssh, and the two clocks' difference.
    public static let liveSkewNanoseconds: Int64 = 60_000_000_000

    /// The packet `pcap_next_ex` returned.
    @inline(__always)
    static func packet(header: UnsafeMutablePointer<pcap_pkthdr>?, data: UnsafePointer<UInt8>?) -> ReadResult {
        guard let header, let data else { return .failed(CaptureError(.readFailed, "libpcap returned no packet")) }
        let pkt = header.pointee
        let seconds = Int64(pkt.ts.tv_sec)
        // Opened with nanosecond precision, libpcap stores nanoseconds in tv_usec.
        let fraction = Int64(pkt.ts.tv_usec)
        let captured = Int(pkt.caplen)
        return .packet(CapturedPacket(
            timestampNanoseconds: seconds &* 1_000_000_000 &+ fraction,
            originalLength: max(Int(pkt.len), captured),
            bytes: UnsafeRawBufferPointer(start: data, count: captured)
        ))
    }

    /// libpcap's message for a failed read, and where in the file it stopped.
    static func readFailure(_ handle: OpaquePointer, isLive: Bool, gzip: Bool, stream: OpaquePointer? = nil) -> String {
        var text = String(cString: pcap_geterr(handle))
        // Where in the file reading stopped, so a user can look at the bytes
        // (unknown for live captures; a stream, which ftell cannot place, counts its own).
        if !isLive, let file = pcap_file(handle) {
            if let stream {
                text += " (reading stopped at byte offset \(wirecheck_stream_position(stream, file)) of the stream)"
            } else {
                let position = ftell(file)
                if position >= 0 { text += " (reading stopped at byte offset \(position) of the file)" }
            }
        }
        if gzip { text += gzipReadFailure }
        return text
    }

    /// Makes a blocked or future `next()` return `.end`. Safe from a signal handler.
    public func breakLoop() {
        breakRequested = true
        pcap_breakloop(handle)
    }

    /// Kernel counters; `nil` for files.
    public func statistics() -> CaptureStatistics? {
        guard isLive else { return nil }
        var stats = pcap_stat()
        guard pcap_stats(handle, &stats) == 0 else { return nil }
        return CaptureStatistics(
            received: UInt64(stats.ps_recv),
            droppedByKernel: UInt64(stats.ps_drop),
            droppedByInterface: UInt64(stats.ps_ifdrop)
        )
    }
}

/// libpcap's name for a link type (DLT_ value), or the number when it has none.
func linkTypeName(_ type: Int32) -> String {
    guard let name = pcap_datalink_val_to_name(type) else { return "\(type)" }
    return String(cString: name)
}

/// A link type as libpcap knows it, for a message about one wirecheck does
/// not decode: "SUNATM (SunATM), link type 123", or the number alone.
public func linkTypeDescription(_ type: Int32) -> String {
    guard let name = pcap_datalink_val_to_name(type) else { return "link type \(type)" }
    let short = String(cString: name)
    let description = pcap_datalink_val_to_description(type).map { String(cString: $0) }.flatMap { $0 == short ? nil : $0 }
    return short + (description.map { " (\($0))" } ?? "") + ", link type \(type)"
}

/// libpcap's error buffer as text.
private func message(_ buffer: [CChar]) -> String {
    String(decoding: buffer.prefix { $0 != 0 }.map { UInt8(bitPattern: $0) }, as: UTF8.self)
}

/// libpcap's message, with what to do where libpcap's limit is the cause:
/// a pcapng file from a capture on several interfaces (dumpcap or Wireshark
/// with more than one `-i`) whose link types differ cannot be read by it.
func withHint(_ message: String) -> String {
    guard message.contains("different from the type of the first interface"), !message.contains(splitAdvice) else { return message }
    // Tested recipe: tshark's filtered output keeps every interface's
    // description, so libpcap still refuses it until editcap rewrites it as pcap.
    return message + "; libpcap (and so tcpdump) reads a pcapng file only when all its interfaces have one link type:"
        + splitAdvice + " (tshark -r FILE -Y 'frame.interface_id == N' -w PART.pcapng,"
        + " then editcap -F pcap -T ether|linux-sll|linux-sll2|rawip PART.pcapng PART.pcap)"
}

private let splitAdvice = " split it per interface first"
