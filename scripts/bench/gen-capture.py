#!/usr/bin/env python3
"""Writes benchmark captures (Ethernet, pcap) without scapy, fast and deterministic.

  gen-capture.py long-flow OUT PACKETS   one TLS connection: handshake, then PACKETS
                                         in-order client segments of 1000 bytes, each a
                                         whole TLS application-data record, server ACKs
  gen-capture.py many-flows OUT FLOWS    FLOWS concurrent connections: SYN, SYN-ACK, and
                                         one 100-byte TLS record from each client; none closes
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

if __name__ == "__main__":
    kind, out, n = sys.argv[1], sys.argv[2], int(sys.argv[3])
    {"long-flow": long_flow, "many-flows": many_flows}[kind](out, n)
