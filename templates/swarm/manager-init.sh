#!/bin/sh
# skypool user-data: Docker Swarm, first manager (creates the swarm). The same bytes for every node of the pool;
# the node makes its own keys and prints its public identity on the console. Rendered by skypool.
set -u
SKYPOOL_ROLE=manager-init
{{> common/pool-vars.sh}}
{{> common/node-name.sh}}
{{> common/lib.sh}}
{{> common/node-keys.sh}}
{{> common/fabric.sh}}
{{> common/identity-line.sh}}
print_identity
{{> common/docker.sh}}
{{> common/docker-boot.sh}}
fabric_sync_start
{{> swarm/init.sh}}
{{> swarm/ingress-mtu.sh}}
print_identity
boot_script 00-skypool-identity "echo $identity_line"
{{> common/done.sh}}
