"""The domain's values, shared by every layer: what a turn is, takes and gives.

The bottom of the package (only ``bot.errors`` is below it): nothing here does I/O, and every
other layer imports these, never the reverse. The core (``bot.core``) speaks to its ports in
these values only: a chat's settings and notes, what a turn used and what it may spend, how a
turn ended.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import enum
import time
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import asdict, dataclass, field
from typing import Any, Literal, Protocol

import orjson

from bot.errors import OverBudget, TooLarge, TooLong

__all__ = [
    "DAY_TTL",
    "MONTH_TTL",
    "AdmitResult",
    "Admitted",
    "Budget",
    "BudgetCheck",
    "Budgets",
    "ChatSettings",
    "Defaults",
    "HistoryItem",
    "LastAnswer",
    "Limits",
    "Marks",
    "Mode",
    "Note",
    "Outcome",
    "Prices",
    "ProviderTraits",
    "ReminderCharge",
    "Reply",
    "SetupLoader",
    "ToolBox",
    "ToolCall",
    "Totals",
    "TurnContext",
    "TurnInput",
    "TurnJob",
    "TurnResult",
    "TurnSetup",
    "TurnToolBox",
    "TurnUsage",
    "Usage",
    "budget_checks",
    "day_of",
    "month_of",
    "tool_error",
    "tool_refused",
    "tool_result",
]

# How long the usage of a day and of a month is kept (a budget's record lives as long).
DAY_TTL = 40 * 86_400
MONTH_TTL = 400 * 86_400


class Outcome(enum.StrEnum):
    """How a turn ended, or why it never began: the ``outcome`` of ``voicebot_turns_total``,
    and what ``Answering.answer`` returns."""

    ANSWERED = "answered"
    STOPPED = "stopped"  # the user stopped it
    SKIPPED = "skipped"  # the chat blocked or removed the bot
    FAILED = "failed"  # the user was told why
    REFUSED = "refused"  # the input cannot be answered (not audio, too long, silent…)
    ABANDONED = "abandoned"  # it kept failing: its worker died every time
    DUPLICATE = "duplicate"  # admission: a redelivered update
    BUSY = "busy"  # admission: the chat's backlog is full
    RATE_LIMITED = "rate_limited"  # admission: the payer sent too many turns
    OVER_BUDGET = "over_budget"  # admission: a budget is used up


class Admitted(enum.Enum):
    """What the turn queue's admission step did with a turn (the admit script's word)."""

    QUEUED = "queued"
    DUPLICATE = "duplicate"  # the same message is queued or was answered (a redelivered update)
    BUSY = "busy"  # the chat's backlog is full
    RATE_LIMITED = "rate_limited"  # the user sent too many turns in the window
    OVER_BUDGET = "over"  # a budget is used up: which one is ``AdmitResult.budget``

    @property
    def outcome(self) -> Outcome | None:
        """The turn's outcome when it was not queued; None when it was (it has not ended)."""
        return _NOT_QUEUED.get(self)


_NOT_QUEUED = {
    Admitted.DUPLICATE: Outcome.DUPLICATE,
    Admitted.BUSY: Outcome.BUSY,
    Admitted.RATE_LIMITED: Outcome.RATE_LIMITED,
    Admitted.OVER_BUDGET: Outcome.OVER_BUDGET,
}


@dataclass(frozen=True)
class AdmitResult:
    outcome: Admitted
    budget: int = -1  # index of the used-up budget among those checked


@dataclass(frozen=True)
class HistoryItem:
    """An earlier message of the conversation, given to the model as context."""

    role: Literal["user", "assistant"]
    text: str


