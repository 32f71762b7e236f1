/// Evidence is printed and stored in CI logs: it must prove a flow was
/// cleartext without repeating the secrets the flow exposed.
public enum Redaction {
    /// What replaces a secret.
    public static let marker = "[redacted]"

    /// Headers whose values are credentials or session identifiers.
    static let secretHeaders: Set<String> = [
        "authorization", "proxy-authorization", "cookie", "set-cookie",
        "x-api-key", "x-auth-token", "x-amz-security-token", "x-csrf-token",
    ]

    /// A request line with query values and URL user-info replaced, so that
    /// `GET /login?token=abc` reads `GET /login?token=[redacted]`.
    public static func requestLine(method: String, target: String, version: String) -> String {
        "\(method) \(redactTarget(target)) \(version)"
    }

    /// Redacts `user:password@` in absolute URLs and every query value.
    static func redactTarget(_ target: String) -> String {
        // Most targets are plain paths: nothing to redact, nothing to search with String machinery.
        if !target.utf8.contains(where: { $0 == UInt8(ascii: "?") || $0 == UInt8(ascii: ":") }) { return target }
        var target = Substring(target)
        var prefix = ""
        if let scheme = target.firstRange(of: "://") {
            let afterScheme = target[scheme.upperBound...]
            let authorityEnd = afterScheme.firstIndex { $0 == "/" || $0 == "?" } ?? afterScheme.endIndex
            let authority = afterScheme[..<authorityEnd]
            if let at = authority.lastIndex(of: "@") {
                prefix = String(target[..<scheme.upperBound]) + marker + "@" + String(authority[authority.index(after: at)...])
            } else {
                prefix = String(target[..<authorityEnd])
            }
            target = target[authorityEnd...]
        }
        guard let question = target.firstIndex(of: "?") else { return prefix + String(target) }
        let path = target[..<question]
        let query = target[target.index(after: question)...]
        let redacted = query.split(separator: "&", omittingEmptySubsequences: false).map { pair -> String in
            guard let equals = pair.firstIndex(of: "=") else { return String(pair) }
            return String(pair[...equals]) + marker
        }
        return prefix + String(path) + "?" + redacted.joined(separator: "&")
    }

    /// Commands of text protocols whose arguments are credentials: SMTP/POP3
    /// `AUTH`, POP3/FTP `PASS`, IMAP `LOGIN` and `AUTHENTICATE` (after a tag).
    static let credentialCommands: Set<String> = ["AUTH", "AUTHENTICATE", "PASS", "LOGIN"]

    /// A line of a text protocol, with the arguments of credential commands
    /// redacted: `a1 LOGIN alice s3cret` reads `a1 LOGIN [redacted]`.
    /// URLs in the line (a query, or user-info before an `@`) are redacted as
    /// in request lines, so text that only looks like HTTP leaks nothing either.
    public static func textLine(_ line: String) -> String {
        let line = redactSecretValues(line)
        let words = line.split(separator: " ", maxSplits: 2, omittingEmptySubsequences: false)
        for index in 0..<min(2, words.count) where credentialCommands.contains(words[index].uppercased()) {
            guard index + 1 < words.count || index == 0 else { break }
            return words[0...index].joined(separator: " ") + " " + marker
        }
        guard line.contains("?") || line.contains("@") else { return line }
        return line.split(separator: " ", omittingEmptySubsequences: false).map { word in
            word.contains("?") || word.contains("://") ? redactTarget(String(word)) : String(word)
        }.joined(separator: " ")
    }

    /// Key names that mark their value as a credential in JSON, form data
    /// or `key=value` text: `"token":"abc"` reads `"token":"[redacted]"`.
    static let secretKeyWords: [[UInt8]] = ["pass", "secret", "token", "auth", "apikey", "api_key", "api-key",
                                            "credential", "session", "cookie", "private"].map { Array($0.utf8) }

    /// Values after `key=`, `key:` or `"key":` whose key names a credential.
    static func redactSecretValues(_ line: String) -> String {
        let bytes = Array(line.utf8)
        guard bytes.contains(where: { $0 == UInt8(ascii: "=") || $0 == UInt8(ascii: ":") }) else { return line }
        var out: [UInt8] = []
        out.reserveCapacity(bytes.count)
        var i = 0
        var changed = false
        while i < bytes.count {
            let byte = bytes[i]
            out.append(byte)
            i += 1
            guard byte == UInt8(ascii: "=") || byte == UInt8(ascii: ":"), isSecretKey(before: i - 1, in: bytes) else { continue }
            // Keep the separator, blanks and an opening quote; replace the value.
            while i < bytes.count, bytes[i] == 0x20 || bytes[i] == UInt8(ascii: "\"") {
                out.append(bytes[i])
                i += 1
            }
            let valueStart = i
            while i < bytes.count, !isValueEnd(bytes[i]) { i += 1 }
            if i > valueStart {
                out += Array(marker.utf8)
                changed = true
            }
        }
        return changed ? String(decoding: out, as: UTF8.self) : line
    }

    private static func isValueEnd(_ byte: UInt8) -> Bool {
        switch byte {
        case 0x20, 0x09, UInt8(ascii: "\""), UInt8(ascii: ","), UInt8(ascii: "&"), UInt8(ascii: ";"), UInt8(ascii: "}"): return true
        default: return false
        }
    }

