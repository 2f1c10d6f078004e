"""Every error the bot raises on purpose, one subtree per layer.

::

    BotError                      key, arguments(): the catalogue message the user is told
    ├── ConfigError               a setting is missing or malformed (start-up only)
    ├── Refusal                   the receiver does not take the turn; nothing is queued
    │   ├── Busy                  the chat's backlog is full
    │   ├── RateLimited           the user sent too many turns in the window
    │   ├── OverBudget            a user's or chat's budget, or the bot's daily spend cap, is
    │   │                         used up
    │   ├── NotAdmin              a settings change by someone who is not an admin
    │   │   └── VoiceOnlyAdmins   the same, from the voice keyboard
    │   └── NotAllowed            the chat is outside the owners' allowlists
    ├── InputError                the user's input cannot be answered; never retried
    │   ├── EmptyAudio            no audio at all
    │   ├── CorruptAudio          ffmpeg cannot read it
    │   ├── NotAudio              a document or file with no audio stream
    │   ├── SilentAudio           audio, but nothing above the silence level
    │   ├── TooLong               longer than MAX_INPUT_SECONDS
    │   └── TooLarge              bigger than MAX_INPUT_BYTES
    ├── RealtimeError             the speech model failed the turn
    │   ├── RealtimeAuthError     refused key or token (HTTP 401/403, invalid_api_key); fatal
    │   ├── RealtimeQuotaError    quota or billing limit; fatal until someone pays
    │   ├── RealtimeConfigError   the provider refused the deployment's model, URI, voice or
    │   │                         role; fatal until the owner changes a setting
    │   ├── RealtimeConnectError  could not connect, or the handshake got a 5xx; transient
    │   ├── RealtimeConnectionLost  the connection dropped mid-turn; transient
    │   ├── RealtimeTimeout       the server went silent; transient
    │   ├── RealtimeServerError   an ``error`` event; transient when the server says so
    │   │   └── ContextRejected   the server refused the conversation items given as memory
    │   └── RealtimeResponseFailed  response.done with status failed, cancelled or incomplete
    ├── DeliveryError             the reply could not reach the chat
    │   ├── DownloadFailed        the input could not be downloaded; transient
    │   ├── SendFailed            the reply could not be sent; transient unless refused
    │   ├── ChatUnreachable       the chat blocked or removed the bot; nothing more is sent
    │   └── VoiceForbidden        the user's privacy settings refuse voice notes (a hint)
    ├── TurnStopped               the user stopped the answer before the model began it
    ├── ToolFailed                a tool could not do what the model asked (told to the model)
    │   └── LimitReached          a per-chat limit of a tool (notes size, reminders…)
    │       ├── ReminderRateLimited  setting a reminder would pass the asker's rate limit
    │       └── ReminderOverBudget   a reminder's cost does not fit a budget
    └── StorageError              Redis is unreachable; transient

``transient`` says whether trying the same turn again may succeed. ``key`` and ``arguments()`` are
what ``bot.i18n.render`` turns into the user's message: the one place errors become words.
"""

from __future__ import annotations

import datetime as dt
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

__all__ = [
    "BotError",
    "Busy",
    "ChatUnreachable",
    "ConfigError",
    "ContextRejected",
    "CorruptAudio",
    "DeliveryError",
    "DownloadFailed",
    "EmptyAudio",
    "InputError",
    "LimitReached",
    "NotAdmin",
    "NotAllowed",
    "NotAudio",
    "OverBudget",
    "RateLimited",
    "RealtimeAuthError",
    "RealtimeConfigError",
    "RealtimeConnectError",
    "RealtimeConnectionLost",
    "RealtimeError",
    "RealtimeQuotaError",
    "RealtimeResponseFailed",
    "RealtimeServerError",
    "RealtimeTimeout",
    "Refusal",
    "ReminderOverBudget",
    "ReminderRateLimited",
    "SampleBusy",
    "SendFailed",
    "SilentAudio",
    "StorageError",
    "TooLarge",
    "TooLong",
    "ToolFailed",
    "TurnStopped",
    "VoiceForbidden",
    "VoiceOnlyAdmins",
]


class BotError(Exception):
    """Root of the bot's own errors."""

    key = "error-internal"
    transient = False

    def arguments(self) -> dict[str, object]:
        """The arguments of the catalogue message ``key``."""
        return {}


class ConfigError(BotError):
    """A setting is missing or malformed; the message names the variable."""


