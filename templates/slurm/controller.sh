#!/bin/sh
# skypool user-data: Slurm controller (munged + slurmctld, configless). Rendered by skypool.
set -u
SKYPOOL_ROLE=manager
SLURM_DAEMON=slurmctld
{{> slurm/identity.sh}}
{{> common/lib.sh}}
{{> slurm/packages.sh}}
{{> slurm/key-file.sh}}
{{> slurm/munge.sh}}
{{> slurm/slurmctld.sh}}
{{> common/done.sh}}
