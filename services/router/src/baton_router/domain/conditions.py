"""The condition language policies use in scoring, tier and routing rules.

    {field: company.employees, gte: 200}
    {field: person.country, in: [DE, AT, CH]}
    {all: [...]} / {any: [...]} / {not: {...}}

A missing field matches nothing except `exists: false` and `ne`/`not_in`.
"""

from __future__ import annotations

import operator
import re
from collections.abc import Callable
from functools import cached_property
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, model_validator

from baton_router.domain.facts import Facts

OPERATORS = ("eq", "ne", "in", "not_in", "gt", "gte", "lt", "lte", "contains", "matches", "exists")


class Condition(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True, populate_by_name=True)

    field: str | None = None
    eq: Any = None
    ne: Any = None
    in_: list[Any] | None = Field(default=None, alias="in")
    not_in: list[Any] | None = None
    gt: float | None = None
    gte: float | None = None
    lt: float | None = None
    lte: float | None = None
    contains: str | None = None
    matches: str | None = None
    exists: bool | None = None
    all: list[Condition] | None = None
    any: list[Condition] | None = None
    not_: Condition | None = Field(default=None, alias="not")

    @model_validator(mode="after")
    def _one_shape(self) -> Condition:
        combinators = [name for name in ("all", "any", "not_") if getattr(self, name) is not None]
        operators = [name for name in self._set_operators()]
        if combinators and (operators or self.field):
            raise ValueError("a condition is either a combinator (all/any/not) or a field test")
        if len(combinators) > 1:
            raise ValueError("use one of all/any/not per condition")
        if not combinators:
            if not self.field:
                raise ValueError("a field test needs `field`")
            if len(operators) != 1:
                raise ValueError(
                    f"a field test needs exactly one operator of {', '.join(OPERATORS)}"
                )
        if self.matches is not None:
            try:
                re.compile(self.matches)
            except re.error as exc:
                raise ValueError(f"invalid regular expression: {exc}") from exc
        return self

    def _set_operators(self) -> list[str]:
        names = {"in": "in_"}
        return [
            op
            for op in OPERATORS
            if op in self.model_fields_set or names.get(op, op) in self.model_fields_set
        ]

    @cached_property
    def predicate(self) -> Predicate:
        """Compiled on first use and kept: conditions are evaluated for every lead."""
        return compile_condition(self)

    def describe(self) -> str:
        return self.description

    @cached_property
    def description(self) -> str:
        """Worked out once: decisions quote their rule's condition for every lead."""
        if self.all is not None:
            return " and ".join(f"({part.describe()})" for part in self.all)
        if self.any is not None:
            return " or ".join(f"({part.describe()})" for part in self.any)
        if self.not_ is not None:
            return f"not ({self.not_.describe()})"
        op = self._set_operators()[0]
        value = getattr(self, "in_" if op == "in" else op)
        return f"{self.field} {op} {value!r}"


def evaluate(condition: Condition, facts: Facts) -> bool:
    return condition.predicate(facts)


Predicate = Callable[[Facts], bool]
_COMPARE: dict[str, Callable[[Any, Any], bool]] = {
    "gt": operator.gt,
    "gte": operator.ge,
    "lt": operator.lt,
    "lte": operator.le,
}


def _norm(value: Any) -> Any:
    return value.lower() if isinstance(value, str) else value


def _present(value: Any) -> bool:
    return value is not None and value != [] and value != ""


def _is_number(value: Any) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool)


def compile_condition(condition: Condition) -> Predicate:
    """The condition as a function of the facts, with its operands prepared once."""
    if condition.all is not None:
        parts = [part.predicate for part in condition.all]
        return lambda facts: all(part(facts) for part in parts)
    if condition.any is not None:
        options = [part.predicate for part in condition.any]
        return lambda facts: any(option(facts) for option in options)
    if condition.not_ is not None:
        negated = condition.not_.predicate
        return lambda facts: not negated(facts)
    assert condition.field is not None
    return _field_test(condition, condition.field, condition._set_operators()[0])


def _field_test(condition: Condition, field: str, op: str) -> Predicate:
    if op == "exists":
        wanted = condition.exists
        return lambda facts: _present(facts.get(field)) == wanted
    if op == "ne":
        other = _norm(condition.ne)
        return lambda facts: bool(_norm(facts.get(field)) != other)
    if op == "not_in":
        excluded = {_norm(item) for item in condition.not_in or []}
        return lambda facts: _norm(facts.get(field)) not in excluded
    if op == "eq":
        expected = _norm(condition.eq)
        return lambda facts: (
            (value := facts.get(field)) is not None and bool(_norm(value) == expected)
        )
    if op == "in":
        allowed = {_norm(item) for item in condition.in_ or []}
        return lambda facts: (
            (value := facts.get(field)) is not None
            and any(
                _norm(item) in allowed for item in (value if isinstance(value, list) else [value])
            )
        )
    if op == "contains":
        needle = (condition.contains or "").lower()
        return lambda facts: (
            (value := facts.get(field)) is not None
            and (
                any(needle == _norm(item) for item in value)
                if isinstance(value, list)
                else needle in str(value).lower()
            )
        )
    if op == "matches":
        pattern = re.compile(condition.matches or "", re.IGNORECASE)
        return lambda facts: (
            (value := facts.get(field)) is not None and (pattern.search(str(value)) is not None)
        )
    compare, bound = _COMPARE[op], getattr(condition, op)
    return lambda facts: _is_number(value := facts.get(field)) and compare(value, bound)
