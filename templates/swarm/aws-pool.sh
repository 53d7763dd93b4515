#!/bin/sh
# skypool user-data: Docker Swarm, one node of an EC2 Auto Scaling group (every node of the pool boots these
# bytes). Name, address, TLS identity and join tokens are fetched at boot. Rendered by skypool.
set -u
SKYPOOL_ROLE={{role}}
SKYPOOL_CLUSTER={{cluster}}
SKYPOOL_POOL={{pool}}
DEADLINE_SECONDS={{deadline_seconds}}
JOIN_SECRET_ID={{join_secret_id}}
WORKER_JOIN_SECRET_ID={{worker_join_secret_id}}
TLS_SECRET_ID={{tls_secret_id}}
{{> aws/identity.sh}}
{{> common/lib.sh}}
$AWS name "$NODE_NAME" 2>>"$LOG_DIR/aws.err" || log "could not tag the instance Name=$NODE_NAME (see $LOG_DIR/aws.err)"
{{> aws/tls.sh}}
{{> common/docker.sh}}
# Partials do not nest: the shared init/join steps become functions aws/swarm.sh calls.
swarm_create() {
{{> swarm/init.sh}}
}
swarm_join() {
{{> swarm/join.sh}}
}
{{> aws/swarm.sh}}
{{> aws/drop-credentials.sh}}
{{> common/done.sh}}
