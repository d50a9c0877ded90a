"""HubSpot: webhook API subscription events and workflow "Send a webhook" contact payloads.

Two shapes arrive at `POST /webhooks/hubspot`, both signed with `X-HubSpot-Signature-v3`:

* The webhooks API sends a JSON **array** of events (`eventId`, `subscriptionId`,
  `portalId`, `occurredAt` in ms, `subscriptionType`, `attemptNumber`, `objectId`, and
  `propertyName`/`propertyValue` on `contact.propertyChange`). Events only name the contact
  and the property that changed, so each contact in the batch becomes one lead carrying
  what its events say, keyed by e-mail when an e-mail change is among them and otherwise
  `hubspot:<objectId>`. HubSpot retries with a higher `attemptNumber`, so a lead's event id
  is derived from its events without that field: a retried batch maps to the same ids.
* A workflow webhook sends one contact **object**: the v1 contact record
  (`{"vid": .., "properties": {"email": {"value": ..}}, "form-submissions": [..]}`), or
  the flat form (`{"properties": {"email": ..}}` or just `{"email": .., "firstname": ..}`).
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any

from baton_router.domain.sources.canonical import (
    Captured,
    LeadDraft,
    fail,
    fingerprint,
    to_text,
)
from baton_runtime.signatures import SignedRequest, verify_hubspot_v3
from baton_schemas import LeadCaptured

NAME = "hubspot"

# HubSpot contact property -> canonical field. Several properties may feed one field; the
# first one present wins (the order here).
PROPERTIES: dict[str, str] = {
    "email": "person.email",
    "firstname": "person.first_name",
    "lastname": "person.last_name",
    "phone": "person.phone",
    "mobilephone": "person.phone",
    "jobtitle": "person.title",
    "hs_persona": "person.persona",
    "hs_language": "person.language",
    "country": "person.country",
    "state": "person.region",
    "city": "person.city",
    "company": "company.name",
    "website": "company.domain",
    "numemployees": "company.employees",
    "annualrevenue": "company.annual_revenue",
    "industry": "company.industry",
    "hs_legal_basis": "consent.legal_basis",
    "hs_email_optout": "consent.email_opt_out",
    "hs_analytics_source": "attribution.channel",
    "hs_analytics_first_url": "attribution.landing_page",
    "hs_analytics_first_referrer": "attribution.referrer",
    "hs_analytics_first_touch_converting_campaign": "attribution.campaign_id",
    "utm_source": "attribution.utm_source",
    "utm_medium": "attribution.utm_medium",
    "utm_campaign": "attribution.utm_campaign",
    "utm_term": "attribution.utm_term",
    "utm_content": "attribution.utm_content",
    "hs_object_id": "source_record_id",
    "lifecyclestage": "custom.lifecycle_stage",
    "hs_lead_status": "custom.lead_status",
    "hubspotscore": "custom.hubspot_score",
    "hs_analytics_source_data_1": "custom.source_detail_1",
    "hs_analytics_source_data_2": "custom.source_detail_2",
}

# Engagement date properties -> (activity type, property holding its detail).
ACTIVITIES: dict[str, tuple[str, str | None]] = {
    "recent_conversion_date": ("form_submit", "recent_conversion_event_name"),
    "first_conversion_date": ("form_submit", "first_conversion_event_name"),
    "hs_email_last_open_date": ("email_open", "hs_email_last_email_name"),
    "hs_email_last_click_date": ("email_click", "hs_email_last_email_name"),
    "hs_sales_email_last_replied": ("email_reply", None),
    "hs_analytics_last_visit_timestamp": ("page_view", "hs_analytics_last_url"),
}

CONTACT_EVENTS = {"contact.creation", "contact.propertyChange", "contact.restore"}
OBJECT_EVENTS = {"object.creation", "object.propertyChange", "object.restore"}
CONTACT_OBJECT_TYPE = "0-1"


def verify(request: SignedRequest, secrets: Sequence[str]) -> str | None:
    verify_hubspot_v3(request, secrets)
    return None  # HubSpot sends no delivery id; event ids come from the events


def normalise(payload: Any, received_at: datetime) -> list[Captured]:
    if isinstance(payload, list):
        return _subscription_events(payload, received_at)
    if isinstance(payload, dict):
        return [Captured(_contact_record(payload, received_at))]
    raise fail("$", "expected an array of events or a contact object")


# Webhooks API subscription events -----------------------------------------------------------


def _is_contact_event(event: dict[str, Any], index: int) -> bool:
    kind = event.get("subscriptionType", event.get("eventType"))
    if not isinstance(kind, str):
        raise fail(f"{index}.subscriptionType", "missing or not a string")
    if kind in CONTACT_EVENTS:
        return True
    return kind in OBJECT_EVENTS and str(event.get("objectTypeId")) == CONTACT_OBJECT_TYPE


def _object_id(event: dict[str, Any], index: int) -> str:
    value = event.get("objectId")
    if isinstance(value, bool) or not isinstance(value, int | str):
        raise fail(f"{index}.objectId", "missing or not an id")
    text = str(value).strip()
    if not text or len(text) > 64 or not text.isascii() or not text.isalnum():
        raise fail(f"{index}.objectId", "not an id")
    return text


def _subscription_events(events: list[Any], received_at: datetime) -> list[Captured]:
    groups: dict[tuple[str, str], list[tuple[int, dict[str, Any]]]] = {}
    for index, event in enumerate(events):
        if not isinstance(event, dict):
            raise fail(str(index), "expected an event object")
        if not _is_contact_event(event, index):
            continue  # deals, companies, deletions, merges: not a captured lead
        portal = event.get("portalId")
        portal_id = str(portal) if isinstance(portal, int | str) else ""
        groups.setdefault((portal_id, _object_id(event, index)), []).append((index, event))

    captured = []
    for (portal_id, object_id), members in groups.items():
        members.sort(key=lambda item: _occurred(item[1]))
        raw = [event for _, event in members]
        draft = LeadDraft(NAME, received_at, raw, identity_field=f"{members[0][0]}.objectId")
        draft.put("source_record_id", object_id, f"{members[0][0]}.objectId")
        if portal_id:
            draft.put("custom.portal_id", portal_id, f"{members[0][0]}.portalId")
        for index, event in members:
            name = event.get("propertyName")
            if isinstance(name, str) and "propertyValue" in event:
                origin = f"{index}.propertyValue"
                value = event["propertyValue"]
                target = PROPERTIES.get(name)
                if target is not None:
                    draft.put(target, value, origin, overwrite=True)
                activity = ACTIVITIES.get(name)
                if activity is not None:
                    draft.activity(activity[0], value, origin)
        # A lead's identity across retries: its events without the attempt counter.
        basis = sorted(
            fingerprint({k: v for k, v in event.items() if k != "attemptNumber"}) for event in raw
        )
        captured.append(Captured(draft.build(), dedupe=fingerprint(basis)))
    return captured


def _occurred(event: dict[str, Any]) -> float:
    value = event.get("occurredAt")
    if isinstance(value, int | float) and not isinstance(value, bool):
        try:
            return float(value)
        except OverflowError:
            return 0.0
    return 0.0


# Workflow contact payloads --------------------------------------------------------------


def _property_value(value: Any, origin: str) -> tuple[Any, str]:
    """v1 properties are {"value": .., "versions": [..]}; flat ones are the value itself."""
    if isinstance(value, dict):
        if "value" in value:
            return value["value"], f"{origin}.value"
        return None, origin
    return value, origin


def _contact_record(record: dict[str, Any], received_at: datetime) -> LeadCaptured:
    properties = record.get("properties")
    if properties is None:
        properties, prefix = record, ""
    elif isinstance(properties, dict):
        prefix = "properties."
    else:
        raise fail("properties", "expected an object")

    draft = LeadDraft(NAME, received_at, record, identity_field=f"{prefix}email")
    values: dict[str, tuple[Any, str]] = {}
    for name, value in properties.items():
        if name in PROPERTIES or name in ACTIVITIES or name in _DETAILS:
            values[name] = _property_value(value, f"{prefix}{name}")
    for name, (value, origin) in values.items():
        target = PROPERTIES.get(name)
        if target is not None:
            draft.put(target, value, origin)
    for name, (kind, detail_name) in ACTIVITIES.items():
        if name in values:
            value, origin = values[name]
            detail = values.get(detail_name, (None, ""))[0] if detail_name else None
            draft.activity(kind, value, origin, _safe_text(detail))

    for key in ("canonical-vid", "vid", "objectId", "id"):
        if key in record and not isinstance(record[key], dict | list):
            draft.put("source_record_id", record[key], key)
            break
    portal_key = "portal-id" if "portal-id" in record else "portalId"
    portal = record.get(portal_key)
    if isinstance(portal, int | str) and not isinstance(portal, bool):
        draft.put("custom.portal_id", str(portal), portal_key)

    if not draft.has("person.email"):
        _email_from_identities(draft, record.get("identity-profiles"))
    _form_submissions(draft, record.get("form-submissions"))
    return draft.build()


_DETAILS = {detail for _, detail in ACTIVITIES.values() if detail}


def _safe_text(value: Any) -> str | None:
    try:
        return to_text(value)
    except ValueError:
        return None


def _email_from_identities(draft: LeadDraft, profiles: Any) -> None:
    if not isinstance(profiles, list):
        return
    for p, profile in enumerate(profiles):
        identities = profile.get("identities") if isinstance(profile, dict) else None
        if not isinstance(identities, list):
            continue
        for i, identity in enumerate(identities):
            if isinstance(identity, dict) and identity.get("type") == "EMAIL":
                origin = f"identity-profiles.{p}.identities.{i}.value"
                draft.put("person.email", identity.get("value"), origin)
                return


def _form_submissions(draft: LeadDraft, submissions: Any) -> None:
    if submissions is None:
        return
    if not isinstance(submissions, list):
        raise fail("form-submissions", "expected an array", "form-submissions must be an array")
    for index, submission in enumerate(submissions):
        if not isinstance(submission, dict):
            continue
        origin = f"form-submissions.{index}"
        title = submission.get("title", submission.get("page-title"))
        draft.activity(
            "form_submit", submission.get("timestamp"), f"{origin}.timestamp", _safe_text(title)
        )
        if index == 0:
            draft.put("attribution.landing_page", submission.get("page-url"), f"{origin}.page-url")
