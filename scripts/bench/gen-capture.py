#!/usr/bin/env python3
"""Writes benchmark captures (Ethernet, pcap) without scapy, fast and deterministic.

  gen-capture.py long-flow OUT PACKETS   one TLS connection: handshake, then PACKETS
                                         in-order client segments of 1000 bytes, each a
                                         whole TLS application-data record, server ACKs
  gen-capture.py many-flows OUT FLOWS    FLOWS concurrent connections: SYN, SYN-ACK, and
                                         one 100-byte TLS record from each client; none closes
  gen-capture.py syn-flood OUT SYNS      SYNS SYN packets from distinct sources, nothing else
  gen-capture.py storm OUT PACKETS       1000 connections, then PACKETS client segments of an
                                         attack on reassembly: tiny segments far ahead of the
                                         stream, overlapping segments with different bytes, huge
                                         sequence jumps, zero-window probes, and some in-order data
  gen-capture.py midstream OUT FLOWS    FLOWS connections picked up mid-way, 45 segments of 1400
                                         bytes of binary each that never resynchronises to TLS
                                         (the classifiers' windows at their largest), in turn
  gen-capture.py held-idle OUT FLOWS    FLOWS connections, each holding 1000 one-byte segments
                                         out of order and one past a second hole, then filling the
                                         first hole, then idle and open, the last segment held
  gen-capture.py mix OUT FLOWS LAB.pcap [--link ethernet|cooked2] [--format pcap|pcapng] [--bulk]
                                         FLOWS complete connections replaying the real TLS 1.3,
                                         TLS 1.2 (mutual) and HTTP flows recorded by scripts/lab.sh
                                         (a third each), addresses and ports rewritten, in-order,
                                         segments of at most 1448 bytes, 20 connections open at once.
                                         --link cooked2 writes Linux cooked v2 frames, each packet
                                         twice (as `-i any` sees a bridged pod: once per veth);
                                         --format pcapng writes pcapng blocks; --bulk makes every
                                         tenth connection's response 16 KiB longer (TLS records of
                                         seeded random bytes, or text), for varied flow sizes
Generated captures are for benchmarks only and never go into git.
"""
import random
import struct
import sys

def pcap_header():
    return struct.pack("<IHHiIII", 0xA1B2C3D4, 2, 4, 0, 0, 262144, 1)

def ip_checksum(header):
    s = sum(struct.unpack("!10H", header))
    s = (s >> 16) + (s & 0xFFFF)
    s += s >> 16
    return (~s) & 0xFFFF

def frame(src, dst, sport, dport, seq, ack, flags, payload):
    tcp = struct.pack("!HHIIBBHHH", sport, dport, seq & 0xFFFFFFFF, ack & 0xFFFFFFFF, 5 << 4, flags, 502, 0, 0)
    total = 20 + len(tcp) + len(payload)
    ip = struct.pack("!BBHHHBBH4s4s", 0x45, 0, total, 0, 0x4000, 64, 6, 0, src, dst)
    ip = ip[:10] + struct.pack("!H", ip_checksum(ip)) + ip[12:]
    eth = b"\x02\x00\x00\x00\x00\x02\x02\x00\x00\x00\x00\x01\x08\x00"
    return eth + ip + tcp + payload

def record(t, data):
    sec, usec = int(t), int((t - int(t)) * 1e6)
    return struct.pack("<IIII", sec, usec, len(data), len(data)) + data

def tls_record(rng, size):
    body = rng.randbytes(size - 5)
    return struct.pack("!BHH", 23, 0x0303, len(body)) + body

def addr(n):
    return struct.pack("!I", n)

