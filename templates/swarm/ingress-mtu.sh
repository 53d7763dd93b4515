# --- swarm/ingress-mtu.sh: the first manager on the fabric remakes the routing mesh's overlay to fit wg0 ---
# The routing mesh's overlay rides VXLAN (50 bytes) inside wg0 (MTU 1420): at Docker's default 1500 a full
# overlay packet does not fit the tunnel (fragmented or dropped). Remade before any service uses it; the
# removal completes in the background, so the create is retried.
tries=0
until [ "$($DOCKER network inspect ingress --format '{{index .Options "com.docker.network.driver.mtu"}}' 2>/dev/null)" = 1370 ]; do
  tries=$((tries + 1))
  [ $tries -le 50 ] || { log "could not remake the ingress network with MTU 1370: $(tail -n 1 "$LOG_DIR/swarm.err")"; break; }
  $DOCKER network inspect ingress >/dev/null 2>&1 && { echo y | $DOCKER network rm ingress >/dev/null 2>>"$LOG_DIR/swarm.err"; }
  $DOCKER network create --driver overlay --ingress --opt com.docker.network.driver.mtu=1370 ingress \
    >/dev/null 2>>"$LOG_DIR/swarm.err" || sleep 0.2
done