@dataclass
class Usage:
    """Token usage of one response, as ``response.done`` reports it."""

    input_tokens: int = 0
    output_tokens: int = 0
    input_audio_tokens: int = 0
    input_text_tokens: int = 0
    output_audio_tokens: int = 0
    output_text_tokens: int = 0

    @classmethod
    def from_event(cls, usage: dict[str, Any] | None) -> Usage:
        if not usage:
            return cls()
        inp = usage.get("input_token_details") or {}
        out = usage.get("output_token_details") or {}
        return cls(
            input_tokens=int(usage.get("input_tokens") or 0),
            output_tokens=int(usage.get("output_tokens") or 0),
            input_audio_tokens=int(inp.get("audio_tokens") or 0),
            input_text_tokens=int(inp.get("text_tokens") or 0),
            output_audio_tokens=int(out.get("audio_tokens") or 0),
            output_text_tokens=int(out.get("text_tokens") or 0),
        )

    def __add__(self, other: Usage) -> Usage:
        """The usage of two responses of one turn together."""
        return Usage(
            input_tokens=self.input_tokens + other.input_tokens,
            output_tokens=self.output_tokens + other.output_tokens,
            input_audio_tokens=self.input_audio_tokens + other.input_audio_tokens,
            input_text_tokens=self.input_text_tokens + other.input_text_tokens,
            output_audio_tokens=self.output_audio_tokens + other.output_audio_tokens,
            output_text_tokens=self.output_text_tokens + other.output_text_tokens,
        )


@dataclass(frozen=True)
class ToolCall:
    """A function the model asked the client to call: ``arguments`` is the JSON it wrote."""

    call_id: str
    name: str
    arguments: str = "{}"


def tool_result(data: Any) -> str:
    """A tool's output for the model: ``data`` as JSON."""
    return orjson.dumps(data).decode()


def tool_error(message: str) -> str:
    """A tool's refusal or failure for the model, which tells the user: ``{"error": message}``."""
    return tool_result({"error": message})


def tool_refused(output: str) -> bool:
    """Whether ``output`` (of ``tool_result`` or ``tool_error``) is a refusal or failure."""
    try:
        data = orjson.loads(output)
    except orjson.JSONDecodeError:
        return False
    return isinstance(data, dict) and "error" in data


class ToolBox(Protocol):
    """The tools one turn may use. ``declarations`` go into ``session.tools`` as they are;
    calls of the names in ``server_side`` are run by the provider itself (Yandex's
    ``web_search``) and never answered by the client; ``run`` answers any other call with the
    output the model reads (a failure is an output too: the model tells the user). ``run`` must
    not raise; the pipeline bounds its time."""

    @property
    def declarations(self) -> tuple[dict[str, Any], ...]: ...

    @property
    def server_side(self) -> frozenset[str]: ...

    async def run(self, call: ToolCall) -> str: ...


@dataclass(frozen=True)
class TurnJob:
    """One turn to answer. ``message_id`` is the message the answer replies to; turns of one
    chat are answered in ``message_id`` order."""

    chat_id: int
    message_id: int
    user_id: int | None = None
    chat_type: str = "private"
    lang: str = "en"
    thread_id: int | None = None
    text: str | None = None
    file_id: str | None = None
    media_kind: str | None = None
    seconds: float | None = None
    size: int | None = None
    listenable: bool = True  # False: a document that is surely not audio (a PDF, an image…)
    enqueued_at: float = field(default_factory=time.time)
    kind: Literal["message", "reminder"] = "message"
    reminder_id: str | None = None  # kind "reminder": which one; ``text`` is what to remind
    # Whose limits and budgets the turn counts against: the chat a message was sent on behalf
    # of (an anonymous admin's group, a channel), else the user (None: ``user_id``).
    payer_id: int | None = None
    # The asker was an admin of the chat when the turn was admitted (the tools' rights follow).
    asker_is_admin: bool = False

    @property
    def payer(self) -> int | None:
        """The id rate limits and budgets key on."""
        return self.payer_id if self.payer_id is not None else self.user_id

    @property
    def label(self) -> str:
        if self.kind == "reminder":
            return f"chat={self.chat_id} reminder={self.reminder_id}"
        return f"chat={self.chat_id} msg={self.message_id}"

    @property
    def gate_member(self) -> str:
        """The turn's member in its chat's order gate: its message id, or for a reminder its
        own id (the message that asked for it was answered long ago)."""
        if self.kind == "reminder":
            return f"r{self.reminder_id}"
        return str(self.message_id)

    @property
    def gate_score(self) -> float:
        """Its place in the chat's order: a reminder right after the message that asked."""
        return self.message_id + 0.5 if self.kind == "reminder" else float(self.message_id)

    def dumps(self) -> bytes:
        return orjson.dumps(asdict(self))

    @classmethod
    def loads(cls, raw: bytes | str) -> TurnJob:
        """The job ``dumps`` wrote; keys it does not know (``attempt``, which jobs queued by
        earlier versions carry) are left out."""
        data: dict[str, Any] = orjson.loads(raw)
        known = {k: v for k, v in data.items() if k in cls.__dataclass_fields__}
        return cls(**known)


