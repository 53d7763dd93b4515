#!/bin/sh
# skypool user-data: k3s server (API on 6443, cluster CA trusted for clients). Rendered by skypool.
set -u
SKYPOOL_ROLE=manager
K3S_ROLE=server
{{> k3s/identity.sh}}
{{> common/lib.sh}}
{{> common/tls.sh}}
{{> k3s/install.sh}}
{{> k3s/server-ca.sh}}
{{> k3s/start.sh}}
{{> common/done.sh}}
