"""Hostile input, property-based: the policy loaders. The router's `load_policy` takes any
document and either gives a `Policy` or raises `PolicyError` whose every problem names the
file and the line (never another exception, which `PUT /policy` would answer with a 500);
the `sla:` section the router announces is read back by the SLA monitor unchanged, from
the policy topic and from its own table (`SlaPolicy`, a pydantic model: `ValidationError`).

Already covered, and not repeated here (`tests/router/test_policy_loader.py`):
`test_arbitrary_yaml_data_raises_only_policy_error` (any YAML-able data),
`test_mutated_policies_raise_only_policy_error` (a small policy with one place replaced),
`test_arbitrary_text_raises_only_policy_error` (any short text); they check that a
`PolicyError` is raised, not where its problems point.

This module adds: near-valid versions of the shipped default policy and of the router
tests' policy (places removed, repeated, wrapped, emptied, replaced by wrong values,
durations and regular expressions included) and of its text (lines dropped, repeated,
re-indented, cut, characters inserted), every problem carrying its line; the `sla:`
section alone under any JSON; and the round trip of every loadable `sla:` section through
`baton.policy.activated.v1` and the SLA monitor's table.
"""

from __future__ import annotations

import json
import math
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
import yaml
from attack_support import EDGE_STRINGS, json_values, near_valid, property_settings, scalars
from hypothesis import given
from hypothesis import strategies as st
from pydantic import ValidationError
from router_support import TEST_POLICY

from baton_router.domain.policy import Policy, PolicyError, default_policy_text, load_policy
from baton_schemas import PolicyActivated, encode_event
from baton_schemas.envelope import decode_record, parse_data
from baton_schemas.sla_policy import SlaPolicy, format_duration

SOURCE = "hostile.yaml"
DEFAULT_TEXT = default_policy_text()
DEFAULT = yaml.safe_load(DEFAULT_TEXT)
SMALL = yaml.safe_load(TEST_POLICY)

# Values that mean something somewhere in a policy: a field, a tier, a pool, a zone, a
# duration, a pattern, a condition.
POLICY_STRINGS = [
    "company.employees",
    "person.title",
    "tier",
    "hot",
    "warm",
    "nurture",
    "inbound",
    "unassigned",
    "A",
    "notify",
    "reassign",
    "wall",
    "business",
    "call",
    "08:00",
    "25:00",
    "17:00",
]
policy_values = (
    json_values
    | st.sampled_from(POLICY_STRINGS + EDGE_STRINGS)
    | st.sampled_from(
        [
            {"field": "company.employees", "gte": "x"},
            {"field": "person.title", "matches": "("},
            {"all": []},
            {"any": [{}]},
            {"not": None},
            {"target": "-5m"},
            {"target": "0.000001s", "clock": "wall"},
            {"after": "-1m", "action": "notify"},
            {"before": "99999999999999999999d"},
            {"weekday": 7, "start": "09:00", "end": "17:00"},
        ]
    )
)


class _Dumper(yaml.SafeDumper):
    """Writes non-finite floats as YAML's .nan/.inf, which the loader must refuse."""


def _float(dumper: yaml.SafeDumper, value: float) -> yaml.ScalarNode:
    if math.isnan(value):
        text = ".nan"
    elif math.isinf(value):
        text = ".inf" if value > 0 else "-.inf"
    else:
        text = repr(value)
    return dumper.represent_scalar("tag:yaml.org,2002:float", text)


_Dumper.add_representer(float, _float)


def dump(data: Any) -> str:
    return yaml.dump(data, Dumper=_Dumper, allow_unicode=True, sort_keys=False)


def load_or_problems(text: str) -> Policy | None:
    """The policy, or None after checking that each problem names the file and the line."""
    try:
        return load_policy(text, SOURCE)
    except PolicyError as exc:
        assert type(exc) is PolicyError
        assert exc.problems
        lines = text.count("\n") + 2
        for problem in exc.problems:
            assert problem.source == SOURCE and problem.message, problem
            assert problem.line is not None and 1 <= problem.line <= lines, (problem, text)
            assert str(problem).startswith(f"{SOURCE}:{problem.line}:{problem.column}: ")
        return None


def announced_and_read_back(policy: Policy) -> None:
    """The router announces the `sla:` section on the policy topic; the SLA monitor parses
    the record and keeps the section in its table as JSON, which it validates again."""
    event = PolicyActivated(
        version=policy.version, activated_at=datetime.now(UTC), source=SOURCE, sla=policy.sla
    )
    record = encode_event(event, topic="policy.events", source="/baton/router")
    received = parse_data(decode_record(record.key, record.value, record.headers), PolicyActivated)
    assert received == event
    if received.sla is not None:
        stored = json.loads(received.sla.model_dump_json())  # the table's JSONB column
        assert SlaPolicy.model_validate(stored) == policy.sla


@property_settings(max_examples=80)
@given(near_valid([DEFAULT], policy_values))
def test_the_shipped_policy_damaged_loads_or_names_the_line(data: Any) -> None:
    policy = load_or_problems(dump(data))
    if policy is not None:
        announced_and_read_back(policy)


@property_settings(max_examples=200)
@given(near_valid([SMALL], policy_values))
def test_a_small_policy_damaged_loads_or_names_the_line(data: Any) -> None:
    policy = load_or_problems(dump(data))
    if policy is not None:
        announced_and_read_back(policy)


