"""Webhook sources without broker or database: each platform's signature scheme (good, bad,
stale, future, truncated, another body, rotation, header variants) and its payloads in the
platform's own format, normalised into `baton.lead.captured.v1`."""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from signing import (
    GENERIC_NEXT_SECRET,
    GENERIC_SECRET,
    HUBSPOT_SECRET,
    MARKETO_SECRET,
    MAUTIC_SECRET,
    hubspot_headers,
    marketo_headers,
    mautic_headers,
    standard_webhook_headers,
)
from source_payloads import (
    HUBSPOT_EVENTS,
    HUBSPOT_FLAT,
    HUBSPOT_WORKFLOW,
    MARKETO,
    MAUTIC_FORM,
    MAUTIC_NEW,
    MAUTIC_UPDATE_OLD,
    fresh,
)
from standardwebhooks import Webhook

from baton_router.api.body import body_digest, event_id
from baton_router.domain import intake
from baton_router.domain.sources import (
    SOURCE_NAMES,
    Captured,
    MappingError,
    NormalisationError,
    SignatureError,
    build_sources,
    check_secrets,
    load_mapping,
    normalise,
    verify,
)
from baton_router.domain.sources.marketo import MarketoSource
from baton_runtime import signatures as signature_module
from baton_schemas import LeadCaptured

RECEIVED = datetime(2024, 3, 14, 9, 31, tzinfo=UTC)
HUBSPOT_URL = "https://router.baton.example/webhooks/hubspot"
NOW = datetime.now(UTC)


def body_of(payload: Any) -> bytes:
    return json.dumps(payload).encode()


def rejected(source: str, headers: dict[str, str], body: bytes, **kw: Any) -> str:
    with pytest.raises(SignatureError) as caught:
        call_verify(source, headers, body, **kw)
    assert caught.value.reason
    return caught.value.reason


def call_verify(
    source: str,
    headers: dict[str, str],
    body: bytes,
    *,
    secrets: list[str] | None = None,
    url: str | None = None,
    method: str = "POST",
    now: datetime | None = None,
    tolerance_s: int = 300,
) -> str | None:
    default = {
        "generic": [GENERIC_SECRET],
        "hubspot": [HUBSPOT_SECRET],
        "mautic": [MAUTIC_SECRET],
        "marketo": [MARKETO_SECRET],
    }[source]
    return verify(
        source,
        method,
        url or f"https://router.baton.example/webhooks/{source}",
        headers,
        body,
        default if secrets is None else secrets,
        now or datetime.now(UTC),
        tolerance_s,
    )


def error_fields(source: str, payload: Any) -> list[str]:
    with pytest.raises(NormalisationError) as caught:
        normalise(source, payload, RECEIVED)
    assert caught.value.fields
    for entry in caught.value.fields:
        assert set(entry) == {"field", "error"} and entry["error"]
    return [entry["field"] for entry in caught.value.fields]


def only(captured: list[Captured]) -> LeadCaptured:
    assert len(captured) == 1, captured
    return captured[0].lead


def flip(text: str) -> str:
    """The same signature with one character changed."""
    index = len(text) // 2
    return text[:index] + ("A" if text[index] != "A" else "B") + text[index + 1 :]


# Registry and configuration -----------------------------------------------------------------


def test_every_source_is_registered() -> None:
    assert set(build_sources()) == set(SOURCE_NAMES) == {"generic", "hubspot", "marketo", "mautic"}


@pytest.mark.parametrize("source", SOURCE_NAMES)
def test_a_source_without_secrets_rejects_even_a_well_formed_request(source: str) -> None:
    body = b"{}"
    headers = {
        **standard_webhook_headers(body),
        **hubspot_headers(HUBSPOT_URL, body),
        **mautic_headers(body),
        **marketo_headers(),
    }
    reason = rejected(source, headers, body, secrets=[])
    assert reason == "no secret configured for source"


@pytest.mark.parametrize("source", ["hubspot", "mautic", "marketo"])
def test_an_empty_secret_never_matches(source: str) -> None:
    """An empty key would let anyone compute the signature: it must not verify anything."""
    body = body_of(MAUTIC_NEW)
    headers = {
        **hubspot_headers(HUBSPOT_URL, body, secret=""),
        **mautic_headers(body, secret=""),
        "X-Baton-Token": "",
    }
    rejected(source, headers, body, secrets=[""], url=HUBSPOT_URL)


def test_secret_configuration_is_checked_without_quoting_secrets() -> None:
    assert check_secrets({"generic": [GENERIC_SECRET], "hubspot": ["a", "b"]}) == []
    problems = check_secrets(
        {"generic": ["whsec_%%%not-base64"], "mautic": ["  "], "salesforce": ["x"]}
    )
    assert len(problems) == 3
    joined = " ".join(problems)
    assert "not-base64" not in joined
    assert "salesforce" in joined and "mautic" in joined and "generic" in joined


@pytest.mark.parametrize("source", SOURCE_NAMES)
def test_every_comparison_is_constant_time(source: str, monkeypatch: pytest.MonkeyPatch) -> None:
    calls: list[tuple[bytes, bytes]] = []
    real = hmac.compare_digest

    def spy(a: bytes, b: bytes) -> bool:
        calls.append((a, b))
        return real(a, b)

    monkeypatch.setattr(signature_module.hmac, "compare_digest", spy)
    body = body_of({"person": {"email": "ada@example.com"}})
    headers, signature_header = {
        "generic": (standard_webhook_headers(body), "webhook-signature"),
        "hubspot": (hubspot_headers(HUBSPOT_URL, body), "X-HubSpot-Signature-v3"),
        "mautic": (mautic_headers(body), "Webhook-Signature"),
        "marketo": (marketo_headers(), "X-Baton-Token"),
    }[source]
    call_verify(source, headers, body, url=HUBSPOT_URL)
    assert calls, f"{source} compared without hmac.compare_digest"
    altered = {**headers, signature_header: flip(headers[signature_header])}
    with pytest.raises(SignatureError):
        call_verify(source, altered, body, url=HUBSPOT_URL)
    assert len(calls) >= 2


