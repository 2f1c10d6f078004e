"""A local HTTP server that speaks the Telegram Bot API, for tests and benchmarks.

Point a real aiogram ``Bot`` at it with
``AiohttpSession(api=TelegramAPIServer.from_base(stand_in.url))``. Every request to
``/bot{token}/{method}`` is recorded as a :class:`Call`; updates queued with
:meth:`BotAPIStandIn.push_message`, :meth:`~BotAPIStandIn.push_callback` and
:meth:`~BotAPIStandIn.push_update` are served through long-polling ``getUpdates``; pushed and
uploaded files become downloadable through ``/file/bot{token}/{file_path}``.

Only the methods the bot calls are answered (others get Telegram's 404 "method not found"): getMe,
getUpdates, setWebhook, deleteWebhook, getFile, sendMessage, sendVoice, sendAudio, sendPhoto,
editMessageText, answerCallbackQuery, sendChatAction, setMyCommands, getChatMember,
getChatAdministrators and getChat (for the chats pushed updates carried). Within them the stand-in
mimics the parts of Telegram's behaviour a bot most often trips over: HTML ``parse_mode``
validation (with Telegram's error texts), text/caption length limits, ``message is not modified``
on no-op edits, the 20 MB ``getFile`` limit, 64-byte callback data, ``getUpdates`` conflicts,
replies to missing messages, the per-chat and per-group flood limits (:class:`FloodLimits`), the
voice formats ``sendVoice`` takes, voice notes refused by a user's privacy setting or a group's
permissions (:meth:`BotAPIStandIn.voice_forbidden`, :meth:`~BotAPIStandIn.no_voice_rights`), a
creator in every admin list, messages sent on behalf of a chat from the account Telegram uses
(``GroupAnonymousBot``, ``Channel_Bot``, or user 777000 for a linked channel's automatic forwards),
and a channel's own posts as ``channel_post`` updates. Failures can also be injected
(:meth:`BotAPIStandIn.fail_next` for API calls, :meth:`~BotAPIStandIn.fail_next_download` for the
file server, :meth:`~BotAPIStandIn.flood` for one chat). The bot never sends Markdown, so
``Markdown`` and ``MarkdownV2`` are refused rather than half-parsed.
"""

from __future__ import annotations

import asyncio
import contextlib
import copy
import html
import json
import math
import mimetypes
import re
import secrets
import time
from collections import deque
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from http import HTTPStatus
from pathlib import PurePosixPath
from types import TracebackType
from typing import Any, Literal, Self

from aiohttp import BodyPartReader, web

__all__ = [
    "CHANNEL_BOT",
    "DEFAULT_CREATOR",
    "DEFAULT_FLOOD_LIMITS",
    "GROUP_ANONYMOUS_BOT",
    "TELEGRAM_SERVICE_USER",
    "BotAPIStandIn",
    "Call",
    "FloodLimits",
    "MessageKind",
]

MAX_TEXT_LENGTH = 4096
"""Longest message text Telegram accepts, in UTF-16 code units after entity parsing."""
MAX_CAPTION_LENGTH = 1024
"""Longest media caption Telegram accepts, in UTF-16 code units after entity parsing."""
MAX_DOWNLOAD_SIZE = 20 * 1024 * 1024
"""``getFile`` refuses files larger than this ("Bad Request: file is too big")."""
MAX_UPLOAD_SIZE = 50 * 1024 * 1024
"""Uploads larger than this are refused with 413 "Request Entity Too Large"."""
MAX_CALLBACK_DATA = 64
"""Longest ``callback_data`` of an inline button, in bytes."""

GROUP_ANONYMOUS_BOT: dict[str, Any] = {
    "id": 1087968824,
    "is_bot": True,
    "first_name": "Group",
    "username": "GroupAnonymousBot",
}
"""The sender of an anonymous group admin's messages (``sender_chat`` is then the group)."""
CHANNEL_BOT: dict[str, Any] = {
    "id": 136817688,
    "is_bot": True,
    "first_name": "Channel",
    "username": "Channel_Bot",
}
"""The sender of a member's message written as a channel in a group (``sender_chat`` is then the
channel). Not of a linked channel's posts in its discussion group: see TELEGRAM_SERVICE_USER."""
TELEGRAM_SERVICE_USER: dict[str, Any] = {"id": 777000, "is_bot": False, "first_name": "Telegram"}
"""Telegram's service account: the sender of a linked channel's posts automatically forwarded into
its discussion group (``is_automatic_forward``, ``sender_chat`` the channel). Not a bot."""
DEFAULT_CREATOR: dict[str, Any] = {"id": 6_000_000_001, "is_bot": False, "first_name": "Owner"}
"""The creator getChatAdministrators lists for a group whose ``chat_admins`` names none."""

MessageKind = Literal["voice", "audio", "video_note", "video", "document", "text"]
"""What :meth:`BotAPIStandIn.push_message` can queue: a text or one kind of attachment."""

_DEFAULT_EXCLUDED_UPDATES = frozenset({"chat_member", "message_reaction", "message_reaction_count"})
# Parameters of the answered methods that hold user text: never parsed as JSON, even when the
# text happens to start with "{" or "[".
_FREE_TEXT_FIELDS = frozenset({"text", "caption", "title", "performer", "url", "secret_token"})
_CHAT_ACTIONS = frozenset(
    {
        "typing",
        "upload_photo",
        "record_video",
        "upload_video",
        "record_voice",
        "upload_voice",
        "upload_document",
        "choose_sticker",
        "find_location",
        "record_video_note",
        "upload_video_note",
    }
)
_COMMAND_RE = re.compile(r"^[a-z0-9_]{1,32}$")
# Real file ids start with a type marker; keeping it makes ids in logs recognisable.
_FILE_ID_PREFIXES = {
    "voice": "AwACAgIAAxkBAAI",
    "music": "CQACAgIAAxkBAAI",
    "videos": "BAACAgIAAxkBAAI",
    "documents": "BQACAgIAAxkBAAI",
    "video_notes": "DQACAgIAAxkBAAI",
}
# Per attachment kind: the getFile path hint (folder and default extension) and the fields the
# attachment carries besides file_id, file_unique_id and file_size, with their defaults. A
# default of None leaves the field out unless given, except "duration", which is then read from
# the Ogg/Opus stream like sendVoice does. Fields named like push_message parameters can be
# set by the caller; the others (width, height) are fixed.
_ATTACHMENTS: dict[str, tuple[str, dict[str, Any]]] = {
    "voice": ("voice/file.oga", {"duration": None, "mime_type": "audio/ogg"}),
    "audio": (
        "music/file.mp3",
        {
            "duration": None,
            "performer": None,
            "title": None,
            "file_name": "audio.mp3",
            "mime_type": "audio/mpeg",
        },
    ),
    "video_note": ("video_notes/file.mp4", {"length": 384, "duration": None}),
    "video": (
        "videos/file.mp4",
        {
            "width": 640,
            "height": 360,
            "duration": None,
            "file_name": "video.mp4",
            "mime_type": "video/mp4",
        },
    ),
    "document": (
        "documents/file.bin",
        {"file_name": "file.bin", "mime_type": "application/octet-stream"},
    ),
}
# Telegram gives video notes no caption.
_CAPTIONED = frozenset({"voice", "audio", "video", "document"})
_ADMIN_DEFAULTS: dict[str, Any] = {
    "can_be_edited": False,
    "is_anonymous": False,
    "can_manage_chat": True,
    "can_delete_messages": True,
    "can_manage_video_chats": True,
    "can_restrict_members": True,
    "can_promote_members": False,
    "can_change_info": True,
    "can_invite_users": True,
    "can_post_stories": True,
    "can_edit_stories": True,
    "can_delete_stories": True,
    "can_send_welcome_messages": True,
}
# Fields getChatAdministrators answers need for each status an admin list can hold.
_MEMBER_DEFAULTS: dict[str, dict[str, Any]] = {
    "administrator": _ADMIN_DEFAULTS,
    "creator": {"is_anonymous": False},
}


# Service accounts that send on behalf of a chat: a push from one of these ids carries the real
# account, whatever name the test gives. Which one a message on behalf of a chat comes from is
# the Bot API server's choice (tdlib/telegram-bot-api, telegram-bot-api/Client.cpp,
# Client::init_message): in a group or supergroup, the chat itself (an anonymous admin) is
# GroupAnonymousBot, an automatic forward is the service notifications user (777000), any other
# chat (a member writing as a channel) is Channel_Bot; in a channel there is no ``from`` at all.
_SERVICE_USERS = {
    user["id"]: user for user in (GROUP_ANONYMOUS_BOT, CHANNEL_BOT, TELEGRAM_SERVICE_USER)
}
# Methods that post or change a message, and so count against the flood limits. Edits share the
# limits with sends (a TDLib maintainer in tdlib/td#2592 and #3034: "Limits for message editing
# and sending are shared"; tdlib/telegram-bot-api#648: editing "is still subject to per chat
# limits"). answerCallbackQuery and sendChatAction are not messages and are not counted.
_FLOOD_COUNTED = frozenset(
    {"sendmessage", "sendvoice", "sendaudio", "sendphoto", "editmessagetext"}
)
_GROUP_TYPES = frozenset({"group", "supergroup"})
# Update kinds that carry a Message the bot can later reply to.
_MESSAGE_UPDATES = ("message", "edited_message", "channel_post", "edited_channel_post")


@dataclass(frozen=True)
class FloodLimits:
    """Telegram's flood limits on posting to one chat, as token buckets.

    Source: core.telegram.org/bots/faq, "My bot is hitting limits, how do I avoid this?": in a
    single chat "avoid sending more than one message per second. We may allow short bursts that
    go over this limit, but eventually you'll begin receiving 429 errors", and "your bot will
    not be able to send more than 20 messages per minute to the same group".

    Every chat has a bucket of ``chat_burst`` sends refilled at ``chat_per_second``; a group or
    supergroup also has one of ``group_burst`` sends refilled at ``group_per_minute`` a minute.
    A send or edit needs a whole send in each of its chat's buckets and takes it; when one is
    short, the call is answered 429 "Too Many Requests: retry after N" with
    ``parameters.retry_after`` = the seconds until it would pass (rounded up, at least 1). Only
    successful calls take a send. Telegram names no burst size; ``chat_burst`` is a guess that
    lets a reply of a voice note and a few text parts through at once.
    """

    chat_burst: int = 5
    chat_per_second: float = 1.0
    group_burst: int = 20
    group_per_minute: float = 20.0


