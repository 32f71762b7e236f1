#!/usr/bin/env bash
# A real SSH key exchange, recorded: OpenSSH's client connects to OpenSSH's
# server on loopback (port 2222, a host key made for the run), agrees keys,
# then fails to authenticate (no key is offered: BatchMode). Both sides' version
# lines, KEXINIT, key exchange and NEWKEYS cross in clear, then encrypted
# packets. craft-captures.py builds its one-way captures from these bytes.
#
#   scripts/lab-ssh.sh [OUT.pcap]    (root; default Captures/lab-ssh.pcap)
#
# Writes OUT's expected verdict beside it (OUT.expected.json), the flow's
# endpoints as tshark's SSH dissector reads them. Sends nothing beyond loopback.
# Needs openssh-server, openssh-client, tcpdump, tshark (scripts/setup.sh --lab).
set -euo pipefail
umask 077
cd "$(dirname "$0")/.."
out=${1:-Captures/lab-ssh.pcap}
work=$(mktemp -d) dump=
trap 'kill $(cat "$work/sshd.pid" 2>/dev/null) ${dump:-} 2>/dev/null || true; rm -rf "$work"' EXIT
ssh-keygen -q -t ed25519 -N '' -f "$work/host_key"
mkdir -p /run/sshd
/usr/sbin/sshd -f /dev/null -h "$work/host_key" -o ListenAddress=127.0.0.1:2222 -o PidFile="$work/sshd.pid" \
  -o PasswordAuthentication=no -o KbdInteractiveAuthentication=no
tcpdump -i lo -U -w "$work/ssh.pcap" 'tcp port 2222' 2>/dev/null & dump=$!
sleep 1
ssh -p 2222 -o BatchMode=yes -o StrictHostKeyChecking=no -o UserKnownHostsFile=/dev/null -o IdentitiesOnly=yes \
  -o IdentityFile=/dev/null -o ConnectTimeout=5 wirecheck@127.0.0.1 true 2>/dev/null || true
sleep 1
kill $dump; wait $dump 2>/dev/null || true
cp "$work/ssh.pcap" "$out"
python3 - "$out" <<'PY'
import json, subprocess, sys
out = sys.argv[1]
rows = subprocess.run(["tshark", "-n", "-r", out, "-d", "tcp.port==2222,ssh", "-Y", "ssh.protocol", "-T", "fields", "-e", "ip.src", "-e", "tcp.srcport",
                       "-e", "ip.dst", "-e", "tcp.dstport", "-e", "ssh.protocol"], capture_output=True, text=True, check=True).stdout.split("\n")
client = next(r.split("\t") for r in rows if r and r.split("\t")[3] == "2222")
flows = [{"client": f"{client[0]}:{client[1]}", "server": f"{client[2]}:{client[3]}", "verdict": "encrypted", "protocol": "ssh",
          "evidenceContains": [client[4].strip()]}]
expected = {"description": "scripts/lab-ssh.sh: a real OpenSSH client and server on loopback agree keys, then the client fails "
            "to authenticate; recorded with tcpdump -i lo", "exitCode": 0, "flows": flows}
open(out.rsplit(".pcap", 1)[0] + ".expected.json", "w").write(json.dumps(expected, indent=2) + "\n")
PY
echo "recorded $out" >&2