# Generic: Standard Webhooks -----------------------------------------------------------------

GENERIC_BODY = body_of({"person": {"email": "ada@example.com"}})


def test_generic_accepts_a_standard_webhooks_signature_and_returns_the_webhook_id() -> None:
    headers = standard_webhook_headers(GENERIC_BODY, msg_id="msg_2xYz")
    assert call_verify("generic", headers, GENERIC_BODY) == "msg_2xYz"
    # The library's own verify agrees with the headers the tests sign with.
    assert Webhook(GENERIC_SECRET).verify(GENERIC_BODY, headers) == json.loads(GENERIC_BODY)


def test_generic_accepts_a_signature_made_by_the_reference_library() -> None:
    sent = int(NOW.timestamp())
    signature = Webhook(GENERIC_SECRET).sign(
        "msg_lib", datetime.fromtimestamp(sent, UTC), GENERIC_BODY.decode()
    )
    headers = {
        "webhook-id": "msg_lib",
        "webhook-timestamp": str(sent),
        "webhook-signature": signature,
    }
    assert call_verify("generic", headers, GENERIC_BODY) == "msg_lib"


def test_generic_rejects_the_wrong_secret() -> None:
    headers = standard_webhook_headers(GENERIC_BODY, secret=GENERIC_NEXT_SECRET)
    assert "does not match" in rejected("generic", headers, GENERIC_BODY)


def test_generic_rotation_accepts_either_secret_and_either_signature() -> None:
    secrets = [GENERIC_SECRET, GENERIC_NEXT_SECRET]
    for secret in secrets:
        headers = standard_webhook_headers(GENERIC_BODY, secret=secret)
        assert call_verify("generic", headers, GENERIC_BODY, secrets=secrets)
    # A sender mid-rotation signs with both: "v1,<old> v1,<new>".
    old = standard_webhook_headers(
        GENERIC_BODY, secret=GENERIC_SECRET, msg_id="m1", timestamp=int(NOW.timestamp())
    )
    new = standard_webhook_headers(
        GENERIC_BODY, secret=GENERIC_NEXT_SECRET, msg_id="m1", timestamp=int(NOW.timestamp())
    )
    both = {**old, "webhook-signature": f"{old['webhook-signature']} {new['webhook-signature']}"}
    assert call_verify("generic", both, GENERIC_BODY, secrets=[GENERIC_NEXT_SECRET]) == "m1"
    assert call_verify("generic", both, GENERIC_BODY, secrets=[GENERIC_SECRET]) == "m1"


def test_generic_rejects_stale_and_future_timestamps() -> None:
    now = int(NOW.timestamp())
    for sent in (now - 301, now - 3600, now + 301, now + 86400):
        headers = standard_webhook_headers(GENERIC_BODY, timestamp=sent)
        reason = rejected("generic", headers, GENERIC_BODY, now=NOW)
        assert "webhook-timestamp" in reason
    for sent in (now - 299, now + 299):
        headers = standard_webhook_headers(GENERIC_BODY, timestamp=sent)
        assert call_verify("generic", headers, GENERIC_BODY, now=NOW)


def test_generic_tolerance_is_configurable() -> None:
    sent = int(NOW.timestamp()) - 600
    headers = standard_webhook_headers(GENERIC_BODY, timestamp=sent)
    rejected("generic", headers, GENERIC_BODY, now=NOW)
    assert call_verify("generic", headers, GENERIC_BODY, now=NOW, tolerance_s=900)
    rejected("generic", headers, GENERIC_BODY, now=NOW, tolerance_s=60)


def test_generic_replayed_with_a_fresh_timestamp_fails_the_signature() -> None:
    """The timestamp is signed: moving it into the window breaks the signature."""
    old = int(NOW.timestamp()) - 3600
    headers = standard_webhook_headers(GENERIC_BODY, timestamp=old)
    headers["webhook-timestamp"] = str(int(NOW.timestamp()))
    assert "does not match" in rejected("generic", headers, GENERIC_BODY, now=NOW)


def test_generic_rejects_another_body_and_another_id() -> None:
    headers = standard_webhook_headers(GENERIC_BODY, msg_id="msg_1")
    other = body_of({"person": {"email": "mallory@example.com"}})
    rejected("generic", headers, other)
    rejected("generic", {**headers, "webhook-id": "msg_2"}, GENERIC_BODY)
    rejected("generic", headers, GENERIC_BODY + b" ")


@pytest.mark.parametrize(
    "signature",
    [
        "",
        "v1",
        "v1,",
        "v1,!!!!",
        "v2,{sig}",
        "{sig}",
        "v1,{truncated}",
        "v1,{truncated_b64}",
        "v1, {sig}",
        "V1,{sig}",
        "v1,{flipped}",
        "v1,{lower}",
        "v1,{sig}=",
        ",,, ,",
    ],
)
def test_generic_malformed_or_altered_signatures_are_rejected_not_crashing(signature: str) -> None:
    headers = standard_webhook_headers(GENERIC_BODY)
    good = headers["webhook-signature"].partition(",")[2]
    raw = base64.b64decode(good)
    headers["webhook-signature"] = signature.format(
        sig=good,
        truncated=good[:20],
        truncated_b64=base64.b64encode(raw[:16]).decode(),
        flipped=flip(good),
        lower=good.lower(),
    )
    rejected("generic", headers, GENERIC_BODY)


