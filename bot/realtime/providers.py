"""Provider presets: the WebSocket URL and the auth header for each realtime provider."""

from __future__ import annotations

from dataclasses import dataclass, field
from urllib.parse import quote

from bot.config import Settings

__all__ = ["OPENAI_VOICES", "YANDEX_VOICES", "Endpoint", "endpoint_from_settings", "voices_for"]

YANDEX_URL = "wss://ai.api.cloud.yandex.net/v1/realtime?model=gpt://{folder}/{model}"
OPENAI_URL = "wss://api.openai.com/v1/realtime?model={model}"

# name -> (language, gender); realtime-notes.md lists the voices stated to work with the API.
YANDEX_VOICES: dict[str, tuple[str, str]] = {
    "alena": ("ru", "F"), "filipp": ("ru", "M"), "ermil": ("ru", "M"), "jane": ("ru", "F"),
    "omazh": ("ru", "F"), "zahar": ("ru", "M"), "dasha": ("ru", "F"), "julia": ("ru", "F"),
    "lera": ("ru", "F"), "masha": ("ru", "F"), "marina": ("ru", "F"), "alexander": ("ru", "M"),
    "kirill": ("ru", "M"), "anton": ("ru", "M"), "madi_ru": ("ru", "M"), "saule_ru": ("ru", "F"),
    "zamira_ru": ("ru", "F"), "zhanar_ru": ("ru", "F"), "yulduz_ru": ("ru", "F"),
    "amira": ("kk", "F"), "madi": ("kk", "M"), "saule": ("kk", "F"), "zhanar": ("kk", "F"),
    "nigora": ("uz", "F"), "zamira": ("uz", "F"), "yulduz": ("uz", "F"),
    "john": ("en", "M"), "lea": ("de", "F"), "naomi": ("he", "F"),
}  # fmt: skip
OPENAI_VOICES: dict[str, tuple[str, str]] = {
    "alloy": ("", "N"), "ash": ("", "M"), "ballad": ("", "M"), "coral": ("", "F"),
    "echo": ("", "M"), "sage": ("", "F"), "shimmer": ("", "F"), "verse": ("", "M"),
    "marin": ("", "F"), "cedar": ("", "M"),
}  # fmt: skip


@dataclass(frozen=True)
class Endpoint:
    """Where and how to connect. ``headers`` carry the secret: never log them."""

    url: str
    headers: dict[str, str] = field(repr=False)
    provider: str = "yandex"

    def __repr__(self) -> str:  # the URL holds no secret; the headers do
        return f"Endpoint(url={self.url!r}, provider={self.provider!r})"


def endpoint_from_settings(settings: Settings) -> Endpoint:
    """Build the endpoint for the configured provider; ``REALTIME_URL`` overrides the template."""
    settings.require_realtime()
    if settings.realtime_provider == "yandex":
        url = settings.realtime_url or YANDEX_URL.format(
            folder=quote(settings.yandex_folder_id, safe=""), model=settings.realtime_model
        )
        if settings.realtime_api_key is not None:
            auth = f"Api-Key {settings.realtime_api_key.get_secret_value()}"
        else:
            assert settings.yandex_iam_token is not None  # require_realtime checked it
            auth = f"Bearer {settings.yandex_iam_token.get_secret_value()}"
        return Endpoint(url=url, headers={"Authorization": auth}, provider="yandex")
    assert settings.realtime_api_key is not None
    url = settings.realtime_url or OPENAI_URL.format(model=quote(settings.realtime_model, safe=""))
    auth = f"Bearer {settings.realtime_api_key.get_secret_value()}"
    return Endpoint(url=url, headers={"Authorization": auth}, provider="openai")


def voices_for(provider: str) -> dict[str, tuple[str, str]]:
    """The voices a provider offers, by name."""
    return YANDEX_VOICES if provider == "yandex" else OPENAI_VOICES
