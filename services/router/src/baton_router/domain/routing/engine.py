"""Who gets a lead, and why. Pure: the caller supplies the roster, the owners it looked up,
and `now`; the decision says who (or which queue), explains itself, lists every candidate
skipped with the reason, and carries the pool state to persist.

Order:
1. duplicate: the owner the same person already has (inside the duplicate window), if
   they can take it; caps do not apply, a duplicate adds no load;
2. account ownership: the owner of the lead's company domain, if eligible;
3. the first routing rule whose condition matches: its queue, or its pool's strategy;
4. the fallback queue, when no rule matches, the pool is missing or empty, or everyone
   in the pool was skipped. The decision says so (`fallback=True` and the reason).

A sticky owner who cannot take the lead is recorded as skipped and the order goes on.
Previous owners (reassignment) are excluded at every step.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime

from baton_router.domain.conditions import evaluate
from baton_router.domain.facts import Facts
from baton_router.domain.policy.model import Routing, RoutingRule
from baton_router.domain.routing.eligibility import why_ineligible
from baton_router.domain.routing.roster import Pool, Rep, RosterSnapshot
from baton_router.domain.routing.strategies import STRATEGY_LABELS, pick
from baton_schemas.events.lead import Owner, SkippedCandidate

DUPLICATE = "duplicate"
ACCOUNT_OWNERSHIP = "account-ownership"
FALLBACK = "fallback"

EXCLUDED_REASON = "previous owner of this lead, excluded on reassignment"


@dataclass(frozen=True, slots=True)
class RoutingDecision:
    lead_key: str
    owner: Rep | None
    queue: str | None
    pool: str | None
    matched_rule: str
    """The rule's name, or `duplicate` / `account-ownership` / `fallback` (no rule matched)."""
    reason: str
    """One human sentence: why this owner or queue."""
    skipped: tuple[SkippedCandidate, ...] = ()
    updated_pools: Mapping[str, Pool] = field(default_factory=dict)
    """Pool state after this decision (pointers, cursor, away flags): persist it."""
    attempt: int = 1
    previous_owners: tuple[str, ...] = ()
    fallback: bool = False
    """True when the lead went to the fallback queue."""
    adds_load: bool = False
    """Whether the owner's daily and open-lead counts grow (not for a duplicate)."""

    @property
    def owner_model(self) -> Owner | None:
        return self.owner.to_owner() if self.owner is not None else None


def route(
    *,
    lead_key: str,
    facts: Facts,
    routing: Routing,
    roster: RosterSnapshot,
    now: datetime,
    account_owner_id: str | None,
    existing_owner_id: str | None,
    excluded_rep_ids: frozenset[str] = frozenset(),
    attempt: int = 1,
    previous_owner_ids: Sequence[str] = (),
) -> RoutingDecision:
    """Decide one lead. `existing_owner_id` is the owner of the same person inside the
    duplicate window (see `ownership.within_duplicate_window`), `account_owner_id` the
    owner of the lead's company domain (see `ownership.account_domain`; free mail never
    matches). On reassignment pass the previous owners in `excluded_rep_ids` (and in
    order in `previous_owner_ids`, which are excluded too) with the new attempt number."""
    if now.tzinfo is None:
        raise ValueError("`now` must be timezone-aware")
    if attempt < 1:
        raise ValueError("attempt numbers start at 1")
    excluded = excluded_rep_ids | frozenset(previous_owner_ids)
    previous = tuple(previous_owner_ids) or tuple(sorted(excluded_rep_ids))
    preface = ""
    if attempt > 1 or previous:
        listed = ", ".join(previous) if previous else "none recorded"
        preface = f"reassignment attempt {attempt} (previous owners excluded: {listed}); "
    out = _Builder(lead_key, attempt, previous, preface)

    def sticky(rep_id: str, label: str, *, check_caps: bool) -> Rep | None:
        if rep_id in excluded:
            out.skip(rep_id, f"{label}: {EXCLUDED_REASON}")
            return None
        rep = roster.reps.get(rep_id)
        if rep is None:
            out.skip(rep_id, f"{label}: not in the roster")
            return None
        why = why_ineligible(rep, roster.load(rep_id), now, False, check_caps=check_caps)
        if why is not None:
            out.skip(rep_id, f"{label}: {why}")
            return None
        return rep

    if existing_owner_id:
        rep = sticky(existing_owner_id, "existing owner (duplicate)", check_caps=False)
        if rep is not None:
            window = f"{routing.duplicate_window_days:g}"
            return out.decide(
                owner=rep,
                matched_rule=DUPLICATE,
                reason=(
                    f"the same person was assigned within the last {window} days; "
                    f"the lead stays with its owner {rep.label()}"
                ),
                adds_load=False,
            )

    if routing.account_ownership and account_owner_id and account_owner_id != existing_owner_id:
        rep = sticky(account_owner_id, "account owner", check_caps=True)
        if rep is not None:
            domain = facts.get("company.domain")
            account = f"account {domain}" if domain else "the account"
            return out.decide(
                owner=rep,
                matched_rule=ACCOUNT_OWNERSHIP,
                reason=f"{account} is owned by {rep.label()}; account ownership comes before the rules",
            )

    rule = next((rule for rule in routing.rules if evaluate(rule.when, facts)), None)
    fallback_queue = routing.fallback_queue
    if rule is None:
        return out.decide(
            queue=fallback_queue,
            matched_rule=FALLBACK,
            reason=f"no routing rule matched; sent to the fallback queue '{fallback_queue}'",
            fallback=True,
        )
    matched = f"rule '{rule.name}' matched ({rule.when.describe()})"
    if rule.queue is not None:
        return out.decide(
            queue=rule.queue,
            matched_rule=rule.name,
            reason=f"{matched}; sent to queue '{rule.queue}'",
        )
    return _route_to_pool(rule, matched, roster, now, excluded, fallback_queue, out)


