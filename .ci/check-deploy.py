#!/usr/bin/env python3
"""Static checks of deploy/: every YAML, JSON and TOML file parses, and the few rules that keep
the manifests honest hold. Run by .ci/run; needs PyYAML (tomllib is in Python >= 3.11).

What promtool checks (PromQL, rule and config syntax) and what the Rust test
tests/api/deploy_metrics.rs checks (every metric name is exported) are not repeated here.
"""

import json
import pathlib
import re
import sys
import tomllib

import yaml

ROOT = pathlib.Path(__file__).resolve().parent.parent
DEPLOY = ROOT / "deploy"
errors: list[str] = []


def fail(path: pathlib.Path, message: str) -> None:
    errors.append(f"{path.relative_to(ROOT)}: {message}")


def load_all() -> dict[pathlib.Path, list]:
    """Parses every file; YAML files may hold several documents (k8s), so each is a list."""
    docs: dict[pathlib.Path, list] = {}
    for path in sorted(DEPLOY.rglob("*")):
        if not path.is_file():
            continue
        try:
            if path.suffix in (".yaml", ".yml"):
                docs[path] = [d for d in yaml.safe_load_all(path.read_text()) if d is not None]
            elif path.suffix == ".json":
                docs[path] = [json.loads(path.read_text())]
            elif path.suffix == ".toml":
                docs[path] = [tomllib.loads(path.read_text())]
        except (yaml.YAMLError, json.JSONDecodeError, tomllib.TOMLDecodeError) as e:
            fail(path, f"does not parse: {e}")
    return docs


# An env var whose name looks like a secret must come from a Secret, never a literal value.
SECRETISH = re.compile(r"SECRET|PASSWORD|TOKEN|_KEY$|DATABASE_URL")


def check_k8s(docs: dict[pathlib.Path, list]) -> None:
    k8s = DEPLOY / "k8s"
    for path, items in docs.items():
        if path.parent != k8s:
            continue
        for doc in items:
            if path.name == "kustomization.yaml":
                for res in doc.get("resources", []):
                    if not (k8s / res).is_file():
                        fail(path, f"resource {res} does not exist")
                if "namespace" in doc:
                    fail(path, "sets a namespace; the manifests are namespace-agnostic")
                continue
            for key in ("apiVersion", "kind", "metadata"):
                if key not in doc:
                    fail(path, f"a document has no {key}")
            meta = doc.get("metadata") or {}
            if "namespace" in meta:
                fail(path, f"{doc.get('kind')} {meta.get('name')} sets a namespace")
            if doc.get("kind") == "Secret":
                fail(path, "a Secret is committed; create it from the secret store instead")
            spec = (doc.get("spec") or {}).get("template", {}).get("spec", {})
            for container in spec.get("containers", []):
                for env in container.get("env", []):
                    if SECRETISH.search(env["name"]) and "valueFrom" not in env:
                        fail(path, f"env {env['name']} is a literal; use secretKeyRef")


def check_configmap_matches_production(docs: dict[pathlib.Path, list]) -> None:
    path = DEPLOY / "k8s" / "configmap.yaml"
    production = (DEPLOY / "config" / "production.toml").read_text()
    embedded = docs.get(path, [{}])[0].get("data", {}).get("paygate.toml")
    if embedded != production:
        fail(path, "data.paygate.toml differs from deploy/config/production.toml; copy it over")


def check_compose(docs: dict[pathlib.Path, list]) -> None:
    path = DEPLOY / "compose.yaml"
    compose = docs.get(path, [{}])[0]
    services = compose.get("services", {})
    for name in ("postgres", "paygate-1", "paygate-2", "mock-processor", "prometheus", "grafana"):
        if name not in services:
            fail(path, f"service {name} is missing")
    for name, service in services.items():
        for volume in service.get("volumes", []):
            source = volume.split(":", 1)[0]
            if source.startswith(".") and not (path.parent / source).exists():
                fail(path, f"service {name} mounts {source}, which does not exist")
        for key, value in (service.get("environment") or {}).items():
            # Secrets are interpolated from the caller's environment, never written here.
            if SECRETISH.search(key) and "${" not in str(value):
                fail(path, f"service {name}: {key} is a literal; take it from the environment")


def check_dashboards(docs: dict[pathlib.Path, list]) -> None:
    for path in sorted((DEPLOY / "grafana" / "dashboards").glob("*.json")):
        dashboard = docs[path][0]
        ids = []
        for panel in dashboard.get("panels", []):
            ids.append(panel.get("id"))
            if panel.get("type") == "row":
                continue
            targets = panel.get("targets") or []
            if not targets or not all(t.get("expr") for t in targets):
                fail(path, f"panel {panel.get('title')!r} has a target without a query")
            uid = (panel.get("datasource") or {}).get("uid")
            if uid != "${datasource}":
                fail(path, f"panel {panel.get('title')!r} does not use the $datasource variable")
        if len(ids) != len(set(ids)):
            fail(path, "panel ids are not unique")
        # A panel's link to traces must open a datasource Grafana is provisioned with.
        provisioned = set()
        for source in (DEPLOY / "grafana" / "provisioning" / "datasources").glob("*.yml"):
            for doc in docs.get(source, []):
                provisioned |= {d.get("uid") for d in (doc or {}).get("datasources", [])}
        for panel in dashboard.get("panels", []):
            for link in panel.get("links", []):
                for uid in re.findall(r'"datasource":"([^"]+)"', link.get("url", "")):
                    if uid not in provisioned:
                        fail(path, f"panel {panel.get('title')!r} links to datasource {uid!r}, which is not provisioned")


def check_no_open_api() -> None:
    """paygate refuses an API without keys on a non-loopback address unless
    PAYGATE_DEV_ALLOW_REMOTE=1; a deploy file that set it would undo that for every user."""
    for path in sorted(DEPLOY.rglob("*")):
        if not path.is_file():
            continue
        lines = path.read_text(errors="replace").splitlines()
        # Comments may explain the switch (the Dockerfile does); no line may set it.
        if any("PAYGATE_DEV_ALLOW_REMOTE" in line.split("#", 1)[0] for line in lines):
            fail(path, "sets PAYGATE_DEV_ALLOW_REMOTE; the image must not serve without API keys by default")
    for path in sorted(DEPLOY.glob("config/*.toml")):
        server = tomllib.loads(path.read_text()).get("server", {})
        addr = server.get("grpc_addr", "127.0.0.1:50051")
        if server.get("require_auth") is False and not addr.startswith(("127.", "[::1]")):
            fail(path, f"require_auth = false on {addr}: paygate refuses it without PAYGATE_DEV_ALLOW_REMOTE")


def main() -> int:
    docs = load_all()
    check_k8s(docs)
    check_configmap_matches_production(docs)
    check_compose(docs)
    check_dashboards(docs)
    check_no_open_api()
    for error in errors:
        print(error, file=sys.stderr)
    if errors:
        return 1
    print(f"deploy/: {len(docs)} YAML/JSON/TOML files parse, manifests checked")
    return 0


if __name__ == "__main__":
    sys.exit(main())
