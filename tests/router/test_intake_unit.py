"""Unit tests of the webhook normalisation (`baton_router.domain.intake`): no broker, no database."""

from __future__ import annotations

import copy
from datetime import UTC, datetime

import pytest

from baton_router.domain.intake import NormalisationError, lead_key_for, normalise_generic
from baton_schemas import LeadCaptured

RECEIVED = datetime(2025, 3, 14, 9, 30, tzinfo=UTC)


def normalise(payload: object, source: str = "generic") -> LeadCaptured:
    return normalise_generic(payload, source=source, received_at=RECEIVED)


def error_fields(payload: object) -> list[str]:
    with pytest.raises(NormalisationError) as caught:
        normalise(payload)
    assert caught.value.fields, "a NormalisationError must say which field is wrong"
    for entry in caught.value.fields:
        assert set(entry) == {"field", "error"}
        assert entry["error"]
    return [entry["field"] for entry in caught.value.fields]


# lead key --------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "variant", ["ada@example.com", "Ada@Example.COM", "  ADA@EXAMPLE.COM\t", "ada@example.com "]
)
def test_lead_key_comes_from_the_normalised_email(variant: str) -> None:
    reference = normalise({"person": {"email": "ada@example.com"}}).lead_key
    assert normalise({"person": {"email": variant}}).lead_key == reference


def test_different_emails_give_different_keys() -> None:
    one = normalise({"person": {"email": "ada@example.com"}}).lead_key
    other = normalise({"person": {"email": "grace@example.com"}}).lead_key
    assert one != other


def test_the_same_email_is_the_same_lead_whatever_the_source() -> None:
    generic = normalise({"person": {"email": "ada@example.com"}}, source="generic")
    hubspot = normalise({"person": {"email": "ADA@example.com"}}, source="hubspot")
    assert generic.lead_key == hubspot.lead_key


def test_email_wins_over_the_source_record_id() -> None:
    with_id = normalise({"person": {"email": "ada@example.com"}, "source_record_id": "crm-1"})
    without = normalise({"person": {"email": "ada@example.com"}})
    assert with_id.lead_key == without.lead_key
    assert with_id.source_record_id == "crm-1"


def test_key_does_not_carry_the_email_in_clear() -> None:
    key = normalise({"person": {"email": "ada@example.com"}}).lead_key
    assert "ada" not in key and "example.com" not in key
    assert 0 < len(key) <= 200


def test_source_record_id_is_the_fallback_without_email() -> None:
    lead = normalise({"source_record_id": "contact-42"})
    assert lead.lead_key == lead_key_for(None, "generic", "contact-42")
    assert "contact-42" in lead.lead_key
    assert lead.source_record_id == "contact-42"


@pytest.mark.parametrize("blank", ["", "   ", None])
def test_blank_email_falls_back_to_the_source_record_id(blank: str | None) -> None:
    lead = normalise({"person": {"email": blank}, "source_record_id": "contact-42"})
    assert lead.lead_key == normalise({"source_record_id": "contact-42"}).lead_key


def test_record_id_keys_are_scoped_by_source() -> None:
    generic = normalise({"source_record_id": "42"}, source="generic")
    marketo = normalise({"source_record_id": "42"}, source="marketo")
    assert generic.lead_key != marketo.lead_key


@pytest.mark.parametrize(
    "payload",
    [
        {},
        {"person": {"first_name": "Ada"}},
        {"person": {"email": "   "}},
        {"source_record_id": ""},
        {"company": {"name": "Analytical Engines"}},
    ],
)
def test_a_lead_without_email_or_id_is_rejected_naming_the_field(
    payload: dict[str, object],
) -> None:
    assert "person.email" in error_fields(payload)


