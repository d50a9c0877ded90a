"""GET /reports/funnel: the leads handed off in a window, from MQL to won deal, per source
and campaign and overall, held to figures worked out lead by lead from the generated events
(funnel_expected.py). Every set goes through the broker and the real consumer: 10,000 leads
(about 43,000 records) are consumed in about 10 s on the 2-core build machine."""

from __future__ import annotations

import csv
import io
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from feedback_support import prepare, serving
from funnel_expected import campaign_names, expected_funnel
from funnel_loading import loaded
from funnel_seed import FunnelSeed, generate

from baton_feedback.domain.funnel import DEFINITIONS, to_csv

KEYS = {"marketing": "k-mk"}
BEARER = {"Authorization": "Bearer k-mk"}
GROUP_KEYS = ("source", "campaign_id", "campaign_name")


def window(seed: FunnelSeed, **extra: Any) -> dict[str, Any]:
    return {"since": seed.since.isoformat(), "until": seed.until.isoformat(), **extra}


def assert_report_matches(report: dict[str, Any], seed: FunnelSeed, by: tuple[str, ...]) -> None:
    total, groups = expected_funnel(seed, by)
    assert _comparable(report["total"]) == _comparable(total)
    names = campaign_names(seed)
    got = {}
    for group in report["groups"]:
        key = tuple(group["source"] if name == "source" else group["campaign_id"] for name in by)
        got[key] = group
        if "campaign" in by:
            assert group["campaign_name"] == names[group["campaign_id"]]
    assert sorted(got, key=repr) == sorted(groups, key=repr)
    for key, figures in groups.items():
        assert _comparable(got[key]) == _comparable(figures), key


def _comparable(figures: dict[str, Any]) -> dict[str, Any]:
    """The figures without the group's names; the median to the hundredth (the database
    and Python round differently at the last digit)."""
    values = {k: v for k, v in figures.items() if k not in GROUP_KEYS}
    median = values["median_minutes_to_first_activity"]
    values["median_minutes_to_first_activity"] = (
        pytest.approx(median, abs=0.011) if median is not None else None
    )
    values["revenue"] = {c: pytest.approx(v, abs=0.005) for c, v in values["revenue"].items()}
    return values


def small_seed() -> FunnelSeed:
    seed = generate(leads=60, seed=11)
    # The small set must still hold the awkward cases.
    assert any(lead.late_assignments for lead in seed.leads)
    assert any(
        len(lead.reports) > len({r.crm_event_id for r in lead.reports}) for lead in seed.leads
    )
    assert any(r.kind == "deal_closed" for lead in seed.leads for r in lead.reports)
    return seed


async def test_funnel_through_the_consumer(make_settings) -> None:
    settings = await prepare(make_settings, api_keys=KEYS)
    seed = small_seed()
    async with serving(settings) as client:
        await loaded(settings, seed)
        answer = await client.get("/reports/funnel", params=window(seed), headers=BEARER)
        by_source = await client.get(
            "/reports/funnel", params=window(seed, by="source"), headers=BEARER
        )

    assert answer.status_code == 200, answer.text
    report = answer.json()
    assert report["window"] == {"since": seed.since.isoformat(), "until": seed.until.isoformat()}
    assert report["by"] == ["source", "campaign"]
    assert set(report["definitions"]) >= set(report["total"])
    assert report["total"]["leads"] > 0
    assert_report_matches(report, seed, ("source", "campaign"))
    assert_report_matches(by_source.json(), seed, ("source",))
    assert all("campaign_id" not in group for group in by_source.json()["groups"])


async def test_funnel_over_ten_thousand_leads(make_settings) -> None:
    settings = await prepare(make_settings, api_keys=KEYS)
    seed = generate(leads=10_000)
    async with serving(settings) as client:
        started = time.monotonic()
        await loaded(settings, seed)
        seeded_s = time.monotonic() - started
        started = time.monotonic()
        answer = await client.get("/reports/funnel", params=window(seed), headers=BEARER)
        report_s = time.monotonic() - started
        by_campaign = await client.get(
            "/reports/funnel", params=window(seed, by="campaign"), headers=BEARER
        )
    print(f"seeded 10,000 leads in {seeded_s:.1f} s; the report took {report_s:.2f} s")

    assert answer.status_code == 200, answer.text
    report = answer.json()
    assert report["total"]["leads"] > 8000
    assert len(report["groups"]) == 20  # 4 sources x (4 campaigns + none)
    assert_report_matches(report, seed, ("source", "campaign"))
    assert_report_matches(by_campaign.json(), seed, ("campaign",))
    assert report_s < 5


