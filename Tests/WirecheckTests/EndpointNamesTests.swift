import PacketDecoding
import Reporting
import Testing

/// `--names` files and the address forms they hold.
@Suite struct EndpointNamesTests {
    static func address(_ text: String) -> IPAddress? { IPAddress(parsing: text[...]) }

    @Test func addressForms() {
        #expect(Self.address("10.111.1.122") == IPAddress(ipv4: 0x0A6F_017A))
        #expect(Self.address("0.0.0.0") == IPAddress(ipv4: 0))
        #expect(Self.address("255.255.255.255") == IPAddress(ipv4: 0xFFFF_FFFF))
        #expect(Self.address("fd00::7a") == IPAddress(ipv6High: 0xFD00_0000_0000_0000, low: 0x7A))
        #expect(Self.address("FD00:0:0:0:0:0:0:7A") == IPAddress(ipv6High: 0xFD00_0000_0000_0000, low: 0x7A))
        #expect(Self.address("::") == IPAddress(ipv6High: 0, low: 0))
        #expect(Self.address("::1") == IPAddress(ipv6High: 0, low: 1))
        #expect(Self.address("2001:db8::") == IPAddress(ipv6High: 0x2001_0DB8_0000_0000, low: 0))
        #expect(Self.address("::ffff:10.1.2.3") == IPAddress(ipv6High: 0, low: 0xFFFF_0A01_0203))
        for bad in ["10.1.2", "10.1.2.3.4", "10.1.2.256", "010.1.2.3", "10.1.2.3:80", "10.1.2.-3", "1::2::3", "fd00::1%eth0",
                    "[fd00::1]", "1:2:3:4:5:6:7:8:9", "1:2:3:4:5:6:7", "1:2:3:4:5:6:7::8", "12345::", "+1::", "g::", "default/web", "None", ""] {
            #expect(Self.address(bad) == nil, "\(bad)")
        }
    }

    /// Every address reads back from the text reports write.
    @Test func printedAddressesParseBack() {
        var rng = SplitMix(seed: 9)
        for _ in 0..<20_000 {
            let v4 = IPAddress(ipv4: UInt32(truncatingIfNeeded: rng.next()))
            #expect(Self.address(v4.description) == v4, "\(v4)")
            // Zero groups are common in real IPv6 addresses (and "::" compresses them).
            let mask = rng.next(), high = rng.next() & mask, low = rng.next() & (mask >> 7 | mask << 9)
            let v6 = IPAddress(ipv6High: high, low: low)
            #expect(Self.address(v6.description) == v6, "\(v6)")
        }
    }

    @Test func fileLines() {
        let names = EndpointNames(parsing: """
            # kubectl get nodes, then pods, then services
            10.0.0.5 node/worker-1
            10.0.0.5 kube-system/kube-proxy-x7   # a host-network pod: its node's address
            10.0.0.5 kube-system/cilium-k2
            10.244.1.7 fd00:10:244:1::7 shop/orders-7d9f
             shop/pending-0
            None svc/shop/headless
            10.96.0.10 svc/kube-system/kube-dns\r
            10.96.0.11 a name with spaces
            10.96.0.12
            """)
        #expect(names.count == 5)
        #expect(names.name(of: IPAddress(ipv4: 0x0A00_0005)) == "node/worker-1 (+2)")
        #expect(names.name(of: IPAddress(ipv4: 0x0AF4_0107)) == "shop/orders-7d9f")
        #expect(names.name(of: IPAddress(ipv6High: 0xFD00_0010_0244_0001, low: 7)) == "shop/orders-7d9f")
        #expect(names.name(of: IPAddress(ipv4: 0x0A60_000A)) == "svc/kube-system/kube-dns")
        #expect(names.name(of: IPAddress(ipv4: 0x0A60_000B)) == "a name with spaces")
        #expect(names.name(of: IPAddress(ipv4: 0x0A60_000C)) == nil)
        #expect(names.skippedLines == 3)
        #expect(EndpointNames(parsing: "").count == 0)
    }
}
