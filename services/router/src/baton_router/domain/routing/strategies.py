"""How a pool chooses the next rep. Pure: each pick returns the chosen member and the pool's
new state (pointers, cursor, away flags), which the caller persists.

All strategies share one pointer per member that grows by 1/weight per assignment
(LeanData-style). Before a pick, `settle` keeps absent members from banking credit: every
member who is unavailable now, or was unavailable at the previous pick and is back, has
its pointer raised to the pool's current minimum among available members. A rep back from
holiday therefore starts level with the pool's minimum and gets no burst.
Unavailable and excluded members are passed over, never waited for, so a pool never
stalls while anyone in it can take the lead.
"""

from __future__ import annotations

from collections.abc import Container, Mapping
from dataclasses import dataclass, replace

from baton_router.domain.routing.roster import Pool, PoolMember, RepLoad

_PRECISION = 9  # pointer ties are ties even after float drift (1/3 + 1/3 + 1/3 != 1)


@dataclass(frozen=True, slots=True)
class Pick:
    member: PoolMember | None
    """None when no member could take the lead."""
    pool: Pool
    """The pool's new state: persist it whether or not someone was picked."""


def _key(pointer: float) -> float:
    return round(pointer, _PRECISION)


def settle(pool: Pool, unavailable: Container[str]) -> Pool:
    """Mark who is away now and level returning and absent members with the pool's floor.

    `unavailable` holds the rep ids that cannot take leads now (inactive, out of office,
    over a cap, off shift). Members excluded for one lead only (previous owners) are not
    unavailable: they stay in rotation.

    1. Members back from an absence start at max(own pointer, lowest pointer among the
       members who stayed available).
    2. Members unavailable now are raised to the lowest pointer among everyone available,
       so an absence never banks turns, however members come and go.
    """
    available = [m.rep_id not in unavailable for m in pool.members]
    steady = [m.pointer for m, ok in zip(pool.members, available, strict=True) if ok and not m.away]
    floor = min(steady, default=None)
    levelled = [
        max(m.pointer, floor) if ok and m.away and floor is not None else m.pointer
        for m, ok in zip(pool.members, available, strict=True)
    ]
    present = [p for p, ok in zip(levelled, available, strict=True) if ok]
    floor = min(present, default=None)
    members = []
    changed = False
    for member, ok, pointer in zip(pool.members, available, levelled, strict=True):
        if not ok and floor is not None:
            pointer = max(pointer, floor)
        if pointer != member.pointer or member.away == ok:
            member = replace(member, pointer=pointer, away=not ok)
            changed = True
        members.append(member)
    return replace(pool, members=tuple(members)) if changed else pool


def _advance(pool: Pool, index: int, rr_cursor: int | None = None) -> Pick:
    chosen = pool.members[index]
    chosen = replace(chosen, pointer=chosen.pointer + 1.0 / chosen.weight)
    members = (*pool.members[:index], chosen, *pool.members[index + 1 :])
    cursor = pool.rr_cursor if rr_cursor is None else rr_cursor
    return Pick(chosen, replace(pool, members=members, rr_cursor=cursor))


def _candidates(pool: Pool, unavailable: Container[str], excluded: Container[str]) -> list[int]:
    return [
        index
        for index, member in enumerate(pool.members)
        if member.rep_id not in unavailable and member.rep_id not in excluded
    ]


def pick_weighted_round_robin(
    pool: Pool,
    unavailable: Container[str],
    excluded: Container[str] = frozenset(),
) -> Pick:
    """Lowest pointer among eligible members; ties go to the earlier member."""
    pool = settle(pool, unavailable)
    candidates = _candidates(pool, unavailable, excluded)
    if not candidates:
        return Pick(None, pool)
    index = min(candidates, key=lambda i: (_key(pool.members[i].pointer), i))
    return _advance(pool, index)


def pick_round_robin(
    pool: Pool,
    unavailable: Container[str],
    excluded: Container[str] = frozenset(),
) -> Pick:
    """Members in turn from the cursor, passing over anyone who cannot take the lead; the
    cursor moves to just after the chosen member. Weights are ignored."""
    pool = settle(pool, unavailable)
    count = len(pool.members)
    if count == 0:
        return Pick(None, pool)
    start = pool.rr_cursor % count
    for offset in range(count):
        index = (start + offset) % count
        rep_id = pool.members[index].rep_id
        if rep_id not in unavailable and rep_id not in excluded:
            return _advance(pool, index, rr_cursor=(index + 1) % count)
    return Pick(None, replace(pool, rr_cursor=start))


def pick_least_open(
    pool: Pool,
    unavailable: Container[str],
    excluded: Container[str] = frozenset(),
    loads: Mapping[str, RepLoad] | None = None,
) -> Pick:
    """Fewest open leads per unit of weight (plain fewest open leads when weights are
    equal); ties go to the lowest pointer (assigned least lately), then member order."""
    pool = settle(pool, unavailable)
    candidates = _candidates(pool, unavailable, excluded)
    if not candidates:
        return Pick(None, pool)
    loads = loads or {}

    def key(i: int) -> tuple[float, float, int]:
        member = pool.members[i]
        open_leads = loads.get(member.rep_id, RepLoad()).open_leads
        return (_key(open_leads / member.weight), _key(member.pointer), i)

    return _advance(pool, min(candidates, key=key))


def pick(
    pool: Pool,
    unavailable: Container[str],
    excluded: Container[str] = frozenset(),
    loads: Mapping[str, RepLoad] | None = None,
) -> Pick:
    """Dispatch on `pool.strategy`."""
    if pool.strategy == "least_open":
        return pick_least_open(pool, unavailable, excluded, loads)
    if pool.strategy == "round_robin":
        return pick_round_robin(pool, unavailable, excluded)
    return pick_weighted_round_robin(pool, unavailable, excluded)


STRATEGY_LABELS: Mapping[str, str] = {
    "round_robin": "round robin",
    "weighted_round_robin": "weighted round robin",
    "least_open": "least open leads",
}


@dataclass(frozen=True, slots=True)
class ShareLine:
    rep_id: str
    weight: float
    assigned: int
    target: float
    """Share of the pool's assignments the weights promise (0..1)."""
    actual: float
    deviation: float
    """actual - target."""


def share_report(pool: Pool, assigned: Mapping[str, int]) -> tuple[ShareLine, ...]:
    """How far each member's share of `assigned` (counts by rep id, e.g. over the last
    30 days) is from the share its weight promises. Weights are ignored by plain round
    robin, so there every member's target is equal."""
    weights = {
        m.rep_id: (1.0 if pool.strategy == "round_robin" else m.weight) for m in pool.members
    }
    total_weight = sum(weights.values())
    total = sum(assigned.get(rep_id, 0) for rep_id in weights)
    lines = []
    for rep_id, weight in weights.items():
        count = assigned.get(rep_id, 0)
        target = weight / total_weight if total_weight else 0.0
        actual = count / total if total else 0.0
        lines.append(ShareLine(rep_id, weight, count, target, actual, actual - target))
    return tuple(lines)
