extension Array where Element == UInt8 {
    /// Appends a string's UTF-8 bytes with one copy. `append(contentsOf: text.utf8)`
    /// walks the view generically, which showed in profiles of report building.
    @inlinable
    public mutating func appendUTF8(_ text: String) {
        var text = text
        text.withUTF8 { append(contentsOf: $0) }
    }

    /// Appends a literal's bytes: no String to look into, about a tenth of
    /// `appendUTF8`'s cost for the short separators a report line is made of.
    @inlinable
    public mutating func appendLiteral(_ text: StaticString) {
        text.withUTF8Buffer { append(contentsOf: $0) }
    }
}
