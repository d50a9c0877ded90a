"""The backward-compatibility checker, and the checked-in schemas held to it."""

from __future__ import annotations

import copy
import json
import os
import shutil
import subprocess
from pathlib import Path
from typing import Any

import pytest

from baton_schemas.compat import breaking_changes
from baton_schemas.events import EVENT_MODELS, LeadAssigned
from baton_schemas.generate import DEFAULT_ROOT, JSON_DIR, json_schema

NEW_VERSION = "a change that breaks a consumer needs a new event version (….v2), not an edit"


def obj(properties: dict[str, Any], required: list[str] | None = None, **extra: Any) -> dict:
    schema: dict[str, Any] = {
        "type": "object",
        "properties": properties,
        "additionalProperties": False,
    }
    if required:
        schema["required"] = required
    schema.update(extra)
    return schema


STR = {"type": "string"}
INT = {"type": "integer"}
NULLABLE_STR = {"anyOf": [{"type": "string"}, {"type": "null"}], "default": None}

BASE = obj({"id": STR, "name": NULLABLE_STR, "count": INT}, required=["id"])


# --- hand-written schemas: every kind of breaking change is caught -------------------------

BREAKING: dict[str, tuple[dict[str, Any], dict[str, Any], str]] = {
    "removed property": (BASE, obj({"id": STR, "count": INT}, ["id"]), "$.name: property removed"),
    "newly required property": (
        BASE,
        obj({"id": STR, "name": NULLABLE_STR, "count": INT}, ["id", "count"]),
        "$.count: property is now required",
    ),
    "new required property": (
        BASE,
        obj({"id": STR, "name": NULLABLE_STR, "count": INT, "tier": STR}, ["id", "tier"]),
        "$.tier: property is now required",
    ),
    "changed type": (
        BASE,
        obj({"id": INT, "name": NULLABLE_STR, "count": INT}, ["id"]),
        "$.id: type changed from string to integer",
    ),
    "number narrowed to integer": (
        obj({"x": {"type": "number"}}),
        obj({"x": INT}),
        "$.x: type changed from number to integer",
    ),
    "nullable made non-null": (
        BASE,
        obj({"id": STR, "name": STR, "count": INT}, ["id"]),
        "$.name: type changed from null|string to string",
    ),
    "narrowed enum": (
        obj({"grade": {"type": "string", "enum": ["A", "B", "C"]}}),
        obj({"grade": {"type": "string", "enum": ["A", "B"]}}),
        "$.grade: enum narrowed (removed ['C'])",
    ),
    "enum added to free value": (
        obj({"grade": STR}),
        obj({"grade": {"type": "string", "enum": ["A"]}}),
        "$.grade: enum narrowed",
    ),
    "const changed": (
        obj({"v": {"const": 1}}),
        obj({"v": {"const": 2}}),
        "$.v: enum narrowed (removed [1])",
    ),
    "additionalProperties opened": (
        BASE,
        {**BASE, "additionalProperties": True},
        "$: additionalProperties opened",
    ),
    "additionalProperties dropped (defaults to open)": (
        BASE,
        {key: value for key, value in BASE.items() if key != "additionalProperties"},
        "$: additionalProperties opened",
    ),
    "additionalProperties closed": (
        {**BASE, "additionalProperties": True},
        BASE,
        "$: additionalProperties closed",
    ),
    "map values narrowed": (
        obj({"custom": {"type": "object", "additionalProperties": {"type": ["string", "null"]}}}),
        obj({"custom": {"type": "object", "additionalProperties": STR}}),
        "$.custom.*: type changed from null|string to string",
    ),
    "property added to an open object": (
        {"type": "object", "properties": {"id": STR}},
        {"type": "object", "properties": {"id": STR, "tier": STR}},
        "$.tier: property added to an open object",
    ),
    "maxLength tightened": (
        obj({"id": {"type": "string", "maxLength": 200}}),
        obj({"id": {"type": "string", "maxLength": 100}}),
        "$.id: maxLength tightened (200 -> 100)",
    ),
    "minimum added": (
        obj({"n": INT}),
        obj({"n": {"type": "integer", "minimum": 1}}),
        "$.n: minimum tightened (None -> 1)",
    ),
    "pattern changed": (
        obj({"t": {"type": "string", "pattern": "^a"}}),
        obj({"t": {"type": "string", "pattern": "^b"}}),
        "$.t: pattern changed",
    ),
    "format added": (
        obj({"t": STR}),
        obj({"t": {"type": "string", "format": "date-time"}}),
        "$.t: format changed",
    ),
    "array items changed": (
        obj({"tags": {"type": "array", "items": STR}}),
        obj({"tags": {"type": "array", "items": INT}}),
        "$.tags[]: type changed from string to integer",
    ),
    "property removed inside $defs": (
        {**obj({"owner": {"$ref": "#/$defs/Owner"}}), "$defs": {"Owner": BASE}},
        {**obj({"owner": {"$ref": "#/$defs/Owner"}}), "$defs": {"Owner": obj({"id": STR})}},
        "$.owner.name: property removed",
    ),
    "nullable $ref made non-null": (
        {
            **obj({"owner": {"anyOf": [{"$ref": "#/$defs/Owner"}, {"type": "null"}]}}),
            "$defs": {"Owner": BASE},
        },
        {**obj({"owner": {"$ref": "#/$defs/Owner"}}), "$defs": {"Owner": BASE}},
        "$.owner: type changed from null|object to object",
    ),
    "$defs object opened": (
        {**obj({"owner": {"$ref": "#/$defs/Owner"}}), "$defs": {"Owner": BASE}},
        {
            **obj({"owner": {"$ref": "#/$defs/Owner"}}),
            "$defs": {"Owner": {**BASE, "additionalProperties": True}},
        },
        "$.owner: additionalProperties opened",
    ),
    "unanalysed keyword changed": (
        obj({"x": {"type": "object", "not": {"required": ["a"]}}}),
        obj({"x": {"type": "object", "not": {"required": ["b"]}}}),
        "$.x: 'not' changed (not analysed",
    ),
    "topic moved": (
        {**BASE, "x-baton-topic": "leads.assigned"},
        {**BASE, "x-baton-topic": "leads.routed"},
        "x-baton-topic changed",
    ),
    "schema became false": (obj({"x": STR}), obj({"x": False}), "$.x: no longer accepts any value"),
}


