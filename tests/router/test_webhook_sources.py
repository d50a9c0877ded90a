"""Every webhook source through the app, against a real broker and database: correctly
signed requests are captured, badly signed ones are refused with nothing published, and a
redelivered webhook keeps its event ids and makes one lead. Plus a property test: no JSON
makes a normaliser fail with anything but a NormalisationError."""

from __future__ import annotations

import asyncio
import json
import time
from datetime import UTC, datetime
from typing import Any
from urllib.parse import urlencode

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from signing import (
    MARKETO_SECRET,
    SECRETS,
    hubspot_headers,
    marketo_headers,
    mautic_headers,
    router,
    standard_webhook_headers,
)
from source_payloads import HUBSPOT_EVENTS, MARKETO, MAUTIC_FORM, MAUTIC_NEW, fresh

from baton_router.domain.sources import SOURCE_NAMES, NormalisationError, build_sources
from baton_router.domain.sources import hubspot as hubspot_source
from baton_router.domain.sources import mautic as mautic_source
from baton_runtime.testing import read_topic

BASE = "http://baton.test"  # the test client's base URL: what HubSpot would have called


def body_of(payload: Any) -> bytes:
    return json.dumps(payload).encode()


def ce_ids(records: list[Any]) -> list[str]:
    return [dict(r.headers)["ce_id"].decode() for r in records]


async def captured(settings: Any, count: int, timeout: float = 20.0) -> list[Any]:
    return await read_topic(
        settings.kafka_bootstrap, settings.topics.leads_captured, count, timeout
    )


async def assigned_for(settings: Any, event_ids: set[str], expected: int) -> list[dict[str, Any]]:
    """The assignments of these captured events, once `expected` arrived and a little more
    time passed (so a duplicate would have shown up too)."""
    deadline = time.monotonic() + 40
    found: list[dict[str, Any]] = []
    while time.monotonic() < deadline:
        records = await read_topic(
            settings.kafka_bootstrap, settings.topics.leads_assigned, expected + 5, timeout=1.0
        )
        found = [
            data
            for data in (json.loads(r.value) for r in records)
            if data["captured_event_id"] in event_ids
        ]
        if len(found) >= expected:
            break
    await asyncio.sleep(1.5)
    records = await read_topic(
        settings.kafka_bootstrap, settings.topics.leads_assigned, expected + 5, timeout=1.0
    )
    return [
        data
        for data in (json.loads(r.value) for r in records)
        if data["captured_event_id"] in event_ids
    ]


# HubSpot ------------------------------------------------------------------------------------


async def test_hubspot_signed_batch_is_captured_and_a_retry_is_one_lead_each(
    make_settings,
) -> None:
    url = f"{BASE}/webhooks/hubspot"
    body = body_of(HUBSPOT_EVENTS)
    async with router(make_settings) as (settings, client):
        answer = await client.post(
            "/webhooks/hubspot",
            content=body,
            headers={"content-type": "application/json", **hubspot_headers(url, body)},
        )
        assert answer.status_code == 202, answer.text
        event_ids = answer.json()["event_ids"]
        assert len(event_ids) == 2  # two contacts; the deal and the deletion are no leads

        # HubSpot retries with attemptNumber raised, later, with a fresh signature.
        retry_events = fresh(HUBSPOT_EVENTS)
        for event in retry_events:
            event["attemptNumber"] = 1
        retry_body = body_of(retry_events)
        retry = await client.post(
            "/webhooks/hubspot",
            content=retry_body,
            headers={"content-type": "application/json", **hubspot_headers(url, retry_body)},
        )
        assert retry.status_code == 202, retry.text
        assert retry.json()["event_ids"] == event_ids
        assert retry.json()["lead_keys"] == answer.json()["lead_keys"]

        records = await captured(settings, 4)
        assignments = await assigned_for(settings, set(event_ids), 2)

    assert sorted(set(ce_ids(records))) == sorted(event_ids)
    by_id = {dict(r.headers)["ce_id"].decode(): json.loads(r.value) for r in records}
    first = by_id[event_ids[0]]
    assert first["source"] == "hubspot"
    assert first["person"]["email"] == "ada@analytical.example"
    assert first["person"]["title"] == "CTO"
    assert first["source_record_id"] == "1246965"
    assert first["activities"][0]["type"] == "form_submit"
    assert [e["eventId"] for e in first["raw"]] == [1740213841, 1740213842, 1740213843, 1740213844]
    second = by_id[event_ids[1]]
    assert second["lead_key"] == "hubspot:1246977"
    assert second["attribution"]["channel"] == "paid_social"
    # The redelivery changed nothing downstream: one assignment per lead.
    assert sorted(a["captured_event_id"] for a in assignments) == sorted(event_ids)


