"""A deterministic funnel data set: leads handed to sales from several sources and
campaigns, and what their CRM reported about them, as the events the feedback service
consumes (`LeadAssigned`, `CrmFeedback`).

The mix is meant to look like a quarter of real traffic: about half the leads come as
MQLs; sales touch most of them after delays from minutes to days (a few logged before the
handoff); MQLs are mostly accepted (by disposition or by a sales_accepted stage), others
mostly rejected with a reason, some rejected twice or rejected then accepted after a
re-route; accepted leads qualify and reach opportunities, whose deals are won or lost in EUR
or USD, a few reopened with a second outcome. Some leads are reassigned (a few with a new
campaign or a lost MQL flag), and some of those reassignments' older assignment arrives
late; some reports are sent twice; some name only the CRM's record id or a lead never
assigned. Leads are handed off from 4 days before the window to 2 days after it, so the
cohort's edges matter.

Run it as a script to see the mix: `python tests/feedback/funnel_seed.py [leads]`.
"""

from __future__ import annotations

import random
import sys
from collections import Counter
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any

from baton_runtime.testing import sample_assigned
from baton_schemas import CrmFeedback, LeadAssigned

UNTIL = datetime(2025, 6, 1, tzinfo=UTC)
SINCE = UNTIL - timedelta(days=30)
SOURCES = {"hubspot": 4, "marketo": 3, "mautic": 2, "generic": 1}
CAMPAIGNS: list[tuple[str | None, str | None, int]] = [
    ("spring-webinar", "Spring webinar", 5),
    ("q2-ebook", "Q2 e-book", 4),
    ("paid-search-emea", "Paid search EMEA", 3),
    ("partner-referral", "Partner referral", 2),
    (None, None, 3),
]
REASONS = {"bad_fit": 6, "no_budget": 5, "no_need": 4, "unreachable": 4, "bad_timing": 3}
REASONS |= {"duplicate": 2, "competitor": 1, "student": 1, "spam": 1}
CURRENCIES = {"EUR": 6, "USD": 4}


@dataclass
class SeededLead:
    lead_key: str
    assignments: list[LeadAssigned]  # chronological
    late_assignments: list[LeadAssigned] = field(default_factory=list)  # older, sent last
    reports: list[CrmFeedback] = field(default_factory=list)  # as sent, repeats included


@dataclass
class FunnelSeed:
    since: datetime
    until: datetime
    leads: list[SeededLead]
    stray_reports: list[CrmFeedback]  # naming no assigned lead: never counted

    def assignment_waves(self) -> list[list[LeadAssigned]]:
        """The assignments in the order they are delivered: every lead's on-time ones,
        then the late older ones."""
        on_time = [a for lead in self.leads for a in lead.assignments]
        return [on_time, [a for lead in self.leads for a in lead.late_assignments]]

    def reports(self) -> list[CrmFeedback]:
        return [r for lead in self.leads for r in lead.reports] + self.stray_reports


