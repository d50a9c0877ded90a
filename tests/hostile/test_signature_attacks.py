"""Signature attacks on the real HTTP doors, on the embedded PostgreSQL and broker: the
router's `POST /webhooks/{hubspot,mautic,marketo,generic}` and feedback's signed
`POST /feedback`. Each door runs with two secrets configured (a rotation under way) and
takes a battery of requests: every forgery, replay, tampering and malformed signature is
401 with a reason that quotes no secret, every correctly signed variant (either secret,
header names in any case, optional whitespace, a signature list with one valid entry) is
accepted, and the topic holds exactly the accepted requests' events: a refused request
published nothing. `hmac.compare_digest` is spied on throughout: every request that got
as far as a comparison compared with every configured secret, in constant time; API keys
(the router's admin API, feedback's bearer door) are compared as digests with every key.

The in-process client lower-cases header names on the way in, as every HTTP server does;
`SignedRequest.header`'s own case-insensitivity is unit-tested in
`tests/router/test_sources_unit.py`.

Already covered, and not repeated here: `tests/router/test_webhook_sources.py` (HubSpot:
unsigned, wrong secret, stale, future, other URL, other body, truncated; generic: wrong
secret, stale, future, truncated, other body, missing and empty signature; Mautic and
Marketo: a wrong secret, a missing token; sources without a secret), `tests/feedback/
test_intake.py` (wrong secret, other body, missing or wrong bearer key) and the pure
checks in `tests/router/test_sources_unit.py` (including a spy on one request per source).

The last tests read the verifying code: no `==`, `!=`, `in`, ordering or prefix test ever
looks at a signature, digest, token or key; every `verify_*` ends in `require_match`,
whose only comparison is `hmac.compare_digest` (the `standardwebhooks` package is used to
compute the expected signature, never its own `verify`, which reads the real clock).
"""

from __future__ import annotations

import ast
import base64
import hashlib
import hmac
import inspect
import json
import re
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import httpx
import pytest
from signing import (
    GENERIC_NEXT_SECRET,
    GENERIC_SECRET,
    HUBSPOT_SECRET,
    MARKETO_SECRET,
    MAUTIC_SECRET,
    hubspot_headers,
    mautic_headers,
    standard_webhook_headers,
)
from source_payloads import MARKETO, fresh, hubspot_event
from standardwebhooks import Webhook

import baton_runtime.api_auth as api_auth
import baton_runtime.signatures as signatures
from baton_feedback.api.intake import feedback_event_id
from baton_feedback.config import FeedbackSettings
from baton_feedback.main import MIGRATIONS as FEEDBACK_MIGRATIONS
from baton_feedback.main import create_app as create_feedback
from baton_router.config import RouterSettings
from baton_router.main import MIGRATIONS as ROUTER_MIGRATIONS
from baton_router.main import create_app as create_router
from baton_runtime.testing import prepare_service, read_topic, serving

BASE = "http://baton.test"
HUBSPOT_NEXT = "hubspot-client-secret-rotated-4b1e"
MAUTIC_NEXT = "mautic-webhook-secret-rotated-90d2"
MARKETO_NEXT = "marketo-shared-token-rotated-77aa"
RETIRED = {
    "generic": "whsec_" + base64.b64encode(b"a secret this router no longer has!").decode(),
    "hubspot": "hubspot-client-secret-retired",
    "mautic": "mautic-webhook-secret-retired",
    "marketo": "marketo-shared-token-retired",
}
SECRETS: dict[str, list[str]] = {
    "generic": [GENERIC_SECRET, GENERIC_NEXT_SECRET],
    "hubspot": [HUBSPOT_SECRET, HUBSPOT_NEXT],
    "mautic": [MAUTIC_SECRET, MAUTIC_NEXT],
    "marketo": [MARKETO_SECRET, MARKETO_NEXT],
}
API_KEYS = {"ops": "k-ops-2f9c", "auditor": "k-audit-81d0"}
TOLERANCE_S = 300


# --- attempts and the spy ------------------------------------------------------------------


Headers = dict[str, str] | list[tuple[str, str]]


@dataclass
class Attempt:
    name: str
    body: bytes
    headers: Headers
    accepted: bool
    path: str = ""
    compared: bool = True
    """Whether the request gets as far as comparing a signature (not stopped earlier by a
    missing header or a timestamp outside the window)."""


@dataclass
class Spy:
    """Records every `hmac.compare_digest` call (argument lengths and values)."""

    calls: list[tuple[bytes, bytes]] = field(default_factory=list)

    def __call__(self, a: Any, b: Any) -> bool:
        self.calls.append((a, b))
        return REAL_COMPARE_DIGEST(a, b)


REAL_COMPARE_DIGEST = hmac.compare_digest


@pytest.fixture
def spy(monkeypatch: pytest.MonkeyPatch) -> Spy:
    recorder = Spy()
    monkeypatch.setattr(hmac, "compare_digest", recorder)
    return recorder


def flip(text: str, at: int = 5) -> str:
    """`text` with one character changed (still base64)."""
    return text[:at] + ("A" if text[at] != "A" else "B") + text[at + 1 :]


