/// How `-w`'s packet file is split, as tcpdump's `-C` and `-W` split it, so
/// that a capture left running on a node cannot fill its disk: once the
/// file is larger than `bytesPerFile`, the next packet starts a new file;
/// with `fileCount`, the files form a ring and the oldest is overwritten.
public struct PacketFileRotation: Sendable {
    /// A file is closed before the packet that would follow its first
    /// `bytesPerFile` bytes: each ends at most one packet past it, as tcpdump's.
    public let bytesPerFile: Int64
    /// Files kept (a ring), or nil for as many as the capture needs.
    public let fileCount: Int?

    public init(bytesPerFile: Int64, fileCount: Int? = nil) {
        self.bytesPerFile = max(bytesPerFile, 1)
        self.fileCount = fileCount.map { max($0, 1) }
    }

    /// `-C`'s unit, as tcpdump's: millions of bytes (not MiB).
    public static let unitBytes: Int64 = 1_000_000

    /// The name of file number `index` (from 0), as tcpdump names them, so
    /// that scripts written for its rotated files find these: the first is
    /// `base` itself and the next `base1`, `base2`…; in a ring every name
    /// carries its number, with leading zeros to the width of the last
    /// (`-W 12`: `base00` to `base11`), so that they sort in order.
    public func fileName(_ base: String, index: Int) -> String {
        let width = fileCount.map { Self.digits(in: $0 - 1) } ?? 0
        if index == 0, width == 0 { return base }
        let number = String(index)
        return base + String(repeating: "0", count: max(width - number.count, 0)) + number
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
