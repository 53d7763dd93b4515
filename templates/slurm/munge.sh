# --- slurm/munge.sh: munged with the cluster's key (0400 in a 0700 dir, delivered by the SDK) on its default socket ---
mkdir -p /run/munge "$STATUS_DIR/munge"
chmod 0755 /run/munge
chmod 0400 "$MUNGE_DIR/munge.key" || fail "no munge key in $MUNGE_DIR"
# The socket stays at the default path: a configless slurmd reads AuthInfo only after it fetched the config.
if ! munge -n >/dev/null 2>&1; then
  munged --force --key-file="$MUNGE_DIR/munge.key" --pid-file=/run/munge/munged.pid \
    --seed-file="$STATUS_DIR/munge/munged.seed" --log-file="$LOG_DIR/munged.log" ||
    fail "munged did not start (see $LOG_DIR/munged.log)"
fi
wait_for "munged" munge -n
log "munged ready after $(($(date +%s) - START))s"
