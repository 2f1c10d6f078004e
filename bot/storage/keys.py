"""Every Redis key the bot writes, in one place.

All keys start with ``vb:``. Keys that belong to one chat carry the chat id as a hash tag
(``{…}``), so a Redis Cluster keeps them on one node and a multi-key operation on a chat works.
"""

from __future__ import annotations

__all__ = ["PREFIX", "chat_admins", "chat_blocked", "chat_settings", "not_allowed_notice"]

PREFIX = "vb:"


def chat_settings(chat_id: int) -> str:
    """Hash: the chat's voice, instructions and mode (absent field = the default)."""
    return f"{PREFIX}{{{chat_id}}}:settings"


def chat_admins(chat_id: int) -> str:
    """Set: the chat's administrators' user ids, as Telegram listed them (expires in minutes)."""
    return f"{PREFIX}{{{chat_id}}}:admins"


def not_allowed_notice(chat_id: int) -> str:
    """String with expiry: the chat was told recently that the bot is not allowed there."""
    return f"{PREFIX}{{{chat_id}}}:not-allowed"


def chat_blocked(chat_id: int) -> str:
    """String: when (Unix time) the chat blocked or removed the bot; absent while it can write."""
    return f"{PREFIX}{{{chat_id}}}:blocked"
