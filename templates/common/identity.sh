# --- common/identity.sh: who this node is, and its mTLS identity for the engine API ---
NODE_NAME={{node_name}}
NODE_IP={{node_ip}}
DEADLINE_SECONDS={{deadline_seconds}}
TLS_CA={{tls_ca}}
TLS_CERT={{tls_cert}}
TLS_KEY={{tls_key}}
