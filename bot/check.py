"""``python -m bot check``: every part the bot needs, checked at once, one line each.

The settings (every malformed or missing variable, all in one list), the Telegram token
(``getMe``), the model's endpoint (a handshake and the bot's own ``session.update``, no audio,
so nothing is billed), Redis (reachable, ``maxmemory-policy``) and the webhook's URL. Each line
starts with ✓ or ✗ and says what to do; no line holds a secret (every one goes through the
log's ``SecretMask``). Exit code 0 when every check passed, 1 otherwise.

With ``--once`` a check that passed before for the very same settings is not run again
(``scripts/run`` asks so before every start): a fingerprint of the settings is kept in
``DATA_DIR`` once every check passed.
"""

from __future__ import annotations

import asyncio
import hashlib
import json
import os
import time
from collections.abc import Awaitable, Callable, Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from pydantic import SecretStr

from bot.config import Problem, Settings, read_settings
from bot.errors import (
    ConfigError,
    RealtimeAuthError,
    RealtimeConfigError,
    RealtimeConnectError,
    RealtimeError,
    StorageError,
)
from bot.logging import SecretMask, setup_logging
from bot.realtime.client import RealtimeClient
from bot.realtime.protocol import SessionConfig, TurnProtocol
from bot.realtime.providers import endpoint_from_settings, profile_for
from bot.storage.redis import SAFE_POLICY, eviction_policy, open_redis

__all__ = ["Line", "check", "main"]

OK, FAILED = "✓", "✗"
# The longest the model's and Redis's checks wait, whatever the settings' timeouts say.
MOST_SECONDS = 20.0
# Where --once finds the fingerprint of the settings that last passed, in DATA_DIR.
PASSED = ".check-passed"
SECRET_VARIABLES = ("BOT_TOKEN", "REALTIME_API_KEY", "YANDEX_IAM_TOKEN", "WEBHOOK_SECRET")
# The variables each check depends on: when one of them is malformed, the check is not run.
TELEGRAM = {"BOT_TOKEN", "TELEGRAM_API_URL"}
MODEL = {
    "REALTIME_PROVIDER", "REALTIME_API_KEY", "YANDEX_IAM_TOKEN", "YANDEX_FOLDER_ID",
    "REALTIME_MODEL", "REALTIME_URL", "TURN_DETECTION", "OUTPUT_SAMPLE_RATE", "DEFAULT_VOICE",
    "CONNECT_TIMEOUT", "EVENT_TIMEOUT", "INPUT_TRANSCRIPTION_MODEL", "VAD_SILENCE_MS",
    "DEFAULT_INSTRUCTIONS",
}  # fmt: skip
REDIS = {"REDIS_URL", "DATA_DIR", "REDIS_ALLOW_EVICTION"}
WEBHOOK = {"WEBHOOK_URL", "BOT_MODE", "WEBHOOK_HOST", "WEBHOOK_PORT"}


@dataclass(frozen=True)
class Line:
    """One line of the report: a check, whether it passed, and what it found or what to do."""

    ok: bool
    what: str
    text: str
    skipped: bool = False  # not run, for a problem another line names

    def __str__(self) -> str:
        return f"{OK if self.ok else FAILED} {self.what}: {self.text}"


def _not_run(what: str, broken: Iterable[str]) -> Line:
    names = ", ".join(sorted(broken))
    return Line(False, what, f"not checked: fix {names} above first", skipped=True)


# -- the model ----------------------------------------------------------------------------------


class _Configured(TurnProtocol):
    """The turn's protocol up to the answer to its ``session.update``, and no further."""

    def __init__(self, config: SessionConfig) -> None:
        super().__init__(config)
        self.updated = asyncio.Event()

    def receive(self, event: dict[str, Any]) -> list[dict[str, Any]]:
        out = super().receive(event)
        if event.get("type") == "session.updated":
            self.updated.set()
        return out


