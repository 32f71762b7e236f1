#!/usr/bin/python3
"""Builds the crafted captures in Captures/ from real lab bytes.

Each capture replays the application bytes of a real flow recorded by
`scripts/lab.sh record` (the mesh client's TLS 1.3 flow and the legacy client's
HTTP flow in Captures/permissive.pcap) under one condition a node capture
produces: duplicated and reordered segments, a retransmission with different
bytes, a capture that starts mid-stream, sequence numbers that wrap, a 4-tuple
reused by a second connection, IPv6, and overlay tunnels. Beside each capture it
writes the expected verdicts, which follow from the condition, not from
wirecheck's output.

Uses Debian's python3-scapy; deterministic (fixed seed, fixed timestamps):

    scripts/craft-captures.py            # writes Captures/crafted-*.pcap and *.expected.json
"""
import json
import random
from pathlib import Path

from scapy.all import IP, IPv6, TCP, UDP, Ether, fragment, rdpcap, wrpcap
from scapy.layers.vxlan import VXLAN
from scapy.contrib.geneve import GENEVE

ROOT = Path(__file__).resolve().parent.parent
CAPTURES = ROOT / "Captures"
SOURCE = CAPTURES / "permissive.pcap"
SSH_SOURCE = CAPTURES / "lab-ssh.pcap"
MSS = 1000
T0 = 1_790_000_000.0  # fixed capture time


def streams(pcap, client_ip):
    """Application bytes (client->server, server->client) of the first flow from
    client_ip, reassembled by sequence number (the -i any copies collapse)."""
    parts = {"c": {}, "s": {}}
    port = None
    for pkt in rdpcap(str(pcap)):
        if not pkt.haslayer(TCP) or not pkt.haslayer(IP):
            continue
        ip, tcp = pkt[IP], pkt[TCP]
        if ip.src == client_ip and tcp.flags & 0x02 and port is None:
            port = tcp.sport
        if port is None:
            continue
        if ip.src == client_ip and tcp.sport == port:
            side = "c"
        elif ip.dst == client_ip and tcp.dport == port:
            side = "s"
        else:
            continue
        data = bytes(tcp.payload)
        if data:
            parts[side].setdefault(tcp.seq, data)
    def join(chunks):
        out = b""
        for seq in sorted(chunks):
            out += chunks[seq]
        return out
    return join(parts["c"]), join(parts["s"])


class Flow:
    """Builds the packets of one TCP connection as (time, packet) pairs."""

    def __init__(self, client, server, cport, sport=80, cisn=1000, sisn=500000, v6=False, start=T0):
        self.client, self.server, self.cport, self.sport = client, server, cport, sport
        self.cseq, self.sseq = cisn, sisn
        self.v6 = v6
        self.t = start
        self.packets = []

    def ip(self, from_client):
        src, dst = (self.client, self.server) if from_client else (self.server, self.client)
        return (IPv6(src=src, dst=dst) if self.v6 else IP(src=src, dst=dst))

    def seg(self, from_client, flags, payload=b"", seq=None):
        sp, dp = (self.cport, self.sport) if from_client else (self.sport, self.cport)
        own = self.cseq if from_client else self.sseq
        ack = self.sseq if from_client else self.cseq
        pkt = self.ip(from_client) / TCP(sport=sp, dport=dp, flags=flags, seq=own if seq is None else seq,
                                         ack=ack & 0xFFFFFFFF, window=502) / payload
        self.t += 0.0001
        return (self.t, pkt)

    def handshake(self):
        self.packets.append(self.seg(True, "S"))
        self.cseq = (self.cseq + 1) & 0xFFFFFFFF
        self.packets.append(self.seg(False, "SA"))
        self.sseq = (self.sseq + 1) & 0xFFFFFFFF
        self.packets.append(self.seg(True, "A"))

    def data(self, from_client, payload):
        """Segments of at most MSS bytes; returns them (not yet appended)."""
        out = []
        for i in range(0, len(payload), MSS):
            chunk = payload[i:i + MSS]
            out.append(self.seg(from_client, "PA", chunk))
            if from_client:
                self.cseq = (self.cseq + len(chunk)) & 0xFFFFFFFF
            else:
                self.sseq = (self.sseq + len(chunk)) & 0xFFFFFFFF
        return out

    def close(self):
        self.packets.append(self.seg(True, "FA"))
        self.cseq = (self.cseq + 1) & 0xFFFFFFFF
        self.packets.append(self.seg(False, "FA"))
        self.sseq = (self.sseq + 1) & 0xFFFFFFFF
        self.packets.append(self.seg(True, "A"))

    def exchange(self, request, response):
        self.packets += self.data(True, request)
        self.packets += self.data(False, response)


