import Foundation
import PacketDecoding
import PayloadClassification
@testable import Reporting
import Testing
@testable import VerdictPolicy

/// The summary's servers-to-fix list: only flows that fail the run, grouped
/// by server and verdict, most flows first, bounded however many servers.
@Suite struct FailingServersTests {
    /// A judged flow from `client` to `server`:80, cleartext HTTP both ways
    /// (plaintext) or binary both ways (opaque).
    static func report(client: UInt32, server: UInt32, port: UInt16 = 80, opaque: Bool = false) -> FlowReport {
        var observation = FlowObservation(
            client: Endpoint(address: IPAddress(ipv4: client), port: 40_000),
            server: Endpoint(address: IPAddress(ipv4: server), port: port)
        )
        observation.clientToServer = PolicyTests.direction(opaque ? .binary : .http)
        observation.serverToClient = PolicyTests.direction(opaque ? .binary : .http)
        return VerdictPolicy.judge(observation)
    }

    /// The summary's span runs from the earliest packet of any flow to the
    /// latest, whatever order the flows ended in (a long flow begun first
    /// ends last; verdicts of every kind count).
    @Test func spanCoversEveryFlowWhateverOrderTheyEnd() {
        var summary = RunSummary()
        #expect(summary.firstSeenNanoseconds == nil && summary.lastSeenNanoseconds == nil)
        for (first, last, opaque) in [(500, 700, false), (100, 900, true), (300, 400, false), (-50, -10, false)] {
            var report = Self.report(client: 1, server: 100, opaque: opaque)
            report.observation.firstSeenNanoseconds = Int64(first)
            report.observation.lastSeenNanoseconds = Int64(last)
            summary.add(report)
        }
        #expect(summary.firstSeenNanoseconds == -50)
        #expect(summary.lastSeenNanoseconds == 900)
    }

    @Test func groupsFailingFlowsByServer() {
        var summary = RunSummary()
        for client: UInt32 in [1, 2, 2, 3] { summary.add(Self.report(client: client, server: 100)) }
        summary.add(Self.report(client: 1, server: 200))
        summary.add(Self.report(client: 1, server: 300, opaque: true))       // opaque does not fail by default
        summary.add(Self.report(client: 1, server: 400, port: 15_020))       // Istio's merged metrics: expected plaintext
        let ranked = summary.failingServers.ranked
        #expect(ranked.map(\.server.address) == [IPAddress(ipv4: 100), IPAddress(ipv4: 200)])
        #expect(ranked.map(\.flows) == [4, 1])
        #expect(ranked.map(\.clients) == [3, 1])
        #expect(ranked.first?.protocols == ["http"])
        #expect(ranked.allSatisfy { $0.verdict == .plaintext && !$0.clientsCapped })

        var strict = RunSummary(failOn: [.opaque])
        strict.add(Self.report(client: 1, server: 300, opaque: true))
        #expect(strict.failingServers.ranked.map(\.verdict) == [.opaque])
    }

    /// A server is its whole address, its port and the verdict: an IPv6
    /// address whose low word is an IPv4 address's, or the same address on
    /// another port, is another server (the index compares every part).
    @Test func serversDifferInAnyPartOfTheirKey() {
        var summary = RunSummary(failOn: [.opaque])
        let v4 = Endpoint(address: IPAddress(ipv4: 0x0A00_0001), port: 80)
        let servers = [v4, Endpoint(address: v4.address, port: 443),
                       Endpoint(address: IPAddress(ipv6High: 0, low: 0x0A00_0001), port: 80),
                       Endpoint(address: IPAddress(ipv6High: 1, low: 0x0A00_0001), port: 80)]
        for (index, server) in servers.enumerated() {
            for opaque in [false, true] {
                // Each key index + 1 times, so that each entry's count says which it is.
                for _ in 0...index {
                    var report = Self.report(client: 9, server: 0, opaque: opaque)
                    report.observation.server = server
                    summary.add(report)
                }
            }
        }
        let tracked = summary.failingServers.ranked
        #expect(tracked.count == servers.count * 2)
        for (index, server) in servers.enumerated() {
            for verdict in [Verdict.plaintext, .opaque] {
                let entries = tracked.filter { $0.server == server && $0.verdict == verdict }
                #expect(entries.map(\.flows) == [index + 1], "\(server) \(verdict)")
            }
        }
    }

