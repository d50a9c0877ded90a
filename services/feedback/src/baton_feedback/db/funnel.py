"""Read side of the funnel report: one statement over the attribution read model and the CRM
reports, counting each lead once per step (see `domain/funnel.py` for the definitions).

The cohort is the leads first assigned in the window. Their reports are folded into one row
per lead (accepted? rejected, and why last? qualified? the latest closed deal, the first
activity), and those rows are counted per group and overall with GROUPING SETS; reject
reasons and revenue per currency are counted the same way and attached to their group.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from functools import lru_cache
from typing import Any

from sqlalchemy import TextualSelect, text
from sqlalchemy.dialects.postgresql import JSONB
from sqlalchemy.ext.asyncio import AsyncConnection

# The grouping a caller may ask for, and the column that is its key. A campaign is its id:
# its name is shown, not grouped by, so a renamed campaign stays one row.
DIMENSIONS = {"source": "source", "campaign": "campaign_id"}
TOP_REASONS = 5

_LEADS = """
WITH cohort AS (
    SELECT lead_key, source, campaign_id, campaign_name, first_assigned_at, mql
    FROM lead_attribution
    WHERE first_assigned_at >= :since AND first_assigned_at < :until
),
reports AS (
    SELECT
        f.lead_key,
        f.crm_event_id,
        f.event ->> 'kind' AS kind,
        (f.event ->> 'occurred_at')::timestamptz AS occurred_at,
        CASE f.event ->> 'kind' WHEN 'disposition'
            THEN f.event -> 'disposition' ->> 'status' END AS disposition,
        CASE f.event ->> 'kind' WHEN 'disposition'
            THEN f.event -> 'disposition' ->> 'reason_code' END AS reason_code,
        CASE f.event ->> 'kind' WHEN 'stage_change' THEN f.event ->> 'stage' END AS stage,
        CASE f.event ->> 'kind' WHEN 'deal_closed' THEN f.event -> 'deal' END AS deal
    FROM crm_feedback AS f JOIN cohort USING (lead_key)
),
outcomes AS (
    SELECT
        lead_key,
        bool_or(disposition = 'accepted' OR stage = 'sales_accepted') AS accepted,
        bool_or(disposition = 'rejected') AS rejected,
        (array_agg(reason_code ORDER BY occurred_at DESC, crm_event_id DESC)
            FILTER (WHERE disposition = 'rejected'))[1] AS reject_reason,
        bool_or(stage IN ('sales_qualified', 'opportunity_created')) AS sales_qualified,
        (array_agg(deal ORDER BY occurred_at DESC, crm_event_id DESC)
            FILTER (WHERE deal IS NOT NULL))[1] AS deal,
        min(occurred_at) FILTER (WHERE kind = 'activity') AS first_activity_at
    FROM reports
    GROUP BY lead_key
),
leads AS (
    SELECT
        c.source,
        c.campaign_id,
        c.campaign_name,
        c.first_assigned_at,
        c.mql,
        coalesce(o.accepted, false) AS accepted,
        coalesce(o.rejected, false) AS rejected,
        o.reject_reason,
        coalesce(o.sales_qualified, false) AS sales_qualified,
        o.deal ->> 'outcome' AS outcome,
        (o.deal ->> 'amount')::numeric AS amount,
        coalesce(o.deal ->> 'currency', 'unknown') AS currency,
        -- A touch logged before the handoff counts as immediate, as the SLA monitor does
        -- (greatest() skips nulls, so a lead never touched is kept null explicitly).
        CASE WHEN o.first_activity_at IS NOT NULL THEN
            greatest(0, extract(epoch FROM o.first_activity_at - c.first_assigned_at) / 60)
        END AS minutes_to_first_activity
    FROM cohort AS c LEFT JOIN outcomes AS o USING (lead_key)
)"""

_REPORT = """,
figures AS (
    SELECT
        {keys},
        grouping({keys}) <> 0 AS is_total,
        {campaign_name} AS campaign_name,
        count(*) AS leads,
        count(*) FILTER (WHERE mql) AS mqls,
        count(*) FILTER (WHERE accepted) AS accepted,
        count(*) FILTER (WHERE rejected) AS rejected,
        count(*) FILTER (WHERE sales_qualified) AS sales_qualified,
        count(*) FILTER (WHERE outcome = 'won') AS won,
        count(*) FILTER (WHERE outcome = 'lost') AS lost,
        count(minutes_to_first_activity) AS leads_with_activity,
        percentile_cont(0.5) WITHIN GROUP (ORDER BY minutes_to_first_activity)
            AS median_minutes_to_first_activity
    FROM leads
    GROUP BY GROUPING SETS (({keys}), ())
),
reasons AS (
    SELECT {keys}, grouping({keys}) <> 0 AS is_total, reject_reason, count(*) AS leads
    FROM leads
    WHERE rejected
    GROUP BY GROUPING SETS (({keys}, reject_reason), (reject_reason))
),
revenue AS (
    SELECT {keys}, grouping({keys}) <> 0 AS is_total, currency, sum(amount) AS amount
    FROM leads
    WHERE outcome = 'won' AND amount IS NOT NULL
    GROUP BY GROUPING SETS (({keys}, currency), (currency))
)
SELECT
    figures.*,
    (
        SELECT coalesce(
            jsonb_agg(
                jsonb_build_object('reason_code', top.reject_reason, 'leads', top.leads)
                ORDER BY top.leads DESC, top.reject_reason
            ),
            '[]'
        )
        FROM (
            SELECT reasons.reject_reason, reasons.leads FROM reasons
            WHERE reasons.is_total = figures.is_total AND {reasons_match}
            ORDER BY reasons.leads DESC, reasons.reject_reason
            LIMIT {top}
        ) AS top
    ) AS top_reject_reasons,
    (
        SELECT coalesce(jsonb_object_agg(revenue.currency, revenue.amount), '{{}}')
        FROM revenue
        WHERE revenue.is_total = figures.is_total AND {revenue_match}
    ) AS revenue
