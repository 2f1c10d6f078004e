"""What ``python -m bot probe`` found out about a provider's live service, per provider and model.

Key (``bot.storage.keys``): ``vb:probe:{provider}:{model}``, a string holding the JSON of a
``ProviderTraits``, without expiry; a new probe replaces it. Fails hard: Redis away becomes
``StorageError``. A value that cannot be read (written by another version, damaged) counts as
not measured.
"""

from __future__ import annotations

import logging

from redis.asyncio import Redis
from redis.exceptions import RedisError

from bot.domain import ProviderTraits
from bot.errors import StorageError
from bot.storage import keys

__all__ = ["ProviderFindings"]

log = logging.getLogger(__name__)


class ProviderFindings:
    def __init__(self, redis: Redis) -> None:
        self._redis = redis

    async def get(self, provider: str, model: str) -> ProviderTraits | None:
        """The traits last measured for ``provider``'s ``model``; None when never probed."""
        key = keys.probe_findings(provider, model)
        try:
            raw = await self._redis.get(key)
        except RedisError as exc:
            raise StorageError(f"reading the probe findings of {provider} {model}: {exc}") from None
        if raw is None:
            return None
        try:
            return ProviderTraits.loads(raw)
        except (ValueError, TypeError, AttributeError) as exc:
            log.warning("ignoring unreadable probe findings in %s: %s", key, exc)
            return None

    async def put(self, traits: ProviderTraits) -> None:
        """Keep ``traits`` for its provider and model (replacing any earlier finding)."""
        key = keys.probe_findings(traits.provider, traits.model)
        try:
            await self._redis.set(key, traits.dumps())
        except RedisError as exc:
            raise StorageError(
                f"writing the probe findings of {traits.provider} {traits.model}: {exc}"
            ) from None
