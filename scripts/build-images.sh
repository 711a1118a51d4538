#!/usr/bin/env bash
# Builds herd's three deployment images offline (no registry pulls), idempotently:
#
#   herd-runtime:<hash>  the `herd` binary, python3, libgomp1, ca-certificates; user herd (10001)
#   herd-redis:<hash>    Debian's redis-server; AOF on, fsync on every write; user herd (10001)
#   herd-qdrant:<hash>   the Qdrant server binary; telemetry off; storage /qdrant/storage; user herd
#
#   scripts/build-images.sh [--force] [runtime] [redis] [qdrant]     # default: all three
#
# How: debootstrap a minimal Debian bookworm root filesystem ONCE (cached as
# $CACHE/base-<hash>.tar, keyed by the hash of BASE_RECIPE below), then per image extract it,
# apt-get install that image's packages in a chroot (cached as $CACHE/stage-<name>-<hash>.tar),
# append the binary (herd / qdrant) and `docker import` with --change for USER, ENTRYPOINT,
# ENV, WORKDIR, EXPOSE. Nothing comes from an image registry: only Debian's apt mirror is used.
#
# Tags: <hash> covers the recipe text of the image (the *_RECIPE variables below and
# RECIPE_VERSION, which must be bumped when the assembly code changes) and the sha256 of the
# binary, so running it again with nothing changed is a no-op (`docker image inspect` first).
# Each image is also tagged `:current`, and $CACHE/tags.env gets lines such as
#   HERD_RUNTIME_IMAGE=herd-runtime:0123456789ab
# (and HERD_DOCKER_GID, the group of this host's /var/run/docker.sock, which the workers join)
# for `docker compose --env-file` (see deploy/compose.yaml and docs/deploy.md).
#
# Inputs (environment):
#   HERD_BIN          the herd binary (default ${CARGO_TARGET_DIR:-$HOME/.cache/herd/target}/debug/herd)
#   HERD_QDRANT_BIN   the Qdrant binary (default $HERD_CACHE_DIR/qdrant/current/qdrant; installed
#                     by scripts/setup-qdrant.sh when missing)
#   HERD_CACHE_DIR    cache root (default ~/.cache/herd); images cache in $HERD_CACHE_DIR/images
#   HERD_DEBIAN_MIRROR, HERD_DEBIAN_SECURITY_MIRROR   apt mirrors (default deb.debian.org)
#   HERD_IMAGES_STRIP=0   keep debug info in the copied binaries (default: strip --strip-debug)
# To pick up Debian security updates: delete $CACHE/base-*.tar and $CACHE/stage-*.tar and run
# with --force.
#
# Needs root (debootstrap, chroot), debootstrap, tar, docker. Quiet: one line per image.
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
CACHE_ROOT="${HERD_CACHE_DIR:-$HOME/.cache/herd}"
CACHE="$CACHE_ROOT/images"
HERD_BIN="${HERD_BIN:-${CARGO_TARGET_DIR:-$HOME/.cache/herd/target}/debug/herd}"
QDRANT_BIN="${HERD_QDRANT_BIN:-$CACHE_ROOT/qdrant/current/qdrant}"
MIRROR="${HERD_DEBIAN_MIRROR:-http://deb.debian.org/debian}"
SECURITY_MIRROR="${HERD_DEBIAN_SECURITY_MIRROR:-http://deb.debian.org/debian-security}"
STRIP="${HERD_IMAGES_STRIP:-1}"
# Bump when the assembly below (not the recipe texts: those are hashed) changes.
RECIPE_VERSION="herd-images-v1"

usage() { sed -n '2,12p' "$0" | sed 's/^# \{0,1\}//'; }
force=0
wanted=()
for arg in "$@"; do
  case "$arg" in
    --force) force=1 ;;
    -h|--help) usage; exit 0 ;;
    runtime|redis|qdrant) wanted+=("$arg") ;;
    *) echo "build-images: unknown argument \`$arg\` (expected --force, runtime, redis, qdrant)" >&2; exit 2 ;;
  esac
done
[ "${#wanted[@]}" -gt 0 ] || wanted=(redis qdrant runtime)

# ---------------------------------------------------------------------------------------------
# Recipes. Their text is hashed into the tags: edit them and the images are rebuilt.

