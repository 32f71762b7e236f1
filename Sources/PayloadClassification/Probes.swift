import CByteScan
#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#endif

/// What the first bytes of a stream say.
enum ProbeResult: Equatable {
    /// Not enough bytes yet.
    case needMore
    /// TLS records start `preambleLength` bytes in; the preamble is named.
    case tls(preambleLength: Int, preamble: String?)
    /// An SSLv2-format ClientHello of `length` bytes, then TLS records
    /// (version 3.x offered) or more SSLv2 records (version 2 only).
    case sslv2Hello(length: Int, version: UInt16)
    /// An SSLv2 SERVER-HELLO: the server answered in SSLv2.
    case sslv2ServerHello
    case ssh(banner: String)
    case cleartext(PayloadKind, protocolName: String, evidence: String)
    /// Binary data that could be ciphertext; `name` and `evidence` when a
    /// protocol's framing says what it is (memberlist encrypted with a gossip key).
    case binary(entropy: Double, name: String? = nil, evidence: String? = nil)
    /// A protocol's opening that negotiates whether what follows is
    /// encrypted (TDS PRELOGIN, a packet of `packetLength` bytes): cleartext
    /// so far; the stream shows the outcome. TLS may begin only where a
    /// packet ends (TDS wraps the TLS handshake in PRELOGIN packets first).
    case negotiation(name: String, evidence: String, packetLength: Int)
    /// A PROXY protocol header (load balancers, ingress) of `length` bytes:
    /// the stream proper starts after it.
    case proxyHeader(length: Int, name: String)
    /// An HTTP head of `headerLength` bytes that upgrades to WebSocket (a
    /// request with `Upgrade: websocket`, or the 101 answering it): frames follow.
    case webSocketUpgrade(headerLength: Int, evidence: String)
}

/// Entropy as reasons and evidence print it: bits per byte, two decimals.
public func formattedEntropy(_ bits: Double) -> String {
    let hundredths = Int((bits * 100).rounded())
    let fraction = hundredths % 100
    return "\(hundredths / 100).\(fraction < 10 ? "0" : "")\(fraction)"
}

/// Recognisers for the start of a stream. Each looks only at bytes it is
/// given; none keeps state. `final` means no more bytes will come.
enum Probes {
    /// Bytes a probe may ask for before it must decide.
    static let probeLimit = 8_192

    static func probe(_ d: UnsafeRawBufferPointer, final: Bool) -> ProbeResult {
        let n = d.count
        guard n > 0 else { return .needMore }
        if let result = proxyHeader(d, final: final) { return result }

        // TLS record header at byte 0.
        if (20...24).contains(d[0]) {
            if n < 5 {
                if n < 3 || TLSRecordHeader.isPlausible(d[0], d[1], d[2]) {
                    if !final { return .needMore }
                }
            } else if case .success = TLSRecordHeader.validate(d[0], d[1], d[2], d[3], d[4]) {
                return .tls(preambleLength: 0, preamble: nil)
            }
        }

        // SSLv2-format ClientHello: 2-byte length with the top bit set, type 1.
        if d[0] & 0x80 != 0 {
            if n < 5 { if !final { return .needMore } } else if d[2] == 1, d[3] == 3 || (d[3] == 0 && d[4] == 2) {
                let length = Int(d[0] & 0x7F) << 8 | Int(d[1])
                return .sslv2Hello(length: length + 2, version: UInt16(d[3]) << 8 | UInt16(d[4]))
            } else if n >= 7, d[2] == 4, d[3] <= 1, d[4] == 1, d[5] == 0, d[6] == 2 {
                // SERVER-HELLO: session-id hit, X.509 certificate, version 2.
                return .sslv2ServerHello
            }
        }

        // PostgreSQL SSLRequest (client) and its 'S' answer (server).
        if let result = postgresUpgrade(d, final: final) { return result }

        if startsWith(d, "SSH-") {
            guard let line = firstLine(d) else { return final || n >= 256 ? .ssh(banner: printable(d, limit: 80)) : .needMore }
            return .ssh(banner: line)
        }
        if startsWith(d, "PRI * HTTP/2.0") || (n < 14 && !final && isPrefix(d, of: "PRI * HTTP/2.0")) {
            if n < 14 { return .needMore }
            return h2cClient(d, final: final)
        }
        if d[0] == 0, let result = h2cServer(d, final: final) { return result }
        if let result = http(d, final: final) { return result }
        if let result = ClearBinaryProbes.probe(d, final: final) { return result }
        return generic(d, final: final)
    }

