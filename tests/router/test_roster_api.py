"""The roster API against the real stack: bearer keys, round trips, field-naming 422s,
pool redefinition that keeps turn-taking state, and the audit trail."""

from __future__ import annotations

import json
from typing import Any

import httpx
from router_support import LEAD
from signing import router  # router_support.router, signing generic webhooks

from baton_runtime.testing import eventually, query

KEYS = {"ops": "k-ops", "sales": "k-sales"}
OPS = {"Authorization": "Bearer k-ops"}
SALES = {"Authorization": "Bearer k-sales"}

POOL_POLICY = """\
version: "roster-test-1"
scoring:
  grades:
    - {grade: A, min_fit: -1000}
  mql: {grades: [A], min_engagement: 1000}
tiers:
  - name: everyone
routing:
  account_ownership: false
  duplicate_window_days: 0
  rules:
    - name: all-inbound
      when: {field: person.email_domain, exists: true}
      pool: inbound
"""

ADA = {
    "name": "Ada Lovelace",
    "email": "ada@baton.test",
    "time_zone": "Europe/Berlin",
    "working_hours": [
        {"weekday": 0, "start": "09:00", "end": "17:30"},
        {"weekday": 4, "start": "22:00", "end": "02:00"},
        {"weekday": 5, "start": "00:00", "end": "24:00"},
    ],
    "out_of_office": [{"start": "2030-08-01T00:00:00+02:00", "end": "2030-08-15T00:00:00+02:00"}],
    "active": True,
    "daily_cap": 20,
    "open_cap": 50,
    "country": "DE",
    "region": "emea",
    "team": "inbound",
}


async def changes(settings: Any) -> list[tuple[Any, ...]]:
    """Audit rows written through the API (startup activates the policy, too)."""
    return await query(
        settings,
        "SELECT actor, action, subject, detail FROM audit_log"
        " WHERE actor <> 'router startup' ORDER BY id",
    )


async def counts(settings: Any) -> dict[str, int]:
    tables = ["reps", "pools", "pool_members", "account_owners", "rep_loads", "policy_versions"]
    result = {}
    for table in tables:
        result[table] = (await query(settings, f"SELECT count(*) FROM {table}"))[0][0]
    return result


def loc(answer: httpx.Response) -> list[list[Any]]:
    assert answer.status_code == 422, answer.text
    return [error["loc"] for error in answer.json()["detail"]]


async def put_rep(client: httpx.AsyncClient, rep_id: str, **fields: Any) -> httpx.Response:
    body = {"name": rep_id.title(), **fields}
    answer = await client.put(f"/roster/reps/{rep_id}", json=body, headers=OPS)
    assert answer.status_code in (200, 201), answer.text
    return answer


async def test_calls_without_a_valid_key_are_refused_and_change_nothing(make_settings) -> None:
    async with router(make_settings, api_keys=KEYS) as (settings, client):
        await put_rep(client, "ada")
        before = await counts(settings)
        audit_before = await changes(settings)
        rep_before = await query(settings, "SELECT * FROM reps")

        calls: list[tuple[str, str, dict[str, Any]]] = [
            ("GET", "/roster/reps", {}),
            ("GET", "/roster/reps/ada", {}),
            ("PUT", "/roster/reps/ada", {"json": {"name": "Mallory"}}),
            ("PUT", "/roster/reps/eve", {"json": {"name": "Eve"}}),
            ("PUT", "/roster/reps/ada", {"json": {"name": 42, "colour": "red"}}),  # also invalid
            ("PUT", "/roster/reps/ada", {"content": b"{not json", "headers": {}}),
            ("DELETE", "/roster/reps/ada", {}),
            ("PUT", "/roster/reps/ada/availability", {"json": {"active": False}}),
            ("PUT", "/roster/reps/ada/capacity", {"json": {"daily_cap": 0, "open_cap": 0}}),
            (
                "POST",
                "/roster/reps/ada/out-of-office",
                {"json": {"start": "2030-01-01T00:00:00Z", "end": "2030-02-01T00:00:00Z"}},
            ),
            ("PUT", "/roster/pools/inbound", {"json": {"strategy": "round_robin", "members": []}}),
            ("GET", "/roster/pools", {}),
            ("PUT", "/roster/accounts/example.com", {"json": {"rep_id": "ada"}}),
            ("GET", "/roster/accounts", {}),
            ("GET", "/policy", {}),
            (
                "PUT",
                "/policy",
                {"content": POOL_POLICY.encode(), "headers": {"content-type": "application/yaml"}},
            ),
            ("POST", "/policy/reload", {}),
            ("GET", "/leads/email:0123", {}),
            ("POST", "/routing/simulate", {"json": {"lead": LEAD}}),
            ("GET", "/audit", {}),
        ]
        answers: list[tuple[str, str, str, httpx.Response]] = []
        for method, path, kwargs in calls:
            extra = dict(kwargs)
            base_headers = extra.pop("headers", {})
            for label, auth in (
                ("missing", {}),
                ("basic", {"Authorization": "Basic b3BzOmstb3Bz"}),
                ("empty", {"Authorization": "Bearer "}),
                ("two words", {"Authorization": "Bearer k-ops extra"}),
                ("wrong", {"Authorization": "Bearer k-ops-but-not-quite"}),
                ("prefix", {"Authorization": "Bearer k-op"}),
            ):
                answer = await client.request(
                    method, path, headers={**base_headers, **auth}, **extra
                )
                answers.append((method, path, label, answer))

        after = await counts(settings)
        audit_after = await changes(settings)
        rep_after = await query(settings, "SELECT * FROM reps")

    for method, path, label, answer in answers:
        where = f"{method} {path} ({label}): {answer.status_code} {answer.text}"
        if label == "wrong" or label == "prefix":
            assert answer.status_code == 403, where
            assert "WWW-Authenticate" not in answer.headers, where
        else:
            assert answer.status_code == 401, where
            assert answer.headers["WWW-Authenticate"].startswith("Bearer"), where
        assert "k-ops" not in answer.text, where
    assert after == before
    assert audit_after == audit_before
    assert rep_after == rep_before


