import Testing
@testable import PayloadClassification

/// TLS records and handshake messages built by hand per RFC 8446, the way a
/// current client sends them (GREASE included, RFC 8701).
enum TLSBuilder {
    static func u16(_ v: Int) -> [UInt8] { [UInt8(v >> 8 & 0xFF), UInt8(v & 0xFF)] }
    static func u24(_ v: Int) -> [UInt8] { [UInt8(v >> 16 & 0xFF), UInt8(v >> 8 & 0xFF), UInt8(v & 0xFF)] }
    static func vector8(_ body: [UInt8]) -> [UInt8] { [UInt8(body.count)] + body }
    static func vector16(_ body: [UInt8]) -> [UInt8] { u16(body.count) + body }
    static func ext(_ type: Int, _ body: [UInt8]) -> [UInt8] { u16(type) + vector16(body) }

    static func record(_ type: UInt8, _ body: [UInt8], version: Int = 0x0303) -> [UInt8] {
        [type] + u16(version) + vector16(body)
    }

    static func handshake(_ type: UInt8, _ body: [UInt8]) -> [UInt8] { [type] + u24(body.count) + body }

    /// Deterministic filler standing in for random and key material.
    static func filler(_ count: Int, seed: UInt64) -> [UInt8] {
        var rng = SplitMix(seed: seed)
        return (0..<count).map { _ in UInt8(truncatingIfNeeded: rng.next()) }
    }

    static func clientHello(
        serverName: String, alpn: [String], versions: [Int] = [0x0A0A, 0x0304, 0x0303], extraExtensions: [UInt8] = []
    ) -> [UInt8] {
        var extensions: [UInt8] = []
        extensions += ext(0x0A0A, [])                                                        // GREASE
        extensions += ext(0, vector16([0] + vector16(Array(serverName.utf8))))               // server_name
        extensions += ext(23, [])                                                            // extended_master_secret
        extensions += ext(10, vector16(u16(0x001D) + u16(0x0017)))                           // supported_groups
        extensions += ext(16, vector16(alpn.flatMap { vector8(Array($0.utf8)) }))            // ALPN
        extensions += ext(13, vector16(u16(0x0403) + u16(0x0804) + u16(0x0401)))             // signature_algorithms
        extensions += ext(51, vector16(u16(0x001D) + vector16(filler(32, seed: 3))))         // key_share
        extensions += ext(45, vector8([1]))                                                  // psk_key_exchange_modes
        extensions += extraExtensions
        extensions += ext(43, vector8(versions.flatMap { u16($0) }))                         // supported_versions
        let body = u16(0x0303) + filler(32, seed: 1) + vector8(filler(32, seed: 2))
            + vector16(u16(0x0A0A) + u16(0x1301) + u16(0x1302) + u16(0x1303) + u16(0xC02F))
            + vector8([0]) + vector16(extensions)
        return handshake(1, body)
    }

    static func serverHello(cipher: Int = 0x1301, version: Int = 0x0304) -> [UInt8] {
        let extensions = ext(43, u16(version)) + ext(51, u16(0x001D) + vector16(filler(32, seed: 5)))
        let body = u16(0x0303) + filler(32, seed: 4) + vector8(filler(32, seed: 2)) + u16(cipher) + [0] + vector16(extensions)
        return handshake(2, body)
    }

    static let changeCipherSpec = record(20, [1])
    static func applicationData(_ count: Int, seed: UInt64) -> [UInt8] { record(23, filler(count, seed: seed)) }

    /// A TLS 1.3 client's first flight and some application data: 5 records.
    static let clientFlight: [UInt8] = record(22, clientHello(serverName: "api.example.com", alpn: ["h2", "http/1.1"]), version: 0x0301)
        + changeCipherSpec + applicationData(53, seed: 10) + applicationData(700, seed: 11) + applicationData(24, seed: 12)

    static let serverFlight: [UInt8] = record(22, serverHello()) + changeCipherSpec
        + applicationData(1_200, seed: 20) + applicationData(300, seed: 21)
}

/// Either bytes of the stream or a gap reported by reassembly.
enum StreamPiece: Sendable {
    case data([UInt8])
    case gap(Int)
}

@Suite struct ClassifierTests {
    typealias T = TLSBuilder

    static func classify(_ pieces: [StreamPiece], midStream: Bool = false) -> DirectionSummary {
        var classifier = DirectionClassifier(startsMidStream: midStream)
        for piece in pieces {
            switch piece {
            case .data(let d): d.withUnsafeBytes { classifier.receive($0) }
            case .gap(let n): classifier.receiveGap(n)
            }
        }
        return classifier.finish()
    }

    static func classify(_ bytes: [UInt8], midStream: Bool = false) -> DirectionSummary {
        classify([.data(bytes)], midStream: midStream)
    }

    // MARK: TLS