    // MARK: HTTP/2 in clear

    static let h2cPreface: StaticString = "PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n"
    static let h2cPrefaceEvidence = "HTTP/2 prior-knowledge preface (PRI * HTTP/2.0)"

    /// The client's preface, then its first request's method, path and
    /// authority from the frames that follow (waiting for them while the
    /// probe may), as HTTP/1's request line is shown.
    static func h2cClient(_ d: UnsafeRawBufferPointer, final: Bool) -> ProbeResult {
        let decided = final || d.count >= probeLimit
        let prefaceLength = h2cPreface.utf8CodeUnitCount
        guard d.count >= prefaceLength else {
            return decided ? .cleartext(.h2c, protocolName: "h2c", evidence: h2cPrefaceEvidence) : .needMore
        }
        var evidence = h2cPrefaceEvidence
        if startsWith(d, h2cPreface) {
            switch HTTP2Frames.firstHeaders(UnsafeRawBufferPointer(rebasing: d[prefaceLength...]), final: decided) {
            case .needMore:
                return .needMore
            case .headers(let fields):
                if let request = HTTP2Frames.requestSummary(fields) { evidence += ", then " + request }
            case .invalid, .framesOnly:
                break
            }
        }
        return .cleartext(.h2c, protocolName: "h2c", evidence: evidence)
    }

    /// A server's side of HTTP/2 in clear: it opens with a SETTINGS frame;
    /// the first response's status follows. Nil when `d` does not start so.
    static func h2cServer(_ d: UnsafeRawBufferPointer, final: Bool) -> ProbeResult? {
        if d.count < HTTP2Frames.headerLength {
            // Undecided while the bytes so far could still be a SETTINGS
            // frame's header, whatever other probes would say of so few.
            guard !final, HTTP2Frames.couldStartSettings(d) else { return nil }
            return .needMore
        }
        guard HTTP2Frames.startsWithSettings(d) else { return nil }
        let settings = "HTTP/2 SETTINGS frame (a server's connection preface)"
        switch HTTP2Frames.firstHeaders(d, final: final || d.count >= probeLimit) {
        case .needMore:
            return .needMore
        case .invalid:
            return nil
        case .framesOnly:
            return .cleartext(.h2c, protocolName: "h2c", evidence: settings)
        case .headers(let fields):
            return .cleartext(.h2c, protocolName: "h2c", evidence: HTTP2Frames.responseSummary(fields).map { "HTTP/2 " + $0 } ?? settings)
        }
    }

    // MARK: HTTP/1.x

    static let methods = ["GET", "POST", "PUT", "DELETE", "HEAD", "OPTIONS", "PATCH", "CONNECT", "TRACE",
                          "PROPFIND", "PROPPATCH", "MKCOL", "COPY", "MOVE", "LOCK", "UNLOCK", "REPORT", "SEARCH"]

    /// "GET ", "POST "…: methods with their separator, as bytes, built once.
    static let methodTokens: [[UInt8]] = methods.map { Array(($0 + " ").utf8) }

