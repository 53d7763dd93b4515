# --- k3s/join-volume.sh: the SDK hands the k3s token (and, to agents, the server's fabric address) over the
# node's engine API (dockerd, mTLS) as the labels of volume skypool-join. The token goes straight into a 0600 file
# (never into a variable), and k3s/start.sh removes the volume: nothing secret stays in user-data or the API ---
join_label() { $DOCKER volume inspect skypool-join --format "{{index .Labels \"skypool.join.$1\"}}" 2>/dev/null; }
if [ ! -s "$K3S_DIR/token" ]; then
  log "waiting for the join volume"
  until (umask 077 && join_label token >"$K3S_DIR/token.new") && [ -s "$K3S_DIR/token.new" ]; do
    [ "$(remaining)" -gt 0 ] || fail "timed out after ${DEADLINE_SECONDS}s waiting for the join volume skypool-join (the SDK pushes it once it reached this node's engine API)"
    sleep 0.2
  done
  mv -f "$K3S_DIR/token.new" "$K3S_DIR/token" || fail "cannot keep the k3s token in $K3S_DIR"
  join_label addrs >"$K3S_DIR/server-addrs"
fi
chmod 0600 "$K3S_DIR/token"
