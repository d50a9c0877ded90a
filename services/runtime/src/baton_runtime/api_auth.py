"""Bearer API keys for the services' own APIs (the router's admin APIs, the SLA monitor's
numbers).

Keys come from the service's `API_KEYS` setting (`ROUTER_API_KEYS`,
`SLA_MONITOR_API_KEYS`, ...: `{"name": "key"}`); the name of the matching key is the actor
an audit log records. A missing or malformed `Authorization` header is 401
(with `WWW-Authenticate: Bearer`), a well-formed but unknown key 403, and with no keys
configured every admin call is 403. Keys are compared in constant time.

Routers built with `admin_router()` check the key before the request body is read or
parsed, so an unauthenticated caller never gets a validation answer (or makes the
service buffer a large body); `require_api_key` is the same check as a dependency.
"""

from __future__ import annotations

import hashlib
import hmac
import json
from collections.abc import Callable, Coroutine, Mapping
from typing import Annotated, Any

from fastapi import APIRouter, Depends, HTTPException, Request, Response
from fastapi.encoders import jsonable_encoder
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from fastapi.routing import APIRoute
from fastapi.security import HTTPBearer
from pydantic import ValidationError
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.types import Message

from baton_runtime.openapi import error_responses

MAX_ADMIN_BODY_BYTES = 2 * 1024 * 1024
"""Policy documents (also inside a simulation request) are at most 1,000,000 characters."""

_ACTOR = "baton_api_actor"
bearer_scheme = HTTPBearer(auto_error=False, description="<SERVICE>_API_KEYS")
"""The bearer scheme, for a route's OpenAPI document (it checks nothing itself)."""
_bearer_scheme = bearer_scheme


def _challenge(detail: str, error: str | None = None) -> HTTPException:
    value = "Bearer" if error is None else f'Bearer error="{error}"'
    return HTTPException(401, detail, headers={"WWW-Authenticate": value})


def _digest(value: str) -> bytes:
    # Hashing first makes every comparison the same length, so timing says nothing
    # about the length of a configured key either.
    return hashlib.sha256(value.encode("utf-8", "surrogatepass")).digest()


def match_key(token: str, keys: Mapping[str, str]) -> str | None:
    """The name of the key equal to `token`; every key is compared, in constant time."""
    presented = _digest(token)
    found: str | None = None
    for name, key in keys.items():
        if key and hmac.compare_digest(presented, _digest(key)) and found is None:
            found = name
    return found


def authenticate(request: Request) -> str:
    """The actor for this request, or HTTPException 401/403."""
    cached = request.scope.get(_ACTOR)
    if isinstance(cached, str):
        return cached
    settings = request.app.state.settings
    keys: Mapping[str, str] = settings.api_keys
    if not any(keys.values()):
        prefix = type(settings).model_config.get("env_prefix", "")
        raise HTTPException(403, f"no API keys configured ({prefix}API_KEYS)")
    header = request.headers.get("authorization")
    if header is None:
        raise _challenge("missing Authorization header; send 'Authorization: Bearer <key>'")
    scheme, _, token = header.strip().partition(" ")
    token = token.strip()
    if scheme.lower() != "bearer" or not token or any(ch.isspace() for ch in token):
        raise _challenge(
            "malformed Authorization header; expected 'Bearer <key>'", "invalid_request"
        )
    actor = match_key(token, keys)
    if actor is None:
        raise HTTPException(403, "API key not accepted")
    request.scope[_ACTOR] = actor
    return actor


async def require_api_key(
    request: Request,
    _credentials: Annotated[Any, Depends(_bearer_scheme)],  # the scheme, for OpenAPI
) -> str:
    """FastAPI dependency: the name of the caller's API key (the audit actor)."""
    return authenticate(request)


class SafeJSONResponse(JSONResponse):
    """JSON in ASCII: a lone surrogate in a rejected input cannot break the answer."""

    def render(self, content: Any) -> bytes:
        return json.dumps(content, ensure_ascii=True, separators=(",", ":")).encode("ascii")