# The shared base: run as `bash base.sh OUT.tar MIRROR SECURITY_MIRROR`.
BASE_RECIPE='
set -euo pipefail
OUT=$1; MIRROR=$2; SECURITY=$3
ROOT=$(mktemp -d /tmp/herd-base.XXXXXX)
cleanup() { umount "$ROOT/proc" 2>/dev/null || true; rm -rf --one-file-system "$ROOT"; }
trap cleanup EXIT
debootstrap --variant=minbase bookworm "$ROOT" "$MIRROR"
cat > "$ROOT/etc/apt/sources.list" <<EOF
deb $MIRROR bookworm main
deb $MIRROR bookworm-updates main
deb $SECURITY bookworm-security main
EOF
printf "#!/bin/sh\nexit 101\n" > "$ROOT/usr/sbin/policy-rc.d"; chmod +x "$ROOT/usr/sbin/policy-rc.d"
mount -t proc proc "$ROOT/proc"
chroot "$ROOT" env DEBIAN_FRONTEND=noninteractive LC_ALL=C apt-get update
chroot "$ROOT" env DEBIAN_FRONTEND=noninteractive LC_ALL=C apt-get -y upgrade
chroot "$ROOT" apt-get clean
umount "$ROOT/proc"
tar -C "$ROOT" --numeric-owner --exclude=./proc/* --exclude=./sys/* -cf "$OUT.part" .
mv "$OUT.part" "$OUT"
'

# Shared by the image recipes below (they run as `bash stage.sh ROOT` on an extracted base,
# /proc mounted, policy-rc.d in place).
PRELUDE='
set -euo pipefail
ROOT=$1
apt_install() {
  chroot "$ROOT" env DEBIAN_FRONTEND=noninteractive LC_ALL=C apt-get update
  chroot "$ROOT" env DEBIAN_FRONTEND=noninteractive LC_ALL=C \
    apt-get install -y --no-install-recommends "$@"
}
add_user() {  # the non-root user every image runs as: herd, 10001:10001, home $1
  echo "herd:x:10001:10001:herd:$1:/usr/sbin/nologin" >> "$ROOT/etc/passwd"
  echo "herd:x:10001:" >> "$ROOT/etc/group"
  echo "herd:*:19000:0:99999:7:::" >> "$ROOT/etc/shadow"
}
# env-from-files CMD ARGS…: for every VAR_FILE in the environment whose VAR is unset or empty,
# exports VAR with the content of that file (a mounted secret), then runs CMD.
install_env_from_files() {
  cat > "$ROOT/usr/local/bin/env-from-files" <<"EOF"
#!/bin/sh
set -eu
file=""; cur=""
for name in $(env | sed -n "s/^\([A-Za-z_][A-Za-z0-9_]*\)_FILE=.*/\1/p"); do
  eval "file=\${${name}_FILE}"
  eval "cur=\${${name}:-}"
  unset "${name}_FILE"
  [ -z "$cur" ] || continue
  if [ ! -r "$file" ]; then
    echo "env-from-files: ${name}_FILE names \`$file\`, which is not a readable file" >&2
    exit 1
  fi
  val=$(cat "$file")
  export "$name=$val"
