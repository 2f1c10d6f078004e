"""The domain's values, shared by every layer: what a turn is, takes and gives.

The bottom of the package (only ``bot.errors`` is below it): nothing here does I/O, and every
other layer imports these, never the reverse.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable
from dataclasses import asdict, dataclass, field
from typing import Any, Literal, Protocol

import orjson

from bot.errors import TooLarge, TooLong

__all__ = [
    "HistoryItem",
    "Limits",
    "Marks",
    "ProviderTraits",
    "Reply",
    "SetupLoader",
    "ToolBox",
    "ToolCall",
    "TurnInput",
    "TurnJob",
    "TurnResult",
    "TurnSetup",
    "Usage",
    "tool_error",
    "tool_refused",
    "tool_result",
]


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
    attempt: int = 0
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
    """How one chat's turn is asked of the model: its voice, instructions and memory."""

    voice: str
    instructions: str
    history: tuple[HistoryItem, ...] = ()
    tools: ToolBox | None = None
    # What people of the chat wrote for the model to know (its notes): one quoted user item
    # before the memory, never in the instructions.
    context: str = ""


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
    used_history: bool = False
    stopped: bool = False  # the user stopped it: ``voice`` and ``text`` are what came before
    tool_calls: int = 0  # calls the client answered (a turn with any is never asked again)


@dataclass(frozen=True)
class Reply:
    """What the user gets: the voice note and the text shown with it."""

    voice: bytes
    voice_seconds: float
    text: str


SetupLoader = Callable[[], Awaitable[TurnSetup]]


@dataclass(frozen=True)
class TurnInput:
    """One question: audio bytes to fetch (and decode), or a text. ``on_text`` gets the reply's
    text so far each time it grows; ``stop``, once set, cancels the answer being made."""

    fetch: Callable[[], Awaitable[bytes]] | None = None
    text: str | None = None
    label: str = ""  # e.g. "chat=42 msg=7", for logs
    on_text: Callable[[str], None] | None = None
    stop: asyncio.Event | None = None
