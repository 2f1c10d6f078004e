"""``python -m bot probe``: the configured provider's live service, measured where its
documentation leaves questions open (stand_ins/README.md, "yandex-field: Yandex as live
clients saw it").

Each question gets a short session of its own on a raw WebSocket (no bot logic in between),
every wait is bounded (a hang is "no answer"), and every reply is cut off past a few seconds of
audio, so a run bills a few seconds of audio (``planned_seconds``). The findings come back as a
``ProviderTraits`` (stored by the CLI) and the rows of a table: rule, what the documentation
says, what was seen.

The questions, in the order they are asked:

0. a speech sample: the model is asked (a typed message) to say a keyword; its audio is the
   speech the voice-activity questions send (a tone when no audio came);
1. ``assistant_items``: an assistant ``output_text`` item given as history, accepted or refused;
2. ``rates_echoed``: the asked audio rates in ``session.updated`` (and how many came);
3. ``pings_answered``: a WebSocket ping, and whether its pong comes;
4. ``create_response_honoured``: server VAD with ``create_response: false``: no response of its
   own after a pause;
5. ``manual_turns_honoured``: ``turn_detection: null``: no commit of its own;
6. ``create_after_commit``: ``response.create`` at once on ``input_audio_buffer.committed``:
   does the reply answer the speech (the model is told to repeat it);
7. ``cancel_honoured``: ``response.cancel`` after the first audio;
8. ``text_events``: the event types that carried the replies' text (from 0 and 6);
9. ``web_search_events``: what a turn with the provider's ``web_search`` brings (where the
   provider runs one: Yandex);
10. ``quota_refusal``: how a session past the concurrent quota is refused (where one is
    documented: Yandex).

Sessions are opened as the bot's (``client.open_websocket``) and configured with the bot's own
``session.update`` (``protocol.session_update``), with the probe's instructions, rates and a
short VAD silence. What the provider's documentation says of each question is in its profile
(``Profile.documented``). No secret is logged or returned: the endpoint's headers go to the
handshake only.
"""

from __future__ import annotations

import asyncio
import base64
import contextlib
import logging
import statistics
import textwrap
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, Literal

import numpy as np
import orjson
from websockets.asyncio.client import ClientConnection
from websockets.exceptions import ConnectionClosed

from bot.domain import Prices, ProviderTraits
from bot.errors import RealtimeConnectError
from bot.realtime.client import HandshakeRefused, open_websocket
from bot.realtime.protocol import EVENT_ALIASES, SessionConfig, encode_appends, session_update
from bot.realtime.providers import PROFILES, Endpoint, Profile

__all__ = [
    "ProbeOptions",
    "ProbeReport",
    "Row",
    "Unreachable",
    "cost_line",
    "format_report",
    "format_table",
    "planned_seconds",
    "probe",
]

log = logging.getLogger(__name__)

RATE = 24_000  # asked both ways, so no audio is resampled (Yandex and OpenAI accept it)
# The VAD's silence before it commits: the pauses in the probe's audio (PAUSE_S) are longer.
VAD_SILENCE_MS = 200
PAUSE_S = 1.2  # silence between the two pieces of speech in the voice-activity questions
TAIL_S = 1.0  # silence after the second piece (create_response question)
FRAME = RATE // 50  # 20 ms
SPEECH_RMS = 0.01  # a 20 ms frame louder than this (fraction of full scale) is speech
MIN_SPEECH_S = 0.2

TurnDetection = Literal["server_vad", "semantic_vad", "manual"]

# The questions, as their ProviderTraits fields, in the table's order.
RULES = (
    "assistant_items",
    "rates_echoed",
    "pings_answered",
    "create_response_honoured",
    "manual_turns_honoured",
    "create_after_commit",
    "cancel_honoured",
    "text_events",
    "web_search_events",
    "quota_refusal",
)


@dataclass(frozen=True)
class _Words:
    instructions: str
    say: str  # asks the model to say the keyword
    keyword: str  # looked for (lower case) in reply texts
    repeat: str  # instructions of the create_after_commit session
    story: str  # a long answer, to cancel
    news: str  # a web search


# By the language of the provider's profile (``Profile.probe_language``); English otherwise.
WORDS: dict[str, _Words] = {
    "ru": _Words(
        instructions="Вы голосовой ассистент. Отвечайте коротко.",
        say="Скажите: яблоко. Просто повторите слово яблоко.",
        keyword="яблок",
        repeat="Повторите слово в слово то, что сказал пользователь, и больше ничего.",
        story="Расскажите очень длинную и подробную сказку о драконе, минут на пять.",
        news="Какая сегодня главная новость? Ответьте одним коротким предложением.",
    ),
    "en": _Words(
        instructions="You are a voice assistant. Answer briefly.",
        say="Say: apple. Just repeat the word apple.",
        keyword="apple",
        repeat="Repeat exactly what the user said, word for word, and nothing else.",
        story="Tell a very long and detailed story about a dragon, about five minutes long.",
        news="What is today's top news headline? Answer in one short sentence.",
    ),
}

# Yandex's reserved search function, declared as the bot declares it (bot/tools/kit.py).
WEB_SEARCH_TOOL: dict[str, Any] = {
    "type": "function",
    "name": "web_search",
    "description": (
        "Search the web for current information: news, weather, prices, schedules, and facts "
        "you do not know or that may have changed."
    ),
    "parameters": "{}",
}

