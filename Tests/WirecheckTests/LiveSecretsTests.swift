import Foundation
import Testing

/// Credentials crossing the wire in cleartext, through real clients and
/// servers in the lab (curl with HTTP Basic auth and a cookie, curl over h2c
/// with a bearer token and a key in the query, psql logging in
/// to PostgreSQL with password authentication, curl logging in to SMTP with
/// AUTH, mosquitto_pub logging in to mosquitto, ldapsearch binding to slapd):
/// wirecheck must flag every flow as plaintext and show the shape of
/// the evidence, while neither its text nor its JSON output contains any of
/// the secrets, in clear or base64. A tcpdump recording of the same traffic
/// proves the secrets really were on the wire.
/// Part of the serialized lab suite: the lab's namespaces are shared.
extension LiveLabTests {
    /// Must match the values in scripts/lab.sh.
    static let secrets = ["wc-pg-secret-4711", "wc-smtp-secret-0815", "wc-cookie-secret-42", "wc-basic-secret-99",
                          "wc-mqtt-secret-2718", "wc-ldap-secret-3141", "wc-log-token-1618", "wc-h2c-token-2323",
                          "wc-h2c-query-4646", "wc-erlang-cookie-5772"]

    /// Every form a secret takes on the wire or could take in output.
    static var forbidden: [String] {
        var forms = secrets
        forms.append(Data("app:wc-basic-secret-99".utf8).base64EncodedString())   // HTTP Basic
        forms.append(Data("\0app\0wc-smtp-secret-0815".utf8).base64EncodedString()) // SMTP AUTH PLAIN
        forms.append(Data("wc-smtp-secret-0815".utf8).base64EncodedString())        // SMTP AUTH LOGIN
        return forms
    }

