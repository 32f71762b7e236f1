import Testing
@testable import PayloadClassification

/// SQL Server's TDS messages as MS-TDS defines them, for the probe and the classifier tests.
enum TDSMessages {
    static func packet(_ type: UInt8, _ payload: [UInt8], status: UInt8 = 1) -> [UInt8] {
        let length = payload.count + 8
        return [type, status, UInt8(length >> 8), UInt8(length & 0xFF), 0, 0, 1, 0] + payload
    }

    /// VERSION, ENCRYPTION, INSTOPT, THREADID, terminator, then their data.
    static func prelogin(encryption: UInt8) -> [UInt8] {
        let options: [(UInt8, [UInt8])] = [(0, [15, 0, 0x07, 0xD0, 0, 0]), (1, [encryption]), (2, [0]), (3, [0, 0, 0, 1])]
        var offset = 5 * options.count + 1
        var table: [UInt8] = [], data: [UInt8] = []
        for (token, value) in options {
            table += [token, UInt8(offset >> 8), UInt8(offset & 0xFF), 0, UInt8(value.count)]
            data += value
            offset += value.count
        }
        return table + [0xFF] + data
    }

    static func utf16(_ text: String) -> [UInt8] { text.utf16.flatMap { [UInt8($0 & 0xFF), UInt8($0 >> 8)] } }
    static func le32(_ v: Int) -> [UInt8] { [UInt8(v & 0xFF), UInt8(v >> 8 & 0xFF), UInt8(v >> 16 & 0xFF), UInt8(v >> 24 & 0xFF)] }

    /// ALL_HEADERS with one transaction-descriptor header, then the query.
    static let query = packet(0x01, le32(22) + le32(18) + [2, 0] + [UInt8](repeating: 0, count: 8) + le32(1)
        + utf16("SELECT name, password_hash FROM users WHERE id = 42"))
    static let rows = packet(0x04, [0x81, 1, 0] + [UInt8](repeating: 0, count: 6) + [0xE7, 0x40, 0, 9, 4, 0xD0, 0, 0x34, 4]
        + utf16("name") + [0xD1, 10, 0] + utf16("alice") + [0xFD, 0x10, 0, 0xC1, 0, 1, 0, 0, 0, 0, 0, 0, 0])

    /// LOGIN7 (TDS 7.4) with host, user, scrambled password, app and server names.
    static let login: [UInt8] = {
        let password = utf16("tds-s3cret-2653").map { (($0 << 4) | ($0 >> 4)) ^ 0xA5 }
        let strings = [utf16("web-7f9c"), utf16("app"), password, utf16("api"), utf16("mssql")]
        var body = [UInt8](repeating: 0, count: 4) + [4, 0, 0, 0x74] + le32(4096) + [UInt8](repeating: 0, count: 24)
        var offset = 94, data: [UInt8] = []
        for text in strings {
            let characters = text.count / 2
            body += [UInt8(offset & 0xFF), UInt8(offset >> 8), UInt8(characters & 0xFF), UInt8(characters >> 8)]
            data += text
            offset += text.count
        }
        body += [UInt8](repeating: 0, count: 94 - body.count) + data
        return packet(0x10, le32(body.count) + body.dropFirst(4))
    }()

    /// What a client sends with encryption on: PRELOGIN, its handshake
    /// records inside PRELOGIN packets, then plain TLS records.
    static let encryptedClient = packet(0x12, prelogin(encryption: 1)) + packet(0x12, TLSBuilder.record(22, TLSBuilder.clientHello(serverName: "db", alpn: [])))
        + packet(0x12, TLSBuilder.record(20, [1]) + TLSBuilder.applicationData(40, seed: 41))
        + TLSBuilder.applicationData(300, seed: 42) + TLSBuilder.applicationData(90, seed: 43)
    /// Encryption for the login only: after the TLS, a query in clear.
    static let loginOnlyClient = packet(0x12, prelogin(encryption: 0)) + packet(0x12, TLSBuilder.record(22, TLSBuilder.clientHello(serverName: "db", alpn: [])))
        + packet(0x12, TLSBuilder.record(20, [1]) + TLSBuilder.applicationData(40, seed: 44))
        + TLSBuilder.applicationData(220, seed: 45) + query
    static let cleartextClient = packet(0x12, prelogin(encryption: 2)) + login + query
}

