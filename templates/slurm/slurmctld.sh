# --- slurm/slurmctld.sh: the controller, configless, for dynamic nodes ---
SLURM_DIR=/etc/skypool/slurm
export SLURM_CONF="$SLURM_DIR/slurm.conf"
mkdir -p "$SLURM_DIR" "$STATUS_DIR/slurmctld"
# configless serves only a file named slurm.conf; per-VM pid files (a daemon kills whatever its pid file names).
cat >"$SLURM_CONF" <<CONF
ClusterName=skypool
SlurmctldHost=$NODE_NAME($NODE_IP)
SlurmctldParameters=enable_configless
SlurmUser=root
SlurmdUser=root
AuthType=auth/munge
CredType=cred/munge
MaxNodeCount=1024
StateSaveLocation=$STATUS_DIR/slurmctld
SlurmdSpoolDir=$STATUS_DIR/slurmd
SlurmctldPidFile=/run/slurmctld.pid
SlurmdPidFile=/run/slurmd.pid
SlurmctldLogFile=$LOG_DIR/slurmctld.log
SlurmdLogFile=$LOG_DIR/slurmd.log
ProctrackType=proctrack/linuxproc
TaskPlugin=task/none
JobAcctGatherType=jobacct_gather/none
AccountingStorageType=accounting_storage/none
SelectType=select/cons_tres
SelectTypeParameters=CR_Core
SchedulerType=sched/backfill
ReturnToService=2
MpiDefault=none
PartitionName=pool Nodes=ALL Default=YES MaxTime=INFINITE State=UP
CONF
if ! scontrol ping 2>/dev/null | grep -q 'is UP'; then
  setsid slurmctld -D -i -f "$SLURM_CONF" >>"$LOG_DIR/slurmctld.out" 2>&1 </dev/null &
  CTLD_PID=$!
fi
until scontrol ping 2>/dev/null | grep -q 'is UP'; do
  if [ -n "${CTLD_PID:-}" ] && ! kill -0 "$CTLD_PID" 2>/dev/null; then
    fail "slurmctld exited at start: $(tail -n 3 "$LOG_DIR/slurmctld.log" 2>/dev/null | tr '\n' ' ')"
  fi
  [ "$(remaining)" -gt 0 ] || fail "timed out after ${DEADLINE_SECONDS}s waiting for slurmctld (see $LOG_DIR/slurmctld.log)"
  sleep 0.1
done
log "slurmctld ready after $(($(date +%s) - START))s"
