"""deploy/: every file parses, and the names, ports, commands and variables agree with the hub."""

from __future__ import annotations

import json
import re
import tomllib
from pathlib import Path
from typing import Any

import typer.main
import yaml

from entrypoints.cli import app as cli
from entrypoints.settings import Settings
from hub.bootstrap import bootstrap
from hub.metrics import HubMetrics
from hub.settings import HubSettings

DEPLOY = Path(__file__).resolve().parents[2] / "deploy"
COMPOSE = yaml.safe_load((DEPLOY / "compose.yaml").read_text())
IMAGE_CONFIG = Settings(**tomllib.loads((DEPLOY / "hub.toml").read_text()))
PROJECTIONS = {
    "order_tracking",
    "planning",
    "customers",
}  # the names bootstrap's Projector knows (checked below)
K8S = [doc for f in sorted((DEPLOY / "k8s").glob("*.yaml")) for doc in yaml.safe_load_all(f.read_text())]


def _commands() -> set[str]:
    group = typer.main.get_command(cli)
    return set(group.commands)  # type: ignore[attr-defined]


def _setting_exists(variable: str) -> bool:
    """HUB_X or HUB_SECTION__X names a field of HubSettings (nested with '__'), or it is a
    variable a setting names (the key-encryption key)."""
    if variable == IMAGE_CONFIG.privacy.kek_env:
        return True
    path = variable.removeprefix("HUB_").lower().split("__")
    model: Any = Settings
    for part in path:
        if part == "config" and model is Settings:
            return True  # HUB_CONFIG names the file itself
        field = model.model_fields.get(part)
        if field is None:
            return False
        model = field.annotation
    return True


def _hub_services() -> dict[str, Any]:
    return {name: s for name, s in COMPOSE["services"].items() if s.get("image") == "integration-hub:latest"}


def test_every_deploy_file_parses() -> None:
    for path in DEPLOY.rglob("*"):
        if path.suffix in (".yaml", ".yml"):
            assert list(yaml.safe_load_all(path.read_text())), path
        elif path.suffix == ".json":
            json.loads(path.read_text())
        elif path.suffix == ".toml":
            tomllib.loads(path.read_text())


def test_compose_runs_the_distributed_hub_with_real_commands_and_settings() -> None:
    services = _hub_services()
    commands = [s["command"] for s in services.values()]
    assert ["run"] in commands and ["relay"] in commands
    assert {c[1] for c in commands if c[0] == "project"} == PROJECTIONS  # a runner for every view
    assert sum(1 for c in commands if c[0] == "worker") == 2
    assert {c[0] for c in commands} <= _commands()
    for service in services.values():
        for variable in service["environment"]:
            if variable.startswith("HUB_"):
                assert _setting_exists(variable), variable
        secrets = {c.secret_env for c in IMAGE_CONFIG.systems.values() if c.secret_env}
        assert secrets <= set(service["environment"])
        for secret in secrets:  # required from the environment: no value anyone could read here
            assert str(service["environment"][secret]).startswith(f"${{{secret}:?"), secret
    broker = services["hub-api"]["environment"]["HUB_STREAMING__BROKERS"]
    host, port = broker.split(":")
    assert host in COMPOSE["services"] and f"PLAINTEXT://{broker}" in str(COMPOSE["services"]["kafka"])
    assert "postgres:5432" in services["hub-api"]["environment"]["HUB_DATABASE_URL"]
    assert IMAGE_CONFIG.transport == "kafka" and port == "9092"


def test_prometheus_scrapes_every_hub_process_on_its_configured_port() -> None:
    config = yaml.safe_load((DEPLOY / "prometheus" / "prometheus.yml").read_text())
    targets = {t for job in config["scrape_configs"] for c in job["static_configs"] for t in c["targets"]}
    expected = set()
    for name, service in _hub_services().items():
        port = (
            IMAGE_CONFIG.http_port if service["command"] == ["run"] else IMAGE_CONFIG.streaming.metrics_port
        )
        expected.add(f"{name}:{port}")
    assert targets == expected