DEFAULT_FLOOD_LIMITS = FloodLimits()
"""The limits a stand-in enforces unless told otherwise."""


@dataclass
class _Bucket:
    tokens: float
    updated: float  # time.monotonic() of the last refill


@dataclass
class Call:
    """One request received on ``/bot{token}/{method}``.

    ``params`` holds the query-string and body parameters. Form-encoded values stay strings
    exactly as sent (aiogram sends ``chat_id`` as ``"42"``), except values that look like JSON
    objects or arrays (``reply_parameters``, ``reply_markup``, ``entities`` ...), which are
    parsed. Free-text fields such as ``text`` and ``caption`` are never parsed. JSON request
    bodies keep their native types.

    ``files`` maps a field name to the uploaded bytes. A multipart part referenced from a
    parameter as ``attach://<part>`` is filed under that parameter's name (``files["voice"]``;
    ``params["voice"]`` keeps the ``attach://`` string); unreferenced parts keep their own name.

    ``status`` and ``response`` are the HTTP status and JSON body the stand-in answered with.
    Calls are recorded once their answer is ready, so ``response`` is always filled.
    """

    method: str
    params: dict[str, Any]
    files: dict[str, bytes]
    filenames: dict[str, str]
    t: float
    t_done: float
    status: int = 200
    response: dict[str, Any] = field(default_factory=dict)

    @property
    def ok(self) -> bool:
        """Whether the stand-in answered ``{"ok": true, ...}``."""
        return bool(self.response.get("ok"))

    @property
    def result(self) -> Any:
        """The ``result`` of a successful answer (e.g. the sent Message dict), else ``None``."""
        return self.response.get("result")

    def int_param(self, name: str) -> int | None:
        """Return parameter ``name`` as an int (``None`` when absent or not an integer)."""
        value = self.params.get(name)
        if value is None or isinstance(value, bool):
            return None
        try:
            return int(value)
        except (TypeError, ValueError):
            return None


@dataclass
class _Failure:
    error_code: int
    description: str
    retry_after: int | None
    migrate_to_chat_id: int | None


@dataclass
class _StoredFile:
    file_id: str
    file_unique_id: str
    file_path: str
    data: bytes
    file_size: int | None


class _APIError(Exception):
    """An error answer: ``{"ok": false, "error_code": status, "description": ...}``, plus
    ``parameters`` (``retry_after``, ``migrate_to_chat_id``) when given."""

    def __init__(
        self, status: int, description: str, parameters: dict[str, Any] | None = None
    ) -> None:
        super().__init__(description)
        self.status = status
        self.description = description
        self.parameters = parameters

    def body(self) -> dict[str, Any]:
        """The JSON body Telegram answers this error with."""
        body = _error_body(self.status, self.description)
        if self.parameters:
            body["parameters"] = dict(self.parameters)
        return body


def _too_many_requests(seconds: float) -> _APIError:
    """Telegram's flood-control answer for a wait of ``seconds`` (rounded up, at least 1)."""
    retry_after = max(1, math.ceil(seconds))
    return _APIError(
        429, f"Too Many Requests: retry after {retry_after}", {"retry_after": retry_after}
    )


class _Signal:
    """Wake every coroutine currently waiting; later waiters wait for the next notify."""

    def __init__(self) -> None:
        self._event = asyncio.Event()

    def notify(self) -> None:
        self._event.set()
        self._event = asyncio.Event()

    async def wait(self, timeout: float) -> None:
        event = self._event
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(event.wait(), timeout)


_Handler = Callable[[Call], Awaitable[Any]]


def _utf16_len(text: str) -> int:
    return len(text.encode("utf-16-le")) // 2


def _byte_offset(text: str, index: int) -> int:
    return len(text[:index].encode("utf-8"))


def _parse_error(message: str) -> _APIError:
    return _APIError(400, f"Bad Request: can't parse entities: {message}")


# --------------------------------------------------------------------------- HTML parse mode

_HTML_TAGS = frozenset(
    {
        "a",
        "b",
        "strong",
        "i",
        "em",
        "s",
        "strike",
        "del",
        "u",
        "ins",
        "tg-spoiler",
        "tg-emoji",
        "tg-time",
        "span",
        "pre",
        "code",
        "blockquote",
    }
)
_HTML_TAG_TYPES = {
    "b": "bold",
    "strong": "bold",
    "i": "italic",
    "em": "italic",
    "s": "strikethrough",
    "strike": "strikethrough",
    "del": "strikethrough",
    "u": "underline",
    "ins": "underline",
    "tg-spoiler": "spoiler",
    "span": "spoiler",
    "code": "code",
    "pre": "pre",
}
_HTML_ENTITY_RE = re.compile(r"&(?:#([0-9]{1,7})|#[xX]([0-9a-fA-F]{1,6})|(lt|gt|amp|quot));")


def _is_ascii_alnum(char: str) -> bool:
    return char.isascii() and char.isalnum()


def _html_entity(text: str, pos: int) -> tuple[str, int] | None:
    match = _HTML_ENTITY_RE.match(text, pos)
    if match is None:
        return None
    decimal, hexadecimal, named = match.groups()
    if named is not None:
        char = html.unescape(f"&{named};")
    else:
        code = int(decimal) if decimal is not None else int(hexadecimal, 16)
        if code == 0 or code > 0x10FFFF or 0xD800 <= code <= 0xDFFF:
            return None
        char = chr(code)
    return char, match.end()


def _parse_html(src: str) -> tuple[str, list[dict[str, Any]]]:
    """Parse Telegram-flavoured HTML the way the Bot API does; raise its errors verbatim."""
    out: list[str] = []
    utf16 = 0
    stack: list[dict[str, Any]] = []
    entities: list[dict[str, Any]] = []
    n = len(src)
    i = 0
    while i < n:
        char = src[i]
        if char == "&":
            decoded = _html_entity(src, i)
            if decoded is not None:
                out.append(decoded[0])
                utf16 += _utf16_len(decoded[0])
                i = decoded[1]
                continue
        if char != "<":
            out.append(char)
            utf16 += _utf16_len(char)
            i += 1
            continue
        begin = i
        i += 1
        if i < n and src[i] == "/":
            if not stack:
                raise _parse_error(f"Unexpected end tag at byte offset {_byte_offset(src, begin)}")
            i += 1
            name_start = i
            while i < n and not src[i].isspace() and src[i] != ">":
                i += 1
            end_name = src[name_start:i].lower()
            while i < n and src[i].isspace():
                i += 1
            if i >= n or src[i] != ">":
                raise _parse_error(f"Unclosed end tag at byte offset {_byte_offset(src, begin)}")
            top = stack[-1]
            if end_name and end_name != top["tag"]:
                raise _parse_error(
                    f"Unmatched end tag at byte offset {_byte_offset(src, begin)}, "
                    f'expected "</{top["tag"]}>", found "</{end_name}>"'
                )
            stack.pop()
            i += 1
            _close_html_entity(top, utf16, stack, entities)
            continue
        name_start = i
        while i < n and not src[i].isspace() and src[i] != ">":
            i += 1
        if i >= n:
            raise _parse_error(f"Unclosed start tag at byte offset {_byte_offset(src, begin)}")
        tag = src[name_start:i].lower()
        if tag not in _HTML_TAGS:
            raise _parse_error(
                f'Unsupported start tag "{tag}" at byte offset {_byte_offset(src, begin)}'
            )
        argument, expandable, i = _parse_html_attributes(src, i, tag, begin)
        if tag == "span" and argument != "spoiler":
            raise _parse_error(
                f'Tag "span" must have class "tg-spoiler" at byte offset {_byte_offset(src, begin)}'
            )
        stack.append({"tag": tag, "argument": argument, "expandable": expandable, "offset": utf16})
        i += 1
    if stack:
        raise _parse_error(f'Can\'t find end tag corresponding to start tag "{stack[-1]["tag"]}"')
    entities.sort(key=lambda entity: (entity["offset"], -entity["length"]))
    return "".join(out), entities


def _parse_html_attributes(src: str, i: int, tag: str, begin: int) -> tuple[str, bool, int]:
    """Read the attributes of a start tag; return (argument, expandable, index of '>')."""
    n = len(src)
    argument = ""
    expandable = False

    def unclosed() -> _APIError:
        return _parse_error(f"Unclosed start tag at byte offset {_byte_offset(src, begin)}")

    while True:
        while i < n and src[i].isspace():
            i += 1
        if i >= n:
            raise unclosed()
        if src[i] == ">":
            return argument, expandable, i
        attr_start = i
        while i < n and not src[i].isspace() and src[i] not in "=>":
            i += 1
        name = src[attr_start:i].lower()
        if not name:
            raise _parse_error(
                f'Empty attribute name in the tag "{tag}" at byte offset {_byte_offset(src, begin)}'
            )
        while i < n and src[i].isspace():
            i += 1
        if i >= n:
            raise unclosed()
        if src[i] != "=":
            if tag == "blockquote" and name == "expandable":
                expandable = True
                continue
            raise _parse_error(
                f'Expected equal sign in declaration of an attribute of the tag "{tag}" '
                f"at byte offset {_byte_offset(src, begin)}"
            )
        i += 1
        while i < n and src[i].isspace():
            i += 1
        if i >= n:
            raise unclosed()
        if src[i] not in "'\"":
            token_start = i
            while i < n and (_is_ascii_alnum(src[i]) or src[i] in ".-"):
                i += 1
            value = src[token_start:i].lower()
            if i >= n:
                raise unclosed()
            if not src[i].isspace() and src[i] != ">":
                raise _parse_error(
                    f"Unexpected end of name token at byte offset {_byte_offset(src, token_start)}"
                )
        else:
            quote = src[i]
            i += 1
            chars: list[str] = []
            while i < n and src[i] != quote:
                decoded = _html_entity(src, i) if src[i] == "&" else None
                if decoded is not None:
                    chars.append(decoded[0])
                    i = decoded[1]
                    continue
                chars.append(src[i])
                i += 1
            if i < n:
                i += 1
            value = "".join(chars)
        if i >= n:
            raise unclosed()
        if tag == "a" and name == "href":
            argument = value
        elif tag == "code" and name == "class" and value.startswith("language-"):
            argument = value[len("language-") :]
        elif tag == "span" and name == "class" and value.startswith("tg-"):
            argument = value[len("tg-") :]
        elif tag == "tg-emoji" and name == "emoji-id":
            argument = value