@st.composite
def damaged_texts(draw: st.DrawFn) -> str:
    lines = draw(st.sampled_from([TEST_POLICY, DEFAULT_TEXT])).splitlines(keepends=True)
    for _ in range(draw(st.integers(min_value=1, max_value=3))):
        index = draw(st.integers(min_value=0, max_value=len(lines) - 1))
        operation = draw(st.sampled_from(["drop", "repeat", "indent", "dedent", "insert", "cut"]))
        line = lines[index]
        if operation == "drop":
            del lines[index]
        elif operation == "repeat":
            lines.insert(index, line)
        elif operation == "indent":
            lines[index] = "  " + line
        elif operation == "dedent":
            lines[index] = line[2:] if line.startswith("  ") else line
        elif operation == "insert":
            at = draw(st.integers(min_value=0, max_value=len(line)))
            char = draw(
                st.sampled_from([":", "-", "{", "[", "&a ", "*a", "!!", "'", '"', "\t", "#"])
            )
            lines[index] = line[:at] + char + line[at:]
        else:
            lines[index] = line[: draw(st.integers(min_value=0, max_value=len(line)))]
            del lines[index + 1 :]
        if not lines:
            lines = ["\n"]
    return "".join(lines)


@property_settings(max_examples=60)
@given(damaged_texts())
def test_a_damaged_policy_text_loads_or_names_the_line(text: str) -> None:
    policy = load_or_problems(text)
    if policy is not None:
        announced_and_read_back(policy)


# --- the sla: section, alone ----------------------------------------------------------------

SLA = SMALL["sla"] | {
    "qualifying_activities": ["call", "email"],
    "calendar": {
        "time_zone": "Europe/Berlin",
        "working_hours": [{"weekday": 0, "start": "09:00", "end": "17:00"}],
        "holidays": {"country": "DE", "region": "BE"},
    },
    "escalation": [{"after": "0m", "action": "notify"}, {"after": "15m", "action": "reassign"}],
    "manager_queue": {"queue": "managers", "after_reassignments": 2},
}


@property_settings(max_examples=200)
@given(json_values | near_valid([SLA], policy_values))
def test_an_sla_section_is_terms_or_a_validation_error_naming_the_field(data: Any) -> None:
    """What the SLA monitor does with a section from the topic or its table."""
    data = json.loads(json.dumps(data))
    try:
        sla = SlaPolicy.model_validate(data)
    except ValidationError as exc:
        assert exc.errors() and all("loc" in error and error["msg"] for error in exc.errors())
        return
    assert SlaPolicy.model_validate_json(sla.model_dump_json()) == sla


durations = st.timedeltas(min_value=timedelta(0), max_value=timedelta(days=999_999_999))


@property_settings(max_examples=300)
@given(durations)
def test_a_duration_written_out_reads_back_the_same(value: timedelta) -> None:
    """Regression: `format_duration` wrote `1e-06s` (and `-1h55m` for -5m), which pydantic
    cannot parse, so the SLA monitor dead-lettered the policy event the router announced."""
    terms = SlaPolicy.model_validate({"escalation": [{"after": value, "action": "notify"}]})
    assert terms.escalation[0].after == value
    assert SlaPolicy.model_validate_json(terms.model_dump_json()) == terms


@property_settings(max_examples=300)
@given(scalars | st.from_regex(r"\A(\d{1,12}(\.\d{1,8})?[dhms]){1,4}\Z"))
def test_a_duration_is_a_timedelta_or_a_validation_error(value: Any) -> None:
    try:
        terms = SlaPolicy.model_validate({"default": {"target": value}})
    except ValidationError as exc:
        assert [error["loc"][:2] for error in exc.errors()] == [("default", "target")]
        return
    assert terms.default is not None and terms.default.target > timedelta(0)


@pytest.mark.parametrize(
    ("value", "text"),
    [
        (timedelta(microseconds=1), "0.000001s"),
        (timedelta(seconds=3600, microseconds=10), "1h0.00001s"),
        (timedelta(days=2, minutes=1), "48h1m"),
        (timedelta(0), "0s"),
    ],
)
def test_durations_are_written_in_whole_microseconds(value: timedelta, text: str) -> None:
    assert format_duration(value) == text


def _problems(text: str) -> list[str]:
    with pytest.raises(PolicyError) as caught:
        load_policy(text, SOURCE)
    return [str(problem) for problem in caught.value.problems]


def _line_of(text: str, fragment: str) -> int:
    return text[: text.index(fragment)].count("\n") + 1


def test_a_duration_too_large_is_a_problem_on_its_line() -> None:
    """Regression: `99999999999999999999d` overflowed `timedelta` inside a validator and
    escaped `load_policy` as an OverflowError (a 500 from `PUT /policy`)."""
    text = TEST_POLICY.replace("{target: 5m, clock: wall}", "{target: 99999999999999999999d}")
    [problem] = _problems(text)
    line = _line_of(text, "hot: {target: 9")
    assert problem.startswith(f"{SOURCE}:{line}:") and "duration too large" in problem, problem


def test_a_negative_duration_is_a_problem_on_its_line() -> None:
    """Regression: `after: -300` loaded, but was announced as `-1h55m`, which the SLA
    monitor could not read (the JSON Schema says durations are not negative)."""
    text = TEST_POLICY + "  escalation:\n    - {after: -300, action: notify}\n"
    [problem] = _problems(text)
    line = _line_of(text, "- {after: -300")
    assert problem.startswith(f"{SOURCE}:{line}:") and "cannot be negative" in problem, problem
