#!/bin/sh
# skypool user-data: k3s agent (joins the server with the cluster's token). Rendered by skypool.
set -u
SKYPOOL_ROLE=worker
K3S_ROLE=agent
{{> k3s/identity.sh}}
{{> common/lib.sh}}
{{> common/tls.sh}}
{{> k3s/install.sh}}
K3S_ARGS="$K3S_ARGS --server https://$SERVER_ADDR:6443"
{{> k3s/start.sh}}
{{> common/done.sh}}