@dataclass(frozen=True)
class Limits:
    """Input limits, checked on the metadata before download and again on the decoded audio."""

    max_seconds: float = 120.0
    max_bytes: int = 20_000_000
    silence_dbfs: float = -50.0

    def check_declared(self, seconds: float | None, size: int | None) -> None:
        """Raise TooLong or TooLarge from what the message says of itself."""
        if size is not None and size > self.max_bytes:
            raise TooLarge(size, self.max_bytes)
        if seconds is not None and seconds > self.max_seconds:
            raise TooLong(seconds, self.max_seconds)


@dataclass(frozen=True)
class ProviderTraits:
    """How a provider's live service behaves where its documentation leaves it open, as
    ``python -m bot probe`` measured it. None: not measured (the bot then takes the path that
    works either way). Stored per provider and model (``bot.storage.findings``) and read at
    start."""

    provider: str = ""
    model: str = ""
    probed_at: float = 0.0  # Unix time of the probe
    # conversation.item.create of an assistant message (output_text) accepted as history
    assistant_items: bool | None = None
    # session.updated echoes the asked audio rates (False: null or absent)
    rates_echoed: bool | None = None
    # the server answers WebSocket pings
    pings_answered: bool | None = None
    # server VAD with create_response false starts no response by itself at a pause
    create_response_honoured: bool | None = None
    # turn_detection null: the server commits nothing by itself
    manual_turns_honoured: bool | None = None
    # a response.create sent right after input_audio_buffer.committed answers the input
    # (False: only once the item's transcript has come)
    create_after_commit: bool | None = None
    # response.cancel during generation ends the response (status cancelled)
    cancel_honoured: bool | None = None
    # the server event types a response's text came in
    text_events: tuple[str, ...] = ()
    # the server event types a turn with web_search declared brought beyond a plain answer
    web_search_events: tuple[str, ...] = ()
    # how a session past the concurrent quota was refused: "http_429", "error_event",
    # "accepted" (no quota seen) or "" (not measured)
    quota_refusal: str = ""

    def dumps(self) -> bytes:
        return orjson.dumps(asdict(self))

    @classmethod
    def loads(cls, raw: bytes | str) -> ProviderTraits:
        data: dict[str, Any] = orjson.loads(raw)
        known = {k: v for k, v in data.items() if k in cls.__dataclass_fields__}
        for name in ("text_events", "web_search_events"):
            if isinstance(known.get(name), list):
                known[name] = tuple(known[name])
        return cls(**known)


@dataclass(frozen=True)
class TurnSetup:
    """How one chat's turn is asked of the model: its voice, instructions and memory, and the
    chat's other voice options (``voice_options``: each value by the dotted path it takes in
    the session, ``audio.output.speed``, as the options' declarations in ``bot.chat_options``
    say; the session places them without knowing them)."""

    voice: str
    instructions: str
    history: tuple[HistoryItem, ...] = ()
    tools: ToolBox | None = None
    # What people of the chat wrote for the model to know (its notes): one quoted user item
    # before the memory, never in the instructions.
    context: str = ""
    voice_options: Mapping[str, object] = field(default_factory=dict, hash=False)
    # The model is asked for text only (output_modalities ["text"]): no voice note is made.
    text_only: bool = False

    async def __call__(self) -> TurnSetup:
        """A setup known before the turn is its own ``SetupLoader``: the pipeline takes one
        form, and a loader that reads the chat's state is called the same way."""
        return self