    /// ALPN names: the common ones come back as the literal, anything else
    /// (a near miss of the same length, odd bytes) is decoded, with bytes
    /// outside printable ASCII escaped (the expected texts are written out,
    /// not computed by the code under test).
    @Test(arguments: ByteReader.commonProtocolIDs.map { ($0, $0) } + [
        ("istio-peer-exchangE", "istio-peer-exchangE"), ("h4", "h4"),
        ("caf\u{e9}", "caf\\xc3\\xa9"), ("a\u{1b}[2J", "a\\x1b[2J"),
    ])
    func protocolIDsReadBackAsSent(_ name: String, _ expected: String) {
        let bytes = Array(name.utf8)
        #expect(bytes.withUnsafeBytes { ByteReader($0).protocolID() } == expected)
    }

    /// Names are checked eight bytes at a time (`allPrintAsIs`): every byte
    /// value, at every position of names of 1 to 24 bytes (whole words, a
    /// last word overlapping the one before, and shorter than a word), among
    /// bytes that print, must give what the byte-by-byte rule gives; and
    /// a name made of two unprintable bytes, and SNIs, read back escaped.
    @Test func namesAreCheckedAWordAtATime() {
        for length in 1...24 {
            for position in 0..<length {
                for value in 0...255 {
                    var name = [UInt8](repeating: UInt8(ascii: "a"), count: length)
                    name[position] = UInt8(value)
                    // A neighbour that a borrow could reach wrongly: the lowest printable byte.
                    if position + 1 < length { name[position + 1] = 0x20 }
                    let expected = name.allSatisfy(ByteReader.printsAsIs)
                    let got = name.withUnsafeBytes { ByteReader.allPrintAsIs($0) }
                    if got != expected {
                        Issue.record("length \(length), byte 0x\(String(value, radix: 16)) at \(position): \(got), not \(expected)")
                        return
                    }
                }
            }
        }
        #expect([UInt8]().withUnsafeBytes { ByteReader.allPrintAsIs($0) })
        let sni = Array("outbound_.9080_._.reviews.default.svc.cluster.local\\".utf8)
        #expect(sni.withUnsafeBytes { ByteReader($0).printableText() } == "outbound_.9080_._.reviews.default.svc.cluster.local\\x5c")
        #expect(Array("api.example.com".utf8).withUnsafeBytes { ByteReader($0).printableText() } == "api.example.com")
    }

    /// `ByteReader`, which every handshake, certificate and binary probe
    /// parses with, reads fields big-endian, from every starting offset of
    /// a buffer; a read or skip that would pass the end fails and moves
    /// nothing, so the next read still sees the same bytes; a negative count
    /// is refused; `unreadBytes` and `remaining` follow every read.
    @Test func theReaderReadsBigEndianAndNeverPastTheEnd() {
        let bytes: [UInt8] = [0x01, 0x82, 0x03, 0xF4, 0x05, 0x06, 0xA7, 0x08, 0x09]
        bytes.withUnsafeBytes { buffer in
            for start in 0...buffer.count {
                var reader = ByteReader(buffer)
                let skipped = reader.skip(start)
                #expect(skipped)
                let left = buffer.count - start
                #expect(reader.remaining == left)
                #expect(Array(reader.unreadBytes) == Array(bytes[start...]))
                func value(_ width: Int) -> UInt64 {
                    bytes[start..<(start + width)].reduce(0) { $0 << 8 | UInt64($1) }
                }
                var probe = reader
                let u8 = probe.u8().map(UInt64.init)
                #expect(u8 == (left >= 1 ? value(1) : nil))
                probe = reader
                let u16 = probe.u16().map(UInt64.init)
                #expect(u16 == (left >= 2 ? value(2) : nil))
                probe = reader
                let u24 = probe.u24().map(UInt64.init)
                #expect(u24 == (left >= 3 ? value(3) : nil))
                probe = reader
                let u32 = probe.u32().map(UInt64.init)
                #expect(u32 == (left >= 4 ? value(4) : nil))
                #expect(probe.remaining == (left >= 4 ? left - 4 : left))
                // Past the end: refused, and nothing moved.
                probe = reader
                let tooMany = probe.bytes(left + 1), skippedTooMany = probe.skip(left + 1)
                let negative = probe.bytes(-1), skippedNegative = probe.skip(-1)
                #expect(tooMany == nil && !skippedTooMany && negative == nil && !skippedNegative)
                #expect(probe.remaining == left)
                let rest = probe.bytes(left).map(Array.init)
                #expect(rest == Array(bytes[start...]))
                let after = probe.u8()
                #expect(probe.remaining == 0 && after == nil && probe.unreadBytes.isEmpty)
            }
        }
        // A vector whose length runs past the end is refused, and one that fits is read.
        [UInt8]([0x00, 0x05, 0x01, 0x02]).withUnsafeBytes { buffer in
            var reader = ByteReader(buffer)
            let vector = reader.vector16()
            #expect(vector == nil)
        }
        [UInt8]([0x02, 0x68, 0x32, 0x09]).withUnsafeBytes { buffer in
            var reader = ByteReader(buffer)
            let name = reader.vector8()?.protocolID(), next = reader.u8()
            #expect(name == "h2" && next == 0x09)
        }
        #expect(ByteReader(UnsafeRawBufferPointer(start: nil, count: 0)).remaining == 0)
    }

