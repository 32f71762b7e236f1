import PacketDecoding

/// The servers that flows failing the run went to, most flows first: what an
/// auditor acts on ("which services took cleartext, from how many clients"),
/// where a busy node's capture gives thousands of flow lines. Bounded, at a
/// few hundred bytes per server and no allocation of its own: the first
/// `serverLimit` servers (and verdicts) seen are tracked, flows to any later
/// one only counted; distinct clients are counted up to `clientLimit`.
public struct FailingServers: Sendable {
    public struct Entry: Sendable {
        public var server: Endpoint
        public var verdict: Verdict
        public var flows = 0
        /// Distinct client addresses, counted up to `clientLimit`.
        public private(set) var clients = 0
        /// Kept inline: an array per server was two allocations for each
        /// new one, most of the reporting thread's added cost on a capture
        /// of many short flows to many servers.
        private var clientAddresses = InlineArray<8, IPAddress>(repeating: IPAddress(ipv4: 0))
        private var protocolCount = 0
        private var protocolNames = InlineArray<4, String>(repeating: "")

        init(server: Endpoint, verdict: Verdict) {
            self.server = server
            self.verdict = verdict
        }

        /// More clients than `clientLimit` may have connected.
        public var clientsCapped: Bool { clients >= FailingServers.clientLimit }

        /// Protocols the flows spoke (the first few, as named in the flow reports).
        public var protocols: [String] { (0..<protocolCount).map { protocolNames[$0] } }

        fileprivate mutating func add(client: IPAddress, protocolName: String?) {
            flows += 1
            if clients < clientAddresses.count, !(0..<clients).contains(where: { clientAddresses[$0] == client }) {
                clientAddresses[clients] = client
                clients += 1
            }
            if let protocolName, protocolCount < protocolNames.count,
               !(0..<protocolCount).contains(where: { protocolNames[$0] == protocolName }) {
                protocolNames[protocolCount] = protocolName
                protocolCount += 1
            }
        }
    }

    public static let serverLimit = 10_000
    public static let clientLimit = InlineArray<8, IPAddress>.count

    /// Where each tracked entry lies: an open-addressing table of
    /// `indexSlots` words (16 bits of the key's hash above the entry's
    /// position plus one, which `serverLimit` keeps within the low 16 bits;
    /// 0 empty), probed linearly, at most a third full. A
    /// dictionary here hashed every failing flow's key through SipHash and
    /// probed storage of some 700 KB; a busy capture's flows to servers past
    /// the limit each missed in it (the summary's largest cost on the
    /// reporting thread, perf). Made at the first failing flow.
    private var index: [UInt32] = []
    private static let indexSlots = 32_768
    /// Keys are mixed with these (chosen per run), so that traffic cannot
    /// be made to collide in the index.
    private let seeds: (UInt64, UInt64)
    private var entries: [Entry] = []
    /// Failing flows to servers beyond `serverLimit`.
    public private(set) var untrackedFlows = 0

    public init() {
        var generator = SystemRandomNumberGenerator()
        seeds = (generator.next(), generator.next())
    }

    /// 64 bits of `server` and `verdict`, keyed: the index's slot and tag.
    @inline(__always)
    private func hash(server: Endpoint, verdict: Verdict) -> UInt64 {
        let second = server.address.high ^ UInt64(server.port) << 48 ^ UInt64(verdict.rank) << 44
            ^ (server.address.isIPv6 ? 1 << 40 : 0)
        let (high, low) = (server.address.low ^ seeds.0).multipliedFullWidth(by: second ^ seeds.1)
        return high ^ low
    }

    public var isEmpty: Bool { entries.isEmpty && untrackedFlows == 0 }

    mutating func add(_ report: FlowReport) {
        let server = report.server, verdict = report.verdict
        if index.isEmpty {
            index = [UInt32](repeating: 0, count: Self.indexSlots)
            entries.reserveCapacity(256)
        }
        let hash = hash(server: server, verdict: verdict)
        // The tag: 16 bits of the hash the slot number does not use.
        let tag = UInt32(truncatingIfNeeded: hash >> 48) << 16
        let mask = Self.indexSlots - 1
        var slot = Int(truncatingIfNeeded: hash) & mask
        let position: Int
        while true {
            let word = index[slot]
            if word == 0 {
                guard entries.count < Self.serverLimit else {
                    untrackedFlows += 1
                    return
                }
                position = entries.count
                index[slot] = tag | UInt32(position + 1)
                entries.append(Entry(server: server, verdict: verdict))
                break
            }
            if word & 0xFFFF_0000 == tag {
                let candidate = Int(word & 0xFFFF) - 1
                if entries[candidate].server == server, entries[candidate].verdict == verdict {
                    position = candidate
                    break
                }
            }
            slot = (slot + 1) & mask
        }
        entries[position].add(client: report.client.address, protocolName: report.protocolName)
    }

    /// Most flows first; ties by verdict, then server, so output is stable.
    public var ranked: [Entry] { ranked(first: entries.count) }

    /// The first `count` entries of `ranked`. The entries' positions are
    /// sorted, not the entries: each is some 300 bytes holding four strings,
    /// and sorting 10 000 of them took about 57 M instructions (15 ms) at the
    /// end of a replay, when every other thread had finished.
    public func ranked(first count: Int) -> [Entry] {
        entries.withUnsafeBufferPointer { table in
            let order = table.indices.sorted { a, b in
                if table[a].flows != table[b].flows { return table[a].flows > table[b].flows }
                if table[a].verdict != table[b].verdict { return table[a].verdict < table[b].verdict }
                return table[a].server < table[b].server
            }
            return order.prefix(max(0, count)).map { table[$0] }
        }
    }

    /// Servers (and verdicts) tracked: at most `serverLimit`.
    public var count: Int { entries.count }

    /// Failing flows to the servers tracked (`untrackedFlows` besides).
    public var trackedFlows: Int {
        entries.withUnsafeBufferPointer { table in
            var flows = 0
            for position in table.indices { flows += table[position].flows }
            return flows
        }
    }
}