async def test_without_configured_keys_every_admin_call_is_refused(make_settings) -> None:
    async with router(make_settings) as (settings, client):
        answers = [
            await client.get("/roster/reps", headers=OPS),
            await client.put("/roster/reps/ada", json={"name": "Ada"}, headers=OPS),
            await client.put("/roster/reps/ada", json={"name": "Ada"}),
            await client.get("/policy", headers=OPS),
            await client.post("/routing/simulate", json={"lead": LEAD}, headers=OPS),
        ]
        reps = await query(settings, "SELECT count(*) FROM reps")
    for answer in answers:
        assert answer.status_code == 403, answer.text
        assert "no API keys configured" in answer.json()["detail"]
    assert reps == [(0,)]


async def test_rep_round_trip_and_audit_trail(make_settings) -> None:
    async with router(make_settings, api_keys=KEYS) as (settings, client):
        created = await client.put("/roster/reps/ada", json=ADA, headers=OPS)
        fetched = await client.get("/roster/reps/ada", headers=SALES)
        updated = await client.put(
            "/roster/reps/ada", json={**ADA, "team": "enterprise", "email": None}, headers=SALES
        )
        await put_rep(client, "grace")
        listed = await client.get("/roster/reps", headers=OPS)

        away = await client.put(
            "/roster/reps/ada/availability", json={"active": False}, headers=OPS
        )
        capped = await client.put(
            "/roster/reps/ada/capacity", json={"daily_cap": 5, "open_cap": None}, headers=OPS
        )
        holiday = {"start": "2030-12-24T00:00:00+01:00", "end": "2030-12-27T00:00:00+01:00"}
        added = await client.post("/roster/reps/ada/out-of-office", json=holiday, headers=OPS)
        added_again = await client.post("/roster/reps/ada/out-of-office", json=holiday, headers=OPS)
        removed = await client.delete(
            "/roster/reps/ada/out-of-office",
            params={
                "start": "2030-12-23T23:00:00Z",
                "end": "2030-12-26T23:00:00Z",
            },  # same instants
            headers=OPS,
        )
        removed_again = await client.delete(
            "/roster/reps/ada/out-of-office", params=holiday, headers=OPS
        )

        account = await client.put(
            "/roster/accounts/WWW.Example.COM.", json={"rep_id": "ada"}, headers=OPS
        )
        account_get = await client.get("/roster/accounts/example.com", headers=OPS)
        accounts = await client.get("/roster/accounts", params={"rep_id": "ada"}, headers=OPS)
        await client.put(
            "/roster/pools/inbound",
            json={"strategy": "round_robin", "members": [{"rep_id": "ada"}, {"rep_id": "grace"}]},
            headers=OPS,
        )
        with_pools = await client.get("/roster/reps/ada", headers=OPS)

        deleted = await client.delete("/roster/reps/ada", headers=OPS)
        gone = await client.get("/roster/reps/ada", headers=OPS)
        deleted_again = await client.delete("/roster/reps/ada", headers=OPS)
        pool_after = await client.get("/roster/pools/inbound", headers=OPS)
        account_after = await client.get("/roster/accounts/example.com", headers=OPS)

        put_account2 = await client.put(
            "/roster/accounts/acme.io", json={"rep_id": "grace"}, headers=OPS
        )
        deleted_account = await client.delete("/roster/accounts/acme.io", headers=OPS)
        missing_account = await client.delete("/roster/accounts/acme.io", headers=OPS)
        trail = await changes(settings)
        audit_api = await client.get("/audit", params={"limit": 3}, headers=OPS)
        audit_rep = await client.get("/audit", params={"subject": "ada", "limit": 100}, headers=OPS)

    assert created.status_code == 201, created.text
    body = created.json()
    assert {k: body[k] for k in ADA} == {**ADA, "working_hours": ADA["working_hours"]}
    assert body["id"] == "ada"
    assert fetched.status_code == 200
    assert fetched.json()["pools"] == [] and "load" not in fetched.json()
    assert updated.status_code == 200, updated.text
    assert updated.json()["team"] == "enterprise" and updated.json()["email"] is None
    assert [rep["id"] for rep in listed.json()["reps"]] == ["ada", "grace"]

    assert away.status_code == 200 and away.json()["active"] is False
    assert capped.json()["daily_cap"] == 5 and capped.json()["open_cap"] is None
    assert added.status_code == 200, added.text
    assert len(added.json()["out_of_office"]) == 2
    assert added_again.json()["out_of_office"] == added.json()["out_of_office"]  # no duplicate
    assert removed.status_code == 200, removed.text
    assert removed.json()["out_of_office"] == ADA["out_of_office"]
    assert removed_again.status_code == 404

    assert account.status_code == 201, account.text
    assert account.json()["domain"] == "example.com"
    assert account_get.json()["rep_id"] == "ada"
    assert [a["domain"] for a in accounts.json()["accounts"]] == ["example.com"]
    assert with_pools.json()["pools"] == ["inbound"]

    assert deleted.status_code == 200, deleted.text
    assert deleted.json() == {
        "deleted": "ada",
        "removed_from_pools": ["inbound"],
        "released_accounts": ["example.com"],
    }
    assert gone.status_code == 404 and deleted_again.status_code == 404
    assert [m["rep_id"] for m in pool_after.json()["members"]] == ["grace"]
    assert account_after.status_code == 404
    assert put_account2.status_code == 201
    assert deleted_account.status_code == 200 and missing_account.status_code == 404

    actions = [(actor, action, subject) for actor, action, subject, _ in trail]
    assert actions == [
        ("ops", "rep.upsert", "ada"),
        ("sales", "rep.upsert", "ada"),
        ("ops", "rep.upsert", "grace"),
        ("ops", "rep.availability", "ada"),
        ("ops", "rep.capacity", "ada"),
        ("ops", "rep.out_of_office.add", "ada"),
        ("ops", "rep.out_of_office.remove", "ada"),
        ("ops", "account.upsert", "example.com"),
        ("ops", "pool.upsert", "inbound"),
        ("ops", "rep.delete", "ada"),
        ("ops", "account.upsert", "acme.io"),
        ("ops", "account.delete", "acme.io"),
    ]
    first, second = trail[0][3], trail[1][3]
    assert first["before"] is None and first["after"]["team"] == "inbound"
    assert second["before"]["team"] == "inbound" and second["after"]["team"] == "enterprise"
    assert trail[3][3] == {"before": {"active": True}, "after": {"active": False}}

    assert audit_api.status_code == 200
    newest = audit_api.json()["entries"]
    assert [e["action"] for e in newest] == ["account.delete", "account.upsert", "rep.delete"]
    assert all(e["actor"] == "ops" and e["at"] for e in newest)
    assert {e["action"] for e in audit_rep.json()["entries"]} >= {"rep.upsert", "rep.delete"}


