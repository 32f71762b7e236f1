#!/usr/bin/env python3
"""A syslog-over-TCP receiver for the lab's secrets test (RFC 6587), as
rsyslog's imtcp behaves: it reads each connection to its end, keeps the
lines, answers nothing, and closes once the sender has closed. The server's
FIN then follows the client's, which must not read as a refusal.
Standard library only.   lab-syslog.py ADDRESS PORT LOGFILE
"""
import socketserver
import sys


class Session(socketserver.StreamRequestHandler):
    def handle(self):
        with open(sys.argv[3], "ab") as log:
            for line in self.rfile:
                log.write(line)


class Server(socketserver.ThreadingTCPServer):
    allow_reuse_address = True
    daemon_threads = True


if __name__ == "__main__":
    Server((sys.argv[1], int(sys.argv[2])), Session).serve_forever()
