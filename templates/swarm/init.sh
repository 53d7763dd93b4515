# --- swarm/init.sh: the first manager creates the swarm ---
if [ "$(swarm_state)" = active ]; then
  log "already part of a swarm"
else
  # --autolock: Raft keys encrypted at rest; the key (on stdout) is kept by the SDK only.
  $DOCKER swarm init --autolock --advertise-addr "$NODE_IP" --listen-addr "$NODE_IP:2377" --task-history-limit 2 >/dev/null 2>"$LOG_DIR/swarm.err" ||
    fail "docker swarm init failed: $(tail -n 1 "$LOG_DIR/swarm.err")"
fi
