#!/bin/sh
# skypool user-data: Docker Swarm, worker (joins the swarm). Rendered by skypool.
set -u
SKYPOOL_ROLE=worker
{{> common/identity.sh}}
{{> swarm/join-vars.sh}}
{{> common/lib.sh}}
{{> common/tls.sh}}
{{> common/docker.sh}}
{{> swarm/join.sh}}
{{> common/done.sh}}