def long_flow(out, packets):
    rng = random.Random(1)
    c, s = addr(0x0A000001), addr(0x0A000002)
    t = 1_790_000_000.0
    cseq, sseq = 1000, 900000
    payload = tls_record(rng, 1000)
    with open(out, "wb") as f:
        f.write(pcap_header())
        f.write(record(t, frame(c, s, 40000, 443, cseq, 0, 0x02, b"")))
        f.write(record(t, frame(s, c, 443, 40000, sseq, cseq + 1, 0x12, b"")))
        cseq += 1; sseq += 1
        f.write(record(t, frame(c, s, 40000, 443, cseq, sseq, 0x10, b"")))
        # The server's side: one record, so the flow is TLS both ways.
        f.write(record(t, frame(s, c, 443, 40000, sseq, cseq, 0x18, payload)))
        sseq += len(payload)
        for i in range(packets):
            t += 0.00001
            f.write(record(t, frame(c, s, 40000, 443, cseq, sseq, 0x18, payload)))
            cseq += len(payload)

def many_flows(out, flows):
    rng = random.Random(2)
    payload = tls_record(rng, 100)
    t = 1_790_000_000.0
    with open(out, "wb") as f:
        f.write(pcap_header())
        for i in range(flows):
            c, s = addr(0x0A000000 + (i >> 16) + 1), addr(0x0B000000 + (i & 0xFFFF))
            sport = 10000 + (i % 50000)
            t += 0.000001
            f.write(record(t, frame(c, s, sport, 443, 1000, 0, 0x02, b"")))
            f.write(record(t, frame(s, c, 443, sport, 5000, 1001, 0x12, b"")))
            f.write(record(t, frame(c, s, sport, 443, 1001, 5001, 0x18, payload)))

def syn_flood(out, syns):
    t = 1_790_000_000.0
    server = addr(0x0B000001)
    with open(out, "wb") as f:
        f.write(pcap_header())
        for i in range(syns):
            t += 0.000001
            f.write(record(t, frame(addr(0x0A000000 + (i >> 16)), server, 1024 + (i & 0xFFFF) % 64000, 443, i * 7919, 0, 0x02, b"")))

def midstream(out, flows, segments=45):
    """FLOWS connections picked up mid-way (no handshake), each sending SEGMENTS
    segments of 1400 random bytes with the high bit set (no TLS record header
    can start there), in turn: windows that never resynchronise."""
    rng = random.Random(5)
    t = 1_790_000_000.0
    server = addr(0x0B000001)
    with open(out, "wb") as f:
        f.write(pcap_header())
        for r in range(segments):
            for i in range(flows):
                payload = bytes(b | 0x80 for b in rng.randbytes(1400))
                t += 0.000001
                f.write(record(t, frame(addr(0x0A000000 + i + 1), server, 10000 + i % 50000, 9092, 7000 + r * 1400, 1, 0x18, payload)))

def storm(out, packets):
    rng = random.Random(4)
    flows = 1000
    t = 1_790_000_000.0
    nxt = []
    with open(out, "wb") as f:
        f.write(pcap_header())
        for i in range(flows):
            c, s = addr(0x0A000000 + i + 1), addr(0x0B000001)
            t += 0.000001
            f.write(record(t, frame(c, s, 20000, 443, 1000, 0, 0x02, b"")))
            f.write(record(t, frame(s, c, 443, 20000, 5000, 1001, 0x12, b"")))
            nxt.append(1001)
        noise = rng.randbytes(1 << 16)
        for i in range(packets):
            k = i % flows
            c, s = addr(0x0A000000 + k + 1), addr(0x0B000001)
            roll = rng.random()
            if roll < 0.4:    # tiny segment far ahead: held out of order
                seq, size = nxt[k] + rng.randint(1, 500_000), rng.randint(1, 16)
            elif roll < 0.6:  # overlapping segment, different bytes from what it overlaps
                seq, size = nxt[k] + rng.randint(1, 500_000), 64
            elif roll < 0.7:  # huge sequence jump
                seq, size = nxt[k] + rng.randint(1 << 29, (1 << 31) - 1), 8
            elif roll < 0.8:  # zero-window probe: one old byte
                seq, size = nxt[k] - 1, 1
            else:             # in-order data
                seq, size = nxt[k], 100
                nxt[k] += size
            at = rng.randrange(0, len(noise) - size)
            t += 0.000001
            f.write(record(t, frame(c, s, 20000, 443, seq, 5001, 0x18, noise[at:at + size])))