def _close_html_entity(
    top: dict[str, Any],
    utf16: int,
    stack: list[dict[str, Any]],
    entities: list[dict[str, Any]],
) -> None:
    tag = top["tag"]
    offset = top["offset"]
    length = utf16 - offset
    if tag == "code" and stack and stack[-1]["tag"] == "pre":
        if top["argument"]:
            stack[-1]["language"] = top["argument"]
        return
    if length <= 0:
        return
    entity: dict[str, Any] = {"offset": offset, "length": length}
    if tag == "a":
        if not top["argument"]:
            return
        entity["type"] = "text_link"
        entity["url"] = top["argument"]
    elif tag == "tg-emoji":
        if not top["argument"]:
            return
        entity["type"] = "custom_emoji"
        entity["custom_emoji_id"] = top["argument"]
    elif tag == "blockquote":
        entity["type"] = "expandable_blockquote" if top["expandable"] else "blockquote"
    elif tag == "pre":
        entity["type"] = "pre"
        if top.get("language"):
            entity["language"] = top["language"]
    elif tag in _HTML_TAG_TYPES:
        entity["type"] = _HTML_TAG_TYPES[tag]
    else:
        return
    entities.append(entity)


def _strip_text(text: str, entities: list[dict[str, Any]]) -> tuple[str, list[dict[str, Any]]]:
    """Trim surrounding whitespace like Telegram does, shifting and clipping entities."""
    stripped = text.strip()
    if stripped == text:
        return text, entities
    lead = _utf16_len(text[: len(text) - len(text.lstrip())])
    total = _utf16_len(stripped)
    result: list[dict[str, Any]] = []
    for entity in entities:
        start = max(entity["offset"] - lead, 0)
        end = min(entity["offset"] + entity["length"] - lead, total)
        if end > start:
            result.append({**entity, "offset": start, "length": end - start})
    return stripped, result


def _chat_full_info(chat: dict[str, Any]) -> dict[str, Any]:
    """A Chat dict as getChat answers it, a ChatFullInfo (core.telegram.org/bots/api#chatfullinfo):
    the Chat's fields (``title`` of a group or channel; ``first_name``, ``last_name`` and
    ``username`` of a private chat's other party, those it has) and the fields ChatFullInfo
    requires besides: ``accent_color_id`` (one of the 7 built-in colours, by the id: choice),
    ``max_reaction_count`` (Telegram's default of 11: choice) and ``accepted_gift_types`` (all
    accepted: choice)."""
    fields = ("id", "type", "title", "username", "first_name", "last_name", "is_forum")
    info = {name: copy.deepcopy(chat[name]) for name in fields if name in chat}
    info["accent_color_id"] = abs(int(chat["id"])) % 7
    info["max_reaction_count"] = 11
    info["accepted_gift_types"] = {
        "unlimited_gifts": True,
        "limited_gifts": True,
        "unique_gifts": True,
        "premium_subscription": True,
        "gifts_from_channels": True,
    }
    return info


def _png_size(data: bytes) -> tuple[int, int]:
    """Width and height from a PNG header (0, 0 for anything else)."""
    if data[:8] == b"\x89PNG\r\n\x1a\n" and len(data) >= 24:
        return int.from_bytes(data[16:20], "big"), int.from_bytes(data[20:24], "big")
    return 0, 0


def _voice_format(data: bytes) -> str | None:
    """The voice format ``data`` is in by its magic bytes: ``"ogg"`` (an Ogg stream whose first
    packet is ``OpusHead``), ``"mp3"`` (an ID3 tag or an MPEG audio frame header) or ``"m4a"``
    (an ISO base media ``ftyp`` box); ``None`` for anything else (WAV, FLAC, Ogg/Vorbis ...)."""
    if data[:4] == b"OggS" and len(data) >= 27:
        # RFC 3533: a 27-byte page header, then its segment table; RFC 7845: the first packet
        # of an Ogg/Opus stream is the identification header "OpusHead".
        start = 27 + data[26]
        return "ogg" if data[start : start + 8] == b"OpusHead" else None
    if data[:3] == b"ID3":
        return "mp3"
    if len(data) >= 2 and data[0] == 0xFF and data[1] & 0xE0 == 0xE0 and data[1] & 0x06:
        return "mp3"  # frame sync, and a layer other than the "reserved" 00 (that is AAC/ADTS)
    if data[4:8] == b"ftyp":
        return "m4a"
    return None


_VOICE_MIME_TYPES = {"ogg": "audio/ogg", "mp3": "audio/mpeg", "m4a": "audio/mp4"}


def _ogg_opus_duration(data: bytes) -> int:
    """Duration in whole seconds of an Ogg/Opus stream (0 when it cannot be determined)."""
    head = data.find(b"OpusHead")
    last = data.rfind(b"OggS")
    if head < 0 or last < 0 or len(data) < last + 14 or data[last + 4] != 0:
        return 0
    pre_skip = (
        int.from_bytes(data[head + 10 : head + 12], "little") if len(data) >= head + 12 else 0
    )
    granule = int.from_bytes(data[last + 6 : last + 14], "little")
    if granule == 2**64 - 1:
        return 0
    return max(0, round((granule - pre_skip) / 48000))


# ----------------------------------------------------------------------------- the stand-in


