"""Bodies no client should send, at every door that takes one: each webhook source of the
router, the feedback service's `POST /feedback` (with a key and signed), and the admin
routes that take a body. The doors are read from the apps' own OpenAPI documents.

Too big (declared, or streamed without a length) is a 413 naming the limit, as JSON, and
the body is never read past the limit: memory stays bounded however much is sent. Nested
too deep, not UTF-8, or holding what cannot be stored (a NUL character) is a 400 naming
what is wrong; a batch with more events than one delivery may carry is a 413 before any
of it is normalised or published. Nothing refused reaches the broker or the database.

`tests/router/test_webhooks.py` has the generic webhook's cases; these take every door.
"""

from __future__ import annotations

import json
import time
import tracemalloc
from collections.abc import AsyncIterator
from typing import Any

import httpx
import pytest
from hostile_support import (
    AUTH,
    FEEDBACK_SECRET,
    serving_service,
    signed_headers,
    snapshot,
    topic_records,
)
from signing import is_utf8, standard_webhook_headers

from baton_router.api.webhooks import MAX_EVENTS
from baton_runtime.api_auth import MAX_ADMIN_BODY_BYTES
from baton_runtime.http_body import MAX_DEPTH

LIMIT = 64 * 1024
"""The webhook and feedback body limit these tests configure (the defaults are 256 KiB
and 1 MiB): small, so going over it is cheap."""
BASE = "http://baton.test"
JSON = {"content-type": "application/json"}


def outside_doors(app: Any) -> list[str]:
    """Paths of the POST operations that take a body from outside: no API key required,
    or a signature as the alternative to one."""
    doors = []
    for path, item in app.openapi()["paths"].items():
        operation = item.get("post", {})
        security = operation.get("security", [])
        bearer_only = bool(security) and all("HTTPBearer" in entry for entry in security)
        if "requestBody" in operation and not bearer_only:
            doors.append(path)
    return sorted(doors)


def admin_body_routes(app: Any) -> list[tuple[str, str, str]]:
    """(method, path, media type) of every keyed operation that takes a body, its path
    parameters filled in."""
    routes = []
    for path, item in app.openapi()["paths"].items():
        for method, operation in item.items():
            security = operation.get("security", [])
            if "requestBody" not in operation or not security:
                continue
            if not all("HTTPBearer" in entry for entry in security):
                continue
            media = next(iter(operation["requestBody"]["content"]))
            filled = path
            for parameter in operation.get("parameters", []):
                if parameter["in"] == "path":
                    filled = filled.replace(f"{{{parameter['name']}}}", "hostile")
            routes.append((method.upper(), filled, media))
    return sorted(routes)


def credentials(path: str, body: bytes) -> list[tuple[str, dict[str, str]]]:
    """The ways a legitimate client sends `body` to `path`: a webhook signed as its
    platform signs; feedback with its key, and signed with its client's secret."""
    if path == "/feedback":
        signed = standard_webhook_headers(body, FEEDBACK_SECRET) if is_utf8(body) else {}
        return [("key", dict(AUTH)), ("signature", signed)]
    return [("signature", signed_headers("POST", BASE + path, body))]


class Stream:
    """A body sent in chunks without a length, counting what the server pulled. Every
    chunk is a new object, so a server that kept them would hold them all."""

    def __init__(self, total: int, chunk: int = 16 * 1024) -> None:
        self.total = total
        self.chunk = chunk
        self.pulled = 0

    async def __aiter__(self) -> AsyncIterator[bytes]:
        while self.pulled < self.total:
            size = min(self.chunk, self.total - self.pulled)
            self.pulled += size
            yield b" " * size


def published_topic(name: str, settings: Any) -> str:
    return settings.topics.crm_activity if name == "feedback" else settings.topics.leads_captured


def assert_refused(answer: httpx.Response, status: int, *words: str) -> None:
    assert answer.status_code == status, answer.text[:300]
    assert answer.headers["content-type"].startswith("application/json"), answer.headers
    detail = str(answer.json()["detail"])
    for word in words:
        assert word in detail, detail