    static func http(_ d: UnsafeRawBufferPointer, final: Bool) -> ProbeResult? {
        // Every request and status line starts with an upper-case letter: most
        // binary and TLS streams leave here after one comparison.
        guard let first = d.first, first >= UInt8(ascii: "A"), first <= UInt8(ascii: "Z") else { return nil }
        let isResponse = startsWith(d, "HTTP/1.")
        var isRequest = false
        if !isResponse {
            for method in methodTokens where startsWith(d, bytes: method) { isRequest = true; break }
            if !isRequest {
                // A prefix of a method or of "HTTP/1." might still become one.
                if !final, d.count < 8, methodTokens.contains(where: { isPrefix(d, ofBytes: $0) }) || isPrefix(d, of: "HTTP/1.") {
                    return .needMore
                }
                return nil
            }
        }
        guard let headerEnd = headEnd(d) ?? (final || d.count >= probeLimit ? d.count : nil) else {
            return .needMore
        }
        let head = UnsafeRawBufferPointer(rebasing: d[0..<headerEnd])
        if isRequest {
            // Read the whole request line, as bytes: a target cut at 200
            // characters loses its version, stops parsing as HTTP, and would
            // then be shown as text with its query values unredacted. Only
            // the redacted evidence is shortened (below).
            let lineEnd = head.firstIndex(ofByte: 0x0A)
            guard lineEnd != nil || final else { return .needMore }
            var line = UnsafeRawBufferPointer(rebasing: head[0..<(lineEnd ?? head.count)])
            if line.last == 0x0D { line = UnsafeRawBufferPointer(rebasing: line.dropLast()) }
            line = UnsafeRawBufferPointer(rebasing: line.prefix(probeLimit))
            // "METHOD target HTTP/1.x": anything else is text that starts with a verb.
            guard let firstSpace = line.firstIndex(ofByte: 0x20) else { return nil }
            let method = UnsafeRawBufferPointer(rebasing: line[0..<firstSpace])
            let rest = UnsafeRawBufferPointer(rebasing: line[(firstSpace + 1)...])
            guard let secondSpace = rest.firstIndex(ofByte: 0x20) else {
                if lineEnd == nil, d.count >= probeLimit {
                    // A request line longer than anything we read: still a request,
                    // and its target is redacted like any other, never shown raw.
                    let evidence = Redaction.requestLine(method: method, target: rest, version: UnsafeRawBufferPointer(start: nil, count: 0))
                    return .cleartext(.http, protocolName: "http", evidence: evidence + "(request line over \(probeLimit) bytes)")
                }
                return nil
            }
            let version = UnsafeRawBufferPointer(rebasing: rest[(secondSpace + 1)...])
            guard version.firstIndex(ofByte: 0x20) == nil,
                  startsWith(version, "HTTP/1.") || startsWith(version, "HTTP/0.9") else { return nil }
            let target = UnsafeRawBufferPointer(rebasing: rest[0..<secondSpace])
            let evidence = Redaction.requestLine(method: method, target: target, version: version, summaryOf: head)
            if headerEnd < d.count, method.count == 3, startsWith(method, "GET"), upgradesToWebSocket(head) {
                return .webSocketUpgrade(headerLength: headerEnd + 4, evidence: evidence)
            }
            return .cleartext(.http, protocolName: "http", evidence: evidence)
        }
        // `printable` maps each byte to one ASCII character, so cutting the
        // bytes at 120 is cutting the text at 120 characters (String.prefix
        // walked grapheme by grapheme).
        guard let evidence = firstLine(head, limit: 120) ?? (final ? printable(head, limit: 120) : nil) else { return .needMore }
        // A 403 may be a mesh proxy's refusal, told by its short body (Envoy's
        // RBAC denial): wait for that body, wherever the segments were cut.
        if !final, startsWith(d, "HTTP/1.1 403") || startsWith(d, "HTTP/1.0 403"),
           d.count < headerEnd + 4 + istioDenial.count, contains(head, lowercase: istioEnvoyServer),
           contains(head, lowercase: istioDenialLength) {
            return .needMore
        }
        if headerEnd < d.count, startsWith(d, "HTTP/1.1 101"), upgradesToWebSocket(head) {
            return .webSocketUpgrade(headerLength: headerEnd + 4, evidence: evidence)
        }
        return .cleartext(.http, protocolName: "http", evidence: evidence)
    }

    /// A request head as kubelet's prober writes it: `GET`, then, as Go's
    /// client writes every request, `Host` as the first header and
    /// `User-Agent` the second, here `kube-probe/1.32`. Compared where Go
    /// puts them and as Go spells them: two line ends found, not a search
    /// of the head (a search cost each GET 480 instructions, measured).
    static func isKubeletProbe(head: UnsafeRawBufferPointer) -> Bool {
        guard startsWith(head, "GET "), let requestLineEnd = head.firstIndex(ofByte: 0x0A) else { return false }
        let host = UnsafeRawBufferPointer(rebasing: head[(requestLineEnd + 1)...])
        guard startsWith(host, "Host: "), let hostEnd = host.firstIndex(ofByte: 0x0A) else { return false }
        return startsWith(UnsafeRawBufferPointer(rebasing: host[(hostEnd + 1)...]), "User-Agent: kube-probe/")
    }

