"""Policy documents: loading, validation errors with line and field, reload, the CLI."""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap
from pathlib import Path
from typing import Any

import pytest
import yaml
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from baton_router.domain.policy import (
    Policy,
    PolicyError,
    PolicyStore,
    default_policy,
    default_policy_text,
    load_policy,
    load_policy_file,
)
from baton_router.policy_cli import main

MINIMAL = """\
version: "7"
scoring:
  fit:
    - name: big
      when: {field: company.employees, gte: 1000}
      points: 20
  grades:
    - {grade: A, min_fit: 20}
    - {grade: B, min_fit: 0}
  mql: {grades: [A], min_engagement: 10}
tiers:
  - name: hot
    when: {field: mql, eq: true}
  - name: nurture
"""


def problems(text: str, source: str = "p.yaml") -> list[str]:
    with pytest.raises(PolicyError) as caught:
        load_policy(textwrap.dedent(text), source)
    assert caught.value.problems, "a PolicyError always lists its problems"
    assert str(caught.value) == "\n".join(str(problem) for problem in caught.value.problems)
    return [str(problem) for problem in caught.value.problems]


def test_minimal_policy_loads() -> None:
    policy = load_policy(MINIMAL, "p.yaml")
    assert policy.version == "7"
    assert [tier.name for tier in policy.tiers] == ["hot", "nurture"]
    assert policy.routing.fallback_queue == "unassigned"


def test_default_policy_loads_and_is_realistic() -> None:
    policy = default_policy()
    assert isinstance(policy, Policy)
    assert policy.version
    assert [grade.grade for grade in policy.scoring.grades] == ["A", "B", "C", "D"]
    assert [tier.name for tier in policy.tiers] == ["hot", "warm", "nurture"]
    assert policy.scoring.half_life_days == 14
    assert {"gmail.com", "gmx.de", "web.de", "proton.me"} <= set(policy.scoring.free_mail_domains)
    assert policy.scoring.free_mail_points < 0
    activities = {rule.activity: rule for rule in policy.scoring.engagement}
    assert activities["demo_request"].points > activities["page_view"].points
    assert activities["page_view"].max_count is not None
    names = {rule.name for rule in policy.scoring.fit}
    assert {"student", "competitor"} <= names
    targets = {rule.pool or rule.queue for rule in policy.routing.rules}
    assert {"emea-enterprise", "na-inbound", "apac", "nurture"} <= targets
    assert policy.routing.fallback_queue == "unassigned"
    assert default_policy() is default_policy()  # parsed once


def test_default_policy_keeps_country_codes_as_strings() -> None:
    """YAML 1.1 would read Norway's `NO` as false; the loader follows YAML 1.2."""
    text = default_policy_text()
    assert " NO," in text
    policy = load_policy(text, "default.yaml")
    emea = policy.routing.rules[1].when.all
    assert emea is not None
    assert "NO" in str(emea)


def test_yaml_1_2_scalars() -> None:
    policy = load_policy(
        MINIMAL.replace(
            "{field: company.employees, gte: 1000}",
            "{field: person.country, in: [NO, on, yes, 2025-03-01, '10:30', 010]}",
        ),
        "p.yaml",
    )
    condition = policy.scoring.fit[0].when
    assert condition.in_ == ["NO", "on", "yes", "2025-03-01", "10:30", 10]


def test_integer_version_is_text_and_a_float_version_must_be_quoted() -> None:
    assert load_policy(MINIMAL.replace('version: "7"', "version: 7"), "p").version == "7"
    [problem] = problems(MINIMAL.replace('version: "7"', "version: 1.10"))
    assert problem.startswith("p.yaml:1:1: version: quote the version")


def test_merge_keys_and_anchors() -> None:
    text = MINIMAL.replace(
        "tiers:\n  - name: hot\n    when: {field: mql, eq: true}\n",
        "tiers:\n  - &hot {name: hot, when: {field: mql, eq: true}}\n"
        "  - {<<: *hot, name: warm, description: merged}\n",
    )
    policy = load_policy(text, "p.yaml")
    assert [tier.name for tier in policy.tiers] == ["hot", "warm", "nurture"]
    assert policy.tiers[1].when == policy.tiers[0].when