@pytest.mark.parametrize(
    ("name", "value"),
    [
        ("webhook-timestamp", "not-a-number"),
        ("webhook-timestamp", "1.7e9"),
        ("webhook-timestamp", "-1"),
        ("webhook-timestamp", "0{ts}"),
        ("webhook-id", "has space"),
        ("webhook-id", "x" * 257),
    ],
)
def test_generic_malformed_headers_are_rejected(name: str, value: str) -> None:
    headers = standard_webhook_headers(GENERIC_BODY)
    headers[name] = value.format(ts=headers["webhook-timestamp"])
    rejected("generic", headers, GENERIC_BODY)


@pytest.mark.parametrize("missing", ["webhook-id", "webhook-timestamp", "webhook-signature"])
def test_generic_missing_header_is_named(missing: str) -> None:
    headers = standard_webhook_headers(GENERIC_BODY)
    del headers[missing]
    assert missing in rejected("generic", headers, GENERIC_BODY)


def test_generic_header_names_are_case_insensitive_and_values_trimmed() -> None:
    headers = standard_webhook_headers(GENERIC_BODY, msg_id="msg_case")
    upper = {name.upper(): f"  {value}\t" for name, value in headers.items()}
    assert call_verify("generic", upper, GENERIC_BODY) == "msg_case"
    mixed = {"Webhook-Id": "msg_case", "WEBHOOK-timestamp": headers["webhook-timestamp"]}
    mixed["webhook-SIGNATURE"] = headers["webhook-signature"]
    assert call_verify("generic", mixed, GENERIC_BODY) == "msg_case"


# HubSpot v3 ---------------------------------------------------------------------------------

HUBSPOT_BODY = body_of(HUBSPOT_EVENTS)


def test_hubspot_accepts_a_v3_signature() -> None:
    headers = hubspot_headers(HUBSPOT_URL, HUBSPOT_BODY)
    assert call_verify("hubspot", headers, HUBSPOT_BODY, url=HUBSPOT_URL) is None


def test_hubspot_signature_matches_an_independent_computation() -> None:
    """method + URI + body + timestamp, HMAC-SHA256 with the client secret, base64."""
    timestamp = str(int(NOW.timestamp() * 1000))
    source = "POST" + HUBSPOT_URL + HUBSPOT_BODY.decode() + timestamp
    digest = hmac.new(HUBSPOT_SECRET.encode(), source.encode("utf-8"), hashlib.sha256).digest()
    headers = {
        "X-HubSpot-Signature-v3": base64.b64encode(digest).decode(),
        "X-HubSpot-Request-Timestamp": timestamp,
    }
    assert call_verify("hubspot", headers, HUBSPOT_BODY, url=HUBSPOT_URL, now=NOW) is None


def test_hubspot_rejects_wrong_secret_other_body_method_and_url() -> None:
    good = hubspot_headers(HUBSPOT_URL, HUBSPOT_BODY)
    rejected(
        "hubspot",
        hubspot_headers(HUBSPOT_URL, HUBSPOT_BODY, secret="other"),
        HUBSPOT_BODY,
        url=HUBSPOT_URL,
    )
    rejected("hubspot", good, body_of(HUBSPOT_EVENTS[:1]), url=HUBSPOT_URL)
    rejected("hubspot", good, HUBSPOT_BODY, url=HUBSPOT_URL, method="PUT")
    rejected("hubspot", good, HUBSPOT_BODY, url="https://evil.example/webhooks/hubspot")
    rejected("hubspot", good, HUBSPOT_BODY, url=HUBSPOT_URL + "?x=1")


def test_hubspot_rotation_accepts_either_client_secret() -> None:
    secrets = ["old-client-secret", HUBSPOT_SECRET]
    for secret in secrets:
        headers = hubspot_headers(HUBSPOT_URL, HUBSPOT_BODY, secret=secret)
        assert (
            call_verify("hubspot", headers, HUBSPOT_BODY, url=HUBSPOT_URL, secrets=secrets) is None
        )


def test_hubspot_rejects_timestamps_older_than_five_minutes_and_in_the_future() -> None:
    now_ms = int(NOW.timestamp() * 1000)
    for sent in (now_ms - 300_001, now_ms - 86_400_000, now_ms + 300_001):
        headers = hubspot_headers(HUBSPOT_URL, HUBSPOT_BODY, timestamp_ms=sent)
        reason = rejected("hubspot", headers, HUBSPOT_BODY, url=HUBSPOT_URL, now=NOW)
        assert "X-HubSpot-Request-Timestamp" in reason
    for sent in (now_ms - 299_000, now_ms + 299_000):
        headers = hubspot_headers(HUBSPOT_URL, HUBSPOT_BODY, timestamp_ms=sent)
        assert call_verify("hubspot", headers, HUBSPOT_BODY, url=HUBSPOT_URL, now=NOW) is None


def test_hubspot_replay_with_a_new_timestamp_fails_the_signature() -> None:
    stale = hubspot_headers(
        HUBSPOT_URL, HUBSPOT_BODY, timestamp_ms=int(NOW.timestamp() * 1000) - 3_600_000
    )
    stale["X-HubSpot-Request-Timestamp"] = str(int(NOW.timestamp() * 1000))
    assert "does not match" in rejected("hubspot", stale, HUBSPOT_BODY, url=HUBSPOT_URL, now=NOW)


def test_hubspot_decodes_the_listed_characters_of_the_uri_only() -> None:
    """HubSpot signs the URI with %3A %2F %3F %40 %21 %24 %27 %28 %29 %2A %2C %3B decoded."""
    sent_to = "https://router.baton.example/webhooks/hubspot?tenant=acme%3Aeu&app=crm%40v2&q=a%20b"
    signed_as = "https://router.baton.example/webhooks/hubspot?tenant=acme:eu&app=crm@v2&q=a%20b"
    headers = hubspot_headers(signed_as, HUBSPOT_BODY)
    assert call_verify("hubspot", headers, HUBSPOT_BODY, url=sent_to) is None
    # %20 is not in HubSpot's table: a signature over a decoded space does not match.
    wrong = hubspot_headers(signed_as.replace("%20", " "), HUBSPOT_BODY)
    rejected("hubspot", wrong, HUBSPOT_BODY, url=sent_to)


