"""Hostile input, property-based: every webhook normaliser and the feedback intake take any
JSON a sender can post and either produce events that can be published and read back, or
raise the module's own typed validation error naming the field (never anything else, which
the endpoint would answer with a 500).

Already covered elsewhere, and not repeated here:

* `tests/router/test_webhook_sources.py::test_any_json_is_normalised_or_a_normalisation_error`:
  arbitrary JSON and loosely platform-shaped payloads, the four sources, the shipped Marketo
  mapping;
* `tests/router/test_sources_unit.py::test_odd_json_is_a_normalisation_error_or_nothing` and
  `::test_extreme_numbers_are_normalisation_errors`: hand-picked odd values.

This module adds:

* near-valid documents: each platform's real payloads (`tests/router/source_payloads.py`)
  with fields removed, replaced by values of the wrong type or shape, wrapped in arrays,
  emptied; a reported field must name a place in the payload the sender sent;
* what is accepted goes through the real envelope: `encode_event`, then the consumer's
  `decode_record` + `parse_data` read it back;
* the intake pipeline from the body's text (`parse_json`) on: JSON escapes that are no
  Unicode character (lone surrogates) included;
* the Marketo source under arbitrary (valid) mappings, and its mapping loader under
  arbitrary and near-valid YAML (`MappingError` naming the file, and the line where known);
* the canonical converters on any JSON value (`Unusable` only);
* feedback: `POST /feedback`'s validation (`HTTPException` 413/422 naming the event's
  index) and the `crm.activity` consumer's decoding of any record value.

Hypothesis runs derandomized without an example database, so every run is the same run.
"""

from __future__ import annotations

import copy
import json
import tempfile
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
import yaml
from attack_support import json_values, near_valid, paths, property_settings, scalars
from fastapi import HTTPException
from hypothesis import given
from hypothesis import strategies as st
from pydantic import ValidationError
from router_support import LEAD
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

from baton_feedback.api.intake import _validated, feedback_event_id
from baton_feedback.config import FeedbackSettings
from baton_router.domain.sources import (
    SOURCE_NAMES,
    Captured,
    MappingError,
    MarketoMapping,
    NormalisationError,
    build_sources,
    canonical,
    generic,
    load_mapping,
)
from baton_router.domain.sources.marketo import MarketoSource
from baton_runtime.http_body import parse_json, refuse_nul, require_utf8
from baton_schemas import CrmFeedback, LeadCaptured, encode_event
from baton_schemas.envelope import DecodedEvent, EnvelopeError, decode_record, parse_data

RECEIVED = datetime(2024, 3, 14, 9, 31, tzinfo=UTC)
SOURCES = build_sources()

PROPERTY = property_settings(max_examples=150)


# --- near-valid documents -----------------------------------------------------------------

GENERIC_FULL = {
    **fresh(LEAD),
    "source_record_id": "crm-42",
    "activities": [
        {"type": "form_submit", "occurred_at": "2024-03-14T09:30:00Z", "detail": "Demo request"},
        {"type": "page_view", "occurred_at": "2024-03-14T09:29:00Z"},
    ],
    "consent": {"email_opt_in": True, "legal_basis": "consent"},
    "product_interest": ["routing", "sla"],
    "custom": {"lead_score": 55, "vip": True, "note": "met at the booth"},
}
VALID: dict[str, list[Any]] = {
    "generic": [fresh(LEAD), GENERIC_FULL],
    "hubspot": [fresh(HUBSPOT_EVENTS), fresh(HUBSPOT_WORKFLOW), fresh(HUBSPOT_FLAT)],
    "mautic": [fresh(MAUTIC_NEW), fresh(MAUTIC_UPDATE_OLD), fresh(MAUTIC_FORM)],
    "marketo": [fresh(MARKETO)],
}


def test_the_valid_documents_are_leads() -> None:
    for source, documents in VALID.items():
        for document in documents:
            assert SOURCES[source].normalise(fresh(document), RECEIVED), source