async def test_hubspot_bad_signatures_are_401_and_publish_nothing(make_settings) -> None:
    url = f"{BASE}/webhooks/hubspot"
    body = body_of(HUBSPOT_EVENTS)
    json_type = {"content-type": "application/json"}
    async with router(make_settings) as (settings, client):
        stale_ms = int(time.time() * 1000) - 330_000
        future_ms = int(time.time() * 1000) + 330_000
        attempts = {
            "unsigned": {},
            "wrong secret": hubspot_headers(url, body, secret="not-the-client-secret"),
            "stale": hubspot_headers(url, body, timestamp_ms=stale_ms),
            "future": hubspot_headers(url, body, timestamp_ms=future_ms),
            "other url": hubspot_headers("https://elsewhere.example/webhooks/hubspot", body),
            "other body": hubspot_headers(url, body_of(HUBSPOT_EVENTS[:1])),
            "truncated": {
                **hubspot_headers(url, body),
                "X-HubSpot-Signature-v3": hubspot_headers(url, body)["X-HubSpot-Signature-v3"][:-2],
            },
        }
        answers = {
            name: await client.post(
                "/webhooks/hubspot", content=body, headers={**json_type, **headers}
            )
            for name, headers in attempts.items()
        }
        published = await captured(settings, 1, timeout=2.0)

    for name, answer in answers.items():
        assert answer.status_code == 401, (name, answer.text)
        assert answer.json()["detail"], name
        assert "event_ids" not in answer.json()
    assert "X-HubSpot-Request-Timestamp" in answers["stale"].json()["detail"]
    assert published == []


async def test_hubspot_behind_a_proxy_is_verified_against_the_public_url(make_settings) -> None:
    public = "https://hooks.acme.example/baton"
    body = body_of(HUBSPOT_EVENTS[:2])
    async with router(make_settings, public_base_url=public) as (_, client):
        good = await client.post(
            "/webhooks/hubspot?portal=62515",
            content=body,
            headers=hubspot_headers(f"{public}/webhooks/hubspot?portal=62515", body),
        )
        internal = await client.post(
            "/webhooks/hubspot?portal=62515",
            content=body,
            headers=hubspot_headers(f"{BASE}/webhooks/hubspot?portal=62515", body),
        )
    assert good.status_code == 202, good.text
    assert internal.status_code == 401, internal.text


# Mautic -------------------------------------------------------------------------------------


async def test_mautic_signed_webhooks_are_captured_once(make_settings) -> None:
    new_body = body_of(MAUTIC_NEW)
    form_body = body_of(MAUTIC_FORM)
    async with router(make_settings) as (settings, client):
        new = await client.post(
            "/webhooks/mautic", content=new_body, headers=mautic_headers(new_body)
        )
        form = await client.post(
            "/webhooks/mautic", content=form_body, headers=mautic_headers(form_body)
        )
        again = await client.post(
            "/webhooks/mautic", content=form_body, headers=mautic_headers(form_body)
        )
        wrong = await client.post(
            "/webhooks/mautic",
            content=form_body,
            headers=mautic_headers(form_body, secret="someone-else"),
        )
        assert (new.status_code, form.status_code, again.status_code) == (202, 202, 202), (
            new.text,
            form.text,
        )
        assert wrong.status_code == 401, wrong.text
        event_ids = new.json()["event_ids"] + form.json()["event_ids"]
        assert again.json()["event_ids"] == form.json()["event_ids"]
        records = await captured(settings, 3)
        assignments = await assigned_for(settings, set(event_ids), 2)

    assert len(set(event_ids)) == 2
    by_id = {dict(r.headers)["ce_id"].decode(): json.loads(r.value) for r in records}
    assert set(by_id) == set(event_ids)
    contact = by_id[new.json()["event_ids"][0]]
    assert contact["source"] == "mautic"
    assert contact["person"]["email"] == "ada@analytical.example"
    assert contact["company"]["name"] == "Analytical Engines GmbH"
    submission = by_id[form.json()["event_ids"][0]]
    assert submission["person"]["email"] == "katherine@nasa.example"
    assert submission["activities"] == [
        {"type": "form_submit", "occurred_at": "2024-03-14T09:30:00Z", "detail": "Demo request"}
    ]
    assert "mautic.form_on_submit" in submission["raw"]
    assert len(assignments) == 2


