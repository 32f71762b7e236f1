import FlowAnalysis
import Foundation
import PacketCapture
import PacketDecoding
import StreamReassembly
import Testing
import VerdictPolicy

/// A file replay computes each payload's retransmission fingerprint on the
/// reading thread and hands it to the analyser with the packet. Reports must
/// be the same as when the analyser computes it, and a fingerprint must be
/// used only for the payload it was computed over.
@Suite struct FingerprintHandOverTests {
    /// How a fingerprint is supplied for each frame during a replay.
    enum Supply { case none, computedAhead, constantValue, shiftedRange }

    /// How the flow's hash is supplied for each frame: not at all, as the
    /// reading thread computes it, or wrongly (from the source alone, so
    /// that a flow's two directions hash apart).
    enum HashSupply { case none, computedAhead, sourceOnly }

    static func replay(_ path: String, supply: Supply, hashes: HashSupply = .none) throws -> [String] {
        let source = try PacketSource.openFile(path)
        // Fingerprints as the reading thread computes them (copies are not counted here).
        var detector = FrameCopyDetector(linkType: source.linkType)
        var analyzer = FlowAnalyzer(linkType: source.linkType, configuration: AnalyzerConfiguration())
        var lines: [String] = []
        let observe: (consuming FlowObservation) -> Void = { observation in
            let report = VerdictPolicy.judge(observation)
            let o = report.observation
            lines.append("\(report.client) \(report.server) \(report.verdict) \(report.reason) notes \(report.notes) "
                         + "duplicate \(o.duplicateBytes) conflicting \(o.conflictingBytes)")
        }
        reading: while true {
            switch source.next() {
            case .packet(let packet):
                let examined = detector.examine(packet.bytes, originalLength: packet.originalLength)
                var supplied = examined.flatMap { found in found.fingerprint.map { (range: found.segment.payloadRange, fingerprint: $0) } }
                let flowHash: UInt32? = examined.flatMap { found in
                    switch hashes {
                    case .none: return nil
                    case .computedAhead: return FlowAnalyzer.flowHash(of: found.segment)
                    case .sourceOnly:
                        var oneSided = found.segment
                        oneSided.destination = Endpoint(address: IPAddress(ipv4: 0), port: 0)
                        return FlowAnalyzer.flowHash(of: oneSided)
                    }
                }
                switch supply {
                case .none: supplied = nil
                case .computedAhead: break
                case .constantValue: supplied = supplied.map { ($0.range, PayloadFingerprint(value: 7)) }
                case .shiftedRange:
                    supplied = supplied.map { (($0.range.lowerBound + 1)..<($0.range.upperBound + 1), PayloadFingerprint(value: 7)) }
                }
                analyzer.process(frame: packet.bytes, originalLength: packet.originalLength, timestamp: packet.timestampNanoseconds,
                                 payloadFingerprint: supplied, flowHash: flowHash, observe: observe)
            case .timeout: continue
            case .end, .failed: break reading
            }
        }
        analyzer.finish(observe: observe)
        return lines
    }

    static var captures: [String] {
        let names = (try? FileManager.default.contentsOfDirectory(atPath: TestSupport.capturesDirectory.path)) ?? []
        return names.filter { $0.hasSuffix(".pcap") || $0.hasSuffix(".pcapng") }.sorted()
    }

    @Test func reportsAreTheSameWithFingerprintsComputedAhead() throws {
        #expect(Self.captures.count >= 10)
        for name in Self.captures {
            let path = TestSupport.capturesDirectory.appendingPathComponent(name).path
            let inline = try Self.replay(path, supply: .none)
            #expect(!inline.isEmpty, "\(name)")
            #expect(try Self.replay(path, supply: .computedAhead) == inline, "\(name)")
        }
    }

    /// The flow's hash, computed on the reading thread from the segment it
    /// decoded, changes no report.
    @Test func reportsAreTheSameWithFlowHashesComputedAhead() throws {
        for name in Self.captures {
            let path = TestSupport.capturesDirectory.appendingPathComponent(name).path
            let inline = try Self.replay(path, supply: .none)
            #expect(try Self.replay(path, supply: .computedAhead, hashes: .computedAhead) == inline, "\(name)")
        }
    }

    /// A handed-over hash is what finds the flow (the analyzer does not
    /// hash the segment again): one that differs between a flow's two
    /// directions splits each connection in two.
    @Test func aHandedOverFlowHashIsWhatFindsTheFlow() throws {
        let path = TestSupport.capturesDirectory.appendingPathComponent("permissive.pcap").path
        let inline = try Self.replay(path, supply: .none)
        let split = try Self.replay(path, supply: .none, hashes: .sourceOnly)
        #expect(split.count > inline.count, "\(inline.count) flows, \(split.count) with one-sided hashes")
    }