    private static let upgradeName = Array("upgrade:".utf8)
    private static let webSocketToken = Array("websocket".utf8)

    /// An `Upgrade` header naming websocket, anywhere in the head (after its first line).
    static func upgradesToWebSocket(_ head: UnsafeRawBufferPointer) -> Bool {
        var lineStart = (head.firstIndex(ofByte: 0x0A) ?? head.count) + 1
        while lineStart < head.count {
            let rest = UnsafeRawBufferPointer(rebasing: head[lineStart...])
            let length = rest.firstIndex(ofByte: 0x0A) ?? rest.count
            let line = UnsafeRawBufferPointer(rebasing: rest[0..<length])
            if startsWithIgnoringCase(line, upgradeName),
               contains(UnsafeRawBufferPointer(rebasing: line[upgradeName.count...]), lowercase: webSocketToken) {
                return true
            }
            lineStart += length + 1
        }
        return false
    }

    private static let linkerdErrorHeader = Array("l5d-proxy-error:".utf8)
    private static let contentLengthHeader = Array("content-length:".utf8)
    private static let serverHeader = Array("server:".utf8)
    static let istioDenial = Array("RBAC: access denied".utf8)
    private static let istioEnvoyServer = Array("server: istio-envoy".utf8)
    private static let istioDenialLength = Array("content-length: 19".utf8)

    /// Headers a proxy's own answer carries; any other says the answer came
    /// from further away, passed on (an nginx or a gateway relaying a
    /// backend's refusal, which a client's cleartext reached).
    private static let linkerdAnswerHeaders = ["l5d-proxy-error:", "l5d-proxy-connection:", "content-length:", "date:", "connection:"]
        .map { Array($0.utf8) }
    private static let envoyAnswerHeaders = ["content-length:", "content-type:", "date:", "server:", "connection:"]
        .map { Array($0.utf8) }

    /// A mesh proxy's refusal by policy, when a response head (ending at
    /// `headEnd`, before its blank line) is one: a 403 whose headers carry
    /// `l5d-proxy-error` and no body (linkerd2-proxy's error responses: the
    /// status, `content-length: 0`, that header, a date), or a 403 from
    /// `server: istio-envoy` whose body, all in `d`, is Envoy's RBAC denial
    /// (a local reply: no `x-envoy-upstream-service-time` or other header of
    /// a relayed answer). Any other 403 is the application's answer, or one
    /// passed on, and reads as such.
    static func proxyRefusal(_ d: UnsafeRawBufferPointer, headEnd: Int) -> (refusal: ProxyRefusal, evidence: String)? {
        guard startsWith(d, "HTTP/1.1 403") || startsWith(d, "HTTP/1.0 403"), headEnd <= d.count else { return nil }
        let head = UnsafeRawBufferPointer(rebasing: d[0..<headEnd])
        var linkerdError: UnsafeRawBufferPointer?
        var contentLength: Int?
        var fromEnvoy = false
        var linkerdOnly = true, envoyOnly = true
        var lineStart = (head.firstIndex(ofByte: 0x0A) ?? head.count) + 1
        while lineStart < head.count {
            let rest = UnsafeRawBufferPointer(rebasing: head[lineStart...])
            let length = rest.firstIndex(ofByte: 0x0A) ?? rest.count
            var line = UnsafeRawBufferPointer(rebasing: rest[0..<length])
            if line.last == 0x0D { line = UnsafeRawBufferPointer(rebasing: line.dropLast()) }
            func value(after name: [UInt8]) -> UnsafeRawBufferPointer {
                var v = UnsafeRawBufferPointer(rebasing: line[name.count...])
                while v.first == 0x20 || v.first == 0x09 { v = UnsafeRawBufferPointer(rebasing: v.dropFirst()) }
                return v
            }
            if !linkerdAnswerHeaders.contains(where: { startsWithIgnoringCase(line, $0) }) { linkerdOnly = false }
            if !envoyAnswerHeaders.contains(where: { startsWithIgnoringCase(line, $0) }) { envoyOnly = false }
            if startsWithIgnoringCase(line, linkerdErrorHeader) {
                linkerdError = value(after: linkerdErrorHeader)
            } else if startsWithIgnoringCase(line, contentLengthHeader) {
                let digits = value(after: contentLengthHeader)
                guard !digits.isEmpty, digits.count <= 6, digits.allSatisfy({ $0 >= 0x30 && $0 <= 0x39 }) else { return nil }
                contentLength = digits.reduce(0) { $0 * 10 + Int($1 - 0x30) }
            } else if startsWithIgnoringCase(line, serverHeader) {
                fromEnvoy = startsWith(value(after: serverHeader), "istio-envoy")
            }
            lineStart += length + 1
        }
        let status = firstLine(head, limit: 60) ?? "HTTP 403"
        let bodyStart = headEnd + 4
        if let message = linkerdError, linkerdOnly, contentLength ?? 0 == 0 {
            return (ProxyRefusal(mesh: .linkerd, responseLength: bodyStart),
                    "\(status) from the Linkerd proxy (l5d-proxy-error: \(printable(message, limit: 160)))")
        }
        if fromEnvoy, envoyOnly, contentLength == istioDenial.count, bodyStart + istioDenial.count <= d.count,
           startsWith(UnsafeRawBufferPointer(rebasing: d[bodyStart...]), bytes: istioDenial) {
            return (ProxyRefusal(mesh: .istio, responseLength: bodyStart + istioDenial.count),
                    "\(status) from Istio's Envoy (RBAC: access denied)")
        }
        return nil
    }