class Refusal(BotError):
    """The receiver does not take this turn; the user is told why. ``reason`` labels the
    refusal in ``voicebot_refusals_total``."""

    reason = "other"


class Busy(Refusal):
    """The chat already has ``limit`` turns waiting or running (its backlog limit)."""

    key = "busy"
    reason = "backlog"

    def __init__(self, limit: int) -> None:
        super().__init__(f"{limit} turns of the chat are waiting or running")
        self.limit = limit

    def arguments(self) -> dict[str, object]:
        return {"limit": self.limit}


class RateLimited(Refusal):
    key = "rate-limited"
    reason = "rate_limit"

    def __init__(self, retry_after: int) -> None:
        super().__init__(f"rate limited for {retry_after} s")
        self.retry_after = retry_after

    def arguments(self) -> dict[str, object]:
        return {"seconds": self.retry_after}


class OverBudget(Refusal):
    """``whose`` ("user" or "chat") used up the budget of ``period`` ("day" or "month"), or the
    bot's daily spend cap is reached (``whose`` "bot", period "day")."""

    reason = "budget"

    def __init__(
        self, whose: str, period: str, resets_at: dt.datetime, timezone: str | None = None
    ) -> None:
        super().__init__(f"budget of the {whose} used up ({period})")
        self.whose = whose
        self.period = period
        self.resets_at = resets_at  # UTC: the budgets' periods are UTC days and months
        self.timezone = timezone  # the zone the reset is shown in (None: UTC)
        self.key = f"budget-{whose}-{period}"

    def shown_in(self, timezone: str) -> OverBudget:
        """The same refusal, its reset shown in ``timezone`` (the chat's)."""
        return OverBudget(self.whose, self.period, self.resets_at, timezone)

    def arguments(self) -> dict[str, object]:
        return {"resets": _moment_in(self.resets_at, self.timezone)}


def _moment_in(moment: dt.datetime, timezone: str | None) -> str:
    """``moment`` as the clock reads in ``timezone``, the zone named: "2026-12-07 03:00
    (Europe/Moscow)"; a fixed offset (``Etc/GMT-3``, what /timezone UTC+3 sets) as the offset
    reads, "(UTC+03:00)"; in UTC (also for None or an unknown zone) "2026-12-07 00:00 UTC"."""
    try:
        tz = ZoneInfo(timezone) if timezone else None
    except (ZoneInfoNotFoundError, ValueError):
        tz = None
    if tz is None or timezone in {"UTC", "Etc/UTC"}:
        return moment.astimezone(dt.UTC).strftime("%Y-%m-%d %H:%M UTC")
    local = moment.astimezone(tz)
    if timezone is not None and timezone.startswith("Etc/"):
        offset = local.strftime("%z")
        return f"{local:%Y-%m-%d %H:%M} (UTC{offset[:3]}:{offset[3:]})"
    return f"{local:%Y-%m-%d %H:%M} ({timezone})"


class NotAdmin(Refusal):
    key = "not-admin"


class VoiceOnlyAdmins(NotAdmin):
    key = "voice-only-admins"


class NotAllowed(Refusal):
    key = "not-allowed"


class InputError(BotError):
    """The input cannot be answered as it is."""


class EmptyAudio(InputError):
    key = "error-empty"


class CorruptAudio(InputError):
    key = "error-corrupt"


class NotAudio(InputError):
    key = "error-not-audio"


class SilentAudio(InputError):
    key = "error-silent"


class TooLong(InputError):
    """Input longer than the limit; ``limit`` is in seconds."""

    key = "error-too-long"

    def __init__(self, seconds: float, limit: float) -> None:
        super().__init__(f"{seconds:.1f} s is over the {limit:.0f} s limit")
        self.seconds = seconds
        self.limit = limit

    def arguments(self) -> dict[str, object]:
        return {"seconds": round(self.seconds), "limit": round(self.limit)}


class TooLarge(InputError):
    """Input bigger than the limit; ``limit`` is in bytes."""

    key = "error-too-large"

    def __init__(self, size: int, limit: int) -> None:
        super().__init__(f"{size} bytes is over the {limit} bytes limit")
        self.size = size
        self.limit = limit

    def arguments(self) -> dict[str, object]:
        return {"size": round(self.size / 1e6, 1), "limit": round(self.limit / 1e6, 1)}


class RealtimeError(BotError):
    """The realtime model did not complete the turn."""

    key = "error-model"


class RealtimeAuthError(RealtimeError):
    key = "error-model-auth"


