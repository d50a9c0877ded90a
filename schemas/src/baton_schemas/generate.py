"""Generate the checked-in contract files from the event models.

    python -m baton_schemas.generate [--check] [--root DIR]

writes, under the `schemas/` directory (or `--root`):

- `json/<event_type>.json`: one JSON Schema (draft 2020-12) per event type in EVENT_MODELS;
- `asyncapi.yaml`: an AsyncAPI 3.0.0 document with the Kafka server, one channel per topic
  that carries events, the messages (CloudEvents binary-mode headers, payload, lead key)
  and the services' send/receive operations.

`--check` writes nothing; it exits 1 and lists the files that differ, are missing or are
extra. Output is deterministic (sorted keys, stable order, trailing newline) so the check
compares bytes.
"""

from __future__ import annotations

import argparse
import json
import re
import sys
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

from baton_schemas import topics
from baton_schemas.events import EVENT_MODELS, BatonEvent, LeadEvent

JSON_SCHEMA_DIALECT = "https://json-schema.org/draft/2020-12/schema"
SCHEMA_ID_BASE = "urn:baton:schema:"
ASYNCAPI_VERSION = "3.0.0"
DOCUMENT_VERSION = "1.0.0"
JSON_DIR = "json"
ASYNCAPI_FILE = "asyncapi.yaml"
KAFKA_BINDING_VERSION = "0.5.0"
HEADERS_SCHEMA = "CloudEventsKafkaHeaders"
LEAD_KEY_SCHEMA = "LeadKey"

DEFAULT_ROOT = Path(__file__).resolve().parents[2]
"""`schemas/`: this file is schemas/src/baton_schemas/generate.py."""


@dataclass(frozen=True)
class Operation:
    service: str
    action: str  # "send" | "receive", from the service's point of view
    topic: str
    summary: str


OPERATIONS: tuple[Operation, ...] = (
    Operation("router", "receive", topics.LEADS_CAPTURED, "Route each captured lead."),
    Operation("router", "send", topics.LEADS_ASSIGNED, "Publish who follows the lead up and why."),
    Operation("sla-monitor", "receive", topics.LEADS_ASSIGNED, "Open an SLA clock per assignment."),
    Operation("feedback", "receive", topics.LEADS_ASSIGNED, "Record assignments for attribution."),
    Operation(
        "sla-monitor", "send", topics.SLA_EVENTS, "Publish deadlines, warnings and breaches."
    ),
    Operation(
        "router", "receive", topics.SLA_EVENTS, "Reassign a lead on a breach that asks for it."
    ),
    Operation(
        "feedback", "send", topics.FEEDBACK_TRACEABLE, "Publish sales activity and outcomes."
    ),
    Operation(
        "router",
        "receive",
        topics.FEEDBACK_TRACEABLE,
        "Re-route or recycle leads rejected for a reason the policy lists.",
    ),
    Operation(
        "sla-monitor", "receive", topics.FEEDBACK_TRACEABLE, "Stop the clock on a qualifying touch."
    ),
    Operation("router", "send", topics.POLICY_EVENTS, "Publish each policy version it activates."),
    Operation("feedback", "receive", topics.CRM_ACTIVITY, "Take CRM feedback published to Kafka."),
    Operation(
        "feedback", "send", topics.FEEDBACK_CLOSED_DEALS, "Publish closed deals, attributed."
    ),
    Operation(
        "router",
        "receive",
        topics.FEEDBACK_CLOSED_DEALS,
        "Learn win rates for the learned part of the score.",
    ),
    Operation("sla-monitor", "receive", topics.POLICY_EVENTS, "Keep every version's SLA terms."),
)
"""Who sends and receives what, as known now. Keep in step with the services."""

SERVICE_DESCRIPTIONS: dict[str, str] = {
    "router": "Takes leads in (webhooks, leads.captured) and assigns them to an owner or queue.",
    "sla-monitor": "Watches first-response SLAs of assigned leads.",
    "feedback": "Closes the loop from assignments to CRM activity and deals.",
}


# --- JSON Schema ---------------------------------------------------------------------------


def _normalise(node: Any) -> Any:
    """Sort `required` lists so reordering model fields does not churn the files."""
    if isinstance(node, dict):
        out = {key: _normalise(value) for key, value in node.items()}
        required = out.get("required")
        if isinstance(required, list) and all(isinstance(item, str) for item in required):
            out["required"] = sorted(required)
        return out
    if isinstance(node, list):
        return [_normalise(item) for item in node]
    return node