    static func startsWithIgnoringCase(_ d: UnsafeRawBufferPointer, _ lowercase: [UInt8]) -> Bool {
        guard d.count >= lowercase.count else { return false }
        for i in lowercase.indices where d[i] | (d[i] >= 0x41 && d[i] <= 0x5A ? 0x20 : 0) != lowercase[i] { return false }
        return true
    }

    static func contains(_ d: UnsafeRawBufferPointer, lowercase: [UInt8]) -> Bool {
        guard d.count >= lowercase.count else { return false }
        for start in 0...(d.count - lowercase.count)
        where startsWithIgnoringCase(UnsafeRawBufferPointer(rebasing: d[start...]), lowercase) {
            return true
        }
        return false
    }

    // MARK: PROXY protocol

    static let proxyV2Signature: [UInt8] = [0x0D, 0x0A, 0x0D, 0x0A, 0x00, 0x0D, 0x0A, 0x51, 0x55, 0x49, 0x54, 0x0A]

    /// HAProxy's PROXY protocol: v1 is one text line of at most 107 bytes, v2 a
    /// 12-byte signature, version/command, family and a 2-byte length.
    static func proxyHeader(_ d: UnsafeRawBufferPointer, final: Bool) -> ProbeResult? {
        if d[0] == UInt8(ascii: "P") {
            guard startsWith(d, "PROXY ") else {
                return !final && isPrefix(d, of: "PROXY ") ? .needMore : nil
            }
            let window = UnsafeRawBufferPointer(rebasing: d[0..<min(d.count, 107)])
            guard let end = find(window, "\r\n") else { return !final && d.count < 107 ? .needMore : nil }
            return .proxyHeader(length: end + 2, name: "PROXY protocol v1")
        }
        if d[0] == 0x0D {
            let n = min(d.count, proxyV2Signature.count)
            guard d.prefix(n).elementsEqual(proxyV2Signature.prefix(n)) else { return nil }
            guard d.count >= 16 else { return final ? nil : .needMore }
            guard d[12] >> 4 == 2 else { return nil }
            let length = 16 + (Int(d[14]) << 8 | Int(d[15]))
            guard d.count >= length else { return final ? nil : .needMore }
            return .proxyHeader(length: length, name: "PROXY protocol v2")
        }
        return nil
    }

    // MARK: PostgreSQL

