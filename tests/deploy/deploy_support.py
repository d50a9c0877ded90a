"""What the deploy/ checks share: the settings' environment variables, the compose file, a
small Kustomize renderer, and validators for compose, Kubernetes and the two CRDs used.

Everything runs offline: the Kubernetes schemas ship in kubernetes-validate, the
compose-spec schema in check-jsonschema, and the KEDA and Prometheus Operator models
(generated from their CRDs) in cloudcoil-models-*; all are locked in uv.lock.
"""

from __future__ import annotations

import copy
import hashlib
import json
import re
from collections.abc import Iterator
from functools import cache
from importlib import resources
from pathlib import Path
from typing import Any

import jsonpatch
import jsonschema
import kubernetes_validate
import yaml
from pydantic import AliasChoices, BaseModel, ValidationError
from pydantic.fields import FieldInfo
from pydantic_settings import BaseSettings

from baton_feedback.config import FeedbackSettings
from baton_router.config import RouterSettings
from baton_runtime.settings import ServiceSettings
from baton_sla_monitor.config import SlaMonitorSettings

ROOT = Path(__file__).resolve().parents[2]
DEPLOY = ROOT / "deploy"
COMPOSE_FILE = DEPLOY / "compose.yaml"
DOCKERFILE = DEPLOY / "docker" / "Dockerfile"
K8S = DEPLOY / "k8s"
K8S_BASE = K8S / "base"
K8S_PRODUCTION = K8S / "overlays" / "production"
TOPICS_SCRIPT = K8S_BASE / "kafka" / "create-topics.sh"

# The Kubernetes version the manifests are checked against (kubernetes-validate's schemas).
KUBERNETES_VERSION = "1.30"

SERVICES: dict[str, type[ServiceSettings]] = {
    "router": RouterSettings,
    "sla-monitor": SlaMonitorSettings,
    "feedback": FeedbackSettings,
}

# The annotation (Kubernetes) and the service key (compose) naming the variables a service
# is left to read at their default, on purpose.
DEFAULTED_ANNOTATION = "baton/defaulted-env"
DEFAULTED_COMPOSE_KEY = "x-baton-defaulted-env"


# ---- the settings' environment variables


def env_prefix(settings_cls: type[BaseSettings]) -> str:
    return str(settings_cls.model_config.get("env_prefix", ""))


def env_names(settings_cls: type[BaseSettings]) -> dict[str, str]:
    """{environment variable: field name} for every field of a settings class, named the way
    pydantic-settings reads them: a validation alias as it is (no prefix), otherwise the
    env prefix and the field name. (No nested delimiter is configured, so complex values
    are whole JSON documents in one variable.)"""
    assert not settings_cls.model_config.get("env_nested_delimiter"), "nested settings"
    prefix = env_prefix(settings_cls)
    names: dict[str, str] = {}
    for field_name, field in settings_cls.model_fields.items():
        for env in _field_env_names(prefix, field_name, field):
            names[env.upper()] = field_name
    return names


def _field_env_names(prefix: str, field_name: str, field: FieldInfo) -> list[str]:
    alias = field.validation_alias
    if isinstance(alias, AliasChoices):
        return [choice for choice in alias.choices if isinstance(choice, str)]
    if isinstance(alias, str):
        return [alias]
    if field.alias:
        return [field.alias]
    return [f"{prefix}{field_name}"]


def service_env(service: str) -> set[str]:
    return set(env_names(SERVICES[service]))


def shared_env() -> set[str]:
    """The variables every service reads under one un-prefixed name."""
    sets = [service_env(service) for service in SERVICES]
    return set.intersection(*sets)


def owned_by(service: str, env: str) -> bool:
    """Whether `env` is in the namespace of `service`'s settings (its prefix, or the shared
    BATON_ names): a name there that the settings do not read is a typo."""
    return env.startswith(env_prefix(SERVICES[service])) or env.startswith("BATON_")


# ---- the README's configuration reference

README = ROOT / "README.md"
_ROW = re.compile(
    r"^\|\s*`(?P<name>[A-Z0-9_<>]+)`\s*\|(?P<default>[^|]*)\|(?P<read_by>[^|]*)\|(?P<meaning>.*)\|\s*$"
)
SERVICE_PLACEHOLDER = "<SVC>_"


