#!/usr/bin/env bash
# Builds herd's sandbox image offline (no registry pulls), idempotently.
#
#   scripts/setup-sandbox.sh            # build if `herd-sandbox:<recipe hash>` is missing
#   scripts/setup-sandbox.sh --force    # re-import even if present (rootfs cache reused)
#
# Needs root (debootstrap/chroot), a running Docker engine, Debian's apt mirror and PyPI the
# first time; the debootstrapped rootfs is cached in ~/.cache/herd/sandbox/ keyed by the hash
# of sandbox/image/build-rootfs.sh, so later runs take seconds. The recipe hash (tag) has ONE
# source of truth: herd_sandbox::image_tag(), run here through the `build_image` example.
set -euo pipefail
cd "$(dirname "$0")/.."

# Noisy steps (apt, debootstrap, the image build) write to this log; it is shown only if
# one fails.
LOG="$(mktemp "${TMPDIR:-/tmp}/herd-setup-sandbox.XXXXXX")"
trap 'rm -f "$LOG"' EXIT
fail() {
  cat "$LOG" >&2
  echo "[setup-sandbox] $* (output above)" >&2
  exit 1
}
if ! command -v debootstrap >/dev/null 2>&1; then
  echo "[setup-sandbox] installing debootstrap" >&2
  { apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq debootstrap; } \
    >>"$LOG" 2>&1 || fail "could not install debootstrap"
fi
for tool in tar python3 docker; do
  command -v "$tool" >/dev/null 2>&1 || { echo "[setup-sandbox] missing required tool: $tool" >&2; exit 1; }
done
if ! docker info >/dev/null 2>&1; then
  echo "[setup-sandbox] docker engine is not answering; start it first" >&2
  exit 1
fi
export CARGO_TARGET_DIR=${CARGO_TARGET_DIR:-/root/.cache/herd/target}
# The example prints the image tag on stdout; its build steps go to the log (a first build
# debootstraps Debian and takes minutes).
echo "[setup-sandbox] checking the sandbox image (building it if missing)" >&2
tag="$(cargo run --quiet -p herd-sandbox --example build_image -- "$@" 2>>"$LOG")" \
  || fail "building the sandbox image failed"
echo "[setup-sandbox] $tag ready"