# --- checks ---------------------------------------------------------------------------------


def names_a_place(payload: Any, field: str) -> bool:
    """Whether `field` (dotted; keys may hold dots themselves, as Mautic's event types do)
    is a place in `payload`, or a missing key of an object or array that is there."""
    if field in ("", "$"):
        return True
    if isinstance(payload, dict):
        for key, child in payload.items():
            if field == key or (
                field.startswith(f"{key}.") and names_a_place(child, field[len(key) + 1 :])
            ):
                return True
        return "." not in field
    if isinstance(payload, list):
        head, _, rest = field.partition(".")
        if head.isdigit() and int(head) < len(payload):
            return not rest or names_a_place(payload[int(head)], rest)
        return not rest
    return False


def check_error(payload: Any, error: NormalisationError) -> None:
    assert type(error) is NormalisationError
    assert str(error)
    assert error.fields, "a NormalisationError names the fields it refuses"
    for entry in error.fields:
        assert entry["field"] and entry["error"], entry
        # A missing identity is reported where it is looked for; anything else where it is.
        if entry["error"] != "missing":
            assert names_a_place(payload, entry["field"]), (entry, payload)


def check_published(source: str, leads: list[Captured]) -> None:
    """Each lead as the webhook publishes it, read back as the router's consumer reads it."""
    for captured in leads:
        lead = captured.lead
        assert lead.source == source
        record = encode_event(lead, topic="leads.captured", source="/baton/router")
        decoded = decode_record(record.key, record.value, record.headers)
        again = parse_data(decoded, LeadCaptured)
        assert again.lead_key == lead.lead_key
        assert record.key == lead.lead_key.encode()


def check(source: str, payload: Any, normalise: Callable[[Any, datetime], list[Captured]]) -> None:
    # What the endpoint hands over: the payload after a JSON round trip.
    payload = json.loads(json.dumps(payload))
    try:
        leads = normalise(copy.deepcopy(payload), RECEIVED)
    except NormalisationError as error:
        check_error(payload, error)
    else:
        check_published(source, leads)


# --- every source: near-valid documents ---------------------------------------------------


@pytest.mark.parametrize("source", SOURCE_NAMES)
def test_near_valid_payloads_are_leads_or_name_the_field(source: str) -> None:
    @PROPERTY
    @given(near_valid(VALID[source]))
    def run(payload: Any) -> None:
        check(source, payload, SOURCES[source].normalise)

    run()


# --- the intake pipeline from the body's text --------------------------------------------

# Text with lone surrogates: `json.dumps` writes them as `\ud800` escapes, valid JSON.
any_text = st.text(max_size=12) | st.tuples(
    st.text(max_size=4), st.integers(0xD800, 0xDFFF), st.text(max_size=4)
).map(lambda parts: parts[0] + chr(parts[1]) + parts[2])
raw_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats() | any_text,
    lambda children: (
        st.lists(children, max_size=3) | st.dictionaries(any_text, children, max_size=3)
    ),
    max_leaves=12,
)


@st.composite
def bodies(draw: st.DrawFn, source: str) -> bytes:
    """A body: a near-valid document with strings anywhere in it (lone surrogates too:
    as `\\ud800` escapes, or as UTF-8-like bytes that are not UTF-8)."""
    document = draw(near_valid(VALID[source]))
    places = [path for path in paths(document) if path]
    if places and isinstance(document, dict | list):
        path = draw(st.sampled_from(places))
        parent = document
        for key in path[:-1]:
            parent = parent[key]
        parent[path[-1]] = draw(raw_values)
    text = json.dumps(document, ensure_ascii=draw(st.booleans()))
    return text.encode("utf-8", "surrogatepass")


