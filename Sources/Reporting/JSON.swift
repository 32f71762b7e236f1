import PacketDecoding

/// A minimal JSON object writer that keeps keys in the order written, so the
/// output reads like the documented contract ("type" first).
///
/// Built as UTF-8 bytes in one growing buffer (`ByteWriter`): a report line
/// per flow is per-flow work, and the String concatenation this replaced (a
/// quoted key, a colon and a value appended as new Strings, 25 times per
/// line) cost about 140 000 instructions per flow, six times the text report.
/// A nested object is written into the same buffer (`addObject`).
struct JSONObject: ~Copyable {
    /// The object so far, without its closing brace; after what the buffer
    /// held before, when the object is written into a caller's buffer.
    /// Written by callers only between `openString` and `closeString`.
    var bytes: ByteWriter
    private var first = true

    init() {
        self.init(appendingTo: ByteWriter(capacity: 1024))
    }

    /// Writes the object after what `output` holds (a batch of report
    /// lines): no buffer of its own, no String made per object.
    init(appendingTo output: consuming ByteWriter) {
        bytes = output
        bytes.append(UInt8(ascii: "{"))
    }

    mutating func add(_ key: StaticString, _ value: String?) {
        guard let value else { return addNull(key) }
        addKey(key)
        Self.appendQuoted(value, to: &bytes)
    }

    /// An endpoint, written in place ("10.0.0.1:80", "[fd00::1]:443": nothing to escape).
    mutating func add(_ key: StaticString, _ endpoint: Endpoint) {
        addKey(key)
        bytes.append(UInt8(ascii: "\""))
        bytes.append(endpoint)
        bytes.append(UInt8(ascii: "\""))
    }

    /// Opens a string under `key` whose bytes the caller then writes straight
    /// into `bytes` (no String made of them); `closeString` finishes it.
    /// Written this way, not through a closure: one capturing a flow's
    /// report copied the whole report, per flow.
    mutating func openString(_ key: StaticString) -> Int {
        addKey(key)
        let quote = bytes.count
        bytes.append(UInt8(ascii: "\""))
        return quote
    }

    /// Ends the string opened at `quote`: escaped after the fact in the rare
    /// case it needs it, or null when there was no value (nothing written).
    mutating func closeString(openedAt quote: Int, hasValue: Bool) {
        guard hasValue else {
            bytes.truncate(to: quote)
            bytes.append("null")
            return
        }
        let start = quote + 1
        if UnsafeBufferPointer(rebasing: bytes.bytes[start...]).contains(where: Self.needsEscape) {
            let raw = Array(bytes.bytes[start...])
            bytes.truncate(to: start)
            raw.withUnsafeBufferPointer { Self.appendEscaped($0, to: &bytes) }
        }
        bytes.append(UInt8(ascii: "\""))
    }

    /// "0x1301": how cipher suites are written in the RFCs and IANA registry.
    mutating func addHex4(_ key: StaticString, _ value: UInt16?) {
        guard let value else { return addNull(key) }
        addKey(key)
        bytes.append("\"0x")
        Self.hexDigits.withUTF8Buffer { hex in
            for shift in stride(from: 12, through: 0, by: -4) { bytes.append(hex[Int(value >> UInt16(shift) & 0xF)]) }
        }
        bytes.append(UInt8(ascii: "\""))
    }

    mutating func add(_ key: StaticString, _ value: Int) {
        addKey(key)
        bytes.appendDecimal(value)
    }

    mutating func add(_ key: StaticString, _ value: UInt64) {
        addKey(key)
        bytes.appendDigits(value)
    }

    mutating func add(_ key: StaticString, _ value: Bool) {
        addKey(key)
        bytes.append(value ? "true" : "false")
    }

    mutating func add(_ key: StaticString, _ value: Bool?) {
        guard let value else { return addNull(key) }
        add(key, value)
    }

