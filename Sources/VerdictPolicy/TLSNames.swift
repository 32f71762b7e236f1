/// Names from the IANA TLS registries for what a handshake negotiated, so a
/// report says `TLS_AES_128_GCM_SHA256` and `X25519MLKEM768` rather than
/// numbers an auditor must look up.
public enum TLSNames {
    /// A key exchange group's registry name, and whether it resists a
    /// quantum computer (ML-KEM, alone or in a hybrid with a classical
    /// curve): traffic recorded now and decrypted later is what such
    /// groups are for.
    public static func group(_ group: UInt16) -> (name: String, postQuantum: Bool)? {
        switch group {
        case 0x0013: return ("secp192r1", false)
        case 0x0015: return ("secp224r1", false)
        case 0x0016: return ("secp256k1", false)
        case 0x0017: return ("secp256r1", false)
        case 0x0018: return ("secp384r1", false)
        case 0x0019: return ("secp521r1", false)
        case 0x001A: return ("brainpoolP256r1", false)
        case 0x001B: return ("brainpoolP384r1", false)
        case 0x001C: return ("brainpoolP512r1", false)
        case 0x001D: return ("x25519", false)
        case 0x001E: return ("x448", false)
        case 0x001F: return ("brainpoolP256r1tls13", false)
        case 0x0020: return ("brainpoolP384r1tls13", false)
        case 0x0021: return ("brainpoolP512r1tls13", false)
        case 0x0100: return ("ffdhe2048", false)
        case 0x0101: return ("ffdhe3072", false)
        case 0x0102: return ("ffdhe4096", false)
        case 0x0103: return ("ffdhe6144", false)
        case 0x0104: return ("ffdhe8192", false)
        case 0x0200: return ("MLKEM512", true)
        case 0x0201: return ("MLKEM768", true)
        case 0x0202: return ("MLKEM1024", true)
        case 0x11EB: return ("SecP256r1MLKEM768", true)
        case 0x11EC: return ("X25519MLKEM768", true)
        case 0x11ED: return ("SecP384r1MLKEM1024", true)
        // The drafts' hybrid with Kyber, before ML-KEM was standardised (Chrome 124 to 130).
        case 0x6399: return ("X25519Kyber768Draft00", true)
        case 0x639A: return ("SecP256r1Kyber768Draft00", true)
        default: return nil
        }
    }

