extension Array where Element == UInt8 {
    /// Appends a string's UTF-8 bytes with one copy. `append(contentsOf: text.utf8)`
    /// walks the view generically, which showed in profiles of report building.
    @inlinable
    public mutating func appendUTF8(_ text: String) {
        var text = text
        text.withUTF8 { append(contentsOf: $0) }
    }

    /// Appends a literal's bytes, for the short separators report lines are
    /// made of: no String to look into (3000 text lines: 1.2 M instructions
    /// fewer than with `appendUTF8`).
    @inlinable
    public mutating func appendLiteral(_ text: StaticString) {
        text.withUTF8Buffer { append(contentsOf: $0) }
    }
}
