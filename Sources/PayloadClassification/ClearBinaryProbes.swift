/// Cleartext protocols whose messages are binary-framed, so that the generic
/// "mostly printable" test misses them: on a cluster these carry credentials
/// and queries in clear as surely as HTTP does. Each probe checks the framing
/// fields against each other (a length that matches what follows, a known
/// opcode, a terminator), never a port.
enum ClearBinaryProbes {
    static func probe(_ d: UnsafeRawBufferPointer, final: Bool) -> ProbeResult? {
        if let result = postgresStartup(d) { return result }
        if let result = postgresAuthenticationRequest(d) { return result }
        if let result = mysqlGreeting(d) { return result }
        if let result = mongoMessage(d) { return result }
        if let result = dnsOverTCP(d) { return result }
        if let result = rfbBanner(d) { return result }
        if let result = telnet(d) { return result }
        if let result = bgpMessage(d, at: 0) { return result }
        if let result = smb(d) { return result }
        if let result = oncRPC(d) { return result }
        if let result = socks(d) { return result }
        if Probes.startsWith(d, "YMSG"), d.count >= 20 {
            return .cleartext(.cleartextProtocol, protocolName: "ymsg", evidence: "Yahoo Messenger (YMSG) packet")
        }
        return nil
    }

    /// SMB over TCP: a NetBIOS session message (type 0, length), then the
    /// SMB1 or SMB2 protocol id. SMB3's encrypted transform header (0xFD)
    /// is not cleartext and is left to the other checks.
    static func smb(_ d: UnsafeRawBufferPointer) -> ProbeResult? {
        guard d.count >= 8, d[0] == 0, d[5] == 0x53, d[6] == 0x4D, d[7] == 0x42, d[4] == 0xFF || d[4] == 0xFE else { return nil }
        let length = Int(d[1]) << 16 | Int(d[2]) << 8 | Int(d[3])
        guard length >= 32 else { return nil }
        return .cleartext(.cleartextProtocol, protocolName: "smb", evidence: d[4] == 0xFF ? "SMB1 message" : "SMB2 message")
    }

    /// ONC RPC over TCP (NFS volumes, their mount and lock daemons): a record
    /// mark (last-fragment bit and length), an XID, then a call (RPC version
    /// 2, program, version, procedure) or a reply. Calls made with
    /// RPCSEC_GSS privacy (Kerberos krb5p) carry encrypted bodies: not cleartext.
    static func oncRPC(_ d: UnsafeRawBufferPointer) -> ProbeResult? {
        guard d.count >= 28 else { return nil }
        let fragmentLength = u32be(d, 0) & 0x7FFF_FFFF
        guard (24...(1 << 24)).contains(fragmentLength) else { return nil }
        switch u32be(d, 8) {
        case 0:
            let program = u32be(d, 16), version = u32be(d, 20), procedure = u32be(d, 24)
            guard u32be(d, 12) == 2, version < 16, procedure < 256 else { return nil }
            let names = [100_000: "portmap", 100_003: "NFS", 100_005: "mountd", 100_021: "NLM", 100_024: "NSM status", 100_227: "NFS ACL"]
            guard let name = names[program] else { return nil }
            if d.count >= 52, u32be(d, 28) == 6, u32be(d, 48) == 3 { return nil }  // RPCSEC_GSS privacy
            return .cleartext(.cleartextProtocol, protocolName: "onc-rpc",
                              evidence: "ONC RPC call: \(name) v\(version) procedure \(procedure)")
        case 1:
            // Accepted (0) or denied (1); an accepted reply states its verifier flavour.
            guard u32be(d, 12) <= 1, u32be(d, 16) <= 6, u32be(d, 20) <= 400 else { return nil }
            return .cleartext(.cleartextProtocol, protocolName: "onc-rpc", evidence: "ONC RPC reply")
        default:
            return nil
        }
    }

    /// SOCKS5 greeting (version, method count, that many methods, nothing
    /// else yet) or a SOCKS4 request (version, command, port, address, a
    /// NUL-terminated user id). What follows may be TLS; that is an upgrade.
    static func socks(_ d: UnsafeRawBufferPointer) -> ProbeResult? {
        guard d.count >= 3 else { return nil }
        if d[0] == 5 {
            let methods = Int(d[1])
            guard (1...16).contains(methods), d.count == 2 + methods else { return nil }
            for i in 2..<d.count where d[i] > 0x09 && d[i] < 0x80 { return nil }
            return .cleartext(.cleartextProtocol, protocolName: "socks", evidence: "SOCKS5 greeting")
        }
        if d[0] == 4, d[1] == 1 || d[1] == 2, d.count >= 9, d.count <= 300, d[d.count - 1] == 0 {
            return .cleartext(.cleartextProtocol, protocolName: "socks", evidence: "SOCKS4 request")
        }
        return nil
    }

