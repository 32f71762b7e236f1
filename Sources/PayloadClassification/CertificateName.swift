/// The name a certificate gives its holder, read from the DER of the first
/// (leaf) certificate of a TLS 1.2 Certificate message, where it crosses the
/// wire in clear (TLS 1.3 encrypts it). The name is what the holder claims:
/// wirecheck verifies no signature, so it is evidence of who presented
/// itself, not proof.
///
/// Which name: a SPIFFE ID (a `spiffe://` URI in subjectAltName, the
/// workload identity Istio and Linkerd put in their certificates), else the
/// first DNS name of subjectAltName, else its first URI, else the subject's
/// common name, written `CN=…` so it is not taken for a DNS name.
enum CertificateName {
    /// Names longer than this are cut (with "…"): a report line is no place
    /// for a 2 KB URI, and its start says whose certificate it is.
    static let maximumShown = 256

    /// The leaf's name from a Certificate message's body (its
    /// certificate_list, of which the caller may have kept only the start),
    /// as printable text (see `shown`), or empty when the leaf is not whole
    /// in `message`, is not a certificate in the shape RFC 5280 gives, or
    /// names nobody. Bytes, not a String: kept in the flow as they are.
    static func leafName(inCertificateMessage message: UnsafeRawBufferPointer) -> [UInt8] {
        var list = ByteReader(message)
        guard list.u24() != nil, let leafLength = list.u24(), leafLength > 0,
              let leaf = list.bytes(leafLength)
        else { return [] }
        return name(ofCertificate: leaf)
    }

    /// The name in one DER certificate (see the type's comment for which),
    /// empty for none.
    static func name(ofCertificate der: UnsafeRawBufferPointer) -> [UInt8] {
        var outer = ByteReader(der)
        // Certificate ::= SEQUENCE { tbsCertificate SEQUENCE { … }, … }
        guard var certificate = element(&outer, tag: 0x30), var tbs = element(&certificate, tag: 0x30) else { return [] }
        // version [0] EXPLICIT, optional (absent in version 1 certificates).
        if tbs.unreadBytes.first == 0xA0, element(&tbs, tag: 0xA0) == nil { return [] }
        // serialNumber, signature, issuer, validity; then subject, subjectPublicKeyInfo.
        guard element(&tbs, tag: 0x02) != nil, element(&tbs, tag: 0x30) != nil,
              element(&tbs, tag: 0x30) != nil, element(&tbs, tag: 0x30) != nil,
              let subject = element(&tbs, tag: 0x30), element(&tbs, tag: 0x30) != nil
        else { return [] }
        // issuerUniqueID [1], subjectUniqueID [2], extensions [3] EXPLICIT.
        var alternativeNames: ByteReader?
        while tbs.remaining > 0 {
            guard let (tag, content) = anyElement(&tbs) else { return [] }
            if tag == 0xA3 {
                var wrapper = content
                guard let extensions = element(&wrapper, tag: 0x30) else { return [] }
                alternativeNames = subjectAlternativeNames(in: extensions)
            }
        }
        if let alternativeNames, let name = preferredAlternativeName(alternativeNames) { return shown(name) }
        guard let commonName = lastCommonName(in: subject) else { return [] }
        return shown(commonName, commonName: true)
    }

    /// The GeneralNames of the subjectAltName extension (2.5.29.17), if any.
    private static func subjectAlternativeNames(in extensions: ByteReader) -> ByteReader? {
        var list = extensions
        while list.remaining > 0 {
            // Extension ::= SEQUENCE { extnID OID, critical BOOLEAN DEFAULT FALSE, extnValue OCTET STRING }
            guard var field = element(&list, tag: 0x30), let identifier = element(&field, tag: 0x06) else { return nil }
            guard matches(identifier, Self.subjectAltNameOID) else { continue }
            if field.unreadBytes.first == 0x01, element(&field, tag: 0x01) == nil { return nil }
            guard var value = element(&field, tag: 0x04) else { return nil }
            return element(&value, tag: 0x30)
        }
        return nil
    }

    /// A SPIFFE ID, else the first dNSName, else the first URI.
    private static func preferredAlternativeName(_ names: ByteReader) -> UnsafeRawBufferPointer? {
        var list = names
        var firstDNSName: UnsafeRawBufferPointer?, firstURI: UnsafeRawBufferPointer?
        while list.remaining > 0 {
            guard let (tag, content) = anyElement(&list) else { break }
            let bytes = content.unreadBytes
            switch tag {
            case 0x86 where bytes.starts(with: Self.spiffeScheme): // uniformResourceIdentifier [6]
                return bytes
            case 0x86 where firstURI == nil && !bytes.isEmpty:
                firstURI = bytes
            case 0x82 where firstDNSName == nil && !bytes.isEmpty: // dNSName [2]
                firstDNSName = bytes
            default:
                break
            }
        }
        return firstDNSName ?? firstURI
    }