class RealtimeQuotaError(RealtimeError):
    key = "error-model-quota"


class RealtimeConfigError(RealtimeError):
    """The provider refused what the deployment asks for: the model URI, the model, a voice or
    a role. Trying again cannot help; the owners are told (``setting`` names the variable)."""

    key = "error-model-config"

    def __init__(self, message: str, *, setting: str) -> None:
        super().__init__(message)
        self.setting = setting


class RealtimeConnectError(RealtimeError):
    key = "error-model-unavailable"
    transient = True


class RealtimeConnectionLost(RealtimeError):
    key = "error-model-unavailable"
    transient = True


class RealtimeTimeout(RealtimeError):
    key = "error-model-timeout"
    transient = True


class RealtimeServerError(RealtimeError):
    """An ``error`` event from the server, with its ``type`` and ``code``."""

    def __init__(self, message: str, *, type: str | None = None, code: str | None = None) -> None:
        super().__init__(f"{type or 'error'}/{code or '-'}: {message}")
        self.type = type
        self.code = code
        self.transient = type == "server_error" or code in {"rate_limit_exceeded", "server_error"}


class ContextRejected(RealtimeServerError):
    """The server refused an earlier turn given as context; the turn can go on without it."""


class RealtimeResponseFailed(RealtimeError):
    """``response.done`` ended with ``status`` other than completed."""

    def __init__(self, status: str, reason: str | None = None, detail: str | None = None) -> None:
        super().__init__(f"response {status}: {reason or '-'} {detail or ''}".rstrip())
        self.status = status
        self.reason = reason


class DeliveryError(BotError):
    """The chat's side of a turn failed: the input could not be fetched or the reply sent."""


class DownloadFailed(DeliveryError):
    key = "error-download"
    transient = True


class SendFailed(DeliveryError):
    def __init__(self, message: str, *, transient: bool = True) -> None:
        super().__init__(message)
        self.transient = transient


class SampleBusy(BotError):
    """A voice's sample is being made by another process and was not ready in time."""

    key = "voice-sample-busy"


class ChatUnreachable(DeliveryError):
    """The chat blocked or removed the bot: nothing can be sent there."""


class VoiceForbidden(DeliveryError):
    """Voice notes are refused in the chat (the user's privacy settings, or a group's
    permissions: ``key`` says which); the reply goes another way, with a hint."""

    key = "voice-forbidden"

    def __init__(self, message: str = "", *, key: str | None = None) -> None:
        super().__init__(message)
        if key is not None:
            self.key = key


class TurnStopped(BotError):
    """The user pressed stop before the model began its answer: nothing to deliver."""


class StorageError(BotError):
    key = "error-storage"
    transient = True


class ToolFailed(BotError):
    """A tool could not do what the model asked. Its message is told to the model (in English,
    for the model to put in the user's words), never shown as it is."""


class LimitReached(ToolFailed):
    """A per-chat limit of a tool: too many notes or reminders, a reminder too far ahead."""


class ReminderRateLimited(LimitReached):
    """Setting a reminder takes a place in the asker's rate limit, and none is left for
    ``retry_after`` seconds. Its message is for the model to pass on."""

    key = "reminder-rate-limited"

    def __init__(self, retry_after: int) -> None:
        super().__init__(
            f"the user has reached the rate limit (each reminder counts as a message): no "
            f"reminder can be set for {retry_after} s; say so, and that they can ask again then"
        )
        self.retry_after = retry_after

    def arguments(self) -> dict[str, object]:
        return {"seconds": self.retry_after}


class ReminderOverBudget(LimitReached):
    """A reminder's cost does not fit the budget of ``whose`` ("user", "chat" or "bot") for
    ``period`` ("day" or "month"), which resets at ``resets_at``. Its message is for the model
    to pass on."""

    def __init__(self, whose: str, period: str, resets_at: dt.datetime) -> None:
        owner = {"user": "the user's", "chat": "this chat's", "bot": "the bot's"}.get(whose, whose)
        this = "today's" if period == "day" else "this month's"
        super().__init__(
            f"{owner} spending limit for {this} answers is used up, so no reminder can be set "
            f"(it resets at {resets_at:%Y-%m-%d %H:%M} UTC); say so"
        )
        self.whose = whose
        self.period = period
        self.resets_at = resets_at
        self.key = f"reminder-budget-{whose}-{period}"

    def arguments(self) -> dict[str, object]:
        return {"resets": self.resets_at.strftime("%Y-%m-%d %H:%M UTC")}
