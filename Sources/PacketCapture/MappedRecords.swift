import CMappedFile
import CPcap
#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#endif

/// A capture file's packets read where the file is mapped, for the replay
/// of one regular file: what libpcap's `pcap_next_ex` would return, without
/// its copies (the kernel's into the stdio buffer, libpcap's into its own)
/// nor, for pcapng, its per-block reads (libpcap took about 0.64 s over the
/// 2 GB cooked benchmark capture, a walk of the mapped blocks 0.18 s).
///
/// Only what libpcap would hand over unchanged is read here: a file in this
/// machine's byte order (libpcap rewrites a swapped file's headers), of a
/// link type whose headers libpcap does not fix up, and records that are
/// whole and within the snapshot length. pcap files of version 2.4; pcapng
/// files with one interface whose time resolution is a power of ten and
/// which has no time offset, read as far as their enhanced packet blocks and
/// blocks libpcap skips go. At anything else (a second interface or
/// section, another kind of packet block, a damaged or cut-off record, the
/// file's end inside one) `next()` says where, and libpcap reads on from
/// there (`PacketSource`): libpcap has read nothing since the file's header
/// (its state is what it was after opening), so it gives what it would have
/// given had it read the whole file, its own messages and byte offsets included.
struct MappedRecords {
    /// The mapping, owned by the `PacketSource` (which unmaps it last).
    let mapping: OpaquePointer
    let base: UnsafeRawPointer
    let size: Int
    /// Where the next record or block starts.
    private(set) var offset: Int
    let format: Format
    /// No record with more captured bytes is read here (libpcap would cut
    /// it to the snapshot length, or refuse it).
    let capturedLimit: UInt32
    /// The next offset at which pages behind are given back (`releaseBehind`).
    private var nextRelease: Int

    enum Format: Equatable {
        /// A pcap file: 16-byte record headers, times in micro- or nanoseconds.
        case pcap(nanoseconds: Bool)
        /// A pcapng file's enhanced packet blocks, times in units of
        /// 10^-`decimals` s.
        case pcapng(decimals: Int)
    }

    /// What reading one record gave.
    enum Step {
        case packet(CapturedPacket)
        /// The end of the file, after a whole record.
        case end
        /// A record or block left to libpcap, starting at the offset.
        case leave(at: Int)
        /// The file shrank while it was read (`wirecheck_mapping_shrank`).
        case shrank(at: Int)
    }

    /// Pages further behind the read than this are given back: the batches
    /// read ahead (`ReadAhead`, six of about 1 MiB) still point at the ones
    /// after. Without it a 1 GB replay ends with 1 GB resident (if only
    /// page-cache pages); with it, the pages read count about 20 MiB at most.
    static let keptBehind = 16 << 20
    static let releaseStep = 4 << 20

    /// libpcap's largest snapshot length for the link types read here (`MAXIMUM_SNAPLEN`).
    static let libpcapLargestCapture: UInt32 = 262_144
    /// The largest pcapng block read here: an enhanced packet block with the
    /// largest capture and libpcap's allowance of 128 KiB of options (larger
    /// ones are left to libpcap, which decides on them).
    static let largestBlock = 8 + 20 + Int(libpcapLargestCapture) + 131_072 + 4

    /// Link types (DLT_ values) whose records libpcap hands over as they are
    /// in the file (it rewrites some USB headers, for one): Ethernet, BSD and
    /// OpenBSD loopback, raw IP (three numbers), Linux cooked v1 and v2, raw
    /// IPv4 and IPv6. Files of other types are read by libpcap.
    static let passedThrough: Set<Int32> = [1, 0, 108, 12, 14, 101, 113, 276, 228, 229]

    static let pcapMicroseconds: UInt32 = 0xA1B2_C3D4
    static let pcapNanoseconds: UInt32 = 0xA1B2_3C4D
    static let sectionHeader: UInt32 = 0x0A0D_0D0A
    static let byteOrderMagic: UInt32 = 0x1A2B_3C4D
    static let interfaceDescription: UInt32 = 1
    static let enhancedPacket: UInt32 = 6
    /// Block types libpcap acts on, besides the enhanced packet block: left to it.
    static let acted: Set<UInt32> = [sectionHeader, interfaceDescription, 2, 3]