    /// The identifier just before `separator` (skipping a closing quote) names a credential.
    private static func isSecretKey(before separator: Int, in bytes: [UInt8]) -> Bool {
        var end = separator
        if end > 0, bytes[end - 1] == UInt8(ascii: "\"") { end -= 1 }
        var start = end
        while start > 0, isKeyByte(bytes[start - 1]) { start -= 1 }
        guard end - start >= 3 else { return false }
        let key = bytes[start..<end].map { $0 >= 0x41 && $0 <= 0x5A ? $0 | 0x20 : $0 }
        return secretKeyWords.contains { word in
            key.count >= word.count && (0...(key.count - word.count)).contains { key[$0..<($0 + word.count)].elementsEqual(word) }
        }
    }

    private static func isKeyByte(_ byte: UInt8) -> Bool {
        (byte >= 0x30 && byte <= 0x39) || (byte >= 0x41 && byte <= 0x5A) || (byte >= 0x61 && byte <= 0x7A)
            || byte == UInt8(ascii: "_") || byte == UInt8(ascii: "-") || byte == UInt8(ascii: ".")
    }

    /// A short summary of an HTTP head: the Host, and the names (never the
    /// values) of credential headers present, e.g. ` (Host: web; Authorization: [redacted])`.
    static func headerSummary(_ head: UnsafeRawBufferPointer) -> String {
        // Built as bytes and made a String once: a String append per part showed in profiles.
        var summary: [UInt8] = []
        var parts = 0
        // Skip the request or status line; then one header per line, jumping line end to line end.
        var lineStart = (head.firstIndex(ofByte: 0x0A) ?? head.count) + 1
        while lineStart < head.count, parts < 6 {
            let rest = UnsafeRawBufferPointer(rebasing: head[lineStart...])
            let length = rest.firstIndex(ofByte: 0x0A) ?? rest.count
            var end = length
            if end > 0, rest[end - 1] == 0x0D { end -= 1 }
            if end > 0, summarize(headerLine: UnsafeRawBufferPointer(rebasing: rest[0..<end]), into: &summary, first: parts == 0) {
                parts += 1
            }
            lineStart += length + 1
        }
        guard parts > 0 else { return "" }
        summary.append(UInt8(ascii: ")"))
        return String(decoding: summary, as: UTF8.self)
    }

    /// Lower-case names as bytes, compared in place: most header lines are
    /// neither, and building a String per header line showed in profiles.
    private static let secretHeaderBytes: [[UInt8]] = secretHeaders.sorted().map { Array($0.utf8) }
    private static let hostBytes = Array("host".utf8)
    private static let upgradeBytes = Array("upgrade".utf8)

    /// Appends `Host: …`, `Upgrade: …` or `Name: [redacted]` for the headers
    /// worth showing; false for any other header.
    private static func summarize(headerLine line: UnsafeRawBufferPointer, into out: inout [UInt8], first: Bool) -> Bool {
        guard let colon = line.firstIndex(ofByte: UInt8(ascii: ":")) else { return false }
        let nameBytes = UnsafeRawBufferPointer(rebasing: line[0..<colon])
        let value = UnsafeRawBufferPointer(rebasing: line[(colon + 1)...])
        if equalsIgnoringCase(nameBytes, hostBytes) {
            append(first ? " (Host: " : "; Host: ", to: &out)
            appendTrimmedPrintable(value, limit: 100, to: &out)
            return true
        }
        if equalsIgnoringCase(nameBytes, upgradeBytes) {
            // h2c or websocket: what the connection turns into next.
            append(first ? " (Upgrade: " : "; Upgrade: ", to: &out)
            appendTrimmedPrintable(value, limit: 40, to: &out)
            return true
        }
        for secret in secretHeaderBytes where equalsIgnoringCase(nameBytes, secret) {
            append(first ? " (" : "; ", to: &out)
            appendTrimmedPrintable(nameBytes, limit: 64, to: &out, trim: false)
            append(": ", to: &out)
            out.append(contentsOf: marker.utf8)
            return true
        }
        return false
    }

    private static func append(_ text: StaticString, to out: inout [UInt8]) {
        text.withUTF8Buffer { out.append(contentsOf: $0) }
    }

    /// At most `limit` bytes, spaces trimmed from both ends, anything
    /// unprintable shown as `.` (a header value cannot inject control bytes).
    private static func appendTrimmedPrintable(_ bytes: UnsafeRawBufferPointer, limit: Int, to out: inout [UInt8], trim: Bool = true) {
        var slice = bytes.prefix(limit)
        if trim {
            while let first = slice.first, first == 0x20 { slice = slice.dropFirst() }
            while let last = slice.last, last == 0x20 { slice = slice.dropLast() }
        }
        for byte in slice { out.append(byte >= 0x20 && byte < 0x7F ? byte : UInt8(ascii: ".")) }
    }

    /// ASCII case-insensitive equality with a lower-case name.
    private static func equalsIgnoringCase(_ bytes: UnsafeRawBufferPointer, _ lowercase: [UInt8]) -> Bool {
        bytes.count == lowercase.count && Probes.startsWithIgnoringCase(bytes, lowercase)
    }
}
