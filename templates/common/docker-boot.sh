# --- common/docker-boot.sh: no systemd: dockerd again at every boot, after wg0 (cloud-init per-boot) ---
[ -d /run/systemd/system ] || boot_script 20-skypool-dockerd "hostname $NODE_NAME
DOCKER_SERVICE_PREFER_OFFLINE_IMAGE=1 setsid $DOCKERD $DOCKERD_ARGS >>$LOG_DIR/dockerd.log 2>&1 </dev/null &"
