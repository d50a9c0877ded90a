"""Marketo: webhooks whose body is a template the customer writes.

Marketo does not sign webhooks; the webhook definition sets a custom header holding a
shared secret (`X-Baton-Token` unless the mapping names another), compared in constant
time with each configured secret. Which body key holds which lead field is configuration:
a mapping file (`ROUTER_MARKETO_MAPPING_FILE`), by default the one shipped with Baton
(`marketo_default.yaml`, which documents the payload template it expects). Bodies may be
JSON objects or form-encoded (Request Token Encoding "Form/Url").
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from datetime import datetime
from importlib import resources
from pathlib import Path
from typing import Annotated, Any, Literal
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator

from baton_router.domain.sources.canonical import (
    Captured,
    LeadDraft,
    Unusable,
    fail,
    is_target,
    mapping_lookup,
    to_channel,
    to_text,
)
from baton_runtime.signatures import SignedRequest, verify_shared_token

NAME = "marketo"
DEFAULT_MAPPING = "marketo_default.yaml"
_HEADER_NAME = re.compile(r"^[A-Za-z0-9!#$%&'*+.^_`|~-]{1,100}$")
_ACTIVITY_TYPE = re.compile(r"^[a-z][a-z0-9_]{0,63}$")

Key = Annotated[str, Field(min_length=1)]
"""A body key (dotted for a nested one); an empty one would name no field in errors."""
Keys = Key | list[Key]


class MappingError(ValueError):
    """The Marketo mapping file cannot be used."""


class ActivityMapping(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    type: str | None = None
    type_from: Key | None = None
    occurred_at: Keys | None = None
    detail: Keys | None = None
    when: Key | None = None

    @field_validator("type")
    @classmethod
    def _type(cls, value: str | None) -> str | None:
        if value is not None and not _ACTIVITY_TYPE.match(value):
            raise ValueError("activity types are lower_snake_case")
        return value


class MarketoMapping(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    version: Literal[1] = 1
    secret_header: str = "X-Baton-Token"
    record_id: Keys | None = None
    delivery_id: Key | None = None
    naive_time_zone: str = "UTC"
    fields: dict[str, Keys] = Field(default_factory=dict)
    activities: list[ActivityMapping] = Field(default_factory=list)

    @field_validator("secret_header")
    @classmethod
    def _header(cls, value: str) -> str:
        if not _HEADER_NAME.match(value):
            raise ValueError("not an HTTP header name")
        return value

    @field_validator("naive_time_zone")
    @classmethod
    def _zone(cls, value: str) -> str:
        try:
            ZoneInfo(value)
        except (ZoneInfoNotFoundError, ValueError):
            raise ValueError(f"unknown time zone {value!r}") from None
        return value

    @field_validator("fields")
    @classmethod
    def _targets(cls, value: dict[str, Keys]) -> dict[str, Keys]:
        unknown = sorted(target for target in value if not is_target(target))
        if unknown:
            raise ValueError(f"not canonical lead fields: {', '.join(unknown)}")
        return value


def load_mapping(path: str | None = None) -> MarketoMapping:
    """The mapping at `path`, or the shipped default."""
    if path is None:
        origin = f"{__package__}/{DEFAULT_MAPPING}"
        text = resources.files(__package__ or "").joinpath(DEFAULT_MAPPING).read_text("utf-8")
    else:
        origin = path
        try:
            text = Path(path).read_text("utf-8")
        except OSError as exc:
            raise MappingError(f"cannot read Marketo mapping {path}: {exc}") from exc
    try:
        document = yaml.safe_load(text)
    except yaml.YAMLError as exc:
        raise MappingError(f"Marketo mapping {origin} is not YAML: {exc}") from exc
    except (ValueError, RecursionError) as exc:
        # PyYAML's constructors raise plain errors for values that scan but do not convert
        # (`2024-02-30`, `!!float x`, `!!int 0x`), and nesting beyond the stack is too deep.
        if isinstance(exc, RecursionError):
            raise MappingError(f"Marketo mapping {origin} is nested too deeply") from None
        line = _unconvertible_line(text)
        where = f"{origin}:{line}" if line else origin
        raise MappingError(f"Marketo mapping {where}: a value is not usable: {exc}") from None
    try:
        return MarketoMapping.model_validate(document or {})
    except ValidationError as exc:
        problems = "; ".join(
            f"{'.'.join(str(p) for p in error['loc']) or '$'}: {error['msg']}"
            for error in exc.errors(include_url=False, include_input=False)
        )
        raise MappingError(f"Marketo mapping {origin} is invalid: {problems}") from exc


def _unconvertible_line(text: str) -> int | None:
    """The line of the first scalar PyYAML cannot convert (for the error message)."""
    try:
        root = yaml.compose(text, Loader=yaml.SafeLoader)
    except (yaml.YAMLError, RecursionError):
        return None
    stack: list[yaml.Node] = [root] if root is not None else []
    loader = yaml.SafeLoader("")
    while stack:
        node = stack.pop()
        if isinstance(node, yaml.ScalarNode):
            try:
                loader.construct_object(node)
            except (ValueError, yaml.YAMLError):
                return int(node.start_mark.line) + 1
        elif isinstance(node, yaml.SequenceNode):
            stack.extend(reversed(node.value))
        elif isinstance(node, yaml.MappingNode):
            stack.extend(part for pair in reversed(node.value) for part in reversed(pair))
    return None


def _keys(keys: Keys | None) -> list[str]:
    if keys is None:
        return []
    return [keys] if isinstance(keys, str) else list(keys)


def _first(payload: dict[str, Any], keys: Keys | None) -> tuple[Any, str]:
    """The first non-empty value among `keys`, with the key it came from."""
    names = _keys(keys)
    for name in names:
        found, value = mapping_lookup(payload, name)
        if found and value not in (None, "", [], {}):
            return value, name
    return None, names[0] if names else "$"


class MarketoSource:
    """The Marketo source for one mapping."""

    name = NAME
    accepts_form = True
    signs_url = False

    def __init__(self, mapping: MarketoMapping) -> None:
        self.mapping = mapping
        self.zone = ZoneInfo(mapping.naive_time_zone)

    def verify(self, request: SignedRequest, secrets: Sequence[str]) -> str | None:
        verify_shared_token(request, secrets, self.mapping.secret_header)
        return None

    def read_json(self, body: bytes, received_at: datetime) -> list[Captured] | None:
        return None  # a template of the customer's: parsed, then mapped

    def normalise(self, payload: Any, received_at: datetime) -> list[Captured]:
        if not isinstance(payload, dict):
            raise fail("$", "expected an object (the webhook's payload template)")
        mapping = self.mapping
        identity = _keys(mapping.fields.get("person.email"))
        draft = LeadDraft(
            NAME,
            received_at,
            payload,
            naive_time_zone=self.zone,
            identity_field=identity[0] if identity else "email",
        )
        for target, keys in mapping.fields.items():
            value, origin = _first(payload, keys)
            draft.put(target, value, origin)
        if mapping.record_id is not None:
            value, origin = _first(payload, mapping.record_id)
            draft.put("source_record_id", value, origin)
        for index, activity in enumerate(mapping.activities):
            self._activity(draft, payload, activity, index, received_at)
        dedupe = None
        if mapping.delivery_id:
            value, origin = _first(payload, mapping.delivery_id)
            try:
                text = to_text(value)
            except Unusable as exc:
                raise fail(origin, str(exc)) from None
            if text:
                dedupe = f"id:{text[:200]}"
        return [Captured(draft.build(), dedupe=dedupe)]

    def _activity(
        self,
        draft: LeadDraft,
        payload: dict[str, Any],
        activity: ActivityMapping,
        index: int,
        received_at: datetime,
    ) -> None:
        if activity.when is not None:
            found, value = mapping_lookup(payload, activity.when)
            if not found or value in (None, "", [], {}):
                return
        kind = activity.type
        if activity.type_from is not None:
            value, origin = _first(payload, activity.type_from)
            try:
                named = to_channel(value)
            except Unusable as exc:
                draft.errors.append({"field": origin, "error": str(exc)})
                return
            if named:
                if not _ACTIVITY_TYPE.match(named):
                    draft.errors.append({"field": origin, "error": "not an activity type"})
                    return
                kind = named
        if not kind:
            return
        when, when_origin = _first(payload, activity.occurred_at)
        if when is None:
            when, when_origin = received_at, f"activities.{index}"
        detail, _ = _first(payload, activity.detail)
        if isinstance(detail, dict | list):
            detail = None
        draft.activity(kind, when, when_origin, detail)


def source(mapping: MarketoMapping | None = None) -> MarketoSource:
    return MarketoSource(mapping or load_mapping())