    /// BGP (Calico and MetalLB peer over it, in clear): a 16-byte all-ones
    /// marker, a length of 19 to 4096, and a message type 1 to 5.
    static func bgpMessage(_ d: UnsafeRawBufferPointer, at offset: Int) -> ProbeResult? {
        guard d.count >= offset + 19 else { return nil }
        for i in offset..<(offset + 16) where d[i] != 0xFF { return nil }
        let length = Int(d[offset + 16]) << 8 | Int(d[offset + 17])
        let type = d[offset + 18]
        guard (19...4_096).contains(length), (1...5).contains(type) else { return nil }
        let names: [UInt8: String] = [1: "OPEN", 2: "UPDATE", 3: "NOTIFICATION", 4: "KEEPALIVE", 5: "ROUTE-REFRESH"]
        return .cleartext(.cleartextProtocol, protocolName: "bgp", evidence: "BGP \(names[type] ?? "message")")
    }

    /// A BGP marker anywhere in bytes picked up mid-stream (messages follow each other).
    static func bgpAnywhere(_ d: UnsafeRawBufferPointer) -> ProbeResult? {
        var i = 0
        while i + 19 <= d.count {
            if d[i] == 0xFF, let result = bgpMessage(d, at: i) { return result }
            i += 1
        }
        return nil
    }

    static func u32be(_ d: UnsafeRawBufferPointer, _ i: Int) -> Int {
        Int(d[i]) << 24 | Int(d[i + 1]) << 16 | Int(d[i + 2]) << 8 | Int(d[i + 3])
    }

    static func u32le(_ d: UnsafeRawBufferPointer, _ i: Int) -> Int {
        Int(d[i + 3]) << 24 | Int(d[i + 2]) << 16 | Int(d[i + 1]) << 8 | Int(d[i])
    }

    /// PostgreSQL StartupMessage: length, protocol 3.0, then `key\0value\0` pairs
    /// ending in `\0`. Evidence names the user; passwords travel later and are never shown.
    static func postgresStartup(_ d: UnsafeRawBufferPointer) -> ProbeResult? {
        guard d.count >= 9, d[0] == 0 else { return nil }
        let length = u32be(d, 0)
        guard u32be(d, 4) == 0x0003_0000, (9...10_000).contains(length), length <= d.count, d[length - 1] == 0 else { return nil }
        let body = UnsafeRawBufferPointer(rebasing: d[8..<length])
        let fields = body.split(separator: 0, omittingEmptySubsequences: false).map { Probes.printable(UnsafeRawBufferPointer(rebasing: $0), limit: 64) }
        var evidence = "PostgreSQL startup"
        if let user = fields.firstIndex(of: "user"), user + 1 < fields.count { evidence += " (user \(fields[user + 1]))" }
        return .cleartext(.cleartextProtocol, protocolName: "postgresql", evidence: evidence)
    }

    /// The PostgreSQL server's first message after a startup: an
    /// authentication request ('R', length, method). The method is worth
    /// showing: 3 means the client is asked for its password in clear.
    static func postgresAuthenticationRequest(_ d: UnsafeRawBufferPointer) -> ProbeResult? {
        guard d.count >= 9, d[0] == UInt8(ascii: "R") else { return nil }
        let length = u32be(d, 1), method = u32be(d, 5)
        let methods = [0: "authentication ok", 2: "Kerberos requested", 3: "cleartext password requested",
                       5: "MD5 password requested", 7: "GSSAPI requested", 9: "SSPI requested", 10: "SASL requested"]
        guard (8...1_024).contains(length), let name = methods[method] else { return nil }
        return .cleartext(.cleartextProtocol, protocolName: "postgresql", evidence: "PostgreSQL \(name)")
    }

    /// MySQL server greeting: 3-byte little-endian length, sequence 0,
    /// protocol version 10, a NUL-terminated server version.
    static func mysqlGreeting(_ d: UnsafeRawBufferPointer) -> ProbeResult? {
        guard d.count >= 10, d[3] == 0, d[4] == 10 else { return nil }
        let length = Int(d[0]) | Int(d[1]) << 8 | Int(d[2]) << 16
        guard (20...1_024).contains(length), length + 4 <= d.count || d.count >= 64 else { return nil }
        guard let end = UnsafeRawBufferPointer(rebasing: d[5..<min(d.count, 5 + 64)]).firstIndex(of: 0), end > 0 else { return nil }
        let version = UnsafeRawBufferPointer(rebasing: d[5..<(5 + end)])
        guard version.allSatisfy({ $0 >= 0x20 && $0 < 0x7F }) else { return nil }
        return .cleartext(.cleartextProtocol, protocolName: "mysql", evidence: "MySQL greeting, server \(Probes.printable(version, limit: 40))")
    }

