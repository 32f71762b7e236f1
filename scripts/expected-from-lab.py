#!/usr/bin/env python3
"""Writes Captures/<name>.expected.json for a capture recorded by `scripts/lab.sh record`.

The verdicts follow from what the lab does, not from wirecheck's output: the mesh
client (10.111.1.10) always speaks mutual TLS (first TLS 1.3, then TLS 1.2); the
legacy client (10.111.1.20) sends plaintext HTTP, which the PERMISSIVE proxy serves
and the STRICT proxy refuses. Client ports come from the SYNs, read with tshark.

    scripts/expected-from-lab.py Captures/permissive.pcap permissive
    scripts/expected-from-lab.py Captures/lab-services.pcap services

`services` is `scripts/lab.sh record-services`: the legacy client sends HTTP
with Basic auth and a cookie, an HTTP/2 request in clear (h2c) with a bearer
token and a key in its query, logs in to PostgreSQL with a password first
without TLS (PGSSLMODE=disable) and then with it (require: SSLRequest, 'S',
TLS), logs in to SMTP with AUTH, to the MQTT broker with a password, and to
LDAP with a simple bind, first in clear and then after StartTLS, and ships a log
line with a token over TCP (util-linux logger), which the receiver closes after
the client; then a second Alertmanager joins the first (memberlist gossip on
9094, LZW-compressed, no key), and two Erlang nodes connect (EPMD lookup on
4369, distribution on 25672; the cookie never crosses). Every flow is plaintext but the second PostgreSQL and the second
LDAP one; no credential may appear in any output.
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
         "-T", "fields", "-e", "frame.time_epoch", "-e", "ip.src", "-e", "tcp.srcport", "-e", "tcp.dstport"],
        check=True, capture_output=True, text=True).stdout
    seen, result = set(), []
    for line in out.splitlines():
        time, ip, port, server_port = line.split("\t")
        if (ip, port) not in seen:
            seen.add((ip, port))
            result.append((float(time), ip, int(port), int(server_port)))
    return sorted(result)


# The credentials scripts/lab.sh sends, in every form they take on the wire.
SECRETS = ["wc-pg-secret-4711", "wc-smtp-secret-0815", "wc-cookie-secret-42", "wc-basic-secret-99",
           "YXBwOndjLWJhc2ljLXNlY3JldC05OQ==", "AGFwcAB3Yy1zbXRwLXNlY3JldC0wODE1", "d2Mtc210cC1zZWNyZXQtMDgxNQ==",
           "wc-mqtt-secret-2718", "wc-ldap-secret-3141", "wc-log-token-1618", "wc-h2c-token-2323", "wc-h2c-query-4646",
           "wc-erlang-cookie-5772"]


def services(capture):
    flows, postgres, ldap = [], iter(["disable", "require"]), iter(["clear", "starttls"])
    for _, ip, port, server_port in syns(capture):
        client, server = f"{ip}:{port}", f"10.111.1.122:{server_port}"
        flow = {"client": client, "server": server, "forbidden": SECRETS}
        if server_port == 80:
            flow.update(verdict="plaintext", protocol="http",
                        evidenceContains=["GET /account HTTP/1.1", "Authorization: [redacted]", "Cookie: [redacted]"])
        elif server_port == 8081:
            flow.update(verdict="plaintext", protocol="h2c",
                        evidenceContains=["then GET /orders?api_key=[redacted] (:authority 10.111.1.122:8081)",
                                          "HTTP/2 :status 200 (content-type text/plain)"])
        elif server_port == 5432 and next(postgres) == "disable":
            flow.update(verdict="plaintext", protocol="postgresql", evidenceContains=["PostgreSQL startup (user app)"])
        elif server_port == 5432:
            flow.update(verdict="encrypted", protocol="tls", reasonContains="PostgreSQL SSLRequest")
        elif server_port == 25:
            flow.update(verdict="plaintext", protocol="smtp")
        elif server_port == 1883:
            flow.update(verdict="plaintext", protocol="mqtt",
                        evidenceContains=["MQTT 3.1.1 CONNECT (client id sensor-17, user app, password [redacted])"])
        elif server_port == 389 and next(ldap) == "clear":
            flow.update(verdict="plaintext", protocol="ldap",
                        evidenceContains=["LDAP simple bind as cn=admin,dc=example,dc=org, password [redacted]"])
        elif server_port == 389:
            flow.update(verdict="encrypted", protocol="tls", reasonContains="LDAP StartTLS")
        elif server_port == 514:
            # logger sends its line and closes; the receiver's close follows: no refusal.
            flow.update(verdict="plaintext", protocol="text", reasonContains="answering the client's close")
        elif server_port == 9094:
            # An Alertmanager joining another: memberlist push/pull, LZW-compressed, no gossip key.
            flow.update(verdict="plaintext", protocol="memberlist",
                        evidenceContains=["memberlist push/pull (join)", "LZW-compressed"])
        elif server_port == 4369:
            flow.update(verdict="plaintext", protocol="epmd", evidenceContains=["EPMD lookup of node rabbit"])
        elif server_port == 25672:
            flow.update(verdict="plaintext", protocol="erlang-dist",
                        evidenceContains=["Erlang distribution handshake from node rabbit@10.111.1.20"])
        else:
            raise SystemExit(f"unexpected flow to port {server_port}: {client} -> {server}")
        flows.append(flow)
    return {
        "description": "scripts/lab.sh record-services: real clients send credentials to real servers in the "
                       "webserver pod (curl to nginx with Basic auth and a cookie, curl to nginx over h2c with a bearer token, psql to PostgreSQL without and "
                       "then with TLS, curl to SMTP with AUTH, mosquitto_pub to mosquitto with a password, "
                       "ldapsearch to slapd with a simple bind, in clear and then after StartTLS, logger shipping a "
                       "log line with a token over TCP to a receiver that closes after it, an Alertmanager joining another "
                       "over memberlist, two Erlang nodes connecting through EPMD), recorded with "
                       "tcpdump -i any in the node",
        "exitCode": 1,
        # The Alertmanagers' gossip datagrams: UDP between their cluster
        # listeners (lab.sh gives both port 9094), no gossip key, so in clear.
        "notJudged": {"memberlist": gossip_datagrams(capture)},
        "flows": flows,
    }


def gossip_datagrams(capture):
    out = subprocess.run(["tshark", "-r", capture, "-Y", "udp.srcport == 9094 && udp.dstport == 9094", "-T", "fields", "-e", "frame.number"],
                         check=True, capture_output=True, text=True).stdout
    return len(out.split())


def main():
    capture, mode = sys.argv[1], sys.argv[2]
    if mode == "services":
        out = Path(capture).with_suffix("").with_suffix(".expected.json")
        out.write_text(json.dumps(services(capture), indent=2) + "\n")
        print(out)
        return
    flows, mesh_versions = [], iter(["TLS 1.3", "TLS 1.2"])
    for _, ip, port, _ in syns(capture):
        client = f"{ip}:{port}"
        if ip == MESH:
            # The mesh client always presents its certificate; TLS 1.2 shows it on the wire, 1.3 encrypts it.
            version = next(mesh_versions)
            certificate = "sent" if version == "TLS 1.2" else "not visible (TLS 1.3 encrypts it)"
            flows.append({"client": client, "server": SERVER, "verdict": "encrypted", "protocol": "tls",
                          "tlsVersion": version, "sni": SNI, "alpn": ALPN, "mesh": "istio-sidecar",
                          "clientCertificate": certificate})
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
