"""Provider profiles: everything the bot knows of each realtime provider, as plain data.

A profile says how to reach the provider (the WebSocket URL and the auth header), the settings'
defaults it implies (model, voice, transcription model), the audio rates, turn-detection modes,
output modalities and voices it accepts, its prices and quotas, how memory is given until a
probe says otherwise, and what its documentation says of each question the probe asks. Adding
a provider that speaks the Realtime protocol is one entry of ``PROFILES`` (and its tests).

The bottom of the package, beside ``bot.config`` (which takes the provider names and defaults
from here): nothing here imports the bot.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from string import Formatter
from typing import Literal, NamedTuple
from urllib.parse import quote

__all__ = [
    "OPENAI_VOICES",
    "PROFILES",
    "YANDEX_VOICES",
    "Auth",
    "Profile",
    "Voice",
]


class Voice(NamedTuple):
    """A voice as the provider states it: its language ("" where the provider does not say)
    and gender (F, M, or N)."""

    language: str
    gender: str


@dataclass(frozen=True)
class Auth:
    """One way to authenticate: the setting holding the secret and the header it goes in as
    ``"{scheme} {secret}"``."""

    setting: str  # a Settings field (a secret)
    scheme: str
    header: str = "Authorization"

    def headers(self, secret: str) -> dict[str, str]:
        return {self.header: f"{self.scheme} {secret}"}


@dataclass(frozen=True)
class Profile:
    """What one provider accepts. Rates are of ``audio/pcm`` (PCM16 mono)."""

    name: str
    # The WebSocket URL; ``{field}`` is that Settings field, percent-encoded unless named in
    # ``url_verbatim``. ``REALTIME_URL`` replaces it whole.
    url: str
    # Ways to authenticate, in order: the first whose setting is set is used.
    auth: tuple[Auth, ...]
    # Settings' defaults: REALTIME_MODEL, DEFAULT_VOICE, INPUT_TRANSCRIPTION_MODEL. A
    # transcription model is set where input is transcribed only when one is asked for (the
    # transcript may then arrive after response.done); "": the provider transcribes on its own.
    model: str
    voice: str
    output_rates: tuple[int, ...]
    default_output_rate: int
    turn_detections: tuple[str, ...]
    output_modalities: tuple[str, ...]
    voices: Mapping[str, Voice]
    url_verbatim: frozenset[str] = frozenset()
    transcription_model: str = ""
    price_input_per_minute: float = 0.0
    price_output_per_minute: float = 0.0
    # New sessions a second one process opens at most: under the provider's quota.
    sessions_per_second: float | None = None
    # Sessions open at once the provider documents as its quota (None: none documented).
    concurrent_sessions: int | None = None
    # The provider runs a ``web_search`` function itself (Yandex reserves the name).
    web_search: bool = False
    # Until a probe says otherwise (``python -m bot probe``): how memory is given (native
    # items, or quoted in one user item where assistant items may be refused), and how long to
    # wait for the input's transcripts before response.create (a provider that may answer a
    # create sent straight after the commit as if nothing had been said). Both come from what
    # live clients saw (stand_ins/README.md).
    history_form: Literal["items", "quoted"] = "items"
    transcript_wait: float = 0.0
    # The probe: the language its prompts are in, and what the provider's documentation says
    # of each question it asks (a ``ProviderTraits`` field: the documented answer; the sources
    # are in stand_ins/README.md).
    probe_language: str = "en"
    documented: Mapping[str, str] = field(default_factory=dict)

    @property
    def url_fields(self) -> tuple[str, ...]:
        """The Settings fields the URL template names, in order."""
        return tuple(name for _, name, _, _ in Formatter().parse(self.url) if name)

    def url_for(self, values: Mapping[str, str]) -> str:
        """The URL with ``values`` (of ``url_fields``) put in."""
        return self.url.format(
            **{
                name: value if name in self.url_verbatim else quote(value, safe="")
                for name, value in values.items()
            }
        )


# name -> (language, gender): the voices yandex-cloud/docs (en/speechkit/tts/voices.md) states work
# with the Realtime API.
YANDEX_VOICES: dict[str, Voice] = {
    name: Voice(*about) for name, about in {
        "alena": ("ru", "F"), "filipp": ("ru", "M"), "ermil": ("ru", "M"), "jane": ("ru", "F"),
        "omazh": ("ru", "F"), "zahar": ("ru", "M"), "dasha": ("ru", "F"), "julia": ("ru", "F"),
        "lera": ("ru", "F"), "masha": ("ru", "F"), "marina": ("ru", "F"),
        "alexander": ("ru", "M"), "kirill": ("ru", "M"), "anton": ("ru", "M"),
        "madi_ru": ("ru", "M"), "saule_ru": ("ru", "F"), "zamira_ru": ("ru", "F"),
        "zhanar_ru": ("ru", "F"), "yulduz_ru": ("ru", "F"),
        "amira": ("kk", "F"), "madi": ("kk", "M"), "saule": ("kk", "F"), "zhanar": ("kk", "F"),
        "nigora": ("uz", "F"), "zamira": ("uz", "F"), "yulduz": ("uz", "F"),
        "john": ("en", "M"), "lea": ("de", "F"), "naomi": ("he", "F"),
    }.items()
}  # fmt: skip
OPENAI_VOICES: dict[str, Voice] = {
    name: Voice("", gender) for name, gender in {
        "alloy": "N", "ash": "M", "ballad": "M", "coral": "F", "echo": "M", "sage": "F",
        "shimmer": "F", "verse": "M", "marin": "F", "cedar": "M",
    }.items()
}  # fmt: skip


PROFILES: dict[str, Profile] = {
    # Yandex AI Studio: its examples ask 44100 both ways (yandex-ai-studio-api-examples,
    # realtime/voice_agent.py) and the reference flow 24000 in; no other rate is documented,
    # so no other is asked for. Only server_vad is documented; null (the client commits) is
    # what the reference flow relies on too. Text and audio come together. Input is
    # transcribed without being asked.
    # Prices, VAT included: 0.026 ₽ per second of input audio, 0.02 ₽ per second of output
    # (yandex-cloud/docs, ru/_pricing/yandexgpt/rub-speech-realtime.md).
    "yandex": Profile(
        name="yandex",
        url=(
            "wss://ai.api.cloud.yandex.net/v1/realtime"
            "?model=gpt://{yandex_folder_id}/{realtime_model}"
        ),
        url_verbatim=frozenset({"realtime_model"}),
        # A service account's API key, or an IAM token.
        auth=(Auth("realtime_api_key", "Api-Key"), Auth("yandex_iam_token", "Bearer")),
        model="speech-realtime-250923",
        voice="marina",
        output_rates=(24000, 44100),
        default_output_rate=44100,
        turn_detections=("server_vad", "manual"),
        output_modalities=("text", "audio"),
        voices=YANDEX_VOICES,
        price_input_per_minute=0.026 * 60,
        price_output_per_minute=0.02 * 60,
        # Yandex's quota: 10 new sessions a second per cloud (yandex-cloud/docs,
        # _includes/yandexgpt-limits.md); one process keeps under it. And 10 sessions at once
        # (past them the handshake gets 429: the probe's quota question).
        sessions_per_second=8.0,
        concurrent_sessions=10,
        # A function named web_search (parameters "{}") is run on Yandex's side
        # (realtime/voice_agent.py; billed as a Search API generative response).
        web_search=True,
        # A public Yandex Cloud Function voice bridge records "MessageContentItemOutputText …
        # not supported yet" for assistant items (stand_ins/README.md, "yandex-field").
        history_form="quoted",
        # One live client saw a response.create sent right after the commit answered as if
        # nothing had been said, until it waited for the item's transcript; Yandex sends
        # transcripts unasked, so waiting for them costs at most this long.
        transcript_wait=1.5,
        probe_language="ru",
        documented={
            "assistant_items": "accepted (item.create is supported)",
            "rates_echoed": "the rate as asked; one session.updated",
            "pings_answered": "pong (RFC 6455)",
            "create_response_honoured": "undocumented; tutorial sends false",
            "manual_turns_honoured": "undocumented (server_vad only)",
            "create_after_commit": "answers the input (example waits for committed)",
            "cancel_honoured": "response.done cancelled",
            "text_events": "output_text.delta (examples); transcript deltas unsupported",
            "web_search_events": "run by the server: a plain answer",
            "quota_refusal": "HTTP 429 past 10 concurrent sessions",
        },
    ),
    # OpenAI GA: audio/pcm at 24000 only (openai/types/realtime/realtime_audio_formats.py,
    # AudioPCM.rate: Literal[24000]); turn detection server_vad, semantic_vad or null
    # (realtime_audio_input_turn_detection.py); input transcribed only when
    # audio.input.transcription is set, asynchronously; audio with its transcript. Prices are
    # per token: set PRICE_* from your price list to see a cost.
    "openai": Profile(
        name="openai",
        url="wss://api.openai.com/v1/realtime?model={realtime_model}",
        auth=(Auth("realtime_api_key", "Bearer"),),
        model="gpt-realtime",
        voice="marin",
        transcription_model="gpt-4o-mini-transcribe",
        output_rates=(24000,),
        default_output_rate=24000,
        turn_detections=("server_vad", "semantic_vad", "manual"),
        output_modalities=("audio",),
        voices=OPENAI_VOICES,
        documented={
            "assistant_items": "accepted",
            "rates_echoed": "24000 echoed; one session.updated",
            "pings_answered": "pong (RFC 6455)",
            "create_response_honoured": "no response (create_response false)",
            "manual_turns_honoured": "no commit (turn_detection null)",
            "create_after_commit": "answers the input",
            "cancel_honoured": "response.done cancelled",
            "text_events": "output_audio_transcript.delta (audio part)",
            "web_search_events": "not offered",
            "quota_refusal": "no quota documented",
        },
    ),
}
