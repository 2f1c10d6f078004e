"""A chat's notes: long-term facts the model was asked to remember ("remember that…"), kept
without expiry, bounded per chat and per author, given to the model at the start of each turn.

Keys (``bot.storage.keys``):

- ``vb:{CHAT}:notes``: hash, note id (1, 2, …) → JSON ``{"text", "at", "by"}``; the field ``seq``
  holds the last id given, so ids are never given twice in a chat (it outlives ``clear``).
  ``by`` is who asked for the note (``TurnJob.payer``: the user, or the chat a message was sent
  on behalf of); notes kept before notes had authors have none and are the admins'.

Limits (count, all notes' characters together, one note's characters, and for a note a member
who is not an admin asks for, that member's own notes and characters) are checked and the note
written in one script, so two turns adding at once cannot pass them. Characters are counted as
Unicode code points on both sides (Python's ``len``; in Lua, the bytes that start a UTF-8 sequence).

Who may forget which note is decided above the store (``bot.tools.kit.forget_notes``);
``matching`` finds the notes a request names, ``remove`` removes them.
"""

from __future__ import annotations

import builtins
import logging
import re
import time
from collections.abc import Iterable
from typing import Any, cast

import orjson
from redis.asyncio import Redis

from bot.domain import Note
from bot.errors import LimitReached, ToolFailed
from bot.storage import keys
from bot.storage.retry import storage_errors

__all__ = ["NotesStore"]

log = logging.getLogger(__name__)

SEQ = "seq"

# KEYS: the chat's notes. ARGV: text, the note's JSON, max notes, max chars, max note chars, the
# author ('' when none), the author's max notes (0: no quota), the author's max chars.
# Returns {outcome, number}: ok (the new id), same (the id of a note of that very text, kept
# as it is, with its JSON third), too_long (its length), mine (how many notes the author has),
# mine_chars (the characters the author's notes have), count (how many notes), chars (the
# characters the notes have already). Authors compare as numbers: Telegram's ids have at most
# 52 significant bits, exact in Lua's doubles.
_ADD = r"""
local key, text, entry = KEYS[1], ARGV[1], ARGV[2]
local max_notes, max_chars, max_note = tonumber(ARGV[3]), tonumber(ARGV[4]), tonumber(ARGV[5])
local by, max_mine, max_mine_chars = tonumber(ARGV[6]), tonumber(ARGV[7]), tonumber(ARGV[8])
local function chars(s)
  local _, n = string.gsub(s, '[^\128-\191]', '')
  return n
end
local length = chars(text)
if length > max_note then return {'too_long', length} end
local fields = redis.call('HGETALL', key)
local count, total, mine, mine_total = 0, 0, 0, 0
for i = 1, #fields, 2 do
  if fields[i] ~= 'seq' then
    count = count + 1
    local ok, note = pcall(cjson.decode, fields[i + 1])
    if ok and type(note) == 'table' and type(note.text) == 'string' then
      if note.text == text then return {'same', tonumber(fields[i]), fields[i + 1]} end
      local n = chars(note.text)
      total = total + n
      if by ~= nil and tonumber(note.by) == by then
        mine = mine + 1
        mine_total = mine_total + n
      end
    end
  end
end
if max_mine > 0 then
  if mine >= max_mine then return {'mine', mine} end
  if mine_total + length > max_mine_chars then return {'mine_chars', mine_total} end
end
if count >= max_notes then return {'count', count} end
if total + length > max_chars then return {'chars', total} end
local id = redis.call('HINCRBY', key, 'seq', 1)
redis.call('HSET', key, id, entry)
return {'ok', id}
"""

# KEYS: the chat's notes. Removes every note, keeps ``seq``; returns how many there were.
_CLEAR = """
local key = KEYS[1]
local seq = redis.call('HGET', key, 'seq')
local n = redis.call('HLEN', key)
redis.call('DEL', key)
if seq then
  redis.call('HSET', key, 'seq', seq)
  n = n - 1
end
return n
"""