def schema_id(event_type: str) -> str:
    return f"{SCHEMA_ID_BASE}{event_type}"


def json_schema(model: type[BatonEvent]) -> dict[str, Any]:
    """The model's JSON Schema (validation mode: what a consumer accepts)."""
    generated = model.model_json_schema(mode="validation")
    schema: dict[str, Any] = {
        "$schema": JSON_SCHEMA_DIALECT,
        "$id": schema_id(model.event_type),
        **generated,
    }
    schema["title"] = model.__name__
    schema["x-baton-event-type"] = model.event_type
    schema["x-baton-topic"] = model.topic
    result: dict[str, Any] = _normalise(schema)
    return result


def dump_json(document: Mapping[str, Any]) -> str:
    return json.dumps(document, indent=2, sort_keys=True, ensure_ascii=False) + "\n"


# --- AsyncAPI ------------------------------------------------------------------------------


def _ident(text: str) -> str:
    """An AsyncAPI id (channels, messages, operations allow only [A-Za-z0-9_-])."""
    return re.sub(r"[^A-Za-z0-9_-]+", "-", text).strip("-")


def _rewrite_refs(node: Any, prefix: str) -> Any:
    """Point `#/$defs/X` at `#/components/schemas/<prefix>X`."""
    if isinstance(node, dict):
        out: dict[str, Any] = {}
        for key, value in node.items():
            if key == "$ref" and isinstance(value, str) and value.startswith("#/$defs/"):
                out[key] = f"#/components/schemas/{prefix}{value.removeprefix('#/$defs/')}"
            else:
                out[key] = _rewrite_refs(value, prefix)
        return out
    if isinstance(node, list):
        return [_rewrite_refs(item, prefix) for item in node]
    return node


def _component_schemas(model: type[BatonEvent]) -> dict[str, Any]:
    """The event's schema and its $defs as components, namespaced by event type.

    Namespacing keeps two versions of an event whose nested models share a class name
    (Person in v1 and v2) from colliding.
    """
    schema = json_schema(model)
    prefix = f"{model.event_type}."
    defs = schema.pop("$defs", {})
    for key in ("$schema", "$id"):
        schema.pop(key)
    components = {model.event_type: _rewrite_refs(schema, prefix)}
    for name in sorted(defs):
        components[f"{prefix}{name}"] = _rewrite_refs(defs[name], prefix)
    return components


def _headers_schema() -> dict[str, Any]:
    return {
        "type": "object",
        "description": (
            "CloudEvents 1.0 Kafka protocol binding, binary content mode: the event's "
            "attributes travel as `ce_*` record headers (UTF-8 strings), the record value is "
            "the JSON `data`. A W3C `traceparent` header carries the trace across the broker. "
            "Other headers (CloudEvents extensions, tracing) may be present."
        ),
        "required": sorted(
            ["ce_specversion", "ce_id", "ce_source", "ce_type", "ce_time", "content-type"]
        ),
        "properties": {
            "ce_specversion": {"type": "string", "const": "1.0"},
            "ce_id": {
                "type": "string",
                "minLength": 1,
                "description": "Unique per event; consumers deduplicate on it (inbox).",
            },
            "ce_source": {
                "type": "string",
                "minLength": 1,
                "description": "URI-reference of the producing service.",
            },
            "ce_type": {
                "type": "string",
                "description": "The versioned event type, e.g. baton.lead.assigned.v1.",
            },
            "ce_time": {"type": "string", "format": "date-time"},
            "content-type": {"type": "string", "const": "application/json"},
            "traceparent": {
                "type": "string",
                "pattern": "^[0-9a-f]{2}-[0-9a-f]{32}-[0-9a-f]{16}-[0-9a-f]{2}$",
                "description": (
                    "W3C Trace Context. Baton producers always set it; consumers accept "
                    "records without it."
                ),
            },
        },
        "additionalProperties": True,
    }


def _lead_key_schema() -> dict[str, Any]:
    lead_key = LeadEvent.model_json_schema()["properties"]["lead_key"]
    return {
        "type": "string",
        "minLength": lead_key["minLength"],
        "maxLength": lead_key["maxLength"],
        "description": LeadEvent.key_description,
    }


def _key_schema(model: type[BatonEvent]) -> dict[str, Any]:
    if issubclass(model, LeadEvent):
        return {"$ref": f"#/components/schemas/{LEAD_KEY_SCHEMA}"}
    return {"type": "string", "description": model.key_description}


