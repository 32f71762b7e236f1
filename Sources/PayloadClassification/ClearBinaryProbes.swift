#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#endif

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
        if let result = tds(d, final: final) { return result }
        if let result = socks(d) { return result }
        if let result = mqtt(d, final: final) { return result }
        if let result = amqp(d, final: final) { return result }
        if let result = ldap(d, final: final) { return result }
        if let result = kafkaRequest(d) { return result }
        if let result = cassandra(d, final: final) { return result }
        if let result = beats(d) { return result }
        if let result = Memberlist.probe(d, final: final) { return result }
        if let result = erlangDistribution(d) { return result }
        if let result = epmd(d, final: final) { return result }
        if let result = redisClusterBus(d) { return result }
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
            // The user ID is text, NUL-terminated; SOCKS4a (address 0.0.0.x)
            // adds a NUL-terminated host name. Binary messages that happen to
            // start with 4, 1 (OpenFlow 1.3's ERROR) are not.
            let socks4a = d[4] == 0 && d[5] == 0 && d[6] == 0 && d[7] != 0
            var separators = 0
            for i in 8..<(d.count - 1) {
                if d[i] == 0 { separators += 1; continue }
                guard d[i] >= 0x20, d[i] < 0x7F else { return nil }
            }
            guard separators == (socks4a ? 1 : 0) else { return nil }
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
        guard let base = d.baseAddress else { return nil }
        var i = 0
        while i + 19 <= d.count {
            // The marker's first byte, found by memchr (vectorised): a byte
            // loop here cost 18 instructions per byte of every window checked.
            guard let hit = memchr(base + i, 0xFF, d.count - 18 - i) else { return nil }
            i = base.distance(to: UnsafeRawPointer(hit))
            if let result = bgpMessage(d, at: i) { return result }
            i += 1
        }
        return nil
    }

    /// Bytes that name something on the wire (a node, a `host:port`):
    /// visible ASCII only, no spaces, as text.
    static func visibleName(_ bytes: UnsafeRawBufferPointer.SubSequence, lengths: ClosedRange<Int> = 1...255) -> String? {
        guard lengths.contains(bytes.count), bytes.allSatisfy({ (0x21...0x7E).contains($0) }) else { return nil }
        return String(decoding: bytes, as: UTF8.self)
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

    // MARK: Message brokers and directories

    /// MQTT (brokers for devices and event pipelines): a CONNECT (packet type
    /// 1, remaining length, protocol name "MQTT" at level 4 or 5, or "MQIsdp"
    /// at level 3), or the CONNACK answering one. A CONNECT carries the user
    /// name and password in clear: the evidence names the user, never the password.
    static func mqtt(_ d: UnsafeRawBufferPointer, final: Bool) -> ProbeResult? {
        guard d.count >= 4 else { return nil }
        if d[0] == 0x20 {
            // CONNACK: session-present flag, then a return code (3.x: 0-5) or reason code (5.0: 0, 0x80 and up).
            guard let (remaining, lengthBytes) = mqttVarint(d, at: 1), remaining >= 2, 1 + lengthBytes + 2 <= d.count else { return nil }
            let flags = d[1 + lengthBytes], code = d[2 + lengthBytes]
            guard flags <= 1, remaining == 2 ? code <= 5 : code == 0 || code >= 0x80 else { return nil }
            if remaining > 2 {
                // 5.0: the rest is a property list whose length must add up.
                guard let (properties, propertyBytes) = mqttVarint(d, at: 3 + lengthBytes),
                      remaining == 2 + propertyBytes + properties else { return nil }
            }
            return .cleartext(.cleartextProtocol, protocolName: "mqtt",
                              evidence: code == 0 ? "MQTT CONNACK (accepted)" : "MQTT CONNACK (refused, code \(code))")
        }
        guard d[0] == 0x10, let (remaining, lengthBytes) = mqttVarint(d, at: 1), remaining >= 10 else { return nil }
        // The CONNECT alone: what follows it (a PUBLISH) is no part of its fields.
        var r = ByteReader(UnsafeRawBufferPointer(rebasing: d[(1 + lengthBytes)..<min(d.count, 1 + lengthBytes + remaining)]))
        guard let name = r.vector16(), let level = r.u8(), let flags = r.u8(), r.skip(2), flags & 1 == 0 else { return nil }
        let version: String
        switch (name.printableText(), level) {
        case ("MQTT", 4): version = "3.1.1"
        case ("MQTT", 5): version = "5.0"
        case ("MQIsdp", 3): version = "3.1"
        default: return nil
        }
        if waitForWhole(1 + lengthBytes + remaining, of: d, final: final) { return .needMore }
        var details: [String] = []
        func field(_ reader: inout ByteReader) -> String? {
            reader.vector16().map { Probes.printable($0.unreadBytes, limit: 64) }
        }
        // Optional parts, read as far as the captured bytes go.
        if level < 5 || r.skipMQTTProperties() {
            if let clientID = field(&r) {
                details.append(clientID.isEmpty ? "no client id" : "client id \(clientID)")
                let willRead = flags & 0x04 == 0 || ((level < 5 || r.skipMQTTProperties()) && r.vector16() != nil && r.vector16() != nil)
                if willRead, flags & 0x80 != 0, let user = field(&r) { details.append("user \(user)") }
            }
        }
        if flags & 0x40 != 0 { details.append("password [redacted]") }
        let evidence = "MQTT \(version) CONNECT" + (details.isEmpty ? "" : " (" + details.joined(separator: ", ") + ")")
        return .cleartext(.cleartextProtocol, protocolName: "mqtt", evidence: evidence)
    }

    /// Beats (Filebeat, Metricbeat) to Logstash: the Lumberjack protocol,
    /// TLS only if configured. A batch opens with a window frame (version
    /// '1' or '2', 'W', the event count), then the events, zlib-compressed by
    /// default ('C', length, a zlib stream) or not ('J': sequence, length,
    /// JSON; version 1's 'D': sequence, key-value pairs). Compressed, the
    /// logs look random, and read `opaque` without this probe.
    static func beats(_ d: UnsafeRawBufferPointer) -> ProbeResult? {
        guard d.count >= 16, d[0] == 0x31 || d[0] == 0x32, d[1] == 0x57, d[6] == d[0] else { return nil }
        let window = u32be(d, 2), length = u32be(d, 8)
        guard (1...1_048_576).contains(window) else { return nil }
        let frame: String
        switch d[7] {
        case 0x43 where length >= 8 && CompressedData.isZlibHeader(d[12], d[13]):
            frame = "a zlib-compressed frame of \(length) bytes"
        case 0x4A where d[0] == 0x32 && d.count > 16 && u32be(d, 12) >= 2 && d[16] == 0x7B:
            frame = "JSON events"
        case 0x44 where d[0] == 0x31 && (1...1024).contains(u32be(d, 12)):
            frame = "key-value events"
        default:
            return nil
        }
        let version = d[0] == 0x32 ? 2 : 1
        return .cleartext(.cleartextProtocol, protocolName: "beats",
                          evidence: "Beats (Lumberjack v\(version)) batch: a window of \(window) events, then \(frame)")
    }

    /// Erlang distribution (RabbitMQ and CouchDB clustering, Elixir nodes),
    /// in clear unless configured for TLS: each side opens with a message of
    /// a 2-byte length; the connecting node sends its name ('N': flags,
    /// creation, name length, name; the older 'n': version 5, flags, name),
    /// the other answers a status ('s', then "ok", "nok", ...). The cookie
    /// never crosses: it keys an MD5 challenge. Node names contain '@'.
    static func erlangDistribution(_ d: UnsafeRawBufferPointer) -> ProbeResult? {
        guard d.count >= 5, d[0] == 0 else { return nil }
        let length = Int(d[1])
        guard d.count >= 2 + length else { return nil }
        let message = UnsafeRawBufferPointer(rebasing: d[2..<(2 + length)])
        func nodeName(_ name: UnsafeRawBufferPointer.SubSequence) -> String? {
            name.contains(0x40) ? visibleName(name, lengths: 3...255) : nil
        }
        var name: String?
        switch message.first {
        case 0x4E where length >= 15:
            guard 15 + (Int(message[13]) << 8 | Int(message[14])) == length else { return nil }
            name = nodeName(message[15...])
        case 0x6E where length >= 8:
            guard message[1] == 0, message[2] == 5 else { return nil }
            name = nodeName(message[7...])
        case 0x73:
            let status = String(decoding: message[1...], as: UTF8.self)
            guard ["ok", "ok_simultaneous", "nok", "not_allowed", "alive"].contains(status) else { return nil }
            return .cleartext(.cleartextProtocol, protocolName: "erlang-dist", evidence: "Erlang distribution handshake status \(status)")
        default:
            return nil
        }
        guard let name else { return nil }
        return .cleartext(.cleartextProtocol, protocolName: "erlang-dist", evidence: "Erlang distribution handshake from node \(name)")
    }

    /// EPMD, the Erlang port mapper (4369) that nodes register with and ask
    /// for each other's distribution port: a request of a 2-byte length and
    /// a type ('x' register, 'z' look up a name, 'n' list names), and the
    /// answer to a lookup ('w': the port, then the node's name). Node names
    /// in clear; never encrypted. A registration's answer (a letter, a
    /// result, 2 to 4 bytes more) is too short to tell from anything else.
    static func epmd(_ d: UnsafeRawBufferPointer, final: Bool) -> ProbeResult? {
        guard d.count >= 2 else { return nil }
        func found(_ evidence: String) -> ProbeResult { .cleartext(.cleartextProtocol, protocolName: "epmd", evidence: evidence) }
        switch d[0] {
        case 0x77 where d.count >= 14 && d[1] == 0:
            let length = Int(d[10]) << 8 | Int(d[11])
            guard d.count >= 12 + length + 2, d[4] == 0x4D || d[4] == 0x48, let node = visibleName(d[12..<(12 + length)]) else { return nil }
            return found("EPMD port of node \(node)")
        case 0:
            let length = Int(d[1])
            guard length >= 1, d.count == 2 + length else { return nil }
            switch d[2] {
            case 0x7A:
                guard let node = visibleName(d[3...]) else { return nil }
                return found("EPMD lookup of node \(node)")
            case 0x78 where length >= 13:
                let nameLength = Int(d[11]) << 8 | Int(d[12])
                guard 13 + nameLength + 2 <= d.count, d[5] == 0x4D || d[5] == 0x48,
                      let node = visibleName(d[13..<(13 + nameLength)]) else { return nil }
                return found("EPMD registration of node \(node)")
            case 0x6E where length == 1:
                return found("EPMD request for the names registered")
            default:
                return nil
            }
        default:
            return nil
        }
    }

    /// The Redis Cluster bus (the data port plus 10000), in clear unless the
    /// cluster is configured for TLS: each message opens with "RCmb", its
    /// total length, version 1, the sender's port, a type and, after three
    /// 8-byte epochs and offsets, the sender's 40-character node ID. PUBLISH
    /// messages carry pub/sub payloads between nodes.
    static func redisClusterBus(_ d: UnsafeRawBufferPointer) -> ProbeResult? {
        guard d.count >= 80, Probes.startsWith(d, "RCmb"), u32be(d, 4) >= 80, d[8] == 0, d[9] == 1, d[12] == 0 else { return nil }
        let types = ["PING", "PONG", "MEET", "FAIL", "PUBLISH", "FAILOVER_AUTH_REQUEST", "FAILOVER_AUTH_ACK", "UPDATE",
                     "MFSTART", "MODULE", "PUBLISHSHARD"]
        guard Int(d[13]) < types.count, let node = visibleName(d[40..<80], lengths: 40...40),
              node.utf8.allSatisfy({ (0x30...0x39).contains($0) || (0x61...0x66).contains($0) }) else { return nil }
        return .cleartext(.cleartextProtocol, protocolName: "redis-cluster",
                          evidence: "Redis Cluster bus \(types[Int(d[13])]) from node \(node)")
    }

    /// Kafka (event streaming; inside many clusters in clear): a request —
    /// size, API key, API version, correlation id, then the client id, which
    /// every client sends ("rdkafka", "producer-1"). Read from the header
    /// alone, so a producer whose batches are compressed (high entropy after
    /// a few bytes) is still seen in clear; SASL credentials are never shown.
    static func kafkaRequest(_ d: UnsafeRawBufferPointer) -> ProbeResult? {
        guard d.count >= 16 else { return nil }
        let size = u32be(d, 0), apiKey = Int(d[4]) << 8 | Int(d[5]), version = Int(d[6]) << 8 | Int(d[7])
        guard (12...104_857_600).contains(size), apiKey <= 100, version <= 30, d[8] & 0x80 == 0 else { return nil }
        let idLength = Int(d[12]) << 8 | Int(d[13])
        guard (1...255).contains(idLength), 10 + idLength <= size, 14 + idLength <= d.count else { return nil }
        let clientID = UnsafeRawBufferPointer(rebasing: d[14..<(14 + idLength)])
        guard clientID.allSatisfy({ $0 > 0x20 && $0 < 0x7F }) else { return nil }
        if apiKey == 0 {
            // A response's correlation id below 2^16 reads as API key 0: a
            // Produce request must also show its body's start (transactional
            // id, acks -1/0/1, a timeout of 1 ms to 1 h) where a response has
            // partition numbers. (Produce before version 3 predates 2017.)
            var r = ByteReader(UnsafeRawBufferPointer(rebasing: d[(14 + idLength)...]))
            guard (3...11).contains(version), let transactional = r.u16(),
                  transactional == 0xFFFF || r.skip(Int(transactional)),
                  let acks = r.u16(), acks == 0xFFFF || acks <= 1,
                  let high = r.u16(), let low = r.u16(),
                  (1...3_600_000).contains(Int(high) << 16 | Int(low)) else { return nil }
        }
        let name = kafkaAPIs[apiKey] ?? "API \(apiKey)"
        return .cleartext(.cleartextProtocol, protocolName: "kafka",
                          evidence: "Kafka \(name) request (client id \(Probes.printable(clientID, limit: 64)))")
    }

    /// Cassandra's native protocol (CQL) as a connection opens: OPTIONS and
    /// SUPPORTED, STARTUP and READY, AUTHENTICATE, or an ERROR — a 9-byte
    /// header (version 3 to 5, the top bit set in responses, no flags, a
    /// stream id, the opcode, a body length) and a body that must parse
    /// (string maps and strings of printable text). Compression is agreed in
    /// STARTUP, so a connection whose later frames look random is still seen
    /// in clear. Later messages are not taken alone: nine header bytes are
    /// too few to tell them from ciphertext. Credentials are never shown.
    static func cassandra(_ d: UnsafeRawBufferPointer, final: Bool) -> ProbeResult? {
        guard d.count >= 9, (3...5).contains(d[0] & 0x7F), d[1] == 0 else { return nil }
        let isResponse = d[0] & 0x80 != 0
        let length = u32be(d, 5)
        guard let (name, fromServer) = cqlOpcodes[d[4]], fromServer == isResponse, length <= 65_536 else { return nil }
        if waitForWhole(9 + length, of: d, final: final) { return .needMore }
        guard 9 + length <= d.count else { return nil }
        var body = ByteReader(UnsafeRawBufferPointer(rebasing: d[9..<(9 + length)]))
        func text(_ r: inout ByteReader) -> Bool {
            guard let string = r.vector16() else { return false }
            return string.unreadBytes.allSatisfy { $0 >= 0x20 && $0 < 0x7F }
        }
        let parsed: Bool
        switch d[4] {
        case 0x05, 0x02:  // OPTIONS, READY: no body
            parsed = length == 0
        case 0x01, 0x06:  // STARTUP: string map; SUPPORTED: string multimap
            guard let pairs = body.u16(), (1...32).contains(pairs) else { return nil }
            var ok = true
            for _ in 0..<pairs where ok {
                ok = text(&body)
                if d[4] == 0x01 {
                    ok = ok && text(&body)
                } else if ok, let values = body.u16(), values <= 32 {
                    for _ in 0..<values where ok { ok = text(&body) }
                } else {
                    ok = false
                }
            }
            parsed = ok && body.remaining == 0
        case 0x03:  // AUTHENTICATE: the authenticator's class name
            parsed = text(&body) && body.remaining == 0
        default:  // ERROR: a code and a message
            parsed = body.skip(4) && text(&body)
        }
        guard parsed else { return nil }
        return .cleartext(.cleartextProtocol, protocolName: "cassandra",
                          evidence: "Cassandra CQL \(name) (protocol v\(d[0] & 0x7F))")
    }

    /// The CQL opcodes of a connection's opening, and whether the server sends them.
    static let cqlOpcodes: [UInt8: (String, Bool)] = [
        0x00: ("ERROR", true), 0x01: ("STARTUP", false), 0x02: ("READY", true), 0x03: ("AUTHENTICATE", true),
        0x05: ("OPTIONS", false), 0x06: ("SUPPORTED", true),
    ]

    static let kafkaAPIs: [Int: String] = [
        0: "Produce", 1: "Fetch", 2: "ListOffsets", 3: "Metadata", 8: "OffsetCommit", 9: "OffsetFetch",
        10: "FindCoordinator", 11: "JoinGroup", 12: "Heartbeat", 13: "LeaveGroup", 14: "SyncGroup",
        17: "SaslHandshake", 18: "ApiVersions", 19: "CreateTopics", 22: "InitProducerId", 36: "SaslAuthenticate",
    ]

    /// Whether to wait for the rest of a message of `length` bytes that has
    /// begun: its details are read from the whole message, so that what is
    /// reported does not depend on where the segments were cut. A message
    /// longer than the probe window is read as far as the window goes.
    static func waitForWhole(_ length: Int, of d: UnsafeRawBufferPointer, final: Bool) -> Bool {
        length > d.count && !final && d.count < Probes.probeLimit
    }

    /// MQTT's variable-length integer (1 to 4 bytes, 7 bits each) at `offset`:
    /// its value and how many bytes it took.
    static func mqttVarint(_ d: UnsafeRawBufferPointer, at offset: Int) -> (value: Int, bytes: Int)? {
        var value = 0
        for i in 0..<4 {
            guard offset + i < d.count else { return nil }
            let byte = d[offset + i]
            value |= Int(byte & 0x7F) << (7 * i)
            if byte & 0x80 == 0 { return (value, i + 1) }
        }
        return nil
    }

    /// AMQP (RabbitMQ, ActiveMQ, Qpid): the 8-byte protocol header each side
    /// sends first ("AMQP", then the protocol id and version), or the
    /// Connection.Start a 0-9-1 server opens with. The header announcing TLS
    /// (AMQP 1.0, protocol id 2) is an upgrade: TLS records follow it.
    static func amqp(_ d: UnsafeRawBufferPointer, final: Bool) -> ProbeResult? {
        if d.count >= 8, Probes.startsWith(d, "AMQP") {
            let evidence: String
            switch (d[4], d[5], d[6], d[7]) {
            case (0, 0, 9, 1): evidence = "AMQP 0-9-1 protocol header"
            case (1, 1, 0, 9): evidence = "AMQP 0-9 protocol header"
            case (1, 1, 8, 0): evidence = "AMQP 0-8 protocol header"
            case (0, 1, 0, 0): evidence = "AMQP 1.0 protocol header"
            case (3, 1, 0, 0): evidence = "AMQP 1.0 SASL header"
            case (2, 1, 0, 0): return .tls(preambleLength: 8, preamble: "AMQP 1.0 TLS header")
            default: return nil
            }
            return .cleartext(.cleartextProtocol, protocolName: "amqp", evidence: evidence)
        }
        // A method frame (type 1) on channel 0: class 10 (connection), method 10 (start), version 0-9.
        guard d.count >= 13, d[0] == 1, d[1] == 0, d[2] == 0, d[7] == 0, d[8] == 10, d[9] == 0, d[10] == 10,
              d[11] == 0, d[12] == 9 else { return nil }
        let size = u32be(d, 3)
        guard (12...131_072).contains(size) else { return nil }
        if waitForWhole(8 + size, of: d, final: final) { return .needMore }
        guard 8 + size > d.count || d[7 + size] == 0xCE else { return nil }
        return .cleartext(.cleartextProtocol, protocolName: "amqp", evidence: "AMQP 0-9-1 Connection.Start")
    }

    /// LDAP (directory lookups and logins, on port 389 often in clear): a BER
    /// LDAPMessage, a SEQUENCE holding a message ID and an operation with its
    /// application tag. A simple bind carries its password in clear: the
    /// evidence names the DN, never the password. A SASL bind whose mechanism
    /// can protect what follows (GSSAPI, GSS-SPNEGO, DIGEST-MD5), and a bind
    /// response still negotiating one, are left to the other checks: the
    /// operations after them may be sealed. StartTLS is named; the TLS that
    /// follows it makes the flow an upgrade.
    static func ldap(_ d: UnsafeRawBufferPointer, final: Bool) -> ProbeResult? {
        guard d.count >= 7, d[0] == 0x30 else { return nil }
        var message = BERReader(d)
        guard let envelope = message.element() else { return nil }
        var r = BERReader(envelope.contents)
        guard let id = r.element(), id.tag == 0x02, (1...4).contains(id.contents.count), !id.truncated,
              let op = r.element(), let name = ldapOperations[op.tag] else { return nil }
        if envelope.truncated, !final, d.count < Probes.probeLimit { return .needMore }
        var evidence = "LDAP \(name)"
        var body = BERReader(op.contents)
        switch op.tag {
        case 0x60:
            // BindRequest: version, name (DN), authentication choice.
            guard let version = body.element(), version.tag == 0x02, let dn = body.element(), dn.tag == 0x04 else { return nil }
            let who = Probes.printable(dn.contents, limit: 120)
            if let auth = body.element() {
                if auth.tag == 0x80 {
                    if auth.contents.isEmpty, !auth.truncated {
                        evidence = who.isEmpty ? "LDAP anonymous bind" : "LDAP unauthenticated bind as \(who)"
                    } else {
                        evidence = "LDAP simple bind as \(who), password [redacted]"
                    }
                } else if auth.tag == 0xA3 {
                    var sasl = BERReader(auth.contents)
                    guard let mechanism = sasl.element(), mechanism.tag == 0x04 else { return nil }
                    let mech = Probes.printable(mechanism.contents, limit: 40)
                    if ldapProtectingMechanisms.contains(mech.uppercased()) || mech.uppercased().hasPrefix("GS2-") { return nil }
                    evidence = "LDAP SASL bind (\(mech))" + (who.isEmpty ? "" : " as \(who)")
                }
            }
        case 0x61:
            // BindResponse: a SASL exchange still under way (14), or server credentials, may set up sealing.
            guard let result = body.ldapResultCode(), result != 14, body.first(tag: 0x87) == nil else { return nil }
            evidence = "LDAP bind response (" + (ldapResults[result].map { "\($0), " } ?? "") + "result \(result))"
        case 0x77:
            if let oid = body.element(), oid.tag == 0x80 {
                let text = Probes.printable(oid.contents, limit: 64)
                // TLS starts right after the request (RFC 4511 §4.14), however the segments were cut.
                if text == startTLS { return envelope.truncated ? nil : .tls(preambleLength: message.offset, preamble: "LDAP StartTLS request") }
                evidence = "LDAP extended request \(text)"
            }
        case 0x78:
            // The answer to StartTLS: success (0) and the StartTLS name; TLS follows it.
            if !envelope.truncated, body.ldapResultCode() == 0, let responseName = body.first(tag: 0x8A),
               Probes.printable(responseName.contents, limit: 64) == startTLS {
                return .tls(preambleLength: message.offset, preamble: "LDAP StartTLS accepted")
            }
        case 0x63:
            if let base = body.element(), base.tag == 0x04 {
                evidence = base.contents.isEmpty ? "LDAP search request (root DSE)"
                    : "LDAP search request (base \(Probes.printable(base.contents, limit: 120)))"
            }
        default:
            break
        }
        return .cleartext(.cleartextProtocol, protocolName: "ldap", evidence: evidence)
    }

    static let startTLS = "1.3.6.1.4.1.1466.20037"

    /// LDAP operations by application tag (RFC 4511 §4.2-4.14).
    static let ldapOperations: [UInt8: String] = [
        0x60: "bind request", 0x61: "bind response", 0x42: "unbind request", 0x63: "search request",
        0x64: "search result entry", 0x65: "search result done", 0x73: "search result reference",
        0x66: "modify request", 0x67: "modify response", 0x68: "add request", 0x69: "add response",
        0x4A: "delete request", 0x6B: "delete response", 0x6C: "modify DN request", 0x6D: "modify DN response",
        0x6E: "compare request", 0x6F: "compare response", 0x50: "abandon request", 0x77: "extended request",
        0x78: "extended response", 0x79: "intermediate response",
    ]

    /// Bind results worth naming (RFC 4511 appendix A): whether a login
    /// worked, and the refusals that mean "not in clear".
    static let ldapResults: [UInt8: String] = [
        0: "success", 7: "authMethodNotSupported", 8: "strongerAuthRequired", 13: "confidentialityRequired",
        48: "inappropriateAuthentication", 49: "invalidCredentials", 53: "unwillingToPerform",
    ]

    /// SASL mechanisms that can negotiate a security layer (integrity and
    /// confidentiality) for the rest of the connection.
    static let ldapProtectingMechanisms: Set<String> = ["GSSAPI", "GSS-SPNEGO", "GSS-SASL", "DIGEST-MD5"]
}

