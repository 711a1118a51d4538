#!/usr/bin/env bash
# Builds herd's sandbox root filesystem from Debian packages, offline from any image registry.
#
#   build-rootfs.sh OUT.tar
#
# Writes a tarball of a lean Debian bookworm (minbase) with Python and the scientific/office
# packages the agents use, a non-root user `herd` (uid 1000) and an empty /workspace. The kernel
# is NOT part of this tarball: herd appends it and `docker import`s the result. herd hashes this
# file (with the kernel source) into the image tag, so any change here yields a new image.
# Needs root, debootstrap and access to a Debian mirror (HERD_DEBIAN_MIRROR) and PyPI (python-pptx,
# which Debian bookworm does not package).
set -euo pipefail

OUT=${1:?usage: build-rootfs.sh OUT.tar}
SUITE=bookworm
MIRROR=${HERD_DEBIAN_MIRROR:-http://deb.debian.org/debian}
PACKAGES=(
  python3 python3-numpy python3-pandas python3-scipy python3-sympy
  python3-openpyxl python3-xlrd python3-docx python3-pdfminer python3-bs4 python3-lxml
  python3-matplotlib python3-requests python3-pil python3-xlsxwriter python3-typing-extensions
  ca-certificates
)
# Not in Debian bookworm: installed from PyPI as a pure-Python wheel (deps come from Debian above).
PYPI_WHEELS=(python-pptx==1.0.2)

if [ "$(id -u)" != 0 ]; then
  echo "build-rootfs.sh: must run as root (debootstrap and chroot need it)" >&2
  exit 1
fi
command -v debootstrap >/dev/null || { echo "build-rootfs.sh: debootstrap is not installed" >&2; exit 1; }

ROOT=$(mktemp -d /tmp/herd-rootfs.XXXXXX)
cleanup() {
  umount "$ROOT/proc" 2>/dev/null || true
  rm -rf "$ROOT"
}
trap cleanup EXIT

echo "[herd] debootstrap $SUITE (minbase) into $ROOT" >&2
debootstrap --variant=minbase "$SUITE" "$ROOT" "$MIRROR" >&2

mount -t proc proc "$ROOT/proc"
cat > "$ROOT/usr/sbin/policy-rc.d" <<'P'
#!/bin/sh
exit 101
P
chmod +x "$ROOT/usr/sbin/policy-rc.d"
echo "[herd] apt-get install ${PACKAGES[*]}" >&2
chroot "$ROOT" env DEBIAN_FRONTEND=noninteractive LC_ALL=C apt-get update >&2
chroot "$ROOT" env DEBIAN_FRONTEND=noninteractive LC_ALL=C \
  apt-get install -y --no-install-recommends "${PACKAGES[@]}" >&2
umount "$ROOT/proc"
rm -f "$ROOT/usr/sbin/policy-rc.d"

PYVER=$(chroot "$ROOT" python3 -c 'import sys; print(f"{sys.version_info[0]}.{sys.version_info[1]}")')
SITE="$ROOT/usr/local/lib/python$PYVER/dist-packages"
mkdir -p "$SITE"
WHEELS=$(mktemp -d)
echo "[herd] fetching ${PYPI_WHEELS[*]} from PyPI" >&2
python3 -m pip download --quiet --no-deps --only-binary=:all: --dest "$WHEELS" "${PYPI_WHEELS[@]}" >&2
for w in "$WHEELS"/*.whl; do
  python3 -m zipfile -e "$w" "$SITE" >&2
done
rm -rf "$WHEELS"
chroot "$ROOT" python3 -m compileall -q "/usr/local/lib/python$PYVER/dist-packages" >&2 || true

# Non-root user and the workspace.
echo 'herd:x:1000:1000:herd sandbox:/workspace:/usr/sbin/nologin' >> "$ROOT/etc/passwd"
echo 'herd:x:1000:' >> "$ROOT/etc/group"
echo 'herd:*:19000:0:99999:7:::' >> "$ROOT/etc/shadow"
mkdir -p "$ROOT/workspace" "$ROOT/opt/herd"
chown 1000:1000 "$ROOT/workspace"

# scipy depends on pythran, which drags in a C++ toolchain, boost and -dev packages that are
# only needed to compile pythran code, never at run time: drop them (forced: dpkg's dependency
# bookkeeping is moot in a read-only image without apt).
BUILD_ONLY=(
  python3-pythran g++ g++-12 gcc gcc-12 cpp cpp-12 libboost-dev libboost1.74-dev libxsimd-dev
  python3-all-dev python3-dev python3.11-dev libpython3-dev libpython3.11-dev libpython3-all-dev
  python3-all libopenblas-dev libopenblas-pthread-dev libblas-dev liblapack-dev libgcc-12-dev
  libstdc++-12-dev libasan8 libtsan2 liblsan0 libubsan1 libhwasan0 libitm1 libcc1-0 binutils
  binutils-common binutils-x86-64-linux-gnu libbinutils libctf0 libctf-nobfd0 libgprofng0
  libc6-dev libc-dev-bin linux-libc-dev libcrypt-dev libnsl-dev libtirpc-dev rpcsvc-proto
  libexpat1-dev zlib1g-dev libisl23 libmpc3 libjs-sphinxdoc libjs-underscore libjs-jquery
)
chroot "$ROOT" dpkg --purge --force-depends "${BUILD_ONLY[@]}" >&2

# Smoke test: every package the agents rely on imports and the BLAS works.
chroot "$ROOT" python3 -c '
import numpy, pandas, scipy, sympy, openpyxl, xlrd, docx, pptx, pdfminer, bs4, lxml, matplotlib, requests
import scipy.optimize, scipy.stats, scipy.linalg, matplotlib.pyplot
assert numpy.allclose(numpy.linalg.inv(numpy.eye(3) * 2), numpy.eye(3) / 2)
' >&2

# Keep it lean.
rm -rf "$ROOT"/var/cache/apt/* "$ROOT"/var/lib/apt/lists/* "$ROOT"/var/log/* \
  "$ROOT"/usr/share/doc/* "$ROOT"/usr/share/man/* "$ROOT"/usr/share/info/* \
  "$ROOT"/usr/share/locale/* "$ROOT"/var/cache/debconf/*-old "$ROOT"/tmp/* "$ROOT"/root/.cache \
  "$ROOT"/usr/include/* "$ROOT"/usr/lib/python3.11/config-3.11-x86_64-linux-gnu

echo "[herd] writing $OUT" >&2
tar -C "$ROOT" --numeric-owner --exclude='./dev/*' --exclude='./proc/*' --exclude='./sys/*' \
  -cf "$OUT.part" .
mv "$OUT.part" "$OUT"
echo "[herd] rootfs done: $(du -h "$OUT" | cut -f1)" >&2
