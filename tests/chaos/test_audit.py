"""The audit's rule for a lead whose repeat reached a restarted router: its copies may
differ in `received_at` alone, and only the first copy may be routed."""

from __future__ import annotations

import json

from audit import restamped_repeats, routed_on_a_repeat
from senders import Delivery

TOPIC = "leads.captured"


def _accepted(event_id: str, lead_key: str, answers: list[str]) -> Delivery:
    delivery = Delivery(message_id=f"msg-{event_id}", body=b"{}", answers=answers)
    delivery.accepted = {"event_ids": [event_id], "lead_keys": [lead_key]}
    return delivery


def _copy(received_at: str) -> bytes:
    return json.dumps({"lead_key": "k", "received_at": received_at}).encode()


def test_a_receipt_time_differing_after_a_lost_answer_is_a_restamp() -> None:
    conflicting = {TOPIC: {"e1": [".received_at"]}}
    accepted = [_accepted("e1", "lead-1", ["connect-error", "connect-error", "202"])]

    assert restamped_repeats(conflicting, TOPIC, accepted) == {"e1": "lead-1"}


def test_other_differences_or_no_lost_answer_stay_conflicts() -> None:
    conflicting = {TOPIC: {"e1": [".person.email", ".received_at"], "e2": [".received_at"]}}
    accepted = [
        _accepted("e1", "lead-1", ["connect-error", "202"]),
        _accepted("e2", "lead-2", ["503", "202"]),  # same process answered: same receipt
    ]

    assert restamped_repeats(conflicting, TOPIC, accepted) == {}
    assert restamped_repeats(conflicting, "feedback.traceable", accepted) == {}


def test_only_the_first_copy_may_be_routed() -> None:
    captured = {"e1": {_copy("2026-11-25T06:00:00.100000Z"), _copy("2026-11-25T06:00:02Z")}}
    first = [{"lead_key": "lead-1", "lead": {"captured_at": "2026-11-25T06:00:00.1Z"}}]
    later = [{"lead_key": "lead-1", "lead": {"captured_at": "2026-11-25T06:00:02.000000Z"}}]

    assert routed_on_a_repeat({"e1": "lead-1"}, captured, first) == []
    assert routed_on_a_repeat({"e1": "lead-1"}, captured, later) == ["lead-1"]
