# --- common/fabric.sh: the node's WireGuard fabric (wg0) and the loop that applies the SDK's peer volumes ---
# Needs FABRIC_PREFIX (the network's /16), NODE_IP, LOG_DIR, lib.sh; sets FABRIC_IP and WG_PUBLIC_KEY.
FABRIC_DIR=/etc/skypool/fabric
# boot_script NAME TEXT: runs at every later boot (cloud-init per-boot; user-data runs once).
boot_script() { d=/var/lib/cloud/scripts/per-boot; mkdir -p $d && printf '#!/bin/sh\n%s\n' "$2" >$d/$1 && chmod 755 $d/$1; }
FABRIC_PORT=51820
FABRIC_PREFIX=${FABRIC_PREFIX%%/*}
case $FABRIC_PREFIX in *.*.*.*) FABRIC_PREFIX=${FABRIC_PREFIX%.*.*} ;; esac
FABRIC_IP=$FABRIC_PREFIX.$(echo "$NODE_IP" | cut -d. -f3-4)
echo "$FABRIC_IP" | grep -Eq '^100\.[0-9]{1,3}\.[0-9]{1,3}\.[0-9]{1,3}$' ||
  fail "no fabric address from prefix '$FABRIC_PREFIX' and node IP '$NODE_IP'"
export FABRIC_IP

fabric_install() {
  log "$1 missing: installing $2"
  export DEBIAN_FRONTEND=noninteractive
  { apt-get update -qq && apt-get install -y -qq --no-install-recommends "$2"; } >>"$LOG_DIR/apt.log" 2>&1 ||
    fail "$1 is missing and apt-get install $2 failed (see $LOG_DIR/apt.log)"
}
command -v wg >/dev/null 2>&1 || fabric_install wg wireguard-tools

# Own key pair: the private key stays here, the public one goes on the console.
mkdir -p "$FABRIC_DIR" && chmod 0700 "$FABRIC_DIR" || fail "cannot create $FABRIC_DIR"
if [ ! -s "$FABRIC_DIR/wg.key" ]; then
  (umask 077 && wg genkey >"$FABRIC_DIR/wg.key.new" && mv -f "$FABRIC_DIR/wg.key.new" "$FABRIC_DIR/wg.key") ||
    fail "cannot make the WireGuard key in $FABRIC_DIR"
fi
chmod 0600 "$FABRIC_DIR/wg.key"
WG_PUBLIC_KEY=$(wg pubkey <"$FABRIC_DIR/wg.key") || fail "cannot derive the WireGuard public key"
printf '%s\n' "$WG_PUBLIC_KEY" >"$FABRIC_DIR/wg.pub"
export WG_PUBLIC_KEY

# wg0-up.sh: wg0 up (idempotent), now and at every later boot.
cat >"$FABRIC_DIR/env" <<ENV
FABRIC_DIR=$FABRIC_DIR
FABRIC_IP=$FABRIC_IP
FABRIC_PORT=$FABRIC_PORT
LOG_DIR=$LOG_DIR
TLS_DIR=$TLS_DIR
ENV
cat >"$FABRIC_DIR/wg0-up.sh" <<'UP'
. /etc/skypool/fabric/env
# The kernel's WireGuard where it has it, else wireguard-go (forks; returns once wg0 and its /run socket exist).
if ! ip link show wg0 >/dev/null 2>&1 && ! ip link add wg0 type wireguard 2>/dev/null; then
  wireguard-go wg0 </dev/null >>"$LOG_DIR/wireguard-go.log" 2>&1 || exit 1
fi
# Peers saved by the loop: at boot the engine needs wg0 before its API serves the peer volumes.
[ ! -s "$FABRIC_DIR/wg0.conf" ] || wg setconf wg0 "$FABRIC_DIR/wg0.conf"
wg set wg0 listen-port "$FABRIC_PORT" private-key "$FABRIC_DIR/wg.key" &&
  ip address replace "$FABRIC_IP/10" dev wg0 && ip link set dev wg0 mtu 1420 up
UP
if ! ip link show wg0 >/dev/null 2>&1 && ! ip link add wg0 type wireguard 2>/dev/null; then
  command -v wireguard-go >/dev/null 2>&1 || fabric_install wireguard-go wireguard-go
  log "fabric: no WireGuard in the kernel, userspace wireguard-go"
fi
sh "$FABRIC_DIR/wg0-up.sh" || fail "cannot bring wg0 up as $FABRIC_IP (see $LOG_DIR/wireguard-go.log)"
log "fabric: wg0 up as $FABRIC_IP, udp $FABRIC_PORT"

# Sync loop: wg0 gets exactly the peers of the peer volumes, per volume event and every 2 s. Never logs keys.
cat >"$FABRIC_DIR/sync.sh" <<'SYNC'
. /etc/skypool/fabric/env
log() { echo "skypool: $(date -u +%H:%M:%S) $*"; }
sync_peers() {
  wanted=$($DOCKER volume ls --filter label=skypool.fabric.key \
    --format '{{.Label "skypool.fabric.key"}} {{.Label "skypool.fabric.ip"}} {{.Label "skypool.fabric.node"}} {{.Label "skypool.fabric.endpoint"}}' 2>/dev/null) ||
    return 0
  current=" $(wg show wg0 peers 2>/dev/null | tr '\n' ' ') "
  [ "$wanted$current" != "$settled" ] || return 0
  # Only well-formed labels reach wg; no endpoint: wg0 learns it from the peer's first handshake.
  valid=$(printf '%s\n' "$wanted" |
    grep -E '^[A-Za-z0-9+/]{42}[AEIMQUYcgkosw480]= [0-9]{1,3}(\.[0-9]{1,3}){3} [a-z0-9.-]+ ([0-9.]+:[0-9]{1,5})?$')
  [ "$valid" = "$wanted" ] || log "fabric: ignoring malformed peer volumes"
  set --
  keys=
  next=
  names=
  while read -r key ip node endpoint; do
    [ -n "$key" ] || continue
    keys="$keys $key "
    next="$next|$key $ip $endpoint|"
    case $applied in *"|$key $ip $endpoint|"*) case $current in *" $key "*) continue ;; esac ;; esac
    set -- "$@" peer "$key" ${endpoint:+endpoint "$endpoint"} allowed-ips "$ip/32" persistent-keepalive 25
    names="$names $node($ip)"
  done <<PEERS
$valid
PEERS
  gone=0
  for key in $current; do
    case $keys in *" $key "*) continue ;; esac
    set -- "$@" peer "$key" remove
    gone=$((gone + 1))
  done
  if [ $# -eq 0 ]; then
    settled="$wanted$current"
  elif wg set wg0 "$@"; then
    applied=$next
    (umask 077 && wg showconf wg0 >"$FABRIC_DIR/wg0.conf.new" && mv -f "$FABRIC_DIR/wg0.conf.new" "$FABRIC_DIR/wg0.conf")
    log "fabric: peers set:${names:- none}; removed: $gone"
  else
    applied=
    log "fabric: wg set wg0 failed, retrying"
  fi
}
# rotate-ca: volume skypool-tls-ca holds the client CA for dockerd, which reads it only at start.
sync_ca() {
  want=$($DOCKER volume inspect skypool-tls-ca --format '{{index .Labels "skypool.tls.ca"}}' 2>/dev/null) &&
    [ -n "$want" ] && [ "$want" != "$ca_seen" ] || return 0
  pem=$(echo "$want" | base64 -d) && ! echo "$pem" | grep -q PRIVATE && echo "$pem" | openssl x509 -noout &&
    if [ "$pem" != "$(cat "$TLS_DIR/ca.pem")" ]; then
      echo "$pem" >"$TLS_DIR/ca.new" && mv -f "$TLS_DIR/ca.new" "$TLS_DIR/ca.pem" && sh "$FABRIC_DIR/restart.sh"
    fi && log "tls: client CA applied" && ca_seen=$want
}
applied=
settled=
ca_seen=
{
  while :; do
    $DOCKER events --filter type=volume --format '{{.Action}}'
    sleep 1
  done &
  while :; do
    echo tick
    sleep 2
  done
} | while read -r _; do
  # A burst of events makes one pass: drain what queued, then look.
  timeout 0.02 cat >/dev/null
  sync_peers
  sync_ca
done
SYNC

# Starts the sync loop once dockerd answers: a systemd service, else a background process (namespace VM).
fabric_sync_start() {
  sed -i '/^DOCKER=/d' "$FABRIC_DIR/env"
  printf "DOCKER='%s'\n" "$DOCKER" >>"$FABRIC_DIR/env"
  # How sync_ca restarts dockerd: systemd, else the command line docker.sh ran.
  echo 'systemctl restart docker' >"$FABRIC_DIR/restart.sh"
  [ -d /run/systemd/system ] || cat >"$FABRIC_DIR/restart.sh" <<RESTART
p=\$(cat /var/run/docker.pid) && kill \$p && while [ -e /proc/\$p ] && ! grep -q ') Z ' /proc/\$p/stat; do sleep 0.1; done
DOCKER_SERVICE_PREFER_OFFLINE_IMAGE=1 setsid $DOCKERD $DOCKERD_ARGS >>$LOG_DIR/dockerd.log 2>&1 </dev/null &
RESTART
  if [ -d /run/systemd/system ]; then
    cat >/etc/systemd/system/skypool-fabric.service <<UNIT
[Unit]
Description=skypool fabric: wg0 and its peers from the engine's peer volumes
After=docker.service
Wants=docker.service
[Service]
ExecStartPre=/bin/sh $FABRIC_DIR/wg0-up.sh
ExecStart=/bin/sh $FABRIC_DIR/sync.sh
Restart=always
RestartSec=2
[Install]
WantedBy=multi-user.target
UNIT
    { systemctl daemon-reload && systemctl enable --now skypool-fabric.service; } >/dev/null 2>&1 ||
      fail "cannot start skypool-fabric.service (see journalctl -u skypool-fabric)"
  else
    setsid sh "$FABRIC_DIR/sync.sh" </dev/null >>"$LOG_DIR/fabric.log" 2>&1 &
    # Each boot: wg0 (same key, address) and the loop again; keepalives tell peers a new public address (roaming).
    boot_script 10-skypool-fabric "sh $FABRIC_DIR/wg0-up.sh
setsid sh $FABRIC_DIR/sync.sh </dev/null >>$LOG_DIR/fabric.log 2>&1 &"
  fi
  log "fabric: peer sync started"
}
