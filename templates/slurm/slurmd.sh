# --- slurm/slurmd.sh: a dynamic node (slurmd -Z) that fetches its config from the controller ---
mkdir -p "$STATUS_DIR/slurmd" "$STATUS_DIR/jobs"
CONF_CACHE="$STATUS_DIR/slurmd/conf-cache/slurm.conf"
CPUS=$(nproc 2>/dev/null || echo 1)
# Half the memory: in namespace VMs every node sees the whole host's.
MEM_MB=$(($(awk '/^MemTotal:/ {print $2}' /proc/meminfo) / 2048))
if [ -s /run/slurmd.pid ] && kill -0 "$(cat /run/slurmd.pid)" 2>/dev/null; then
  log "slurmd already running"
else
  setsid slurmd -D -Z --conf "CPUs=$CPUS RealMemory=$MEM_MB${NODE_FEATURES:+ Features=$NODE_FEATURES}" --conf-server "$CTL_ADDR" \
    >>"$LOG_DIR/slurmd.out" 2>&1 </dev/null &
  SLURMD_PID=$!
fi
until [ -s "$CONF_CACHE" ] && SLURM_CONF="$CONF_CACHE" scontrol show node "$NODE_NAME" 2>/dev/null | grep -q 'State='; do
  if [ -n "${SLURMD_PID:-}" ] && ! kill -0 "$SLURMD_PID" 2>/dev/null; then
    fail "slurmd exited at start: $(tail -n 3 "$LOG_DIR/slurmd.out" "$LOG_DIR/slurmd.log" 2>/dev/null | tr '\n' ' ')"
  fi
  [ "$(remaining)" -gt 0 ] || fail "timed out after ${DEADLINE_SECONDS}s waiting for slurmd to register with $CTL_NAME ($CTL_ADDR)"
  sleep 0.1
done
log "slurmd registered with $CTL_NAME after $(($(date +%s) - START))s"
