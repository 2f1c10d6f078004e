"""No secret reaches the log: the bot token (whole, and its part after the colon), the realtime
key, the IAM token and the webhook secret stay out of every line, on the error paths that carry
them: a failed file download (its URL holds the token), Bot API errors and network errors, a
refused or dropped realtime connection, a wrong webhook secret.

Searched three ways: every record at DEBUG (every library's debug lines included) as the bot's
own handlers write it, console and JSON; and the stderr of ``python -m bot`` at DEBUG.
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
import io
import json
import logging
import signal
from collections.abc import AsyncIterator, Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import aiohttp
import pytest

from bot.errors import DownloadFailed
from bot.logging import MASK, SecretMask, make_handler
from bot.telegram.session import SERVER_ERROR_TRIES
from stand_ins.bot_api import BotAPIStandIn, Call
from stand_ins.realtime import RealtimeStandIn, Scenario
from stand_ins.redis import free_port
from tests import bot_harness
from tests.bot_harness import RunningBot, running_bot
from tests.test_e2e_process import bot_env, start_bot

BOT_ID = 7012345678
# Of real length: the default stand-in token's part after the colon ("TEST") is too short to be
# masked, so a leak of it alone could not be told from innocent text.
TOKEN = f"{BOT_ID}:AAH-secretTokenTail_0123456789abcdefXY"
TOKEN_TAIL = TOKEN.partition(":")[2]
KEY = "AQVN-secret-realtime-key-0123456789"
IAM = "t1.secret-iam-token-0123456789"
HOOK_SECRET = "hook-secret-0123456789"
SECRETS = (TOKEN, KEY, IAM, HOOK_SECRET)
FORBIDDEN = (TOKEN, TOKEN_TAIL, KEY, IAM, HOOK_SECRET)
USER = 4242


def leaks(text: str) -> list[str]:
    """The lines of ``text`` holding a secret."""
    return [line for line in text.splitlines() if any(secret in line for secret in FORBIDDEN)]


# ------------------------------------------------------------------------- the filter itself


def _failed_download() -> DownloadFailed:
    """A download error caused by aiohttp's, whose text is the file URL, token and all."""
    url = f"https://api.telegram.org/file/bot{TOKEN}/voice/file_7.oga"
    try:
        try:
            raise aiohttp.InvalidUrlClientError(url)
        except aiohttp.ClientError as exc:
            raise DownloadFailed(f"download failed with key {KEY}") from exc
    except DownloadFailed as exc:
        return exc


@pytest.mark.parametrize("fmt", ["console", "json"])
def test_a_record_is_written_masked_in_message_arguments_and_traceback(fmt: str) -> None:
    stream = io.StringIO()
    logger = logging.getLogger(f"tests.secrets.{fmt}")
    logger.propagate = False
    logger.setLevel(logging.DEBUG)
    logger.addHandler(make_handler(fmt, SECRETS, stream))
    try:
        logger.error(
            "fetching %s for %s failed (tail %s, iam %r, hook %s)",
            f"http://127.0.0.1:8081/file/bot{TOKEN}/voice/file_7.oga", "chat 5", TOKEN_TAIL,
            IAM, HOOK_SECRET, exc_info=_failed_download(),
        )  # fmt: skip
        logger.warning("stack follows, key %s", KEY, stack_info=True)
    finally:
        logger.handlers.clear()
    text = stream.getvalue()
    assert leaks(text) == []
    if fmt == "json":
        first, second = (json.loads(line) for line in text.splitlines())
        message, exc = first["msg"], first["exc"]
        assert second["msg"] == f"stack follows, key {MASK}"
    else:
        message, exc = text, text
    masked = f"/bot{MASK}/voice/file_7.oga for chat 5 failed (tail {MASK}, iam '{MASK}', hook"
    assert f"{masked} {MASK})" in message
    assert "Traceback (most recent call last)" in exc
    assert f"InvalidUrlClientError: https://api.telegram.org/file/bot{MASK}/voice/" in exc
    assert f"DownloadFailed: download failed with key {MASK}" in exc


def test_the_mask_leaves_short_values_and_innocent_text_alone() -> None:
    mask = SecretMask(["12345", "", TOKEN, "  " + KEY + "\n"])
    assert mask.mask("port 12345, 5 turns") == "port 12345, 5 turns"
    assert mask.mask(f"{TOKEN} {TOKEN_TAIL} {KEY}") == f"{MASK} {MASK} {MASK}"
    # Any bot's token in a URL, configured or not.
    assert mask.mask("GET /bot999:AAxyz_-1/getMe") == f"GET /bot{MASK}/getMe"
    assert SecretMask(["abc:xy"]).mask("abc:xy xy") == f"{MASK} xy"  # a tail under 6: kept