def padded(headers: dict[str, str]) -> dict[str, str]:
    return {name: f"  {value} \t" for name, value in headers.items()}


def cased(headers: dict[str, str], change: Callable[[str], str]) -> dict[str, str]:
    return {change(name): value for name, value in headers.items()}


# A run of base64 or hex as long as a signature, a digest or a token would be.
TOKEN_LIKE = re.compile(r"[A-Za-z0-9+/=_]{20,}")


def quotes_a_secret(text: str, secrets: list[str]) -> bool:
    """Whether an answer quotes a secret, or anything long enough to be a signature (the
    expected one, or one sent)."""
    return bool(TOKEN_LIKE.search(text)) or any(
        secret.removeprefix("whsec_") in text for secret in secrets
    )


async def run_attempts(
    client: httpx.AsyncClient, spy: Spy, path: str, attempts: list[Attempt], secrets: list[str]
) -> dict[str, httpx.Response]:
    answers: dict[str, httpx.Response] = {}
    assert len({a.name for a in attempts}) == len(attempts)
    assert len({a.body for a in attempts}) == len(attempts), "one body per attempt"
    for attempt in attempts:
        spy.calls.clear()
        answer = await client.post(
            attempt.path or path, content=attempt.body, headers=attempt.headers
        )
        answers[attempt.name] = answer
        expected = 202 if attempt.accepted else 401
        assert answer.status_code == expected, (attempt.name, answer.status_code, answer.text)
        if not attempt.accepted:
            detail = answer.json()["detail"]
            assert isinstance(detail, str) and detail, attempt.name
            assert "event_ids" not in answer.json()
            assert not quotes_a_secret(detail, secrets), (attempt.name, detail)
        if attempt.compared:
            # Every configured secret was compared (no early exit on a match), each time
            # through hmac.compare_digest.
            assert len(spy.calls) >= len(secrets), (attempt.name, len(spy.calls))
    return answers


async def published_ids(settings: Any, topic: str, expected: int) -> list[str]:
    """The event ids on `topic`, waiting for one more than expected (so an extra shows)."""
    records = await read_topic(settings.kafka_bootstrap, topic, expected + 1, timeout=1.5)
    return [dict(record.headers)["ce_id"].decode() for record in records]


def accepted_ids(attempts: list[Attempt], answers: dict[str, httpx.Response]) -> list[str]:
    return [
        event_id
        for attempt in attempts
        if attempt.accepted
        for event_id in answers[attempt.name].json()["event_ids"]
    ]


async def router_app(make_settings: Any, **overrides: Any) -> RouterSettings:
    return await prepare_service(
        make_settings,
        RouterSettings,
        ROUTER_MIGRATIONS,
        webhook_secrets=SECRETS,
        api_keys=API_KEYS,
        consumers_enabled=False,  # the door alone: what it published stays on the topic
        **overrides,
    )


# --- generic: Standard Webhooks -------------------------------------------------------------


def generic_body(name: str) -> bytes:
    slug = re.sub(r"[^a-z0-9]+", "-", name.lower()).strip("-")
    return json.dumps({"person": {"email": f"{slug}@attack.example"}}).encode()


