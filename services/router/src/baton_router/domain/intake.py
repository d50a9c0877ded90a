"""Normalising an inbound payload into the canonical `baton.lead.captured.v1`.

The per-platform normalisers live in `baton_router.domain.sources`; this module keeps the
names the rest of the router (and its tests) import.
"""

from __future__ import annotations

from baton_router.domain.sources.canonical import NormalisationError, lead_key_for
from baton_router.domain.sources.generic import SERVER_FIELDS, normalise_generic

__all__ = ["SERVER_FIELDS", "NormalisationError", "lead_key_for", "normalise_generic"]