class BotAPIStandIn:
    """A Telegram Bot API server on ``127.0.0.1`` for driving a real aiogram bot.

    Use as ``async with BotAPIStandIn() as stand_in:`` (or ``await start()`` / ``await stop()``).
    ``url`` is valid once started. All methods must be called from the event loop the server
    runs on. Method names are matched case-insensitively, as Telegram does.

    Lenient where tests need it: sending to a chat never seen before synthesises it (positive
    id: private chat; ``-100...``: supergroup; other negative ids: group). Strict where Telegram
    is strict: see the module docstring. A message exists for replies once it was pushed (in any
    update) or sent by the bot, until :meth:`delete_message`.
    """

    def __init__(
        self,
        *,
        token: str = "123456:TEST",
        bot_id: int = 123456,
        bot_username: str = "test_voice_bot",
        host: str = "127.0.0.1",
        bot_name: str = "Test Voice Bot",
        flood_limits: FloodLimits | None = DEFAULT_FLOOD_LIMITS,
    ) -> None:
        """Prepare (but do not start) a stand-in answering for the bot with this token.

        ``flood_limits`` are enforced from the first call; ``None`` turns them off (the
        attribute of the same name can be changed at any time, buckets keep their fill).
        """
        self.token = token
        self.bot_id = bot_id
        self.bot_username = bot_username
        self.bot_name = bot_name
        self.host = host
        self.url = ""
        self.calls: list[Call] = []
        """Every answered API request, in the order the answers were produced.

        Requests with a wrong token (answered 401) and requests whose client went away before
        the answer was ready are not recorded."""
        self.chat_admins: dict[int, list[dict[str, Any]]] = {}
        """chat_id -> ChatMember dicts (each with a ``user``) for getChatAdministrators.

        ``status`` defaults to ``"administrator"``; the other fields its status requires are
        filled in when answering. Like Telegram's, every answer lists the chat's creator: a
        list without a ``"creator"`` entry (or a group without an entry) gets
        :data:`DEFAULT_CREATOR` as creator, first."""
        self.flood_limits = flood_limits
        """The flood limits enforced on sends and edits; ``None``: none (see FloodLimits)."""

        self._runner: web.AppRunner | None = None
        self._closing = False
        self._updates: list[dict[str, Any]] = []
        self._next_update_id = 100_000_001
        self._allowed_updates: list[str] | None = None
        self._poll_generation = 0
        self._updates_signal = _Signal()
        self._calls_signal = _Signal()
        self._failures: dict[str, deque[_Failure]] = {}
        self._download_failures: deque[int] = deque()
        self._floods: dict[int, float] = {}  # chat id -> monotonic time its flood control ends
        self._buckets: dict[tuple[str, int], _Bucket] = {}  # ("chat"|"group", chat id) -> fill
        # chat id -> (sendVoice refusal, sendAudio refusal or None)
        self._voice_refusals: dict[int, tuple[str, str | None]] = {}
        self._files: dict[str, _StoredFile] = {}
        self._paths: dict[str, str] = {}
        self._file_counter = 0
        self._messages: dict[tuple[int, int], dict[str, Any]] = {}
        self._last_message_id: dict[int, int] = {}
        self._chats: dict[int, dict[str, Any]] = {}
        # chat id -> the Chat dict as the last pushed update carried it (getChat knows only these)
        self._seen_chats: dict[int, dict[str, Any]] = {}
        self._users: dict[int, dict[str, Any]] = {}
        self._webhook_url = ""
        self._handlers: dict[str, _Handler] = {
            "getme": self._get_me,
            "getupdates": self._get_updates,
            "deletewebhook": self._delete_webhook,
            "setwebhook": self._set_webhook,
            "getfile": self._get_file,
            "sendmessage": self._send_message,
            "sendvoice": self._send_voice,
            "sendaudio": self._send_audio,
            "sendphoto": self._send_photo,
            "editmessagetext": self._edit_message_text,
            "answercallbackquery": self._true,
            "sendchataction": self._send_chat_action,
            "sendmessagedraft": self._send_message_draft,
            "setmessagereaction": self._set_message_reaction,
            "setmycommands": self._set_my_commands,
            "getchatadministrators": self._get_chat_administrators,
            "getchatmember": self._get_chat_member,
            "getchat": self._get_chat,
        }

    # ------------------------------------------------------------------------- lifecycle

    async def start(self) -> None:
        """Listen on a free port of ``host`` and set ``url``; idempotent."""
        if self._runner is not None:
            return
        self._closing = False
        self._updates_signal = _Signal()
        self._calls_signal = _Signal()
        app = web.Application(client_max_size=MAX_UPLOAD_SIZE + 16 * 1024 * 1024)
        app.router.add_route("*", "/bot{token}/{method}", self._handle_api)
        app.router.add_get("/file/bot{token}/{path:.+}", self._handle_download)
        runner = web.AppRunner(
            app, access_log=None, handler_cancellation=True, shutdown_timeout=2.0
        )
        await runner.setup()
        site = web.TCPSite(runner, self.host, 0)
        await site.start()
        self._runner = runner
        port = runner.addresses[0][1]
        self.url = f"http://{self.host}:{port}"

    async def stop(self) -> None:
        """Answer pending long polls with ``[]`` and shut the server down; idempotent."""
        if self._runner is None:
            return
        self._closing = True
        self._updates_signal.notify()
        runner, self._runner = self._runner, None
        await runner.cleanup()

    async def __aenter__(self) -> Self:
        await self.start()
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc_value: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        await self.stop()

    # ----------------------------------------------------------------------------- files

    def add_file(
        self, data: bytes, *, path_hint: str = "voice/file.oga", file_size: int | None = None
    ) -> tuple[str, str]:
        """Register downloadable bytes; return ``(file_id, file_unique_id)``.

        The file path keeps the hint's folder and extension (``voice/file_7.oga``).
        ``file_size`` overrides the size reported by getFile (default ``len(data)``); getFile
        refuses files whose size exceeds 20 MB, like Telegram.
        """
        stored = self._register_file(data, path_hint, len(data) if file_size is None else file_size)
        return stored.file_id, stored.file_unique_id

    def _register_file(self, data: bytes, path_hint: str, file_size: int | None) -> _StoredFile:
        hint = PurePosixPath(path_hint)
        folder = str(hint.parent) if str(hint.parent) not in ("", ".") else ""
        self._file_counter += 1
        name = f"file_{self._file_counter}{hint.suffix}"
        file_path = f"{folder}/{name}" if folder else name
        prefix = _FILE_ID_PREFIXES.get(folder, "BQACAgIAAxkBAAI")
        stored = _StoredFile(
            file_id=prefix + secrets.token_urlsafe(48)[:56],
            file_unique_id="AgAD" + secrets.token_urlsafe(12)[:12],
            file_path=file_path,
            data=bytes(data),
            file_size=file_size,
        )
        self._files[stored.file_id] = stored
        self._paths[file_path] = stored.file_id
        return stored

    # --------------------------------------------------------------------------- updates

    def push_update(self, update: dict[str, Any]) -> dict[str, Any]:
        """Queue a raw update and wake long polls; return it (``update_id`` filled in).

        An update without ``update_id`` gets the next one; ids only ever increase.
        """
        if "update_id" not in update:
            update["update_id"] = self._next_update_id
        self._next_update_id = max(self._next_update_id, int(update["update_id"]) + 1)
        self._updates.append(update)
        self._updates.sort(key=lambda item: int(item["update_id"]))
        self._remember_message(update)
        self._remember_chats(update)
        self._updates_signal.notify()
        return update

    def push_message(
        self,
        kind: MessageKind,
        *,
        chat_id: int,
        user_id: int | None = None,
        data: bytes | None = None,
        text: str | None = None,
        entities: list[dict[str, Any]] | None = None,
        caption: str | None = None,
        duration: int | None = None,
        file_size: int | None = None,
        mime_type: str | None = None,
        file_name: str | None = None,
        performer: str | None = None,
        title: str | None = None,
        length: int | None = None,
        chat_type: str = "private",
        chat_title: str | None = None,
        language_code: str = "en",
        first_name: str = "Test",
        username: str | None = None,
        reply_to: dict[str, Any] | None = None,
        message_id: int | None = None,
        anonymous_admin: bool = False,
        channel: dict[str, Any] | None = None,
        automatic_forward: bool = False,
        extra: dict[str, Any] | None = None,
    ) -> dict[str, Any]:
        """Queue a message from user ``user_id`` in chat ``chat_id``; return the queued update.

        ``kind="text"`` needs ``text``; a text starting with ``/`` gets a ``bot_command``
        entity over its first word unless ``entities`` already has one at offset 0.

        Every other kind needs ``data``, which becomes downloadable via getFile (as
        :meth:`add_file` does); the message carries the attachment under the key ``kind``:

        - ``file_size``: ``len(data)`` unless given (to advertise more, e.g. past 20 MB);
        - ``duration`` (all but document): as given, else read from the Ogg/Opus stream (0
          when ``data`` is not one);
        - ``mime_type`` (all but video_note) and ``file_name`` (audio, video, document): as
          given, else the kind's default; the getFile path keeps the name's extension;
        - ``performer`` and ``title`` (audio) when given; ``length`` (video_note, 384 unless
          given); a fixed 640x360 ``width`` and ``height`` (video).

        ``caption`` goes on any kind but text and video_note. A parameter the kind cannot
        carry raises :class:`ValueError` rather than being dropped, so a test never sends less
        than it says. The sender (``first_name``, ``username``, ``language_code``) and the chat
        (``chat_type``, ``chat_title`` for groups) are remembered for later answers.
        ``reply_to`` is the Message dict replied to; ``message_id`` overrides the next id of
        the chat; ``extra`` is merged into the message last (e.g. ``forward_origin``).

        A supergroup's message can come from a chat instead of a user, as Telegram sends them
        (then ``user_id`` is not given; ``first_name``, ``username`` and ``language_code`` are
        unused):

        - ``anonymous_admin=True``: an anonymous admin of the supergroup: ``from`` is
          :data:`GROUP_ANONYMOUS_BOT`, ``sender_chat`` the group itself;
        - ``channel={"id": ..., "title": ...}``: a member writing as a channel (``type``
          "channel" and a title are filled in): ``from`` is :data:`CHANNEL_BOT`, ``sender_chat``
          the channel;
        - ``channel=...`` with ``automatic_forward=True``: the linked channel's post forwarded
          into its discussion group: ``from`` is :data:`TELEGRAM_SERVICE_USER` (777000, not a
          bot), ``sender_chat`` the channel, ``is_automatic_forward`` and a ``forward_origin``
          of type "channel" (the post's id is the channel's next one).

        ``chat_type="channel"`` (no ``user_id``, no sender arguments) is the channel's own post:
        a ``channel_post`` update, ``sender_chat`` the channel itself and no ``from``.

        A push with ``user_id`` set to one of those accounts' ids carries the real account.
        """
        sender_chat = self._sender_chat(
            chat_id, chat_type, chat_title, user_id, anonymous_admin, channel, automatic_forward
        )
        fields = {
            "duration": duration,
            "mime_type": mime_type,
            "file_name": file_name,
            "performer": performer,
            "title": title,
            "length": length,
        }
        if kind == "text":
            allowed = {"text", "entities"}
        elif kind in _ATTACHMENTS:
            allowed = {"data", "file_size", *_ATTACHMENTS[kind][1]}
            if kind in _CAPTIONED:
                allowed.add("caption")
        else:
            raise ValueError(f"unknown message kind {kind!r}")
        passed = {
            "data": data,
            "text": text,
            "entities": entities,
            "caption": caption,
            "file_size": file_size,
            **fields,
        }
        unusable = sorted(
            name for name, value in passed.items() if value is not None and name not in allowed
        )
        if unusable:
            raise ValueError(f"a {kind} message has no {', '.join(unusable)}")

        # Everything is checked before the envelope takes a message id and remembers the
        # sender, so a refused push leaves no trace.
        content: dict[str, Any]
        if kind == "text":
            if text is None:
                raise ValueError("a text message needs text")
            content = {"text": text}
            if all_entities := _text_entities(text, entities or []):
                content["entities"] = all_entities
        else:
            if data is None:
                raise ValueError(f"a {kind} message needs data")
            content = {kind: self._attachment(kind, data, file_size, fields)}
            if caption is not None:
                content["caption"] = caption

        user: dict[str, Any] | None
        if chat_type == "channel":
            user = None  # a channel's post has no sender user (the Bot API's Message.from)
        elif sender_chat is None:
            assert user_id is not None  # _sender_chat checked it
            user = self._user_dict(user_id, first_name, language_code, username)
        elif anonymous_admin:
            user = copy.deepcopy(GROUP_ANONYMOUS_BOT)
        elif automatic_forward:
            user = copy.deepcopy(TELEGRAM_SERVICE_USER)
        else:
            user = copy.deepcopy(CHANNEL_BOT)
        chat = self._chat_dict(chat_id, chat_type, user or {}, chat_title)
        self._chats[chat_id] = chat
        message: dict[str, Any] = {
            "message_id": self._next_message_id(chat_id, message_id),
            "chat": copy.deepcopy(chat),
            "date": int(time.time()),
        }
        if user is not None:
            message["from"] = user
        if chat_type == "channel":
            sender_chat = copy.deepcopy(chat)
        if sender_chat is not None:
            if not anonymous_admin:
                self._chats.setdefault(sender_chat["id"], copy.deepcopy(sender_chat))
            message["sender_chat"] = sender_chat
            if automatic_forward:
                message["is_automatic_forward"] = True
                message["forward_origin"] = {
                    "type": "channel",
                    "chat": copy.deepcopy(sender_chat),
                    "message_id": self._next_message_id(sender_chat["id"]),
                    "date": message["date"],
                }
        if reply_to is not None:
            replied = copy.deepcopy(reply_to)
            # Telegram nests replies one level deep only.
            replied.pop("reply_to_message", None)
            message["reply_to_message"] = replied
        message.update(content)
        if extra:
            message.update(copy.deepcopy(extra))
        return self.push_update({"channel_post" if chat_type == "channel" else "message": message})

    @staticmethod
    def _sender_chat(
        chat_id: int,
        chat_type: str,
        chat_title: str | None,
        user_id: int | None,
        anonymous_admin: bool,
        channel: dict[str, Any] | None,
        automatic_forward: bool,
    ) -> dict[str, Any] | None:
        """Check push_message's sender arguments; return the ``sender_chat`` they ask for, or
        ``None`` for a message from ``user_id`` (or a channel's own post)."""
        if chat_type == "channel":
            # A channel's posts are the channel's: no user, no other chat, no forward from itself.
            if user_id is not None or anonymous_admin or channel is not None or automatic_forward:
                raise ValueError("a channel's post has no user_id or other sender")
            return None
        if anonymous_admin and channel is not None:
            raise ValueError("a message comes from an anonymous admin or a channel, not both")
        if automatic_forward and channel is None:
            raise ValueError("an automatic forward comes from a channel: pass channel=")
        if not anonymous_admin and channel is None:
            if user_id is None:
                raise ValueError("a message needs a user_id (or anonymous_admin or channel)")
            return None
        if user_id is not None:
            raise ValueError("a message sent as a chat has no user_id")
        # Anonymous admins, linked discussion groups and writing as a channel exist in
        # supergroups only: Telegram upgrades a basic group before it can have any of them.
        if chat_type != "supergroup":
            raise ValueError(
                f"only a supergroup's message can be sent as a chat, not a {chat_type}'s"
            )
        if anonymous_admin:
            return {"id": chat_id, "type": chat_type, "title": chat_title or "Test Group"}
        assert channel is not None
        if "id" not in channel or channel.get("type", "channel") != "channel":
            raise ValueError("channel= needs an id and is of type channel")
        return {"type": "channel", "title": "Test Channel", **copy.deepcopy(channel)}

    def _attachment(
        self, kind: str, data: bytes, file_size: int | None, given: dict[str, Any]
    ) -> dict[str, Any]:
        """Register ``data`` and describe it as an attachment of ``kind`` (see push_message)."""
        path_hint, defaults = _ATTACHMENTS[kind]
        values = {
            name: given[name] if given.get(name) is not None else default
            for name, default in defaults.items()
        }
        if "duration" in values and values["duration"] is None:
            values["duration"] = _ogg_opus_duration(data)
        if values.get("file_name"):
            hint = PurePosixPath(path_hint)
            suffix = PurePosixPath(values["file_name"]).suffix or hint.suffix
            path_hint = str(hint.with_suffix(suffix))
        file_id, file_unique_id = self.add_file(data, path_hint=path_hint, file_size=file_size)
        attachment: dict[str, Any] = {"file_id": file_id, "file_unique_id": file_unique_id}
        attachment.update((name, value) for name, value in values.items() if value is not None)
        attachment["file_size"] = len(data) if file_size is None else file_size
        return attachment

    def push_callback(
        self,
        *,
        chat_id: int,
        user_id: int,
        data: str,
        message: dict[str, Any],
        language_code: str = "en",
        chat_type: str = "private",
        first_name: str = "Test",
        username: str | None = None,
    ) -> dict[str, Any]:
        """Queue a ``callback_query`` for a button on ``message`` (e.g. ``call.result``).

        ``message`` must be a full Message dict; it is also remembered so that the bot can
        edit it. Returns the queued update.
        """
        user = self._user_dict(user_id, first_name, language_code, username)
        if chat_id not in self._chats:
            self._chats[chat_id] = self._chat_dict(chat_id, chat_type, user, None)
        query = {
            "id": str(secrets.randbelow(10**18) + 10**18),
            "from": user,
            "chat_instance": str(-(abs(hash((self.bot_id, chat_id))) % 10**18)),
            "message": copy.deepcopy(message),
            "data": data,
        }
        return self.push_update({"callback_query": query})

    def push_chat_member(
        self,
        *,
        chat_id: int,
        user_id: int,
        old_status: str,
        new_status: str,
        chat_type: str = "supergroup",
        chat_title: str | None = None,
        by_user_id: int | None = None,
    ) -> dict[str, Any]:
        """Queue a ``chat_member`` update: ``user_id``'s status in the group went from
        ``old_status`` to ``new_status`` (``"creator"``, ``"administrator"``, ``"member"``,
        ``"left"``…), changed by ``by_user_id`` (default: the chat's creator). ``chat_admins``
        follows, so getChatAdministrators and getChatMember answer the new status.

        Telegram sends these only to a bot that is an admin of the chat and asked for them in
        ``allowed_updates`` (core.telegram.org/bots/api#update, ``chat_member``); the stand-in
        drops them unless asked, like any kind left out by default.
        """
        user = self._known_user(user_id)
        chat = self._chats.get(chat_id) or self._chat_dict(chat_id, chat_type, user, chat_title)
        self._chats[chat_id] = chat
        admins = [m for m in self.chat_admins.get(chat_id, []) if m["user"]["id"] != user_id]
        if new_status in ("creator", "administrator"):
            admins.append({"status": new_status, "user": copy.deepcopy(user)})
        self.chat_admins[chat_id] = admins
        actor = self._known_user(by_user_id) if by_user_id else copy.deepcopy(DEFAULT_CREATOR)
        update = {
            "chat_member": {
                "chat": copy.deepcopy(chat),
                "from": actor,
                "date": int(time.time()),
                "old_chat_member": _normalize_admin({"status": old_status, "user": user}),
                "new_chat_member": _normalize_admin({"status": new_status, "user": user}),
            }
        }
        return self.push_update(update)

    @property
    def pending_updates(self) -> int:
        """Queued updates that getUpdates has not yet confirmed (by an offset above their id)."""
        return len(self._updates)

    # ------------------------------------------------------------------------ inspection

    def calls_of(self, method: str) -> list[Call]:
        """Recorded calls of ``method`` (case-insensitive), oldest first, failures included."""
        wanted = method.lower()
        return [call for call in self.calls if call.method.lower() == wanted]

    async def wait_for(
        self,
        method: str,
        count: int = 1,
        timeout: float = 10.0,
        predicate: Callable[[Call], bool] | None = None,
    ) -> list[Call]:
        """Wait until at least ``count`` calls of ``method`` (matching ``predicate``) exist.

        Returns all matching calls. Raises :class:`TimeoutError` naming what was seen.
        """
        loop = asyncio.get_running_loop()
        deadline = loop.time() + timeout
        while True:
            matching = [
                call for call in self.calls_of(method) if predicate is None or predicate(call)
            ]
            if len(matching) >= count:
                return matching
            remaining = deadline - loop.time()
            if remaining <= 0:
                raise TimeoutError(self._timeout_summary(method, count, len(matching), timeout))
            await self._calls_signal.wait(remaining)

    def _timeout_summary(self, method: str, count: int, found: int, timeout: float) -> str:
        counts: dict[str, int] = {}
        for call in self.calls:
            counts[call.method] = counts.get(call.method, 0) + 1
        seen = ", ".join(f"{name} x{number}" for name, number in counts.items()) or "none"
        recent = "; ".join(
            f"{call.method}({_short_params(call.params)}) -> {call.status}"
            for call in self.calls[-5:]
            if call.method.lower() != "getupdates"
        )
        return (
            f"waited {timeout:g}s for {count} {method} call(s), {found} matched; "
            f"calls seen: {seen}; recent: {recent or 'none'}"
        )

    # ------------------------------------------------------------------- failure injection

    def fail_next(
        self,
        method: str,
        *,
        error_code: int,
        description: str,
        retry_after: int | None = None,
        times: int = 1,
        migrate_to_chat_id: int | None = None,
    ) -> None:
        """Make the next ``times`` calls of ``method`` fail with HTTP status ``error_code``.

        The body is ``{"ok": false, "error_code", "description"}`` plus ``parameters`` when
        ``retry_after`` (aiogram raises TelegramRetryAfter) or ``migrate_to_chat_id`` is given.
        Failures queue up behind earlier ones for the same method.
        """
        queue = self._failures.setdefault(method.lower(), deque())
        for _ in range(times):
            queue.append(_Failure(error_code, description, retry_after, migrate_to_chat_id))

    def flood(self, chat_id: int, seconds: float) -> None:
        """Put ``chat_id`` under flood control for ``seconds``: every call addressed to it is
        answered 429 "Too Many Requests: retry after N" with ``parameters.retry_after`` = the
        seconds left (rounded up), as Telegram does (core.telegram.org/bots/faq, "My bot is
        hitting limits"); calls for other chats are not affected."""
        self._floods[chat_id] = time.monotonic() + seconds

    def voice_forbidden(self, chat_id: int, *, audio: bool = False) -> None:
        """Make private chat ``chat_id``'s user refuse voice notes (their privacy setting for
        voice messages): sendVoice answers 400 "Bad Request: VOICE_MESSAGES_FORBIDDEN"
        (core.telegram.org/method/messages.sendMedia: "This user's privacy settings forbid you
        from sending voice messages").

        Telegram applies that setting to voice and video notes only; ``audio=True`` refuses
        sendAudio with the same answer too, to drive a bot's last fallback (text alone).
        """
        if chat_id <= 0:
            raise ValueError("voice messages are forbidden by a user, in a private chat")
        refusal = "Bad Request: VOICE_MESSAGES_FORBIDDEN"
        self._voice_refusals[chat_id] = (refusal, refusal if audio else None)

    def no_voice_rights(self, chat_id: int, *, audio: bool = False) -> None:
        """Make group ``chat_id``'s permissions forbid voice notes (``can_send_voice_notes``
        off): sendVoice answers 400 "Bad Request: not enough rights to send voice notes to the
        chat". With ``audio=True`` music is forbidden too (``can_send_audios`` off): sendAudio
        answers 400 "Bad Request: not enough rights to send music to the chat". Both texts are
        TDLib's ``can_send_message_content`` errors as the Bot API server passes them on.
        """
        if chat_id >= 0:
            raise ValueError("a chat's permissions forbid voice notes in a group")
        self._voice_refusals[chat_id] = (
            "Bad Request: not enough rights to send voice notes to the chat",
            "Bad Request: not enough rights to send music to the chat" if audio else None,
        )

    def allow_voice(self, chat_id: int) -> None:
        """Undo :meth:`voice_forbidden` or :meth:`no_voice_rights` for ``chat_id``."""
        self._voice_refusals.pop(chat_id, None)

    def delete_message(self, chat_id: int, message_id: int) -> None:
        """Forget a message, as if its author deleted it: replies to it are then refused unless
        they allow sending without the reply, and it can no longer be edited."""
        self._messages.pop((chat_id, message_id), None)

    def fail_next_download(self, *, status: int = 500, times: int = 1) -> None:
        """Make the next ``times`` requests to the file server (``/file/bot{token}/...``, not
        getFile) answer HTTP ``status`` instead of the file; they queue up behind earlier ones."""
        self._download_failures.extend([status] * times)

    # ------------------------------------------------------------------------ HTTP layer

    async def _handle_api(self, request: web.Request) -> web.Response:
        t = time.perf_counter()
        if request.match_info["token"] != self.token:
            return _error_response(401, "Unauthorized")
        method = request.match_info["method"]
        try:
            params, files, filenames = await _read_request(request)
        except _APIError as exc:
            params, files, filenames = {}, {}, {}
            read_error: _APIError | None = exc
        else:
            read_error = None
        call = Call(method, params, files, filenames, t, time.perf_counter())
        if read_error is not None:
            status, body = read_error.status, read_error.body()
        else:
            status, body = await self._dispatch(call)
        call.status, call.response = status, body
        self.calls.append(call)
        self._calls_signal.notify()
        return web.json_response(body, status=status)

    async def _dispatch(self, call: Call) -> tuple[int, dict[str, Any]]:
        key = call.method.lower()
        flooded_until = self._floods.get(call.int_param("chat_id") or 0)
        if flooded_until is not None and (left := flooded_until - time.monotonic()) > 0:
            flooded = _too_many_requests(left)
            return flooded.status, flooded.body()
        queue = self._failures.get(key)
        if queue:
            failure = queue.popleft()
            body = _error_body(failure.error_code, failure.description)
            parameters: dict[str, Any] = {}
            if failure.retry_after is not None:
                parameters["retry_after"] = failure.retry_after
            if failure.migrate_to_chat_id is not None:
                parameters["migrate_to_chat_id"] = failure.migrate_to_chat_id
            if parameters:
                body["parameters"] = parameters
            return failure.error_code, body
        handler = self._handlers.get(key)
        if handler is None:
            return 404, _error_body(404, "Not Found: method not found")
        try:
            result = await handler(call)
        except _APIError as exc:
            return exc.status, exc.body()
        return 200, {"ok": True, "result": result}

    async def _handle_download(self, request: web.Request) -> web.StreamResponse:
        if request.match_info["token"] != self.token:
            return _error_response(401, "Unauthorized")
        if self._download_failures:
            status = self._download_failures.popleft()
            return _error_response(status, HTTPStatus(status).phrase)
        file_id = self._paths.get(request.match_info["path"])
        if file_id is None:
            return _error_response(404, "Not Found")
        return web.Response(body=self._files[file_id].data, content_type="application/octet-stream")

    # ------------------------------------------------------------------- method handlers

    async def _true(self, call: Call) -> bool:
        return True

    def _bot_user(self) -> dict[str, Any]:
        return {
            "id": self.bot_id,
            "is_bot": True,
            "first_name": self.bot_name,
            "username": self.bot_username,
        }

    async def _get_me(self, call: Call) -> dict[str, Any]:
        return {
            **self._bot_user(),
            "can_join_groups": True,
            "can_read_all_group_messages": False,
            "supports_inline_queries": False,
            "can_connect_to_business": False,
            "has_main_web_app": False,
        }

    async def _get_updates(self, call: Call) -> list[dict[str, Any]]:
        if self._webhook_url:
            raise _APIError(
                409,
                "Conflict: can't use getUpdates method while webhook is active; "
                "use deleteWebhook to delete the webhook first",
            )
        params = call.params
        offset = _opt_int(params, "offset")
        limit = min(max(_opt_int(params, "limit") or 100, 1), 100)
        timeout = max(_opt_int(params, "timeout") or 0, 0)
        if "allowed_updates" in params:
            allowed = params["allowed_updates"]
            if isinstance(allowed, str):
                allowed = [allowed] if allowed else []
            self._allowed_updates = [str(item) for item in allowed] or None
        if offset is not None:
            if offset < 0:
                self._updates = self._updates[offset:]
            else:
                self._updates = [u for u in self._updates if int(u["update_id"]) >= offset]
        self._poll_generation += 1
        generation = self._poll_generation
        self._updates_signal.notify()
        loop = asyncio.get_running_loop()
        deadline = loop.time() + timeout
        while True:
            if self._closing:
                return []
            if generation != self._poll_generation:
                raise _APIError(
                    409,
                    "Conflict: terminated by other getUpdates request; "
                    "make sure that only one bot instance is running",
                )
            self._drop_unwanted_updates()
            batch = self._updates[:limit]
            if batch:
                return copy.deepcopy(batch)
            remaining = deadline - loop.time()
            if remaining <= 0:
                return []
            await self._updates_signal.wait(remaining)

    def _drop_unwanted_updates(self) -> None:
        allowed = self._allowed_updates

        def wanted(update: dict[str, Any]) -> bool:
            kind = next((key for key in update if key != "update_id"), "")
            if allowed is None:
                return kind not in _DEFAULT_EXCLUDED_UPDATES
            return kind in allowed

        self._updates = [update for update in self._updates if wanted(update)]

    async def _delete_webhook(self, call: Call) -> bool:
        self._webhook_url = ""
        if _opt_bool(call.params, "drop_pending_updates"):
            self._updates.clear()
        return True

    async def _set_webhook(self, call: Call) -> bool:
        self._webhook_url = str(call.params.get("url") or "")
        if _opt_bool(call.params, "drop_pending_updates"):
            self._updates.clear()
        return True

    async def _get_file(self, call: Call) -> dict[str, Any]:
        stored = self._files.get(str(call.params.get("file_id") or ""))
        if stored is None:
            raise _APIError(400, "Bad Request: invalid file_id")
        if stored.file_size is not None and stored.file_size > MAX_DOWNLOAD_SIZE:
            raise _APIError(400, "Bad Request: file is too big")
        result: dict[str, Any] = {
            "file_id": stored.file_id,
            "file_unique_id": stored.file_unique_id,
            "file_path": stored.file_path,
        }
        if stored.file_size is not None:
            result["file_size"] = stored.file_size
        return result

    async def _send_message(self, call: Call) -> dict[str, Any]:
        chat = self._chat_param(call.params)
        text, entities = _render(
            call.params.get("text"),
            call.params.get("parse_mode"),
            call.params.get("entities"),
            limit=MAX_TEXT_LENGTH,
            empty_error="Bad Request: message text is empty",
            long_error="Bad Request: message is too long",
        )
        replied = self._reply_target(chat, call.params)
        markup = _validate_markup(call.params.get("reply_markup"))
        self._take_send(chat)
        message = self._bot_message(chat, replied, markup)
        message["text"] = text
        if entities:
            message["entities"] = entities
        return self._store_bot_message(message)

    async def _send_voice(self, call: Call) -> dict[str, Any]:
        return self._send_media(call, "voice", "voice/file.oga")

    async def _send_audio(self, call: Call) -> dict[str, Any]:
        return self._send_media(call, "audio", "music/file.mp3")

    async def _send_photo(self, call: Call) -> dict[str, Any]:
        return self._send_media(call, "photo", "photos/file.png")

    def _send_media(self, call: Call, kind: str, path_hint: str) -> dict[str, Any]:
        """Answer sendVoice, sendAudio or sendPhoto: the upload becomes a downloadable file.

        Checked in order: the chat, the upload, the chat's voice refusals and (sendVoice) the
        voice format, the caption, the reply, the markup, then the flood limits.
        """
        params = call.params
        chat = self._chat_param(params)
        again = self._file_again(call, kind, path_hint)
        data, filename = (again.data, "") if again is not None else self._uploaded_file(call, kind)
        voice_format = self._check_voice(chat, kind, data)
        caption, caption_entities = _render(
            params.get("caption"),
            params.get("parse_mode"),
            params.get("caption_entities"),
            limit=MAX_CAPTION_LENGTH,
            empty_error=None,
            long_error="Bad Request: message caption is too long",
        )
        replied = self._reply_target(chat, params)
        markup = _validate_markup(params.get("reply_markup"))
        self._take_send(chat)
        stored = again or self._register_file(data, path_hint, len(data))
        media: dict[str, Any] = {
            "file_id": stored.file_id,
            "file_unique_id": stored.file_unique_id,
        }
        if kind == "photo":
            width, height = _png_size(stored.data)
            media.update(width=width, height=height)
        else:
            duration = _opt_int(params, "duration")
            media["duration"] = (
                duration if duration is not None else _ogg_opus_duration(stored.data)
            )
        if voice_format is not None:
            media["mime_type"] = _VOICE_MIME_TYPES[voice_format]
        elif kind == "audio":
            for key in ("performer", "title"):
                if params.get(key):
                    media[key] = str(params[key])
            if filename:
                media["file_name"] = filename
            media["mime_type"] = mimetypes.guess_type(filename)[0] or "audio/mpeg"
        if stored.file_size is not None:
            media["file_size"] = stored.file_size
        message = self._bot_message(chat, replied, markup)
        message[kind] = [media] if kind == "photo" else media
        if caption:
            message["caption"] = caption
            if caption_entities:
                message["caption_entities"] = caption_entities
        return self._store_bot_message(message)

    def _file_again(self, call: Call, kind: str, path_hint: str) -> _StoredFile | None:
        """The file a send names by its ``file_id`` instead of uploading it (Bot API, "Sending
        files": "pass this file_id as a parameter instead of uploading"), or None for an upload.
        A file id this stand-in never issued is refused ("wrong file identifier/HTTP URL
        specified"), and so is one of another kind ("type of file mismatch": "It is not possible
        to change the file type when resending by file_id"); a URL stays unsupported."""
        named = call.params.get(kind)
        if kind in call.files or not isinstance(named, str) or not named:
            return None
        if named.startswith(("http://", "https://", "attach://")):
            return None  # _uploaded_file refuses it
        stored = self._files.get(named)
        if stored is None:
            raise _APIError(400, "Bad Request: wrong file identifier/HTTP URL specified")
        if PurePosixPath(stored.file_path).parent != PurePosixPath(path_hint).parent:
            raise _APIError(400, "Bad Request: type of file mismatch")
        return stored

    def _uploaded_file(self, call: Call, kind: str) -> tuple[bytes, str]:
        """The bytes uploaded as ``kind`` and the name they were sent under, or Telegram's error.

        A URL in place of an upload is refused (the bot never sends one): a future use gets
        noticed instead of answered with made-up contents. A file id is ``_file_again``'s.
        """
        data = call.files.get(kind)
        if data is None:
            if call.params.get(kind):
                raise _APIError(400, f"Bad Request: {kind} by URL is unsupported in this stand-in")
            raise _APIError(400, f"Bad Request: there is no {kind} in the request")
        if not data:
            raise _APIError(400, "Bad Request: file must be non-empty")
        if len(data) > MAX_UPLOAD_SIZE:
            raise _APIError(413, "Request Entity Too Large")
        return data, call.filenames.get(kind, "")

    def _check_voice(self, chat: dict[str, Any], kind: str, data: bytes) -> str | None:
        """Refuse a voice note or audio file the chat does not take (voice_forbidden,
        no_voice_rights); for sendVoice return the upload's format, or refuse the upload."""
        refusals = self._voice_refusals.get(chat["id"])
        if refusals is not None:
            refusal = refusals[0] if kind == "voice" else refusals[1] if kind == "audio" else None
            if refusal is not None:
                raise _APIError(400, refusal)
        if kind != "voice":
            return None
        # core.telegram.org/bots/api#sendvoice: "your audio must be in an .OGG file encoded
        # with OPUS, or in .MP3 format, or in .M4A format (other formats may be sent as Audio
        # or Document)". What Telegram does with another format is not documented; refusing it
        # makes a wrong encoding visible.
        voice_format = _voice_format(data)
        if voice_format is None:
            raise _APIError(
                400,
                "Bad Request: a voice note must be OGG/Opus, MP3 or M4A "
                "(checked by this stand-in from the file's first bytes)",
            )
        return voice_format

    async def _edit_message_text(self, call: Call) -> dict[str, Any]:
        params = call.params
        text, entities = _render(
            params.get("text"),
            params.get("parse_mode"),
            params.get("entities"),
            limit=MAX_TEXT_LENGTH,
            empty_error="Bad Request: message text is empty",
            long_error="Bad Request: message is too long",
        )
        markup = _validate_markup(params.get("reply_markup"))
        stored = self._editable_message(params)
        if "text" not in stored:
            raise _APIError(400, "Bad Request: there is no text in the message to edit")
        return self._apply_edit(
            stored, {"text": text, "entities": entities or None}, markup, "reply_markup" in params
        )

    def _editable_message(self, params: dict[str, Any]) -> dict[str, Any]:
        chat = self._chat_param(params)
        message_id = _opt_int(params, "message_id")
        if message_id is None:
            raise _APIError(400, "Bad Request: message identifier is not specified")
        stored = self._messages.get((chat["id"], message_id))
        if stored is None:
            raise _APIError(400, "Bad Request: message to edit not found")
        if stored.get("from", {}).get("id") != self.bot_id:
            raise _APIError(400, "Bad Request: message can't be edited")
        return stored

    def _apply_edit(
        self,
        stored: dict[str, Any],
        content: dict[str, Any],
        markup: dict[str, Any] | None,
        replace_markup: bool,
    ) -> dict[str, Any]:
        new_markup = markup if replace_markup else stored.get("reply_markup")
        unchanged = all(stored.get(key) == value for key, value in content.items())
        if unchanged and new_markup == stored.get("reply_markup"):
            raise _APIError(
                400,
                "Bad Request: message is not modified: specified new message content and "
                "reply markup are exactly the same as a current content and reply markup "
                "of the message",
            )
        self._take_send(stored["chat"])
        for key, value in {**content, "reply_markup": new_markup}.items():
            if value is None:
                stored.pop(key, None)
            else:
                stored[key] = copy.deepcopy(value)
        stored["edit_date"] = int(time.time())
        return copy.deepcopy(stored)

    async def _send_chat_action(self, call: Call) -> bool:
        self._chat_param(call.params)
        if call.params.get("action") not in _CHAT_ACTIONS:
            raise _APIError(400, "Bad Request: wrong parameter action in request")
        return True

    async def _send_message_draft(self, call: Call) -> bool:
        """Source: core.telegram.org/bots/api#sendmessagedraft: private chats only; a non-zero
        ``draft_id``; 0-4096 characters of text (empty shows "Thinking…"). Drafts are previews:
        no message is stored and no flood bucket is spent."""
        chat = self._chat_param(call.params)
        if chat["type"] != "private":
            raise _APIError(400, "Bad Request: drafts can be sent only to private chats")
        draft_id = call.int_param("draft_id")
        if not draft_id:
            raise _APIError(400, "Bad Request: draft_id must be non-zero")
        if len(str(call.params.get("text") or "")) > MAX_TEXT_LENGTH:
            raise _APIError(400, "Bad Request: text is too long")
        return True

    def push_stop(self, chat_id: int, draft_id: int) -> dict[str, Any]:
        """Queue the ``stopped_message_generation`` update Telegram sends when the user presses
        a draft's stop button (core.telegram.org/bots/api#messagegenerationstopped)."""
        chat = copy.deepcopy(self._chats.get(chat_id)) or {"id": chat_id, "type": "private"}
        return self.push_update(
            {"stopped_message_generation": {"chat": chat, "draft_id": draft_id}}
        )

    async def _set_message_reaction(self, call: Call) -> bool:
        """Source: core.telegram.org/bots/api#setmessagereaction: the message must exist; bots
        set at most one reaction; an empty list removes it; emoji reactions only here."""
        chat = self._chat_param(call.params)
        message_id = call.int_param("message_id")
        if message_id is None or (chat["id"], message_id) not in self._messages:
            raise _APIError(400, "Bad Request: message to react not found")
        reaction = call.params.get("reaction") or []
        if not isinstance(reaction, list) or len(reaction) > 1:
            raise _APIError(400, "Bad Request: REACTIONS_TOO_MANY")
        for item in reaction:
            if not isinstance(item, dict) or item.get("type") != "emoji" or not item.get("emoji"):
                raise _APIError(400, "Bad Request: REACTION_INVALID")
        return True

    async def _set_my_commands(self, call: Call) -> bool:
        commands = call.params.get("commands")
        if not isinstance(commands, list):
            raise _APIError(400, 'Bad Request: parameter "commands" is required')
        for command in commands:
            if not isinstance(command, dict) or not _COMMAND_RE.match(
                str(command.get("command", ""))
            ):
                raise _APIError(400, "Bad Request: BOT_COMMAND_INVALID")
        return True

    async def _get_chat_administrators(self, call: Call) -> list[dict[str, Any]]:
        chat = self._chat_param(call.params)
        if chat["type"] == "private":
            raise _APIError(400, "Bad Request: there are no administrators in the private chat")
        admins = [_normalize_admin(member) for member in self.chat_admins.get(chat["id"], [])]
        # Every group and channel has a creator, and Telegram lists it among the admins
        # (core.telegram.org/bots/api#getchatadministrators; ChatMemberOwner: "a chat member
        # that owns the chat"), anonymous or not.
        if not any(member["status"] == "creator" for member in admins):
            creator = {"status": "creator", "user": copy.deepcopy(DEFAULT_CREATOR)}
            admins.insert(0, _normalize_admin(creator))
        return admins

    async def _get_chat_member(self, call: Call) -> dict[str, Any]:
        """The user's status in the chat: their ``chat_admins`` entry, the default creator's,
        else a plain member (in a private chat, the user is a member of it)."""
        chat = self._chat_param(call.params)
        user_id = _opt_int(call.params, "user_id")
        if user_id is None:
            raise _APIError(400, "Bad Request: user_id is empty")
        if chat["type"] != "private":
            for member in await self._get_chat_administrators(call):
                if member["user"]["id"] == user_id:
                    return member
        if user_id not in self._users:
            raise _APIError(400, "Bad Request: user not found")
        return {"status": "member", "user": self._known_user(user_id)}

    async def _get_chat(self, call: Call) -> dict[str, Any]:
        """The chat as a ChatFullInfo, for a chat some pushed update carried; else 400 "Bad
        Request: chat not found" (a person's id is known once they wrote to the bot in private:
        tdlib/telegram-bot-api#219)."""
        raw = call.params.get("chat_id")
        if raw is None or raw == "":
            raise _APIError(400, "Bad Request: chat_id is empty")
        chat: dict[str, Any] | None
        if isinstance(raw, str) and raw.startswith("@"):  # a supergroup's or channel's username
            chat = next(
                (
                    seen
                    for seen in self._seen_chats.values()
                    if seen["type"] != "private"
                    and str(seen.get("username", "")).lower() == raw[1:].lower()
                ),
                None,
            )
        else:
            try:
                chat = self._seen_chats.get(int(raw))
            except (TypeError, ValueError):
                chat = None
        if chat is None:
            raise _APIError(400, "Bad Request: chat not found")
        return _chat_full_info(chat)

    # ------------------------------------------------------------------------- helpers

    def _remember_chats(self, update: dict[str, Any]) -> None:
        """The chats ``update`` carries, for getChat: a message's chat and sender chat (a
        reply's too), a callback's message's chat, a member update's chat."""
        found: list[Any] = []
        messages = [update.get(key) for key in _MESSAGE_UPDATES]
        query = update.get("callback_query")
        if isinstance(query, dict):
            messages.append(query.get("message"))
        for message in messages:
            if not isinstance(message, dict):
                continue
            replied = message.get("reply_to_message")
            for carrier in (message, replied if isinstance(replied, dict) else {}):
                found += [carrier.get("chat"), carrier.get("sender_chat")]
        for key in ("chat_member", "my_chat_member"):
            member = update.get(key)
            if isinstance(member, dict):
                found.append(member.get("chat"))
        for chat in found:
            if isinstance(chat, dict) and isinstance(chat.get("id"), int) and "type" in chat:
                self._seen_chats[chat["id"]] = copy.deepcopy(chat)

    def _known_user(self, user_id: int) -> dict[str, Any]:
        return copy.deepcopy(
            self._users.get(user_id, {"id": user_id, "is_bot": False, "first_name": "Test"})
        )

    def _user_dict(
        self, user_id: int, first_name: str, language_code: str, username: str | None
    ) -> dict[str, Any]:
        if user_id in _SERVICE_USERS:
            return copy.deepcopy(_SERVICE_USERS[user_id])
        user: dict[str, Any] = {
            "id": user_id,
            "is_bot": False,
            "first_name": first_name,
            "language_code": language_code,
        }
        if username is not None:
            user["username"] = username
        self._users[user_id] = user
        return copy.deepcopy(user)

    @staticmethod
    def _chat_dict(
        chat_id: int, chat_type: str, user: dict[str, Any], chat_title: str | None
    ) -> dict[str, Any]:
        if chat_type == "private":
            chat: dict[str, Any] = {"id": chat_id, "type": "private"}
            chat["first_name"] = user["first_name"]
            if "username" in user:
                chat["username"] = user["username"]
            return chat
        default_title = "Test Channel" if chat_type == "channel" else "Test Group"
        return {"id": chat_id, "type": chat_type, "title": chat_title or default_title}

    def _remember_message(self, update: dict[str, Any]) -> None:
        message = next(
            (update[key] for key in _MESSAGE_UPDATES if isinstance(update.get(key), dict)), None
        )
        if message is None and isinstance(update.get("callback_query"), dict):
            message = update["callback_query"].get("message")
            if isinstance(message, dict) and _message_key(message) in self._messages:
                return
        if isinstance(message, dict):
            key = _message_key(message)
            if key is not None:
                self._messages[key] = copy.deepcopy(message)
                current = self._last_message_id.get(key[0], 0)
                self._last_message_id[key[0]] = max(current, key[1])

    def _next_message_id(self, chat_id: int, wanted: int | None = None) -> int:
        current = self._last_message_id.get(chat_id, 0)
        message_id = current + 1 if wanted is None else wanted
        self._last_message_id[chat_id] = max(current, message_id)
        return message_id

    def _chat_param(self, params: dict[str, Any]) -> dict[str, Any]:
        raw = params.get("chat_id")
        if raw is None or raw == "":
            raise _APIError(400, "Bad Request: chat_id is empty")
        try:
            chat_id = int(raw)
        except (TypeError, ValueError):
            raise _APIError(400, "Bad Request: chat not found") from None
        chat = self._chats.get(chat_id)
        if chat is None:
            if chat_id > 0:
                chat = self._chat_dict(chat_id, "private", self._known_user(chat_id), None)
            elif chat_id <= -1_000_000_000_000:
                chat = self._chat_dict(chat_id, "supergroup", {}, "Test Supergroup")
            else:
                chat = self._chat_dict(chat_id, "group", {}, "Test Group")
            self._chats[chat_id] = chat
        return copy.deepcopy(chat)

    def _reply_target(self, chat: dict[str, Any], params: dict[str, Any]) -> dict[str, Any] | None:
        """The stored message a new message replies to, ``None`` for no reply, or Telegram's
        error for a reply to a missing message.

        Source: core.telegram.org/bots/api#replyparameters: ``allow_sending_without_reply``:
        "Pass True if the message should be sent even if the specified message to be replied
        to is not found". Without it Telegram answers 400 "Bad Request: message to be replied
        not found"; with it the message goes out as no reply. The pre-7.0 parameters
        ``reply_to_message_id`` and ``allow_sending_without_reply``, which the Bot API still
        takes when ``reply_parameters`` is absent, behave the same.
        """
        raw = params.get("reply_parameters")
        if raw is not None and raw != "":
            if not isinstance(raw, dict):
                raise _APIError(400, "Bad Request: can't parse reply parameters JSON object")
            message_id = _opt_int(raw, "message_id")
            allow_missing = _opt_bool(raw, "allow_sending_without_reply")
            other_chat = raw.get("chat_id")
            if other_chat not in (None, "") and str(other_chat) != str(chat["id"]):
                raise _APIError(
                    400, "Bad Request: replies to another chat are unsupported in this stand-in"
                )
        else:
            message_id = _opt_int(params, "reply_to_message_id")
            allow_missing = _opt_bool(params, "allow_sending_without_reply")
        if message_id is None:
            return None
        known = self._messages.get((chat["id"], message_id))
        if known is None:
            if allow_missing:
                return None
            raise _APIError(400, "Bad Request: message to be replied not found")
        replied = copy.deepcopy(known)
        replied.pop("reply_to_message", None)  # Telegram nests replies one level deep only
        return replied

    def _take_send(self, chat: dict[str, Any]) -> None:
        """Take one send from the chat's flood buckets (see FloodLimits), or raise 429 with the
        seconds until the emptiest of them holds a whole send again. Takes nothing then."""
        limits = self.flood_limits
        if limits is None:
            return
        buckets = [(("chat", chat["id"]), limits.chat_burst, limits.chat_per_second)]
        if chat.get("type") in _GROUP_TYPES:
            buckets.append(
                (("group", chat["id"]), limits.group_burst, limits.group_per_minute / 60)
            )
        now = time.monotonic()
        wait = 0.0
        filled: list[_Bucket] = []
        for key, capacity, rate in buckets:
            bucket = self._buckets.setdefault(key, _Bucket(float(capacity), now))
            bucket.tokens = min(float(capacity), bucket.tokens + (now - bucket.updated) * rate)
            bucket.updated = now
            if bucket.tokens < 1:
                wait = max(wait, (1 - bucket.tokens) / rate if rate > 0 else math.inf)
            filled.append(bucket)
        if wait > 0:
            raise _too_many_requests(min(wait, 24 * 3600))
        for bucket in filled:
            bucket.tokens -= 1

    def _bot_message(
        self,
        chat: dict[str, Any],
        replied: dict[str, Any] | None,
        markup: dict[str, Any] | None,
    ) -> dict[str, Any]:
        message: dict[str, Any] = {
            "message_id": self._next_message_id(chat["id"]),
            "from": self._bot_user(),
            "chat": chat,
            "date": int(time.time()),
        }
        if replied is not None:
            message["reply_to_message"] = replied
        if markup is not None and "inline_keyboard" in markup:
            message["reply_markup"] = markup
        return message

    def _store_bot_message(self, message: dict[str, Any]) -> dict[str, Any]:
        self._messages[(message["chat"]["id"], message["message_id"])] = copy.deepcopy(message)
        return message


