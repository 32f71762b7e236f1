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