    /// Maps `file` (libpcap's stream for `handle`, just opened: its header,
    /// and for pcapng its first interface, read) when its packets can be read
    /// in place; nil otherwise (libpcap reads it all).
    static func open(file: UnsafeMutablePointer<FILE>, handle: OpaquePointer) -> MappedRecords? {
        guard pcap_is_swapped(handle) == 0, passedThrough.contains(pcap_datalink(handle)) else { return nil }
        let descriptor = fileno(file)
        let start = Int(ftello(file))
        var status = stat()
        guard descriptor >= 0, start > 0, fstat(descriptor, &status) == 0, status.st_mode & S_IFMT == S_IFREG,
              Int(status.st_size) >= start else { return nil }
        guard let mapping = wirecheck_map_file(descriptor, Int(status.st_size)),
              let base = wirecheck_mapping_base(mapping) else { return nil }
        let size = wirecheck_mapping_size(mapping)
        let magic = base.loadUnaligned(as: UInt32.self)
        let format: Format?
        switch magic {
        case pcapMicroseconds, pcapNanoseconds:
            // libpcap's own header checks passed; version 2.4 has no quirks.
            format = pcap_major_version(handle) == 2 && pcap_minor_version(handle) == 4 && start == 24
                ? .pcap(nanoseconds: magic == pcapNanoseconds) : nil
        case sectionHeader:
            format = firstInterface(base: base, size: size, endingAt: start).map { .pcapng(decimals: $0) }
        default:
            format = nil
        }
        guard let format else {
            wirecheck_unmap(mapping)
            return nil
        }
        return MappedRecords(
            mapping: mapping, base: base, size: size, offset: start, format: format,
            capturedLimit: min(UInt32(clamping: max(pcap_snapshot(handle), 0)), libpcapLargestCapture),
            nextRelease: keptBehind + releaseStep
        )
    }

    /// The time resolution (decimal places) of a pcapng file's first
    /// interface, found as libpcap found it: the section header, blocks it
    /// skips, then the interface block, which must end at `end` (where
    /// libpcap's reading stopped). Nil for anything this reader leaves to
    /// libpcap: a binary resolution, a time offset, an option it could not walk.
    static func firstInterface(base: UnsafeRawPointer, size: Int, endingAt end: Int) -> Int? {
        var offset = 0
        var first = true
        while offset <= end - 12, end <= size {
            let type = base.loadUnaligned(fromByteOffset: offset, as: UInt32.self)
            let length = Int(base.loadUnaligned(fromByteOffset: offset + 4, as: UInt32.self))
            guard length >= 12, length % 4 == 0, length <= end - offset,
                  base.loadUnaligned(fromByteOffset: offset + length - 4, as: UInt32.self) == UInt32(length) else { return nil }
            if first {
                guard type == sectionHeader, length >= 24,
                      base.loadUnaligned(fromByteOffset: offset + 8, as: UInt32.self) == byteOrderMagic else { return nil }
                first = false
            } else if type == interfaceDescription {
                guard offset + length == end, length >= 20 else { return nil }
                return decimals(options: base + offset + 16, count: length - 20)
            } else if acted.contains(type) {
                return nil
            }
            offset += length
        }
        return nil
    }

    /// An interface block's `if_tsresol` as decimal places (6 without one);
    /// nil for a binary resolution, an `if_tsoffset`, or options that do not walk.
    static func decimals(options: UnsafeRawPointer, count: Int) -> Int? {
        var decimals = 6
        var at = 0
        while count - at >= 4 {
            let code = options.loadUnaligned(fromByteOffset: at, as: UInt16.self)
            let length = Int(options.loadUnaligned(fromByteOffset: at + 2, as: UInt16.self))
            let padded = (length + 3) & ~3
            guard padded <= count - at - 4 else { return nil }
            switch code {
            case 0:
                return length == 0 ? decimals : nil
            case 9:
                let value = options.load(fromByteOffset: at + 4, as: UInt8.self)
                guard length == 1, value & 0x80 == 0, value <= 19 else { return nil }
                decimals = Int(value)
            case 14:
                return nil
            default:
                break
            }
            at += 4 + padded
        }
        return at == count ? decimals : nil
    }

    /// The next packet, as libpcap's `pcap_next_ex` would give it.
    @inline(__always)
    mutating func next() -> Step {
        switch format {
        case .pcap(let nanoseconds): return nextRecord(nanoseconds: nanoseconds)
        case .pcapng(let decimals): return nextBlock(decimals: decimals)
        }
    }

