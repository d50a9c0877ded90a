"""The /sla API over seeded deadlines: a lead's history, open deadlines page by page, and
the compliance numbers checked against figures computed here from the same data."""

from __future__ import annotations

import random
from datetime import UTC, datetime, timedelta

from sla_support import AUTH, FAST, prepare, serving

from baton_runtime.bulk import write_all
from baton_runtime.db import create_engine
from baton_runtime.testing import sample_assigned
from baton_schemas.events.lead import Owner
from baton_schemas.sla_policy import SlaPolicy
from baton_sla_monitor.db.store import deadline_rows
from baton_sla_monitor.domain.lifecycle import (
    Deadline,
    Touch,
    close_superseded,
    fire_due,
    meet,
    open_deadline,
)

SLA = SlaPolicy.model_validate(FAST)
TEAMS = {"ann": "east", "bob": "east", "cy": "west"}
NOW = datetime.now(UTC).replace(microsecond=0)


def percentile(values: list[float], q: float) -> float:
    """PostgreSQL's percentile_cont: linear interpolation between closest ranks."""
    ordered = sorted(values)
    position = q * (len(ordered) - 1)
    low = int(position)
    high = min(low + 1, len(ordered) - 1)
    return ordered[low] + (ordered[high] - ordered[low]) * (position - low)


def seeded() -> list[Deadline]:
    rng = random.Random(7)
    deadlines = []
    for i in range(60):
        owner_id = rng.choice(list(TEAMS))
        opened_at = NOW - timedelta(hours=rng.randint(1, 100))
        event = sample_assigned(
            f"lead-{i}", owner_id=owner_id, assigned_at=opened_at, tier=rng.choice(["hot", "warm"])
        ).model_copy(
            update={
                "owner": Owner(id=owner_id, name=owner_id.title(), team=TEAMS[owner_id]),
                "lead": sample_assigned("x", source=rng.choice(["hubspot", "mautic"])).lead,
            }
        )
        opened = open_deadline(f"d-{i:02d}", event, SLA, "test-1")
        assert opened is not None
        deadline = opened[0]
        fate = rng.choice(["met", "late", "breached", "open", "cancelled"])
        if fate == "met":
            at = deadline.opened_at + (deadline.due_at - deadline.opened_at) * rng.random()
            meet(deadline, Touch(f"c-{i}", deadline.lead_key, at, "call", "outbound"), SLA)
        elif fate == "late":
            fire_due(deadline, deadline.due_at, SLA)
            at = deadline.due_at + timedelta(minutes=rng.randint(1, 50))
            meet(deadline, Touch(f"c-{i}", deadline.lead_key, at, "call", "outbound"), SLA)
        elif fate == "breached":
            fire_due(deadline, NOW, SLA)
        elif fate == "cancelled":
            close_superseded(deadline, deadline.opened_at)
        elif deadline.due_at < NOW:  # open: still waiting, so make it due later
            deadline.due_at = NOW + timedelta(minutes=i)
        deadlines.append(deadline)
    return deadlines


def expected(deadlines: list[Deadline]) -> dict[str, object]:
    counted = [d for d in deadlines if d.status != "cancelled"]
    decided = [d for d in counted if d.within_target is not None or d.breached_at is not None]
    in_time = [d for d in decided if d.within_target]
    touched = [d.minutes_to_first_touch for d in counted if d.minutes_to_first_touch is not None]
    return {
        "deadlines": len(counted),
        "decided": len(decided),
        "met_in_time": len(in_time),
        "breached": len(decided) - len(in_time),
        "compliance_rate": round(len(in_time) / len(decided), 4),
        "median_minutes_to_first_touch": round(percentile(touched, 0.5), 2),
        "p90_minutes_to_first_touch": round(percentile(touched, 0.9), 2),
    }


