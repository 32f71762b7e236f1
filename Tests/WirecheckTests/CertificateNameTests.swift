import Foundation
import Testing
@testable import PayloadClassification
@testable import Reporting
@testable import VerdictPolicy

/// The name a TLS 1.2 leaf certificate gives its holder: a SPIFFE ID, else
/// the first DNS name, else the first URI of subjectAltName, else CN=<the
/// subject's last common name>. The certificates are real ones, made by
/// OpenSSL 3.0 (`openssl req -new -x509 -key <a P-256 key> -subj … -addext
/// subjectAltName=… -outform DER`; the version 1 one by `openssl x509 -req`
/// without extensions) and kept here in base64; Certificate messages are
/// built around them per RFC 5246 §7.4.2 and fed whole, byte by byte and at
/// random cuts (KeyExchangeTests.server).
@Suite struct CertificateNameTests {
    typealias T = TLSBuilder
    typealias K = KeyExchangeTests

    static func certificate(_ base64: String) -> [UInt8] { Array(Data(base64Encoded: base64) ?? Data()) }

    /// subjectAltName DNS:web.default.svc, URI:spiffe://cluster.local/ns/default/sa/web; CN=ignored.
    static let dnsThenSpiffe = certificate("MIIBwjCCAWegAwIBAgIUCFIWiCi4EoUtWF+muWQE1iGjBywwCgYIKoZIzj0EAwIwEjEQMA4GA1UEAwwHaWdub3JlZDAeFw0yNjEyMDIxNTQyNDVaFw0yNjEyMDMxNTQyNDVaMBIxEDAOBgNVBAMMB2lnbm9yZWQwWTATBgcqhkjOPQIBBggqhkjOPQMBBwNCAAQ/+GBfcJOXHVMnd16RxUhwJlnLzTKUwcby/ICownYXxs8XvAqW5ZGakmPuY30+gaf/hBmyI2iHoVNKE+nuGbcho4GaMIGXMB0GA1UdDgQWBBTNPUx1OvmT+YRyztOFu26rPQRRKzAfBgNVHSMEGDAWgBTNPUx1OvmT+YRyztOFu26rPQRRKzAPBgNVHRMBAf8EBTADAQH/MEQGA1UdEQQ9MDuCD3dlYi5kZWZhdWx0LnN2Y4Yoc3BpZmZlOi8vY2x1c3Rlci5sb2NhbC9ucy9kZWZhdWx0L3NhL3dlYjAKBggqhkjOPQQDAgNJADBGAiEA9Kf64pg9iIdTGkYDskeVaO/y9GkEUJ+Lhf0JjN0vk1kCIQCkE5GxgoSuVOk/YouVrKwHmVufVi8s2+DsHywjEdPY2w==")
    /// subjectAltName DNS:a.example.com, DNS:b.example.com; O=Example, CN=ignored.
    static let twoDNS = certificate("MIIBxjCCAWygAwIBAgIURc9ggmFE0rimeAgVr1bdd+o8OqowCgYIKoZIzj0EAwIwJDEQMA4GA1UECgwHRXhhbXBsZTEQMA4GA1UEAwwHaWdub3JlZDAeFw0yNjEyMDIxNTQyNDVaFw0yNjEyMDMxNTQyNDVaMCQxEDAOBgNVBAoMB0V4YW1wbGUxEDAOBgNVBAMMB2lnbm9yZWQwWTATBgcqhkjOPQIBBggqhkjOPQMBBwNCAAQ/+GBfcJOXHVMnd16RxUhwJlnLzTKUwcby/ICownYXxs8XvAqW5ZGakmPuY30+gaf/hBmyI2iHoVNKE+nuGbcho3wwejAdBgNVHQ4EFgQUzT1MdTr5k/mEcs7Thbtuqz0EUSswHwYDVR0jBBgwFoAUzT1MdTr5k/mEcs7Thbtuqz0EUSswDwYDVR0TAQH/BAUwAwEB/zAnBgNVHREEIDAegg1hLmV4YW1wbGUuY29tgg1iLmV4YW1wbGUuY29tMAoGCCqGSM49BAMCA0gAMEUCIDI5JqyuIchOO/0UUvgmhYTn6/QcT+hac0jOn3iloBAQAiEA6pWaWtgetBtpiD4lZXuLDTjDid38zJh+wpbihcM9tnk=")
    /// subjectAltName URI:https://id.example.com/x, email:x@example.com; CN=ignored.
    static let uriOnly = certificate("MIIBrzCCAVWgAwIBAgIUXJk8oYjqEw/qY9nZWWGVIUOgwoUwCgYIKoZIzj0EAwIwEjEQMA4GA1UEAwwHaWdub3JlZDAeFw0yNjEyMDIxNTQyNDVaFw0yNjEyMDMxNTQyNDVaMBIxEDAOBgNVBAMMB2lnbm9yZWQwWTATBgcqhkjOPQIBBggqhkjOPQMBBwNCAAQ/+GBfcJOXHVMnd16RxUhwJlnLzTKUwcby/ICownYXxs8XvAqW5ZGakmPuY30+gaf/hBmyI2iHoVNKE+nuGbcho4GIMIGFMB0GA1UdDgQWBBTNPUx1OvmT+YRyztOFu26rPQRRKzAfBgNVHSMEGDAWgBTNPUx1OvmT+YRyztOFu26rPQRRKzAPBgNVHRMBAf8EBTADAQH/MDIGA1UdEQQrMCmGGGh0dHBzOi8vaWQuZXhhbXBsZS5jb20veIENeEBleGFtcGxlLmNvbTAKBggqhkjOPQQDAgNIADBFAiB9kVK64TrADZLHYtGJDxJFHw8qf6kX/ybg8buzkkirYwIhAPsewLjo6ZF2YPeVqKB5beymxnUWGrjm+xEMFZnxT7su")
    /// subjectAltName URI:urn:example:holder, DNS:svc.example.com; CN=ignored.
    static let uriThenDNS = certificate("MIIBqjCCAVGgAwIBAgIUDGUxnSlVOboMKc7Kde6XDFHEiaEwCgYIKoZIzj0EAwIwEjEQMA4GA1UEAwwHaWdub3JlZDAeFw0yNjEyMDIxNTQ1NDBaFw0yNjEyMDMxNTQ1NDBaMBIxEDAOBgNVBAMMB2lnbm9yZWQwWTATBgcqhkjOPQIBBggqhkjOPQMBBwNCAAQ/+GBfcJOXHVMnd16RxUhwJlnLzTKUwcby/ICownYXxs8XvAqW5ZGakmPuY30+gaf/hBmyI2iHoVNKE+nuGbcho4GEMIGBMB0GA1UdDgQWBBTNPUx1OvmT+YRyztOFu26rPQRRKzAfBgNVHSMEGDAWgBTNPUx1OvmT+YRyztOFu26rPQRRKzAPBgNVHRMBAf8EBTADAQH/MC4GA1UdEQQnMCWGEnVybjpleGFtcGxlOmhvbGRlcoIPc3ZjLmV4YW1wbGUuY29tMAoGCCqGSM49BAMCA0cAMEQCIFoA0r/IAHdorX25n5LiePyXaBHYs1WX1skm/MkAxrVdAiBOZ32wjjqcRi8XSSaYTDktIsv3DL9Ceh0q/yxrcCzu4A==")
    /// No subjectAltName; O=Example, CN=outer, CN=inner.
    static let noSAN = certificate("MIIBuTCCAV+gAwIBAgIUF5S9cQnhuKMXS/lcMTViReU8f5cwCgYIKoZIzj0EAwIwMjEQMA4GA1UECgwHRXhhbXBsZTEOMAwGA1UEAwwFb3V0ZXIxDjAMBgNVBAMMBWlubmVyMB4XDTI2MTIwMjE1NDI0NVoXDTI2MTIwMzE1NDI0NVowMjEQMA4GA1UECgwHRXhhbXBsZTEOMAwGA1UEAwwFb3V0ZXIxDjAMBgNVBAMMBWlubmVyMFkwEwYHKoZIzj0CAQYIKoZIzj0DAQcDQgAEP/hgX3CTlx1TJ3dekcVIcCZZy80ylMHG8vyAqMJ2F8bPF7wKluWRmpJj7mN9PoGn/4QZsiNoh6FTShPp7hm3IaNTMFEwHQYDVR0OBBYEFM09THU6+ZP5hHLO04W7bqs9BFErMB8GA1UdIwQYMBaAFM09THU6+ZP5hHLO04W7bqs9BFErMA8GA1UdEwEB/wQFMAMBAf8wCgYIKoZIzj0EAwIDSAAwRQIhAP/2syl2vHY23tugXfbzDlLJ+VoKgTYj2LxMsHAvWXR3AiBOiVk+pgndoAyqq0Pkc2SaGrMGu8NS4//c2ZWq68GGpw==")
    /// subjectAltName URI:spiffe://cluster.local/ followed by 300 a's.
    static let longURI = certificate("MIICyTCCAm+gAwIBAgIUMXLwdICHGKeT8hSVkQOu6djKJ4IwCgYIKoZIzj0EAwIwDDEKMAgGA1UEAwwBeDAeFw0yNjEyMDIxNTQyNDVaFw0yNjEyMDMxNTQyNDVaMAwxCjAIBgNVBAMMAXgwWTATBgcqhkjOPQIBBggqhkjOPQMBBwNCAAQ/+GBfcJOXHVMnd16RxUhwJlnLzTKUwcby/ICownYXxs8XvAqW5ZGakmPuY30+gaf/hBmyI2iHoVNKE+nuGbcho4IBrTCCAakwHQYDVR0OBBYEFM09THU6+ZP5hHLO04W7bqs9BFErMB8GA1UdIwQYMBaAFM09THU6+ZP5hHLO04W7bqs9BFErMA8GA1UdEwEB/wQFMAMBAf8wggFUBgNVHREEggFLMIIBR4aCAUNzcGlmZmU6Ly9jbHVzdGVyLmxvY2FsL2FhYWFhYWFhYWFhYWFhYWFhYWFhYWFhYWFhYWFhYWFhYWFhYWFhYWFhYWFhYWFhYWFhYWFhYWFhYWFhYWFhYWFhYWFhYWFhYWFhYWFhYWFhYWFhYWFhYWFhYWFhYWFhYWFhYWFhYWFhYWFhYWFhYWFhYWFhYWFhYWFhYWFhYWFhYWFhYWFhYWFhYWFhYWFhYWFhYWFhYWFhYWFhYWFhYWFhYWFhYWFhYWFhYWFhYWFhYWFhYWFhYWFhYWFhYWFhYWFhYWFhYWFhYWFhYWFhYWFhYWFhYWFhYWFhYWFhYWFhYWFhYWFhYWFhYWFhYWFhYWFhYWFhYWFhYWFhYWFhYWFhYWFhYWFhYWFhYWFhYWFhYWFhYWFhYWFhYWFhYWFhYWFhYWFhYWFhYWFhYTAKBggqhkjOPQQDAgNIADBFAiA8yWo/fOWAgxEXDPlLTci+M3qE9+PgekT/jYilftyb9gIhAPtOFGKv9UleEhqe1R02CmQRE9rrB8Y6cLQKvV0bQ9Jc")
    /// CN=café in UTF-8.
    static let utf8CN = certificate("MIIBdDCCARugAwIBAgIULQp0KmkHxgDnOl8N9+OEF2HGnzIwCgYIKoZIzj0EAwIwEDEOMAwGA1UEAwwFY2Fmw6kwHhcNMjYxMjAyMTU0MjQ5WhcNMjYxMjAzMTU0MjQ5WjAQMQ4wDAYDVQQDDAVjYWbDqTBZMBMGByqGSM49AgEGCCqGSM49AwEHA0IABD/4YF9wk5cdUyd3XpHFSHAmWcvNMpTBxvL8gKjCdhfGzxe8CpblkZqSY+5jfT6Bp/+EGbIjaIehU0oT6e4ZtyGjUzBRMB0GA1UdDgQWBBTNPUx1OvmT+YRyztOFu26rPQRRKzAfBgNVHSMEGDAWgBTNPUx1OvmT+YRyztOFu26rPQRRKzAPBgNVHRMBAf8EBTADAQH/MAoGCCqGSM49BAMCA0cAMEQCIAcuSdhF1F+6gCAFjTrJS+dU0B8hbPYDb3JLQoU5JQswAiAW5OGf6Pyc4VoEPc1pkBW7zL5xNGHV8ZSPifMOUct6ng==")
    /// Version 1 (no version field, no extensions); CN=v1-holder.
    static let v1 = certificate("MIIBIjCByQIUDVunzS8uL5eoDWjcR4FV+1YW/P8wCgYIKoZIzj0EAwIwFDESMBAGA1UEAwwJdjEtaG9sZGVyMB4XDTI2MTIwMjE1NDI0NVoXDTI2MTIwMzE1NDI0NVowFDESMBAGA1UEAwwJdjEtaG9sZGVyMFkwEwYHKoZIzj0CAQYIKoZIzj0DAQcDQgAEP/hgX3CTlx1TJ3dekcVIcCZZy80ylMHG8vyAqMJ2F8bPF7wKluWRmpJj7mN9PoGn/4QZsiNoh6FTShPp7hm3ITAKBggqhkjOPQQDAgNIADBFAiEA6ZKG6BR6ZB0FJ+DjUWkpODLOje/Rs2mb3qwS/WmZTkICIFIun/e6M0w4ac3i8CB5PUkjQc82eZC70L7dUBQ/Dbmm")
    /// No subjectAltName, no common name: O=Example Org.
    static let orgOnly = certificate("MIIBgTCCASegAwIBAgIUSQinJzO6DZDLadOrC3io23YnYUQwCgYIKoZIzj0EAwIwFjEUMBIGA1UECgwLRXhhbXBsZSBPcmcwHhcNMjYxMjAyMTU0MjQ5WhcNMjYxMjAzMTU0MjQ5WjAWMRQwEgYDVQQKDAtFeGFtcGxlIE9yZzBZMBMGByqGSM49AgEGCCqGSM49AwEHA0IABD/4YF9wk5cdUyd3XpHFSHAmWcvNMpTBxvL8gKjCdhfGzxe8CpblkZqSY+5jfT6Bp/+EGbIjaIehU0oT6e4ZtyGjUzBRMB0GA1UdDgQWBBTNPUx1OvmT+YRyztOFu26rPQRRKzAfBgNVHSMEGDAWgBTNPUx1OvmT+YRyztOFu26rPQRRKzAPBgNVHRMBAf8EBTADAQH/MAoGCCqGSM49BAMCA0gAMEUCIFS8vghl5KrUS0tttkQyaBdC9C0iZJdCxr0JFp2h667AAiEA6VLd5vIUYdkCt3MuAGEJObCaX5U3zkpCrV3XDwdwuzg=")

