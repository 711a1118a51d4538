#!/usr/bin/env bash
# Installs the Qdrant server binary (v1.18.3, built from source; see ../shared/qdrant/BUILD.md)
# into the herd cache, keyed by its sha256:
#   ${HERD_CACHE_DIR:-$HOME/.cache/herd}/qdrant/<sha256>/qdrant
# and points ${HERD_CACHE_DIR}/qdrant/current at it. The tests' throwaway servers and a local
# cluster run this copy. The checksum is checked on every run (source and installed copy).
# Idempotent. Source: $HERD_QDRANT_SOURCE, else ../shared/qdrant beside the checkout.
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
CACHE="${HERD_CACHE_DIR:-$HOME/.cache/herd}/qdrant"
SRC="${HERD_QDRANT_SOURCE:-$here/../../shared/qdrant}"
BIN="$SRC/bin/qdrant"
SUM="$SRC/bin/qdrant.sha256"

how_to_build() {
  cat >&2 <<EOF
setup-qdrant: the Qdrant server binary is not at \`$BIN\`.
  herd's Qdrant-server tests and a cluster's shared action store need it. Either
  - put the folder that holds \`bin/qdrant\` and \`bin/qdrant.sha256\` at \`$SRC\`
    (or point HERD_QDRANT_SOURCE at it), or
  - build it from \`src.tar.gz\` (Qdrant v1.18.3, about an hour on 2 cores):
      apt-get install -y protobuf-compiler clang cmake pkg-config
      tar xzf src.tar.gz && cd src
      CARGO_PROFILE_PERF_OPT_LEVEL=1 CARGO_PROFILE_PERF_DEBUG=0 CARGO_PROFILE_PERF_STRIP=true \\
        cargo build --profile perf --bin qdrant
    then copy target/perf/qdrant to bin/qdrant and write its sha256 to bin/qdrant.sha256.
EOF
}

if [ ! -x "$BIN" ] || [ ! -s "$SUM" ]; then
  if [ -x "$CACHE/current/qdrant" ]; then
    echo "setup-qdrant: source missing; keeping the installed $(readlink -f "$CACHE/current")" >&2
    exit 0
  fi
  how_to_build
  exit 1
fi

want="$(awk '{print $1; exit}' "$SUM")"
got="$(sha256sum "$BIN" | awk '{print $1}')"
if [ "$want" != "$got" ]; then
  echo "setup-qdrant: \`$BIN\` has sha256 $got but \`$SUM\` says $want; refusing to install it" >&2
  exit 1
fi

dest="$CACHE/$want"
if [ ! -x "$dest/qdrant" ] || [ "$(sha256sum "$dest/qdrant" | awk '{print $1}')" != "$want" ]; then
  mkdir -p "$dest"
  cp "$BIN" "$dest/qdrant.tmp"
  chmod 0755 "$dest/qdrant.tmp"
  mv "$dest/qdrant.tmp" "$dest/qdrant"
  echo "setup-qdrant: installed Qdrant server ${want:0:12} into $dest"
fi
ln -sfn "$want" "$CACHE/current"
