# --- swarm/join.sh: join a manager, retrying every address until the deadline ---
SWARM_ADDR=${FABRIC_IP:-$NODE_IP}
if [ "$(swarm_state)" = active ]; then
  log "already part of a swarm"
else
  if [ -z "$JOIN_TOKEN" ] && [ -n "$JOIN_TOKEN_COMMAND" ]; then
    JOIN_TOKEN=$(sh -c "$JOIN_TOKEN_COMMAND" 2>>"$LOG_DIR/join.err") || fail "the join token command failed (see $LOG_DIR/join.err)"
  fi
  [ -n "$JOIN_TOKEN" ] || fail "no swarm join token"
  joined=no
  while [ "$joined" = no ]; do
    for addr in $JOIN_ADDRS; do
      if $DOCKER swarm join --token "$JOIN_TOKEN" --advertise-addr "$SWARM_ADDR" --listen-addr "$SWARM_ADDR:2377" \
        --data-path-addr "$SWARM_ADDR" "$addr:2377" >/dev/null 2>"$LOG_DIR/join.err"; then
        joined=yes
        break
      fi
      [ "$(swarm_state)" = active ] && joined=yes && break
    done
    [ "$joined" = yes ] && break
    [ "$(remaining)" -gt 0 ] || fail "could not join the swarm via $JOIN_ADDRS: $(tail -n 1 "$LOG_DIR/join.err")"
    sleep 0.5
  done
fi
unset JOIN_TOKEN
log "joined the swarm"
