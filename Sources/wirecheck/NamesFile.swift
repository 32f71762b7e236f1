#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#endif
import Reporting

/// Reads `--names`: the whole file, at start (before privileges are
/// dropped), bounded so that a wrong path (a capture, a device) fails fast.
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
}
