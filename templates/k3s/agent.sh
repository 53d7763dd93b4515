#!/bin/sh
# skypool user-data: k3s agent (joins the server over the fabric with the token from its join volume). Carries
# nothing secret but the node's TLS key (see README, k3s). Rendered by skypool.
set -u
SKYPOOL_ROLE=worker
K3S_ROLE=agent
{{> k3s/identity.sh}}
{{> common/lib.sh}}
{{> common/tls.sh}}
{{> common/fabric.sh}}
{{> common/docker.sh}}
{{> common/docker-boot.sh}}
fabric_sync_start
{{> k3s/install.sh}}
{{> k3s/join-volume.sh}}
SERVER_ADDR=$(awk '{print $1; exit}' "$K3S_DIR/server-addrs")
[ -n "$SERVER_ADDR" ] || fail "the join volume skypool-join names no k3s server (label skypool.join.addrs)"
K3S_ARGS="$K3S_ARGS --server https://$SERVER_ADDR:6443"
{{> k3s/start.sh}}
{{> common/done.sh}}
