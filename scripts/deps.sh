#!/usr/bin/env bash
# Installs what dolly needs on Debian 12 and starts the Docker engine when none answers.
# Idempotent: installs only what is missing. Run as root (make deps).
set -euo pipefail

need=()
command -v dockerd >/dev/null 2>&1 || need+=(docker.io)
command -v mariadb >/dev/null 2>&1 || need+=(mariadb-client)
command -v mariadb-dump >/dev/null 2>&1 || need+=(mariadb-client)
command -v mkfs.btrfs >/dev/null 2>&1 || need+=(btrfs-progs)
command -v mkfs.xfs >/dev/null 2>&1 || need+=(xfsprogs)
command -v debootstrap >/dev/null 2>&1 || need+=(debootstrap)
command -v losetup >/dev/null 2>&1 || need+=(mount)
command -v tmux >/dev/null 2>&1 || need+=(tmux)
command -v openssl >/dev/null 2>&1 || need+=(openssl)
command -v iptables >/dev/null 2>&1 || need+=(iptables)
command -v chromium >/dev/null 2>&1 || need+=(chromium)

if [ ${#need[@]} -gt 0 ]; then
  if [ "$(id -u)" -ne 0 ]; then
    echo "deps: missing ${need[*]}; run 'make deps' as root" >&2
    exit 1
  fi
  echo "deps: installing ${need[*]}" >&2
  apt-get update -qq
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${need[@]}" >/dev/null
fi

if ! docker info >/dev/null 2>&1; then
  if [ "$(id -u)" -ne 0 ]; then
    echo "deps: the Docker engine is not running; start it (as root: make deps)" >&2
    exit 1
  fi
  echo "deps: starting dockerd" >&2
  mkdir -p /var/log
  # its own session: a Ctrl-C in the terminal that ran `make` never reaches it
  setsid nohup dockerd >/var/log/dolly-dockerd.log 2>&1 </dev/null &
  for _ in $(seq 1 60); do
    docker info >/dev/null 2>&1 && break
    sleep 1
  done
  docker info >/dev/null 2>&1 || { echo "deps: dockerd did not start; see /var/log/dolly-dockerd.log" >&2; exit 1; }
fi
