import PacketDecoding

/// Why a flow got its verdict: the facts, spelled out when the report is
/// written. Most flows of a busy capture are TLS, or cleartext, in both
/// directions; building their sentence per flow as an interpolated String
/// (allocated on the reporting thread, freed after the line was written)
/// was a fifth of judging a flow. Every other reason is kept as the text it
/// was built as: a string literal or interpolation makes one.
public struct Reason: Sendable, Equatable, CustomStringConvertible, ExpressibleByStringInterpolation {
    enum Form: Sendable, Equatable {
        /// Every byte both ways is TLS record framing: the record counts,
        /// the upgrade before it (if any), whether it was picked up
        /// mid-stream and, if so, whether a hello was seen all the same (a
        /// stream whose first captured byte began one).
        case tlsFraming(clientRecords: Int, serverRecords: Int, preamble: String?, pickedUpMidStream: Bool, helloSeen: Bool = false)
        /// Cleartext of the named protocol both ways.
        case cleartextBothWays(String)
        case text(String)
    }

    var form: Form

    /// Appended to a TLS reason when the stream was picked up mid-way.
    static let pickedUpMidStream: StaticString = "; picked up mid-stream, framing verified after resynchronising, handshake not seen"
    /// The same when a hello was seen all the same: "handshake not seen"
    /// beside the TLS version and SNI it showed read as a contradiction.
    static let pickedUpMidStreamHelloSeen: StaticString = "; picked up mid-stream, framing verified after resynchronising, part of the handshake seen"

    init(_ form: Form) { self.form = form }

    public init(text: String) { form = .text(text) }

    public init(stringLiteral text: String) { form = .text(text) }

    public init(stringInterpolation: DefaultStringInterpolation) {
        form = .text(String(stringInterpolation: stringInterpolation))
    }

    /// The sentence, appended to `out`.
    public func write(to out: inout ByteWriter) {
        switch form {
        case let .tlsFraming(clientRecords, serverRecords, preamble, pickedUpMidStream, helloSeen):
            out.append("every byte in both directions is TLS record framing (")
            out.appendDecimal(clientRecords)
            out.append(" client, ")
            out.appendDecimal(serverRecords)
            out.append(" server records)")
            if let preamble {
                out.append(" after an upgrade: ")
                out.append(preamble)
            }
            if pickedUpMidStream { out.append(helloSeen ? Self.pickedUpMidStreamHelloSeen : Self.pickedUpMidStream) }
        case .cleartextBothWays(let name):
            out.append("cleartext ")
            out.append(name)
            out.append(" in both directions")
        case .text(let text):
            out.append(text)
        }
    }

    public var description: String {
        if case .text(let text) = form { return text }
        var out = ByteWriter(capacity: 160)
        write(to: &out)
        return out.string
    }
}
