"""A queued turn: everything a worker needs to answer a message, without the message object."""

from __future__ import annotations

import time
from dataclasses import asdict, dataclass, field
from typing import Any

import orjson

__all__ = ["TurnJob"]


@dataclass(frozen=True)
class TurnJob:
    """One turn to answer. ``message_id`` is the message the answer replies to; turns of one
    chat are answered in ``message_id`` order."""

    chat_id: int
    message_id: int
    user_id: int | None = None
    chat_type: str = "private"
    lang: str = "en"
    thread_id: int | None = None
    text: str | None = None
    file_id: str | None = None
    media_kind: str | None = None
    seconds: float | None = None
    size: int | None = None
    enqueued_at: float = field(default_factory=time.time)
    attempt: int = 0

    @property
    def label(self) -> str:
        return f"chat={self.chat_id} msg={self.message_id}"

    def dumps(self) -> bytes:
        return orjson.dumps(asdict(self))

    @classmethod
    def loads(cls, raw: bytes | str) -> TurnJob:
        data: dict[str, Any] = orjson.loads(raw)
        known = {k: v for k, v in data.items() if k in cls.__dataclass_fields__}
        return cls(**known)