    /// The conflicting retransmission is found through the fingerprints: a
    /// supplied one for the right bytes is believed (one value for every
    /// payload hides the conflict, which shows that it was used), one for
    /// other bytes of the frame is not.
    @Test func aFingerprintIsUsedOnlyForThePayloadItCovers() throws {
        let path = TestSupport.capturesDirectory.appendingPathComponent("crafted-conflicting-retransmission.pcap").path
        let inline = try Self.replay(path, supply: .none)
        #expect(inline.contains { !$0.hasSuffix("conflicting 0") }, "the capture's conflict should be found: \(inline)")
        #expect(try Self.replay(path, supply: .shiftedRange) == inline)
        let believed = try Self.replay(path, supply: .constantValue)
        #expect(believed.allSatisfy { $0.hasSuffix("conflicting 0") }, "\(believed)")
    }

    /// The note carries a flow hash or none (0 and the largest are hashes
    /// like any other), and stays 32 bytes: one is copied with every packet.
    @Test func theNoteCarriesAFlowHashOrNone() {
        var note = FrameNote(offset: 1, count: 2, value: 3)
        #expect(note.flowHash == nil)
        for hash: UInt32 in [0, 1, 0x8000_0000, .max] {
            note.flowHash = hash
            #expect(note.flowHash == hash)
            #expect(FrameNote(offset: 1, count: 2, value: 3, flowHash: hash) == note)
        }
        note.flowHash = nil
        #expect(note.flowHash == nil && note == FrameNote(offset: 1, count: 2, value: 3))
        #expect(MemoryLayout<FrameNote>.size <= 32)
    }

    /// A note looked at ahead (`note(ahead:)`, for prefetching) is the note
    /// that packet then comes back with, or nil past the batch at hand.
    @Test(arguments: [(300, 3, 2), (1 << 20, 4096, 6)])
    func notesAheadAreTheComingPacketsNotes(shape: (bytes: Int, records: Int, count: Int)) throws {
        let path = TestSupport.capturesDirectory.appendingPathComponent("crafted-protocols.pcap").path
        let reader = ReadAhead(source: try PacketSource.openFile(path), batchBytes: shape.bytes, batchRecords: shape.records,
                               batchCount: shape.count) { packet, _ in
            FrameNote(offset: 0, count: Int32(packet.bytes.count), value: packet.bytes.reduce(UInt64(0)) { $0 &* 31 &+ UInt64($1) })
        }
        #expect(reader.start())
        var notes: [FrameNote?] = []
        var peeked: [(index: Int, note: FrameNote)] = []
        reading: while true {
            switch reader.next() {
            case .packet(let packet):
                notes.append(packet.note)
                for distance in [1, 3] {
                    if let note = reader.note(ahead: distance) { peeked.append((notes.count - 1 + distance, note)) }
                }
                // Not ahead: nothing.
                #expect(reader.note(ahead: 0) == nil && reader.note(ahead: -5) == nil)
            case .timeout: continue
            case .end, .failed: break reading
            }
        }
        reader.stop()
        #expect(peeked.count > notes.count / 2)
        for (index, note) in peeked {
            #expect(index < notes.count && notes[index] == note, "packet \(index)")
        }
    }

    /// The reading thread's note for a packet comes back with that packet,
    /// however the packets fall across batches.
    @Test(arguments: [(1, 1, 2), (300, 3, 2), (1 << 20, 4096, 6)])
    func notesTravelWithTheirPackets(shape: (bytes: Int, records: Int, count: Int)) throws {
        let path = TestSupport.capturesDirectory.appendingPathComponent("crafted-protocols.pcap").path
        let reader = ReadAhead(source: try PacketSource.openFile(path), batchBytes: shape.bytes, batchRecords: shape.records,
                               batchCount: shape.count) { packet, _ in
            // Odd-length packets get none, so that absence is carried too.
            guard packet.bytes.count % 2 == 0 else { return nil }
            let sum = packet.bytes.reduce(UInt64(0)) { $0 &* 31 &+ UInt64($1) }
            return FrameNote(offset: 1, count: Int32(packet.bytes.count - 1), value: sum)
        }
        #expect(reader.start())
        var packets = 0, noted = 0
        reading: while true {
            switch reader.next() {
            case .packet(let packet):
                packets += 1
                if packet.bytes.count % 2 == 0 {
                    noted += 1
                    let sum = packet.bytes.reduce(UInt64(0)) { $0 &* 31 &+ UInt64($1) }
                    #expect(packet.note == FrameNote(offset: 1, count: Int32(packet.bytes.count - 1), value: sum))
                } else {
                    #expect(packet.note == nil)
                }
            case .timeout: continue
            case .end, .failed: break reading
            }
        }
        reader.stop()
        #expect(packets > 100 && noted > 0 && noted < packets)
    }
}