@pytest.mark.parametrize(
    "variant",
    ["truncated", "flipped", "lowercase", "inner_space", "hex", "extra_padding", "empty"],
)
def test_hubspot_altered_signatures_are_rejected(variant: str) -> None:
    headers = hubspot_headers(HUBSPOT_URL, HUBSPOT_BODY)
    good = headers["X-HubSpot-Signature-v3"]
    raw = base64.b64decode(good)
    headers["X-HubSpot-Signature-v3"] = {
        "truncated": good[:-4],
        "flipped": flip(good),
        "lowercase": good.lower(),
        "inner_space": good[:10] + " " + good[10:],
        "hex": raw.hex(),
        "extra_padding": good + "==",
        "empty": "",
    }[variant]
    rejected("hubspot", headers, HUBSPOT_BODY, url=HUBSPOT_URL)


@pytest.mark.parametrize("timestamp", ["", "abc", "1.71e12", "-1710408600000", " 12 34", "9" * 40])
def test_hubspot_malformed_timestamps_are_rejected(timestamp: str) -> None:
    headers = hubspot_headers(HUBSPOT_URL, HUBSPOT_BODY)
    headers["X-HubSpot-Request-Timestamp"] = timestamp
    rejected("hubspot", headers, HUBSPOT_BODY, url=HUBSPOT_URL)


def test_hubspot_v1_and_v2_signatures_alone_are_not_enough() -> None:
    legacy = hashlib.sha256(HUBSPOT_SECRET.encode() + HUBSPOT_BODY).hexdigest()
    headers = {"X-HubSpot-Signature": legacy, "X-HubSpot-Signature-Version": "v1"}
    assert "X-HubSpot-Signature-v3" in rejected("hubspot", headers, HUBSPOT_BODY, url=HUBSPOT_URL)


def test_hubspot_header_names_are_case_insensitive() -> None:
    headers = hubspot_headers(HUBSPOT_URL, HUBSPOT_BODY)
    for transform in (str.lower, str.upper):
        variant = {transform(name): f" {value} " for name, value in headers.items()}
        assert call_verify("hubspot", variant, HUBSPOT_BODY, url=HUBSPOT_URL) is None


# Mautic -------------------------------------------------------------------------------------

MAUTIC_BODY = body_of(MAUTIC_NEW)


def test_mautic_accepts_its_webhook_signature() -> None:
    assert call_verify("mautic", mautic_headers(MAUTIC_BODY), MAUTIC_BODY) is None


def test_mautic_signature_matches_the_php_reference() -> None:
    """base64_encode(hash_hmac('sha256', $payload, $secret, true)), as Mautic's docs show."""
    expected = base64.b64encode(
        hmac.new(MAUTIC_SECRET.encode(), MAUTIC_BODY, hashlib.sha256).digest()
    ).decode()
    assert call_verify("mautic", {"Webhook-Signature": expected}, MAUTIC_BODY) is None


def test_mautic_rejects_wrong_secret_other_body_and_altered_signatures() -> None:
    rejected("mautic", mautic_headers(MAUTIC_BODY, secret="other"), MAUTIC_BODY)
    rejected("mautic", mautic_headers(MAUTIC_BODY), body_of(MAUTIC_FORM))
    good = mautic_headers(MAUTIC_BODY)["Webhook-Signature"]
    for altered in (good[:-1], good[:20], flip(good), good.upper(), good[:5] + " " + good[5:], ""):
        rejected("mautic", {"Webhook-Signature": altered}, MAUTIC_BODY)
    assert "Webhook-Signature" in rejected("mautic", {}, MAUTIC_BODY)


def test_mautic_rotation_and_header_case() -> None:
    secrets = ["previous-secret", MAUTIC_SECRET]
    signature = mautic_headers(MAUTIC_BODY)["Webhook-Signature"]
    for name in ("Webhook-Signature", "webhook-signature", "WEBHOOK-SIGNATURE"):
        assert call_verify("mautic", {name: signature}, MAUTIC_BODY, secrets=secrets) is None


# Marketo ------------------------------------------------------------------------------------

MARKETO_BODY = body_of(MARKETO)


def test_marketo_accepts_the_shared_token_header() -> None:
    assert call_verify("marketo", marketo_headers(), MARKETO_BODY) is None
    assert call_verify("marketo", {"x-baton-token": MARKETO_SECRET}, MARKETO_BODY) is None


def test_marketo_rejects_a_wrong_missing_or_partial_token() -> None:
    for token in ("wrong", MARKETO_SECRET[:-1], MARKETO_SECRET + "x", MARKETO_SECRET.upper(), ""):
        rejected("marketo", {"X-Baton-Token": token}, MARKETO_BODY)
    assert "X-Baton-Token" in rejected("marketo", {}, MARKETO_BODY)
    # The secret in another header is not the configured header.
    rejected("marketo", {"Authorization": MARKETO_SECRET}, MARKETO_BODY)


def test_marketo_rotation() -> None:
    secrets = ["old-token", MARKETO_SECRET]
    assert (
        call_verify("marketo", {"X-Baton-Token": "old-token"}, MARKETO_BODY, secrets=secrets)
        is None
    )
    assert call_verify("marketo", marketo_headers(), MARKETO_BODY, secrets=secrets) is None


