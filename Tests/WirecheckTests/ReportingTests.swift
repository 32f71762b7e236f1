import Foundation
import PacketDecoding
import PayloadClassification
import Testing
import VerdictPolicy
@testable import Reporting

@Suite struct ReportingTests {
    /// Numbers are written digit by digit from a stack buffer: every digit
    /// count up to UInt64's largest, with and without padding, reads back.
    @Test func digitsOfEveryLength() {
        var values: [UInt64] = [0, 9, 10, 99, 100, 65_535, 1_000_000, UInt64(Int64.max), UInt64.max, UInt64.max - 1]
        var power: UInt64 = 1
        for _ in 0..<19 { values += [power - 1, power, power + 7]; power *= 10 }
        for value in values {
            for width in [1, 2, 6, 25] {
                var written = ByteWriter(capacity: 1)
                written.append("=")
                written.appendDigits(value, minimumWidth: width)
                let plain = String(value)
                #expect(written.string == "=" + String(repeating: "0", count: max(0, width - plain.count)) + plain)
            }
        }
        var negative = ByteWriter(capacity: 4)
        negative.appendDecimal(-120)
        negative.appendDecimal(Int.min)
        #expect(negative.string == "-120" + String(Int.min))
        var pairs = ByteWriter(capacity: 1)
        for value in [0, 5, 10, 59, 99] { pairs.appendTwoDigits(value) }
        #expect(pairs.string == "0005105999")
    }

    /// Short appends copy words instead of calling memcpy: every length,
    /// after every alignment, lands exactly, and a buffer that grows keeps it all.
    @Test func byteWriterAppendsEveryLengthExactly() {
        let source = (0..<64).map { UInt8(truncatingIfNeeded: $0 &* 37 &+ 11) }
        for offset in 0..<10 {
            for length in 0...40 {
                var written = ByteWriter(capacity: 1)
                var expected: [UInt8] = []
                for _ in 0..<offset { written.append(UInt8(ascii: "-")); expected.append(UInt8(ascii: "-")) }
                source.withUnsafeBufferPointer { written.append(UnsafeBufferPointer(rebasing: $0[offset..<(offset + length)])) }
                expected += source[offset..<(offset + length)]
                written.append("|")
                expected.append(UInt8(ascii: "|"))
                #expect(Array(written.bytes) == expected, "offset \(offset), length \(length)")
            }
        }
    }

    /// Endpoints are written from a table of octets; every octet value, in
    /// every position, and ports at each digit count, spelled as the decimal
    /// numbers they are, the same in a String and written in place.
    @Test func endpointsAreSpelledInDecimal() {
        for value in 0...255 {
            for shift in [24, 16, 8, 0] {
                let octets = (0..<4).map { 3 - $0 == shift / 8 ? value : (37 * $0 + value / 3) % 256 }
                let v = octets.reduce(UInt32(0)) { $0 << 8 | UInt32($1) }
                let port = UInt16([0, 7, 80, 443, 8080, 15_021, 65_535][value % 7])
                let expected = octets.map(String.init).joined(separator: ".") + ":\(port)"
                let endpoint = Endpoint(address: IPAddress(ipv4: v), port: port)
                #expect(endpoint.description == expected)
                var written = ByteWriter(capacity: 16)
                written.append("<")
                written.append(endpoint)
                written.append(">")
                #expect(written.string == "<" + expected + ">")
            }
        }
        for port in [0, 9, 10, 99, 100, 999, 1_000, 9_999, 10_000, 65_535] as [UInt16] {
            #expect(Endpoint(address: IPAddress(ipv4: 0xFFFF_FFFF), port: port).description == "255.255.255.255:\(port)")
        }
    }

    @Test(arguments: [
        (Int64(0), "1970-01-01T00:00:00.000000Z"),
        (Int64(1_795_000_000_123_456_789), "2026-11-18T11:06:40.123456Z"),
        (Int64(951_782_400_000_001_000), "2000-02-29T00:00:00.000001Z"),
        (Int64(4_107_542_399_999_999_999), "2100-02-28T23:59:59.999999Z"),
        (Int64(-1), "1969-12-31T23:59:59.999999Z"),
        // The ends of the range, which a capture file can reach (this trapped).
        (Int64.max, "2262-04-11T23:47:16.854775Z"),
        (Int64.min, "1677-09-21T00:12:43.145224Z"),
    ])
    func iso8601(_ nanoseconds: Int64, _ expected: String) {
        #expect(Timestamp.iso8601(nanoseconds: nanoseconds) == expected)
    }

    @Test func jsonEscaping() throws {
        var object = JSONObject()
        object.add("text", "quote \" backslash \\ newline \n control \u{01} é")
        let parsed = try JSONSerialization.jsonObject(with: Data(object.closed().utf8)) as? [String: String]
        #expect(parsed?["text"] == "quote \" backslash \\ newline \n control \u{01} é")
    }

