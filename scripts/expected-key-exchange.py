#!/usr/bin/env python3
"""Adds "keyExchange" to the TLS flows of Captures/*.expected.json that lack one,
as tshark reads the server's handshake (key_share group, ECDHE curve, or DHE
prime length): a dissector other than wirecheck's says what the key exchange
was. Flows whose SYN is not in the capture are left alone: picked up
mid-stream, wirecheck reads no handshake before it has resynchronised. Run after a capture is regenerated (scripts/craft-protocols.py,
scripts/craft-captures.py, scripts/expected-from-lab.py); needs tshark
(scripts/setup.sh --compare).

    scripts/expected-key-exchange.py
"""
import json, subprocess
from pathlib import Path
names = {}
for line in subprocess.run(["tshark", "-G", "values"], capture_output=True, text=True).stdout.splitlines():
    f = line.split("\t")
    if len(f) == 4 and f[0] == "V" and f[1] == "tls.handshake.extensions_supported_group":
        names[int(f[2], 16)] = f[3]
for exp in sorted(Path("Captures").glob("*.expected.json")):
    cap = next((p for p in [exp.with_name(exp.name.replace(".expected.json", ".pcap")), exp.with_name(exp.name.replace(".expected.json", ".pcapng"))] if p.exists()), None)
    data = json.loads(exp.read_text())
    # tshark picks dissectors by port (TLS on port 80 reads as HTTP to it): each TLS flow's port is decoded as TLS.
    decode = []
    for port in sorted({f["server"].rsplit(":", 1)[1] for f in data["flows"] if f.get("protocol") == "tls"}):
        decode += ["-d", f"tcp.port=={port},tls"]
    out = subprocess.run(["tshark", "-r", str(cap), *decode, "-Y", "tls.handshake.type == 2 || tls.handshake.type == 12", "-T", "fields",
                          "-e", "ip.src", "-e", "ipv6.src", "-e", "tcp.srcport", "-e", "ip.dst", "-e", "ipv6.dst", "-e", "tcp.dstport",
                          "-e", "tls.handshake.extensions_key_share_group", "-e", "tls.handshake.server_named_curve", "-e", "tls.handshake.p_len",
                          "-E", "occurrence=l"], capture_output=True, text=True).stdout
    syns = subprocess.run(["tshark", "-r", str(cap), "-Y", "tcp.flags.syn == 1 && tcp.flags.ack == 0", "-T", "fields",
                           "-e", "ip.src", "-e", "ipv6.src", "-e", "tcp.srcport", "-e", "ip.dst", "-e", "ipv6.dst", "-e", "tcp.dstport",
                           "-E", "occurrence=l"],
                          capture_output=True, text=True).stdout
    opened = set()
    for line in syns.splitlines():
        s4, s6, sp, d4, d6, dp = (line.split("\t") + [""] * 6)[:6]
        opened.add((f"{s4 or '['+s6+']'}:{sp}", f"{d4 or '['+d6+']'}:{dp}"))
    kx = {}
    for line in out.splitlines():
        s4, s6, sp, d4, d6, dp, ks, curve, plen = (line.split("\t") + [""] * 9)[:9]
        client = f"{d4 or '['+d6+']'}:{dp}"; server = f"{s4 or '['+s6+']'}:{sp}"
        g = ks or curve
        if g:
            g = int(g, 0); kx[(client, server)] = names.get(g, f"0x{g:04X}")
        elif plen:
            kx[(client, server)] = f"DHE {int(plen) * 8}-bit"
    changed = 0
    for flow in data["flows"]:
        key = (flow["client"], flow["server"])
        if key in kx and key in opened and flow.get("protocol") == "tls" and "keyExchange" not in flow:
            # after tlsVersion, for reading order
            items = list(flow.items()); i = next((n for n, (k, _) in enumerate(items) if k == "tlsVersion"), len(items) - 1)
            items.insert(i + 1, ("keyExchange", kx[key])); flow.clear(); flow.update(items); changed += 1
    if changed:
        exp.write_text(json.dumps(data, indent=2, ensure_ascii=False) + "\n"); print(exp, changed, sorted(set(kx.values())))
