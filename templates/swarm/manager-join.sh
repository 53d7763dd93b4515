#!/bin/sh
# skypool user-data: Docker Swarm, additional manager (joins the swarm). Rendered by skypool.
set -u
SKYPOOL_ROLE=manager-join
NODE_NAME={{node_name}}
NODE_IP={{node_ip}}
DEADLINE_SECONDS={{deadline_seconds}}
TLS_CA={{tls_ca}}
TLS_CERT={{tls_cert}}
TLS_KEY={{tls_key}}
JOIN_TOKEN={{join_token}}
# Alternative to JOIN_TOKEN: a command printing the token at boot (e.g. from a secrets manager).
JOIN_TOKEN_COMMAND={{join_token_command}}
JOIN_ADDRS={{join_addrs}}
{{> common/lib.sh}}
{{> common/tls.sh}}
{{> common/docker.sh}}
{{> swarm/join.sh}}
{{> common/done.sh}}