    /// A cipher suite's registry name: the suites OpenSSL knows (its
    /// `ciphers -V -stdname` list), the TLS 1.3 CCM ones, and the broken
    /// ones older peers still pick (RC4, DES, export grade); nil for others.
    public static func cipherSuite(_ suite: UInt16) -> String? {
        // A switch, compiled to a jump table or a search: no hashing per flow.
        switch suite {
        case 0x0000: return "TLS_NULL_WITH_NULL_NULL"
        case 0x0001: return "TLS_RSA_WITH_NULL_MD5"
        case 0x0002: return "TLS_RSA_WITH_NULL_SHA"
        case 0x0003: return "TLS_RSA_EXPORT_WITH_RC4_40_MD5"
        case 0x0004: return "TLS_RSA_WITH_RC4_128_MD5"
        case 0x0005: return "TLS_RSA_WITH_RC4_128_SHA"
        case 0x0009: return "TLS_RSA_WITH_DES_CBC_SHA"
        case 0x000A: return "TLS_RSA_WITH_3DES_EDE_CBC_SHA"
        case 0x0015: return "TLS_DHE_RSA_WITH_DES_CBC_SHA"
        case 0x0016: return "TLS_DHE_RSA_WITH_3DES_EDE_CBC_SHA"
        case 0x0018: return "TLS_DH_anon_WITH_RC4_128_MD5"
        case 0x002C: return "TLS_PSK_WITH_NULL_SHA"
        case 0x002D: return "TLS_DHE_PSK_WITH_NULL_SHA"
        case 0x002E: return "TLS_RSA_PSK_WITH_NULL_SHA"
        case 0x002F: return "TLS_RSA_WITH_AES_128_CBC_SHA"
        case 0x0032: return "TLS_DHE_DSS_WITH_AES_128_CBC_SHA"
        case 0x0033: return "TLS_DHE_RSA_WITH_AES_128_CBC_SHA"
        case 0x0034: return "TLS_DH_anon_WITH_AES_128_CBC_SHA"
        case 0x0035: return "TLS_RSA_WITH_AES_256_CBC_SHA"
        case 0x0038: return "TLS_DHE_DSS_WITH_AES_256_CBC_SHA"
        case 0x0039: return "TLS_DHE_RSA_WITH_AES_256_CBC_SHA"
        case 0x003A: return "TLS_DH_anon_WITH_AES_256_CBC_SHA"
        case 0x003B: return "TLS_RSA_WITH_NULL_SHA256"
        case 0x003C: return "TLS_RSA_WITH_AES_128_CBC_SHA256"
        case 0x003D: return "TLS_RSA_WITH_AES_256_CBC_SHA256"
        case 0x0040: return "TLS_DHE_DSS_WITH_AES_128_CBC_SHA256"
        case 0x0041: return "TLS_RSA_WITH_CAMELLIA_128_CBC_SHA"
        case 0x0044: return "TLS_DHE_DSS_WITH_CAMELLIA_128_CBC_SHA"
        case 0x0045: return "TLS_DHE_RSA_WITH_CAMELLIA_128_CBC_SHA"
        case 0x0046: return "TLS_DH_anon_WITH_CAMELLIA_128_CBC_SHA"
        case 0x0067: return "TLS_DHE_RSA_WITH_AES_128_CBC_SHA256"
        case 0x006A: return "TLS_DHE_DSS_WITH_AES_256_CBC_SHA256"
        case 0x006B: return "TLS_DHE_RSA_WITH_AES_256_CBC_SHA256"
        case 0x006C: return "TLS_DH_anon_WITH_AES_128_CBC_SHA256"
        case 0x006D: return "TLS_DH_anon_WITH_AES_256_CBC_SHA256"
        case 0x0084: return "TLS_RSA_WITH_CAMELLIA_256_CBC_SHA"
        case 0x0087: return "TLS_DHE_DSS_WITH_CAMELLIA_256_CBC_SHA"
        case 0x0088: return "TLS_DHE_RSA_WITH_CAMELLIA_256_CBC_SHA"
        case 0x0089: return "TLS_DH_anon_WITH_CAMELLIA_256_CBC_SHA"
        case 0x008C: return "TLS_PSK_WITH_AES_128_CBC_SHA"
        case 0x008D: return "TLS_PSK_WITH_AES_256_CBC_SHA"
        case 0x0090: return "TLS_DHE_PSK_WITH_AES_128_CBC_SHA"
        case 0x0091: return "TLS_DHE_PSK_WITH_AES_256_CBC_SHA"
        case 0x0094: return "TLS_RSA_PSK_WITH_AES_128_CBC_SHA"
        case 0x0095: return "TLS_RSA_PSK_WITH_AES_256_CBC_SHA"
        case 0x009C: return "TLS_RSA_WITH_AES_128_GCM_SHA256"
        case 0x009D: return "TLS_RSA_WITH_AES_256_GCM_SHA384"
        case 0x009E: return "TLS_DHE_RSA_WITH_AES_128_GCM_SHA256"
        case 0x009F: return "TLS_DHE_RSA_WITH_AES_256_GCM_SHA384"
        case 0x00A2: return "TLS_DHE_DSS_WITH_AES_128_GCM_SHA256"
        case 0x00A3: return "TLS_DHE_DSS_WITH_AES_256_GCM_SHA384"
        case 0x00A6: return "TLS_DH_anon_WITH_AES_128_GCM_SHA256"
        case 0x00A7: return "TLS_DH_anon_WITH_AES_256_GCM_SHA384"
        case 0x00A8: return "TLS_PSK_WITH_AES_128_GCM_SHA256"
        case 0x00A9: return "TLS_PSK_WITH_AES_256_GCM_SHA384"
        case 0x00AA: return "TLS_DHE_PSK_WITH_AES_128_GCM_SHA256"
        case 0x00AB: return "TLS_DHE_PSK_WITH_AES_256_GCM_SHA384"
        case 0x00AC: return "TLS_RSA_PSK_WITH_AES_128_GCM_SHA256"
        case 0x00AD: return "TLS_RSA_PSK_WITH_AES_256_GCM_SHA384"
        case 0x00AE: return "TLS_PSK_WITH_AES_128_CBC_SHA256"
        case 0x00AF: return "TLS_PSK_WITH_AES_256_CBC_SHA384"
        case 0x00B0: return "TLS_PSK_WITH_NULL_SHA256"
        case 0x00B1: return "TLS_PSK_WITH_NULL_SHA384"
        case 0x00B2: return "TLS_DHE_PSK_WITH_AES_128_CBC_SHA256"
        case 0x00B3: return "TLS_DHE_PSK_WITH_AES_256_CBC_SHA384"
        case 0x00B4: return "TLS_DHE_PSK_WITH_NULL_SHA256"
        case 0x00B5: return "TLS_DHE_PSK_WITH_NULL_SHA384"
        case 0x00B6: return "TLS_RSA_PSK_WITH_AES_128_CBC_SHA256"
        case 0x00B7: return "TLS_RSA_PSK_WITH_AES_256_CBC_SHA384"
        case 0x00B8: return "TLS_RSA_PSK_WITH_NULL_SHA256"
        case 0x00B9: return "TLS_RSA_PSK_WITH_NULL_SHA384"
        case 0x00BA: return "TLS_RSA_WITH_CAMELLIA_128_CBC_SHA256"
        case 0x00BD: return "TLS_DHE_DSS_WITH_CAMELLIA_128_CBC_SHA256"
        case 0x00BE: return "TLS_DHE_RSA_WITH_CAMELLIA_128_CBC_SHA256"
        case 0x00BF: return "TLS_DH_anon_WITH_CAMELLIA_128_CBC_SHA256"
        case 0x00C0: return "TLS_RSA_WITH_CAMELLIA_256_CBC_SHA256"
        case 0x00C3: return "TLS_DHE_DSS_WITH_CAMELLIA_256_CBC_SHA256"
        case 0x00C4: return "TLS_DHE_RSA_WITH_CAMELLIA_256_CBC_SHA256"
        case 0x00C5: return "TLS_DH_anon_WITH_CAMELLIA_256_CBC_SHA256"
        case 0x1301: return "TLS_AES_128_GCM_SHA256"
        case 0x1302: return "TLS_AES_256_GCM_SHA384"
        case 0x1303: return "TLS_CHACHA20_POLY1305_SHA256"
        case 0x1304: return "TLS_AES_128_CCM_SHA256"
        case 0x1305: return "TLS_AES_128_CCM_8_SHA256"
        case 0xC006: return "TLS_ECDHE_ECDSA_WITH_NULL_SHA"
        case 0xC007: return "TLS_ECDHE_ECDSA_WITH_RC4_128_SHA"
        case 0xC008: return "TLS_ECDHE_ECDSA_WITH_3DES_EDE_CBC_SHA"
        case 0xC009: return "TLS_ECDHE_ECDSA_WITH_AES_128_CBC_SHA"
        case 0xC00A: return "TLS_ECDHE_ECDSA_WITH_AES_256_CBC_SHA"
        case 0xC010: return "TLS_ECDHE_RSA_WITH_NULL_SHA"
        case 0xC011: return "TLS_ECDHE_RSA_WITH_RC4_128_SHA"
        case 0xC012: return "TLS_ECDHE_RSA_WITH_3DES_EDE_CBC_SHA"
        case 0xC013: return "TLS_ECDHE_RSA_WITH_AES_128_CBC_SHA"
        case 0xC014: return "TLS_ECDHE_RSA_WITH_AES_256_CBC_SHA"
        case 0xC015: return "TLS_ECDH_anon_WITH_NULL_SHA"
        case 0xC018: return "TLS_ECDH_anon_WITH_AES_128_CBC_SHA"
        case 0xC019: return "TLS_ECDH_anon_WITH_AES_256_CBC_SHA"
        case 0xC01D: return "TLS_SRP_SHA_WITH_AES_128_CBC_SHA"
        case 0xC01E: return "TLS_SRP_SHA_RSA_WITH_AES_128_CBC_SHA"
        case 0xC01F: return "TLS_SRP_SHA_DSS_WITH_AES_128_CBC_SHA"
        case 0xC020: return "TLS_SRP_SHA_WITH_AES_256_CBC_SHA"
        case 0xC021: return "TLS_SRP_SHA_RSA_WITH_AES_256_CBC_SHA"
        case 0xC022: return "TLS_SRP_SHA_DSS_WITH_AES_256_CBC_SHA"
        case 0xC023: return "TLS_ECDHE_ECDSA_WITH_AES_128_CBC_SHA256"
        case 0xC024: return "TLS_ECDHE_ECDSA_WITH_AES_256_CBC_SHA384"
        case 0xC027: return "TLS_ECDHE_RSA_WITH_AES_128_CBC_SHA256"
        case 0xC028: return "TLS_ECDHE_RSA_WITH_AES_256_CBC_SHA384"
        case 0xC02B: return "TLS_ECDHE_ECDSA_WITH_AES_128_GCM_SHA256"
        case 0xC02C: return "TLS_ECDHE_ECDSA_WITH_AES_256_GCM_SHA384"
        case 0xC02F: return "TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256"
        case 0xC030: return "TLS_ECDHE_RSA_WITH_AES_256_GCM_SHA384"
        case 0xC035: return "TLS_ECDHE_PSK_WITH_AES_128_CBC_SHA"
        case 0xC036: return "TLS_ECDHE_PSK_WITH_AES_256_CBC_SHA"
        case 0xC037: return "TLS_ECDHE_PSK_WITH_AES_128_CBC_SHA256"
        case 0xC038: return "TLS_ECDHE_PSK_WITH_AES_256_CBC_SHA384"
        case 0xC039: return "TLS_ECDHE_PSK_WITH_NULL_SHA"
        case 0xC03A: return "TLS_ECDHE_PSK_WITH_NULL_SHA256"
        case 0xC03B: return "TLS_ECDHE_PSK_WITH_NULL_SHA384"
        case 0xC050: return "TLS_RSA_WITH_ARIA_128_GCM_SHA256"
        case 0xC051: return "TLS_RSA_WITH_ARIA_256_GCM_SHA384"
        case 0xC052: return "TLS_DHE_RSA_WITH_ARIA_128_GCM_SHA256"
        case 0xC053: return "TLS_DHE_RSA_WITH_ARIA_256_GCM_SHA384"
        case 0xC056: return "TLS_DHE_DSS_WITH_ARIA_128_GCM_SHA256"
        case 0xC057: return "TLS_DHE_DSS_WITH_ARIA_256_GCM_SHA384"
        case 0xC05C: return "TLS_ECDHE_ECDSA_WITH_ARIA_128_GCM_SHA256"
        case 0xC05D: return "TLS_ECDHE_ECDSA_WITH_ARIA_256_GCM_SHA384"
        case 0xC060: return "TLS_ECDHE_RSA_WITH_ARIA_128_GCM_SHA256"
        case 0xC061: return "TLS_ECDHE_RSA_WITH_ARIA_256_GCM_SHA384"
        case 0xC06A: return "TLS_PSK_WITH_ARIA_128_GCM_SHA256"
        case 0xC06B: return "TLS_PSK_WITH_ARIA_256_GCM_SHA384"
        case 0xC06C: return "TLS_DHE_PSK_WITH_ARIA_128_GCM_SHA256"
        case 0xC06D: return "TLS_DHE_PSK_WITH_ARIA_256_GCM_SHA384"
        case 0xC06E: return "TLS_RSA_PSK_WITH_ARIA_128_GCM_SHA256"
        case 0xC06F: return "TLS_RSA_PSK_WITH_ARIA_256_GCM_SHA384"
        case 0xC072: return "TLS_ECDHE_ECDSA_WITH_CAMELLIA_128_CBC_SHA256"
        case 0xC073: return "TLS_ECDHE_ECDSA_WITH_CAMELLIA_256_CBC_SHA384"
        case 0xC076: return "TLS_ECDHE_RSA_WITH_CAMELLIA_128_CBC_SHA256"
        case 0xC077: return "TLS_ECDHE_RSA_WITH_CAMELLIA_256_CBC_SHA384"
        case 0xC094: return "TLS_PSK_WITH_CAMELLIA_128_CBC_SHA256"
        case 0xC095: return "TLS_PSK_WITH_CAMELLIA_256_CBC_SHA384"
        case 0xC096: return "TLS_DHE_PSK_WITH_CAMELLIA_128_CBC_SHA256"
        case 0xC097: return "TLS_DHE_PSK_WITH_CAMELLIA_256_CBC_SHA384"
        case 0xC098: return "TLS_RSA_PSK_WITH_CAMELLIA_128_CBC_SHA256"
        case 0xC099: return "TLS_RSA_PSK_WITH_CAMELLIA_256_CBC_SHA384"
        case 0xC09A: return "TLS_ECDHE_PSK_WITH_CAMELLIA_128_CBC_SHA256"
        case 0xC09B: return "TLS_ECDHE_PSK_WITH_CAMELLIA_256_CBC_SHA384"
        case 0xC09C: return "TLS_RSA_WITH_AES_128_CCM"
        case 0xC09D: return "TLS_RSA_WITH_AES_256_CCM"
        case 0xC09E: return "TLS_DHE_RSA_WITH_AES_128_CCM"
        case 0xC09F: return "TLS_DHE_RSA_WITH_AES_256_CCM"
        case 0xC0A0: return "TLS_RSA_WITH_AES_128_CCM_8"
        case 0xC0A1: return "TLS_RSA_WITH_AES_256_CCM_8"
        case 0xC0A2: return "TLS_DHE_RSA_WITH_AES_128_CCM_8"
        case 0xC0A3: return "TLS_DHE_RSA_WITH_AES_256_CCM_8"
        case 0xC0A4: return "TLS_PSK_WITH_AES_128_CCM"
        case 0xC0A5: return "TLS_PSK_WITH_AES_256_CCM"
        case 0xC0A6: return "TLS_DHE_PSK_WITH_AES_128_CCM"
        case 0xC0A7: return "TLS_DHE_PSK_WITH_AES_256_CCM"
        case 0xC0A8: return "TLS_PSK_WITH_AES_128_CCM_8"
        case 0xC0A9: return "TLS_PSK_WITH_AES_256_CCM_8"
        case 0xC0AA: return "TLS_PSK_DHE_WITH_AES_128_CCM_8"
        case 0xC0AB: return "TLS_PSK_DHE_WITH_AES_256_CCM_8"
        case 0xC0AC: return "TLS_ECDHE_ECDSA_WITH_AES_128_CCM"
        case 0xC0AD: return "TLS_ECDHE_ECDSA_WITH_AES_256_CCM"
        case 0xC0AE: return "TLS_ECDHE_ECDSA_WITH_AES_128_CCM_8"
        case 0xC0AF: return "TLS_ECDHE_ECDSA_WITH_AES_256_CCM_8"
        case 0xCCA8: return "TLS_ECDHE_RSA_WITH_CHACHA20_POLY1305_SHA256"
        case 0xCCA9: return "TLS_ECDHE_ECDSA_WITH_CHACHA20_POLY1305_SHA256"
        case 0xCCAA: return "TLS_DHE_RSA_WITH_CHACHA20_POLY1305_SHA256"
        case 0xCCAB: return "TLS_PSK_WITH_CHACHA20_POLY1305_SHA256"
        case 0xCCAC: return "TLS_ECDHE_PSK_WITH_CHACHA20_POLY1305_SHA256"
        case 0xCCAD: return "TLS_DHE_PSK_WITH_CHACHA20_POLY1305_SHA256"
        case 0xCCAE: return "TLS_RSA_PSK_WITH_CHACHA20_POLY1305_SHA256"
        default: return nil
        }
    }
}
