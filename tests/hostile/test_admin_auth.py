"""Every route of every service that requires an API key (read from the app's own OpenAPI
document: the operations that declare the bearer scheme), called without a key, with a
malformed `Authorization` header and with a wrong key: 401 (no or malformed credentials,
with a `WWW-Authenticate: Bearer` challenge) or 403 (a well-formed key that is not
accepted), and nothing changed: every table of the service's schema (outbox included) holds
the same rows, and nothing reached the broker. The same requests with the right key are
then not refused, so the refusals were the key's doing and not the request's. (The
services run without their consumers: only the HTTP doors are under test.)

There are no scopes: a key the service accepts may call every route of that service.
"""

from __future__ import annotations

import base64
from typing import Any

import pytest
from hostile_support import ADMIN_KEY, AUTH, WRONG_KEY, serving_service, snapshot, topic_records
from router_support import LEAD, TEST_POLICY, seed_roster

from baton_router.domain.routing.roster import Pool, PoolMember, Rep

REP = "auth-rep"
POOL = "auth-pool"
DOMAIN = "auth-example.com"

PATH_VALUES = {
    "rep_id": REP,
    "name": POOL,
    "domain": DOMAIN,
    "lead_key": "email:auth-lead",
}
QUERY_VALUES = {"start": "2030-01-01T00:00:00+00:00", "end": "2030-01-02T00:00:00+00:00"}
JSON = "application/json"
FEEDBACK_EVENT = {
    "crm_event_id": "auth-call-1",
    "lead_key": "email:auth-lead",
    "kind": "activity",
    "occurred_at": "2030-01-01T10:00:00Z",
    "activity": {"type": "call", "direction": "outbound"},
}
# A body each route would take from a caller with the key: the refusal is the key's alone.
BODIES: dict[tuple[str, str], tuple[str, Any]] = {
    ("PUT", "/roster/reps/{rep_id}"): (JSON, {"name": "Mallory"}),
    ("PUT", "/roster/reps/{rep_id}/availability"): (JSON, {"active": False}),
    ("PUT", "/roster/reps/{rep_id}/capacity"): (JSON, {"daily_cap": 1, "open_cap": 1}),
    ("POST", "/roster/reps/{rep_id}/out-of-office"): (
        JSON,
        {"start": QUERY_VALUES["start"], "end": QUERY_VALUES["end"]},
    ),
    ("PUT", "/roster/pools/{name}"): (
        JSON,
        {"strategy": "round_robin", "members": [{"rep_id": REP}]},
    ),
    ("PUT", "/roster/accounts/{domain}"): (JSON, {"rep_id": REP}),
    ("PUT", "/policy"): ("application/yaml", TEST_POLICY),
    ("POST", "/routing/simulate"): (JSON, {"lead": LEAD}),
    ("POST", "/feedback"): (JSON, FEEDBACK_EVENT),
}
ORDER = {"get": 0, "put": 1, "post": 2, "patch": 3, "delete": 4}


def keyed_operations(app: Any) -> list[tuple[str, str, dict[str, Any]]]:
    """(method, path template, operation) of every operation that declares the bearer key,
    deletions last (they remove what the others name)."""
    found = [
        (method, path, operation)
        for path, item in app.openapi()["paths"].items()
        for method, operation in item.items()
        if any("HTTPBearer" in requirement for requirement in operation.get("security", []))
    ]
    return sorted(found, key=lambda entry: (ORDER[entry[0]], entry[1]))


def request_for(method: str, path: str, operation: dict[str, Any]) -> dict[str, Any]:
    """httpx keyword arguments for a request the route would accept."""
    url = path
    query = {}
    for parameter in operation.get("parameters", []):
        name = parameter["name"]
        if parameter["in"] == "path":
            url = url.replace(f"{{{name}}}", PATH_VALUES[name])
        elif parameter["in"] == "query" and parameter.get("required"):
            query[name] = QUERY_VALUES[name]
    arguments: dict[str, Any] = {"method": method.upper(), "url": url, "params": query}
    if "requestBody" in operation:
        media, body = BODIES[(method.upper(), path)]
        if media == JSON:
            arguments["json"] = body
        else:
            arguments["content"] = body.encode()
            arguments["headers"] = {"content-type": media}
    return arguments


def with_headers(arguments: dict[str, Any], headers: dict[str, str]) -> dict[str, Any]:
    return {**arguments, "headers": {**arguments.get("headers", {}), **headers}}


