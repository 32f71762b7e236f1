extension Array where Element == UInt8 {
    /// Appends a string's UTF-8 bytes with one copy. `append(contentsOf: text.utf8)`
    /// walks the view generically, which showed in profiles of report building.
    @inlinable
    public mutating func appendUTF8(_ text: String) {
        var text = text
        text.withUTF8 { append(contentsOf: $0) }
    }
}
