#!/bin/sh
# skypool user-data: Docker Swarm, first manager (creates the swarm). Rendered by skypool.
set -u
SKYPOOL_ROLE=manager-init
{{> common/identity.sh}}
{{> common/lib.sh}}
{{> common/tls.sh}}
{{> common/docker.sh}}
{{> swarm/init.sh}}
{{> common/done.sh}}