def held_idle(out, flows, held=1000):
    """FLOWS connections, each holding HELD one-byte segments out of order
    (the byte before them missing) and one more past a second hole, then
    sending the first missing byte, which hands the HELD on; then idle, open
    until the capture ends, the last segment still held. What a flow keeps
    for the segments once they are gone should not add up across flows."""
    rng = random.Random(6)
    t = 1_790_000_000.0
    server = addr(0x0B000001)
    with open(out, "wb") as f:
        f.write(pcap_header())
        for i in range(flows):
            c = addr(0x0A000000 + i + 1)
            t += 0.000001
            f.write(record(t, frame(c, server, 20000, 443, 1000, 0, 0x02, b"")))
            f.write(record(t, frame(server, c, 443, 20000, 5000, 1001, 0x12, b"")))
            for k in list(range(1, held + 1)) + [held + 2]:
                t += 0.000001
                f.write(record(t, frame(c, server, 20000, 443, 1001 + k, 5001, 0x18, rng.randbytes(1))))
            t += 0.000001
            f.write(record(t, frame(c, server, 20000, 443, 1001, 5001, 0x18, rng.randbytes(1))))

def lab_streams(pcap):
    """(client bytes, server bytes) of each lab connection, in order, from a pcap
    recorded by scripts/lab.sh (Linux cooked v1/v2 or Ethernet), duplicates removed."""
    with open(pcap, "rb") as f:
        data = f.read()
    magic, = struct.unpack("<I", data[:4])
    assert magic in (0xA1B2C3D4, 0xA1B23C4D), "pcap (not pcapng) expected"
    linktype, = struct.unpack("<I", data[20:24])
    link = {1: 14, 113: 16, 276: 20}[linktype]
    pos, flows, order = 24, {}, []
    while pos + 16 <= len(data):
        caplen, = struct.unpack("<I", data[pos + 8:pos + 12])
        frame = data[pos + 16:pos + 16 + caplen]
        pos += 16 + caplen
        ip = frame[link:]
        if len(ip) < 20 or ip[0] >> 4 != 4 or ip[9] != 6:
            continue
        ihl = (ip[0] & 15) * 4
        total, = struct.unpack("!H", ip[2:4])
        tcp = ip[ihl:total]
        sport, dport, seq = struct.unpack("!HHI", tcp[:8])
        payload = tcp[(tcp[12] >> 4) * 4:]
        key = (ip[12:16], sport) if dport == 80 else (ip[16:20], dport)
        if key not in flows:
            flows[key] = ({}, {})
            order.append(key)
        if payload:
            flows[key][0 if dport == 80 else 1].setdefault(seq, payload)
    join = lambda chunks: b"".join(chunks[k] for k in sorted(chunks))
    return [(join(flows[k][0]), join(flows[k][1])) for k in order if flows[k][0]]

def sll2(ifindex):
    """A Linux cooked v2 header replacing the Ethernet one: IPv4, interface `ifindex`."""
    return struct.pack("!HHIHBB8s", 0x0800, 0, ifindex, 1, 0, 6, b"\x02\x00\x00\x00\x00\x01\x00\x00")