# --- errors name the line and the field ----------------------------------------------------


def test_wrong_type() -> None:
    [problem] = problems(MINIMAL.replace("points: 20", "points: twenty"))
    assert problem.startswith("p.yaml:6:7: scoring.fit[0].points: Input should be a valid number")


def test_wrong_type_inside_a_condition() -> None:
    [problem] = problems(MINIMAL.replace("gte: 1000", "gte: many"))
    assert problem.startswith("p.yaml:5:40: scoring.fit[0].when.gte: Input should be a valid")


def test_unknown_field_suggests_the_right_one() -> None:
    [problem] = problems(MINIMAL.replace("  grades:\n", "  half_life: 3\n  grades:\n", 1))
    assert problem.startswith("p.yaml:7:3: scoring.half_life: unknown field 'half_life'")
    assert "did you mean 'half_life_days'?" in problem


def test_unknown_field_in_a_condition() -> None:
    [problem] = problems(MINIMAL.replace("{field: mql, eq: true}", "{feild: mql, eq: true}"))
    assert problem.startswith("p.yaml:13:12: tiers[0].when.feild: unknown field 'feild'")
    assert "did you mean 'field'?" in problem


def test_missing_required_field() -> None:
    [problem] = problems(
        MINIMAL.replace("mql: {grades: [A], min_engagement: 10}", "mql: {grades: [A]}")
    )
    assert problem == "p.yaml:10:3: scoring.mql.min_engagement: required field missing"


def test_missing_top_level_section() -> None:
    text = MINIMAL[: MINIMAL.index("tiers:")]
    [problem] = problems(text)
    assert problem == "p.yaml:1:1: tiers: required field missing"


def test_bad_regex_points_at_the_pattern() -> None:
    [problem] = problems(
        MINIMAL.replace(
            "{field: company.employees, gte: 1000}", "{field: person.title, matches: '(vp'}"
        )
    )
    assert problem.startswith(
        "p.yaml:5:35: scoring.fit[0].when.matches: invalid regular expression"
    )


def test_duplicate_key() -> None:
    text = MINIMAL.replace("      points: 20\n", "      points: 20\n      points: 30\n")
    [problem] = problems(text)
    assert problem == (
        "p.yaml:7:7: scoring.fit[0].points: duplicate key 'points' (first defined at line 6)"
    )


def test_duplicate_key_is_reported_with_other_problems() -> None:
    text = MINIMAL.replace("      points: 20\n", "      points: 20\n      points: 30\n")
    text = text.replace("min_engagement: 10", "min_engagement: ten")
    found = problems(text)
    assert len(found) == 2
    assert found[0].startswith("p.yaml:7:7: scoring.fit[0].points: duplicate key")
    assert found[1].startswith("p.yaml:11:")
    assert "scoring.mql.min_engagement" in found[1]


def test_grades_not_descending() -> None:
    [problem] = problems(MINIMAL.replace("{grade: B, min_fit: 0}", "{grade: B, min_fit: 30}"))
    assert problem.startswith("p.yaml:9:18: scoring.grades[1].min_fit: grades must be listed")
    assert "'B' (30) is not below 'A' (20)" in problem


def test_mql_names_an_unknown_grade() -> None:
    [problem] = problems(MINIMAL.replace("grades: [A]", "grades: [A, Z]"))
    assert problem == "p.yaml:10:21: scoring.mql.grades[1]: unknown grade 'Z' (grades are A, B)"


def test_duplicate_names_point_at_the_repeat() -> None:
    text = MINIMAL.replace(
        "  - name: nurture\n", "  - name: hot\n    when: {field: grade, eq: B}\n  - name: nurture\n"
    )
    [problem] = problems(text)
    assert problem == "p.yaml:14:5: tiers[1].name: duplicate name 'hot' (also tiers[0])"


