#!/usr/bin/env bash
# Opt-in: registers gVisor (`runsc`, Debian's package) with the local Docker engine as the
# runtime `runsc`, so sweeps can set `sandbox.runtime = "runsc"` for a second wall around
# agent code. Idempotent: installs the package when missing, adds the runtime to
# /etc/docker/daemon.json (keeping every other setting), and reloads the engine's
# configuration with SIGHUP (running containers are not touched). Then it runs one container
# under runsc to prove it works.
#
#   scripts/setup-runsc.sh              # platform ptrace (works on VMs without KVM)
# Containers under this runtime have no network at all (herd's sandboxes have none).
#   HERD_RUNSC_PLATFORM=systrap scripts/setup-runsc.sh
set -euo pipefail
PLATFORM="${HERD_RUNSC_PLATFORM:-ptrace}"
CONF=/etc/docker/daemon.json

if ! command -v runsc >/dev/null 2>&1; then
  if ! { apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq runsc; } >/tmp/setup-runsc.log 2>&1; then
    cat /tmp/setup-runsc.log >&2
    echo "setup-runsc: could not install Debian's runsc package (see above)" >&2
    exit 1
  fi
fi
RUNSC="$(command -v runsc)"

python3 - "$CONF" "$RUNSC" "$PLATFORM" <<'EOF'
import json, os, sys
path, runsc, platform = sys.argv[1:]
conf = {}
if os.path.exists(path):
    with open(path) as f:
        text = f.read().strip()
    conf = json.loads(text) if text else {}
# --network=none: gVisor refuses Docker's `none` network on these machines ("cannot run with
# network enabled in root network namespace"); herd's sandboxes have no network anyway.
want = {"path": runsc, "runtimeArgs": [f"--platform={platform}", "--network=none"]}
runtimes = conf.setdefault("runtimes", {})
if runtimes.get("runsc") == want:
    sys.exit(0)
runtimes["runsc"] = want
tmp = path + ".herd-tmp"
with open(tmp, "w") as f:
    json.dump(conf, f, indent=2)
os.replace(tmp, path)
print(f"setup-runsc: registered runsc ({platform}) in {path}")
EOF

loaded() {
  docker info --format '{{json .Runtimes}}' | python3 -c '
import json, sys
r = json.load(sys.stdin).get("runsc") or {}
sys.exit(0 if "--network=none" in r.get("runtimeArgs", []) else 1)'
}

if ! loaded; then
  pid="$(pidof dockerd || true)"
  if [ -z "$pid" ]; then
    echo "setup-runsc: dockerd is not running; start it to load $CONF" >&2
    exit 1
  fi
  kill -HUP $pid
  for _ in $(seq 1 50); do
    loaded && break
    sleep 0.2
  done
fi
if ! loaded; then
  echo "setup-runsc: the Docker engine did not load the runsc runtime from $CONF" >&2
  exit 1
fi

# Prove it: a container under runsc reports gVisor's kernel in dmesg.
image="$(docker images --format '{{.Repository}}:{{.Tag}}' 'herd-sandbox' | head -n1)"
if [ -n "$image" ]; then
  if ! out="$(docker run --rm --runtime runsc --network none "$image" python3 -c 'print(open("/proc/version").read())' 2>&1)"; then
    echo "$out" >&2
    echo "setup-runsc: a container under runsc failed to start (see above)" >&2
    exit 1
  fi
fi
echo "setup-runsc: runsc ($PLATFORM) ready"
