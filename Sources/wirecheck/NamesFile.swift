#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#endif
import Reporting

/// Reads `--names`: the whole file, at start (before privileges are
/// dropped), bounded so that a wrong path (a capture, a device) fails fast;
/// during a live capture, again whenever it changes (see `Watch`).
enum NamesFile {
    struct Failure: Error, CustomStringConvertible {
        var description: String
    }

    static let sizeLimit = 64 << 20

    static func load(_ path: String) throws(Failure) -> EndpointNames {
        let descriptor = open(path, O_RDONLY | O_CLOEXEC | O_NOCTTY)
        guard descriptor >= 0 else { throw Failure(description: "--names \(path): \(String(cString: strerror(errno)))") }
        defer { close(descriptor) }
        var bytes: [UInt8] = []
        var chunk = [UInt8](repeating: 0, count: 65_536)
        while true {
            let count = chunk.withUnsafeMutableBytes { read(descriptor, $0.baseAddress, $0.count) }
            if count < 0 {
                if errno == EINTR { continue }
                throw Failure(description: "--names \(path): \(String(cString: strerror(errno)))")
            }
            if count == 0 { break }
            bytes += chunk.prefix(count)
            guard bytes.count <= sizeLimit else { throw Failure(description: "--names \(path): larger than 64 MiB; is it the right file?") }
        }
        let names = EndpointNames(parsing: String(decoding: bytes, as: UTF8.self))
        guard names.count > 0 else {
            throw Failure(description: "--names \(path): no line gives an address and a name (expected lines such as '10.244.1.7 shop/orders-7d9f')")
        }
        return names
    }

    /// What tells one version of the file from another without reading it.
    struct Stamp: Equatable {
        var device: UInt64
        var inode: UInt64
        var size: Int64
        var modified: Int64

        init?(path: String) {
            var info = stat()
            guard stat(path, &info) == 0 else { return nil }
            device = UInt64(info.st_dev)
            inode = UInt64(info.st_ino)
            size = Int64(info.st_size)
            modified = Int64(info.st_mtim.tv_sec) * 1_000_000_000 + Int64(info.st_mtim.tv_nsec)
        }
    }

    /// Keeps a live capture's names current: pods come and go, and an address
    /// a deleted pod had may be given to another, which the old name would
    /// misname. Looked at every `interval`; a changed file is read once it
    /// has stayed the same for one more look, so a file written by several
    /// commands (kubectl's three lists, `>` then `>>`) is read whole. A file
    /// that cannot be read then keeps the names read before, with a warning.
    struct Watch {
        let path: String
        let interval: Int64
        private var nextLook: Int64
        private var current: Stamp?
        private var pending: Stamp?
        private var lastWarning: String?

        init(path: String, interval: Int64, now: Int64) {
            self.path = path
            self.interval = interval
            nextLook = now + interval
            current = Stamp(path: path)
        }

        enum Outcome {
            case unchanged
            case reloaded(EndpointNames)
            case failed(String)
        }

        /// Called often; looks at the file only when `interval` has passed.
        mutating func check(now: Int64) -> Outcome {
            guard now >= nextLook else { return .unchanged }
            nextLook = now + interval
            guard let stamp = Stamp(path: path) else {
                return warnOnce("--names \(path): cannot look for changes (\(String(cString: strerror(errno)))); the names read before stay")
            }
            guard stamp != current else {
                pending = nil
                return .unchanged
            }
            guard stamp == pending else {
                // Changed since the last look: read it when it has settled.
                pending = stamp
                return .unchanged
            }
            pending = nil
            current = stamp
            do {
                let names = try NamesFile.load(path)
                lastWarning = nil
                return .reloaded(names)
            } catch {
                return warnOnce("\(error); the names read before stay")
            }
        }

        private mutating func warnOnce(_ message: String) -> Outcome {
            guard message != lastWarning else { return .unchanged }
            lastWarning = message
            return .failed(message)
        }
    }
}
