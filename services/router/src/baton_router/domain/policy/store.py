"""The policy in force, held in memory and swapped atomically on reload.

A reload that fails keeps the policy in force and raises `PolicyError`; readers see
either the old or the new policy, never a mix. No I/O beyond reading the file given.
"""

from __future__ import annotations

import os
import threading
from dataclasses import dataclass
from datetime import UTC, datetime

from baton_router.domain.policy.loader import load_policy, load_policy_file
from baton_router.domain.policy.model import Policy


@dataclass(frozen=True)
class LoadedPolicy:
    policy: Policy
    source: str
    loaded_at: datetime


class PolicyStore:
    def __init__(self, policy: Policy, source: str = "<initial>") -> None:
        self._lock = threading.Lock()
        self._loaded = LoadedPolicy(policy, source, datetime.now(UTC))

    def current(self) -> Policy:
        """The policy in force. Take it once per decision (or batch) and use that object."""
        return self._loaded.policy

    def loaded(self) -> LoadedPolicy:
        """The policy in force with where it came from and when it was loaded."""
        return self._loaded

    @property
    def version(self) -> str:
        return self._loaded.policy.version

    def replace(self, policy: Policy, source: str) -> Policy:
        """Put an already validated policy in force; returns the one it replaced."""
        with self._lock:
            previous = self._loaded.policy
            self._loaded = LoadedPolicy(policy, source, datetime.now(UTC))
        return previous

    def reload_from(self, path: str | os.PathLike[str]) -> Policy:
        """Load `path` and put it in force. On `PolicyError` the old policy stays."""
        policy = load_policy_file(path)
        self.replace(policy, os.fspath(path))
        return policy

    def reload_from_text(self, text: str, source_name: str) -> Policy:
        """Like `reload_from`, for a document held elsewhere (e.g. the database)."""
        policy = load_policy(text, source_name)
        self.replace(policy, source_name)
        return policy
