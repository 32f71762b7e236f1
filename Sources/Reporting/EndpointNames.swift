import PacketDecoding

/// Names for addresses — pods, services, nodes — shown beside them in
/// reports: on a node, `10.244.3.17:8080` means little until it reads
/// `shop/orders-7d9f`. Read from a text file the user makes with kubectl
/// (the README gives the commands): each line is one or more addresses, then
/// the name; `#` starts a comment. Lines with no address first (a pending
/// pod, a headless service's `None`) are skipped and counted.
public struct EndpointNames: Sendable {
    private var names: [IPAddress: String] = [:]
    /// Further names given for an address already named (host-network pods
    /// all have their node's address): counted, shown as "(+N)".
    private var others: [IPAddress: Int] = [:]
    public private(set) var skippedLines = 0

    public init() {}

    public init(parsing text: String) {
        for rawLine in text.split(omittingEmptySubsequences: true, whereSeparator: \.isNewline) {
            let line = rawLine.prefix { $0 != "#" }
            var fields = line.split(whereSeparator: { $0 == " " || $0 == "\t" })[...]
            if fields.isEmpty { continue }
            var addresses: [IPAddress] = []
            while let field = fields.first, let address = IPAddress(parsing: field) {
                addresses.append(address)
                fields = fields.dropFirst()
            }
            guard !addresses.isEmpty, !fields.isEmpty else {
                skippedLines += 1
                continue
            }
            let name = fields.joined(separator: " ")
            for address in addresses { add(name, for: address) }
        }
    }

    private mutating func add(_ name: String, for address: IPAddress) {
        guard let known = names[address] else {
            names[address] = name
            return
        }
        if known != name { others[address, default: 0] += 1 }
    }

    /// How many addresses have a name.
    public var count: Int { names.count }

    public func name(of address: IPAddress) -> String? {
        guard let name = names[address] else { return nil }
        guard let more = others[address] else { return name }
        return "\(name) (+\(more))"
    }
}
