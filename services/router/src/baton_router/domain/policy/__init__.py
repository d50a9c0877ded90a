"""The versioned policy document marketing and sales own together."""

from baton_router.domain.policy.loader import (
    PolicyError,
    PolicyProblem,
    default_policy,
    default_policy_text,
    load_policy,
    load_policy_file,
)
from baton_router.domain.policy.model import Policy
from baton_router.domain.policy.scoring import ScoreResult, score_lead
from baton_router.domain.policy.store import PolicyStore
from baton_router.domain.policy.tiers import (
    Assessment,
    assess,
    classify,
    lifecycle_stage,
    score_facts,
)

__all__ = [
    "Assessment",
    "Policy",
    "PolicyError",
    "PolicyProblem",
    "PolicyStore",
    "ScoreResult",
    "assess",
    "classify",
    "default_policy",
    "default_policy_text",
    "lifecycle_stage",
    "load_policy",
    "load_policy_file",
    "score_facts",
    "score_lead",
]
