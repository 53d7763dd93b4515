# --- k3s/start.sh: run k3s (server or agent), under systemd when there is one, and wait for it ---
if [ -d /run/systemd/system ]; then
  cat >/etc/systemd/system/skypool-k3s.service <<UNIT
[Unit]
Description=k3s $K3S_ROLE (skypool)
After=network-online.target skypool-fabric.service
Wants=skypool-fabric.service
[Service]
ExecStart=$(command -v k3s) $K3S_ROLE $K3S_ARGS
Restart=always
KillMode=process
Delegate=yes
LimitNOFILE=1048576
[Install]
WantedBy=multi-user.target
UNIT
  { systemctl daemon-reload && systemctl enable skypool-k3s && systemctl restart skypool-k3s; } >/dev/null 2>&1 ||
    fail "systemctl could not start k3s (see journalctl -u skypool-k3s)"
else
  # shellcheck disable=SC2086 # K3S_ARGS is a list of words
  setsid k3s "$K3S_ROLE" $K3S_ARGS >>"$LOG_DIR/k3s.log" 2>&1 </dev/null &
fi
if [ "$K3S_ROLE" = server ]; then
  wait_for "the k3s API" k3s kubectl get --raw /readyz
else
  wait_for "the k3s agent" test -S /run/k3s/containerd/containerd.sock
fi
# k3s holds the token now (server: /var/lib/rancher/k3s/server/token, 0600); the join volume is not needed again.
$DOCKER volume rm skypool-join >/dev/null 2>&1 || true
log "k3s $K3S_ROLE up after $(($(date +%s) - START))s"
