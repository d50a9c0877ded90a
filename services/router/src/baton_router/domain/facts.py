"""A lead as flat facts (`person.country`, `company.employees`, `tier`, ...) that policy
conditions match on."""

from __future__ import annotations

import functools
from collections.abc import Mapping
from typing import Any

from pydantic import BaseModel
from pydantic_core import to_jsonable_python

from baton_schemas import LeadCaptured

# Not facts: the platform's raw payload, and activities (engagement scoring reads those).
_HIDDEN = frozenset({"raw", "activities"})
_PLAIN = (str, int, float, bool, type(None))


class Facts(dict[str, Any]):
    """Every scalar field of a lead by dotted path, in its JSON form, plus derived values.

    Paths are resolved from the lead on first use and kept: a policy reads a handful of the
    lead's fields, so flattening all of them for every lead was wasted work on the hot path.
    `facts[path]` raises KeyError for a path that is not a scalar field, `get` gives None.
    """

    def __init__(self, lead: LeadCaptured, values: Mapping[str, Any]) -> None:
        super().__init__(values)
        self._lead = lead

    def __missing__(self, path: str) -> Any:
        value = _resolve(self._lead, path.split("."))
        self[path] = value
        return value

    def get(self, path: str, default: Any = None) -> Any:
        try:
            return self[path]
        except KeyError:
            return default

    def extended(self, values: Mapping[str, Any]) -> Facts:
        """These facts plus `values` (which win), still resolving the rest from the lead."""
        combined = Facts(self._lead, self)
        combined.update(values)
        return combined


def lead_facts(lead: LeadCaptured) -> Facts:
    """The lead's facts, with a few derived conveniences."""
    email = lead.person.email or ""
    email_domain = email.rsplit("@", 1)[-1].lower() if "@" in email else None
    domain = lead.company.domain or email_domain
    return Facts(
        lead,
        {
            "person.email_domain": email_domain,
            "company.domain": domain.lower() if domain else None,
            "activity_types": sorted({activity.type for activity in lead.activities}),
        },
    )


def scalar_facts(lead: LeadCaptured) -> dict[str, Any]:
    """Every scalar field of the lead by dotted path (what a closed deal keeps of its lead)."""
    flat: dict[str, Any] = {}

    def walk(node: Any, prefix: str) -> None:
        if isinstance(node, dict):
            for name, child in node.items():
                walk(child, f"{prefix}{name}.")
        elif isinstance(node, _PLAIN) and node is not None:
            flat[prefix[:-1]] = node

    walk(to_jsonable_python(lead, exclude=set(_HIDDEN)), "")
    return flat


def _resolve(node: Any, path: list[str]) -> Any:
    """The scalar at `path` under a model, or KeyError when there is none."""
    if not path or (isinstance(node, LeadCaptured) and path[0] in _HIDDEN):
        raise KeyError(".".join(path))
    head, rest = path[0], path[1:]
    fields = _field_names(node.__class__)
    if fields is not None:
        if head not in fields:
            raise KeyError(head)
        child = getattr(node, head)
    elif isinstance(node, dict):
        joined = ".".join(path)
        if joined in node and not isinstance(node[joined], dict):
            return _json_value(node[joined])
        if head not in node:
            raise KeyError(head)
        child = node[head]
    else:
        raise KeyError(head)
    if rest:
        return _resolve(child, rest)
    if isinstance(child, dict) or _field_names(child.__class__) is not None:
        raise KeyError(head)  # not a scalar
    return _json_value(child)


@functools.cache
def _field_names(cls: type) -> frozenset[str] | None:
    """A model class's field names; None for anything else. Cached: `model_fields` is
    rebuilt through a descriptor on every access, and `isinstance` against a model class
    runs Python code; together they were a sixth of routing a lead."""
    return frozenset(cls.model_fields) if issubclass(cls, BaseModel) else None


def _json_value(value: Any) -> Any:
    return value if isinstance(value, _PLAIN) else to_jsonable_python(value)