    @Test func boundedInServersAndClients() {
        var summary = RunSummary()
        for client in 0..<UInt32(FailingServers.clientLimit + 5) { summary.add(Self.report(client: client, server: 1)) }
        let limit = UInt32(FailingServers.serverLimit)
        for server in 2..<(limit + 50) { summary.add(Self.report(client: 1, server: server)) }
        let ranked = summary.failingServers.ranked
        #expect(ranked.count == FailingServers.serverLimit)
        #expect(ranked.first?.flows == FailingServers.clientLimit + 5)
        #expect(ranked.first?.clients == FailingServers.clientLimit)
        #expect(ranked.first?.clientsCapped == true)
        #expect(summary.failingServers.untrackedFlows == 49)

        let text = TextReporter.failingServersText(summary.failingServers)
        let lines = text.split(separator: "\n").map(String.init)
        #expect(lines.first == "failing flows by server, most first:")
        // Columns padded to the longest server shown (0.0.0.10:80).
        #expect(lines.dropFirst().first == "  0.0.0.1:80   plaintext  \(FailingServers.clientLimit + 5) flows from 8+ clients (http)")
        #expect(lines.count == 1 + TextReporter.failingServersShown + 1)
        let rest = FailingServers.serverLimit - TextReporter.failingServersShown + 49
        #expect(text.contains("and \(rest) failing flows to more than \(FailingServers.serverLimit - TextReporter.failingServersShown) other servers"))
        #expect(TextReporter.failingServersText(RunSummary().failingServers).isEmpty)
    }

    /// The ranking (sorted by position, not by moving entries) against a
    /// model sort of the same servers: many ties in flows, broken by
    /// verdict and then server; the first `n` of it for any `n`; the flows
    /// counted in all.
    @Test func rankingMatchesAModelSort() {
        var summary = RunSummary(failOn: [.plaintext, .opaque])
        var random = SplitMix(seed: 11)
        var model: [UInt32: (plain: Int, opaque: Int)] = [:]
        for _ in 0..<3_000 {
            let server = UInt32(random.next() % 400) + 1, opaque = random.next() % 3 == 0
            summary.add(Self.report(client: UInt32(random.next() % 20), server: server, opaque: opaque))
            model[server, default: (0, 0)].plain += opaque ? 0 : 1
            model[server, default: (0, 0)].opaque += opaque ? 1 : 0
        }
        let expected = model.flatMap { server, counts -> [(flows: Int, verdict: Verdict, server: UInt32)] in
            [(counts.plain, .plaintext, server), (counts.opaque, .opaque, server)].filter { $0.0 > 0 }
        }.sorted { a, b in
            if a.flows != b.flows { return a.flows > b.flows }
            if a.verdict != b.verdict { return a.verdict < b.verdict }
            return a.server < b.server
        }
        let servers = summary.failingServers
        let ranked = servers.ranked
        #expect(ranked.map { "\($0.flows) \($0.verdict) \($0.server.address)" }
                == expected.map { "\($0.flows) \($0.verdict) \(IPAddress(ipv4: $0.server))" })
        #expect(servers.count == expected.count && servers.trackedFlows == 3_000)
        for n in [0, 1, 20, expected.count - 1, expected.count, expected.count + 5] {
            #expect(servers.ranked(first: n).map(\.server) == Array(ranked.prefix(n)).map(\.server), "first \(n)")
        }
    }

    /// In the binary's summaries, text and JSON, on a real lab capture.
    @Test func summariesListTheServers() throws {
        let binary = try #require(TestSupport.binary, "wirecheck binary not built next to the tests")
        let capture = TestSupport.capturesDirectory.appendingPathComponent("lab-services.pcap").path
        let text = try TestSupport.run(binary, ["-r", capture])
        #expect(text.stdout.contains("failing flows by server, most first:\n"))
        // Columns are padded to the widest address; compare the words.
        let lines = text.stdout.split(separator: "\n").map { $0.split(separator: " ").joined(separator: " ") }
        #expect(lines.contains("10.111.1.122:5432 plaintext 1 flow from 1 client (postgresql)"), "\(text.stdout)")
        let json = try TestSupport.run(binary, ["-r", capture, "--json"])
        let summary = try #require(try TestSupport.jsonLines(json.stdout).last)
        let servers = try #require(summary["failingServers"] as? [[String: Any]])
        #expect(servers.count == summary["plaintext"] as? Int)
        #expect(servers.contains { $0["server"] as? String == "10.111.1.122:1883" && $0["protocols"] as? [String] == ["mqtt"] })
        #expect(servers.allSatisfy { $0["verdict"] as? String == "plaintext" && $0["flows"] as? Int == 1 && $0["clients"] as? Int == 1 })

        // A run with no failing flow lists nothing.
        let strict = try TestSupport.run(binary, ["-r", TestSupport.capturesDirectory.appendingPathComponent("strict.pcap").path, "--json"])
        #expect(try TestSupport.jsonLines(strict.stdout).last?["failingServers"] == nil)
    }
}
