"""The funnel figures the report should give for a seeded data set, worked out lead by lead
in plain Python from the events as generated (no SQL), to hold the report's query to."""

from __future__ import annotations

import statistics
from collections import Counter
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal
from typing import Any

from funnel_seed import FunnelSeed, SeededLead

from baton_schemas import CrmFeedback

QUALIFIED = ("sales_qualified", "opportunity_created")


@dataclass(frozen=True)
class LeadOutcome:
    source: str
    campaign_id: str | None
    campaign_name: str | None
    first_assigned_at: datetime
    mql: bool
    accepted: bool
    reject_reason: str | None  # of the latest rejection; None: never rejected
    sales_qualified: bool
    deal: Any  # the latest closed deal, or None
    minutes_to_first_activity: float | None

    @property
    def rejected(self) -> bool:
        return self.reject_reason is not None


def outcome(lead: SeededLead) -> LeadOutcome:
    assignments = lead.assignments + lead.late_assignments
    newest = max(assignments, key=lambda a: a.assigned_at)
    first_at = min(a.assigned_at for a in assignments)
    unique = {r.crm_event_id: r for r in lead.reports if r.lead_key == lead.lead_key}
    reports = sorted(unique.values(), key=lambda r: (r.occurred_at, r.crm_event_id))
    rejections = [r for r in reports if _status(r) == "rejected"]
    deals = [r.deal for r in reports if r.kind == "deal_closed"]
    touches = [r.occurred_at for r in reports if r.kind == "activity"]
    attribution = newest.lead.attribution
    return LeadOutcome(
        source=newest.lead.source,
        campaign_id=attribution.campaign_id,
        campaign_name=attribution.campaign_name,
        first_assigned_at=first_at,
        mql=any(a.lifecycle_stage == "mql" for a in assignments),
        accepted=any(
            _status(r) == "accepted" or (r.kind == "stage_change" and r.stage == "sales_accepted")
            for r in reports
        ),
        reject_reason=rejections[-1].disposition.reason_code if rejections else None,  # type: ignore[union-attr]
        sales_qualified=any(r.kind == "stage_change" and r.stage in QUALIFIED for r in reports),
        deal=deals[-1] if deals else None,
        minutes_to_first_activity=(
            max(0.0, (min(touches) - first_at).total_seconds() / 60) if touches else None
        ),
    )


def _status(report: CrmFeedback) -> str | None:
    if report.kind != "disposition" or report.disposition is None:
        return None
    return report.disposition.status


def cohort(seed: FunnelSeed) -> list[LeadOutcome]:
    outcomes = (outcome(lead) for lead in seed.leads)
    return [o for o in outcomes if seed.since <= o.first_assigned_at < seed.until]


def expected_funnel(
    seed: FunnelSeed, by: Sequence[str] = ("source", "campaign")
) -> tuple[dict[str, Any], dict[tuple[Any, ...], dict[str, Any]]]:
    """(total figures, {group key: figures}), the key being (source, campaign_id) or the
    part of it `by` names."""
    leads = cohort(seed)
    groups: dict[tuple[Any, ...], list[LeadOutcome]] = {}
    for lead in leads:
        key = tuple(lead.source if name == "source" else lead.campaign_id for name in by)
        groups.setdefault(key, []).append(lead)
    return figures(leads), {key: figures(members) for key, members in groups.items()}


def figures(leads: Iterable[LeadOutcome]) -> dict[str, Any]:
    leads = list(leads)
    won = [lead.deal for lead in leads if lead.deal is not None and lead.deal.outcome == "won"]
    counts = {
        "leads": len(leads),
        "mqls": sum(lead.mql for lead in leads),
        "accepted": sum(lead.accepted for lead in leads),
        "rejected": sum(lead.rejected for lead in leads),
        "sales_qualified": sum(lead.sales_qualified for lead in leads),
        "won": len(won),
        "lost": sum(1 for lead in leads if lead.deal is not None and lead.deal.outcome == "lost"),
    }
    reasons = Counter(lead.reject_reason for lead in leads if lead.rejected)
    revenue: dict[str, Decimal] = {}
    for deal in won:
        if deal.amount is not None:
            currency = deal.currency or "unknown"
            revenue[currency] = revenue.get(currency, Decimal(0)) + Decimal(str(deal.amount))
    minutes = [m for lead in leads if (m := lead.minutes_to_first_activity) is not None]
    return {
        **counts,
        "top_reject_reasons": [
            {"reason_code": code, "leads": n}
            for code, n in sorted(reasons.items(), key=lambda item: (-item[1], item[0]))[:5]
        ],
        "revenue": {currency: float(amount) for currency, amount in sorted(revenue.items())},
        "mql_rate": _ratio(counts["mqls"], counts["leads"]),
        "acceptance_rate": _ratio(counts["accepted"], counts["mqls"]),
        "qualification_rate": _ratio(counts["sales_qualified"], counts["accepted"]),
        "win_rate": _ratio(counts["won"], counts["won"] + counts["lost"]),
        "lead_to_won": _ratio(counts["won"], counts["leads"]),
        "leads_with_activity": len(minutes),
        "median_minutes_to_first_activity": statistics.median(minutes) if minutes else None,
    }


def _ratio(numerator: int, denominator: int) -> float | None:
    return round(numerator / denominator, 4) if denominator else None


def campaign_names(seed: FunnelSeed) -> dict[str | None, str | None]:
    """Each campaign id's name (the seed gives every campaign one name)."""
    names: dict[str | None, str | None] = {None: None}
    for lead in cohort(seed):
        if lead.campaign_id is not None:
            names[lead.campaign_id] = lead.campaign_name
    return names