@pytest.mark.parametrize("source", SOURCE_NAMES)
def test_the_intake_pipeline_refuses_with_4xx_or_publishes(source: str) -> None:
    """The body as the endpoint reads it: UTF-8 and JSON (400), the normaliser (422), then
    the record must encode: a string the event cannot carry (a lone surrogate) is refused
    at the door, never a 500 at publish."""

    @PROPERTY
    @given(bodies(source))
    def run(body: bytes) -> None:
        try:
            payload = parse_json(require_utf8(body))
        except HTTPException as exc:
            assert exc.status_code == 400, exc
            reasons = ("surrogate", "not UTF-8", "is not a JSON number", "beyond the range")
            assert any(reason in str(exc.detail) for reason in reasons), exc.detail
            return
        try:
            leads = SOURCES[source].normalise(payload, RECEIVED)
        except NormalisationError as error:
            check_error(payload, error)
        else:
            check_published(source, leads)

    run()


def test_a_generic_body_read_straight_is_the_careful_ways_lead() -> None:
    """The generic door reads a well-formed body straight from its bytes
    (`generic.read_json`); for any body, that gives the event the careful way (`parse_json`,
    then `normalise`) gives, or leaves the body to it."""
    assert generic.read_json(json.dumps(GENERIC_FULL).encode(), RECEIVED) is not None

    @PROPERTY
    @given(bodies("generic"))
    def run(body: bytes) -> None:
        fast = generic.read_json(body, RECEIVED)
        if fast is None:
            return
        text = require_utf8(body)
        payload = parse_json(text)
        refuse_nul(text, payload)
        slow = SOURCES["generic"].normalise(payload, RECEIVED)
        assert [json.loads(c.event_json()) for c in fast] == [
            json.loads(c.event_json()) for c in slow
        ]

    run()


def test_numbers_json_does_not_have_are_refused() -> None:
    """Regression: Python's reader took NaN and Infinity, and read 1e400 as infinity; the
    lead was published with null there (pydantic writes no NaN) and answered 202."""
    for text, named in [
        ('{"a": NaN}', "NaN"),
        ('{"a": [Infinity]}', "Infinity"),
        ('{"a": -Infinity}', "-Infinity"),
        ('{"a": 1e400}', "1e400"),
        ('{"a": -1.5e999}', "-1.5e999"),
    ]:
        with pytest.raises(HTTPException) as caught:
            parse_json(text)
        assert caught.value.status_code == 400
        assert named in str(caught.value.detail), caught.value.detail
    assert parse_json('{"a": 1e308, "b": -0.0, "c": "NaN"}') == {"a": 1e308, "b": -0.0, "c": "NaN"}


def test_a_lone_surrogate_is_refused_naming_where_it_is() -> None:
    """Regression: `"\\ud800"` is valid JSON but no character; the lead it reached could not
    be encoded as UTF-8, so the webhook answered 500 after normalising it."""
    for text, where in [
        ('{"person": {"email": "a@b.example", "first_name": "\\ud800x"}}', "$.person.first_name"),
        ('{"custom": {"\\udfff": 1}}', "$.custom (a key)"),
        ('[{"a": ["\\uDBFF"]}]', "$[0].a[0]"),
    ]:
        with pytest.raises(HTTPException) as caught:
            parse_json(text)
        assert caught.value.status_code == 400
        assert str(caught.value.detail).endswith(f"at {where}"), caught.value.detail
    # A surrogate pair is one character; an escaped backslash is no escape at all.
    assert parse_json('{"a": "\\ud83d\\ude00", "b": "\\\\ud800"}') == {"a": "😀", "b": "\\ud800"}


# --- Marketo: any mapping, and the mapping loader ---------------------------------------