# Beta-era response event names as their GA names (item events keep their own names: which one
# a server sends is a finding).
RESPONSE_ALIASES = {k: v for k, v in EVENT_ALIASES.items() if k.startswith("response.")}
# Events of a plain spoken answer; anything else in a web-search turn is worth recording.
PLAIN = frozenset(
    {
        "session.created",
        "session.updated",
        "conversation.item.added",
        "conversation.item.created",
        "conversation.item.done",
        "response.created",
        "response.done",
        "response.output_item.added",
        "response.output_item.done",
        "response.content_part.added",
        "response.content_part.done",
        "response.output_audio.delta",
        "response.output_audio.done",
        "response.output_text.delta",
        "response.output_text.done",
        "response.output_audio_transcript.delta",
        "response.output_audio_transcript.done",
        "rate_limits.updated",
    }
)
ITEM_EVENTS = ("conversation.item.added", "conversation.item.created")
TRANSCRIPT_EVENT = "conversation.item.input_audio_transcription.completed"


class Unreachable(Exception):
    """The provider could not be reached at all; the message says why in one line."""


@dataclass(frozen=True)
class ProbeOptions:
    """Bounds of every wait, in seconds (tests make them short)."""

    connect_timeout: float = 10.0
    event_timeout: float = 15.0  # any one wait for an event the server owes
    response_timeout: float = 60.0  # one whole response
    pong_timeout: float = 5.0
    auto_response_wait: float = 3.0  # after the audio (and after each commit) for a response
    manual_commit_wait: float = 3.0  # after the audio for a commit nobody asked for
    cancel_wait: float = 2.0  # from response.cancel to its response.done
    settle: float = 1.0  # for late events: a second session.updated, an error, a drop
    quota_sessions: int | None = None  # opened at most; None: one past the documented quota
    quota_spacing: float = 0.15  # between openings: under Yandex's 10 creations a second
    max_sample_seconds: float = 2.5  # speech sample, trimmed
    max_reply_seconds: float = 6.0  # a reply is cancelled past this much audio


@dataclass(frozen=True)
class Row:
    """One line of the table: the ProviderTraits field, the documentation's word, the finding."""

    rule: str
    expected: str
    seen: str


@dataclass
class ProbeReport:
    traits: ProviderTraits
    rows: list[Row]
    # seconds: "connect", "session.update -> session.updated", "response.create -> first audio"
    latencies: dict[str, list[float]]
    notes: list[str] = field(default_factory=list)


def planned_seconds(provider: str, options: ProbeOptions | None = None) -> tuple[float, float]:
    """At most how many seconds of input and output audio a probe of ``provider`` bills."""
    o = options or ProbeOptions()
    s = o.max_sample_seconds
    inp = (2 * s + PAUSE_S + TAIL_S) + (2 * s + PAUSE_S) + s
    replies = 4 if _searches(provider) else 3  # sample, the input's answer, cancel, search
    out = replies * o.max_reply_seconds + 1.0  # and a response started by itself, cancelled
    return inp, out


def cost_line(provider: str, prices: Prices, options: ProbeOptions | None = None) -> str:
    """The estimate printed before anything is billed, at ``prices`` (the probed model's, as
    ``bot.app.prices_from`` gives them): two lines, the first starting with "Estimated cost"."""
    inp, out = planned_seconds(provider, options)
    audio = f"Estimated cost: up to {inp:.0f} s of input and {out:.0f} s of output audio"
    currency = prices.currency
    if not prices.input_per_minute and not prices.output_per_minute:
        return (
            f"{audio}, unknown price\n(no audio price: set "
            "PRICE_INPUT_AUDIO_PER_MINUTE and PRICE_OUTPUT_AUDIO_PER_MINUTE to see one)"
        )
    cost = prices.cost(inp, out)
    search = _searches(provider)
    if prices.text_input_per_1k or prices.text_output_per_1k:
        # Text tokens, as many as the model uses: priced, not counted in the estimate.
        extra = (
            f"text {prices.text_input_per_1k:g} in, {prices.text_output_per_1k:g} out per 1000 "
            f"tokens{'; one web search besides' if search else ''}"
        )
    else:
        extra = f"text tokens{' and one web search' if search else ''} are billed besides"
    return (
        f"{audio}, about {cost:.2f} {currency}\n({prices.input_per_minute:g} in, "
        f"{prices.output_per_minute:g} out {currency} a minute; {extra})"
    )


def _searches(provider: str) -> bool:
    """Whether the probe of ``provider`` asks a question its own web search answers."""
    profile = PROFILES.get(provider)
    return profile is not None and profile.web_search


# -- the table ----------------------------------------------------------------------------------

WIDTHS = (24, 30, 40)  # 24 + 3 + 30 + 3 + 40 = 100 columns


def _ascii(text: str) -> str:
    return text.encode("ascii", "replace").decode("ascii")


def format_table(rows: list[Row]) -> str:
    """The rows as an ASCII table of at most 100 columns; long cells wrap."""
    head = Row("rule", "expected (docs)", "seen")
    lines = [_line(head), "-+-".join("-" * w for w in WIDTHS)]
    for row in rows:
        lines.append(_line(row))
    return "\n".join(lines)


def _line(row: Row) -> str:
    cells = [
        textwrap.wrap(_ascii(text), width, break_long_words=True) or [""]
        for text, width in zip((row.rule, row.expected, row.seen), WIDTHS, strict=True)
    ]
    height = max(len(cell) for cell in cells)
    out = []
    for i in range(height):
        parts = [
            (cell[i] if i < len(cell) else "").ljust(width)
            for cell, width in zip(cells, WIDTHS, strict=True)
        ]
        out.append(" | ".join(parts).rstrip())
    return "\n".join(out)


def format_report(report: ProbeReport) -> str:
    """The table, then the latencies and notes."""
    lines = [format_table(report.rows), ""]
    for name, values in report.latencies.items():
        if values:
            lines.append(
                f"latency {name}: median {statistics.median(values):.3f} s, "
                f"max {max(values):.3f} s ({len(values)} measured)"
            )
        else:
            lines.append(f"latency {name}: not measured")
    lines.extend(_ascii(f"note: {note}") for note in report.notes)
    return "\n".join(lines)


