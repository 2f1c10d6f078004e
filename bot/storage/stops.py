"""Stop requests for answers being made, across processes: the receiver that gets a user's stop
publishes it; every worker listens and stops the turn it runs, if it runs it."""

from __future__ import annotations

import logging
from collections.abc import Callable

from redis.asyncio import Redis
from redis.exceptions import RedisError

from bot.storage import keys
from bot.storage.retry import Attempts, is_failure

__all__ = ["StopBus"]

log = logging.getLogger(__name__)

RECONNECT_SECONDS = 1.0


class StopBus:
    """Redis pub/sub on one channel; a message is ``"{chat_id}:{draft_id}"``. Degrades quietly:
    a stop that cannot be published is logged (the answer then simply completes)."""

    def __init__(self, redis: Redis) -> None:
        self._redis = redis

    async def publish(self, chat_id: int, draft_id: int) -> None:
        try:
            await self._redis.publish(keys.STOPS_CHANNEL, f"{chat_id}:{draft_id}")
        except RedisError as exc:
            log.warning("cannot pass on the stop of chat %s: %s", chat_id, exc)

    async def listen(self, on_stop: Callable[[int, int], None]) -> None:
        """Call ``on_stop(chat_id, draft_id)`` for every stop published, until cancelled;
        subscribes again after Redis comes back."""
        while True:  # a subscription that ends is made again
            async for attempt in Attempts(
                "stop requests", first=RECONNECT_SECONDS, most=RECONNECT_SECONDS, when=is_failure
            ):
                with attempt:
                    await self._listen_once(on_stop)

    async def _listen_once(self, on_stop: Callable[[int, int], None]) -> None:
        pubsub = self._redis.pubsub(ignore_subscribe_messages=True)
        try:
            await pubsub.subscribe(keys.STOPS_CHANNEL)
            async for message in pubsub.listen():
                chat, _, draft = str(message.get("data", "")).partition(":")
                if chat.lstrip("-").isdigit() and draft.lstrip("-").isdigit():
                    on_stop(int(chat), int(draft))
        finally:
            await pubsub.aclose()