@dataclass
class Marks:
    """Monotonic time stamps of a turn's stages, in seconds from its start."""

    start: float = field(default_factory=time.perf_counter)
    at: dict[str, float] = field(default_factory=dict)

    def __call__(self, name: str) -> None:
        self.at.setdefault(name, time.perf_counter() - self.start)

    def span_from_start(self, last: str) -> float | None:
        return self.at.get(last)

    def span(self, first: str, last: str) -> float | None:
        if first in self.at and last in self.at:
            return self.at[last] - self.at[first]
        return None


@dataclass
class TurnResult:
    """The reply: OGG/Opus voice note and text, with what the turn cost."""

    text: str
    voice: bytes
    voice_seconds: float
    input_seconds: float
    input_transcript: str = ""
    status: str = "completed"
    usage: Usage = field(default_factory=Usage)
    marks: Marks = field(default_factory=Marks)
    stopped: bool = False  # the user stopped it: ``voice`` and ``text`` are what came before
    tool_calls: int = 0  # calls the client answered (a turn with any is never asked again)
    # Seconds of audio the model made (what is billed); None: ``voice_seconds``. They differ
    # when the bot changed the reply's tempo itself (a chat's speed the provider does not take).
    model_seconds: float | None = None

    @property
    def output_seconds(self) -> float:
        """The reply's seconds as the provider bills them."""
        return self.voice_seconds if self.model_seconds is None else self.model_seconds


@dataclass(frozen=True)
class Reply:
    """What the user gets: the voice note and the text shown with it; ``fallback``, when set, is
    the text to send instead should the chat take no voice note (the voice form's answer, whose
    ``text`` leaves the answer's words out)."""

    voice: bytes
    voice_seconds: float
    text: str
    fallback: str = ""


@dataclass(frozen=True)
class LastAnswer:
    """A chat's last answer as delivered, for /again: its whole text and, when a voice note
    was sent, the chat side's id of it (sent again by that id: no upload, no model)."""

    text: str
    voice_id: str | None = None
    voice_seconds: float = 0.0


# The turn's setup, asked for once the model's connection is up (a ``TurnSetup`` is one).
SetupLoader = Callable[[], Awaitable[TurnSetup]]


class TurnToolBox(ToolBox, Protocol):
    """A turn's tools as the worker's turn sees them: what the model is told of them
    (``instructions``), what the chat wrote for the model to know (``context``: its notes), and
    afterwards what they did (``summary``: a line each, for the chat; empty when nothing)."""

    @property
    def instructions(self) -> str: ...

    @property
    def context(self) -> str: ...

    def summary(self) -> str: ...


@dataclass(frozen=True)
class TurnContext:
    """A turn's chat as its setup loader read it once the model's connection was open: the
    chat's ``settings``, its ``tools`` for this turn (None: none), and the ``setup`` the model
    is asked with."""

    settings: ChatSettings
    setup: TurnSetup
    tools: TurnToolBox | None = None


Mode = Literal["replies", "all"]


@dataclass(frozen=True)
class Defaults:
    """The bot's defaults the chat settings' declarations take theirs from
    (``bot.chat_options``: ``settings_from({}, defaults)`` is a chat that chose nothing)."""

    voice: str
    instructions: str
    mode: Mode = "replies"


@dataclass(frozen=True)
class ChatSettings:
    """What a chat chose, with defaults filled in; ``custom`` names the fields it set itself.
    Each field is a setting ``bot.chat_options`` declares; a declared setting without a field
    of its own is in ``extra`` (``value`` reads either)."""

    voice: str
    instructions: str
    mode: Mode
    custom: frozenset[str] = frozenset()
    memory: bool = True  # earlier turns given to the model as context
    transcript: bool | None = None  # show what was heard; None = the chat type's default
    live: bool | None = None  # answers shown as they are made; None = the bot's default
    tools: tuple[tuple[str, bool], ...] = ()  # tools the chat switched on or off itself
    timezone: str | None = None  # the chat's IANA time zone; None = the bot's default
    # How answers come: "voice_text" (a voice note and its text), "voice" (the voice note
    # alone), "text_for_text" (a typed question answered in text only, a voice note in voice).
    answer: str = "voice_text"
    # The other declared settings (a dict, left out of the hash).
    extra: Mapping[str, object] = field(default_factory=dict, hash=False)

    def value(self, name: str) -> object:
        """The value of the declared setting ``name``."""
        return self.extra[name] if name in self.extra else getattr(self, name)

    def tool_on(self, name: str, default: bool) -> bool:
        """Whether the chat has tool ``name`` on (``default`` when it chose nothing)."""
        return dict(self.tools).get(name, default)

    def shows_transcript(self, chat_type: str) -> bool:
        """Off by default in private chats, on in groups (so everyone sees what was asked)."""
        return self.transcript if self.transcript is not None else chat_type != "private"


