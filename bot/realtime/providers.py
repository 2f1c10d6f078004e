"""Provider profiles: what each realtime provider accepts and how to reach it.

A profile decides the WebSocket URL and auth header, the audio rates it accepts, its voices,
its turn-detection modes, whether input transcription must be asked for, and its prices. The
facts and their sources are in the ``PROFILES`` table below.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from urllib.parse import quote

from bot.config import Settings
from bot.domain import ProviderTraits
from bot.errors import ConfigError

__all__ = [
    "OPENAI_VOICES",
    "PROFILES",
    "YANDEX_VOICES",
    "Endpoint",
    "LivePath",
    "Profile",
    "endpoint_from_settings",
    "live_path",
    "profile_for",
    "voices_for",
]

YANDEX_URL = "wss://ai.api.cloud.yandex.net/v1/realtime?model=gpt://{folder}/{model}"
OPENAI_URL = "wss://api.openai.com/v1/realtime?model={model}"

# name -> (language, gender): the voices yandex-cloud/docs (en/speechkit/tts/voices.md) states work
# with the Realtime API.
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
class Profile:
    """What one provider accepts. Rates are of ``audio/pcm`` (PCM16 mono)."""

    name: str
    output_rates: tuple[int, ...]
    default_output_rate: int
    turn_detections: tuple[str, ...]
    voices: dict[str, tuple[str, str]]
    # True: input is transcribed only when a transcription model is asked for, and the
    # transcript may arrive after response.done. False: the provider transcribes on its own.
    transcription_asked: bool
    output_modalities: tuple[str, ...]
    price_input_per_minute: float = 0.0
    price_output_per_minute: float = 0.0
    currency: str = "RUB"
    # New sessions a second one process opens at most: under the provider's quota.
    sessions_per_second: float | None = None
    # The provider runs a ``web_search`` function itself (Yandex reserves the name).
    web_search: bool = False
    # Until a probe says otherwise (``python -m bot probe``): whether history items of the
    # assistant role may be refused, and how long to wait for the input's transcripts before
    # response.create (a provider that may answer a create sent straight after the commit as
    # if nothing had been said). Both come from what live clients saw (stand_ins/README.md).
    assistant_items_doubtful: bool = False
    transcript_wait: float = 0.0


PROFILES: dict[str, Profile] = {
    # Yandex AI Studio: its examples ask 44100 both ways (yandex-ai-studio-api-examples,
    # realtime/voice_agent.py) and the reference flow 24000 in; no other rate is documented,
    # so no other is asked for. Only server_vad is documented; null (the client commits) is
    # what the reference flow relies on too. Text and audio come together.
    # Prices, VAT included: 0.026 ₽ per second of input audio, 0.02 ₽ per second of output
    # (yandex-cloud/docs, ru/_pricing/yandexgpt/rub-speech-realtime.md).
    "yandex": Profile(
        name="yandex",
        output_rates=(24000, 44100),
        default_output_rate=44100,
        turn_detections=("server_vad", "manual"),
        voices=YANDEX_VOICES,
        transcription_asked=False,
        output_modalities=("text", "audio"),
        price_input_per_minute=0.026 * 60,
        price_output_per_minute=0.02 * 60,
        # Yandex's quota: 10 new sessions a second per cloud (yandex-cloud/docs,
        # _includes/yandexgpt-limits.md); one process keeps under it.
        sessions_per_second=8.0,
        # A function named web_search (parameters "{}") is run on Yandex's side
        # (realtime/voice_agent.py; billed as a Search API generative response).
        web_search=True,
        # A public Yandex Cloud Function voice bridge records "MessageContentItemOutputText …
        # not supported yet" for assistant items (stand_ins/README.md, "yandex-field").
        assistant_items_doubtful=True,
        # One live client saw a response.create sent right after the commit answered as if
        # nothing had been said, until it waited for the item's transcript; Yandex sends
        # transcripts unasked, so waiting for them costs at most this long.
        transcript_wait=1.5,
    ),
    # OpenAI GA: audio/pcm at 24000 only (openai/types/realtime/realtime_audio_formats.py,
    # AudioPCM.rate: Literal[24000]); turn detection server_vad, semantic_vad or null
    # (realtime_audio_input_turn_detection.py); input transcribed only when
    # audio.input.transcription is set, asynchronously; audio with its transcript. Prices are
    # per token: set PRICE_* from your price list to see a cost.
    "openai": Profile(
        name="openai",
        output_rates=(24000,),
        default_output_rate=24000,
        turn_detections=("server_vad", "semantic_vad", "manual"),
        voices=OPENAI_VOICES,
        transcription_asked=True,
        output_modalities=("audio",),
    ),
}


@dataclass(frozen=True)
class LivePath:
    """How turns are asked of a provider, given what a probe found of its live service."""

    history_form: str  # "items" or "quoted"
    await_transcript: float  # seconds; 0: response.create right after the commit


def live_path(profile: Profile, traits: ProviderTraits | None) -> LivePath:
    """The path that works against what the probe found, or, where nothing was found, the one
    that works whichever way the service behaves."""
    found = traits or ProviderTraits()
    if found.assistant_items is None:
        history_form = "quoted" if profile.assistant_items_doubtful else "items"
    else:
        history_form = "items" if found.assistant_items else "quoted"
    if found.create_after_commit is None:
        wait = profile.transcript_wait
    else:
        wait = 0.0 if found.create_after_commit else max(profile.transcript_wait, 3.0)
    return LivePath(history_form=history_form, await_transcript=wait)


def profile_for(settings: Settings) -> Profile:
    """The configured provider's profile; raises ConfigError naming the variable when a setting
    asks for something the provider does not accept."""
    profile = PROFILES[settings.realtime_provider]
    rate = settings.output_sample_rate
    if rate is not None and rate not in profile.output_rates:
        accepted = ", ".join(map(str, profile.output_rates))
        raise ConfigError(
            f"OUTPUT_SAMPLE_RATE: {profile.name} accepts {accepted} (got {rate}); "
            "leave it empty for the provider's default"
        )
    if settings.turn_detection not in profile.turn_detections:
        raise ConfigError(
            f"TURN_DETECTION: {profile.name} accepts {', '.join(profile.turn_detections)}"
        )
    return profile


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
    return PROFILES[provider].voices
