"""Backward-compatibility check between two versions of an event's JSON Schema.

`breaking_changes(old, new)` lists what would break when `old` (the checked-in schema)
is replaced by `new` (what the models produce now) under the same event type:

- data valid under `old` must stay valid under `new` (consumers on the new model read
  records produced with the old one: removed or newly required properties, narrowed
  types, enums and constraints, an object that was open and is now closed);
- a closed object (`additionalProperties: false`) must stay closed: opening it lets
  producers send fields that consumers on the old, closed model reject, and an open object
  can never again gain a property compatibly (DESIGN, "JSON Schema evolution");
- a property may not disappear, even from the schema's point of view harmlessly, because
  consumers read it.

Adding an optional property to a closed object, widening a type (`string` to
`string | null`, `integer` to `number`), adding enum values and loosening constraints are
compatible. Annotations (title, description, default, examples, ...) are ignored. Keywords
this checker does not analyse (`allOf`, `not`, `if`, `patternProperties`, ...) count as
breaking when they change, so an unknown change never passes silently.

The walk follows local `$ref`s (`#/$defs/...`, any JSON pointer into the same document),
including recursive ones; an unresolvable local `$ref` raises ValueError. Pure function:
no I/O, inputs are not modified.
"""

from __future__ import annotations

import json
from typing import Any

__all__ = ["breaking_changes"]

ALL_TYPES = frozenset({"array", "boolean", "integer", "null", "number", "object", "string"})

ANNOTATIONS = frozenset(
    {
        "$anchor",
        "$comment",
        "$defs",
        "$id",
        "$schema",
        "$vocabulary",
        "contentEncoding",
        "contentMediaType",
        "default",
        "definitions",
        "deprecated",
        "description",
        "examples",
        "readOnly",
        "title",
        "writeOnly",
    }
)

ANALYSED = frozenset(
    {
        "$ref",
        "additionalProperties",
        "anyOf",
        "const",
        "enum",
        "exclusiveMaximum",
        "exclusiveMinimum",
        "format",
        "items",
        "maxItems",
        "maxLength",
        "maxProperties",
        "maximum",
        "minItems",
        "minLength",
        "minProperties",
        "minimum",
        "multipleOf",
        "oneOf",
        "pattern",
        "prefixItems",
        "properties",
        "required",
        "type",
        "uniqueItems",
    }
)

# metadata Baton's generator writes at the root of every event schema
ROOT_METADATA = ("x-baton-event-type", "x-baton-topic")

Schema = dict[str, Any]
Visited = set[tuple[str, str]]


def breaking_changes(old_schema: dict[str, Any], new_schema: dict[str, Any]) -> list[str]:
    """Human-readable breaking changes from `old_schema` to `new_schema`; empty if compatible."""
    problems: list[str] = []
    for key in ROOT_METADATA:
        if key in old_schema and old_schema.get(key) != new_schema.get(key):
            problems.append(f"$: {key} changed from {old_schema[key]!r} to {new_schema.get(key)!r}")
    problems += _Walker(old_schema, new_schema).compare(old_schema, new_schema, "$", set())
    return list(dict.fromkeys(problems))


def _canonical(value: Any) -> str:
    return json.dumps(value, sort_keys=True, separators=(",", ":"))


def _as_schema(node: Any) -> Schema:
    if node is True:
        return {}
    if node is False:
        return {"not": {}}
    if isinstance(node, dict):
        return node
    raise TypeError(f"not a JSON Schema: {node!r}")


def _is_false(node: Any) -> bool:
    return node is False or (isinstance(node, dict) and node.get("not") == {} and len(node) == 1)


def _json_type(value: Any) -> str:
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "boolean"
    if isinstance(value, int):
        return "integer"
    if isinstance(value, float):
        return "integer" if value.is_integer() else "number"
    if isinstance(value, str):
        return "string"
    if isinstance(value, list):
        return "array"
    return "object"