class Writer:
    """Writes frames as pcap or pcapng, Ethernet or Linux cooked v2 (each packet twice)."""
    def __init__(self, f, link, fmt):
        self.f, self.link, self.fmt = f, link, fmt
        linktype = 276 if link == "cooked2" else 1
        if fmt == "pcapng":
            options = b""
            shb = struct.pack("<IIIHHq", 0x0A0D0D0A, 28, 0x1A2B3C4D, 1, 0, -1) + struct.pack("<I", 28)
            f.write(shb)
            # Interface description with if_tsresol = 6 (microseconds, the default).
            idb_body = struct.pack("<HHI", linktype, 0, 262144) + options
            f.write(struct.pack("<II", 1, 12 + len(idb_body)) + idb_body + struct.pack("<I", 12 + len(idb_body)))
        else:
            f.write(struct.pack("<IHHiIII", 0xA1B2C3D4, 2, 4, 0, 0, 262144, linktype))

    def write(self, t, frame):
        if self.link == "cooked2":
            for ifindex in (7, 9):
                self._record(t, sll2(ifindex) + frame[14:])
        else:
            self._record(t, frame)

    def _record(self, t, data):
        if self.fmt == "pcapng":
            micros = int(round(t * 1e6))
            padded = data + b"\x00" * (-len(data) % 4)
            length = 32 + len(padded)
            self.f.write(struct.pack("<IIIIIII", 6, length, 0, micros >> 32, micros & 0xFFFFFFFF, len(data), len(data))
                         + padded + struct.pack("<I", length))
        else:
            self.f.write(record(t, data))

def bulk_tail(rng, is_tls, size=16384):
    if is_tls:
        out = b""
        while len(out) < size:
            body = rng.randbytes(4096)
            out += struct.pack("!BHH", 23, 0x0303, len(body)) + body
        return out
    return (b"wirecheck benchmark filler text line\r\n" * (size // 38 + 1))[:size]

def mix(out, count, lab, link="ethernet", fmt="pcap", bulk=False):
    templates = lab_streams(lab)
    rng = random.Random(7)
    t = 1_790_000_000.0
    open_flows = 20
    with open(out, "wb") as f:
        w = Writer(f, link, fmt)
        for batch in range(0, count, open_flows):
            conns = []
            for i in range(batch, min(count, batch + open_flows)):
                req, resp = templates[i % len(templates)]
                if bulk and i % 10 == 9:
                    resp = resp + bulk_tail(rng, resp[:1] == b"\x16")
                c, s = addr(0x0A000000 + (i >> 14) + 1), addr(0x0B000000 + (i & 0x3FFF))
                conns.append([c, s, 10000 + (i % 50000), 1000 + i, 7000000 + i, req, resp])
            steps = []
            for c, s, sp, cs, ss, req, resp in conns:
                pk = []
                pk.append(frame(c, s, sp, 80, cs, 0, 0x02, b""))
                pk.append(frame(s, c, 80, sp, ss, cs + 1, 0x12, b""))
                cs += 1; ss += 1
                for i in range(0, len(req), 1448):
                    pk.append(frame(c, s, sp, 80, cs, ss, 0x18, req[i:i + 1448])); cs += len(req[i:i + 1448])
                for i in range(0, len(resp), 1448):
                    pk.append(frame(s, c, 80, sp, ss, cs, 0x18, resp[i:i + 1448])); ss += len(resp[i:i + 1448])
                pk.append(frame(c, s, sp, 80, cs, ss, 0x11, b"")); cs += 1
                pk.append(frame(s, c, 80, sp, ss, cs, 0x11, b"")); ss += 1
                pk.append(frame(c, s, sp, 80, cs, ss, 0x10, b""))
                steps.append(pk)
            # Interleave the open connections packet by packet.
            for k in range(max(len(p) for p in steps)):
                for pk in steps:
                    if k < len(pk):
                        t += 0.000002
                        w.write(t, pk[k])

if __name__ == "__main__":
    kind, out, n = sys.argv[1], sys.argv[2], int(sys.argv[3])
    if kind == "mix":
        options = sys.argv[5:]
        def option(name, default):
            return options[options.index(name) + 1] if name in options else default
        mix(out, n, sys.argv[4], link=option("--link", "ethernet"), fmt=option("--format", "pcap"), bulk="--bulk" in options)
    else:
        {"long-flow": long_flow, "many-flows": many_flows, "syn-flood": syn_flood, "storm": storm,
         "midstream": midstream, "held-idle": held_idle}[kind](out, n)
