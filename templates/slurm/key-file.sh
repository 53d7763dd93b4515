# --- slurm/key-file.sh: the SDK writes the munge key into the node (command execution, local provider) once the
# node runs: it is never in user-data. Waits for it ---
MUNGE_DIR=/etc/skypool/munge
mkdir -p "$MUNGE_DIR" && chmod 0700 "$MUNGE_DIR" || fail "cannot create $MUNGE_DIR"
if [ ! -s "$MUNGE_DIR/munge.key" ]; then
  log "waiting for the munge key"
  until [ -s "$MUNGE_DIR/munge.key" ]; do
    [ "$(remaining)" -gt 0 ] || fail "timed out after ${DEADLINE_SECONDS}s waiting for the SDK to write the munge key"
    sleep 0.05
  done
fi
