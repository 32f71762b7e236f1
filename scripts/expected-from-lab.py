#!/usr/bin/env python3
"""Writes Captures/<name>.expected.json for a capture recorded by `scripts/lab.sh record`.

The verdicts follow from what the lab does, not from wirecheck's output: the mesh
client (10.111.1.10) always speaks mutual TLS (first TLS 1.3, then TLS 1.2); the
legacy client (10.111.1.20) sends plaintext HTTP, which the PERMISSIVE proxy serves
and the STRICT proxy refuses. Client ports come from the SYNs, read with tshark.

    scripts/expected-from-lab.py Captures/permissive.pcap permissive
"""
import json
import subprocess
import sys
from pathlib import Path

MESH, LEGACY, SERVER = "10.111.1.10", "10.111.1.20", "10.111.1.122:80"
SNI = "outbound_.80_._.webserver.default.svc.cluster.local"
ALPN = ["istio-peer-exchange", "istio-http/1.1", "istio", "http/1.1"]


def syns(capture):
    """(time, client ip, client port) of each client SYN, first copy only."""
    out = subprocess.run(
        ["tshark", "-r", capture, "-Y", "tcp.flags.syn==1 && tcp.flags.ack==0",
         "-T", "fields", "-e", "frame.time_epoch", "-e", "ip.src", "-e", "tcp.srcport"],
        check=True, capture_output=True, text=True).stdout
    seen, result = set(), []
    for line in out.splitlines():
        time, ip, port = line.split("\t")
        if (ip, port) not in seen:
            seen.add((ip, port))
            result.append((float(time), ip, int(port)))
    return sorted(result)


def main():
    capture, mode = sys.argv[1], sys.argv[2]
    flows, mesh_versions = [], iter(["TLS 1.3", "TLS 1.2"])
    for _, ip, port in syns(capture):
        client = f"{ip}:{port}"
        if ip == MESH:
            flows.append({"client": client, "server": SERVER, "verdict": "encrypted", "protocol": "tls",
                          "tlsVersion": next(mesh_versions), "sni": SNI, "alpn": ALPN, "mesh": "istio-sidecar"})
        elif ip == LEGACY:
            verdict = "plaintext" if mode == "permissive" else "plaintext-rejected"
            flows.append({"client": client, "server": SERVER, "verdict": verdict, "protocol": "http"})
    expected = {
        "description": f"scripts/lab.sh record, {mode.upper()}: tcpdump -i any in the node namespace while a mesh "
                       "client sends mutual-TLS requests (TLS 1.3, then TLS 1.2) and a legacy client a plain HTTP request",
        "exitCode": 1 if mode == "permissive" else 0,
        "flows": flows,
    }
    out = Path(capture).with_suffix("").with_suffix(".expected.json")
    out.write_text(json.dumps(expected, indent=2) + "\n")
    print(out)


if __name__ == "__main__":
    main()
