"""What a message carries that the bot can listen to, and the turn it makes."""

from __future__ import annotations

from dataclasses import dataclass

from aiogram.types import Message

from bot.core.models import TurnJob

__all__ = ["Media", "job_of", "media_of"]

# Documents worth downloading: sound, video with sound, or a type the sender did not know.
LISTENABLE_MIME_PREFIXES = ("audio/", "video/")
LISTENABLE_MIME_TYPES = {"application/ogg", "application/octet-stream", ""}


@dataclass(frozen=True)
class Media:
    file_id: str
    kind: str  # voice, audio, video_note, video, document
    seconds: float | None
    size: int | None
    listenable: bool = True  # False: a document that is surely not audio (a PDF, an image…)


def media_of(message: Message) -> Media | None:
    """The audio-bearing attachment of ``message``, or None."""
    if message.voice:
        v = message.voice
        return Media(v.file_id, "voice", v.duration, v.file_size)
    if message.audio:
        a = message.audio
        return Media(a.file_id, "audio", a.duration, a.file_size)
    if message.video_note:
        n = message.video_note
        return Media(n.file_id, "video_note", n.duration, n.file_size)
    if message.video:
        w = message.video
        return Media(w.file_id, "video", w.duration, w.file_size)
    if message.document:
        d = message.document
        mime = (d.mime_type or "").lower()
        listenable = mime.startswith(LISTENABLE_MIME_PREFIXES) or mime in LISTENABLE_MIME_TYPES
        return Media(d.file_id, "document", None, d.file_size, listenable)
    return None


def job_of(
    message: Message,
    *,
    lang: str,
    user_id: int | None,
    media: Media | None = None,
    text: str | None = None,
) -> TurnJob:
    """The queued turn for ``message``: its text, or the attachment described by ``media``;
    ``user_id`` is who asked (for budgets and rate limits)."""
    return TurnJob(
        chat_id=message.chat.id,
        message_id=message.message_id,
        user_id=user_id,
        chat_type=message.chat.type,
        lang=lang,
        thread_id=message.message_thread_id if message.is_topic_message else None,
        text=text,
        file_id=media.file_id if media else None,
        media_kind=media.kind if media else None,
        seconds=media.seconds if media else None,
        size=media.size if media else None,
        listenable=media.listenable if media else True,
    )
