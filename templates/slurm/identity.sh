# --- slurm/identity.sh: who this node is and where its controller is ---
NODE_NAME={{node_name}}
# The same bytes for every node of a pool: a node not named here is named by its hostname (lib.sh finds the address).
[ -n "$NODE_NAME" ] || NODE_NAME=$(hostname)
NODE_IP={{node_ip}}
DEADLINE_SECONDS={{deadline_seconds}}
CTL_NAME={{ctl_name}}
CTL_ADDR={{ctl_addr}}
# Pool labels as node features (key:value), set when the node registers.
NODE_FEATURES={{node_features}}
