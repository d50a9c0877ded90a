"""Every environment variable a service reads (enumerated from its pydantic-settings class)
is documented in the README's configuration reference with its default, and is set in the
compose file and in the Kubernetes manifests, or named there as left to its default."""

from __future__ import annotations

import json
from typing import Any

import pytest
from deploy_support import (
    DEFAULTED_COMPOSE_KEY,
    SERVICE_PLACEHOLDER,
    SERVICES,
    by_kind,
    container_env,
    defaulted,
    env_names,
    env_prefix,
    expected_readme_rows,
    folded_default,
    owned_by,
    pod_spec,
    readme_rows,
    service_env,
    shared_env,
)


def probe_value(annotation: Any, default: Any) -> tuple[str, Any]:
    """An environment value (and what it parses to) that differs from the default."""
    if annotation is bool:
        return str(not default).lower(), not default
    if annotation is int:
        return str(default + 7), default + 7
    if annotation is float:
        return str(default + 0.5), default + 0.5
    if isinstance(default, dict):
        value: Any = {"probe": ["x"]} if "list" in str(annotation) else {"probe": "x"}
        return json.dumps(value), value
    if isinstance(default, list):
        return json.dumps(["probe"]), ["probe"]
    return "probe-value", "probe-value"


@pytest.mark.parametrize("service", SERVICES)
def test_env_names_are_the_ones_pydantic_settings_reads(
    service: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Set each derived name to a value unlike the default: the setting must take it (so the
    derivation of names from prefixes and aliases matches pydantic-settings')."""
    settings_cls = SERVICES[service]
    expected = {}
    for env, field_name in env_names(settings_cls).items():
        field = settings_cls.model_fields[field_name]
        raw, parsed = probe_value(field.annotation, field.get_default(call_default_factory=True))
        monkeypatch.setenv(env, raw)
        expected[field_name] = parsed
    settings = settings_cls()
    assert {name: getattr(settings, name) for name in expected} == expected


def test_readme_reference_lists_every_variable_with_its_default() -> None:
    rows = readme_rows()
    expected = expected_readme_rows()
    missing = sorted(set(expected) - set(rows))
    unknown = sorted(set(rows) - set(expected))
    hint = "\n".join(
        f"| `{env}` | {expected[env][0]} | {', '.join(sorted(expected[env][1]))} | ... |"
        for env in missing
    )
    assert not missing, f"README lacks (rows to add):\n{hint}"
    assert not unknown, f"README documents variables no service reads: {unknown}"
    for env, (default, services) in expected.items():
        cell, documented_services, meaning = rows[env]
        assert documented_services == services, f"{env}: read by {sorted(services)}"
        assert meaning, f"{env}: no meaning given"
        if env in shared_env() or cell == default:
            assert cell == default, f"{env}: default is {default}, README says {cell}"
    # A folded `<SVC>_NAME` row gives each service's default in one cell.
    for suffix in {
        env.removeprefix(env_prefix(SERVICES["router"])) for env in service_env("router")
    }:
        cells = {
            service: expected[f"{env_prefix(cls)}{suffix}"][0]
            for service, cls in SERVICES.items()
            if f"{env_prefix(cls)}{suffix}" in expected
        }
        if len(cells) == len(SERVICES):
            documented = {rows[f"{env_prefix(SERVICES[s])}{suffix}"][0] for s in cells}
            assert documented == {folded_default(cells)}, (
                f"{SERVICE_PLACEHOLDER}{suffix}: default cell should read {folded_default(cells)!r}"
            )


@pytest.mark.parametrize("service", SERVICES)
def test_compose_sets_every_variable_each_service_reads(
    compose: dict[str, Any], service: str
) -> None:
    expected = service_env(service)
    for name in (service, f"{service}-migrate"):
        definition = compose["services"][name]
        env = definition["environment"]
        assert isinstance(env, dict), f"{name}: environment as a mapping"
        left = set(definition.get(DEFAULTED_COMPOSE_KEY, {}))
        assert all(definition.get(DEFAULTED_COMPOSE_KEY, {}).values()), "a reason for each"
        assert not left & set(env), f"{name}: set and also named as defaulted: {left & set(env)}"
        missing = expected - set(env) - left
        assert not missing, f"{name} does not set {sorted(missing)}"
        typos = {key for key in set(env) | left if owned_by(service, key)} - expected
        assert not typos, f"{name} sets variables the {service} does not read: {sorted(typos)}"
        assert all(isinstance(value, str) for value in env.values()), "quote every value"


@pytest.mark.parametrize("render", ["base", "production"])
def test_manifests_set_every_variable_each_service_reads(
    rendered: dict[str, list[dict[str, Any]]], render: str
) -> None:
    docs = rendered[render]
    checked = set()
    for doc in docs:
        spec = pod_spec(doc)
        service = doc["metadata"]["labels"].get("app.kubernetes.io/name")
        if spec is None or service not in SERVICES:
            continue
        [container] = [c for c in spec["containers"] if c["name"] == service]
        env = set(container_env(doc, container, docs))
        left = defaulted(doc)
        expected = service_env(service)
        name = f"{doc['kind']}/{doc['metadata']['name']}"
        missing = expected - env - left
        assert not missing, f"{name} does not set {sorted(missing)}"
        typos = {key for key in env | left if owned_by(service, key)} - expected
        assert not typos, f"{name} sets variables the {service} does not read: {sorted(typos)}"
        checked.add(name)
    assert len(checked) == 7, checked  # 4 Deployments and 3 migration Jobs
    assert by_kind(docs, "ConfigMap")


def test_idempotent_producer_is_switched_on_for_real_kafka(
    compose: dict[str, Any], rendered: dict[str, list[dict[str, Any]]]
) -> None:
    for service, settings_cls in SERVICES.items():
        field = settings_cls.model_fields["kafka_idempotent_producer"]
        assert field.default is False  # off by default: the embedded broker lacks it
        env = "BATON_KAFKA_IDEMPOTENT"
        assert env in env_names(settings_cls)
        assert compose["services"][service]["environment"][env] == "true"
        for docs in rendered.values():
            config_maps = by_kind(docs, "ConfigMap")
            [config] = [
                d for n, d in config_maps.items() if n.startswith(f"baton-{service}-config")
            ]
            assert config["data"][env] == "true"