    @Test func credentialsNeverReachTheOutput() throws {
        let binary = try #require(TestSupport.binary, "wirecheck binary not built next to the tests")
        let lock = try LiveLab.exclusive()
        defer { lock.release() }
        try LiveLab.lab("up", "permissive")
        defer { try? LiveLab.lab("down") }
        let ip = FileManager.default.isExecutableFile(atPath: "/usr/sbin/ip") ? "/usr/sbin/ip" : "/sbin/ip"
        let filter = ["host", "10.111.1.122"]
        let recording = FileManager.default.temporaryDirectory.appendingPathComponent("wirecheck-secrets-\(UUID().uuidString).pcap")
        defer { try? FileManager.default.removeItem(at: recording) }

        let text = try Subprocess(ip, ["netns", "exec", "wc-node", binary.path, "-i", "any"] + filter)
        let json = try Subprocess(ip, ["netns", "exec", "wc-node", binary.path, "-i", "any", "--json"] + filter)
        let tcpdump = try Subprocess(ip, ["netns", "exec", "wc-node", "tcpdump", "-i", "any", "-U", "-w", recording.path] + filter)
        let all = [text, json, tcpdump]
        defer {
            for process in all {
                if process.wait(timeout: 0) == nil { process.send(SIGKILL); _ = process.wait() }
                process.removeFiles()
            }
        }
        #expect(text.waitForStderr("listening on any", timeout: 15), "stderr: \(text.stderr)")
        #expect(json.waitForStderr("listening on any", timeout: 15), "stderr: \(json.stderr)")
        #expect(tcpdump.waitForStderr("listening on", timeout: 15), "stderr: \(tcpdump.stderr)")

        try LiveLab.lab("secrets")
        Thread.sleep(forTimeInterval: 1.5)
        for process in [text, json] { process.send(SIGINT) }
        tcpdump.send(SIGTERM)
        for process in all { #expect(process.wait(timeout: 15) != nil, "a capture did not stop") }

        // The secrets were on the wire…
        let wire = try Data(contentsOf: recording)
        // (Basic auth and SMTP AUTH carry theirs base64-encoded; the h2c
        // request's travel Huffman-coded in HPACK, not searched for here.)
        for secret in ["wc-pg-secret-4711", "wc-cookie-secret-42", "wc-mqtt-secret-2718", "wc-ldap-secret-3141", "wc-log-token-1618",
                       Data("app:wc-basic-secret-99".utf8).base64EncodedString()] {
            #expect(wire.range(of: Data(secret.utf8)) != nil, "\(secret) not on the wire: the test proves nothing")
        }
        let smtpOnWire = [Data("\0app\0wc-smtp-secret-0815".utf8).base64EncodedString(),
                          Data("wc-smtp-secret-0815".utf8).base64EncodedString()].contains { wire.range(of: Data($0.utf8)) != nil }
        #expect(smtpOnWire, "SMTP AUTH not on the wire")

        // …and in no output.
        for (name, process) in [("text", text), ("json", json)] {
            for form in Self.forbidden {
                #expect(!process.stdout.contains(form), "\(name) output contains \(form)")
                #expect(!process.stderr.contains(form), "\(name) stderr contains \(form)")
            }
        }

        // The verdicts still show what crossed and its shape.
        let flows = try TestSupport.jsonLines(json.stdout).filter { $0["type"] as? String == "flow" }
        func flow(port: Int) -> [String: Any]? {
            flows.first { ($0["server"] as? String)?.hasSuffix(":\(port)") == true }
        }
        let http = try #require(flow(port: 80), "no HTTP flow: \(json.stdout)")
        #expect(http["verdict"] as? String == "plaintext")
        let evidence = http["evidence"] as? String ?? ""
        #expect(evidence.contains("GET /account HTTP/1.1"), "\(evidence)")
        #expect(evidence.contains("Authorization: [redacted]") && evidence.contains("Cookie: [redacted]"), "\(evidence)")
        // HTTP/2 in clear: the request line and status decoded from HPACK, the query value redacted.
        let h2c = try #require(flow(port: 8081), "no h2c flow: \(json.stdout)")
        #expect(h2c["verdict"] as? String == "plaintext" && h2c["protocol"] as? String == "h2c", "\(h2c)")
        let h2cEvidence = h2c["evidence"] as? String ?? ""
        #expect(h2cEvidence.contains("GET /orders?api_key=[redacted] (:authority 10.111.1.122:8081)"), "\(h2cEvidence)")
        #expect(h2cEvidence.contains("HTTP/2 :status 200"), "\(h2cEvidence)")
        let postgres = try #require(flow(port: 5432), "no PostgreSQL flow: \(json.stdout)")
        #expect(postgres["verdict"] as? String == "plaintext")
        #expect(postgres["protocol"] as? String == "postgresql", "\(postgres)")
        let smtp = try #require(flow(port: 25), "no SMTP flow: \(json.stdout)")
        #expect(smtp["verdict"] as? String == "plaintext", "\(smtp)")
        let mqtt = try #require(flow(port: 1883), "no MQTT flow: \(json.stdout)")
        #expect(mqtt["verdict"] as? String == "plaintext" && mqtt["protocol"] as? String == "mqtt", "\(mqtt)")
        #expect((mqtt["evidence"] as? String)?.contains("user app, password [redacted]") == true, "\(mqtt)")
        // LDAP: a simple bind in clear, then the same bind after StartTLS.
        let ldap = flows.filter { ($0["server"] as? String)?.hasSuffix(":389") == true }
        #expect(ldap.count == 2, "\(ldap)")
        #expect(ldap.contains { $0["verdict"] as? String == "plaintext" && $0["protocol"] as? String == "ldap" }, "\(ldap)")
        #expect(ldap.contains { $0["verdict"] as? String == "encrypted" && ($0["reason"] as? String)?.contains("LDAP StartTLS") == true }, "\(ldap)")
        // A log line over TCP (util-linux logger): the client sends and
        // closes, the receiver closes after it. That is no refusal.
        let syslog = try #require(flow(port: 514), "no syslog flow: \(json.stdout)")
        #expect(syslog["verdict"] as? String == "plaintext", "\(syslog)")
        #expect((syslog["reason"] as? String)?.contains("answering the client's close") == true, "\(syslog)")
        // Alertmanager's cluster gossip (memberlist), LZW-compressed: it read `opaque` and passed.
        let gossip = try #require(flow(port: 9094), "no memberlist flow: \(json.stdout)")
        #expect(gossip["verdict"] as? String == "plaintext" && gossip["protocol"] as? String == "memberlist", "\(gossip)")
        #expect((gossip["evidence"] as? String)?.contains("memberlist push/pull (join)") == true, "\(gossip)")
        // Two Erlang nodes connecting as RabbitMQ's do: the lookup in EPMD, then distribution.
        let epmd = try #require(flow(port: 4369), "no EPMD flow: \(json.stdout)")
        #expect(epmd["verdict"] as? String == "plaintext" && epmd["protocol"] as? String == "epmd", "\(epmd)")
        #expect((epmd["evidence"] as? String)?.contains("EPMD lookup of node rabbit") == true, "\(epmd)")
        let distribution = try #require(flow(port: 25672), "no Erlang distribution flow: \(json.stdout)")
        #expect(distribution["verdict"] as? String == "plaintext" && distribution["protocol"] as? String == "erlang-dist", "\(distribution)")
        #expect((distribution["evidence"] as? String)?.contains("from node rabbit@10.111.1.20") == true, "\(distribution)")
        // The cookie keys a challenge: it is not on the wire, so not in any output either.
        #expect(wire.range(of: Data("wc-erlang-cookie-5772".utf8)) == nil)
        #expect(text.stdout.contains("result: FAIL"))
    }
}
