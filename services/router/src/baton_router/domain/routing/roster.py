"""Who can receive leads: reps, their current load, and the pools they rotate in.

Plain frozen values. The database layer loads a `RosterSnapshot` (pool cursors and
pointers live in the database, so fairness survives restarts and holds across router
replicas), routing returns updated `Pool`s, and the database layer saves them.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field, replace
from datetime import datetime, time
from typing import Any, NamedTuple, get_args
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from baton_router.domain.policy.model import Strategy
from baton_schemas.events.lead import (
    Owner,
    TimeRange,
    WorkingHours,
    format_clock,
    parse_clock,
)

STRATEGIES: tuple[Strategy, ...] = get_args(Strategy)


class Shift(NamedTuple):
    """One working-hours window in the rep's local time.

    `end <= start` means the shift runs past midnight into the next day, so `end ==
    time(0)` reads as 24:00; `start == end` is a full 24 hours from `start`.
    """

    weekday: int  # 0 = Monday
    start: time
    end: time

    @property
    def overnight(self) -> bool:
        return self.end <= self.start

    @classmethod
    def parse(cls, weekday: int, start: str, end: str) -> Shift:
        """From 'HH:MM' clock strings (the end may be '24:00')."""
        return cls(weekday, parse_clock(start), parse_clock(end))

    def as_clock(self) -> dict[str, Any]:
        """{weekday, start, end} with 'HH:MM' times (a shift ending at midnight ends at
        '24:00'): how shifts are stored and published."""
        return {
            "weekday": self.weekday,
            "start": format_clock(self.start),
            "end": format_clock(self.end, end=True),
        }


@dataclass(frozen=True, slots=True)
class Rep:
    """A sales rep as routing sees them."""

    id: str
    name: str
    email: str | None = None
    time_zone: str = "UTC"
    working_hours: tuple[Shift, ...] = ()
    """Empty = no schedule: always inside working hours."""
    out_of_office: tuple[tuple[datetime, datetime], ...] = ()
    """Half-open [start, end) ranges, timezone-aware."""
    active: bool = True
    daily_cap: int | None = None
    open_cap: int | None = None
    country: str | None = None
    region: str | None = None
    team: str | None = None
    # the Owner built once (a rep takes many leads per batch); not part of the rep's value
    _owner: Owner | None = field(default=None, init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        if not self.id:
            raise ValueError("a rep needs an id")
        try:
            ZoneInfo(self.time_zone)
        except (ZoneInfoNotFoundError, ValueError) as exc:
            raise ValueError(f"rep {self.id}: unknown time zone {self.time_zone!r}") from exc
        for shift in self.working_hours:
            if not 0 <= shift.weekday <= 6:
                raise ValueError(f"rep {self.id}: weekday {shift.weekday} is not 0..6")
        for start, end in self.out_of_office:
            if start.tzinfo is None or end.tzinfo is None:
                raise ValueError(f"rep {self.id}: out-of-office times must be timezone-aware")
            if end <= start:
                raise ValueError(f"rep {self.id}: out-of-office range ends before it starts")
        for label, cap in (("daily_cap", self.daily_cap), ("open_cap", self.open_cap)):
            if cap is not None and cap < 0:
                raise ValueError(f"rep {self.id}: {label} must be >= 0")

    @property
    def zone(self) -> ZoneInfo:
        return ZoneInfo(self.time_zone)

    @classmethod
    def from_owner(
        cls,
        owner: Owner,
        *,
        active: bool = True,
        daily_cap: int | None = None,
        open_cap: int | None = None,
    ) -> Rep:
        return cls(
            id=owner.id,
            name=owner.name,
            email=owner.email,
            time_zone=owner.time_zone,
            working_hours=tuple(
                Shift.parse(hours.weekday, hours.start, hours.end) for hours in owner.working_hours
            ),
            out_of_office=tuple((item.start, item.end) for item in owner.out_of_office),
            active=active,
            daily_cap=daily_cap,
            open_cap=open_cap,
            country=owner.country,
            region=owner.region,
            team=owner.team,
        )

    def to_owner(self) -> Owner:
        """The `Owner` carried in `baton.lead.assigned.v1` (frozen, so it can be shared)."""
        owner = self._owner
        if owner is None:
            owner = self._build_owner()
            object.__setattr__(self, "_owner", owner)
        return owner

    def _build_owner(self) -> Owner:
        return Owner(
            id=self.id,
            name=self.name,
            email=self.email,
            time_zone=self.time_zone,
            country=self.country,
            region=self.region,
            team=self.team,
            working_hours=[WorkingHours(**shift.as_clock()) for shift in self.working_hours],
            out_of_office=[TimeRange(start=start, end=end) for start, end in self.out_of_office],
        )

    def label(self) -> str:
        return f"{self.name} ({self.id})"


@dataclass(frozen=True, slots=True)
class RepLoad:
    """What a rep already carries. `assigned_today` counts the rep's local calendar day
    (see `eligibility.local_day_bounds`)."""

    assigned_today: int = 0
    open_leads: int = 0

    def plus_one(self) -> RepLoad:
        """After one more lead: one more today, one more open."""
        return RepLoad(self.assigned_today + 1, self.open_leads + 1)


@dataclass(frozen=True, slots=True)
class PoolMember:
    """A rep's seat in a pool.

    `pointer` grows by 1/weight per assignment (LeanData-style); the lowest eligible
    pointer is next. `away` is set when routing found the rep unavailable; on return the
    pointer is raised to the pool's current minimum, so there is no catch-up burst.
    """

    rep_id: str
    weight: float = 1.0
    pointer: float = 0.0
    away: bool = False

    def __post_init__(self) -> None:
        if not (math.isfinite(self.weight) and self.weight > 0):
            raise ValueError(f"member {self.rep_id}: weight must be a positive number")
        if not math.isfinite(self.pointer):
            raise ValueError(f"member {self.rep_id}: pointer must be finite")


@dataclass(frozen=True, slots=True)
class Pool:
    """Reps who share a kind of lead, and how the next one is chosen."""

    name: str
    strategy: Strategy = "weighted_round_robin"
    members: tuple[PoolMember, ...] = ()
    respect_working_hours: bool = False
    rr_cursor: int = 0
    """Plain round robin: index in `members` of the next member to offer."""

    def __post_init__(self) -> None:
        if self.strategy not in STRATEGIES:
            raise ValueError(f"pool {self.name}: unknown strategy {self.strategy!r}")
        ids = [member.rep_id for member in self.members]
        if len(set(ids)) != len(ids):  # pools are rebuilt per pick: keep the usual case cheap
            dupes = sorted({rep_id for rep_id in ids if ids.count(rep_id) > 1})
            raise ValueError(f"pool {self.name}: members listed twice: {dupes}")
        if self.rr_cursor < 0:
            raise ValueError(f"pool {self.name}: rr_cursor must be >= 0")

    def member(self, rep_id: str) -> PoolMember | None:
        return next((member for member in self.members if member.rep_id == rep_id), None)

    def with_member(self, rep_id: str, weight: float = 1.0) -> Pool:
        """Add (or re-weight) a member. A newcomer joins as `away`, so on their first
        eligible turn they start at the pool's current minimum pointer, not at zero."""
        existing = self.member(rep_id)
        if existing is not None:
            members = tuple(
                replace(member, weight=weight) if member.rep_id == rep_id else member
                for member in self.members
            )
            return replace(self, members=members)
        floor = min((member.pointer for member in self.members), default=0.0)
        newcomer = PoolMember(rep_id=rep_id, weight=weight, pointer=floor, away=True)
        return replace(self, members=(*self.members, newcomer))

    def without_member(self, rep_id: str) -> Pool:
        index = next((i for i, m in enumerate(self.members) if m.rep_id == rep_id), None)
        if index is None:
            return self
        members = self.members[:index] + self.members[index + 1 :]
        cursor = self.rr_cursor - 1 if index < self.rr_cursor else self.rr_cursor
        return replace(self, members=members, rr_cursor=max(cursor, 0))