async def test_bad_input_is_422_naming_the_field_and_writes_nothing(make_settings) -> None:
    async with router(make_settings, api_keys=KEYS) as (settings, client):
        await put_rep(client, "grace")
        before = await counts(settings)
        audit_before = await changes(settings)

        async def put(path: str, body: Any) -> httpx.Response:
            return await client.put(path, json=body, headers=OPS)

        shift = {"weekday": 0, "start": "09:00", "end": "17:00"}
        rep_cases: list[tuple[Any, list[Any]]] = [
            ({"time_zone": "UTC"}, ["body", "name"]),
            ({"name": "  "}, ["body", "name"]),
            ({"name": "Ada\u0000"}, ["body", "name"]),
            ({"name": "Ada", "time_zone": "Mars/Olympus_Mons"}, ["body", "time_zone"]),
            ({"name": "Ada", "time_zone": "../../etc/passwd"}, ["body", "time_zone"]),
            ({"name": "Ada", "time_zone": "localtime"}, ["body", "time_zone"]),
            (
                {"name": "Ada", "working_hours": [{**shift, "weekday": 7}]},
                ["body", "working_hours", 0, "weekday"],
            ),
            (
                {"name": "Ada", "working_hours": [shift, {**shift, "start": "25:00"}]},
                ["body", "working_hours", 1, "start"],
            ),
            (
                {"name": "Ada", "working_hours": [{**shift, "end": "9am"}]},
                ["body", "working_hours", 0, "end"],
            ),
            (
                {"name": "Ada", "working_hours": [{**shift, "weekday": True}]},
                ["body", "working_hours", 0, "weekday"],
            ),
            (
                {
                    "name": "Ada",
                    "out_of_office": [
                        {"start": "2030-01-01T00:00:00", "end": "2030-01-02T00:00:00Z"}
                    ],
                },
                ["body", "out_of_office", 0, "start"],
            ),
            (
                {
                    "name": "Ada",
                    "out_of_office": [
                        {"start": "2030-01-02T00:00:00Z", "end": "2030-01-01T00:00:00Z"}
                    ],
                },
                ["body", "out_of_office", 0, "end"],
            ),
            ({"name": "Ada", "daily_cap": -1}, ["body", "daily_cap"]),
            ({"name": "Ada", "daily_cap": 10**12}, ["body", "daily_cap"]),
            ({"name": "Ada", "open_cap": "5"}, ["body", "open_cap"]),
            ({"name": "Ada", "open_cap": 2.5}, ["body", "open_cap"]),
            ({"name": "Ada", "active": "yes"}, ["body", "active"]),
            ({"name": "Ada", "email": "not an address"}, ["body", "email"]),
            ({"name": "Ada", "colour": "red"}, ["body", "colour"]),
            ({"name": "Ada", "id": "other"}, ["body", "id"]),
        ]
        rep_answers = [(await put("/roster/reps/ada", body), where) for body, where in rep_cases]
        surrogate = await client.put(
            "/roster/reps/ada",
            content=b'{"name": "Ada\\ud800"}',
            headers={**OPS, "content-type": "application/json"},
        )
        not_object = await put("/roster/reps/ada", ["Ada"])
        bad_id = await put("/roster/reps/bad%20id!", {"name": "Ada"})
        long_id = await put("/roster/reps/" + "a" * 201, {"name": "Ada"})
        not_json = await client.put(
            "/roster/reps/ada",
            content=b'{"name": "Ada",',
            headers={**OPS, "content-type": "application/json"},
        )
        deep = await client.put(
            "/roster/reps/ada",
            content=b"[" * 100_000 + b"]" * 100_000,
            headers={**OPS, "content-type": "application/json"},
        )
        too_big = await client.put(
            "/roster/reps/ada",
            content=b'{"name": "' + b"x" * (3 * 1024 * 1024) + b'"}',
            headers={**OPS, "content-type": "application/json"},
        )
        availability = await put("/roster/reps/grace/availability", {"active": 1})
        capacity = await put("/roster/reps/grace/capacity", {"daily_cap": 3})
        unknown_rep = await put("/roster/reps/nobody/availability", {"active": False})
        ooo = await client.post(
            "/roster/reps/grace/out-of-office",
            json={"start": "2030-01-01T00:00:00Z", "end": "2030-01-01T00:00:00Z"},
            headers=OPS,
        )
        ooo_delete = await client.delete(
            "/roster/reps/grace/out-of-office", params={"start": "yesterday"}, headers=OPS
        )

        pool_cases: list[tuple[Any, list[list[Any]]]] = [
            ({"strategy": "random", "members": []}, [["body", "strategy"]]),
            ({"members": []}, [["body", "strategy"]]),
            (
                {"strategy": "round_robin", "members": [{"rep_id": "grace"}, {"rep_id": "nobody"}]},
                [["body", "members", 1, "rep_id"]],
            ),
            (
                {"strategy": "round_robin", "members": [{"rep_id": "grace"}, {"rep_id": "grace"}]},
                [["body", "members", 1, "rep_id"]],
            ),
            (
                {"strategy": "least_open", "members": [{"rep_id": "grace", "weight": 0}]},
                [["body", "members", 0, "weight"]],
            ),
            (
                {"strategy": "least_open", "members": [{"rep_id": "grace", "weight": -2}]},
                [["body", "members", 0, "weight"]],
            ),
            (
                {"strategy": "least_open", "members": [{"rep_id": "grace", "weight": "1"}]},
                [["body", "members", 0, "weight"]],
            ),
            (
                {"strategy": "least_open", "members": [{"rep_id": "grace", "extra": 1}]},
                [["body", "members", 0, "extra"]],
            ),
            (
                {"strategy": "least_open", "respect_working_hours": "no"},
                [["body", "respect_working_hours"]],
            ),
        ]
        pool_answers = [
            (await put("/roster/pools/inbound", body), where) for body, where in pool_cases
        ]
        infinite = await client.put(
            "/roster/pools/inbound",
            content=b'{"strategy": "least_open", "members": [{"rep_id": "grace", "weight": Infinity}]}',
            headers={**OPS, "content-type": "application/json"},
        )
        bad_pool_name = await put("/roster/pools/in%00bound", {"strategy": "round_robin"})
        missing_pool = await client.get("/roster/pools/nothing", headers=OPS)
        bad_days = await client.get("/roster/pools/nothing", params={"days": 0}, headers=OPS)

        account_unknown_rep = await put("/roster/accounts/example.com", {"rep_id": "nobody"})
        account_bad_domain = await put("/roster/accounts/not a domain", {"rep_id": "grace"})
        account_nul = await put("/roster/accounts/exa%00mple.com", {"rep_id": "grace"})
        audit_limit = await client.get("/audit", params={"limit": 0}, headers=OPS)
        audit_huge = await client.get("/audit", params={"limit": 10**6}, headers=OPS)

        after = await counts(settings)
        audit_after = await changes(settings)

    for answer, where in rep_answers:
        assert where in loc(answer), (where, answer.text)
    assert ["body", "name"] in loc(surrogate)
    assert loc(not_object) == [["body"]]
    assert ["path", "rep_id"] in loc(bad_id)
    assert ["path", "rep_id"] in loc(long_id)
    assert not_json.status_code == 422, not_json.text
    assert 400 <= deep.status_code < 500, deep.text
    assert too_big.status_code == 413, too_big.status_code
    assert ["body", "active"] in loc(availability)
    assert ["body", "open_cap"] in loc(capacity)
    assert unknown_rep.status_code == 404
    assert ["body", "end"] in loc(ooo)
    assert {tuple(x) for x in loc(ooo_delete)} >= {("query", "start"), ("query", "end")}
    for answer, wheres in pool_answers:
        assert loc(answer) == wheres, answer.text
    assert "unknown rep 'nobody'" in pool_answers[2][0].text
    assert ["body", "members", 0, "weight"] in loc(infinite)
    assert ["path", "name"] in loc(bad_pool_name)
    assert missing_pool.status_code == 404
    assert ["query", "days"] in loc(bad_days)
    assert ["body", "rep_id"] in loc(account_unknown_rep)
    assert ["path", "domain"] in loc(account_bad_domain)
    assert ["path", "domain"] in loc(account_nul)
    assert ["query", "limit"] in loc(audit_limit)
    assert ["query", "limit"] in loc(audit_huge)
    assert after == before
    assert audit_after == audit_before


