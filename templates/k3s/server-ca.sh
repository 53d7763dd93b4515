# --- k3s/server-ca.sh: the API serves the node IP in its SAN and trusts the cluster CA for clients ---
K3S_ARGS="$K3S_ARGS --advertise-address $NODE_IP --tls-san $NODE_IP --write-kubeconfig-mode 0600"
# k3s makes its own CAs on first start; its client CA signs the kubelets' and controllers' certificates, so the
# API must keep trusting it. The bundle adds the cluster CA: the SDK's client certificate is accepted.
K3S_CLIENT_CA=/var/lib/rancher/k3s/server/tls/client-ca.crt
CLIENT_BUNDLE="$TLS_DIR/client-ca-bundle.pem"
