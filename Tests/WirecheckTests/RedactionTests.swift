import Testing
@testable import PayloadClassification

@Suite struct HTTPRedactionTests {
    @Test(arguments: [
        ("/login?user=alice&token=abc", "/login?user=[redacted]&token=[redacted]"),
        ("/plain", "/plain"),
        ("/q?flag", "/q?flag"),
        ("http://bob:pw@proxy.example:8080/x?k=v", "http://[redacted]@proxy.example:8080/x?k=[redacted]"),
        ("http://proxy.example/x", "http://proxy.example/x"),
        ("/", "/"),
        ("*", "*"),
        ("example.com:443", "example.com:443"),
        ("/a?x=", "/a?x=[redacted]"),
        ("/a?x=1&&y", "/a?x=[redacted]&&y"),
        ("/a?k=v=w", "/a?k=[redacted]"),
        ("/a?", "/a?"),
        ("/p/with=equals", "/p/with=equals"),
        ("/s?q=pass%20word&page=2", "/s?q=[redacted]&page=[redacted]"),
        ("http://alice@host.example/", "http://[redacted]@host.example/"),
        ("https://u:p@host.example", "https://[redacted]@host.example"),
        ("http://u:p@host.example?x=1", "http://[redacted]@host.example?x=[redacted]"),
        ("http://u:p@w@host.example/x", "http://[redacted]@host.example/x"),
        ("http://[::1]:8080/x?a=b", "http://[::1]:8080/x?a=[redacted]"),
        ("http://host.example/a@b?c=d", "http://host.example/a@b?c=[redacted]"),
    ])
    func requestTarget(_ target: String, _ expected: String) {
        #expect(Self.requestLine("GET", target, "HTTP/1.1") == "GET \(expected) HTTP/1.1")
        // The String form (HTTP/2 paths, words of text lines) redacts alike.
        #expect(Redaction.redactTarget(target) == expected)
    }

    static func requestLine(_ method: String, _ target: String, _ version: String, head: String? = nil) -> String {
        let (m, t, v, h) = (Array(method.utf8), Array(target.utf8), Array(version.utf8), head.map { Array($0.utf8) })
        return m.withUnsafeBytes { m in
            t.withUnsafeBytes { t in
                v.withUnsafeBytes { v in
                    if let h { return h.withUnsafeBytes { Redaction.requestLine(method: m, target: t, version: v, summaryOf: $0) } }
                    return Redaction.requestLine(method: m, target: t, version: v)
                }
            }
        }
    }

