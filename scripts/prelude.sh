#!/usr/bin/env bash
# Makes a fresh clone runnable: node modules when missing or stale, and with --local (or when root on
# Linux) the Debian packages the local provider and the foreign-client tests (awscli, python3-libcloud)
# need. Idempotent and quiet when nothing is missing.
set -euo pipefail
cd "$(dirname "$0")/.."

if [ ! -d node_modules ] || [ package-lock.json -nt node_modules/.package-lock.json ]; then
  echo "skypool: installing node modules (npm ci)" >&2
  npm ci --no-audit --no-fund --loglevel=error >&2
fi

want_local=0
[ "${1:-}" = "--local" ] && want_local=1
if [ "$(uname -s)" = "Linux" ] && [ "$(id -u)" = "0" ]; then want_local=1; fi
[ "$want_local" = 1 ] || exit 0

if [ "$(uname -s)" != "Linux" ] || [ "$(id -u)" != "0" ]; then
  echo "skypool: the local provider needs root on Linux; skipping its system packages" >&2
  exit 0
fi

missing=()
command -v dockerd >/dev/null 2>&1 || missing+=(docker.io)
command -v ip >/dev/null 2>&1 || missing+=(iproute2)
command -v nsenter >/dev/null 2>&1 || missing+=(util-linux)
command -v iptables >/dev/null 2>&1 || missing+=(iptables)
[ -x /bin/busybox ] && /bin/busybox --list 2>/dev/null | grep -qx httpd || missing+=(busybox-static)
# Clients cloudsim was not written against (test/foreign-clients.test.ts), as Debian ships them.
[ -x /usr/bin/aws ] || missing+=(awscli)
[ -x /usr/bin/python3 ] && /usr/bin/python3 -c 'import libcloud' 2>/dev/null || missing+=(python3-libcloud)
# WireGuard in userspace (this kernel has no wireguard module) for the fabric between namespace VMs.
command -v wireguard-go >/dev/null 2>&1 || missing+=(wireguard-go)
command -v wg >/dev/null 2>&1 || missing+=(wireguard-tools)
# The slurm engine: controller, dynamic nodes and client commands (slurm-wlm), and munge for their auth.
command -v slurmctld >/dev/null 2>&1 && command -v slurmd >/dev/null 2>&1 && command -v sbatch >/dev/null 2>&1 || missing+=(slurm-wlm)
command -v munged >/dev/null 2>&1 || missing+=(munge)
# The k3s boot scripts are checked with shellcheck (test/k3s-units.test.ts): k3s itself cannot be installed here.
command -v shellcheck >/dev/null 2>&1 || missing+=(shellcheck)
if [ "${#missing[@]}" -gt 0 ]; then
  echo "skypool: installing Debian packages: ${missing[*]}" >&2
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq >&2
  apt-get install -y -qq --no-install-recommends "${missing[@]}" >&2
fi
