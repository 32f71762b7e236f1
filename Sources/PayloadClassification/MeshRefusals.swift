/// Follows the server's side of HTTP/1.x, from its first byte, for as long as
/// all it has sent is a mesh proxy's refusals by policy (`Probes.proxyRefusal`):
/// a client that keeps its connection open (most HTTP libraries do) sends its
/// next request on it, and Linkerd refuses that one too, with the connection
/// kept (its policy refusals do not close it). Only a direction opened by a
/// refusal holds one (out of line); it keeps the bytes of the answer under
/// way, at most `pendingLimit`.
struct HTTP1Refusals: Sendable {
    private var pending: [UInt8] = []
    private var first: (refusal: ProxyRefusal, evidence: String)?
    private var refusals = 0
    /// Bytes followed, all of them whole refusals or the start of the next.
    private(set) var walked = 0

    /// Longest answer waited for; a proxy's refusal is a few hundred bytes.
    static let pendingLimit = 4_096

    init() {}

    /// Follows `bytes`; false once the direction is more than refusals.
    mutating func receive(_ bytes: UnsafeRawBufferPointer) -> Bool {
        pending.append(contentsOf: bytes)
        walked += bytes.count
        while true {
            let found: (end: Int, forbidden: Bool, answer: (refusal: ProxyRefusal, evidence: String)?)? = pending.withUnsafeBytes { raw in
                guard let end = Probes.find(raw, "\r\n\r\n") else { return nil }
                let forbidden = Probes.startsWith(raw, "HTTP/1.1 403") || Probes.startsWith(raw, "HTTP/1.0 403")
                return (end, forbidden, Probes.proxyRefusal(raw, headEnd: end))
            }
            guard let found else { break }
            guard let answer = found.answer else {
                // Envoy's denial may still be coming; anything else is not a refusal.
                guard found.forbidden, pending.count < found.end + 4 + Probes.istioDenial.count else { return false }
                break
            }
            guard first == nil || first?.refusal.mesh == answer.refusal.mesh else { return false }
            if first == nil { first = answer }
            refusals += 1
            pending.removeFirst(answer.refusal.responseLength)
        }
        return pending.count <= Self.pendingLimit
    }

    /// By what it holds, not its capacity (the allocator's rounding, which
    /// depends on the heap's history; see `WindowBuffer`).
    var heldBytes: Int { pending.count }

    /// The refusals, when the direction so far is nothing else and ends where one ends.
    func outcome() -> (refusal: ProxyRefusal, evidence: String)? {
        guard let first, pending.isEmpty else { return nil }
        let evidence = refusals > 1 ? first.evidence + "; \(refusals) requests refused" : first.evidence
        return (ProxyRefusal(mesh: first.refusal.mesh, responseLength: walked), evidence)
    }
}

/// A server direction followed while it may be all a mesh proxy's refusals.
enum RefusalWatch: Sendable {
    case http1(HTTP1Refusals)
    case http2(HTTP2Refusal)

    /// Follows `bytes`; false once the direction is more than refusals.
    mutating func receive(_ bytes: UnsafeRawBufferPointer) -> Bool {
        // The watch is taken out and the slot emptied before it changes, so
        // that its buffers are not shared with the copy left behind (which
        // would copy them whole at every segment).
        switch self {
        case .http1(var watch):
            self = .http1(HTTP1Refusals())
            let refusalsOnly = watch.receive(bytes)
            self = .http1(watch)
            return refusalsOnly
        case .http2(var watch):
            self = .http1(HTTP1Refusals())
            let refusalsOnly = watch.receive(bytes)
            self = .http2(watch)
            return refusalsOnly
        }
    }

    /// Memory it holds besides its fixed size.
    var heldBytes: Int {
        switch self {
        case .http1(let watch): return watch.heldBytes
        case .http2(let watch): return watch.heldBytes
        }
    }

    func outcome() -> (refusal: ProxyRefusal, evidence: String)? {
        switch self {
        case .http1(let watch): return watch.outcome()
        case .http2(let watch): return watch.outcome()
        }
    }
}
