import Foundation
import Testing
import PacketDecoding
@testable import PayloadClassification
import PacketCapture
import VerdictPolicy

/// Following an SSH side's key exchange up to its NEWKEYS (SSH-1: the
/// client's session key), which it sends only after the other side's reply.
@Suite struct SSHKeyExchangeTests {
    /// Both sides' bytes of the real OpenSSH key exchange in Captures/lab-ssh.pcap
    /// (scripts/lab-ssh.sh), reassembled by sequence number.
    static func labStreams() throws -> (client: [UInt8], server: [UInt8]) {
        let source = try PacketSource.openFile(TestSupport.capturesDirectory.appendingPathComponent("lab-ssh.pcap").path)
        let decoder = FrameDecoder(linkType: source.linkType)
        var parts: [Bool: [UInt32: [UInt8]]] = [true: [:], false: [:]]
        reading: while true {
            switch source.next() {
            case .packet(let packet):
                guard case .success(let segment) = decoder.decode(packet.bytes, originalLength: packet.originalLength),
                      !segment.payloadRange.isEmpty else { continue }
                let fromClient = segment.destination.port == 2222
                parts[fromClient, default: [:]][segment.sequence] = Array(packet.bytes[segment.payloadRange])
            case .timeout: continue
            case .end, .failed: break reading
            }
        }
        func join(_ chunks: [UInt32: [UInt8]]) -> [UInt8] { chunks.keys.sorted().flatMap { chunks[$0] ?? [] } }
        return (join(parts[true] ?? [:]), join(parts[false] ?? [:]))
    }

    /// The classifier's verdict on one side's stream fed in `cuts` pieces.
    static func newKeysSent(_ stream: [UInt8], cuts: [Int]) -> Bool {
        var classifier = DirectionClassifier()
        var start = 0
        for cut in cuts.sorted() + [stream.count] where cut >= start {
            stream[start..<cut].withUnsafeBytes { classifier.receive($0) }
            start = cut
        }
        let summary = classifier.finish()
        #expect(summary.kind == .ssh)
        return summary.sshNewKeysSent
    }

    @Test func realOpenSSHSidesSendNewKeysWhereverTheSegmentsAreCut() throws {
        let (client, server) = try Self.labStreams()
        try #require(client.starts(with: Array("SSH-2.0-".utf8)) && server.starts(with: Array("SSH-2.0-".utf8)))
        var random = SystemRandomNumberGenerator()
        for stream in [client, server] {
            #expect(Self.newKeysSent(stream, cuts: []))
            #expect(Self.newKeysSent(stream, cuts: Array(1..<min(stream.count, 3_000))), "byte by byte")
            for _ in 0..<20 {
                let cuts = (0..<6).map { _ in Int.random(in: 1..<stream.count, using: &random) }
                #expect(Self.newKeysSent(stream, cuts: cuts), "cut at \(cuts.sorted())")
            }
        }
    }

    /// Stopping short of NEWKEYS, or anything but SSH's packet framing after
    /// the version line, proves nothing of the other side.
    @Test func noNewKeysWithoutTheWholeExchangeInFraming() throws {
        let (client, _) = try Self.labStreams()
        let lineEnd = try #require(client.firstIndex(of: UInt8(ascii: "\n"))) + 1
        let first = lineEnd + 4 + (Int(client[lineEnd]) << 24 | Int(client[lineEnd + 1]) << 16 | Int(client[lineEnd + 2]) << 8 | Int(client[lineEnd + 3]))
        #expect(!Self.newKeysSent(Array(client[..<first]), cuts: []), "version line and KEXINIT only")
        var wrongFirst = client
        wrongFirst[lineEnd + 5] = 21  // the first packet claims to be NEWKEYS, before any KEXINIT
        #expect(!Self.newKeysSent(wrongFirst, cuts: []))
        wrongFirst[lineEnd + 5] = 31  // a key exchange reply before any KEXINIT
        #expect(!Self.newKeysSent(wrongFirst, cuts: []))
        // An SSH_MSG_IGNORE before KEXINIT is allowed (RFC 4253 §11.2).
        let ignore: [UInt8] = [0, 0, 0, 12, 10, 2] + [UInt8](repeating: 0, count: 10)
        #expect(Self.newKeysSent(Array(client[..<lineEnd]) + ignore + Array(client[lineEnd...]), cuts: []))
        var shortPadding = client
        shortPadding[lineEnd + 4] = 3  // RFC 4253: at least four bytes of padding
        #expect(!Self.newKeysSent(shortPadding, cuts: []))
        var tooLong = client
        tooLong[lineEnd] = 0x01  // a first packet of 16 MiB, past OpenSSH's 256 KiB
        #expect(!Self.newKeysSent(tooLong, cuts: []))
        // A KEXINIT listing a thousand algorithms (40 552 bytes, as Zeek's
        // kex-quadratic capture sends) is within what OpenSSH accepts.
        let large = 40_552
        let kexinit: [UInt8] = [0, 0, UInt8(large >> 8), UInt8(large & 0xFF), 11, 20] + [UInt8](repeating: 0x61, count: large - 2)
        #expect(Self.newKeysSent(Array(client[..<lineEnd]) + kexinit + Array(client[first...]), cuts: [lineEnd + 3_000]))
        // Text after the banner (a server's "Protocol mismatch.").
        #expect(!Self.newKeysSent(Array("SSH-2.0-OpenSSH_9.6\r\nProtocol mismatch.\n".utf8), cuts: []))
        // A gap inside the key exchange loses the packet boundaries.
        var classifier = DirectionClassifier()
        client[..<(first + 10)].withUnsafeBytes { classifier.receive($0) }
        classifier.receiveGap(20)
        client[(first + 30)...].withUnsafeBytes { classifier.receive($0) }
        #expect(!classifier.finish().sshNewKeysSent)
    }

    /// SSH protocol 1: a client's first packet is its session key (type 3),
    /// after 8 minus the length modulo 8 bytes of padding; "SSH-1.99" is 2.
    @Test func protocolOneSessionKey() {
        func stream(banner: String, length: Int, type: UInt8) -> [UInt8] {
            let padding = 8 - length % 8
            let body = [type] + [UInt8](repeating: 0x5A, count: length - 1)
            return Array(banner.utf8) + [UInt8(length >> 24 & 0xFF), UInt8(length >> 16 & 0xFF), UInt8(length >> 8 & 0xFF), UInt8(length & 0xFF)]
                + [UInt8](repeating: 0, count: padding) + body
        }
        for length in [157, 160, 269] {
            let client = stream(banner: "SSH-1.5-OpenSSH_6.2\n", length: length, type: 3)
            #expect(Self.newKeysSent(client, cuts: []))
            #expect(Self.newKeysSent(client, cuts: Array(1..<client.count)), "byte by byte, length \(length)")
            #expect(!Self.newKeysSent(stream(banner: "SSH-1.5-OpenSSH_6.2\n", length: length, type: 2), cuts: []),
                    "a server's public key says nothing of the client")
            #expect(!Self.newKeysSent(stream(banner: "SSH-1.99-OpenSSH_6.2\n", length: length, type: 3), cuts: []),
                    "1.99 speaks protocol 2 framing")
        }
    }
}
