"""The generic door's fast way: a well-formed canonical body is validated straight from its
bytes (`generic.read_json`). Whatever it accepts must be the lead the careful way gives
(`parse_json`, `refuse_nul`, `normalise`), and whatever the careful way refuses or has to
look at closely it must leave to it (None)."""

from __future__ import annotations

import copy
import json
from datetime import UTC, datetime
from typing import Any

import pytest
from fastapi import HTTPException
from hypothesis import given, settings
from hypothesis import strategies as st
from router_support import LEAD

from baton_router.domain.sources import Captured, NormalisationError, build_sources, generic
from baton_runtime.http_body import parse_json, refuse_nul, require_utf8
from baton_schemas import LeadCaptured

RECEIVED = datetime(2026, 11, 24, 9, 30, tzinfo=UTC)
FULL: dict[str, Any] = {
    **copy.deepcopy(LEAD),
    "source_record_id": "crm-42",
    "company": {
        "name": "Acme",
        "domain": "acme.example",
        "employees": 1200,
        "annual_revenue": 3.5e7,
        "industry": "software",
        "country": "DE",
    },
    "activities": [
        {"type": "form_submit", "occurred_at": "2026-11-24T09:30:00Z", "detail": "Demo"},
        {"type": "page_view", "occurred_at": "2026-11-24T09:29:00"},
    ],
    "consent": {"email_opt_in": True, "legal_basis": "consent"},
    "product_interest": ["routing", "sla"],
    "custom": {"lead_score": 55, "vip": True, "ratio": 0.25, "note": "met at the booth", "x": None},
}


def careful(body: bytes) -> list[Captured] | None:
    """The door's careful way; None where it refuses the body (400 or 422)."""
    try:
        text = require_utf8(body)
        payload = parse_json(text)
        refuse_nul(text, payload)
        return build_sources()["generic"].normalise(payload, RECEIVED)
    except (HTTPException, NormalisationError):
        return None


def events(leads: list[Captured]) -> list[Any]:
    return [json.loads(captured.event_json()) for captured in leads]


def assert_same_as_careful(body: bytes) -> list[Captured] | None:
    fast = generic.read_json(body, RECEIVED)
    if fast is not None:
        slow = careful(body)
        assert slow is not None, body
        assert events(fast) == events(slow)
        assert [c.lead.model_copy(update={"raw": None}) for c in slow] == [c.lead for c in fast]
    return fast


def with_changes(**changes: Any) -> bytes:
    document = {**copy.deepcopy(FULL), **changes}
    return json.dumps(document).encode()


@pytest.mark.parametrize(
    "body",
    [
        json.dumps(LEAD).encode(),
        json.dumps(FULL).encode(),
        json.dumps(FULL, indent=2, ensure_ascii=False).encode() + b"\n",
        with_changes(lead_key="crm:explicit-key"),
        with_changes(lead_key=""),  # empty: derived from the e-mail, as the careful way does
        with_changes(person={"first_name": "Zoë"}, source_record_id="r-1"),
        with_changes(company={"employees": 10.0}),  # a whole float is an integer both ways
        # the same key twice: the last one counts, both ways
        json.dumps(FULL).encode()[:-1] + b', "product_interest": ["other"]}',
    ],
)
def test_well_formed_bodies_are_read_straight_and_are_the_careful_ways_leads(body: bytes) -> None:
    fast = assert_same_as_careful(body)
    assert fast is not None
    assert json.loads(fast[0].event_json())["raw"] == json.loads(body)