def readme_rows() -> dict[str, tuple[str, set[str], str]]:
    """{variable: (default cell, services, meaning)} from the README's table, with each
    `<SVC>_NAME` row expanded to the prefixed variable of every service it names."""
    text = README.read_text()
    start = text.index("<!-- env-reference:start -->")
    end = text.index("<!-- env-reference:end -->")
    rows: dict[str, tuple[str, set[str], str]] = {}
    for line in text[start:end].splitlines():
        match = _ROW.match(line)
        if not match:
            continue
        services = {part.strip() for part in match["read_by"].split(",") if part.strip()}
        default = match["default"].strip()
        meaning = match["meaning"].strip()
        name = match["name"]
        if name.startswith(SERVICE_PLACEHOLDER):
            for service in services:
                suffix = name.removeprefix(SERVICE_PLACEHOLDER)
                rows[f"{env_prefix(SERVICES[service])}{suffix}"] = (default, {service}, meaning)
        else:
            rows[name] = (default, services, meaning)
    return rows


def render_default(value: Any) -> str:
    """A default as the README's table writes it."""
    if value is None:
        return "unset"
    if isinstance(value, bool):
        return f"`{str(value).lower()}`"
    if value == "":
        return "empty"
    if isinstance(value, dict | list):
        return f"`{json.dumps(value)}`"
    return f"`{value}`"


def expected_readme_rows() -> dict[str, tuple[str, set[str]]]:
    """{variable: (default cell, services)} as the settings classes have them, with the
    per-service rows still expanded (the README may fold them into one `<SVC>_` row)."""
    rows: dict[str, tuple[str, set[str]]] = {}
    for service, settings_cls in SERVICES.items():
        for env, field_name in env_names(settings_cls).items():
            field = settings_cls.model_fields[field_name]
            default = render_default(field.get_default(call_default_factory=True))
            if env in rows:
                rows[env][1].add(service)
            else:
                rows[env] = (default, {service})
    return rows


def folded_default(cells: dict[str, str]) -> str:
    """The default cell of a `<SVC>_` row: one value, or each service's."""
    if len(set(cells.values())) == 1:
        return next(iter(cells.values()))
    return "; ".join(f"{service} {cell}" for service, cell in cells.items())


# ---- compose


def load_yaml(path: Path) -> Any:
    return yaml.safe_load(path.read_text())


@cache
def compose_schema() -> dict[str, Any]:
    """The compose-spec JSON schema, as vendored in check-jsonschema (locked in uv.lock)."""
    text = (
        resources.files("check_jsonschema.builtin_schemas.vendor")
        .joinpath("compose-spec.json")
        .read_text("utf-8")
    )
    return json.loads(text)  # type: ignore[no-any-return]


def compose_errors(document: Any) -> list[str]:
    """Every place `document` breaks the compose specification (empty when valid)."""
    schema = compose_schema()
    validator_cls = jsonschema.validators.validator_for(schema)
    validator = validator_cls(schema, format_checker=validator_cls.FORMAT_CHECKER)
    return [
        f"{error.json_path}: {error.message}"
        for error in sorted(validator.iter_errors(document), key=lambda e: e.json_path)
    ]


# ---- Kubernetes: a small Kustomize


def load_documents(path: Path) -> list[dict[str, Any]]:
    return [doc for doc in yaml.safe_load_all(path.read_text()) if doc]


def render_kustomization(directory: Path) -> list[dict[str, Any]]:
    """The resources `kustomize build directory` prints, for the features Baton's
    kustomizations use: resources (files and bases), namespace, labels (metadata only),
    images, configMapGenerator (envs, files, literals, options.labels; create and merge)
    and patches with a
    target and an inline JSON 6902 patch. Generated ConfigMaps get a content hash suffix
    and every reference to them is rewritten, as kustomize does; the suffix is not
    kustomize's own hash (tests compare names without it)."""
    docs, generated = _build(directory)
    return _hash_generated(docs, generated)


