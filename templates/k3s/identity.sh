# --- k3s/identity.sh: who this node is, its network's fabric prefix, labels and the cluster's TLS identity ---
# No join token here: it arrives after launch in the node's join volume (k3s/join-volume.sh).
NODE_NAME={{node_name}}
NODE_IP={{node_ip}}
DEADLINE_SECONDS={{deadline_seconds}}
FABRIC_PREFIX={{fabric_prefix}}
NODE_LABELS={{node_labels}}
TLS_CA={{tls_ca}}
TLS_CERT={{tls_cert}}
TLS_KEY={{tls_key}}
