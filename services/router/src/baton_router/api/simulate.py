"""`POST /routing/simulate`: the decision the router would publish for a lead, without
publishing or writing anything, so a policy or roster change can be tried first.

    {"lead": {...canonical lead JSON, as POST /webhooks/generic takes...},
     "policy": "version: ...\\n..."   (optional: YAML to try instead of the active policy),
     "at": "2025-06-02T09:30:00+02:00" (optional: route as of this instant)}

The lead is scored, tiered and routed exactly as the consumer would (same identity
merging, duplicate window, account ownership, pools and their pointers) against the
roster as it is now, read in a read-only transaction that is always rolled back. The
answer is the `baton.lead.assigned.v1` data plus `"would_be": true`; pools do not move,
loads do not grow, no event is emitted.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from fastapi import APIRouter, HTTPException, Request
from pydantic import AwareDatetime, Field, field_validator

from baton_router.api.policy import problems_answer
from baton_router.api.validation import Closed, engine, find_unstorable, invalid
from baton_router.db.leads import lead_query
from baton_router.db.learned import load_model
from baton_router.db.routing_state import load_routing_state
from baton_router.domain.decision import assigned_event
from baton_router.domain.intake import NormalisationError, normalise_generic
from baton_router.domain.policy.loader import MAX_DOCUMENT_CHARS, PolicyError, load_policy
from baton_router.domain.policy.tiers import assess
from baton_router.domain.routing.engine import route
from baton_router.domain.routing.ownership import account_domain, sticky_owner
from baton_router.policy_cache import PolicyCache
from baton_runtime.api_auth import admin_router
from baton_runtime.openapi import error_responses

SIMULATED_EVENT_ID = "simulation"
"""`captured_event_id` of a simulated decision: no captured event exists."""


class SimulateIn(Closed):
    lead: dict[str, Any] = Field(description="canonical lead JSON, as POST /webhooks/generic")
    policy: str | None = Field(
        default=None,
        max_length=MAX_DOCUMENT_CHARS,
        description="policy YAML to try instead of the active one",
    )
    at: AwareDatetime | None = Field(default=None, description="route as of this instant")

    @field_validator("at")
    @classmethod
    def _sane_year(cls, value: datetime | None) -> datetime | None:
        if value is not None and not 1970 <= value.year <= 9998:
            raise ValueError("year must be between 1970 and 9998")
        return value


def _loc(field: str) -> tuple[str | int, ...]:
    if field in ("", "$"):
        return ()
    return tuple(int(part) if part.isdigit() else part for part in field.split("."))


def _policies(request: Request) -> PolicyCache:
    cache: PolicyCache | None = getattr(request.app.state, "simulation_policies", None)
    if cache is None:
        cache = PolicyCache()
        request.app.state.simulation_policies = cache
    return cache


def simulate_router() -> APIRouter:
    router = admin_router(tags=["routing"])

    @router.post(
        "/routing/simulate",
        responses=error_responses(409, e409="no active policy"),
    )
    async def simulate(body: SimulateIn, request: Request) -> Any:
        now = body.at or datetime.now(UTC)
        bad = find_unstorable(body.lead)
        if bad is not None:
            raise invalid((("body", "lead", *bad[0]), bad[1]))
        try:
            lead = normalise_generic(body.lead, source="generic", received_at=now)
        except NormalisationError as exc:
            raise invalid(
                *((("body", "lead", *_loc(item["field"])), item["error"]) for item in exc.fields)
            ) from exc
        trial = None
        if body.policy is not None:
            try:
                trial = load_policy(body.policy, "policy")
            except PolicyError as exc:
                return problems_answer(exc)

        async with engine(request).connect() as conn:
            conn = await conn.execution_options(postgresql_readonly=True)
            transaction = await conn.begin()
            try:
                state = await load_routing_state(conn, now, lock=False, leads=lead_query([lead]))
                try:
                    policy = trial or await _policies(request).at_version(
                        conn, state.policy_version
                    )
                except RuntimeError as exc:
                    raise HTTPException(409, str(exc)) from exc
                learned = policy.scoring.learned
                model = await load_model(conn, learned.attributes) if learned.enabled else None
                assessment = assess(lead, policy, now, model)
                domain = account_domain(assessment.facts, policy.scoring.free_mail_domains)
            finally:
                await transaction.rollback()

        lead_key = state.leads.canonical.get(lead.lead_key, lead.lead_key)
        previous = state.leads.known.get(lead_key)
        owners = state.leads.account_owners
        sticky = (
            sticky_owner(policy.routing, previous.owner_id, previous.assigned_at, now)
            if previous is not None
            else None
        )
        decision = route(
            lead_key=lead_key,
            facts=assessment.facts,
            routing=policy.routing,
            roster=state.roster,
            now=now,
            account_owner_id=owners.get(domain) if domain else None,
            existing_owner_id=sticky,
        )
        event = assigned_event(
            lead=lead,
            lead_key=lead_key,
            captured_event_id=SIMULATED_EVENT_ID,
            assessment=assessment,
            decision=decision,
            now=now,
        )
        return {
            **event.model_dump(mode="json"),
            "would_be": True,
            "policy_source": "request" if trial is not None else "active",
        }

    return router
