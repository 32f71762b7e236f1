#!/usr/bin/env bash
# A Kubernetes node in network namespaces, for checking wirecheck against the
# documented Istio mutual-TLS check (`tcpdump -A -v -i any host 10.111.1.122 and port 80`).
#
#   wc-node    the "node": a bridge wcbr0; every pod's veth is enslaved to it, so
#              `-i any` here sees each packet twice (once per veth), as on a real node
#   wc-web     the "webserver" pod, 10.111.1.122: nginx on 127.0.0.1:8080 behind a
#              TLS-terminating proxy on :80 that plays the sidecar:
#                permissive  TLS (mutual, client certificate required) and plaintext
#                strict      only TLS with a client certificate
#   wc-mesh    a client in the mesh, 10.111.1.10: mutual TLS with Istio's SNI and ALPN
#   wc-legacy  a client outside the mesh, 10.111.1.20: plain curl
#
# No namespace has a default route: traffic never leaves 10.111.1.0/24 (the
# Service's ClusterIP, routed to the node and rewritten there, included).
#
# Usage:
#   scripts/lab.sh check                       can the lab run here? (reason on stderr)
#   scripts/lab.sh up [permissive|strict]      build (or switch) the lab
#   scripts/lab.sh traffic                     mesh TLS 1.3, mesh TLS 1.2, legacy plaintext
#   scripts/lab.sh probe-traffic               a kubelet probe from the node (Go's client, one GET,
#                                              User-Agent kube-probe/1.32), two such requests on one
#                                              connection, legacy plaintext
#   scripts/lab.sh grpc-probe-traffic          a gRPC health server (grpc-go) in the webserver
#                                              pod on 50051; from the node, a probe as kubelet's
#                                              gRPC prober sends it (one Check call, User-Agent
#                                              kube-probe/1.32), then two calls on one
#                                              connection; from the legacy client, one call
#                                              with grpc-go's own User-Agent
#   scripts/lab.sh record-grpc-probes OUT.pcap up, tcpdump -i any in the node on port 50051,
#                                              grpc-probe-traffic, stop
#   scripts/lab.sh record OUT.pcap [mode]      up, tcpdump -i any in the node, traffic, stop
#   scripts/lab.sh secrets                     start PostgreSQL (password auth), SMTP, an MQTT
#                                              broker (mosquitto) and an LDAP server (slapd) in
#                                              the webserver pod, then send credentials in
#                                              cleartext from the legacy client: HTTP Basic auth
#                                              and a cookie, a PostgreSQL password, SMTP AUTH, an
#                                              MQTT CONNECT, an LDAP simple bind (PostgreSQL and
#                                              LDAP also once upgraded to TLS); a log line over
#                                              TCP; an Alertmanager joining another (memberlist);
#                                              two Erlang nodes connecting (EPMD, distribution)
#   scripts/lab.sh record-services OUT.pcap    the secrets scenario, recorded on -i any in the node
#   scripts/lab.sh record-rotated DIR [RUNS]   traffic RUNS times, recorded rotated every second
#                                              and gzipped (tcpdump -G 1 -z gzip) into DIR
#   scripts/lab.sh record-interfaces DIR [mode] traffic recorded at once on each pod's veth, one
#                                              tcpdump per interface, into DIR/veth-POD.pcap
#   scripts/lab.sh service-check               can a Service be made here? (reason on stderr)
#   scripts/lab.sh service-up                  a Service as kube-proxy makes one: ClusterIP
#                                              10.96.0.10:80 rewritten (DNAT, nftables in the
#                                              node, br_netfilter for the bridged answers) to
#                                              the webserver pod's 10.111.1.122:80; the clients
#                                              get a route to that one address through the node.
#                                              Also a NodePort as kube-proxy makes one with
#                                              externalTrafficPolicy: Cluster: the node's
#                                              10.111.1.1:30080 rewritten to the pod, and the
#                                              client's address to the node's (masquerade with a
#                                              random port, kube-proxy's --random-fully)
#   scripts/lab.sh service-traffic             mesh TLS 1.3 and legacy plaintext to the ClusterIP
#   scripts/lab.sh nodeport-traffic            the same to the NodePort
#   scripts/lab.sh record-service OUT.pcap [mode]
#                                              up, service-up, tcpdump -i any in the node on
#                                              port 80, service-traffic, stop
#   scripts/lab.sh record-nodeport OUT.pcap [mode]
#                                              the same with nodeport-traffic (ports 80 and 30080)
#   scripts/lab.sh exec-node CMD...            run a command in the node namespace
#   scripts/lab.sh down                        remove everything the lab made
set -euo pipefail

