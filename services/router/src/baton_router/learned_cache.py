"""The learned model every batch scores with: read again only when closed deals changed
it (its revision moved) or the policy asks for other attributes."""

from __future__ import annotations

from sqlalchemy.ext.asyncio import AsyncConnection

from baton_router.db.learned import load_model
from baton_router.domain.policy.learned import LearnedModel
from baton_router.domain.policy.model import LearnedScoring


class LearnedCache:
    def __init__(self) -> None:
        self._model: LearnedModel | None = None
        self._attributes: tuple[str, ...] = ()

    async def model(
        self, conn: AsyncConnection, config: LearnedScoring, revision: int
    ) -> LearnedModel | None:
        """The model as of `revision` (read with the roster), None when the policy leaves
        learned scoring off."""
        if not config.enabled:
            return None
        attributes = tuple(config.attributes)
        stale = self._model is None or self._model.revision < revision
        if stale or attributes != self._attributes:
            self._model = await load_model(conn, attributes)
            self._attributes = attributes
        return self._model