def generic_attempts() -> list[Attempt]:
    now = int(time.time())
    attempts: list[Attempt] = []

    def add(name: str, accepted: bool, make: Callable[[bytes], Headers], **extra: Any) -> None:
        body = generic_body(name)
        attempts.append(Attempt(name, body, make(body), accepted, **extra))

    def signed(body: bytes, secret: str = GENERIC_SECRET, **kwargs: Any) -> dict[str, str]:
        return standard_webhook_headers(body, secret=secret, **kwargs)

    def sig(body: bytes, secret: str, msg_id: str | None = None) -> str:
        return signed(body, secret, msg_id=msg_id)["webhook-signature"]

    def with_signature(body: bytes, value: str | list[str], msg_id: str = "msg_x") -> Headers:
        base = signed(body, msg_id=msg_id)
        if isinstance(value, list):
            return [(k, v) for k, v in base.items() if k != "webhook-signature"] + [
                ("webhook-signature", v) for v in value
            ]
        return {**base, "webhook-signature": value}

    foreign = RETIRED["generic"]
    # Accepted: either secret, any header case, whitespace, one valid entry in a list.
    add("first secret", True, signed)
    add("rotated secret", True, lambda b: signed(b, GENERIC_NEXT_SECRET))
    add("header names upper-case", True, lambda b: cased(signed(b), str.upper))
    add("header names title-case", True, lambda b: cased(signed(b), str.title))
    add("values padded with spaces and tabs", True, lambda b: padded(signed(b)))
    add(
        "list: foreign then valid",
        True,
        lambda b: with_signature(
            b, f"{sig(b, foreign, 'msg_x')} {sig(b, GENERIC_SECRET, 'msg_x')}"
        ),
    )
    add(
        "list: valid then foreign",
        True,
        lambda b: with_signature(
            b, f"{sig(b, GENERIC_SECRET, 'msg_x')} {sig(b, foreign, 'msg_x')}"
        ),
    )
    add(
        "list: unknown versions and double spaces around the valid one",
        True,
        lambda b: with_signature(
            b, f"v2,QUJD  v1a,QUJD   {sig(b, GENERIC_NEXT_SECRET, 'msg_x')}  "
        ),
    )
    add(
        "header twice: valid first",
        True,
        lambda b: with_signature(b, [sig(b, GENERIC_SECRET, "msg_x"), sig(b, foreign, "msg_x")]),
    )
    add(
        "header twice: valid second",
        True,
        lambda b: with_signature(b, [sig(b, foreign, "msg_x"), sig(b, GENERIC_SECRET, "msg_x")]),
    )
    add("four minutes old", True, lambda b: signed(b, timestamp=now - 240))
    # Refused.
    add("retired secret", False, lambda b: signed(b, foreign))
    add(
        "list: none valid",
        False,
        lambda b: with_signature(
            b, f"{sig(b, foreign, 'msg_x')} {flip(sig(b, GENERIC_SECRET, 'msg_x'), 8)}"
        ),
    )
    add(
        "header twice: none valid",
        False,
        lambda b: with_signature(
            b, [sig(b, foreign, "msg_x"), flip(sig(b, GENERIC_SECRET, "msg_x"), 8)]
        ),
    )
    add(
        "header names upper-case, signature altered",
        False,
        lambda b: cased(
            {**signed(b), "webhook-signature": flip(signed(b)["webhook-signature"], 9)}, str.upper
        ),
    )
    add(
        "signature without its padding",
        False,
        lambda b: with_signature(b, sig(b, GENERIC_SECRET, "msg_x").rstrip("=")),
        compared=False,  # no v1 entry to compare
    )
    add(
        "signature split by a space",
        False,
        lambda b: with_signature(
            b, (lambda s: s[:20] + " " + s[20:])(sig(b, GENERIC_SECRET, "msg_x"))
        ),
        compared=False,  # neither half is a v1 entry
    )
    add(
        "version label upper-case",
        False,
        lambda b: with_signature(b, "V" + sig(b, GENERIC_SECRET, "msg_x")[1:]),
        compared=False,  # no v1 entry to compare
    )
    add(
        "bare signature without its version",
        False,
        lambda b: with_signature(b, sig(b, GENERIC_SECRET, "msg_x").partition(",")[2]),
        compared=False,  # no v1 entry to compare
    )
    add(
        "signature of another webhook-id",
        False,
        lambda b: {**signed(b, msg_id="msg_a"), "webhook-id": "msg_b"},
    )
    add(
        "signature of another timestamp",
        False,
        lambda b: {**signed(b, timestamp=now), "webhook-timestamp": str(now - 1)},
    )
    add(
        "replayed just outside the window",
        False,
        lambda b: signed(b, timestamp=now - TOLERANCE_S - 5),
        compared=False,
    )
    add(
        "timestamp just beyond the future tolerance",
        False,
        lambda b: signed(b, timestamp=now + TOLERANCE_S + 5),
        compared=False,
    )
    add(
        "timestamp in milliseconds",
        False,
        lambda b: {**signed(b), "webhook-timestamp": str(now * 1000)},
        compared=False,
    )
    add(
        "empty webhook-id",
        False,
        lambda b: {**signed(b), "webhook-id": ""},
        compared=False,
    )
    add(
        "empty signature",
        False,
        lambda b: {**signed(b), "webhook-signature": ""},
        compared=False,
    )
    return attempts


async def test_generic_standard_webhooks_attacks(make_settings: Any, spy: Spy) -> None:
    attempts = generic_attempts()
    settings = await router_app(make_settings)
    async with serving(create_router(settings)) as client:
        answers = await run_attempts(client, spy, "/webhooks/generic", attempts, SECRETS["generic"])
        accepted = accepted_ids(attempts, answers)
        published = await published_ids(settings, settings.topics.leads_captured, len(accepted))
    assert sorted(published) == sorted(accepted)
    assert "does not match" in answers["retired secret"].json()["detail"]
    assert "older than" in answers["replayed just outside the window"].json()["detail"]
    assert "future" in answers["timestamp just beyond the future tolerance"].json()["detail"]


# --- HubSpot v3 -----------------------------------------------------------------------------


def hubspot_body(object_id: int) -> bytes:
    at = int(time.time() * 1000)
    return json.dumps(
        [
            hubspot_event(object_id * 10, object_id, "contact.creation", at),
            hubspot_event(
                object_id * 10 + 1,
                object_id,
                "contact.propertyChange",
                at,
                propertyName="email",
                propertyValue=f"contact-{object_id}@attack.example",
            ),
        ]
    ).encode()


