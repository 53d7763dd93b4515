# --- aws/swarm.sh: every node of a pool boots the same bytes; the managers elect the swarm's creator ---
# Race-free: each manager without published tokens creates a swarm and publishes its tokens with one fixed
# ClientRequestToken; Secrets Manager accepts only the first, the others leave their swarm and join the winner.
JOIN_TOKEN=
JOIN_TOKEN_COMMAND=
JOIN_ADDRS=
if [ "$(swarm_state)" != active ] && [ "$SKYPOOL_ROLE" = manager ] && ! $AWS field "$JOIN_SECRET_ID" managerToken >/dev/null 2>>"$LOG_DIR/aws.err"; then
  swarm_create
  SKYPOOL_WORKER_TOKEN=$($DOCKER swarm join-token -q worker) SKYPOOL_MANAGER_TOKEN=$($DOCKER swarm join-token -q manager) \
    $AWS publish "$JOIN_SECRET_ID" "$NODE_IP" "$WORKER_JOIN_SECRET_ID" 2>>"$LOG_DIR/aws.err"
  case $? in
  0)
    log "created the swarm and published its join tokens to $JOIN_SECRET_ID"
    $AWS associate-address "$JOIN_SECRET_ID" 2>>"$LOG_DIR/aws.err" || log "could not take the cluster's Elastic IP (see $LOG_DIR/aws.err)"
    ;;
  4)
    log "another manager created the swarm first: leaving mine to join it"
    $DOCKER swarm leave --force >/dev/null 2>&1
    ;;
  *) fail "cannot publish the join tokens to $JOIN_SECRET_ID (see $LOG_DIR/aws.err)" ;;
  esac
fi
if [ "$(swarm_state)" != active ]; then
  # Workers read only the worker secret: a worker's role cannot read the manager token.
  TOKEN_SECRET=$WORKER_JOIN_SECRET_ID TOKEN_FIELD=workerToken
  [ "$SKYPOOL_ROLE" = manager ] && TOKEN_SECRET=$JOIN_SECRET_ID TOKEN_FIELD=managerToken
  until JOIN_TOKEN=$($AWS field "$TOKEN_SECRET" "$TOKEN_FIELD" 2>>"$LOG_DIR/aws.err") &&
    JOIN_ADDRS=$($AWS field "$TOKEN_SECRET" managerAddr 2>>"$LOG_DIR/aws.err"); do
    [ "$(remaining)" -gt 0 ] || fail "no swarm join token in $TOKEN_SECRET: is a manager pool of this cluster up? (see $LOG_DIR/aws.err)"
    sleep 5
  done
  swarm_join
fi
