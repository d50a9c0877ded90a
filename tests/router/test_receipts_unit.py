"""The receipt time a repeated delivery is stamped with: its first one."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from baton_router.api.body import body_digest
from baton_router.api.receipts import FirstReceipts, delivery_key

T0 = datetime(2026, 11, 24, 9, 0, tzinfo=UTC)
LATER = T0 + timedelta(seconds=7)


def test_a_repeated_delivery_keeps_its_first_receipt_time() -> None:
    receipts = FirstReceipts(timedelta(minutes=5))
    key = delivery_key("generic", body_digest(b'{"person": {}}'))
    assert receipts.received_at(key, T0) == T0
    assert receipts.received_at(key, LATER) == T0


def test_another_body_or_source_is_another_delivery() -> None:
    receipts = FirstReceipts(timedelta(minutes=5))
    receipts.received_at(delivery_key("generic", body_digest(b"{}")), T0)
    assert receipts.received_at(delivery_key("generic", body_digest(b"{ }")), LATER) == LATER
    assert receipts.received_at(delivery_key("hubspot", body_digest(b"{}")), LATER) == LATER


def test_memory_ends_with_the_signature_window_and_is_bounded() -> None:
    receipts = FirstReceipts(timedelta(minutes=5), max_entries=2)
    receipts.received_at("a", T0)
    after_window = T0 + timedelta(minutes=6)
    assert receipts.received_at("a", after_window) == after_window
    receipts.received_at("b", LATER)
    receipts.received_at("c", LATER)  # the oldest, a, makes room
    assert receipts.received_at("a", LATER + timedelta(seconds=1)) > LATER
    assert receipts.received_at("c", LATER + timedelta(seconds=1)) == LATER
