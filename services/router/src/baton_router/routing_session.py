"""One consumer batch's routing, inside its transaction.

The policy, the roster (pools and loads locked) and the leads concerned are read once, in
one statement; leads are decided in order against that snapshot, each decision updating it; `writes` gives the
new pool state, loads, lead owners, identities, history and closed deals back as rows the
consumer writes with the batch's outbox rows."""

from __future__ import annotations

from dataclasses import replace
from datetime import datetime
from typing import Any

from baton_router.db.leads import (
    KnownLead,
    LeadsFound,
    Recorded,
    decision_rows,
    identities_of,
    identity_rows,
)
from baton_router.db.learned import deal_rows
from baton_router.db.roster import changed_pools, load_rows, pool_state_rows
from baton_router.domain.decision import assigned_event
from baton_router.domain.facts import scalar_facts
from baton_router.domain.policy.learned import LearnedModel
from baton_router.domain.policy.model import Policy
from baton_router.domain.policy.tiers import Assessment, assess
from baton_router.domain.routing.engine import RoutingDecision, apply_decision, route
from baton_router.domain.routing.ownership import account_domain, sticky_owner
from baton_router.domain.routing.roster import RepLoad, RosterSnapshot
from baton_runtime.bulk import Rows
from baton_schemas import (
    FeedbackDealClosed,
    FeedbackTraceable,
    LeadAssigned,
    LeadCaptured,
    OutgoingRecord,
    SlaBreached,
)


