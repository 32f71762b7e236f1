import Testing
@testable import PayloadClassification

/// Messages of MQTT, Kafka, Cassandra, AMQP and LDAP, built as their specifications define them.
enum BrokerDirectoryMessages {
    static func u16(_ v: Int) -> [UInt8] { [UInt8(v >> 8 & 0xFF), UInt8(v & 0xFF)] }
    static func be32(_ v: Int) -> [UInt8] { [UInt8(v >> 24 & 0xFF), UInt8(v >> 16 & 0xFF), UInt8(v >> 8 & 0xFF), UInt8(v & 0xFF)] }
    /// A string with a 16-bit length before it, as MQTT, Kafka and CQL write them.
    static func string16(_ s: String) -> [UInt8] { u16(s.utf8.count) + Array(s.utf8) }

    /// MQTT 3.1.1 CONNECT: clean session, user name and password.
    static let mqttConnect: [UInt8] = {
        let body = string16("MQTT") + [4, 0xC2] + u16(60) + string16("sensor-17") + string16("device") + string16("mqtt-s3cret")
        return [0x10, UInt8(body.count)] + body
    }()
    /// MQTT 5.0 CONNECT with properties and a will, a user name and no password.
    static let mqtt5Connect: [UInt8] = {
        let properties: [UInt8] = [5, 0x11, 0, 0, 0, 60]
        let body = string16("MQTT") + [5, 0x86] + u16(60) + properties + string16("pump-2")
            + [0] + string16("pump/status") + string16("offline") + string16("svc-pump")
        return [0x10, UInt8(body.count)] + body
    }()

    static func kafkaRequest(api: Int, version: Int, correlation: Int, _ body: [UInt8]) -> [UInt8] {
        let message = u16(api) + u16(version) + be32(correlation) + string16("producer-1") + body
        return be32(message.count) + message
    }
    static let kafkaApiVersions = kafkaRequest(api: 18, version: 0, correlation: 1, [])
    /// SaslAuthenticate with PLAIN credentials in its auth bytes.
    static let kafkaSaslAuthenticate = kafkaRequest(api: 36, version: 1, correlation: 3,
                                                    be32(23) + Array("\u{0}orders\u{0}kafka-s3cret".utf8))
    /// Produce v7: no transactional id, acks -1, 30 s timeout, one topic whose
    /// record batch is compressed (here: 1500 random bytes, as zstd output looks).
    static let kafkaProduce = kafkaRequest(api: 0, version: 7, correlation: 9,
                                           u16(0xFFFF) + u16(0xFFFF) + be32(30_000) + be32(1) + string16("orders")
                                               + be32(1) + be32(0) + be32(1_500) + TLSBuilder.filler(1_500, seed: 42))
    /// A Produce response whose correlation id (5) reads as API key 0, version 5.
    static let kafkaProduceResponse: [UInt8] = {
        let message = be32(5) + be32(1) + string16("orders") + be32(1) + be32(0) + u16(0) + Array(repeating: 0, count: 28)
        return be32(message.count) + message
    }()

    static func cql(_ version: UInt8, flags: UInt8 = 0, stream: Int = 0, _ opcode: UInt8, _ body: [UInt8]) -> [UInt8] {
        [version, flags] + u16(stream) + [opcode] + be32(body.count) + body
    }
    static let cqlStartup = cql(4, 0x01, u16(2) + string16("CQL_VERSION") + string16("3.0.0") + string16("COMPRESSION") + string16("lz4"))
    static let cqlAuthResponse = cql(4, stream: 1, 0x0F, be32(24) + Array("\u{0}cassandra\u{0}cql-s3cret".utf8))
    /// A QUERY whose body is compressed (flag 1): random-looking after the header.
    static let cqlCompressedQuery = cql(4, flags: 1, stream: 2, 0x07, TLSBuilder.filler(700, seed: 43))

