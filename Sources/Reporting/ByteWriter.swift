/// A report line's bytes, appended in place into memory this value alone
/// owns: an append is a capacity check and a store. An `[UInt8]` also checks
/// on every append that its storage is not shared, a runtime call; a JSON
/// line of 30 keys cost about 200 instructions per key that way.
///
/// Not copyable, so there is never a second owner to check for.
struct ByteWriter: ~Copyable {
    private var base: UnsafeMutablePointer<UInt8>
    private(set) var count = 0
    private var capacity: Int

    init(capacity: Int) {
        self.capacity = max(capacity, 16)
        base = .allocate(capacity: self.capacity)
    }

    deinit { base.deallocate() }

    mutating func append(_ byte: UInt8) {
        if count == capacity { grow(toFit: 1) }
        base[count] = byte
        count += 1
    }

    mutating func append(_ bytes: UnsafeBufferPointer<UInt8>) {
        guard let source = bytes.baseAddress, !bytes.isEmpty else { return }
        if capacity - count < bytes.count { grow(toFit: bytes.count) }
        (base + count).update(from: source, count: bytes.count)
        count += bytes.count
    }

    /// A literal's bytes (separators, keys, fixed words).
    mutating func append(_ literal: StaticString) {
        literal.withUTF8Buffer { append($0) }
    }

    /// A string's UTF-8 bytes, with one copy.
    mutating func append(_ text: String) {
        var text = text
        text.withUTF8 { append($0) }
    }

    mutating func append(repeating byte: UInt8, count extra: Int) {
        guard extra > 0 else { return }
        if capacity - count < extra { grow(toFit: extra) }
        (base + count).update(repeating: byte, count: extra)
        count += extra
    }

    /// The bytes so far, for reading.
    var bytes: UnsafeBufferPointer<UInt8> { UnsafeBufferPointer(start: base, count: count) }

    /// The bytes so far as a String (they are UTF-8).
    var string: String { String(decoding: bytes, as: UTF8.self) }

    private mutating func grow(toFit extra: Int) {
        let newCapacity = max(capacity * 2, count + extra)
        let grown = UnsafeMutablePointer<UInt8>.allocate(capacity: newCapacity)
        grown.update(from: base, count: count)
        base.deallocate()
        base = grown
        capacity = newCapacity
    }
}
