#!/usr/bin/python3
"""Checks the deployment manifests without a cluster or a Docker engine.

deploy/k8s/ (kubectl apply -k):
  - every file is YAML whose documents have apiVersion, kind and a name, and
    kustomization.yaml lists exactly the other files;
  - the Deployment runs one coordinator (Recreate), as uid 10001 (the
    Dockerfile's USER), non-root, read-only root, no privilege escalation,
    no capabilities, RuntimeDefault seccomp;
  - its readiness and start-up probes run cohort-healthcheck (gRPC health
    over mTLS) and it has a liveness probe;
  - every mount has a volume; every ConfigMap and claim it uses is defined
    here, and every Secret is one kustomization.yaml tells the operator to
    make; the PostgreSQL connection comes from a Secret;
  - the ConfigMap's server.textproto is a valid cohort.v1.ServerConfig
    (protoc --encode), every path in it and in COHORT_HEALTH_* is under a
    mount, and its ports are the container's and the Service's.
docker/compose.yaml:
  - services postgres, coordinator, agent-*, prometheus; every secret and
    config a service uses is defined, config files exist and textprotos are
    valid; every /run/secrets path a config or command names is mounted in
    that service; agents disable the image's health check, the coordinator
    keeps it; Prometheus scrapes the coordinator's metrics port.

Exit 0 when everything holds; otherwise prints each failure and exits 1.
Usage: tests/deploy/check_manifests.py [REPO_ROOT]
"""

import os
import re
import subprocess
import sys

import yaml

ROOT = os.path.abspath(sys.argv[1] if len(sys.argv) > 1 else
                       os.path.join(os.path.dirname(__file__), "..", ".."))
K8S = os.path.join(ROOT, "deploy", "k8s")
COMPOSE = os.path.join(ROOT, "docker", "compose.yaml")
failures = []


def check(ok, what):
    if not ok:
        failures.append(what)
    return ok


def load_all(path):
    with open(path) as f:
        return [d for d in yaml.safe_load_all(f) if d is not None]


def textproto_errors(text, message):
    """protoc's complaint about `text` as a cohort.v1.<message>, or ''."""
    result = subprocess.run(
        ["protoc", "-I" + os.path.join(ROOT, "proto"),
         "--encode=cohort.v1." + message,
         os.path.join(ROOT, "proto", "cohort", "v1", "config.proto")],
        input=text.encode(), capture_output=True)
    return "" if result.returncode == 0 else result.stderr.decode().strip()


def textproto_paths(text):
    """Every absolute path in a textproto's *_path, *_dir and directory fields."""
    return re.findall(r'\b\w*(?:_path|_dir|directory)\s*:\s*"(/[^"]*)"', text)


def textproto_ports(text):
    """listen_address ports by the message they are in ('' for the top)."""
    ports, stack = {}, []
    for line in text.splitlines():
        line = line.split("#")[0]
        for m in re.finditer(r'(\w+)\s*\{|\}|listen_address\s*:\s*"[^"]*:(\d+)"',
                             line):
            if m.group(1):
                stack.append(m.group(1))
            elif m.group(2):
                ports[stack[-1] if stack else ""] = int(m.group(2))
            elif stack:
                stack.pop()
    return ports


def under(path, mounts):
    return any(path == m or path.startswith(m.rstrip("/") + "/") for m in mounts)


def dockerfile_user():
    with open(os.path.join(ROOT, "docker", "Dockerfile")) as f:
        users = re.findall(r"^USER\s+(\S+)", f.read(), re.M)
    return users[-1] if users else ""


# ---------------------------------------------------------------- Kubernetes

def k8s_documents():
    docs = {}
    files = sorted(f for f in os.listdir(K8S) if f.endswith((".yaml", ".yml")))
    for name in files:
        try:
            docs[name] = load_all(os.path.join(K8S, name))
        except yaml.YAMLError as e:
            check(False, f"deploy/k8s/{name}: not YAML: {e}")
            docs[name] = []
    for name, ds in docs.items():
        check(ds, f"deploy/k8s/{name}: empty")
        for d in ds:
            check(isinstance(d, dict) and d.get("apiVersion") and d.get("kind"),
                  f"deploy/k8s/{name}: a document without apiVersion or kind")
            if isinstance(d, dict) and d.get("kind") != "Kustomization":
                check((d.get("metadata") or {}).get("name"),
                      f"deploy/k8s/{name}: a {d.get('kind')} without a name")
    return docs


def check_kustomization(docs):
    kust = docs.get("kustomization.yaml", [{}])[0]
    listed = set(kust.get("resources", []))
    others = set(docs) - {"kustomization.yaml"}
    check(listed == others, "kustomization.yaml resources "
          f"{sorted(listed)} are not the other files {sorted(others)}")
    with open(os.path.join(K8S, "kustomization.yaml")) as f:
        header = f.read()
    documented = set(re.findall(r"^#\s+Secret (\S+)", header, re.M))
    check(documented, "kustomization.yaml names no Secret for the operator")
    return documented