@pytest.mark.parametrize("case", sorted(BREAKING))
def test_breaking_change_is_reported(case: str) -> None:
    old, new, expected = BREAKING[case]
    old_before, new_before = copy.deepcopy(old), copy.deepcopy(new)
    problems = breaking_changes(old, new)
    assert any(expected in problem for problem in problems), problems
    assert breaking_changes(old, old) == []  # the same check passes when nothing changed
    assert (old, new) == (old_before, new_before)  # pure: inputs untouched


COMPATIBLE: dict[str, tuple[dict[str, Any], dict[str, Any]]] = {
    "identical": (BASE, BASE),
    "optional property added to a closed object": (
        BASE,
        obj({"id": STR, "name": NULLABLE_STR, "count": INT, "tier": NULLABLE_STR}, ["id"]),
    ),
    "required made optional": (BASE, obj({"id": STR, "name": NULLABLE_STR, "count": INT})),
    "type widened to nullable": (
        BASE,
        obj({"id": STR, "name": NULLABLE_STR, "count": {"type": ["integer", "null"]}}, ["id"]),
    ),
    "integer widened to number": (
        BASE,
        obj({"id": STR, "name": NULLABLE_STR, "count": {"type": "number"}}, ["id"]),
    ),
    "enum extended": (
        obj({"grade": {"type": "string", "enum": ["A", "B"]}}),
        obj({"grade": {"type": "string", "enum": ["A", "B", "C"]}}),
    ),
    "enum dropped": (obj({"grade": {"type": "string", "enum": ["A"]}}), obj({"grade": STR})),
    "constraints loosened": (
        obj({"id": {"type": "string", "minLength": 2, "maxLength": 10, "pattern": "^a"}}),
        obj({"id": {"type": "string", "minLength": 1, "maxLength": 20}}),
    ),
    "annotations changed": (
        BASE,
        {
            **BASE,
            "title": "Other",
            "description": "changed",
            "properties": {
                **BASE["properties"],
                "id": {**STR, "title": "Id", "description": "the id"},
            },
        },
    ),
    "default changed": (
        obj({"stage": {"type": "string", "default": "lead"}}),
        obj({"stage": {"type": "string", "default": "mql"}}),
    ),
    "$defs renamed, same content": (
        {**obj({"owner": {"$ref": "#/$defs/Owner"}}), "$defs": {"Owner": BASE}},
        {**obj({"owner": {"$ref": "#/$defs/Rep"}}), "$defs": {"Rep": BASE}},
    ),
    "$ref inlined": (
        {**obj({"owner": {"$ref": "#/$defs/Owner"}}), "$defs": {"Owner": BASE}},
        obj({"owner": BASE}),
    ),
    "non-null made nullable $ref": (
        {**obj({"owner": {"$ref": "#/$defs/Owner"}}), "$defs": {"Owner": BASE}},
        {
            **obj({"owner": {"anyOf": [{"$ref": "#/$defs/Owner"}, {"type": "null"}]}}),
            "$defs": {"Owner": BASE},
        },
    ),
    "open map stays open": (
        obj({"raw": {"type": "object", "additionalProperties": True}}),
        obj({"raw": {"type": "object", "additionalProperties": True}}),
    ),
}


