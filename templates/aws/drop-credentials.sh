# --- aws/drop-credentials.sh: the node has its certificate and its place in the swarm; it gives up its role ---
# The issuer key in the TLS secret and the join secrets are needed at boot only. With the metadata endpoint off the
# node gets no new role credentials (those it holds expire within hours) and cannot turn it on again (the role may
# only turn it off). cloud-init keeps its cache across reboots instead of asking the endpoint.
mkdir -p /etc/cloud/cloud.cfg.d && printf 'manual_cache_clean: true\n' >/etc/cloud/cloud.cfg.d/99-skypool.cfg
$AWS drop-credentials 2>>"$LOG_DIR/aws.err" || log "could not turn off the metadata endpoint (see $LOG_DIR/aws.err)"