    /// MongoDB wire protocol: little-endian messageLength that matches, and a known opCode.
    static func mongoMessage(_ d: UnsafeRawBufferPointer) -> ProbeResult? {
        guard d.count >= 16 else { return nil }
        let length = u32le(d, 0)
        let opCode = u32le(d, 12)
        let known: Set<Int> = [1, 2001, 2002, 2004, 2005, 2006, 2007, 2010, 2011, 2012, 2013]
        guard (16...48_000_000).contains(length), known.contains(opCode) else { return nil }
        // Requests carry responseTo 0; a reply names a request.
        guard opCode != 1 || u32le(d, 8) != 0 else { return nil }
        // Flags words use their defined low bits only (OP_REPLY: 0-3; OP_MSG: 0, 1, 16).
        if d.count >= 20 {
            let flags = u32le(d, 16)
            if opCode == 1, flags & ~0xF != 0 { return nil }
            if opCode == 2013, flags & ~0x1_0003 != 0 { return nil }
        }
        return .cleartext(.cleartextProtocol, protocolName: "mongodb", evidence: "MongoDB wire protocol message (opCode \(opCode))")
    }

    /// DNS over TCP: a 2-byte length that matches the message, a header with a
    /// plausible opcode and counts, and a question name made of labels.
    static func dnsOverTCP(_ d: UnsafeRawBufferPointer) -> ProbeResult? {
        guard d.count >= 2 + 12 + 5 else { return nil }
        let length = Int(d[0]) << 8 | Int(d[1])
        guard length >= 17, length + 2 <= d.count || d.count >= 512 else { return nil }
        let opcode = (d[4] >> 3) & 0x0F
        let questions = Int(d[6]) << 8 | Int(d[7])
        guard opcode <= 5, (1...4).contains(questions) else { return nil }
        // Every resource record takes at least 11 bytes (a compressed name,
        // type, class, TTL, length): counts the message cannot hold are not DNS.
        let records = (Int(d[8]) << 8 | Int(d[9])) + (Int(d[10]) << 8 | Int(d[11])) + (Int(d[12]) << 8 | Int(d[13]))
        guard records * 11 <= length - 17 else { return nil }
        var i = 14
        var name: [String] = []
        while i < min(d.count, 2 + length) {
            let label = Int(d[i])
            if label == 0 { break }
            guard label <= 63, i + 1 + label <= d.count else { return nil }
            let text = UnsafeRawBufferPointer(rebasing: d[(i + 1)..<(i + 1 + label)])
            guard text.allSatisfy({ $0 > 0x20 && $0 < 0x7F }) else { return nil }
            name.append(Probes.printable(text, limit: 63))
            i += 1 + label
        }
        guard i < d.count, d[i] == 0, i + 5 <= 2 + length else { return nil }
        let kind = d[4] & 0x80 == 0 ? "query" : "response"
        return .cleartext(.cleartextProtocol, protocolName: "dns", evidence: "DNS \(kind) for \(name.isEmpty ? "." : name.joined(separator: "."))")
    }

    /// VNC: "RFB 003.008\n", sent first by the server and echoed by the client.
    static func rfbBanner(_ d: UnsafeRawBufferPointer) -> ProbeResult? {
        guard d.count >= 12, Probes.startsWith(d, "RFB "), d[11] == 0x0A else { return nil }
        return .cleartext(.cleartextProtocol, protocolName: "vnc",
                          evidence: "VNC " + Probes.printable(UnsafeRawBufferPointer(rebasing: d[0..<11]), limit: 11))
    }

    /// Telnet option negotiation: IAC (0xFF) followed by WILL/WONT/DO/DONT or SB.
    static func telnet(_ d: UnsafeRawBufferPointer) -> ProbeResult? {
        guard d.count >= 3, d[0] == 0xFF, (0xFA...0xFE).contains(d[1]) else { return nil }
        // Most of the opening is negotiation: IAC pairs in a row.
        var i = 0, commands = 0
        while i + 2 < d.count, d[i] == 0xFF {
            if d[i + 1] == 0xFA {
                guard let end = UnsafeRawBufferPointer(rebasing: d[i...]).firstIndex(of: 0xF0) else { break }
                i += end + 1
            } else {
                i += 3
            }
            commands += 1
        }
        guard commands >= 1 else { return nil }
        return .cleartext(.cleartextProtocol, protocolName: "telnet", evidence: "Telnet option negotiation")
    }
}
