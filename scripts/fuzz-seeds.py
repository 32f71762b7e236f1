#!/usr/bin/env python3
"""Turns the committed captures into seed inputs for the fuzz harnesses.

Each harness reads its own input format (see Fuzz/*/Harness.swift):
  decoder    one file per frame:  link-type selector, missing bytes, frame
  pipeline   one file per capture: selector, then (u16 length, missing, time step, frame)*
  handshake  one file per TLS flow direction: chunk size, then the TCP payload bytes
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


def tcp_payload_ethernet_ipv4(frame):
    """Payload of an Ethernet/IPv4/TCP frame, with its direction key, else None."""
    if len(frame) < 54 or frame[12:14] != b"\x08\x00" or frame[23] != 6:
        return None
    ihl = (frame[14] & 0x0F) * 4
    tcp = 14 + ihl
    if len(frame) < tcp + 20:
        return None
    total = struct.unpack(">H", frame[16:18])[0]
    data_offset = (frame[tcp + 12] >> 4) * 4
    key = (frame[26:30], frame[tcp:tcp + 2], frame[30:34], frame[tcp + 2:tcp + 4])
    return key, frame[tcp + data_offset:14 + total]


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
            found = tcp_payload_ethernet_ipv4(frame) if linktype == 1 else None
            if found:
                streams.setdefault(found[0], bytearray()).extend(found[1])
        with open(os.path.join(out, "pipeline", name), "wb") as f:
            f.write(pipeline)
        for number, payload in enumerate(streams.values()):
            if payload[:1] == b"\x16":
                with open(os.path.join(out, "handshake", f"{name}-{number}"), "wb") as f:
                    f.write(bytes([99]) + payload[:16384])


if __name__ == "__main__":
    main()