    /// A Certificate message holding `certificates`, in handshake records of
    /// at most 2^14 bytes.
    static func certificateRecords(_ certificates: [[UInt8]]) -> [UInt8] {
        let list = certificates.flatMap { T.u24($0.count) + $0 }
        let message = T.handshake(11, T.u24(list.count) + list)
        return stride(from: 0, to: message.count, by: 16_384).flatMap {
            T.record(22, Array(message[$0..<min($0 + 16_384, message.count)]))
        }
    }

    /// A TLS 1.2 server's side: ServerHello, Certificate, CertificateRequest,
    /// ServerHelloDone, then ChangeCipherSpec and application data.
    static func serverSide(_ certificates: [[UInt8]]) -> [UInt8] {
        T.record(22, ResumptionTests.serverHello12()) + certificateRecords(certificates)
            + T.record(22, T.handshake(13, [1, 64] + T.vector16(T.u16(0x0403)) + T.vector16([])) + T.handshake(14, []))
            + T.changeCipherSpec + T.applicationData(300, seed: 30)
    }

    @Test func theLeafNamesItsHolder() throws {
        let cases: [([UInt8], String?)] = [
            (Self.dnsThenSpiffe, "spiffe://cluster.local/ns/default/sa/web"),
            (Self.twoDNS, "a.example.com"),
            (Self.uriOnly, "https://id.example.com/x"),
            (Self.uriThenDNS, "svc.example.com"),
            (Self.noSAN, "CN=inner"),
            (Self.longURI, "spiffe://cluster.local/" + String(repeating: "a", count: 256 - 23) + "…"),
            (Self.utf8CN, "CN=caf\\xc3\\xa9"),
            (Self.v1, "CN=v1-holder"),
            (Self.orgOnly, nil),
        ]
        for (index, (leaf, expected)) in cases.enumerated() {
            try #require(leaf.count > 200, "case \(index): the base64 did not decode")
            // A second certificate after the leaf (its issuer's, in a real chain) changes nothing.
            let summary = K.server(Self.serverSide([leaf, Self.twoDNS]))
            #expect(summary.handshake.certificateName == expected, "case \(index)")
            #expect(summary.handshake.certificateSeen && !summary.handshake.certificateEmpty)
            #expect(!summary.handshake.malformedMessage)
        }
    }

