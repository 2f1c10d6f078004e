"""Values the turn pipeline takes and gives."""

from __future__ import annotations

import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field

from bot.errors import TooLarge, TooLong
from bot.realtime.protocol import Usage

__all__ = ["Limits", "Marks", "TurnInput", "TurnResult"]


@dataclass(frozen=True)
class Limits:
    """Input limits, checked on the metadata before download and again on the decoded audio."""

    max_seconds: float = 120.0
    max_bytes: int = 20_000_000
    silence_dbfs: float = -50.0

    def check_declared(self, seconds: float | None, size: int | None) -> None:
        """Raise TooLong or TooLarge from what the message says of itself."""
        if size is not None and size > self.max_bytes:
            raise TooLarge(size, self.max_bytes)
        if seconds is not None and seconds > self.max_seconds:
            raise TooLong(seconds, self.max_seconds)


@dataclass(frozen=True)
class TurnInput:
    """One question: audio bytes to fetch (and decode), or a text."""

    fetch: Callable[[], Awaitable[bytes]] | None = None
    text: str | None = None
    label: str = ""  # e.g. "chat=42 msg=7", for logs


@dataclass
class Marks:
    """Monotonic time stamps of a turn's stages, in seconds from its start."""

    start: float = field(default_factory=time.perf_counter)
    at: dict[str, float] = field(default_factory=dict)

    def __call__(self, name: str) -> None:
        self.at.setdefault(name, time.perf_counter() - self.start)

    def span_from_start(self, last: str) -> float | None:
        return self.at.get(last)

    def span(self, first: str, last: str) -> float | None:
        if first in self.at and last in self.at:
            return self.at[last] - self.at[first]
        return None


@dataclass
class TurnResult:
    """The reply: OGG/Opus voice note and text, with what the turn cost."""

    text: str
    voice: bytes
    voice_seconds: float
    input_seconds: float
    input_transcript: str = ""
    status: str = "completed"
    usage: Usage = field(default_factory=Usage)
    marks: Marks = field(default_factory=Marks)
    used_history: bool = False
