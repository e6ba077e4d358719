#!/usr/bin/env bash
# Installs Chromium from Debian when /usr/bin/chromium is missing and prints its path; the hub's
# browser tests (Playwright) drive it. Browser builds that Playwright or puppeteer download
# themselves cannot be fetched here (see shared/TOOLCHAIN.md), so the system one is used.
# Safe to run repeatedly: does nothing but print the path when Chromium is installed.
# Progress goes to stderr, the path alone to stdout.
set -euo pipefail

bin="/usr/bin/chromium"

if [ ! -x "$bin" ]; then
  echo "setup: Chromium from Debian (apt-get install chromium)" >&2
  sudo=""
  if [ "$(id -u)" -ne 0 ]; then
    sudo="sudo"
  fi
  $sudo apt-get update >&2
  DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y --no-install-recommends chromium >&2
  if [ ! -x "$bin" ]; then
    echo "setup: apt-get installed chromium but $bin is missing" >&2
    exit 1
  fi
fi

echo "$bin"
