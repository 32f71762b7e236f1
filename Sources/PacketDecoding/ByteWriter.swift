/// Bytes appended in place into memory this value alone owns: an append is
/// a capacity check and a store. An `[UInt8]` also checks on every append that
/// its storage is not shared, a runtime call; a JSON report line of 30 keys
/// cost about 200 instructions per key that way. Report lines, evidence and
/// the batched output are built in one and made a String (or written) once.
///
/// Not copyable, so there is never a second owner to check for.
public struct ByteWriter: ~Copyable {
    @usableFromInline var base: UnsafeMutablePointer<UInt8>
    /// Bytes written so far.
    @usableFromInline var used = 0
    @usableFromInline var capacity: Int

    public init(capacity: Int) {
        self.capacity = max(capacity, 16)
        base = .allocate(capacity: self.capacity)
    }

    deinit { base.deallocate() }

    public var count: Int { used }

    public var isEmpty: Bool { used == 0 }

    @inlinable
    public mutating func append(_ byte: UInt8) {
        if used == capacity { grow(toFit: 1) }
        base[used] = byte
        used += 1
    }

    @inlinable
    public mutating func append(_ bytes: UnsafeBufferPointer<UInt8>) {
        guard let source = bytes.baseAddress, !bytes.isEmpty else { return }
        let count = bytes.count
        if capacity - used < count { grow(toFit: count) }
        let target = UnsafeMutableRawPointer(base + used)
        let from = UnsafeRawPointer(source)
        // Most appends are a few bytes (separators, words, addresses): two
        // overlapping word copies cover 4 to 16 bytes without a call to
        // memcpy, whose call and dispatch cost more than such a copy.
        if count >= 8, count <= 16 {
            target.storeBytes(of: from.loadUnaligned(as: UInt64.self), as: UInt64.self)
            target.storeBytes(of: from.loadUnaligned(fromByteOffset: count - 8, as: UInt64.self), toByteOffset: count - 8, as: UInt64.self)
        } else if count >= 4, count < 8 {
            target.storeBytes(of: from.loadUnaligned(as: UInt32.self), as: UInt32.self)
            target.storeBytes(of: from.loadUnaligned(fromByteOffset: count - 4, as: UInt32.self), toByteOffset: count - 4, as: UInt32.self)
        } else if count < 4 {
            target.storeBytes(of: source[0], as: UInt8.self)
            target.storeBytes(of: source[count / 2], toByteOffset: count / 2, as: UInt8.self)
            target.storeBytes(of: source[count - 1], toByteOffset: count - 1, as: UInt8.self)
        } else {
            (base + used).update(from: source, count: count)
        }
        used += count
    }

    /// A literal's bytes (separators, keys, fixed words).
    @inlinable
    public mutating func append(_ literal: StaticString) {
        literal.withUTF8Buffer { append($0) }
    }

    /// A string's UTF-8 bytes, with one copy.
    ///
    /// Disfavoured so that a string literal picks the `StaticString`
    /// overload (a literal otherwise becomes a String, Swift's default
    /// literal type, and is read through String's storage checks: about 70
    /// instructions per separator, hundreds per report line).
    @_disfavoredOverload
    @inlinable
    public mutating func append(_ text: String) {
        // Read in place where the bytes are contiguous (native strings, small
        // ones included); `withUTF8` on a copy otherwise.
        if text.utf8.withContiguousStorageIfAvailable({ append($0) }) == nil {
            var text = text
            text.withUTF8 { append($0) }
        }
    }

    /// An endpoint as `Endpoint.description` spells it, IPv4 written in
    /// place (a report line names two; each made a String first).
    public mutating func append(_ endpoint: Endpoint) {
        guard !endpoint.address.isIPv6 else { return append(endpoint.description) }
        if capacity - used < IPAddress.maximumDottedQuadLength { grow(toFit: IPAddress.maximumDottedQuadLength) }
        used += IPAddress.writeDottedQuad(UInt32(truncatingIfNeeded: endpoint.address.low), port: endpoint.port, to: base + used)
    }

    @inlinable
    public mutating func append(repeating byte: UInt8, count extra: Int) {
        guard extra > 0 else { return }
        if capacity - used < extra { grow(toFit: extra) }
        (base + used).update(repeating: byte, count: extra)
        used += extra
    }

    /// Decimal digits of `value`, with leading zeros up to `minimumWidth`.
    /// Made right to left on the stack (division by the constant 10 is a
    /// multiply; dividing by a power of ten held in a variable, as this did,
    /// is a divide instruction per digit), then appended in one copy.
    public mutating func appendDigits(_ value: UInt64, minimumWidth: Int = 1) {
        var digits: (UInt64, UInt64, UInt64) = (0, 0, 0)  // room for UInt64.max's 20 digits
        withUnsafeMutableBytes(of: &digits) { buffer in
            var position = buffer.count
            var rest = value
            repeat {
                position -= 1
                buffer[position] = UInt8(truncatingIfNeeded: 48 + rest % 10)
                rest /= 10
            } while rest > 0
            append(repeating: UInt8(ascii: "0"), count: minimumWidth - (buffer.count - position))
            append(UnsafeRawBufferPointer(rebasing: buffer[position...]).assumingMemoryBound(to: UInt8.self))
        }
    }

    /// A count in decimal ("-" first when negative).
    public mutating func appendDecimal(_ value: Int) {
        if value < 0 { append(UInt8(ascii: "-")) }
        appendDigits(UInt64(value.magnitude))
    }

    /// Two decimal digits of `value` (0 to 99), a leading zero included.
    public mutating func appendTwoDigits(_ value: Int) {
        if capacity - used < 2 { grow(toFit: 2) }
        let tens = value / 10
        base[used] = UInt8(truncatingIfNeeded: 48 + tens)
        base[used + 1] = UInt8(truncatingIfNeeded: 48 + value - tens * 10)
        used += 2
    }

    /// Forgets the bytes from `count` on (a writer that wrote a part and
    /// then found it should not stand); nothing if `count` is not below `self.count`.
    public mutating func truncate(to count: Int) {
        if count >= 0, count < used { used = count }
    }

    /// Forgets the bytes, keeping the memory.
    public mutating func removeAll() { used = 0 }

    /// The bytes so far, valid until the next change.
    public var bytes: UnsafeBufferPointer<UInt8> { UnsafeBufferPointer(start: base, count: used) }

    /// The bytes so far as a String (they are UTF-8).
    public var string: String { String(decoding: bytes, as: UTF8.self) }

    @usableFromInline
    mutating func grow(toFit extra: Int) {
        let newCapacity = max(capacity * 2, used + extra)
        let grown = UnsafeMutablePointer<UInt8>.allocate(capacity: newCapacity)
        grown.update(from: base, count: used)
        base.deallocate()
        base = grown
        capacity = newCapacity
    }
}