async def test_mautic_payload_that_cannot_be_normalised_is_422_naming_the_field(
    make_settings,
) -> None:
    payload = {"mautic.lead_post_save_new": [{"timestamp": "2024-03-14T09:30:00+00:00"}]}
    body = body_of(payload)
    async with router(make_settings) as (settings, client):
        answer = await client.post("/webhooks/mautic", content=body, headers=mautic_headers(body))
        published = await captured(settings, 1, timeout=2.0)
    assert answer.status_code == 422, answer.text
    assert [f["field"] for f in answer.json()["fields"]] == ["mautic.lead_post_save_new.0.contact"]
    assert published == []


# Marketo ------------------------------------------------------------------------------------


async def test_marketo_json_and_form_bodies_with_the_shared_token(make_settings) -> None:
    body = body_of(MARKETO)
    form = {k: str(v) for k, v in MARKETO.items()} | {
        "email": "grace@navy.example",
        "leadId": "1000343",
    }
    async with router(make_settings) as (settings, client):
        first = await client.post("/webhooks/marketo", content=body, headers=marketo_headers())
        repeated = await client.post("/webhooks/marketo", content=body, headers=marketo_headers())
        as_form = await client.post(
            "/webhooks/marketo",
            content=urlencode(form).encode(),
            headers={"content-type": "application/x-www-form-urlencoded", **marketo_headers()},
        )
        wrong = await client.post(
            "/webhooks/marketo", content=body, headers=marketo_headers(secret=MARKETO_SECRET[:-1])
        )
        missing = await client.post("/webhooks/marketo", content=body)
        assert first.status_code == 202, first.text
        assert as_form.status_code == 202, as_form.text
        assert repeated.json()["event_ids"] == first.json()["event_ids"]
        event_ids = first.json()["event_ids"] + as_form.json()["event_ids"]
        records = await captured(settings, 3)
        assignments = await assigned_for(settings, set(event_ids), 2)

    assert wrong.status_code == 401 and missing.status_code == 401
    assert "X-Baton-Token" in missing.json()["detail"]
    by_id = {dict(r.headers)["ce_id"].decode(): json.loads(r.value) for r in records}
    lead = by_id[first.json()["event_ids"][0]]
    assert lead["source"] == "marketo"
    assert lead["person"]["email"] == "ada@analytical.example"
    assert lead["company"]["employees"] == 250
    assert lead["activities"][0]["occurred_at"] == "2024-03-14T09:30:00Z"
    from_form = by_id[as_form.json()["event_ids"][0]]
    assert from_form["person"]["email"] == "grace@navy.example"
    assert from_form["source_record_id"] == "1000343"
    assert len(assignments) == 2


# Generic ------------------------------------------------------------------------------------


async def test_generic_redelivery_with_the_same_webhook_id_is_one_lead(make_settings) -> None:
    body = body_of({"person": {"email": "redelivered@example.com", "first_name": "Ada"}})
    async with router(make_settings) as (settings, client):
        first = await client.post(
            "/webhooks/generic",
            content=body,
            headers=standard_webhook_headers(body, msg_id="msg_42"),
        )
        # The sender retries later: same id, new timestamp and signature.
        retry = await client.post(
            "/webhooks/generic",
            content=body,
            headers=standard_webhook_headers(body, msg_id="msg_42", timestamp=int(time.time()) + 5),
        )
        other = await client.post(
            "/webhooks/generic",
            content=body,
            headers=standard_webhook_headers(body, msg_id="msg_43"),
        )
        assert [a.status_code for a in (first, retry, other)] == [202, 202, 202]
        assert retry.json()["event_ids"] == first.json()["event_ids"]
        assert other.json()["event_ids"] != first.json()["event_ids"]
        assignments = await assigned_for(settings, set(first.json()["event_ids"]), 1)
    assert len(assignments) == 1


async def test_generic_signature_attacks_are_401_and_publish_nothing(make_settings) -> None:
    body = body_of({"person": {"email": "mallory@example.com"}})
    now = int(time.time())
    good = standard_webhook_headers(body, msg_id="msg_attack")
    attacks = {
        "wrong secret": standard_webhook_headers(
            body, secret="whsec_" + "QUJDREVGR0hJSktMTU5PUFFSU1RVVldYWVo=", msg_id="m"
        ),
        "stale": standard_webhook_headers(body, timestamp=now - 600),
        "future": standard_webhook_headers(body, timestamp=now + 600),
        "truncated": {**good, "webhook-signature": good["webhook-signature"][:-6]},
        "other body": standard_webhook_headers(b'{"person": {"email": "ada@example.com"}}'),
        "no signature": {k: v for k, v in good.items() if k != "webhook-signature"},
        "unsigned": {"webhook-signature": ""},
    }
    async with router(make_settings) as (settings, client):
        client.auth = None  # send exactly these headers
        answers = {
            name: await client.post("/webhooks/generic", content=body, headers=headers)
            for name, headers in attacks.items()
        }
        published = await captured(settings, 1, timeout=2.0)
    for name, answer in answers.items():
        assert answer.status_code == 401, (name, answer.text)
    assert published == []