def test_marketo_header_name_comes_from_the_mapping(tmp_path: Path) -> None:
    path = tmp_path / "mapping.yaml"
    path.write_text("secret_header: X-Marketo-Secret\nfields:\n  person.email: Email\n")
    source = build_sources(str(path))["marketo"]
    from baton_router.domain.sources import SignedRequest

    def attempt(headers: dict[str, str]) -> str | None:
        request = SignedRequest("POST", "https://x/webhooks/marketo", headers, b"{}", NOW)
        return source.verify(request, [MARKETO_SECRET])

    assert attempt({"X-Marketo-Secret": MARKETO_SECRET}) is None
    with pytest.raises(SignatureError):
        attempt({"X-Baton-Token": MARKETO_SECRET})


# Normalising HubSpot ------------------------------------------------------------------------


def test_hubspot_event_batch_becomes_one_lead_per_contact() -> None:
    captured = normalise("hubspot", fresh(HUBSPOT_EVENTS), RECEIVED)
    assert len(captured) == 2  # the deal and the deletion are not leads
    first, second = (c.lead for c in captured)

    assert first.source == "hubspot"
    assert first.source_record_id == "1246965"
    assert first.person.email == "ada@analytical.example"
    assert first.lead_key == intake.lead_key_for("ada@analytical.example", "hubspot", None)
    assert first.person.title == "CTO"
    assert [(a.type, a.occurred_at) for a in first.activities] == [
        ("form_submit", datetime(2024, 3, 14, 9, 30, tzinfo=UTC))
    ]
    assert first.custom["portal_id"] == "62515"
    assert first.received_at == RECEIVED
    assert isinstance(first.raw, list) and {e["eventId"] for e in first.raw} == {
        1740213841,
        1740213842,
        1740213843,
        1740213844,
    }

    assert second.lead_key == "hubspot:1246977"
    assert second.attribution.channel == "paid_social"
    assert second.person.email is None


def test_hubspot_retry_with_a_higher_attempt_number_maps_to_the_same_ids() -> None:
    first = normalise("hubspot", fresh(HUBSPOT_EVENTS), RECEIVED)
    retried_events = fresh(HUBSPOT_EVENTS)
    for event in retried_events:
        event["attemptNumber"] = 3
    retried = normalise("hubspot", list(reversed(retried_events)), RECEIVED)
    assert sorted(c.dedupe or "" for c in first) == sorted(c.dedupe or "" for c in retried)
    ids = {event_id("hubspot", body_digest(b"a"), None, i, c.dedupe) for i, c in enumerate(first)}
    again = {
        event_id("hubspot", body_digest(b"b"), None, i, c.dedupe) for i, c in enumerate(retried)
    }
    assert ids == again and len(ids) == 2


def test_hubspot_later_property_changes_win() -> None:
    events = [
        {**HUBSPOT_EVENTS[2], "occurredAt": 2000, "propertyValue": "VP Engineering"},
        {**HUBSPOT_EVENTS[2], "occurredAt": 1000, "propertyValue": "Engineer"},
    ]
    assert only(normalise("hubspot", events, RECEIVED)).person.title == "VP Engineering"


def test_hubspot_new_generic_webhook_object_events_for_contacts_count() -> None:
    event = {
        "eventId": 5,
        "subscriptionId": 77,
        "portalId": 62515,
        "occurredAt": 1710408600000,
        "subscriptionType": "object.propertyChange",
        "objectTypeId": "0-1",
        "objectId": 4242,
        "propertyName": "email",
        "propertyValue": "ada@analytical.example",
        "attemptNumber": 0,
    }
    company = {**event, "objectTypeId": "0-2"}
    captured = normalise("hubspot", [event, company], RECEIVED)
    assert only(captured).person.email == "ada@analytical.example"


def test_hubspot_only_unrelated_events_give_no_leads() -> None:
    assert normalise("hubspot", [HUBSPOT_EVENTS[5], HUBSPOT_EVENTS[6]], RECEIVED) == []
    assert normalise("hubspot", [], RECEIVED) == []


def test_hubspot_workflow_v1_contact_is_mapped_fully() -> None:
    lead = only(normalise("hubspot", fresh(HUBSPOT_WORKFLOW), RECEIVED))
    assert lead.source_record_id == "3234574"
    assert lead.person.email == "ada@analytical.example"
    assert (lead.person.first_name, lead.person.last_name) == ("Ada", "Lovelace")
    assert lead.person.title == "Chief Technology Officer"
    assert lead.person.phone == "+49 30 1234567"
    assert (lead.person.country, lead.person.region, lead.person.city) == (
        "Germany",
        "Berlin",
        "Berlin",
    )
    assert lead.person.language == "de"
    assert lead.company.name == "Analytical Engines GmbH"
    assert lead.company.domain == "analytical.example"
    assert lead.company.employees == 100  # "100-500" at its lower bound
    assert lead.company.annual_revenue == 25_000_000
    assert lead.company.industry == "COMPUTER_SOFTWARE"
    assert lead.consent.legal_basis == "Legitimate interest \u2013 prospect/lead"
    assert lead.consent.email_opt_in is None  # not opted out is not an opt-in
    attribution = lead.attribution
    assert attribution.channel == "paid_social"
    assert attribution.landing_page.startswith("https://www.baton.example/demo?")
    assert attribution.referrer == "https://www.linkedin.com/"
    assert (attribution.utm_source, attribution.utm_medium) == ("linkedin", "paid_social")
    assert (attribution.utm_campaign, attribution.utm_content) == ("spring-webinar", "carousel-2")
    activities = [(a.type, a.occurred_at.isoformat(), a.detail) for a in lead.activities]
    assert activities == [
        ("form_submit", "2024-03-01T08:00:00+00:00", "Newsletter: Subscribe form"),
        ("email_click", "2024-03-08T08:00:00+00:00", "Spring webinar invitation"),
        ("page_view", "2024-03-14T09:28:20+00:00", "https://www.baton.example/pricing"),
        ("form_submit", "2024-03-14T09:30:00+00:00", "Book a demo: Demo request form"),
    ]
    assert lead.custom["lifecycle_stage"] == "marketingqualifiedlead"
    assert lead.custom["portal_id"] == "62515"
    assert lead.raw == HUBSPOT_WORKFLOW