# ----------------------------------------------------------------------- module helpers


def _error_body(status: int, description: str) -> dict[str, Any]:
    return {"ok": False, "error_code": status, "description": description}


def _error_response(status: int, description: str) -> web.Response:
    return web.json_response(_error_body(status, description), status=status)


def _short_params(params: dict[str, Any]) -> str:
    text = ", ".join(f"{key}={value!r}" for key, value in params.items())
    return text if len(text) <= 120 else text[:117] + "..."


def _message_key(message: dict[str, Any]) -> tuple[int, int] | None:
    chat = message.get("chat")
    if not isinstance(chat, dict) or "id" not in chat or "message_id" not in message:
        return None
    return int(chat["id"]), int(message["message_id"])


def _opt_int(params: dict[str, Any], key: str) -> int | None:
    value = params.get(key)
    if value is None or value == "":
        return None
    try:
        return int(value)
    except (TypeError, ValueError):
        raise _APIError(400, f"Bad Request: invalid {key} specified") from None


def _opt_bool(params: dict[str, Any], key: str) -> bool:
    value = params.get(key)
    if isinstance(value, str):
        return value.lower() in ("true", "1")
    return bool(value)


def _normalize_admin(member: dict[str, Any]) -> dict[str, Any]:
    """A copy of a ``chat_admins`` entry with the fields its status requires filled in."""
    result = copy.deepcopy(member)
    status = str(result.setdefault("status", "administrator"))
    for key, value in _MEMBER_DEFAULTS.get(status, {}).items():
        result.setdefault(key, value)
    return result


