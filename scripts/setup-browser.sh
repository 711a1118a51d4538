#!/usr/bin/env bash
# Installs headless Chromium and its WebDriver server (Debian's `chromium` and
# `chromium-driver`, plus `fonts-liberation` so screenshots show text) for the browser tests
# of the web dashboard (tests/tests/browser.rs). Idempotent: does nothing when `chromium`
# and `chromedriver` are both on PATH. Starts nothing: the tests start their own
# chromedriver on a free loopback port.
# Usage (as root, or with sudo available): scripts/setup-browser.sh
set -euo pipefail

versions() {
    echo "$(chromium --version 2>/dev/null | head -n1), $(chromedriver --version 2>/dev/null | head -n1)"
}

if command -v chromium >/dev/null 2>&1 && command -v chromedriver >/dev/null 2>&1; then
    echo "setup-browser: $(versions) already installed"
    exit 0
fi

SUDO=""
if [ "$(id -u)" -ne 0 ]; then
    if command -v sudo >/dev/null 2>&1; then
        SUDO="sudo"
    else
        echo "setup-browser: chromium/chromedriver are missing and installing them needs root (no sudo found)" >&2
        exit 1
    fi
fi

echo "setup-browser: installing chromium, chromium-driver (a few minutes on a cold machine)"
export DEBIAN_FRONTEND=noninteractive
# apt's output goes to a log, shown only if a step fails.
LOG="$(mktemp "${TMPDIR:-/tmp}/herd-setup-browser.XXXXXX")"
trap 'rm -f "$LOG"' EXIT
quietly() {
    if ! "$@" >>"$LOG" 2>&1; then
        cat "$LOG" >&2
        echo "setup-browser: \`$*\` failed (its output above)" >&2
        exit 1
    fi
}
# Refresh the package lists only when they do not know the packages yet.
if ! apt-cache show chromium-driver >/dev/null 2>&1; then
    quietly $SUDO apt-get update -qq
fi
quietly $SUDO apt-get install -y -qq --no-install-recommends chromium chromium-driver fonts-liberation

for bin in chromium chromedriver; do
    if ! command -v "$bin" >/dev/null 2>&1; then
        echo "setup-browser: $bin still not on PATH after installing the packages" >&2
        exit 1
    fi
done
echo "setup-browser: installed $(versions)"