def test_the_mask_rewrites_only_records_that_hold_a_secret() -> None:
    mask = SecretMask(SECRETS)
    plain = logging.LogRecord("x", logging.INFO, __file__, 1, "turn %s took %d s", ("a", 3), None)
    assert mask.filter(plain)
    assert (plain.msg, plain.args) == ("turn %s took %d s", ("a", 3))
    secret = logging.LogRecord("x", logging.INFO, __file__, 1, "key %s", (KEY,), None)
    assert mask.filter(secret)
    assert (secret.getMessage(), secret.args) == (f"key {MASK}", None)
    # Arguments that do not fit the format are shown masked, not printed raw by the handler.
    broken = logging.LogRecord("x", logging.INFO, __file__, 1, "key %d", (KEY,), None)
    assert mask.filter(broken)
    assert broken.getMessage() == f"key %d (arguments: ('{MASK}',))"


# ---------------------------------------------------------------- the bot in-process, at DEBUG


@dataclass
class Logs:
    """Every record at DEBUG, and what the bot's own handlers (console and JSON) wrote of them."""

    caplog: pytest.LogCaptureFixture
    console: io.StringIO
    json: io.StringIO

    def check(self, *expected: str) -> None:
        """No secret in any line written or in any record's final text, and each of
        ``expected`` in some record (the error path was taken)."""
        written = self.console.getvalue() + self.json.getvalue()
        assert leaks(written) == []
        for line in self.json.getvalue().splitlines():
            json.loads(line)
        final = [
            "\n".join(filter(None, (r.getMessage(), r.exc_text, r.stack_info)))
            for r in self.caplog.records
        ]
        assert leaks("\n".join(final)) == []
        messages = "\n".join(r.getMessage() for r in self.caplog.records)
        for text in expected:
            assert text in messages


@pytest.fixture
def logs(caplog: pytest.LogCaptureFixture) -> Iterator[Logs]:
    # The root at DEBUG lets every library's debug lines through (websockets', say, which name
    # the handshake's headers); the bot's handlers mask what they write.
    caplog.set_level(logging.DEBUG)
    console, as_json = io.StringIO(), io.StringIO()
    handlers = [make_handler("console", SECRETS, console), make_handler("json", SECRETS, as_json)]
    root = logging.getLogger()
    for handler in handlers:
        root.addHandler(handler)
    try:
        yield Logs(caplog, console, as_json)
    finally:
        for handler in handlers:
            root.removeHandler(handler)


@contextlib.asynccontextmanager
async def bot_with_secrets(
    monkeypatch: pytest.MonkeyPatch, redis_url: str, scenario: Scenario | None = None
) -> AsyncIterator[RunningBot]:
    """The real bot in-process, with a token and a realtime key of real length."""
    # running_bot starts its own Bot API stand-in, with the default token.
    monkeypatch.setattr(
        bot_harness, "BotAPIStandIn", functools.partial(BotAPIStandIn, token=TOKEN, bot_id=BOT_ID)
    )
    async with (
        RealtimeStandIn(api_key=KEY, scenario=scenario or Scenario()) as realtime,
        running_bot(realtime, redis_url, realtime_api_key=KEY) as app,
    ):
        yield app
    realtime.assert_valid_client_events()


class _TimingOut:
    """The bot's HTTP session, where the next ``times`` posts to ``method`` fail as aiohttp
    fails when it cannot connect in time: with aiohttp's own text, which names the URL."""

    def __init__(self, session: aiohttp.ClientSession, method: str, times: int) -> None:
        self._session = session
        self._method = method
        self._left = times

    def post(self, url: str, **kwargs: Any) -> Any:
        if str(url).endswith("/" + self._method) and self._left > 0:
            self._left -= 1
            raise aiohttp.ConnectionTimeoutError(f"Connection timeout to host {url}")
        return self._session.post(url, **kwargs)

    def __getattr__(self, name: str) -> Any:
        return getattr(self._session, name)


async def time_out(
    app: RunningBot, monkeypatch: pytest.MonkeyPatch, method: str, times: int
) -> None:
    session = await app.bot.session.create_session()
    failing = _TimingOut(session, method, times)

    async def create_session() -> Any:
        return failing

    monkeypatch.setattr(app.bot.session, "create_session", create_session)