# KEYS: the new chat's notes. ARGV: the old chat's note JSONs, oldest first. Each gets a new id,
# unless the new chat has a note of the same text (a migration tried twice).
_IMPORT = """
local key = KEYS[1]
local have = {}
local fields = redis.call('HGETALL', key)
for i = 1, #fields, 2 do
  if fields[i] ~= 'seq' then
    local ok, note = pcall(cjson.decode, fields[i + 1])
    if ok and type(note) == 'table' and type(note.text) == 'string' then have[note.text] = true end
  end
end
local n = 0
for i = 1, #ARGV do
  local ok, note = pcall(cjson.decode, ARGV[i])
  if ok and type(note) == 'table' and type(note.text) == 'string' and not have[note.text] then
    redis.call('HSET', key, redis.call('HINCRBY', key, 'seq', 1), ARGV[i])
    have[note.text] = true
    n = n + 1
  end
end
return n
"""

_NOTE_ID = re.compile(r"#?\s*(\d{1,9})")
# A word of a note or of a request to forget one: letters and digits ("mum's" is "mum", "s").
_WORD = re.compile(r"\w+")
# Words shorter than this name no note: "e", "и" or "a" would match half of them.
MIN_WORD_CHARS = 2


class NotesStore:
    """Fails hard: Redis away becomes ``StorageError`` (transient).

    A chat keeps at most ``max_notes`` notes of ``max_chars`` characters together; of those, a
    member who is not an admin may have at most ``max_per_user`` (0: no such quota), of at most
    ``max_chars_per_user`` characters (by default their share of ``max_chars``, never less than
    one whole note), so one member cannot fill the chat's notes."""

    def __init__(
        self,
        redis: Redis,
        *,
        max_notes: int = 50,
        max_chars: int = 4000,
        max_note_chars: int = 500,
        max_per_user: int = 10,
        max_chars_per_user: int | None = None,
    ) -> None:
        self._redis = redis
        self.max_notes = max_notes
        self.max_chars = max_chars
        self.max_note_chars = max_note_chars
        self.max_per_user = max_per_user
        if max_chars_per_user is None:
            share = max_chars * max_per_user // max(max_notes, 1)
            max_chars_per_user = max(share, max_note_chars)
        self.max_chars_per_user = max_chars_per_user
        self._add = redis.register_script(_ADD)
        self._clear = redis.register_script(_CLEAR)
        self._import = redis.register_script(_IMPORT)

    async def list(self, chat_id: int) -> list[Note]:
        """The chat's notes, oldest first."""
        with storage_errors(f"reading notes of chat {chat_id}"):
            raw = cast(dict[str, str], await self._redis.hgetall(keys.chat_notes(chat_id)))
        return _parse(raw)

    async def add(
        self, chat_id: int, text: str, *, by: int | None = None, admin: bool = True
    ) -> Note:
        """Keep ``text`` (stripped; refused when empty or longer than ``max_note_chars``) as
        ``by``'s note; a note of that very text already kept is returned as it is (whoever
        wrote it). Raises ``LimitReached`` when the chat has ``max_notes`` notes or they would
        pass ``max_chars`` together, and, unless ``admin`` (an admin of the chat asked), when
        ``by`` has ``max_per_user`` notes or theirs would pass ``max_chars_per_user``; checked
        and written in one atomic step."""
        text = text.strip()
        if not text:
            raise ToolFailed("the note is empty: say what to remember")
        at = time.time()
        entry = orjson.dumps({"text": text, "at": at, "by": by})
        quota = 0 if admin or by is None else self.max_per_user
        with storage_errors(f"adding a note to chat {chat_id}"):
            outcome, number, *same = await self._add(
                [keys.chat_notes(chat_id)],
                [
                    text,
                    entry,
                    self.max_notes,
                    self.max_chars,
                    self.max_note_chars,
                    "" if by is None else by,
                    quota,
                    self.max_chars_per_user,
                ],
            )
        number = int(number)
        if outcome == "same":
            # Said twice (or a turn tried again after a tool ran): one note.
            kept = _note(number, same[0])
            return kept if kept is not None else Note(id=number, text=text, at=at)
        if outcome == "too_long":
            raise LimitReached(
                f"a note may have at most {self.max_note_chars} characters and this one has "
                f"{number}; keep it shorter"
            )
        if outcome == "mine":
            raise LimitReached(
                f"this person already has {number} notes in this chat, the most one member may "
                "keep; they can forget one of theirs first, or ask an admin"
            )
        if outcome == "mine_chars":
            raise LimitReached(
                f"this person's notes have {number} characters and this one would pass the "
                f"{self.max_chars_per_user} one member's notes may have; they can forget one of "
                "theirs first, or keep it shorter"
            )
        if outcome == "count":
            raise LimitReached(
                f"the chat has {number} notes, the most it may keep; forget some first"
            )
        if outcome == "chars":
            raise LimitReached(
                f"the chat's notes have {number} characters and this one would pass the "
                f"{self.max_chars} they may have together; forget some first"
            )
        return Note(id=number, text=text, at=at, by=by)

    async def matching(self, chat_id: int, about: str) -> builtins.list[Note]:
        """The chat's notes ``about`` names: the one with its id ("3", "#3"), or those that
        have every word of it (whole words, any case; words of one letter name nothing). An
        empty ``about`` names none (never "all": forgetting everything is ``clear``)."""
        return _matching(await self.list(chat_id), about)

    async def remove(self, chat_id: int, notes: Iterable[Note]) -> builtins.list[Note]:
        """Remove ``notes`` (as read) from the chat; returns those this call removed."""
        chosen = builtins.list(notes)
        if not chosen:
            return []
        key = keys.chat_notes(chat_id)
        with storage_errors(f"forgetting notes of chat {chat_id}"):
            # Ids are never given twice: HDEL removes exactly the note that was read, or nothing
            # when another turn removed it meanwhile (then it is not reported as ours).
            async with self._redis.pipeline(transaction=True) as pipe:
                for note in chosen:
                    pipe.hdel(key, str(note.id))
                removed = await pipe.execute()
        return [note for note, n in zip(chosen, removed, strict=True) if n]

    async def forget(self, chat_id: int, about: str) -> builtins.list[Note]:
        """Remove every note ``about`` names (``matching``), whoever wrote it; returns them.
        Who may forget which is ``bot.tools.kit.forget_notes``'s rule, not the store's."""
        return await self.remove(chat_id, await self.matching(chat_id, about))

    async def clear(self, chat_id: int) -> int:
        """Remove every note of the chat; how many there were."""
        with storage_errors(f"clearing notes of chat {chat_id}"):
            return int(await self._clear([keys.chat_notes(chat_id)], []))

    async def migrate(self, old_chat_id: int, new_chat_id: int) -> None:
        """Carry a group's notes over to the supergroup it became."""
        old_key = keys.chat_notes(old_chat_id)
        with storage_errors(f"moving notes of chat {old_chat_id}"):
            raw = cast(dict[str, str], await self._redis.hgetall(old_key))
            notes = _parse(raw)
            if notes:
                # Two commands, not one script: the chats' keys live on different cluster slots.
                entries = [orjson.dumps({"text": n.text, "at": n.at, "by": n.by}) for n in notes]
                await self._import([keys.chat_notes(new_chat_id)], entries)
            if raw:
                await self._redis.delete(old_key)


