"""The receipt time a redelivery is stamped with after its first delivery went unanswered."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from baton_router.api.receipts import UnansweredReceipts, delivery_key

T0 = datetime(2026, 11, 24, 9, 0, tzinfo=UTC)


def test_a_redelivery_of_an_unanswered_delivery_keeps_the_first_receipt_time() -> None:
    receipts = UnansweredReceipts(timedelta(minutes=5))
    key = delivery_key("generic", b'{"person": {}}')
    receipts.unanswered(key, T0)
    assert receipts.received_at(key, T0 + timedelta(seconds=7)) == T0


def test_an_answered_delivery_or_another_body_gets_its_own_time() -> None:
    receipts = UnansweredReceipts(timedelta(minutes=5))
    key = delivery_key("generic", b"{}")
    receipts.unanswered(key, T0)
    later = T0 + timedelta(seconds=7)
    assert receipts.received_at(delivery_key("generic", b"{ }"), later) == later
    assert receipts.received_at(delivery_key("hubspot", b"{}"), later) == later
    receipts.answered(key)
    assert receipts.received_at(key, later) == later


def test_memory_ends_with_the_signature_window_and_is_bounded() -> None:
    receipts = UnansweredReceipts(timedelta(minutes=5), max_entries=2)
    receipts.unanswered("a", T0)
    assert receipts.received_at("a", T0 + timedelta(minutes=6)) == T0 + timedelta(minutes=6)
    receipts.unanswered("b", T0)
    receipts.unanswered("c", T0)
    later = T0 + timedelta(seconds=1)
    assert receipts.received_at("a", later) == later  # the oldest made room
    assert receipts.received_at("c", later) == T0
