#!/usr/bin/env bash
# The whole test suite, on a fresh machine: setup (idempotent), build, then every test of
# every crate (unit tests, cross-process tests with real herd processes, Docker, Redis).
set -euo pipefail
cd "$(dirname "$0")/.."
export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-$HOME/.cache/herd/target}"
export HERD_CACHE_DIR="${HERD_CACHE_DIR:-$HOME/.cache/herd}"
export CARGO_TERM_COLOR=never
# Benchmark data: the local copies beside the clone (CI puts ../shared there). With
# HERD_DATASETS_DIR set, benchmarks without a `source` load from it and never use the network;
# the hub tests run against a local server in the hub's layout. No test needs Hugging Face.
export HERD_DATASETS_DIR="${HERD_DATASETS_DIR:-$(cd .. && pwd)/shared/datasets}"

scripts/setup.sh
# The quickstart's backbone, for the test that runs the main job (tests/tests/quickstart.rs).
scripts/fetch-models.sh qwen2.5-coder-1.5b
# The deployments: the kustomize base renders and validates; compose and k8s agree.
scripts/check-k8s.sh
python3 scripts/check-deploy-parity.py
cargo build --workspace --all-targets --locked
cargo nextest --version >/dev/null 2>&1 || cargo install --locked cargo-nextest
cargo nextest run --workspace --locked --no-fail-fast --test-threads 2
# The Docker isolation suite again under gVisor (scripts/setup-runsc.sh registers it).
scripts/setup-runsc.sh
HERD_TEST_SANDBOX_RUNTIME=runsc cargo nextest run --workspace --locked --no-fail-fast \
  --test-threads 2 -E 'package(herd-sandbox) & binary(docker)'
