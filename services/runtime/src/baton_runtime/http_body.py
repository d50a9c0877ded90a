"""Reading a request safely: its headers as a signature check sees them, a body of bounded
size, UTF-8, bounded JSON nesting. Every service that takes bodies from outside (webhooks,
CRM feedback) reads them this way, so a client's mistake is a 4xx naming it and never
exhausts memory or the stack."""

from __future__ import annotations

import json
import math
import re
from typing import Any

from fastapi import HTTPException, Request

MAX_DEPTH = 32


def request_headers(request: Request) -> dict[str, str]:
    """Headers by lower-case name; a repeated header's values joined with ", " (RFC 9110)."""
    headers: dict[str, str] = {}
    for raw_name, raw_value in request.scope["headers"]:  # ASGI: names in lower case
        name, value = raw_name.decode("latin-1"), raw_value.decode("latin-1")
        headers[name] = f"{headers[name]}, {value}" if name in headers else value
    return headers


async def read_limited(request: Request, limit: int) -> bytes:
    declared = request.headers.get("content-length")
    if declared is not None and declared.isdigit() and int(declared) > limit:
        raise HTTPException(413, f"body larger than {limit} bytes")
    chunks: list[bytes] = []
    size = 0
    async for chunk in request.stream():
        size += len(chunk)
        if size > limit:
            raise HTTPException(413, f"body larger than {limit} bytes")
        chunks.append(chunk)
    return b"".join(chunks)


def require_utf8(body: bytes) -> str:
    try:
        return body.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise HTTPException(400, f"body is not UTF-8: {exc.reason} at byte {exc.start}") from exc


def parse_json(text: str, max_depth: int = MAX_DEPTH) -> Any:
    try:
        payload = json.loads(text, parse_constant=_not_a_json_number, parse_float=_finite_number)
    except RecursionError as exc:
        raise HTTPException(400, f"JSON nested deeper than {max_depth} levels") from exc
    except ValueError as exc:  # JSONDecodeError; over-long integers
        raise HTTPException(400, f"body is not valid JSON: {exc}") from exc
    # Nesting needs an opening bracket per level: a body with few of them (most bodies)
    # cannot be too deep, and counting is far cheaper than walking the parsed value.
    if text.count("{") + text.count("[") > max_depth and _depth(payload) > max_depth:
        raise HTTPException(400, f"JSON nested deeper than {max_depth} levels")
    # `"\ud800"` is valid JSON but no Unicode character: it could not be written back out
    # as UTF-8 (the event, the database), so it is refused here, naming where it is.
    if _SURROGATE_ESCAPE.search(text):
        _refuse(payload, _SURROGATE, "a lone UTF-16 surrogate (not a Unicode character)")
    return payload


def _not_a_json_number(constant: str) -> Any:
    """Python's JSON reader takes `NaN`, `Infinity` and `-Infinity`; JSON has no such
    numbers. Taken, they became `null` in the published event: the lead silently changed."""
    raise ValueError(f"{constant} is not a JSON number")


def _finite_number(literal: str) -> float:
    """`1e400` is JSON, but beyond a double: it would read as infinity, then be published
    as `null` like `Infinity`."""
    number = float(literal)
    if math.isinf(number):
        raise ValueError(f"{literal[:40]} is beyond the range of a number")
    return number


def refuse_nul(text: str, payload: Any) -> None:
    """400 naming where, when the JSON `text` (parsed: `payload`) holds `"\\u0000"`: valid
    JSON, but PostgreSQL stores no NUL character in text or JSON, so a lead or a feedback
    event holding one was taken (202) and then dead-lettered by the consumer that had to
    store it, never routed. For the doors whose events are stored."""
    if _NUL_ESCAPE.search(text):
        _refuse(payload, _NUL, "a NUL character (\\u0000), which cannot be stored")


def _refuse(payload: Any, pattern: re.Pattern[str], what: str) -> None:
    where = _find(payload, pattern)
    if where is not None:
        where = where if len(where) <= 200 else where[:197] + "..."
        raise HTTPException(400, f"body holds {what} at {where}")


_SURROGATE_ESCAPE = re.compile(r"\\u[dD][89a-fA-F]")
_SURROGATE = re.compile("[\ud800-\udfff]")
_NUL_ESCAPE = re.compile(r"\\u0000")
_NUL = re.compile("\x00")


def _find(value: Any, pattern: re.Pattern[str]) -> str | None:
    """The path (`$.person.name`) of the first string or key `pattern` matches in."""
    stack: list[tuple[Any, str]] = [(value, "$")]
    while stack:
        item, path = stack.pop()
        if isinstance(item, str):
            if pattern.search(item):
                return path
        elif isinstance(item, dict):
            for key, child in item.items():
                if pattern.search(key):
                    return f"{path} (a key)"
                stack.append((child, f"{path}.{key}"))
        elif isinstance(item, list):
            stack.extend((child, f"{path}[{index}]") for index, child in enumerate(item))
    return None


def _depth(value: Any) -> int:
    deepest = 0
    stack: list[tuple[Any, int]] = [(value, 1)]
    while stack:
        item, level = stack.pop()
        if isinstance(item, dict | list):
            deepest = max(deepest, level)
            children = item.values() if isinstance(item, dict) else item
            stack.extend((child, level + 1) for child in children if isinstance(child, dict | list))
    return deepest