def _parse(raw: dict[str, str]) -> list[Note]:
    notes = []
    for field, value in raw.items():
        if field == SEQ:
            continue
        note = _note(field, value)
        if note is not None:
            notes.append(note)
    notes.sort(key=lambda note: note.id)
    return notes


def _note(field: str | int, value: str | bytes) -> Note | None:
    try:
        data: dict[str, Any] = orjson.loads(value)
        by = data.get("by")
        return Note(
            id=int(field),
            text=str(data["text"]),
            at=float(data["at"]),
            by=None if by is None else int(by),
        )
    except (orjson.JSONDecodeError, KeyError, TypeError, ValueError):
        log.warning("skipping an unreadable note %s", field)
        return None


def _words(text: str) -> set[str]:
    return set(_WORD.findall(text.casefold()))


def _matching(notes: list[Note], about: str) -> list[Note]:
    """The notes ``about`` names: the one with its id ("3", "#3"), or those having each of its
    words as a whole word. An empty ``about`` names none (never "all": forgetting
    everything is ``clear``), and so does one of only one-letter words."""
    about = about.strip()
    by_id = _NOTE_ID.fullmatch(about)
    if by_id:
        # A number names that note only, never the notes that mention the number.
        wanted = int(by_id.group(1))
        return [note for note in notes if note.id == wanted]
    words = {word for word in _words(about) if len(word) >= MIN_WORD_CHARS}
    if not words:
        return []
    return [note for note in notes if words <= _words(note.text)]
