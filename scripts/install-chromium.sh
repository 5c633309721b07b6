#!/usr/bin/env bash
# Debian's chromium for the dashboard test (headless). Exit 2 when it cannot be installed here.
set -euo pipefail
command -v chromium >/dev/null && exit 0
if [ "$(id -u)" != 0 ] || ! command -v apt-get >/dev/null; then
    echo "install-chromium: chromium is missing and apt-get as root is not available" >&2
    exit 2
fi
timeout -s KILL 300 apt-get update -qq >/dev/null || exit 2
DEBIAN_FRONTEND=noninteractive timeout -s KILL 600 apt-get install -y -qq chromium >/dev/null || exit 2
command -v chromium >/dev/null || exit 2
