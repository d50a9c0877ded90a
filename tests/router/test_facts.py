"""Lead facts: resolved lazily, but the same values a full flattening of the lead gives."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import pytest

from baton_router.domain.facts import lead_facts
from baton_schemas import LeadCaptured

LEAD = LeadCaptured.model_validate(
    {
        "lead_key": "lead:ada@analytical.example",
        "source": "hubspot",
        "source_record_id": "101",
        "received_at": datetime(2026, 3, 29, 1, 30, tzinfo=UTC),
        "person": {"email": "Ada@Analytical.Example", "title": "CTO", "country": "GB"},
        "company": {"name": "Analytical", "employees": 250, "industry": "software"},
        "consent": {"email_opt_in": True},
        "attribution": {"campaign_name": "spring", "utm_source": "google"},
        "product_interest": ["routing", "sla"],
        "activities": [{"type": "demo_request", "occurred_at": "2026-03-28T10:00:00Z"}],
        "custom": {"plan": "pro", "seats": 12, "vip": None},
        "raw": {"objectId": 101},
    }
)


def flattened(prefix: str, value: Any, out: dict[str, Any]) -> dict[str, Any]:
    if isinstance(value, dict):
        for key, item in value.items():
            flattened(f"{prefix}.{key}" if prefix else key, item, out)
    else:
        out[prefix] = value
    return out


def test_every_scalar_path_resolves_to_its_json_value() -> None:
    expected = flattened("", LEAD.model_dump(mode="json", exclude={"raw", "activities"}), {})
    facts = lead_facts(LEAD)
    for path, value in expected.items():
        if path in ("company.domain",):
            continue  # derived, below
        assert facts[path] == value, path
    assert facts["received_at"] == "2026-03-29T01:30:00Z"
    assert facts["custom.seats"] == 12 and facts.get("custom.vip") is None


def test_derived_facts() -> None:
    facts = lead_facts(LEAD)
    assert facts["person.email_domain"] == "analytical.example"
    assert facts["company.domain"] == "analytical.example"  # from the e-mail when unset
    assert facts["activity_types"] == ["demo_request"]


@pytest.mark.parametrize(
    "path", ["raw.objectId", "activities", "person", "company.nope", "nope", "custom.plan.x"]
)
def test_what_is_not_a_scalar_fact_is_missing(path: str) -> None:
    facts = lead_facts(LEAD)
    assert facts.get(path) is None
    with pytest.raises(KeyError):
        facts[path]


def test_extended_facts_win_and_still_resolve_the_rest() -> None:
    base = lead_facts(LEAD)
    extended = base.extended({"tier": "hot", "person.country": "DE"})
    assert (extended["tier"], extended["person.country"]) == ("hot", "DE")
    assert extended["company.employees"] == 250
    assert "tier" not in base and base["person.country"] == "GB"
