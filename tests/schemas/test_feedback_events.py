"""What CRMs report and what the feedback service publishes: complete or rejected with the
field named."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import pytest
from pydantic import ValidationError

from baton_schemas import CrmFeedback, FeedbackDealClosed, encode_event
from baton_schemas.events.feedback import DealClosed

AT = datetime(2025, 3, 14, 9, 0, tzinfo=UTC)


def crm(**fields: Any) -> CrmFeedback:
    return CrmFeedback.model_validate(
        {"crm_event_id": "e1", "kind": "activity", "occurred_at": AT.isoformat(), **fields}
    )


def test_a_crm_event_names_its_lead_by_key_or_by_crm_record_id() -> None:
    by_key = crm(lead_key="lead-1", activity={"type": "call", "direction": "outbound"})
    by_record = crm(crm_record_id="0031x", activity={"type": "email"})
    assert by_key.record_key == "lead-1"
    assert by_record.record_key == "crm:0031x"
    assert encode_event(by_record, topic="crm.activity", source="/crm").key == b"crm:0031x"
    with pytest.raises(ValidationError, match="lead_key or crm_record_id"):
        crm(activity={"type": "call"})


@pytest.mark.parametrize(
    ("kind", "missing"),
    [
        ("activity", "activity"),
        ("disposition", "disposition"),
        ("stage_change", "stage"),
        ("deal_closed", "deal"),
    ],
)
def test_each_kind_needs_its_detail(kind: str, missing: str) -> None:
    with pytest.raises(ValidationError, match=f"needs `{missing}`"):
        crm(lead_key="lead-1", kind=kind)


def test_deal_amounts_and_currencies_are_checked() -> None:
    deal = crm(
        lead_key="lead-1",
        kind="deal_closed",
        deal={"outcome": "won", "amount": 12000, "currency": "EUR"},
    )
    assert deal.deal == DealClosed(outcome="won", amount=12000.0, currency="EUR")
    for bad in ({"amount": -1}, {"currency": "euro"}, {"outcome": "maybe"}):
        with pytest.raises(ValidationError):
            DealClosed.model_validate({"outcome": "won", **bad})
    closed = FeedbackDealClosed(
        lead_key="lead-1", crm_event_id="e1", closed_at=AT, deal=DealClosed(outcome="lost")
    )
    assert closed.record_key == "lead-1"
