# --- aws/drop-credentials.sh: booted, the node turns its metadata endpoint off: no more role credentials ---
mkdir -p /etc/cloud/cloud.cfg.d && printf 'manual_cache_clean: true\n' >/etc/cloud/cloud.cfg.d/99-skypool.cfg
$AWS drop-credentials 2>>"$LOG_DIR/aws.err" || log "could not turn off the metadata endpoint (see $LOG_DIR/aws.err)"