def test_hubspot_flat_workflow_payload_and_opt_out() -> None:
    lead = only(normalise("hubspot", fresh(HUBSPOT_FLAT), RECEIVED))
    assert lead.person.email == "grace@navy.example"
    assert lead.company.employees == 1000  # "1000+"
    assert lead.attribution.channel == "organic_search"
    assert lead.source_record_id == "3234580"
    flat = {"email": "alan@bletchley.example", "firstname": "Alan", "hs_email_optout": "true"}
    lead = only(normalise("hubspot", flat, RECEIVED))
    assert lead.person.first_name == "Alan"
    assert lead.consent.email_opt_in is False


def test_hubspot_identity_profile_email_is_the_fallback() -> None:
    record = fresh(HUBSPOT_WORKFLOW)
    del record["properties"]["email"]
    assert only(normalise("hubspot", record, RECEIVED)).person.email == "ada@analytical.example"


@pytest.mark.parametrize(
    ("payload", "field"),
    [
        ([{"subscriptionType": "contact.creation", "portalId": 1}], "0.objectId"),
        ([{"objectId": 1}], "0.subscriptionType"),
        ([HUBSPOT_EVENTS[0], "not an event"], "1"),
        ([{**HUBSPOT_EVENTS[0], "objectId": {"id": 1}}], "0.objectId"),
        (
            [{**HUBSPOT_EVENTS[1], "propertyName": "numemployees", "propertyValue": "lots"}],
            "0.propertyValue",
        ),
        (
            {"properties": {"email": {"value": "a@b.example"}, "annualrevenue": {"value": "-5"}}},
            "properties.annualrevenue.value",
        ),
        ({"properties": {"email": {"value": ["a@b.example"]}}}, "properties.email.value"),
        ({"properties": {"firstname": {"value": "Ada"}}}, "properties.email"),
        ({"properties": "email=a@b.example"}, "properties"),
        ("ada@example.com", "$"),
        ({"email": "a@b.example", "form-submissions": {"0": {}}}, "form-submissions"),
        (
            {"email": "a@b.example", "recent_conversion_date": "last tuesday"},
            "recent_conversion_date",
        ),
    ],
)
def test_hubspot_unusable_payloads_name_the_field(payload: Any, field: str) -> None:
    assert field in error_fields("hubspot", payload)


# Normalising Mautic -------------------------------------------------------------------------


def test_mautic_new_contact() -> None:
    captured = normalise("mautic", fresh(MAUTIC_NEW), RECEIVED)
    lead = only(captured)
    assert lead.source == "mautic"
    assert lead.source_record_id == "347"
    assert lead.person.email == "ada@analytical.example"
    assert (lead.person.first_name, lead.person.last_name) == ("Ada", "Lovelace")
    assert lead.person.title == "CTO"  # Mautic's `position`; its `title` is the salutation
    assert lead.person.phone == "+49 30 1234567"
    assert lead.person.language == "de_DE"
    assert lead.company.name == "Analytical Engines GmbH"
    assert lead.company.domain == "analytical.example"
    assert lead.company.industry == "Software"
    assert lead.company.employees == 250
    assert (lead.attribution.utm_source, lead.attribution.utm_campaign) == (
        "newsletter",
        "spring-webinar",
    )
    assert lead.custom["mautic_points"] == 35
    assert lead.custom["mautic_tags"] == "webinar,enterprise"
    assert lead.custom["mautic_stage"] == "Lead"
    assert lead.raw == {"mautic.lead_post_save_new": MAUTIC_NEW["mautic.lead_post_save_new"]}
    assert captured[0].dedupe


def test_mautic_older_lead_key_batch_and_do_not_contact() -> None:
    captured = normalise("mautic", fresh(MAUTIC_UPDATE_OLD), RECEIVED)
    assert [c.lead.person.email for c in captured] == [
        "grace@navy.example",
        "alan@bletchley.example",
    ]
    assert captured[0].lead.consent.email_opt_in is False
    assert captured[1].lead.consent.email_opt_in is None
    assert captured[0].dedupe != captured[1].dedupe


def test_mautic_form_submission_adds_a_form_submit_activity() -> None:
    lead = only(normalise("mautic", fresh(MAUTIC_FORM), RECEIVED))
    assert lead.person.email == "katherine@nasa.example"
    assert lead.person.first_name == "Katherine"
    assert lead.source_record_id == "350"
    assert [(a.type, a.occurred_at, a.detail) for a in lead.activities] == [
        ("form_submit", datetime(2024, 3, 14, 9, 30, tzinfo=UTC), "Demo request")
    ]
    assert lead.attribution.landing_page.startswith("https://www.baton.example/demo?")
    assert lead.attribution.utm_medium == "email"  # from the page the form was on
    assert lead.custom["mautic_form_id"] == 3


def test_mautic_form_results_fill_fields_the_contact_lacks() -> None:
    payload = fresh(MAUTIC_FORM)
    submission = payload["mautic.form_on_submit"][0]["submission"]
    submission["lead"]["fields"]["core"]["email"]["value"] = None
    submission["dateSubmitted"] = None
    lead = only(normalise("mautic", payload, RECEIVED))
    assert lead.person.email == "katherine@nasa.example"
    assert lead.activities[0].occurred_at == datetime(2024, 3, 14, 9, 30, 1, tzinfo=UTC)