def _message(model: type[BatonEvent]) -> dict[str, Any]:
    doc = (model.__doc__ or "").strip()
    message: dict[str, Any] = {
        "name": model.event_type,
        "title": model.__name__,
        **({"summary": doc.splitlines()[0]} if doc else {}),
        "description": (
            f"CloudEvents type `{model.event_type}` on logical topic `{model.topic}`; the "
            f"record value is the JSON data. {model.key_description}"
        ),
        "contentType": "application/json",
        "headers": {
            "allOf": [
                {"$ref": f"#/components/schemas/{HEADERS_SCHEMA}"},
                {
                    "type": "object",
                    "properties": {"ce_type": {"type": "string", "const": model.event_type}},
                },
            ]
        },
        "payload": {"$ref": f"#/components/schemas/{model.event_type}"},
        "bindings": {
            "kafka": {
                "key": _key_schema(model),
                "bindingVersion": KAFKA_BINDING_VERSION,
            }
        },
    }
    return message


def _topics_with_events() -> dict[str, list[type[BatonEvent]]]:
    by_topic: dict[str, list[type[BatonEvent]]] = {}
    for event_type in sorted(EVENT_MODELS):
        model = EVENT_MODELS[event_type]
        by_topic.setdefault(model.topic, []).append(model)
    return {topic: by_topic[topic] for topic in sorted(by_topic)}


def asyncapi_document() -> dict[str, Any]:
    by_topic = _topics_with_events()
    channels: dict[str, Any] = {}
    for topic, models in by_topic.items():
        channels[_ident(topic)] = {
            "address": topic,
            "title": topic,
            "description": (
                f"Logical topic `{topic}`. The physical topic name is the deployment's "
                f"prefix followed by it (`BATON_TOPIC_PREFIX`, default empty; see "
                f"baton_schemas.topics.Topics), e.g. `staging.{topic}`. "
                f"{models[0].key_description}"
            ),
            "messages": {
                _ident(model.event_type): {
                    "$ref": f"#/components/messages/{_ident(model.event_type)}"
                }
                for model in models
            },
        }

    operations: dict[str, Any] = {}
    for op in OPERATIONS:
        if op.topic not in by_topic:
            raise ValueError(f"operation {op} names topic {op.topic!r} that carries no event model")
        channel_id = _ident(op.topic)
        verb = "Sends" if op.action == "send" else "Receives"
        operations[_ident(f"{op.service}-{op.action}-{op.topic}")] = {
            "action": op.action,
            "channel": {"$ref": f"#/channels/{channel_id}"},
            "title": f"{op.service} {op.action}s {op.topic}",
            "summary": op.summary,
            "description": f"{verb} on `{op.topic}` as service `{op.service}`.",
            "tags": [{"name": op.service}],
            "messages": [
                {"$ref": f"#/channels/{channel_id}/messages/{_ident(model.event_type)}"}
                for model in by_topic[op.topic]
            ],
            **(
                {
                    "bindings": {
                        "kafka": {
                            "groupId": {
                                "type": "string",
                                "default": f"baton-{op.service}",
                                "description": "Consumer group; override with the service's "
                                "consumer_group setting.",
                            },
                            "bindingVersion": KAFKA_BINDING_VERSION,
                        }
                    }
                }
                if op.action == "receive"
                else {}
            ),
        }

    messages = {
        _ident(event_type): _message(EVENT_MODELS[event_type])
        for event_type in sorted(EVENT_MODELS)
    }
    schemas: dict[str, Any] = {
        HEADERS_SCHEMA: _headers_schema(),
        LEAD_KEY_SCHEMA: _lead_key_schema(),
    }
    for event_type in sorted(EVENT_MODELS):
        schemas.update(_component_schemas(EVENT_MODELS[event_type]))

    services = sorted({op.service for op in OPERATIONS})
    return {
        "asyncapi": ASYNCAPI_VERSION,
        "info": {
            "title": "Baton events",
            "version": DOCUMENT_VERSION,
            "description": (
                "Event contracts of Baton, the event-driven lead router. Generated from the "
                "pydantic models in baton_schemas by `python -m baton_schemas.generate` "
                "(`make schemas`); do not edit by hand. Every event type is versioned; a "
                "change that breaks a consumer is a new version."
            ),
            "tags": [
                {"name": service, "description": SERVICE_DESCRIPTIONS.get(service, service)}
                for service in services
            ],
        },
        "defaultContentType": "application/json",
        "servers": {
            "kafka": {
                "host": "{bootstrap}",
                "protocol": "kafka",
                "description": "Any Kafka-protocol cluster (Apache Kafka, or the embedded broker).",
                "variables": {
                    "bootstrap": {
                        "default": "127.0.0.1:9092",
                        "description": "Bootstrap server(s), from BATON_KAFKA_BOOTSTRAP.",
                    }
                },
            }
        },
        "channels": channels,
        "operations": operations,
        "components": {
            "messages": messages,
            "schemas": _sort_keys(schemas),
        },
    }