# Too big -------------------------------------------------------------------------------------


@pytest.mark.parametrize("name", ["router", "feedback"])
async def test_a_body_over_the_limit_is_413_declared_or_streamed(
    make_settings: Any, name: str
) -> None:
    async with serving_service(
        make_settings, name, max_body_bytes=LIMIT, consumers_enabled=False
    ) as (settings, app, client):
        doors = outside_doors(app)
        assert doors
        before = await snapshot(settings)
        for path in doors:
            over = b" " * (LIMIT + 1)
            at_limit = b"{}" + b" " * (LIMIT - 2)  # read whole: no lead in it
            for how, headers in credentials(path, over):
                declared = await client.post(path, content=over, headers={**JSON, **headers})
                assert_refused(declared, 413, str(LIMIT))

                stream = Stream(4 * LIMIT)
                request = client.build_request(
                    "POST", path, content=stream, headers={**JSON, **headers}
                )
                assert "content-length" not in request.headers
                streamed = await client.send(request)
                assert_refused(streamed, 413, str(LIMIT))
                assert stream.pulled <= LIMIT + stream.chunk, (path, how, stream.pulled)

            if path == "/feedback":
                # Regression: the body was read (up to the limit) before the key was checked.
                stream = Stream(4 * LIMIT)
                anonymous = await client.post(path, content=stream, headers=JSON)
                assert_refused(anonymous, 401, "Authorization")
                assert stream.pulled == 0, "the body was read before the key was checked"

            for how, headers in credentials(path, at_limit):
                answer = await client.post(path, content=at_limit, headers={**JSON, **headers})
                # 422, or (Mautic: event types that are not leads are skipped) no leads
                accepted = answer.status_code == 202 and answer.json()["event_ids"] == []
                assert answer.status_code == 422 or accepted, (path, how, answer.text[:300])

        assert await topic_records(settings, published_topic(name, settings)) == 0
        assert await snapshot(settings) == before


async def test_an_admin_body_over_the_limit_is_413_as_json_once_the_key_is_checked(
    make_settings: Any,
) -> None:
    """Regression: FastAPI's own limit answered a declared length over 2 MiB with a
    plain-text 413 before the key was checked (an unauthenticated caller learnt about the
    body, not about its missing key); now the key comes first, and the 413 names the limit
    in JSON like every other answer."""
    limit = MAX_ADMIN_BODY_BYTES
    async with serving_service(make_settings, "router", consumers_enabled=False) as (
        settings,
        app,
        client,
    ):
        routes = admin_body_routes(app)
        assert len(routes) >= 5, routes
        before = await snapshot(settings)
        for method, path, media in routes:
            headers = {"content-type": media}
            over = b" " * (limit + 1)
            keyed = await client.request(method, path, content=over, headers={**headers, **AUTH})
            assert_refused(keyed, 413, str(limit))
            stream = Stream(2 * limit, chunk=256 * 1024)
            streamed = await client.request(
                method, path, content=stream, headers={**headers, **AUTH}
            )
            assert_refused(streamed, 413, str(limit))
            assert stream.pulled <= limit + stream.chunk

            unkeyed = await client.request(method, path, content=over, headers=headers)
            assert_refused(unkeyed, 401, "Authorization")
            stream = Stream(2 * limit, chunk=256 * 1024)
            unkeyed_streamed = await client.request(method, path, content=stream, headers=headers)
            assert_refused(unkeyed_streamed, 401, "Authorization")
            assert stream.pulled == 0, "the body was read before the key was checked"
        assert await snapshot(settings) == before