    @Test func aLongChainKeepsOnlyTheLeaf() {
        // A 40 KB second certificate: the message spans three records, and
        // fed in pieces, only the leaf's bytes are kept for its name.
        let summary = K.server(Self.serverSide([Self.dnsThenSpiffe, T.filler(40_000, seed: 31)]))
        #expect(summary.handshake.certificateName == "spiffe://cluster.local/ns/default/sa/web")
        #expect(!summary.handshake.malformedMessage)
    }

    @Test func aLeafBeyondTheLimitIsNotRead() {
        // A leaf longer than what is kept: its start is a real certificate's
        // (whose name a cut-short read would find), the rest padding.
        let leaf = Self.dnsThenSpiffe + T.filler(HandshakeParser.maximumCertificateKept, seed: 32)
        let summary = K.server(Self.serverSide([leaf]))
        #expect(summary.handshake.certificateName == nil)
        #expect(summary.handshake.certificateSeen && !summary.handshake.certificateEmpty)
        #expect(!summary.handshake.malformedMessage)
    }

    @Test func anEmptyListNamesNobody() {
        let summary = K.server(Self.serverSide([]))
        #expect(summary.handshake.certificateEmpty)
        #expect(summary.handshake.certificateName == nil)
    }

    @Test func damagedCertificatesNeverTrap() {
        let der = Self.dnsThenSpiffe
        var names = Set<String>()
        der.withUnsafeBytes { bytes in
            // Cut short anywhere: the outer length no longer fits.
            for count in 0..<bytes.count {
                #expect(CertificateName.name(ofCertificate: UnsafeRawBufferPointer(rebasing: bytes[0..<count])).isEmpty, "\(count) bytes")
            }
        }
        // Any one byte changed to any of a few values: a name or none, never a trap.
        for index in der.indices {
            for value: UInt8 in [0x00, 0x7F, 0x80, 0x84, 0xFF] {
                var damaged = der
                damaged[index] = value
                let name = damaged.withUnsafeBytes { CertificateName.name(ofCertificate: $0) }
                if !name.isEmpty { names.insert(String(decoding: name, as: UTF8.self)) }
            }
        }
        // The undamaged spans still name the holder, and names stay printable.
        #expect(names.contains("spiffe://cluster.local/ns/default/sa/web"))
        #expect(names.allSatisfy { $0.unicodeScalars.allSatisfy { $0.value >= 0x20 && $0.value < 0x7F || $0 == "…" } })
    }

