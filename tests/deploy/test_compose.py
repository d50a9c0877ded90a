"""deploy/compose.yaml: valid against the compose specification (and a broken one is not),
Kafka in KRaft mode with a topic job, PostgreSQL, a migrate job per service, the services
waiting on their dependencies, and Prometheus and Grafana with a dashboard whose queries
name metrics the services really export."""

from __future__ import annotations

import copy
import json
import re
from typing import Any

import pytest
from deploy_support import (
    COMPOSE_FILE,
    DEPLOY,
    DOCKERFILE,
    ROOT,
    SERVICES,
    compose_errors,
    load_yaml,
)
from prometheus_client import CollectorRegistry

from baton_runtime.metrics import RuntimeMetrics
from baton_sla_monitor.metrics import SlaMetrics


def test_compose_file_validates_against_the_compose_spec(compose: dict[str, Any]) -> None:
    assert compose_errors(compose) == []


@pytest.mark.parametrize(
    ("breakage", "message"),
    [
        (
            lambda c: c["services"]["router"].update(
                depends_on={"postgres": {"condition": "healthy"}}
            ),
            "healthy",
        ),
        (lambda c: c["services"]["router"].update(ports="8001:8001"), "ports"),
        (
            lambda c: c["services"]["kafka"].update(
                healthcheck={"test": ["CMD"], "intervall": "5s"}
            ),
            "intervall",
        ),
        (lambda c: c["services"]["feedback"].update(restart_policy="always"), "restart_policy"),
    ],
)
def test_the_validator_rejects_a_broken_compose_file(
    compose: dict[str, Any], breakage: Any, message: str
) -> None:
    broken = copy.deepcopy(compose)
    breakage(broken)
    errors = compose_errors(broken)
    assert errors and any(message in error for error in errors), errors


def test_kafka_runs_in_kraft_mode_from_the_official_image(compose: dict[str, Any]) -> None:
    kafka = compose["services"]["kafka"]
    assert kafka["image"].startswith("apache/kafka:")
    env = kafka["environment"]
    assert set(env["KAFKA_PROCESS_ROLES"].split(",")) == {"broker", "controller"}
    assert "KAFKA_ZOOKEEPER_CONNECT" not in env
    assert env["KAFKA_AUTO_CREATE_TOPICS_ENABLE"] == "false"
    topics = compose["services"]["kafka-topics"]
    assert topics["depends_on"]["kafka"]["condition"] == "service_healthy"
    assert topics["environment"]["PARTITIONS"] == "3"
    [mount] = topics["volumes"]
    source, target, _mode = mount.split(":")
    assert (COMPOSE_FILE.parent / source).resolve() == (
        DEPLOY / "k8s/base/kafka/create-topics.sh"
    ).resolve()
    assert topics["entrypoint"][-1] == target


@pytest.mark.parametrize("service", SERVICES)
def test_each_service_migrates_first_and_waits_for_its_dependencies(
    compose: dict[str, Any], service: str
) -> None:
    services = compose["services"]
    migrate = services[f"{service}-migrate"]
    serve = services[service]
    assert migrate["command"] == ["migrate"] and serve["command"] == ["serve"]
    assert migrate["image"] == serve["image"] == f"baton-{service}:dev"
    for definition in (migrate, serve):
        build = definition["build"]
        assert (COMPOSE_FILE.parent / build["context"]).resolve() == ROOT
        assert (ROOT / build["dockerfile"]).resolve() == DOCKERFILE
        assert build["args"] == {"SERVICE": service}
    assert migrate["depends_on"] == {"postgres": {"condition": "service_healthy"}}
    assert serve["depends_on"] == {
        "postgres": {"condition": "service_healthy"},
        "kafka": {"condition": "service_healthy"},
        "kafka-topics": {"condition": "service_completed_successfully"},
        f"{service}-migrate": {"condition": "service_completed_successfully"},
    }
    prefix = SERVICES[service].model_config["env_prefix"]
    port = serve["environment"][f"{prefix}HTTP_PORT"]
    assert serve["ports"] == [f"127.0.0.1:{port}:{port}"]
    # One database, the service's own role and schema (the init script creates them).
    url = serve["environment"][f"{prefix}DATABASE_URL"]
    schema = serve["environment"][f"{prefix}DB_SCHEMA"]
    assert url.startswith(f"postgresql+asyncpg://{schema}:") and url.endswith(
        "@postgres:5432/baton"
    )
    init = (DEPLOY / "compose/postgres-init.sh").read_text()
    assert f"CREATE SCHEMA {schema} AUTHORIZATION {schema};" in init