    /// The end of an HTTP head (`Probes.headEnd`, which skips from line
    /// feed to line feed) is the first "\r\n\r\n", as a plain search finds
    /// it: every text of up to 9 bytes made of CR, LF and one other byte
    /// (all 29 523 of them: matches at the start, at the end, overlapping
    /// runs such as "\r\n\r\n\r\n", lone LFs), and a real head.
    @Test func theHeadEndsAtTheFirstBlankLine() {
        let alphabet: [UInt8] = [0x0D, 0x0A, UInt8(ascii: "a")]
        func plainSearch(_ text: [UInt8]) -> Int? {
            guard text.count >= 4 else { return nil }
            return (0...(text.count - 4)).first { text[$0..<($0 + 4)].elementsEqual([0x0D, 0x0A, 0x0D, 0x0A]) }
        }
        var texts: [[UInt8]] = [[]]
        var checked = 0
        for _ in 1...9 {
            texts = texts.flatMap { text in alphabet.map { text + [$0] } }
            for text in texts {
                let got = text.withUnsafeBytes { Probes.headEnd($0) }
                checked += 1
                if got != plainSearch(text) {
                    Issue.record("\(text): \(String(describing: got)), not \(String(describing: plainSearch(text)))")
                    return
                }
            }
        }
        #expect(checked == 29_523)
        let head = Array("GET / HTTP/1.1\r\nHost: a\r\nUser-Agent: curl/7.88.1\r\n\r\nbody\r\n\r\n".utf8)
        #expect(head.withUnsafeBytes { Probes.headEnd($0) } == 48)
        // Longer texts are searched sixteen bytes at a time: blank lines
        // across a block's edge, at its ends, in the rest after the last
        // whole block, and none. Random texts of the same three bytes, every
        // length to 100, and a blank line put at every place in 64 bytes.
        var rng = SplitMix(seed: 53)
        for length in 10...100 {
            for _ in 0..<40 {
                let text = (0..<length).map { _ in alphabet[Int(rng.next() % 3)] }
                let got = text.withUnsafeBytes { Probes.headEnd($0) }
                if got != plainSearch(text) {
                    Issue.record("\(text): \(String(describing: got)), not \(String(describing: plainSearch(text)))")
                    return
                }
            }
        }
        for place in 0...60 {
            var text = [UInt8](repeating: UInt8(ascii: "a"), count: 64)
            text.replaceSubrange(place..<(place + 4), with: [0x0D, 0x0A, 0x0D, 0x0A])
            #expect(text.withUnsafeBytes { Probes.headEnd($0) } == place)
            text[place + 3] = 0x0D
            #expect(text.withUnsafeBytes { Probes.headEnd($0) } == nil)
        }
    }

    @Test func clientHelloDetails() {
        let summary = Self.classify(T.clientFlight)
        #expect(summary.kind == .tls)
        #expect(summary.protocolName == "tls")
        #expect(summary.bytes == T.clientFlight.count)
        #expect(summary.handshake.clientHelloSeen)
        #expect(summary.handshake.clientHelloVersion == 0x0303)
        #expect(summary.handshake.serverName == "api.example.com")
        #expect(summary.handshake.alpnOffered == ["h2", "http/1.1"])
        #expect(summary.handshake.offeredVersions == [0x0304, 0x0303], "GREASE removed")
        #expect(!summary.handshake.malformedMessage)
        #expect(summary.tlsRecords == 5)
        #expect(summary.tlsApplicationDataRecords == 3)
        #expect(summary.tlsAlertRecords == 0)
        #expect(summary.tlsEndsOnRecordBoundary)
        #expect(summary.framingBreak == nil)
        #expect(summary.evidence == nil)
        #expect(summary.unverifiedBytes == 0 && summary.gapBytes == 0)
        #expect(!summary.startedMidStream && !summary.resynchronised)
    }

