"""deploy/k8s: the base and the production overlay render, every manifest validates against
its schema, and the manifests say what the services need: probes on the real health paths,
resources, disruption budgets, a migration Job each, the shipped policy, KEDA on the real
consumer groups and topics up to the partition count, a ServiceMonitor each, no Secret."""

from __future__ import annotations

import copy
import json
import re
import shutil
import subprocess
from typing import Any

import pytest
import yaml
from deploy_support import (
    DEFAULTED_ANNOTATION,
    DEPLOY,
    K8S_BASE,
    K8S_PRODUCTION,
    ROOT,
    SERVICES,
    TOPICS_SCRIPT,
    by_kind,
    container_env,
    defaulted,
    env_names,
    env_prefix,
    manifest_errors,
    pod_spec,
    without_hash,
)

from baton_runtime.health import health_router
from baton_schemas import topics as topic_names

RENDERS = ["base", "production"]
SECRET_FIELDS = {"database_url", "api_keys", "webhook_secrets"}

# The topics each service's main consumer group reads (baton_<service>/main.py): KEDA scales
# the consuming Deployment on that group's lag on each of them. The SLA monitor's second
# group (`baton-sla-monitor.policy`, policy.events) carries a handful of records and is not
# a reason to scale.
CONSUMED = {
    "router": [
        topic_names.LEADS_CAPTURED,
        topic_names.SLA_EVENTS,
        topic_names.FEEDBACK_TRACEABLE,
        topic_names.FEEDBACK_CLOSED_DEALS,
    ],
    "sla-monitor": [topic_names.LEADS_ASSIGNED, topic_names.FEEDBACK_TRACEABLE],
    "feedback": [topic_names.LEADS_ASSIGNED, topic_names.CRM_ACTIVITY],
}


def service_of(doc: dict[str, Any]) -> str:
    return doc["metadata"]["labels"]["app.kubernetes.io/name"]  # type: ignore[no-any-return]


def service_containers(docs: list[dict[str, Any]]) -> list[tuple[dict[str, Any], dict[str, Any]]]:
    """(workload, container) for every Deployment and migration Job of a Baton service."""
    found = []
    for doc in docs:
        spec = pod_spec(doc)
        if spec is None or service_of(doc) not in SERVICES:
            continue
        found += [(doc, c) for c in spec["containers"] if c["name"] == service_of(doc)]
    return found


def config_value(docs: list[dict[str, Any]], service: str, env: str) -> str:
    config_maps = {without_hash(name): doc for name, doc in by_kind(docs, "ConfigMap").items()}
    return config_maps[f"baton-{service}-config"]["data"][env]  # type: ignore[no-any-return]


@pytest.mark.parametrize("render", RENDERS)
def test_every_manifest_validates_against_its_schema(
    rendered: dict[str, list[dict[str, Any]]], render: str
) -> None:
    docs = rendered[render]
    errors = [error for doc in docs for error in manifest_errors(doc)]
    assert not errors, "\n".join(errors)
    kinds = {doc["kind"] for doc in docs}
    assert {"Deployment", "Job", "Service", "PodDisruptionBudget", "ConfigMap"} <= kinds
    assert {"ScaledObject", "ServiceMonitor", "HorizontalPodAutoscaler"} <= kinds


