/// Just enough HPACK (RFC 7541) to read the fields that name an HTTP/2
/// request or response in clear: `:method`, `:path`, `:authority`,
/// `:status`, `content-type` and `user-agent`. Every other field is stepped over without
/// decoding its value, so `authorization` or `cookie` values are never even
/// decoded. `decode` reads a connection's first header block in a direction,
/// where the decoder's dynamic table starts empty, so the entries one block
/// adds are all it can refer to; `HPACKDecoder` keeps the table across blocks
/// for following a whole direction (a mesh proxy's refusals, `HTTP2Refusal`).
enum HPACK {
    /// The fields wirecheck reads: those the evidence shows, and those a mesh
    /// proxy's refusal is recognised by (see `HTTP2Refusal`).
    enum Name: Equatable, Sendable {
        case authority, method, path, status, contentType, userAgent
        case contentLength, date, server, grpcStatus, grpcMessage, l5dProxyError, l5dProxyConnection
        case other

        /// Shown as evidence of a request or response (`Fields`; the
        /// user agent only when it is kubelet's prober).
        var isShown: Bool {
            switch self {
            case .authority, .method, .path, .status, .contentType, .userAgent: return true
            default: return false
            }
        }

        init(_ bytes: [UInt8]) {
            switch String(decoding: bytes, as: UTF8.self) {
            case ":authority": self = .authority
            case ":method": self = .method
            case ":path": self = .path
            case ":status": self = .status
            case "content-type": self = .contentType
            case "user-agent": self = .userAgent
            case "content-length": self = .contentLength
            case "date": self = .date
            case "server": self = .server
            case "grpc-status": self = .grpcStatus
            case "grpc-message": self = .grpcMessage
            case "l5d-proxy-error": self = .l5dProxyError
            case "l5d-proxy-connection": self = .l5dProxyConnection
            default: self = .other
            }
        }
    }

    /// A decoded header block's fields of interest (the first of each).
    struct Fields: Equatable {
        var method: String?
        var path: String?
        var authority: String?
        var status: String?
        var contentType: String?
        var userAgent: String?

        var isEmpty: Bool {
            method == nil && path == nil && authority == nil && status == nil && contentType == nil && userAgent == nil
        }
    }

    /// Longest value kept; longer ones are cut (the evidence shortens them anyway).
    static let valueLimit = 512
    /// Entries one block may add to the dynamic table before it stops being followed.
    static let entryLimit = 64

    /// The static table's names (RFC 7541 Appendix A), index 1 first.
    static let staticNames: [StaticString] = [
        ":authority", ":method", ":method", ":path", ":path", ":scheme", ":scheme",
        ":status", ":status", ":status", ":status", ":status", ":status", ":status",
        "accept-charset", "accept-encoding", "accept-language", "accept-ranges", "accept",
        "access-control-allow-origin", "age", "allow", "authorization", "cache-control",
        "content-disposition", "content-encoding", "content-language", "content-length",
        "content-location", "content-range", "content-type", "cookie", "date", "etag", "expect",
        "expires", "from", "host", "if-match", "if-modified-since", "if-none-match", "if-range",
        "if-unmodified-since", "last-modified", "link", "location", "max-forwards",
        "proxy-authenticate", "proxy-authorization", "range", "referer", "refresh", "retry-after",
        "server", "set-cookie", "strict-transport-security", "transfer-encoding", "user-agent",
        "vary", "via", "www-authenticate",
    ]
    /// The static entries that carry a value (the rest have an empty one).
    static let staticValues: [Int: String] = [
        2: "GET", 3: "POST", 4: "/", 5: "/index.html", 6: "http", 7: "https", 8: "200", 9: "204",
        10: "206", 11: "304", 12: "400", 13: "404", 14: "500", 16: "gzip, deflate",
    ]
    /// Each static entry's field and name length, built once.
    static let staticFields: [(name: Name, nameLength: Int)] = staticNames.map { name in
        let bytes = name.withUTF8Buffer { Array($0) }
        return (Name(bytes), bytes.count)
    }

    /// A static table entry (index 1...61): its field and value (nil where the value is not one of those read).
    static func staticEntry(_ index: Int) -> (Name, String?)? {
        guard index >= 1, index <= staticFields.count else { return nil }
        let name = staticFields[index - 1].name
        return (name, name == .other ? nil : staticValues[index] ?? "")
    }

