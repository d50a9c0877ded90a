"""The condition language policies use in scoring, tier and routing rules.

    {field: company.employees, gte: 200}
    {field: person.country, in: [DE, AT, CH]}
    {all: [...]} / {any: [...]} / {not: {...}}

A missing field matches nothing except `exists: false` and `ne`/`not_in`.
"""

from __future__ import annotations

import re
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, PrivateAttr, model_validator

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

    # The field test's operator, worked out once at validation: evaluation is on the hot path.
    _operator: str | None = PrivateAttr(default=None)

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
            self._operator = operators[0]
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

    def describe(self) -> str:
        if self.all is not None:
            return " and ".join(f"({part.describe()})" for part in self.all)
        if self.any is not None:
            return " or ".join(f"({part.describe()})" for part in self.any)
        if self.not_ is not None:
            return f"not ({self.not_.describe()})"
        op = self._operator or self._set_operators()[0]
        value = getattr(self, "in_" if op == "in" else op)
        return f"{self.field} {op} {value!r}"


def _norm(value: Any) -> Any:
    return value.lower() if isinstance(value, str) else value


def evaluate(condition: Condition, facts: Facts) -> bool:
    if condition.all is not None:
        return all(evaluate(part, facts) for part in condition.all)
    if condition.any is not None:
        return any(evaluate(part, facts) for part in condition.any)
    if condition.not_ is not None:
        return not evaluate(condition.not_, facts)
    assert condition.field is not None
    value = facts.get(condition.field)
    op = condition._operator or condition._set_operators()[0]
    if op == "exists":
        return (value is not None and value != [] and value != "") == condition.exists
    if op == "ne":
        return bool(_norm(value) != _norm(condition.ne))
    if op == "not_in":
        return _norm(value) not in {_norm(item) for item in condition.not_in or []}
    if value is None:
        return False
    if op == "eq":
        return bool(_norm(value) == _norm(condition.eq))
    if op == "in":
        values = value if isinstance(value, list) else [value]
        allowed = {_norm(item) for item in condition.in_ or []}
        return any(_norm(item) in allowed for item in values)
    if op == "contains":
        needle = (condition.contains or "").lower()
        if isinstance(value, list):
            return any(needle == _norm(item) for item in value)
        return needle in str(value).lower()
    if op == "matches":
        return re.search(condition.matches or "", str(value), re.IGNORECASE) is not None
    if not isinstance(value, int | float) or isinstance(value, bool):
        return False
    bound = getattr(condition, op)
    outcome: bool = {
        "gt": value > bound,
        "gte": value >= bound,
        "lt": value < bound,
        "lte": value <= bound,
    }[op]
    return outcome
