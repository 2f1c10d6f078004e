"""Every error the bot raises on purpose, one subtree per layer.

::

    BotError                      user_message: catalogue key of what the user is told
    ├── ConfigError               a setting is missing or malformed (start-up only)
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
    │   ├── RealtimeConnectError  could not connect, or the handshake got a 5xx; transient
    │   ├── RealtimeConnectionLost  the connection dropped mid-turn; transient
    │   ├── RealtimeTimeout       the server went silent; transient
    │   ├── RealtimeServerError   an ``error`` event; transient when the server says so
    │   │   └── ContextRejected   the server refused the conversation items given as memory
    │   └── RealtimeResponseFailed  response.done with status failed, cancelled or incomplete
    └── StorageError              Redis is unreachable; transient

``transient`` says whether trying the same turn again may succeed.
"""

from __future__ import annotations

__all__ = [
    "BotError",
    "ConfigError",
    "ContextRejected",
    "CorruptAudio",
    "EmptyAudio",
    "InputError",
    "NotAudio",
    "RealtimeAuthError",
    "RealtimeConnectError",
    "RealtimeConnectionLost",
    "RealtimeError",
    "RealtimeQuotaError",
    "RealtimeResponseFailed",
    "RealtimeServerError",
    "RealtimeTimeout",
    "SilentAudio",
    "StorageError",
    "TooLarge",
    "TooLong",
]


class BotError(Exception):
    """Root of the bot's own errors."""

    user_message = "error-internal"
    transient = False


class ConfigError(BotError):
    """A setting is missing or malformed; the message names the variable."""


class InputError(BotError):
    """The input cannot be answered as it is."""


class EmptyAudio(InputError):
    user_message = "error-empty"


class CorruptAudio(InputError):
    user_message = "error-corrupt"


class NotAudio(InputError):
    user_message = "error-not-audio"


class SilentAudio(InputError):
    user_message = "error-silent"


class TooLong(InputError):
    """Input longer than the limit; ``limit`` is in seconds."""

    user_message = "error-too-long"

    def __init__(self, seconds: float, limit: float) -> None:
        super().__init__(f"{seconds:.1f} s is over the {limit:.0f} s limit")
        self.seconds = seconds
        self.limit = limit


class TooLarge(InputError):
    """Input bigger than the limit; ``limit`` is in bytes."""

    user_message = "error-too-large"

    def __init__(self, size: int, limit: int) -> None:
        super().__init__(f"{size} bytes is over the {limit} bytes limit")
        self.size = size
        self.limit = limit


class RealtimeError(BotError):
    """The realtime model did not complete the turn."""

    user_message = "error-model"


class RealtimeAuthError(RealtimeError):
    user_message = "error-model-auth"


class RealtimeQuotaError(RealtimeError):
    user_message = "error-model-quota"


class RealtimeConnectError(RealtimeError):
    user_message = "error-model-unavailable"
    transient = True


class RealtimeConnectionLost(RealtimeError):
    user_message = "error-model-unavailable"
    transient = True


class RealtimeTimeout(RealtimeError):
    user_message = "error-model-timeout"
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


class StorageError(BotError):
    user_message = "error-storage"
    transient = True
