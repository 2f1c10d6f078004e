"""Settings: one object, read from the environment and an optional ``.env`` file.

Variable names are a contract (README, "Configuration"); ``.env.example`` documents each one.
"""

from __future__ import annotations

import hashlib
import hmac
import re
from collections.abc import Collection, Iterable, Sequence
from pathlib import Path
from typing import Annotated, Literal, NamedTuple
from urllib.parse import urlsplit
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from pydantic import (
    Field,
    PrivateAttr,
    SecretStr,
    ValidationError,
    ValidationInfo,
    field_validator,
    model_validator,
)
from pydantic_settings import BaseSettings, NoDecode, SettingsConfigDict

from bot.errors import ConfigError
from bot.provider_profiles import PROFILES

__all__ = [
    "DEFAULT_INSTRUCTIONS",
    "WEBHOOK_PORTS",
    "Need",
    "Problem",
    "Settings",
    "SettingsError",
    "load_settings",
    "read_settings",
]

# The reference example's instructions: short, easy to listen to, key facts repeated back.
DEFAULT_INSTRUCTIONS = (
    "Ты — голосовой ассистент. Отвечай кратко и по делу, простыми фразами, которые легко "
    "воспринимать на слух: без списков, таблиц, ссылок и разметки. Если пользователь называет "
    "номер заказа, место, адрес, дату, время или другие важные данные, повтори их, чтобы "
    "пользователь убедился, что ты расслышал правильно. Если вопрос неясен, переспроси. "
    "Отвечай на языке пользователя."
)

IdList = Annotated[frozenset[int], NoDecode]

# What a command needs besides well-formed settings: "telegram" (the bot and the worker),
# "realtime" (every command that asks the model).
Need = Literal["telegram", "realtime"]
# The ports Telegram posts a webhook to (core.telegram.org/bots/api#setwebhook).
WEBHOOK_PORTS = (443, 80, 88, 8443)
# Schemes people paste before a secret: the bot adds the header's scheme itself.
_SECRET_SCHEMES = {"realtime_api_key": ("Api-Key", "Bearer"), "yandex_iam_token": ("Bearer",)}
# A bot token in a URL path (``/bot123:AA...``): the Bot API URL is the server only.
_BOT_PATH = re.compile(r"/bot\d+:")


class Problem(NamedTuple):
    """One thing wrong with the settings: the variable (upper case, as in ``.env``) and the
    line that says what is wrong and what to do. Never the value of a secret."""

    variable: str
    text: str


class SettingsError(ConfigError):
    """Every problem of the settings at once, one line each (``problems``)."""

    def __init__(self, problems: Sequence[Problem]) -> None:
        self.problems = tuple(problems)
        if len(self.problems) == 1:
            message = self.problems[0].text
        else:
            lines = "".join(f"\n  - {problem.text}" for problem in self.problems)
            message = f"{len(self.problems)} settings to fix (in .env or the environment):{lines}"
        super().__init__(message)


def _url_shape(value: str, schemes: tuple[str, ...]) -> str | None:
    """What is wrong with ``value`` as a URL of one of ``schemes`` with a host, in words that
    never repeat it (it may hold a secret); None when nothing is."""
    try:
        parts = urlsplit(value)
        parts.port  # noqa: B018 - raises ValueError on a port that is not a number
    except ValueError:
        return "it is not a URL (a malformed port or address)"
    scheme = parts.scheme.lower()
    if scheme not in schemes:
        known = ("http", "https", "ws", "wss")
        if scheme in known and "://" in value:
            return f"it is an {scheme}:// address" if scheme[0] in "h" else f"it is {scheme}://"
        return "it has no scheme" if "://" not in value else "its scheme is not one of these"
    if not parts.hostname:
        return "it has no host"
    return None