def voice(api: BotAPIStandIn, audio_files: dict[str, Path], chat_id: int = USER) -> None:
    api.push_message(
        "voice", chat_id=chat_id, user_id=chat_id, data=audio_files["voice.ogg"].read_bytes(),
        duration=3,
    )  # fmt: skip


async def test_a_failed_file_download_logs_no_token(
    logs: Logs, monkeypatch: pytest.MonkeyPatch, redis_url: str, audio_files: dict[str, Path]
) -> None:
    async with bot_with_secrets(monkeypatch, redis_url) as app:
        app.api.fail_next_download(status=500, times=3)
        voice(app.api, audio_files)
        (call,) = await app.api.wait_for("sendMessage", timeout=20)
        assert "could not fetch your file" in call.params["text"]
        assert len(app.api.calls_of("getFile")) == 3  # the first try and its two retries
        assert app.api.calls_of("sendVoice") == []
    logs.check("file download failed: HTTP 500", "turn failed: DownloadFailed")


@pytest.mark.parametrize("failure", ["server error", "network error"])
async def test_failed_sends_of_the_voice_note_log_no_token(
    logs: Logs,
    monkeypatch: pytest.MonkeyPatch,
    redis_url: str,
    audio_files: dict[str, Path],
    failure: str,
) -> None:
    async with bot_with_secrets(monkeypatch, redis_url) as app:
        if failure == "server error":
            # Every try of one send fails, so the turn's own retry sends it.
            app.api.fail_next(
                "sendVoice", error_code=502, description="Bad Gateway", times=SERVER_ERROR_TRIES
            )
        else:
            await time_out(app, monkeypatch, "sendVoice", times=SERVER_ERROR_TRIES)
        voice(app.api, audio_files)
        calls = await app.api.wait_for("sendVoice", predicate=lambda c: c.ok, timeout=20)
        assert len(calls) == 1
    logs.check("Telegram error on sendVoice", "turn failed (SendFailed")


@pytest.mark.parametrize(
    ("failure", "told", "logged"),
    [
        ("reject_401", "setup problem", "RealtimeAuthError"),
        ("drop_before_created", "not reachable", "RealtimeConnectionLost"),
        ("drop_mid_response", "not reachable", "RealtimeConnectionLost"),
    ],
)
async def test_a_refused_or_dropped_realtime_connection_logs_no_key(
    logs: Logs,
    monkeypatch: pytest.MonkeyPatch,
    redis_url: str,
    audio_files: dict[str, Path],
    failure: Any,
    told: str,
    logged: str,
) -> None:
    async with bot_with_secrets(monkeypatch, redis_url, Scenario(failure=failure)) as app:
        voice(app.api, audio_files)
        (call,) = await app.api.wait_for("sendMessage", timeout=20)
        assert told in call.params["text"]
    logs.check(f"turn failed: {logged}")


async def test_an_api_error_logged_with_its_traceback_has_its_url_masked(
    logs: Logs, monkeypatch: pytest.MonkeyPatch, redis_url: str
) -> None:
    # A handler's own call that keeps timing out ends in a traceback in the log; aiogram chains
    # aiohttp's error, whose text is the URL with the token in it.
    async with bot_with_secrets(monkeypatch, redis_url) as app:
        app.api.push_message("text", chat_id=USER, user_id=USER, text="/voice")
        (menu,) = await app.api.wait_for("sendMessage", timeout=10)
        await time_out(app, monkeypatch, "answerCallbackQuery", times=1000)
        app.api.push_callback(chat_id=USER, user_id=USER, data="voice:ermil", message=menu.result)
        record = await logged(logs.caplog, lambda r: "answerCallbackQuery" in (r.exc_text or ""))
    logs.check("Telegram error on answerCallbackQuery")
    url = f"{app.api.url}/bot{MASK}/answerCallbackQuery"
    assert f"ConnectionTimeoutError: Connection timeout to host {url}" in (record.exc_text or "")


async def logged(
    caplog: pytest.LogCaptureFixture,
    predicate: Callable[[logging.LogRecord], bool],
    timeout: float = 20.0,
) -> logging.LogRecord:
    """The first record matching ``predicate``, once one has been logged."""
    async with asyncio.timeout(timeout):
        while True:
            for record in caplog.records:
                if predicate(record):
                    return record
            await asyncio.sleep(0.05)


# ------------------------------------------------------------------ python -m bot, at DEBUG


