#!/bin/sh
# skypool user-data: Docker Swarm, additional manager (joins the swarm). Rendered by skypool.
set -u
SKYPOOL_ROLE=manager-join
{{> common/identity.sh}}
{{> swarm/join-vars.sh}}
{{> common/lib.sh}}
{{> common/tls.sh}}
{{> common/docker.sh}}
{{> swarm/join.sh}}
{{> common/done.sh}}