    @inline(__always)
    private mutating func nextRecord(nanoseconds: Bool) -> Step {
        let start = offset
        guard size - start >= 16 else { return start == size ? .end : .leave(at: start) }
        let header = base + start
        // libpcap reads the time's two fields as signed 32-bit numbers.
        let seconds = Int64(header.loadUnaligned(as: Int32.self))
        let fraction = Int64(header.loadUnaligned(fromByteOffset: 4, as: Int32.self))
        let captured = header.loadUnaligned(fromByteOffset: 8, as: UInt32.self)
        let length = header.loadUnaligned(fromByteOffset: 12, as: UInt32.self)
        guard captured <= capturedLimit, Int(captured) <= size - start - 16 else { return .leave(at: start) }
        // A page read past a shrunken file's end came back as zeros.
        if wirecheck_mapping_shrank(mapping) != 0 { return .shrank(at: start) }
        offset = start + 16 + Int(captured)
        if offset >= nextRelease { releaseBehind() }
        return .packet(CapturedPacket(
            timestampNanoseconds: seconds &* 1_000_000_000 &+ (nanoseconds ? fraction : fraction &* 1000),
            originalLength: max(Int(length), Int(captured)),
            bytes: UnsafeRawBufferPointer(start: header + 16, count: Int(captured))
        ))
    }

    @inline(__always)
    private mutating func nextBlock(decimals: Int) -> Step {
        while true {
            let start = offset
            guard size - start >= 12 else { return start == size ? .end : .leave(at: start) }
            let block = base + start
            let type = block.loadUnaligned(as: UInt32.self)
            let length = Int(block.loadUnaligned(fromByteOffset: 4, as: UInt32.self))
            guard length >= 12, length & 3 == 0, length <= Self.largestBlock, length <= size - start,
                  block.loadUnaligned(fromByteOffset: length - 4, as: UInt32.self) == UInt32(length) else { return .leave(at: start) }
            guard type == Self.enhancedPacket else {
                // Blocks libpcap skips (statistics, names, custom) are skipped here too.
                if Self.acted.contains(type) { return .leave(at: start) }
                if wirecheck_mapping_shrank(mapping) != 0 { return .shrank(at: start) }
                offset = start + length
                continue
            }
            guard length >= 32, block.loadUnaligned(fromByteOffset: 8, as: UInt32.self) == 0 else { return .leave(at: start) }
            let high = UInt64(block.loadUnaligned(fromByteOffset: 12, as: UInt32.self))
            let low = UInt64(block.loadUnaligned(fromByteOffset: 16, as: UInt32.self))
            let captured = block.loadUnaligned(fromByteOffset: 20, as: UInt32.self)
            let original = block.loadUnaligned(fromByteOffset: 24, as: UInt32.self)
            guard captured <= capturedLimit, Int(captured) <= length - 32 else { return .leave(at: start) }
            if wirecheck_mapping_shrank(mapping) != 0 { return .shrank(at: start) }
            offset = start + length
            if offset >= nextRelease { releaseBehind() }
            return .packet(CapturedPacket(
                timestampNanoseconds: Self.nanoseconds(units: high << 32 | low, decimals: decimals),
                originalLength: max(Int(original), Int(captured)),
                bytes: UnsafeRawBufferPointer(start: block + 28, count: Int(captured))
            ))
        }
    }

    /// A pcapng time in units of 10^-`decimals` s as libpcap converts it to
    /// nanoseconds: whole seconds (taken as a signed `time_t`), and the
    /// fraction scaled to nanoseconds.
    @inline(__always)
    static func nanoseconds(units: UInt64, decimals: Int) -> Int64 {
        let seconds: UInt64, fraction: UInt64
        switch decimals {
        case 6:
            (seconds, fraction) = (units / 1_000_000, units % 1_000_000 * 1000)
        case 9:
            (seconds, fraction) = (units / 1_000_000_000, units % 1_000_000_000)
        default:
            let resolution = powerOfTen(decimals)
            (seconds, fraction) = decimals < 9
                ? (units / resolution, units % resolution &* (1_000_000_000 / resolution))
                : (units / resolution, units % resolution / (resolution / 1_000_000_000))
        }
        return Int64(bitPattern: seconds) &* 1_000_000_000 &+ Int64(fraction)
    }

    static func powerOfTen(_ exponent: Int) -> UInt64 {
        var value: UInt64 = 1
        for _ in 0..<exponent { value &*= 10 }
        return value
    }

    @inline(never)
    private mutating func releaseBehind() {
        if offset > Self.keptBehind { wirecheck_mapping_release(mapping, offset - Self.keptBehind) }
        nextRelease = offset + Self.releaseStep
    }
}
