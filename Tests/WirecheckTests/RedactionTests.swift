import Testing
@testable import PayloadClassification

@Suite struct HTTPRedactionTests {
    @Test(arguments: [
        ("/login?user=alice&token=abc", "/login?user=[redacted]&token=[redacted]"),
        ("/plain", "/plain"),
        ("/q?flag", "/q?flag"),
        ("http://bob:pw@proxy.example:8080/x?k=v", "http://[redacted]@proxy.example:8080/x?k=[redacted]"),
        ("http://proxy.example/x", "http://proxy.example/x"),
    ])
    func requestTarget(_ target: String, _ expected: String) {
        #expect(Redaction.requestLine(method: "GET", target: target, version: "HTTP/1.1") == "GET \(expected) HTTP/1.1")
    }

    @Test func headerSummaryNamesCredentialsNeverValues() {
        let head = Array("GET / HTTP/1.1\r\nHost: web\r\nAuthorization: Bearer abc.def\r\nCookie: session=xyz\r\nProxy-Authorization: Basic Zm9v\r\nAccept: */*\r\n".utf8)
        let summary = head.withUnsafeBytes { Redaction.headerSummary($0) }
        #expect(summary == " (Host: web; Authorization: [redacted]; Cookie: [redacted]; Proxy-Authorization: [redacted])")
        for secret in ["abc.def", "session=xyz", "Zm9v", "Bearer", "Basic"] { #expect(!summary.contains(secret)) }
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
