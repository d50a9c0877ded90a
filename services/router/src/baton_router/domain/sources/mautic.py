"""Mautic: contact identified / updated, and form submission webhooks.

Body: `{"mautic.lead_post_save_new": [{"contact": {...}, "timestamp": "..."}], ...}` —
top-level keys are event types (several may arrive batched), each a list of entries; a
contact (`lead` in older Mautic versions) carries its fields grouped as
`fields.<group>.<alias>.value`. A form submission entry holds `submission` with the
contact under `submission.lead`, the typed values under `submission.results`, the form and
the time it was submitted. Signed with `Webhook-Signature` (base64 HMAC-SHA256 of the raw
body) and no timestamp, so no replay window: a lead's event id is derived from the hash of
its entry (event type, contact, entry timestamp), and a redelivery maps to the same ids.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any

from baton_router.domain.sources.canonical import Captured, LeadDraft, fail, fingerprint
from baton_runtime.signatures import SignedRequest, verify_mautic
from baton_schemas import LeadCaptured

NAME = "mautic"
NEW = "mautic.lead_post_save_new"
UPDATE = "mautic.lead_post_save_update"
FORM = "mautic.form_on_submit"
EVENTS = (NEW, UPDATE, FORM)

# Mautic field alias -> canonical field (core fields, and the usual custom aliases).
FIELDS: dict[str, str] = {
    "email": "person.email",
    "firstname": "person.first_name",
    "lastname": "person.last_name",
    "position": "person.title",
    "phone": "person.phone",
    "mobile": "person.phone",
    "city": "person.city",
    "state": "person.region",
    "country": "person.country",
    "preferred_locale": "person.language",
    "company": "company.name",
    "website": "company.domain",
    "companywebsite": "company.domain",
    "companyindustry": "company.industry",
    "industry": "company.industry",
    "companynumber_of_employees": "company.employees",
    "number_of_employees": "company.employees",
    "companyannual_revenue": "company.annual_revenue",
    "annual_revenue": "company.annual_revenue",
    "utm_source": "attribution.utm_source",
    "utm_medium": "attribution.utm_medium",
    "utm_campaign": "attribution.utm_campaign",
    "utm_term": "attribution.utm_term",
    "utm_content": "attribution.utm_content",
    "points": "custom.mautic_points",
}

UTM_TAGS = {
    "utmSource": "attribution.utm_source",
    "utmMedium": "attribution.utm_medium",
    "utmCampaign": "attribution.utm_campaign",
    "utmTerm": "attribution.utm_term",
    "utmContent": "attribution.utm_content",
    "url": "attribution.landing_page",
    "referer": "attribution.referrer",
}


def verify(request: SignedRequest, secrets: Sequence[str]) -> str | None:
    verify_mautic(request, secrets)
    return None  # no delivery id: entries are deduplicated by their hash


def normalise(payload: Any, received_at: datetime) -> list[Captured]:
    if not isinstance(payload, dict):
        raise fail("$", "expected an object keyed by Mautic event type")
    captured: list[Captured] = []
    for event in EVENTS:
        if event not in payload:
            continue
        entries = payload[event]
        if not isinstance(entries, list):
            raise fail(event, "expected an array of events")
        for index, entry in enumerate(entries):
            origin = f"{event}.{index}"
            if not isinstance(entry, dict):
                raise fail(origin, "expected an event object")
            lead = _entry(event, entry, origin, received_at)
            captured.append(Captured(lead, dedupe=fingerprint({"event": event, "entry": entry})))
    return captured  # other event types (email opens, page hits, deletions) are not leads


def _entry(event: str, entry: dict[str, Any], origin: str, received_at: datetime) -> LeadCaptured:
    submission: dict[str, Any] | None = None
    if event == FORM:
        submission_value = entry.get("submission")
        if not isinstance(submission_value, dict):
            raise fail(f"{origin}.submission", "missing or not an object")
        submission = submission_value
        contact, contact_origin = _contact(submission, f"{origin}.submission")
    else:
        contact, contact_origin = _contact(entry, origin)

    draft = LeadDraft(
        NAME,
        received_at,
        {event: [entry]},
        identity_field=f"{contact_origin}.fields.core.email.value",
    )
    _fields(draft, contact, contact_origin)
    if "id" in contact and not isinstance(contact["id"], dict | list):
        draft.put("source_record_id", contact["id"], f"{contact_origin}.id")
    _consent(draft, contact.get("doNotContact"), f"{contact_origin}.doNotContact")
    _utm_tags(draft, contact.get("utmtags"), f"{contact_origin}.utmtags")
    _tags(draft, contact.get("tags"), f"{contact_origin}.tags")
    stage = contact.get("stage")
    if isinstance(stage, dict):
        draft.put("custom.mautic_stage", stage.get("name"), f"{contact_origin}.stage.name")
    if submission is not None:
        _submission(draft, submission, entry.get("timestamp"), f"{origin}.submission")
    return draft.build()


def _contact(container: dict[str, Any], origin: str) -> tuple[dict[str, Any], str]:
    for key in ("contact", "lead"):
        value = container.get(key)
        if isinstance(value, dict):
            return value, f"{origin}.{key}"
        if value is not None:
            raise fail(f"{origin}.{key}", "expected a contact object")
    raise fail(f"{origin}.contact", "missing")


def _fields(draft: LeadDraft, contact: dict[str, Any], origin: str) -> None:
    groups = contact.get("fields")
    if isinstance(groups, list) and not groups:
        return  # Mautic sends [] when there are no fields
    if not isinstance(groups, dict):
        if groups is None:
            return
        raise fail(f"{origin}.fields", "expected an object of field groups")
    for group_name in ("core", "professional", "personal", "social"):
        group = groups.get(group_name)
        if not isinstance(group, dict):
            continue
        for alias, spec in group.items():
            target = FIELDS.get(alias)
            if target is None:
                continue
            if isinstance(spec, dict):
                draft.put(target, spec.get("value"), f"{origin}.fields.{group_name}.{alias}.value")
            elif spec is not None:
                draft.put(target, spec, f"{origin}.fields.{group_name}.{alias}")
    flat = groups.get("all")  # the API's flat alias -> value view, when present
    if isinstance(flat, dict):
        for alias, value in flat.items():
            target = FIELDS.get(alias)
            if target is not None and not isinstance(value, dict | list):
                draft.put(target, value, f"{origin}.fields.all.{alias}")


def _consent(draft: LeadDraft, do_not_contact: Any, origin: str) -> None:
    """An e-mail entry in `doNotContact` (unsubscribed, bounced, ...) means no opt-in."""
    if not isinstance(do_not_contact, list):
        return
    for index, entry in enumerate(do_not_contact):
        if isinstance(entry, dict) and entry.get("channel") == "email":
            draft.put("consent.email_opt_in", False, f"{origin}.{index}")
            return


def _utm_tags(draft: LeadDraft, tags: Any, origin: str) -> None:
    if not isinstance(tags, list):
        return
    # The latest visit's tags first.
    ordered = sorted(
        ((index, tag) for index, tag in enumerate(tags) if isinstance(tag, dict)),
        key=lambda item: str(item[1].get("dateAdded") or ""),
        reverse=True,
    )
    for index, tag in ordered:
        for key, target in UTM_TAGS.items():
            if key in tag and not isinstance(tag[key], dict | list):
                draft.put(target, tag[key], f"{origin}.{index}.{key}")


def _tags(draft: LeadDraft, tags: Any, origin: str) -> None:
    if not isinstance(tags, list):
        return
    names = [
        tag["tag"] for tag in tags if isinstance(tag, dict) and isinstance(tag.get("tag"), str)
    ]
    if names:
        draft.put("custom.mautic_tags", ",".join(names)[:500], origin)


def _submission(
    draft: LeadDraft, submission: dict[str, Any], fallback_time: Any, origin: str
) -> None:
    results = submission.get("results")
    if isinstance(results, dict):
        for alias, value in results.items():
            target = FIELDS.get(alias)
            if target is not None:
                draft.put(target, value, f"{origin}.results.{alias}")
    form = submission.get("form")
    form_name = form.get("name") if isinstance(form, dict) else None
    if isinstance(form, dict):
        draft.put("custom.mautic_form_id", form.get("id"), f"{origin}.form.id")
    when_origin = f"{origin}.dateSubmitted"
    when = submission.get("dateSubmitted")
    if when in (None, ""):
        when, when_origin = fallback_time, f"{origin.rsplit('.', 1)[0]}.timestamp"
    if when in (None, ""):
        when = draft.received_at
    draft.activity(
        "form_submit", when, when_origin, form_name if isinstance(form_name, str) else None
    )
    draft.put("attribution.landing_page", submission.get("referer"), f"{origin}.referer")
    page = submission.get("page")
    if isinstance(page, dict):
        draft.put("custom.mautic_page", page.get("title"), f"{origin}.page.title")