async def check_model(settings: Settings) -> Line:
    """A session opened as the bot opens one, asked for what the bot asks (voice, rate, turn
    detection, transcription), and closed once the server accepted it: no audio is sent."""
    what = "model"
    try:
        profile = profile_for(settings)
        endpoint = endpoint_from_settings(settings)
    except ConfigError as exc:
        return Line(False, what, str(exc))
    config = SessionConfig(
        voice=settings.default_voice,
        instructions=settings.default_instructions,
        output_rate=settings.output_sample_rate or profile.default_output_rate,
        turn_detection=settings.turn_detection,
        output_modalities=profile.output_modalities,
        vad_silence_ms=settings.vad_silence_ms,
        transcription_model=settings.input_transcription_model,
    )
    host = urlsplit(endpoint.url).netloc
    about = f"{profile.name} {settings.realtime_model} at {host}"
    seconds = min(settings.event_timeout, MOST_SECONDS)
    client = RealtimeClient(
        endpoint, connect_timeout=min(settings.connect_timeout, MOST_SECONDS), busy_tries=2
    )
    auth = next(a.setting.upper() for a in profile.auth if getattr(settings, a.setting))
    started = time.perf_counter()
    try:
        async with await client.connect() as session:
            protocol = _Configured(config)
            session.run(protocol)
            updated = asyncio.ensure_future(protocol.updated.wait())
            failed = asyncio.ensure_future(session.wait_done())
            try:
                async with asyncio.timeout(seconds):
                    await asyncio.wait({updated, failed}, return_when=asyncio.FIRST_COMPLETED)
            finally:
                for waiting in (updated, failed):
                    waiting.cancel()
            error = failed.exception() if failed.done() and not failed.cancelled() else None
            if error is not None:
                raise error
            if not protocol.updated.is_set():
                raise TimeoutError
    except RealtimeAuthError as exc:
        return Line(False, what, (
            f"{about} refused the key ({exc}): check {auth}"
            + (" (a service account's API key, role ai.models.user in YANDEX_FOLDER_ID's "
               "folder)" if profile.name == "yandex" else "")
        ))  # fmt: skip
    except RealtimeConfigError as exc:
        return Line(False, what, f"{about} refused the session ({exc}): check {exc.setting}")
    except RealtimeConnectError as exc:
        return Line(False, what, f"{about} cannot be reached ({exc}): check REALTIME_URL")
    except TimeoutError:
        return Line(False, what, f"{about} did not accept the session within {seconds:g} s")
    except RealtimeError as exc:
        return Line(False, what, f"{about} failed: {exc.__class__.__name__}: {exc}")
    took = time.perf_counter() - started
    # A model its profile does not list (a newer one) works, priced as the default model.
    priced = (
        "" if settings.realtime_model in profile.models
        else f"; priced as {profile.model} (no prices listed for it: set PRICE_*)"
    )  # fmt: skip
    return Line(True, what, (
        f"{about} accepted {auth} and the session (voice {settings.default_voice}, "
        f"{config.output_rate} Hz out, {settings.turn_detection}) in {took:.2f} s{priced}"
    ))  # fmt: skip


# -- Redis --------------------------------------------------------------------------------------


def _redis_place(settings: Settings) -> str:
    """Where Redis is, without the password a URL may hold."""
    if not settings.redis_url:
        return f"embedded redis-server in {settings.data_dir}"
    parts = urlsplit(settings.redis_url)
    if parts.scheme == "unix":
        return f"unix:{parts.path}"
    port = f":{parts.port}" if parts.port else ""
    return f"{parts.scheme}://{parts.hostname or '?'}{port}{parts.path}"


async def check_redis(settings: Settings) -> Line:
    """Redis answers, and its ``maxmemory-policy`` never evicts the queue's keys."""
    what, place = "Redis", _redis_place(settings)
    try:
        async with asyncio.timeout(MOST_SECONDS):
            async with open_redis(settings.redis_url, settings.data_dir) as redis:
                policy = await eviction_policy(redis)
    except TimeoutError:
        return Line(
            False, what, f"{place} did not answer within {MOST_SECONDS:g} s: check REDIS_URL"
        )
    except (StorageError, OSError) as exc:
        reason = str(exc).rstrip(". ")
        return Line(False, what, f"{place}: {reason}; check REDIS_URL (empty: the embedded one)")
    if policy is None:
        return Line(True, what, (
            f"{place} answers; its maxmemory-policy cannot be read (CONFIG GET is refused): "
            f"make sure it is {SAFE_POLICY}"
        ))  # fmt: skip
    if policy == SAFE_POLICY:
        return Line(True, what, f"{place} answers, maxmemory-policy {policy}")
    if settings.redis_allow_eviction:
        return Line(True, what, (
            f"{place} answers, maxmemory-policy {policy}: it may evict the queue's keys; "
            "running anyway as REDIS_ALLOW_EVICTION=true asks"
        ))  # fmt: skip
    return Line(False, what, (
        f"{place} has maxmemory-policy {policy}: it may evict the queue's keys and lose turns; "
        f"set maxmemory-policy {SAFE_POLICY} on the server (or REDIS_ALLOW_EVICTION=true)"
    ))  # fmt: skip


# -- Telegram -----------------------------------------------------------------------------------


