# --- common/node-name.sh: the node's name is its hostname, given by the cloud at launch ---
# One rule for EC2 (HostnameType=resource-name): hostname i-<hex> names the node <cluster>-<pool>-<hex>.
NODE_NAME=$(hostname)
NODE_NAME=${NODE_NAME%%.*}
if printf '%s\n' "$NODE_NAME" | grep -Eq '^i-[0-9a-f]+$'; then
  NODE_NAME="$SKYPOOL_CLUSTER-$SKYPOOL_POOL-${NODE_NAME#i-}"
fi
# lib.sh takes the first address of `hostname -I` (before docker0 and wg0 exist).
NODE_IP=
