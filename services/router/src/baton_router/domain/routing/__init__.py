"""Lead routing: owner first, then ordered rules to pools or queues, then a fallback queue.

Pure domain logic (no I/O): the caller loads a `RosterSnapshot`, calls `route`, and saves
the decision and `decision.updated_pools`.
"""

from baton_router.domain.routing.eligibility import (
    in_working_hours,
    local_day_bounds,
    out_of_office_until,
    why_ineligible,
)
from baton_router.domain.routing.engine import (
    ACCOUNT_OWNERSHIP,
    DUPLICATE,
    FALLBACK,
    RoutingDecision,
    apply_decision,
    route,
)
from baton_router.domain.routing.ownership import (
    DEFAULT_FREE_MAIL_DOMAINS,
    account_domain,
    is_free_mail,
    normalise_domain,
    within_duplicate_window,
)
from baton_router.domain.routing.roster import Pool, PoolMember, Rep, RepLoad, RosterSnapshot, Shift
from baton_router.domain.routing.strategies import Pick, ShareLine, pick, settle, share_report

__all__ = [
    "ACCOUNT_OWNERSHIP",
    "DEFAULT_FREE_MAIL_DOMAINS",
    "DUPLICATE",
    "FALLBACK",
    "Pick",
    "Pool",
    "PoolMember",
    "Rep",
    "RepLoad",
    "RosterSnapshot",
    "RoutingDecision",
    "ShareLine",
    "Shift",
    "account_domain",
    "apply_decision",
    "in_working_hours",
    "is_free_mail",
    "local_day_bounds",
    "normalise_domain",
    "out_of_office_until",
    "pick",
    "route",
    "settle",
    "share_report",
    "why_ineligible",
    "within_duplicate_window",
]
