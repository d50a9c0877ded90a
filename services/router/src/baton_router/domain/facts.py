"""A lead as flat facts (`person.country`, `company.employees`, `tier`, ...) that policy
conditions match on."""

from __future__ import annotations

from typing import Any

from baton_schemas import LeadCaptured

Facts = dict[str, Any]


def _flatten(prefix: str, value: Any, out: Facts) -> None:
    if isinstance(value, dict):
        for key, item in value.items():
            _flatten(f"{prefix}.{key}" if prefix else str(key), item, out)
    else:
        out[prefix] = value


def lead_facts(lead: LeadCaptured) -> Facts:
    """Every scalar field of the lead by dotted path, plus a few derived conveniences."""
    facts: Facts = {}
    data = lead.model_dump(mode="json", exclude={"raw", "activities"})
    _flatten("", data, facts)
    email = lead.person.email or ""
    facts["person.email_domain"] = email.rsplit("@", 1)[-1].lower() if "@" in email else None
    domain = lead.company.domain or facts["person.email_domain"]
    facts["company.domain"] = domain.lower() if domain else None
    facts["activity_types"] = sorted({activity.type for activity in lead.activities})
    return facts
