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
                guard let end = Probes.headEnd(raw) else { return nil }
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

/// A server direction followed while it may be all a mesh proxy's refusals:
/// over HTTP/1 or over HTTP/2, exactly one of the two set.
///
/// Two optionals rather than an enum of the two: as an enum, the case's tag
/// sat in a spare bit of a word the smaller (HTTP/1) watch leaves unset, and
/// valgrind's memcheck reported each destroy of it as a jump on an
/// uninitialised value (a 30-line program of the same shape, safe Swift
/// only, does the same), which made memcheck runs over captures useless.
struct RefusalWatch: Sendable {
    private var overHTTP1: HTTP1Refusals?
    private var overHTTP2: HTTP2Refusal?

    static func http1(_ watch: HTTP1Refusals) -> RefusalWatch { RefusalWatch(overHTTP1: watch, overHTTP2: nil) }
    static func http2(_ watch: HTTP2Refusal) -> RefusalWatch { RefusalWatch(overHTTP1: nil, overHTTP2: watch) }

    /// Follows `bytes`; false once the direction is more than refusals.
    mutating func receive(_ bytes: UnsafeRawBufferPointer) -> Bool {
        // The watch is taken out and its slot emptied before it changes, so
        // that its buffers are not shared with the copy left behind (which
        // would copy them whole at every segment).
        if var watch = overHTTP1 {
            overHTTP1 = nil
            let refusalsOnly = watch.receive(bytes)
            overHTTP1 = watch
            return refusalsOnly
        }
        if var watch = overHTTP2 {
            overHTTP2 = nil
            let refusalsOnly = watch.receive(bytes)
            overHTTP2 = watch
            return refusalsOnly
        }
        return false
    }

    /// Memory it holds besides its fixed size.
    var heldBytes: Int { overHTTP1?.heldBytes ?? overHTTP2?.heldBytes ?? 0 }

    func outcome() -> (refusal: ProxyRefusal, evidence: String)? {
        overHTTP1?.outcome() ?? overHTTP2?.outcome()
    }
}
