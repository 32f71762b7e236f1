#!/usr/bin/python3
"""A real gRPC client (grpcio, gRPC's C core) calling over HTTP/2 in clear a
server that answers as a mesh proxy refusing it by policy would, then one
that serves it. The server is python-h2: on the first connection it answers
every call as Linkerd's inbound proxy answers a call its authorization policy
denies (a trailers-only answer, grpc-status 7 PERMISSION_DENIED, the reason in
grpc-message and l5d-proxy-error, content-length 0); on the second it serves
the call (a message, then grpc-status 0). Loopback only; prints one line per
call ("refused PERMISSION_DENIED", "served").
Debian's python3-grpcio and python3-h2.     lab-grpc.py PORT
"""
import socket
import sys
import threading
from email.utils import formatdate

import grpc
from h2.config import H2Configuration
from h2.connection import H2Connection
from h2.events import DataReceived, RequestReceived, StreamEnded

PORT = int(sys.argv[1])
CALLS = ((True, 2), (False, 1))  # (refused by the "proxy", calls on that connection)


def serve(listener, refuse):
    conn, peer = listener.accept()
    h2 = H2Connection(H2Configuration(client_side=False, header_encoding="utf-8"))
    h2.initiate_connection()
    conn.sendall(h2.data_to_send())
    while data := conn.recv(65536):
        for event in h2.receive_data(data):
            if isinstance(event, RequestReceived) and refuse:
                # Linkerd decides on the request's headers, before its message.
                error = f"client {peer[0]}:{peer[1]}: server: 127.0.0.1:{PORT}: unauthorized request on route"
                h2.send_headers(event.stream_id, [(":status", "200"), ("content-length", "0"),
                                                  ("content-type", "application/grpc"), ("grpc-status", "7"),
                                                  ("grpc-message", error), ("l5d-proxy-error", error),
                                                  ("date", formatdate(usegmt=True))], end_stream=True)
            elif isinstance(event, DataReceived):
                h2.acknowledge_received_data(event.flow_controlled_length, event.stream_id)
            elif isinstance(event, StreamEnded) and not refuse:
                h2.send_headers(event.stream_id, [(":status", "200"), ("content-type", "application/grpc")])
                h2.send_data(event.stream_id, b"\x00\x00\x00\x00\x0d\n\x0bHello alice")
                h2.send_headers(event.stream_id, [("grpc-status", "0")], end_stream=True)
        if out := h2.data_to_send():
            conn.sendall(out)
    conn.close()


def main():
    listener = socket.socket()
    listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    listener.bind(("127.0.0.1", PORT))
    listener.listen(1)
    for refuse, calls in CALLS:
        server = threading.Thread(target=serve, args=(listener, refuse))
        server.start()
        channel = grpc.insecure_channel(f"127.0.0.1:{PORT}")
        call = channel.unary_unary("/helloworld.Greeter/SayHello")
        for _ in range(calls):
            try:
                call(b"\n\x05alice", timeout=5, metadata=[("authorization", "Bearer live-grpc-s3cret")])
                print("served", flush=True)
            except grpc.RpcError as error:
                print("refused", error.code().name, flush=True)
        channel.close()
        server.join(timeout=10)
    listener.close()


if __name__ == "__main__":
    main()