    /// The line is cut at 300 characters after redaction (the marker may
    /// lengthen it past the cut), its header summary still follows, and
    /// unprintable bytes read as dots, in the target's redacted parts too.
    @Test func requestLineIsCutAndPrintable() {
        let path = "/" + String(repeating: "p", count: 280)
        let exact = Self.requestLine("GET", path + "?a", "HTTP/1.1")
        #expect(exact == "GET \(path)?a HTTP/1.1" && exact.utf8.count == 296)
        let cut = Self.requestLine("GET", path + "?a=1&b=2", "HTTP/1.1", head: "GET x HTTP/1.1\r\nHost: web\r\n")
        let whole = "GET \(path)?a=[redacted]&b=[redacted] HTTP/1.1"
        #expect(cut == whole.prefix(297) + "... (Host: web)")
        let fits = String(repeating: "q", count: 300 - 13)
        #expect(Self.requestLine("GET", fits, "HTTP/1.1").utf8.count == 300)
        #expect(Self.requestLine("GET", fits + "q", "HTTP/1.1") == "GET \(fits)q HTTP...")
        #expect(Self.requestLine("G\u{1}T", "/\u{7F}x?k=\u{0}v&\u{1B}=y", "HTTP/1.1\r")
                == "G.T /.x?k=[redacted]&.=[redacted] HTTP/1.1.")
        #expect(Redaction.redactTarget("/é?k=v") == "/é?k=[redacted]")
    }

    @Test func headerSummaryNamesCredentialsNeverValues() {
        let head = Array("GET / HTTP/1.1\r\nHost: web\r\nAuthorization: Bearer abc.def\r\nCookie: session=xyz\r\nProxy-Authorization: Basic Zm9v\r\nAccept: */*\r\n".utf8)
        let summary = head.withUnsafeBytes { Redaction.headerSummary($0) }
        #expect(summary == " (Host: web; Authorization: [redacted]; Cookie: [redacted]; Proxy-Authorization: [redacted])")
        for secret in ["abc.def", "session=xyz", "Zm9v", "Bearer", "Basic"] { #expect(!summary.contains(secret)) }
    }

    static func summary(_ head: String) -> String {
        Array(head.utf8).withUnsafeBytes { Redaction.headerSummary($0) }
    }

    @Test(arguments: [
        // Names in any case; the name is shown as sent, the value never.
        ("GET / HTTP/1.1\r\nhost:   web.example  \r\nauthorization: Basic Zm9v\r\n",
         " (Host: web.example; authorization: [redacted])"),
        ("GET / HTTP/1.1\r\nPROXY-AUTHORIZATION: Negotiate YII=\r\nCOOKIE: a=b; c=d\r\n",
         " (PROXY-AUTHORIZATION: [redacted]; COOKIE: [redacted])"),
        ("HTTP/1.1 200 OK\r\nSet-Cookie: sid=1; HttpOnly\r\nX-Api-Key: k123\r\n",
         " (Set-Cookie: [redacted]; X-Api-Key: [redacted])"),
        // No credentials: the Host alone, or nothing.
        ("GET / HTTP/1.1\r\nHost: web\r\nAccept: */*\r\nUser-Agent: curl/8\r\n", " (Host: web)"),
        ("GET / HTTP/1.1\r\nAccept: */*\r\n", ""),
        ("GET / HTTP/1.1", ""),
        // A header line without a colon, and bare LF line ends.
        ("GET / HTTP/1.1\nnonsense\nCookie: x=1\n", " (Cookie: [redacted])"),
        // A request line that looks like a header is not one.
        ("Authorization: Bearer top\r\nHost: h\r\n", " (Host: h)"),
    ])
    func headerSummary(_ head: String, _ expected: String) {
        let summary = Self.summary(head)
        #expect(summary == expected)
        for secret in ["Zm9v", "YII=", "a=b", "sid=1", "k123", "x=1", "top", "Basic", "Negotiate"] {
            #expect(!summary.contains(secret))
        }
    }

    /// Every header the documented list names is redacted, in any case, and
    /// near-misses of the same length are not mistaken for one.
    @Test(arguments: Redaction.secretHeaders.sorted())
    func everyListedSecretHeaderIsRedacted(_ name: String) {
        for spelling in [name, name.uppercased(), name.prefix(1).uppercased() + name.dropFirst()] {
            let summary = Self.summary("GET / HTTP/1.1\r\n\(spelling): s3cr3t-value\r\n")
            #expect(summary == " (\(spelling): [redacted])")
            #expect(!summary.contains("s3cr3t"))
        }
        let nearMiss = String(name.dropLast()) + "q"
        #expect(Self.summary("GET / HTTP/1.1\r\n\(nearMiss): shown\r\n") == "")
    }

    /// At most six parts, however many credential headers there are.
    @Test func headerSummaryIsBounded() {
        let head = "GET / HTTP/1.1\r\n" + (0..<20).map { "Cookie: c\($0)=v\($0)\r\n" }.joined()
        let summary = Self.summary(head)
        #expect(summary == " (" + Array(repeating: "Cookie: [redacted]", count: 6).joined(separator: "; ") + ")")
    }

    /// Through the classifier: what ends up in the evidence of a whole request.
    @Test func evidenceOfFullRequest() {
        let request = "GET http://bob:hunter2@proxy.example/api?key=AKIA123&mode=x HTTP/1.1\r\nHost: proxy.example\r\n"
            + "Proxy-Authorization: Basic Ym9iOmh1bnRlcjI=\r\nCookie: session=deadbeef\r\n\r\n"
        var classifier = DirectionClassifier()
        Array(request.utf8).withUnsafeBytes { classifier.receive($0) }
        let summary = classifier.finish()
        #expect(summary.kind == .http)
        #expect(summary.evidence == "GET http://[redacted]@proxy.example/api?key=[redacted]&mode=[redacted] HTTP/1.1"
            + " (Host: proxy.example; Proxy-Authorization: [redacted]; Cookie: [redacted])")
        for secret in ["bob", "hunter2", "AKIA123", "Ym9i", "deadbeef"] { #expect(summary.evidence?.contains(secret) == false) }
    }
}


@Suite struct TextRedactionTests {
    @Test(arguments: [
        ("AUTH PLAIN AGFsaWNlAHMzY3JldA==", "AUTH [redacted]"),
        ("a1 LOGIN alice s3cret", "a1 LOGIN [redacted]"),
        ("PASS hunter2", "PASS [redacted]"),
        ("USER alice", "USER alice"),
        ("220 mail.example ESMTP ready", "220 mail.example ESMTP ready"),
        ("EHLO client.example", "EHLO client.example"),
        (#"{"op":"login","user":"alice","token":"ws-s3cret-77"}"#, #"{"op":"login","user":"alice","token":"[redacted]"}"#),
        (#"{"password": "hunter2", "id": 7}"#, #"{"password": "[redacted]", "id": 7}"#),
        ("user=alice&passwd=hunter2&x=1", "user=alice&passwd=[redacted]&x=1"),
        ("X-Api-Key: abc123 trailing", "X-Api-Key: [redacted] trailing"),
        ("session_id=9f8e7d; theme=dark", "session_id=[redacted]; theme=dark"),
        ("time: 12:30 id=4", "time: 12:30 id=4"),
    ])
    func credentialCommands(_ line: String, _ expected: String) {
        #expect(Redaction.textLine(line) == expected)
    }

    /// A stream picked up at `AUTH PLAIN …` must not print the credential.
    @Test func midStreamAuthIsRedacted() {
        var classifier = DirectionClassifier(startsMidStream: true)
        let text = Array("AUTH PLAIN AGFsaWNlAHMzY3JldA==\r\nMAIL FROM:<a@example>\r\n".utf8)
        text.withUnsafeBytes { classifier.receive($0) }
        let summary = classifier.finish()
        #expect(summary.kind.isCleartext)
        #expect(summary.evidence?.contains("AGFsaWNl") == false)
    }
}
