"""The policy API: read the active routing policy, load a new version, reload the file.

    GET  /policy            the active version and its YAML
    GET  /policy/versions   every version ever loaded, newest first
    PUT  /policy            a YAML document (application/yaml or text/plain): checked,
                            then activated; 422 lists every problem with its line
    POST /policy/reload     re-read ROUTER_POLICY_FILE and activate it if its version is new

Activating writes the active version to the database, and every router replica re-reads
the active version before each batch (`PolicyCache`): that is the reload, no restart. A
version's document never changes once stored, so a different document under a version
that exists is 409 (bump `version`). Putting back an older version's exact document
reactivates it (a rollback). Each activation is audited.
"""

from __future__ import annotations

import asyncio
import email.message
from pathlib import Path
from typing import Any

from fastapi import APIRouter, HTTPException, Request
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncConnection

from baton_router.api.validation import engine
from baton_router.db.policies import activate, active_version, lock_policy_versions
from baton_router.db.tables import policy_versions, pools
from baton_router.domain.policy.loader import PolicyError, PolicyProblem, load_policy
from baton_router.domain.policy.model import Policy
from baton_router.policy_events import announce
from baton_runtime.api_auth import SafeJSONResponse, admin_router, authenticate
from baton_runtime.app_state import runtime_of
from baton_runtime.http_body import require_utf8
from baton_runtime.openapi import error_responses

YAML_TYPES = frozenset(
    {"application/yaml", "application/x-yaml", "text/yaml", "text/x-yaml", "text/plain"}
)


def problems_answer(error: PolicyError, detail: str = "the policy is invalid") -> SafeJSONResponse:
    return SafeJSONResponse(
        {"detail": detail, "problems": [problem_json(p) for p in error.problems]},
        status_code=422,
    )


def problem_json(problem: PolicyProblem) -> dict[str, Any]:
    return {
        "line": problem.line,
        "column": problem.column,
        "path": problem.path,
        "message": problem.message,
        "text": str(problem),
    }


def yaml_text(body: bytes, content_type: str | None) -> str:
    """The document in a request body; 415 for other media types, 400 for bad bytes."""
    if not content_type:
        raise HTTPException(415, "send the policy as application/yaml (or text/plain)")
    message = email.message.Message()
    message["content-type"] = content_type
    media = message.get_content_type()
    charset = message.get_param("charset") or "utf-8"
    if media not in YAML_TYPES:
        raise HTTPException(
            415, f"unsupported content type {media!r}; send application/yaml or text/plain"
        )
    if not isinstance(charset, str) or charset.lower() not in ("utf-8", "utf8", "us-ascii"):
        raise HTTPException(415, "the policy must be UTF-8")
    document = require_utf8(body)
    if "\x00" in document:
        raise HTTPException(400, "body contains a NUL character")
    return document


async def missing_pools(conn: AsyncConnection, policy: Policy) -> list[str]:
    """Warnings for rules that route to pools the roster does not define."""
    defined = set((await conn.execute(select(pools.c.name))).scalars())
    return [
        f"rule {rule.name!r} routes to pool {rule.pool!r}, which the roster does not define; "
        f"its leads go to the fallback queue {policy.routing.fallback_queue!r}"
        for rule in policy.routing.rules
        if rule.pool is not None and rule.pool not in defined
    ]


async def activate_document(
    request: Request, policy: Policy, document: str, *, source: str, actor: str
) -> dict[str, Any]:
    """Make `policy` (parsed from `document`) active. 409 when its version exists with
    other content. Activating the version that is already active changes nothing."""
    runtime = runtime_of(request)
    async with runtime.engine.begin() as conn:
        await lock_policy_versions(conn)
        current = await active_version(conn)
        previous = current.version if current is not None else None
        if current is not None and (current.version, current.document) == (
            policy.version,
            document,
        ):
            return {
                "version": policy.version,
                "activated": False,
                "previous_version": previous,
                "warnings": await missing_pools(conn, policy),
            }
        try:
            await activate(
                conn, version=policy.version, document=document, source=source, actor=actor
            )
        except ValueError as exc:  # the version exists with other content
            raise HTTPException(
                409,
                f"policy version {policy.version!r} already exists with other content; "
                "bump `version` for every change",
            ) from exc
        await announce(runtime, conn, policy, source=source)
        answer = {
            "version": policy.version,
            "activated": True,
            "previous_version": previous,
            "warnings": await missing_pools(conn, policy),
        }
    runtime.relay.wake()
    return answer


def policy_router() -> APIRouter:
    router = admin_router(prefix="/policy", tags=["policy"])

    @router.get("", responses=error_responses(404, e404="no active policy"))
    async def get_policy(request: Request) -> dict[str, Any]:
        async with engine(request).connect() as conn:
            row = (
                await conn.execute(select(policy_versions).where(policy_versions.c.active))
            ).first()
        if row is None:
            raise HTTPException(404, "no active policy")
        return {
            "version": row.version,
            "source": row.source,
            "loaded_at": row.loaded_at.isoformat(),
            "document": row.document,
        }

    @router.get("/versions")
    async def list_versions(request: Request) -> dict[str, Any]:
        async with engine(request).connect() as conn:
            rows = (
                await conn.execute(
                    select(
                        policy_versions.c.version,
                        policy_versions.c.source,
                        policy_versions.c.active,
                        policy_versions.c.loaded_at,
                    ).order_by(policy_versions.c.loaded_at.desc(), policy_versions.c.version)
                )
            ).all()
        return {
            "versions": [
                {
                    "version": row.version,
                    "source": row.source,
                    "active": row.active,
                    "loaded_at": row.loaded_at.isoformat(),
                }
                for row in rows
            ]
        }

    @router.put(
        "",
        responses=error_responses(
            409, 415, e409="the version exists with other content (bump `version`)"
        ),
        openapi_extra={
            "requestBody": {
                "required": True,
                "content": {"application/yaml": {"schema": {"type": "string"}}},
            }
        },
    )
    async def put_policy(request: Request) -> Any:
        actor = authenticate(request)
        document = yaml_text(await request.body(), request.headers.get("content-type"))
        try:
            policy = load_policy(document, "policy")
        except PolicyError as exc:
            return problems_answer(exc)
        return await activate_document(request, policy, document, source="api", actor=actor)

    @router.post(
        "/reload",
        responses=error_responses(
            409, e409="no policy file configured, or its version exists with other content"
        ),
    )
    async def reload_policy(request: Request) -> Any:
        actor = authenticate(request)
        path = getattr(request.app.state.settings, "policy_file", None)
        if not path:
            raise HTTPException(
                409, "no policy file configured (ROUTER_POLICY_FILE); PUT /policy instead"
            )
        try:
            document = await asyncio.to_thread(Path(path).read_text, encoding="utf-8")
        except (OSError, UnicodeDecodeError) as exc:
            reason = exc.strerror if isinstance(exc, OSError) and exc.strerror else str(exc)
            error = PolicyError(path, [PolicyProblem(path, f"cannot read: {reason}")])
            return problems_answer(error, "the policy file cannot be read")
        try:
            policy = load_policy(document, path)
        except PolicyError as exc:
            return problems_answer(exc, "the policy file is invalid")
        return await activate_document(request, policy, document, source=path, actor=actor)

    return router
