"""The core's edge: everything it needs from the outside, as small protocols typed with the
domain's values (``bot.domain``) only.

A turn takes its input bytes from an ``InputSource`` and gives its reply, progress and notices
to a ``ReplySink``. The Telegram side implements them with Bot API calls
(``bot.telegram.ports``), the ``ask`` command with files (``bot.cli``). Errors cross the edge as
the core's own (``bot.errors``): ``DownloadFailed``, ``SendFailed``, ``ChatUnreachable``,
``VoiceForbidden``; never an adapter's exception.

The stores and services below are the adapters' classes as the core sees them; the core never
imports those: the composition root (``bot.app``) hands it the concrete objects, which fit these
protocols by their shape (mypy checks it there). ``TurnQueueAdmission`` is the turn queue's
admission step (``bot.storage.queue_admission``), ``SettingsStore``, ``ChatStatusStore``,
``MemoryStore``, ``UsageStore``, ``LastAnswers``, ``SpokenStore`` and ``SampleCache`` are
``bot.storage``'s, ``LanguageGuess`` is ``bot.language.guess_language``, ``ToolKitFactory`` is
``bot.tools.ToolKit`` (the chat's notes come through it) and ``TurnRunner`` is
``bot.realtime.turn.TurnPipeline``.
"""

from __future__ import annotations

import asyncio
import contextlib
import datetime as dt
from collections.abc import Collection
from typing import Protocol

from bot.domain import (
    AdmitResult,
    Budget,
    BudgetCheck,
    ChatSettings,
    HistoryItem,
    LastAnswer,
    Note,
    Reply,
    SetupLoader,
    TurnInput,
    TurnJob,
    TurnResult,
    TurnToolBox,
    TurnUsage,
)

__all__ = [
    "ChatStatusStore",
    "InputSource",
    "LanguageGuess",
    "LastAnswers",
    "MemoryStore",
    "OwnerAlerts",
    "ReplySink",
    "SampleCache",
    "SettingsStore",
    "SpokenStore",
    "ToolKitFactory",
    "TurnQueueAdmission",
    "TurnRunner",
    "UsageStore",
]


class InputSource(Protocol):
    """Where the turn's input bytes come from."""

    async def fetch(self) -> bytes:
        """The input file's bytes. Raises ``DownloadFailed`` (transient) or ``TooLarge``."""
        ...


class ReplySink(Protocol):
    """Where the turn's reply goes."""

    def progress(
        self, live: bool, stop: asyncio.Event
    ) -> contextlib.AbstractAsyncContextManager[None]:
        """Shows that an answer is being made for as long as it is entered. With ``live``, the
        chat sees it as it is made (where the chat can: drafts with a stop button, or a
        reaction) and ``stop`` is set when the user asks to stop it."""
        ...

    def draft(self, text: str) -> None:
        """The reply's text so far, shown while live (called at every delta: the sink keeps
        to a pace the chat accepts). Never raises, never waits."""
        ...

    async def send_reply(self, reply: Reply) -> str | None:
        """Delivers the voice note and its text (the text alone when ``voice`` is empty, the
        voice note alone when ``text`` is). Returns the id the chat's side gives the voice note
        sent, by which it can send it again (None: none sent, or no such id). Raises
        ``SendFailed``, ``ChatUnreachable``."""
        ...

    async def send_notice(self, text: str) -> None:
        """Delivers a short text about the turn (slow model, an error, a hint); a later notice
        of the same turn replaces the earlier one (one message, edited). Never raises."""
        ...


class OwnerAlerts(Protocol):
    """Where the bot's owners hear of what only they can fix (a refused key, a model or voice
    the provider does not accept)."""

    async def tell_owners(self, kind: str, text: str) -> None:
        """Tell the owners ``text``, once a day for each ``kind``. Never raises."""
        ...


