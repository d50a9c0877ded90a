"""The funnel's shared numbers: one set of definitions for marketing and sales, the rates
derived from the counts, and the report as CSV. Pure."""

from __future__ import annotations

import csv
import io
from collections.abc import Mapping, Sequence
from typing import Any

DEFINITIONS = {
    "leads": (
        "Leads whose first assignment to sales (the handoff) falls in [since, until); what"
        " sales reported about them counts whenever it was reported."
    ),
    "source": "The lead's source as its newest assignment carries it.",
    "campaign": (
        "The campaign id of the lead's newest assignment (leads without one are a group of"
        " their own), shown with the name its most recently handed-off lead carries."
    ),
    "mqls": "Leads any of whose assignments came as a marketing-qualified lead (stage mql).",
    "accepted": "Leads sales accepted: a disposition accepted or a stage change to sales_accepted.",
    "rejected": "Leads sales rejected at least once (disposition rejected).",
    "top_reject_reasons": (
        "The five commonest reason codes among the rejected leads, most first, each lead"
        " counted under the reason of its latest rejection."
    ),
    "sales_qualified": "Leads that reached the stage sales_qualified or opportunity_created.",
    "won": "Leads whose latest closed-deal report says won.",
    "lost": "Leads whose latest closed-deal report says lost.",
    "revenue": (
        "The won leads' deal amounts summed per currency, never converted or added across"
        " currencies (an amount without a currency is under 'unknown')."
    ),
    "mql_rate": "The share of leads that were MQLs: mqls / leads.",
    "acceptance_rate": (
        "Accepted leads per MQL: accepted / mqls (each step counts every lead that reached"
        " it, so a lead accepted without being an MQL counts too)."
    ),
    "qualification_rate": "Qualified leads per accepted lead: sales_qualified / accepted.",
    "win_rate": "The share of closed deals that were won: won / (won + lost).",
    "lead_to_won": "The share of leads that became won deals: won / leads.",
    "leads_with_activity": (
        "Leads with at least one activity report (a call, e-mail, meeting or other touch)."
    ),
    "median_minutes_to_first_activity": (
        "The median, over the leads with activity, of the minutes from the first assignment"
        " to the first activity report (one logged before the handoff counts as 0)."
    ),
    "counting": (
        "Each lead counts at most once per figure, only CRM reports naming the lead's key"
        " count, and a rate is null when its denominator is 0."
    ),
}

# The rates, each as (numerator, denominator terms).
RATES: dict[str, tuple[str, tuple[str, ...]]] = {
    "mql_rate": ("mqls", ("leads",)),
    "acceptance_rate": ("accepted", ("mqls",)),
    "qualification_rate": ("sales_qualified", ("accepted",)),
    "win_rate": ("won", ("won", "lost")),
    "lead_to_won": ("won", ("leads",)),
}
COUNTS = ("leads", "mqls", "accepted", "rejected", "sales_qualified", "won", "lost")
RATE_DIGITS = 4
GROUP_COLUMNS = ("source", "campaign_id", "campaign_name")


def figures(counts: Mapping[str, Any]) -> dict[str, Any]:
    """A group's figures, in the report's order, from the counts the database gave."""
    median = counts["median_minutes_to_first_activity"]
    return {
        **{name: counts[name] for name in COUNTS},
        "top_reject_reasons": list(counts["top_reject_reasons"]),
        "revenue": {currency: float(v) for currency, v in sorted(counts["revenue"].items())},
        **{name: rate(counts, *terms) for name, terms in RATES.items()},
        "leads_with_activity": counts["leads_with_activity"],
        "median_minutes_to_first_activity": round(median, 2) if median is not None else None,
    }


def rate(counts: Mapping[str, Any], numerator: str, denominator: Sequence[str]) -> float | None:
    below = sum(counts[name] for name in denominator)
    return round(counts[numerator] / below, RATE_DIGITS) if below else None


def to_csv(total: Mapping[str, Any], groups: Sequence[Mapping[str, Any]]) -> str:
    """The report as CSV: a row per group, then the total (`scope` says which), with the
    JSON's column names; the top reasons as `top_reject_reason_<n>` and
    `top_reject_reason_<n>_leads`, the revenue as `revenue_<currency>`."""
    rows = [{"scope": "group", **group} for group in groups] + [{"scope": "total", **total}]
    currencies = sorted({currency for row in rows for currency in row["revenue"]})
    reasons = max((len(row["top_reject_reasons"]) for row in rows), default=0)
    header = ["scope", *(c for c in GROUP_COLUMNS if any(c in row for row in rows))]
    header += [*COUNTS, *RATES, "leads_with_activity", "median_minutes_to_first_activity"]
    header += [f"revenue_{currency}" for currency in currencies]
    for n in range(1, reasons + 1):
        header += [f"top_reject_reason_{n}", f"top_reject_reason_{n}_leads"]
    out = io.StringIO()
    writer = csv.DictWriter(out, header, lineterminator="\r\n")
    writer.writeheader()
    for row in rows:
        flat = {name: row.get(name) for name in header if name in row}
        flat.update({f"revenue_{c}": row["revenue"].get(c) for c in currencies})
        for n, reason in enumerate(row["top_reject_reasons"], start=1):
            flat[f"top_reject_reason_{n}"] = reason["reason_code"]
            flat[f"top_reject_reason_{n}_leads"] = reason["leads"]
        writer.writerow({name: _cell(value) for name, value in flat.items()})
    return out.getvalue()


def _cell(value: Any) -> Any:
    """A spreadsheet must not run a cell as a formula (CSV injection): names from a CRM or
    a campaign may start with =, +, - or @."""
    if isinstance(value, str) and value[:1] in ("=", "+", "-", "@", "\t", "\r"):
        return "'" + value
    return value