async def test_the_sla_api(make_settings) -> None:
    settings = await prepare(make_settings)
    deadlines = seeded()
    engine = create_engine(settings)
    async with engine.begin() as conn:
        await write_all(conn, [deadline_rows(deadlines)])
    await engine.dispose()
    open_ones = sorted(
        (d for d in deadlines if d.closed_at is None), key=lambda d: (d.due_at, d.deadline_id)
    )

    async with serving(settings) as client:
        no_key = await client.get("/sla/stats")
        wrong_key = await client.get("/sla/stats", headers={"Authorization": "Bearer nope"})
        stats = await client.get("/sla/stats", headers=AUTH)
        narrow = await client.get(
            "/sla/stats",
            params={"since": (NOW - timedelta(hours=10)).isoformat(), "by": ["team"]},
            headers=AUTH,
        )
        backwards = await client.get(
            "/sla/stats", params={"since": NOW.isoformat(), "until": NOW.isoformat()}, headers=AUTH
        )
        pages, cursor = [], None
        while True:
            params = {"limit": 7, **({"after": cursor} if cursor else {})}
            page = await client.get("/sla/open", params=params, headers=AUTH)
            assert page.status_code == 200, page.text
            pages.append([d["deadline_id"] for d in page.json()["deadlines"]])
            cursor = page.json()["next"]
            if cursor is None:
                break
        ann = await client.get("/sla/open", params={"owner": "ann", "limit": 1000}, headers=AUTH)
        bad_cursor = await client.get("/sla/open", params={"after": "%%%"}, headers=AUTH)
        lead = await client.get(f"/sla/leads/{deadlines[0].lead_key}", headers=AUTH)
        unknown = await client.get("/sla/leads/nobody", headers=AUTH)
        nul_key = await client.get("/sla/leads/a%00b", headers=AUTH)
        import base64

        nul_cursor = base64.urlsafe_b64encode(f"{NOW.isoformat()}|d\x00".encode()).decode()
        bad_cursors = [
            await client.get("/sla/open", params={"after": cursor}, headers=AUTH)
            for cursor in (
                nul_cursor,
                base64.urlsafe_b64encode(b"0001-01-01T00:00:00+01:00|d").decode(),
            )
        ]
        extremes = [
            await client.get("/sla/stats", params=params, headers=AUTH)
            for params in (
                {"until": "0001-01-01T00:00:00"},
                {"since": "0001-01-01T00:00:00+01:00"},
                {"until": "9999-12-31T23:59:00-01:00"},
            )
        ]

    assert no_key.status_code == 401 and wrong_key.status_code == 403
    assert stats.status_code == 200, stats.text
    body = stats.json()
    overall = body["overall"]
    assert {key: overall[key] for key in expected(deadlines)} == expected(deadlines)
    for dimension, key_of in (
        ("owner", lambda d: d.owner_id),
        ("team", lambda d: d.team),
        ("tier", lambda d: d.tier),
        ("source", lambda d: d.source),
    ):
        groups = {group[dimension]: group for group in body[f"by_{dimension}"]}
        values = {key_of(d) for d in deadlines if d.status != "cancelled"}
        assert set(groups) == values
        for value in values:
            mine = [d for d in deadlines if key_of(d) == value]
            figures = expected(mine)
            assert {key: groups[value][key] for key in figures} == figures, (dimension, value)

    recent = [d for d in deadlines if d.opened_at >= NOW - timedelta(hours=10)]
    assert narrow.json()["overall"]["deadlines"] == len(
        [d for d in recent if d.status != "cancelled"]
    )
    assert set(narrow.json()) == {"since", "until", "overall", "by_team"}
    assert backwards.status_code == 422

    assert [i for page in pages for i in page] == [d.deadline_id for d in open_ones]
    assert all(len(page) <= 7 for page in pages) and len(pages) >= 2
    assert [d["deadline_id"] for d in ann.json()["deadlines"]] == [
        d.deadline_id for d in open_ones if d.owner_id == "ann"
    ]
    assert bad_cursor.status_code == 422
    assert lead.status_code == 200
    assert lead.json()["deadlines"][0]["deadline_id"] == deadlines[0].deadline_id
    assert lead.json()["deadlines"][0]["owner_name"] == deadlines[0].owner.name  # type: ignore[union-attr]
    assert unknown.status_code == 404
    assert nul_key.status_code == 422
    assert [answer.status_code for answer in bad_cursors + extremes] == [422] * 5