async def check_telegram(settings: Settings) -> Line:
    from bot.telegram.check import check_token  # aiogram: only when there is a token to check

    ok, text = await check_token(settings)
    return Line(ok, "Telegram", text)


def check_webhook(settings: Settings, problems: list[Problem]) -> Line:
    """The webhook's URL as Telegram takes it: https, a port it posts to (the URL's rules are
    the settings'; their problems are this line's)."""
    what = "webhook"
    if problems:
        return Line(False, what, "; ".join(problem.text for problem in problems))
    if settings.bot_mode != "webhook":
        hint = "; WEBHOOK_URL is set: BOT_MODE=webhook uses it" if settings.webhook_url else ""
        return Line(True, what, f"not used (long polling){hint}")
    parts = urlsplit(settings.webhook_url)
    port = parts.port or 443
    listen = f"{settings.webhook_host}:{settings.webhook_port}"
    proxy = "" if port == settings.webhook_port else " (a reverse proxy forwards it there)"
    return Line(True, what, (
        f"Telegram posts to https://{parts.hostname}:{port}, the bot listens on {listen}{proxy}"
    ))  # fmt: skip


# -- all of them --------------------------------------------------------------------------------


def _secrets(settings: Settings | None) -> list[str]:
    values = [os.environ.get(name, "") for name in SECRET_VARIABLES]
    if settings is not None:
        for name in SECRET_VARIABLES:
            secret = getattr(settings, name.lower())
            if isinstance(secret, SecretStr):
                values.append(secret.get_secret_value())
        password = urlsplit(settings.redis_url).password if settings.redis_url else None
        values.append(password or "")
    return [value for value in values if value]


async def check(problems: list[Problem], settings: Settings | None) -> list[Line]:
    """The report's lines, the checks that can run run together."""
    hook = [p for p in problems if p.variable == "WEBHOOK_URL"]
    others = [p for p in problems if p.variable != "WEBHOOK_URL"]
    lines = [Line(False, "settings", problem.text) for problem in others]
    if settings is None:
        return [*lines, Line(False, "checks", "not run: fix the settings above first", True)]
    if not others:
        mode = "webhook" if settings.bot_mode == "webhook" else "long polling"
        lines.append(Line(True, "settings", (
            f"read (provider {settings.realtime_provider}, model {settings.realtime_model}, "
            f"voice {settings.default_voice}, {mode})"
        )))  # fmt: skip
    lines += [Line(True, "settings", f"note: {notice}") for notice in settings.notices]
    broken = {problem.variable for problem in problems}
    read = settings

    async def run(
        what: str, needs: set[str], checking: Callable[[Settings], Awaitable[Line]]
    ) -> Line:
        if needs & broken:
            return _not_run(what, needs & broken)
        return await checking(read)

    found = await asyncio.gather(
        run("Telegram", TELEGRAM, check_telegram),
        run("model", MODEL, check_model),
        run("Redis", REDIS, check_redis),
    )
    return [*lines, *found, check_webhook(settings, hook)]


def fingerprint(settings: Settings) -> str:
    """A digest of every setting (secrets included, so a new key is checked again); nothing
    of them can be read back from it."""
    values = {
        name: value.get_secret_value() if isinstance(value, SecretStr) else value
        for name, value in settings
    }
    data = json.dumps(values, sort_keys=True, default=str).encode()
    return hashlib.sha256(b"python -m bot check\n" + data).hexdigest()


def main(*, webhook: bool = False, once: bool = False) -> int:
    """Print the report; 0 when every check passed, else 1."""
    overrides: dict[str, object] = {"bot_mode": "webhook"} if webhook else {}
    problems, settings = read_settings(("telegram", "realtime"), **overrides)
    mask = SecretMask(_secrets(settings))
    setup_logging("WARNING", "console", secrets=_secrets(settings))
    passed = Path(settings.data_dir) / PASSED if settings is not None else None
    if once and not problems and settings is not None and passed is not None:
        try:
            if passed.read_text().strip() == fingerprint(settings):
                return 0
        except OSError:
            pass
    lines = asyncio.run(check(problems, settings))
    for line in lines:
        print(mask.mask(str(line)), flush=True)
    if any(not line.ok for line in lines):
        failed = sum(not line.ok and not line.skipped for line in lines)
        print(f"{failed} to fix; then run python -m bot check again", flush=True)
        return 1
    print("every check passed", flush=True)
    if settings is not None and passed is not None:
        try:
            passed.parent.mkdir(parents=True, exist_ok=True)
            passed.write_text(fingerprint(settings) + "\n")
        except OSError:
            pass
    return 0