def _text_entities(text: str, entities: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """``entities`` (copied) plus, for a ``/command`` text, the ``bot_command`` entity over its
    first word that Telegram adds, unless one is given at offset 0; sorted like Telegram's."""
    result = [dict(entity) for entity in entities]
    if text.startswith("/") and not any(
        entity.get("type") == "bot_command" and entity.get("offset") == 0 for entity in result
    ):
        command = text.split(maxsplit=1)[0]
        result.append({"type": "bot_command", "offset": 0, "length": _utf16_len(command)})
    result.sort(key=lambda entity: (entity["offset"], -entity["length"]))
    return result


def _validate_markup(markup: Any) -> dict[str, Any] | None:
    if not isinstance(markup, dict):
        return None
    for row in markup.get("inline_keyboard", []):
        for button in row:
            data = button.get("callback_data") if isinstance(button, dict) else None
            if data is not None and not 1 <= len(str(data).encode()) <= MAX_CALLBACK_DATA:
                raise _APIError(400, "Bad Request: BUTTON_DATA_INVALID")
    return markup


def _render(
    raw: Any,
    parse_mode: Any,
    explicit_entities: Any,
    *,
    limit: int,
    empty_error: str | None,
    long_error: str,
) -> tuple[str, list[dict[str, Any]]]:
    """Turn a text/caption parameter into (text, entities) like Telegram, or raise its error."""
    text = "" if raw is None else str(raw)
    mode = str(parse_mode or "").lower()
    if mode in ("markdown", "markdownv2"):
        # The bot sends plain text or HTML only; refusing keeps a future Markdown use from
        # passing unchecked.
        raise _APIError(400, f"Bad Request: unsupported parse_mode in this stand-in: {parse_mode}")
    if mode not in ("", "html"):
        raise _APIError(400, "Bad Request: unsupported parse_mode")
    entities: list[dict[str, Any]]
    if isinstance(explicit_entities, list) and explicit_entities:
        entities = [dict(entity) for entity in explicit_entities if isinstance(entity, dict)]
    elif mode == "html":
        text, entities = _parse_html(text)
    else:
        entities = []
    text, entities = _strip_text(text, entities)
    if not text:
        if empty_error is not None:
            raise _APIError(400, empty_error)
        return "", []
    if _utf16_len(text) > limit:
        raise _APIError(400, long_error)
    return text, entities


def _maybe_json(key: str, value: str) -> Any:
    if key in _FREE_TEXT_FIELDS or value.lstrip()[:1] not in ("{", "["):
        return value
    try:
        return json.loads(value)
    except ValueError:
        return value


async def _read_request(
    request: web.Request,
) -> tuple[dict[str, Any], dict[str, bytes], dict[str, str]]:
    """Read query and body parameters plus uploaded files from an API request."""
    form: dict[str, str] = dict(request.query)
    params: dict[str, Any] = {}
    parts: dict[str, bytes] = {}
    part_names: dict[str, str] = {}
    if request.method == "POST" and request.body_exists:
        content_type = request.content_type
        if content_type == "application/json":
            try:
                body = await request.json()
            except ValueError:
                raise _APIError(400, "Bad Request: can't parse JSON") from None
            if not isinstance(body, dict):
                raise _APIError(400, "Bad Request: can't parse JSON")
            params.update(body)
        elif content_type.startswith("multipart/"):
            reader = await request.multipart()
            while (part := await reader.next()) is not None:
                if not isinstance(part, BodyPartReader) or part.name is None:
                    continue
                if part.filename is not None:
                    parts[part.name] = bytes(await part.read())
                    part_names[part.name] = part.filename
                else:
                    form[part.name] = await part.text()
        else:
            posted = await request.post()
            for key, value in posted.items():
                if isinstance(value, str):
                    form[key] = value
                elif isinstance(value, bytes | bytearray):
                    form[key] = bytes(value).decode("utf-8", "replace")
                else:
                    parts[key] = value.file.read()
                    part_names[key] = value.filename
    for key, value in form.items():
        params.setdefault(key, _maybe_json(key, value))
    files: dict[str, bytes] = {}
    filenames: dict[str, str] = {}
    for key, value in params.items():
        if isinstance(value, str) and value.startswith("attach://"):
            name = value[len("attach://") :]
            if name in parts:
                files[key] = parts.pop(name)
                filenames[key] = part_names.pop(name)
    files.update(parts)
    filenames.update(part_names)
    return params, files, filenames
