"""The core's edge: what a turn needs from the outside, as small protocols.

A turn takes its input bytes from an ``InputSource`` and gives its reply, progress and notices
to a ``ReplySink``. The Telegram side implements them with Bot API calls
(``bot.telegram.ports``), the ``ask`` command with files (``bot.cli``). Errors cross the edge as
the core's own (``bot.errors``): ``DownloadFailed``, ``SendFailed``, ``ChatUnreachable``,
``VoiceForbidden``; never an adapter's exception.
"""

from __future__ import annotations

import asyncio
import contextlib
from typing import Protocol

from bot.domain import Reply

__all__ = ["InputSource", "OwnerAlerts", "ReplySink"]


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

    async def send_reply(self, reply: Reply) -> None:
        """Delivers the voice note and its text (the text alone when ``voice`` is empty).
        Raises ``SendFailed``, ``ChatUnreachable``."""
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