def test_the_dashboard_shows_only_metrics_the_hub_exports() -> None:
    dashboard = json.loads((DEPLOY / "grafana" / "dashboards" / "hub.json").read_text())
    exported = set()
    suffixes = {"counter": ("_total",), "histogram": ("_bucket", "_sum", "_count"), "gauge": ("",)}
    for metric in HubMetrics().registry.collect():
        exported.update(metric.name + suffix for suffix in suffixes[metric.type])
    used = set()
    for panel in dashboard["panels"]:
        for target in panel["targets"]:
            used.update(re.findall(r"\bhub_[a-z_]+", target["expr"]))
    assert used and used <= exported, used - exported
    titles = " ".join(p["title"].lower() for p in dashboard["panels"])
    for topic in ("lag", "throughput", "dead letters", "latency", "adapter", "stage"):
        assert topic in titles
    provider = yaml.safe_load((DEPLOY / "grafana" / "provisioning" / "dashboards" / "hub.yaml").read_text())
    mounted = next(v for v in COMPOSE["services"]["grafana"]["volumes"] if "dashboards:" in v)
    assert provider["providers"][0]["options"]["path"] == mounted.split(":")[1]


def test_kubernetes_workloads_agree_with_services_config_and_probes() -> None:
    by_kind: dict[str, list[dict[str, Any]]] = {}
    for doc in K8S:
        by_kind.setdefault(doc["kind"], []).append(doc)
    config_maps = {d["metadata"]["name"]: d for d in by_kind["ConfigMap"]}
    secrets = {d["metadata"]["name"]: d for d in by_kind["Secret"]}
    deployments = {d["metadata"]["name"]: d for d in by_kind["Deployment"]}
    assert deployments["hub-worker"]["spec"]["replicas"] >= 2
    for deployment in deployments.values():
        spec = deployment["spec"]
        assert spec["selector"]["matchLabels"].items() <= spec["template"]["metadata"]["labels"].items()
        (container,) = spec["template"]["spec"]["containers"]
        assert container["args"][0] in _commands()
        port = container["ports"][0]["containerPort"]
        expected = (
            IMAGE_CONFIG.http_port if container["args"] == ["run"] else IMAGE_CONFIG.streaming.metrics_port
        )
        assert port == expected
        for probe in ("readinessProbe", "livenessProbe"):
            assert container[probe]["httpGet"]["path"] == "/health"
            assert container[probe]["httpGet"]["port"] == container["ports"][0]["name"]
        for source in container["envFrom"]:
            ref = source.get("configMapRef") or source.get("secretRef")
            assert ref["name"] in config_maps or ref["name"] in secrets
    runners = [d["spec"]["template"]["spec"]["containers"][0]["args"] for d in deployments.values()]
    assert {args[1] for args in runners if args[0] == "project"} == PROJECTIONS
    variables = {**config_maps["hub-config"]["data"], **secrets["hub-secrets"]["stringData"]}
    assert all(_setting_exists(v) for v in variables if v.startswith("HUB_"))
    assert int(variables["HUB_STREAMING__METRICS_PORT"]) == IMAGE_CONFIG.streaming.metrics_port
    (service,) = by_kind["Service"]
    assert service["spec"]["selector"]["app"] in deployments


def test_the_image_installs_the_extras_distributed_mode_needs() -> None:
    dockerfile = (DEPLOY / "Dockerfile").read_text()
    extras = tomllib.loads((DEPLOY.parent / "pyproject.toml").read_text())["project"]["optional-dependencies"]
    assert re.search(r"pip install .*\.\[postgres,streaming\]", dockerfile)
    assert {"postgres", "streaming"} <= set(extras)
    project = tomllib.loads((DEPLOY.parent / "pyproject.toml").read_text())
    packages = [p.rstrip("*") for p in project["tool"]["setuptools"]["packages"]["find"]["include"]]
    for folder in (*packages, "mappings"):  # every product package, so the image runs what is declared
        if folder == "simulators":
            assert "COPY simulators" not in dockerfile  # the demo's simulated systems stay out
        else:
            assert f"COPY {folder} ./{folder}" in dockerfile, folder


def test_the_runners_follow_exactly_the_projections_the_hub_has(tmp_path: Path) -> None:
    hub = bootstrap(HubSettings(database_url=f"sqlite:///{tmp_path / 'hub.db'}"))
    try:
        assert set(hub.projector.projections) == PROJECTIONS
    finally:
        hub.close()
