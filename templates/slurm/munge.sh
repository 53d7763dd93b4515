# --- slurm/munge.sh: the cluster's munge key (0400, dir 0700) and munged on its default socket ---
MUNGE_DIR=/etc/skypool/munge
mkdir -p "$MUNGE_DIR" /run/munge "$STATUS_DIR/munge"
chmod 0700 "$MUNGE_DIR"
chmod 0755 /run/munge
(
  umask 077
  printf '%s' "$MUNGE_KEY" | base64 -d >"$MUNGE_DIR/munge.key"
) || fail "cannot write the munge key to $MUNGE_DIR"
chmod 0400 "$MUNGE_DIR/munge.key"
unset MUNGE_KEY
# The socket stays at the default path: a configless slurmd reads AuthInfo only after it fetched the config.
if ! munge -n >/dev/null 2>&1; then
  munged --force --key-file="$MUNGE_DIR/munge.key" --pid-file=/run/munge/munged.pid \
    --seed-file="$STATUS_DIR/munge/munged.seed" --log-file="$LOG_DIR/munged.log" ||
    fail "munged did not start (see $LOG_DIR/munged.log)"
fi
wait_for "munged" munge -n
log "munged ready after $(($(date +%s) - START))s"