# -- one raw session ----------------------------------------------------------------------------


class _NoSession(Exception):
    """A session of one question could not be opened; the message says why."""

    def __init__(self, reason: str, status: int | None = None) -> None:
        super().__init__(reason)
        self.status = status


def _close_text(exc: ConnectionClosed, *, reason: bool = True) -> str:
    if exc.rcvd is None:
        return "dropped (no close frame)"
    why = f" {exc.rcvd.reason}" if exc.rcvd.reason and reason else ""
    return f"closed {exc.rcvd.code}{why}"


def _error_text(event: dict[str, Any]) -> str:
    error = event.get("error") or {}
    if not isinstance(error, dict):
        return str(error)[:120]
    code = error.get("code") or error.get("type") or "error"
    message = str(error.get("message") or "").strip()
    return f"{code}: {message}"[:120] if message else str(code)


def _kind(event: dict[str, Any]) -> str:
    kind = str(event.get("type", ""))
    return RESPONSE_ALIASES.get(kind, kind)


class _Conn:
    """A WebSocket with every received event kept, and reads that never wait unbounded."""

    def __init__(self, ws: ClientConnection, connect_s: float) -> None:
        self.ws = ws
        self.connect_s = connect_s
        self.events: list[tuple[float, dict[str, Any]]] = []
        self.closed = False
        self.close_text = ""  # "closed 1008 Invalid model URI", "connection dropped (...)"
        self.close_short = ""  # without the reason
        self.update_s: float | None = None
        self.update_error = ""

    async def recv(self, seconds: float) -> dict[str, Any] | None:
        """The next event, None after ``seconds`` or when the connection is closed."""
        while not self.closed:
            try:
                async with asyncio.timeout(max(0.0, seconds)):
                    raw = await self.ws.recv()
            except TimeoutError:
                return None
            except ConnectionClosed as exc:
                self._closed(exc)
                return None
            try:
                event = orjson.loads(raw)
            except orjson.JSONDecodeError:
                continue
            if isinstance(event, dict):
                self.events.append((time.perf_counter(), event))
                return event
        return None

    async def until(
        self, wanted: Callable[[dict[str, Any]], bool], seconds: float
    ) -> dict[str, Any] | None:
        deadline = time.perf_counter() + seconds
        while (remaining := deadline - time.perf_counter()) > 0:
            event = await self.recv(remaining)
            if event is None:
                return None
            if wanted(event):
                return event
        return None

    async def drain(self, seconds: float) -> None:
        """Read whatever comes for ``seconds`` (or until the connection closes)."""
        await self.until(lambda _: False, seconds)

    async def send(self, event: dict[str, Any]) -> None:
        if self.closed:
            return
        try:
            await self.ws.send(orjson.dumps(event), text=True)
        except ConnectionClosed as exc:
            self._closed(exc)

    def _closed(self, exc: ConnectionClosed) -> None:
        self.closed = True
        self.close_text = _close_text(exc)
        self.close_short = _close_text(exc, reason=False)

    async def append(self, pcm: bytes) -> None:
        for chunk in encode_appends(pcm):
            await self.send({"type": "input_audio_buffer.append", "audio": chunk})

    async def aclose(self) -> None:
        with contextlib.suppress(ConnectionClosed, OSError):
            await self.ws.close()

    def count(self, kind: str) -> int:
        return sum(1 for _, event in self.events if _kind(event) == kind)


@dataclass
class _Reply:
    """What one response brought."""

    t_create: float = 0.0
    created: bool = False
    done: bool = False
    status: str = ""
    t_done: float | None = None
    pcm: bytearray = field(default_factory=bytearray)
    t_first_audio: float | None = None
    audio_parts: set[int] = field(default_factory=set)
    text_types: list[str] = field(default_factory=list)  # as the server named them
    text_parts: dict[str, set[int]] = field(default_factory=dict)  # content indexes by type
    text: str = ""
    transcript: str = ""
    errors: list[str] = field(default_factory=list)
    extras: list[str] = field(default_factory=list)  # beyond a plain answer
    calls: list[str] = field(default_factory=list)  # function calls reaching the client
    t_cancel: float | None = None
    audio_at_cancel: int = 0
    _text: list[str] = field(default_factory=list)
    _transcript: list[str] = field(default_factory=list)

    @property
    def best_text(self) -> str:
        return (
            self.text or "".join(self._text) or self.transcript or "".join(self._transcript)
        ).strip()

    def seconds(self) -> float:
        return len(self.pcm) / 2 / RATE

    def feed(self, event: dict[str, Any], now: float) -> None:
        raw = str(event.get("type", ""))
        kind = RESPONSE_ALIASES.get(raw, raw)
        if kind == "response.created":
            self.created = True
        elif kind == "response.output_audio.delta":
            try:
                pcm = base64.b64decode(event.get("delta") or "")
            except ValueError:
                pcm = b""
            if pcm and self.t_first_audio is None:
                self.t_first_audio = now
            self.pcm += pcm
            self._part(self.audio_parts, event)
        elif kind.startswith("response.") and ("text" in kind or "transcript" in kind):
            if raw not in self.text_types:
                self.text_types.append(raw)
            self._part(self.text_parts.setdefault(raw, set()), event)
            if kind == "response.output_text.delta":
                self._text.append(str(event.get("delta") or ""))
            elif kind == "response.output_text.done":
                self.text = str(event.get("text") or "") or self.text
            elif kind == "response.output_audio_transcript.delta":
                self._transcript.append(str(event.get("delta") or ""))
            elif kind == "response.output_audio_transcript.done":
                self.transcript = str(event.get("transcript") or "") or self.transcript
        elif kind == "error":
            self.errors.append(_error_text(event))
        elif kind == "response.done":
            response = event.get("response") or {}
            self.done = True
            self.t_done = now
            self.status = str(response.get("status") or "completed")
        self._extra(kind, event)

    def _extra(self, kind: str, event: dict[str, Any]) -> None:
        item = event.get("item")
        name = kind
        if isinstance(item, dict) and item.get("type") not in (None, "message"):
            name = f"{kind}:{item.get('type')}"
            if item.get("type") == "function_call":
                call = str(item.get("name") or "?")
                if call not in self.calls:
                    self.calls.append(call)
        elif kind in PLAIN or kind == TRANSCRIPT_EVENT or kind.startswith("input_audio_buffer."):
            return
        if name not in self.extras:
            self.extras.append(name)

    @staticmethod
    def _part(parts: set[int], event: dict[str, Any]) -> None:
        index = event.get("content_index")
        if isinstance(index, int):
            parts.add(index)


