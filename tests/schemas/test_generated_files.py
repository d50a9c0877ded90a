"""The checked-in contract files are what the models produce, and say what they should."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
import yaml

from baton_schemas import topics
from baton_schemas.events import EVENT_MODELS, LeadEvent
from baton_schemas.generate import (
    ASYNCAPI_FILE,
    DEFAULT_ROOT,
    JSON_DIR,
    differences,
    main,
    render,
)

REGENERATE = "run `make schemas` (python -m baton_schemas.generate) and commit the result"
CE_HEADERS = ("ce_specversion", "ce_id", "ce_source", "ce_type", "ce_time", "content-type")


@pytest.fixture(scope="module")
def asyncapi() -> dict[str, Any]:
    document = yaml.safe_load((DEFAULT_ROOT / ASYNCAPI_FILE).read_text(encoding="utf-8"))
    assert isinstance(document, dict)
    return document


def _json_files() -> dict[str, dict[str, Any]]:
    return {
        path.name: json.loads(path.read_text(encoding="utf-8"))
        for path in sorted((DEFAULT_ROOT / JSON_DIR).glob("*.json"))
    }


def _pointer(document: dict[str, Any], ref: str) -> Any:
    assert ref.startswith("#/"), f"only local refs expected, got {ref}"
    node: Any = document
    for part in ref[2:].split("/"):
        part = part.replace("~1", "/").replace("~0", "~")
        assert isinstance(node, dict) and part in node, f"dangling $ref {ref}"
        node = node[part]
    return node


def _walk(node: Any) -> Any:
    yield node
    if isinstance(node, dict):
        for value in node.values():
            yield from _walk(value)
    elif isinstance(node, list):
        for item in node:
            yield from _walk(item)


# --- up to date ----------------------------------------------------------------------------


def test_committed_files_match_the_models() -> None:
    problems = differences(DEFAULT_ROOT)
    assert not problems, (
        "schemas/ is out of date with baton_schemas.events:\n  "
        + "\n  ".join(problems)
        + f"\n{REGENERATE}"
    )


def test_default_root_is_the_schemas_directory() -> None:
    assert DEFAULT_ROOT.name == "schemas"
    assert (DEFAULT_ROOT / "src" / "baton_schemas" / "generate.py").is_file()


def test_generation_is_deterministic() -> None:
    first, second = render(), render()
    assert first == second
    assert all(
        content.endswith("\n") and not content.endswith("\n\n") for content in first.values()
    )
    assert sorted(first) == sorted(
        [f"{JSON_DIR}/{event_type}.json" for event_type in EVENT_MODELS] + [ASYNCAPI_FILE]
    )


def test_check_reports_missing_differing_and_extra_files(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    root = tmp_path / "schemas"
    assert main(["--check", "--root", str(root)]) == 1
    assert f"missing: {ASYNCAPI_FILE}" in capsys.readouterr().err

    assert main(["--root", str(root)]) == 0
    assert main(["--check", "--root", str(root)]) == 0
    capsys.readouterr()

    some_schema = next(iter(sorted((root / JSON_DIR).glob("*.json"))))
    some_schema.write_text(some_schema.read_text() + " ")
    (root / ASYNCAPI_FILE).unlink()
    (root / JSON_DIR / "baton.lead.gone.v1.json").write_text("{}\n")
    assert main(["--check", "--root", str(root)]) == 1
    err = capsys.readouterr().err
    assert f"differs: {JSON_DIR}/{some_schema.name}" in err
    assert f"missing: {ASYNCAPI_FILE}" in err
    assert f"extra:   {JSON_DIR}/baton.lead.gone.v1.json" in err
    assert "make schemas" in err

    assert main(["--root", str(root)]) == 0  # regenerating repairs all three
    assert differences(root) == []


# --- JSON Schemas --------------------------------------------------------------------------


def test_one_json_schema_per_event_type() -> None:
    files = _json_files()
    assert sorted(files) == sorted(f"{event_type}.json" for event_type in EVENT_MODELS)
    for event_type, model in EVENT_MODELS.items():
        schema = files[f"{event_type}.json"]
        assert schema["$schema"] == "https://json-schema.org/draft/2020-12/schema"
        assert schema["$id"].endswith(event_type)
        assert schema["title"] == model.__name__
        assert schema["x-baton-topic"] == model.topic
        if issubclass(model, LeadEvent):
            assert "lead_key" in schema["required"]


def test_every_object_in_the_json_schemas_is_closed() -> None:
    for name, schema in _json_files().items():
        for node in _walk(schema):
            if isinstance(node, dict) and "properties" in node:
                assert node.get("additionalProperties") is False, (
                    f"{name}: object {node.get('title')!r} is open; event models must be "
                    "closed (extra='forbid')"
                )
        for node in _walk(schema):
            if isinstance(node, dict) and "$ref" in node:
                _pointer(schema, node["$ref"])


# --- AsyncAPI ------------------------------------------------------------------------------


def test_asyncapi_is_3_0_0(asyncapi: dict[str, Any]) -> None:
    assert asyncapi["asyncapi"] == "3.0.0"
    assert asyncapi["info"]["title"]
    assert asyncapi["info"]["version"]
    server = asyncapi["servers"]["kafka"]
    assert server["protocol"] == "kafka"
    assert "{bootstrap}" in server["host"]
    assert server["variables"]["bootstrap"]["default"]


def test_every_event_is_a_message(asyncapi: dict[str, Any]) -> None:
    messages = asyncapi["components"]["messages"]
    by_name = {message["name"]: message for message in messages.values()}
    assert sorted(by_name) == sorted(EVENT_MODELS)
    for event_type, model in EVENT_MODELS.items():
        message = by_name[event_type]
        assert message["contentType"] == "application/json"

        payload = _pointer(asyncapi, message["payload"]["$ref"])
        assert payload["title"] == model.__name__
        assert set(payload["properties"]) == set(model.model_fields)
        assert payload["additionalProperties"] is False

        base, specific = message["headers"]["allOf"]
        headers = _pointer(asyncapi, base["$ref"])
        assert set(CE_HEADERS) <= set(headers["required"])
        assert "traceparent" in headers["properties"]
        assert headers["properties"]["ce_specversion"]["const"] == "1.0"
        assert headers["properties"]["content-type"]["const"] == "application/json"
        assert specific["properties"]["ce_type"]["const"] == event_type

        kafka = message["bindings"]["kafka"]
        key = _pointer(asyncapi, kafka["key"]["$ref"]) if "$ref" in kafka["key"] else kafka["key"]
        assert key["type"] == "string"
        assert key["description"] == model.key_description

        channels = [
            channel
            for channel in asyncapi["channels"].values()
            if any(
                _pointer(asyncapi, ref["$ref"]) is message for ref in channel["messages"].values()
            )
        ]
        assert [channel["address"] for channel in channels] == [model.topic]
        assert "prefix" in channels[0]["description"]


def test_operations_as_known_now(asyncapi: dict[str, Any]) -> None:
    found = set()
    for operation in asyncapi["operations"].values():
        channel = _pointer(asyncapi, operation["channel"]["$ref"])
        (tag,) = operation["tags"]
        found.add((tag["name"], operation["action"], channel["address"]))
        for ref in operation["messages"]:
            assert ref["$ref"].startswith(operation["channel"]["$ref"] + "/messages/")
            _pointer(asyncapi, ref["$ref"])
    assert found == {
        ("router", "receive", topics.LEADS_CAPTURED),
        ("router", "send", topics.LEADS_ASSIGNED),
        ("sla-monitor", "receive", topics.LEADS_ASSIGNED),
        ("feedback", "receive", topics.LEADS_ASSIGNED),
        ("sla-monitor", "send", topics.SLA_EVENTS),
        ("router", "receive", topics.SLA_EVENTS),
        ("feedback", "send", topics.FEEDBACK_TRACEABLE),
        ("router", "receive", topics.FEEDBACK_TRACEABLE),
        ("sla-monitor", "receive", topics.FEEDBACK_TRACEABLE),
        ("router", "send", topics.POLICY_EVENTS),
        ("sla-monitor", "receive", topics.POLICY_EVENTS),
        ("feedback", "receive", topics.CRM_ACTIVITY),
        ("feedback", "send", topics.FEEDBACK_CLOSED_DEALS),
        ("router", "receive", topics.FEEDBACK_CLOSED_DEALS),
    }


def test_all_refs_resolve(asyncapi: dict[str, Any]) -> None:
    refs = [node["$ref"] for node in _walk(asyncapi) if isinstance(node, dict) and "$ref" in node]
    assert refs
    for ref in refs:
        _pointer(asyncapi, ref)


def test_asyncapi_ids_are_valid(asyncapi: dict[str, Any]) -> None:
    """AsyncAPI 3.0 allows only [A-Za-z0-9_-] in channel, operation and message ids."""
    import re

    ident = re.compile(r"^[A-Za-z0-9_\-]+$")
    component = re.compile(r"^[a-zA-Z0-9\.\-_]+$")
    names = list(asyncapi["channels"]) + list(asyncapi["operations"])
    for channel in asyncapi["channels"].values():
        names += list(channel["messages"])
    assert all(ident.match(name) for name in names), names
    for section in asyncapi["components"].values():
        assert all(component.match(name) for name in section), list(section)
