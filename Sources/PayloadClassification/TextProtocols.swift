/// Names the line-based cleartext protocols a cluster runs (mail, FTP,
/// Redis) from the first line a direction sent, so that a verdict says
/// "smtp" rather than "text" and a STARTTLS upgrade names what it upgraded.
/// Only the first line is looked at: greetings and first commands are
/// distinctive, and nothing here needs more than one line to be sure.
enum TextProtocols {
    struct Match: Equatable {
        var name: String
        /// Evidence to show instead of the raw line, when the raw line could carry a secret.
        var evidence: String?
    }

    static func identify(firstLine line: String, secondLine: String?, thirdLine: String?) -> Match? {
        let upper = line.uppercased()
        let words = upper.split(separator: " ", maxSplits: 2, omittingEmptySubsequences: true)
        guard let first = words.first else { return nil }

        // Redis: RESP arrays of bulk strings ("*2", "$4", "AUTH"), or a bare reply.
        if line.first == "*", line.dropFirst().allSatisfy(\.isNumber), line.count > 1,
           let second = secondLine, second.first == "$", second.dropFirst().allSatisfy(\.isNumber) {
            let command = (thirdLine ?? "").uppercased()
            guard !command.isEmpty, command.allSatisfy({ $0.isLetter || $0 == "." }) else {
                return Match(name: "redis", evidence: "Redis command")
            }
            return Match(name: "redis", evidence: "Redis command \(command)" + (command == "AUTH" || command == "HELLO" ? " [redacted]" : ""))
        }
        if line == "+OK" || line == "+PONG" || upper.hasPrefix("-NOAUTH") || upper.hasPrefix("-WRONGPASS") {
            return Match(name: "redis", evidence: "Redis reply " + String(line.prefix(60)))
        }

        // Greetings.
        if first.hasPrefix("220") {
            if upper.contains("FTP") { return Match(name: "ftp", evidence: nil) }
            if upper.contains("SMTP") || upper.contains("MAIL") || upper.contains("POSTFIX") || upper.contains("EXIM") {
                return Match(name: "smtp", evidence: nil)
            }
        }
        if upper.hasPrefix("* OK") || upper.hasPrefix("* PREAUTH") { return Match(name: "imap", evidence: nil) }
        if upper.hasPrefix("+OK ") { return Match(name: "pop3", evidence: nil) }

        // First commands of clients.
        switch first {
        case "EHLO", "HELO": return Match(name: "smtp", evidence: nil)
        case "AUTH":
            if words.count > 1, words[1] == "TLS" || words[1] == "SSL" { return Match(name: "ftp", evidence: nil) }
            return Match(name: "smtp", evidence: nil)
        case "CAPA", "STLS", "APOP": return Match(name: "pop3", evidence: nil)
        case "FEAT", "SYST", "PASV", "EPSV": return Match(name: "ftp", evidence: nil)
        default: break
        }
        // IMAP commands carry a tag first: "a001 LOGIN …", "A1 CAPABILITY".
        if words.count >= 2, ["LOGIN", "CAPABILITY", "STARTTLS", "AUTHENTICATE", "SELECT", "ID"].contains(String(words[1])) {
            return Match(name: "imap", evidence: nil)
        }
        return nil
    }
}