def test_last_tier_is_the_default() -> None:
    text = MINIMAL.replace(
        "  - name: nurture\n", "  - name: nurture\n    when: {field: grade, eq: B}\n"
    )
    [problem] = problems(text)
    assert problem.startswith("p.yaml:15:5: tiers[1].when: the last tier is the default")


def test_only_the_last_tier_may_omit_when() -> None:
    text = MINIMAL.replace("  - name: hot\n    when: {field: mql, eq: true}\n", "  - name: hot\n")
    text += "  - name: never\n"
    first, second = problems(text)
    assert first.startswith("p.yaml:12:5: tiers[0].name: only the last tier may omit `when`")
    assert second.startswith("p.yaml:13:5: tiers[1].name: only the last tier may omit `when`")


def test_routing_rule_needs_one_target() -> None:
    text = (
        MINIMAL
        + "routing:\n  rules:\n    - {name: r, when: {field: tier, eq: hot}, pool: a, queue: b}\n"
    )
    [problem] = problems(text)
    assert problem.startswith("p.yaml:17:7: routing.rules[0]: a routing rule sends to exactly one")


def test_invalid_yaml_syntax() -> None:
    [problem] = problems("version: '1'\nscoring:\n  fit: [\n  grades: x\n")
    assert problem.startswith("p.yaml:5:1: invalid YAML: expected ',' or ']'")
    assert "flow sequence at line 3" in problem
    [problem] = problems("version: '1'\nscoring: fit: x\n")
    assert problem == "p.yaml:2:13: invalid YAML: mapping values are not allowed here"


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("", "p.yaml:1:1: the document is empty"),
        ("# only a comment\n", "p.yaml:1:1: the document is empty"),
        ("- a\n- b\n", "p.yaml:1:1: Input should be a valid dictionary"),
        ("version: !!binary aGVsbG8=\n", "p.yaml:1:10: version: unsupported YAML tag"),
        ("a: &a [*a]\n", "p.yaml:1:4: a[0]: recursive alias"),
        ("a: .nan\n", "p.yaml:1:4: a: numbers must be finite"),
        ("? [a]\n: b\n", "p.yaml:1:3: mapping keys must be plain names"),
        (
            "a: 1\n---\nb: 2\n",
            "p.yaml:2:1: invalid YAML: expected a single document in the stream, but found another",
        ),
        ("a: \x07\n", "p.yaml:1:4: invalid character"),
    ],
)
def test_malformed_documents(text: str, expected: str) -> None:
    found = problems(text)
    assert found[0].startswith(expected), found


def test_alias_bomb_is_refused() -> None:
    lines = ['a0: &a0 ["lol", "lol", "lol", "lol", "lol", "lol", "lol", "lol", "lol"]']
    for level in range(1, 8):
        refs = ", ".join([f"*a{level - 1}"] * 9)
        lines.append(f"a{level}: &a{level} [{refs}]")
    found = problems("\n".join(lines) + "\n")
    assert "aliases expand too far" in found[0]


def test_every_problem_is_reported_at_once() -> None:
    text = MINIMAL.replace("points: 20", "points: x").replace("gte: 1000", "gte: y")
    text = text.replace("  grades:\n", "  bogus: 1\n  grades:\n", 1)
    found = problems(text)
    assert [problem.split(": ")[1] for problem in found] == [
        "scoring.fit[0].when.gte",
        "scoring.fit[0].points",
        "scoring.bogus",
    ]


def test_problem_fields() -> None:
    with pytest.raises(PolicyError) as caught:
        load_policy(MINIMAL.replace("points: 20", "points: x"), "p.yaml")
    [problem] = caught.value.problems
    assert (problem.source, problem.line, problem.column, problem.path) == (
        "p.yaml",
        6,
        7,
        "scoring.fit[0].points",
    )
    assert isinstance(caught.value, ValueError)


def test_load_policy_file(tmp_path: Path) -> None:
    path = tmp_path / "policy.yaml"
    path.write_text(MINIMAL, encoding="utf-8")
    assert load_policy_file(path).version == "7"
    path.write_text(MINIMAL.replace("points: 20", "points: x"), encoding="utf-8")
    with pytest.raises(PolicyError, match=rf"^{path}:6:7: scoring.fit\[0\].points"):
        load_policy_file(path)
    with pytest.raises(PolicyError, match="cannot read"):
        load_policy_file(tmp_path / "missing.yaml")
    path.write_bytes(b"version: \xff\n")
    with pytest.raises(PolicyError, match="cannot read"):
        load_policy_file(path)


