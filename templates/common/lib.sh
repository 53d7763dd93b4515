# --- common/lib.sh: logging, status files and deadlines shared by every role ---
STATUS_DIR=/var/lib/skypool
LOG_DIR=/var/log/skypool
mkdir -p "$STATUS_DIR" "$LOG_DIR" /etc/skypool
rm -f "$STATUS_DIR/bootstrap.done" "$STATUS_DIR/bootstrap.failed"
START=$(date +%s)

log() { echo "skypool: $(date -u +%H:%M:%S) $*"; }
fail() {
  log "FAILED: $*"
  echo "$*" >"$STATUS_DIR/bootstrap.failed"
  exit 1
}
remaining() { echo $((START + DEADLINE_SECONDS - $(date +%s))); }
# wait_for WHAT CMD...: polls CMD until it succeeds, failing the bootstrap at the deadline.
wait_for() {
  what=$1
  shift
  until "$@" >/dev/null 2>&1; do
    [ "$(remaining)" -gt 0 ] || fail "timed out after ${DEADLINE_SECONDS}s waiting for $what"
    sleep 0.2
  done
}

[ -n "$NODE_IP" ] || NODE_IP=$(hostname -I 2>/dev/null | awk '{print $1}')
[ -n "$NODE_IP" ] || fail "no address to advertise: pass the node IP or give the VM an address"
# The engine names the node after the hostname, and skypool finds nodes by name.
if [ "$(hostname)" != "$NODE_NAME" ]; then
  hostname "$NODE_NAME" 2>/dev/null && echo "$NODE_NAME" >/etc/hostname || log "could not set the hostname to $NODE_NAME"
fi
grep -q "[[:space:]]$NODE_NAME\$" /etc/hosts 2>/dev/null || echo "$NODE_IP $NODE_NAME" >>/etc/hosts
log "bootstrapping $NODE_NAME ($NODE_IP) as $SKYPOOL_ROLE"
