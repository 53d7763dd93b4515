# --- common/docker.sh: install (only if missing), start dockerd with mTLS on 2376, wait for it ---
if ! command -v dockerd >/dev/null 2>&1; then
  log "dockerd missing: installing docker.io"
  export DEBIAN_FRONTEND=noninteractive
  { apt-get update -qq && apt-get install -y -qq --no-install-recommends docker.io; } >>"$LOG_DIR/apt.log" 2>&1 ||
    fail "dockerd is missing and apt-get install docker.io failed (see $LOG_DIR/apt.log)"
fi
DOCKERD=$(command -v dockerd)
DOCKERD_ARGS="--tlsverify --tlscacert $TLS_DIR/ca.pem --tlscert $TLS_DIR/cert.pem --tlskey $TLS_DIR/key.pem"
DOCKERD_ARGS="$DOCKERD_ARGS -H tcp://0.0.0.0:2376 -H unix:///var/run/docker.sock"
DOCKER="docker -H unix:///var/run/docker.sock"

if [ -d /run/systemd/system ]; then
  # A real VM: the distribution's cgroup driver (systemd wants .slice parents).
  mkdir -p /etc/systemd/system/docker.service.d
  cat >/etc/systemd/system/docker.service.d/skypool.conf <<UNIT
[Service]
Environment=DOCKER_SERVICE_PREFER_OFFLINE_IMAGE=1
ExecStartPre=-/bin/sh /etc/skypool/fabric/wg0-up.sh
ExecStart=
ExecStart=$DOCKERD $DOCKERD_ARGS
UNIT
  # The socket unit would hold /var/run/docker.sock that dockerd now opens itself.
  systemctl disable --now docker.socket >/dev/null 2>&1 || true
  systemctl daemon-reload && systemctl enable docker >/dev/null 2>&1
  systemctl restart docker || fail "systemctl restart docker failed (see journalctl -u docker)"
elif $DOCKER info >/dev/null 2>&1; then
  log "dockerd already running"
else
  # No init system (namespace VM): cgroupfs and a per-node cgroup parent, removable when the VM goes.
  DOCKERD_ARGS="$DOCKERD_ARGS --exec-opt native.cgroupdriver=cgroupfs --cgroup-parent skypool-$(hostname)"
  # shellcheck disable=SC2086 # DOCKERD_ARGS is a list of words
  DOCKER_SERVICE_PREFER_OFFLINE_IMAGE=1 setsid "$DOCKERD" $DOCKERD_ARGS >>"$LOG_DIR/dockerd.log" 2>&1 </dev/null &
  DOCKERD_PID=$!
fi
until $DOCKER info >/dev/null 2>&1; do
  # No job control: setsid execs in place, $! is dockerd.
  if [ -n "${DOCKERD_PID:-}" ] && ! kill -0 "$DOCKERD_PID" 2>/dev/null && ! { [ -s /var/run/docker.pid ] && kill -0 "$(cat /var/run/docker.pid)" 2>/dev/null; }; then
    fail "dockerd exited at start: $(tail -n 3 "$LOG_DIR/dockerd.log" | tr '\n' ' ')"
  fi
  [ "$(remaining)" -gt 0 ] || fail "timed out after ${DEADLINE_SECONDS}s waiting for dockerd (see $LOG_DIR/dockerd.log)"
  sleep 0.2
done
log "dockerd ready after $(($(date +%s) - START))s"
swarm_state() { $DOCKER info --format '{{.Swarm.LocalNodeState}}' 2>/dev/null; }