def test_the_validator_rejects_broken_manifests(rendered: dict[str, list[dict[str, Any]]]) -> None:
    """The check can fail: typos and wrong types in each kind of schema are caught."""
    docs = rendered["production"]
    deployment = copy.deepcopy(by_kind(docs, "Deployment")["baton-router"])
    probe = deployment["spec"]["template"]["spec"]["containers"][0]["livenessProbe"]
    probe["httpGet"]["pth"] = probe["httpGet"].pop("path")  # a typo
    assert any("'pth' was unexpected" in e for e in manifest_errors(deployment))

    deployment = copy.deepcopy(by_kind(docs, "Deployment")["baton-router"])
    deployment["spec"]["template"]["spec"]["containers"][0]["resources"] = "1 cpu"
    assert manifest_errors(deployment)

    job = copy.deepcopy(by_kind(docs, "Job")["baton-router-migrate"])
    del job["spec"]["template"]["spec"]["containers"][0]["name"]  # required
    assert manifest_errors(job)

    scaled = copy.deepcopy(by_kind(docs, "ScaledObject")["baton-router"])
    scaled["spec"]["maxReplicaCont"] = 3
    assert manifest_errors(scaled) == [
        "ScaledObject/baton-router: spec.maxReplicaCont: unknown field"
    ]
    scaled = copy.deepcopy(by_kind(docs, "ScaledObject")["baton-router"])
    scaled["spec"]["triggers"][0]["metadata"] = ["lagThreshold=5"]
    assert manifest_errors(scaled)

    monitor = copy.deepcopy(by_kind(docs, "ServiceMonitor")["baton-router"])
    monitor["spec"]["endpoints"][0]["intervall"] = "15s"
    assert manifest_errors(monitor) == [
        "ServiceMonitor/baton-router: spec.endpoints[0].intervall: unknown field"
    ]


def test_the_test_renderer_matches_kustomize_when_kubectl_is_there(
    rendered: dict[str, list[dict[str, Any]]],
) -> None:
    """Where kubectl is installed, its kustomize renders the same resources (up to the
    ConfigMap hash suffixes) as the renderer the other tests use."""
    kubectl = shutil.which("kubectl")
    if kubectl is None:
        pytest.skip("no kubectl here; the Python renderer stands alone")
    for render, directory in (("base", K8S_BASE), ("production", K8S_PRODUCTION)):
        result = subprocess.run(
            [kubectl, "kustomize", str(directory)], capture_output=True, text=True, timeout=60
        )
        if result.returncode != 0 and "kustomize" in result.stderr and "unknown" in result.stderr:
            pytest.skip(f"this kubectl has no kustomize: {result.stderr.strip()}")
        assert result.returncode == 0, result.stderr
        theirs = _normalised(doc for doc in yaml.safe_load_all(result.stdout) if doc)
        ours = _normalised(rendered[render])
        assert ours == theirs, render


def _normalised(docs: Any) -> dict[tuple[str, str], Any]:
    out = {}
    for doc in docs:
        text = re.sub(r'(baton-[a-z-]+?)-[a-z0-9]{10}"', r'\1"', json.dumps(doc))
        plain = json.loads(text)
        out[(plain["kind"], plain["metadata"]["name"])] = plain
    return out


@pytest.mark.parametrize("render", RENDERS)
def test_deployments_probe_the_health_endpoints_with_resources_and_budgets(
    rendered: dict[str, list[dict[str, Any]]], render: str
) -> None:
    docs = rendered[render]
    paths = {route.path for route in health_router().routes}  # type: ignore[attr-defined]
    assert {"/livez", "/readyz"} <= paths
    deployments = by_kind(docs, "Deployment")
    assert set(deployments) == {
        "baton-router",
        "baton-router-intake",
        "baton-sla-monitor",
        "baton-feedback",
    }
    budgets = by_kind(docs, "PodDisruptionBudget").values()
    for name, deployment in deployments.items():
        container = deployment["spec"]["template"]["spec"]["containers"][0]
        assert container["livenessProbe"]["httpGet"]["path"] == "/livez", name
        assert container["readinessProbe"]["httpGet"]["path"] == "/readyz", name
        assert container["startupProbe"]["httpGet"]["path"] == "/livez", name
        assert {"cpu", "memory"} <= set(container["resources"]["requests"]), name
        assert {"cpu", "memory"} <= set(container["resources"]["limits"]), name
        port = container["ports"][0]["containerPort"]
        assert config_value(
            docs, service_of(deployment), f"{env_prefix(SERVICES[service_of(deployment)])}HTTP_PORT"
        ) == str(port)
        assert "replicas" not in deployment["spec"], f"{name}: the autoscaler owns replicas"
        selector = deployment["spec"]["selector"]["matchLabels"]
        assert [b for b in budgets if b["spec"]["selector"]["matchLabels"] == selector], (
            f"{name}: no PodDisruptionBudget selects its pods"
        )
        security = deployment["spec"]["template"]["spec"]["securityContext"]
        assert security["runAsNonRoot"] is True