def hubspot_attempts() -> list[Attempt]:
    url = f"{BASE}/webhooks/hubspot"
    now_ms = int(time.time() * 1000)
    attempts: list[Attempt] = []

    def add(name: str, accepted: bool, make: Callable[[bytes], Headers], **extra: Any) -> None:
        body = hubspot_body(7_000_000 + len(attempts))
        attempts.append(Attempt(name, body, make(body), accepted, **extra))

    def signed(body: bytes, **kwargs: Any) -> dict[str, str]:
        return hubspot_headers(kwargs.pop("url", url), body, **kwargs)

    def signature(body: bytes, **kwargs: Any) -> str:
        return signed(body, **kwargs)["X-HubSpot-Signature-v3"]

    def replaced(body: bytes, value: str) -> dict[str, str]:
        return {**signed(body), "X-HubSpot-Signature-v3": value}

    # Accepted.
    add("first secret", True, signed)
    add("rotated secret", True, lambda b: signed(b, secret=HUBSPOT_NEXT))
    add("header names lower-case", True, lambda b: cased(signed(b), str.lower))
    add("header names upper-case", True, lambda b: cased(signed(b), str.upper))
    add("values padded with spaces and tabs", True, lambda b: padded(signed(b)))
    add("four minutes old", True, lambda b: signed(b, timestamp_ms=now_ms - 240_000))
    # HubSpot signs the URI with some characters decoded (`%3A` as `:`), others not.
    body = hubspot_body(7_100_000)
    attempts.append(
        Attempt(
            "query string, signed as HubSpot decodes it",
            body,
            signed(body, url=f"{url}?portal=62515&at=09:30&q=a%20b"),
            True,
            path="/webhooks/hubspot?portal=62515&at=09%3A30&q=a%20b",
        )
    )
    # Refused.
    add("retired secret", False, lambda b: signed(b, secret=RETIRED["hubspot"]))
    add("signed for GET", False, lambda b: signed(b, method="GET"))
    add("signed for PUT", False, lambda b: signed(b, method="PUT"))
    add("signed for https", False, lambda b: signed(b, url=url.replace("http:", "https:")))
    add("signed for another path", False, lambda b: signed(b, url=f"{BASE}/webhooks/generic"))
    body = hubspot_body(7_200_000)
    attempts.append(
        Attempt(
            "signed without the query string sent",
            body,
            signed(body),
            False,
            path="/webhooks/hubspot?portal=62515",
        )
    )
    body = hubspot_body(7_300_000)
    attempts.append(
        Attempt(
            "signed with a space decoded that HubSpot keeps encoded",
            body,
            signed(body, url=f"{url}?q=a b"),
            False,
            path="/webhooks/hubspot?q=a%20b",
        )
    )
    add(
        "timestamp changed after signing",
        False,
        lambda b: {
            **signed(b, timestamp_ms=now_ms),
            "X-HubSpot-Request-Timestamp": str(now_ms - 1000),
        },
    )
    add(
        "header names lower-case, signature altered",
        False,
        lambda b: cased(replaced(b, flip(signature(b))), str.lower),
    )
    add("signature without its padding", False, lambda b: replaced(b, signature(b).rstrip("=")))
    add(
        "signature split by a space",
        False,
        lambda b: replaced(b, signature(b)[:20] + " " + signature(b)[20:]),
    )
    add(
        "signature in hex",
        False,
        lambda b: replaced(b, base64.b64decode(signature(b)).hex()),
    )
    add(
        "two signatures, the valid one first",
        False,
        lambda b: replaced(b, f"{signature(b)},{signature(b, secret=RETIRED['hubspot'])}"),
    )
    add(
        "header twice, the valid one first",
        False,
        lambda b: (
            [(k, v) for k, v in signed(b).items()]
            + [("X-HubSpot-Signature-v3", signature(b, secret=RETIRED["hubspot"]))]
        ),
    )
    add("empty signature", False, lambda b: replaced(b, ""), compared=False)
    add(
        "replayed just outside the window",
        False,
        lambda b: signed(b, timestamp_ms=now_ms - (TOLERANCE_S + 5) * 1000),
        compared=False,
    )
    add(
        "timestamp just beyond the future tolerance",
        False,
        lambda b: signed(b, timestamp_ms=now_ms + (TOLERANCE_S + 5) * 1000),
        compared=False,
    )
    add(
        "timestamp in seconds",
        False,
        lambda b: signed(b, timestamp_ms=now_ms // 1000),
        compared=False,
    )
    return attempts


async def test_hubspot_v3_attacks(make_settings: Any, spy: Spy) -> None:
    attempts = hubspot_attempts()
    settings = await router_app(make_settings)
    async with serving(create_router(settings)) as client:
        answers = await run_attempts(client, spy, "/webhooks/hubspot", attempts, SECRETS["hubspot"])
        accepted = accepted_ids(attempts, answers)
        published = await published_ids(settings, settings.topics.leads_captured, len(accepted))
    assert sorted(published) == sorted(accepted)
    for attempt in attempts:  # each accepted batch was one contact, so one lead
        if attempt.accepted:
            assert len(answers[attempt.name].json()["lead_keys"]) == 1
    assert "X-HubSpot-Request-Timestamp" in answers["timestamp in seconds"].json()["detail"]


# --- Mautic ---------------------------------------------------------------------------------


def mautic_body(contact_id: int) -> bytes:
    entry = {
        "contact": {
            "id": contact_id,
            "fields": {"core": {"email": {"value": f"mautic-{contact_id}@attack.example"}}},
        },
        "timestamp": "2024-03-14T09:30:01+00:00",
    }
    return json.dumps({"mautic.lead_post_save_new": [entry]}).encode()


def mautic_attempts() -> list[Attempt]:
    attempts: list[Attempt] = []

    def add(name: str, accepted: bool, make: Callable[[bytes], Headers], **extra: Any) -> None:
        body = mautic_body(5000 + len(attempts))
        attempts.append(Attempt(name, body, make(body), accepted, **extra))

    def signature(body: bytes, secret: str = MAUTIC_SECRET) -> str:
        return mautic_headers(body, secret)["Webhook-Signature"]

    def header(value: str) -> dict[str, str]:
        return {"Webhook-Signature": value}

    add("first secret", True, mautic_headers)
    add("rotated secret", True, lambda b: mautic_headers(b, MAUTIC_NEXT))
    add("header name lower-case", True, lambda b: cased(mautic_headers(b), str.lower))
    add("header name upper-case", True, lambda b: cased(mautic_headers(b), str.upper))
    add("value padded with spaces and tabs", True, lambda b: padded(mautic_headers(b)))
    add("retired secret", False, lambda b: mautic_headers(b, RETIRED["mautic"]))
    add("truncated", False, lambda b: header(signature(b)[:-4]))
    add("signature of another body", False, lambda b: header(signature(mautic_body(1))))
    add("signature of the body without its last byte", False, lambda b: header(signature(b[:-1])))
    add("without its padding", False, lambda b: header(signature(b).rstrip("=")))
    add("in hex", False, lambda b: header(hashlib.sha256(b).hexdigest()))
    add(
        "hex HMAC with a sha256= prefix",
        False,
        lambda b: header(
            "sha256=" + hmac.new(MAUTIC_SECRET.encode(), b, hashlib.sha256).hexdigest()
        ),
    )
    add(
        "two signatures in one header",
        False,
        lambda b: header(f"{signature(b)} {signature(b, RETIRED['mautic'])}"),
    )
    add(
        "header twice, the valid one first",
        False,
        lambda b: [
            ("Webhook-Signature", signature(b)),
            ("Webhook-Signature", signature(b, RETIRED["mautic"])),
        ],
    )
    add(
        "header name lower-case, signature altered",
        False,
        lambda b: {"webhook-signature": flip(signature(b))},
    )
    add("empty", False, lambda b: header(""), compared=False)
    add("missing", False, lambda b: {}, compared=False)
    # Sent after signing: a byte more than was signed.
    body = mautic_body(6000)
    attempts.append(
        Attempt("a newline appended after signing", body + b"\n", mautic_headers(body), False)
    )
    return attempts


async def test_mautic_attacks(make_settings: Any, spy: Spy) -> None:
    attempts = mautic_attempts()
    settings = await router_app(make_settings)
    async with serving(create_router(settings)) as client:
        answers = await run_attempts(client, spy, "/webhooks/mautic", attempts, SECRETS["mautic"])
        # No timestamp, so no window: a replay is accepted and maps to the same event ids.
        first = attempts[0]
        replay = await client.post("/webhooks/mautic", content=first.body, headers=first.headers)
        assert replay.status_code == 202, replay.text
        assert replay.json()["event_ids"] == answers[first.name].json()["event_ids"]
        accepted = accepted_ids(attempts, answers)
        published = await published_ids(settings, settings.topics.leads_captured, len(accepted) + 1)
    assert sorted(published) == sorted([*accepted, *replay.json()["event_ids"]])


# --- Marketo: a shared token in a header ---------------------------------------------------


def marketo_body(lead_id: int) -> bytes:
    return json.dumps(
        {**fresh(MARKETO), "leadId": lead_id, "email": f"marketo-{lead_id}@attack.example"}
    ).encode()


def marketo_attempts() -> list[Attempt]:
    attempts: list[Attempt] = []

    def add(name: str, accepted: bool, headers: Headers, **extra: Any) -> None:
        body = marketo_body(9000 + len(attempts))
        attempts.append(Attempt(name, body, headers, accepted, **extra))

    def token(value: str) -> dict[str, str]:
        return {"X-Baton-Token": value}

    add("first token", True, token(MARKETO_SECRET))
    add("rotated token", True, token(MARKETO_NEXT))
    add("header name lower-case", True, {"x-baton-token": MARKETO_SECRET})
    add("header name upper-case", True, {"X-BATON-TOKEN": MARKETO_SECRET})
    add("value padded with spaces and tabs", True, token(f" \t{MARKETO_SECRET}  "))
    add("retired token", False, token(RETIRED["marketo"]))
    add("token with a character more", False, token(MARKETO_SECRET + "x"))
    add("token with a character less", False, token(MARKETO_SECRET[:-1]))
    add("token with a prefix", False, token("x" + MARKETO_SECRET))
    add("token upper-case", False, token(MARKETO_SECRET.upper()))
    add("token with a space inside", False, token(MARKETO_SECRET[:6] + " " + MARKETO_SECRET[6:]))
    add("as a bearer value", False, token(f"Bearer {MARKETO_SECRET}"))
    add("two tokens in one header", False, token(f"{MARKETO_SECRET},{RETIRED['marketo']}"))
    add(
        "header twice, the valid one first",
        False,
        [("X-Baton-Token", MARKETO_SECRET), ("X-Baton-Token", RETIRED["marketo"])],
    )
    add("empty", False, token(""), compared=False)
    add(
        "in the Authorization header instead",
        False,
        {"Authorization": f"Bearer {MARKETO_SECRET}"},
        compared=False,
    )
    attempts.append(
        Attempt(
            "in the query string instead",
            marketo_body(9999),
            {},
            False,
            path=f"/webhooks/marketo?token={MARKETO_SECRET}",
            compared=False,
        )
    )
    return attempts


async def test_marketo_token_attacks(make_settings: Any, spy: Spy) -> None:
    attempts = marketo_attempts()
    settings = await router_app(make_settings)
    async with serving(create_router(settings)) as client:
        answers = await run_attempts(client, spy, "/webhooks/marketo", attempts, SECRETS["marketo"])
        accepted = accepted_ids(attempts, answers)
        published = await published_ids(settings, settings.topics.leads_captured, len(accepted))
    assert sorted(published) == sorted(accepted)


async def test_marketo_tokens_are_compared_as_digests(make_settings: Any, spy: Spy) -> None:
    """Regression: the token was compared as it is, and `compare_digest` returns at once
    when the lengths differ, so the time taken told how long the configured token is.
    Digests of both are compared now: always 32 bytes, never the token itself."""
    settings = await router_app(make_settings)
    async with serving(create_router(settings)) as client:
        for value in (MARKETO_SECRET, "x", MARKETO_SECRET * 3):
            spy.calls.clear()
            await client.post(
                "/webhooks/marketo",
                content=marketo_body(len(value)),
                headers={"X-Baton-Token": value},
            )
            assert len(spy.calls) == len(SECRETS["marketo"])
            for a, b in spy.calls:
                assert len(a) == len(b) == 32
                assert MARKETO_SECRET.encode() not in (a, b) and value.encode() not in (a, b)


# --- feedback: CRM clients signing with Standard Webhooks ---------------------------------

CRM_SECRET = "whsec_" + base64.b64encode(b"crm-client-hubspot-secret-000001").decode()
CRM_NEXT = "whsec_" + base64.b64encode(b"crm-client-hubspot-secret-000002").decode()
PIPEDRIVE_SECRET = "whsec_" + base64.b64encode(b"crm-client-pipedrive-secret-0003").decode()
CRM_SECRETS = {"hubspot-crm": [CRM_SECRET, CRM_NEXT], "pipedrive": [PIPEDRIVE_SECRET]}


def feedback_body(name: str) -> bytes:
    return json.dumps(
        {
            "crm_event_id": f"attack-{name}",
            "lead_key": "lead-attacked",
            "kind": "activity",
            "occurred_at": datetime(2025, 3, 14, 9, tzinfo=UTC).isoformat(),
            "activity": {"type": "call", "direction": "outbound"},
        }
    ).encode()


def crm_signed(
    body: bytes, secret: str = CRM_SECRET, msg_id: str = "msg_crm", timestamp: int | None = None
) -> dict[str, str]:
    sent = int(time.time()) if timestamp is None else timestamp
    signature = Webhook(secret).sign(msg_id, datetime.fromtimestamp(sent, UTC), body.decode())
    return {
        "content-type": "application/json",
        "webhook-id": msg_id,
        "webhook-timestamp": str(sent),
        "webhook-signature": signature,
    }


def feedback_attempts() -> list[Attempt]:
    now = int(time.time())
    attempts: list[Attempt] = []

    def add(name: str, accepted: bool, make: Callable[[bytes], Headers], **extra: Any) -> None:
        body = feedback_body(name)
        attempts.append(Attempt(name, body, make(body), accepted, **extra))

    def sig(body: bytes, secret: str) -> str:
        return crm_signed(body, secret)["webhook-signature"]

    add("first secret", True, crm_signed)
    add("rotated secret", True, lambda b: crm_signed(b, CRM_NEXT))
    add("another client's secret", True, lambda b: crm_signed(b, PIPEDRIVE_SECRET))
    add("header names upper-case", True, lambda b: cased(crm_signed(b), str.upper))
    add(
        "values padded",
        True,
        lambda b: {**padded(crm_signed(b)), "content-type": "application/json"},
    )
    add(
        "list: foreign then valid",
        True,
        lambda b: {
            **crm_signed(b),
            "webhook-signature": f"{sig(b, RETIRED['generic'])} {sig(b, CRM_NEXT)}",
        },
    )
    add(
        "header twice: valid first",
        True,
        lambda b: [
            *((k, v) for k, v in crm_signed(b).items()),
            ("webhook-signature", sig(b, RETIRED["generic"])),
        ],
    )
    add("secret of no client", False, lambda b: crm_signed(b, RETIRED["generic"]))
    add(
        "truncated",
        False,
        lambda b: {**crm_signed(b), "webhook-signature": sig(b, CRM_SECRET)[:-6]},
        compared=False,  # no longer base64: no v1 entry
    )
    add(
        "list: none valid",
        False,
        lambda b: {
            **crm_signed(b),
            "webhook-signature": f"{sig(b, RETIRED['generic'])} {flip(sig(b, CRM_SECRET), 8)}",
        },
    )
    add(
        "signature of another webhook-id",
        False,
        lambda b: {**crm_signed(b, msg_id="msg_a"), "webhook-id": "msg_b"},
    )
    add(
        "signature of another body",
        False,
        lambda b: {**crm_signed(feedback_body("other")), "content-type": "application/json"},
    )
    add(
        "header names upper-case, signature altered",
        False,
        lambda b: cased(
            {**crm_signed(b), "webhook-signature": flip(sig(b, CRM_SECRET), 9)}, str.upper
        ),
    )
    add(
        "replayed just outside the window",
        False,
        lambda b: crm_signed(b, timestamp=now - TOLERANCE_S - 5),
        compared=False,
    )
    add(
        "timestamp beyond the future tolerance",
        False,
        lambda b: crm_signed(b, timestamp=now + TOLERANCE_S + 5),
        compared=False,
    )
    add(
        "empty signature beside a valid bearer key",
        False,
        lambda b: {
            **crm_signed(b),
            "webhook-signature": "",
            "Authorization": f"Bearer {API_KEYS['ops']}",
        },
        compared=False,
    )
    return attempts


async def test_feedback_signed_intake_attacks(make_settings: Any, spy: Spy) -> None:
    attempts = feedback_attempts()
    settings = await prepare_service(
        make_settings,
        FeedbackSettings,
        FEEDBACK_MIGRATIONS,
        webhook_secrets=CRM_SECRETS,
        api_keys=API_KEYS,
        consumers_enabled=False,
    )
    secrets = [secret for values in CRM_SECRETS.values() for secret in values]
    async with serving(create_feedback(settings)) as client:
        answers = await run_attempts(client, spy, "/feedback", attempts, CRM_SECRETS["hubspot-crm"])
        accepted = accepted_ids(attempts, answers)
        # The other door: a bearer key, compared as the admin APIs' keys are.
        for name, (key, status) in enumerate(KEY_ATTEMPTS):
            body = feedback_body(f"bearer-{name}")
            spy.calls.clear()
            answer = await client.post(
                "/feedback",
                content=body,
                headers={"Authorization": f"Bearer {key}", "content-type": "application/json"},
            )
            assert answer.status_code == (202 if status == 200 else status), (key, answer.text)
            assert_keys_compared(spy, key)
            if answer.status_code == 202:
                accepted += answer.json()["event_ids"]
        published = await published_ids(settings, settings.topics.crm_activity, len(accepted))
    assert sorted(published) == sorted(accepted)
    signed = [feedback_event_id(f"attack-{a.name}") for a in attempts if a.accepted]
    assert set(signed) <= set(accepted)
    for attempt in attempts:
        if not attempt.accepted:
            assert not quotes_a_secret(answers[attempt.name].json()["detail"], secrets)


# --- API keys, compared in constant time ------------------------------------------------------


KEY_ATTEMPTS = [
    (API_KEYS["ops"], 200),
    (API_KEYS["auditor"], 200),
    (API_KEYS["ops"][:-1], 403),
    (API_KEYS["ops"] + "0", 403),
    (API_KEYS["ops"].upper(), 403),
]


def assert_keys_compared(spy: Spy, key: str) -> None:
    """The presented key was compared with every configured key, as 32-byte digests (the
    time taken says nothing about which key, or a key's length)."""
    assert len(spy.calls) == len(API_KEYS), key
    assert all(len(a) == len(b) == 32 for a, b in spy.calls)
    assert not any(key.encode() in (a, b) for a, b in spy.calls)


async def test_api_keys_are_compared_as_digests_with_every_key(
    make_settings: Any, spy: Spy
) -> None:
    """The router's admin API (feedback's bearer door is checked in the feedback test)."""
    settings = await router_app(make_settings)
    async with serving(create_router(settings)) as client:
        for key, status in KEY_ATTEMPTS:
            spy.calls.clear()
            answer = await client.get("/policy", headers={"Authorization": f"Bearer {key}"})
            assert answer.status_code == status, (key, answer.text)
            assert_keys_compared(spy, key)


# --- the verifying code, read ---------------------------------------------------------------

ROOT = Path(__file__).resolve().parents[2]
# The functions a request's credentials pass through, by file.
VERIFYING: dict[str, set[str] | None] = {
    "services/runtime/src/baton_runtime/signatures.py": None,  # the whole module
    "services/runtime/src/baton_runtime/api_auth.py": {"_digest", "match_key", "authenticate"},
    "services/feedback/src/baton_feedback/api/intake.py": {"_client"},
    "services/router/src/baton_router/domain/sources/__init__.py": {"verify"},
    "services/router/src/baton_router/domain/sources/hubspot.py": {"verify"},
    "services/router/src/baton_router/domain/sources/mautic.py": {"verify"},
    "services/router/src/baton_router/domain/sources/generic.py": {"verify"},
    "services/router/src/baton_router/domain/sources/marketo.py": {"verify"},
}
SECRET_WORDS = re.compile(
    r"(^|_)(sig|signatures?|digest|digests|secrets?|token|tokens|keys?|mac|expected|given|"
    r"candidates?|presented|credentials?|password|value)($|_)",
    re.IGNORECASE,
)
# Comparisons that touch such a name but no secret-derived value, each with the reason.
ALLOWED = {
    "key.lower() == wanted": "a header's name against the name looked for",
}


def _scopes() -> Iterator[tuple[str, str, ast.AST]]:
    for relative, names in VERIFYING.items():
        source = (ROOT / relative).read_text(encoding="utf-8")
        tree = ast.parse(source)
        if names is None:
            yield relative, source, tree
            continue
        found = {
            node.name: node
            for node in ast.walk(tree)
            if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef) and node.name in names
        }
        assert set(found) == names, (relative, names - set(found))
        for node in found.values():
            yield relative, source, node