def validation_errors(exc: RequestValidationError | ValidationError) -> list[dict[str, Any]]:
    """FastAPI's error list without the rejected inputs (they can be large, or not
    encodable): each names the field (`loc`) and says what is wrong (`msg`)."""
    errors = []
    for error in exc.errors():
        item = {key: error[key] for key in ("type", "loc", "msg") if key in error}
        ctx = error.get("ctx")
        if isinstance(ctx, dict):
            item["ctx"] = {k: str(v) if isinstance(v, Exception) else v for k, v in ctx.items()}
        errors.append(item)
    encoded: list[dict[str, Any]] = jsonable_encoder(errors)
    return encoded


def limited(request: Request, limit: int) -> Request:
    """`request` with a body of at most `limit` bytes: a declared length over it is a 413
    at once, and reading past it (a chunked body, which declares none) a 413 then, so no
    more than the limit is ever read."""
    declared = request.headers.get("content-length")
    if declared is not None and declared.isdigit() and int(declared) > limit:
        raise HTTPException(413, f"body larger than {limit} bytes")
    receive = request.receive
    received = 0

    async def counted() -> Message:
        nonlocal received
        message = await receive()
        if message["type"] == "http.request":
            received += len(message.get("body", b""))
            if received > limit:
                raise HTTPException(413, f"body larger than {limit} bytes")
        return message

    return Request(request.scope, counted)


def _unreadable(exc: StarletteHTTPException) -> str | None:
    """The reason behind FastAPI's reasonless 400 for a JSON body it could not decode."""
    cause = exc.__cause__
    if exc.status_code != 400 or cause is None:
        return None
    if isinstance(cause, UnicodeDecodeError):
        return f"body is not UTF-8: {cause.reason} at byte {cause.start}"
    if isinstance(cause, RecursionError):
        return "JSON nested too deeply"
    if isinstance(cause, ValueError):  # an integer of more digits than Python converts
        return f"body is not valid JSON: {cause}"
    return None


class AuthenticatedRoute(APIRoute):
    """A route that checks the API key before FastAPI reads and validates the body, reads
    at most `body_limit` bytes of it, and answers errors as ASCII JSON without echoing the
    rejected input."""

    body_limit: int = MAX_ADMIN_BODY_BYTES

    def get_route_handler(self) -> Callable[[Request], Coroutine[Any, Any, Response]]:
        handler = super().get_route_handler()
        limit = self.body_limit

        async def checked(request: Request) -> Response:
            try:
                authenticate(request)
                return await handler(limited(request, limit))
            except RequestValidationError as exc:
                return SafeJSONResponse({"detail": validation_errors(exc)}, status_code=422)
            except StarletteHTTPException as exc:
                return SafeJSONResponse(
                    {"detail": _unreadable(exc) or exc.detail},
                    status_code=exc.status_code,
                    headers=exc.headers,
                )

        return checked


ADMIN_ERRORS = error_responses(400, 401, 403, 413, 422, 503)
"""What any admin route can answer besides its own statuses (in its OpenAPI document)."""


def admin_router(*, max_body_size: int = MAX_ADMIN_BODY_BYTES, **kwargs: Any) -> APIRouter:
    """An APIRouter whose every route needs an API key, checked before the body is read,
    and takes a body of at most `max_body_size` bytes (413, as JSON, beyond). Not FastAPI's
    own `max_body_size`: its 413 is plain text, and it answers 413 to a declared length
    over the limit before the key is checked."""
    kwargs.setdefault("default_response_class", SafeJSONResponse)
    kwargs["responses"] = {**ADMIN_ERRORS, **kwargs.get("responses", {})}
    route_class: type[AuthenticatedRoute] = AuthenticatedRoute
    if max_body_size != AuthenticatedRoute.body_limit:
        route_class = type(
            "AuthenticatedRoute", (AuthenticatedRoute,), {"body_limit": max_body_size}
        )
    return APIRouter(
        route_class=route_class,
        dependencies=[Depends(require_api_key)],
        **kwargs,
    )