def _user_item(text: str, event_id: str) -> dict[str, Any]:
    return {
        "type": "conversation.item.create",
        "event_id": event_id,
        "item": {
            "type": "message",
            "role": "user",
            "content": [{"type": "input_text", "text": text}],
        },
    }


def _assistant_item(text: str, event_id: str) -> dict[str, Any]:
    return {
        "type": "conversation.item.create",
        "event_id": event_id,
        "item": {
            "type": "message",
            "role": "assistant",
            "content": [{"type": "output_text", "text": text}],
        },
    }


def _silence(seconds: float) -> bytes:
    return bytes(2 * round(seconds * RATE))


def _tone(seconds: float = 1.0, hz: float = 440.0) -> bytes:
    t = np.arange(round(seconds * RATE)) / RATE
    return (np.sin(2 * np.pi * hz * t) * 0.3 * 32767).astype("<i2").tobytes()


def _trimmed_speech(pcm: bytes, max_seconds: float) -> bytes:
    """The speech of ``pcm`` without the silence around it, at most ``max_seconds``; empty
    when there is too little of it."""
    samples = np.frombuffer(pcm[: len(pcm) // 2 * 2], dtype="<i2").astype(np.float32) / 32768
    n = len(samples) // FRAME
    if n == 0:
        return b""
    frames = samples[: n * FRAME].reshape(n, FRAME)
    loud = np.flatnonzero(np.sqrt(np.square(frames).mean(axis=1)) > SPEECH_RMS)
    if loud.size == 0:
        return b""
    start = max(0, int(loud[0]) - 3) * FRAME  # 60 ms around it
    end = min(n, int(loud[-1]) + 4) * FRAME
    end = min(end, start + round(max_seconds * RATE))
    if end - start < MIN_SPEECH_S * RATE:
        return b""
    return pcm[start * 2 : end * 2]


def _resample(pcm: bytes, rate: int) -> bytes:
    """PCM16 at ``rate`` as PCM16 at 24 kHz (linear; good enough for a VAD)."""
    samples = np.frombuffer(pcm[: len(pcm) // 2 * 2], dtype="<i2").astype(np.float64)
    if not len(samples) or rate == RATE:
        return pcm
    n = round(len(samples) * RATE / rate)
    resampled = np.interp(np.linspace(0, len(samples) - 1, n), np.arange(len(samples)), samples)
    return resampled.astype("<i2").tobytes()


def _s(seconds: float) -> str:
    return f"{seconds:.2f} s"


# -- the questions ------------------------------------------------------------------------------


@dataclass
class _Finding:
    seen: str
    value: Any


class _Prober:
    def __init__(
        self,
        endpoint: Endpoint,
        profile: Profile,
        *,
        voice: str,
        transcription_model: str,
        turn_detection: TurnDetection,
        options: ProbeOptions,
        on_step: Callable[[str], None],
    ) -> None:
        self.endpoint = endpoint
        self.profile = profile
        self.words = WORDS.get(profile.probe_language, WORDS["en"])
        self.voice = voice
        self.transcription_model = transcription_model
        self.turn_detection = turn_detection
        self.o = options
        self.on_step = on_step
        self.connects: list[float] = []
        self.updates: list[float] = []
        self.first_audio: list[float] = []
        self.notes: list[str] = []
        self.speech = b""
        self.speech_is_tone = False

    # -- sessions --------------------------------------------------------------------------------

    def _config(
        self,
        *,
        turn_detection: TurnDetection | None = None,
        instructions: str | None = None,
        tools: tuple[dict[str, Any], ...] = (),
    ) -> SessionConfig:
        """The session the bot would ask for, with the probe's instructions, 24 kHz both ways
        and a short VAD silence; ``turn_detection`` None: the configured one."""
        return SessionConfig(
            voice=self.voice,
            instructions=self.words.instructions if instructions is None else instructions,
            output_rate=RATE,
            turn_detection=turn_detection or self.turn_detection,
            output_modalities=self.profile.output_modalities,
            vad_silence_ms=VAD_SILENCE_MS,
            transcription_model=self.transcription_model,
            tools=tools,
        )

    async def _connect(self) -> _Conn:
        started = time.perf_counter()
        try:
            ws = await open_websocket(self.endpoint, open_timeout=self.o.connect_timeout)
        except HandshakeRefused as exc:
            raise _NoSession(str(exc), exc.status) from None
        except RealtimeConnectError as exc:
            raise _NoSession(str(exc)) from None
        conn = _Conn(ws, time.perf_counter() - started)
        self.connects.append(conn.connect_s)
        return conn

    async def _open(self, config: SessionConfig | None) -> _Conn:
        """A connected session that has sent ``session.created`` (and answered the
        ``session.update`` asking for ``config``: ``update_error`` says how when it refused
        it)."""
        conn = await self._connect()
        try:
            first = await conn.until(
                lambda e: _kind(e) in ("session.created", "error"), self.o.event_timeout
            )
            if first is None:
                raise _NoSession(
                    conn.close_text or f"no session.created within {self.o.event_timeout:g} s"
                )
            if _kind(first) == "error":
                raise _NoSession(f"error instead of session.created: {_error_text(first)}")
            if config is not None:
                sent = time.perf_counter()
                await conn.send(session_update(config, "probe_update"))
                answer = await conn.until(
                    lambda e: _kind(e) in ("session.updated", "error"), self.o.event_timeout
                )
                if answer is None:
                    conn.update_error = conn.close_text or (
                        f"no session.updated within {self.o.event_timeout:g} s"
                    )
                elif _kind(answer) == "error":
                    conn.update_error = _error_text(answer)
                else:
                    conn.update_s = conn.events[-1][0] - sent
                    self.updates.append(conn.update_s)
        except BaseException:
            await conn.aclose()
            raise
        return conn

    async def _respond(
        self,
        conn: _Conn,
        reply: _Reply | None = None,
        *,
        create: bool = True,
        on_event: Callable[[dict[str, Any], _Reply], list[dict[str, Any]]] | None = None,
    ) -> _Reply:
        """Ask for a response (unless ``create`` is False: already asked) and read it to its
        ``response.done``, cancelling it past ``max_reply_seconds`` of audio (and waiting then
        at most ``cancel_wait``). ``on_event`` may answer events."""
        reply = reply or _Reply()
        if create:
            reply.t_create = time.perf_counter()
            await conn.send({"type": "response.create", "event_id": "probe_response"})
        cap = round(self.o.max_reply_seconds * RATE) * 2
        deadline = time.perf_counter() + self.o.response_timeout
        while not reply.done:
            now = time.perf_counter()
            limit = deadline - now
            if reply.t_cancel is not None:
                limit = min(limit, reply.t_cancel + self.o.cancel_wait - now)
            if limit <= 0:
                break
            event = await conn.recv(min(self.o.event_timeout, limit))
            if event is None:
                break
            now = conn.events[-1][0]
            had_audio = reply.t_first_audio is not None
            reply.feed(event, now)
            if reply.t_first_audio is not None and not had_audio and reply.t_create:
                self.first_audio.append(reply.t_first_audio - reply.t_create)
            for out in on_event(event, reply) if on_event else []:
                await conn.send(out)
            if reply.t_cancel is None and len(reply.pcm) > cap and not reply.done:
                await self._cancel(conn, reply)
        return reply

    async def _cancel(self, conn: _Conn, reply: _Reply) -> None:
        reply.t_cancel = time.perf_counter()
        reply.audio_at_cancel = len(reply.pcm)
        await conn.send({"type": "response.cancel", "event_id": "probe_cancel"})

    # -- 0: the speech sample --------------------------------------------------------------------

    async def sample(self) -> _Reply:
        try:
            conn = await self._open(self._config())
        except _NoSession as exc:
            raise Unreachable(str(exc)) from None
        try:
            if conn.update_error:
                raise Unreachable(f"the session's configuration was refused: {conn.update_error}")
            await conn.send(_user_item(self.words.say, "probe_say"))
            reply = await self._respond(conn)
            rate = self._echoed_rate(conn)
        finally:
            await conn.aclose()
        if (
            not reply.pcm
            and not reply.best_text
            and (reply.errors or conn.closed or reply.status not in ("completed", "cancelled"))
        ):
            # Not a word from the model: a wrong model, key or folder, not a finding.
            why = (
                reply.errors[0] if reply.errors
                else f"response.done {reply.status}" if reply.done
                else conn.close_text or f"no response within {self.o.event_timeout:g} s"
            )  # fmt: skip
            raise Unreachable(f"the model did not answer: {why}")
        pcm = bytes(reply.pcm)
        if rate and rate != RATE:
            self.notes.append(f"the sample came at {rate} Hz (asked {RATE}): resampled")
            pcm = _resample(pcm, rate)
        self.speech = _trimmed_speech(pcm, self.o.max_sample_seconds)
        if not self.speech:
            self.speech = _tone()
            self.speech_is_tone = True
            self.notes.append(
                "the model said nothing audible when asked to say a word: the voice-activity "
                "questions used a 1 s tone (a speech detector may ignore it)"
            )
        return reply

    @staticmethod
    def _echoed_rate(conn: _Conn) -> int | None:
        for _, event in reversed(conn.events):
            if _kind(event) == "session.updated":
                rate = _rate(event, "output")
                return rate if isinstance(rate, int) else None
        return None

    # -- 1: assistant items ----------------------------------------------------------------------

    async def assistant_items(self) -> _Finding:
        conn = await self._open(self._config())
        try:
            if conn.update_error:
                return _Finding(f"session.update refused: {conn.update_error}", None)
            await conn.send(_user_item("Hello.", "probe_user_item"))
            user = await conn.until(
                lambda e: _kind(e) in (*ITEM_EVENTS, "error"), self.o.event_timeout
            )
            user_seen = (
                "no answer" if user is None
                else f"refused ({_error_text(user)})" if _kind(user) == "error"
                else f"accepted ({_kind(user)})"
            )  # fmt: skip
            mark = len(conn.events)
            await conn.send(_assistant_item("Hello! How can I help?", "probe_assistant_item"))
            first = await conn.until(
                lambda e: _kind(e) in (*ITEM_EVENTS, "error"), self.o.event_timeout
            )
            await conn.drain(self.o.settle)
            later = [event for _, event in conn.events[mark:]]
            errors = [_error_text(e) for e in later if _kind(e) == "error"]
            announced = [_kind(e) for e in later if _kind(e) in ITEM_EVENTS]
            user_note = f"; user item {user_seen}"
            if errors or (first is None and conn.closed):
                dropped = "; connection kept"
                if conn.closed:  # the close reason, if any, tends to repeat the error
                    dropped = f"; connection {conn.close_text if not errors else conn.close_short}"
                why = errors[0] if errors else "no error event"
                return _Finding(f"refused: {why}{dropped}{user_note}", False)
            if first is None:
                return _Finding(f"no answer in {self.o.event_timeout:g} s{user_note}", None)
            names = ", ".join(
                f"{name} x{announced.count(name)}" for name in dict.fromkeys(announced)
            )
            return _Finding(f"accepted ({names}){user_note}", True)
        finally:
            await conn.aclose()

    # -- 2: rates echoed -------------------------------------------------------------------------

    async def rates_echoed(self) -> _Finding:
        conn = await self._open(self._config())
        try:
            if conn.update_error:
                return _Finding(f"session.update refused: {conn.update_error}", None)
            await conn.drain(self.o.settle)
            updated = [e for _, e in conn.events if _kind(e) == "session.updated"]
            out = [_rate(e, "output") for e in updated]
            inp = [_rate(e, "input") for e in updated]
            echoed = any(isinstance(rate, int) for rate in out)
            last_out = next((r for r in reversed(out) if isinstance(r, int)), out[-1])
            last_in = next((r for r in reversed(inp) if isinstance(r, int)), inp[-1])
            seen = (
                f"out {_rate_text(last_out)}, in {_rate_text(last_in)}; "
                f"session.updated x{len(updated)}"
            )
            return _Finding(seen, echoed)
        finally:
            await conn.aclose()

    # -- 3: pings --------------------------------------------------------------------------------

    async def pings_answered(self) -> _Finding:
        conn = await self._open(None)
        try:
            sent = time.perf_counter()
            try:
                pong = await conn.ws.ping()
                async with asyncio.timeout(self.o.pong_timeout):
                    await pong
            except TimeoutError:
                return _Finding(f"no pong within {self.o.pong_timeout:g} s", False)
            except ConnectionClosed as exc:
                return _Finding(f"no pong: {_close_text(exc)}", False)
            return _Finding(f"pong in {_s(time.perf_counter() - sent)}", True)
        finally:
            await conn.aclose()

    # -- 4: create_response false ----------------------------------------------------------------

    async def create_response_honoured(self) -> _Finding:
        conn = await self._open(self._config(turn_detection="server_vad"))
        try:
            if conn.update_error:
                return _Finding(f"session.update refused: {conn.update_error}", None)
            speech = self.speech
            await conn.append(speech + _silence(PAUSE_S) + speech + _silence(TAIL_S))
            sent = time.perf_counter()
            limit = sent + self.o.event_timeout
            deadline = sent + self.o.auto_response_wait
            created_after: float | None = None
            while (now := time.perf_counter()) < deadline:
                event = await conn.recv(deadline - now)
                if event is None:
                    break
                kind = _kind(event)
                if kind.startswith("input_audio_buffer."):
                    # A server whose VAD runs at the audio's pace commits later: the wait runs
                    # from its last word on the audio.
                    deadline = min(limit, max(deadline, now + self.o.auto_response_wait))
                elif kind == "response.created" and created_after is None:
                    created_after = now - sent
                    # Nobody wants it: stopped before it bills much.
                    await conn.send({"type": "response.cancel", "event_id": "probe_cancel"})
            commits = conn.count("input_audio_buffer.committed")
            if created_after is not None:
                return _Finding(
                    f"response.created by itself {_s(created_after)} after the audio "
                    f"(commits x{commits})",
                    False,
                )
            if not commits:
                return _Finding(
                    "no commit, no response: the VAD did not take the sample for speech "
                    "(inconclusive)",
                    None,
                )
            return _Finding(f"no response (commits x{commits})", True)
        finally:
            await conn.aclose()

    # -- 5: turn_detection null ------------------------------------------------------------------

    async def manual_turns_honoured(self) -> _Finding:
        conn = await self._open(self._config(turn_detection="manual"))
        try:
            if conn.update_error:
                return _Finding(f"turn_detection null refused: {conn.update_error}", False)
            await conn.append(self.speech + _silence(PAUSE_S) + self.speech)
            sent = time.perf_counter()
            limit = sent + self.o.event_timeout
            deadline = sent + self.o.manual_commit_wait
            while (now := time.perf_counter()) < deadline:
                event = await conn.recv(deadline - now)
                if event is None:
                    break
                if _kind(event).startswith("input_audio_buffer.") or (
                    _kind(event) == "response.created"
                ):
                    deadline = min(limit, max(deadline, now + self.o.manual_commit_wait))
                if _kind(event) == "response.created":
                    await conn.send({"type": "response.cancel", "event_id": "probe_cancel"})
            commits = conn.count("input_audio_buffer.committed")
            started = conn.count("input_audio_buffer.speech_started")
            if commits or started:
                return _Finding(
                    f"the server committed by itself (committed x{commits}, "
                    f"speech_started x{started})",
                    False,
                )
            return _Finding(
                f"nothing committed in {self.o.manual_commit_wait:g} s after the audio", True
            )
        finally:
            await conn.aclose()

    # -- 6: response.create right after the commit -----------------------------------------------

    async def create_after_commit(self) -> tuple[_Finding, _Reply | None]:
        conn = await self._open(self._config(instructions=self.words.repeat))
        try:
            if conn.update_error:
                return _Finding(f"session.update refused: {conn.update_error}", None), None
            await conn.append(self.speech)
            await conn.send({"type": "input_audio_buffer.commit", "event_id": "probe_commit"})
            reply = _Reply()
            marks: dict[str, float] = {}
            input_text: list[str] = []

            def on_event(event: dict[str, Any], r: _Reply) -> list[dict[str, Any]]:
                kind = _kind(event)
                now = conn.events[-1][0]
                if kind == TRANSCRIPT_EVENT:
                    marks.setdefault("transcript", now)
                    input_text.append(str(event.get("transcript") or ""))
                if r.t_create:
                    return []
                code = (event.get("error") or {}).get("code") if kind == "error" else None
                if kind == "input_audio_buffer.committed" or code == (
                    "input_audio_buffer_commit_empty"
                ):
                    marks["committed"] = now
                    if code:
                        self.notes.append("create_after_commit: the VAD had committed already")
                    r.t_create = time.perf_counter()
                    return [{"type": "response.create", "event_id": "probe_response"}]
                return []

            await self._respond(conn, reply, create=False, on_event=on_event)
            if reply.done and "transcript" not in marks:
                await conn.until(lambda e: _kind(e) == TRANSCRIPT_EVENT, self.o.settle)
                for t, event in conn.events:
                    if _kind(event) == TRANSCRIPT_EVENT:
                        marks.setdefault("transcript", t)
                        input_text.append(str(event.get("transcript") or ""))
        finally:
            await conn.aclose()
        if "committed" not in marks:
            return _Finding(f"no commit answered: {conn.close_text or 'no answer'}", None), None
        transcript = _transcript_timing(marks, reply)
        heard = " ".join(input_text).lower()
        if heard:
            transcript += (
                "; the transcript has the keyword"
                if (self.words.keyword in heard)
                else "; the transcript lacks the keyword"
            )
        if not reply.done and not reply.best_text:
            why = "; ".join(reply.errors) or "no reply"
            return _Finding(f"{why}; {transcript}", None), reply
        if self.speech_is_tone:
            return _Finding(f"the sample is a tone: inconclusive; {transcript}", None), reply
        text = reply.best_text.lower()
        if not text:
            return _Finding(f"a reply without text; {transcript}", None), reply
        if self.words.keyword in text:
            return _Finding(f"answers the input (keyword in the reply); {transcript}", True), reply
        return _Finding(
            f"as if nothing was said (no keyword in the reply); {transcript}", False
        ), reply

    # -- 7: cancel -------------------------------------------------------------------------------

    async def cancel_honoured(self) -> _Finding:
        conn = await self._open(self._config())
        try:
            if conn.update_error:
                return _Finding(f"session.update refused: {conn.update_error}", None)
            await conn.send(_user_item(self.words.story, "probe_story"))

            def on_event(event: dict[str, Any], r: _Reply) -> list[dict[str, Any]]:
                if r.t_cancel is None and r.t_first_audio is not None and not r.done:
                    r.t_cancel = time.perf_counter()
                    r.audio_at_cancel = len(r.pcm)
                    return [{"type": "response.cancel", "event_id": "probe_cancel"}]
                return []

            reply = await self._respond(conn, on_event=on_event)
        finally:
            await conn.aclose()
        if reply.t_cancel is None:
            why = "; ".join(reply.errors) or (
                f"response.done {reply.status} before any audio" if reply.done else "no audio"
            )
            return _Finding(f"nothing to cancel: {why}", None)
        after = (len(reply.pcm) - reply.audio_at_cancel) / 2 / RATE
        errors = f"; error {reply.errors[0]}" if reply.errors else ""
        audio = f"; {after:.1f} s of audio after it"
        if not reply.done or reply.t_done is None:
            return _Finding(
                f"still running {self.o.cancel_wait:g} s after response.cancel{audio}{errors}",
                False,
            )
        took = _s(reply.t_done - reply.t_cancel)
        if reply.status == "cancelled":
            return _Finding(f"response.done cancelled {took} after it{audio}{errors}", True)
        if reply.status == "completed":
            return _Finding(
                f"ran on: response.done completed {took} after it{audio}{errors}", False
            )
        return _Finding(f"response.done {reply.status} {took} after it{errors}", None)

    # -- 9: web search ---------------------------------------------------------------------------

    async def web_search_events(self) -> _Finding:
        if not self.profile.web_search:
            return _Finding("not offered by the provider (skipped)", ())
        conn = await self._open(self._config(tools=(WEB_SEARCH_TOOL,)))
        try:
            if conn.update_error:
                return _Finding(f"session.update refused: {conn.update_error}", ())
            await conn.send(_user_item(self.words.news, "probe_news"))
            reply = await self._respond(conn)
        finally:
            await conn.aclose()
        answered = reply.seconds() > 0 or bool(reply.best_text)
        answer = f"answered ({reply.seconds():.1f} s of audio)" if answered else "no answer"
        if not reply.done:
            answer += f"; no response.done ({conn.close_text or 'timed out'})"
        extras = tuple(reply.extras)
        if not extras:
            return _Finding(f"none beyond a plain answer; {answer}", ())
        calls = f"; calls reaching the client: {', '.join(reply.calls)}" if reply.calls else ""
        return _Finding(f"{', '.join(_short(e) for e in extras)}{calls}; {answer}", extras)

    # -- 10: the session quota -------------------------------------------------------------------

    async def quota_refusal(self) -> _Finding:
        quota = self.profile.concurrent_sessions
        if quota is None:
            return _Finding("no quota documented (skipped)", "")
        conns: list[_Conn] = []
        try:
            for n in range(1, (self.o.quota_sessions or quota + 1) + 1):
                if n > 1:
                    await asyncio.sleep(self.o.quota_spacing)
                try:
                    conn = await self._connect()
                except _NoSession as exc:
                    if exc.status is None:
                        return _Finding(f"session {n}: {exc}", "")
                    return _Finding(
                        f"HTTP {exc.status} on the handshake of session {n}", f"http_{exc.status}"
                    )
                conns.append(conn)
                first = await conn.until(
                    lambda e: _kind(e) in ("session.created", "error"), self.o.event_timeout
                )
                if first is None or _kind(first) == "error":
                    why = _error_text(first) if first else conn.close_text or "no session.created"
                    return _Finding(f"session {n} accepted, then {why}", "error_event")
            await asyncio.gather(*(conn.drain(self.o.settle) for conn in conns))
            for n, conn in enumerate(conns, 1):
                errors = [_error_text(e) for _, e in conn.events if _kind(e) == "error"]
                if errors or conn.closed:
                    why = errors[0] if errors else conn.close_text
                    return _Finding(f"session {n} accepted, then {why}", "error_event")
            return _Finding(f"all {len(conns)} sessions accepted", "accepted")
        finally:
            await asyncio.gather(*(conn.aclose() for conn in conns))


def _rate(event: dict[str, Any], direction: str) -> object:
    session = event.get("session") or {}
    audio = session.get("audio") if isinstance(session, dict) else None
    side = audio.get(direction) if isinstance(audio, dict) else None
    fmt = side.get("format") if isinstance(side, dict) else None
    return fmt.get("rate") if isinstance(fmt, dict) else None


def _rate_text(rate: object) -> str:
    return str(rate) if isinstance(rate, int) else "null" if rate is None else repr(rate)


def _short(kind: str) -> str:
    return kind.removeprefix("response.")


def _transcript_timing(marks: dict[str, float], reply: _Reply) -> str:
    if "transcript" not in marks:
        return "no input transcript"
    after = marks["transcript"] - marks["committed"]
    if reply.t_done is not None and marks["transcript"] > reply.t_done:
        return f"input transcript after response.done (+{_s(after)} from the commit)"
    return f"input transcript +{_s(after)} after the commit"


def _text_finding(replies: list[_Reply]) -> _Finding:
    parts: dict[str, set[int]] = {}
    audio_parts: set[int] = set()
    for reply in replies:
        for kind in reply.text_types:
            parts.setdefault(kind, set()).update(reply.text_parts.get(kind, ()))
        audio_parts |= reply.audio_parts
    if not parts:
        return _Finding("no text events", ())

    def where(values: set[int]) -> str:
        return f" (part {','.join(map(str, sorted(values)))})" if values else ""

    texts = ", ".join(f"{_short(kind)}{where(values)}" for kind, values in parts.items())
    audio = f"; audio on part {','.join(map(str, sorted(audio_parts)))}" if audio_parts else ""
    return _Finding(f"{texts}{audio}", tuple(parts))


async def probe(
    endpoint: Endpoint,
    profile: Profile,
    *,
    model: str,
    voice: str,
    transcription_model: str = "",
    turn_detection: TurnDetection = "server_vad",
    options: ProbeOptions | None = None,
    on_step: Callable[[str], None] = lambda _: None,
) -> ProbeReport:
    """Ask every question of the provider at ``endpoint``; ``on_step`` hears of each before it
    is asked. Raises ``Unreachable`` when not even the first session could be had."""
    p = _Prober(
        endpoint,
        profile,
        voice=voice,
        transcription_model=transcription_model,
        turn_detection=turn_detection,
        options=options or ProbeOptions(),
        on_step=on_step,
    )
    expected = profile.documented
    found: dict[str, _Finding] = {}

    on_step("speech sample: asking the model to say a word")
    sample = await p.sample()
    replies = [sample]

    async def ask(rule: str, what: str, question: Callable[[], Any], empty: Any = None) -> None:
        on_step(f"{rule}: {what}")
        try:
            found[rule] = await question()
        except _NoSession as exc:
            found[rule] = _Finding(f"no session: {exc}", empty)

    await ask("assistant_items", "an assistant item as history", p.assistant_items)
    await ask("rates_echoed", "the rates in session.updated", p.rates_echoed)
    await ask("pings_answered", "a WebSocket ping", p.pings_answered)
    await ask(
        "create_response_honoured", "server VAD, create_response false", p.create_response_honoured
    )
    await ask("manual_turns_honoured", "turn_detection null", p.manual_turns_honoured)

    on_step("create_after_commit: response.create at once on the commit")
    try:
        found["create_after_commit"], reply = await p.create_after_commit()
        if reply is not None:
            replies.append(reply)
    except _NoSession as exc:
        found["create_after_commit"] = _Finding(f"no session: {exc}", None)
    await ask("cancel_honoured", "response.cancel after the first audio", p.cancel_honoured)
    found["text_events"] = _text_finding(replies)
    await ask("web_search_events", "a question for the web", p.web_search_events, ())
    await ask("quota_refusal", "sessions past the quota", p.quota_refusal, "")

    traits = ProviderTraits(
        provider=endpoint.provider,
        model=model,
        probed_at=time.time(),
        **{rule: found[rule].value for rule in RULES},
    )
    rows = [Row(rule, expected.get(rule, "-"), found[rule].seen) for rule in RULES]
    latencies = {
        "connect": p.connects,
        "session.update -> session.updated": p.updates,
        "response.create -> first audio": p.first_audio,
    }
    return ProbeReport(traits=traits, rows=rows, latencies=latencies, notes=p.notes)