@dataclass(slots=True)
class _Builder:
    lead_key: str
    attempt: int
    previous: tuple[str, ...]
    preface: str
    skipped: list[SkippedCandidate] = field(default_factory=list)

    def skip(self, rep_id: str, reason: str) -> None:
        self.skipped.append(SkippedCandidate(rep_id=rep_id, reason=reason))

    def decide(
        self,
        *,
        owner: Rep | None = None,
        queue: str | None = None,
        pool: str | None = None,
        matched_rule: str,
        reason: str,
        updated_pools: Mapping[str, Pool] | None = None,
        fallback: bool = False,
        adds_load: bool = True,
    ) -> RoutingDecision:
        return RoutingDecision(
            lead_key=self.lead_key,
            owner=owner,
            queue=queue,
            pool=pool,
            matched_rule=matched_rule,
            reason=self.preface + reason,
            skipped=tuple(self.skipped),
            updated_pools=dict(updated_pools or {}),
            attempt=self.attempt,
            previous_owners=self.previous,
            fallback=fallback,
            adds_load=adds_load and owner is not None,
        )


def _route_to_pool(
    rule: RoutingRule,
    matched: str,
    roster: RosterSnapshot,
    now: datetime,
    excluded: frozenset[str],
    fallback_queue: str,
    out: _Builder,
) -> RoutingDecision:
    assert rule.pool is not None
    pool = roster.pools.get(rule.pool)
    if pool is None:
        return out.decide(
            queue=fallback_queue,
            pool=rule.pool,
            matched_rule=rule.name,
            reason=(
                f"{matched}, but its pool '{rule.pool}' does not exist; "
                f"sent to the fallback queue '{fallback_queue}'"
            ),
            fallback=True,
        )
    if not pool.members:
        return out.decide(
            queue=fallback_queue,
            pool=pool.name,
            matched_rule=rule.name,
            reason=(
                f"{matched}, but pool '{pool.name}' has no members; "
                f"sent to the fallback queue '{fallback_queue}'"
            ),
            fallback=True,
        )

    unavailable: dict[str, str] = {}
    for member in pool.members:
        rep = roster.reps.get(member.rep_id)
        if rep is None:
            unavailable[member.rep_id] = "not in the roster"
            continue
        why = why_ineligible(rep, roster.load(rep.id), now, pool.respect_working_hours)
        if why is not None:
            unavailable[member.rep_id] = why
    pool_skips = [
        SkippedCandidate(
            rep_id=member.rep_id,
            reason=unavailable.get(member.rep_id, EXCLUDED_REASON),
        )
        for member in pool.members
        if member.rep_id in unavailable or member.rep_id in excluded
    ]
    out.skipped.extend(pool_skips)
    listed = "; ".join(f"{skip.rep_id}: {skip.reason}" for skip in pool_skips)

    result = pick(pool, unavailable, excluded, roster.loads)
    strategy = STRATEGY_LABELS[pool.strategy]
    if result.member is None:
        return out.decide(
            queue=fallback_queue,
            pool=pool.name,
            matched_rule=rule.name,
            reason=(
                f"{matched}, but all {len(pool.members)} members of pool '{pool.name}' "
                f"were skipped ({listed}); sent to the fallback queue '{fallback_queue}'"
            ),
            updated_pools={pool.name: result.pool},
            fallback=True,
        )
    owner = roster.reps[result.member.rep_id]
    reason = f"{matched}; pool '{pool.name}' ({strategy}) chose {owner.label()}"
    if pool_skips:
        reason += f", skipping {len(pool_skips)} ({listed})"
    return out.decide(
        owner=owner,
        pool=pool.name,
        matched_rule=rule.name,
        reason=reason,
        updated_pools={pool.name: result.pool},
    )


def apply_decision(roster: RosterSnapshot, decision: RoutingDecision) -> RosterSnapshot:
    """The roster after the decision: new pool state, and the owner's load one higher.
    Use it to route a batch of leads in one transaction against one snapshot."""
    updated = roster.with_pools(decision.updated_pools)
    if decision.owner is not None and decision.adds_load:
        rep_id = decision.owner.id
        updated = updated.with_load(rep_id, roster.load(rep_id).plus_one())
    return updated