@Suite struct TDSProbeTests {
    func probe(_ bytes: [UInt8], final: Bool = true) -> ProbeResult? {
        bytes.withUnsafeBytes { ClearBinaryProbes.tds($0, final: final) }
    }

    @Test func messagesAreNamed() {
        #expect(probe(TDSMessages.packet(0x12, TDSMessages.prelogin(encryption: 2)))
            == .cleartext(.cleartextProtocol, protocolName: "tds", evidence: "TDS PRELOGIN (encryption not supported)"))
        let prelogin = TDSMessages.packet(0x12, TDSMessages.prelogin(encryption: 1))
        #expect(probe(prelogin) == .negotiation(name: "tds", evidence: "TDS PRELOGIN (encryption on)", packetLength: prelogin.count))
        let response = TDSMessages.packet(0x04, TDSMessages.prelogin(encryption: 0))
        #expect(probe(response) == .negotiation(name: "tds", evidence: "TDS PRELOGIN (encryption off: the login only)", packetLength: response.count))
        // The query's first word only: the rest may hold literals.
        #expect(probe(TDSMessages.query) == .cleartext(.cleartextProtocol, protocolName: "tds", evidence: "TDS SQL batch (SELECT …)"))
        #expect(probe(TDSMessages.rows) == .cleartext(.cleartextProtocol, protocolName: "tds", evidence: "TDS response (column metadata)"))
        #expect(probe(TDSMessages.login) == .cleartext(.cleartextProtocol, protocolName: "tds", evidence: "TDS LOGIN7 (user app, password [redacted])"))
        // Whole packets are waited for, then read the same however they arrived.
        #expect(probe(Array(TDSMessages.login.prefix(40)), final: false) == .needMore)
    }

    @Test func nearMissesAreNotTDS() {
        var window = TDSMessages.query
        window[7] = 1  // window byte must be 0
        #expect(probe(window) == nil)
        var length = TDSMessages.query
        length[2] = 0x90  // longer than 32 768
        #expect(probe(length) == nil)
        var type = TDSMessages.query
        type[0] = 0x02  // not a packet type the probe knows
        #expect(probe(type) == nil)
        var table = TDSMessages.packet(0x12, TDSMessages.prelogin(encryption: 1))
        table[8 + 5 * 4] = 0x00  // terminator missing: the option table runs on
        #expect(probe(table) == nil)
        var headers = TDSMessages.query
        headers[8] = 0xFF  // ALL_HEADERS longer than the packet
        #expect(probe(headers) == nil)
        var result = TDSMessages.rows
        result[8] = 0x42  // not a token a reply starts with
        #expect(probe(result) == nil)
    }

    /// The three ways a TDS client's stream goes, each direction classified
    /// whole, byte by byte and in random pieces (`ClassifierTests.inputs`
    /// holds them too): TLS after the wrapped handshake is encrypted; a query
    /// after the TLS (login-only encryption) is cleartext; no encryption is cleartext.
    @Test func clientStreams() {
        let encrypted = ClassifierTests.classify(TDSMessages.encryptedClient)
        #expect(encrypted.kind == .tls)
        #expect(encrypted.preamble?.hasPrefix("TDS PRELOGIN, then the TLS handshake in PRELOGIN packets") == true, "\(encrypted.preamble ?? "")")
        // The wrapped handshake is walked as TLS: its records count, its details are read.
        #expect(encrypted.handshake.serverName == "db")
        #expect(encrypted.tlsRecords == 5)
        let loginOnly = ClassifierTests.classify(TDSMessages.loginOnlyClient)
        #expect(loginOnly.kind == .cleartextProtocol)
        #expect(loginOnly.protocolName == "tds")
        #expect(loginOnly.evidence == "TDS SQL batch (SELECT …)")
        // Bytes missing inside the wrapped handshake: the packets cannot be
        // followed; TLS starting a segment later is still found.
        let split = TDSMessages.encryptedClient.count - 400  // where the plain TLS records start
        let gapped = ClassifierTests.classify([.data(Array(TDSMessages.encryptedClient.prefix(60))), .gap(20),
                                               .data(Array(TDSMessages.encryptedClient[80..<split])),
                                               .data(Array(TDSMessages.encryptedClient[split...]))])
        #expect(gapped.kind == .tls, "\(gapped)")
        let cleartext = ClassifierTests.classify(TDSMessages.cleartextClient)
        #expect(cleartext.kind == .cleartextProtocol)
        #expect(cleartext.evidence == "TDS PRELOGIN (encryption not supported)")
    }
}
