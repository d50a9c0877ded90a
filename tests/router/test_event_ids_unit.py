"""Event ids of webhook leads: UUID 5 text, the same as the standard library's."""

from __future__ import annotations

import random
import uuid

from baton_router.api.body import DELIVERY_NAMESPACE, event_id, uuid5_text


def test_uuid5_text_is_the_standard_librarys_uuid5() -> None:
    rng = random.Random(5)
    names = ["", "a", "généric:id:ü", "generic:body:" + "f" * 64 + ":0"]
    names += [
        "".join(chr(rng.randrange(32, 0x2FFF)) for _ in range(rng.randrange(80)))
        for _ in range(500)
    ]
    for namespace in (DELIVERY_NAMESPACE, uuid.NAMESPACE_DNS, uuid.uuid4()):
        for name in names:
            assert uuid5_text(namespace, name) == str(uuid.uuid5(namespace, name)), name


def test_a_redelivery_gets_the_same_ids_and_other_leads_other_ones() -> None:
    first = event_id("generic", "d" * 64, "msg_1", 0, None)
    assert first == event_id("generic", "d" * 64, "msg_1", 0, None)
    assert first == str(uuid.uuid5(DELIVERY_NAMESPACE, f"generic:id:msg_1:{'d' * 64}:0"))
    others = {
        event_id("generic", "d" * 64, "msg_1", 1, None),
        event_id("generic", "e" * 64, "msg_1", 0, None),
        event_id("generic", "d" * 64, None, 0, None),
        event_id("hubspot", "d" * 64, "msg_1", 0, None),
        event_id("hubspot", "d" * 64, "msg_1", 0, "contact-7"),
    }
    assert first not in others and len(others) == 5