def test_mautic_redelivery_has_the_same_dedupe_even_in_another_batch() -> None:
    once = normalise("mautic", fresh(MAUTIC_NEW), RECEIVED)
    batched = fresh(MAUTIC_FORM) | fresh(MAUTIC_NEW) | {"timestamp": "2024-03-14T11:00:00+00:00"}
    again = normalise("mautic", batched, RECEIVED)
    assert once[0].dedupe in {c.dedupe for c in again}
    assert len(again) == 2


def test_mautic_other_events_and_the_top_level_timestamp_are_ignored() -> None:
    payload = {
        "mautic.email_on_open": [{"stat": {"id": 1}, "timestamp": "2024-03-14T09:00:00+00:00"}],
        "mautic.lead_post_delete": [{"id": 9, "contact": {"id": 9}}],
        "timestamp": "2024-03-14T09:30:02+00:00",
    }
    assert normalise("mautic", payload, RECEIVED) == []


def test_mautic_contact_without_email_is_keyed_by_its_id() -> None:
    payload = {
        "mautic.lead_post_save_update": [
            {"contact": {"id": 77, "fields": []}, "timestamp": "2024-03-14T09:30:00+00:00"}
        ]
    }
    assert only(normalise("mautic", payload, RECEIVED)).lead_key == "mautic:77"


@pytest.mark.parametrize(
    ("payload", "field"),
    [
        ([MAUTIC_NEW], "$"),
        ({"mautic.lead_post_save_new": {"contact": {}}}, "mautic.lead_post_save_new"),
        ({"mautic.lead_post_save_new": ["x"]}, "mautic.lead_post_save_new.0"),
        (
            {"mautic.lead_post_save_new": [{"timestamp": "2024-03-14T09:30:00+00:00"}]},
            "mautic.lead_post_save_new.0.contact",
        ),
        (
            {"mautic.lead_post_save_new": [{"contact": "ada@example.com"}]},
            "mautic.lead_post_save_new.0.contact",
        ),
        ({"mautic.form_on_submit": [{"timestamp": "x"}]}, "mautic.form_on_submit.0.submission"),
        (
            {
                "mautic.lead_post_save_new": [
                    {"contact": {"fields": {"core": {"firstname": {"value": "Ada"}}}}}
                ]
            },
            "mautic.lead_post_save_new.0.contact.fields.core.email.value",
        ),
        (
            {
                "mautic.lead_post_save_new": [
                    {"contact": {"id": 1, "fields": {"core": {"email": {"value": {"a": 1}}}}}}
                ]
            },
            "mautic.lead_post_save_new.0.contact.fields.core.email.value",
        ),
        (
            {"mautic.lead_post_save_new": [{"contact": {"id": 1, "fields": "core"}}]},
            "mautic.lead_post_save_new.0.contact.fields",
        ),
    ],
)
def test_mautic_unusable_payloads_name_the_field(payload: Any, field: str) -> None:
    assert field in error_fields("mautic", payload)


# Normalising Marketo ------------------------------------------------------------------------


def test_marketo_default_mapping_is_shipped_in_the_package() -> None:
    mapping = load_mapping()
    assert mapping.secret_header == "X-Baton-Token"
    assert mapping.fields["person.email"] == "email"


def test_marketo_template_body_with_the_default_mapping() -> None:
    lead = only(normalise("marketo", fresh(MARKETO), RECEIVED))
    assert lead.source == "marketo"
    assert lead.source_record_id == "1000342"
    assert lead.person.email == "ada@analytical.example"
    assert lead.person.phone == "+49 151 2345678"  # phone was empty: the mobile number
    assert lead.company.domain == "analytical.example"
    assert lead.company.employees == 250
    assert lead.company.annual_revenue == 25_000_000
    assert lead.consent.email_opt_in is None
    assert lead.attribution.channel == "paid_social"
    assert lead.attribution.campaign_id == "4711"
    assert lead.attribution.campaign_name == "Spring webinar - registration"
    assert (lead.attribution.utm_source, lead.attribution.utm_medium) == ("linkedin", "paid_social")
    assert [(a.type, a.occurred_at, a.detail) for a in lead.activities] == [
        ("form_submit", datetime(2024, 3, 14, 9, 30, tzinfo=UTC), "Webinar registration")
    ]
    assert lead.custom == {"lead_score": 55, "program_name": "2024-03 Spring webinar"}
    assert lead.raw == MARKETO


def test_marketo_unsubscribed_means_no_opt_in() -> None:
    lead = only(normalise("marketo", fresh(MARKETO) | {"unsubscribed": "true"}, RECEIVED))
    assert lead.consent.email_opt_in is False


def test_marketo_custom_mapping_with_nested_keys_and_time_zone(tmp_path: Path) -> None:
    path = tmp_path / "acme-marketo.yaml"
    path.write_text(
        """
version: 1
secret_header: X-Acme-Token
record_id: lead.id
delivery_id: requestId
naive_time_zone: America/Chicago
fields:
  person.email: [lead.email, lead.emailAddress]
  person.first_name: lead.firstName
  company.name: company.name
  company.employees: company.size
  product_interest: lead.interests
  custom.segment: segment
activities:
  - type: demo_request
    occurred_at: submittedAt
    detail: form
    when: form
"""
    )
    source = build_sources(str(path))["marketo"]
    assert isinstance(source, MarketoSource)
    payload = {
        "requestId": "wh-7781",
        "lead": {
            "id": 88,
            "emailAddress": "ada@analytical.example",
            "firstName": "Ada",
            "interests": "routing; sla",
        },
        "company": {"name": "Analytical Engines", "size": "250"},
        "segment": "enterprise",
        "submittedAt": "2024-03-14 03:30:00",
        "form": "Demo request",
    }
    captured = source.normalise(payload, RECEIVED)
    lead = only(captured)
    assert lead.person.email == "ada@analytical.example"
    assert lead.source_record_id == "88"
    assert lead.company.employees == 250
    assert lead.product_interest == ["routing", "sla"]
    assert lead.custom == {"segment": "enterprise"}
    # 03:30 in Chicago (CDT, UTC-5 on 14 March 2024) is 08:30 UTC.
    assert lead.activities[0].occurred_at == datetime(2024, 3, 14, 8, 30, tzinfo=UTC)
    assert lead.activities[0].type == "demo_request"
    assert captured[0].dedupe == "id:wh-7781"
    without_form = {k: v for k, v in payload.items() if k != "form"}
    assert only(source.normalise(without_form, RECEIVED)).activities == []


