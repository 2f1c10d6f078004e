"""Telegram's part of ``python -m bot check``: does the Bot API server at ``TELEGRAM_API_URL``
take ``BOT_TOKEN`` (``getMe``)? One plain HTTP call, no retries, bounded in time; the answer is a
line for the operator, never holding the token.

aiohttp alone, not aiogram: importing aiogram takes seconds, and ``scripts/run`` runs the check
before a start.
"""

from __future__ import annotations

from typing import Any
from urllib.parse import urlsplit

import aiohttp

from bot.config import Settings

__all__ = ["WAIT", "check_token"]

# Seconds getMe may take.
WAIT = 10.0


async def _get_me(base: str, token: str) -> tuple[int, dict[str, Any]]:
    """The HTTP status of ``getMe`` and its JSON body ({} when it is not JSON)."""
    timeout = aiohttp.ClientTimeout(total=WAIT)
    async with (
        aiohttp.ClientSession(timeout=timeout) as http,
        http.get(f"{base}/bot{token}/getMe") as response,
    ):
        try:
            body = await response.json(content_type=None)
        except ValueError:
            body = {}
        return response.status, body if isinstance(body, dict) else {}


async def check_token(settings: Settings) -> tuple[bool, str]:
    """Whether Telegram accepts the token, and what to say about it."""
    assert settings.bot_token is not None  # the caller checked the settings first
    server = urlsplit(settings.telegram_api_url).netloc
    try:
        status, body = await _get_me(
            settings.telegram_api_url, settings.bot_token.get_secret_value()
        )
    except (aiohttp.ClientError, OSError, TimeoutError) as exc:
        # The exception's text may hold the request's URL, token and all: only its kind.
        return False, (
            f"{server} cannot be reached ({exc.__class__.__name__}): check TELEGRAM_API_URL "
            "and that this machine can reach it"
        )
    me = body.get("result") if body.get("ok") else None
    if isinstance(me, dict):
        return True, f"@{me.get('username')} (id {me.get('id')}) is served by {server}"
    if status == 401:
        return False, (
            f"BOT_TOKEN was refused by {server} (Unauthorized): copy the token again from "
            "@BotFather (/mybots, your bot, API Token); a revoked token stops working at once"
        )
    if status == 404:
        return False, (
            f"{server} answered getMe with Not Found: BOT_TOKEN is not a token it knows (copy "
            "it again from @BotFather), or TELEGRAM_API_URL is not a Bot API server"
        )
    description = str(body.get("description") or f"HTTP {status}")[:200]
    return False, f"{server} refused getMe: {description}"