    /// The subject's last commonName (2.5.4.3): the most specific, when a
    /// name has several.
    private static func lastCommonName(in subject: ByteReader) -> UnsafeRawBufferPointer? {
        var relativeNames = subject, found: UnsafeRawBufferPointer?
        // Name ::= SEQUENCE OF SET OF SEQUENCE { type OID, value ANY }
        while relativeNames.remaining > 0 {
            guard var set = element(&relativeNames, tag: 0x31) else { return found }
            while set.remaining > 0 {
                guard var attribute = element(&set, tag: 0x30), let type = element(&attribute, tag: 0x06),
                      let (_, value) = anyElement(&attribute)
                else { return found }
                if matches(type, Self.commonNameOID), value.remaining > 0 { found = value.unreadBytes }
            }
        }
        return found
    }

    /// The name as printable ASCII, cut to `maximumShown` bytes (then "…"),
    /// "CN=" before a common name; any other byte, and the backslash, as
    /// `\xNN`, as TLS names are shown elsewhere (`ByteReader.printableText`).
    /// Written straight into the array: building a String first and then
    /// its bytes cost a third more than the whole certificate walk.
    private static func shown(_ name: UnsafeRawBufferPointer, commonName: Bool = false) -> [UInt8] {
        let kept = UnsafeRawBufferPointer(rebasing: name.prefix(maximumShown))
        // The usual name is plain ASCII: found so by one pass, then copied
        // whole. (Array(unsafeUninitializedCapacity:) took 680 instructions
        // a name here, most of them finding the array's metadata.)
        let plain = ByteReader.allPrintAsIs(kept)
        if plain, !commonName, name.count <= maximumShown { return Array(kept) }
        var out: [UInt8] = []
        out.reserveCapacity(3 + (plain ? kept.count : 4 * kept.count) + 3)
        if commonName { out.append(contentsOf: [UInt8(ascii: "C"), UInt8(ascii: "N"), UInt8(ascii: "=")]) }
        if plain {
            out.append(contentsOf: kept)
        } else {
            for byte in kept {
                if ByteReader.printsAsIs(byte) {
                    out.append(byte)
                } else {
                    out.append(contentsOf: [UInt8(ascii: "\\"), UInt8(ascii: "x"), hexDigit(byte >> 4), hexDigit(byte & 0xF)])
                }
            }
        }
        if name.count > maximumShown { out.append(contentsOf: [0xE2, 0x80, 0xA6]) }  // "…" in UTF-8
        return out
    }

    private static func hexDigit(_ value: UInt8) -> UInt8 { value < 10 ? 0x30 + value : 0x57 + value }

    /// One DER element of the given tag: its contents, the reader past it.
    @inline(__always)
    private static func element(_ reader: inout ByteReader, tag: UInt8) -> ByteReader? {
        guard reader.unreadBytes.first == tag, let (_, content) = anyElement(&reader) else { return nil }
        return content
    }

    /// One DER element: its tag (single-byte tags only; X.509 uses no
    /// other) and contents. Definite lengths of up to three bytes; the
    /// indefinite form, which DER forbids, is refused.
    @inline(__always)
    private static func anyElement(_ reader: inout ByteReader) -> (UInt8, ByteReader)? {
        guard let tag = reader.u8(), tag & 0x1F != 0x1F, let first = reader.u8() else { return nil }
        var length = Int(first)
        if first >= 0x80 {
            let count = Int(first & 0x7F)
            guard count >= 1, count <= 3 else { return nil }
            length = 0
            for _ in 0..<count {
                guard let byte = reader.u8() else { return nil }
                length = length << 8 | Int(byte)
            }
        }
        guard let content = reader.bytes(length) else { return nil }
        return (tag, ByteReader(content))
    }

    private static func matches(_ reader: ByteReader, _ expected: [UInt8]) -> Bool {
        reader.unreadBytes.elementsEqual(expected)
    }

    private static let subjectAltNameOID: [UInt8] = [0x55, 0x1D, 0x11]
    private static let commonNameOID: [UInt8] = [0x55, 0x04, 0x03]
    private static let spiffeScheme: [UInt8] = Array("spiffe://".utf8)
}