    static func amqpFrame(channel: Int = 0, _ payload: [UInt8]) -> [UInt8] { [1] + u16(channel) + be32(payload.count) + payload + [0xCE] }
    static func shortString(_ s: String) -> [UInt8] { [UInt8(s.utf8.count)] + Array(s.utf8) }
    static func longString(_ s: String) -> [UInt8] { be32(s.utf8.count) + Array(s.utf8) }
    /// The 0-9-1 protocol header, then Connection.Start-Ok with PLAIN credentials.
    static let amqpClient: [UInt8] = Array("AMQP".utf8) + [0, 0, 9, 1]
        + amqpFrame(u16(10) + u16(11) + be32(0) + shortString("PLAIN") + longString("\u{0}guest\u{0}amqp-s3cret") + shortString("en_US"))
    /// Connection.Start: version 0-9, server properties, mechanisms, locales.
    static let amqpServer: [UInt8] = {
        let properties = shortString("product") + [UInt8(ascii: "S")] + longString("RabbitMQ")
        return amqpFrame(u16(10) + u16(10) + [0, 9] + be32(properties.count) + properties + longString("PLAIN AMQPLAIN") + longString("en_US"))
    }()

    static func tlv(_ tag: UInt8, _ contents: [UInt8]) -> [UInt8] {
        contents.count < 128 ? [tag, UInt8(contents.count)] + contents : [tag, 0x82] + u16(contents.count) + contents
    }
    static func ldapMessage(id: UInt8 = 1, _ operation: [UInt8]) -> [UInt8] { tlv(0x30, [2, 1, id] + operation) }
    static func octets(_ s: String) -> [UInt8] { tlv(0x04, Array(s.utf8)) }
    static let ldapSimpleBind = ldapMessage(tlv(0x60, [2, 1, 3] + octets("cn=admin,dc=example,dc=org") + tlv(0x80, Array("ldap-s3cret".utf8))))
    static let ldapAnonymousBind = ldapMessage(tlv(0x60, [2, 1, 3] + octets("") + tlv(0x80, [])))
    static let ldapGSSAPIBind = ldapMessage(tlv(0x60, [2, 1, 3] + octets("") + tlv(0xA3, octets("GSSAPI") + tlv(0x04, TLSBuilder.filler(120, seed: 40)))))
    static let ldapPlainBind = ldapMessage(tlv(0x60, [2, 1, 3] + octets("") + tlv(0xA3, octets("PLAIN") + octets("\u{0}alice\u{0}ldap-s3cret"))))
    static let ldapInvalidCredentials = ldapMessage(tlv(0x61, [0x0A, 1, 49] + octets("") + octets("")))
    static let ldapSASLInProgress = ldapMessage(tlv(0x61, [0x0A, 1, 14] + octets("") + octets("") + tlv(0x87, TLSBuilder.filler(90, seed: 41))))
    static let ldapRootDSESearch = ldapMessage(id: 2, tlv(0x63, octets("") + [0x0A, 1, 0, 0x0A, 1, 0, 2, 1, 0, 2, 1, 0, 1, 1, 0]
        + tlv(0x87, Array("objectClass".utf8)) + tlv(0x30, octets("supportedSASLMechanisms"))))
    static let ldapStartTLS = ldapMessage(tlv(0x77, tlv(0x80, Array("1.3.6.1.4.1.1466.20037".utf8))))
    static let ldapStartTLSResponse = ldapMessage(tlv(0x78, [0x0A, 1, 0] + octets("") + octets("") + tlv(0x8A, Array("1.3.6.1.4.1.1466.20037".utf8))))
    static let ldapStartTLSRefused = ldapMessage(tlv(0x78, [0x0A, 1, 2] + octets("") + octets("no TLS here") + tlv(0x8A, Array("1.3.6.1.4.1.1466.20037".utf8))))
}

/// MQTT, AMQP, LDAP, Kafka and Cassandra carry logins and data in clear as surely as HTTP,
/// but in binary framing that the text test misses; recognised from their
/// framing, credentials never in the evidence.
@Suite struct BrokerDirectoryProbeTests {
    typealias M = BrokerDirectoryMessages

