# --- k3s/start.sh: run k3s (server or agent), under systemd when there is one, and wait for it ---
start_k3s() {
  if [ -d /run/systemd/system ]; then
    cat >/etc/systemd/system/skypool-k3s.service <<UNIT
[Unit]
Description=k3s $K3S_ROLE (skypool)
After=network-online.target
[Service]
ExecStart=$(command -v k3s) $K3S_ROLE $K3S_ARGS $*
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
    [ -z "${K3S_PID:-}" ] || { kill "$K3S_PID" 2>/dev/null; wait "$K3S_PID" 2>/dev/null; }
    # shellcheck disable=SC2086 # K3S_ARGS is a list of words
    setsid k3s "$K3S_ROLE" $K3S_ARGS "$@" >>"$LOG_DIR/k3s.log" 2>&1 </dev/null &
    K3S_PID=$!
  fi
}
start_k3s
if [ "$K3S_ROLE" = server ]; then
  wait_for "the k3s API" k3s kubectl get --raw /readyz
  [ -s "$K3S_CLIENT_CA" ] || fail "k3s made no client CA at $K3S_CLIENT_CA"
  cat "$K3S_CLIENT_CA" "$TLS_DIR/ca.pem" >"$CLIENT_BUNDLE"
  start_k3s "--kube-apiserver-arg=client-ca-file=$CLIENT_BUNDLE"
  wait_for "the k3s API to trust the cluster CA" k3s kubectl get --raw /readyz
else
  wait_for "the k3s agent" test -S /run/k3s/containerd/containerd.sock
fi
log "k3s $K3S_ROLE up after $(($(date +%s) - START))s"