KEYS = ["email", "lead.email", "a", "a.b", "a.0", "0", " ", ".", "x.y.z"]
keys = st.sampled_from(KEYS) | st.lists(st.sampled_from(KEYS), max_size=3)
TARGETS = [*sorted(canonical.CONVERTERS), "custom.score", "custom.a.b"]
mappings = st.fixed_dictionaries(
    {
        "fields": st.dictionaries(st.sampled_from(TARGETS), keys, max_size=6),
        "naive_time_zone": st.sampled_from(["UTC", "America/Chicago", "Asia/Kathmandu"]),
        "activities": st.lists(
            st.fixed_dictionaries(
                {},
                optional={
                    "type": st.sampled_from(["form_submit", "web_visit"]),
                    "type_from": st.sampled_from(KEYS),
                    "occurred_at": keys,
                    "detail": keys,
                    "when": st.sampled_from(KEYS),
                },
            ),
            max_size=3,
        ),
    },
    optional={"record_id": keys, "delivery_id": st.sampled_from(KEYS)},
).map(MarketoMapping.model_validate)
nested_payloads = st.recursive(
    scalars,
    lambda children: (
        st.lists(children, max_size=3)
        | st.dictionaries(st.sampled_from([*KEYS, "", "b", "lead", "y"]), children, max_size=5)
    ),
    max_leaves=15,
)


@PROPERTY
@given(mappings, st.dictionaries(st.sampled_from([*KEYS, "", "b", "lead"]), nested_payloads))
def test_marketo_under_any_mapping_is_a_lead_or_names_the_field(
    mapping: MarketoMapping, payload: dict[str, Any]
) -> None:
    check("marketo", payload, MarketoSource(mapping).normalise)


def test_marketo_without_the_activity_date_takes_the_receipt_time() -> None:
    """Regression: the shipped mapping's activity defaults to when Baton received it, but
    that default (a datetime) was refused as `activities.0: expected a string` (422)."""
    payload = fresh(MARKETO)
    del payload["activityDate"]
    [captured] = SOURCES["marketo"].normalise(payload, RECEIVED)
    [activity] = captured.lead.activities
    assert (activity.type, activity.occurred_at) == ("form_submit", RECEIVED)


def test_mautic_form_without_any_time_takes_the_receipt_time() -> None:
    """Regression: a form submission without `dateSubmitted` or entry `timestamp` falls back
    to the receipt time, which was refused as `...timestamp: expected a string` (422)."""
    payload = fresh(MAUTIC_FORM)
    for entry in payload["mautic.form_on_submit"]:
        entry.pop("timestamp", None)
        entry["submission"].pop("dateSubmitted", None)
    [captured] = SOURCES["mautic"].normalise(payload, RECEIVED)
    assert [a.occurred_at for a in captured.lead.activities] == [RECEIVED]


def load_mapping_text(text: str) -> MarketoMapping:
    with tempfile.TemporaryDirectory() as directory:
        path = Path(directory) / "mapping.yaml"
        path.write_text(text, encoding="utf-8")
        try:
            return load_mapping(str(path))
        except MappingError as exc:
            assert str(path) in str(exc), exc  # the message names the file
            raise


SHIPPED_MAPPING = yaml.safe_load(
    (Path(canonical.__file__).parent / "marketo_default.yaml").read_text(encoding="utf-8")
)
yaml_documents = st.recursive(
    st.none()
    | st.booleans()
    | st.integers()
    | st.floats(allow_nan=False)
    | st.text(max_size=20)
    | st.dates().map(str),
    lambda children: (
        st.lists(children, max_size=3)
        | st.dictionaries(
            st.sampled_from([*SHIPPED_MAPPING, "fields", "x"]) | st.text(max_size=8),
            children,
            max_size=4,
        )
    ),
    max_leaves=15,
)
mapping_texts = (
    st.text(max_size=120)
    | yaml_documents.map(lambda data: yaml.safe_dump(data, allow_unicode=True))
    | near_valid([SHIPPED_MAPPING]).map(lambda data: yaml.safe_dump(data, allow_unicode=True))
    | st.sampled_from(
        [
            "a: 2024-02-30",
            "version: 1\nfields:\n  person.email: [email, !!float x]\n",
            "fields: {person.email: !!int 0x}",
            "a: " + "[" * 600 + "]" * 600,
            "&a [*a, *a]",
            "fields: !!python/object:os.system {}",
        ]
    )
)