    /// Strings written straight into the line (reasons, evidence) are escaped
    /// after the fact when they need it, and are null when there is none;
    /// endpoints and cipher suites are written in place.
    @Test func jsonStringsWrittenInPlace() throws {
        let tricky = "said \"GET\" \\ then\n\u{01} é"
        var object = JSONObject()
        let first = object.openString("tricky")
        object.bytes.append(tricky)
        object.closeString(openedAt: first, hasValue: true)
        let second = object.openString("plain")
        object.bytes.append("every byte is TLS")
        object.closeString(openedAt: second, hasValue: true)
        let third = object.openString("none")
        object.closeString(openedAt: third, hasValue: false)
        object.add("endpoint", Endpoint(address: IPAddress(ipv4: 0x0A6F_017A), port: 443))
        object.addHex4("suite", 0x1301)
        object.addHex4("small", 0x000A)
        object.addHex4("absent", nil)
        let text = object.closed()
        let parsed = try #require(try JSONSerialization.jsonObject(with: Data(text.utf8)) as? [String: Any], "not JSON: \(text)")
        #expect(parsed["tricky"] as? String == tricky)
        #expect(parsed["plain"] as? String == "every byte is TLS")
        #expect(parsed["none"] is NSNull && parsed["absent"] is NSNull)
        #expect(parsed["endpoint"] as? String == "10.111.1.122:443")
        #expect(parsed["suite"] as? String == "0x1301" && parsed["small"] as? String == "0x000a")
        #expect(text.hasPrefix("{\"tricky\":\"said \\\"GET\\\""))
    }

    /// Every control character, numbers at their limits and empty values
    /// survive a round trip through a real JSON parser.
    @Test func jsonRoundTripsEveryControlCharacterAndNumber() throws {
        let controls = String(decoding: (0..<0x20).map { UInt8($0) } + Array("\"\\/ é 日本 \u{7F}".utf8), as: UTF8.self)
        var object = JSONObject()
        object.add("controls", controls)
        object.add("empty", "")
        object.add("zero", 0)
        object.add("negative", -42)
        object.add("largest", Int.max)
        object.add("smallest", Int.min)
        object.add("unsigned", UInt64(18_446_744_073_709_551_615))
        object.add("list", ["a", "b\"c", ""])
        object.add("none", nil as String?)
        object.add("yes", true)
        object.addTimestamp("at", nanoseconds: 1_795_000_000_123_456_789)
        let text = object.closed()
        let parsed = try #require(try JSONSerialization.jsonObject(with: Data(text.utf8)) as? [String: Any], "not JSON: \(text)")
        #expect(parsed["controls"] as? String == controls)
        #expect(parsed["empty"] as? String == "")
        #expect((parsed["zero"] as? NSNumber)?.intValue == 0)
        #expect((parsed["negative"] as? NSNumber)?.intValue == -42)
        #expect((parsed["largest"] as? NSNumber)?.int64Value == Int64.max)
        #expect((parsed["smallest"] as? NSNumber)?.int64Value == Int64.min)
        #expect(text.contains("\"unsigned\":18446744073709551615"))
        #expect(parsed["list"] as? [String] == ["a", "b\"c", ""])
        #expect(parsed["none"] is NSNull)
        #expect(parsed["yes"] as? Bool == true)
        #expect(parsed["at"] as? String == "2026-11-18T11:06:40.123456Z")
        #expect(text.hasPrefix("{\"controls\":\"\\u0000\\u0001"), "\(text.prefix(40))")
    }

    func report() -> FlowReport {
        var observation = FlowObservation(
            client: Endpoint(address: IPAddress(ipv6High: 0xFD00_0000_0000_0000, low: 1), port: 51_884),
            server: Endpoint(address: IPAddress(ipv6High: 0xFD00_0000_0000_0000, low: 2), port: 443)
        )
        observation.handshakeSeen = true
        var c = DirectionSummary(), s = DirectionSummary()
        c.kind = .tls; c.bytes = 500; c.tlsRecords = 3
        c.handshake.clientHelloSeen = true
        c.handshake.serverName = "web.example"
        c.handshake.alpnOffered = ["h2", "http/1.1"]
        s.kind = .tls; s.bytes = 1500; s.tlsRecords = 5
        s.handshake.serverHelloSeen = true
        s.handshake.selectedVersion = 0x0304
        s.handshake.cipherSuite = 0x1301
        observation.clientToServer = c
        observation.serverToClient = s
        observation.packets = 12
        return VerdictPolicy.judge(observation)
    }

    @Test func jsonFlowLine() throws {
        var reporter = JSONLinesReporter()
        let line = reporter.report(report())
        #expect(line.hasSuffix("\n"))
        #expect(line.hasPrefix("{\"type\":\"flow\""))
        let object = try #require(try JSONSerialization.jsonObject(with: Data(line.utf8)) as? [String: Any])
        #expect(object["client"] as? String == "[fd00::1]:51884")
        #expect(object["server"] as? String == "[fd00::2]:443")
        #expect(object["verdict"] as? String == "encrypted")
        #expect(object["bytes"] as? Int == 2000)
        let tls = try #require(object["tls"] as? [String: Any])
        #expect(tls["version"] as? String == "TLS 1.3")
        #expect(tls["sni"] as? String == "web.example")
        #expect(tls["alpn"] as? [String] == ["h2", "http/1.1"])
        #expect(tls["cipherSuite"] as? String == "0x1301")
    }

    @Test func textLine() {
        var reporter = TextReporter()
        let text = reporter.report(report())
        #expect(text.hasPrefix("encrypted"))
        #expect(text.contains("[fd00::1]:51884 -> [fd00::2]:443"))
        #expect(text.contains("TLS 1.3, SNI web.example, ALPN h2,http/1.1"))
    }

    @Test func summaryMentionsDrops() {
        var facts = CaptureFacts(source: "interface any")
        facts.droppedByKernel = 7
        facts.droppedByInterface = 0
        let text = TextReporter().summary(RunSummary(), capture: facts)
        #expect(text.contains("7 dropped by the kernel"))
        #expect(text.contains("suspect"))
        let json = JSONLinesReporter().summary(RunSummary(), capture: facts)
        #expect(json.contains("\"droppedByKernel\":7"))
        #expect(json.contains("\"result\":\"inconclusive\""))
    }
}
