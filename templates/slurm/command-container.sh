# --- slurm/command-container.sh: the SDK's way to Slurm's commands on a node without command execution (the
# clouds): a container on the node's own network whose root is the node's /usr, Slurm config, munge socket and
# state, idle until the SDK runs `scontrol`, `sbatch`... in it through the mailbox (docker exec over mTLS) ---
CMD_IMAGE=skypool/slurm-commands:1
if ! $DOCKER image inspect "$CMD_IMAGE" >/dev/null 2>&1; then
  CMD_ROOT=$(mktemp -d) || fail "cannot make a directory for the command image"
  for d in bin sbin lib lib64; do ln -s "usr/$d" "$CMD_ROOT/$d"; done
  mkdir -p "$CMD_ROOT/usr" "$CMD_ROOT/etc/skypool/slurm" "$CMD_ROOT/run/munge" "$CMD_ROOT/var/lib/skypool" "$CMD_ROOT/tmp"
  tar -C "$CMD_ROOT" -c . | $DOCKER import - "$CMD_IMAGE" >/dev/null 2>>"$LOG_DIR/docker-import.err" ||
    fail "cannot make the command image (see $LOG_DIR/docker-import.err)"
  rm -rf "$CMD_ROOT"
fi
mkdir -p /etc/skypool/slurm
$DOCKER rm -f skypool-slurm >/dev/null 2>&1 || true
$DOCKER run -d --name skypool-slurm --restart unless-stopped --network host --uts host \
  -v /usr:/usr:ro -v /etc/passwd:/etc/passwd:ro -v /etc/group:/etc/group:ro \
  -v /etc/skypool/slurm:/etc/skypool/slurm -v /run/munge:/run/munge -v "$STATUS_DIR:$STATUS_DIR" \
  "$CMD_IMAGE" sleep 3650d >/dev/null 2>>"$LOG_DIR/docker-run.err" ||
  fail "cannot start the command container (see $LOG_DIR/docker-run.err)"
log "command container ready after $(($(date +%s) - START))s"