@PROPERTY
@given(mapping_texts)
def test_a_marketo_mapping_loads_or_is_a_mapping_error_naming_the_file(text: str) -> None:
    try:
        mapping = load_mapping_text(text)
    except MappingError:
        return
    assert isinstance(mapping, MarketoMapping)


@pytest.mark.parametrize(
    ("text", "line"),
    [
        ("version: 1\nsecret_header: X-Token\nrecord_id: 2024-02-30\n", 3),
        ("version: 1\nfields:\n  person.email: [email, !!float x]\n", 3),
        ("fields: {person.email: !!int 0x}", 1),
    ],
)
def test_an_unconvertible_yaml_value_is_a_mapping_error_naming_the_line(
    text: str, line: int
) -> None:
    """Regression: PyYAML's constructors raise plain ValueErrors (an impossible date, a bad
    `!!float`), which escaped `load_mapping` as themselves rather than a MappingError."""
    with pytest.raises(MappingError) as caught:
        load_mapping_text(text)
    assert f"mapping.yaml:{line}: a value is not usable" in str(caught.value)


@pytest.mark.parametrize(
    "text",
    [
        "fields: {person.email: ''}",
        "fields: {person.email: [email, '']}",
        "record_id: ''",
        "activities: [{type: form_submit, when: ''}]",
    ],
)
def test_an_empty_body_key_in_a_mapping_is_refused(text: str) -> None:
    """Regression: an empty key was taken, and a lead it left without an identity was
    refused naming the field `` (nothing)."""
    with pytest.raises(MappingError, match="at least 1 character"):
        load_mapping_text(text)


def test_a_mapping_nested_beyond_the_stack_is_a_mapping_error() -> None:
    """Regression: it escaped as a RecursionError."""
    with pytest.raises(MappingError, match="nested too deeply"):
        load_mapping_text("a: " + "[" * 600 + "]" * 600)


# --- the canonical converters ---------------------------------------------------------------

CONVERTERS: dict[str, Callable[[Any], Any]] = {
    **{
        f"to_{name}": getattr(canonical, f"to_{name}")
        for name in (
            "text",
            "number",
            "count",
            "bool",
            "datetime",
            "domain",
            "channel",
            "list",
            "custom",
        )
    },
}


@PROPERTY
@given(st.sampled_from(sorted(CONVERTERS)), json_values)
def test_each_converter_returns_or_raises_unusable(name: str, value: Any) -> None:
    try:
        CONVERTERS[name](value)
    except canonical.Unusable as exc:
        assert type(exc) is canonical.Unusable and str(exc)


def test_to_datetime_takes_a_datetime() -> None:
    """The receipt time a source passes as the default time of an activity."""
    naive = datetime(2024, 3, 14, 9, 30)
    assert canonical.to_datetime(naive) == naive.replace(tzinfo=UTC)
    assert canonical.to_datetime(RECEIVED) == RECEIVED
    with pytest.raises(canonical.Unusable, match="out of range"):
        canonical.to_datetime(datetime(2300, 1, 1, tzinfo=UTC))


# --- generic: errors name the sender's fields ----------------------------------------------


@pytest.mark.parametrize(
    ("payload", "fields"),
    [
        # Regression: named `person.email` (missing) when `person` itself was the mistake.
        ({"person": "ada@example.com"}, ["person"]),
        ({"person": ["ada@example.com"], "lead_key": "k-1"}, ["person"]),
        # Regression: a value fitting no member of a union was reported once per member,
        # under pydantic's tags: `custom.note.str`, `custom.note.int`, ...
        ({"person": {"email": "ada@example.com"}, "custom": {"note": [1]}}, ["custom.note"]),
        ({"person": {"email": "ada@example.com"}, "custom": {"n": {"k": 1}}}, ["custom.n"]),
        ({"lead_key": "k-1", "activities": [{"type": "call"}]}, ["activities.0.occurred_at"]),
    ],
)
def test_generic_errors_name_the_field_as_sent(payload: dict[str, Any], fields: list[str]) -> None:
    with pytest.raises(NormalisationError) as caught:
        SOURCES["generic"].normalise(payload, RECEIVED)
    assert [entry["field"] for entry in caught.value.fields] == fields