    @Test(arguments: [
        ("mqtt", M.mqttConnect, "MQTT 3.1.1 CONNECT (client id sensor-17, user device, password [redacted])"),
        ("mqtt", M.mqtt5Connect, "MQTT 5.0 CONNECT (client id pump-2, user svc-pump)"),
        ("mqtt", [0x20, 0x02, 0x00, 0x00], "MQTT CONNACK (accepted)"),
        ("mqtt", [0x20, 0x03, 0x00, 0x87, 0x00], "MQTT CONNACK (refused, code 135)"),
        ("kafka", M.kafkaApiVersions, "Kafka ApiVersions request (client id producer-1)"),
        ("kafka", M.kafkaSaslAuthenticate, "Kafka SaslAuthenticate request (client id producer-1)"),
        ("kafka", M.kafkaProduce, "Kafka Produce request (client id producer-1)"),
        ("cassandra", M.cqlStartup, "Cassandra CQL STARTUP (protocol v4)"),
        ("cassandra", M.cql(0x84, 0x02, []), "Cassandra CQL READY (protocol v4)"),
        ("cassandra", M.cql(0x84, 0x03, M.string16("org.apache.cassandra.auth.PasswordAuthenticator")),
         "Cassandra CQL AUTHENTICATE (protocol v4)"),
        ("cassandra", M.cql(0x84, 0x00, M.be32(10) + M.string16("Invalid or unsupported protocol version")),
         "Cassandra CQL ERROR (protocol v4)"),
        ("amqp", M.amqpClient, "AMQP 0-9-1 protocol header"),
        ("amqp", M.amqpServer, "AMQP 0-9-1 Connection.Start"),
        ("amqp", Array("AMQP".utf8) + [3, 1, 0, 0], "AMQP 1.0 SASL header"),
        ("ldap", M.ldapSimpleBind, "LDAP simple bind as cn=admin,dc=example,dc=org, password [redacted]"),
        ("ldap", M.ldapAnonymousBind, "LDAP anonymous bind"),
        ("ldap", M.ldapPlainBind, "LDAP SASL bind (PLAIN)"),
        ("ldap", M.ldapInvalidCredentials, "LDAP bind response (invalidCredentials, result 49)"),
        ("ldap", M.ldapRootDSESearch, "LDAP search request (root DSE)"),
        ("ldap", M.ldapStartTLSRefused, "LDAP extended response"),
    ])
    func recognised(_ name: String, _ bytes: [UInt8], _ evidence: String) {
        let summary = ClassifierTests.classify(bytes)
        #expect(summary.kind == .cleartextProtocol)
        #expect(summary.protocolName == name)
        #expect(summary.evidence == evidence)
        for secret in ["s3cret", "guest\u{0}"] { #expect(summary.evidence?.contains(secret) != true) }
    }

    /// A SASL bind that can set up sealing (GSSAPI), and the server's answer
    /// while it is under way, prove nothing about what follows: not LDAP in clear.
    @Test func saslBindThatMaySealIsLeftUndecided() {
        for bytes in [M.ldapGSSAPIBind, M.ldapSASLInProgress] {
            #expect(ClassifierTests.classify(bytes).protocolName != "ldap")
        }
    }

    /// Cut short by the capture, a message is still recognised from its start.
    @Test func truncatedMessagesStillRecognised() {
        let longBind = M.ldapMessage(M.tlv(0x60, [2, 1, 3] + M.octets(String(repeating: "ou=people,", count: 40)) + M.tlv(0x80, Array("pw".utf8))))
        #expect(ClassifierTests.classify(Array(longBind.prefix(60))).protocolName == "ldap")
        #expect(ClassifierTests.classify(Array(M.amqpServer.prefix(20))).protocolName == "amqp")
    }

    /// Near misses stay what they were: a wrong protocol name or level, a
    /// CONNACK with an undefined code, an AMQP frame without its end octet,
    /// a BER sequence whose operation is no LDAP operation, a Kafka response
    /// whose correlation id reads as a request header, CQL opcodes sent the
    /// wrong way, CQL messages of a connection's later life taken alone (nine
    /// header bytes are too few against ciphertext), a STARTUP whose map holds
    /// no text.
    @Test func nearMissesAreNotRecognised() {
        var wrongName = M.mqttConnect
        wrongName[4] = UInt8(ascii: "X")
        var wrongLevel = M.mqttConnect
        wrongLevel[8] = 9
        var noFrameEnd = M.amqpServer
        noFrameEnd[noFrameEnd.count - 1] = 0
        let notLDAP = M.tlv(0x30, [2, 1, 1] + M.octets("public") + M.tlv(0xA0, [2, 1, 1]))
        for (bytes, name) in [(wrongName, "mqtt"), (wrongLevel, "mqtt"), ([0x20, 0x02, 0x00, 0x06], "mqtt"),
                              (noFrameEnd, "amqp"), (notLDAP, "ldap"), (M.kafkaProduceResponse, "kafka"),
                              (M.cql(0x04, 0x02, []), "cassandra"), (M.cql(0x84, 0x01, []), "cassandra"),
                              (M.cqlAuthResponse, "cassandra"), (M.cqlCompressedQuery, "cassandra"),
                              (M.cql(4, 0x01, M.u16(1) + M.string16("CQL_VERSION") + [0, 3, 0x01, 0x02, 0x03]), "cassandra")] {
            #expect(ClassifierTests.classify(bytes).protocolName != name, "\(bytes.prefix(12))")
        }
    }

    /// Ciphertext is not taken for any of them: random stream starts (what an
    /// encrypted stream, or TLS picked up mid-record, begins with) never match.
    @Test func randomStartsAreNoneOfThem() {
        var rng = SplitMix(seed: 77)
        var matched: [String: Int] = [:]
        for _ in 0..<200_000 {
            let bytes = (0..<64).map { _ in UInt8(truncatingIfNeeded: rng.next()) }
            bytes.withUnsafeBytes { d in
                for (name, probe) in [("mqtt", ClearBinaryProbes.mqtt(d, final: true)), ("amqp", ClearBinaryProbes.amqp(d, final: true)),
                                      ("ldap", ClearBinaryProbes.ldap(d, final: true)), ("kafka", ClearBinaryProbes.kafkaRequest(d)),
                                      ("cassandra", ClearBinaryProbes.cassandra(d, final: true)),
                                      ("tds", ClearBinaryProbes.tds(d, final: true)), ("beats", ClearBinaryProbes.beats(d)),
                                      ("memberlist", Memberlist.probe(d, final: true)),
                                      ("erlang-dist", ClearBinaryProbes.erlangDistribution(d)), ("epmd", ClearBinaryProbes.epmd(d, final: true)),
                                      ("redis-cluster", ClearBinaryProbes.redisClusterBus(d)),
                                      ("compressed", CompressedData.find(in: d))] where probe != nil {
                    matched[name, default: 0] += 1
                }
            }
        }
        #expect(matched.isEmpty, "\(matched)")
    }

    /// Upgrades: LDAP StartTLS and its acceptance, then TLS, in the next
    /// segment or the same one; the AMQP 1.0 TLS header, then TLS. All are
    /// encrypted, the preamble named.
    @Test func upgradesToTLS() {
        for pieces: [StreamPiece] in [[.data(M.ldapStartTLS), .data(TLSBuilder.clientFlight)], [.data(M.ldapStartTLS + TLSBuilder.clientFlight)]] {
            let startTLS = ClassifierTests.classify(pieces)
            #expect(startTLS.kind == .tls)
            #expect(startTLS.preamble == "LDAP StartTLS request")
        }
        let accepted = ClassifierTests.classify(M.ldapStartTLSResponse + TLSBuilder.serverFlight)
        #expect(accepted.kind == .tls)
        #expect(accepted.preamble == "LDAP StartTLS accepted")
        let amqpTLS = ClassifierTests.classify(Array("AMQP".utf8) + [2, 1, 0, 0] + TLSBuilder.clientFlight)
        #expect(amqpTLS.kind == .tls)
        #expect(amqpTLS.preamble == "AMQP 1.0 TLS header")
    }
}
