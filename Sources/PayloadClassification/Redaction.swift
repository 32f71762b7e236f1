/// Evidence is printed and stored in CI logs: it must prove a flow was
/// cleartext without repeating the secrets the flow exposed.
public enum Redaction {
    /// What replaces a secret.
    public static let marker = "\(markerLiteral)"

    /// Headers whose values are credentials or session identifiers. The
    /// header summary matches these names byte by byte (`role(ofHeaderNamed:)`);
    /// a test checks that the two lists agree.
    static let secretHeaders: Set<String> = [
        "authorization", "proxy-authorization", "cookie", "set-cookie",
        "x-api-key", "x-auth-token", "x-amz-security-token", "x-csrf-token",
    ]

    /// `marker` as a literal, for writers that append bytes.
    static let markerLiteral: StaticString = "[redacted]"

    /// The evidence of an HTTP request: its request line, query values and URL
    /// user-info replaced (`GET /login?token=abc HTTP/1.1` reads
    /// `GET /login?token=[redacted] HTTP/1.1`), unprintable bytes shown as `.`,
    /// cut to 300 characters, then the summary of `head`'s headers if given.
    /// Written in one pass into one String: built from Strings (a String per
    /// part, the target searched with String algorithms) it took about 26 000
    /// instructions for a target with a query.
    public static func requestLine(method: UnsafeRawBufferPointer, target: UnsafeRawBufferPointer,
                                   version: UnsafeRawBufferPointer, summaryOf head: UnsafeRawBufferPointer? = nil) -> String {
        // Written on the stack, then copied into a String of its own length:
        // a String made with the whole capacity kept it, about 950 bytes
        // held by every open HTTP flow's evidence.
        withUnsafeTemporaryAllocation(of: UInt8.self, capacity: requestLineLimit + SummaryWriter.capacity) { storage in
            let used = writeRequestLine(method: method, target: target, version: version, summaryOf: head, into: storage)
            return String(decoding: UnsafeBufferPointer(rebasing: storage[0..<used]), as: UTF8.self)
        }
    }

    private static func writeRequestLine(method: UnsafeRawBufferPointer, target: UnsafeRawBufferPointer, version: UnsafeRawBufferPointer,
                                         summaryOf head: UnsafeRawBufferPointer?, into storage: UnsafeMutableBufferPointer<UInt8>) -> Int {
        var line = BoundedWriter(storage: UnsafeMutableBufferPointer(rebasing: storage[0..<requestLineLimit]))
        line.appendPrintable(method, limit: 32, trim: false)
        line.append(" ")
        writeRedactedTarget(target, into: &line, printableOnly: true)
        line.append(" ")
        line.appendPrintable(version, limit: 16, trim: false)
        if line.overflowed {
            // All ASCII: cutting bytes is cutting characters.
            line.used = requestLineLimit - 3
            line.overflowed = false
            line.append("...")
        }
        guard let head else { return line.used }
        var summary = SummaryWriter(storage: UnsafeMutableBufferPointer(rebasing: storage[line.used...]))
        summary.write(head)
        return line.used + summary.out.used
    }

    /// The longest request line shown, "..." included.
    static let requestLineLimit = 300

    /// Redacts `user:password@` in absolute URLs and every query value.
    static func redactTarget(_ target: String) -> String {
        // Most targets are plain paths: nothing to redact.
        if !target.utf8.contains(where: { $0 == UInt8(ascii: "?") || $0 == UInt8(ascii: ":") }) { return target }
        var target = target
        return target.withUTF8 { bytes in
            // Each byte grows at most to "=[redacted]" (an empty value before
            // "&"), and user-info adds one marker.
            let capacity = (bytes.count + 1) * (markerLiteral.utf8CodeUnitCount + 1)
            return String(unsafeUninitializedCapacity: capacity) { storage in
                var out = BoundedWriter(storage: storage)
                writeRedactedTarget(UnsafeRawBufferPointer(bytes), into: &out, printableOnly: false)
                return out.used
            }
        }
    }

