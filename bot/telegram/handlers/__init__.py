"""Routers, one per concern; ``routers()`` gives them in the order they must be included."""

from __future__ import annotations

from aiogram import Router

from bot.telegram import live
from bot.telegram.handlers import admin, commands, errors, membership, messages, tools, usage

__all__ = ["routers"]


def routers() -> list[Router]:
    # Commands first: "/voice" must not be taken for a text to answer; the admin router before
    # the public ones, which refuse what an admin router let through (``tools`` before
    # ``commands``, whose last handler refuses every admin command it gets).
    return [
        errors.router(),
        membership.router(),
        live.router(),
        admin.router(),
        tools.router(),
        commands.router(),
        usage.router(),
        messages.router(),
    ]
