# --- swarm/init.sh: the first manager creates the swarm (on the fabric address when there is one) ---
SWARM_ADDR=${FABRIC_IP:-$NODE_IP}
if [ "$(swarm_state)" = active ]; then
  log "already part of a swarm"
else
  # --autolock: Raft keys encrypted at rest; the key (on stdout) is kept by the SDK only.
  $DOCKER swarm init --autolock --advertise-addr "$SWARM_ADDR" --listen-addr "$SWARM_ADDR:2377" \
    --data-path-addr "$SWARM_ADDR" --task-history-limit 2 >/dev/null 2>"$LOG_DIR/swarm.err" ||
    fail "docker swarm init failed: $(tail -n 1 "$LOG_DIR/swarm.err")"
fi