STATE=/tmp/wirecheck-lab
SUBNET_PREFIX=10.111.1
WEB_IP=$SUBNET_PREFIX.122
MESH_IP=$SUBNET_PREFIX.10
LEGACY_IP=$SUBNET_PREFIX.20
NODE_IP=$SUBNET_PREFIX.1
SERVICE_IP=10.96.0.10
NODE_PORT=30080
GRPC_PORT=50051
SNI=outbound_.80_._.webserver.default.svc.cluster.local
ALPN=istio-peer-exchange,istio-http/1.1,istio,http/1.1
STREAM_MODULE=/usr/lib/nginx/modules/ngx_stream_module.so
NAMESPACES=(wc-node wc-web wc-mesh wc-legacy)

die() { echo "lab: $*" >&2; exit 1; }

check() {
  [[ $(id -u) -eq 0 ]] || die "needs root (network namespaces)"
  for tool in ip nginx openssl curl tcpdump; do
    command -v "$tool" >/dev/null || die "$tool not installed (scripts/setup.sh --lab installs it)"
  done
  [[ -f $STREAM_MODULE ]] || die "nginx stream module missing (libnginx-mod-stream)"
  local probe="wc-probe-$$"
  ip netns add "$probe" 2>/dev/null || die "cannot create network namespaces here"
  ip netns del "$probe"
}

in_ns() { local ns=$1; shift; ip netns exec "$ns" "$@"; }

make_certs() {
  [[ -f $STATE/pki/client.key ]] && return
  mkdir -p "$STATE/pki"
  local d=$STATE/pki
  openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes -days 3650 \
    -subj "/O=cluster.local/CN=wirecheck lab root CA" -keyout "$d/ca.key" -out "$d/ca.pem" 2>/dev/null
  openssl req -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes \
    -subj "/CN=webserver.default.svc.cluster.local" -keyout "$d/server.key" -out "$d/server.csr" 2>/dev/null
  openssl x509 -req -in "$d/server.csr" -CA "$d/ca.pem" -CAkey "$d/ca.key" -CAcreateserial -days 3650 \
    -extfile <(printf 'subjectAltName=DNS:webserver.default.svc.cluster.local,URI:spiffe://cluster.local/ns/default/sa/webserver\n') \
    -out "$d/server.pem" 2>/dev/null
  openssl req -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes \
    -subj "/CN=sleep" -keyout "$d/client.key" -out "$d/client.csr" 2>/dev/null
  openssl x509 -req -in "$d/client.csr" -CA "$d/ca.pem" -CAkey "$d/ca.key" -CAcreateserial -days 3650 \
    -extfile <(printf 'subjectAltName=URI:spiffe://cluster.local/ns/default/sa/sleep\n') \
    -out "$d/client.pem" 2>/dev/null
}