async def stop(process: asyncio.subprocess.Process) -> str:
    process.send_signal(signal.SIGTERM)
    _, stderr = await asyncio.wait_for(process.communicate(), 20)
    log = stderr.decode()
    assert process.returncode == 0, log
    return log


def secret_env(realtime: RealtimeStandIn, api: BotAPIStandIn, **extra: str) -> dict[str, str]:
    return bot_env(
        realtime, BOT_TOKEN=TOKEN, TELEGRAM_API_URL=api.url, REALTIME_API_KEY=KEY,
        YANDEX_IAM_TOKEN=IAM, WEBHOOK_SECRET=HOOK_SECRET, LOG_LEVEL="DEBUG", **extra,
    )  # fmt: skip


def to_chat(chat_id: int) -> Callable[[Call], bool]:
    return lambda call: int(call.params.get("chat_id", 0)) == chat_id


async def test_python_m_bot_writes_no_secret_on_any_error_path(
    audio_files: dict[str, Path], tmp_path: Path, redis_url: str
) -> None:
    # Console lines here, JSON lines in the webhook test below.
    async with (
        BotAPIStandIn(token=TOKEN, bot_id=BOT_ID) as api,
        RealtimeStandIn(api_key=KEY) as realtime,
    ):
        env = secret_env(realtime, api, REDIS_URL=redis_url, LOG_FORMAT="console")
        bot = await start_bot(env, tmp_path)
        try:
            # The file server answers 500 to every try.
            api.fail_next_download(status=500, times=3)
            voice(api, audio_files, chat_id=1)
            (told,) = await api.wait_for("sendMessage", predicate=to_chat(1), timeout=30)
            assert "could not fetch your file" in told.params["text"]
            # The Bot API answers 500 to every try of one send.
            api.fail_next("sendVoice", error_code=500, description="Internal Server Error",
                          times=SERVER_ERROR_TRIES)  # fmt: skip
            voice(api, audio_files, chat_id=2)
            await api.wait_for("sendVoice", predicate=lambda c: c.ok, timeout=30)
            # The realtime server refuses the key, then drops the connection.
            realtime.scenario = Scenario(failure="reject_401")
            voice(api, audio_files, chat_id=3)
            (told,) = await api.wait_for("sendMessage", predicate=to_chat(3), timeout=30)
            assert "setup problem" in told.params["text"]
            realtime.scenario = Scenario(failure="drop_mid_response")
            voice(api, audio_files, chat_id=4)
            (told,) = await api.wait_for("sendMessage", predicate=to_chat(4), timeout=30)
            assert "not reachable" in told.params["text"]
        finally:
            log = await stop(bot)
    assert leaks(log) == []
    for path in ("HTTP 500", "sendVoice", "RealtimeAuthError", "RealtimeConnectionLost"):
        assert path in log


async def test_a_wrong_webhook_secret_is_refused_and_no_secret_logged(
    tmp_path: Path, redis_url: str
) -> None:
    port = free_port()
    async with (
        BotAPIStandIn(token=TOKEN, bot_id=BOT_ID) as api,
        RealtimeStandIn(api_key=KEY) as realtime,
    ):
        env = secret_env(
            realtime, api, REDIS_URL=redis_url, BOT_MODE="webhook", LOG_FORMAT="json",
            WEBHOOK_URL="https://bot.example.com/tg/hook", WEBHOOK_HOST="127.0.0.1",
            WEBHOOK_PORT=str(port),
        )  # fmt: skip
        bot = await start_bot(env, tmp_path)
        try:
            (hook,) = await api.wait_for("setWebhook", timeout=30)
            assert hook.params["secret_token"] == HOOK_SECRET
            # The update as Telegram would post it (queued for getUpdates too, which nobody calls).
            update = api.push_message("text", chat_id=9, user_id=9, text="/start")
            url = f"http://127.0.0.1:{port}/tg/hook"
            async with aiohttp.ClientSession() as http:
                for headers in ({"X-Telegram-Bot-Api-Secret-Token": "wrong-secret-0"}, {}):
                    async with http.post(url, json=update, headers=headers) as response:
                        assert response.status == 401
                right = {"X-Telegram-Bot-Api-Secret-Token": HOOK_SECRET}
                async with http.post(url, json=update, headers=right) as response:
                    assert response.status == 200
            await api.wait_for("sendMessage", timeout=10)
        finally:
            log = await stop(bot)
    assert leaks(log) == []
    assert "serving webhook" in log
    assert all(json.loads(line) for line in log.splitlines())
