# --- k3s/identity.sh: who this node is, its server, labels and the cluster's TLS identity ---
NODE_NAME={{node_name}}
NODE_IP={{node_ip}}
DEADLINE_SECONDS={{deadline_seconds}}
SERVER_ADDR={{server_addr}}
NODE_LABELS={{node_labels}}
# Secret: the cluster's k3s join token. Written to a 0600 file below and unset.
K3S_JOIN_TOKEN={{k3s_token}}
TLS_CA={{tls_ca}}
TLS_CERT={{tls_cert}}
TLS_KEY={{tls_key}}
