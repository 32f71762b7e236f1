/// A minimal JSON object writer that keeps keys in the order written, so the
/// output reads like the documented contract ("type" first).
struct JSONObject {
    private(set) var text = "{"
    private var first = true

    mutating func add(_ key: String, _ value: String?) {
        guard let value else { return addNull(key) }
        addRaw(key, JSONObject.quote(value))
    }

    mutating func add(_ key: String, _ value: Int) { addRaw(key, String(value)) }
    mutating func add(_ key: String, _ value: UInt64) { addRaw(key, String(value)) }
    mutating func add(_ key: String, _ value: Bool) { addRaw(key, value ? "true" : "false") }

    mutating func add(_ key: String, _ values: [String]) {
        addRaw(key, "[" + values.map(JSONObject.quote).joined(separator: ",") + "]")
    }

    mutating func add(_ key: String, _ object: JSONObject?) {
        guard let object else { return addNull(key) }
        addRaw(key, object.closed)
    }

    mutating func addNull(_ key: String) { addRaw(key, "null") }

    mutating func addRaw(_ key: String, _ json: String) {
        if !first { text += "," }
        first = false
        text += JSONObject.quote(key) + ":" + json
    }

    var closed: String { text + "}" }

    static func quote(_ string: String) -> String {
        // Most values (addresses, verdicts, SNI) need no escaping: copy them whole.
        if !string.utf8.contains(where: { $0 < 0x20 || $0 == UInt8(ascii: "\"") || $0 == UInt8(ascii: "\\") }) {
            return "\"" + string + "\""
        }
        var out = "\""
        for scalar in string.unicodeScalars {
            switch scalar {
            case "\"": out += "\\\""
            case "\\": out += "\\\\"
            case "\n": out += "\\n"
            case "\r": out += "\\r"
            case "\t": out += "\\t"
            default:
                if scalar.value < 0x20 {
                    let hex = String(scalar.value, radix: 16)
                    out += "\\u" + String(repeating: "0", count: 4 - hex.count) + hex
                } else {
                    out.unicodeScalars.append(scalar)
                }
            }
        }
        return out + "\""
    }
}

/// Formats capture timestamps as ISO 8601 UTC with microseconds.
public enum Timestamp {
    public static func iso8601(nanoseconds: Int64) -> String {
        let seconds = nanoseconds >= 0 ? nanoseconds / 1_000_000_000 : (nanoseconds - 999_999_999) / 1_000_000_000
        let micros = (nanoseconds - seconds * 1_000_000_000) / 1_000
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
        return "\(pad(year, 4))-\(pad(month, 2))-\(pad(day, 2))T\(pad(secondOfDay / 3_600, 2)):"
            + "\(pad(secondOfDay / 60 % 60, 2)):\(pad(secondOfDay % 60, 2)).\(pad(micros, 6))Z"
    }

    static func pad(_ value: Int64, _ width: Int) -> String {
        let digits = String(value)
        return digits.count >= width ? digits : String(repeating: "0", count: width - digits.count) + digits
    }
}
