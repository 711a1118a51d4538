#!/usr/bin/env python3
"""Checks that deploy/compose.yaml and the rendered Kubernetes base (k8s/) run the same thing.

    scripts/check-deploy-parity.py [--compose deploy/compose.yaml] [--k8s k8s] [--rendered FILE]

For every compose service and its Kubernetes workload container (the table SERVICES below;
each side must have exactly these, init containers aside) it compares:

  1. the image, by repository name (`herd-runtime`; registry, tag and `${VAR:-default}` wrapper
     stripped);
  2. the arguments: compose `command` against Kubernetes `args` (a Kubernetes `command` is an
     error: both must run the image's entrypoint). Compose variables take their defaults
     (the environment is ignored, so the check is deterministic);
  3. the names of the settings variables (plain values, ConfigMap and field references) and,
     separately, of the secret variables (compose: `X_FILE` pointing at a secret means X, plus
     the service's `x-secret-env` list; Kubernetes: secretKeyRef, and envFrom of Secret `herd-S`
     counts as the entry `*S`);
  4. the values of settings both sides set literally (compose default, Kubernetes literal or
     ConfigMap value), except the names in VALUES_MAY_DIFFER.

What is normalised, and nothing else:
  - in URL arguments and values, the host is mapped to its logical service through HOSTS
    (compose `coordinator` and Kubernetes `herd-coordinator` are both "coordinator"); ports,
    paths and schemes are compared as they are;
  - settings that exist on one side only by design: ONLY_K8S / ONLY_COMPOSE below;
  - values of VALUES_MAY_DIFFER (where the mount layout differs).

Exits 1 with one line per difference; 0 with one summary line. Needs PyYAML (installed with
pip when missing) and kubectl or kustomize unless --rendered is given.
"""

import argparse
import os
import re
import shlex
import shutil
import subprocess
import sys

try:
    import yaml
except ImportError:  # install PyYAML once, quietly
    r = subprocess.run([sys.executable, "-m", "pip", "install", "--quiet",
                        "--disable-pip-version-check", "pyyaml"], capture_output=True, text=True)
    if r.returncode != 0:
        sys.exit(f"check-deploy-parity: PyYAML is missing and `pip install pyyaml` failed:\n{r.stderr}")
    import yaml

# compose service -> (Kubernetes kind, workload name, container name)
SERVICES = {
    "coordinator": ("Deployment", "herd-coordinator", "coordinator"),
    "dashboard": ("Deployment", "herd-dashboard", "dashboard"),
    "worker": ("DaemonSet", "herd-worker", "worker"),
    "redis": ("StatefulSet", "redis", "redis"),
    "qdrant": ("StatefulSet", "qdrant", "qdrant"),
}
# host names in URLs -> the logical service
HOSTS = {
    "compose": {"coordinator": "coordinator", "redis": "redis", "qdrant": "qdrant", "dashboard": "dashboard"},
    "k8s": {"herd-coordinator": "coordinator", "redis": "redis", "qdrant": "qdrant", "herd-dashboard": "dashboard"},
}
# settings present on one side only, by design
ONLY_K8S = {
    # the node name: a stable id per worker; compose replicas have no per-replica value
    ("worker", "HERD_WORKER_ID"),
}
ONLY_COMPOSE = set()
# settings whose values may differ (their names must still match)
VALUES_MAY_DIFFER = {
    # the embedder's weights: a read-only bind mount in compose, the data volume in Kubernetes
    ("coordinator", "HERD_MODELS"),
}

problems = []


def problem(msg):
    problems.append(msg)


_VAR = re.compile(r"\$\$|\$\{([A-Za-z_][A-Za-z0-9_]*)(?:(:?[-?+])((?:[^{}]|\{[^{}]*\})*))?\}|\$([A-Za-z_][A-Za-z0-9_]*)")


