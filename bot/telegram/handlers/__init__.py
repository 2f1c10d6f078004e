"""Routers: one per feature, each holding its commands, callbacks, admin checks and refusals,
so they may be included in any order; then membership, the drafts' stops, messages and errors."""

from __future__ import annotations

from aiogram import Router

from bot.telegram import live as drafts
from bot.telegram.handlers import (
    answer,
    errors,
    instructions,
    language,
    live,
    membership,
    memory,
    messages,
    mode,
    notes,
    reminders,
    settings,
    start,
    tools,
    usage,
    voice,
)

__all__ = ["feature_routers", "routers"]


def feature_routers() -> list[Router]:
    """New routers of the features' commands (a router joins one dispatcher only)."""
    return [
        start.router(),
        settings.router(voice_view=voice.voices_view, language_view=language.language_view),
        voice.router(),
        language.router(),
        instructions.router(),
        mode.router(),
        memory.router(),
        live.router(),
        tools.router(),
        notes.router(),
        reminders.router(),
        usage.router(),
        answer.router(),
    ]


def routers() -> list[Router]:
    """Every router of the bot, new (a router joins one dispatcher only)."""
    return [
        errors.router(),
        membership.router(),
        drafts.router(),
        *feature_routers(),
        messages.router(),
    ]
