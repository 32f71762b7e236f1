#if canImport(Glibc)
import Glibc
#endif

/// How `-w`'s packet file is split, as tcpdump's `-C`, `-G` and `-W` split
/// it, so that a capture left running on a node cannot fill its disk and can
/// be kept by the hour: once the file is larger than `bytesPerFile`, or
/// `secondsPerFile` after it started, the next packet starts a new file;
/// with `fileCount`, `-C`'s files form a ring and the oldest is overwritten.
public struct PacketFileRotation: Sendable {
    /// `-C`: a file is closed before the packet that would follow its first
    /// `bytesPerFile` bytes: each ends at most one packet past it, as tcpdump's.
    public let bytesPerFile: Int64?
    /// `-G`: a file is closed before the first packet captured this many
    /// seconds (whole seconds, as tcpdump counts them) after it was started;
    /// its name is `-w`'s with strftime's conversions done for that second.
    public let secondsPerFile: Int64?
    /// With `-C`, files kept (a ring within each of `-G`'s intervals); with
    /// `-G` alone, files written before the capture stops (tcpdump's `-W`);
    /// nil for as many as the capture needs.
    public let fileCount: Int?

    public init(bytesPerFile: Int64? = nil, secondsPerFile: Int64? = nil, fileCount: Int? = nil) {
        self.bytesPerFile = bytesPerFile.map { max($0, 1) }
        self.secondsPerFile = secondsPerFile.map { max($0, 1) }
        self.fileCount = fileCount.map { max($0, 1) }
    }

    /// `-C`'s unit, as tcpdump's: millions of bytes (not MiB).
    public static let unitBytes: Int64 = 1_000_000

    /// One file of a rotation: `-C`'s number for it (from 0, again from 0 in
    /// each of `-G`'s intervals) and the second (Unix time) its `-G`
    /// interval began.
    public struct Slot: Sendable, Equatable {
        public var index: Int
        public var startSecond: Int64

        public init(index: Int = 0, startSecond: Int64 = 0) {
            self.index = index
            self.startSecond = startSecond
        }
    }

    /// What the packet about to be written, captured at `nanoseconds` (Unix
    /// time), does to the file being written (`slot`, holding `writtenBytes`).
    public enum Step: Equatable {
        /// Written to the same file.
        case same
        /// Written to the file of a new `-G` interval, this one.
        case nextInterval(Slot)
        /// Written to `-C`'s next file, this one.
        case nextFile(Slot)
        /// Not written: `-G` with `-W` and no `-C` has written its files, and
        /// the capture stops (as tcpdump exits).
        case stop
    }

    /// Decides, for each packet, whether it starts a new file. `-G`'s time is
    /// looked at first: when both are due, the new interval's file starts
    /// empty and `-C`'s count starts again (as tcpdump's). `filesStarted`
    /// counts the files of `-G`'s intervals started so far, the first included.
    @inline(__always)
    public func step(from slot: Slot, writtenBytes: Int64, at nanoseconds: Int64, filesStarted: Int) -> Step {
        if let secondsPerFile {
            // Whole seconds, as tcpdump's clock; floored before 1970.
            let second = nanoseconds / 1_000_000_000 - (nanoseconds % 1_000_000_000 < 0 ? 1 : 0)
            if second - slot.startSecond >= secondsPerFile {
                if bytesPerFile == nil, let fileCount, filesStarted >= fileCount { return .stop }
                return .nextInterval(Slot(index: 0, startSecond: second))
            }
        }
        if let bytesPerFile, writtenBytes > bytesPerFile {
            return .nextFile(Slot(index: index(after: slot.index), startSecond: slot.startSecond))
        }
        return .same
    }

    /// The name of the file `slot`, as tcpdump names them, so that scripts
    /// written for its rotated files find these. With `-G`, `base` is a
    /// strftime pattern, filled in (local time) with the second the interval
    /// began. With `-C`, the first file is that name itself and the next
    /// `name1`, `name2`…; in a ring every name carries its number, with
    /// leading zeros to the width of the last (`-W 12`: `name00` to
    /// `name11`), so that they sort in order.
    public func fileName(_ base: String, slot: Slot) -> String {
        let name = secondsPerFile == nil ? base : Self.formatTime(base, at: slot.startSecond)
        guard bytesPerFile != nil else { return name }
        let width = fileCount.map { Self.digits(in: $0 - 1) } ?? 0
        if slot.index == 0, width == 0 { return name }
        let number = String(slot.index)
        return name + String(repeating: "0", count: max(width - number.count, 0)) + number
    }

    /// Whether `pattern` has a strftime conversion (`%` and a letter, not
    /// `%%`): without one, every `-G` interval would overwrite the same file.
    public static func hasTimeConversion(_ pattern: String) -> Bool {
        var escaped = false
        for byte in pattern.utf8 {
            if escaped {
                if byte != UInt8(ascii: "%") { return true }
                escaped = false
            } else if byte == UInt8(ascii: "%") {
                escaped = true
            }
        }
        return false
    }

    /// `pattern` through strftime for `second`, in local time (tcpdump's
    /// names; TZ chooses the zone). A name that does not fit in 16 KiB, far
    /// past any path the kernel opens, is left as written.
    static func formatTime(_ pattern: String, at second: Int64) -> String {
        // TZ read again, as localtime (tcpdump's) does; localtime_r need not.
        tzset()
        var time = time_t(second)
        var parts = tm()
        guard localtime_r(&time, &parts) != nil else { return pattern }
        let capacity = 16 * 1024
        return withUnsafeTemporaryAllocation(of: CChar.self, capacity: capacity) { buffer -> String in
            guard let base = buffer.baseAddress else { return pattern }
            let length = strftime(base, capacity, pattern, &parts)
            guard length > 0 else { return pattern }
            return String(decoding: UnsafeRawBufferPointer(start: base, count: length), as: UTF8.self)
        }
    }

    /// The number after `index` (back to 0 at the end of a ring).
    public func index(after index: Int) -> Int {
        guard let fileCount else { return index + 1 }
        return index + 1 >= fileCount ? 0 : index + 1
    }

    /// Decimal digits of `value`, none for 0 (tcpdump's width: a ring of one
    /// file keeps the name as given).
    private static func digits(in value: Int) -> Int {
        var rest = value, count = 0
        while rest > 0 {
            count += 1
            rest /= 10
        }
        return count
    }
}