make_network() {
  ip netns add wc-node
  in_ns wc-node ip link set lo up
  in_ns wc-node ip link add wcbr0 type bridge
  in_ns wc-node ip link set wcbr0 up
  local pod ip
  for pod in web:$WEB_IP mesh:$MESH_IP legacy:$LEGACY_IP; do
    ip=${pod#*:}; pod=${pod%%:*}
    ip netns add "wc-$pod"
    in_ns "wc-$pod" ip link set lo up
    ip -n wc-node link add "veth-$pod" type veth peer name eth0 netns "wc-$pod"
    ip -n wc-node link set "veth-$pod" master wcbr0 up
    in_ns "wc-$pod" ip addr add "$ip/24" dev eth0
    in_ns "wc-$pod" ip link set eth0 up
  done
}

write_nginx_conf() {
  local mode=$1 d=$STATE
  local tls="ssl_certificate $d/pki/server.pem; ssl_certificate_key $d/pki/server.key;
        ssl_client_certificate $d/pki/ca.pem; ssl_verify_client on;
        ssl_protocols TLSv1.2 TLSv1.3;"
  local listener
  if [[ $mode == permissive ]]; then
    # Like a PERMISSIVE sidecar: peek at the first bytes; TLS goes to the
    # mutual-TLS terminator, anything else straight to the application.
    listener="map \$ssl_preread_protocol \$wc_upstream { \"\" 127.0.0.1:8080; default 127.0.0.1:8443; }
    server { listen $WEB_IP:80; ssl_preread on; proxy_pass \$wc_upstream; }
    server { listen 127.0.0.1:8443 ssl; $tls proxy_pass 127.0.0.1:8080; }"
  else
    # STRICT: only mutual TLS is accepted on the service port.
    listener="server { listen $WEB_IP:80 ssl; $tls proxy_pass 127.0.0.1:8080; }"
  fi
  mkdir -p "$d/nginx/logs" "$d/nginx/tmp"
  cat >"$d/nginx/nginx.conf" <<EOF
load_module $STREAM_MODULE;
daemon on;
worker_processes 1;
pid $d/nginx/nginx.pid;
error_log $d/nginx/logs/error.log warn;
events { worker_connections 64; }
http {
    access_log $d/nginx/logs/access.log;
    client_body_temp_path $d/nginx/tmp/body;
    proxy_temp_path $d/nginx/tmp/proxy;
    fastcgi_temp_path $d/nginx/tmp/fastcgi;
    uwsgi_temp_path $d/nginx/tmp/uwsgi;
    scgi_temp_path $d/nginx/tmp/scgi;
    server {
        listen 127.0.0.1:8080;
        location / { default_type text/plain; return 200 "hello from webserver\n"; }
    }
    # HTTP/2 without TLS (h2c, as gRPC services in clear speak it), for the secrets scenario.
    server {
        listen $WEB_IP:8081 http2;
        location / { default_type text/plain; return 200 "hello over h2c\n"; }
    }
}
stream {
    $listener
}
EOF
}

stop_nginx() {
  local pidfile=$STATE/nginx/nginx.pid
  if [[ -f $pidfile ]]; then
    local pid
    pid=$(cat "$pidfile" 2>/dev/null || true)
    if [[ -n $pid ]]; then
      kill "$pid" 2>/dev/null || true
      for _ in $(seq 50); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
    fi
    rm -f "$pidfile"
  fi
}

# wait_for_port PORT WHAT: until the webserver pod accepts connections on PORT.
wait_for_port() {
  for _ in $(seq 50); do
    in_ns wc-web bash -c "exec 3<>/dev/tcp/$WEB_IP/$1" 2>/dev/null && return 0
    sleep 0.1
  done
  die "$2 did not start listening on $WEB_IP:$1"
}

up() {
  local mode=${1:-permissive}
  [[ $mode == permissive || $mode == strict ]] || die "mode must be permissive or strict"
  check
  mkdir -p "$STATE"
  make_certs
  ip netns pids wc-web >/dev/null 2>&1 || { down_network; make_network; }
  stop_nginx
  write_nginx_conf "$mode"
  # nginx daemonises: detach it from our stdout/stderr so callers reading them see EOF.
  in_ns wc-web nginx -e "$STATE/nginx/logs/error.log" -p "$STATE/nginx" -c "$STATE/nginx/nginx.conf" \
    </dev/null >>"$STATE/nginx/logs/stdout.log" 2>&1
  wait_for_port 80 "webserver (see $STATE/nginx/logs/error.log)"
  echo "$mode" >"$STATE/mode"
  # The probe connection above is not part of any recording: let it close.
  sleep 0.3
}

# mesh_request VERSION [ADDRESS [PORT]]: mutual TLS to ADDRESS:PORT (default the webserver's, 80).
mesh_request() {
  local version=$1 address=${2:-$WEB_IP} port=${3:-80}
  printf 'GET / HTTP/1.1\r\nHost: webserver\r\nUser-Agent: mesh-sidecar\r\nConnection: close\r\n\r\n' |
    in_ns wc-mesh timeout 10 openssl s_client -quiet -ign_eof -connect "$address:$port" \
      "-$version" -servername "$SNI" -alpn "$ALPN" \
      -cert "$STATE/pki/client.pem" -key "$STATE/pki/client.key" -CAfile "$STATE/pki/ca.pem" \
      -verify_return_error 2>/dev/null
}

# legacy_request [ADDRESS [PORT]]: plain HTTP to ADDRESS:PORT (default the webserver's, 80).
legacy_request() {
  in_ns wc-legacy curl -sS --max-time 3 -H "Authorization: Bearer wirecheck-secret-token" \
    "http://${1:-$WEB_IP}:${2:-80}/" || echo "lab: legacy request failed (expected under strict)" >&2
}

# kubelet_probe [REQUESTS]: an HTTP probe of the webserver from the node's
# address, sent as kubelet's prober sends one: Go's HTTP client, keep-alives
# off (a connection per probe), GET with User-Agent kube-probe/1.32 and
# Accept */* (scripts/lab-kubelet-probes.go). REQUESTS 2 sends two on one
# connection, which kubelet never does.
kubelet_probe() {
  build_kubelet_probes
  local mode=http-probe
  [[ ${1:-1} -gt 1 ]] && mode=http-twice
  in_ns wc-node "$STATE/kubelet-probes" "$mode" "http://$WEB_IP:80/"
}

traffic() {
  ip netns pids wc-web >/dev/null 2>&1 || die "lab is not up (scripts/lab.sh up)"
  mesh_request tls1_3
  sleep 0.3
  mesh_request tls1_2
  sleep 0.3
  legacy_request
  sleep 0.3
}

# probe-traffic: a kubelet probe from the node, two probe-like requests on one
# connection from the node, and the legacy client's plaintext request.
probe_traffic() {
  ip netns pids wc-web >/dev/null 2>&1 || die "lab is not up (scripts/lab.sh up)"
  # kubelet probes from the node's own address on the pods' bridge, as on a
  # node whose CNI gives the bridge the pod network's gateway address.
  in_ns wc-node ip addr replace "$NODE_IP/24" dev wcbr0
  kubelet_probe 1
  sleep 0.3
  kubelet_probe 2
  sleep 0.3
  legacy_request
  sleep 0.3
}

# kubelet's probes and a gRPC health server (scripts/lab-kubelet-probes.go),
# built with Debian's Go and grpc-go in GOPATH mode, again when the source is newer.
build_kubelet_probes() {
  local source
  source=$(dirname "$0")/lab-kubelet-probes.go
  [[ -x $STATE/kubelet-probes && $STATE/kubelet-probes -nt $source ]] && return 0
  command -v go >/dev/null || die "go not installed (scripts/setup.sh --lab installs golang-go and grpc-go)"
  mkdir -p "$STATE/gocache"
  GO111MODULE=off GOPATH=/usr/share/gocode GOCACHE=$STATE/gocache GOFLAGS= \
    go build -o "$STATE/kubelet-probes" "$source" || die "could not build $source"
}

start_grpc_health() {
  stop_grpc_health
  build_kubelet_probes
  # Directly, not through in_ns, so that $! is the server (as start_smtp).
  ip netns exec wc-web "$STATE/kubelet-probes" grpc-serve "$WEB_IP:$GRPC_PORT" </dev/null >/dev/null 2>"$STATE/grpc-health.log" &
  echo $! >"$STATE/grpc-health.pid"
  wait_for_port "$GRPC_PORT" "gRPC health server (see $STATE/grpc-health.log)"
}

stop_grpc_health() { stop_pidfile "$STATE/grpc-health.pid"; }

# grpc-probe-traffic: kubelet's gRPC probe from the node's address (a
# connection per probe, one Health/Check call), two calls on one connection
# from the node, and an application's call from the legacy client.
grpc_probe_traffic() {
  ip netns pids wc-web >/dev/null 2>&1 || die "lab is not up (scripts/lab.sh up)"
  start_grpc_health
  in_ns wc-node ip addr replace "$NODE_IP/24" dev wcbr0
  in_ns wc-node "$STATE/kubelet-probes" grpc-probe "$WEB_IP:$GRPC_PORT"
  sleep 0.3
  in_ns wc-node "$STATE/kubelet-probes" grpc-twice "$WEB_IP:$GRPC_PORT"
  sleep 0.3
  in_ns wc-legacy "$STATE/kubelet-probes" grpc-call "$WEB_IP:$GRPC_PORT"
  sleep 0.3
  stop_grpc_health
}

record_grpc_probes() {
  local out=${1:?usage: lab.sh record-grpc-probes OUT.pcap}
  up permissive
  record_with "host $WEB_IP and port $GRPC_PORT" grpc_probe_traffic "$(realpath -m "$out")"
}

# record_with FILTER SCENARIO OUT: tcpdump -i any in the node while SCENARIO runs.
record_with() {
  local filter=$1 scenario=$2 out=$3
  local log=$STATE/tcpdump.log
  : >"$log"
  # Started directly (not through a function) so that $! is tcpdump itself.
  ip netns exec wc-node tcpdump -i any -U -w "$out" "$filter" 2>"$log" &
  local pid=$!
  for _ in $(seq 100); do grep -q "listening on" "$log" && break; sleep 0.1; done
  grep -q "listening on" "$log" || { kill "$pid"; die "tcpdump did not start: $(cat "$log")"; }
  "$scenario"
  sleep 1.5
  # SIGTERM, not SIGINT: background jobs of a script start with SIGINT ignored.
  kill -TERM "$pid"
  wait "$pid" || true
  cat "$log" >&2
}

record() {
  local out=${1:?usage: lab.sh record OUT.pcap [permissive|strict]} mode=${2:-permissive}
  up "$mode"
  record_with "host $WEB_IP and port 80" traffic "$(realpath -m "$out")"
}

# record-rotated DIR [RUNS]: the traffic scenario RUNS times (default 3), a
# second apart, recorded as a node's long capture is: rotated every second
# (tcpdump -G 1) and each closed file gzipped (-z gzip), into DIR/cap-TIME.pcap[.gz].
record_rotated() {
  local dir=${1:?usage: lab.sh record-rotated DIR [RUNS]} runs=${2:-3}
  up permissive
  mkdir -p "$dir"
  local log=$STATE/tcpdump.log
  : >"$log"
  # -Z root: the rotated files are written (and gzipped) in DIR as root.
  ip netns exec wc-node tcpdump -Z root -i any -U -G 1 -z gzip -w "$(realpath -m "$dir")/cap-%s.pcap" "host $WEB_IP and port 80" 2>"$log" &
  local pid=$!
  for _ in $(seq 100); do grep -q "listening on" "$log" && break; sleep 0.1; done
  grep -q "listening on" "$log" || { kill "$pid"; die "tcpdump did not start: $(cat "$log")"; }
  for _ in $(seq "$runs"); do traffic; sleep 1.2; done
  sleep 1.5
  kill -TERM "$pid"
  wait "$pid" || true
  # gzip runs after each rotation, in the background: let the last ones finish.
  sleep 1
  cat "$log" >&2
}

# record-interfaces DIR [mode]: the traffic scenario recorded by three
# tcpdumps at once, one per pod's veth (as captures taken on several
# interfaces or nodes are): every connection is in its client's file and in
# the webserver's, into DIR/veth-POD.pcap.
record_interfaces() {
  local dir=${1:?usage: lab.sh record-interfaces DIR [permissive|strict]} mode=${2:-permissive}
  up "$mode"
  mkdir -p "$dir"
  dir=$(realpath -m "$dir")
  local pids=() pod
  for pod in web mesh legacy; do
    : >"$STATE/tcpdump-$pod.log"
    ip netns exec wc-node tcpdump -Z root -i "veth-$pod" -U -w "$dir/veth-$pod.pcap" "host $WEB_IP and port 80" 2>"$STATE/tcpdump-$pod.log" &
    pids+=($!)
  done
  for pod in web mesh legacy; do
    for _ in $(seq 100); do grep -q "listening on" "$STATE/tcpdump-$pod.log" && break; sleep 0.1; done
    grep -q "listening on" "$STATE/tcpdump-$pod.log" || { kill "${pids[@]}"; die "tcpdump on veth-$pod did not start: $(cat "$STATE/tcpdump-$pod.log")"; }
  done
  traffic
  sleep 1.5
  kill -TERM "${pids[@]}"
  wait "${pids[@]}" || true
  cat "$STATE"/tcpdump-{web,mesh,legacy}.log >&2
}

# Can a Service be made here? nftables for the DNAT, and br_netfilter so that
# the pod's answers, bridged to the client, pass the node's connection tracking
# and get the ClusterIP back as their source (what kube-proxy needs on a node
# with a bridge CNI).
check_service() {
  check
  command -v nft >/dev/null || die "nft not installed (scripts/setup.sh --lab installs it)"
  [[ -e /proc/sys/net/bridge/bridge-nf-call-iptables ]] ||
    die "no br_netfilter in this kernel (/proc/sys/net/bridge missing): bridged answers would skip the NAT"
}

service_up() {
  ip netns pids wc-web >/dev/null 2>&1 || die "lab is not up (scripts/lab.sh up)"
  check_service
  in_ns wc-node ip addr replace "$NODE_IP/24" dev wcbr0
  in_ns wc-node sysctl -qw net.ipv4.ip_forward=1
  in_ns wc-node sysctl -qw net.bridge.bridge-nf-call-iptables=1
  # The node answers nothing itself: no redirects for the pods' routed packets.
  in_ns wc-node sysctl -qw net.ipv4.conf.all.send_redirects=0 net.ipv4.conf.wcbr0.send_redirects=0
  in_ns wc-node nft -f - <<EOF
table ip wirecheck_service
delete table ip wirecheck_service
table ip wirecheck_service {
  chain prerouting {
    type nat hook prerouting priority dstnat; policy accept;
    ip daddr $SERVICE_IP tcp dport 80 dnat to $WEB_IP:80
    ip daddr $NODE_IP tcp dport $NODE_PORT meta mark set 0x4000 dnat to $WEB_IP:80
  }
  chain postrouting {
    type nat hook postrouting priority srcnat; policy accept;
    meta mark 0x4000 masquerade fully-random
  }
}
EOF
  local pod
  for pod in mesh legacy; do in_ns "wc-$pod" ip route replace "$SERVICE_IP/32" via "$NODE_IP"; done
}

service_traffic() {
  ip netns pids wc-web >/dev/null 2>&1 || die "lab is not up (scripts/lab.sh up)"
  mesh_request tls1_3 "$SERVICE_IP"
  sleep 0.3
  legacy_request "$SERVICE_IP"
  sleep 0.3
}

nodeport_traffic() {
  ip netns pids wc-web >/dev/null 2>&1 || die "lab is not up (scripts/lab.sh up)"
  mesh_request tls1_3 "$NODE_IP" "$NODE_PORT"
  sleep 0.3
  legacy_request "$NODE_IP" "$NODE_PORT"
  sleep 0.3
}

# record-nodeport OUT.pcap [mode]: the NodePort scenario on -i any in the node:
# each connection captured before both translations (client to the node's
# port, on the client's veth) and after them (node to the pod, on the webserver's).
record_nodeport() {
  local out=${1:?usage: lab.sh record-nodeport OUT.pcap [permissive|strict]} mode=${2:-permissive}
  up "$mode"
  service_up
  record_with "tcp port 80 or tcp port $NODE_PORT" nodeport_traffic "$(realpath -m "$out")"
}

# record-service OUT.pcap [mode]: the Service scenario on -i any in the node,
# every packet on port 80: each connection is captured before the DNAT (to
# the ClusterIP, on the client's veth) and after it (to the pod, on the webserver's).
record_service() {
  local out=${1:?usage: lab.sh record-service OUT.pcap [permissive|strict]} mode=${2:-permissive}
  up "$mode"
  service_up
  record_with "tcp port 80" service_traffic "$(realpath -m "$out")"
}

# record-services OUT.pcap: the secrets scenario, recorded like `record` but on every port.
record_services() {
  local out=${1:?usage: lab.sh record-services OUT.pcap}
  up permissive
  record_with "host $WEB_IP" secrets "$(realpath -m "$out")"
}

# Credentials the secrets scenario sends in cleartext; the test asserts that
# no wirecheck output contains them (nor their base64 forms).
PG_PASSWORD=wc-pg-secret-4711
SMTP_PASSWORD=wc-smtp-secret-0815
COOKIE_SECRET=wc-cookie-secret-42
BASIC_PASSWORD=wc-basic-secret-99
H2C_TOKEN=wc-h2c-token-2323
H2C_QUERY_SECRET=wc-h2c-query-4646
MQTT_PASSWORD=wc-mqtt-secret-2718
LDAP_PASSWORD=wc-ldap-secret-3141
LOG_TOKEN=wc-log-token-1618
# Keys the Erlang distribution's challenge; never on the wire itself.
ERLANG_COOKIE=wc-erlang-cookie-5772

start_postgres() {
  local bin
  bin=$(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V | tail -1)
  [[ -n $bin && -x $bin/initdb ]] || die "PostgreSQL server not installed (scripts/setup.sh --lab installs it)"
  id postgres >/dev/null 2>&1 || die "no postgres user"
  local data=$STATE/pg/data sock=$STATE/pg/sock
  if [[ ! -f $data/PG_VERSION ]]; then
    mkdir -p "$STATE/pg" "$sock"
    chown -R postgres "$STATE/pg"
    chmod 755 "$STATE"
    in_ns wc-web su postgres -s /bin/sh -c "$bin/initdb -A trust -D $data" >/dev/null
    echo "host all all $SUBNET_PREFIX.0/24 password" >>"$data/pg_hba.conf"
    # TLS on offer with the lab's server certificate; clients choose (sslmode).
    cp "$STATE/pki/server.pem" "$data/server.crt"
    cp "$STATE/pki/server.key" "$data/server.key"
    chown postgres "$data/server.crt" "$data/server.key"
    chmod 600 "$data/server.key"
  fi
  in_ns wc-web su postgres -s /bin/sh -c \
    "$bin/pg_ctl -D $data -l $STATE/pg/log -w -o \"-c listen_addresses=$WEB_IP -c unix_socket_directories=$sock -c ssl=on\" start" >/dev/null
  in_ns wc-web su postgres -s /bin/sh -c \
    "psql -h $sock -d postgres -qc \"SET client_min_messages=warning; DROP ROLE IF EXISTS app; CREATE ROLE app LOGIN PASSWORD '$PG_PASSWORD'\"" >/dev/null
}

stop_postgres() {
  local bin
  bin=$(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V | tail -1)
  [[ -f $STATE/pg/data/postmaster.pid && -n $bin ]] || return 0
  su postgres -s /bin/sh -c "$bin/pg_ctl -D $STATE/pg/data -m immediate stop" >/dev/null 2>&1 || true
}

start_smtp() {
  stop_smtp
  # Started directly (not through in_ns) so that $! is the server itself: the
  # subshell a backgrounded function runs in was killed, the server left running.
  ip netns exec wc-web python3 "$(dirname "$0")/lab-smtp.py" "$WEB_IP" 25 </dev/null >/dev/null 2>&1 &
  echo $! >"$STATE/smtp.pid"
  wait_for_port 25 "SMTP server"
}

# stop_pidfile FILE: ends the process whose id FILE holds, if any.
stop_pidfile() {
  [[ -f $1 ]] || return 0
  kill "$(cat "$1")" 2>/dev/null || true
  rm -f "$1"
}

stop_smtp() { stop_pidfile "$STATE/smtp.pid"; }

# A syslog-over-TCP receiver on $WEB_IP:514 (reads to the end, answers nothing).
start_syslog() {
  stop_syslog
  ip netns exec wc-web python3 "$(dirname "$0")/lab-syslog.py" "$WEB_IP" 514 "$STATE/syslog.log" </dev/null >/dev/null 2>&1 &
  echo $! >"$STATE/syslog.pid"
  wait_for_port 514 "syslog receiver"
}

stop_syslog() { stop_pidfile "$STATE/syslog.pid"; }

# Alertmanager clustering as Prometheus deployments run it: memberlist gossip
# on 9094, in clear and LZW-compressed unless TLS is configured.
# alertmanager_in NS IP [PEER]: starts one, waits until its cluster listener
# is up (from its log: a connection to the port would be a flow of its own).
alertmanager_in() {
  local ns=$1 ip=$2 peer=${3:-} dir=$STATE/alertmanager-${1#wc-}
  command -v prometheus-alertmanager >/dev/null || die "prometheus-alertmanager not installed (scripts/setup.sh --lab installs it)"
  mkdir -p "$dir/data"
  printf 'route:\n  receiver: none\nreceivers:\n  - name: none\n' >"$dir/alertmanager.yml"
  ip netns exec "$ns" prometheus-alertmanager --config.file="$dir/alertmanager.yml" --storage.path="$dir/data" \
    --web.listen-address="$ip:9093" --cluster.listen-address="$ip:9094" ${peer:+--cluster.peer="$peer:9094"} \
    </dev/null >"$dir/log" 2>&1 &
  echo $! >"$dir.pid"
  disown  # killed with SIGKILL later: no "Killed" notice from this shell
  for _ in $(seq 100); do grep -q "Waiting for gossip to settle" "$dir/log" && return 0; sleep 0.1; done
  die "alertmanager in $ns did not start: $(tail -3 "$dir/log")"
}

# Erlang nodes as a RabbitMQ cluster runs them: distribution on 25672, EPMD
# on 4369, in clear unless configured for TLS. The webserver pod's node
# waits; the legacy client's node looks it up in EPMD and connects (net_adm:ping).
erlang_nodes() {
  command -v erl >/dev/null || die "erl not installed (scripts/setup.sh --lab installs erlang-base)"
  local dist=(-kernel inet_dist_listen_min 25672 inet_dist_listen_max 25672 -setcookie "$ERLANG_COOKIE")
  in_ns wc-web epmd -daemon
  in_ns wc-legacy epmd -daemon
  ip netns exec wc-web erl -noshell -name "rabbit@$WEB_IP" "${dist[@]}" -eval 'timer:sleep(8000), init:stop().' \
    </dev/null >"$STATE/erlang-web.log" 2>&1 &
  echo $! >"$STATE/erlang-web.pid"
  disown
  for _ in $(seq 100); do in_ns wc-web epmd -names 2>/dev/null | grep -q "name rabbit at port 25672" && break; sleep 0.1; done
  in_ns wc-legacy erl -noshell -name "rabbit@$LEGACY_IP" "${dist[@]}" \
    -eval "io:format(\"~p~n\", [net_adm:ping('rabbit@$WEB_IP')]), init:stop()." </dev/null >"$STATE/erlang-legacy.log" 2>&1
  grep -q pong "$STATE/erlang-legacy.log" || die "Erlang nodes did not connect: $(cat "$STATE/erlang-legacy.log")"
  stop_pidfile "$STATE/erlang-web.pid"
}

stop_erlang() {
  stop_pidfile "$STATE/erlang-web.pid"
  local ns
  for ns in wc-web wc-legacy; do ip netns pids "$ns" >/dev/null 2>&1 && in_ns "$ns" epmd -kill >/dev/null 2>&1 || true; done
}

# SIGKILL: on SIGTERM it waits up to 10 s for its leave to be gossiped.
stop_alertmanagers() {
  local pidfile
  for pidfile in "$STATE"/alertmanager-*.pid; do
    [[ -f $pidfile ]] || continue
    kill -KILL "$(cat "$pidfile")" 2>/dev/null || true
    rm -f "$pidfile"
  done
}

# mosquitto on $WEB_IP:1883, logins checked against a password file.
start_mqtt() {
  stop_mqtt
  command -v mosquitto >/dev/null || die "mosquitto not installed (scripts/setup.sh --lab installs it)"
  mkdir -p "$STATE/mqtt"
  : >"$STATE/mqtt/passwords"
  mosquitto_passwd -b "$STATE/mqtt/passwords" app "$MQTT_PASSWORD"
  printf 'listener 1883 %s\nallow_anonymous false\npassword_file %s\n' "$WEB_IP" "$STATE/mqtt/passwords" >"$STATE/mqtt/mosquitto.conf"
  chmod 644 "$STATE/mqtt/passwords"
  ip netns exec wc-web mosquitto -c "$STATE/mqtt/mosquitto.conf" </dev/null >"$STATE/mqtt/log" 2>&1 &
  echo $! >"$STATE/mqtt.pid"
  wait_for_port 1883 "MQTT broker"
}

stop_mqtt() { stop_pidfile "$STATE/mqtt.pid"; }

# slapd on $WEB_IP:389 with an empty directory: its root DN binds with a
# password, and StartTLS is offered with the lab's server certificate.
start_ldap() {
  stop_ldap
  [[ -x /usr/sbin/slapd ]] || die "slapd not installed (scripts/setup.sh --lab installs it)"
  local d=$STATE/ldap
  rm -rf "$d"
  mkdir -p "$d/db"
  cat >"$d/slapd.conf" <<CONF
include /etc/ldap/schema/core.schema
modulepath /usr/lib/ldap
moduleload back_mdb
pidfile $d/slapd.pid
TLSCertificateFile $STATE/pki/server.pem
TLSCertificateKeyFile $STATE/pki/server.key
database mdb
suffix "dc=example,dc=org"
rootdn "cn=admin,dc=example,dc=org"
rootpw $LDAP_PASSWORD
directory $d/db
CONF
  in_ns wc-web /usr/sbin/slapd -f "$d/slapd.conf" -h "ldap://$WEB_IP:389/" </dev/null >"$d/log" 2>&1
  wait_for_port 389 "LDAP server"
}

stop_ldap() { stop_pidfile "$STATE/ldap/slapd.pid"; }

secrets() {
  ip netns pids wc-web >/dev/null 2>&1 || die "lab is not up (scripts/lab.sh up)"
  start_postgres
  start_smtp
  start_mqtt
  start_ldap
  start_syslog
  sleep 0.3
  in_ns wc-legacy curl -sS --max-time 3 -u "app:$BASIC_PASSWORD" -H "Cookie: session=$COOKIE_SECRET" \
    "http://$WEB_IP/account" >/dev/null
  sleep 0.3
  # HTTP/2 in clear: the headers travel HPACK-coded (curl Huffman-codes them).
  in_ns wc-legacy curl -sS --max-time 3 --http2-prior-knowledge -H "Authorization: Bearer $H2C_TOKEN" \
    "http://$WEB_IP:8081/orders?api_key=$H2C_QUERY_SECRET" >/dev/null
  sleep 0.3
  # Without TLS: the password crosses in clear. Then the same login upgraded
  # to TLS (SSLRequest answered 'S'): nothing readable after the request.
  in_ns wc-legacy env PGPASSWORD=$PG_PASSWORD PGCONNECT_TIMEOUT=3 PGSSLMODE=disable \
    psql -h "$WEB_IP" -U app -d postgres -qAtc "select 1" >/dev/null
  sleep 0.3
  in_ns wc-legacy env PGPASSWORD=$PG_PASSWORD PGCONNECT_TIMEOUT=3 PGSSLMODE=require \
    psql -h "$WEB_IP" -U app -d postgres -qAtc "select 2" >/dev/null
  sleep 0.3
  printf 'From: app@example.com\r\nTo: ops@example.com\r\nSubject: lab\r\n\r\nhello\r\n' |
    in_ns wc-legacy curl -sS --max-time 3 "smtp://$WEB_IP:25" --mail-from app@example.com \
      --mail-rcpt ops@example.com --user "app:$SMTP_PASSWORD" --upload-file - >/dev/null
  sleep 0.3
  in_ns wc-legacy mosquitto_pub -h "$WEB_IP" -p 1883 -u app -P "$MQTT_PASSWORD" -i sensor-17 -t plant/temperature -m 21.5
  sleep 0.3
  # An LDAP simple bind in clear (the search finds nothing: the directory is
  # empty), then the same bind after StartTLS.
  in_ns wc-legacy ldapsearch -x -H "ldap://$WEB_IP" -D cn=admin,dc=example,dc=org -w "$LDAP_PASSWORD" \
    -b dc=example,dc=org -s base >/dev/null 2>&1 || true
  sleep 0.3
  in_ns wc-legacy env LDAPTLS_CACERT="$STATE/pki/ca.pem" LDAPTLS_REQCERT=allow ldapsearch -x -ZZ -H "ldap://$WEB_IP" \
    -D cn=admin,dc=example,dc=org -w "$LDAP_PASSWORD" -b dc=example,dc=org -s base >/dev/null 2>&1 || true
  sleep 0.3
  # A log line shipped over TCP: the client sends and closes, the receiver's
  # close follows (plaintext, not a refusal).
  in_ns wc-legacy logger -T -n "$WEB_IP" -P 514 --rfc5424 -t api "login ok for alice token=$LOG_TOKEN"
  sleep 0.3
  # A second Alertmanager joins the first: memberlist's push/pull over TCP.
  alertmanager_in wc-web "$WEB_IP"
  alertmanager_in wc-legacy "$LEGACY_IP" "$WEB_IP"
  sleep 1
  stop_alertmanagers
  # Two Erlang nodes connect, as RabbitMQ's do when they cluster.
  erlang_nodes
  sleep 0.3
}

down_network() {
  local ns
  for ns in "${NAMESPACES[@]}"; do ip netns del "$ns" 2>/dev/null || true; done
}

down() {
  stop_grpc_health
  stop_alertmanagers
  stop_erlang
  stop_nginx
  stop_smtp
  stop_mqtt
  stop_ldap
  stop_syslog
  stop_postgres
  down_network
}

case ${1:-} in
  check) check ;;
  up) up "${2:-permissive}" ;;
  traffic) traffic ;;
  probe-traffic) probe_traffic ;;
  grpc-probe-traffic) grpc_probe_traffic ;;
  record-grpc-probes) shift; record_grpc_probes "$@" ;;
  record) shift; record "$@" ;;
  secrets) secrets ;;
  record-services) shift; record_services "$@" ;;
  record-rotated) shift; record_rotated "$@" ;;
  record-interfaces) shift; record_interfaces "$@" ;;
  service-check) check_service ;;
  service-up) service_up ;;
  service-traffic) service_traffic ;;
  record-service) shift; record_service "$@" ;;
  nodeport-traffic) nodeport_traffic ;;
  record-nodeport) shift; record_nodeport "$@" ;;
  exec-node) shift; in_ns wc-node "$@" ;;
  down) down ;;
  *) sed -n '2,/^set -euo/p' "$0" | sed '$d' >&2; exit 2 ;;
esac
