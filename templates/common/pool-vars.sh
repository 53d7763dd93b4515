# --- common/pool-vars.sh: what every node of the pool is told (public only: no key, no token) ---
SKYPOOL_CLUSTER={{cluster}}
SKYPOOL_POOL={{pool}}
DEADLINE_SECONDS={{deadline_seconds}}
# The cluster CA: dockerd accepts only clients it signed (the SDK).
TLS_CA={{tls_ca}}
# This cloud network's /16 of the fabric range; the node's fabric address is it plus its private IP's low 16 bits.
FABRIC_PREFIX={{fabric_prefix}}