def _names(node: ast.AST) -> set[str]:
    return {
        n.id if isinstance(n, ast.Name) else n.attr
        for n in ast.walk(node)
        if isinstance(n, ast.Name | ast.Attribute)
    }


def _comparisons(scope: ast.AST) -> Iterator[ast.AST]:
    """Value comparisons that could run in time depending on their operands: `==`, `!=`,
    `<`..., `in` (also dict and set lookups by a value), prefix and search methods."""
    for node in ast.walk(scope):
        if isinstance(node, ast.Compare):
            if all(isinstance(op, ast.Is | ast.IsNot) for op in node.ops):
                continue  # identity, against None: no value is read
            yield node
        elif isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute):
            if node.func.attr in {"startswith", "endswith", "find", "index", "count", "__eq__"}:
                yield node
        elif isinstance(node, ast.Subscript) and isinstance(node.ctx, ast.Load):
            yield node.slice  # `by_secret[token]` hashes and compares the token


def test_no_secret_derived_value_is_compared_but_by_compare_digest() -> None:
    found = []
    allowed_seen = set()
    for relative, _source, scope in _scopes():
        for node in _comparisons(scope):
            if not any(SECRET_WORDS.search(name) for name in _names(node)):
                continue
            text = ast.unparse(node)
            if text in ALLOWED:
                allowed_seen.add(text)
                continue
            found.append(f"{relative}:{getattr(node, 'lineno', '?')}: {text}")
    assert not found, "compare these with hmac.compare_digest:\n" + "\n".join(found)
    assert allowed_seen == set(ALLOWED), "an allowed comparison is gone: shorten ALLOWED"


