# --- common/fabric.sh: the node's WireGuard fabric (wg0) and the loop that applies the SDK's peer volumes ---
# Needs FABRIC_PREFIX (the network's /16: `100.65`, `100.65.0.0` or `100.65.0.0/16`), NODE_IP, LOG_DIR and lib.sh.
# Sets FABRIC_IP and WG_PUBLIC_KEY. Call fabric_sync_start once dockerd answers (after docker.sh).
FABRIC_DIR=/etc/skypool/fabric
FABRIC_PORT=51820
FABRIC_PREFIX=${FABRIC_PREFIX%%/*}
case $FABRIC_PREFIX in *.*.*.*) FABRIC_PREFIX=${FABRIC_PREFIX%.*.*} ;; esac
FABRIC_IP=$FABRIC_PREFIX.$(echo "$NODE_IP" | cut -d. -f3-4)
case $FABRIC_IP in
  100.*.*.*) ;;
  *) fail "no fabric address from prefix '$FABRIC_PREFIX' and node IP '$NODE_IP'" ;;
esac
export FABRIC_IP

fabric_install() {
  log "$1 missing: installing $2"
  export DEBIAN_FRONTEND=noninteractive
  { apt-get update -qq && apt-get install -y -qq --no-install-recommends "$2"; } >>"$LOG_DIR/apt.log" 2>&1 ||
    fail "$1 is missing and apt-get install $2 failed (see $LOG_DIR/apt.log)"
}
command -v wg >/dev/null 2>&1 || fabric_install wg wireguard-tools

# The node's own key pair: the private key never leaves this directory, the public one goes on the console.
mkdir -p "$FABRIC_DIR" && chmod 0700 "$FABRIC_DIR" || fail "cannot create $FABRIC_DIR"
if [ ! -s "$FABRIC_DIR/wg.key" ]; then
  (umask 077 && wg genkey >"$FABRIC_DIR/wg.key.new" && mv -f "$FABRIC_DIR/wg.key.new" "$FABRIC_DIR/wg.key") ||
    fail "cannot make the WireGuard key in $FABRIC_DIR"
fi
chmod 0600 "$FABRIC_DIR/wg.key"
WG_PUBLIC_KEY=$(wg pubkey <"$FABRIC_DIR/wg.key") || fail "cannot derive the WireGuard public key"
printf '%s\n' "$WG_PUBLIC_KEY" >"$FABRIC_DIR/wg.pub"
export WG_PUBLIC_KEY

# wg0: the kernel's WireGuard where the kernel has it, else wireguard-go (its UAPI socket lives in /run).
if ! ip link show wg0 >/dev/null 2>&1; then
  if ip link add wg0 type wireguard 2>/dev/null; then
    log "fabric: kernel WireGuard"
  else
    command -v wireguard-go >/dev/null 2>&1 || fabric_install wireguard-go wireguard-go
    # Without -f it forks and returns once the interface and its UAPI socket exist.
    wireguard-go wg0 </dev/null >>"$LOG_DIR/wireguard-go.log" 2>&1 ||
      fail "wireguard-go wg0 failed: $(tail -n 1 "$LOG_DIR/wireguard-go.log")"
    log "fabric: userspace WireGuard (wireguard-go)"
  fi
fi
wg set wg0 listen-port "$FABRIC_PORT" private-key "$FABRIC_DIR/wg.key" || fail "wg set wg0 failed"
ip address replace "$FABRIC_IP/10" dev wg0 || fail "cannot give wg0 the address $FABRIC_IP/10"
ip link set dev wg0 mtu 1420 up || fail "cannot bring wg0 up"
log "fabric: wg0 up as $FABRIC_IP, udp $FABRIC_PORT"

# One pass: the peer volumes (skypool-fabric-peer-*) are the wanted peers; wg0 gets exactly those.
# Prints node names and addresses only, never keys. A failed listing changes nothing.
fabric_sync() {
  wanted=$($DOCKER volume ls --filter label=skypool.fabric.key \
    --format '{{.Label "skypool.fabric.key"}} {{.Label "skypool.fabric.ip"}} {{.Label "skypool.fabric.node"}} {{.Label "skypool.fabric.endpoint"}}' 2>/dev/null) ||
    return 0
  current=" $(wg show wg0 peers 2>/dev/null | tr '\n' ' ') "
  keys=
  while read -r key ip node endpoint; do
    [ -n "$key" ] || continue
    # Only well-formed labels reach wg; no endpoint: wg0 learns it from the peer's first handshake.
    if ! printf '%s %s %s %s\n' "$key" "$ip" "$node" "$endpoint" |
      grep -Eq '^[A-Za-z0-9+/]{42}[AEIMQUYcgkosw480]= [0-9]{1,3}(\.[0-9]{1,3}){3} [a-z0-9.-]+ ([0-9.]+:[0-9]{1,5})?$'; then
      log "fabric: ignoring a malformed peer volume"
      continue
    fi
    keys="$keys $key "
    line="$key $ip $endpoint"
    case $fabric_applied in *"|$line|"*) case $current in *" $key "*) continue ;; esac ;; esac
    if wg set wg0 peer "$key" ${endpoint:+endpoint "$endpoint"} allowed-ips "$ip/32" persistent-keepalive 25 2>/dev/null; then
      fabric_applied="$(printf '%s' "$fabric_applied" | sed "s#|$key [^|]*|##")|$line|"
      log "fabric: peer $node $ip at ${endpoint:-its first handshake}"
    fi
  done <<PEERS
$wanted
PEERS
  for key in $current; do
    case $keys in *" $key "*) continue ;; esac
    wg set wg0 peer "$key" remove 2>/dev/null && log "fabric: removed a peer"
    fabric_applied="$(printf '%s' "$fabric_applied" | sed "s#|$key [^|]*|##")"
  done
}

# The loop: one pass per volume event and every 2 s (a missed event, a peer that wg0 lost). Its processes live
# in the VM (a cloud VM's lifetime, or the local VM's namespaces, whose teardown kills them).
fabric_sync_start() {
  (
    fabric_applied=
    {
      while :; do
        $DOCKER events --filter type=volume --format '{{.Action}}'
        sleep 1
      done &
      while :; do
        echo tick
        sleep 2
      done
    } | while read -r _; do fabric_sync; done
  ) </dev/null >>"$LOG_DIR/fabric.log" 2>&1 &
  FABRIC_SYNC_PID=$!
  log "fabric: peer sync started"
}
