import Testing
@testable import FlowAnalysis
import VerdictPolicy

/// The memory an open flow costs, inline in the flow table (buffers for held
/// out-of-order data and probe prefixes come on top, bounded by the budgets).
/// A finished flow costs nothing: its slot is emptied and reused. This guards
/// the per-open-flow figure in the README against silent growth.
@Suite struct FlowStateSizeTests {
    @Test func openFlowStateStaysWithinItsMeasuredSize() {
        let stride = MemoryLayout<FlowState?>.stride
        // Exact: with room to spare, a 16-byte growth (one Bool past the
        // handshake details' padding, twice per flow) went unnoticed.
        #expect(stride <= 1_128, "an open flow now takes \(stride) bytes inline (measured 1128 on 2026-12-02)")
    }
}

/// The TLS facts of a report are copied several times per flow on the
/// reporting thread: at 144 bytes (the certificate names' first form) those
/// copies became memcpy calls, three more per flow (callgrind, 3 000 flows);
/// at 125 bytes before, 119, and 121 now (the hello's own version kept
/// beside the offered ones), not. Guarded like the open flow.
@Suite struct TLSFactsSizeTests {
    @Test func tlsFactsStayWithin128Bytes() {
        let size = MemoryLayout<TLSFacts?>.size
        #expect(size <= 128, "the TLS facts now take \(size) bytes (measured 121 on 2026-12-05)")
    }
}

/// `FlowTable.putBlank` starts every flow as a bit-for-bit copy of
/// `FlowState.blank`, retaining nothing: sound only while the blank state
/// holds no counted reference. Walks every stored property, however deep:
/// a list or string with elements, a present optional, or any object (an
/// out-of-line box set up front, a class-based buffer) fails it.
@Suite struct BlankFlowStateTests {
    @Test func blankStateHoldsNoCountedReference() {
        var found: [String] = []
        Self.collectReferences(in: FlowState.blank, path: "FlowState", into: &found)
        #expect(found.isEmpty, "copied bit for bit, a new flow's state would share: \(found)")
    }

    /// A mutation of the check: a state that does hold one is caught.
    @Test func aHeldReferenceIsFound() {
        struct Holder { var bytes: [UInt8] = [1]; var name: String? = "x" }
        var found: [String] = []
        Self.collectReferences(in: Holder(), path: "Holder", into: &found)
        #expect(found.count == 2, "\(found)")
    }

    static func collectReferences(in value: Any, path: String, into found: inout [String]) {
        let mirror = Mirror(reflecting: value)
        if type(of: value) is AnyClass { found.append("\(path): an object (\(type(of: value)))"); return }
        switch mirror.displayStyle {
        case .optional:
            if let wrapped = mirror.children.first { collectReferences(in: wrapped.value, path: path + "?", into: &found) }
        case .collection, .dictionary, .set:
            if !mirror.children.isEmpty { found.append("\(path): \(mirror.children.count) elements") }
        default:
            if let text = value as? String {
                // Up to 15 UTF-8 bytes live inline; an empty string holds nothing.
                if !text.isEmpty { found.append("\(path): a string") }
                return
            }
            for (index, child) in mirror.children.enumerated() {
                collectReferences(in: child.value, path: path + "." + (child.label ?? "\(index)"), into: &found)
            }
        }
    }
}
