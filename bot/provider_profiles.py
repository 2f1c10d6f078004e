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
    "SPEEDS",
    "YANDEX_VOICES",
    "Auth",
    "ModelPrices",
    "Profile",
    "SessionField",
    "Voice",
    "tag_language",
]

# The speeds a chat may choose, for every provider: sent where the provider takes a speed,
# else made by the bot (the reply's tempo changed, its pitch kept).
SPEEDS = (0.8, 1.0, 1.25, 1.5)


class Voice(NamedTuple):
    """A voice as the provider states it: its language (ISO 639-1; "" where the provider does
    not say: a voice that speaks any), gender (F, M, or N) and the roles (manners) it takes,
    its default first (empty: none can be asked)."""

    language: str
    gender: str
    roles: tuple[str, ...] = ()


@dataclass(frozen=True)
class ModelPrices:
    """What a model's use costs, in ``currency``: audio by the minute (Yandex bills audio
    seconds) and tokens by the thousand (text both ways; audio tokens where the provider bills
    audio by the token). ``*_per_minute`` also serve budgets, which hold a turn's worst case in
    seconds before its tokens are known: a provider that bills audio by the token gives its
    rate per minute of audio here too (its tokens per minute times the token price), and no
    audio token price, so nothing is counted twice."""

    input_per_minute: float = 0.0
    output_per_minute: float = 0.0
    text_input_per_1k: float = 0.0
    text_output_per_1k: float = 0.0
    currency: str = "RUB"


def tag_language(tag: str) -> str:
    """A language tag's language alone, ISO 639-1 (``kk-KZ`` → ``kk``)."""
    return tag.split("-")[0].lower()


@dataclass(frozen=True)
class SessionField:
    """Where a chat's voice option goes in ``session.update``'s ``session`` (a dotted path) and
    in which form: as it is; ``list``: a list of it (``["ru-RU"]``); ``iso639``: a language
    tag's language alone (``ru-RU`` → ``ru``)."""

    path: str
    form: Literal["value", "list", "iso639"] = "value"

    def value(self, value: object) -> object:
        if self.form == "list":
            return [value]
        if self.form == "iso639":
            return tag_language(str(value))
        return value


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
    # The models REALTIME_MODEL may name (the default ``model`` among them) and their prices;
    # a model not listed is still taken (a new one), priced as the default model.
    models: Mapping[str, ModelPrices] = field(default_factory=dict)
    # Where each voice option a chat chose goes in the session (``bot.chat_options``: role,
    # speed, language); an option without a field here is never sent: a speed the bot makes
    # itself (``local_speed``), a role the provider does not take.
    session_fields: Mapping[str, SessionField] = field(default_factory=dict)
    # The input languages a chat may fix (BCP 47 tags, as ``/language`` offers them).
    input_languages: tuple[str, ...] = ()
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
    def local_speed(self) -> bool:
        """The provider takes no speed: the bot changes the reply's tempo itself."""
        return "speed" not in self.session_fields

    @property
    def voice_languages(self) -> dict[str, str]:
        """Each voice's language ("" for a voice of any language)."""
        return {name: about.language for name, about in self.voices.items()}

    def prices(self, model: str) -> ModelPrices:
        """``model``'s prices; the default model's for a model the profile does not list."""
        return self.models.get(model) or self.models.get(self.model) or ModelPrices()

    def roles(self, voice: str) -> tuple[str, ...]:
        """The roles ``voice`` takes, its default first; none for a voice the provider does not
        name or where roles are not sent at all."""
        if "role" not in self.session_fields:
            return ()
        about = self.voices.get(voice)
        return about.roles if about is not None else ()

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