def test_secrets_come_from_the_environment_not_the_file() -> None:
    text = COMPOSE_FILE.read_text()
    for key in ("WEBHOOK_SECRETS", "API_KEYS", "PASSWORD"):
        for line in text.splitlines():
            if re.match(rf"\s+\w*{key}\w*:", line):
                assert "${" in line, f"a literal secret in compose.yaml: {line.strip()}"


def test_make_env_writes_every_variable_the_compose_file_needs(tmp_path: Any) -> None:
    import runpy

    target = tmp_path / "compose.env"
    module = runpy.run_path(str(DEPLOY / "compose/make_env.py"))
    assert module["main"]([str(target)]) == 0
    written = dict(
        line.split("=", 1)
        for line in target.read_text().splitlines()
        if "=" in line and not line.startswith("#")
    )
    needed = set(re.findall(r"\$\{(\w+):\?", COMPOSE_FILE.read_text()))
    assert needed == set(written)
    routers = json.loads(written["ROUTER_WEBHOOK_SECRETS"].strip("'"))
    assert routers["generic"][0].startswith("whsec_")


def exported_metrics() -> set[str]:
    """The sample names the services' registries expose."""
    registry = CollectorRegistry()
    RuntimeMetrics("probe", registry=registry)
    SlaMetrics(registry)
    return {sample_name for metric in registry.collect() for sample_name in _samples(metric)}


def _samples(metric: Any) -> set[str]:
    if metric.type == "counter":
        return {f"{metric.name}_total", f"{metric.name}_created"}
    if metric.type == "histogram":
        return {f"{metric.name}_{suffix}" for suffix in ("bucket", "count", "sum", "created")}
    return {metric.name}


def test_dashboard_queries_name_exported_metrics() -> None:
    dashboard = json.loads((DEPLOY / "compose/grafana/dashboards/baton.json").read_text())
    exprs = [target["expr"] for panel in dashboard["panels"] for target in panel["targets"]]
    names = {name for expr in exprs for name in re.findall(r"\bbaton_[a-z_]+\b", expr)}
    exported = exported_metrics()
    assert names and names <= exported, sorted(names - exported)
    titles = " ".join(panel["title"].lower() for panel in dashboard["panels"])
    for subject in ("lag", "throughput", "sla breaches", "outbox backlog"):
        assert subject in titles
    assert 'type="breached"' in " ".join(exprs)


def test_observability_is_an_optional_profile_scraping_each_service(
    compose: dict[str, Any],
) -> None:
    services = compose["services"]
    for name in ("prometheus", "grafana"):
        assert services[name]["profiles"] == ["observability"]
    for name in SERVICES:
        assert "profiles" not in services[name]
    config = load_yaml(DEPLOY / "compose/prometheus.yml")
    targets = {
        t for job in config["scrape_configs"] for sc in job["static_configs"] for t in sc["targets"]
    }
    expected = set()
    for service, settings_cls in SERVICES.items():
        port = services[service]["environment"][
            f"{settings_cls.model_config['env_prefix']}HTTP_PORT"
        ]
        expected.add(f"{service}:{port}")
    assert targets == expected
    for mount in services["grafana"]["volumes"] + services["prometheus"]["volumes"]:
        assert (COMPOSE_FILE.parent / mount.split(":")[0]).exists(), mount
