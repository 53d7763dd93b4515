# --- common/docker-boot.sh: what comes back at every later boot (cloud-init per-boot scripts; user-data runs once) ---
boot_script() { d=/var/lib/cloud/scripts/per-boot; mkdir -p $d && printf '#!/bin/sh\n%s\n' "$2" >$d/$1 && chmod 755 $d/$1; }
# No init system: dockerd again, after wg0 (10-), with the same name and state.
[ -d /run/systemd/system ] || boot_script 20-skypool-dockerd "hostname $NODE_NAME
DOCKER_SERVICE_PREFER_OFFLINE_IMAGE=1 setsid $DOCKERD $DOCKERD_ARGS >>$LOG_DIR/dockerd.log 2>&1 </dev/null &"