async def test_memory_stays_bounded_for_a_body_far_over_the_limit(make_settings: Any) -> None:
    """64 MiB streamed at each door (1,024 times the webhook limit, 32 times the admin one):
    the server stops reading at the limit, so the process never holds more than a few
    chunks of it (Python's allocations traced around each request)."""
    total = 64 * 1024 * 1024
    async with (
        serving_service(make_settings, "router", max_body_bytes=LIMIT, consumers_enabled=False) as (
            _,
            router_app,
            router,
        ),
        serving_service(
            make_settings, "feedback", max_body_bytes=LIMIT, consumers_enabled=False
        ) as (_, _, feedback),
    ):
        cases: list[tuple[httpx.AsyncClient, str, str, dict[str, str], int]] = [
            (router, "POST", path, signed_headers("POST", BASE + path, b""), LIMIT)
            for path in outside_doors(router_app)
        ]
        cases.append((feedback, "POST", "/feedback", dict(AUTH), LIMIT))
        cases.append(
            (router, "PUT", "/policy", {**AUTH, "content-type": "text/plain"}, MAX_ADMIN_BODY_BYTES)
        )
        cases.append((router, "POST", "/routing/simulate", dict(AUTH), MAX_ADMIN_BODY_BYTES))
        peaks = {}
        for client, method, path, headers, limit in cases:
            stream = Stream(total, chunk=64 * 1024)
            tracemalloc.start()
            try:
                answer = await client.request(
                    method, path, content=stream, headers={**JSON, **headers}
                )
                _, peak = tracemalloc.get_traced_memory()
            finally:
                tracemalloc.stop()
            assert_refused(answer, 413, str(limit))
            assert stream.pulled <= limit + stream.chunk, (path, stream.pulled)
            peaks[path] = peak
            # Far below the 64 MiB sent: a few times what the limit lets in, at most.
            assert peak < 4 * limit + 1024 * 1024, (path, peak)
        print("\ntraced peak per request (bytes):", peaks)


# Nesting, encoding, what cannot be stored --------------------------------------------------


def nested(depth: int) -> bytes:
    return b'{"person": {"email": "ada@example.com"}, "custom": {"x": ' + (
        b"[" * depth + b"]" * depth + b"}}"
    )


@pytest.mark.parametrize("name", ["router", "feedback"])
async def test_deeply_nested_json_is_400_naming_the_nesting(make_settings: Any, name: str) -> None:
    async with serving_service(
        make_settings, name, max_body_bytes=LIMIT, consumers_enabled=False
    ) as (settings, app, client):
        for path in outside_doors(app):
            # Just over the limit the doors set, and deep enough to exhaust the parser's
            # recursion: both are a 400 that says so.
            for depth in (MAX_DEPTH, 30_000):
                body = nested(depth)
                assert len(body) <= LIMIT
                for how, headers in credentials(path, body):
                    answer = await client.post(path, content=body, headers={**JSON, **headers})
                    assert_refused(answer, 400, "nested")
                    del how
        assert await topic_records(settings, published_topic(name, settings)) == 0


async def test_admin_bodies_too_deep_or_not_utf8_are_400_with_the_reason(
    make_settings: Any,
) -> None:
    """Regression: FastAPI answered these with a bare "There was an error parsing the
    body"; the answer now says what was wrong."""
    async with serving_service(make_settings, "router", consumers_enabled=False) as (
        settings,
        app,
        client,
    ):
        before = await snapshot(settings)
        for method, path, media in admin_body_routes(app):
            headers = {**AUTH, "content-type": media}
            if media == "application/json":
                deep = await client.request(method, path, content=nested(30_000), headers=headers)
                assert_refused(deep, 400, "nested")
            broken = await client.request(method, path, content=b'{"a": "\xff"}', headers=headers)
            assert_refused(broken, 400, "UTF-8", "byte 7")
        assert await snapshot(settings) == before


BROKEN_UTF8 = {
    "an invalid start byte": b'{"a": "\xff"}',
    "an overlong encoding": b'{"a": "\xc0\xaf"}',
    "an encoded surrogate": b'{"a": "\xed\xa0\x80"}',
    "a truncated sequence": b'{"a": "\xe2\x82"}',
    "latin-1 text": '{"person": {"email": "zoë@example.com"}}'.encode("latin-1"),
}