# Configuration ------------------------------------------------------------------------------


async def test_sources_without_a_secret_refuse_everything(make_settings) -> None:
    body = body_of(MAUTIC_NEW)
    async with router(make_settings, webhook_secrets={"generic": SECRETS["generic"]}) as (
        settings,
        client,
    ):
        mautic = await client.post("/webhooks/mautic", content=body, headers=mautic_headers(body))
        marketo = await client.post("/webhooks/marketo", content=body_of(MARKETO))
        hubspot = await client.post("/webhooks/hubspot", content=b"[]")
        published = await captured(settings, 1, timeout=2.0)
    for answer in (mautic, marketo, hubspot):
        assert answer.status_code == 401, answer.text
        assert answer.json()["detail"] == "no secret configured for source"
    assert published == []


async def test_oversized_hubspot_batch_is_413_before_any_signature_check(make_settings) -> None:
    async with router(make_settings, max_body_bytes=2000) as (_, client):
        answer = await client.post("/webhooks/hubspot", content=body_of(HUBSPOT_EVENTS * 10))
    assert answer.status_code == 413, answer.text


# Property: any JSON is a lead, no lead, or a NormalisationError -----------------------------

scalars = (
    st.none()
    | st.booleans()
    | st.integers(min_value=-(2**70), max_value=2**70)
    | st.floats(allow_nan=True, allow_infinity=True)
    | st.text(max_size=30)
)
json_values = st.recursive(
    scalars,
    lambda children: (
        st.lists(children, max_size=4) | st.dictionaries(st.text(max_size=12), children, max_size=4)
    ),
    max_leaves=25,
)
# Values a platform might plausibly send, mixed with anything at all: most draws get far
# enough into a normaliser to reach its conversions.
plausible = st.sampled_from(
    [
        "",
        " ",
        "ada@example.com",
        "  GRACE@Example.COM ",
        "1710408600000",
        "2024-03-14T09:30:00Z",
        "2024-03-14 09:30:00",
        "25-50",
        "1000+",
        "250",
        "-3",
        "1e400",
        "true",
        "no",
        "https://www.example.com/demo?utm_source=x&utm_medium=y",
        "www.example.com",
        "PAID_SOCIAL",
        "form_submit",
        "a;b,c",
        "x" * 300,
    ]
) | st.integers(min_value=-(2**64), max_value=2**64)
wild_values = st.one_of(plausible, plausible, scalars, json_values)
clean_values = st.sampled_from(
    [
        None,
        "",
        "Ada",
        "ada@example.com",
        "250",
        "25-50",
        "2024-03-14T09:30:00Z",
        "true",
        "www.example.com",
    ]
)