def by_kind(docs, kind):
    return [d for ds in docs.values() for d in ds if d.get("kind") == kind]


def check_deployment(docs, documented_secrets):
    deployments = by_kind(docs, "Deployment")
    if not check(len(deployments) == 1, "deploy/k8s: not exactly one Deployment"):
        return
    dep = deployments[0]
    spec = dep["spec"]
    check(spec.get("replicas") == 1, "Deployment: replicas is not 1")
    check((spec.get("strategy") or {}).get("type") == "Recreate",
          "Deployment: strategy is not Recreate (two coordinators would overlap)")
    pod_labels = spec["template"]["metadata"].get("labels", {})
    selector = spec["selector"].get("matchLabels", {})
    check(selector and selector.items() <= pod_labels.items(),
          "Deployment: selector does not match the pod's labels")

    pod = spec["template"]["spec"]
    psc = pod.get("securityContext", {})
    uid = dockerfile_user().split(":")[0]
    check(psc.get("runAsNonRoot") is True, "pod: runAsNonRoot is not true")
    check(str(psc.get("runAsUser")) == uid,
          f"pod: runAsUser {psc.get('runAsUser')} is not the image's user {uid}")
    check((psc.get("seccompProfile") or {}).get("type") == "RuntimeDefault",
          "pod: seccompProfile is not RuntimeDefault")

    containers = pod.get("containers", [])
    if not check(len(containers) == 1, "pod: not exactly one container"):
        return
    c = containers[0]
    csc = c.get("securityContext", {})
    check(csc.get("allowPrivilegeEscalation") is False,
          "container: allowPrivilegeEscalation is not false")
    check(csc.get("readOnlyRootFilesystem") is True,
          "container: readOnlyRootFilesystem is not true")
    check((csc.get("capabilities") or {}).get("drop") == ["ALL"],
          "container: capabilities do not drop ALL")
    check(c.get("image"), "container: no image")

    for probe in ("readinessProbe", "startupProbe"):
        command = ((c.get(probe) or {}).get("exec") or {}).get("command", [])
        check(command[:1] == ["cohort-healthcheck"],
              f"container: {probe} does not run cohort-healthcheck")
    check(c.get("livenessProbe"), "container: no livenessProbe")

    volumes = {v["name"]: v for v in pod.get("volumes", [])}
    mounts = {}
    for m in c.get("volumeMounts", []):
        check(m["name"] in volumes, f"mount {m['mountPath']}: no volume {m['name']}")
        mounts[m["mountPath"]] = m["name"]
    config_maps = {d["metadata"]["name"]: d for d in by_kind(docs, "ConfigMap")}
    claims = {d["metadata"]["name"] for d in by_kind(docs, "PersistentVolumeClaim")}
    secrets = set()
    for v in volumes.values():
        if "configMap" in v:
            check(v["configMap"]["name"] in config_maps,
                  f"volume {v['name']}: ConfigMap {v['configMap']['name']} is not defined")
        if "persistentVolumeClaim" in v:
            check(v["persistentVolumeClaim"]["claimName"] in claims,
                  f"volume {v['name']}: claim is not defined")
        if "secret" in v:
            secrets.add(v["secret"]["secretName"])
    env_secrets = {e["secretRef"]["name"] for e in c.get("envFrom", []) if "secretRef" in e}
    check(env_secrets, "container: the PostgreSQL connection comes from no Secret")
    secrets |= env_secrets
    check(secrets == documented_secrets,
          f"Secrets used {sorted(secrets)} are not those kustomization.yaml "
          f"documents {sorted(documented_secrets)}")

    # The config: the --config file is a ConfigMap key, valid, paths mounted.
    config_arg = [a for a in c.get("args", []) if a.startswith("--config=")]
    if not check(len(config_arg) == 1, "container: no --config= argument"):
        return
    config_path = config_arg[0].split("=", 1)[1]
    directory, key = os.path.split(config_path)
    volume = volumes.get(mounts.get(directory, ""), {})
    cm = config_maps.get((volume.get("configMap") or {}).get("name"))
    if not check(cm and key in cm.get("data", {}),
                 f"--config={config_path} is not a key of a mounted ConfigMap"):
        return
    text = cm["data"][key]
    errors = textproto_errors(text, "ServerConfig")
    check(not errors, f"ConfigMap {key}: not a cohort.v1.ServerConfig: {errors}")
    for path in textproto_paths(text):
        check(under(path, mounts), f"ConfigMap {key}: {path} is on no mount")
    env = {e["name"]: e.get("value", "") for e in c.get("env", [])}
    for name in ("COHORT_HEALTH_CA", "COHORT_HEALTH_CERT", "COHORT_HEALTH_KEY"):
        check(under(env.get(name, "?"), mounts), f"env {name} is on no mount")
    check(re.search(r"backend\s*:\s*POSTGRES", text),
          f"ConfigMap {key}: the store is not PostgreSQL")

    ports = {p["name"]: p["containerPort"] for p in c.get("ports", [])}
    config_ports = textproto_ports(text)
    for name, section in (("grpc", ""), ("admin", "admin"), ("metrics", "metrics")):
        check(ports.get(name) == config_ports.get(section),
              f"container port {name} {ports.get(name)} is not the config's "
              f"{section or 'device'} port {config_ports.get(section)}")
    check(env.get("COHORT_HEALTH_ADDRESS", "").endswith(f":{ports.get('grpc')}"),
          "COHORT_HEALTH_ADDRESS is not the device port")
    annotations = spec["template"]["metadata"].get("annotations", {})
    check(annotations.get("prometheus.io/port") == str(ports.get("metrics")),
          "prometheus.io/port is not the metrics port")

    for svc in by_kind(docs, "Service"):
        check(svc["spec"].get("selector", {}).items() <= pod_labels.items(),
              f"Service {svc['metadata']['name']}: selector matches no pod label")
        for p in svc["spec"].get("ports", []):
            check(p.get("targetPort") in ports or p.get("targetPort") in ports.values(),
                  f"Service port {p.get('name')}: target {p.get('targetPort')} "
                  "is no container port")