extension ByteReader {
    /// Skips an MQTT 5 property list (a variable-length byte count, then
    /// that many bytes); false if it runs past the bytes there are.
    mutating func skipMQTTProperties() -> Bool {
        guard let (length, lengthBytes) = ClearBinaryProbes.mqttVarint(unreadBytes, at: 0) else { return false }
        return skip(lengthBytes + length)
    }
}

/// Reads BER elements (tag, definite length, contents) from captured bytes;
/// an element whose contents run past the bytes captured so far is returned
/// cut short and marked, so the start of a large message can still be read.
struct BERReader {
    struct Element {
        var tag: UInt8
        var contents: UnsafeRawBufferPointer
        var truncated: Bool
    }

    private let bytes: UnsafeRawBufferPointer
    private var position = 0

    init(_ bytes: UnsafeRawBufferPointer) { self.bytes = bytes }

    /// How many bytes the elements read so far took.
    var offset: Int { position }

    /// An LDAPResult's code (RFC 4511 §4.1.9), leaving the reader past its
    /// matched DN and diagnostic message, at the operation's own fields.
    mutating func ldapResultCode() -> UInt8? {
        guard let code = element(), code.tag == 0x0A, code.contents.count == 1 else { return nil }
        _ = element()
        _ = element()
        return code.contents[0]
    }

    /// The first of the elements left with this tag.
    mutating func first(tag: UInt8) -> Element? {
        while let next = element() {
            if next.tag == tag { return next }
        }
        return nil
    }

    /// The next element; nil at the end, for a multi-byte tag, or for a length
    /// form LDAP does not use (indefinite, or more than four length bytes).
    mutating func element() -> Element? {
        guard position + 2 <= bytes.count else { return nil }
        let tag = bytes[position]
        guard tag & 0x1F != 0x1F else { return nil }
        var length = Int(bytes[position + 1])
        var start = position + 2
        if length & 0x80 != 0 {
            let count = length & 0x7F
            guard (1...4).contains(count), start + count <= bytes.count else { return nil }
            length = 0
            for i in 0..<count { length = length << 8 | Int(bytes[start + i]) }
            start += count
        }
        let end = min(bytes.count, start + length)
        position = end
        return Element(tag: tag, contents: UnsafeRawBufferPointer(rebasing: bytes[start..<end]), truncated: start + length > bytes.count)
    }
}