# --- feedback: POST /feedback's validation, and the crm.activity consumer's decoding ------

AT = "2025-03-14T09:00:00+00:00"
FEEDBACK_VALID: list[dict[str, Any]] = [
    {
        "crm_event_id": "call-1",
        "lead_key": "lead-1",
        "kind": "activity",
        "occurred_at": AT,
        "actor_id": "rep-1",
        "activity": {"type": "call", "direction": "outbound", "outcome": "connected"},
    },
    {
        "crm_event_id": "dispo-1",
        "crm_record_id": "0031x",
        "kind": "disposition",
        "occurred_at": AT,
        "disposition": {"status": "rejected", "reason_code": "spam", "note": "bot"},
    },
    {
        "crm_event_id": "stage-1",
        "lead_key": "lead-1",
        "kind": "stage_change",
        "occurred_at": AT,
        "stage": "sales_qualified",
    },
    {
        "crm_event_id": "deal-1",
        "lead_key": "lead-1",
        "kind": "deal_closed",
        "occurred_at": AT,
        "deal": {"outcome": "won", "amount": 12000, "currency": "EUR"},
    },
]
REASONS = FeedbackSettings().reject_reasons
MAX_BATCH = 5
feedback_payloads = (
    json_values
    | near_valid(FEEDBACK_VALID)
    | st.lists(near_valid(FEEDBACK_VALID) | json_values, min_size=0, max_size=MAX_BATCH + 1)
)


@PROPERTY
@given(feedback_payloads)
def test_feedback_is_taken_whole_or_refused_naming_each_event(payload: Any) -> None:
    payload = json.loads(json.dumps(payload))
    try:
        events = _validated(payload, MAX_BATCH, REASONS)
    except HTTPException as exc:
        assert exc.status_code in (413, 422), exc
        if isinstance(exc.detail, list):  # one entry per problem: ["body", index, field...]
            count = len(payload) if isinstance(payload, list) else 1
            for problem in exc.detail:
                assert problem["loc"][0] == "body" and 0 <= problem["loc"][1] < count
                assert problem["msg"]
        else:
            assert exc.detail
        return
    assert len(events) == (len(payload) if isinstance(payload, list) else 1)
    for event in events:  # published to crm.activity, read back by the consumer
        record = encode_event(
            event,
            topic="crm.activity",
            source="/baton/feedback",
            event_id=feedback_event_id(event.crm_event_id),
        )
        decoded = decode_record(record.key, record.value, record.headers)
        assert parse_data(decoded, CrmFeedback) == event


record_values = (
    st.binary(max_size=64)
    | json_values.map(lambda value: json.dumps(value).encode())
    | near_valid(FEEDBACK_VALID).map(lambda value: json.dumps(value).encode())
    | st.sampled_from([b"[" * 5000 + b"]" * 5000, b"9" * 5000, b'"\\ud800"', b"\xff\xfe"])
)


@PROPERTY
@given(record_values)
def test_a_crm_activity_record_is_an_event_or_a_typed_error(value: bytes) -> None:
    decoded = DecodedEvent(
        id="e-1",
        type=CrmFeedback.event_type,
        source="/crm",
        time=RECEIVED,
        key="lead-1",
        data=value,
        traceparent=None,
    )
    try:
        event = parse_data(decoded, CrmFeedback)
    except EnvelopeError as exc:
        assert str(exc).startswith("value is not valid JSON")
    except ValidationError as exc:
        assert exc.errors()
    else:
        assert isinstance(event, CrmFeedback)