async def test_redefining_a_pool_keeps_the_pointers_of_members_who_stay(make_settings) -> None:
    async with router(make_settings, api_keys=KEYS) as (settings, client):
        for rep_id in ("ada", "bob", "cy"):
            await put_rep(client, rep_id)
        created = await client.put(
            "/roster/pools/inbound",
            json={
                "strategy": "weighted_round_robin",
                "members": [{"rep_id": "ada"}, {"rep_id": "bob"}],
            },
            headers=OPS,
        )
        policy = await client.put(
            "/policy", content=POOL_POLICY, headers={**OPS, "content-type": "application/yaml"}
        )
        assert policy.status_code == 200, policy.text

        async def route(n: int, first: int) -> None:
            for i in range(first, first + n):
                lead = {**LEAD, "person": {**LEAD["person"], "email": f"lead{i}@example.com"}}
                answer = await client.post("/webhooks/generic", json=lead)
                assert answer.status_code == 202, answer.text
                # One at a time, so the order of assignments is the order posted.
                await eventually(
                    lambda: query(settings, "SELECT count(*) FROM assignments"),
                    lambda rows, i=i: rows[0][0] >= i + 1,
                )

        await route(3, 0)
        before = (await client.get("/roster/pools/inbound", headers=OPS)).json()

        redefined = await client.put(
            "/roster/pools/inbound",
            json={
                "strategy": "weighted_round_robin",
                "members": [{"rep_id": "cy"}, {"rep_id": "ada", "weight": 2}],
            },
            headers=OPS,
        )
        after = (await client.get("/roster/pools/inbound", headers=OPS)).json()
        await route(2, 3)
        owners = await query(settings, "SELECT owner_id FROM assignments ORDER BY assigned_at")
        final = (await client.get("/roster/pools/inbound", headers=OPS)).json()
        listed = (await client.get("/roster/pools", headers=OPS)).json()
        trail = await changes(settings)

    assert created.status_code == 201, created.text
    assert [o for (o,) in owners] == ["ada", "bob", "ada", "cy", "ada"]

    members = {m["rep_id"]: m for m in before["members"]}
    assert members["ada"]["pointer"] == 2.0 and members["bob"]["pointer"] == 1.0
    share = {line["rep_id"]: line for line in before["share"]["members"]}
    assert before["share"]["total"] == 3 and before["share"]["window_days"] == 30
    assert share["ada"]["assigned"] == 2 and share["bob"]["assigned"] == 1
    assert share["ada"]["target"] == 0.5
    assert share["ada"]["deviation"] == round(2 / 3 - 0.5, 4)

    assert redefined.status_code == 200, redefined.text
    assert [m["rep_id"] for m in after["members"]] == ["cy", "ada"]
    members = {m["rep_id"]: m for m in after["members"]}
    assert members["ada"]["pointer"] == 2.0 and members["ada"]["weight"] == 2.0
    assert members["cy"]["pointer"] == 2.0  # joins at the pool's lowest pointer, not at zero
    assert members["cy"]["away"] is True
    assert after["share"]["others"] == {"bob": 1}

    members = {m["rep_id"]: m for m in final["members"]}
    assert members["cy"]["pointer"] == 3.0 and members["ada"]["pointer"] == 2.5
    assert [p["name"] for p in listed["pools"]] == ["inbound"]

    pool_changes = [detail for _, action, _, detail in trail if action == "pool.upsert"]
    assert pool_changes[0]["before"] is None
    assert pool_changes[1]["before"]["members"] == [
        {"rep_id": "ada", "weight": 1.0},
        {"rep_id": "bob", "weight": 1.0},
    ]
    assert pool_changes[1]["after"]["members"] == [
        {"rep_id": "cy", "weight": 1.0},
        {"rep_id": "ada", "weight": 2.0},
    ]
    assert json.dumps(pool_changes)  # plain JSON in the audit log