UNAUTHORISED: list[tuple[str, dict[str, str], int]] = [
    ("no Authorization header", {}, 401),
    ("another scheme", {"Authorization": "Basic " + base64.b64encode(b"ops:x").decode()}, 401),
    ("a bearer without a token", {"Authorization": "Bearer"}, 401),
    ("a token with a space in it", {"Authorization": f"Bearer {ADMIN_KEY} x"}, 401),
    ("the key without a scheme", {"Authorization": ADMIN_KEY}, 401),
    ("a wrong key", {"Authorization": f"Bearer {WRONG_KEY}"}, 403),
    ("the key with a character more", {"Authorization": f"Bearer {ADMIN_KEY}0"}, 403),
    ("the key with a character less", {"Authorization": f"Bearer {ADMIN_KEY[:-1]}"}, 403),
    ("the key in another case", {"Authorization": f"Bearer {ADMIN_KEY.upper()}"}, 403),
]


async def _seed(name: str, settings: Any) -> None:
    if name == "router":
        await seed_roster(
            settings,
            [Rep(id=REP, name="Auth Rep")],
            [Pool(name=POOL, strategy="round_robin", members=(PoolMember(REP),))],
            {DOMAIN: REP},
        )


def _topics(name: str, settings: Any) -> list[str]:
    """The topics a keyed route publishes to straight away. What the others emit goes
    through the outbox table, which the snapshot holds."""
    return [settings.topics.crm_activity] if name == "feedback" else []


@pytest.mark.parametrize("name", ["router", "sla-monitor", "feedback"])
async def test_no_or_wrong_key_is_refused_and_changes_nothing(
    make_settings: Any, name: str
) -> None:
    async with serving_service(make_settings, name, consumers_enabled=False) as (
        settings,
        app,
        client,
    ):
        await _seed(name, settings)
        operations = keyed_operations(app)
        assert operations, f"{name}: no route declares the API key"
        before = await snapshot(settings)
        published = {
            topic: await topic_records(settings, topic) for topic in _topics(name, settings)
        }

        refusals = []
        for method, path, operation in operations:
            arguments = request_for(method, path, operation)
            for what, headers, expected in UNAUTHORISED:
                answer = await client.request(**with_headers(arguments, headers))
                problem = None
                if answer.status_code != expected:
                    problem = f"{answer.status_code} {answer.text[:200]}"
                elif "detail" not in answer.json():
                    problem = f"no reason given: {answer.text[:200]}"
                elif expected == 401 and not answer.headers.get("www-authenticate", "").startswith(
                    "Bearer"
                ):
                    problem = "401 without a Bearer challenge"
                if problem:
                    refusals.append(f"{method.upper()} {path} with {what}: {problem}")
        assert not refusals, "\n".join(refusals)

        assert await snapshot(settings) == before, "a refused request changed the database"
        after = {topic: await topic_records(settings, topic) for topic in _topics(name, settings)}
        assert after == published, "a refused request published something"

        # The same requests with the key get through: only the key made the difference.
        answers = {}
        for method, path, operation in operations:
            answer = await client.request(
                **with_headers(request_for(method, path, operation), AUTH)
            )
            answers[f"{method.upper()} {path}"] = answer.status_code
        assert not [k for k, status in answers.items() if status in (401, 403) or status >= 500], (
            answers
        )
        if any(method != "get" for method, _, _ in operations):
            changed = await snapshot(settings) != before
            published_now = {
                topic: await topic_records(settings, topic) for topic in _topics(name, settings)
            }
            assert changed or published_now != published, f"{name}: keyed requests did nothing"


@pytest.mark.parametrize("name", ["router", "sla-monitor", "feedback"])
async def test_no_keys_configured_refuses_every_admin_call(make_settings: Any, name: str) -> None:
    async with serving_service(make_settings, name, api_keys={}, consumers_enabled=False) as (
        settings,
        app,
        client,
    ):
        before = await snapshot(settings)
        statuses = {}
        for method, path, operation in keyed_operations(app):
            answer = await client.request(
                **with_headers(request_for(method, path, operation), AUTH)
            )
            statuses[f"{method.upper()} {path}"] = answer.status_code
            assert "API_KEYS" in answer.json()["detail"], answer.text
        assert set(statuses.values()) == {403}, statuses
        assert await snapshot(settings) == before
