#!/bin/sh
# skypool user-data: Slurm compute node (munged + dynamic slurmd). Rendered by skypool.
set -u
SKYPOOL_ROLE=worker
SLURM_DAEMON=slurmd
{{> slurm/identity.sh}}
{{> common/lib.sh}}
{{> slurm/packages.sh}}
{{> slurm/key-file.sh}}
{{> slurm/munge.sh}}
{{> slurm/slurmd.sh}}
{{> common/done.sh}}