def _build(directory: Path) -> tuple[list[dict[str, Any]], set[str]]:
    kustomization = load_yaml(directory / "kustomization.yaml")
    known = {
        "apiVersion",
        "kind",
        "resources",
        "namespace",
        "labels",
        "images",
        "configMapGenerator",
        "patches",
    }
    unknown = set(kustomization) - known
    assert not unknown, f"{directory}: the test renderer does not know {sorted(unknown)}"
    docs: list[dict[str, Any]] = []
    generated: set[str] = set()
    for resource in kustomization.get("resources", []):
        path = (directory / resource).resolve()
        if path.is_dir():
            base_docs, base_generated = _build(path)
            docs += base_docs
            generated |= base_generated
        else:
            docs += load_documents(path)
    for generator in kustomization.get("configMapGenerator", []):
        data = _generator_data(directory, generator)
        name = generator["name"]
        behavior = generator.get("behavior", "create")
        existing = [d for d in docs if d["kind"] == "ConfigMap" and d["metadata"]["name"] == name]
        if behavior == "create":
            assert not existing, f"ConfigMap {name} generated twice"
            metadata: dict[str, Any] = {"name": name}
            if generator.get("options", {}).get("labels"):
                metadata["labels"] = dict(generator["options"]["labels"])
            docs.append(
                {"apiVersion": "v1", "kind": "ConfigMap", "metadata": metadata, "data": data}
            )
            generated.add(name)
        else:
            assert existing, f"{behavior} of a ConfigMap {name} no base generates"
            if behavior == "merge":
                existing[0]["data"].update(data)
            else:
                existing[0]["data"] = data
    for patch in kustomization.get("patches", []):
        operations = jsonpatch.JsonPatch(yaml.safe_load(patch["patch"]))
        for index, doc in enumerate(docs):
            if _targeted(doc, patch["target"]):
                docs[index] = operations.apply(doc)
    for pairs in kustomization.get("labels", []):
        for doc in docs:
            doc["metadata"].setdefault("labels", {}).update(pairs["pairs"])
    if "namespace" in kustomization:
        for doc in docs:
            doc["metadata"]["namespace"] = kustomization["namespace"]
    for image in kustomization.get("images", []):
        for container in _containers(docs):
            name, _, _tag = container["image"].partition(":")
            if name == image["name"]:
                new_name = image.get("newName", name)
                container["image"] = (
                    f"{new_name}:{image['newTag']}" if "newTag" in image else new_name
                )
    return docs, generated


def _generator_data(directory: Path, generator: dict[str, Any]) -> dict[str, str]:
    data: dict[str, str] = {}
    for env_file in generator.get("envs", []):
        for line in (directory / env_file).read_text().splitlines():
            line = line.strip()
            if line and not line.startswith("#"):
                key, sep, value = line.partition("=")
                assert sep, f"{env_file}: not KEY=VALUE: {line!r}"
                data[key] = value
    for entry in generator.get("files", []):
        key, sep, file = entry.partition("=")
        if not sep:
            key, file = Path(entry).name, entry
        data[key] = (directory / file).read_text()
    for literal in generator.get("literals", []):
        key, _, value = literal.partition("=")
        data[key] = value
    return data


def _targeted(doc: dict[str, Any], target: dict[str, str]) -> bool:
    group = doc["apiVersion"].rpartition("/")[0]
    checks = [
        ("group", group),
        ("version", doc["apiVersion"].rpartition("/")[2]),
        ("kind", doc["kind"]),
        ("name", doc["metadata"]["name"]),
    ]
    return all(
        re.fullmatch(target[key], value) is not None for key, value in checks if key in target
    )


def pod_spec(doc: dict[str, Any]) -> dict[str, Any] | None:
    if doc["kind"] in {"Deployment", "StatefulSet", "DaemonSet", "Job"}:
        return doc["spec"]["template"]["spec"]  # type: ignore[no-any-return]
    return None


def _containers(docs: list[dict[str, Any]]) -> Iterator[dict[str, Any]]:
    for doc in docs:
        spec = pod_spec(doc)
        if spec is not None:
            yield from spec.get("initContainers", [])
            yield from spec["containers"]


def _hash_generated(docs: list[dict[str, Any]], generated: set[str]) -> list[dict[str, Any]]:
    renamed: dict[str, str] = {}
    for doc in docs:
        if doc["kind"] == "ConfigMap" and doc["metadata"]["name"] in generated:
            content = json.dumps(doc["data"], sort_keys=True).encode()
            name = doc["metadata"]["name"]
            renamed[name] = f"{name}-{hashlib.sha256(content).hexdigest()[:10]}"
            doc["metadata"]["name"] = renamed[name]
    for doc in docs:
        spec = pod_spec(doc)
        if spec is None:
            continue
        for volume in spec.get("volumes", []):
            if "configMap" in volume:
                ref = volume["configMap"]
                ref["name"] = renamed.get(ref["name"], ref["name"])
        for container in [*spec.get("initContainers", []), *spec["containers"]]:
            for source in container.get("envFrom", []):
                if "configMapRef" in source:
                    ref = source["configMapRef"]
                    ref["name"] = renamed.get(ref["name"], ref["name"])
            for env in container.get("env", []):
                ref = env.get("valueFrom", {}).get("configMapKeyRef")
                if ref:
                    ref["name"] = renamed.get(ref["name"], ref["name"])
    return docs


