"""The policy's sla: section as a model: durations, warnings and the escalation ladder."""

from __future__ import annotations

from datetime import timedelta

import pytest
from pydantic import ValidationError

from baton_schemas.sla_policy import SlaPolicy, TierTarget, format_duration


@pytest.mark.parametrize(
    ("text", "seconds"),
    [
        ("90s", 90),
        ("5m", 300),
        ("2h", 7200),
        ("1h30m", 5400),
        ("2d", 172800),
        ("0.5h", 1800),
        ("PT5M", 300),
        (45, 45),
    ],
)
def test_durations_in_compact_or_iso_form(text: object, seconds: float) -> None:
    assert TierTarget.model_validate({"target": text}).target == timedelta(seconds=seconds)


@pytest.mark.parametrize("text", ["5 minutes", "m", "", "-5m", "1x"])
def test_durations_that_mean_nothing_are_refused(text: str) -> None:
    with pytest.raises(ValidationError):
        TierTarget.model_validate({"target": text})


def test_a_dumped_section_reads_like_its_source() -> None:
    assert [format_duration(timedelta(seconds=s)) for s in (2, 90, 300, 5400, 7200)] == [
        "2s",
        "1m30s",
        "5m",
        "1h30m",
        "2h",
    ]
    sla = SlaPolicy.model_validate({"tiers": {"hot": {"target": "5m", "clock": "wall"}}})
    assert SlaPolicy.model_validate(sla.model_dump(mode="json")) == sla


def test_defaults_and_tier_lookup() -> None:
    sla = SlaPolicy.model_validate({"tiers": {"hot": {"target": "5m"}}})
    assert sla.qualifying_activities == ["call", "email", "meeting"]
    assert sla.calendar.time_zone == "UTC" and len(sla.calendar.working_hours) == 5
    assert [rung.action for rung in sla.escalation] == ["notify"]
    assert sla.target_for("hot") is not None
    assert sla.target_for("warm") is None  # no default: no deadline for other tiers