@pytest.mark.parametrize(
    ("text", "problem"),
    [
        ("fields:\n  person.shoe_size: shoe\n", "person.shoe_size"),
        ("naive_time_zone: Mars/Olympus\n", "Mars/Olympus"),
        ("secret_header: 'X Bad Header'\n", "secret_header"),
        ("fields: [1, 2]\n", "fields"),
        ("unknown_key: 1\n", "unknown_key"),
        ("fields: {person.email: email\n", "YAML"),
        ("activities:\n  - type: Not Snake\n", "activities"),
    ],
)
def test_marketo_invalid_mapping_files_are_refused_at_load(
    tmp_path: Path, text: str, problem: str
) -> None:
    path = tmp_path / "mapping.yaml"
    path.write_text(text)
    with pytest.raises(MappingError) as caught:
        load_mapping(str(path))
    assert problem in str(caught.value)


def test_marketo_missing_mapping_file_is_refused(tmp_path: Path) -> None:
    with pytest.raises(MappingError):
        load_mapping(str(tmp_path / "absent.yaml"))


@pytest.mark.parametrize(
    ("payload", "field"),
    [
        (fresh(MARKETO) | {"numberOfEmployees": "many"}, "numberOfEmployees"),
        (fresh(MARKETO) | {"annualRevenue": {"amount": 5}}, "annualRevenue"),
        (fresh(MARKETO) | {"unsubscribed": "perhaps"}, "unsubscribed"),
        (fresh(MARKETO) | {"activityDate": "yesterday"}, "activityDate"),
        (fresh(MARKETO) | {"activityType": "<script>"}, "activityType"),
        ({"firstName": "Ada", "email": "", "leadId": ""}, "email"),
        ([MARKETO], "$"),
    ],
)
def test_marketo_unusable_payloads_name_the_field(payload: Any, field: str) -> None:
    assert field in error_fields("marketo", payload)


# Generic (moved into sources; intake keeps the old names) -----------------------------------


def test_generic_source_normalises_canonical_json() -> None:
    lead = only(normalise("generic", {"person": {"email": "ada@example.com"}}, RECEIVED))
    assert lead.source == "generic"
    assert intake.normalise_generic.__module__ == "baton_router.domain.sources.generic"
    assert "person.email" in error_fields("generic", {"person": {"first_name": "Ada"}})


# Event ids ----------------------------------------------------------------------------------


def test_event_ids_are_stable_per_delivery_and_distinct_per_lead() -> None:
    body = body_digest(b'{"a": 1}')
    assert event_id("generic", body, "msg_1", 0, None) == event_id(
        "generic", body, "msg_1", 0, None
    )
    # Another message under the same id (two senders' counters colliding) is not dropped.
    assert event_id("generic", body, "msg_1", 0, None) != event_id(
        "generic", body_digest(b"other"), "msg_1", 0, None
    )
    assert event_id("generic", body, "msg_1", 0, None) != event_id(
        "generic", body, "msg_2", 0, None
    )
    assert event_id("mautic", body, None, 0, None) == event_id("mautic", body, None, 0, None)
    assert event_id("mautic", body, None, 0, None) != event_id("mautic", body, None, 1, None)
    assert event_id("mautic", body, None, 0, None) != event_id("marketo", body, None, 0, None)
    assert event_id("hubspot", body_digest(b"x"), None, 0, "k") == event_id(
        "hubspot", body_digest(b"y"), None, 5, "k"
    )


# Normalising never fails with anything but NormalisationError (spot checks; the property
# test in test_webhook_sources.py covers arbitrary JSON) -----------------------------------


@pytest.mark.parametrize("source", SOURCE_NAMES)
@pytest.mark.parametrize(
    "payload",
    [
        None,
        0,
        1.5,
        float("nan"),
        True,
        "x",
        [],
        {},
        [[]],
        [{}],
        {"": None},
        [None],
        {"properties": None},
    ],
)
def test_odd_json_is_a_normalisation_error_or_nothing(source: str, payload: Any) -> None:
    try:
        result = normalise(source, payload, RECEIVED)
    except NormalisationError as exc:
        assert exc.fields
    else:
        assert isinstance(result, list)


def test_extreme_numbers_are_normalisation_errors() -> None:
    for value in (10**400, 1e308, -1e308, float("inf")):
        event = {
            **HUBSPOT_EVENTS[1],
            "propertyName": "recent_conversion_date",
            "propertyValue": value,
        }
        with pytest.raises(NormalisationError):
            normalise("hubspot", [event], RECEIVED)
        with pytest.raises(NormalisationError):
            normalise("marketo", fresh(MARKETO) | {"numberOfEmployees": value}, RECEIVED)


def test_signed_at_most_now_plus_tolerance_is_a_parameter_not_the_clock() -> None:
    """`verify` is pure: a request signed long ago verifies against that moment."""
    past = NOW - timedelta(days=400)
    headers = hubspot_headers(HUBSPOT_URL, HUBSPOT_BODY, timestamp_ms=int(past.timestamp() * 1000))
    assert call_verify("hubspot", headers, HUBSPOT_BODY, url=HUBSPOT_URL, now=past) is None
    rejected("hubspot", headers, HUBSPOT_BODY, url=HUBSPOT_URL, now=NOW)
