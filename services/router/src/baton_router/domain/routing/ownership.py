"""Owner-first helpers: which account domain to look an owner up by, and whether an earlier
assignment of the same person is recent enough to make this lead a duplicate."""

from __future__ import annotations

import functools
from collections.abc import Iterable
from datetime import datetime, timedelta

from baton_router.domain.facts import Facts
from baton_router.domain.policy.model import Routing

DEFAULT_FREE_MAIL_DOMAINS = frozenset(
    {
        "aol.com",
        "gmail.com",
        "googlemail.com",
        "gmx.at",
        "gmx.ch",
        "gmx.de",
        "gmx.net",
        "hotmail.com",
        "hotmail.co.uk",
        "icloud.com",
        "live.com",
        "mac.com",
        "mail.com",
        "mail.ru",
        "me.com",
        "msn.com",
        "outlook.com",
        "proton.me",
        "protonmail.com",
        "qq.com",
        "t-online.de",
        "web.de",
        "yahoo.com",
        "yahoo.co.uk",
        "yandex.ru",
        "zoho.com",
        "163.com",
    }
)
"""Used in addition to the policy's `scoring.free_mail_domains`."""


def normalise_domain(value: str | None) -> str | None:
    """'https://WWW.Acme.com:443/about' -> 'acme.com'; blank -> None."""
    if not value:
        return None
    text = value.strip().lower()
    if "@" in text:
        text = text.rsplit("@", 1)[1]
    if "://" in text:
        text = text.split("://", 1)[1]
    text = text.split("/", 1)[0].split("?", 1)[0].split(":", 1)[0].strip(".")
    if text.startswith("www."):
        text = text[4:]
    return text or None


@functools.lru_cache(maxsize=16)
def _free_mail_set(extra: tuple[str, ...]) -> frozenset[str]:
    return DEFAULT_FREE_MAIL_DOMAINS | {d for d in map(normalise_domain, extra) if d}


def is_free_mail(domain: str, free_mail_domains: Iterable[str] = ()) -> bool:
    """The domain or any parent of it (mail.yahoo.com) is a free-mail domain."""
    known = _free_mail_set(tuple(free_mail_domains))
    labels = domain.split(".")
    return any(".".join(labels[i:]) in known for i in range(len(labels)))


def account_domain(facts: Facts, free_mail_domains: Iterable[str] = ()) -> str | None:
    """The domain to look an account owner up by, or None when there is none worth
    matching: a free-mail domain (gmail.com, ...) says nothing about the company."""
    raw = facts.get("company.domain") or facts.get("person.email_domain")
    domain = normalise_domain(raw if isinstance(raw, str) else None)
    if domain is None or "." not in domain or is_free_mail(domain, free_mail_domains):
        return None
    return domain


def within_duplicate_window(
    routing: Routing, previously_assigned_at: datetime, now: datetime
) -> bool:
    """Whether an earlier assignment of the same person makes this lead a duplicate that
    stays with its owner (`routing.duplicate_window_days`; 0 turns stickiness off)."""
    if routing.duplicate_window_days <= 0:
        return False
    # An earlier assignment stamped slightly "in the future" (clock skew between
    # replicas) is as recent as it gets, so a negative age counts as inside the window.
    return now - previously_assigned_at <= timedelta(days=routing.duplicate_window_days)


def sticky_owner(
    routing: Routing, owner_id: str | None, assigned_at: datetime, now: datetime
) -> str | None:
    """The owner an earlier assignment of the same person keeps this lead with, if any."""
    if owner_id is None or not within_duplicate_window(routing, assigned_at, now):
        return None
    return owner_id