@pytest.mark.parametrize("name", ["router", "feedback"])
async def test_a_body_that_is_not_utf8_is_400_naming_the_byte(
    make_settings: Any, name: str
) -> None:
    """Before any signature check too: a signature over bytes that are not text says
    nothing a client can act on (feedback answered 401 to a signed one)."""
    async with serving_service(
        make_settings, name, max_body_bytes=LIMIT, consumers_enabled=False
    ) as (settings, app, client):
        for path in outside_doors(app):
            for what, body in BROKEN_UTF8.items():
                attempts = credentials(path, body)
                if path == "/feedback":  # no one can sign it: a signature of the right shape
                    forged = standard_webhook_headers(b"{}", FEEDBACK_SECRET)
                    attempts = [("key", dict(AUTH)), ("signature", forged)]
                for how, headers in attempts:
                    answer = await client.post(path, content=body, headers={**JSON, **headers})
                    assert answer.status_code == 400, (path, what, how, answer.text[:200])
                    detail = answer.json()["detail"]
                    assert "not UTF-8" in detail and "at byte" in detail, detail
        assert await topic_records(settings, published_topic(name, settings)) == 0


async def test_a_nul_character_is_refused_at_the_door(make_settings: Any) -> None:
    """Regression: a lead holding "\\u0000" anywhere was accepted (202), then the router's
    consumer could not store it (PostgreSQL takes no NUL in text or JSON) and dead-lettered
    it: the sender was told the lead arrived, and it was never routed."""
    async with (
        serving_service(make_settings, "router", max_body_bytes=LIMIT) as (
            router_settings,
            _,
            router,
        ),
        serving_service(make_settings, "feedback", consumers_enabled=False) as (
            feedback_settings,
            _,
            feedback,
        ),
    ):
        lead = b'{"person": {"email": "nul@example.com"}, "custom": {"note": "a\\u0000b"}}'
        for source in ("generic", "hubspot", "marketo", "mautic"):
            body = {
                "generic": lead,
                "marketo": b'{"email": "nul@example.com", "company": "A\\u0000"}',
                "hubspot": (
                    b'[{"eventId": 1, "subscriptionType": "contact.propertyChange", '
                    b'"objectId": 7, "portalId": 1, "occurredAt": 1700000000000, '
                    b'"propertyName": "email", "propertyValue": "nul\\u0000@example.com"}]'
                ),
                "mautic": (
                    b'{"mautic.lead_post_save_new": [{"contact": {"fields": {"core": '
                    b'{"email": {"value": "nul@example.com"}, "company": {"value": "\\u0000"}}}}, '
                    b'"timestamp": "2025-06-02T09:30:00+00:00"}]}'
                ),
            }[source]
            path = f"/webhooks/{source}"
            headers = {**JSON, **signed_headers("POST", BASE + path, body)}
            answer = await router.post(path, content=body, headers=headers)
            assert_refused(answer, 400, "NUL", "$")

        form = b"email=nul%40example.com&company=A%00B"
        path = "/webhooks/marketo"
        headers = {
            "content-type": "application/x-www-form-urlencoded",
            **signed_headers("POST", BASE + path, form),
        }
        assert_refused(await router.post(path, content=form, headers=headers), 400, "company")

        event = {
            "crm_event_id": "call\u00001",
            "lead_key": "email:x",
            "kind": "activity",
            "occurred_at": "2025-06-02T09:30:00Z",
            "activity": {"type": "call"},
        }
        answer = await feedback.post("/feedback", json=event, headers=AUTH)
        assert_refused(answer, 400, "NUL", "$.crm_event_id")

        # The same lead without the NUL is taken and routed.
        clean = lead.replace(b"\\u0000", b"")
        headers = {**JSON, **signed_headers("POST", BASE + "/webhooks/generic", clean)}
        accepted = await router.post("/webhooks/generic", content=clean, headers=headers)
        assert accepted.status_code == 202, accepted.text
        assert await topic_records(router_settings, router_settings.topics.leads_captured) == 1
        assert await topic_records(feedback_settings, feedback_settings.topics.crm_activity) == 0


# Huge arrays ---------------------------------------------------------------------------------