@pytest.mark.parametrize("case", sorted(COMPATIBLE))
def test_compatible_change_passes(case: str) -> None:
    old, new = COMPATIBLE[case]
    assert breaking_changes(old, new) == []


def test_recursive_refs_terminate() -> None:
    node = {
        "$defs": {
            "Node": obj(
                {"name": STR, "children": {"type": "array", "items": {"$ref": "#/$defs/Node"}}}
            )
        },
        "$ref": "#/$defs/Node",
    }
    assert breaking_changes(node, node) == []
    changed = copy.deepcopy(node)
    del changed["$defs"]["Node"]["properties"]["name"]
    assert "$.name: property removed" in breaking_changes(node, changed)
    assert breaking_changes({}, node)  # anything -> an object: narrowed, and terminates


# --- the real schemas ----------------------------------------------------------------------


def _assigned() -> dict[str, Any]:
    return json_schema(LeadAssigned)


def test_real_schema_changes_are_caught() -> None:
    old = _assigned()

    removed = copy.deepcopy(old)
    del removed["$defs"]["Owner"]["properties"]["email"]
    assert "$.owner.email: property removed" in breaking_changes(old, removed)

    opened = copy.deepcopy(old)
    opened["$defs"]["Owner"]["additionalProperties"] = True
    assert any("$.owner: additionalProperties opened" in p for p in breaking_changes(old, opened))

    required = copy.deepcopy(old)
    required["required"].append("queue")
    assert "$.queue: property is now required" in breaking_changes(old, required)

    retyped = copy.deepcopy(old)
    retyped["properties"]["attempt"] = {"type": "string"}
    assert any("$.attempt: type changed" in p for p in breaking_changes(old, retyped))

    optional = copy.deepcopy(old)
    optional["$defs"]["Owner"]["properties"]["phone"] = NULLABLE_STR
    assert breaking_changes(old, optional) == []


def _committed() -> dict[str, dict[str, Any]]:
    return {
        path.name: json.loads(path.read_text(encoding="utf-8"))
        for path in sorted((DEFAULT_ROOT / JSON_DIR).glob("*.json"))
    }


def test_committed_schemas_are_compatible_with_the_models() -> None:
    """old = the checked-in file, new = what the models produce now."""
    generated = {
        f"{event_type}.json": json_schema(model) for event_type, model in EVENT_MODELS.items()
    }
    report = []
    for name, committed in _committed().items():
        if name not in generated:
            report.append(f"{name}: event type no longer produced by any model")
            continue
        report += [f"{name}: {problem}" for problem in breaking_changes(committed, generated[name])]
    assert not report, "\n".join(report) + f"\n{NEW_VERSION}"


def _git(*args: str) -> subprocess.CompletedProcess[str]:
    git = shutil.which("git")
    assert git is not None, "git is needed to compare with the baseline revision"
    return subprocess.run(
        [git, "-C", str(DEFAULT_ROOT), *args], capture_output=True, text=True, check=False
    )


def test_schemas_compatible_with_git_baseline() -> None:
    """Regenerated files must still be compatible with the baseline revision's files.

    The baseline is `BATON_SCHEMA_BASELINE` (default HEAD); in CI set it to the target
    branch (e.g. origin/main) so a regenerated-and-committed breaking change is caught too.
    """
    baseline = os.environ.get("BATON_SCHEMA_BASELINE", "HEAD")
    top = _git("rev-parse", "--show-toplevel")
    assert top.returncode == 0, "the tests run inside the Baton git checkout"
    verified = _git("rev-parse", "--verify", "--quiet", f"{baseline}^{{commit}}")
    assert verified.returncode == 0, f"baseline {baseline} is not a commit here"
    prefix = (DEFAULT_ROOT / JSON_DIR).resolve().relative_to(Path(top.stdout.strip()).resolve())
    listing = _git("ls-tree", "--full-tree", "--name-only", f"{baseline}:{prefix.as_posix()}")
    assert listing.returncode == 0, f"{baseline} has no {prefix.as_posix()}"
    names = [name for name in listing.stdout.split() if name.endswith(".json")]
    assert names, f"{baseline}:{prefix.as_posix()} lists no schemas"
    report = []
    for name in names:
        shown = _git("show", f"{baseline}:{prefix.as_posix()}/{name}")
        old = json.loads(shown.stdout)
        model = EVENT_MODELS.get(name.removesuffix(".json"))
        if model is None:
            report.append(f"{name}: event type in {baseline} no longer produced by any model")
            continue
        report += [f"{name}: {problem}" for problem in breaking_changes(old, json_schema(model))]
    assert not report, "\n".join(report) + f"\n{NEW_VERSION}"


def test_unresolvable_ref_is_an_error() -> None:
    with pytest.raises(ValueError, match="unresolvable"):
        breaking_changes(obj({"a": {"$ref": "#/$defs/Missing"}}), obj({"a": STR}))