@pytest.mark.parametrize("render", RENDERS)
def test_each_service_has_a_migration_job_service_and_servicemonitor(
    rendered: dict[str, list[dict[str, Any]]], render: str
) -> None:
    docs = rendered[render]
    jobs = by_kind(docs, "Job")
    services = by_kind(docs, "Service")
    monitors = by_kind(docs, "ServiceMonitor")
    deployments = by_kind(docs, "Deployment")
    for service in SERVICES:
        job = jobs[f"baton-{service}-migrate"]
        container = job["spec"]["template"]["spec"]["containers"][0]
        image = deployments[f"baton-{service}"]["spec"]["template"]["spec"]["containers"][0][
            "image"
        ]
        assert container["args"] == ["migrate"] and container["image"] == image
        monitor = monitors[f"baton-{service}"]
        svc = services[f"baton-{service}"]
        labels = svc["metadata"]["labels"]
        assert monitor["spec"]["selector"]["matchLabels"].items() <= labels.items()
        [endpoint] = monitor["spec"]["endpoints"]
        assert endpoint["path"] == "/metrics"
        assert endpoint["port"] in {port["name"] for port in svc["spec"]["ports"]}
        # The Service reaches the pods that serve HTTP, never the migration Job's.
        selected = svc["spec"]["selector"].items()
        assert (
            selected
            <= deployments[f"baton-{service}"]["spec"]["template"]["metadata"]["labels"].items()
        )
        assert not selected <= job["spec"]["template"]["metadata"]["labels"].items()


@pytest.mark.parametrize("render", RENDERS)
def test_keda_scales_each_consumer_on_its_group_lag_up_to_the_partitions(
    rendered: dict[str, list[dict[str, Any]]], render: str
) -> None:
    docs = rendered[render]
    config_maps = {without_hash(n): d for n, d in by_kind(docs, "ConfigMap").items()}
    topics_config = config_maps["baton-kafka-topics"]["data"]
    partitions = int(topics_config["PARTITIONS"])
    deployments = by_kind(docs, "Deployment")
    scaled = by_kind(docs, "ScaledObject")
    assert set(scaled) == {f"baton-{service}" for service in SERVICES}
    for service, topics in CONSUMED.items():
        prefix = env_prefix(SERVICES[service])
        so = scaled[f"baton-{service}"]["spec"]
        target = deployments[so["scaleTargetRef"]["name"]]
        assert service_of(target) == service
        assert config_value(docs, service, f"{prefix}CONSUMERS_ENABLED") == "true"
        assert so["maxReplicaCount"] == partitions == 3
        assert 1 <= so["minReplicaCount"] <= so["maxReplicaCount"]
        group = config_value(docs, service, f"{prefix}CONSUMER_GROUP")
        assert group == f"baton-{service}"
        topic_prefix = config_value(docs, service, "BATON_TOPIC_PREFIX")
        assert topic_prefix == topics_config["BATON_TOPIC_PREFIX"]
        assert [t["type"] for t in so["triggers"]] == ["kafka"] * len(topics)
        assert [t["metadata"]["topic"] for t in so["triggers"]] == [
            topic_prefix + t for t in topics
        ]
        container = next(
            c
            for c in target["spec"]["template"]["spec"]["containers"]
            if c["name"] == so["scaleTargetRef"]["envSourceContainerName"]
        )
        env = container_env(target, container, docs)
        for trigger in so["triggers"]:
            meta = trigger["metadata"]
            assert meta["consumerGroup"] == group
            # The scaler reads the bootstrap servers from the consumer's own environment.
            assert meta["bootstrapServersFromEnv"] == "BATON_KAFKA_BOOTSTRAP"
            assert "BATON_KAFKA_BOOTSTRAP" in env
            assert (
                config_value(docs, service, "BATON_KAFKA_BOOTSTRAP")
                == topics_config["KAFKA_BOOTSTRAP"]
            )
            assert meta["offsetResetPolicy"] == "earliest"  # as the consumers (kafka.py)
            assert int(meta["lagThreshold"]) > 0
    # The HTTP-only router replicas run no consumer and scale on CPU instead.
    intake = deployments["baton-router-intake"]["spec"]["template"]["spec"]["containers"][0]
    assert {"name": "ROUTER_CONSUMERS_ENABLED", "value": "false"} in intake["env"]
    hpa = by_kind(docs, "HorizontalPodAutoscaler")["baton-router-intake"]
    assert hpa["spec"]["scaleTargetRef"]["name"] == "baton-router-intake"


