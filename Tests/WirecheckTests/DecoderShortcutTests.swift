import Foundation
import PacketCapture
import Testing
@testable import PacketDecoding

/// The decoder's shortcut for plain IPv4/TCP frames must give exactly what
/// the general path gives, for every frame: every committed capture and the
/// shared corpus as recorded, and each of their Ethernet and cooked frames
/// with header bytes changed and cut short (lengths, header lengths, flags,
/// fragment fields, protocol, snapshot length), where the shortcut must step
/// aside and leave the general path to name the failure. `decodeCommon`,
/// the usual frame without `decode`'s result, likewise: the same segment,
/// or nil and `decode` takes the frame.
@Suite struct DecoderShortcutTests {
    static func captures() -> [URL] {
        var urls: [URL] = []
        for directory in [TestSupport.capturesDirectory, TestSupport.corpusDirectory] {
            guard let walker = FileManager.default.enumerator(at: directory, includingPropertiesForKeys: nil) else { continue }
            for case let url as URL in walker where ["pcap", "pcapng", "cap"].contains(url.pathExtension) { urls.append(url) }
        }
        return urls.sorted { $0.path < $1.path }
    }

    @Test func shortcutAgreesWithTheGeneralPath() throws {
        var generator = SystemRandomNumberGenerator()
        var frames = 0, decoded = 0, mutants = 0, common = 0
        for url in Self.captures() {
            guard let source = try? PacketSource.openFile(url.path) else { continue }
            let decoder = FrameDecoder(linkType: source.linkType)
            let ipOffset = source.linkType == LinkType.ethernet ? 14 : source.linkType == LinkType.linuxCooked2 ? 20 : nil
            reading: while true {
                switch source.next() {
                case .packet(let packet):
                    frames += 1
                    let original = Array(packet.bytes)
                    func check(_ bytes: [UInt8], _ wire: Int) {
                        bytes.withUnsafeBytes { frame in
                            let fast = decoder.decode(frame, originalLength: wire)
                            let general = decoder.decodeGenerally(frame, originalLength: wire)
                            #expect(fast == general, "\(url.lastPathComponent) frame \(frames)")
                            if let segment = decoder.decodeCommon(frame, originalLength: wire) {
                                common += 1
                                #expect(general == .success(segment), "\(url.lastPathComponent) frame \(frames)")
                            }
                        }
                    }
                    check(original, packet.originalLength)
                    guard let ip = ipOffset, original.count > ip + 40 else { continue }
                    if case .success = original.withUnsafeBytes({ decoder.decode($0, originalLength: packet.originalLength) }) { decoded += 1 }
                    // Header fields that decide, and cuts at every header boundary.
                    let linkType = source.linkType == LinkType.ethernet ? 12 : 0
                    let positions = [linkType, linkType + 1, ip, ip + 2, ip + 3, ip + 6, ip + 7, ip + 9, ip + 20 + 12, ip + 20 + 13]
                    for _ in 0..<4 {
                        var mutant = original
                        let at = positions.randomElement(using: &generator) ?? ip
                        mutant[at] = UInt8.random(in: 0...255, using: &generator)
                        check(mutant, packet.originalLength)
                        let cut = Int.random(in: 0...min(mutant.count, ip + 64), using: &generator)
                        check(Array(mutant.prefix(cut)), max(cut, packet.originalLength))
                        check(Array(mutant.prefix(cut)), cut)
                        mutants += 3
                    }
                case .timeout:
                    continue
                case .end, .failed:
                    break reading
                }
            }
        }
        print("DecoderShortcutTests: \(frames) frames and \(mutants) changed or cut ones compared; \(decoded) Ethernet or cooked frames decoded as TCP, \(common) frames by decodeCommon")
        // The committed captures alone (no corpus, as in a fresh clone) hold 814 frames.
        #expect(frames > 500)
        #expect(decoded > 100)
        #expect(common > 100)
    }
}