# --- reload without restart ----------------------------------------------------------------


def test_store_reloads_atomically_and_keeps_the_old_policy_on_error(tmp_path: Path) -> None:
    store = PolicyStore(default_policy(), "default")
    assert store.current() is default_policy()
    path = tmp_path / "policy.yaml"
    path.write_text(MINIMAL, encoding="utf-8")
    loaded = store.reload_from(path)
    assert store.current() is loaded
    assert store.version == "7"
    assert store.loaded().source == os.fspath(path)

    path.write_text(MINIMAL.replace('"7"', '"8"').replace("points: 20", "points: x"), "utf-8")
    with pytest.raises(PolicyError):
        store.reload_from(path)
    assert store.current() is loaded
    assert store.version == "7"

    with pytest.raises(PolicyError):
        store.reload_from_text("version: [", "db")
    assert store.current() is loaded
    assert store.reload_from_text(MINIMAL.replace('"7"', '"9"'), "db").version == "9"
    assert store.loaded().source == "db"


# --- baton policy check --------------------------------------------------------------------


def test_cli_check_ok(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    path = tmp_path / "policy.yaml"
    path.write_text(MINIMAL, encoding="utf-8")
    assert main(["policy", "check", str(path)]) == 0
    assert capsys.readouterr().out == (
        f"{path}: ok (version 7, 1 fit rules, 2 tiers, 0 routing rules)\n"
    )


def test_cli_check_reports_every_file(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    good, bad = tmp_path / "good.yaml", tmp_path / "bad.yaml"
    good.write_text(MINIMAL, encoding="utf-8")
    bad.write_text(MINIMAL.replace("points: 20", "points: x"), encoding="utf-8")
    assert main(["policy", "check", str(bad), str(good)]) == 1
    lines = capsys.readouterr().out.splitlines()
    assert lines[0].startswith(f"{bad}:6:7: scoring.fit[0].points: Input should be a valid number")
    assert lines[1] == f"{bad}: invalid (1 problem)"
    assert lines[2].startswith(f"{good}: ok (version 7")


def test_cli_usage_errors(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as exited:
        main(["policy", "check"])
    assert exited.value.code == 2
    with pytest.raises(SystemExit) as exited:
        main([])
    assert exited.value.code == 2


def test_cli_prints_the_default(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["policy", "default"]) == 0
    assert load_policy(capsys.readouterr().out, "stdout") == default_policy()


def test_cli_as_a_process(tmp_path: Path) -> None:
    bad = tmp_path / "bad.yaml"
    bad.write_text("version: '1'\nversion: '2'\n", encoding="utf-8")
    shipped = Path(__file__).parents[2] / "services/router/src/baton_router/policies/default.yaml"
    result = subprocess.run(
        [
            sys.executable,
            "-m",
            "baton_router.policy_cli",
            "policy",
            "check",
            str(shipped),
            str(bad),
        ],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert result.returncode == 1, result.stderr
    out = result.stdout.splitlines()
    assert out[0].startswith(f"{shipped}: ok (version ")
    assert f"{bad}:2:1: version: duplicate key 'version' (first defined at line 1)" in out


# --- property: any YAML-able data gives a Policy or a PolicyError --------------------------

scalars = st.none() | st.booleans() | st.integers() | st.floats() | st.text(max_size=12)
names = st.sampled_from(
    [
        "version",
        "scoring",
        "tiers",
        "routing",
        "fit",
        "grades",
        "mql",
        "name",
        "when",
        "field",
        "points",
        "grade",
        "min_fit",
        "engagement",
        "activity",
        "all",
        "any",
        "not",
        "in",
        "matches",
        "pool",
        "queue",
        "rules",
        "gte",
        "eq",
        "max_count",
        "half_life_days",
    ]
) | st.text(max_size=8)
documents = st.recursive(
    scalars,
    lambda children: st.lists(children, max_size=4) | st.dictionaries(names, children, max_size=5),
    max_leaves=30,
)


def _valid_skeleton(draw: Any) -> dict[str, Any]:
    base: dict[str, Any] = yaml.safe_load(MINIMAL)
    path: list[Any] = []
    node: Any = base
    while isinstance(node, dict | list) and node and draw(st.booleans()):
        key = draw(st.sampled_from(list(node) if isinstance(node, dict) else range(len(node))))
        path.append(key)
        node = node[key]
    replacement = draw(documents)
    if not path:
        return {"version": "1", **(replacement if isinstance(replacement, dict) else {})}
    target: Any = base
    for key in path[:-1]:
        target = target[key]
    target[path[-1]] = replacement
    return base


@st.composite
def mutated_policies(draw: Any) -> dict[str, Any]:
    return _valid_skeleton(draw)


def _check(data: Any) -> None:
    text = yaml.safe_dump(data, allow_unicode=True)
    try:
        load_policy(text, "h.yaml")
    except PolicyError as exc:
        assert exc.problems
        assert all(problem.source == "h.yaml" for problem in exc.problems)


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(documents)
def test_arbitrary_yaml_data_raises_only_policy_error(data: Any) -> None:
    _check(data)


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(mutated_policies())
def test_mutated_policies_raise_only_policy_error(data: Any) -> None:
    _check(data)


@settings(max_examples=300, deadline=None)
@given(st.text(max_size=200))
def test_arbitrary_text_raises_only_policy_error(text: str) -> None:
    try:
        load_policy(text, "h.yaml")
    except PolicyError as exc:
        assert exc.problems


# --- the sla: section (the SLA monitor's terms, checked with the rest) ---------------------

SLA = """\
sla:
  tiers:
    hot: {target: 5m, clock: wall, warning: {before: 2m}}
  default: {target: 1h30m, warning: {at_percent: 75}}
  escalation:
    - {after: 0m, action: notify}
    - {after: 15m, action: reassign}
  manager_queue: {queue: managers, after_reassignments: 2}
"""


def test_sla_section_loads_with_compact_durations() -> None:
    sla = load_policy(MINIMAL + SLA, "p.yaml").sla
    assert sla is not None
    hot = sla.target_for("hot")
    assert hot is not None and hot.target.total_seconds() == 300 and hot.clock == "wall"
    assert sla.target_for("nurture") == sla.target_for(None) == sla.default
    assert sla.default is not None and sla.default.target.total_seconds() == 5400
    assert sla.default.clock == "business"
    assert [rung.after.total_seconds() for rung in sla.escalation] == [0, 900]
    assert default_policy().sla is not None


def test_sla_section_errors_name_the_line() -> None:
    assert problems(MINIMAL + SLA.replace("hot: {", "hott: {")) == [
        "p.yaml:17:5: sla.tiers.hott: no tier named 'hott' (tiers: hot, nurture)"
    ]
    [problem] = problems(MINIMAL + SLA.replace("before: 2m", "before: 9m"))
    assert problem.startswith("p.yaml:17:5: sla.tiers.hot: ")
    assert "before < target" in problem
    [problem] = problems(MINIMAL + SLA.replace("at_percent: 75", "at_percent: 75, before: 1m"))
    assert "exactly one of `before` and `at_percent`" in problem
    [problem] = problems(MINIMAL + SLA.replace("after: 15m", "after: soon"))
    assert problem.startswith("p.yaml:21:8: sla.escalation[1].after: "), problem
    [problem] = problems(MINIMAL + SLA.replace("after: 0m", "after: 20m"))
    assert "rungs must be in order" in problem
    [problem] = problems(MINIMAL + SLA + "  calendar: {time_zone: Mars/Olympus}\n")
    assert "unknown IANA time zone 'Mars/Olympus'" in problem
    [problem] = problems(MINIMAL + SLA.replace("target: 5m", "target: 0s"))
    assert "longer than zero" in problem
