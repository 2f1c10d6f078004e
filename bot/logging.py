"""Logging set-up: console lines for people, JSON lines for machines, no secret in either.

``turn_context`` carries the chat and turn of the work in progress; every log line written
while it is set names them, so one turn's lines can be found among many chats'.

``SecretMask`` is the last line of defence for the secrets in the settings: whatever a library
or an exception puts in a line (a file URL holds the bot token; an HTTP client's debug lines
hold the realtime key), the handler writes ``***`` in its place.
"""

from __future__ import annotations

import contextvars
import json
import logging
import re
import sys
import time
from collections.abc import Iterable
from typing import TextIO

__all__ = [
    "MASK",
    "MIN_SECRET_LENGTH",
    "SecretMask",
    "make_handler",
    "setup_logging",
    "turn_context",
]

turn_context: contextvars.ContextVar[str] = contextvars.ContextVar("turn_context", default="")

MASK = "***"
# Shorter values would mask innocent text ("test", a port number) more often than they hide
# anything worth hiding.
MIN_SECRET_LENGTH = 6
# A bot token in a Bot API or file URL (``/bot123456:AA.../getMe``): masked even when it is
# not one of the configured secrets, since any bot's token there is a credential.
_BOT_IN_URL = r"(?<=/bot)\d+:[A-Za-z0-9_-]+"


class SecretMask(logging.Filter):
    """Replaces every secret with ``***`` in the final text of each record it passes: the
    message with its arguments, the exception with its traceback, and the stack.

    A secret of the form ``id:secret`` (a bot token) is masked whole and by its part after the
    colon alone; values shorter than ``MIN_SECRET_LENGTH`` are not masked. A bot token inside a
    URL (``/bot<token>``) is masked whether or not it was given. Records pass with their text
    already masked: the exception is formatted into ``exc_text`` and ``exc_info`` dropped, so no
    formatter can render the raw traceback again. The filter never drops a record.
    """

    def __init__(self, secrets: Iterable[str] = ()) -> None:
        super().__init__()
        values: set[str] = set()
        for secret in secrets:
            secret = secret.strip()
            values.add(secret)
            # aiogram builds its URLs with the whole token; the part after the colon is its
            # secret half, worth masking wherever it turns up alone (the id before it is public).
            _, colon, tail = secret.partition(":")
            if colon:
                values.add(tail)
        kept = sorted((v for v in values if len(v) >= MIN_SECRET_LENGTH), key=len, reverse=True)
        # One pattern for everything, longest secrets first so a token is masked whole rather
        # than leaving its id beside a masked tail.
        self._pattern = re.compile("|".join([_BOT_IN_URL, *map(re.escape, kept)]))
        self._formatter = logging.Formatter()

    def mask(self, text: str) -> str:
        """``text`` with every secret replaced by ``***``."""
        return self._pattern.sub(MASK, text)

    def filter(self, record: logging.LogRecord) -> bool:
        try:
            message = record.getMessage()
            unformattable = False
        except Exception:
            # Arguments that do not fit the format would make the handler print them raw in
            # its "Logging error" report; they are written masked, beside the format, instead.
            message = f"{record.msg!s} (arguments: {record.args!r})"
            unformattable = True
        masked, found = self._pattern.subn(MASK, message)
        if found or unformattable:
            record.msg, record.args = masked, None
        if record.exc_info:
            if not record.exc_text:
                record.exc_text = self._formatter.formatException(record.exc_info)
            record.exc_info = None
        if record.exc_text:
            record.exc_text = self.mask(record.exc_text)
        if record.stack_info:
            record.stack_info = self.mask(record.stack_info)
        return True


class _ContextFilter(logging.Filter):
    def filter(self, record: logging.LogRecord) -> bool:
        record.turn = turn_context.get()
        return True


class _ConsoleFormatter(logging.Formatter):
    def format(self, record: logging.LogRecord) -> str:
        line = super().format(record)
        turn = getattr(record, "turn", "")
        return f"{line} [{turn}]" if turn else line


class _JsonFormatter(logging.Formatter):
    def format(self, record: logging.LogRecord) -> str:
        entry: dict[str, object] = {
            "ts": time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(record.created))
            + f".{int(record.msecs):03d}Z",
            "level": record.levelname.lower(),
            "logger": record.name,
            "msg": record.getMessage(),
        }
        turn = getattr(record, "turn", "")
        if turn:
            entry["turn"] = turn
        # exc_text first: SecretMask leaves the masked traceback there, and no exc_info.
        exc = record.exc_text or (self.formatException(record.exc_info) if record.exc_info else "")
        if exc:
            entry["exc"] = exc
        return json.dumps(entry, ensure_ascii=False)


def make_handler(
    fmt: str = "console", secrets: Iterable[str] = (), stream: TextIO | None = None
) -> logging.Handler:
    """The bot's log handler: lines in ``fmt`` ("console" or "json") to ``stream`` (stderr by
    default), each naming its turn, none holding any of ``secrets`` (see ``SecretMask``)."""
    handler = logging.StreamHandler(sys.stderr if stream is None else stream)
    handler.addFilter(_ContextFilter())
    handler.addFilter(SecretMask(secrets))
    if fmt == "json":
        handler.setFormatter(_JsonFormatter())
    else:
        handler.setFormatter(
            _ConsoleFormatter("%(asctime)s %(levelname)-7s %(name)s: %(message)s", "%H:%M:%S")
        )
    return handler


def setup_logging(level: str = "INFO", fmt: str = "console", secrets: Iterable[str] = ()) -> None:
    """Route every logger to stderr in the chosen format, with every value of ``secrets``
    masked in every line (see ``SecretMask``)."""
    root = logging.getLogger()
    root.handlers[:] = [make_handler(fmt, secrets)]
    root.setLevel(level)
    # aiogram logs every update at INFO; the bot logs its own turns.
    logging.getLogger("aiogram.event").setLevel(max(logging.WARNING, root.level))
    logging.getLogger("websockets").setLevel(max(logging.WARNING, root.level))