def payload_strategies(values: st.SearchStrategy[Any]) -> dict[str, st.SearchStrategy[Any]]:
    """Each platform's payload shape with leaves drawn from `values`."""
    ids = st.one_of(st.integers(min_value=0, max_value=10**12), st.text(max_size=8), values)
    hubspot_names = sorted(hubspot_source.PROPERTIES) + sorted(hubspot_source.ACTIVITIES)
    hubspot_event = st.fixed_dictionaries(
        {
            "subscriptionType": st.sampled_from(
                [
                    "contact.creation",
                    "contact.propertyChange",
                    "object.propertyChange",
                    "deal.creation",
                ]
            )
            | values,
            "objectId": ids,
        },
        optional={
            "objectTypeId": st.sampled_from(["0-1", "0-2"]) | values,
            "portalId": ids,
            "eventId": ids,
            "occurredAt": values,
            "attemptNumber": values,
            "propertyName": st.sampled_from(hubspot_names) | values,
            "propertyValue": values,
        },
    )
    hubspot_like = st.lists(hubspot_event | json_values, max_size=5)
    hubspot_record = st.fixed_dictionaries(
        {
            "properties": st.dictionaries(
                st.sampled_from(hubspot_names),
                values | st.fixed_dictionaries({"value": values}),
                max_size=8,
            )
            | values,
        },
        optional={
            "vid": ids,
            "canonical-vid": ids,
            "portal-id": ids,
            "form-submissions": st.lists(
                st.fixed_dictionaries(
                    {}, optional={"timestamp": values, "title": values, "page-url": values}
                )
                | values,
                max_size=2,
            )
            | values,
            "identity-profiles": st.lists(
                st.fixed_dictionaries(
                    {
                        "identities": st.lists(
                            st.fixed_dictionaries(
                                {"type": st.sampled_from(["EMAIL", "LEAD_GUID"]), "value": values}
                            )
                            | values,
                            max_size=2,
                        )
                        | values
                    }
                )
                | values,
                max_size=2,
            )
            | values,
        },
    )
    hubspot_flat = st.dictionaries(st.sampled_from(hubspot_names), values, max_size=8)

    mautic_fields = st.fixed_dictionaries(
        {
            "core": st.dictionaries(
                st.sampled_from(sorted(mautic_source.FIELDS)),
                st.fixed_dictionaries({"value": values}) | values,
                max_size=8,
            )
            | values
        },
        optional={
            group: st.dictionaries(
                st.sampled_from(sorted(mautic_source.FIELDS)),
                st.fixed_dictionaries({"value": values}) | values,
                max_size=4,
            )
            | values
            for group in ("professional", "social", "all")
        },
    )
    mautic_contact = st.fixed_dictionaries(
        {"id": ids, "fields": mautic_fields | st.just([]) | values},
        optional={
            "doNotContact": st.lists(
                st.fixed_dictionaries({"channel": st.sampled_from(["email", "sms"]) | values})
                | values,
                max_size=2,
            )
            | values,
            "utmtags": st.lists(
                st.dictionaries(
                    st.sampled_from([*sorted(mautic_source.UTM_TAGS), "dateAdded"]), values
                ),
                max_size=2,
            )
            | values,
            "tags": st.lists(st.fixed_dictionaries({"tag": values}) | values, max_size=3) | values,
            "stage": st.fixed_dictionaries({"name": values}) | values,
        },
    )
    mautic_entry = st.fixed_dictionaries(
        {"timestamp": values},
        optional={
            "contact": mautic_contact | values,
            "lead": mautic_contact,
            "submission": st.fixed_dictionaries(
                {"lead": mautic_contact | values},
                optional={
                    "results": st.dictionaries(
                        st.sampled_from(sorted(mautic_source.FIELDS)), values
                    )
                    | values,
                    "form": st.fixed_dictionaries({"id": ids, "name": values}) | values,
                    "dateSubmitted": values,
                    "referer": values,
                    "page": values,
                },
            )
            | values,
        },
    )
    mautic_like = st.dictionaries(
        st.sampled_from([*mautic_source.EVENTS, "timestamp", "mautic.email_on_open"]),
        st.lists(mautic_entry | json_values, max_size=3) | values,
        min_size=1,
        max_size=3,
    )
    marketo_like = st.dictionaries(st.sampled_from(sorted(MARKETO)), values, min_size=1)
    generic_like = st.fixed_dictionaries(
        {
            "person": st.dictionaries(
                st.sampled_from(["email", "first_name", "country", "shoe_size"]), values
            )
            | values
        },
        optional={
            "company": st.dictionaries(st.sampled_from(["name", "employees", "domain"]), values)
            | values,
            "source_record_id": ids,
            "lead_key": values,
            "activities": st.lists(
                st.fixed_dictionaries({"type": values, "occurred_at": values}) | values, max_size=2
            )
            | values,
            "custom": st.dictionaries(st.text(max_size=5), values, max_size=3) | values,
        },
    )
    return {
        "generic": generic_like,
        "hubspot": hubspot_like | hubspot_record | hubspot_flat,
        "mautic": mautic_like,
        "marketo": marketo_like,
    }


SOURCES = build_sources()
WILD = payload_strategies(wild_values)
CLEAN = payload_strategies(clean_values)
PAYLOADS = {source: json_values | WILD[source] | CLEAN[source] for source in SOURCE_NAMES}


@settings(
    max_examples=300,
    deadline=None,
    database=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)
@given(data=st.data())
def test_any_json_is_normalised_or_a_normalisation_error(data: st.DataObject) -> None:
    for source in SOURCE_NAMES:
        payload = data.draw(PAYLOADS[source], label=source)
        # What the endpoint would hand over: the payload after a JSON round trip.
        payload = json.loads(json.dumps(payload))
        try:
            leads = SOURCES[source].normalise(payload, datetime(2024, 3, 14, tzinfo=UTC))
        except NormalisationError as exc:
            assert exc.fields and all(entry["field"] and entry["error"] for entry in exc.fields)
        else:
            for lead in leads:
                assert lead.lead.source == source
                lead.lead.model_dump_json()  # publishable