@dataclass(frozen=True, slots=True)
class RosterSnapshot:
    """Everything routing needs to know about people, read in one go."""

    reps: Mapping[str, Rep] = field(default_factory=dict)
    loads: Mapping[str, RepLoad] = field(default_factory=dict)
    pools: Mapping[str, Pool] = field(default_factory=dict)

    @classmethod
    def of(
        cls,
        reps: Iterable[Rep],
        pools: Iterable[Pool] = (),
        loads: Mapping[str, RepLoad] | None = None,
    ) -> RosterSnapshot:
        return cls(
            reps={rep.id: rep for rep in reps},
            loads=dict(loads or {}),
            pools={pool.name: pool for pool in pools},
        )

    def load(self, rep_id: str) -> RepLoad:
        load = self.loads.get(rep_id)  # not `get(rep_id, RepLoad())`: that builds one per call
        return RepLoad() if load is None else load

    def with_pools(self, pools: Mapping[str, Pool]) -> RosterSnapshot:
        return replace(self, pools={**self.pools, **pools})

    def with_load(self, rep_id: str, load: RepLoad) -> RosterSnapshot:
        return replace(self, loads={**self.loads, rep_id: load})

    def with_rep(self, rep: Rep) -> RosterSnapshot:
        return replace(self, reps={**self.reps, rep.id: rep})