def interpolate(value):
    """Compose interpolation with every variable unset: `${V:-d}`/`${V-d}` give d."""
    if isinstance(value, str):
        def sub(m):
            if m.group(0) == "$$":
                return "$"
            op, arg = m.group(2), m.group(3)
            if op in (":-", "-"):
                return interpolate(arg or "")
            if op in (":?", "?"):
                return f"<{m.group(1)}>"
            return ""
        return _VAR.sub(sub, value)
    if isinstance(value, list):
        return [interpolate(v) for v in value]
    if isinstance(value, dict):
        return {k: interpolate(v) for k, v in value.items()}
    return value


def repo_of(image):
    image = image.split("@", 1)[0]
    last = image.rsplit("/", 1)[-1]
    return last.split(":", 1)[0]


_URL = re.compile(r"^([a-z][a-z0-9+.-]*://)([^/:]+)(.*)$")


def norm(value, side):
    """Maps the host of a URL to its logical service; other strings stay as they are."""
    value = str(value)
    m = _URL.match(value)
    if m:
        host = HOSTS[side].get(m.group(2), m.group(2))
        return f"{m.group(1)}<{host}>{m.group(3)}"
    return value


def load_k8s(args):
    if args.rendered:
        text = open(args.rendered).read()
    else:
        if shutil.which("kubectl"):
            cmd = ["kubectl", "kustomize", args.k8s]
        elif shutil.which("kustomize"):
            cmd = ["kustomize", "build", args.k8s]
        else:
            sys.exit("check-deploy-parity: needs kubectl or kustomize to render the base (or --rendered FILE)")
        r = subprocess.run(cmd, capture_output=True, text=True)
        if r.returncode != 0:
            sys.exit(f"check-deploy-parity: `{' '.join(cmd)}` failed:\n{r.stderr}")
        text = r.stdout
    return [d for d in yaml.safe_load_all(text) if d]


def k8s_containers(docs):
    out = {}
    for d in docs:
        spec = d.get("spec", {}).get("template", {}).get("spec")
        if not spec:
            continue
        for c in spec.get("containers", []):
            out[(d["kind"], d["metadata"]["name"], c["name"])] = c
    return out


def configmaps(docs):
    return {d["metadata"]["name"]: d.get("data", {}) or {} for d in docs if d.get("kind") == "ConfigMap"}


def compose_env(svc):
    """(settings {name: value}, secret names) of a compose service."""
    env = svc.get("environment") or {}
    if isinstance(env, list):
        env = dict(e.split("=", 1) if "=" in e else (e, None) for e in env)
    secrets_mounted = set()
    for s in svc.get("secrets") or []:
        name = s if isinstance(s, str) else s.get("target") or s.get("source")
        secrets_mounted.add(f"/run/secrets/{name}" if not str(name).startswith("/") else name)
    settings, secret = {}, set()
    for k, v in env.items():
        if k.endswith("_FILE") and isinstance(v, str) and v in secrets_mounted:
            secret.add(k[: -len("_FILE")])
        else:
            settings[k] = v
    secret |= set(svc.get("x-secret-env") or [])
    return settings, secret