class Settings(BaseSettings):
    """Every setting of the bot. Secrets are ``SecretStr`` and never printed."""

    model_config = SettingsConfigDict(
        env_file=".env",
        env_file_encoding="utf-8",
        extra="ignore",
        case_sensitive=False,
        # `KEY=` in .env means "not set": the default applies.
        env_ignore_empty=True,
    )

    # Telegram
    bot_token: SecretStr | None = None
    telegram_api_url: str = "https://api.telegram.org"

    # Realtime model
    realtime_provider: str = "yandex"  # a name of bot.provider_profiles.PROFILES
    realtime_api_key: SecretStr | None = None
    yandex_iam_token: SecretStr | None = None
    yandex_folder_id: str = ""
    realtime_model: str = ""
    realtime_url: str = ""
    turn_detection: Literal["server_vad", "semantic_vad", "manual"] = "server_vad"
    output_sample_rate: int | None = None  # None: the provider's default
    connect_timeout: float = Field(10.0, gt=0)
    # Live first-audio delays reached 21.5 s (stand_ins/README.md); a tool round adds its own.
    event_timeout: float = Field(45.0, gt=0)
    turn_timeout: float = Field(120.0, gt=0)
    turn_deadline: float = Field(150.0, gt=0)
    max_concurrent_turns: int = Field(8, ge=1)
    # Pauses inside a note are shortened to this before sending (0: sent whole); the server's
    # voice detection waits VAD_SILENCE_MS, well above it, so it never splits a note.
    max_pause_seconds: float = Field(0.6, ge=0)
    vad_silence_ms: int = Field(1500, ge=200, le=10000)

    # Storage
    redis_url: str = ""
    data_dir: Path = Path("data")

    # People
    admin_ids: IdList = frozenset()
    allowed_user_ids: IdList = frozenset()
    allowed_chat_ids: IdList = frozenset()

    # Defaults for chats
    default_voice: str = ""
    default_instructions: str = DEFAULT_INSTRUCTIONS

    # Limits
    max_input_seconds: float = Field(120.0, gt=0)
    max_input_bytes: int = Field(20_000_000, gt=0)
    silence_threshold_dbfs: float = Field(-50.0, le=0)
    max_instructions_chars: int = Field(3000, gt=0)

    # Logging
    log_level: Literal["DEBUG", "INFO", "WARNING", "ERROR"] = "INFO"
    log_format: Literal["console", "json"] = "console"

    # Live answers: drafts with a stop button in private chats, a reaction in groups
    live_answers: bool = True
    group_reactions: bool = True

    # Tools the model may call during a turn (each chat's admins switch them with /tools)
    tools_disabled: Annotated[frozenset[str], NoDecode] = frozenset()  # off for every chat
    default_timezone: str = "Europe/Moscow"
    search_url: str = ""  # a SearXNG instance: web search where the provider has none
    tool_timeout: float = Field(10.0, gt=0)
    tool_rounds: int = Field(4, ge=1)  # responses with tool calls in one turn, at most
    # Calls of one response run, at most; the rest are answered with an error the model reads.
    tool_calls_per_response: int = Field(8, ge=1)
    # Bounds on what the tools do (bot.tools.kit): reminders set in one turn, reminders one
    # person (TurnJob.payer) sets a UTC day (0 = no daily cap), searches the bot runs in a turn.
    reminders_per_turn: int = Field(3, ge=1)
    reminders_per_user_day: int = Field(20, ge=0)
    searches_per_turn: int = Field(3, ge=1)
    notes_max: int = Field(50, ge=1)
    notes_max_chars: int = Field(4000, ge=100)  # all of a chat's notes together
    note_max_chars: int = Field(500, ge=20)
    notes_per_user: int = Field(10, ge=0)  # a member's notes in a chat (0: no such quota)
    reminders_max: int = Field(20, ge=1)  # waiting per chat
    reminders_horizon_days: float = Field(366.0, gt=0)
    reminder_poll: float = Field(1.0, gt=0)  # how often workers look for due reminders

    # Conversation memory
    memory_turns: int = Field(6, ge=0)
    memory_ttl: int = Field(3600, gt=0)
    input_transcription_model: str = ""

    # Usage, prices and budgets (0 = none)
    # None (and PRICE_CURRENCY ""): the prices of REALTIME_MODEL in its provider's profile.
    price_input_audio_per_minute: float | None = Field(None, ge=0)
    price_output_audio_per_minute: float | None = Field(None, ge=0)
    price_input_text_per_1k: float | None = Field(None, ge=0)
    price_output_text_per_1k: float | None = Field(None, ge=0)
    price_currency: str = ""
    user_daily_seconds: float = Field(0.0, ge=0)
    user_monthly_seconds: float = Field(0.0, ge=0)
    chat_daily_seconds: float = Field(0.0, ge=0)
    chat_monthly_seconds: float = Field(0.0, ge=0)
    user_daily_cost: float = Field(0.0, ge=0)
    user_monthly_cost: float = Field(0.0, ge=0)
    chat_daily_cost: float = Field(0.0, ge=0)
    chat_monthly_cost: float = Field(0.0, ge=0)
    # Everyone's estimated cost a UTC day, used and held by answers under way (0 = no cap).
    bot_daily_cost: float = Field(0.0, ge=0)
    # Seconds of reply audio a turn holds on the budgets until it ends (its worst case, with its
    # declared input), so turns at once cannot all pass a budget; what a reminder holds once set.
    # A reply is cut there (bot.realtime.turn), so the hold is a real bound.
    max_reply_seconds: float = Field(60.0, gt=0)

    # Queue and workers
    worker_name: str = ""  # empty: the host name and the process kind (bot.cli)
    worker_prefetch: int = Field(32, ge=1)
    visibility_timeout: float = Field(60.0, gt=0)
    shutdown_grace: float = Field(30.0, ge=0)
    max_chat_backlog: int = Field(5, ge=1)
    rate_limit_turns: int = Field(20, ge=0)
    rate_limit_window: int = Field(60, gt=0)
    turn_retries: int = Field(2, ge=0)

    # Serving
    bot_mode: Literal["polling", "webhook"] = "polling"
    webhook_url: str = ""
    webhook_secret: SecretStr | None = None
    webhook_host: str = "0.0.0.0"  # noqa: S104 - a webhook server listens on every interface
    webhook_port: int = Field(8080, gt=0, lt=65536)
    metrics_port: int | None = Field(None, gt=0, lt=65536)

    # Exposure and Redis safety: /metrics and /healthz (no auth) listen on this machine only
    # unless told otherwise; a Redis that may evict keys stops the bot at start unless allowed.
    metrics_host: str = "127.0.0.1"
    redis_allow_eviction: bool = False

    @field_validator("admin_ids", "allowed_user_ids", "allowed_chat_ids", mode="before")
    @classmethod
    def _split_ids(cls, value: object) -> object:
        if isinstance(value, str):
            parts = [p.strip() for p in value.replace(";", ",").split(",")]
            try:
                return frozenset(int(p) for p in parts if p)
            except ValueError:
                raise ValueError("must be Telegram ids separated by commas") from None
        return value

    @field_validator("tools_disabled", mode="before")
    @classmethod
    def _split_tools(cls, value: object) -> object:
        if isinstance(value, str):
            # The names are checked against the tools' registry when the kit is built at start
            # (``bot.tools.registry.check_disabled``): config is below the tools.
            names = {p.strip().lower() for p in value.replace(";", ",").split(",") if p.strip()}
            return frozenset(names)
        return value

    @field_validator("default_timezone")
    @classmethod
    def _known_zone(cls, value: str) -> str:
        try:
            ZoneInfo(value)
        except (ZoneInfoNotFoundError, ValueError, OSError):
            raise ValueError("must be an IANA time zone such as Europe/Moscow") from None
        return value

    @field_validator("realtime_provider")
    @classmethod
    def _known_provider(cls, value: str) -> str:
        if value not in PROFILES:
            raise ValueError(f"must be one of {', '.join(PROFILES)}")
        return value

    @field_validator("output_sample_rate")
    @classmethod
    def _known_rate(cls, value: int | None) -> int | None:
        # A rate some provider accepts; which ones the configured one does, its profile says
        # (bot.realtime.providers.profile_for).
        rates = sorted({rate for profile in PROFILES.values() for rate in profile.output_rates})
        if value is not None and value not in rates:
            raise ValueError(f"must be one of {', '.join(map(str, rates))}")
        return value

    @field_validator("log_level", mode="before")
    @classmethod
    def _upper(cls, value: object) -> object:
        return value.upper() if isinstance(value, str) else value

    @field_validator("telegram_api_url", "realtime_url", "webhook_url")
    @classmethod
    def _strip_slash(cls, value: str) -> str:
        value = value.strip()
        return value.rstrip("/") if value.endswith("/") and "?" not in value else value

    @field_validator("telegram_api_url")
    @classmethod
    def _bot_api_url(cls, value: str) -> str:
        wrong = _url_shape(value, ("http", "https"))
        if wrong is None and _BOT_PATH.search(urlsplit(value).path):
            wrong = "it holds /bot<token>: the bot adds that itself"
        if wrong is not None:
            raise ValueError(
                f"must be the Bot API server's address, https://HOST (http:// for a local "
                f"telegram-bot-api), e.g. https://api.telegram.org; {wrong}"
            )
        return value

    @field_validator("realtime_url")
    @classmethod
    def _websocket_url(cls, value: str) -> str:
        wrong = _url_shape(value, ("ws", "wss")) if value else None
        if wrong is not None:
            raise ValueError(
                "must be the model's WebSocket address, wss://HOST/... (ws:// for a local "
                f"server); {wrong}; leave it empty for the provider's own"
            )
        return value

    @field_validator("webhook_url")
    @classmethod
    def _webhook_url(cls, value: str) -> str:
        if not value:
            return value
        wrong = _url_shape(value, ("https",))
        if wrong is not None:
            raise ValueError(
                f"must be the public https:// address Telegram posts to, e.g. "
                f"https://bot.example.com/tg/SOME-PATH (Telegram posts only over https); {wrong}"
            )
        port = urlsplit(value).port or 443
        if port not in WEBHOOK_PORTS:
            ports = ", ".join(map(str, WEBHOOK_PORTS))
            raise ValueError(
                f"port {port} is not one Telegram posts to: use {ports} in the URL (a reverse "
                "proxy forwards it to WEBHOOK_HOST:WEBHOOK_PORT)"
            )
        return value

    @field_validator("bot_token")
    @classmethod
    def _token_shape(cls, value: SecretStr | None) -> SecretStr | None:
        if value is None or not value.get_secret_value().strip():
            return None
        token = value.get_secret_value().strip()
        left, _, right = token.partition(":")
        if not left.isdigit() or not right or any(c.isspace() for c in token):
            raise ValueError("not a bot token: expected 123456789:AA... from @BotFather")
        return SecretStr(token)

    @field_validator("default_voice")
    @classmethod
    def _known_voice(cls, value: str, info: ValidationInfo) -> str:
        # /voice offers and accepts only the voices of the provider's profile; a voice the
        # provider added since belongs there too (bot/provider_profiles.py), not only here.
        value = value.strip()
        profile = PROFILES.get(info.data.get("realtime_provider", ""))
        if value and profile is not None and value not in profile.voices:
            raise ValueError(
                f"{value!r} is not a voice of {profile.name}: use one of "
                f"{', '.join(profile.voices)}, or leave it empty for {profile.voice}"
            )
        return value

    @model_validator(mode="after")
    def _bare_secrets(self) -> Settings:
        """A secret pasted with its header's scheme (``Api-Key AQVN...``) is taken without it:
        the bot adds the scheme itself. Said in a notice, never with the secret."""
        notices: list[str] = []
        for name, schemes in _SECRET_SCHEMES.items():
            secret: SecretStr | None = getattr(self, name)
            if secret is None:
                continue
            raw = secret.get_secret_value().strip()
            for scheme in schemes:
                first, _, rest = raw.partition(" ")
                if first.lower() == scheme.lower():
                    raw = rest.strip()
                    hint = ""
                    if name == "realtime_api_key" and scheme == "Bearer" and raw.startswith("t1."):
                        hint = " (it looks like an IAM token: those go in YANDEX_IAM_TOKEN)"
                    notices.append(
                        f"{name.upper()} began with {scheme!r}: the bot adds the scheme itself, "
                        f"so it was dropped; put the key alone in .env{hint}"
                    )
                    break
            if not raw:
                self._issues.append(
                    Problem(name.upper(), f"{name.upper()} holds no key: put the key itself")
                )
                setattr(self, name, None)
            else:
                setattr(self, name, SecretStr(raw))
        self._notices = notices
        return self

    @model_validator(mode="after")
    def _provider_defaults(self) -> Settings:
        profile = PROFILES[self.realtime_provider]
        if not self.realtime_model:
            self.realtime_model = profile.model
        if not self.default_voice:
            self.default_voice = profile.voice
        if self.webhook_secret is None and self.bot_token is not None:
            # A webhook is never open: without WEBHOOK_SECRET the secret is derived from the
            # token (the same in every process and across restarts; the token cannot be
            # recovered from it).
            digest = hmac.new(
                self.bot_token.get_secret_value().encode(), b"webhook-secret", hashlib.sha256
            ).hexdigest()
            self.webhook_secret = SecretStr(digest)
        if not self.input_transcription_model:
            # Set where the provider transcribes input only when asked (OpenAI); "" where it
            # sends transcripts on its own (Yandex).
            self.input_transcription_model = profile.transcription_model
        return self

    # Found by the validators besides pydantic's errors (a secret that was only its scheme),
    # and what they changed that the log should say (a scheme dropped from a secret).
    _issues: list[Problem] = PrivateAttr(default_factory=list)
    _notices: list[str] = PrivateAttr(default_factory=list)

    @property
    def notices(self) -> tuple[str, ...]:
        """What reading the settings changed and the operator should hear (no secret in it)."""
        return tuple(self._notices)

    def problems(self, needs: Iterable[Need] = ()) -> list[Problem]:
        """What keeps these settings from serving ``needs``: every problem, one each."""
        found = list(self._issues)
        if "telegram" in needs:
            found += self._telegram_problems()
        if "realtime" in needs:
            found += self._realtime_problems()
        return found

    def _realtime_problems(self) -> list[Problem]:
        profile = PROFILES[self.realtime_provider]
        found: list[Problem] = []
        if all(getattr(self, auth.setting) is None for auth in profile.auth):
            first, *others = (auth.setting.upper() for auth in profile.auth)
            alternatives = f" (or {' or '.join(others)})" if others else ""
            found.append(Problem(first, f"{first}{alternatives} is not set"))
        if not self.realtime_url:
            for name in profile.url_fields:
                if not getattr(self, name):
                    found.append(
                        Problem(name.upper(), f"{name.upper()} is not set (or give REALTIME_URL)")
                    )
        rate = self.output_sample_rate
        if rate is not None and rate not in profile.output_rates:
            accepted = ", ".join(map(str, profile.output_rates))
            found.append(Problem("OUTPUT_SAMPLE_RATE", (
                f"OUTPUT_SAMPLE_RATE: {profile.name} accepts {accepted} (got {rate}); "
                "leave it empty for the provider's default"
            )))  # fmt: skip
        if self.turn_detection not in profile.turn_detections:
            accepted = ", ".join(profile.turn_detections)
            found.append(
                Problem("TURN_DETECTION", f"TURN_DETECTION: {profile.name} accepts {accepted}")
            )
        return found

    def _telegram_problems(self) -> list[Problem]:
        found: list[Problem] = []
        if self.bot_token is None:
            found.append(Problem("BOT_TOKEN", "BOT_TOKEN is not set: get one from @BotFather"))
        if self.bot_mode == "webhook" and not self.webhook_url:
            found.append(
                Problem("WEBHOOK_URL", "WEBHOOK_URL is not set (BOT_MODE=webhook needs it)")
            )
        return found

    def require(self, *needs: Need) -> None:
        """Raise ``SettingsError`` listing every problem that keeps these settings from
        serving ``needs``."""
        found = self.problems(needs)
        if found:
            raise SettingsError(found)

    def require_realtime(self) -> None:
        """Raise ConfigError unless the realtime model can be reached with these settings: a
        secret of one of the provider's auth schemes, and what its URL names (unless
        ``REALTIME_URL`` replaces it)."""
        self.require("realtime")

    def require_telegram(self) -> None:
        """Raise ConfigError unless the Telegram side can start with these settings."""
        self.require("telegram")


