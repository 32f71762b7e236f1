#!/usr/bin/env python3
"""Turns the committed captures into seed inputs for the fuzz harnesses.

Each harness reads its own input format (see Fuzz/*/Harness.swift):
  decoder    one file per frame:  link-type selector, missing bytes, frame
  pipeline   one file per capture: selector, then (u16 length, missing, time step, frame)*
  handshake  one file per TCP flow direction (IPv4 on Ethernet or Linux cooked):
             chunk size, then the direction's payload bytes
Pure standard library (classic pcap only), so CI needs nothing extra.
Usage: fuzz-seeds.py OUT_DIR CAPTURE...
"""
import os
import struct
import sys

# Must match the order of LinkType.supported.sorted() in PacketDecoding.
SUPPORTED = sorted([0, 1, 12, 14, 101, 108, 113, 228, 229, 276, 9, 10, 50, 51, 104, 129, 178, 242])


def read_pcap(path):
    with open(path, "rb") as f:
        data = f.read()
    magic = data[:4]
    if magic in (b"\xd4\xc3\xb2\xa1", b"\x4d\x3c\xb2\xa1"):
        endian = "<"
    elif magic in (b"\xa1\xb2\xc3\xd4", b"\xa1\xb2\x3c\x4d"):
        endian = ">"
    else:
        return None, []
    linktype = struct.unpack(endian + "I", data[20:24])[0] & 0x0FFFFFFF
    packets, offset = [], 24
    while offset + 16 <= len(data):
        _, _, caplen, wirelen = struct.unpack(endian + "IIII", data[offset:offset + 16])
        offset += 16
        packets.append((data[offset:offset + caplen], wirelen))
        offset += caplen
    return linktype, packets


# Link header lengths where the IPv4 packet starts, and where the EtherType is.
LINK_HEADERS = {1: (14, 12), 113: (16, 14), 276: (20, 0)}


def tcp_payload_ipv4(linktype, frame):
    """(direction key, sequence number, payload) of an IPv4/TCP frame on
    Ethernet or Linux cooked v1/v2, else None."""
    if linktype not in LINK_HEADERS:
        return None
    ip, ethertype = LINK_HEADERS[linktype]
    if len(frame) < ip + 40 or frame[ethertype:ethertype + 2] != b"\x08\x00" or frame[ip + 9] != 6:
        return None
    ihl = (frame[ip] & 0x0F) * 4
    tcp = ip + ihl
    if len(frame) < tcp + 20:
        return None
    total = struct.unpack(">H", frame[ip + 2:ip + 4])[0]
    data_offset = (frame[tcp + 12] >> 4) * 4
    key = (frame[ip + 12:ip + 16], frame[tcp:tcp + 2], frame[ip + 16:ip + 20], frame[tcp + 2:tcp + 4])
    sequence = struct.unpack(">I", frame[tcp + 4:tcp + 8])[0]
    return key, sequence, frame[tcp + data_offset:ip + total]


def main():
    out, captures = sys.argv[1], sys.argv[2:]
    for harness in ("decoder", "pipeline", "handshake"):
        os.makedirs(os.path.join(out, harness), exist_ok=True)
    for path in captures:
        name = os.path.splitext(os.path.basename(path))[0]
        linktype, packets = read_pcap(path)
        if linktype not in SUPPORTED or not packets:
            continue
        selector = bytes([SUPPORTED.index(linktype)])
        pipeline = bytearray(selector)
        streams = {}
        for number, (frame, wirelen) in enumerate(packets):
            missing = min(255, max(0, wirelen - len(frame)))
            frame = frame[:65535]
            with open(os.path.join(out, "decoder", f"{name}-{number}"), "wb") as f:
                f.write(selector + bytes([missing]) + frame)
            pipeline += struct.pack(">HBB", len(frame), missing, 1) + frame
            found = tcp_payload_ipv4(linktype, frame)
            if found and found[2]:
                # By sequence number: -i any captures hold each segment twice.
                streams.setdefault(found[0], {})[found[1]] = found[2]
        with open(os.path.join(out, "pipeline", name), "wb") as f:
            f.write(pipeline)
        for number, segments in enumerate(streams.values()):
            payload = b"".join(segments[k] for k in sorted(segments))
            # Every direction's stream, not only TLS: the classifier's probes
            # (cleartext protocols, memberlist's LZW) read them all.
            with open(os.path.join(out, "handshake", f"{name}-{number}"), "wb") as f:
                f.write(bytes([99]) + payload[:16384])


if __name__ == "__main__":
    main()