    @Test func theReportShowsBothNames() throws {
        // The client's side of mutual TLS 1.2: ClientHello, then its
        // Certificate, ClientKeyExchange, ChangeCipherSpec, Finished, data.
        let hello = T.clientHello(serverName: "api.example.com", alpn: ["h2", "http/1.1"], versions: [0x0303])
        let clientSide = T.record(22, hello, version: 0x0301) + Self.certificateRecords([Self.v1])
            + T.record(22, T.handshake(16, T.vector8(T.filler(32, seed: 33)))) + T.changeCipherSpec
            + T.record(22, T.filler(40, seed: 34)) + T.applicationData(200, seed: 35)
        let client = ClassifierTests.classify(clientSide)
        #expect(client.handshake.certificateName == "CN=v1-holder")
        let report = K.report(client: client, server: K.server(Self.serverSide([Self.dnsThenSpiffe])))
        let tls = try #require(report.tls)
        #expect(tls.serverCertificateName == "spiffe://cluster.local/ns/default/sa/web")
        #expect(tls.clientCertificateName == "CN=v1-holder")
        #expect(tls.clientCertificate == "sent")
        var text = TextReporter()
        let line = text.report(report)
        #expect(line.contains(", server cert spiffe://cluster.local/ns/default/sa/web, client cert sent (CN=v1-holder)"), "\(line)")
        var json = JSONLinesReporter()
        let object = try #require(try JSONSerialization.jsonObject(with: Data(json.report(report).utf8)) as? [String: Any])
        let tlsObject = try #require(object["tls"] as? [String: Any])
        #expect(tlsObject["serverCertificateName"] as? String == "spiffe://cluster.local/ns/default/sa/web")
        #expect(tlsObject["clientCertificateName"] as? String == "CN=v1-holder")

        // TLS 1.3 encrypts both certificates: no name, null in JSON.
        let tls13 = K.report(ClassifierTests.classify(T.serverFlight + T.applicationData(300, seed: 36)))
        #expect(tls13.tls?.serverCertificateName == nil && tls13.tls?.clientCertificateName == nil)
        #expect(!text.report(tls13).contains("server cert"))
        let object13 = try #require(try JSONSerialization.jsonObject(with: Data(json.report(tls13).utf8)) as? [String: Any])
        #expect((object13["tls"] as? [String: Any])?["serverCertificateName"] is NSNull)
    }
}