    /// ALPN lists: the common ones are taken whole (`HandshakeParser.commonALPNLists`),
    /// any other name by name; either way the names as offered, in order.
    @Test func alpnListsCommonOrNot() {
        func offered(_ alpn: [String]) -> [String] {
            Self.classify(T.record(22, T.clientHello(serverName: "a.example", alpn: alpn), version: 0x0301)).handshake.alpnOffered
        }
        for common in HandshakeParser.commonALPNLists { #expect(offered(common) == common) }
        for other in [["h2", "http/1.1", "h3"], ["http/1.1", "h2"], ["istio-peer-exchange", "istio"], ["h3"], ["h2c"], ["x-weird"]] {
            #expect(offered(other) == other)
        }
        #expect(offered([]) == [])
    }

    /// Byte strings known in advance are found only by an exact match.
    @Test func knownByteStringsMatchExactly() {
        let known = KnownByteStrings([Array("h2".utf8), Array("http/1.1".utf8), [], Array("h3".utf8)])
        func index(_ text: String) -> Int? { Array(text.utf8).withUnsafeBytes { known.index(of: $0) } }
        #expect(index("h2") == 0 && index("http/1.1") == 1 && index("h3") == 3)
        #expect(index("h") == nil && index("h2c") == nil && index("http/1.0") == nil && index("H2") == nil)
        #expect(index("") == 2, "the empty string, given, matches exactly")
        let withoutEmpty = KnownByteStrings([Array("h2".utf8)])
        #expect(Array("".utf8).withUnsafeBytes { withoutEmpty.index(of: $0) } == nil)
        #expect(withoutEmpty.index(of: UnsafeRawBufferPointer(start: nil, count: 0)) == nil)
    }

    /// supported_versions: the common lists are taken whole
    /// (`HandshakeParser.commonVersionList`), any other version by version;
    /// either way GREASE removed and the rest in order.
    @Test func versionListsCommonOrNot() {
        func offered(_ versions: [Int]) -> [UInt16] {
            Self.classify(T.record(22, T.clientHello(serverName: "a.example", alpn: ["h2"], versions: versions), version: 0x0301))
                .handshake.offeredVersions
        }
        #expect(offered([0x0304]) == [0x0304])
        #expect(offered([0x3A3A, 0x0304]) == [0x0304])
        #expect(offered([0x0304, 0x0303]) == [0x0304, 0x0303])
        #expect(offered([0x0304, 0xFAFA, 0x0303]) == [0x0304, 0x0303])
        #expect(offered([0x0303, 0x0304]) == [0x0303, 0x0304])
        #expect(offered([0x0304, 0x0303, 0x0302]) == [0x0304, 0x0303, 0x0302])
        #expect(offered([0x0304, 0x0304]) == [0x0304, 0x0304])
        #expect(offered([0x0303]) == [0x0303])
        #expect(offered([0x7F1C, 0x0304]) == [0x7F1C, 0x0304])
        #expect(offered([0x0A0A]) == [])
    }

    /// A ClientHello split over two handshake records is parsed across them.
    @Test func clientHelloAcrossRecords() {
        let hello = T.clientHello(serverName: "split.example", alpn: ["http/1.1"])
        let stream = T.record(22, Array(hello[0..<40]), version: 0x0301) + T.record(22, Array(hello[40...]), version: 0x0301)
            + T.applicationData(100, seed: 1)
        let summary = Self.classify(stream)
        #expect(summary.kind == .tls)
        #expect(summary.handshake.serverName == "split.example")
        #expect(summary.handshake.alpnOffered == ["http/1.1"])
        #expect(summary.tlsRecords == 3)
    }

    @Test func serverHelloDetails() {
        let summary = Self.classify(T.serverFlight)
        #expect(summary.kind == .tls)
        #expect(summary.handshake.serverHelloSeen)
        #expect(summary.handshake.selectedVersion == 0x0304)
        #expect(summary.handshake.cipherSuite == 0x1301)
        #expect(!summary.handshake.helloRetryRequest)
        #expect(summary.tlsRecords == 4)
    }

    /// A stream that ends inside a record is still TLS, but says so.
    @Test func endsInsideRecord() {
        let summary = Self.classify(Array(T.clientFlight.dropLast(10)))
        #expect(summary.kind == .tls)
        #expect(!summary.tlsEndsOnRecordBoundary)
    }

    /// One valid header in front of cleartext does not make a stream TLS.
    @Test(arguments: [
        ("application data header", [0x17, 0x03, 0x03, 0x00, 0x05] + Array("ABCDE".utf8), 10),
        ("handshake header", [0x16, 0x03, 0x01, 0x00, 0x02, 0x01, 0x00], 7),
        ("a real ClientHello", T.record(22, T.clientHello(serverName: "x", alpn: []), version: 0x0301),
         T.record(22, T.clientHello(serverName: "x", alpn: []), version: 0x0301).count),
    ])
    func validHeaderThenCleartext(_ name: String, _ prefix: [UInt8], _ breakOffset: Int) {
        let request = Array("GET /secret HTTP/1.1\r\nHost: bank.example\r\n\r\n".utf8)
        let summary = Self.classify(prefix + request)
        #expect(summary.kind != .tls)
        #expect(summary.kind == .http)
        #expect(summary.evidence == "GET /secret HTTP/1.1 (Host: bank.example)")
        #expect(summary.framingBreak == FramingBreak(offset: breakOffset, error: .badContentType(0x47)))
    }

    /// Garbage after records: binary, with the break.
    @Test func recordsThenGarbage() {
        let garbage = T.filler(600, seed: 77).map { $0 | 0x80 }  // never a content type
        let summary = Self.classify(T.applicationData(50, seed: 1) + garbage)
        #expect(summary.kind == .binary)
        #expect(summary.framingBreak?.offset == 55)
    }

    /// A gap inside a record body is stepped over: the framing is known to continue.
    @Test func gapInsideRecordBody() {
        let stream = T.clientFlight
        let record = T.applicationData(1_000, seed: 9)
        let cut = stream.count + 5 + 100
        let full = stream + record + T.applicationData(40, seed: 8)
        let pieces: [StreamPiece] = [.data(Array(full[0..<cut])), .gap(500), .data(Array(full[(cut + 500)...]))]
        let summary = Self.classify(pieces)
        #expect(summary.kind == .tls)
        #expect(summary.gapBytes == 500)
        #expect(summary.bytes == full.count - 500)
        #expect(!summary.resynchronised)
        #expect(summary.unverifiedBytes == 0)
        #expect(summary.tlsRecords == 7)
        #expect(summary.tlsEndsOnRecordBoundary)
        #expect(summary.handshake.serverName == "api.example.com")
    }

    /// A gap inside the ClientHello record: framing goes on (the record's
    /// length is known), but the handshake parser must not read the bytes
    /// after the gap as the rest of the message.
    @Test func gapInsideHandshakeRecord() {
        let hello = T.record(22, T.clientHello(serverName: "a.example", alpn: ["h2"]), version: 0x0301)
        let full = hello + T.applicationData(50, seed: 3)
        // Cut 20 bytes out of the message body, before the extensions.
        let pieces: [StreamPiece] = [.data(Array(full[0..<15])), .gap(20), .data(Array(full[35...]))]
        let summary = Self.classify(pieces)
        #expect(summary.kind == .tls)
        #expect(summary.tlsRecords == 2)
        #expect(summary.handshake.gapInHandshake)
        #expect(summary.handshake.serverName == nil, "parsed across a gap")
        #expect(!summary.handshake.malformedMessage)
    }

    /// An SSLv2-only session: CLIENT-HELLO (version 2), then SSLv2 records with
    /// 2- and 3-byte headers, walked as framing however the bytes are cut.
    @Test func sslv2Session() {
        let clientHello: [UInt8] = [0x80, 0x1F, 1, 0, 2, 0, 6, 0, 0, 0, 16, 0x07, 0x00, 0xC0, 0x05, 0x00, 0x80]
            + T.filler(16, seed: 4)
        let client = clientHello + [0x80, 0x20] + T.filler(0x20, seed: 5) + [0x00, 0x30, 0x07] + T.filler(0x30, seed: 6)
        let serverHello: [UInt8] = [0x81, 0x00, 4, 0, 1, 0, 2] + T.filler(0x100 - 5, seed: 7)
        for pieces in [[client], client.map { [$0] }] {
            let summary = Self.classify(pieces.map { StreamPiece.data($0) })
            #expect(summary.kind == .tls)
            #expect(summary.tlsRecords == 3)
            #expect(summary.tlsEndsOnRecordBoundary)
            #expect(summary.handshake.sslv2Hello)
        }
        let server = Self.classify(serverHello)
        #expect(server.kind == .tls)
        #expect(server.handshake.selectedVersion == 0x0002)
        #expect(server.tlsEndsOnRecordBoundary)
    }

    /// A gap across a record boundary: framing must be found again; the bytes
    /// before the next chain of headers are unverified.
    @Test func gapAcrossRecordBoundary() {
        let a = T.applicationData(300, seed: 1), b = T.applicationData(300, seed: 2)
        let rest = T.applicationData(200, seed: 3) + T.applicationData(200, seed: 4) + T.applicationData(200, seed: 5)
        // Lose the end of a and the start of b: 100 bytes of b's body remain.
        let pieces: [StreamPiece] = [.data(T.clientFlight + Array(a[0..<200])), .gap(105 + 205), .data(Array(b[205...]) + rest)]
        let summary = Self.classify(pieces)
        #expect(summary.kind == .tls)
        #expect(summary.resynchronised)
        #expect(summary.unverifiedBytes == 100)
        #expect(summary.gapBytes == 310)
        #expect(summary.tlsRecords == 3, "records counted since the resynchronisation")
    }

    /// Picked up mid-stream inside a record: found at the next chain of headers.
    @Test func midStreamTLS() {
        let tail = Array(T.applicationData(400, seed: 30).suffix(300))
        let records = T.applicationData(120, seed: 31) + T.applicationData(1_400, seed: 32)
            + T.applicationData(60, seed: 33) + T.record(21, [1, 0])
        let summary = Self.classify(tail + records, midStream: true)
        #expect(summary.kind == .tls)
        #expect(summary.startedMidStream)
        #expect(summary.resynchronised)
        #expect(summary.unverifiedBytes == 300)
        #expect(summary.tlsRecords == 4)
        #expect(summary.tlsAlertRecords == 1)
        #expect(summary.tlsEndsOnRecordBoundary)
    }

    @Test func postgresSSLRequestThenTLS() {
        let stream = [0, 0, 0, 8, 0x04, 0xD2, 0x16, 0x2F] + T.clientFlight
        let summary = Self.classify(stream)
        #expect(summary.kind == .tls)
        #expect(summary.preamble == "PostgreSQL SSLRequest")
        #expect(summary.handshake.serverName == "api.example.com")
        #expect(summary.tlsRecords == 5)
    }

    /// The server's side of the same upgrade: one 'S', then records.
    @Test func postgresSSLAcceptedThenTLS() {
        let summary = Self.classify(Array("S".utf8) + T.serverFlight)
        #expect(summary.kind == .tls)
        #expect(summary.preamble == "PostgreSQL SSL accepted")
        #expect(summary.handshake.cipherSuite == 0x1301)
    }

    // MARK: Cleartext

    @Test func httpRequestWithBearerToken() {
        let request = Array("GET / HTTP/1.1\r\nHost: shop.example\r\nAuthorization: Bearer xyz\r\nAccept: */*\r\n\r\n".utf8)
        let summary = Self.classify(request)
        #expect(summary.kind == .http)
        #expect(summary.protocolName == "http")
        #expect(summary.evidence == "GET / HTTP/1.1 (Host: shop.example; Authorization: [redacted])")
        #expect(summary.evidence?.contains("xyz") == false)
        #expect(summary.evidence?.contains("Bearer") == false)
        #expect(summary.tlsRecords == 0)
    }

    @Test func httpQueryValuesRedacted() {
        let request = Array("POST /login?user=alice&token=abc123 HTTP/1.1\r\nHost: web\r\nCookie: sid=42\r\n\r\nuser=alice&password=hunter2".utf8)
        let summary = Self.classify(request)
        #expect(summary.kind == .http)
        #expect(summary.evidence == "POST /login?user=[redacted]&token=[redacted] HTTP/1.1 (Host: web; Cookie: [redacted])")
        for secret in ["alice", "abc123", "sid=42", "hunter2"] { #expect(summary.evidence?.contains(secret) == false) }
    }

    /// A request line longer than the evidence limit is still HTTP, and its
    /// query values still never reach the evidence.
    @Test func longRequestLineStillRedacted() {
        let secret = String(repeating: "s3cr3t", count: 60)
        let request = Array("GET /callback?code=\(secret)&state=xyz HTTP/1.1\r\nHost: sso.example\r\n\r\n".utf8)
        let summary = Self.classify(request)
        #expect(summary.kind == .http)
        #expect(summary.evidence?.contains("s3cr3t") == false)
        #expect(summary.evidence?.hasPrefix("GET /callback?code=[redacted]") == true)
    }

    /// No line end within everything the probe reads: still a request, redacted.
    @Test func overlongRequestLineWithoutLineEndIsRedacted() {
        let secret = String(repeating: "t0ken", count: 2_000)
        let request = Array("GET /sso?session=\(secret)".utf8)
        for pieces in [[request], stride(from: 0, to: request.count, by: 1_400).map { Array(request[$0..<min(request.count, $0 + 1_400)]) }] {
            let summary = Self.classify(pieces.map { StreamPiece.data($0) })
            #expect(summary.kind == .http)
            #expect(summary.evidence?.contains("t0ken") == false, "\(summary.evidence ?? "")")
            #expect(summary.evidence?.hasPrefix("GET /sso?session=[redacted]") == true, "\(summary.evidence ?? "")")
        }
    }

    /// Text that looks like a request but is not one (four words) must not leak its query either.
    @Test func textWithURLQueryIsRedacted() {
        let text = Array(("GET /a b?token=s3cr3t HTTP/1.1 and http://alice:pw@host/x " + String(repeating: "filler ", count: 80)).utf8)
        let summary = Self.classify(text)
        #expect(summary.evidence?.contains("s3cr3t") == false, "\(summary.evidence ?? "")")
        #expect(summary.evidence?.contains("alice:pw") == false, "\(summary.evidence ?? "")")
    }

    @Test func httpResponse() {
        let response = Array("HTTP/1.1 200 OK\r\nContent-Type: text/html\r\nSet-Cookie: sid=1\r\n\r\n<html></html>".utf8)
        let summary = Self.classify(response)
        #expect(summary.kind == .http)
        #expect(summary.evidence == "HTTP/1.1 200 OK")
    }

    @Test func midStreamHTTP() {
        let stream = Array("ody of an earlier response, cut\r\n0\r\n\r\nGET /next?id=5 HTTP/1.1\r\nHost: web\r\n\r\n".utf8)
        let summary = Self.classify(stream, midStream: true)
        #expect(summary.kind == .http)
        #expect(summary.startedMidStream)
        #expect(summary.evidence == "GET /next?id=[redacted] HTTP/1.1 (Host: web)")
    }

    /// Picked up mid-way, binary bytes then an HTTP request in later
    /// segments: the cleartext checks, which run as the window doubles
    /// rather than at every segment, still find it, however it was cut.
    @Test func midStreamHTTPAfterBinaryInSmallSegments() {
        var rng = SplitMix(seed: 11)
        let binary = (0..<3_000).map { _ in UInt8(truncatingIfNeeded: rng.next()) | 0x80 }
        let stream = binary + Array("\r\nGET /later HTTP/1.1\r\nHost: web\r\n\r\n".utf8)
        for longest in [1, 100, 700, 5_000] {
            var classifier = DirectionClassifier(startsMidStream: true)
            for chunk in rng.chunks(of: stream, longest: longest) { chunk.withUnsafeBytes { classifier.receive($0) } }
            let summary = classifier.finish()
            #expect(summary.kind == .http, "segments up to \(longest) bytes")
            #expect(summary.evidence == "GET /later HTTP/1.1 (Host: web)")
        }
        // The checkpoints: 1 KiB, then each doubling.
        #expect(DirectionClassifier.doubled(from: 1_000, to: 1_024))
        #expect(!DirectionClassifier.doubled(from: 1_024, to: 2_047))
        #expect(DirectionClassifier.doubled(from: 2_047, to: 2_048))
        #expect(DirectionClassifier.doubled(from: 0, to: 65_536))
        #expect(!DirectionClassifier.doubled(from: 40_000, to: 65_535))
    }

    @Test func plainText() {
        let text = Array("hello there, this is a line-based protocol\r\nQUIT\r\n".utf8)
        let summary = Self.classify(text)
        #expect(summary.kind == .text)
        #expect(summary.protocolName == "text")
        #expect(summary.evidence == "hello there, this is a line-based protocol")
    }

    @Test func randomBytesAreBinary() {
        let summary = Self.classify(T.filler(4_000, seed: 123))
        #expect(summary.kind == .binary)
        #expect(summary.protocolName == nil)
        #expect(summary.evidence == nil)
        #expect(summary.entropy.map { $0 > 7.0 && $0 <= 8.0 } == true, "entropy \(String(describing: summary.entropy))")
    }

    @Test func sshBanner() {
        let stream = Array("SSH-2.0-OpenSSH_9.6p1 Ubuntu-3ubuntu13\r\n".utf8) + [0, 0, 5, 0xDC, 6, 20] + T.filler(600, seed: 5)
        let summary = Self.classify(stream)
        #expect(summary.kind == .ssh)
        #expect(summary.protocolName == "ssh")
        #expect(summary.evidence == "SSH-2.0-OpenSSH_9.6p1 Ubuntu-3ubuntu13")
    }

    @Test func noBytes() {
        let summary = Self.classify([UInt8]())
        #expect(summary.kind == .none)
        #expect(summary.bytes == 0)
    }

    // MARK: However the bytes are cut

    struct Input: Sendable, CustomTestStringConvertible {
        var name: String
        var pieces: [StreamPiece]
        var midStream = false
        var testDescription: String { name }
    }

    static let inputs: [Input] = [
        Input(name: "TLS client flight", pieces: [.data(T.clientFlight)]),
        Input(name: "TLS server flight", pieces: [.data(T.serverFlight)]),
        Input(name: "PostgreSQL SSLRequest then TLS", pieces: [.data([0, 0, 0, 8, 0x04, 0xD2, 0x16, 0x2F] + T.clientFlight)]),
        Input(name: "header then GET", pieces: [.data([0x17, 0x03, 0x03, 0x00, 0x05] + Array("ABCDEGET /secret HTTP/1.1\r\nHost: b\r\n\r\n".utf8))]),
        Input(name: "ClientHello then GET", pieces: [.data(T.record(22, T.clientHello(serverName: "x", alpn: [])) + Array("GET / HTTP/1.1\r\n\r\n".utf8))]),
        Input(name: "HTTP request", pieces: [.data(Array("GET /a?b=c HTTP/1.1\r\nHost: web\r\nAuthorization: Basic Zm9v\r\n\r\n".utf8))]),
        Input(name: "HTTP response", pieces: [.data(Array("HTTP/1.1 404 Not Found\r\nContent-Length: 0\r\n\r\n".utf8))]),
        Input(name: "text", pieces: [.data(Array("hello there, this is a line-based protocol\r\nQUIT\r\n".utf8))]),
        Input(name: "text, then binary after 20 bytes", pieces: [.data(Array("twenty bytes of text".utf8) + T.filler(300, seed: 6))]),
        Input(name: "random", pieces: [.data(T.filler(3_000, seed: 7))]),
        Input(name: "SSH", pieces: [.data(Array("SSH-2.0-OpenSSH_9.6\r\n".utf8) + T.filler(400, seed: 8))]),
        Input(name: "gap inside a record", pieces: [.data(Array(T.clientFlight.prefix(330))), .gap(100), .data(Array(T.clientFlight.suffix(from: 430)))]),
        Input(name: "mid-stream TLS", pieces: [.data(Array(T.applicationData(400, seed: 30).suffix(300))
            + T.applicationData(120, seed: 31) + T.applicationData(1_400, seed: 32) + T.applicationData(60, seed: 33))], midStream: true),
        Input(name: "mid-stream HTTP", pieces: [.data(Array("tail of something\r\nGET /next HTTP/1.1\r\nHost: web\r\n\r\n".utf8))], midStream: true),
        Input(name: "MQTT CONNECT", pieces: [.data(BrokerDirectoryMessages.mqttConnect)]),
        Input(name: "MQTT 5 CONNECT with a will", pieces: [.data(BrokerDirectoryMessages.mqtt5Connect)]),
        Input(name: "AMQP header and Start-Ok", pieces: [.data(BrokerDirectoryMessages.amqpClient)]),
        Input(name: "Kafka Produce with a compressed batch", pieces: [.data(BrokerDirectoryMessages.kafkaProduce)]),
        Input(name: "CQL STARTUP, then a compressed QUERY", pieces: [.data(BrokerDirectoryMessages.cqlStartup + BrokerDirectoryMessages.cqlCompressedQuery)]),
        Input(name: "AMQP Connection.Start", pieces: [.data(BrokerDirectoryMessages.amqpServer)]),
        Input(name: "LDAP simple bind", pieces: [.data(BrokerDirectoryMessages.ldapSimpleBind)]),
        Input(name: "LDAP GSSAPI bind", pieces: [.data(BrokerDirectoryMessages.ldapGSSAPIBind)]),
        Input(name: "LDAP StartTLS, then TLS", pieces: [.data(BrokerDirectoryMessages.ldapStartTLS + T.clientFlight)]),
        Input(name: "LDAP StartTLS accepted, then TLS", pieces: [.data(BrokerDirectoryMessages.ldapStartTLSResponse + T.serverFlight)]),
        Input(name: "AMQP 1.0 TLS header, then TLS", pieces: [.data(Array("AMQP".utf8) + [2, 1, 0, 0] + T.clientFlight)]),
        Input(name: "TDS PRELOGIN, TLS in PRELOGIN packets, then TLS", pieces: [.data(TDSMessages.encryptedClient)]),
        Input(name: "TDS encrypting the login only, then a query", pieces: [.data(TDSMessages.loginOnlyClient)]),
        Input(name: "TDS without encryption", pieces: [.data(TDSMessages.cleartextClient)]),
        Input(name: "Beats batch, compressed", pieces: [.data(CompressedSamples.beatsBatch)]),
        Input(name: "memberlist push/pull, LZW-compressed (Alertmanager)", pieces: [.data(MemberlistSamples.alertmanagerJoin)]),
        Input(name: "memberlist push/pull", pieces: [.data(MemberlistSamples.alertmanagerPushPull)]),
        Input(name: "zlib stream after a frame header", pieces: [.data(CompressedSamples.framedZlib)]),
        Input(name: "TLS records carrying text", pieces: [.data(TLSPayloadSampleTests.record(Array("12345678GET /a HTTP/1.1\r\nHost: example.org\r\nAccept: */*\r\n\r\n".utf8))
            + TLSPayloadSampleTests.record(Array("abcdefghUser-Agent: test\r\n".utf8)))]),
        Input(name: "h2c request (curl)", pieces: [.data(H2CSamples.curlRequest)]),
        Input(name: "h2c response (nginx)", pieces: [.data(H2CSamples.nginxResponse)]),
        Input(name: "h2c request picked up at its preface", pieces: [.data(H2CSamples.curlRequest)], midStream: true),
    ]

    /// The same pieces, with every data piece cut into chunks of the sizes `next` returns.
    static func rechunk(_ pieces: [StreamPiece], _ next: () -> Int) -> [StreamPiece] {
        pieces.flatMap { piece -> [StreamPiece] in
            guard case .data(let d) = piece else { return [piece] }
            var chunks: [StreamPiece] = []
            var i = 0
            while i < d.count {
                let n = max(1, next())
                chunks.append(.data(Array(d[i..<min(d.count, i + n)])))
                i += n
            }
            return chunks
        }
    }

    @Test(arguments: inputs)
    func sameSummaryHoweverCut(_ input: Input) {
        let whole = Self.classify(input.pieces, midStream: input.midStream)
        #expect(whole.kind != .none && whole.kind != .undetermined)
        let byteByByte = Self.classify(Self.rechunk(input.pieces) { 1 }, midStream: input.midStream)
        #expect(byteByByte == whole, "byte by byte")
        var rng = SplitMix(seed: 2_024)
        for round in 0..<30 {
            let limit = [3, 17, 200, 1_500][round % 4]
            let chunked = Self.classify(Self.rechunk(input.pieces) { 1 + rng.below(limit) }, midStream: input.midStream)
            #expect(chunked == whole, "round \(round), chunks up to \(limit)")
        }
    }
}
