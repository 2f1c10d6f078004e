"""Reminders: durable scheduled turns. A reminder waits in Redis until it is due; then one
atomic step moves it into the turn queue as a turn of kind "reminder" (so it is answered by
whichever worker takes it, in its chat's order, surviving restarts and crashes like any turn),
and no reminder is ever moved twice, however many workers look at once."""

from __future__ import annotations

from dataclasses import dataclass

from redis.asyncio import Redis

from bot.core.models import TurnJob

__all__ = ["Reminder", "ReminderStore"]


@dataclass(frozen=True)
class Reminder:
    id: str
    chat_id: int
    text: str
    due_at: float  # Unix time
    job: TurnJob  # the turn that speaks it: kind "reminder", replying to the asking message


class ReminderStore:
    """Fails hard: Redis away becomes ``StorageError`` (transient)."""

    def __init__(
        self, redis: Redis, *, max_per_chat: int = 20, horizon_seconds: float = 366 * 86400
    ) -> None:
        self._redis = redis
        self.max_per_chat = max_per_chat
        self.horizon_seconds = horizon_seconds

    async def add(self, asking: TurnJob, text: str, due_at: float, *, now: float) -> Reminder:
        """Schedule ``text`` at ``due_at`` for the chat of ``asking`` (the turn that asked; the
        reminder replies to its message). Raises ``LimitReached`` when the chat has
        ``max_per_chat`` waiting or ``due_at`` is more than ``horizon_seconds`` after ``now``,
        ``ToolFailed`` when ``due_at`` is not after ``now``."""
        raise NotImplementedError

    async def list(self, chat_id: int) -> list[Reminder]:
        """The chat's waiting reminders, soonest first."""
        raise NotImplementedError

    async def cancel(self, chat_id: int, reminder_id: str) -> Reminder | None:
        """Cancel one of the chat's reminders (only its own chat's); None when there is no such
        reminder waiting (already due, cancelled, or another chat's)."""
        raise NotImplementedError

    async def clear(self, chat_id: int) -> int:
        """Cancel every waiting reminder of the chat; how many."""
        raise NotImplementedError

    async def fire_due(self, now: float, limit: int = 100) -> list[Reminder]:
        """Move the reminders due at ``now`` (at most ``limit``) into the turn queue, each in one
        atomic step with its chat's order gate: exactly once, whoever calls at the same time."""
        raise NotImplementedError

    async def next_due(self) -> float | None:
        """When the soonest waiting reminder is due."""
        raise NotImplementedError