    /// Writes `target` with the user-info of an absolute URL (`scheme://user:pw@`)
    /// and every query value replaced by the marker; a value is whatever
    /// follows the first `=` of each `&`-separated pair. With `printableOnly`,
    /// unprintable bytes are written as `.` (the special characters are all
    /// printable, so this changes nothing that is redacted).
    static func writeRedactedTarget(_ target: UnsafeRawBufferPointer, into out: inout BoundedWriter, printableOnly: Bool) {
        func copy(_ range: Range<Int>) {
            let bytes = UnsafeRawBufferPointer(rebasing: target[range])
            if printableOnly { out.appendPrintable(bytes, limit: bytes.count, trim: false) } else { out.append(bytes) }
        }
        func index(of byte: UInt8, in range: Range<Int>) -> Int? {
            UnsafeRawBufferPointer(rebasing: target[range]).firstIndex(ofByte: byte).map { range.lowerBound + $0 }
        }
        let end = target.count
        var pathStart = 0
        if let scheme = Probes.find(target, "://") {
            let authorityStart = scheme + 3
            var authorityEnd = authorityStart
            while authorityEnd < end, target[authorityEnd] != UInt8(ascii: "/"), target[authorityEnd] != UInt8(ascii: "?") {
                authorityEnd += 1
            }
            if let at = (authorityStart..<authorityEnd).last(where: { target[$0] == UInt8(ascii: "@") }) {
                copy(0..<authorityStart)
                out.append(markerLiteral)
                out.append("@")
                copy((at + 1)..<authorityEnd)
            } else {
                copy(0..<authorityEnd)
            }
            pathStart = authorityEnd
        }
        guard let question = index(of: UInt8(ascii: "?"), in: pathStart..<end) else { return copy(pathStart..<end) }
        copy(pathStart..<(question + 1))
        var pairStart = question + 1
        while true {
            let pairEnd = index(of: UInt8(ascii: "&"), in: pairStart..<end) ?? end
            if let equals = index(of: UInt8(ascii: "="), in: pairStart..<pairEnd) {
                copy(pairStart..<(equals + 1))
                out.append(markerLiteral)
            } else {
                copy(pairStart..<pairEnd)
            }
            guard pairEnd < end else { return }
            out.append("&")
            pairStart = pairEnd + 1
        }
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
        // Request evidence writes the summary after its line
        // (`requestLine(…summaryOf:)`); this gives it alone.
        withUnsafeTemporaryAllocation(of: UInt8.self, capacity: SummaryWriter.capacity) { storage in
            var summary = SummaryWriter(storage: storage)
            summary.write(head)
            return String(decoding: UnsafeBufferPointer(rebasing: storage[0..<summary.out.used]), as: UTF8.self)
        }
    }

    /// Bytes of text written in place into storage of a fixed size; what does
    /// not fit is dropped and `overflowed` says so.
    struct BoundedWriter {
        let storage: UnsafeMutableBufferPointer<UInt8>
        var used = 0
        var overflowed = false

        init(storage: UnsafeMutableBufferPointer<UInt8>) { self.storage = storage }

        mutating func append(_ text: StaticString) {
            text.withUTF8Buffer { append(UnsafeRawBufferPointer($0)) }
        }

        mutating func append(_ bytes: UnsafeRawBufferPointer) {
            let count = min(bytes.count, storage.count - used)
            if count < bytes.count { overflowed = true }
            guard count > 0, let source = bytes.baseAddress, let target = storage.baseAddress else { return }
            (target + used).initialize(from: source.assumingMemoryBound(to: UInt8.self), count: count)
            used += count
        }

        /// At most `limit` bytes, spaces trimmed from both ends (unless
        /// `trim` is false), anything unprintable shown as `.` (a header
        /// value cannot inject control bytes).
        mutating func appendPrintable(_ bytes: UnsafeRawBufferPointer, limit: Int, trim: Bool = true) {
            var start = 0, end = min(bytes.count, limit)
            if trim {
                while start < end, bytes[start] == 0x20 { start += 1 }
                while end > start, bytes[end - 1] == 0x20 { end -= 1 }
            }
            let from = used
            append(UnsafeRawBufferPointer(rebasing: bytes[start..<end]))
            for i in from..<used where storage[i] < 0x20 || storage[i] >= 0x7F { storage[i] = UInt8(ascii: ".") }
        }
    }

    /// The header summary, written in place; bounded by construction.
    struct SummaryWriter {
        static let maximumParts = 6
        /// Each part at most "; Host: " and 100 value bytes (a secret's part:
        /// "; ", 64 name bytes, ": [redacted]"), plus the closing parenthesis.
        static let capacity = maximumParts * 108 + 1
        var out: BoundedWriter
        var parts = 0

        init(storage: UnsafeMutableBufferPointer<UInt8>) { out = BoundedWriter(storage: storage) }