class RoutingSession:
    def __init__(
        self,
        policy: Policy,
        now: datetime,
        roster: RosterSnapshot,
        leads: LeadsFound,
        learned: LearnedModel | None = None,
    ) -> None:
        """`roster` and `leads` as read (and locked) in the batch's transaction
        (`load_routing_state` with the batch's `lead_query`); `learned` the closed-deal
        model when the policy enables it."""
        self.policy = policy
        self._learned = learned
        self._deals: list[tuple[str, str, datetime, str, dict[str, Any]]] = []
        self.now = now
        self._roster = roster
        self._pools_before = dict(roster.pools)
        self._canonical = leads.canonical
        self._known = dict(leads.known)
        self._account_owner = leads.account_owners
        self._loaded_reps: set[str] = set()
        self._identities: list[tuple[str, str]] = []
        self._recorded: list[Recorded] = []
        self._pending: dict[str, tuple[LeadCaptured, str | None]] = {}

    # decisions ---------------------------------------------------------------------

    def route_captured(self, captured_event_id: str, lead: LeadCaptured) -> LeadAssigned:
        lead_key = self._canonical.get(lead.lead_key, lead.lead_key)
        previous = self._known.get(lead_key)
        sticky = (
            sticky_owner(self.policy.routing, previous.owner_id, previous.assigned_at, self.now)
            if previous is not None
            else None
        )
        self._identities += [(identity, lead_key) for identity in identities_of(lead)]
        return self._decide(lead, lead_key, captured_event_id, existing_owner_id=sticky)

    def on_breach(self, breach: SlaBreached) -> LeadAssigned | None:
        known = self._current(breach.lead_key, breach.assigned_event_id)
        if known is None or breach.escalation.action == "notify":
            return None
        step = breach.escalation.step
        if breach.escalation.action == "manager_queue":
            queue = breach.escalation.queue or self.policy.routing.fallback_queue
            return self._to_queue(known, queue, f"SLA breached (step {step}): handed to {queue}")
        excluded = {*breach.breached_owner_ids}
        return self._reassign(known, excluded, f"reassigned after SLA breach (step {step})")

    def on_feedback(self, feedback: FeedbackTraceable) -> LeadAssigned | None:
        """A rejection whose reason the policy names re-routes the lead (excluding the rep
        who rejected it) or recycles it to marketing's queue; so does a `recycled`
        disposition. Anything else changes no routing."""
        disposition = feedback.disposition
        if disposition is None:
            return None
        routing = self.policy.routing
        reason_code = disposition.reason_code
        if disposition.status == "recycled":
            recycle, reassign = True, False
        elif disposition.status == "rejected":
            recycle = reason_code in routing.recycle_on_reject_reasons
            reassign = reason_code in routing.reassign_on_reject_reasons
        else:
            return None
        if not (recycle or reassign):
            return None
        known = self._current(feedback.lead_key, None)
        if known is None:
            return None
        if recycle:
            why = f"recycled to {routing.recycle_queue} by sales ({reason_code or 'recycled'})"
            return self._to_queue(known, routing.recycle_queue, why, rule="recycle")
        excluded = {feedback.actor_id} if feedback.actor_id else set()
        return self._reassign(known, excluded, f"re-routed after rejection ({reason_code})")

    def on_deal(self, deal: FeedbackDealClosed) -> None:
        """Keep the outcome, with the lead's facts at handoff, for the learned score (the
        attribution the deal carries stands in for a lead this router does not know)."""
        known = self._known.get(deal.lead_key)
        if known is not None:
            facts = scalar_facts(known.lead)
        else:
            facts = {
                "source": deal.attribution.source,
                **{
                    f"attribution.{name}": value
                    for name, value in deal.attribution.attribution.model_dump().items()
                    if isinstance(value, str | int | float | bool)
                },
            }
        self._deals.append(
            (deal.lead_key, deal.deal.outcome, deal.closed_at, deal.crm_event_id, facts)
        )

    def record(
        self, emitted: OutgoingRecord, event: LeadAssigned, *, trigger_event_id: str | None
    ) -> None:
        lead, domain = self._pending.pop(event.lead_key)
        self._recorded.append(Recorded(emitted, event, lead, domain, trigger_event_id))
        self._known[event.lead_key] = KnownLead(
            lead_key=event.lead_key,
            owner_id=event.owner.id if event.owner else None,
            attempt=event.attempt,
            previous_owners=tuple(event.previous_owners),
            assigned_at=event.assigned_at,
            last_assigned_event_id=emitted.event_id,
            last_captured_event_id=event.captured_event_id,
            lead=lead,
            company_domain=domain,
        )

    def writes(self) -> list[Rows]:
        """What the batch changed, for the consumer to write with the outbox rows: pool
        state, rep loads, lead identities, the decision history and each lead's owner."""
        return [
            *pool_state_rows(changed_pools(self._pools_before, self._roster.pools)),
            load_rows(self._roster, self._loaded_reps, self.now),
            identity_rows(self._identities),
            *decision_rows(self._recorded),
            deal_rows(self._deals),
        ]

    # internals ---------------------------------------------------------------------

    def _current(self, lead_key: str, assigned_event_id: str | None) -> KnownLead | None:
        """The lead's current decision; None if unknown or if the trigger refers to an
        older decision (the lead was already reassigned: a late or repeated trigger)."""
        known = self._known.get(lead_key)
        if known is None:
            return None
        if assigned_event_id is not None and known.last_assigned_event_id != assigned_event_id:
            return None
        return known

    def _reassign(self, known: KnownLead, excluded: set[str], why: str) -> LeadAssigned:
        previous = self._hand_over(known)
        return self._decide(
            known.lead,
            known.lead_key,
            known.last_captured_event_id,
            excluded=frozenset(excluded),  # route() excludes the previous owners itself
            attempt=known.attempt + 1,
            previous_owners=previous,
            why=why,
        )

    def _to_queue(
        self, known: KnownLead, queue: str, reason: str, *, rule: str = "escalation"
    ) -> LeadAssigned:
        previous = self._hand_over(known)
        assessment, _ = self._assess(known.lead)
        decision = RoutingDecision(
            lead_key=known.lead_key,
            owner=None,
            queue=queue,
            pool=None,
            matched_rule=rule,
            reason=reason,
            attempt=known.attempt + 1,
            previous_owners=tuple(previous),
        )
        return self._finish(
            known.lead, known.last_captured_event_id, assessment, decision, known.company_domain
        )

    def _decide(
        self,
        lead: LeadCaptured,
        lead_key: str,
        captured_event_id: str,
        *,
        existing_owner_id: str | None = None,
        excluded: frozenset[str] = frozenset(),
        attempt: int = 1,
        previous_owners: list[str] | None = None,
        why: str | None = None,
    ) -> LeadAssigned:
        assessment, domain = self._assess(lead)
        decision = route(
            lead_key=lead_key,
            facts=assessment.facts,
            routing=self.policy.routing,
            roster=self._roster,
            now=self.now,
            account_owner_id=self._account_owner.get(domain) if domain else None,
            existing_owner_id=existing_owner_id,
            excluded_rep_ids=excluded,
            attempt=attempt,
            previous_owner_ids=previous_owners or (),
        )
        if why:
            decision = replace(decision, reason=f"{why}: {decision.reason}")
        self._roster = apply_decision(self._roster, decision)
        if decision.owner is not None and decision.adds_load:
            self._loaded_reps.add(decision.owner.id)
        return self._finish(lead, captured_event_id, assessment, decision, domain)

    def _finish(
        self,
        lead: LeadCaptured,
        captured_event_id: str,
        assessment: Assessment,
        decision: RoutingDecision,
        domain: str | None,
    ) -> LeadAssigned:
        """The decision as its event, remembered until `record` persists it."""
        self._pending[decision.lead_key] = (lead, domain)
        return assigned_event(
            lead=lead,
            lead_key=decision.lead_key,
            captured_event_id=captured_event_id,
            assessment=assessment,
            decision=decision,
            now=self.now,
        )

    def _assess(self, lead: LeadCaptured) -> tuple[Assessment, str | None]:
        """The lead's score and tier, and the account domain it is routed by."""
        assessment = assess(lead, self.policy, self.now, self._learned)
        return assessment, account_domain(assessment.facts, self.policy.scoring.free_mail_domains)

    def _hand_over(self, known: KnownLead) -> list[str]:
        """The lead leaves its owner: the owner's load drops; the owners it had, in order."""
        if known.owner_id:
            self._release(known.owner_id)
        return [*known.previous_owners, *([known.owner_id] if known.owner_id else [])]

    def _release(self, rep_id: str) -> None:
        """The previous owner no longer holds the lead: one open lead fewer."""
        load = self._roster.load(rep_id)
        released = RepLoad(load.assigned_today, max(0, load.open_leads - 1))
        self._roster = self._roster.with_load(rep_id, released)
        self._loaded_reps.add(rep_id)
