#!/usr/bin/env python3
"""Adds "serverCertificateName" and "clientCertificateName" to the TLS flows of
Captures/*.expected.json, read by other parsers than wirecheck's: tshark
reassembles the TLS 1.2 Certificate messages and hands over their leaf
certificates, and OpenSSL reads each one's subjectAltName and subject. The
name is chosen as wirecheck documents it: a spiffe:// URI, else the first DNS
name, else the first URI, else CN=<the subject's last common name>. Run after
a capture is regenerated; needs tshark and openssl (scripts/setup.sh --compare).

    scripts/expected-certificates.py                 # rewrite the expected files
    scripts/expected-certificates.py --print FILE…   # print the names tshark and OpenSSL find
"""
import json, subprocess, sys, tempfile
from pathlib import Path


def name_of(der: bytes):
    with tempfile.NamedTemporaryFile(suffix=".der") as f:
        f.write(der); f.flush()
        out = subprocess.run(["openssl", "x509", "-inform", "DER", "-in", f.name, "-noout", "-ext", "subjectAltName",
                              "-subject", "-nameopt", "sep_multiline,utf8,-esc_msb"], capture_output=True, text=True)
    if out.returncode != 0:
        return None
    lines = out.stdout.splitlines()
    sans, cns, in_san, in_subject = [], [], False, False
    for line in lines:
        if line.startswith("X509v3 Subject Alternative Name"):
            in_san, in_subject = True, False; continue
        if line.startswith("subject="):
            in_san, in_subject = False, True; continue
        if in_san and line.startswith(" "):
            sans += [part.strip() for part in line.strip().split(", ")]
        elif in_subject and line.strip().startswith("CN="):
            cns.append(line.strip()[3:])
    uris = [s[4:] for s in sans if s.startswith("URI:")]
    dns = [s[4:] for s in sans if s.startswith("DNS:")]
    for uri in uris:
        if uri.startswith("spiffe://"):
            return uri
    if dns:
        return dns[0]
    if uris:
        return uris[0]
    return "CN=" + cns[-1] if cns else None


def leaf_names(capture, tls_ports):
    """{(client, server): {"server": name, "client": name}} for every Certificate message tshark reassembles."""
    decode = []
    for port in sorted(tls_ports):
        decode += ["-d", f"tcp.port=={port},tls"]
    out = subprocess.run(["tshark", "-r", str(capture), "-o", "tcp.reassemble_out_of_order:TRUE", *decode, "-Y", "tls.handshake.type == 11", "-T", "fields",
                          "-e", "ip.src", "-e", "ipv6.src", "-e", "tcp.srcport", "-e", "ip.dst", "-e", "ipv6.dst", "-e", "tcp.dstport",
                          "-e", "tls.handshake.certificate", "-E", "occurrence=f"], capture_output=True, text=True).stdout
    found = {}
    for line in out.splitlines():
        s4, s6, sp, d4, d6, dp, cert = (line.split("\t") + [""] * 7)[:7]
        if not cert:
            continue
        src = f"{s4 or '['+s6+']'}:{sp}"; dst = f"{d4 or '['+d6+']'}:{dp}"
        found.setdefault((src, dst), []).append(name_of(bytes.fromhex(cert.replace(":", ""))))
    return found


def main():
    if len(sys.argv) > 2 and sys.argv[1] == "--print":
        for capture in sys.argv[2:]:
            for (src, dst), names in leaf_names(capture, []).items():
                print(capture, src, "->", dst, names)
        return
    for exp in sorted(Path("Captures").glob("*.expected.json")):
        cap = next((p for p in [exp.with_name(exp.name.replace(".expected.json", ".pcap")),
                                exp.with_name(exp.name.replace(".expected.json", ".pcapng"))] if p.exists()), None)
        data = json.loads(exp.read_text())
        ports = {f["server"].rsplit(":", 1)[1] for f in data["flows"] if f.get("protocol") == "tls"}
        # tshark picks dissectors by port: once as it would (TLS inside TDS on
        # 1433, say), once with the TLS flows' ports decoded as TLS (port 80).
        found = leaf_names(cap, [])
        for key, names in leaf_names(cap, ports).items():
            found.setdefault(key, names)
        changed = 0
        for flow in data["flows"]:
            # Where the server's handshake is read (its version expected):
            # TDS's login-only TLS, say, is not.
            if "tlsVersion" not in flow:
                continue
            for key, sender, receiver in (("serverCertificateName", flow["server"], flow["client"]),
                                          ("clientCertificateName", flow["client"], flow["server"])):
                names = found.get((sender, receiver), [])
                if names and names[0] and flow.get(key) != names[0]:
                    flow[key] = names[0]; changed += 1
        if changed:
            exp.write_text(json.dumps(data, indent=2, ensure_ascii=False) + "\n"); print(exp, changed)


main()