        /// Skips the request or status line; then one header per line, jumping line end to line end.
        mutating func write(_ head: UnsafeRawBufferPointer) {
            var lineStart = (head.firstIndex(ofByte: 0x0A) ?? head.count) + 1
            while lineStart < head.count, parts < Self.maximumParts {
                let rest = UnsafeRawBufferPointer(rebasing: head[lineStart...])
                let length = rest.firstIndex(ofByte: 0x0A) ?? rest.count
                var end = length
                if end > 0, rest[end - 1] == 0x0D { end -= 1 }
                if end > 0 { Redaction.summarize(headerLine: UnsafeRawBufferPointer(rebasing: rest[0..<end]), into: &self) }
                lineStart += length + 1
            }
            if parts > 0 { out.append(")") }
        }
    }

    /// What a header line contributes to the summary.
    private enum HeaderRole { case host, upgrade, secret, userAgent, other }

    /// The header's role, from its name compared in place, case-insensitively:
    /// first by length, so most names are dismissed with one comparison and
    /// none is turned into a String (a lookup per line through lists of
    /// names showed in profiles, a thousand instructions per header line).
    private static func role(ofHeaderNamed name: UnsafeRawBufferPointer) -> HeaderRole {
        switch name.count {
        case 4: return equalsIgnoringCase(name, "host") ? .host : .other
        case 6: return equalsIgnoringCase(name, "cookie") ? .secret : .other
        case 7: return equalsIgnoringCase(name, "upgrade") ? .upgrade : .other
        case 9: return equalsIgnoringCase(name, "x-api-key") ? .secret : .other
        case 10:
            if equalsIgnoringCase(name, "set-cookie") { return .secret }
            return equalsIgnoringCase(name, "user-agent") ? .userAgent : .other
        case 12: return equalsIgnoringCase(name, "x-auth-token") || equalsIgnoringCase(name, "x-csrf-token") ? .secret : .other
        case 13: return equalsIgnoringCase(name, "authorization") ? .secret : .other
        case 19: return equalsIgnoringCase(name, "proxy-authorization") ? .secret : .other
        case 20: return equalsIgnoringCase(name, "x-amz-security-token") ? .secret : .other
        default: return .other
        }
    }

    /// Appends `Host: …`, `Upgrade: …` or `Name: [redacted]` for the headers
    /// worth showing, and counts the part; nothing for any other header.
    private static func summarize(headerLine line: UnsafeRawBufferPointer, into summary: inout SummaryWriter) {
        guard let colon = line.firstIndex(ofByte: UInt8(ascii: ":")) else { return }
        let nameBytes = UnsafeRawBufferPointer(rebasing: line[0..<colon])
        let value = UnsafeRawBufferPointer(rebasing: line[(colon + 1)...])
        let first = summary.parts == 0
        switch role(ofHeaderNamed: nameBytes) {
        case .host:
            summary.out.append(first ? " (Host: " : "; Host: ")
            summary.out.appendPrintable(value, limit: 100)
        case .upgrade:
            // h2c or websocket: what the connection turns into next.
            summary.out.append(first ? " (Upgrade: " : "; Upgrade: ")
            summary.out.appendPrintable(value, limit: 40)
        case .userAgent:
            // Shown only when it is kubelet's prober: it names the client of
            // a probe, which `--expect-plaintext kube-probe` allows.
            var start = 0
            while start < value.count, value[start] == 0x20 { start += 1 }
            let agent = UnsafeRawBufferPointer(rebasing: value[start...])
            guard Probes.startsWith(agent, "kube-probe/") else { return }
            summary.out.append(first ? " (User-Agent: " : "; User-Agent: ")
            summary.out.appendPrintable(agent, limit: 40)
        case .secret:
            summary.out.append(first ? " (" : "; ")
            summary.out.appendPrintable(nameBytes, limit: 64, trim: false)
            summary.out.append(": [redacted]")
        case .other:
            return
        }
        summary.parts += 1
    }

    /// ASCII case-insensitive equality with a lower-case name.
    private static func equalsIgnoringCase(_ bytes: UnsafeRawBufferPointer, _ lowercase: StaticString) -> Bool {
        lowercase.withUTF8Buffer { name in
            guard bytes.count == name.count else { return false }
            for i in 0..<name.count where bytes[i] | (bytes[i] >= 0x41 && bytes[i] <= 0x5A ? 0x20 : 0) != name[i] { return false }
            return true
        }
    }
}