class TurnQueueAdmission(Protocol):
    """The receiver's one atomic step: duplicate, backlog, rate limit and budgets checked, the
    turn's worst case held on ``budgets`` and the turn queued. Waits while the store is away
    (the update stays unconfirmed meanwhile)."""

    async def admit(
        self,
        job: TurnJob,
        *,
        max_backlog: int,
        rate_window_index: int,
        rate_limit: int,
        rate_window: int,
        budgets: list[BudgetCheck],
        prices: tuple[float, float],
        hold: tuple[float, float] = (0.0, 0.0),
    ) -> AdmitResult: ...


class SettingsStore(Protocol):
    """The chats' settings. Raises ``StorageError`` (transient) while the store is away."""

    async def get(self, chat_id: int) -> ChatSettings: ...


class ChatStatusStore(Protocol):
    """Whether a chat blocked or removed the bot."""

    async def blocked_since(self, chat_id: int) -> float | None:
        """When (Unix time) the chat blocked the bot; None while it can be written to."""
        ...

    async def mark_reachable(self, chat_id: int) -> None: ...


class MemoryStore(Protocol):
    """The chats' conversation memory."""

    async def history(self, chat_id: int) -> tuple[HistoryItem, ...]: ...

    async def remember(self, chat_id: int, question: str, answer: str) -> None: ...


class LastAnswers(Protocol):
    """Each chat's last answer as delivered (for /again). ``keep`` never fails a turn."""

    async def keep(self, chat_id: int, answer: LastAnswer) -> None: ...


class SpokenStore(Protocol):
    """The language each person of a chat spoke last (ISO 639-1). Never fails a turn."""

    async def last(self, chat_id: int, who: int) -> str | None: ...

    async def keep(self, chat_id: int, who: int, language: str) -> None: ...


class LanguageGuess(Protocol):
    """The language of a short text among ``candidates`` (ISO 639-1), None when unsure."""

    def __call__(self, text: str, candidates: Collection[str]) -> str | None: ...


class SampleCache(Protocol):
    """Voice samples by their Telegram file_id (``bot.storage.voice_samples``); each call
    raises ``StorageError`` while the store is away."""

    async def file_id(self, voice: str, role: str) -> str | None: ...

    async def keep(self, voice: str, role: str, file_id: str) -> None: ...

    async def forget(self, voice: str, role: str) -> None: ...

    async def claim(self, voice: str, role: str, seconds: float) -> str | None: ...

    async def release(self, voice: str, role: str, token: str) -> None: ...


class UsageStore(Protocol):
    """What turns used, and the budgets they count against. ``record`` and ``release`` never
    fail a turn; ``used_up`` raises ``StorageError`` while the store is away."""

    async def record(
        self,
        chat_id: int,
        user_id: int | None,
        turn: TurnUsage,
        now: dt.datetime | None = None,
        *,
        settles: TurnJob | None = None,
    ) -> None:
        """Count one turn; with ``settles``, drop what that turn held on its budgets."""
        ...

    async def release(self, job: TurnJob) -> None:
        """Drop what ``job`` held on its budgets: it ended with nothing to count."""
        ...

    async def used_up(self, budgets: list[Budget], own: TurnJob | None = None) -> Budget | None:
        """The first of ``budgets`` used up (``own``'s own hold left out), or None."""
        ...


class ToolKitFactory(Protocol):
    """Gives each turn the chat's tools, and reads the chat's notes for it."""

    async def read_notes(self, chat_id: int) -> list[Note] | None:
        """The chat's notes; None when they could not be read (the turn goes on)."""
        ...

    def prepare(
        self, job: TurnJob, settings: ChatSettings, notes: list[Note] | None
    ) -> TurnToolBox | None:
        """The tools of ``job``'s turn, or None when the chat has none on."""
        ...


class TurnRunner(Protocol):
    """Runs one turn against the model: the download and the connection start together, and
    ``setup`` is asked for once the connection is up. Raises ``InputError``, ``RealtimeError``
    or ``StorageError`` subclasses, or what ``setup`` raises."""

    async def run(self, turn: TurnInput, setup: SetupLoader) -> TurnResult: ...
