#!/usr/bin/env bash
# Installs `redis-server` (Debian package) for the coordinator's Redis state-store tests
# and for running a local cluster. Idempotent: does nothing when redis-server is on PATH.
# Does not start a daemon (the tests start their own server on a free loopback port).
# Usage (as root, or with sudo available): scripts/setup-redis.sh
set -euo pipefail

if command -v redis-server >/dev/null 2>&1; then
    echo "setup-redis: $(redis-server --version | head -n1) already installed"
    exit 0
fi

SUDO=""
if [ "$(id -u)" -ne 0 ]; then
    if command -v sudo >/dev/null 2>&1; then
        SUDO="sudo"
    else
        echo "setup-redis: redis-server is missing and installing it needs root (no sudo found)" >&2
        exit 1
    fi
fi

export DEBIAN_FRONTEND=noninteractive
# apt's output goes to a log, shown only if a step fails.
LOG="$(mktemp "${TMPDIR:-/tmp}/herd-setup-redis.XXXXXX")"
trap 'rm -f "$LOG"' EXIT
quietly() {
    if ! "$@" >>"$LOG" 2>&1; then
        cat "$LOG" >&2
        echo "setup-redis: \`$*\` failed (its output above)" >&2
        exit 1
    fi
}
# Refresh the package lists only when they do not know the package yet.
if ! apt-cache show redis-server >/dev/null 2>&1; then
    quietly $SUDO apt-get update -qq
fi
# Debian's maintainer scripts start the service through invoke-rc.d. Forbid that for the
# duration of the install with a temporary policy-rc.d (only if the machine has none).
POLICY=/usr/sbin/policy-rc.d
if [ ! -e "$POLICY" ]; then
    printf '#!/bin/sh\nexit 101\n' | $SUDO tee "$POLICY" >/dev/null
    $SUDO chmod +x "$POLICY"
    trap '$SUDO rm -f "$POLICY"; rm -f "$LOG"' EXIT
fi
quietly $SUDO apt-get install -y -qq --no-install-recommends redis-server

if ! command -v redis-server >/dev/null 2>&1; then
    echo "setup-redis: redis-server still not on PATH after installing the package" >&2
    exit 1
fi
echo "setup-redis: installed $(redis-server --version | head -n1)"
