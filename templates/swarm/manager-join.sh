#!/bin/sh
# skypool user-data: Docker Swarm, additional manager (joins the swarm). The same bytes for every node of the pool: the node makes its own
# keys, prints its public identity on the console and waits for the SDK's join volume. Rendered by skypool.
set -u
SKYPOOL_ROLE=manager-join
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
{{> swarm/join-volume.sh}}
{{> swarm/join.sh}}
$DOCKER volume rm skypool-join >/dev/null 2>&1 || true
print_identity
boot_script 00-skypool-identity "echo $identity_line"
{{> common/done.sh}}
