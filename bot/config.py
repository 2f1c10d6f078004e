"""Settings: one object, read from the environment and an optional ``.env`` file.

Variable names are a contract (README, "Configuration"); ``.env.example`` documents each one.
"""

from __future__ import annotations

import hashlib
import hmac
from pathlib import Path
from typing import Annotated, Literal
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from pydantic import Field, SecretStr, ValidationError, field_validator, model_validator
from pydantic_settings import BaseSettings, NoDecode, SettingsConfigDict

from bot.errors import ConfigError
from bot.provider_profiles import PROFILES

__all__ = ["DEFAULT_INSTRUCTIONS", "Settings", "load_settings"]

# The reference example's instructions: short, easy to listen to, key facts repeated back.
DEFAULT_INSTRUCTIONS = (
    "Ты — голосовой ассистент. Отвечай кратко и по делу, простыми фразами, которые легко "
    "воспринимать на слух: без списков, таблиц, ссылок и разметки. Если пользователь называет "
    "номер заказа, место, адрес, дату, время или другие важные данные, повтори их, чтобы "
    "пользователь убедился, что ты расслышал правильно. Если вопрос неясен, переспроси. "
    "Отвечай на языке пользователя."
)

IdList = Annotated[frozenset[int], NoDecode]


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
    price_input_audio_per_minute: float | None = Field(None, ge=0)  # None: the provider's
    price_output_audio_per_minute: float | None = Field(None, ge=0)
    price_currency: str = "RUB"
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
        return value.rstrip("/") if value.endswith("/") and "?" not in value else value

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

    def require_realtime(self) -> None:
        """Raise ConfigError unless the realtime model can be reached with these settings: a
        secret of one of the provider's auth schemes, and what its URL names (unless
        ``REALTIME_URL`` replaces it)."""
        profile = PROFILES[self.realtime_provider]
        if all(getattr(self, auth.setting) is None for auth in profile.auth):
            first, *others = (auth.setting.upper() for auth in profile.auth)
            alternatives = f" (or {' or '.join(others)})" if others else ""
            raise ConfigError(f"{first}{alternatives} is not set")
        if not self.realtime_url:
            for name in profile.url_fields:
                if not getattr(self, name):
                    raise ConfigError(f"{name.upper()} is not set (or give REALTIME_URL)")

    def require_telegram(self) -> None:
        """Raise ConfigError unless the Telegram side can start with these settings."""
        if self.bot_token is None or not self.bot_token.get_secret_value().strip():
            raise ConfigError("BOT_TOKEN is not set: get one from @BotFather")
        token = self.bot_token.get_secret_value()
        left, _, right = token.partition(":")
        if not left.isdigit() or not right:
            raise ConfigError("BOT_TOKEN is malformed: expected 123456789:AA... from @BotFather")
        if self.bot_mode == "webhook" and not self.webhook_url:
            raise ConfigError("WEBHOOK_URL is not set (BOT_MODE=webhook needs it)")


def load_settings(**overrides: object) -> Settings:
    """Read settings; a bad value raises ConfigError naming the variable, without its value."""
    try:
        return Settings(**overrides)  # type: ignore[arg-type]
    except ValidationError as exc:
        problems = []
        for err in exc.errors(include_input=False, include_url=False):
            name = str(err["loc"][0]).upper() if err["loc"] else "settings"
            problems.append(f"{name}: {err['msg']}")
        raise ConfigError("; ".join(problems)) from None
