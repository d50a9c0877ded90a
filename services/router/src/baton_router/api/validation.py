"""Shared pieces of the admin APIs: closed request models, text that PostgreSQL can store,
and 422 answers in FastAPI's own shape (`{"detail": [{"loc": [...], "msg": ...}]}`)."""

from __future__ import annotations

import unicodedata
from collections.abc import Sequence
from typing import Annotated, Any

from fastapi import Request
from fastapi.exceptions import RequestValidationError
from pydantic import AfterValidator, BaseModel, ConfigDict, StringConstraints
from sqlalchemy.ext.asyncio import AsyncEngine

from baton_runtime.app_state import runtime_of

ID_PATTERN = r"^[A-Za-z0-9][A-Za-z0-9._:@+-]{0,199}$"
"""Rep ids and pool names: what is safe in a URL path and a log line."""


class Closed(BaseModel):
    """Request bodies: unknown fields are an error, never silently dropped."""

    model_config = ConfigDict(extra="forbid", allow_inf_nan=False)


def unstorable(value: str) -> str | None:
    """Why PostgreSQL (or a log line) cannot take `value`, if it cannot: NUL and other
    control characters, and lone surrogates (not encodable as UTF-8)."""
    for index, char in enumerate(value):
        category = unicodedata.category(char)
        if category == "Cs":
            return f"invalid character (lone surrogate) at position {index}"
        if category == "Cc" and char not in "\t\n\r":
            return f"control character U+{ord(char):04X} at position {index}"
    return None


def _storable(value: str) -> str:
    problem = unstorable(value)
    if problem is not None:
        raise ValueError(problem)
    return value


def _single_line(value: str) -> str:
    if any(char in value for char in "\t\n\r"):
        raise ValueError("must be a single line")
    return value


Text = Annotated[
    str,
    StringConstraints(strip_whitespace=True, min_length=1, max_length=200),
    AfterValidator(_storable),
    AfterValidator(_single_line),
]
"""A short, single-line, non-empty label."""


def find_unstorable(
    value: Any, path: tuple[str | int, ...] = ()
) -> tuple[tuple[str | int, ...], str] | None:
    """The first string (key or value) in a JSON value that cannot be stored, with why."""
    stack: list[tuple[Any, tuple[str | int, ...]]] = [(value, path)]
    while stack:
        item, where = stack.pop()
        if isinstance(item, str):
            problem = unstorable(item)
            if problem is not None:
                return where, problem
        elif isinstance(item, dict):
            for key, child in item.items():
                problem = unstorable(str(key))
                if problem is not None:
                    return (*where, str(key)), f"field name: {problem}"
                stack.append((child, (*where, str(key))))
        elif isinstance(item, list):
            stack.extend((child, (*where, index)) for index, child in enumerate(item))
    return None


def invalid(
    *errors: tuple[Sequence[str | int], str], kind: str = "value_error"
) -> RequestValidationError:
    """A 422 naming each field: `invalid((("body", "members", 1, "rep_id"), "unknown rep"))`."""
    return RequestValidationError(
        [
            {"type": kind, "loc": tuple(loc), "msg": message, "input": None}
            for loc, message in errors
        ]
    )


def engine(request: Request) -> AsyncEngine:
    return runtime_of(request).engine