FROM figures
ORDER BY figures.is_total, {order}
"""


@dataclass(frozen=True)
class FunnelGroup:
    """The counts of one group of leads (or of all of them, `keys` empty)."""

    keys: dict[str, Any]
    counts: dict[str, Any]


async def funnel(
    conn: AsyncConnection, since: datetime, until: datetime, by: Sequence[str]
) -> tuple[FunnelGroup, list[FunnelGroup]]:
    """The counts of the leads first assigned in [since, until): overall, then per group of
    the dimensions in `by` (each a key of DIMENSIONS)."""
    rows = (await conn.execute(_statement(tuple(by)), {"since": since, "until": until})).all()
    total: FunnelGroup | None = None
    groups = []
    for row in rows:
        values = dict(row._mapping)
        is_total = values.pop("is_total")
        keys = {name: values.pop(name) for name in _key_columns(tuple(by))}
        name = values.pop("campaign_name")
        if "campaign" in by:
            keys["campaign_name"] = name
        if is_total:
            total = FunnelGroup({}, values)
        else:
            groups.append(FunnelGroup(keys, values))
    assert total is not None  # GROUPING SETS always yields the () row, even without leads
    return total, groups


def _key_columns(by: tuple[str, ...]) -> list[str]:
    return [DIMENSIONS[name] for name in by]


@lru_cache(maxsize=8)
def _statement(by: tuple[str, ...]) -> TextualSelect:
    """The report's SQL for a grouping; only DIMENSIONS' columns are spliced in."""
    keys = _key_columns(by)
    if not keys:
        raise ValueError("group by at least one of " + ", ".join(DIMENSIONS))
    key_list = ", ".join(keys)
    # The name of the campaign's most recently handed-off lead; none for the no-campaign
    # group, whose leads may carry any names.
    campaign_name = (
        "CASE WHEN grouping(campaign_id) = 0 AND campaign_id IS NOT NULL THEN"
        " (array_agg(campaign_name ORDER BY first_assigned_at DESC)"
        " FILTER (WHERE campaign_name IS NOT NULL))[1] END"
        if "campaign_id" in keys
        else "NULL::text"
    )
    sql = _LEADS + _REPORT.format(
        keys=key_list,
        campaign_name=campaign_name,
        reasons_match=_same_group("reasons", keys),
        revenue_match=_same_group("revenue", keys),
        top=TOP_REASONS,
        order=", ".join(f"figures.{key} NULLS LAST" for key in keys),
    )
    return text(sql).columns(top_reject_reasons=JSONB, revenue=JSONB)


def _same_group(table: str, keys: Sequence[str]) -> str:
    return " AND ".join(f"{table}.{key} IS NOT DISTINCT FROM figures.{key}" for key in keys)