@dataclass(frozen=True)
class Note:
    """A fact the chat asked the model to remember."""

    id: int
    text: str
    at: float  # when it was written (Unix time)
    # Who asked for it (``TurnJob.payer``); None: kept before notes had authors (the admins').
    by: int | None = None


@dataclass(frozen=True)
class Prices:
    """What the model answering now costs, in ``currency``: audio by the minute, text tokens by
    the thousand (``bot.provider_profiles.ModelPrices``, as the settings may override it)."""

    input_per_minute: float = 0.0
    output_per_minute: float = 0.0
    currency: str = "RUB"
    text_input_per_1k: float = 0.0
    text_output_per_1k: float = 0.0

    def cost(self, input_seconds: float, output_seconds: float) -> float:
        """Audio seconds alone: what budgets hold for a turn before its tokens are known."""
        return (
            input_seconds * self.input_per_minute + output_seconds * self.output_per_minute
        ) / 60

    def turn_cost(self, usage: TurnUsage) -> float:
        """What one turn cost: its audio by the minute and its text tokens by the thousand."""
        tokens = usage.tokens
        text = (
            tokens.input_text_tokens * self.text_input_per_1k
            + tokens.output_text_tokens * self.text_output_per_1k
        ) / 1000
        return self.cost(usage.input_seconds, usage.output_seconds) + text


@dataclass(frozen=True)
class TurnUsage:
    """What one turn used: audio seconds both ways and the model's token counts."""

    input_seconds: float = 0.0
    output_seconds: float = 0.0
    tokens: Usage = field(default_factory=Usage)
    failed: bool = False


@dataclass(frozen=True)
class Totals:
    turns: int = 0
    failures: int = 0
    input_seconds: float = 0.0
    output_seconds: float = 0.0
    tokens: dict[str, int] = field(default_factory=dict)
    # What the turns cost, each priced by the model that answered it when it answered.
    cost: float = 0.0

    @property
    def seconds(self) -> float:
        return self.input_seconds + self.output_seconds


@dataclass(frozen=True)
class Budgets:
    """Limits by day and month; 0 = none."""

    user_daily_seconds: float = 0.0
    user_monthly_seconds: float = 0.0
    chat_daily_seconds: float = 0.0
    chat_monthly_seconds: float = 0.0
    user_daily_cost: float = 0.0
    user_monthly_cost: float = 0.0
    chat_daily_cost: float = 0.0
    chat_monthly_cost: float = 0.0
    bot_daily_cost: float = 0.0  # everyone together, a UTC day

    @property
    def any(self) -> bool:
        return any(getattr(self, name) for name in self.__dataclass_fields__)


@dataclass(frozen=True)
class BudgetCheck:
    """One budget to check: the usage it counts (``scope`` "c" a chat, "u" a payer, "all"
    everyone; ``ident`` whose; ``period`` YYYYMMDD or YYYYMM), its limits (0 = none) and the
    lifetime that usage's record gets if a hold creates it (0: none set). The storage names
    the record (``bot.storage.keys.usage``)."""

    scope: str
    ident: int | str
    period: str
    max_seconds: float
    max_cost: float
    ttl: int = 0


