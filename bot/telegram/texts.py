"""Fitting reply text into Telegram's limits."""

from __future__ import annotations

import re

__all__ = ["CAPTION_LIMIT", "MESSAGE_LIMIT", "split_text"]

CAPTION_LIMIT = 1024
MESSAGE_LIMIT = 4096
_SENTENCE_END = re.compile(r"(?<=[.!?…])\s+|\n+")


def split_text(text: str, limit: int = MESSAGE_LIMIT) -> list[str]:
    """Split ``text`` into parts of at most ``limit`` characters, at sentence ends when possible,
    else at spaces, else anywhere."""
    text = text.strip()
    parts: list[str] = []
    while len(text) > limit:
        window = text[: limit + 1]
        cut = max((m.end() for m in _SENTENCE_END.finditer(window) if m.end() <= limit), default=0)
        if cut < limit // 3:
            space = window.rfind(" ")
            cut = space if space >= limit // 3 else limit
        parts.append(text[:cut].strip())
        text = text[cut:].strip()
    if text:
        parts.append(text)
    return parts