def test_topic_job_creates_every_topic_with_the_partitions_keda_assumes() -> None:
    from baton_schemas import Topics

    script = TOPICS_SCRIPT.read_text()
    created = re.findall(r"^create (\S+) ", script, flags=re.MULTILINE)
    assert created == Topics().all_for()
    assert re.search(r'^PARTITIONS="\$\{PARTITIONS:-3\}"$', script, flags=re.MULTILINE)


@pytest.mark.parametrize("render", RENDERS)
def test_the_policy_config_map_is_the_routers_shipped_policy(
    rendered: dict[str, list[dict[str, Any]]], render: str
) -> None:
    shipped = ROOT / "services/router/src/baton_router/policies/default.yaml"
    docs = rendered[render]
    config_maps = {without_hash(n): d for n, d in by_kind(docs, "ConfigMap").items()}
    assert config_maps["baton-router-policy"]["data"]["policy.yaml"] == shipped.read_text(), (
        "deploy/k8s/base/router/policy.yaml differs from the router's shipped policy: copy it"
    )
    deployment = by_kind(docs, "Deployment")["baton-router"]
    spec = deployment["spec"]["template"]["spec"]
    [mount] = [m for m in spec["containers"][0]["volumeMounts"] if m["name"] == "policy"]
    policy_file = config_value(docs, "router", "ROUTER_POLICY_FILE")
    assert policy_file == f"{mount['mountPath']}/policy.yaml"


@pytest.mark.parametrize("render", RENDERS)
def test_secrets_are_referenced_by_name_never_committed(
    rendered: dict[str, list[dict[str, Any]]], render: str
) -> None:
    docs = rendered[render]
    assert not by_kind(docs, "Secret"), "a Secret in the manifests"
    readme = (DEPLOY / "README.md").read_text()
    refs = set()
    for workload, container in service_containers(docs):
        for entry in container.get("env", []):
            ref = entry.get("valueFrom", {}).get("secretKeyRef")
            if ref:
                refs.add((ref["name"], ref["key"]))
        secret_env = {
            e["name"] for e in container.get("env", []) if "secretKeyRef" in e.get("valueFrom", {})
        }
        # The database URL, webhook secrets and API keys come from the Secret, never a ConfigMap.
        fields = env_names(SERVICES[service_of(workload)])
        must = {env for env, field in fields.items() if field in SECRET_FIELDS}
        assert must <= secret_env, workload["metadata"]["name"]
    for name, key in sorted(refs):
        assert f"--from-literal={key}=" in readme and name in readme, (
            f"deploy/README.md does not say how to create secret {name} key {key}"
        )


@pytest.mark.parametrize("render", RENDERS)
def test_defaulted_annotation_names_only_variables_left_unset(
    rendered: dict[str, list[dict[str, Any]]], render: str
) -> None:
    for workload, container in service_containers(rendered[render]):
        env = container_env(workload, container, rendered[render])
        assert DEFAULTED_ANNOTATION in workload["metadata"]["annotations"]
        assert not defaulted(workload) & set(env), workload["metadata"]["name"]