@dataclass(frozen=True)
class Budget:
    """One budget to check: whose (``user``, ``chat`` or ``bot``: everyone's spend cap), its
    period and when it resets (UTC)."""

    check: BudgetCheck
    whose: str
    period: str  # "day" or "month"
    resets_at: dt.datetime

    def used_up(self) -> OverBudget:
        return OverBudget(self.whose, self.period, self.resets_at)


def day_of(now: dt.datetime) -> str:
    return now.strftime("%Y%m%d")


def month_of(now: dt.datetime) -> str:
    return now.strftime("%Y%m")


def budget_checks(
    budgets: Budgets, chat_id: int, user_id: int | None, now: dt.datetime | None = None
) -> list[Budget]:
    """The budgets that apply to this payer (``user_id``: ``TurnJob.payer``) and chat now, and
    the bot's daily spend cap (none when no budget is set)."""
    if not budgets.any:
        return []
    now = now or dt.datetime.now(dt.UTC)
    tomorrow = dt.datetime.combine(now.date() + dt.timedelta(days=1), dt.time(), dt.UTC)
    next_month = dt.datetime(now.year + now.month // 12, now.month % 12 + 1, 1, tzinfo=dt.UTC)
    candidates: list[tuple[str, int | str | None, str, str, float, float, dt.datetime]] = [
        ("user", user_id, "u", day_of(now), budgets.user_daily_seconds,
         budgets.user_daily_cost, tomorrow),
        ("user", user_id, "u", month_of(now), budgets.user_monthly_seconds,
         budgets.user_monthly_cost, next_month),
        ("chat", chat_id, "c", day_of(now), budgets.chat_daily_seconds,
         budgets.chat_daily_cost, tomorrow),
        ("chat", chat_id, "c", month_of(now), budgets.chat_monthly_seconds,
         budgets.chat_monthly_cost, next_month),
        ("bot", "all", "all", day_of(now), 0.0, budgets.bot_daily_cost, tomorrow),
    ]  # fmt: skip
    return [
        Budget(
            BudgetCheck(
                scope,
                ident,
                period,
                max_seconds,
                max_cost,
                DAY_TTL if len(period) == 8 else MONTH_TTL,
            ),
            whose,
            "day" if len(period) == 8 else "month",
            resets,
        )
        for whose, ident, scope, period, max_seconds, max_cost, resets in candidates
        if ident is not None and (max_seconds or max_cost)
    ]


@dataclass(frozen=True)
class ReminderCharge:
    """What setting a reminder costs the one who asks, taken by ``ReminderStore.add`` in the
    script that adds it (or the reminder is refused): a place in ``payer_id``'s rate limit
    (``rate_limit`` turns in window number ``rate_window_index`` of ``rate_window`` seconds, as
    admission counts them), and on each of ``budgets`` (as ``budget_checks`` gives them for the
    payer and the chat at ``at``; none for the owners) a hold of ``reply_seconds`` of output,
    the most a reminder's turn is counted to cost (its input is text), priced at ``prices``.
    The hold stays until the reminder's turn ends (its recorded usage settles it) or the
    reminder is cancelled."""

    payer_id: int | None  # ``TurnJob.payer``: whose rate limit (None: none taken)
    at: float  # Unix time the charge is for: its rate window and its budgets' periods
    rate_limit: int = 0  # turns per window; 0 = none
    rate_window: int = 60
    rate_window_index: int = 0  # int(at) // rate_window
    budgets: tuple[Budget, ...] = ()
    prices: Prices = field(default_factory=Prices)
    reply_seconds: float = 0.0

    def retry_after(self) -> int:
        """Seconds until the payer's rate window ends."""
        return max(1, (self.rate_window_index + 1) * self.rate_window - int(self.at))


@dataclass(frozen=True)
class TurnInput:
    """One question: audio bytes to fetch (and decode), or a text. ``on_text`` gets the reply's
    text so far each time it grows; ``stop``, once set, cancels the answer being made."""

    fetch: Callable[[], Awaitable[bytes]] | None = None
    text: str | None = None
    label: str = ""  # e.g. "chat=42 msg=7", for logs
    on_text: Callable[[str], None] | None = None
    stop: asyncio.Event | None = None