# wrong types -----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("payload", "field"),
    [
        (
            {"person": {"email": "a@example.com"}, "company": {"employees": "lots"}},
            "company.employees",
        ),
        ({"person": {"email": "a@example.com"}, "company": {"employees": -3}}, "company.employees"),
        (
            {"person": {"email": "a@example.com"}, "company": {"annual_revenue": "big"}},
            "company.annual_revenue",
        ),
        (
            {"person": {"email": "a@example.com"}, "consent": {"email_opt_in": "perhaps"}},
            "consent.email_opt_in",
        ),
        ({"person": {"email": "a@example.com"}, "product_interest": "crm"}, "product_interest"),
        (
            {"person": {"email": "a@example.com"}, "activities": [{"type": "form_submit"}]},
            "activities.0.occurred_at",
        ),
        ({"person": {"email": "a@example.com"}, "custom": {"nested": {"a": 1}}}, "custom.nested"),
        ({"person": {"email": "a@example.com"}, "person_extra": 1}, "person_extra"),
        ({"person": {"email": "a@example.com", "shoe_size": 44}}, "person.shoe_size"),
        ({"source_record_id": 42}, "source_record_id"),
        ({"person": {"email": "a@example.com"}, "lead_key": "k" * 201}, "lead_key"),
    ],
)
def test_wrong_types_are_rejected_naming_the_field(payload: dict[str, object], field: str) -> None:
    fields = error_fields(payload)
    assert any(name == field or name.startswith(f"{field}.") for name in fields), fields


def test_a_body_that_is_not_an_object_is_rejected() -> None:
    for payload in ([{"person": {"email": "a@example.com"}}], "a@example.com", 42, None):
        assert error_fields(payload) == ["$"]


@pytest.mark.parametrize("email", [123, ["a@example.com"], {"address": "a@example.com"}])
def test_an_email_that_is_not_a_string_is_a_normalisation_error(email: object) -> None:
    assert "person.email" in error_fields({"person": {"email": email}})


# server fields and raw -------------------------------------------------------------------


def test_server_fields_cannot_be_overridden_by_the_payload() -> None:
    payload = {
        "person": {"email": "ada@example.com"},
        "source": "forged",
        "received_at": "1999-12-31T23:59:59Z",
        "raw": {"forged": True},
    }
    lead = normalise(payload)
    assert lead.source == "generic"
    assert lead.received_at == RECEIVED
    assert lead.raw == payload  # the whole payload as received, not the forged `raw`


def test_raw_keeps_the_payload_as_received_and_the_payload_is_not_mutated() -> None:
    payload = {
        "person": {"email": "  Ada@Example.com ", "first_name": "Ada", "country": "DE"},
        "company": {"name": "Analytical Engines", "employees": 250},
        "attribution": {"campaign_id": "spring-webinar", "utm_source": "linkedin"},
        "custom": {"budget": 5000, "newsletter": True},
    }
    before = copy.deepcopy(payload)
    lead = normalise(payload)
    assert payload == before
    assert lead.raw == before
    assert "lead_key" not in lead.raw  # derived fields are not written back into raw


def test_canonical_fields_are_carried_over() -> None:
    lead = normalise(
        {
            "person": {"email": "ada@example.com", "title": "CTO"},
            "company": {"name": "Analytical Engines", "employees": 250, "annual_revenue": 1.5e6},
            "attribution": {"campaign_id": "spring-webinar", "channel": "paid_social"},
            "product_interest": ["routing"],
            "activities": [{"type": "demo_request", "occurred_at": "2025-03-14T09:00:00Z"}],
            "custom": {"budget": 5000},
        }
    )
    assert lead.person.title == "CTO"
    assert lead.company.employees == 250
    assert lead.attribution.campaign_id == "spring-webinar"
    assert lead.attribution.channel == "paid_social"
    assert lead.product_interest == ["routing"]
    assert lead.activities[0].occurred_at == datetime(2025, 3, 14, 9, 0, tzinfo=UTC)
    assert lead.custom == {"budget": 5000}


def test_an_explicit_lead_key_is_kept() -> None:
    lead = normalise({"lead_key": "account-7:ada", "person": {"first_name": "Ada"}})
    assert lead.lead_key == "account-7:ada"