def generate(leads: int = 10_000, seed: int = 20250601) -> FunnelSeed:
    rng = random.Random(seed)
    seeded = [_lead(rng, n, leads) for n in range(leads)]
    return FunnelSeed(SINCE, UNTIL, seeded, _strays(rng, leads // 50))


def _pick(rng: random.Random, weights: dict[str, int]) -> str:
    return rng.choices(list(weights), weights=list(weights.values()))[0]


def _handoff(rng: random.Random, n: int) -> datetime:
    if n == 0:
        return SINCE  # the window includes its start...
    if n == 1:
        return UNTIL  # ...and not its end
    span = (UNTIL + timedelta(days=2)) - (SINCE - timedelta(days=4))
    return SINCE - timedelta(days=4) + timedelta(seconds=rng.randrange(int(span.total_seconds())))


def _lead(rng: random.Random, n: int, total: int) -> SeededLead:
    lead_key = f"lead-{n:05d}"
    handoff = _handoff(rng, n)
    source = _pick(rng, SOURCES)
    campaign_id, campaign_name, _ = rng.choices(CAMPAIGNS, [c[2] for c in CAMPAIGNS])[0]
    mql = rng.random() < 0.55
    first = _assigned(lead_key, handoff, source, campaign_id, campaign_name, mql, attempt=1)
    lead = SeededLead(lead_key, [first])
    if rng.random() < 0.1:
        _reassign(rng, lead, first)
    lead.reports = _reports(rng, lead_key, handoff, mql)
    return lead


def _assigned(
    lead_key: str,
    at: datetime,
    source: str,
    campaign_id: str | None,
    campaign_name: str | None,
    mql: bool,
    attempt: int,
) -> LeadAssigned:
    assigned = sample_assigned(
        lead_key,
        owner_id=f"rep-{attempt}",
        assigned_at=at,
        source=source,
        campaign_id=campaign_id,
        campaign_name=campaign_name,
        attempt=attempt,
    )
    return assigned.model_copy(update={"lifecycle_stage": "mql" if mql else "lead"})


def _reassign(rng: random.Random, lead: SeededLead, first: LeadAssigned) -> None:
    """A second assignment hours later; now and then with another campaign or without the
    MQL flag (the lead stays an MQL), and for one in five the first arrives after it."""
    attribution = first.lead.attribution
    campaign_id, campaign_name = attribution.campaign_id, attribution.campaign_name
    if rng.random() < 0.2:
        campaign_id, campaign_name, _ = rng.choice(CAMPAIGNS)
    again = _assigned(
        lead.lead_key,
        first.assigned_at + timedelta(minutes=rng.randrange(30, 48 * 60)),
        first.lead.source,
        campaign_id,
        campaign_name,
        first.lifecycle_stage == "mql" and rng.random() < 0.7,
        attempt=2,
    )
    if rng.random() < 0.2:
        lead.assignments, lead.late_assignments = [again], [first]
    else:
        lead.assignments.append(again)


class _Reports:
    """One lead's reports, numbered per lead."""

    def __init__(self, rng: random.Random, lead_key: str) -> None:
        self.rng = rng
        self.lead_key = lead_key
        self.sent: list[CrmFeedback] = []

    def add(self, at: datetime, kind: str, **detail: Any) -> None:
        report = CrmFeedback.model_validate(
            {
                "crm_event_id": f"{self.lead_key}-{len(self.sent)}",
                "lead_key": self.lead_key,
                "kind": kind,
                "occurred_at": at,
                "actor_id": "rep-1",
                **detail,
            }
        )
        self.sent.append(report)
        if self.rng.random() < 0.03:
            self.sent.append(report)  # the CRM sent it again

    def activity(self, at: datetime) -> None:
        kind = self.rng.choice(["call", "email", "meeting", "other"])
        self.add(at, "activity", activity={"type": kind, "direction": "outbound"})

    def disposition(self, at: datetime, status: str, reason: str | None = None) -> None:
        self.add(at, "disposition", disposition={"status": status, "reason_code": reason})

    def stage(self, at: datetime, stage: str) -> None:
        self.add(at, "stage_change", stage=stage)

    def deal(self, at: datetime, outcome: str) -> None:
        deal: dict[str, Any] = {"outcome": outcome}
        if outcome == "won":
            cents = self.rng.randrange(100_000, 8_000_000)
            deal |= {"amount": float(Decimal(cents) / 100), "currency": _pick(self.rng, CURRENCIES)}
        else:
            deal["lost_reason"] = self.rng.choice(["price", "competitor", "no_decision"])
        self.add(at, "deal_closed", deal=deal)


def _reports(rng: random.Random, lead_key: str, handoff: datetime, mql: bool) -> list[CrmFeedback]:
    out = _Reports(rng, lead_key)
    if rng.random() < 0.8:
        _touches(rng, out, handoff)
    decided = handoff + timedelta(minutes=rng.randrange(30, 72 * 60))
    accept, reject = (0.6, 0.25) if mql else (0.25, 0.45)
    draw = rng.random()
    accepted = draw < accept
    if accepted:
        if rng.random() < 0.3:
            out.stage(decided, "sales_accepted")
        else:
            out.disposition(decided, "accepted")
    elif draw < accept + reject:
        out.disposition(decided, "rejected", _pick(rng, REASONS))
        if rng.random() < 0.15:
            decided += timedelta(hours=rng.randrange(1, 48))
            out.disposition(decided, "rejected", _pick(rng, REASONS))
        if rng.random() < 0.1:  # re-routed, and the next rep took it
            decided += timedelta(hours=rng.randrange(1, 48))
            out.disposition(decided, "accepted")
            accepted = True
    elif rng.random() < 0.5:
        out.disposition(decided, rng.choice(["recycled", "disqualified"]))
    if accepted:
        _pipeline(rng, out, decided)
    return out.sent


def _touches(rng: random.Random, out: _Reports, handoff: datetime) -> None:
    band = rng.random()
    if band < 0.02:
        delay = -rng.randrange(60, 600)  # logged in the CRM before the handoff
    elif band < 0.4:
        delay = rng.randrange(60, 3600)
    elif band < 0.7:
        delay = rng.randrange(3600, 8 * 3600)
    else:
        delay = rng.randrange(8 * 3600, 3 * 86400)
    first = handoff + timedelta(seconds=delay)
    out.activity(first)
    for _ in range(rng.randrange(3)):
        out.activity(first + timedelta(seconds=rng.randrange(600, 5 * 86400)))


def _pipeline(rng: random.Random, out: _Reports, accepted_at: datetime) -> None:
    at = accepted_at + timedelta(days=rng.randrange(1, 10), seconds=rng.randrange(86400))
    opportunity = False
    if rng.random() < 0.5:
        out.stage(at, "sales_qualified")
        if rng.random() < 0.6:
            at += timedelta(days=rng.randrange(1, 14))
            out.stage(at, "opportunity_created")
            opportunity = True
    elif rng.random() < 0.05:
        out.stage(at, "opportunity_created")  # the CRM skipped a step
        opportunity = True
    if opportunity and rng.random() < 0.7:
        at += timedelta(days=rng.randrange(5, 60), seconds=rng.randrange(86400))
        outcome = "won" if rng.random() < 0.4 else "lost"
        out.deal(at, outcome)
        if rng.random() < 0.05:  # reopened and closed again: the latest outcome stands
            out.deal(at + timedelta(days=rng.randrange(1, 30)), rng.choice(["won", "lost"]))


def _strays(rng: random.Random, count: int) -> list[CrmFeedback]:
    strays = []
    for n in range(count):
        at = SINCE + timedelta(minutes=rng.randrange(30 * 24 * 60))
        named = {"crm_record_id": f"0031x{n:05d}"} if n % 2 else {"lead_key": f"ghost-{n:05d}"}
        strays.append(
            CrmFeedback.model_validate(
                {
                    "crm_event_id": f"stray-{n}",
                    **named,
                    "kind": "deal_closed",
                    "occurred_at": at,
                    "deal": {"outcome": "won", "amount": 1000.0, "currency": "EUR"},
                }
            )
        )
    return strays


def main() -> None:
    seed = generate(int(sys.argv[1]) if len(sys.argv) > 1 else 10_000)
    reports = seed.reports()
    kinds = Counter(report.kind for report in reports)
    waves = seed.assignment_waves()
    print(f"{len(seed.leads)} leads, {sum(map(len, waves))} assignments ({len(waves[1])} late)")
    print(f"{len(reports)} reports: {dict(kinds)}")


if __name__ == "__main__":
    main()
