import PacketDecoding

/// Puts fragmented IP datagrams back together, within fixed limits, so the
/// TCP segment inside is judged like any other instead of being skipped.
///
/// Fragments are rare on a node (path MTU discovery avoids them), so this is
/// off the hot path: fragment data is copied, per datagram, and only while
/// the datagram is incomplete. A datagram whose fragments disagree where they
/// overlap is dropped, not guessed at: the TCP stream then shows a gap of the
/// segment's size and the verdict says what was missing.
struct FragmentReassembler: Sendable {
    struct Limits: Sendable {
        /// Datagrams being reassembled at once (Linux's default budget is similar in bytes).
        var datagrams = 4_096
        /// Fragment bytes held in all.
        var bytes = 8 << 20
        /// Packet time after which an incomplete datagram is given up (Linux: 30 s).
        var timeoutNanoseconds: Int64 = 30_000_000_000
    }

    struct Statistics: Sendable, Equatable {
        var reassembled = 0
        /// Incomplete datagrams given up (timeout, limits, end of capture).
        var abandoned = 0
        /// Datagrams dropped because overlapping fragments carried different bytes.
        var conflicting = 0
    }

    /// A datagram that came back together: its captured data and full length.
    struct Datagram: Equatable {
        var bytes: [UInt8]
        var wireLength: Int
    }

    private struct Key: Hashable {
        var source: IPAddress
        var destination: IPAddress
        var identification: UInt32
        var transportProtocol: UInt8
        var tunnel: Tunnel
    }

    private struct Pending {
        /// Fragment data by offset, kept sorted and without overlaps.
        var pieces: [(offset: Int, bytes: [UInt8])] = []
        /// Known once the last fragment (more-fragments clear) is seen.
        var totalLength: Int?
        /// Data on the wire but not captured, from this offset on.
        var uncapturedFrom: Int?
        var heldBytes = 0
        var firstSeen: Int64
        var conflicting = false
    }

    private var pending: [Key: Pending] = [:]
    private var heldBytes = 0
    private var lastExpiry: Int64?
    let limits: Limits
    private(set) var statistics = Statistics()

    init(limits: Limits = Limits()) { self.limits = limits }

    var isEmpty: Bool { pending.isEmpty }
    var pendingDatagrams: Int { pending.count }
    var pendingBytes: Int { heldBytes }

    /// Adds one fragment; returns the datagram when this completed it.
    mutating func add(_ fragment: IPFragment, frame: UnsafeRawBufferPointer, timestamp: Int64) -> Datagram? {
        expire(before: timestamp.subtractingReportingOverflow(limits.timeoutNanoseconds).partialValue)
        let key = Key(source: fragment.source, destination: fragment.destination,
                      identification: fragment.identification, transportProtocol: fragment.transportProtocol,
                      tunnel: fragment.tunnel)
        let data = UnsafeRawBufferPointer(rebasing: frame[fragment.payloadRange])
        let start = fragment.fragmentOffset
        let wireEnd = start + data.count + fragment.missingPayload
        guard wireEnd <= 65_535 else { return nil } // no fragmented IP datagram is longer

        var datagram = pending[key] ?? Pending(firstSeen: timestamp)
        if pending[key] == nil {
            makeRoom(for: data.count)
        }
        if !fragment.moreFragments {
            if let known = datagram.totalLength, known != wireEnd { datagram.conflicting = true }
            datagram.totalLength = wireEnd
        }
        if fragment.missingPayload > 0 {
            let from = start + data.count
            datagram.uncapturedFrom = min(datagram.uncapturedFrom ?? from, from)
        }
        let added = insert(data, at: start, into: &datagram)
        datagram.heldBytes += added
        heldBytes += added

        guard let total = datagram.totalLength, isComplete(datagram, total: total) else {
            pending[key] = datagram
            return nil
        }
        pending[key] = nil
        heldBytes -= datagram.heldBytes
        if datagram.conflicting {
            statistics.conflicting += 1
            return nil
        }
        statistics.reassembled += 1
        let captured = min(total, datagram.uncapturedFrom ?? total)
        var bytes: [UInt8] = []
        bytes.reserveCapacity(captured)
        for piece in datagram.pieces where piece.offset < captured {
            bytes.append(contentsOf: piece.bytes.prefix(captured - piece.offset))
        }
        return Datagram(bytes: bytes, wireLength: total)
    }

    /// Gives up on every incomplete datagram (end of capture).
    mutating func abandonAll() {
        statistics.abandoned += pending.count
        pending.removeAll()
        heldBytes = 0
    }

    // MARK: Internals

    /// Stores the parts of `data` not already held; compares the parts that are.
    /// Returns the number of bytes newly stored.
    private func insert(_ data: UnsafeRawBufferPointer, at start: Int, into datagram: inout Pending) -> Int {
        var cursor = start
        let end = start + data.count
        var added = 0
        var newPieces: [(offset: Int, bytes: [UInt8])] = []
        for piece in datagram.pieces {
            let pieceEnd = piece.offset + piece.bytes.count
            if pieceEnd <= cursor { continue }
            if piece.offset >= end { break }
            if piece.offset > cursor {
                newPieces.append((cursor, Array(data[(cursor - start)..<(piece.offset - start)])))
            }
            let overlapStart = max(cursor, piece.offset), overlapEnd = min(end, pieceEnd)
            if overlapEnd > overlapStart {
                let held = piece.bytes[(overlapStart - piece.offset)..<(overlapEnd - piece.offset)]
                if !held.elementsEqual(data[(overlapStart - start)..<(overlapEnd - start)]) { datagram.conflicting = true }
            }
            cursor = max(cursor, pieceEnd)
            if cursor >= end { break }
        }
        if cursor < end { newPieces.append((cursor, Array(data[(cursor - start)..<(end - start)]))) }
        for piece in newPieces {
            added += piece.bytes.count
            let position = datagram.pieces.firstIndex { $0.offset > piece.offset } ?? datagram.pieces.count
            datagram.pieces.insert(piece, at: position)
        }
        return added
    }

    /// Whether data (captured, or known to be uncaptured) covers the whole datagram.
    private func isComplete(_ datagram: Pending, total: Int) -> Bool {
        var covered = 0
        for piece in datagram.pieces {
            if piece.offset > covered { break }
            covered = max(covered, piece.offset + piece.bytes.count)
        }
        if let uncaptured = datagram.uncapturedFrom, covered >= uncaptured { return true }
        return covered >= total
    }

    private mutating func makeRoom(for incoming: Int) {
        while !pending.isEmpty, pending.count >= limits.datagrams || heldBytes + incoming > limits.bytes {
            guard let oldest = pending.min(by: { $0.value.firstSeen < $1.value.firstSeen }) else { return }
            heldBytes -= oldest.value.heldBytes
            pending[oldest.key] = nil
            statistics.abandoned += 1
        }
    }

    private mutating func expire(before cutoff: Int64) {
        // At most once per second of packet time: a fragment storm costs one scan a second, not one per fragment.
        guard !pending.isEmpty else { return }
        if let lastExpiry, cutoff.subtractingReportingOverflow(lastExpiry).partialValue < 1_000_000_000 { return }
        lastExpiry = cutoff
        let stale = pending.filter { $0.value.firstSeen < cutoff }
        for (key, datagram) in stale {
            heldBytes -= datagram.heldBytes
            pending[key] = nil
            statistics.abandoned += 1
        }
    }
}