HASH_SUFFIX = re.compile(r"-[a-z0-9]{10}$")


def without_hash(name: str) -> str:
    return HASH_SUFFIX.sub("", name)


# ---- Kubernetes: validation

CRD_MODELS: dict[tuple[str, str], str] = {
    ("keda.sh/v1alpha1", "ScaledObject"): "cloudcoil.models.keda.v1alpha1:ScaledObject",
    ("monitoring.coreos.com/v1", "ServiceMonitor"): (
        "cloudcoil.models.prometheus_operator.v1:ServiceMonitor"
    ),
}


def manifest_errors(doc: dict[str, Any]) -> list[str]:
    """Every way `doc` breaks its schema: Kubernetes' own kinds against kubernetes-validate's
    strict schemas (no unknown fields), the KEDA and Prometheus Operator kinds against the
    models generated from their CRDs, with unknown fields reported too."""
    where = f"{doc.get('kind')}/{doc.get('metadata', {}).get('name')}"
    key = (doc.get("apiVersion"), doc.get("kind"))
    if key in CRD_MODELS:
        return [f"{where}: {error}" for error in _crd_errors(doc, CRD_MODELS[key])]
    try:
        kubernetes_validate.validate(doc, KUBERNETES_VERSION, strict=True)
    except kubernetes_validate.ValidationError as error:
        path = ".".join(str(part) for part in error.path)
        return [f"{where}: {path}: {error.message}"]
    except kubernetes_validate.SchemaNotFoundError as error:
        return [f"{where}: {error.message}"]
    return []


def _crd_errors(doc: dict[str, Any], model_path: str) -> list[str]:
    module, _, name = model_path.partition(":")
    model: type[BaseModel] = getattr(__import__(module, fromlist=[name]), name)
    try:
        parsed = model.model_validate(doc)
    except ValidationError as error:
        return [f"{'.'.join(str(p) for p in e['loc'])}: {e['msg']}" for e in error.errors()]
    # The generated models ignore unknown fields; a field the model dropped is unknown.
    kept = parsed.model_dump(mode="json", by_alias=True, exclude_unset=True)
    return [f"{path}: unknown field" for path in _dropped(doc, kept)]


def _dropped(given: Any, kept: Any, path: str = "") -> list[str]:
    if isinstance(given, dict) and isinstance(kept, dict):
        missing = [f"{path}.{key}".lstrip(".") for key in given if key not in kept]
        nested = [
            dropped
            for key in given
            if key in kept
            for dropped in _dropped(given[key], kept[key], f"{path}.{key}")
        ]
        return missing + nested
    if isinstance(given, list) and isinstance(kept, list):
        return [
            dropped
            for index, (g, k) in enumerate(zip(given, kept, strict=False))
            for dropped in _dropped(g, k, f"{path}[{index}]")
        ]
    return []


def by_kind(docs: list[dict[str, Any]], kind: str) -> dict[str, dict[str, Any]]:
    return {doc["metadata"]["name"]: doc for doc in docs if doc["kind"] == kind}


def container_env(
    doc: dict[str, Any], container: dict[str, Any], docs: list[dict[str, Any]]
) -> dict[str, str]:
    """{variable: where it comes from} for one container: `env` entries and the keys of the
    ConfigMaps in its `envFrom`, which must be among `docs`."""
    config_maps = by_kind(docs, "ConfigMap")
    env: dict[str, str] = {}
    for source in container.get("envFrom", []):
        name = source["configMapRef"]["name"]
        assert name in config_maps, f"{doc['metadata']['name']}: no ConfigMap {name}"
        for key in config_maps[name]["data"]:
            env[key] = f"ConfigMap {name}"
    for entry in container.get("env", []):
        origin = "value" if "value" in entry else json.dumps(entry.get("valueFrom"))
        env[entry["name"]] = origin
    return env


def defaulted(doc: dict[str, Any]) -> set[str]:
    value = doc["metadata"].get("annotations", {}).get(DEFAULTED_ANNOTATION, "")
    return {name.strip() for name in value.split(",") if name.strip()}


def deep_copy(docs: list[dict[str, Any]]) -> list[dict[str, Any]]:
    return copy.deepcopy(docs)