    /// Decodes a whole header block; nil when it is not valid HPACK (or
    /// refers to a table entry it could not have).
    static func decode(_ block: UnsafeRawBufferPointer) -> Fields? {
        var reader = BlockReader(bytes: block)
        var fields = Fields()
        // Entries this block added, newest first (index 62 is the newest).
        var dynamic: [(Name, String?)] = []
        func entry(_ index: Int) -> (Name, String?)? {
            if index <= 61 { return staticEntry(index) }
            let position = index - 62
            return position < dynamic.count ? dynamic[position] : nil
        }
        while !reader.atEnd {
            guard let first = reader.peek() else { return nil }
            if first & 0x80 != 0 {
                // Indexed field: name and value from a table.
                guard let index = reader.integer(prefixBits: 7), index > 0, let (name, value) = entry(index) else { return nil }
                fields.record(name, value)
            } else if first & 0xE0 == 0x20 {
                // Dynamic table size update.
                guard reader.integer(prefixBits: 5) != nil else { return nil }
            } else {
                // A literal: with incremental indexing (01), without (0000) or never indexed (0001).
                let indexed = first & 0xC0 == 0x40
                guard let nameIndex = reader.integer(prefixBits: indexed ? 6 : 4) else { return nil }
                let name: Name
                if nameIndex == 0 {
                    guard let literal = reader.string(decode: true) else { return nil }
                    name = Name(literal ?? [])
                } else {
                    guard let (known, _) = entry(nameIndex) else { return nil }
                    name = known
                }
                guard let value = reader.string(decode: name.isShown) else { return nil }
                let text = value.map(Self.text)
                fields.record(name, text)
                if indexed {
                    guard dynamic.count < entryLimit else { return fields }
                    dynamic.insert((name, text), at: 0)
                }
            }
        }
        return fields
    }

    /// A value as evidence may hold it: printable ASCII, the rest as '.'.
    static func text(_ bytes: [UInt8]) -> String {
        String(decoding: bytes.prefix(valueLimit).map { (0x20...0x7E).contains($0) ? $0 : UInt8(ascii: ".") }, as: UTF8.self)
    }

    /// Reads a header block's integers and strings, never past its end.
    struct BlockReader {
        let bytes: UnsafeRawBufferPointer
        var offset = 0

        var atEnd: Bool { offset >= bytes.count }

        func peek() -> UInt8? { offset < bytes.count ? bytes[offset] : nil }

        /// An integer with an N-bit prefix (RFC 7541 5.1); nil if cut off or
        /// larger than any real header block could use.
        mutating func integer(prefixBits: Int) -> Int? {
            guard offset < bytes.count else { return nil }
            let mask = (1 << prefixBits) - 1
            var value = Int(bytes[offset]) & mask
            offset += 1
            guard value == mask else { return value }
            var shift = 0
            while true {
                guard offset < bytes.count, shift <= 21 else { return nil }
                let byte = bytes[offset]
                offset += 1
                value += Int(byte & 0x7F) << shift
                shift += 7
                if byte & 0x80 == 0 { return value }
            }
        }

        /// A string literal (RFC 7541 5.2): its bytes, Huffman-decoded, when
        /// `decode`; `.some(nil)` when stepped over; nil if invalid.
        mutating func string(decode: Bool) -> [UInt8]?? {
            guard let (raw, huffman) = rawString() else { return nil }
            guard decode else { return .some(nil) }
            if !huffman { return .some(Array(raw.prefix(HPACK.valueLimit))) }
            guard let decoded = HPACKHuffman.decode(raw, limit: HPACK.valueLimit) else { return nil }
            return .some(decoded)
        }

        /// A string literal's first `keep` octets and its whole length, both
        /// after Huffman decoding (the dynamic table counts entries by their
        /// decoded length); nil if invalid.
        mutating func string(keeping keep: Int) -> (kept: [UInt8], length: Int)? {
            guard let (raw, huffman) = rawString() else { return nil }
            if !huffman { return (Array(raw.prefix(keep)), raw.count) }
            var length = 0
            guard let decoded = HPACKHuffman.decode(raw, limit: keep, symbols: &length) else { return nil }
            return (decoded, length)
        }

        /// A string literal's bytes as sent, and whether they are Huffman-coded.
        private mutating func rawString() -> (UnsafeRawBufferPointer, Bool)? {
            guard let first = peek() else { return nil }
            let huffman = first & 0x80 != 0
            guard let length = integer(prefixBits: 7), length <= bytes.count - offset else { return nil }
            let raw = UnsafeRawBufferPointer(rebasing: bytes[offset..<(offset + length)])
            offset += length
            return (raw, huffman)
        }
    }
}

extension HPACK.Fields {
    mutating func record(_ name: HPACK.Name, _ value: String?) {
        switch name {
        case .authority: if authority == nil { authority = value ?? "" }
        case .method: if method == nil { method = value ?? "" }
        case .path: if path == nil { path = value ?? "" }
        case .status: if status == nil { status = value ?? "" }
        case .contentType: if contentType == nil { contentType = value ?? "" }
        case .userAgent: if userAgent == nil { userAgent = value ?? "" }
        default: break
        }
    }
}

