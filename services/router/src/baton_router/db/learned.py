"""Closed deals in, the learned model out (see `domain/policy/learned.py`)."""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping, Sequence
from typing import Any

from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncConnection

from baton_router.db.tables import closed_deals
from baton_router.domain.policy.learned import LearnedModel, Outcomes
from baton_runtime.bulk import BulkInsert, Rows, upsert_tail

_DEAL_COLUMNS = ("lead_key", "outcome", "closed_at", "crm_event_id", "facts")
# A lead keeps its latest outcome (a reopened and lost deal replaces the win); every change
# takes a new revision, so routers see the model moved.
_DEALS = BulkInsert(
    closed_deals,
    _DEAL_COLUMNS,
    tail=upsert_tail("lead_key", _DEAL_COLUMNS)
    + ", \"revision\" = nextval('closed_deals_revision') "
    + 'WHERE "closed_deals"."closed_at" <= EXCLUDED."closed_at"',
)

_OUTCOMES = text(
    """
SELECT attribute, facts ->> attribute AS value,
       count(*) FILTER (WHERE outcome = 'won') AS won, count(*) AS closed
FROM closed_deals CROSS JOIN unnest(CAST(:attributes AS text[])) AS attribute
WHERE facts ? attribute AND jsonb_typeof(facts -> attribute) <> 'null'
GROUP BY attribute, value
"""
)
_OVERALL = text(
    "SELECT coalesce(max(revision), 0) AS revision, "
    "count(*) FILTER (WHERE outcome = 'won') AS won, count(*) AS closed FROM closed_deals"
)


def deal_rows(deals: Iterable[tuple[str, str, Any, str, Mapping[str, Any]]]) -> Rows:
    """(lead_key, outcome, closed_at, crm_event_id, facts) per deal, the latest per lead."""
    latest: dict[str, tuple[str, str, Any, str, Mapping[str, Any]]] = {}
    for deal in deals:
        kept = latest.get(deal[0])
        if kept is None or kept[2] <= deal[2]:
            latest[deal[0]] = deal
    return _DEALS.of(
        [
            (key, outcome, at, event, json.dumps(facts))
            for key, outcome, at, event, facts in latest.values()
        ]
    )


async def load_model(conn: AsyncConnection, attributes: Sequence[str]) -> LearnedModel:
    overall = (await conn.execute(_OVERALL)).one()
    rows = await conn.execute(_OUTCOMES, {"attributes": list(attributes)})
    return LearnedModel(
        revision=overall.revision,
        overall=Outcomes(won=overall.won, closed=overall.closed),
        by_value={
            (row.attribute, row.value): Outcomes(won=row.won, closed=row.closed) for row in rows
        },
    )
