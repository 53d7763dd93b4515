# --- k3s/install.sh: k3s itself (a cloud image fetches it; it cannot be installed offline) ---
if ! command -v k3s >/dev/null 2>&1; then
  log "k3s missing: installing it from get.k3s.io (not started yet)"
  command -v curl >/dev/null 2>&1 || fail "k3s is missing and there is no curl to fetch it"
  curl -sfL https://get.k3s.io -o "$STATUS_DIR/k3s-install.sh" 2>>"$LOG_DIR/k3s-install.log" ||
    fail "k3s is missing and get.k3s.io cannot be reached (see $LOG_DIR/k3s-install.log)"
  INSTALL_K3S_SKIP_START=true INSTALL_K3S_SKIP_ENABLE=true sh "$STATUS_DIR/k3s-install.sh" >>"$LOG_DIR/k3s-install.log" 2>&1 ||
    fail "the k3s installer failed (see $LOG_DIR/k3s-install.log)"
fi
K3S_DIR=/etc/skypool/k3s
{ mkdir -p "$K3S_DIR" && chmod 0700 "$K3S_DIR"; } || fail "cannot create $K3S_DIR"
LABEL_ARGS=""
for label in $NODE_LABELS; do LABEL_ARGS="$LABEL_ARGS --node-label $label"; done
# Every k3s address is the fabric's: the API, the kubelet and flannel's VXLAN ride inside wg0 between clouds.
K3S_ARGS="--node-name $NODE_NAME --node-ip $FABRIC_IP --flannel-iface wg0 --token-file $K3S_DIR/token$LABEL_ARGS"
