#!/usr/bin/env python3
"""A minimal SMTP server for the lab's secrets test: it speaks enough SMTP
(EHLO advertising AUTH PLAIN and LOGIN, AUTH, MAIL, RCPT, DATA, QUIT) for a
real client such as curl to log in and send a message in cleartext, which is
what wirecheck must then report without printing the credentials.
Standard library only.   lab-smtp.py ADDRESS PORT
"""
import socketserver
import sys


class Session(socketserver.StreamRequestHandler):
    def send(self, line):
        self.wfile.write(line.encode() + b"\r\n")

    def handle(self):
        self.send("220 webserver.default.svc.cluster.local ESMTP lab")
        in_data = False
        login_steps = 0
        for raw in self.rfile:
            line = raw.decode(errors="replace").rstrip("\r\n")
            if in_data:
                if line == ".":
                    in_data = False
                    self.send("250 2.0.0 queued")
                continue
            if login_steps:
                login_steps -= 1
                self.send("334 UGFzc3dvcmQ6" if login_steps else "235 2.7.0 authenticated")
                continue
            verb = line.split(" ", 1)[0].upper()
            if verb in ("EHLO", "HELO"):
                self.send("250-webserver.default.svc.cluster.local")
                self.send("250 AUTH PLAIN LOGIN")
            elif verb == "AUTH":
                parts = line.split()
                if len(parts) >= 3:  # initial response given with the command
                    self.send("235 2.7.0 authenticated")
                elif len(parts) == 2 and parts[1].upper() == "LOGIN":
                    login_steps = 2
                    self.send("334 VXNlcm5hbWU6")
                else:
                    login_steps = 1
                    self.send("334 ")
            elif verb in ("MAIL", "RCPT", "RSET", "NOOP"):
                self.send("250 2.1.0 ok")
            elif verb == "DATA":
                in_data = True
                self.send("354 end with <CRLF>.<CRLF>")
            elif verb == "QUIT":
                self.send("221 2.0.0 bye")
                return
            else:
                self.send("502 5.5.2 not implemented")


class Server(socketserver.ThreadingTCPServer):
    allow_reuse_address = True
    daemon_threads = True


if __name__ == "__main__":
    Server((sys.argv[1], int(sys.argv[2])), Session).serve_forever()