def _types(schema: Schema) -> frozenset[str]:
    declared = schema.get("type")
    if isinstance(declared, str):
        return frozenset({declared})
    if isinstance(declared, list):
        return frozenset(declared)
    values = _enum_values(schema)
    if values is not None:
        return frozenset(_json_type(value) for value in values)
    return ALL_TYPES


def _accepts_type(types: frozenset[str], wanted: str) -> bool:
    return wanted in types or (wanted == "integer" and "number" in types)


def _enum_values(schema: Schema) -> list[Any] | None:
    if "const" in schema:
        return [schema["const"]]
    enum = schema.get("enum")
    return list(enum) if isinstance(enum, list) else None


def _describe_types(types: frozenset[str]) -> str:
    return "any" if types == ALL_TYPES else "|".join(sorted(types))


class _Walker:
    def __init__(self, old_root: Schema, new_root: Schema) -> None:
        self.old_root = old_root
        self.new_root = new_root

    # -- references -----------------------------------------------------------------------

    @staticmethod
    def _pointer(root: Schema, ref: str) -> Any:
        node: Any = root
        for raw in ref.removeprefix("#").split("/")[1:]:
            part = raw.replace("~1", "/").replace("~0", "~")
            if isinstance(node, dict) and part in node:
                node = node[part]
            elif isinstance(node, list) and part.isdigit() and int(part) < len(node):
                node = node[int(part)]
            else:
                raise ValueError(f"unresolvable $ref {ref!r}")
        return node

    def _resolve(self, node: Any, root: Schema) -> tuple[Schema, str]:
        """Follow local $refs; returns the schema and the chain of refs followed."""
        schema = _as_schema(node)
        chain: list[str] = []
        while "$ref" in schema:
            ref = schema["$ref"]
            if not isinstance(ref, str) or not ref.startswith("#") or ref in chain:
                break  # external or cyclic-only refs are compared as written
            chain.append(ref)
            target = _as_schema(self._pointer(root, ref))
            siblings = {key: value for key, value in schema.items() if key != "$ref"}
            schema = {**target, **siblings}
        return schema, " ".join(chain)

    # -- the walk -------------------------------------------------------------------------

    def compare(self, old_node: Any, new_node: Any, path: str, visited: Visited) -> list[str]:
        old, old_refs = self._resolve(old_node, self.old_root)
        new, new_refs = self._resolve(new_node, self.new_root)
        old_text, new_text = _canonical(old), _canonical(new)
        if old_text == new_text and '"$ref"' not in old_text:
            return []  # identical and self-contained
        if old_refs or new_refs:
            pair = (old_refs or old_text, new_refs or new_text)
            if pair in visited:
                return []  # recursive structure: already compared (or being compared)
            visited.add(pair)
        if _is_false(old):
            return []
        if _is_false(new):
            return [f"{path}: no longer accepts any value"]
        if ("$ref" in old or "$ref" in new) and old.get("$ref") != new.get("$ref"):
            return [f"{path}: external $ref changed ({old.get('$ref')} -> {new.get('$ref')})"]

        problems: list[str] = []
        old_branches, new_branches = self._branches(old), self._branches(new)
        old_types = self._all_types(old_branches, self.old_root, set())
        new_types = self._all_types(new_branches, self.new_root, set())
        lost = sorted(t for t in old_types if not _accepts_type(new_types, t))
        if lost:
            problems.append(
                f"{path}: type changed from {_describe_types(old_types)} to "
                f"{_describe_types(new_types)} (no longer accepts {', '.join(lost)})"
            )
        for old_branch in old_branches:
            problems += self._compare_branch(old_branch, new_branches, path, visited)
        return problems

    def _all_types(self, branches: list[Schema], root: Schema, seen: set[str]) -> frozenset[str]:
        """The JSON types a list of alternatives accepts (nested anyOf/oneOf flattened)."""
        types: set[str] = set()
        for branch in branches:
            resolved, refs = self._resolve(branch, root)
            if refs in seen:
                continue
            nested = self._branches(resolved)
            if nested != [resolved]:
                types |= self._all_types(nested, root, seen | ({refs} if refs else set()))
            else:
                types |= _types(resolved)
        return frozenset(types)

    @staticmethod
    def _unanalysed(old: Schema, new: Schema, path: str) -> list[str]:
        problems = []
        for key in sorted(set(old) | set(new)):
            if key in ANNOTATIONS or key in ANALYSED or key.startswith("x-"):
                continue
            if _canonical(old.get(key)) != _canonical(new.get(key)):
                problems.append(f"{path}: {key!r} changed (not analysed, treated as breaking)")
        return problems

    @staticmethod
    def _branches(schema: Schema) -> list[Schema]:
        """anyOf/oneOf alternatives, each with the outer schema's other keywords merged in."""
        for keyword in ("anyOf", "oneOf"):
            alternatives = schema.get(keyword)
            if isinstance(alternatives, list) and alternatives:
                outer = {key: value for key, value in schema.items() if key != keyword}
                merged: list[Schema] = []
                for alternative in alternatives:
                    branch = _as_schema(alternative)
                    merged.append({**outer, **branch} if outer else branch)
                return merged
        return [schema]

    def _compare_branch(
        self, old: Schema, new_branches: list[Schema], path: str, visited: Visited
    ) -> list[str]:
        # An old alternative that is itself a $ref: resolve it before looking at its types.
        old, _ = self._resolve(old, self.old_root)
        resolved_new = [self._resolve(branch, self.new_root)[0] for branch in new_branches]
        if "anyOf" in old or "oneOf" in old:
            return self.compare(old, {"anyOf": new_branches}, path, visited)

        problems: list[str] = []
        old_types = _types(old)
        for old_type in sorted(old_types):
            candidates = [
                (raw, branch)
                for raw, branch in zip(new_branches, resolved_new, strict=True)
                if _accepts_type(_types(branch), old_type)
            ]
            if not candidates:
                continue
            best: tuple[list[str], Visited] | None = None
            for raw, _branch in candidates:
                trial_visited = set(visited)
                found = self._compare_single(old, raw, old_type, path, trial_visited)
                if best is None or len(found) < len(best[0]):
                    best = (found, trial_visited)
                if not found:
                    break
            assert best is not None
            problems += best[0]
            visited |= best[1]
        return problems

    def _compare_single(
        self, old: Schema, new_node: Any, as_type: str, path: str, visited: Visited
    ) -> list[str]:
        """`old` (one alternative) against one alternative of the new schema, for one type."""
        new, _ = self._resolve(new_node, self.new_root)
        if "anyOf" in new or "oneOf" in new:
            return self.compare(old, new, path, visited)
        problems = self._unanalysed(old, new, path) + self._values(old, new, path)
        if as_type == "string":
            problems += self._string(old, new, path)
        elif as_type in ("integer", "number"):
            problems += self._numeric(old, new, path)
        elif as_type == "object":
            problems += self._object(old, new, path, visited)
        elif as_type == "array":
            problems += self._array(old, new, path, visited)
        return problems

    # -- keyword groups -------------------------------------------------------------------

    @staticmethod
    def _values(old: Schema, new: Schema, path: str) -> list[str]:
        new_values = _enum_values(new)
        if new_values is None:
            return []
        old_values = _enum_values(old)
        if old_values is None:
            return [f"{path}: enum narrowed (now restricted to {new_values!r})"]
        allowed = {_canonical(value) for value in new_values}
        removed = [value for value in old_values if _canonical(value) not in allowed]
        if removed:
            return [f"{path}: enum narrowed (removed {removed!r})"]
        return []

    @staticmethod
    def _tightened(
        old: Schema, new: Schema, path: str, lower: tuple[str, ...], upper: tuple[str, ...]
    ) -> list[str]:
        problems = []
        for key in lower:
            if key in new and (key not in old or new[key] > old[key]):
                problems.append(f"{path}: {key} tightened ({old.get(key)} -> {new[key]})")
        for key in upper:
            if key in new and (key not in old or new[key] < old[key]):
                problems.append(f"{path}: {key} tightened ({old.get(key)} -> {new[key]})")
        return problems

    def _string(self, old: Schema, new: Schema, path: str) -> list[str]:
        problems = self._tightened(old, new, path, ("minLength",), ("maxLength",))
        for key in ("pattern", "format"):
            if key in new and old.get(key) != new[key]:
                problems.append(f"{path}: {key} changed ({old.get(key)!r} -> {new[key]!r})")
        return problems

    def _numeric(self, old: Schema, new: Schema, path: str) -> list[str]:
        problems = self._tightened(
            old, new, path, ("minimum", "exclusiveMinimum"), ("maximum", "exclusiveMaximum")
        )
        if "multipleOf" in new and old.get("multipleOf") != new["multipleOf"]:
            old_step = old.get("multipleOf")
            if old_step is None or (old_step / new["multipleOf"]) % 1 != 0:
                problems.append(f"{path}: multipleOf changed ({old_step} -> {new['multipleOf']})")
        return problems

    def _object(self, old: Schema, new: Schema, path: str, visited: Visited) -> list[str]:
        problems = self._tightened(old, new, path, ("minProperties",), ("maxProperties",))
        old_props: dict[str, Any] = old.get("properties", {})
        new_props: dict[str, Any] = new.get("properties", {})
        old_required = set(old.get("required", []))
        new_required = set(new.get("required", []))
        old_extra = old.get("additionalProperties", True)
        new_extra = new.get("additionalProperties", True)

        for name in old_props:
            if name not in new_props:
                problems.append(f"{path}.{name}: property removed")
        for name in sorted(new_required - old_required):
            problems.append(f"{path}.{name}: property is now required")

        if _is_false(old_extra) and not _is_false(new_extra):
            problems.append(
                f"{path}: additionalProperties opened (closed object now accepts unknown "
                "properties; an open object cannot evolve compatibly)"
            )
        elif not _is_false(old_extra):
            if _is_false(new_extra):
                problems.append(
                    f"{path}: additionalProperties closed (unknown properties valid before are "
                    "now rejected)"
                )
            else:
                problems += self.compare(old_extra, new_extra, f"{path}.*", visited)
            # A property added to an open object may clash with values old data carried.
            for name in new_props:
                if name in old_props:
                    continue
                clashes = self.compare(old_extra, new_props[name], f"{path}.{name}", visited)
                if clashes:
                    problems.append(
                        f"{path}.{name}: property added to an open object, so values old data "
                        f"may carry under that name are now rejected ({'; '.join(clashes)})"
                    )

        for name, old_prop in old_props.items():
            if name in new_props:
                problems += self.compare(old_prop, new_props[name], f"{path}.{name}", visited)
        return problems

    def _array(self, old: Schema, new: Schema, path: str, visited: Visited) -> list[str]:
        problems = self._tightened(old, new, path, ("minItems",), ("maxItems",))
        if new.get("uniqueItems") and not old.get("uniqueItems"):
            problems.append(f"{path}: uniqueItems added")
        old_prefix: list[Any] = old.get("prefixItems", [])
        new_prefix: list[Any] = new.get("prefixItems", [])
        old_items = old.get("items", True)
        new_items = new.get("items", True)
        for index in range(max(len(old_prefix), len(new_prefix))):
            old_item = old_prefix[index] if index < len(old_prefix) else old_items
            new_item = new_prefix[index] if index < len(new_prefix) else new_items
            problems += self.compare(old_item, new_item, f"{path}[{index}]", visited)
        problems += self.compare(old_items, new_items, f"{path}[]", visited)
        return problems