    static let sslRequest: [UInt8] = [0, 0, 0, 8, 0x04, 0xD2, 0x16, 0x2F]

    static func postgresUpgrade(_ d: UnsafeRawBufferPointer, final: Bool) -> ProbeResult? {
        if d[0] == 0 {
            let n = min(d.count, sslRequest.count)
            guard d.prefix(n).elementsEqual(sslRequest.prefix(n)) else { return nil }
            if d.count < sslRequest.count { return final ? nil : .needMore }
            return .tls(preambleLength: 8, preamble: "PostgreSQL SSLRequest")
        }
        if d[0] == UInt8(ascii: "S"), d.count >= 2, (20...24).contains(d[1]) {
            if d.count < 6 { return final ? nil : .needMore }
            if case .success = TLSRecordHeader.validate(d[1], d[2], d[3], d[4], d[5]) {
                return .tls(preambleLength: 1, preamble: "PostgreSQL SSL accepted")
            }
        }
        return nil
    }

    // MARK: Anything else

    /// Text if nearly every byte is printable; otherwise binary, with entropy.
    static func generic(_ d: UnsafeRawBufferPointer, final: Bool) -> ProbeResult {
        let sample = UnsafeRawBufferPointer(rebasing: d[0..<min(d.count, 512)])
        // Decide on the full 512-byte sample (or at the end of the stream),
        // never on however many bytes the first segments happened to hold:
        // deciding at 16 or 64 bytes made the kind, evidence and entropy
        // depend on where the stream was cut into segments.
        if sample.count < 512, !final { return .needMore }
        var printableCount = 0, nulCount = 0, spaceCount = 0
        for byte in sample {
            if isTextByte(byte) {
                printableCount += 1
                if byte == 0x20 || byte == 0x0D || byte == 0x0A || byte == 0x09 { spaceCount += 1 }
            } else if byte == 0 {
                nulCount += 1
            }
        }
        if spaceCount == sample.count {
            // Only line ends and blanks (a keep-alive, a stray Enter): no
            // application data, so neither cleartext nor anything else.
            return .cleartext(.undetermined, protocolName: "whitespace", evidence: "only whitespace")
        }
        if printableCount * 100 >= sample.count * 95 {
            let line = firstLine(sample) ?? printable(sample, limit: 80)
            let lines = sample.split(separator: 0x0A, maxSplits: 3, omittingEmptySubsequences: false).prefix(3).map { raw in
                printable(UnsafeRawBufferPointer(rebasing: raw.last == 0x0D ? raw.dropLast() : raw[...]), limit: 120)
            }
            if let known = TextProtocols.identify(firstLine: line, secondLine: lines.count > 1 ? lines[1] : nil,
                                                  thirdLine: lines.count > 2 ? lines[2] : nil) {
                return .cleartext(.cleartextProtocol, protocolName: known.name,
                                  evidence: known.evidence ?? Redaction.textLine(String(line.prefix(120))))
            }
            return .cleartext(.text, protocolName: "text", evidence: Redaction.textLine(String(line.prefix(120))))
        }
        if nulCount > 0, nulCount * 4 <= sample.count, (printableCount + nulCount) * 100 >= sample.count * 95,
           printableCount - spaceCount >= 4 {
            // NUL-terminated strings (rsh, rlogin and their kind): text in clear.
            let strings = sample.split(separator: 0).map { printable(UnsafeRawBufferPointer(rebasing: $0), limit: 80) }
            return .cleartext(.text, protocolName: "text",
                              evidence: Redaction.textLine(String(strings.joined(separator: " ").prefix(120))))
        }
        let bits = entropy(sample)
        if !isLowEntropy(bits, sampleSize: sample.count), let compressed = CompressedData.find(in: sample) { return compressed }
        return .binary(entropy: bits)
    }