def frames(timed, wrap=None):
    """Ethernet frames with fixed timestamps; `wrap` encapsulates the IP packet."""
    out = []
    for t, pkt in timed:
        inner = Ether(src="02:00:00:00:00:01", dst="02:00:00:00:00:02") / pkt
        frame = wrap(inner) if wrap else inner
        frame.time = t
        out.append(frame)
    return out


def write(name, packets, description, flows, exit_code):
    wrpcap(str(CAPTURES / f"crafted-{name}.pcap"), packets)
    expected = {"description": description, "exitCode": exit_code, "flows": flows}
    (CAPTURES / f"crafted-{name}.expected.json").write_text(json.dumps(expected, indent=2) + "\n")


def endpoint(ip, port):
    return f"[{ip}]:{port}" if ":" in ip else f"{ip}:{port}"


def main():
    rng = random.Random(20261122)
    tls_c, tls_s = streams(SOURCE, "10.111.1.10")
    http_c, http_s = streams(SOURCE, "10.111.1.20")
    assert tls_c[:1] == b"\x16" and http_c.startswith(b"GET "), "unexpected lab capture"
    C, S = "10.0.0.1", "10.0.0.2"

    # 1. Every packet twice (-i any on a bridge) and server segments reordered.
    for kind, (req, resp), verdict, proto in [("tls", (tls_c, tls_s), "encrypted", "tls"),
                                              ("http", (http_c, http_s), "plaintext", "http")]:
        f = Flow(C, S, 40001)
        f.handshake()
        f.packets += f.data(True, req)
        server = f.data(False, resp)
        rng.shuffle(server)
        f.packets += server
        f.close()
        doubled = []
        for t, p in f.packets:
            doubled += [(t, p), (t + 0.00001, p.copy())]
        doubled.sort(key=lambda tp: tp[0])
        write(f"duplicated-reordered-{kind}", frames(doubled),
              f"Real lab {kind.upper()} bytes; every packet captured twice (as -i any on a bridge) and the server's segments shuffled.",
              [{"client": endpoint(C, 40001), "server": endpoint(S, 80), "verdict": verdict, "protocol": proto}],
              1 if verdict == "plaintext" else 0)

    # 2. A retransmission whose bytes differ from the first copy.
    f = Flow(C, S, 40002)
    f.handshake()
    f.packets += f.data(True, tls_c)
    server = f.data(False, tls_s)
    t, first = server[0]
    forged = first.copy()
    forged[TCP].remove_payload()
    forged = forged / (b"GET /secret HTTP/1.1\r\n" + bytes(len(first[TCP].payload) - 22))
    f.packets += server[:1] + [(t + 0.00005, forged)] + server[1:]
    f.close()
    write("conflicting-retransmission", frames(f.packets),
          "Real lab TLS; the server's first segment is retransmitted with different bytes (cleartext). The first copy is kept and the conflict reported.",
          [{"client": endpoint(C, 40002), "server": endpoint(S, 80), "verdict": "encrypted", "protocol": "tls",
            "minConflictingBytes": len(first[TCP].payload)}], 0)

    # 3. Capture starts mid-stream: no handshake, first bytes in the middle of a TLS record / HTTP body.
    for kind, (req, resp), verdict, proto, port in [("tls", (tls_c, tls_s), "encrypted", "tls", 40003),
                                                    ("http", (http_c, http_s), "plaintext", "http", 40004)]:
        f = Flow(C, S, port)
        f.cseq, f.sseq = 7000, 9000
        skip = 7 if kind == "tls" else len(req) // 2
        # The client's bytes begin `skip` into the stream; the server's a little in too.
        f.packets += f.data(True, req[skip:])
        f.packets += f.data(False, resp[3:] if kind == "tls" else resp)
        # A second request/response pair so mid-stream TLS shows whole records after the cut.
        f.exchange(req, resp)
        f.close()
        write(f"midstream-{kind}", frames(f.packets),
              f"Real lab {kind.upper()} bytes, capture starting mid-connection (no SYN) and mid-message.",
              [{"client": endpoint(C, port), "server": endpoint(S, 80), "verdict": verdict, "protocol": proto}],
              1 if verdict == "plaintext" else 0)

    # 4. Sequence numbers that wrap past 2^32 during the data.
    f = Flow(C, S, 40005, cisn=0xFFFFFF00, sisn=0xFFFFF000)
    f.handshake()
    f.exchange(tls_c, tls_s)
    f.close()
    write("sequence-wraparound", frames(f.packets),
          "Real lab TLS with initial sequence numbers just below 2^32, so both directions wrap.",
          [{"client": endpoint(C, 40005), "server": endpoint(S, 80), "verdict": "encrypted", "protocol": "tls"}], 0)

    # 5. The same 4-tuple used by two connections one after the other: TLS, then HTTP.
    first = Flow(C, S, 40006, cisn=1000)
    first.handshake(); first.exchange(tls_c, tls_s); first.close()
    second = Flow(C, S, 40006, cisn=900000, start=first.t + 0.5)
    second.handshake(); second.exchange(http_c, http_s); second.close()
    write("port-reuse", frames(first.packets + second.packets),
          "Two connections on the same 4-tuple: real lab TLS, then real lab HTTP. Two flows, two verdicts.",
          [{"client": endpoint(C, 40006), "server": endpoint(S, 80), "verdict": "encrypted", "protocol": "tls"},
           {"client": endpoint(C, 40006), "server": endpoint(S, 80), "verdict": "plaintext", "protocol": "http"}], 1)

    # 6. IPv6.
    C6, S6 = "fd00::10", "fd00::2"
    f = Flow(C6, S6, 40007, sport=443, v6=True)
    f.handshake(); f.exchange(tls_c, tls_s); f.close()
    g = Flow(C6, S6, 40008, sport=443, v6=True, start=f.t + 0.1)
    g.handshake(); g.exchange(http_c, http_s); g.close()
    write("ipv6", frames(f.packets + g.packets),
          "Real lab TLS and HTTP over IPv6, both to port 443: the port decides nothing.",
          [{"client": endpoint(C6, 40007), "server": endpoint(S6, 443), "verdict": "encrypted", "protocol": "tls"},
           {"client": endpoint(C6, 40008), "server": endpoint(S6, 443), "verdict": "plaintext", "protocol": "http"}], 1)

    # 7. Istio's plaintext-by-design ports: a kubelet-style health probe to 15021
    #    next to mesh TLS. Reported as plaintext, expected; the run passes.
    probe_req = b"GET /healthz/ready HTTP/1.1\r\nHost: 10.0.0.2:15021\r\nUser-Agent: kube-probe/1.29\r\n\r\n"
    probe_resp = b"HTTP/1.1 200 OK\r\nDate: Sun, 22 Nov 2026 12:00:00 GMT\r\nContent-Length: 0\r\n\r\n"
    f = Flow(C, S, 40020, sport=15021)
    f.handshake(); f.exchange(probe_req, probe_resp); f.close()
    g = Flow(C, S, 40021, start=f.t + 0.1)
    g.handshake(); g.exchange(tls_c, tls_s); g.close()
    write("istio-health-port", frames(f.packets + g.packets),
          "A plaintext health probe to Istio's port 15021 (plaintext by design) and a mutual-TLS request.",
          [{"client": endpoint(C, 40020), "server": endpoint(S, 15021), "verdict": "plaintext", "protocol": "http", "expected": True},
           {"client": endpoint(C, 40021), "server": endpoint(S, 80), "verdict": "encrypted", "protocol": "tls", "mesh": "istio-sidecar"}], 0)

    # 8. Overlays: VXLAN on 8472 (Flannel) and 4789 (IANA), Geneve.
    def vxlan(port, vni):
        return lambda inner: (Ether(src="02:00:00:00:01:01", dst="02:00:00:00:01:02") / IP(src="192.168.0.1", dst="192.168.0.2")
                              / UDP(sport=50000, dport=port) / VXLAN(vni=vni, flags=0x08) / inner)

    def geneve(vni):
        return lambda inner: (Ether(src="02:00:00:00:01:01", dst="02:00:00:00:01:02") / IP(src="192.168.0.1", dst="192.168.0.2")
                              / UDP(sport=50000, dport=6081) / GENEVE(vni=vni, proto=0x6558) / inner)

    for name, wrap, tunnel in [("vxlan-8472", vxlan(8472, 1), "vxlan vni 1"),
                               ("vxlan-4789", vxlan(4789, 4242), "vxlan vni 4242"),
                               ("geneve", geneve(77), "geneve vni 77")]:
        f = Flow(C, S, 40010)
        f.handshake(); f.exchange(tls_c, tls_s); f.close()
        g = Flow(C, S, 40011, start=f.t + 0.1)
        g.handshake(); g.exchange(http_c, http_s); g.close()
        write(name, frames(f.packets + g.packets, wrap),
              f"Real lab TLS and HTTP between pods, carried in {tunnel.split(' vni')[0].upper()} as on a node's uplink.",
              [{"client": endpoint(C, 40010), "server": endpoint(S, 80), "verdict": "encrypted", "protocol": "tls", "tunnel": tunnel},
               {"client": endpoint(C, 40011), "server": endpoint(S, 80), "verdict": "plaintext", "protocol": "http", "tunnel": tunnel}], 1)

    # 9. IPv4 fragments: every data segment of a TLS and an HTTP flow split into
    #    fragments of 256 bytes, sent last fragment first (as some stacks do).
    def fragmented(timed):
        out = []
        for t, pkt in timed:
            if pkt.haslayer(TCP) and len(pkt[TCP].payload) > 256:
                pieces = fragment(IP(bytes(pkt)), fragsize=256)
                for i, piece in enumerate(reversed(pieces)):
                    out.append((t + i * 0.000001, piece))
            else:
                out.append((t, pkt))
        return out

    f = Flow(C, S, 40030)
    f.handshake(); f.exchange(tls_c, tls_s); f.close()
    g = Flow(C, S, 40031, start=f.t + 0.1)
    g.handshake(); g.exchange(http_c + b"X" * 600, http_s); g.close()
    write("ipv4-fragments", frames(fragmented(f.packets + g.packets)),
          "Real lab TLS and HTTP with every data segment over 256 bytes sent as IPv4 fragments, last fragment first. Reassembled, then judged.",
          [{"client": endpoint(C, 40030), "server": endpoint(S, 80), "verdict": "encrypted", "protocol": "tls"},
           {"client": endpoint(C, 40031), "server": endpoint(S, 80), "verdict": "plaintext", "protocol": "http"}], 1)

    # 10. Two SYN-ACKs with different initial sequence numbers before any data
    #     (a server answering a retransmitted SYN afresh, a middlebox's SYN-ACK
    #     first): the client's acknowledgement says which one the data follows.
    #     TLS after the second, which the client acknowledges; HTTP after the
    #     first, acknowledged before a stray second one arrives.
    f = Flow(C, S, 40040, sisn=700000, start=T0 + 10)
    f.packets.append(f.seg(True, "S"))
    f.cseq = (f.cseq + 1) & 0xFFFFFFFF
    f.packets.append(f.seg(False, "SA"))
    f.sseq = 3_900_000_000
    f.packets.append(f.seg(False, "SA"))
    f.sseq = (f.sseq + 1) & 0xFFFFFFFF
    f.packets.append(f.seg(True, "A"))
    f.exchange(tls_c, tls_s)
    f.close()
    g = Flow(C, S, 40041, sisn=800000, start=f.t + 0.1)
    g.packets.append(g.seg(True, "S"))
    g.cseq = (g.cseq + 1) & 0xFFFFFFFF
    g.packets.append(g.seg(False, "SA"))
    g.sseq = (g.sseq + 1) & 0xFFFFFFFF
    g.packets.append(g.seg(True, "A"))
    g.packets.append(g.seg(False, "SA", seq=3_900_000_000))
    g.exchange(http_c, http_s)
    g.close()
    # ... and a server whose data follows a SYN-ACK the capture missed: its
    # answer lies before the start the captured SYN-ACK gives, then it resets.
    # Its bytes cannot be placed, so no refusal can be told: the client's
    # cleartext request fails the run, never passing as a proof of STRICT.
    h = Flow(C, S, 40042, sisn=900000, start=g.t + 0.1)
    h.handshake()
    h.packets += h.data(True, http_c)
    h.sseq = 3_900_000_001
    h.packets += h.data(False, http_s)
    h.packets.append(h.seg(False, "R"))
    write("second-synack", frames(f.packets + g.packets + h.packets),
          "Two SYN-ACKs with different initial sequence numbers before any data: real lab TLS after the second, which "
          "the client acknowledges; real lab HTTP after the first, which the client acknowledged before a stray second "
          "one. Each server's data follows the SYN-ACK its client acknowledged. Then real lab HTTP whose server answers "
          "after a SYN-ACK the capture missed and resets: its answer cannot be placed, so the flow is plaintext, not a refusal.",
          [{"client": endpoint(C, 40040), "server": endpoint(S, 80), "verdict": "encrypted", "protocol": "tls", "tlsVersion": "TLS 1.3"},
           {"client": endpoint(C, 40041), "server": endpoint(S, 80), "verdict": "plaintext", "protocol": "http",
            "evidenceContains": ["HTTP/1.1 200 OK"]},
           {"client": endpoint(C, 40042), "server": endpoint(S, 80), "verdict": "plaintext", "protocol": "http",
            "reasonContains": "did not follow its SYN-ACK, so no refusal can be told"}], 1)

    # 11. A server's answer the capture lost, then its close: the FIN's or
    #     reset's sequence number says the bytes were sent. Their content is
    #     unknown, so no refusal can be told, and the client's cleartext fails
    #     the run; the same request with no answer and a reset at once is the
    #     refusal STRICT makes. A TLS flow whose client's last bytes (an
    #     alert's worth) were lost before its reset stays encrypted: every
    #     byte captured is TLS, and the loss is noted.
    flows = []
    for port, close in [(40060, "FA"), (40061, "RA")]:
        h = Flow(C, S, port, start=T0 + 20 + (port - 40060))
        h.handshake()
        h.packets += h.data(True, http_c)
        h.data(False, http_s)  # lost from the capture
        h.packets.append(h.seg(False, close))
        flows += h.packets
    r = Flow(C, S, 40062, start=T0 + 22)
    r.handshake()
    r.packets += r.data(True, http_c)
    r.packets.append(r.seg(False, "RA"))
    flows += r.packets
    # A reset with neither an ACK nor a sequence number (0) says nothing of
    # where the server's bytes ended, even just past a wrap of its numbers.
    z = Flow(C, S, 40064, sisn=0xFFFFFF00, start=T0 + 24)
    z.handshake()
    z.packets += z.data(True, http_c)
    z.packets.append(z.seg(False, "R", seq=0))
    flows += z.packets
    t = Flow(C, S, 40063, start=T0 + 23)
    t.handshake()
    t.exchange(tls_c, tls_s)
    t.cseq = (t.cseq + 7) & 0xFFFFFFFF  # a 7-byte alert record, lost
    t.packets.append(t.seg(True, "R"))
    flows += t.packets
    write("lost-answer", frames(flows),
          "Real lab HTTP requests whose server's answer the capture lost, then a FIN, then a reset (the close's sequence "
          "number shows the bytes were sent): plaintext, no refusal can be told; the same request with no answer and a "
          "reset at once: plaintext-rejected, also when that reset carries no ACK and sequence number 0 just past a wrap of "
          "the server's numbers; real lab TLS whose client's last 7 bytes were lost before its reset: encrypted.",
          [{"client": endpoint(C, 40060), "server": endpoint(S, 80), "verdict": "plaintext", "protocol": "http",
            "reasonContains": "169 bytes were not captured"},
           {"client": endpoint(C, 40061), "server": endpoint(S, 80), "verdict": "plaintext", "protocol": "http",
            "reasonContains": "169 bytes were not captured"},
           {"client": endpoint(C, 40062), "server": endpoint(S, 80), "verdict": "plaintext-rejected", "protocol": "http"},
           {"client": endpoint(C, 40063), "server": endpoint(S, 80), "verdict": "encrypted", "protocol": "tls",
            "tlsVersion": "TLS 1.3"},
           {"client": endpoint(C, 40064), "server": endpoint(S, 80), "verdict": "plaintext-rejected", "protocol": "http"}], 1)

    # 12. One-way captures (asymmetric routing, a load balancer's direct
    #     server return, a capture filter on one direction): one side's
    #     packets never reach the capture, the other's acknowledgements show
    #     its bytes were sent. What the captured side's own bytes prove
    #     decides: TLS application data records exist only once the other
    #     side took part in the handshake, and an SSH side sends NEWKEYS only
    #     after the other's key exchange reply; a hello alone proves nothing
    #     of the other side, and cleartext can show no refusal.
    ssh_c, ssh_s = streams(SSH_SOURCE, "127.0.0.1")
    assert ssh_c.startswith(b"SSH-2.0-") and ssh_s.startswith(b"SSH-2.0-"), "unexpected lab SSH capture"
    tls_hello = tls_c[:5 + int.from_bytes(tls_c[3:5], "big")]
    banner_end = ssh_c.index(b"\n") + 1
    ssh_kexinit = ssh_c[:banner_end + 4 + int.from_bytes(ssh_c[banner_end:banner_end + 4], "big")]
    flows = []

    def one_way(port, first, answer, rest, sport=80, server_side=False):
        """The client sends `first`, the server `answer`, the client `rest`, then
        both close; only one side's packets are kept (the client's, or with
        `server_side` the server's, the client's bytes being `first` and `rest`)."""
        h = Flow(C, S, port, sport=sport, start=T0 + 30 + (port - 40070))
        keep = (lambda fc: not fc) if server_side else (lambda fc: fc)
        def add(from_client, segments):
            if keep(from_client):
                flows.extend(segments)
        add(True, [h.seg(True, "S")]); h.cseq = (h.cseq + 1) & 0xFFFFFFFF
        add(False, [h.seg(False, "SA")]); h.sseq = (h.sseq + 1) & 0xFFFFFFFF
        add(True, [h.seg(True, "A")])
        add(True, h.data(True, first))
        add(False, h.data(False, answer))
        add(True, h.data(True, rest) if rest else [h.seg(True, "A")])
        add(True, [h.seg(True, "FA")]); h.cseq = (h.cseq + 1) & 0xFFFFFFFF
        add(False, [h.seg(False, "FA")]); h.sseq = (h.sseq + 1) & 0xFFFFFFFF
        add(True, [h.seg(True, "A")])

    one_way(40070, tls_hello, tls_s, tls_c[len(tls_hello):])
    one_way(40071, tls_hello, tls_s, b"")
    one_way(40072, tls_hello, tls_s, tls_c[len(tls_hello):], server_side=True)
    one_way(40073, http_c, http_s, b"")
    one_way(40074, ssh_c[:banner_end], ssh_s, ssh_c[banner_end:], sport=22)
    one_way(40075, ssh_kexinit, ssh_s, b"", sport=22)
    # STRICT's refusal seen one way: the request, then nothing (the server's
    # reset is not captured). No refusal can be told: the run fails.
    r = Flow(C, S, 40076, start=T0 + 36)
    flows.append(r.seg(True, "S")); r.cseq = (r.cseq + 1) & 0xFFFFFFFF
    r.sseq = (r.sseq + 1) & 0xFFFFFFFF  # its SYN-ACK, not captured
    flows.append(r.seg(True, "A"))
    flows.extend(r.data(True, http_c))
    # A connection attempt given up: the SYN twice, then a reset with ACK set
    # and an acknowledgement of 0, which acknowledges nothing of the server's.
    a = Flow(C, S, 40077, start=T0 + 37)
    flows.append(a.seg(True, "S"))
    flows.append(a.seg(True, "S"))
    a.cseq = (a.cseq + 1) & 0xFFFFFFFF
    a.sseq = 0
    flows.append(a.seg(True, "RA"))
    lost = "bytes were not captured"
    write("one-way", frames(flows),
          "One-way captures, each flow's other side never captured, its bytes shown by the captured side's "
          "acknowledgements: real lab TLS 1.3 from the client, application data included (encrypted); the same client's "
          "ClientHello only (inconclusive); the server's side of it (encrypted); real lab HTTP from the client (plaintext, "
          "no refusal can be told); a real OpenSSH client's key exchange through NEWKEYS and on (encrypted); the same "
          "client's version line and KEXINIT only (inconclusive); real lab HTTP whose server's packets are all missing, its refusal "
          "included (plaintext: no answer or refusal can be told); a connection attempt given up with a reset whose "
          "acknowledgement, 0, acknowledges nothing (inconclusive, no SYN-ACK said to be missing).",
          [{"client": endpoint(C, 40070), "server": endpoint(S, 80), "verdict": "encrypted", "protocol": "tls",
            "reasonContains": f"the server's {len(tls_s)} {lost}"},
           {"client": endpoint(C, 40071), "server": endpoint(S, 80), "verdict": "inconclusive", "protocol": "tls",
            "reasonContains": f"the server's {len(tls_s)} {lost}"},
           {"client": endpoint(C, 40072), "server": endpoint(S, 80), "verdict": "encrypted", "protocol": "tls",
            "reasonContains": f"the client's {len(tls_c)} {lost}"},
           {"client": endpoint(C, 40073), "server": endpoint(S, 80), "verdict": "plaintext", "protocol": "http",
            "reasonContains": f"the server's {len(http_s)} {lost}"},
           {"client": endpoint(C, 40074), "server": endpoint(S, 22), "verdict": "encrypted", "protocol": "ssh",
            "reasonContains": f"the other side's {len(ssh_s)} {lost}"},
           {"client": endpoint(C, 40075), "server": endpoint(S, 22), "verdict": "inconclusive", "protocol": "ssh",
            "reasonContains": f"the other side's {len(ssh_s)} {lost}"},
           {"client": endpoint(C, 40076), "server": endpoint(S, 80), "verdict": "plaintext", "protocol": "http",
            "reasonContains": "the server's packets were not captured"},
           {"client": endpoint(C, 40077), "server": endpoint(S, 80), "verdict": "inconclusive",
            "reasonContains": "reset before any data", "forbidden": ["SYN-ACK"]}], 1)


if __name__ == "__main__":
    main()