done
exec "$@"
EOF
  chmod 0755 "$ROOT/usr/local/bin/env-from-files"
}
slim() {
  chroot "$ROOT" apt-get clean
  rm -rf "$ROOT"/var/lib/apt/lists/* "$ROOT"/var/cache/apt/* "$ROOT"/var/log/* \
    "$ROOT"/usr/share/doc/* "$ROOT"/usr/share/man/* "$ROOT"/usr/share/info/* \
    "$ROOT"/usr/share/locale/* "$ROOT"/var/cache/debconf/*-old "$ROOT"/tmp/* "$ROOT"/root/.cache
}
'

RUNTIME_RECIPE='
apt_install python3 libgomp1 ca-certificates
add_user /data
# /data/sweeps: where the coordinator writes sweeps; present so a fresh volume has it and the
# dashboard (which mounts it read-only) lists no error before the first sweep.
install -d -o 10001 -g 10001 -m 0750 "$ROOT/data" "$ROOT/data/sweeps"
install -d -m 0755 "$ROOT/models"
install_env_from_files
# herd-healthcheck: probes for container health checks (the image has no curl):
#   grpc HOST:PORT [SERVICE]   the standard gRPC health service answers SERVING (h2c)
#   http URL                   GET answers 2xx
#   docker [SOCKET]            the Docker engine behind the socket answers /_ping
cat > "$ROOT/usr/local/bin/herd-healthcheck" <<"EOF"
#!/usr/bin/python3
import socket, struct, sys, urllib.request

def fail(msg):
    print(f"herd-healthcheck: {msg}", file=sys.stderr)
    sys.exit(1)

def hpack_int(n, prefix=7):
    top = (1 << prefix) - 1
    if n < top:
        return bytes([n])
    out, n = [top], n - top
    while n >= 128:
        out.append((n & 127) | 128)
        n >>= 7
    return bytes(out + [n])

def lit(name, value):  # literal header field, not indexed, new name, no Huffman
    return b"\x00" + hpack_int(len(name)) + name + hpack_int(len(value)) + value

def frame(kind, flags, stream, payload):
    return struct.pack(">I", len(payload))[1:] + bytes([kind, flags]) + struct.pack(">I", stream) + payload

def grpc(addr, service=""):
    host, _, port = addr.rpartition(":")
    s = socket.create_connection((host, int(port)), timeout=3)
    s.settimeout(3)
    svc = service.encode()
    msg = (b"\x0a" + hpack_int(len(svc)) + svc) if svc else b""  # HealthCheckRequest.service
    headers = b"".join([
        lit(b":method", b"POST"), lit(b":scheme", b"http"),
        lit(b":path", b"/grpc.health.v1.Health/Check"), lit(b":authority", addr.encode()),
        lit(b"content-type", b"application/grpc"), lit(b"te", b"trailers"),
    ])
    s.sendall(b"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n" + frame(4, 0, 0, b"")
              + frame(1, 4, 1, headers) + frame(0, 1, 1, b"\x00" + struct.pack(">I", len(msg)) + msg))
    buf, body = b"", b""
    def read(n):
        nonlocal buf
        while len(buf) < n:
            chunk = s.recv(65536)
            if not chunk:
                fail(f"{addr} closed the connection")
            buf += chunk
        out, buf = buf[:n], buf[n:]
        return out
    while True:
        head = read(9)
        length = int.from_bytes(head[:3], "big")
        kind, flags, stream = head[3], head[4], int.from_bytes(head[5:9], "big") & 0x7FFFFFFF
        payload = read(length)
        if kind == 4 and not flags & 1:
            s.sendall(frame(4, 1, 0, b""))  # SETTINGS ack
        elif kind == 6 and not flags & 1:
            s.sendall(frame(6, 1, 0, payload))  # PING ack
        elif kind == 7:
            fail(f"{addr} sent GOAWAY")
        elif stream == 1 and kind == 3:
            fail(f"{addr} reset the health call")
        elif stream == 1 and kind == 0:
            body += payload
        if stream == 1 and kind in (0, 1) and flags & 1:
            break
    # HealthCheckResponse{status: SERVING = 1} is 08 01 after the 5-byte gRPC prefix.
    if body[5:7] != b"\x08\x01":
        got = body.hex() or "empty"
        fail(f"{addr} is not SERVING (response {got})")

def http(url):
    try:
        with urllib.request.urlopen(url, timeout=3) as r:
            if not 200 <= r.status < 300:
                fail(f"{url} answered {r.status}")
    except Exception as e:
        fail(f"{url}: {e}")

def docker(path="/var/run/docker.sock"):
    s = socket.socket(socket.AF_UNIX)
    s.settimeout(3)
    try:
        s.connect(path)
        s.sendall(b"GET /_ping HTTP/1.0\r\nHost: docker\r\n\r\n")
        status = s.recv(4096).split(b"\r\n", 1)[0]
    except OSError as e:
        fail(f"docker socket {path}: {e}")
    if b" 200 " not in status + b" ":
        fail(f"docker socket {path} answered {status!r}")

if __name__ == "__main__":
    a = sys.argv[1:]
    try:
        if a and a[0] == "grpc" and len(a) in (2, 3):
            grpc(*a[1:])
        elif a and a[0] == "http" and len(a) == 2:
            http(a[1])
        elif a and a[0] == "docker" and len(a) in (1, 2):
            docker(*a[1:])
        else:
            fail("usage: herd-healthcheck grpc HOST:PORT [SERVICE] | http URL | docker [SOCKET]")
    except (OSError, ValueError) as e:
        fail(str(e))
EOF
chmod 0755 "$ROOT/usr/local/bin/herd-healthcheck"
slim
'
# shellcheck disable=SC2034  # used through a nameref in build_image
RUNTIME_CHANGES=(
  'USER 10001:10001'
  'WORKDIR /data'
  'ENV PATH=/usr/local/bin:/usr/bin:/bin LANG=C.UTF-8 HOME=/data HERD_MODELS=/models'
  'ENTRYPOINT ["/usr/local/bin/env-from-files", "/usr/local/bin/herd"]'
  'CMD ["--help"]'
  'EXPOSE 7700 7780'
)

REDIS_RECIPE='
apt_install redis-server
add_user /data
install -d -o 10001 -g 10001 -m 0750 "$ROOT/data"
cat > "$ROOT/etc/redis/herd.conf" <<"EOF"
# herd: the coordinator state store (every change is acknowledged only once written), the
# workers shared LLM response cache and rate limits. Arguments after the file override it.
bind * -::*
port 6379
protected-mode no
daemonize no
supervised no
logfile ""
dir /data
appendonly yes
appendfsync always
appenddirname appendonlydir
EOF
chmod 0644 "$ROOT/etc/redis/herd.conf"
# Debian ships /etc/redis as 2750 redis:redis: the herd user must read its file.
chown root:root "$ROOT/etc/redis"; chmod 0755 "$ROOT/etc/redis"
slim
'
# shellcheck disable=SC2034
REDIS_CHANGES=(
  'USER 10001:10001'
  'WORKDIR /data'
  'ENV PATH=/usr/local/bin:/usr/bin:/bin LANG=C.UTF-8'
  'ENTRYPOINT ["redis-server", "/etc/redis/herd.conf"]'
  'EXPOSE 6379'
)

QDRANT_RECIPE='
apt_install ca-certificates
add_user /qdrant
install -d -o 10001 -g 10001 -m 0750 "$ROOT/qdrant" "$ROOT/qdrant/storage" "$ROOT/qdrant/snapshots"
install_env_from_files
# qdrant-healthcheck: GET http://127.0.0.1:6333/readyz answers 200 (bash /dev/tcp; no curl here).
cat > "$ROOT/usr/local/bin/qdrant-healthcheck" <<"EOF"
#!/bin/bash
set -eu
port=${QDRANT__SERVICE__HTTP_PORT:-6333}
exec 3<>"/dev/tcp/127.0.0.1/$port"
printf "GET /readyz HTTP/1.0\r\nHost: localhost\r\n\r\n" >&3
read -r -t 3 _ code _ <&3
[ "$code" = 200 ] || { echo "qdrant-healthcheck: /readyz answered ${code:-nothing}" >&2; exit 1; }
EOF
chmod 0755 "$ROOT/usr/local/bin/qdrant-healthcheck"
slim
'
# shellcheck disable=SC2034
QDRANT_CHANGES=(
  'USER 10001:10001'
  'WORKDIR /qdrant'
  'ENV PATH=/usr/local/bin:/usr/bin:/bin LANG=C.UTF-8 QDRANT__TELEMETRY_DISABLED=true QDRANT__SERVICE__HOST=0.0.0.0 QDRANT__SERVICE__ENABLE_STATIC_CONTENT=false QDRANT__STORAGE__STORAGE_PATH=/qdrant/storage QDRANT__STORAGE__SNAPSHOTS_PATH=/qdrant/snapshots QDRANT_INIT_FILE_PATH=/qdrant/storage/.qdrant-initialized'
  'ENTRYPOINT ["/usr/local/bin/env-from-files", "/usr/local/bin/qdrant"]'
  'EXPOSE 6333 6334'
)

# ---------------------------------------------------------------------------------------------

die() { echo "build-images: $*" >&2; exit 1; }

sha12() {  # hash of its arguments, each length-delimited
  { for p in "$@"; do printf '%s:%s\n' "${#p}" "$p"; done; } | sha256sum | cut -c1-12
}

if [ "$(id -u)" != 0 ]; then die "must run as root (debootstrap and chroot need it)"; fi
for tool in tar docker sha256sum flock; do
  command -v "$tool" >/dev/null 2>&1 || die "missing required tool: $tool"
done
docker info >/dev/null 2>&1 || die "the Docker engine is not answering; start it first"
mkdir -p "$CACHE/logs"
exec 9>"$CACHE/.lock"
flock 9

BASE_HASH="$(sha12 "$BASE_RECIPE")"
BASE_TAR="$CACHE/base-$BASE_HASH.tar"

# Runs `bash SCRIPT ARGS…` with its output in LOG; on failure prints the log's tail and exits.
run_logged() {
  local log=$1; shift
  if ! "$@" >>"$log" 2>&1; then
    echo "build-images: \`$*\` failed; the last lines of $log:" >&2
    tail -n 25 "$log" >&2
    exit 1
  fi
}

ensure_base() {
  [ -s "$BASE_TAR" ] && return 0
  if ! command -v debootstrap >/dev/null 2>&1; then
    run_logged "$CACHE/logs/base-$BASE_HASH.log" apt-get update -qq
    run_logged "$CACHE/logs/base-$BASE_HASH.log" env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq debootstrap
  fi
  local script="$CACHE/base-$BASE_HASH.sh" log="$CACHE/logs/base-$BASE_HASH.log"
  printf '%s' "$BASE_RECIPE" > "$script"
  : > "$log"
  run_logged "$log" bash "$script" "$BASE_TAR" "$MIRROR" "$SECURITY_MIRROR"
  find "$CACHE" -maxdepth 1 -name "base-*" ! -name "base-$BASE_HASH.*" -delete
}

# ensure_stage NAME RECIPE → prints the path of the cached stage tarball (base + packages).
ensure_stage() {
  local name=$1 recipe=$2 hash tar script log root
  hash="$(sha12 "$RECIPE_VERSION" "$BASE_RECIPE" "$PRELUDE" "$recipe")"
  tar="$CACHE/stage-$name-$hash.tar"
  if [ ! -s "$tar" ]; then
    ensure_base
    script="$CACHE/stage-$name-$hash.sh"
    log="$CACHE/logs/stage-$name-$hash.log"
    printf '%s\n%s' "$PRELUDE" "$recipe" > "$script"
    : > "$log"
    root="$(mktemp -d /tmp/herd-stage.XXXXXX)"
    # shellcheck disable=SC2064
    trap "umount '$root/proc' 2>/dev/null || true; rm -rf --one-file-system '$root'" EXIT
    run_logged "$log" tar -C "$root" --numeric-owner -xf "$BASE_TAR"
    mount -t proc proc "$root/proc"
    run_logged "$log" bash "$script" "$root"
    umount "$root/proc"
    rm -f "$root/usr/sbin/policy-rc.d"
    run_logged "$log" tar -C "$root" --numeric-owner --exclude=./dev/* --exclude=./proc/* \
      --exclude=./sys/* -cf "$tar.part" .
    mv "$tar.part" "$tar"
    rm -rf --one-file-system "$root"
    trap - EXIT
    # Older stages of this image are dead weight (their recipe changed).
    find "$CACHE" -maxdepth 1 -name "stage-$name-*" ! -name "stage-$name-$hash.*" -delete
  fi
  printf '%s' "$tar"
}

WORK_DIRS=()
trap 'rm -rf "${WORK_DIRS[@]}"' EXIT

TAGS_FILE="$CACHE/tags.env"
record_tag() {  # record_tag VAR TAG: updates $TAGS_FILE
  local var=$1 tag=$2 tmp
  tmp="$(mktemp "$CACHE/.tags.XXXXXX")"
  { [ -f "$TAGS_FILE" ] && grep -v "^$var=" "$TAGS_FILE" || true; echo "$var=$tag"; } | sort > "$tmp"
  chmod 0644 "$tmp"
  mv "$tmp" "$TAGS_FILE"
}

# build_image NAME REPO VAR RECIPE CHANGES_ARRAY_NAME BIN_SRC BIN_DEST SMOKE…
build_image() {
  local name=$1 repo=$2 var=$3 recipe=$4 changes_name=$5 bin=$6 bin_dest=$7
  shift 7
  local -n changes="$changes_name"
  local bin_sum="" start hash tag stage work log
  start=$SECONDS
  work="$(mktemp -d "$CACHE/work-$name.XXXXXX")"
  WORK_DIRS+=("$work")
  if [ -n "$bin" ]; then
    # A private copy: the binary may be rebuilt while this runs; hash and ship the same bytes.
    install -D -m 0755 "$bin" "$work/root$bin_dest"
    bin_sum="$(sha256sum "$work/root$bin_dest" | cut -d' ' -f1)"
  fi
  hash="$(sha12 "$RECIPE_VERSION" "$BASE_RECIPE" "$PRELUDE" "$recipe" "${changes[*]}" "$bin_dest" "$bin_sum" "strip=$STRIP")"
  tag="$repo:$hash"
  log="$CACHE/logs/$name-$hash.log"
  if [ "$force" = 0 ] && docker image inspect "$tag" >/dev/null 2>&1; then
    docker tag "$tag" "$repo:current"
    record_tag "$var" "$tag"
    echo "$tag up to date"
    rm -rf "$work"
    return 0
  fi
  stage="$(ensure_stage "$name" "$recipe")"
  : > "$log"
  local final="$stage"
  if [ -n "$bin" ]; then
    final="$work/rootfs.tar"
    cp "$stage" "$final"
    if [ "$STRIP" = 1 ] && command -v strip >/dev/null 2>&1; then
      run_logged "$log" strip --strip-debug "$work/root$bin_dest"
    fi
    run_logged "$log" tar -rf "$final" -C "$work/root" --owner=0 --group=0 --numeric-owner ".$bin_dest"
  fi
  local args=()
  for c in "${changes[@]}"; do args+=(--change "$c"); done
  args+=(--change "LABEL herd.recipe=$hash herd.image=$name" --message "herd $name ($RECIPE_VERSION)")
  run_logged "$log" docker import "${args[@]}" "$final" "$tag"
  rm -rf "$work"
  # Smoke test: the image's program starts (catches a missing shared library).
  if ! docker run --rm --network none --entrypoint "$1" "$tag" "${@:2}" >>"$log" 2>&1; then
    docker image rm "$tag" >/dev/null 2>&1 || true
    echo "build-images: $tag does not start \`$*\`; the last lines of $log:" >&2
    tail -n 25 "$log" >&2
    exit 1
  fi
  docker tag "$tag" "$repo:current"
  record_tag "$var" "$tag"
  echo "$tag built ($((SECONDS - start)) s)"
}

# The group owning this host's Docker socket: the workers (uid 10001) join it to start sandboxes.
if [ -S /var/run/docker.sock ]; then
  record_tag HERD_DOCKER_GID "$(stat -c %g /var/run/docker.sock)"
fi

status=0
for name in "${wanted[@]}"; do
  case "$name" in
    redis)
      build_image redis herd-redis HERD_REDIS_IMAGE "$REDIS_RECIPE" REDIS_CHANGES "" "" \
        redis-server --version
      ;;
    qdrant)
      if [ ! -x "$QDRANT_BIN" ]; then
        if [ -z "${HERD_QDRANT_BIN:-}" ]; then
          "$here/setup-qdrant.sh" >&2 || die "no Qdrant binary at $QDRANT_BIN (see above)"
        fi
        [ -x "$QDRANT_BIN" ] || die "no Qdrant binary at \`$QDRANT_BIN\` (run scripts/setup-qdrant.sh or set HERD_QDRANT_BIN)"
      fi
      build_image qdrant herd-qdrant HERD_QDRANT_IMAGE "$QDRANT_RECIPE" QDRANT_CHANGES \
        "$(readlink -f "$QDRANT_BIN")" /usr/local/bin/qdrant /usr/local/bin/qdrant --version
      ;;
    runtime)
      if [ ! -x "$HERD_BIN" ]; then
        echo "build-images: no herd binary at \`$HERD_BIN\`: build it (\`cargo build -p herd\`) or set HERD_BIN" >&2
        status=1
        continue
      fi
      build_image runtime herd-runtime HERD_RUNTIME_IMAGE "$RUNTIME_RECIPE" RUNTIME_CHANGES \
        "$(readlink -f "$HERD_BIN")" /usr/local/bin/herd /usr/local/bin/herd --version
      ;;
  esac
done
exit "$status"
