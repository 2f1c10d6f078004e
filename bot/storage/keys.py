"""Every Redis key the bot writes, in one place.

All keys start with ``vb:``. Keys that belong to one chat carry the chat id as a hash tag
(``{…}``), so a Redis Cluster keeps them on one node and a multi-key operation on a chat works.
"""

from __future__ import annotations

__all__ = [
    "PREFIX",
    "REMINDERS_DUE",
    "STOPS_CHANNEL",
    "TURNS_GROUP",
    "TURNS_STREAM",
    "chat_admins",
    "chat_blocked",
    "chat_last_answer",
    "chat_memory",
    "chat_notes",
    "chat_notice",
    "chat_order",
    "chat_reminders",
    "chat_running",
    "chat_settings",
    "chat_spoken",
    "not_allowed_notice",
    "probe_findings",
    "session_slot",
    "tool_daily",
    "usage",
    "usage_top",
    "user_rate",
    "voice_sample",
    "voice_sample_claim",
]

PREFIX = "vb:"


def chat_settings(chat_id: int) -> str:
    """Hash: the chat's voice, instructions and mode (absent field = the default)."""
    return f"{PREFIX}{{{chat_id}}}:settings"


def chat_admins(chat_id: int) -> str:
    """Set: the chat's administrators' user ids, as Telegram listed them (expires in minutes)."""
    return f"{PREFIX}{{{chat_id}}}:admins"


def chat_notice(chat_id: int, what: str) -> str:
    """String with expiry: the chat was told ``what`` (a catalogue key) recently."""
    return f"{PREFIX}{{{chat_id}}}:notice:{what}"


def not_allowed_notice(chat_id: int) -> str:
    """String with expiry: the chat was told recently that the bot is not allowed there."""
    return f"{PREFIX}{{{chat_id}}}:not-allowed"


def chat_blocked(chat_id: int) -> str:
    """String: when (Unix time) the chat blocked or removed the bot; absent while it can write."""
    return f"{PREFIX}{{{chat_id}}}:blocked"


# The turn queue. Global keys (one per deployment): the stream and its consumer group.
TURNS_STREAM = f"{PREFIX}turns"
TURNS_GROUP = f"{PREFIX}workers"
# Pub/sub channel: users' requests to stop an answer being made ("{chat}:{draft}").
STOPS_CHANNEL = f"{PREFIX}stops"


def session_slot(index: int) -> str:
    """String with expiry: realtime session lease number ``index`` (the global cap), holding
    the token of the turn that has it."""
    return f"{PREFIX}session:{index}"


def chat_order(chat_id: int) -> str:
    """Sorted set: the chat's turns by message id (the per-chat order gate); finished ones keep
    a score below zero as their done mark."""
    return f"{PREFIX}{{{chat_id}}}:order"


def chat_running(chat_id: int) -> str:
    """String with expiry: the queue entry whose turn of this chat is running (the chat's lock)."""
    return f"{PREFIX}{{{chat_id}}}:running"


def user_rate(user_id: int, window: int) -> str:
    """Counter with expiry: the user's turns in rate-limit window number ``window``."""
    return f"{PREFIX}{{u{user_id}}}:rate:{window}"


def chat_memory(chat_id: int) -> str:
    """List: the chat's last turns as JSON {role, text}, oldest first (expires when idle)."""
    return f"{PREFIX}{{{chat_id}}}:memory"


def chat_last_answer(chat_id: int) -> str:
    """Hash: the chat's last answer as delivered, for /again: ``text``, ``voice`` (the voice
    note's Telegram file id, absent when none was sent), ``seconds`` (expires when idle)."""
    return f"{PREFIX}{{{chat_id}}}:again"


def chat_notes(chat_id: int) -> str:
    """Hash: the chat's notes (long-term facts the model was told to remember), note id → JSON
    {text, at, by} (``by``: the author, absent on notes older than authors); the field ``seq``
    holds the last id given. Never expires."""
    return f"{PREFIX}{{{chat_id}}}:notes"


def chat_reminders(chat_id: int) -> str:
    """Hash: the chat's waiting reminders, reminder id → the JSON of the turn that speaks it
    (a ``TurnJob`` of kind "reminder") with its due time. Never expires; a reminder leaves it
    when it is due (moved into the turn queue) or cancelled."""
    return f"{PREFIX}{{{chat_id}}}:reminders"


# Sorted set (global): every waiting reminder as "CHAT:ID", scored by its due time (Unix).
REMINDERS_DUE = f"{PREFIX}reminders:due"


def usage(scope: str, ident: int | str, period: str) -> str:
    """Hash: usage counters of a chat (``scope`` "c"), a user ("u") or everyone ("all", ident
    "all") for a day (``period`` YYYYMMDD) or a month (YYYYMM)."""
    tag = f"{{{ident}}}" if scope == "c" else f"{{{scope}{ident}}}"
    return f"{PREFIX}{tag}:usage:{period}"


def usage_top(scope: str, period: str) -> str:
    """Sorted set: chats ("c") or users ("u") by audio seconds in a month (YYYYMM)."""
    return f"{PREFIX}top:{scope}:{period}"


def probe_findings(provider: str, model: str) -> str:
    """String: the JSON of the ``ProviderTraits`` that ``python -m bot probe`` measured for the
    provider's model (``bot.storage.findings``). Never expires; a new probe replaces it."""
    return f"{PREFIX}probe:{provider}:{model}"


def tool_daily(person: int, what: str, day: str) -> str:
    """Counter with expiry: how many ``what`` (a tool's acts, e.g. reminders set) ``person``
    (``TurnJob.payer``) did on ``day`` (YYYYMMDD, UTC), whichever chats they were in."""
    return f"{PREFIX}{{u{person}}}:tools:{what}:{day}"


def chat_spoken(chat_id: int) -> str:
    """Hash: the language each person of the chat spoke last (payer id -> ISO 639-1), for the
    voice of their next voice note."""
    return f"{PREFIX}{{{chat_id}}}:spoken"


def voice_sample(provider: str, model: str, voice: str, role: str) -> str:
    """String: the Telegram file_id of a voice's sample (made once by the model), per provider,
    model, voice and role ("" the voice's default)."""
    return f"{PREFIX}sample:{provider}:{model}:{voice}:{role}"


def voice_sample_claim(provider: str, model: str, voice: str, role: str) -> str:
    """String: set while one process makes that sample (the others wait for its file_id)."""
    return f"{voice_sample(provider, model, voice, role)}:making"
