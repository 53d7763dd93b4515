#!/bin/sh
# skypool user-data: Slurm compute node on the fabric (munged + dynamic slurmd registering with its fabric
# address). The same bytes for every node of the pool and nothing secret: the SDK hands the munge key and the
# controller's fabric address over the node's mailbox (dockerd, mTLS). Rendered by skypool.
set -u
SKYPOOL_ROLE=worker
SLURM_DAEMON=slurmd
NODE_FEATURES={{node_features}}
{{> common/pool-vars.sh}}
{{> common/node-name.sh}}
{{> common/lib.sh}}
{{> common/node-keys.sh}}
{{> common/fabric.sh}}
{{> common/identity-line.sh}}
print_identity
{{> common/docker.sh}}
{{> common/docker-boot.sh}}
fabric_sync_start
{{> slurm/packages.sh}}
{{> slurm/key-volume.sh}}
{{> slurm/munge.sh}}
{{> slurm/slurmd.sh}}
{{> slurm/command-container.sh}}
print_identity
boot_script 00-skypool-identity "echo $identity_line"
{{> common/done.sh}}