def load_settings(*, needs: Collection[Need] = (), **overrides: object) -> Settings:
    """Read settings. Every malformed value, and every one missing for ``needs``, is reported at
    once: ``SettingsError`` (a ``ConfigError``) lists them, each naming the variable and what
    to do, never a value."""
    problems, settings = read_settings(needs, **overrides)
    if problems or settings is None:
        raise SettingsError(problems)
    return settings


def read_settings(
    needs: Collection[Need] = (), **overrides: object
) -> tuple[list[Problem], Settings | None]:
    """Every problem of the settings for ``needs``, and the settings: as read when nothing is
    malformed; else with each malformed variable at its default (what depends on it is not to
    be trusted: ``python -m bot check`` skips it), or None when even that cannot be built."""
    try:
        read = Settings(**overrides)  # type: ignore[arg-type]
    except ValidationError as exc:
        problems = _problems(exc)
    else:
        return read.problems(needs), read
    broken = {problem.variable.lower() for problem in problems}
    settings: Settings | None = None
    for _ in range(3):  # a default may not suit another value either: set that one aside too
        defaults = {name: Settings.model_fields[name].default for name in broken}
        try:
            settings = Settings(**{**overrides, **defaults})
            break
        except ValidationError as again:
            more = {problem.variable.lower() for problem in _problems(again)}
            if more <= broken:
                break
            broken |= more
    if settings is not None:
        if "realtime_provider" in broken:  # another provider's needs would mislead
            needs = [need for need in needs if need != "realtime"]
        if "realtime_url" in broken:  # what the provider's URL names is not needed with it
            broken |= set(PROFILES[settings.realtime_provider].url_fields)
        problems += [p for p in settings.problems(needs) if p.variable.lower() not in broken]
    return problems, settings


def _problems(exc: ValidationError) -> list[Problem]:
    """pydantic's errors as problems, one per variable and message, without the input."""
    problems: list[Problem] = []
    for err in exc.errors(include_input=False, include_url=False):
        name = str(err["loc"][0]).upper() if err["loc"] else "settings"
        message = str(err["msg"]).removeprefix("Value error, ")
        problem = Problem(name, f"{name}: {message}")
        if problem not in problems:
            problems.append(problem)
    return problems
