#!/bin/sh
# skypool user-data: Slurm controller on the fabric (munged + slurmctld, configless, on the node's fabric address).
# The same bytes for every node of the pool and nothing secret: the node makes its own keys, prints its public
# identity on the console and waits for the SDK to hand it the munge key over its mailbox (dockerd, mTLS).
# Rendered by skypool.
set -u
SKYPOOL_ROLE=manager
SLURM_DAEMON=slurmctld
NODE_FEATURES=
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
NODE_IP=$FABRIC_IP
{{> slurm/slurmctld.sh}}
{{> slurm/command-container.sh}}
print_identity
boot_script 00-skypool-identity "echo $identity_line"
{{> common/done.sh}}