# ------------------------------------------------------------------- compose

def check_compose():
    try:
        compose = load_all(COMPOSE)[0]
    except (OSError, yaml.YAMLError, IndexError) as e:
        check(False, f"docker/compose.yaml: {e}")
        return
    here = os.path.dirname(COMPOSE)
    services = compose.get("services", {})
    agents = [s for s in services if s.startswith("agent-")]
    for s in ("postgres", "coordinator", "prometheus"):
        check(s in services, f"compose: no service {s}")
    check(len(agents) >= 2, "compose: fewer than two agents")
    secrets = compose.get("secrets", {})
    configs = compose.get("configs", {})
    volumes = compose.get("volumes", {}) or {}
    for name, s in secrets.items():
        check(s.get("file", "").startswith("./secrets/"),
              f"compose secret {name}: not from docker/secrets (dev-secrets.sh)")
    texts = {}
    for name, cfg in configs.items():
        path = os.path.join(here, cfg.get("file", ""))
        if check(os.path.isfile(path), f"compose config {name}: no file {path}"):
            with open(path) as f:
                texts[name] = f.read()
    for name, kind in (("server", "ServerConfig"), ("agent", "AgentConfig")):
        errors = textproto_errors(texts.get(name, ""), kind)
        check(not errors, f"compose config {name}: not a cohort.v1.{kind}: {errors}")

    for name, svc in services.items():
        mounted = set(svc.get("secrets", []))
        for s in mounted:
            check(s in secrets, f"compose {name}: secret {s} is not defined")
        used = ""
        for c in svc.get("configs", []):
            check(c["source"] in configs, f"compose {name}: config {c['source']} is not defined")
            used += texts.get(c["source"], "")
        command = svc.get("command", [])
        used += " ".join(command) if isinstance(command, list) else command
        for s in re.findall(r"/run/secrets/([\w.-]+)", used):
            # The agent config's default device cert is overridden by flags.
            if name.startswith("agent-") and s.startswith("device-") and \
                    f"--cert_path=/run/secrets/{s}" not in used and \
                    f"--key_path=/run/secrets/{s}" not in used:
                continue
            check(s in mounted, f"compose {name}: uses /run/secrets/{s} but does not mount it")
        for v in svc.get("volumes", []):
            source = v.split(":")[0]
            if not source.startswith(("/", ".", "$")):
                check(source in volumes, f"compose {name}: volume {source} is not defined")
    coordinator = services.get("coordinator", {})
    check(not (coordinator.get("healthcheck") or {}).get("disable"),
          "compose coordinator: the image's health check is disabled")
    for a in agents:
        check((services[a].get("healthcheck") or {}).get("disable") is True,
              f"compose {a}: does not disable the coordinator's health check")
        check(services[a].get("depends_on", {}).get("coordinator", {}).get("condition")
              == "service_healthy", f"compose {a}: does not wait for a healthy coordinator")
    metrics_port = textproto_ports(texts.get("server", "")).get("metrics")
    prometheus = yaml.safe_load(texts.get("prometheus", "{}")) or {}
    targets = [t for job in prometheus.get("scrape_configs", [])
               for sc in job.get("static_configs", []) for t in sc.get("targets", [])]
    check(f"coordinator:{metrics_port}" in targets,
          f"compose prometheus: does not scrape coordinator:{metrics_port}")


def main():
    docs = k8s_documents()
    documented = check_kustomization(docs)
    check_deployment(docs, documented)
    check_compose()
    for f in failures:
        print(f"check-manifests: FAIL: {f}", file=sys.stderr)
    if failures:
        return 1
    kinds = sorted({d["kind"] for ds in docs.values() for d in ds})
    print(f"check-manifests: deploy/k8s ({', '.join(kinds)}) and "
          "docker/compose.yaml: OK")
    return 0


if __name__ == "__main__":
    sys.exit(main())
