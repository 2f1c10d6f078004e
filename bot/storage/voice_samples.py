"""Voice samples by their Telegram file_id: a sample is made once by the model (one session),
sent once as an upload, and from then on sent by the file_id Telegram gave it, from any chat.
Kept per provider, model, voice and role; a claim key lets one process make a sample while the
others wait for its file_id."""

from __future__ import annotations

import secrets

from bot.storage import keys
from bot.storage.connection import Connection
from bot.storage.retry import storage_errors

__all__ = ["VoiceSampleStore"]

# A file_id stays valid as long as the bot: kept a year, renewed on each use.
SAMPLE_TTL = 365 * 24 * 3600
# Deletes the claim only if it is still the claimer's own.
_RELEASE = """
if redis.call('GET', KEYS[1]) == ARGV[1] then return redis.call('DEL', KEYS[1]) end
return 0
"""


class VoiceSampleStore:
    """The samples made so far, for one provider and model."""

    def __init__(self, redis: Connection, *, provider: str, model: str) -> None:
        self._redis = redis
        self.provider = provider
        self.model = model
        self._release = redis.register_script(_RELEASE)

    def _key(self, voice: str, role: str) -> str:
        return keys.voice_sample(self.provider, self.model, voice, role)

    async def file_id(self, voice: str, role: str) -> str | None:
        """The sample's file_id, when it was made. Raises ``StorageError`` while Redis is away."""
        key = self._key(voice, role)
        with storage_errors(f"reading the sample of {voice}"):
            found = await self._redis.getex(key, ex=SAMPLE_TTL)
        return str(found) if found else None

    async def keep(self, voice: str, role: str, file_id: str) -> None:
        with storage_errors(f"keeping the sample of {voice}"):
            await self._redis.set(self._key(voice, role), file_id, ex=SAMPLE_TTL)

    async def forget(self, voice: str, role: str) -> None:
        """A file_id Telegram no longer takes: the sample is made again next time."""
        with storage_errors(f"forgetting the sample of {voice}"):
            await self._redis.delete(self._key(voice, role))

    async def claim(self, voice: str, role: str, seconds: float) -> str | None:
        """Claim the making of the sample for ``seconds``: a token to release it with, or None
        when another claim holds."""
        token = secrets.token_hex(8)
        key = keys.voice_sample_claim(self.provider, self.model, voice, role)
        with storage_errors(f"claiming the sample of {voice}"):
            taken = await self._redis.set(key, token, nx=True, px=int(seconds * 1000))
        return token if taken else None

    async def release(self, voice: str, role: str, token: str) -> None:
        key = keys.voice_sample_claim(self.provider, self.model, voice, role)
        with storage_errors(f"releasing the sample of {voice}"):
            await self._release(keys=[key], args=[token])
