#!/usr/bin/env bash
# Installs the PostgreSQL server from Debian when its binaries (initdb, pg_ctl, postgres,
# createdb) are missing; the indexer's tests start throwaway clusters with them.
# Safe to run repeatedly: does nothing when a server is already installed.
set -euo pipefail

have_server() {
  local dir
  for dir in /usr/lib/postgresql/*/bin; do
    if [ -x "$dir/initdb" ] && [ -x "$dir/pg_ctl" ] && [ -x "$dir/postgres" ] && [ -x "$dir/createdb" ]; then
      return 0
    fi
  done
  return 1
}

if have_server; then
  exit 0
fi

echo "setup: PostgreSQL server from Debian (apt-get install postgresql)"
sudo=""
if [ "$(id -u)" -ne 0 ]; then
  sudo="sudo"
fi
$sudo apt-get update
DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y --no-install-recommends postgresql

if ! have_server; then
  echo "setup: apt-get installed postgresql but no /usr/lib/postgresql/*/bin has initdb, pg_ctl, postgres and createdb" >&2
  exit 1
fi
# The packaged cluster is not needed: tests and `agora dev` start their own throwaway ones.
