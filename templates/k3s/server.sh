#!/bin/sh
# skypool user-data: k3s server (API on the fabric address, port 6443; clients need a certificate of the cluster
# CA). Carries nothing secret but the node's TLS key (see README, k3s). Rendered by skypool.
set -u
SKYPOOL_ROLE=manager
K3S_ROLE=server
{{> k3s/identity.sh}}
{{> common/lib.sh}}
{{> common/tls.sh}}
{{> common/fabric.sh}}
{{> common/docker.sh}}
{{> common/docker-boot.sh}}
fabric_sync_start
{{> k3s/install.sh}}
{{> k3s/server-ca.sh}}
{{> k3s/join-volume.sh}}
{{> k3s/start.sh}}
print_server_ca
{{> common/done.sh}}
