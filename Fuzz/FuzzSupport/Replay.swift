#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#endif

/// Runs a harness over files named on the command line, the way libFuzzer
/// would run them one input at a time. This is what a harness binary does
/// when it is built without `-sanitize=fuzzer`: CI and tests replay the seed
/// corpus and every past finding through the same code the fuzzer drives.
func replayInputs(arguments: [String], harness: (UnsafeRawBufferPointer) -> Void) -> Never {
    var replayed = 0
    for path in arguments.dropFirst() {
        guard let bytes = readWholeFile(path) else {
            writeError("replay: cannot read \(path)\n")
            exit(1)
        }
        bytes.withUnsafeBytes(harness)
        replayed += 1
    }
    writeError("replay: \(replayed) inputs, no finding\n")
    exit(0)
}

private func readWholeFile(_ path: String) -> [UInt8]? {
    guard let file = fopen(path, "rb") else { return nil }
    defer { fclose(file) }
    var bytes: [UInt8] = []
    var chunk = [UInt8](repeating: 0, count: 65_536)
    while true {
        let count = chunk.withUnsafeMutableBytes { fread($0.baseAddress, 1, $0.count, file) }
        if count == 0 { break }
        bytes.append(contentsOf: chunk[0..<count])
    }
    return ferror(file) == 0 ? bytes : nil
}

private func writeError(_ text: String) {
    var text = text
    text.withUTF8 { _ = write(STDERR_FILENO, $0.baseAddress, $0.count) }
}

/// Reads a fuzzer's input front to back; every read is bounds-checked and
/// returns nil at the end, so harnesses turn any byte string into a valid call.
public struct FuzzInput {
    private let bytes: UnsafeRawBufferPointer
    private var offset = 0

    public init(_ bytes: UnsafeRawBufferPointer) { self.bytes = bytes }

    public var isAtEnd: Bool { offset >= bytes.count }

    public mutating func byte() -> UInt8? {
        guard offset < bytes.count else { return nil }
        defer { offset += 1 }
        return bytes[offset]
    }

    public mutating func u16() -> Int? {
        guard let high = byte(), let low = byte() else { return nil }
        return Int(high) << 8 | Int(low)
    }

    /// Up to `count` bytes, fewer at the end of the input.
    public mutating func take(_ count: Int) -> UnsafeRawBufferPointer {
        let end = min(bytes.count, offset + max(0, count))
        defer { offset = end }
        return UnsafeRawBufferPointer(rebasing: bytes[offset..<end])
    }

    public mutating func rest() -> UnsafeRawBufferPointer { take(bytes.count - offset) }
}

/// The harness a fuzzer calls back into; a C callback cannot capture it.
nonisolated(unsafe) private var currentHarness: ((UnsafeRawBufferPointer) -> Void)?

/// A harness binary's whole `main`: under `-DFUZZING` libFuzzer drives
/// `harness`; otherwise the files named on the command line are replayed.
public func runHarness(_ harness: @escaping (UnsafeRawBufferPointer) -> Void) -> Never {
    #if FUZZING
    currentHarness = harness
    var argc = CommandLine.argc
    var argv: UnsafeMutablePointer<UnsafeMutablePointer<CChar>?>? = CommandLine.unsafeArgv
    exit(LLVMFuzzerRunDriver(&argc, &argv) { data, size in
        currentHarness?(UnsafeRawBufferPointer(start: data, count: data == nil ? 0 : size))
        return 0
    })
    #else
    replayInputs(arguments: CommandLine.arguments, harness: harness)
    #endif
}

#if FUZZING
/// libFuzzer's driver, for programs that keep their own `main` (SwiftPM
/// renames an executable's entry point, so libFuzzer's `main` cannot be used).
@_silgen_name("LLVMFuzzerRunDriver")
private func LLVMFuzzerRunDriver(
    _ argc: UnsafeMutablePointer<Int32>,
    _ argv: UnsafeMutablePointer<UnsafeMutablePointer<UnsafeMutablePointer<CChar>?>?>,
    _ callback: @convention(c) (UnsafePointer<UInt8>?, Int) -> Int32
) -> Int32
#endif
