"""What the services' OpenAPI documents say about their error answers, so a client reads
from `/openapi.json` every status a route can give and the body it comes with.

Every error a Baton service answers is JSON with a `detail`: a sentence, or FastAPI's list
of problems each naming its field (`loc`) and what is wrong (`msg`). Some add a list of
their own (`fields` for a webhook that cannot be normalised, `problems` for a policy).
"""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, ConfigDict, Field


class Problem(BaseModel):
    """An error answer."""

    model_config = ConfigDict(extra="allow", title="Problem")

    detail: str | list[dict[str, Any]] = Field(
        description="what is wrong: a sentence, or one entry per bad field (`loc`, `msg`)"
    )


DESCRIPTIONS: dict[int, str] = {
    400: "the body cannot be read: not UTF-8, not JSON, or nested too deep",
    401: "no credentials, malformed credentials, or a signature that does not verify",
    403: "the API key is not accepted (or none is configured)",
    404: "not found",
    409: "conflicts with the current state",
    413: "the body is larger than the limit",
    415: "unsupported media type",
    422: "well-formed but invalid; each problem names its field",
    503: "a dependency (database or broker) is unavailable; retry after `Retry-After` seconds",
}

_RETRY_AFTER = {
    "Retry-After": {"description": "seconds to wait before retrying", "schema": {"type": "string"}}
}


def error_responses(*codes: int, **descriptions: str) -> dict[int | str, dict[str, Any]]:
    """`responses=` for a route or router: each status with the `Problem` body. A keyword
    `e404="no such rep"` replaces the default description of that status."""
    responses: dict[int | str, dict[str, Any]] = {}
    for code in codes:
        entry: dict[str, Any] = {
            "model": Problem,
            "description": descriptions.get(f"e{code}", DESCRIPTIONS[code]),
        }
        if code == 503:
            entry["headers"] = _RETRY_AFTER
        responses[code] = entry
    return responses


def json_object(description: str) -> dict[str, Any]:
    """A response entry for a JSON object body (another 2xx of a route, say 201)."""
    return {
        "description": description,
        "content": {"application/json": {"schema": {"type": "object"}}},
    }


def inline_schema(model: type[BaseModel]) -> dict[str, Any]:
    """`model`'s JSON Schema with its `$defs` written in place, for a request body a route
    reads itself (so FastAPI does not register the model); the model must not recurse."""
    schema = model.model_json_schema()
    definitions = schema.pop("$defs", {})

    def resolve(node: Any) -> Any:
        if isinstance(node, dict):
            ref = node.get("$ref")
            if isinstance(ref, str) and ref.startswith("#/$defs/"):
                return resolve(definitions[ref.removeprefix("#/$defs/")])
            return {key: resolve(value) for key, value in node.items()}
        if isinstance(node, list):
            return [resolve(item) for item in node]
        return node

    resolved: dict[str, Any] = resolve(schema)
    return resolved