@pytest.mark.parametrize(
    "body",
    [
        b'{"person": {"email": "a@b.example", "first_name": "x\\u0000"}}',  # NUL: 400
        b'{"person": {"email": "a@b.example", "first_name": "\\ud800"}}',  # no character: 400
        b'{"person": {"email": "a@b.example", "first_name": "\\ud83d\\ude00"}}',  # left to it
        b'{"person": {"email": "a@b.example"}, "company": {"annual_revenue": NaN}}',
        b'{"person": {"email": "a@b.example"}, "company": {"annual_revenue": Infinity}}',
        b'{"person": {"email": "a@b.example"}, "company": {"annual_revenue": 1e400}}',
        b'{"person": {"email": "a@b.example"}, "custom": {"k": -Infinity}}',
        b'{"person": {"email": "a@b.example"}, "custom": {"k": 1e999}}',
        b'{"person": {"email": "a@b.example"}, "source": "hubspot"}',  # server field
        b'{"person": {"email": "a@b.example"}, "raw": {"deep": [[[[1]]]]}}',
        b'{"person": {"email": "a@b.example"}, "received_at": "2020-01-01T00:00:00Z"}',
        b'{"person": {"first_name": "no key"}}',  # 422 naming person.email
        with_changes(person={}, source_record_id="r" * 195),  # key over 200 characters: 422
        with_changes(lead_key="k" * 201),
        with_changes(unknown=1),
        with_changes(company={"employees": "many"}),
        b"[]",
        b'"text"',
        b"\xef\xbb\xbf" + json.dumps(LEAD).encode(),  # BOM
        b'{"person": {"email": "a@b.example"}} trailing',
    ],
)
def test_bodies_the_careful_way_must_look_at_are_left_to_it(body: bytes) -> None:
    assert assert_same_as_careful(body) is None


def float_fields(schema: dict[str, Any], root: dict[str, Any], path: str = "") -> set[str]:
    """Where the JSON Schema allows a number that is not an integer."""
    found: set[str] = set()
    if "$ref" in schema:
        schema = root["$defs"][schema["$ref"].rsplit("/", 1)[1]]
    if schema.get("type") == "number":
        found.add(path)
    for option in schema.get("anyOf", []):
        found |= float_fields(option, root, path)
    for name, child in schema.get("properties", {}).items():
        found |= float_fields(child, root, f"{path}.{name}".lstrip("."))
    if isinstance(schema.get("additionalProperties"), dict):
        found |= float_fields(schema["additionalProperties"], root, f"{path}.*")
    if isinstance(schema.get("items"), dict):
        found |= float_fields(schema["items"], root, f"{path}[]")
    return found


def test_the_finite_check_covers_every_float_field_of_the_canonical_lead() -> None:
    """`read_json` checks these by name; a new float field must be added there."""
    schema = LeadCaptured.model_json_schema()
    fields = float_fields(schema, schema) - {"raw"}
    assert fields == {"company.annual_revenue", "custom.*"}


texts = st.text(max_size=8)
numbers = st.integers() | st.floats() | st.integers(-(10**30), 10**30)
canonical_leads = st.fixed_dictionaries(
    {},
    optional={
        "lead_key": st.none() | texts,
        "source_record_id": st.none() | texts | st.integers(),
        "person": st.fixed_dictionaries(
            {}, optional={"email": st.none() | texts | st.just("Ada@Example.com"), "city": texts}
        ),
        "company": st.fixed_dictionaries(
            {},
            optional={"employees": st.none() | numbers, "annual_revenue": st.none() | numbers},
        ),
        "activities": st.lists(
            st.fixed_dictionaries(
                {
                    "type": texts,
                    "occurred_at": st.datetimes(timezones=st.none() | st.just(UTC)).map(
                        datetime.isoformat
                    )
                    | st.integers(0, 2**33),
                },
                optional={"detail": st.none() | texts},
            ),
            max_size=3,
        ),
        "product_interest": st.lists(texts, max_size=3),
        "custom": st.dictionaries(texts, st.none() | st.booleans() | numbers | texts, max_size=4),
    },
)


@settings(max_examples=400, derandomize=True, database=None, deadline=None)
@given(canonical_leads, st.booleans(), st.sampled_from([None, 2]))
def test_any_canonical_lead_read_straight_is_the_careful_ways(
    document: dict[str, Any], ascii_only: bool, indent: int | None
) -> None:
    assert_same_as_careful(json.dumps(document, ensure_ascii=ascii_only, indent=indent).encode())