def hubspot_events(count: int) -> bytes:
    return json.dumps(
        [
            {
                "eventId": index,
                "subscriptionType": "contact.creation",
                "objectId": index,
                "portalId": 1,
                "occurredAt": 1700000000000,
            }
            for index in range(count)
        ]
    ).encode()


async def test_a_huge_hubspot_batch_is_413_within_or_over_the_byte_limit(
    make_settings: Any,
) -> None:
    """100,000 subscription events: over the default byte limit a 413 before the body is
    read; within a limit raised to hold them, still a 413 (at most `MAX_EVENTS` events a
    delivery) before any is normalised or published. `MAX_EVENTS` itself is taken."""
    huge = hubspot_events(100_000)
    path = "/webhooks/hubspot"
    async with serving_service(make_settings, "router", consumers_enabled=False) as (
        settings,
        _,
        client,
    ):
        answer = await client.post(
            path, content=huge, headers={**JSON, **signed_headers("POST", BASE + path, huge)}
        )
        assert_refused(answer, 413, str(settings.max_body_bytes))

    async with serving_service(
        make_settings, "router", max_body_bytes=len(huge) + 1, consumers_enabled=False
    ) as (settings, _, client):
        for count, status in ((100_000, 413), (MAX_EVENTS + 1, 413), (MAX_EVENTS, 202)):
            body = huge if count == 100_000 else hubspot_events(count)
            started = time.monotonic()
            answer = await client.post(
                path, content=body, headers={**JSON, **signed_headers("POST", BASE + path, body)}
            )
            elapsed = time.monotonic() - started
            assert answer.status_code == status, answer.text[:300]
            if status == 413:
                assert_refused(answer, 413, f"at most {MAX_EVENTS} events")
                assert elapsed < 5.0, elapsed
            else:
                assert len(answer.json()["event_ids"]) == MAX_EVENTS
        published = await topic_records(settings, settings.topics.leads_captured, timeout=3.0)
        assert published == MAX_EVENTS


async def test_a_mautic_delivery_of_too_many_leads_is_413(make_settings: Any) -> None:
    entry = {
        "contact": {"fields": {"core": {"email": {"value": "lead@example.com"}}}},
        "timestamp": "2025-06-02T09:30:00+00:00",
    }
    entries = [
        {**entry, "contact": {"fields": {"core": {"email": {"value": f"l{i}@example.com"}}}}}
        for i in range(MAX_EVENTS + 1)
    ]
    body = json.dumps({"mautic.lead_post_save_new": entries}).encode()
    path = "/webhooks/mautic"
    async with serving_service(
        make_settings, "router", max_body_bytes=len(body) + 1, consumers_enabled=False
    ) as (settings, _, client):
        answer = await client.post(
            path, content=body, headers={**JSON, **signed_headers("POST", BASE + path, body)}
        )
        assert_refused(answer, 413, f"at most {MAX_EVENTS} events")
        assert await topic_records(settings, settings.topics.leads_captured) == 0


async def test_a_huge_feedback_batch_is_413_within_or_over_the_byte_limit(
    make_settings: Any,
) -> None:
    event = {
        "lead_key": "email:x",
        "kind": "activity",
        "occurred_at": "2025-06-02T09:30:00Z",
        "activity": {"type": "call"},
    }
    huge = json.dumps([{**event, "crm_event_id": f"e{i}"} for i in range(100_000)]).encode()
    async with serving_service(make_settings, "feedback", consumers_enabled=False) as (
        settings,
        _,
        client,
    ):
        answer = await client.post("/feedback", content=huge, headers={**JSON, **AUTH})
        assert_refused(answer, 413, str(settings.max_body_bytes))
    async with serving_service(
        make_settings, "feedback", max_body_bytes=len(huge) + 1, consumers_enabled=False
    ) as (settings, _, client):
        started = time.monotonic()
        answer = await client.post("/feedback", content=huge, headers={**JSON, **AUTH})
        assert_refused(answer, 413, f"at most {settings.max_batch} events")
        assert time.monotonic() - started < 5.0
        assert await topic_records(settings, settings.topics.crm_activity) == 0