def test_the_scan_finds_a_plain_comparison() -> None:
    """The scan itself: it flags what it is meant to flag."""
    for code in [
        "def f(signature, expected):\n    return signature == expected",
        "def f(token, keys):\n    return token in keys",
        "def f(given):\n    return given.startswith('v1,abc')",
        "def f(by_secret, token):\n    return by_secret[token]",
        "def f(digest, value):\n    return digest != value",
    ]:
        flagged = [
            node
            for node in _comparisons(ast.parse(code))
            if any(SECRET_WORDS.search(name) for name in _names(node))
        ]
        assert flagged, code


def test_every_signature_check_ends_in_require_match_and_compare_digest() -> None:
    tree = ast.parse(inspect.getsource(signatures))
    functions = {node.name: node for node in ast.walk(tree) if isinstance(node, ast.FunctionDef)}
    checks = [name for name in functions if name.startswith("verify_")]
    assert sorted(checks) == [
        "verify_hubspot_v3",
        "verify_mautic",
        "verify_shared_token",
        "verify_standard_webhooks",
    ]
    for name in checks:
        called = {
            n.func.id
            for n in ast.walk(functions[name])
            if isinstance(n, ast.Call) and isinstance(n.func, ast.Name)
        }
        assert "require_match" in called, name
        # The package's own verify reads the real clock and compares as it likes.
        attributes = {n.attr for n in ast.walk(functions[name]) if isinstance(n, ast.Attribute)}
        assert "verify" not in attributes, name
    # require_match compares only through equal(), and equal() is compare_digest.
    compared = [
        ast.unparse(n.func) for n in ast.walk(functions["require_match"]) if isinstance(n, ast.Call)
    ]
    assert sorted(compared) == ["SignatureError", "equal"], compared
    assert ast.unparse(functions["equal"].body[-1]) == "return hmac.compare_digest(expected, given)"
    match_key = ast.unparse(ast.parse(inspect.getsource(api_auth.match_key)))
    assert "hmac.compare_digest(presented, _digest(key))" in match_key