async def test_deleting_a_pool_and_round_robin_cursor(make_settings) -> None:
    async with router(make_settings, api_keys=KEYS) as (settings, client):
        for rep_id in ("ada", "bob", "cy"):
            await put_rep(client, rep_id)
        members = [{"rep_id": r} for r in ("ada", "bob", "cy")]
        await client.put(
            "/roster/pools/rr", json={"strategy": "round_robin", "members": members}, headers=OPS
        )
        # Reordering keeps whose turn it is: the cursor follows the member.
        reordered = await client.put(
            "/roster/pools/rr",
            json={"strategy": "round_robin", "members": list(reversed(members))},
            headers=OPS,
        )
        deleted = await client.delete("/roster/pools/rr", headers=OPS)
        again = await client.delete("/roster/pools/rr", headers=OPS)
        rows = await query(settings, "SELECT count(*) FROM pool_members")
        reps = await query(settings, "SELECT count(*) FROM reps")

    assert reordered.status_code == 200, reordered.text
    assert [m["rep_id"] for m in reordered.json()["members"]] == ["cy", "bob", "ada"]
    assert reordered.json()["rr_cursor"] == 2  # ada was next, and still is
    assert deleted.status_code == 200 and again.status_code == 404
    assert rows == [(0,)] and reps == [(3,)]