    mutating func add(_ key: StaticString, _ values: [String]) {
        addKey(key)
        bytes.append(UInt8(ascii: "["))
        for (index, value) in values.enumerated() {
            if index > 0 { bytes.append(UInt8(ascii: ",")) }
            Self.appendQuoted(value, to: &bytes)
        }
        bytes.append(UInt8(ascii: "]"))
    }

    /// An object under `key`, its members written by `members` into this one's buffer.
    mutating func addObject(_ key: StaticString, _ members: (inout JSONObject) -> Void) {
        addKey(key)
        bytes.append(UInt8(ascii: "{"))
        first = true
        members(&self)
        bytes.append(UInt8(ascii: "}"))
        first = false
    }

    /// An array of objects under `key`, one per element, each written by `members`.
    mutating func addObjects<Element>(_ key: StaticString, _ elements: some Sequence<Element>, _ members: (inout JSONObject, Element) -> Void) {
        addKey(key)
        bytes.append(UInt8(ascii: "["))
        for (index, element) in elements.enumerated() {
            if index > 0 { bytes.append(UInt8(ascii: ",")) }
            bytes.append(UInt8(ascii: "{"))
            first = true
            members(&self, element)
            bytes.append(UInt8(ascii: "}"))
        }
        bytes.append(UInt8(ascii: "]"))
        first = false
    }

    /// A capture time as an ISO 8601 UTC string with microseconds.
    mutating func addTimestamp(_ key: StaticString, nanoseconds: Int64) {
        addKey(key)
        bytes.append(UInt8(ascii: "\""))
        Timestamp.appendISO8601(nanoseconds: nanoseconds, to: &bytes)
        bytes.append(UInt8(ascii: "\""))
    }

    /// Text kept as UTF-8 bytes, `null` when there are none.
    mutating func addText(_ key: StaticString, _ utf8: UnsafeBufferPointer<UInt8>) {
        guard !utf8.isEmpty else { return addNull(key) }
        addKey(key)
        bytes.append(UInt8(ascii: "\""))
        Self.appendEscaped(utf8, to: &bytes)
        bytes.append(UInt8(ascii: "\""))
    }

    mutating func addNull(_ key: StaticString) {
        addKey(key)
        bytes.append("null")
    }

    private mutating func addKey(_ key: StaticString) {
        bytes.append(first ? "\"" : ",\"")
        first = false
        bytes.append(key)
        bytes.append("\":")
    }

    /// The object closed, followed by a line end: one JSON Lines record.
    consuming func line() -> String { closed(then: "\n") }

    consuming func closed() -> String { closed(then: "") }

    /// The object closed with a line end, and the buffer it was written into.
    consuming func finishLine() -> ByteWriter {
        bytes.append(UInt8(ascii: "}"))
        bytes.append(UInt8(ascii: "\n"))
        return bytes
    }

    private consuming func closed(then ending: StaticString) -> String {
        bytes.append(UInt8(ascii: "}"))
        bytes.append(ending)
        return bytes.string
    }

    /// A JSON string: quotes, backslashes and control characters escaped;
    /// everything else (UTF-8 included) copied as it is.
    static func appendQuoted(_ string: String, to out: inout ByteWriter) {
        out.append(UInt8(ascii: "\""))
        if string.utf8.withContiguousStorageIfAvailable({ appendEscaped($0, to: &out) }) == nil {
            var string = string
            string.withUTF8 { appendEscaped($0, to: &out) }
        }
        out.append(UInt8(ascii: "\""))
    }

    static let hexDigits: StaticString = "0123456789abcdef"

    @inline(__always)
    static func needsEscape(_ byte: UInt8) -> Bool {
        byte < 0x20 || byte == UInt8(ascii: "\"") || byte == UInt8(ascii: "\\")
    }

