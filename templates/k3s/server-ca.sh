# --- k3s/server-ca.sh: the API's CAs, made here before k3s first starts (k3s keeps CAs it finds) ---
# The server CA signs the API's serving certificate (SANs: fabric address and node name): its certificate goes on
# the console for the SDK to pin. The client CA signs the kubelets' and controllers' certificates; the API trusts
# it plus the cluster CA (the SDK's client certificate) and nothing else: no anonymous requests, no basic auth.
K3S_TLS=/var/lib/rancher/k3s/server/tls
{ mkdir -p "$K3S_TLS" && chmod 0700 "$K3S_TLS"; } || fail "cannot create $K3S_TLS"
make_ca() {
  [ -s "$K3S_TLS/$1.key" ] && [ -s "$K3S_TLS/$1.crt" ] && return 0
  (
    umask 077
    openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -days 3650 -subj "/CN=k3s-$1@$NODE_NAME" \
      -addext "basicConstraints=critical,CA:TRUE" -addext "keyUsage=critical,keyCertSign,cRLSign,digitalSignature" \
      -keyout "$K3S_TLS/$1.key" -out "$K3S_TLS/$1.crt" 2>>"$LOG_DIR/openssl.err"
  ) || fail "cannot make the k3s $1 (see $LOG_DIR/openssl.err)"
}
make_ca server-ca
make_ca client-ca
CLIENT_BUNDLE="$TLS_DIR/client-ca-bundle.pem"
cat "$K3S_TLS/client-ca.crt" "$TLS_DIR/ca.pem" >"$CLIENT_BUNDLE" || fail "cannot write $CLIENT_BUNDLE"
# The SDK's client certificate names user skypool-client: k3s applies this manifest at start. The API listens on
# every address (the SDK is outside the fabric; the cloud firewall admits the operator's CIDRs to 6443) and
# advertises the fabric address to the nodes.
mkdir -p /var/lib/rancher/k3s/server/manifests
cat >/var/lib/rancher/k3s/server/manifests/skypool-client.yaml <<'RBAC'
apiVersion: rbac.authorization.k8s.io/v1
kind: ClusterRoleBinding
metadata:
  name: skypool-client
roleRef:
  apiGroup: rbac.authorization.k8s.io
  kind: ClusterRole
  name: cluster-admin
subjects:
  - apiGroup: rbac.authorization.k8s.io
    kind: User
    name: skypool-client
RBAC
K3S_ARGS="$K3S_ARGS --advertise-address $FABRIC_IP --tls-san $FABRIC_IP --tls-san $NODE_NAME"
K3S_ARGS="$K3S_ARGS --write-kubeconfig-mode 0600 --kube-apiserver-arg=client-ca-file=$CLIENT_BUNDLE"
K3S_ARGS="$K3S_ARGS --kube-apiserver-arg=anonymous-auth=false"
# The SDK pins this line (last one wins) as the only CA it trusts for this server's API, checked against the name.
print_server_ca() {
  echo "SKYPOOL-K3S-CA v1 name=$NODE_NAME cert=$(openssl x509 -in "$K3S_TLS/server-ca.crt" -outform DER | base64 | tr -d '\n')"
}
print_server_ca
