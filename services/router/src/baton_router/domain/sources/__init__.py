"""Webhook sources: for each platform, how a request is verified and how its payload
becomes canonical `baton.lead.captured.v1` leads. Pure: no I/O, the clock is an argument.

    sources = build_sources(marketo_mapping_file)
    source = sources["hubspot"]
    declared = source.verify(SignedRequest(...), secrets)   # SignatureError -> 401
    leads = source.normalise(payload, received_at)          # NormalisationError -> 422
"""

from __future__ import annotations

import functools
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Protocol

from baton_router.domain.sources import generic, hubspot, marketo, mautic
from baton_router.domain.sources.canonical import Captured, NormalisationError, lead_key_for
from baton_router.domain.sources.marketo import MappingError, MarketoMapping, load_mapping
from baton_runtime.signatures import SignatureError, SignedRequest, standard_webhook

__all__ = [
    "SOURCE_NAMES",
    "Captured",
    "MappingError",
    "MarketoMapping",
    "NormalisationError",
    "SignatureError",
    "SignedRequest",
    "Source",
    "build_sources",
    "check_secrets",
    "lead_key_for",
    "load_mapping",
    "normalise",
    "verify",
]

SOURCE_NAMES = ("generic", "hubspot", "marketo", "mautic")


class Source(Protocol):
    @property
    def name(self) -> str: ...

    @property
    def accepts_form(self) -> bool:
        """Whether a form-encoded body is accepted besides JSON."""
        ...

    @property
    def signs_url(self) -> bool:
        """Whether the scheme signs the URL the sender called (`SignedRequest.url`)."""
        ...

    def verify(self, request: SignedRequest, secrets: Sequence[str]) -> str | None:
        """Raise SignatureError unless signed with one of `secrets`; return the delivery id
        the sender declared, if its scheme has one."""
        ...

    def normalise(self, payload: Any, received_at: datetime) -> list[Captured]:
        """The leads in a payload (possibly none); NormalisationError names a bad field."""
        ...

    def read_json(self, body: bytes, received_at: datetime) -> list[Captured] | None:
        """The leads of a JSON body read without parsing it first, when the source has a
        way to and the body is well-formed; None: parse it and `normalise` the payload."""
        ...


@dataclass(frozen=True)
class ModuleSource:
    name: str
    verify_fn: Callable[[SignedRequest, Sequence[str]], str | None]
    normalise_fn: Callable[[Any, datetime], list[Captured]]
    accepts_form: bool = False
    signs_url: bool = False
    read_json_fn: Callable[[bytes, datetime], list[Captured] | None] | None = None

    def verify(self, request: SignedRequest, secrets: Sequence[str]) -> str | None:
        return self.verify_fn(request, secrets)

    def normalise(self, payload: Any, received_at: datetime) -> list[Captured]:
        return self.normalise_fn(payload, received_at)

    def read_json(self, body: bytes, received_at: datetime) -> list[Captured] | None:
        return self.read_json_fn(body, received_at) if self.read_json_fn else None


def build_sources(marketo_mapping: str | MarketoMapping | None = None) -> dict[str, Source]:
    """Every source; the Marketo one with the mapping at that path (default: shipped)."""
    mapping = (
        marketo_mapping
        if isinstance(marketo_mapping, MarketoMapping)
        else load_mapping(marketo_mapping)
    )
    return {
        "generic": ModuleSource(
            generic.NAME, generic.verify, generic.normalise, read_json_fn=generic.read_json
        ),
        "hubspot": ModuleSource(hubspot.NAME, hubspot.verify, hubspot.normalise, signs_url=True),
        "marketo": marketo.source(mapping),
        "mautic": ModuleSource(mautic.NAME, mautic.verify, mautic.normalise),
    }


def check_secrets(secrets: Mapping[str, Sequence[str]]) -> list[str]:
    """Problems with the configured webhook secrets (never quoting a secret)."""
    problems = []
    for source, values in secrets.items():
        if source not in SOURCE_NAMES:
            problems.append(f"secret for unknown source {source!r}")
            continue
        for index, secret in enumerate(values):
            if not isinstance(secret, str) or not secret.strip():
                problems.append(f"{source} secret #{index + 1} is empty")
            elif source == "generic":
                try:
                    standard_webhook(secret)
                except ValueError as exc:
                    problems.append(f"generic secret #{index + 1}: {exc}")
    return problems


@functools.cache
def _default_sources() -> dict[str, Source]:
    return build_sources()


def verify(
    source: str,
    method: str,
    url: str,
    headers: Mapping[str, str],
    body: bytes,
    secrets: Sequence[str],
    now: datetime,
    tolerance_s: int = 300,
) -> str | None:
    """Verify a request to `source` (default Marketo mapping); SignatureError if not signed."""
    if not secrets:
        raise SignatureError("no secret configured for source")
    request = SignedRequest(method, url, headers, body, now, tolerance_s)
    return _default_sources()[source].verify(request, secrets)


def normalise(source: str, payload: Any, received_at: datetime) -> list[Captured]:
    """The leads in `payload` for `source` (default Marketo mapping)."""
    return _default_sources()[source].normalise(payload, received_at)
