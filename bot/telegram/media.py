"""What a message carries that the bot can listen to, who asks, and the turn it makes."""

from __future__ import annotations

from dataclasses import dataclass

from aiogram import Bot
from aiogram.types import Message

from bot.domain import TurnJob
from bot.telegram.permissions import Permissions

__all__ = ["Asker", "Media", "asker_of", "job_of", "media_of", "payer_of", "sender_of"]

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


@dataclass(frozen=True)
class Asker:
    """Who asks for a turn: the sending user (for an anonymous admin ``GroupAnonymousBot``, for
    a member writing as a channel ``Channel_Bot``), the chat the message was sent on behalf of,
    whose limits and budgets the turn counts against (None: the user's), and whether the
    sender is an admin of the chat."""

    user_id: int | None
    payer_id: int | None
    is_admin: bool


def payer_of(message: Message) -> int | None:
    """Whose limits and budgets a turn asked by ``message`` counts against, when not its user:
    the chat it was sent on behalf of (``sender_chat``: the group itself for its anonymous
    admins, a channel for a member writing as one). Telegram sends every such message from one
    placeholder account (``GroupAnonymousBot`` for every anonymous admin of every group,
    ``Channel_Bot`` for every channel), so its user id would make them all one user."""
    return message.sender_chat.id if message.sender_chat is not None else None


def sender_of(message: Message) -> int | None:
    """Who sent ``message``, as ``TurnJob.payer`` names the asker of a turn (their usage, notes
    and reminders): the chat it was sent on behalf of (``payer_of``), else the user."""
    payer = payer_of(message)
    if payer is not None:
        return payer
    return message.from_user.id if message.from_user else None


async def asker_of(message: Message, bot: Bot, permissions: Permissions) -> Asker:
    """The asker of ``message``; whether they are an admin is ``Permissions``' one rule (no
    lookup in a private chat, for the owners or the group's anonymous admin; else the cached
    admin list)."""
    return Asker(
        user_id=message.from_user.id if message.from_user is not None else None,
        payer_id=payer_of(message),
        is_admin=await permissions.sender_is_admin(bot, message),
    )


def job_of(
    message: Message,
    *,
    lang: str,
    asker: Asker,
    media: Media | None = None,
    text: str | None = None,
) -> TurnJob:
    """The queued turn for ``message``: its text, or the attachment described by ``media``;
    ``asker`` is who asked (the sender of ``message``, or of the /ask that replied to it)."""
    return TurnJob(
        chat_id=message.chat.id,
        message_id=message.message_id,
        user_id=asker.user_id,
        payer_id=asker.payer_id,
        asker_is_admin=asker.is_admin,
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
