import CPcap

#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#endif

/// Several capture files read as one, packet by packet in time order, as
/// `mergecap` merges them (`PacketSource.openFiles`).
///
/// Each open file holds its next packet (its head) where its source read it
/// (its libpcap buffer, or in place: `PacketSource`), so the merge copies
/// nothing: the earliest head is handed out, and that file alone is read
/// again on the next call, after the caller is done with the packet. Equal
/// times go to the file that starts first. Files are opened when the merge
/// reaches their first packet and closed at their end: a rotation of
/// hundreds of files keeps one or two open.
///
/// Packets within one file keep their order even where their times do not
/// (`-i any` on several processors can write a packet slightly out of time
/// order): the merge orders files' heads, never a file's own packets.
final class FileMerge {
    /// A file to read, and the time of its first packet when it had one
    /// (nil: empty, or unreadable from the start, to be read last).
    struct File {
        var path: String
        var firstTimestamp: Int64?
        /// A stream's (or standard input's) handle, kept open since it was
        /// checked: it cannot be opened again. Its first packet is not read
        /// yet; `firstTimestamp` is then `.min`, so that it opens first.
        var opened: Reader?
    }

    /// An open file and its next packet. The file is closed when the last
    /// copy of its reader is dropped (the merge drops a reader at its file's
    /// end, and all of them at a failure or in `deinit`).
    struct Reader {
        let path: String
        /// The file's own source: libpcap's handle, read in place where it can be.
        let source: PacketSource
        /// Valid until this reader's next `advance()`.
        var head = CapturedPacket(timestampNanoseconds: 0, originalLength: 0, bytes: UnsafeRawBufferPointer(start: nil, count: 0))

        /// Reads the next packet into `head`: `.packet` (with it), `.end` or `.failed`.
        mutating func advance() -> ReadResult {
            let result = source.nextUnwritten()
            if case .packet(let packet) = result { head = packet }
            return result
        }
    }

    /// Files not opened yet, the next one last.
    @exclusivity(unchecked) private var waiting: [File]
    /// Open files, in the order they were opened (the order of their first
    /// packets), each with a head.
    @exclusivity(unchecked) private var readers: [Reader] = []
    /// The reader whose head was handed out last: it is read again first.
    @exclusivity(unchecked) private var served: Int?
    /// The first packet time of the next file to open (`.max`: none, or no packet).
    @exclusivity(unchecked) private var nextFileStart: Int64
    private let linkType: Int32
    /// The BPF filter every file gets as it opens.
    var filter: String?

    init(files: [File], linkType: Int32) {
        waiting = files.reversed()
        nextFileStart = files.first?.firstTimestamp ?? .max
        self.linkType = linkType
    }

    /// The earliest packet of all files, or how reading ended. After a
    /// failure, the caller stops reading (as with one file cut off).
    func next() -> ReadResult {
        if let index = served {
            served = nil
            switch readers[index].advance() {
            case .packet, .timeout:
                break
            case .end:
                readers.remove(at: index)
            case .failed(let error):
                return failure(error, in: readers[index].path, othersOpen: readers.count - 1)
            }
        }
        // Open every file whose first packet comes no later than the earliest
        // head held (its time is compared first: a `File` holds a String,
        // and taking one out of the array costs reference counting).
        while !waiting.isEmpty, readers.isEmpty || nextFileStart <= earliestHead().time, let file = waiting.popLast() {
            nextFileStart = waiting.last?.firstTimestamp ?? .max
            if let error = open(file) { return error }
        }
        guard !readers.isEmpty else { return .end }
        let (index, _) = earliestHead()
        served = index
        return .packet(readers[index].head)
    }

    /// The reader holding the earliest head, and its time; the first opened wins a tie.
    private func earliestHead() -> (index: Int, time: Int64) {
        var best = 0
        var time = Int64.max
        for index in readers.indices where readers[index].head.timestampNanoseconds < time {
            best = index
            time = readers[index].head.timestampNanoseconds
        }
        return (best, time)
    }

    /// Opens a file and reads its first packet; the failure to return, if any.
    private func open(_ file: File) -> ReadResult? {
        var reader: Reader
        do {
            if let opened = file.opened {
                reader = opened
            } else {
                let (handle, buffer, gzip, stream) = try PacketSource.openFileHandle(file.path)
                reader = Reader(path: file.path, source: PacketSource.fileSource(path: file.path, handle: handle, buffer: buffer,
                                                                                 gzip: gzip, stream: stream))
            }
        } catch {
            // It opened when checked, so it changed since.
            return failure(error, in: file.path, othersOpen: readers.count)
        }
        var problem: CaptureError?
        if reader.source.linkType != linkType {
            problem = CaptureError(.readFailed, "its link type changed since it was opened")
        } else if let filter {
            do { try reader.source.setFilter(filter) } catch { problem = error }
        }
        if problem == nil {
            switch reader.advance() {
            case .packet, .timeout:
                readers.append(reader)
                return nil
            case .end:
                break
            case .failed(let error):
                problem = error
            }
        }
        return problem.map { failure($0, in: file.path, othersOpen: readers.count) }
    }

    /// A read or open failure, naming the file and what was left unread.
    private func failure(_ error: CaptureError, in path: String, othersOpen: Int) -> ReadResult {
        var text = error.message.hasPrefix(path) ? error.message : "\(path): \(error.message)"
        if othersOpen > 0 {
            text += "; \(othersOpen) other file\(othersOpen == 1 ? " was" : "s were") not read to the end"
        }
        if !waiting.isEmpty {
            text += "; the \(waiting.count) later file\(waiting.count == 1 ? " was" : "s were") not read"
        }
        readers.removeAll()
        waiting.removeAll()
        return .failed(CaptureError(error.kind, withHint(text)))
    }
}
