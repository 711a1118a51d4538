#!/usr/bin/env bash
# Renders herd's kustomize base (k8s/) and validates every document against the Kubernetes
# OpenAPI schemas with `kubernetes-validate --strict` (unknown fields are errors), for each
# Kubernetes version in HERD_K8S_VERSIONS (default "1.31.0 1.37.0": the oldest we claim and
# the newest the pinned validator knows). Installs kubernetes-validate (pinned) with pip when
# missing. Needs kubectl (for `kubectl kustomize`) or kustomize. Quiet when green: one line.
#
#   scripts/check-k8s.sh [DIR]        # default DIR: k8s
set -euo pipefail
cd "$(dirname "$0")/.."
DIR="${1:-k8s}"
VALIDATOR_VERSION="${HERD_KUBERNETES_VALIDATE_VERSION:-1.37.0}"
VERSIONS="${HERD_K8S_VERSIONS:-1.31.0 1.37.0}"

have="$(python3 -c 'import kubernetes_validate; print(kubernetes_validate.__version__)' 2>/dev/null || true)"
if [ "$have" != "$VALIDATOR_VERSION" ]; then
  log="$(mktemp)"
  if ! python3 -m pip install --quiet --disable-pip-version-check "kubernetes-validate==$VALIDATOR_VERSION" >"$log" 2>&1; then
    cat "$log" >&2
    echo "check-k8s: could not install kubernetes-validate==$VALIDATOR_VERSION (see above)" >&2
    exit 1
  fi
  rm -f "$log"
fi

if ! command -v kubectl >/dev/null 2>&1 && ! command -v kustomize >/dev/null 2>&1; then
  # Debian's kubectl has kustomize built in.
  if ! { apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq kubectl; } >/dev/null 2>&1; then
    echo "check-k8s: kubectl is missing and \`apt-get install kubectl\` failed; install kubectl (or kustomize)" >&2
    exit 1
  fi
fi

rendered="$(mktemp)"
trap 'rm -f "$rendered"' EXIT
if command -v kubectl >/dev/null 2>&1; then
  render=(kubectl kustomize "$DIR")
elif command -v kustomize >/dev/null 2>&1; then
  render=(kustomize build "$DIR")
else
  echo "check-k8s: needs kubectl (or kustomize) to render $DIR" >&2
  exit 1
fi
if ! "${render[@]}" >"$rendered" 2>"$rendered.err"; then
  cat "$rendered.err" >&2
  rm -f "$rendered.err"
  echo "check-k8s: \`${render[*]}\` failed (see above)" >&2
  exit 1
fi
rm -f "$rendered.err"

python3 - "$rendered" "$DIR" $VERSIONS <<'EOF'
import sys
import yaml
import kubernetes_validate as kv

path, root, versions = sys.argv[1], sys.argv[2], sys.argv[3:]
docs = [d for d in yaml.safe_load_all(open(path)) if d is not None]
if not docs:
    sys.exit(f"check-k8s: `kubectl kustomize {root}` rendered no documents")
failures = 0
for version in versions:
    for i, doc in enumerate(docs, 1):
        name = f"{doc.get('kind', '?')}/{doc.get('metadata', {}).get('name', '?')}"
        try:
            kv.validate(doc, version, strict=True)
        except kv.ValidationError as e:
            failures += 1
            where = ".".join(str(p) for p in e.path) or "(top level)"
            print(f"check-k8s: {name} (document {i}) is invalid for Kubernetes {version}:\n"
                  f"  at {where}: {e.message}", file=sys.stderr)
            print("  the document:\n" + "\n".join("    " + l for l in yaml.safe_dump(doc, sort_keys=False).splitlines()), file=sys.stderr)
        except (kv.SchemaNotFoundError, kv.InvalidSchemaError) as e:
            failures += 1
            print(f"check-k8s: {name} (document {i}), Kubernetes {version}: {e.message}", file=sys.stderr)
        except Exception as e:  # e.g. VersionNotSupportedError
            sys.exit(f"check-k8s: cannot validate for Kubernetes {version}: {getattr(e, 'message', e)}")
if failures:
    sys.exit(f"check-k8s: {failures} invalid document(s) in {root}")
print(f"check-k8s: {len(docs)} documents in {root} valid (strict) for Kubernetes {', '.join(versions)}")
EOF
