#!/usr/bin/python3
"""Builds Captures/crafted-protocols.pcap: one connection per classification case.

TLS bytes are real: recorded here from OpenSSL (s_server and s_client on
loopback, captured with tcpdump) with the SNI, ALPN and key-share settings each
case needs. Cleartext protocols are written as their specifications define
their first messages. Addresses and ports are rewritten into one capture, one
connection after another; the expected verdicts follow from what each case
sends, never from wirecheck's output.

    scripts/craft-protocols.py       (root: tcpdump on loopback; Debian's python3-scapy, python3-h2, openssl, tcpdump)
"""
import gzip
import json
import os
import random
import socket
import subprocess
import sys
import tempfile
import time
import zlib
from pathlib import Path

from scapy.all import IP, TCP, Ether, rdpcap, wrpcap
from scapy.contrib.http2 import HPackHdrTable
from h2.config import H2Configuration
from h2.connection import H2Connection

ROOT = Path(__file__).resolve().parent.parent
CAPTURES = ROOT / "Captures"
T0 = 1_790_100_000.0
MSS = 1400
rng = random.Random(20261124)


def record_tls(port, server_args, client, key_type=("-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1"), accepts=1):
    """Runs OpenSSL's s_server on 127.0.0.1:port and `client(port)` against
    it under tcpdump; returns the (client bytes, server bytes) of the TCP
    connection as recorded (with `accepts` > 1, of the last one)."""
    work = Path(tempfile.mkdtemp())
    key, cert = work / "key.pem", work / "cert.pem"
    subprocess.run(["openssl", "req", "-x509", *key_type, "-nodes",
                    "-days", "30", "-subj", "/CN=wirecheck-craft", "-keyout", key, "-out", cert],
                   check=True, capture_output=True)
    pcap = work / "tls.pcap"
    dump = subprocess.Popen(["tcpdump", "-i", "lo", "-U", "-w", pcap, f"tcp port {port}"],
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    time.sleep(1)
    server = subprocess.Popen(["openssl", "s_server", "-accept", f"127.0.0.1:{port}", "-key", key, "-cert", cert,
                               "-naccept", str(accepts), "-www"] + server_args,
                              stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    time.sleep(0.5)
    client(port)
    time.sleep(0.5)
    server.kill()
    time.sleep(0.5)
    dump.terminate()
    dump.wait()
    parts = {"c": {}, "s": {}}
    packets = rdpcap(str(pcap))
    syns = [pkt[TCP].sport for pkt in packets if TCP in pkt and pkt[TCP].dport == port and pkt[TCP].flags & 0x12 == 0x02]
    for pkt in packets:
        if TCP in pkt and syns and syns[-1] not in (pkt[TCP].sport, pkt[TCP].dport):
            continue
        if TCP in pkt and bytes(pkt[TCP].payload):
            side = "c" if pkt[TCP].dport == port else "s"
            parts[side].setdefault(pkt[TCP].seq, bytes(pkt[TCP].payload))
    join = lambda chunks: b"".join(chunks[k] for k in sorted(chunks))
    return join(parts["c"]), join(parts["s"])


def openssl_session(server_args, client_args, port, key_type=None):
    """s_server and s_client on loopback; -www answers a GET with a page and closes."""
    def client(port):
        process = subprocess.Popen(["openssl", "s_client", "-connect", f"127.0.0.1:{port}", "-quiet", "-ign_eof"] + client_args,
                                   stdin=subprocess.PIPE, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        try:
            process.communicate(b"GET / HTTP/1.0\r\n\r\n", timeout=10)
        except subprocess.TimeoutExpired:
            process.kill()
    if key_type:
        return record_tls(port, server_args, client, key_type)
    return record_tls(port, server_args, client)


def resumed_session(server_args, client_args, port):
    """Two s_client connections to one s_server: the first saves its session,
    the second offers it back. Returns the second connection, after checking
    that OpenSSL itself reports the session reused."""
    def client(port):
        session = Path(tempfile.mkdtemp()) / "session.pem"
        for flag in ("-sess_out", "-sess_in"):
            process = subprocess.run(["openssl", "s_client", "-connect", f"127.0.0.1:{port}", "-ign_eof", flag, session] + client_args,
                                     input=b"GET / HTTP/1.0\r\n\r\n", capture_output=True, timeout=10)
            time.sleep(0.3)
        if b"Reused," not in process.stdout:
            sys.exit(f"resumed_session {port}: OpenSSL did not resume the session")
    return record_tls(port, server_args, client, accepts=2)


def external_psk_session(port):
    """TLS 1.3 on a pre-shared key given to both ends with -psk (a SHA-256
    suite, which that key is for), with a key share. Fails unless s_client
    says the key was used (OpenSSL words it "Reused")."""
    psk = ["-tls1_3", "-ciphersuites", "TLS_AES_128_GCM_SHA256",
           "-psk", "1a2b3c4d5e6f708192a3b4c5d6e7f8091a2b3c4d5e6f708192a3b4c5d6e7f809", "-psk_identity", "wirecheck-psk"]

    def client(port):
        process = subprocess.run(["openssl", "s_client", "-connect", f"127.0.0.1:{port}", "-ign_eof", "-servername", "api.example.com"] + psk,
                                 input=b"GET / HTTP/1.0\r\n\r\n", capture_output=True, timeout=10)
        if b"Reused, TLSv1.3" not in process.stdout:
            sys.exit(f"external_psk_session {port}: OpenSSL did not use the pre-shared key")
    return record_tls(port, psk, client)


def sslv2_hello_session(port):
    """An SSLv2-compatible ClientHello (RFC 5246 E.2) offering TLS 1.2, written
    as the specification defines it, answered by a real OpenSSL s_server."""
    def client(port):
        specs = bytes.fromhex("00002f" "000035" "00009c" "010080")  # three TLS suites, one SSLv2 cipher kind
        challenge = bytes(rng.randrange(256) for _ in range(32))
        body = bytes([1, 3, 3]) + u16(len(specs)) + u16(0) + u16(len(challenge)) + specs + challenge
        with socket.create_connection(("127.0.0.1", port)) as s:
            s.sendall(bytes([0x80 | len(body) >> 8, len(body) & 0xFF]) + body)
            s.settimeout(2)
            try:
                while s.recv(65536):
                    pass
            except OSError:
                pass
    # An SSLv2-format hello carries no signature_algorithms extension, so TLS 1.2
    # falls back to SHA-1 signatures, which OpenSSL 3 allows only at level 0.
    return record_tls(port, ["-cipher", "ALL:@SECLEVEL=0"], client, key_type=("-newkey", "rsa:2048"))


def ech_grease_session(port, server_name):
    """A TLS 1.3 client offering Encrypted Client Hello as browsers do without
    an ECH configuration for the server (GREASE: random bytes in the outer
    form), built from scripts/ech-grease-client.c against OpenSSL, answered
    by a real OpenSSL s_server, which ignores the extension."""
    binary = Path(tempfile.mkdtemp()) / "ech-grease-client"
    subprocess.run(["cc", "-O2", "-o", binary, ROOT / "scripts" / "ech-grease-client.c", "-lssl", "-lcrypto"], check=True)

    def client(port):
        result = subprocess.run([binary, "127.0.0.1", str(port), server_name], capture_output=True, timeout=10)
        if result.returncode != 0 or b"TLSv1.3" not in result.stdout:
            sys.exit(f"ech_grease_session {port}: {result.stderr.decode(errors='replace')}")
    return record_tls(port, ["-tls1_3"], client)


class Connection:
    """One TCP connection's packets, from SYN to FIN, with real sequence numbers."""

    def __init__(self, client, server, cport, sport, start):
        self.client, self.server, self.cport, self.sport = client, server, cport, sport
        self.cseq, self.sseq = rng.randrange(1 << 32), rng.randrange(1 << 32)
        self.t = start
        self.packets = []

    def seg(self, from_client, flags, payload=b""):
        src, dst = (self.client, self.server) if from_client else (self.server, self.client)
        sp, dp = (self.cport, self.sport) if from_client else (self.sport, self.cport)
        seq, ack = (self.cseq, self.sseq) if from_client else (self.sseq, self.cseq)
        self.t += 0.0002
        self.packets.append((self.t, Ether() / IP(src=src, dst=dst) / TCP(sport=sp, dport=dp, flags=flags, seq=seq, ack=ack) / payload))
        advance = len(payload) + (1 if "S" in flags or "F" in flags else 0)
        if from_client:
            self.cseq = (self.cseq + advance) & 0xFFFFFFFF
        else:
            self.sseq = (self.sseq + advance) & 0xFFFFFFFF

    def open(self):
        self.seg(True, "S")
        self.seg(False, "SA")
        self.seg(True, "A")

    def send(self, from_client, data, mss=MSS):
        for i in range(0, len(data), mss):
            self.seg(from_client, "PA", data[i:i + mss])

    def close(self, server_first=False):
        if server_first:
            self.seg(False, "FA")
            self.seg(True, "FA")
            self.seg(False, "A")
        else:
            self.seg(True, "FA")
            self.seg(False, "FA")
            self.seg(True, "A")


def u16(v):
    return v.to_bytes(2, "big")


def u32(v):
    return v.to_bytes(4, "big")


def string16(text):
    """A string with a 16-bit length before it, as MQTT, Kafka and CQL write them."""
    return u16(len(text)) + text


def tls_records(stream):
    """A TLS byte stream cut into its records (5-byte header, then the body)."""
    records, i = [], 0
    while i + 5 <= len(stream):
        end = i + 5 + int.from_bytes(stream[i + 3:i + 5], "big")
        records.append(stream[i:end])
        i = end
    return records


def h2_frame(frame_type, flags, stream, payload):
    """An HTTP/2 frame (RFC 9113 4.1)."""
    return len(payload).to_bytes(3, "big") + bytes([frame_type, flags]) + stream.to_bytes(4, "big") + payload


def h2_headers(text, stream, end_stream=False):
    """A HEADERS frame whose block scapy's HPACK encoder writes (Huffman
    where shorter, authorization never indexed), not wirecheck's code."""
    table = HPackHdrTable()
    frames = table.parse_txt_hdrs(text, stream_id=stream, should_index=lambda name: name != b"authorization",
                                  is_sensitive=lambda name, value: name == b"authorization")
    raw = b"".join(bytes(frame) for frame in frames.frames)
    assert raw[3] == 0x1 and raw[4] & 0x4, "one HEADERS frame with END_HEADERS"
    return raw[:4] + bytes([raw[4] | (0x1 if end_stream else 0)]) + raw[5:]


def h2c_session(requests, answer):
    """An HTTP/2 connection in clear between two python-h2 endpoints: the
    client sends each request (headers, body or None) on a new stream, the
    server reads it and `answer(server, stream, n)` answers it. Returns the
    bytes each side sent, in order, as (from_client, bytes)."""
    client = H2Connection(H2Configuration(client_side=True))
    server = H2Connection(H2Configuration(client_side=False))
    client.initiate_connection()
    server.initiate_connection()
    exchange = []
    for n, (headers, body) in enumerate(requests):
        stream = client.get_next_available_stream_id()
        client.send_headers(stream, headers, end_stream=body is None)
        if body is not None:
            client.send_data(stream, body, end_stream=True)
        sent = client.data_to_send()
        exchange.append((True, sent))
        server.receive_data(sent)
        answer(server, stream, n)
        sent = server.data_to_send()
        exchange.append((False, sent))
        client.receive_data(sent)
    sent = client.data_to_send()  # its acknowledgement of the server's SETTINGS
    if sent:
        exchange.append((True, sent))
    return exchange


def tds(packet_type, payload, status=1):
    """A TDS packet (MS-TDS 2.2.3): type, status, length (big endian), SPID, packet id, window."""
    return bytes([packet_type, status]) + u16(len(payload) + 8) + u16(0) + bytes([1, 0]) + payload


def tds_prelogin(encryption):
    """A PRELOGIN option table (MS-TDS 2.2.6.5): VERSION, ENCRYPTION, INSTOPT, THREADID, then 0xFF."""
    options = [(0, bytes([15, 0, 0x07, 0xD0, 0, 0])), (1, bytes([encryption])), (2, b"\x00"), (3, u32(1))]
    offset, table, data = 5 * len(options) + 1, b"", b""
    for token, value in options:
        table += bytes([token]) + u16(offset) + u16(len(value))
        data += value
        offset += len(value)
    return table + b"\xff" + data


def tds_wrapped_handshake(tls12):
    """A TLS 1.2 session as TDS carries it (MS-TDS 2.2.6.5): the handshake
    flights inside PRELOGIN packets, then the records after the handshake
    as they are. Returns the exchange and the application-data records."""
    client, server = tls_records(tls12[0]), tls_records(tls12[1])
    first_data = lambda records: next(i for i, r in enumerate(records) if r[0] == 23)
    c_hs, c_data = client[:first_data(client)], client[first_data(client):]
    s_hs, s_data = server[:first_data(server)], server[first_data(server):]
    hello_done = next(i for i, r in enumerate(s_hs) if r.endswith(b"\x0e\x00\x00\x00")) + 1
    exchange = [(True, tds(0x12, c_hs[0])), (False, tds(0x12, b"".join(s_hs[:hello_done]))),
                (True, tds(0x12, b"".join(c_hs[1:]))), (False, tds(0x12, b"".join(s_hs[hello_done:])))]
    return exchange, c_data, s_data


def utf16(text):
    return text.encode("utf-16-le")


def ws_frames(payload, masked, opcode=2, size=700):
    """RFC 6455 frames: `payload` as one message cut into frames of `size` bytes."""
    out = b""
    chunks = [payload[i:i + size] for i in range(0, len(payload), size)] or [b""]
    for n, chunk in enumerate(chunks):
        first = (0x80 if n == len(chunks) - 1 else 0) | (opcode if n == 0 else 0)
        mask_bit = 0x80 if masked else 0
        if len(chunk) < 126:
            header = bytes([first, mask_bit | len(chunk)])
        else:
            header = bytes([first, mask_bit | 126]) + u16(len(chunk))
        if masked:
            key = bytes(rng.randrange(256) for _ in range(4))
            chunk = bytes(b ^ key[i % 4] for i, b in enumerate(chunk))
            header += key
        out += header + chunk
    return out


def main():
    tls13 = openssl_session(["-tls1_3"], ["-tls1_3", "-servername", "api.example.com"], 44301)
    hbone = openssl_session(["-tls1_3", "-alpn", "h2"], ["-tls1_3", "-alpn", "h2", "-noservername"], 44302)
    linkerd_sni = "web.default.serviceaccount.identity.linkerd.cluster.local"
    linkerd = openssl_session(["-tls1_3"], ["-tls1_3", "-servername", linkerd_sni, "-alpn", "h2"], 44303)
    # The client's first key share is X25519, which the server does not accept: HelloRetryRequest.
    hrr = openssl_session(["-tls1_3", "-groups", "P-256"], ["-tls1_3", "-groups", "X25519:P-256"], 44304)
    # Mutual TLS 1.2 that the server refuses: it demands a certificate, the client has none.
    refused_mtls = openssl_session(["-tls1_2", "-Verify", "1"], ["-tls1_2", "-servername", "api.example.com"], 44305)
    # A ClientHello of about 1.5 KB (the size post-quantum key shares give), here from a long ALPN list.
    long_alpn = ",".join(f"x-{n:02d}-" + "p" * 90 for n in range(14))
    big_hello = openssl_session(["-tls1_3"], ["-tls1_3", "-servername", "api.example.com", "-alpn", long_alpn], 44306)
    sslv2 = sslv2_hello_session(44307)
    tls12 = openssl_session(["-tls1_2"], ["-tls1_2", "-servername", "db.example.com"], 44308)
    # TLS 1.2 with a NULL cipher suite (RSA key exchange: an RSA key).
    null_cipher = ["-tls1_2", "-cipher", "NULL-SHA256:@SECLEVEL=0"]
    null_tls = openssl_session(null_cipher, null_cipher, 44309, key_type=("-newkey", "rsa:2048"))
    # Key exchanges besides X25519: TLS 1.2 DHE (the prime in the ServerKeyExchange; an RSA
    # key to sign it), TLS 1.3 with a finite-field group, TLS 1.3 on P-384.
    dhe_cipher = ["-tls1_2", "-cipher", "DHE-RSA-AES128-GCM-SHA256"]
    dhe12 = openssl_session(dhe_cipher, dhe_cipher + ["-servername", "api.example.com"], 44310, key_type=("-newkey", "rsa:2048"))
    ffdhe13 = openssl_session(["-tls1_3", "-groups", "ffdhe2048"], ["-tls1_3", "-groups", "ffdhe2048", "-servername", "api.example.com"], 44311)
    p384 = openssl_session(["-tls1_3", "-groups", "P-384"], ["-tls1_3", "-groups", "P-384", "-servername", "api.example.com"], 44312)
    # Resumed sessions: TLS 1.2 by session ticket, TLS 1.2 by session ID (the
    # server issues no tickets), TLS 1.3 by a ticket's PSK with a fresh key share.
    resumed12 = resumed_session(["-tls1_2"], ["-tls1_2", "-servername", "api.example.com"], 44313)
    resumed12_id = resumed_session(["-tls1_2", "-no_ticket"], ["-tls1_2", "-servername", "api.example.com"], 44314)
    resumed13 = resumed_session(["-tls1_3"], ["-tls1_3", "-servername", "api.example.com"], 44315)
    ech_grease = ech_grease_session(44316, "public.example.com")
    # TLS 1.3 on a pre-shared key given to both ends (not a resumption): OpenSSL
    # marks it with an obfuscated_ticket_age of 0, as RFC 8446 asks.
    external_psk = external_psk_session(44317)

    cases = []  # (server port, exchange as [(from_client, bytes)], expectation)
    fake_header = bytes([23, 3, 3, 0, 20]) + bytes(20)
    cases.append((443, [(True, fake_header + b"GET /secret HTTP/1.1\r\nHost: bank\r\n\r\n"),
                        (False, b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok")],
                  {"verdict": "plaintext", "case": "one plausible TLS record header, then a cleartext request"}))
    settings = u16(0) + bytes([0x00, 0x04, 0x00, 0x00, 0x00, 0x00, 0x00])
    cases.append((8080, [(True, b"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n" + settings), (False, settings)],
                  {"verdict": "plaintext", "protocol": "h2c", "case": "HTTP/2 prior knowledge without TLS (h2c, gRPC in clear)"}))
    cases.append((3128, [(True, b"CONNECT api.example.com:443 HTTP/1.1\r\nHost: api.example.com:443\r\n\r\n"),
                         (False, b"HTTP/1.1 200 Connection established\r\n\r\n"),
                         (True, tls13[0][:]), (False, tls13[1])],
                  {"verdict": "encrypted", "protocol": "tls", "reasonContains": "HTTP CONNECT", "case": "HTTP CONNECT, then TLS"}))
    cases.append((25, [(False, b"220 mail.example.com ESMTP Postfix\r\n"), (True, b"EHLO client.example\r\n"),
                       (False, b"250-mail.example.com\r\n250 STARTTLS\r\n"), (True, b"STARTTLS\r\n"),
                       (False, b"220 2.0.0 Ready to start TLS\r\n"), (True, tls13[0]), (False, tls13[1])],
                  {"verdict": "encrypted", "protocol": "tls", "reasonContains": "smtp preamble", "case": "SMTP STARTTLS"}))
    startup_body = b"user\x00app\x00database\x00orders\x00\x00"
    cases.append((5432, [(True, u32(8) + bytes([0x04, 0xD2, 0x16, 0x2F])), (False, b"N"),
                         (True, u32(8 + len(startup_body)) + bytes([0, 3, 0, 0]) + startup_body),
                         (False, b"R" + u32(8) + u32(3))],
                  {"verdict": "plaintext", "protocol": "postgresql", "case": "PostgreSQL SSLRequest refused ('N'), then a cleartext startup"}))
    ssh_packets = b"".join(u32(252) + bytes([rng.randrange(256) for _ in range(252)]) for _ in range(4))
    cases.append((22, [(False, b"SSH-2.0-OpenSSH_9.6\r\n"), (True, b"SSH-2.0-OpenSSH_9.2p1\r\n"),
                       (True, ssh_packets), (False, ssh_packets[::-1])],
                  {"verdict": "encrypted", "protocol": "ssh", "case": "SSH: banners, then binary packets"}))
    noise = bytes(rng.randrange(256) for _ in range(3000))
    cases.append((9000, [(True, noise[:1500]), (False, noise[1500:])],
                  {"verdict": "opaque", "case": "high-entropy bytes that are no protocol wirecheck knows"}))
    name = b"".join(bytes([len(label)]) + label for label in [b"web", b"default", b"svc", b"cluster", b"local"]) + b"\x00"
    query = u16(0x1234) + u16(0x0100) + u16(1) + u16(0) + u16(0) + u16(0) + name + u16(1) + u16(1)
    answer = u16(0x1234) + u16(0x8180) + u16(1) + u16(1) + u16(0) + u16(0) + name + u16(1) + u16(1) \
        + u16(0xC00C) + u16(1) + u16(1) + u32(30) + u16(4) + bytes([10, 96, 0, 10])
    cases.append((53, [(True, u16(len(query)) + query), (False, u16(len(answer)) + answer)],
                  {"verdict": "plaintext", "protocol": "dns", "case": "DNS over TCP"}))
    version = b"8.0.36\x00"
    greeting_body = bytes([10]) + version + u32(1)[::-1] + b"ABCDEFGH" + b"\x00" + bytes(20)
    cases.append((3306, [(False, len(greeting_body).to_bytes(3, "little") + b"\x00" + greeting_body)],
                  {"verdict": "plaintext", "protocol": "mysql", "case": "MySQL server greeting"}))
    cases.append((6379, [(True, b"*2\r\n$4\r\nAUTH\r\n$15\r\nredis-s3cret-42\r\n"), (False, b"+OK\r\n")],
                  {"verdict": "plaintext", "protocol": "redis", "forbidden": ["redis-s3cret-42"], "case": "Redis AUTH in clear"}))
    cases.append((143, [(False, b"* OK [CAPABILITY IMAP4rev1] ready\r\n"), (True, b"a001 LOGIN alice imap-s3cret\r\n"),
                        (False, b"a001 OK LOGIN completed\r\n")],
                  {"verdict": "plaintext", "protocol": "imap", "forbidden": ["imap-s3cret"], "case": "IMAP LOGIN in clear"}))
    cases.append((15008, [(True, hbone[0]), (False, hbone[1])],
                  {"verdict": "encrypted", "protocol": "tls", "mesh": "istio-ambient", "tlsVersion": "TLS 1.3",
                   "case": "Istio ambient HBONE: TLS 1.3 to 15008, ALPN h2, no SNI"}))
    cases.append((8443, [(True, linkerd[0]), (False, linkerd[1])],
                  {"verdict": "encrypted", "protocol": "tls", "mesh": "linkerd", "sni": linkerd_sni, "case": "Linkerd identity SNI"}))
    cases.append((443, [(True, hrr[0]), (False, hrr[1])],
                  {"verdict": "encrypted", "protocol": "tls", "tlsVersion": "TLS 1.3", "helloRetryRequest": True,
                   "case": "TLS 1.3 with a HelloRetryRequest"}))

    cases.append((443, [(True, refused_mtls[0]), (False, refused_mtls[1])],
                  {"verdict": "encrypted", "protocol": "tls", "tlsVersion": "TLS 1.2", "clientCertificate": "empty",
                   "minAlerts": 1, "case": "mutual TLS 1.2 refused: the server asks for a certificate, the client sends an empty one, the server alerts"}))
    cases.append((443, [(True, big_hello[0]), (False, big_hello[1])],
                  {"verdict": "encrypted", "protocol": "tls", "sni": "api.example.com", "alpn": long_alpn.split(","),
                   "mss": 400, "case": "a 1.5 KB ClientHello sent in 400-byte segments"}))
    cases.append((443, [(True, sslv2[0]), (False, sslv2[1])],
                  {"verdict": "encrypted", "protocol": "tls", "tlsVersion": "TLS 1.2", "legacySSLv2Hello": True,
                   "reasonContains": "legacy SSLv2 format",
                   "case": "an SSLv2-format ClientHello answered in TLS 1.2 (flagged as legacy)"}))
    ws_request = (b"GET /tunnel HTTP/1.1\r\nHost: gw.example\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
                  b"Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\r\n")
    ws_accept = (b"HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
                 b"Sec-WebSocket-Accept: s3pPLMBiTxaQ9kYGzzhZRbK+xOo=\r\n\r\n")
    cases.append((8081, [(True, ws_request), (False, ws_accept),
                         (True, ws_frames(tls13[0], masked=True)), (False, ws_frames(tls13[1], masked=False))],
                  {"verdict": "encrypted", "protocol": "tls", "sni": "api.example.com", "reasonContains": "WebSocket",
                   "case": "TLS tunnelled in WebSocket binary frames after an HTTP upgrade (client frames masked)"}))
    ssh_client = b"SSH-2.0-OpenSSH_9.2p1\r\n" + ssh_packets
    ssh_server = b"SSH-2.0-OpenSSH_9.6\r\n" + ssh_packets[::-1]
    cases.append((8082, [(True, ws_request), (False, ws_accept),
                         (True, ws_frames(ssh_client, masked=True)), (False, ws_frames(ssh_server, masked=False))],
                  {"verdict": "encrypted", "protocol": "ssh", "reasonContains": "WebSocket",
                   "case": "SSH tunnelled in WebSocket frames"}))
    chat = b'{"op":"login","user":"alice","token":"ws-s3cret-77"}'
    cases.append((8083, [(True, ws_request), (False, ws_accept), (True, ws_frames(chat, masked=True, opcode=1)),
                         (False, ws_frames(b'{"op":"welcome","user":"alice"}', masked=False, opcode=1))],
                  {"verdict": "plaintext", "protocol": "http", "evidenceContains": ["WebSocket payload"], "forbidden": ["ws-s3cret-77"],
                   "case": "JSON text in WebSocket frames"}))
    telemetry = b"".join(bytes([0, 0, 0, n, 1, 0, (n * 3) & 0x3F, 0, 0, 0, 0x10, 0x20]) for n in range(60))
    cases.append((8084, [(True, ws_request), (False, ws_accept), (True, ws_frames(telemetry, masked=True)),
                         (False, ws_frames(telemetry[::-1], masked=False))],
                  {"verdict": "plaintext", "protocol": "http",
                   "evidenceContains": ["GET /tunnel", "WebSocket payload: structured binary data"],
                   "case": "structured (low-entropy) binary in WebSocket frames: data in clear, the upgrade request kept as evidence"}))
    # A retransmission that coalesced the STARTTLS command and the ClientHello into one segment.
    cases.append((587, [(False, b"220 mail.example.com ESMTP\r\n"), (True, b"EHLO client.example\r\n"),
                        (False, b"250-mail.example.com\r\n250 STARTTLS\r\n"),
                        (True, b"STARTTLS\r\n" + tls13[0]), (False, b"220 2.0.0 Ready to start TLS\r\n" + tls13[1])],
                  {"verdict": "encrypted", "protocol": "tls", "reasonContains": "smtp preamble",
                   "case": "SMTP STARTTLS with the command and the TLS records in the same segments"}))
    noise = bytes(rng.getrandbits(8) for _ in range(3000))
    cases.append((8085, [(True, ws_request), (False, ws_accept), (True, ws_frames(noise, masked=True)),
                         (False, ws_frames(noise[::-1], masked=False))],
                  {"verdict": "plaintext", "protocol": "http",
                   "evidenceContains": ["GET /tunnel", "WebSocket payload: binary data, entropy", "not TLS"],
                   "case": "high-entropy bytes in WebSocket frames, no protocol wirecheck knows: no TLS followed "
                           "the upgrade, which crossed in clear, so plaintext HTTP"}))

    # Message brokers and directories: binary framing that the text test misses, logins in clear.
    connect = string16(b"MQTT") + bytes([4, 0xC2]) + u16(60) + string16(b"sensor-17") + string16(b"device") \
        + string16(b"mqtt-s3cret")
    publish = string16(b"plant/temperature") + b"21.5"
    cases.append((1883, [(True, bytes([0x10, len(connect)]) + connect), (False, bytes([0x20, 2, 0, 0])),
                         (True, bytes([0x30, len(publish)]) + publish)],
                  {"verdict": "plaintext", "protocol": "mqtt", "forbidden": ["mqtt-s3cret"],
                   "evidenceContains": ["MQTT 3.1.1 CONNECT", "user device", "password [redacted]"],
                   "case": "MQTT CONNECT with a user name and password, CONNACK, PUBLISH"}))

    def amqp_frame(payload):
        return bytes([1]) + u16(0) + u32(len(payload)) + payload + bytes([0xCE])
    def short_string(text):
        return bytes([len(text)]) + text
    def long_string(text):
        return u32(len(text)) + text
    properties = short_string(b"product") + b"S" + long_string(b"RabbitMQ")
    amqp_start = amqp_frame(u16(10) + u16(10) + bytes([0, 9]) + u32(len(properties)) + properties
                       + long_string(b"PLAIN AMQPLAIN") + long_string(b"en_US"))
    start_ok = amqp_frame(u16(10) + u16(11) + u32(0) + short_string(b"PLAIN") + long_string(b"\x00guest\x00amqp-s3cret")
                          + short_string(b"en_US"))
    cases.append((5672, [(True, b"AMQP\x00\x00\x09\x01"), (False, amqp_start), (True, start_ok)],
                  {"verdict": "plaintext", "protocol": "amqp", "forbidden": ["amqp-s3cret"],
                   "evidenceContains": ["AMQP 0-9-1 protocol header", "Connection.Start"],
                   "case": "AMQP 0-9-1: protocol header, Connection.Start, PLAIN credentials in Start-Ok"}))
    cases.append((5671, [(True, b"AMQP\x02\x01\x00\x00"), (False, b"AMQP\x02\x01\x00\x00"),
                         (True, tls13[0]), (False, tls13[1])],
                  {"verdict": "encrypted", "protocol": "tls", "reasonContains": "AMQP 1.0 TLS header",
                   "case": "AMQP 1.0 TLS header, then TLS"}))

    def tlv(tag, contents):
        return bytes([tag, len(contents)]) + contents if len(contents) < 128 else bytes([tag, 0x82]) + u16(len(contents)) + contents
    def ldap_message(message_id, operation):
        return tlv(0x30, bytes([2, 1, message_id]) + operation)
    bind = ldap_message(1, tlv(0x60, bytes([2, 1, 3]) + tlv(0x04, b"cn=admin,dc=example,dc=org") + tlv(0x80, b"ldap-s3cret")))
    bound = ldap_message(1, tlv(0x61, bytes([0x0A, 1, 0]) + tlv(0x04, b"") + tlv(0x04, b"")))
    search = ldap_message(2, tlv(0x63, tlv(0x04, b"ou=people,dc=example,dc=org") + bytes([0x0A, 1, 2, 0x0A, 1, 0, 2, 1, 0, 2, 1, 0, 1, 1, 0])
                                 + tlv(0xA3, tlv(0x04, b"uid") + tlv(0x04, b"alice")) + tlv(0x30, b"")))
    entry = ldap_message(2, tlv(0x64, tlv(0x04, b"uid=alice,ou=people,dc=example,dc=org")
                                + tlv(0x30, tlv(0x30, tlv(0x04, b"mail") + tlv(0x31, tlv(0x04, b"alice@example.org"))))))
    done = ldap_message(2, tlv(0x65, bytes([0x0A, 1, 0]) + tlv(0x04, b"") + tlv(0x04, b"")))
    cases.append((389, [(True, bind), (False, bound), (True, search), (False, entry + done), (True, ldap_message(3, bytes([0x42, 0])))],
                  {"verdict": "plaintext", "protocol": "ldap", "forbidden": ["ldap-s3cret"],
                   "evidenceContains": ["LDAP simple bind as cn=admin,dc=example,dc=org, password [redacted]"],
                   "case": "LDAP simple bind (password in clear), then a search"}))
    start_tls_oid = b"1.3.6.1.4.1.1466.20037"
    cases.append((389, [(True, ldap_message(1, tlv(0x77, tlv(0x80, start_tls_oid)))),
                        (False, ldap_message(1, tlv(0x78, bytes([0x0A, 1, 0]) + tlv(0x04, b"") + tlv(0x04, b"") + tlv(0x8A, start_tls_oid)))),
                        (True, tls13[0]), (False, tls13[1])],
                  {"verdict": "encrypted", "protocol": "tls", "reasonContains": "LDAP StartTLS",
                   "case": "LDAP StartTLS, then TLS"}))
    zk_connect = u32(44) + u32(0) + bytes(8) + u32(30000) + bytes(8) + u32(16) + bytes(16)
    zk_answer = u32(36) + u32(0) + u32(30000) + bytes([0, 0, 1, 0x8C, 0x2E, 0x1F, 0x7A, 0x01]) + u32(16) + bytes(range(16))
    cases.append((2181, [(True, zk_connect), (False, zk_answer)],
                  {"verdict": "plaintext", "protocol": "binary",
                   "case": "ZooKeeper connect request and response: 48 and 40 bytes too regular to be ciphertext"}))

    def kafka_request(api, version, correlation, body):
        message = u16(api) + u16(version) + u32(correlation) + string16(b"producer-1") + body
        return u32(len(message)) + message
    def kafka_response(correlation, body):
        return u32(4 + len(body)) + u32(correlation) + body
    sasl = b"\x00orders\x00kafka-s3cret"
    # The record batch compressed (zstd output is as random as these bytes).
    batch = bytes(rng.getrandbits(8) for _ in range(1500))
    produce = u16(0xFFFF) + u16(0xFFFF) + u32(30000) + u32(1) + u16(6) + b"orders" + u32(1) + u32(0) + u32(len(batch)) + batch
    cases.append((9092, [(True, kafka_request(18, 0, 1, b"")),
                         (False, kafka_response(1, u16(0) + u32(2) + u16(0) + u16(0) + u16(9) + u16(18) + u16(0) + u16(3))),
                         (True, kafka_request(17, 1, 2, u16(5) + b"PLAIN")),
                         (False, kafka_response(2, u16(0) + u32(1) + u16(5) + b"PLAIN")),
                         (True, kafka_request(36, 1, 3, u32(len(sasl)) + sasl)),
                         (False, kafka_response(3, u16(0) + u16(0xFFFF) + u32(0) + u32(0))),
                         (True, kafka_request(0, 7, 4, produce)),
                         (False, kafka_response(4, u32(1) + u16(6) + b"orders" + u32(1) + u32(0) + u16(0) + bytes(28)))],
                  {"verdict": "plaintext", "protocol": "kafka", "forbidden": ["kafka-s3cret"],
                   "evidenceContains": ["Kafka ApiVersions request (client id producer-1)"],
                   "case": "Kafka producer: SASL PLAIN login, then a Produce request whose record batch is compressed"}))

    def cql(version, opcode, body, flags=0, stream=0):
        return bytes([version, flags]) + u16(stream) + bytes([opcode]) + u32(len(body)) + body
    startup = u16(2) + string16(b"CQL_VERSION") + string16(b"3.0.0") + string16(b"COMPRESSION") + string16(b"lz4")
    credentials = b"\x00cassandra\x00cql-s3cret"
    compressed = bytes(rng.getrandbits(8) for _ in range(1200))
    cases.append((9042, [(True, cql(4, 0x05, b"")),
                         (False, cql(0x84, 0x06, u16(1) + string16(b"COMPRESSION") + u16(2) + string16(b"lz4") + string16(b"snappy"))),
                         (True, cql(4, 0x01, startup, stream=1)),
                         (False, cql(0x84, 0x03, string16(b"org.apache.cassandra.auth.PasswordAuthenticator"), stream=1)),
                         (True, cql(4, 0x0F, u32(len(credentials)) + credentials, stream=2)),
                         (False, cql(0x84, 0x10, u32(0xFFFFFFFF), stream=2)),
                         (True, cql(4, 0x07, compressed[:600], flags=1, stream=3)),
                         (False, cql(0x84, 0x08, compressed[600:], flags=1, stream=3))],
                  {"verdict": "plaintext", "protocol": "cassandra", "forbidden": ["cql-s3cret"],
                   "evidenceContains": ["Cassandra CQL OPTIONS (protocol v4)"],
                   "case": "Cassandra CQL: OPTIONS, STARTUP with lz4, a password login, then compressed frames"}))

    # SQL Server's TDS: encryption negotiated in PRELOGIN, the TLS handshake
    # inside PRELOGIN packets, then TLS records; for the login only, the
    # queries after the TLS are in clear; without encryption, all of it.
    wrapped, tls12_client_data, tls12_server_data = tds_wrapped_handshake(tls12)
    all_headers = (22).to_bytes(4, "little") + (18).to_bytes(4, "little") + (2).to_bytes(2, "little") + bytes(8) + (1).to_bytes(4, "little")
    query = tds(0x01, all_headers + utf16("SELECT name, password_hash FROM users WHERE id = 42"))
    rows = tds(0x04, bytes([0x81, 1, 0]) + bytes(6) + bytes([0xE7, 0x40, 0, 0x09, 0x04, 0xD0, 0, 0x34, 4]) + utf16("name")
               + bytes([0xD1, 10, 0]) + utf16("alice") + bytes([0xFD, 0x10, 0, 0xC1, 0, 1, 0, 0, 0, 0, 0, 0, 0]))
    cases.append((1433, [(True, tds(0x12, tds_prelogin(1))), (False, tds(0x04, tds_prelogin(1)))] + wrapped
                  + [(True, b"".join(tls12_client_data)), (False, b"".join(tls12_server_data))],
                  {"verdict": "encrypted", "protocol": "tls", "tlsVersion": "TLS 1.2", "sni": "db.example.com",
                   "reasonContains": "TLS handshake in PRELOGIN packets",
                   "case": "SQL Server TDS with encryption on: PRELOGIN, the TLS handshake inside PRELOGIN packets, then TLS"}))
    cases.append((1433, [(True, tds(0x12, tds_prelogin(0))), (False, tds(0x04, tds_prelogin(0)))] + wrapped
                  + [(True, tls12_client_data[0]), (False, tds(0x04, bytes([0xAD, 6, 0, 1, 0x74, 0, 0, 4, 0]) + bytes([0xFD]) + bytes(12))),
                     (True, query), (False, rows)],
                  {"verdict": "plaintext", "protocol": "tds", "evidenceContains": ["TDS SQL batch (SELECT"],
                   "forbidden": ["password_hash"],
                   "case": "SQL Server TDS encrypting the login only: after the TLS, a query and its rows in clear"}))
    password = bytes((((b << 4) & 0xF0) | (b >> 4)) ^ 0xA5 for b in utf16("tds-s3cret-2653"))
    strings = [utf16("web-7f9c"), utf16("app"), password, utf16("api"), utf16("mssql")]
    fixed = bytes(4) + bytes([4, 0, 0, 0x74]) + (4096).to_bytes(4, "little") + bytes(4) + (1234).to_bytes(4, "little") + bytes(4) \
        + bytes([0xE0, 3, 0, 0]) + bytes(4) + (0x0409).to_bytes(4, "little")
    offset, table, data = 94, b"", b""
    for text in strings:
        table += offset.to_bytes(2, "little") + (len(text) // 2).to_bytes(2, "little")
        data += text
        offset += len(text)
    login = fixed + table + bytes(94 - len(fixed) - len(table)) + data
    login = len(login).to_bytes(4, "little") + login[4:]
    cases.append((1433, [(True, tds(0x12, tds_prelogin(2))), (False, tds(0x04, tds_prelogin(2))), (True, tds(0x10, login)),
                         (False, tds(0x04, bytes([0xAD, 6, 0, 1, 0x74, 0, 0, 4, 0]) + bytes([0xFD]) + bytes(12))),
                         (True, query), (False, rows)],
                  {"verdict": "plaintext", "protocol": "tds", "evidenceContains": ["TDS PRELOGIN (encryption not supported)"],
                   "forbidden": ["tds-s3cret-2653", "password_hash"],
                   "case": "SQL Server TDS without encryption: PRELOGIN, LOGIN7 with a password, a query"}))

    # Log shipping, which sends and never answers in kind. Beats to Logstash
    # (Lumberjack v2, as go-lumber writes it): a window frame, then the events
    # zlib-compressed (Filebeat's default), acknowledged by sequence number.
    log_lines = [json.dumps({"@timestamp": f"2026-12-01T18:00:{n:02d}.000Z",
                             "message": f"GET /api/v1/orders/{n * 7}?token=s3cr3t-{n} HTTP/1.1 200",
                             "kubernetes": {"pod": {"name": f"web-7d9f-{n}"}, "namespace": "shop"}}).encode()
                 for n in range(20)]
    events = b"".join(b"2J" + u32(n + 1) + u32(len(line)) + line for n, line in enumerate(log_lines))
    batch = zlib.compress(events, 3)
    cases.append((5044, [(True, b"2W" + u32(len(log_lines)) + b"2C" + u32(len(batch)) + batch), (False, b"2A" + u32(len(log_lines)))],
                  {"verdict": "plaintext", "protocol": "beats", "evidenceContains": ["Beats (Lumberjack v2) batch", "zlib-compressed frame"],
                   "forbidden": ["s3cr3t"], "case": "Beats to Logstash, events zlib-compressed, no TLS"}))
    # Fluentd's forward protocol, compressed: [tag, gzip of the entries, {"compressed": "gzip"}] in msgpack, no answer.
    entries = b"".join(bytes([0x92, 0xCE]) + u32(1_790_100_000 + n) + bytes([0x81, 0xA3]) + b"log" + bytes([0xD9, len(line)]) + line
                       for n, line in enumerate(log_lines[:8]))
    packed = gzip.compress(entries, mtime=0)
    tag = b"kube.var.log.containers.web"
    forward = bytes([0x93, 0xA0 | len(tag)]) + tag + b"\xc6" + u32(len(packed)) + packed + bytes([0x81, 0xAA]) + b"compressed" + bytes([0xA4]) + b"gzip"
    cases.append((24224, [(True, forward)],
                  {"verdict": "plaintext", "protocol": "gzip", "evidenceContains": ["gzip-compressed data from byte"],
                   "forbidden": ["s3cr3t"], "case": "Fluentd forward protocol, gzip-compressed, no TLS, no answer"}))
    # Syslog over TCP (RFC 6587): send, close; the server's FIN answers the client's, refusing nothing.
    syslog = b"<86>1 2026-12-01T18:00:00Z web-1 sshd 811 - - Accepted password for alice from 10.50.0.7\n"
    cases.append((514, [(True, syslog)],
                  {"verdict": "plaintext", "reasonContains": "answering the client's close",
                   "case": "syslog over TCP: the client sends and closes, the server closes after it"}))
    # The same, but the server closes first after 30 s without traffic: an idle timeout, not a refusal.
    cases.append((514, [(True, syslog), (None, 30.0)],
                  {"verdict": "plaintext", "reasonContains": "after 30 s without traffic", "serverClosesFirst": True,
                   "case": "a request the server leaves unanswered and closes 30 s later (an idle timeout)"}))
    # A refusal, for contrast: the server closes first, at once, without a byte (Istio STRICT's answer to plaintext).
    cases.append((8080, [(True, b"GET /orders HTTP/1.1\r\nHost: orders\r\n\r\n")],
                  {"verdict": "plaintext-rejected", "serverClosesFirst": True,
                   "case": "a plaintext request the server refuses: it closes first, at once, sending nothing"}))

    # gRPC without TLS: the client's preface, SETTINGS, a HEADERS block and a
    # message; the server's SETTINGS, its ACK, response headers, the message
    # and the trailers. Sent in 40-byte segments, so the request's header
    # block arrives over several of them.
    grpc_message = b"\x00" + u32(11) + b"\x0a\x09order-4711"
    grpc_request = (b"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n" + h2_frame(0x4, 0, 0, u16(3) + u32(100))
                    + h2_headers(b":method POST\n:scheme http\n:path /orders.v1.Orders/Create?key=wc-h2-query-77\n"
                                 b":authority orders.default.svc.cluster.local:50051\ncontent-type: application/grpc\n"
                                 b"te: trailers\nauthorization: Bearer wc-grpc-token-5150\ngrpc-timeout: 1S", 1)
                    + h2_frame(0x0, 0x1, 1, grpc_message))
    grpc_response = (h2_frame(0x4, 0, 0, u16(4) + u32(65535)) + h2_frame(0x4, 0x1, 0, b"")
                     + h2_headers(b":status 200\ncontent-type: application/grpc", 1)
                     + h2_frame(0x0, 0, 1, grpc_message)
                     + h2_headers(b"grpc-status: 0\ngrpc-message: OK", 1, end_stream=True))
    cases.append((50051, [(True, grpc_request[:60]), (False, grpc_response[:27]), (True, grpc_request[60:]),
                          (False, grpc_response[27:])],
                  {"verdict": "plaintext", "protocol": "h2c", "mss": 40,
                   "evidenceContains": ["POST /orders.v1.Orders/Create?key=[redacted] (:authority orders.default.svc.cluster.local:50051; content-type application/grpc)",
                                        "HTTP/2 :status 200 (content-type application/grpc)"],
                   "forbidden": ["wc-grpc-token-5150", "wc-h2-query-77"],
                   "case": "gRPC without TLS (h2c): the request's method, path and authority decoded from HPACK"}))

    # The NULL-cipher session, whole (the suite says it), and from its first
    # application data record on (as a capture that missed the handshake sees
    # it: only the records' bodies, the server's page in clear, can tell).
    cases.append((443, [(True, null_tls[0]), (False, null_tls[1])],
                  {"verdict": "plaintext", "reasonContains": "NULL cipher suite, TLS_RSA_WITH_NULL_SHA256 (0x003B)",
                   "case": "TLS 1.2 with a NULL cipher suite, from OpenSSL"}))
    def from_application_data(stream):
        records = tls_records(stream)
        first = next(i for i, record in enumerate(records) if record[0] == 23)
        return b"".join(records[first:])
    cases.append((443, [(True, from_application_data(null_tls[0])), (False, from_application_data(null_tls[1]))],
                  {"verdict": "plaintext", "reasonContains": "TLS record framing without encryption: the server's application data records hold printable text",
                   "case": "the same NULL-cipher session without its handshake: records whose bodies are text"}))
    # Cleartext dressed as TLS: application data record headers around an HTTP exchange.
    def records(*bodies):
        return b"".join(bytes([23, 3, 3]) + u16(len(body)) + body for body in bodies)
    cases.append((443, [(True, records(b"GET /secret HTTP/1.1\r\nHost: bank\r\nCookie: session=wc-fake-tls-77\r\n\r\n")),
                        (False, records(b"HTTP/1.1 200 OK\r\nContent-Length: 16\r\n\r\n", b"balance: 1000 EU"))],
                  {"verdict": "plaintext", "reasonContains": "TLS record framing without encryption", "forbidden": ["wc-fake-tls-77"],
                   "case": "cleartext HTTP inside TLS application data record headers"}))

    # Mesh proxies refusing a cleartext request by policy, answered as they
    # answer it (Linkerd's inbound proxy with all-authenticated: a 403 with
    # l5d-proxy-error and no body; Istio's Envoy for an AuthorizationPolicy:
    # a 403 with its RBAC body). Cases are numbered from 0: the server address
    # is 10.50.1.<index + 1>, the client port 41000 + index.
    request = b"GET / HTTP/1.1\r\nHost: web.default.svc.cluster.local\r\nUser-Agent: curl/8.1.2\r\nAccept: */*\r\n\r\n"
    index = len(cases)
    linkerd_403 = (f"HTTP/1.1 403 Forbidden\r\nl5d-proxy-error: client 10.50.0.10:{41000 + index}: "
                   f"server: 10.50.1.{index + 1}:80: unauthorized request on route\r\n"
                   "date: Wed, 02 Dec 2026 02:10:00 GMT\r\ncontent-length: 0\r\n\r\n").encode()
    cases.append((80, [(True, request), (False, linkerd_403)],
                  {"verdict": "plaintext-rejected", "protocol": "http", "reasonContains": "Linkerd proxy refused it",
                   "evidenceContains": ["l5d-proxy-error", "unauthorized request on route"],
                   "case": "Linkerd's proxy refusing a cleartext request (403, l5d-proxy-error)"}))
    istio_403 = (b"HTTP/1.1 403 Forbidden\r\ncontent-length: 19\r\ncontent-type: text/plain\r\n"
                 b"date: Wed, 02 Dec 2026 02:10:00 GMT\r\nserver: istio-envoy\r\nconnection: close\r\n\r\nRBAC: access denied")
    cases.append((80, [(True, request), (False, istio_403)],
                  {"verdict": "plaintext-rejected", "protocol": "http", "reasonContains": "Istio proxy refused it",
                   "evidenceContains": ["RBAC: access denied"], "serverClosesFirst": True,
                   "case": "Istio's Envoy refusing a cleartext request (403, RBAC: access denied)"}))
    app_403 = b"HTTP/1.1 403 Forbidden\r\nContent-Type: text/plain\r\nContent-Length: 9\r\n\r\nForbidden"
    cases.append((80, [(True, request), (False, app_403)],
                  {"verdict": "plaintext", "protocol": "http", "case": "an application's own 403 in clear"}))
    index = len(cases)
    refused_then_served = (f"HTTP/1.1 403 Forbidden\r\nl5d-proxy-error: client 10.50.0.10:{41000 + index}: "
                           f"server: 10.50.1.{index + 1}:80: unauthorized request on route\r\n"
                           "date: Wed, 02 Dec 2026 02:10:00 GMT\r\ncontent-length: 0\r\n\r\n").encode()
    cases.append((80, [(True, request), (False, refused_then_served),
                       (True, b"GET /public HTTP/1.1\r\nHost: web.default.svc.cluster.local\r\n\r\n"),
                       (False, b"HTTP/1.1 200 OK\r\ncontent-length: 12\r\n\r\npublic page\n")],
                  {"verdict": "plaintext", "protocol": "http",
                   "case": "Linkerd refusing one request and serving the next on the same connection (a route allowed without identity)"}))

    index = len(cases)
    refusal = (f"HTTP/1.1 403 Forbidden\r\nl5d-proxy-error: client 10.50.0.10:{41000 + index}: "
               f"server: 10.50.1.{index + 1}:80: unauthorized request on route\r\n"
               "date: Wed, 02 Dec 2026 02:10:00 GMT\r\ncontent-length: 0\r\n\r\n").encode()
    cases.append((80, [(True, request), (False, refusal), (True, request), (False, refusal)],
                  {"verdict": "plaintext-rejected", "protocol": "http", "reasonContains": "Linkerd proxy refused it",
                   "evidenceContains": ["2 requests refused"],
                   "case": "Linkerd's proxy refusing two requests on a connection the client kept open"}))

    # The same refusals over HTTP/2 in clear (gRPC without TLS, curl's
    # --http2-prior-knowledge): both sides are python-h2 connections (its
    # HPACK encoder indexes fields, so later answers on a connection refer to
    # the dynamic table), the server answering as the proxies do: Linkerd a
    # trailers-only gRPC answer with grpc-status 7 and l5d-proxy-error, or a
    # bodiless :status 403; Envoy grpc-status 7 "RBAC: access denied", or a
    # 403 whose DATA frame is that text.
    grpc_request = ([(":method", "POST"), (":scheme", "http"), (":path", "/helloworld.Greeter/SayHello"),
                     (":authority", "greeter.default.svc.cluster.local:50051"), ("content-type", "application/grpc"),
                     ("te", "trailers"), ("user-agent", "grpc-go/1.59.0"), ("authorization", "Bearer grpc-refusal-s3cret")],
                    b"\x00\x00\x00\x00\x07\n\x05alice")
    h2_get = ([(":method", "GET"), (":scheme", "http"), (":path", "/"), (":authority", "web.default.svc.cluster.local"),
               ("user-agent", "curl/8.1.2"), ("accept", "*/*")], None)
    date = ("date", "Wed, 02 Dec 2026 04:10:00 GMT")

    def linkerd_error(index, port):
        return f"client 10.50.0.10:{41000 + index}: server: 10.50.1.{index + 1}:{port}: unauthorized request on route"

    def linkerd_grpc(index):
        error = linkerd_error(index, 50051)
        return lambda h2c, stream, n: h2c.send_headers(stream, [(":status", "200"), ("content-length", "0"),
                                                                ("content-type", "application/grpc"), ("grpc-status", "7"),
                                                                ("grpc-message", error), ("l5d-proxy-error", error), date],
                                                       end_stream=True)

    index = len(cases)
    cases.append((50051, h2c_session([grpc_request, grpc_request], linkerd_grpc(index)),
                  {"verdict": "plaintext-rejected", "protocol": "h2c",
                   "reasonContains": "Linkerd proxy refused it by policy (gRPC status 7, PERMISSION_DENIED)",
                   "evidenceContains": ["l5d-proxy-error", "2 requests refused"], "forbidden": ["grpc-refusal-s3cret"],
                   "case": "Linkerd's proxy refusing two gRPC calls in clear (grpc-status 7, l5d-proxy-error)"}))
    index = len(cases)
    error = linkerd_error(index, 80)
    cases.append((80, h2c_session([h2_get], lambda h2c, stream, n: h2c.send_headers(
                      stream, [(":status", "403"), ("content-length", "0"), ("l5d-proxy-error", error), date], end_stream=True)),
                  {"verdict": "plaintext-rejected", "protocol": "h2c", "reasonContains": "Linkerd proxy refused it by policy (403)",
                   "case": "Linkerd's proxy refusing an HTTP/2 request in clear (:status 403)"}))
    envoy_grpc = [(":status", "200"), ("content-type", "application/grpc"), ("grpc-status", "7"),
                  ("grpc-message", "RBAC: access denied"), date, ("server", "istio-envoy")]
    cases.append((50051, h2c_session([grpc_request], lambda h2c, stream, n: h2c.send_headers(stream, envoy_grpc, end_stream=True)),
                  {"verdict": "plaintext-rejected", "protocol": "h2c", "reasonContains": "Istio proxy refused it by policy (gRPC status 7",
                   "case": "Istio's Envoy refusing a gRPC call in clear (grpc-status 7, RBAC: access denied)"}))

    def envoy_403(h2c, stream, n):
        h2c.send_headers(stream, [(":status", "403"), ("content-length", "19"), ("content-type", "text/plain"), date,
                                  ("server", "istio-envoy")])
        h2c.send_data(stream, b"RBAC: access denied", end_stream=True)
    cases.append((80, h2c_session([h2_get, h2_get], envoy_403),
                  {"verdict": "plaintext-rejected", "protocol": "h2c", "reasonContains": "Istio proxy refused it by policy (403)",
                   "case": "Istio's Envoy refusing two HTTP/2 requests in clear (403, RBAC: access denied)"}))
    index = len(cases)

    def refused_then_served(h2c, stream, n):
        if n == 0:
            return linkerd_grpc(index)(h2c, stream, n)
        h2c.send_headers(stream, [(":status", "200"), ("content-type", "application/grpc"), date])
        h2c.send_data(stream, b"\x00\x00\x00\x00\x0d\n\x0bHello alice")
        h2c.send_headers(stream, [("grpc-status", "0")], end_stream=True)
    cases.append((50051, h2c_session([grpc_request, grpc_request], refused_then_served),
                  {"verdict": "plaintext", "protocol": "h2c", "forbidden": ["grpc-refusal-s3cret"],
                   "case": "Linkerd refusing one gRPC call and the next served in clear on the same connection"}))
    cases.append((50051, h2c_session([grpc_request], lambda h2c, stream, n: h2c.send_headers(
                      stream, [(":status", "200"), ("content-type", "application/grpc"), ("grpc-status", "7"),
                               ("grpc-message", "caller lacks the admin role"), date], end_stream=True)),
                  {"verdict": "plaintext", "protocol": "h2c", "case": "a gRPC server's own PERMISSION_DENIED in clear"}))
    cases.append((443, [(True, dhe12[0]), (False, dhe12[1])],
                  {"verdict": "encrypted", "protocol": "tls", "tlsVersion": "TLS 1.2", "keyExchange": "DHE 2048-bit",
                   "case": "TLS 1.2 with a DHE suite: the prime's size, from OpenSSL"}))
    cases.append((443, [(True, ffdhe13[0]), (False, ffdhe13[1])],
                  {"verdict": "encrypted", "protocol": "tls", "tlsVersion": "TLS 1.3", "keyExchange": "ffdhe2048",
                   "case": "TLS 1.3 with a finite-field group, from OpenSSL"}))
    cases.append((443, [(True, p384[0]), (False, p384[1])],
                  {"verdict": "encrypted", "protocol": "tls", "tlsVersion": "TLS 1.3", "keyExchange": "secp384r1",
                   "case": "TLS 1.3 on P-384, from OpenSSL"}))
    resumed_tls12 = {"verdict": "encrypted", "protocol": "tls", "tlsVersion": "TLS 1.2", "resumed": True,
                     "keyExchange": "none", "clientCertificate": "not exchanged (resumed session)"}
    cases.append((443, [(True, resumed12[0]), (False, resumed12[1])],
                  dict(resumed_tls12, case="TLS 1.2 resumed by session ticket (OpenSSL reports it reused): no key exchange of its own")))
    cases.append((443, [(True, resumed12_id[0]), (False, resumed12_id[1])],
                  dict(resumed_tls12, case="TLS 1.2 resumed by session ID (OpenSSL reports it reused)")))
    cases.append((443, [(True, resumed13[0]), (False, resumed13[1])],
                  {"verdict": "encrypted", "protocol": "tls", "tlsVersion": "TLS 1.3", "resumed": True,
                   "case": "TLS 1.3 resumed with a ticket's pre-shared key and a fresh key share (OpenSSL reports it reused)"}))
    cases.append((443, [(True, ech_grease[0]), (False, ech_grease[1])],
                  {"verdict": "encrypted", "protocol": "tls", "tlsVersion": "TLS 1.3", "sni": "public.example.com", "echOffered": True,
                   "case": "TLS 1.3 whose ClientHello offers Encrypted Client Hello (GREASE, as a browser without the server's ECH configuration sends it; OpenSSL's server ignores it): the SNI shown is the outer name"}))
    cases.append((443, [(True, external_psk[0]), (False, external_psk[1])],
                  {"verdict": "encrypted", "protocol": "tls", "tlsVersion": "TLS 1.3", "resumed": False, "externalPreSharedKey": True,
                   "case": "TLS 1.3 on an external pre-shared key (OpenSSL -psk on both ends), with a key share: not a resumption"}))

    packets, flows, start = [], [], T0
    for index, (port, exchange, expectation) in enumerate(cases):
        client, server, cport = "10.50.0.10", f"10.50.1.{index + 1}", 41000 + index
        conn = Connection(client, server, cport, port, start)
        conn.open()
        for from_client, data in exchange:
            if from_client is None:
                conn.t += data  # time passes without traffic
                continue
            conn.send(from_client, data, expectation.get("mss", MSS))
        conn.close(server_first=expectation.get("serverClosesFirst", False))
        packets += conn.packets
        start = conn.t + 0.05
        flow = {"client": f"{client}:{cport}", "server": f"{server}:{port}"}
        flow.update({k: v for k, v in expectation.items() if k not in ("case", "mss", "serverClosesFirst")})
        flows.append((expectation["case"], flow))

    frames = []
    for t, pkt in packets:
        pkt.time = t
        frames.append(pkt)
    wrpcap(str(CAPTURES / "crafted-protocols.pcap"), frames)
    expected = {
        "description": "One connection per classification case: " + "; ".join(case for case, _ in flows)
                       + ". TLS bytes recorded from OpenSSL on loopback; cleartext messages as their specifications define them.",
        "exitCode": 1,
        "flows": [flow for _, flow in flows],
    }
    (CAPTURES / "crafted-protocols.expected.json").write_text(json.dumps(expected, indent=2) + "\n")
    print(CAPTURES / "crafted-protocols.pcap")


if __name__ == "__main__":
    main()