/// HPACK's Huffman code (RFC 7541 Appendix B). The code is canonical: codes
/// of one length are consecutive in symbol order, each length's first code
/// follows from the counts of the shorter ones, so the table is just each
/// symbol's code length.
enum HPACKHuffman {
    /// Code length in bits of symbols 0...255 and of EOS (256).
    static let lengths: [UInt8] = [
        13, 23, 28, 28, 28, 28, 28, 28, 28, 24, 30, 28, 28, 30, 28, 28,
        28, 28, 28, 28, 28, 28, 30, 28, 28, 28, 28, 28, 28, 28, 28, 28,
        6, 10, 10, 12, 13, 6, 8, 11, 10, 10, 8, 11, 8, 6, 6, 6,
        5, 5, 5, 6, 6, 6, 6, 6, 6, 6, 7, 8, 15, 6, 12, 10,
        13, 6, 7, 7, 7, 7, 7, 7, 7, 7, 7, 7, 7, 7, 7, 7,
        7, 7, 7, 7, 7, 7, 7, 7, 8, 7, 8, 13, 19, 13, 14, 6,
        15, 5, 6, 5, 6, 5, 6, 6, 6, 5, 7, 7, 6, 6, 6, 5,
        6, 7, 6, 5, 5, 6, 7, 7, 7, 7, 7, 15, 11, 14, 13, 28,
        20, 22, 20, 20, 22, 22, 22, 23, 22, 23, 23, 23, 23, 23, 24, 23,
        24, 24, 22, 23, 24, 23, 23, 23, 23, 21, 22, 23, 22, 23, 23, 24,
        22, 21, 20, 22, 22, 23, 23, 21, 23, 22, 22, 24, 21, 22, 23, 23,
        21, 21, 22, 21, 23, 22, 23, 23, 20, 22, 22, 22, 23, 22, 22, 23,
        26, 26, 20, 19, 22, 23, 22, 25, 26, 26, 26, 27, 27, 26, 24, 25,
        19, 21, 26, 27, 27, 26, 27, 24, 21, 21, 26, 26, 28, 27, 27, 27,
        20, 24, 20, 21, 22, 21, 21, 23, 22, 22, 25, 25, 24, 24, 26, 23,
        26, 27, 26, 26, 27, 27, 27, 27, 27, 28, 27, 27, 27, 27, 27, 26,
        30,
    ]
    static let eos = 256
    static let longest = 30

    /// The canonical code's layout, built once: per length, the first code,
    /// how many codes, and where its symbols start in `symbols`.
    struct Table {
        var firstCode = [UInt32](repeating: 0, count: HPACKHuffman.longest + 1)
        var count = [Int](repeating: 0, count: HPACKHuffman.longest + 1)
        var start = [Int](repeating: 0, count: HPACKHuffman.longest + 1)
        /// Symbols ordered by code length, then value.
        var symbols: [Int] = []
    }

    static let table: Table = {
        var table = Table()
        for length in lengths { table.count[Int(length)] += 1 }
        table.symbols = (0...eos).sorted { (lengths[$0], $0) < (lengths[$1], $1) }
        var code: UInt32 = 0
        var start = 0
        for length in 1...longest {
            table.firstCode[length] = code
            table.start[length] = start
            code = (code + UInt32(table.count[length])) << 1
            start += table.count[length]
        }
        return table
    }()

    /// Decodes `bytes`, keeping at most `limit` symbols (the rest is still
    /// checked); nil on EOS inside the string, a code longer than 30 bits,
    /// or padding that is not the EOS code's first bits (all ones, at most 7).
    static func decode(_ bytes: UnsafeRawBufferPointer, limit: Int) -> [UInt8]? {
        var symbolCount = 0
        return decode(bytes, limit: limit, symbols: &symbolCount)
    }

    /// As above; `symbols` is set to how many the whole string decodes to.
    static func decode(_ bytes: UnsafeRawBufferPointer, limit: Int, symbols: inout Int) -> [UInt8]? {
        let table = Self.table
        symbols = 0
        var out: [UInt8] = []
        out.reserveCapacity(min(limit, bytes.count * 8 / 5))
        var code: UInt32 = 0
        var length = 0
        var allOnes = true
        for byte in bytes {
            for bit in (0..<8).reversed() {
                let one = (byte >> UInt8(bit)) & 1
                code = code << 1 | UInt32(one)
                length += 1
                allOnes = allOnes && one == 1
                let offset = Int(code) - Int(table.firstCode[length])
                if offset >= 0, offset < table.count[length] {
                    let symbol = table.symbols[table.start[length] + offset]
                    guard symbol != eos else { return nil }
                    if out.count < limit { out.append(UInt8(symbol)) }
                    symbols += 1
                    code = 0
                    length = 0
                    allOnes = true
                } else if length >= longest {
                    return nil
                }
            }
        }
        guard length <= 7, allOnes else { return nil }
        return out
    }
}