    /// Ciphertext (and compressed data) is close to random: its byte entropy
    /// is near the most a sample of its size can show. Binary data far below
    /// that (zero-filled files, BER-encoded LDAP, a proxy handshake) cannot be
    /// encrypted, whatever it is: it is not `opaque`, it is data in clear.
    /// Needs a sample long enough for the measure to mean something: from 32
    /// bytes on, random bytes never came near the line (200 000 random
    /// samples each of 32, 48 and 63 bytes: lowest 4.41, 5.01, 5.34 bits
    /// against 3.75, 4.19, 4.48). Short exchanges matter: a ZooKeeper session
    /// opens with 48 and 40 bytes at under 2 bits/byte, and read `opaque`
    /// (could be ciphertext) when 64 bytes were asked for.
    static func isLowEntropy(_ bits: Double, sampleSize: Int) -> Bool {
        guard sampleSize >= 32 else { return false }
        let ceiling = min(8, log2(Double(sampleSize)))
        return bits < 0.75 * ceiling
    }

    static func formatBits(_ bits: Double) -> String {
        let tenths = Int((bits * 10).rounded())
        return "\(tenths / 10).\(tenths % 10)"
    }

    /// Shannon entropy in bits per byte.
    static func entropy(_ d: UnsafeRawBufferPointer) -> Double {
        guard !d.isEmpty else { return 0 }
        var counts = [Int](repeating: 0, count: 256)
        for byte in d { counts[Int(byte)] += 1 }
        let total = Double(d.count)
        var bits = 0.0
        for c in counts where c > 0 {
            let p = Double(c) / total
            bits -= p * log2(p)
        }
        return bits
    }

    static func log2(_ x: Double) -> Double {
        // Foundation-free: natural log via the standard library is not available, so use a series on the exponent.
        var exponent = 0.0
        var m = x
        while m >= 2 { m /= 2; exponent += 1 }
        while m < 1 { m *= 2; exponent -= 1 }
        // log2(m) for m in [1, 2): ln(m)/ln(2) with atanh series.
        let y = (m - 1) / (m + 1)
        let y2 = y * y
        var term = y, sum = 0.0, k = 1.0
        for _ in 0..<12 { sum += term / k; term *= y2; k += 2 }
        return exponent + 2 * sum / 0.693_147_180_559_945_3
    }

    // MARK: Byte helpers

    static func isTextByte(_ b: UInt8) -> Bool {
        (b >= 0x20 && b < 0x7F) || b == 0x0D || b == 0x0A || b == 0x09
    }

    /// The index of the first byte at or after `start` that is not text
    /// (`isTextByte`), or `d.count`. Eight bytes at a time while all eight are
    /// printable (the bulk of a request or response head), byte by byte
    /// through words holding anything else (line ends, tabs, binary).
    static func endOfText(_ d: UnsafeRawBufferPointer, from start: Int) -> Int {
        var k = max(0, start)
        let ones: UInt64 = 0x0101_0101_0101_0101, highs: UInt64 = 0x8080_8080_8080_8080
        while k + 8 <= d.count {
            let w = d.loadUnaligned(fromByteOffset: k, as: UInt64.self)
            // A byte below 0x20, or one at 0x7F or above, in the word.
            let below = (w &- ones &* 0x20) & ~w & highs
            let above = ((w &+ ones &* (0x80 - 0x7F)) | w) & highs
            if below | above == 0 {
                k += 8
                continue
            }
            for _ in 0..<8 {
                guard isTextByte(d[k]) else { return k }
                k += 1
            }
        }
        while k < d.count, isTextByte(d[k]) { k += 1 }
        return k
    }

    /// Literals only: compared as their UTF-8 bytes, no String machinery per call.
    static func startsWith(_ d: UnsafeRawBufferPointer, _ text: StaticString) -> Bool {
        let count = text.utf8CodeUnitCount
        guard d.count >= count else { return false }
        return text.withUTF8Buffer { needle in
            for i in 0..<count where d[i] != needle[i] { return false }
            return true
        }
    }

    static func startsWith(_ d: UnsafeRawBufferPointer, bytes: [UInt8]) -> Bool {
        guard d.count >= bytes.count else { return false }
        for i in bytes.indices where d[i] != bytes[i] { return false }
        return true
    }

    static func isPrefix(_ d: UnsafeRawBufferPointer, ofBytes bytes: [UInt8]) -> Bool {
        guard d.count <= bytes.count else { return false }
        for i in d.indices where d[i] != bytes[i] { return false }
        return true
    }

