"""A chat's notes: long-term facts the model was asked to remember ("remember that…"), kept
without expiry, bounded per chat, given to the model at the start of each turn."""

from __future__ import annotations

from dataclasses import dataclass

from redis.asyncio import Redis

__all__ = ["Note", "NotesStore"]


@dataclass(frozen=True)
class Note:
    id: int
    text: str
    at: float  # when it was written (Unix time)


class NotesStore:
    """Fails hard: Redis away becomes ``StorageError`` (transient)."""

    def __init__(
        self, redis: Redis, *, max_notes: int = 50, max_chars: int = 4000, max_note_chars: int = 500
    ) -> None:
        self._redis = redis
        self.max_notes = max_notes
        self.max_chars = max_chars
        self.max_note_chars = max_note_chars

    async def list(self, chat_id: int) -> list[Note]:
        """The chat's notes, oldest first."""
        raise NotImplementedError

    async def add(self, chat_id: int, text: str) -> Note:
        """Keep ``text`` (stripped; refused when empty or longer than ``max_note_chars``).
        Raises ``LimitReached`` when the chat has ``max_notes`` notes or they would pass
        ``max_chars`` together; checked and written in one atomic step."""
        raise NotImplementedError

    async def forget(self, chat_id: int, about: str) -> list[Note]:
        """Remove the notes ``about`` matches (a note id, or words every removed note contains,
        case-insensitive); returns them (empty when none matched)."""
        raise NotImplementedError

    async def clear(self, chat_id: int) -> int:
        """Remove every note of the chat; how many there were."""
        raise NotImplementedError

    async def migrate(self, old_chat_id: int, new_chat_id: int) -> None:
        """Carry a group's notes over to the supergroup it became."""
        raise NotImplementedError
