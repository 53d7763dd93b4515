# --- slurm/key-volume.sh: the SDK hands the munge key (and, to nodes, the controller's fabric address) over the
# node's mailbox (dockerd, mTLS) as the labels of volume skypool-join, as it hands swarm nodes their join token.
# The key goes straight into a 0400 file (never into a variable) and the volume is removed once read ---
MUNGE_DIR=/etc/skypool/munge
mkdir -p "$MUNGE_DIR" && chmod 0700 "$MUNGE_DIR" || fail "cannot create $MUNGE_DIR"
join_label() { $DOCKER volume inspect skypool-join --format "{{index .Labels \"skypool.join.$1\"}}" 2>/dev/null; }
if [ ! -s "$MUNGE_DIR/munge.key" ] || { [ "$SKYPOOL_ROLE" = worker ] && [ ! -s "$STATUS_DIR/controller-addr" ]; }; then
  log "waiting for the join volume"
  until (umask 077 && join_label token | base64 -d >"$MUNGE_DIR/munge.key.new" 2>/dev/null) &&
    [ -s "$MUNGE_DIR/munge.key.new" ] && { [ "$SKYPOOL_ROLE" = manager ] || [ -n "$(join_label addrs)" ]; }; do
    [ "$(remaining)" -gt 0 ] || fail "timed out after ${DEADLINE_SECONDS}s waiting for the join volume skypool-join (the SDK pushes it once this node's identity is read from its console)"
    sleep 0.2
  done
  mv -f "$MUNGE_DIR/munge.key.new" "$MUNGE_DIR/munge.key" || fail "cannot keep the munge key in $MUNGE_DIR"
  join_label addrs | cut -d' ' -f1 >"$STATUS_DIR/controller-addr"
  $DOCKER volume rm skypool-join >/dev/null 2>&1 || true
fi
CTL_ADDR=$(cat "$STATUS_DIR/controller-addr")
CTL_NAME=$CTL_ADDR
