# --- swarm/join-volume.sh: the SDK hands the join token of this node's role and the managers' fabric addresses
# over the engine API (mTLS) as the labels of volume skypool-join, once the node's identity is pinned ---
JOIN_TOKEN=
JOIN_TOKEN_COMMAND=
JOIN_ADDRS=
join_label() { $DOCKER volume inspect skypool-join --format "{{index .Labels \"skypool.join.$1\"}}" 2>/dev/null; }
if [ "$(swarm_state)" != active ]; then
  log "waiting for the join volume"
  until JOIN_ADDRS=$(join_label addrs) && [ -n "$JOIN_ADDRS" ]; do
    [ "$(remaining)" -gt 0 ] || fail "timed out after ${DEADLINE_SECONDS}s waiting for the join volume skypool-join (the SDK pushes it once this node's identity is read from its console)"
    sleep 0.2
  done
  JOIN_TOKEN=$(join_label token)
fi
