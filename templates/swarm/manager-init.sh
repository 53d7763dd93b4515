#!/bin/sh
# skypool user-data: Docker Swarm, first manager (creates the swarm). Rendered by skypool.
set -u
SKYPOOL_ROLE=manager-init
NODE_NAME={{node_name}}
NODE_IP={{node_ip}}
DEADLINE_SECONDS={{deadline_seconds}}
TLS_CA={{tls_ca}}
TLS_CERT={{tls_cert}}
TLS_KEY={{tls_key}}
{{> common/lib.sh}}
{{> common/tls.sh}}
{{> common/docker.sh}}
{{> swarm/init.sh}}
{{> common/done.sh}}