    /// True when all of `d` is the beginning of `text`.
    static func isPrefix(_ d: UnsafeRawBufferPointer, of text: StaticString) -> Bool {
        guard d.count <= text.utf8CodeUnitCount else { return false }
        return text.withUTF8Buffer { needle in
            for i in 0..<d.count where d[i] != needle[i] { return false }
            return true
        }
    }

    /// Where the first blank line ("\r\n\r\n", the end of an HTTP head)
    /// starts: each line feed found sixteen bytes at a time (SSE2, in C),
    /// and only there are the three bytes before it looked at. About 220
    /// instructions a head in the benchmark's mix, against 320 when a
    /// `memchr` found each line feed (190 of its own and 20 a call, six or
    /// seven a head); before that, `find`'s `memchr` for each CR and
    /// byte-by-byte comparison took about 420, a Horspool search about 375.
    static func headEnd(_ d: UnsafeRawBufferPointer) -> Int? {
        guard d.count >= 4, let base = d.baseAddress else { return nil }
        let start = wirecheck_blank_line(base.assumingMemoryBound(to: UInt8.self), d.count)
        return start >= 0 ? start : nil
    }

    static func find(_ d: UnsafeRawBufferPointer, _ text: StaticString) -> Int? {
        let count = text.utf8CodeUnitCount
        guard count > 0, d.count >= count else { return nil }
        guard let base = d.baseAddress else { return nil }
        return text.withUTF8Buffer { needle -> Int? in
            var i = 0
            while i + count <= d.count {
                // memchr finds the first byte (vectorised in libc); then compare the rest.
                guard let hit = memchr(base + i, Int32(needle[0]), d.count - count + 1 - i) else { return nil }
                i = base.distance(to: UnsafeRawPointer(hit))
                var match = true
                for j in 1..<count where d[i + j] != needle[j] { match = false; break }
                if match { return i }
                i += 1
            }
            return nil
        }
    }

    /// The first line (without CRLF), if a line end is present.
    static func firstLine(_ d: UnsafeRawBufferPointer, limit: Int = 200) -> String? {
        guard let end = d.firstIndex(ofByte: 0x0A) else { return nil }
        var line = UnsafeRawBufferPointer(rebasing: d[0..<end])
        if line.last == 0x0D { line = UnsafeRawBufferPointer(rebasing: line.dropLast()) }
        return printable(line, limit: limit)
    }

    /// Bytes as text, unprintable ones escaped, at most `limit` characters.
    static func printable(_ d: UnsafeRawBufferPointer, limit: Int) -> String {
        let bytes = d.prefix(limit)
        if bytes.allSatisfy({ $0 >= 0x20 && $0 < 0x7F }) { return String(decoding: bytes, as: UTF8.self) }
        var text = ""
        for byte in bytes {
            if byte >= 0x20, byte < 0x7F { text.unicodeScalars.append(Unicode.Scalar(byte)) } else { text += "." }
        }
        return text
    }
}

extension Probes {
    /// An HTTP request or status line at the start of any line in `d`: how a
    /// stream picked up mid-way (or after a gap) shows it is HTTP.
    static func httpAtLineStart(_ d: UnsafeRawBufferPointer) -> ProbeResult? {
        var lineStart = 0
        while lineStart < d.count {
            let line = UnsafeRawBufferPointer(rebasing: d[lineStart...])
            switch http(line, final: true) {
            case .cleartext(let kind, let name, let evidence)?: return .cleartext(kind, protocolName: name, evidence: evidence)
            case .webSocketUpgrade(_, let evidence)?: return .cleartext(.http, protocolName: "http", evidence: evidence)
            default: break
            }
            guard let newline = line.firstIndex(ofByte: 0x0A) else { return nil }
            lineStart += newline + 1
        }
        return nil
    }
}

extension UnsafeRawBufferPointer {
    /// The first index of `byte`, found with libc's vectorised memchr: the
    /// generic `firstIndex(of:)` went a byte at a time through every header line.
    func firstIndex(ofByte byte: UInt8) -> Int? {
        guard let base = baseAddress, count > 0, let hit = memchr(base, Int32(byte), count) else { return nil }
        return base.distance(to: UnsafeRawPointer(hit))
    }
}
