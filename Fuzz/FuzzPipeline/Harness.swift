import FlowAnalysis
import FuzzSupport
import PacketDecoding
import Reporting
import StreamReassembly
import VerdictPolicy

/// (b) The whole pipeline on a sequence of packets: decode (copies of a
/// packet recognised, as wirecheck's loop does), reassemble, classify,
/// judge, report. Input: a link-type byte, then packets, each a
/// 16-bit length, a byte of uncaptured wire length, a time step byte, and
/// the frame. A step of 255 is instead followed by 8 bytes of absolute
/// timestamp, any Int64, as a capture file can hold (differences of such
/// timestamps overflowed once). Limits are small so eviction, budgets and
/// gaps are reached.
///
/// A second analyzer takes the same frames as a replay's loop does with its
/// reading thread, where a copy travels in the note of the frame before it
/// and is counted with that frame (`process(frame:…copyAt:)`) or, failing
/// that, by `processCopy`: its reports must be the first's, line for line.
/// Its allocations come between the first's, so a report that depends on
/// the heap's history (as the windows' count did) shows up here too.
func analyzePackets(_ data: UnsafeRawBufferPointer) {
    var input = FuzzInput(data)
    guard let selector = input.byte() else { return }
    let types = LinkType.supported.sorted()
    var configuration = AnalyzerConfiguration()
    configuration.maximumFlows = 8
    configuration.idleTimeoutNanoseconds = 50_000_000_000
    configuration.budget = ReassemblyBudget(perDirectionBytes: 4_096, totalBytes: 16_384)
    var analyzer = FlowAnalyzer(linkType: types[Int(selector) % types.count], configuration: configuration)
    var folding = FlowAnalyzer(linkType: types[Int(selector) % types.count], configuration: configuration)
    var foldingJSON = JSONLinesReporter()
    var lines: [String] = [], foldedLines: [String] = []
    var text = TextReporter()
    var json = JSONLinesReporter()
    var summary = RunSummary(failOn: [])
    var reports = 0
    let emit: (FlowReport) -> Void = { report in
        summary.add(report)
        reports += 1
        _ = text.report(report)
        lines.append(json.report(report))
    }
    let policy = configuration.policy
    let observe: (consuming FlowObservation) -> Void = { emit(VerdictPolicy.judge($0, options: policy)) }
    let observeFolding: (consuming FlowObservation) -> Void = { foldedLines.append(foldingJSON.report(VerdictPolicy.judge($0, options: policy))) }
    // The frame `folding` has not taken yet: the next may be its copy.
    var held: (frame: UnsafeRawBufferPointer, originalLength: Int, timestamp: Int64, examined: FrameCopyDetector.Examined?)?
    // As wirecheck's loop: a frame repeating the previous one's segment is a copy.
    var copies = FrameCopyDetector(linkType: types[Int(selector) % types.count])
    // As the reading thread's: handed the frame before, it compares bytes
    // (and, for cooked captures, skips decoding) where `copies` compares
    // fingerprints; the two must agree on every frame.
    var byBytes = FrameCopyDetector(linkType: types[Int(selector) % types.count])
    var previousFrame: UnsafeRawBufferPointer?
    var timestamp: Int64 = 1_700_000_000_000_000_000
    var packets = 0
    while let length = input.u16(), let missing = input.byte(), let step = input.byte() {
        if step == 255 {
            timestamp = input.take(8).reduce(Int64(0)) { $0 << 8 | Int64($1) }
        } else {
            timestamp &+= Int64(step) * 100_000_000
        }
        let frame = input.take(length)
        let originalLength = frame.count + Int(missing)
        let examined = copies.examine(frame, originalLength: originalLength)
        let compared = previousFrame.map { byBytes.examine(frame, originalLength: originalLength, previousFrame: $0) }
            ?? byBytes.examine(frame, originalLength: originalLength)
        precondition(examined?.repeatsPrevious == compared?.repeatsPrevious && examined?.fingerprint == compared?.fingerprint
                     && examined?.segment == compared?.segment, "byte comparison disagrees with fingerprints")
        previousFrame = frame
        analyzer.process(examined, frame: frame, originalLength: originalLength, timestamp: timestamp, observe: observe)
        packets += 1
        if let before = held, let found = before.examined, !found.repeatsPrevious, examined?.repeatsPrevious == true {
            let fingerprint = found.fingerprint.map { (found.segment.payloadRange, $0) }
            if !folding.process(frame: before.frame, originalLength: before.originalLength, timestamp: before.timestamp,
                                payloadFingerprint: fingerprint, copyAt: timestamp, observe: observeFolding) {
                folding.processCopy(at: timestamp, of: before.frame, originalLength: before.originalLength,
                                    payloadFingerprint: fingerprint, observe: observeFolding)
            }
            held = nil
            continue
        }
        if let before = held {
            folding.process(before.examined, frame: before.frame, originalLength: before.originalLength, timestamp: before.timestamp,
                            observe: observeFolding)
        }
        held = (frame, originalLength, timestamp, examined)
    }
    if let before = held {
        folding.process(before.examined, frame: before.frame, originalLength: before.originalLength, timestamp: before.timestamp,
                        observe: observeFolding)
    }
    analyzer.finish(emit: emit)
    folding.finish(observe: observeFolding)
    precondition(foldedLines == lines, "a copy counted with its frame changed a report")
    precondition(folding.statistics == analyzer.statistics, "statistics differ with copies counted with their frame")
    precondition(analyzer.openFlows == 0, "flows left open after finish")
    var facts = CaptureFacts(source: "fuzz")
    facts.frames = analyzer.statistics.frames
    precondition(facts.frames == packets, "frames miscounted")
    _ = text.summary(summary, capture: facts)
    _ = json.summary(summary, capture: facts)
}

@main
enum HarnessMain {
    static func main() { runHarness(analyzePackets) }
}