def k8s_env(container, cms):
    settings, secret = {}, set()
    for e in container.get("env") or []:
        vf = e.get("valueFrom")
        if vf is None:
            settings[e["name"]] = e.get("value", "")
        elif "secretKeyRef" in vf:
            secret.add(e["name"])
        elif "configMapKeyRef" in vf:
            ref = vf["configMapKeyRef"]
            if ref["name"] not in cms or ref["key"] not in cms[ref["name"]]:
                if not ref.get("optional"):
                    problem(f"k8s: {container['name']}: {e['name']} refers to ConfigMap {ref['name']} key {ref['key']}, which the base does not define")
                settings[e["name"]] = None
            else:
                settings[e["name"]] = cms[ref["name"]][ref["key"]]
        else:  # fieldRef, resourceFieldRef
            settings[e["name"]] = None
    for ef in container.get("envFrom") or []:
        if "secretRef" in ef:
            n = ef["secretRef"]["name"]
            secret.add("*" + (n[len("herd-"):] if n.startswith("herd-") else n))
        elif "configMapRef" in ef:
            for k, v in cms.get(ef["configMapRef"]["name"], {}).items():
                settings[k] = v
    return settings, secret


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    root = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
    ap.add_argument("--compose", default=os.path.join(root, "deploy", "compose.yaml"))
    ap.add_argument("--k8s", default=os.path.join(root, "k8s"))
    ap.add_argument("--rendered", help="an already rendered base (kubectl kustomize k8s > FILE)")
    args = ap.parse_args()

    compose = yaml.safe_load(open(args.compose))
    services = {k: v for k, v in (compose.get("services") or {}).items()}
    docs = load_k8s(args)
    containers = k8s_containers(docs)
    cms = configmaps(docs)

    for name in sorted(set(services) - set(SERVICES)):
        problem(f"compose service `{name}` has no Kubernetes counterpart in SERVICES")
    for key in sorted(set(containers) - set(SERVICES.values())):
        problem(f"Kubernetes {key[0]}/{key[1]} container `{key[2]}` has no compose counterpart in SERVICES")

    for name, key in SERVICES.items():
        svc, c = services.get(name), containers.get(key)
        if svc is None:
            problem(f"compose: no service `{name}`")
        if c is None:
            problem(f"k8s: no {key[0]}/{key[1]} with container `{key[2]}`")
        if svc is None or c is None:
            continue
        svc_i = interpolate(svc)
        # 1. image repository
        ci, ki = repo_of(svc_i.get("image", "")), repo_of(c.get("image", ""))
        if ci != ki:
            problem(f"{name}: image `{ci}` in compose, `{ki}` in Kubernetes")
        # 2. arguments
        if c.get("command"):
            problem(f"{name}: Kubernetes sets `command` {c['command']}; use `args` so the image's entrypoint runs, as in compose")
        if svc_i.get("entrypoint"):
            problem(f"{name}: compose sets `entrypoint`; the Kubernetes side runs the image's")
        cargs = svc_i.get("command") or []
        if isinstance(cargs, str):
            cargs = shlex.split(cargs)
        ca = [norm(a, "compose") for a in cargs]
        ka = [norm(a, "k8s") for a in (c.get("args") or [])]
        if ca != ka:
            problem(f"{name}: arguments differ (hosts normalised)\n    compose:    {ca}\n    kubernetes: {ka}")
        # 3. settings and secret names, 4. values
        cs, csec = compose_env(svc_i)
        ks, ksec = k8s_env(c, cms)
        only_c = {n for n in set(cs) - set(ks) if (name, n) not in ONLY_COMPOSE}
        only_k = {n for n in set(ks) - set(cs) if (name, n) not in ONLY_K8S}
        if only_c:
            problem(f"{name}: settings only in compose: {', '.join(sorted(only_c))}")
        if only_k:
            problem(f"{name}: settings only in Kubernetes: {', '.join(sorted(only_k))}")
        if csec != ksec:
            if csec - ksec:
                problem(f"{name}: secrets only in compose: {', '.join(sorted(csec - ksec))}")
            if ksec - csec:
                problem(f"{name}: secrets only in Kubernetes: {', '.join(sorted(ksec - csec))}")
        for n in sorted(set(cs) & set(ks)):
            if (name, n) in VALUES_MAY_DIFFER or cs[n] is None or ks[n] is None:
                continue
            if norm(cs[n], "compose") != norm(ks[n], "k8s"):
                problem(f"{name}: {n} is `{cs[n]}` in compose (its default), `{ks[n]}` in Kubernetes")

    if problems:
        def show(path):
            rel = os.path.relpath(path)
            return path if rel.startswith("..") else rel
        print(f"check-deploy-parity: {show(args.compose)} and {show(args.rendered or args.k8s)} diverge:", file=sys.stderr)
        for p in problems:
            print(f"  - {p}", file=sys.stderr)
        sys.exit(1)
    print(f"check-deploy-parity: compose and Kubernetes agree on {len(SERVICES)} services "
          "(images, arguments, settings and secret names, setting values)")


if __name__ == "__main__":
    main()