    /// The bytes, escaped for the inside of a JSON string.
    static func appendEscaped(_ utf8: UnsafeBufferPointer<UInt8>, to out: inout ByteWriter) {
        // Most values (addresses, verdicts, SNI) need no escaping: copy them whole.
        guard utf8.contains(where: needsEscape) else {
            out.append(utf8)
            return
        }
        for byte in utf8 {
            switch byte {
            case UInt8(ascii: "\""): out.append("\\\"")
            case UInt8(ascii: "\\"): out.append("\\\\")
            case UInt8(ascii: "\n"): out.append("\\n")
            case UInt8(ascii: "\r"): out.append("\\r")
            case UInt8(ascii: "\t"): out.append("\\t")
            case ..<0x20:
                out.append("\\u00")
                hexDigits.withUTF8Buffer { hex in
                    out.append(hex[Int(byte >> 4)])
                    out.append(hex[Int(byte & 0x0F)])
                }
            default:
                out.append(byte)
            }
        }
    }
}

/// Formats capture timestamps as ISO 8601 UTC with microseconds.
public enum Timestamp {
    public static func iso8601(nanoseconds: Int64) -> String {
        var out = ByteWriter(capacity: 27)
        appendISO8601(nanoseconds: nanoseconds, to: &out)
        return out.string
    }

    /// "2026-11-18T11:06:40.123456Z", written digit by digit: interpolating
    /// seven padded numbers cost 7 000 instructions per timestamp, and every
    /// JSON flow line has two.
    static func appendISO8601(nanoseconds: Int64, to out: inout ByteWriter) {
        // Floor division by remainder: `nanoseconds - 999_999_999` overflowed
        // for a timestamp near Int64's lower end (a file can hold any).
        var seconds = nanoseconds / 1_000_000_000, remainder = nanoseconds % 1_000_000_000
        if remainder < 0 {
            seconds -= 1
            remainder += 1_000_000_000
        }
        let micros = remainder / 1_000
        var days = seconds >= 0 ? seconds / 86_400 : (seconds - 86_399) / 86_400
        let secondOfDay = seconds - days * 86_400
        // Civil date from days since 1970-01-01 (Howard Hinnant's algorithm).
        days += 719_468
        let era = (days >= 0 ? days : days - 146_096) / 146_097
        let dayOfEra = days - era * 146_097
        let yearOfEra = (dayOfEra - dayOfEra / 1_460 + dayOfEra / 36_524 - dayOfEra / 146_096) / 365
        let dayOfYear = dayOfEra - (365 * yearOfEra + yearOfEra / 4 - yearOfEra / 100)
        let monthIndex = (5 * dayOfYear + 2) / 153
        let day = dayOfYear - (153 * monthIndex + 2) / 5 + 1
        let month = monthIndex < 10 ? monthIndex + 3 : monthIndex - 9
        let year = yearOfEra + era * 400 + (month <= 2 ? 1 : 0)
        if year >= 0, year <= 9_999 {
            out.appendTwoDigits(Int(year / 100))
            out.appendTwoDigits(Int(year % 100))
        } else {
            appendPadded(year, width: 4, to: &out)
        }
        out.append(UInt8(ascii: "-"))
        out.appendTwoDigits(Int(month))
        out.append(UInt8(ascii: "-"))
        out.appendTwoDigits(Int(day))
        out.append(UInt8(ascii: "T"))
        out.appendTwoDigits(Int(secondOfDay / 3_600))
        out.append(UInt8(ascii: ":"))
        out.appendTwoDigits(Int(secondOfDay / 60 % 60))
        out.append(UInt8(ascii: ":"))
        out.appendTwoDigits(Int(secondOfDay % 60))
        out.append(UInt8(ascii: "."))
        out.appendTwoDigits(Int(micros / 10_000))
        out.appendTwoDigits(Int(micros / 100 % 100))
        out.appendTwoDigits(Int(micros % 100))
        out.append(UInt8(ascii: "Z"))
    }

    /// Decimal digits, with leading zeros up to `width`.
    static func appendPadded(_ value: Int64, width: Int, to out: inout ByteWriter) {
        if value < 0 { out.append(UInt8(ascii: "-")) }
        out.appendDigits(value.magnitude, minimumWidth: width)
    }
}