def _sort_keys(node: Any) -> Any:
    if isinstance(node, dict):
        return {key: _sort_keys(node[key]) for key in sorted(node)}
    if isinstance(node, list):
        return [_sort_keys(item) for item in node]
    return node


class _Dumper(yaml.SafeDumper):
    """SafeDumper that never emits anchors/aliases (shared sub-dicts stay inline)."""

    def ignore_aliases(self, data: Any) -> bool:
        return True


def dump_yaml(document: Mapping[str, Any]) -> str:
    text = yaml.dump(
        dict(document),
        Dumper=_Dumper,
        sort_keys=False,
        allow_unicode=True,
        default_flow_style=False,
        width=100,
    )
    return text if text.endswith("\n") else text + "\n"


# --- files ---------------------------------------------------------------------------------


def render() -> dict[str, str]:
    """Relative path (posix) -> file content, for every generated file."""
    files = {
        f"{JSON_DIR}/{event_type}.json": dump_json(json_schema(EVENT_MODELS[event_type]))
        for event_type in sorted(EVENT_MODELS)
    }
    files[ASYNCAPI_FILE] = dump_yaml(asyncapi_document())
    return files


def _existing_json(root: Path) -> set[str]:
    json_dir = root / JSON_DIR
    if not json_dir.is_dir():
        return set()
    return {f"{JSON_DIR}/{path.name}" for path in json_dir.glob("*.json")}


def differences(root: Path) -> list[str]:
    """What is out of date under `root`, one line per file; empty when all is current."""
    expected = render()
    problems: list[str] = []
    for relative in sorted(expected):
        path = root / relative
        if not path.is_file():
            problems.append(f"missing: {relative}")
        elif path.read_bytes() != expected[relative].encode():
            problems.append(f"differs: {relative}")
    for relative in sorted(_existing_json(root) - set(expected)):
        problems.append(f"extra:   {relative}")
    return problems


def write(root: Path) -> list[str]:
    """Bring `root` up to date; returns what changed."""
    expected = render()
    changed: list[str] = []
    for relative in sorted(expected):
        path = root / relative
        content = expected[relative].encode()
        if path.is_file() and path.read_bytes() == content:
            continue
        path.parent.mkdir(parents=True, exist_ok=True)
        changed.append(f"{'updated' if path.exists() else 'created'}: {relative}")
        path.write_bytes(content)
    for relative in sorted(_existing_json(root) - set(expected)):
        (root / relative).unlink()
        changed.append(f"removed: {relative}")
    return changed


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m baton_schemas.generate",
        description="Generate JSON Schemas and the AsyncAPI document from the event models.",
    )
    parser.add_argument(
        "--check",
        action="store_true",
        help="write nothing; exit 1 if the files differ from what the models produce",
    )
    parser.add_argument(
        "--root",
        type=Path,
        default=DEFAULT_ROOT,
        help=f"the schemas directory (default: {DEFAULT_ROOT})",
    )
    args = parser.parse_args(argv)
    root: Path = args.root
    if root == DEFAULT_ROOT and not (root / "pyproject.toml").is_file():
        parser.error(f"{root} is not the schemas/ source directory; pass --root")
    if args.check:
        problems = differences(root)
        if problems:
            print(f"schemas under {root} are out of date with the models:", file=sys.stderr)
            for line in problems:
                print(f"  {line}", file=sys.stderr)
            print("run `make schemas` (python -m baton_schemas.generate)", file=sys.stderr)
            return 1
        print(f"schemas under {root} are up to date")
        return 0
    changes = write(root)
    for line in changes:
        print(line)
    if not changes:
        print(f"schemas under {root} already up to date")
    return 0


__all__ = [
    "OPERATIONS",
    "asyncapi_document",
    "differences",
    "json_schema",
    "main",
    "render",
    "write",
]

if __name__ == "__main__":
    sys.exit(main())