# name -> (language, gender, roles): the voices yandex-cloud/docs (en/speechkit/tts/voices.md)
# states work with the Realtime API, each with its roles, the default first ("—": none).
YANDEX_VOICES: dict[str, Voice] = {
    name: Voice(*about) for name, about in {
        "alena": ("ru", "F", ("neutral", "good")),
        "filipp": ("ru", "M", ()),
        "ermil": ("ru", "M", ("neutral", "good")),
        "jane": ("ru", "F", ("neutral", "good", "evil")),
        "omazh": ("ru", "F", ("neutral", "evil")),
        "zahar": ("ru", "M", ("neutral", "good")),
        "dasha": ("ru", "F", ("neutral", "good", "friendly")),
        "julia": ("ru", "F", ("neutral", "strict")),
        "lera": ("ru", "F", ("neutral", "friendly")),
        "masha": ("ru", "F", ("good", "strict", "friendly")),
        "marina": ("ru", "F", ("neutral", "whisper", "friendly")),
        "alexander": ("ru", "M", ("neutral", "good")),
        "kirill": ("ru", "M", ("neutral", "strict", "good")),
        "anton": ("ru", "M", ("neutral", "good")),
        "madi_ru": ("ru", "M", ()),
        "saule_ru": ("ru", "F", ("neutral", "strict", "whisper")),
        "zamira_ru": ("ru", "F", ("neutral", "strict", "friendly")),
        "zhanar_ru": ("ru", "F", ("neutral", "strict", "friendly")),
        "yulduz_ru": ("ru", "F", ("neutral", "strict", "friendly", "whisper")),
        "amira": ("kk", "F", ()),
        "madi": ("kk", "M", ()),
        "saule": ("kk", "F", ("neutral", "strict")),
        "zhanar": ("kk", "F", ("neutral", "friendly")),
        "nigora": ("uz", "F", ()),
        "zamira": ("uz", "F", ("neutral", "strict", "friendly")),
        "yulduz": ("uz", "F", ("neutral", "strict", "friendly", "whisper")),
        "john": ("en", "M", ()),
        "lea": ("de", "F", ()),
        "naomi": ("he", "F", ("modern", "classic")),
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
        # Prices, VAT included, per model. 250923: audio as above, text 4 × the text-generation
        # SKU (0.8 ₽ per 1000 tokens both ways). 260528 (Yandex's release notes and model list;
        # the API reference still names only 250923): audio 0.0264 / 0.0203 ₽ a second, text
        # 0.1 ₽ in / 0.2 ₽ out per 1000 tokens (third-party price checks, realtime-notes).
        models={
            "speech-realtime-250923": ModelPrices(0.026 * 60, 0.02 * 60, 0.8, 0.8, "RUB"),
            "speech-realtime-260528": ModelPrices(0.0264 * 60, 0.0203 * 60, 0.1, 0.2, "RUB"),
        },
        # A voice's manner next to the voice (realtime/openai_custom_session_update_example.py);
        # the input language as a list of tags (realtime/voice-agent-kz.py, ["kk-KZ"]). No
        # speed is documented for the realtime model: the bot changes the tempo itself.
        session_fields={
            "role": SessionField("audio.output.role"),
            "language": SessionField("audio.input.languages", "list"),
        },
        # The languages of Yandex's voices (en/speechkit/tts/voices.md).
        input_languages=("ru-RU", "kk-KZ", "uz-UZ", "en-US", "de-DE", "he-IL"),
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
        models={
            name: ModelPrices(
                600 * audio_in / 1e6, 1200 * audio_out / 1e6, text_in / 1e3, text_out / 1e3, "USD"
            )
            for name, (audio_in, audio_out, text_in, text_out) in {
                "gpt-realtime": (32, 64, 4, 16),
                "gpt-realtime-2025-08-28": (32, 64, 4, 16),
                "gpt-realtime-mini": (10, 20, 0.6, 2.4),
                "gpt-realtime-mini-2025-10-06": (10, 20, 0.6, 2.4),
            }.items()
        },
        # openai/types/realtime: audio.output.speed (0.25–1.5, between responses), the input
        # language as ISO-639-1 in audio.input.transcription.language. No roles: manner is
        # steered by the instructions.
        session_fields={
            "speed": SessionField("audio.output.speed"),
            "language": SessionField("audio.input.transcription.language", "iso639"),
        },
        input_languages=(
            "ru-RU",
            "kk-KZ",
            "uz-UZ",
            "en-US",
            "de-DE",
            "he-IL",
            "uk-UA",
            "fr-FR",
            "es-ES",
            "it-IT",
            "pt-BR",
            "tr-TR",
            "pl-PL",
        ),
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
