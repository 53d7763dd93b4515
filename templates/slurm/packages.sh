# --- slurm/packages.sh: install slurm and munge only if missing; stop the packages' own daemons ---
if ! command -v munged >/dev/null 2>&1 || ! command -v "$SLURM_DAEMON" >/dev/null 2>&1; then
  log "slurm or munge missing: installing slurm-wlm and munge"
  export DEBIAN_FRONTEND=noninteractive
  { apt-get update -qq && apt-get install -y -qq --no-install-recommends slurm-wlm munge; } >>"$LOG_DIR/apt.log" 2>&1 ||
    fail "slurm or munge is missing and apt-get install slurm-wlm munge failed (see $LOG_DIR/apt.log)"
fi
if [ -d /run/systemd/system ]; then
  # The packages start daemons with their own key and config; skypool runs its own.
  systemctl disable --now munge slurmd slurmctld >/dev/null 2>&1 || true
fi