async def test_csv_carries_the_same_figures(make_settings) -> None:
    settings = await prepare(make_settings, api_keys=KEYS)
    seed = small_seed()
    async with serving(settings) as client:
        await loaded(settings, seed)
        report = (await client.get("/reports/funnel", params=window(seed), headers=BEARER)).json()
        by_format = await client.get(
            "/reports/funnel", params=window(seed, format="csv"), headers=BEARER
        )
        by_accept = await client.get(
            "/reports/funnel", params=window(seed), headers={**BEARER, "Accept": "text/csv"}
        )

    assert by_format.status_code == 200, by_format.text
    assert by_format.headers["content-type"].startswith("text/csv")
    assert by_format.headers["content-disposition"] == (
        'attachment; filename="baton-funnel-20250502T000000Z-20250601T000000Z.csv"'
    )
    assert by_accept.text == by_format.text
    rows = list(csv.DictReader(io.StringIO(by_format.text)))
    assert [row["scope"] for row in rows] == ["group"] * len(report["groups"]) + ["total"]
    for row, figures in zip(rows, [*report["groups"], report["total"]], strict=True):
        assert row == _as_csv_row(figures, rows[0].keys())


def _as_csv_row(figures: dict[str, Any], columns: Any) -> dict[str, str]:
    """What the CSV row of these JSON figures must read."""
    expected = {name: "" for name in columns}
    expected["scope"] = "group" if "source" in figures else "total"
    for name, value in figures.items():
        if name == "revenue":
            expected.update({f"revenue_{c}": str(v) for c, v in value.items()})
        elif name == "top_reject_reasons":
            for n, reason in enumerate(value, start=1):
                expected[f"top_reject_reason_{n}"] = reason["reason_code"]
                expected[f"top_reject_reason_{n}_leads"] = str(reason["leads"])
        else:
            expected[name] = "" if value is None else str(value)
    return expected


async def test_the_report_needs_a_key_and_a_sound_window(make_settings) -> None:
    settings = await prepare(make_settings, api_keys=KEYS)
    async with serving(settings) as client:

        async def get(headers: dict[str, str] = BEARER, **params: str) -> Any:
            return await client.get("/reports/funnel", params=params, headers=headers)

        answers = {
            "no key": await get({}),
            "wrong key": await get({"Authorization": "Bearer nope"}),
            "since not a time": await get(since="last tuesday"),
            "until not a time": await get(until="2025-13-01"),
            "since after until": await get(since="2025-06-01", until="2025-05-01"),
            "empty window": await get(since="2025-05-01T00:00:00Z", until="2025-05-01T00:00:00Z"),
            "before 1970": await get(since="1900-01-01T00:00:00Z"),
            "unknown grouping": await get(by="owner"),
            "unknown format": await get(format="xml"),
        }

    statuses = {name: answer.status_code for name, answer in answers.items()}
    assert statuses == {
        "no key": 401,
        "wrong key": 403,
        **{name: 422 for name in list(answers)[2:]},
    }
    named = {
        name: {tuple(problem["loc"]) for problem in answers[name].json()["detail"]}
        for name in list(answers)[2:]
    }
    assert named == {
        "since not a time": {("query", "since")},
        "until not a time": {("query", "until")},
        "since after until": {("query", "since")},
        "empty window": {("query", "since")},
        "before 1970": {("query", "since")},
        "unknown grouping": {("query", "by", 0)},
        "unknown format": {("query", "format")},
    }


async def test_a_window_without_leads_has_zero_counts_and_no_rates(make_settings) -> None:
    settings = await prepare(make_settings, api_keys=KEYS)
    seed = small_seed()
    async with serving(settings) as client:
        await loaded(settings, seed)
        answer = await client.get(
            "/reports/funnel",
            params={"since": "2020-01-01T00:00:00Z", "until": "2020-02-01T00:00:00Z"},
            headers=BEARER,
        )
        default = await client.get("/reports/funnel", headers=BEARER)

    assert answer.status_code == 200, answer.text
    report = answer.json()
    assert report["groups"] == []
    assert report["total"] == {
        "leads": 0,
        "mqls": 0,
        "accepted": 0,
        "rejected": 0,
        "sales_qualified": 0,
        "won": 0,
        "lost": 0,
        "top_reject_reasons": [],
        "revenue": {},
        "mql_rate": None,
        "acceptance_rate": None,
        "qualification_rate": None,
        "win_rate": None,
        "lead_to_won": None,
        "leads_with_activity": 0,
        "median_minutes_to_first_activity": None,
    }
    # The default window is the 30 days up to now.
    assert default.status_code == 200
    since, until = (datetime.fromisoformat(default.json()["window"][n]) for n in ("since", "until"))
    assert until - since == timedelta(days=30)
    assert abs(until - datetime.now(UTC)) < timedelta(minutes=1)


def test_the_readme_gives_the_same_definitions() -> None:
    readme = " ".join((Path(__file__).parents[2] / "README.md").read_text().split())
    missing = [name for name, text in DEFINITIONS.items() if f"`{name}`: {text}" not in readme]
    assert missing == []


def test_csv_cells_never_start_a_formula() -> None:
    empty = {"top_reject_reasons": [], "revenue": {}}
    group = {"source": '=HYPERLINK("http://x")', "campaign_id": "@sum", "leads": 1, **empty}
    total = {"leads": 1, **empty}
    rows = list(csv.DictReader(io.StringIO(to_csv(total, [group]))))
    assert rows[0]["source"] == '\'=HYPERLINK("http://x")'
    assert rows[0]["campaign_id"] == "'@sum"
    assert rows[1]["leads"] == "1"
