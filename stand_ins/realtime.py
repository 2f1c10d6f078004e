"""A local WebSocket server speaking the Realtime protocol (GA event names) for tests and benches.

It behaves like Yandex AI Studio's ``speech-realtime-250923`` as far as a voice client can tell:
``session.created`` on connect, ``session.update`` deep-merged into the effective session, silent
``input_audio_buffer.append``, server VAD that commits by itself at pauses, manual commits with the
``input_audio_buffer_commit_empty`` error, and responses whose audio is a sine tone at whatever
output rate the client asked for. Failure modes (refused handshakes, error events, failed or
incomplete responses, dropped or hanging connections) are chosen per session with `Scenario`.

Every session is recorded in a `RecordedSession` (path, headers, client events, the effective
session, all appended PCM, validation errors of the client's events) so tests can assert on what a
client sent. `validate_client_event` checks one client event against openai-python's GA types,
allowing only Yandex's documented deviation (an output rate other than 24000).
"""

from __future__ import annotations

import asyncio
import base64
import binascii
import contextlib
import copy
import functools
import itertools
import math
import re
import secrets
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field, replace
from http import HTTPStatus
from typing import Annotated, Any, ClassVar, Literal
from urllib.parse import parse_qs, urlsplit

import numpy as np
import orjson
from openai.types.realtime import RealtimeClientEvent
from pydantic import Field, TypeAdapter, ValidationError
from websockets.asyncio.server import Server, ServerConnection, serve
from websockets.exceptions import ConnectionClosed
from websockets.http11 import Request, Response

__all__ = [
    "Failure",
    "RealtimeStandIn",
    "RecordedSession",
    "Scenario",
    "validate_client_event",
]

Failure = Literal[
    "reject_401",
    "reject_500",
    "error_on_update",
    "invalid_api_key",
    "response_failed",
    "response_incomplete",
    "drop_before_created",
    "drop_mid_response",
    "hang_after_create",
    "hang_silent",
    "error_on_create",
    "reject_items",
]

DEFAULT_MODEL = "speech-realtime-250923"
DEFAULT_RATE = 24000
# Level above which a 20 ms frame counts as speech (RMS, as a fraction of full scale).
VAD_SPEECH_RMS = 0.02
VAD_FRAME_MS = 20
# Shortest buffer a manual commit accepts, as on OpenAI and Yandex.
MIN_COMMIT_MS = 100.0
# With realtime_factor 0 every delta is sent back to back; yielding this often keeps the event
# loop (and the client under test, which usually shares it) responsive during long replies.
YIELD_EVERY_CHUNKS = 8

# Building the adapter takes a noticeable fraction of a second, so it is done once.
_CLIENT_EVENT_ADAPTER: TypeAdapter[Any] = TypeAdapter(
    Annotated[RealtimeClientEvent, Field(discriminator="type")]
)


def validate_client_event(event: dict[str, Any]) -> str | None:
    """Check one client event against openai-python's GA ``RealtimeClientEvent`` types.

    Returns None when the event is valid and the validation error's text otherwise. The one
    allowed deviation is Yandex's: in ``session.update``, ``session.audio.output.format.rate`` may
    be any value (it is replaced by 24000 in a copy before validating). The event is not modified.
    """
    candidate: Any = event
    if isinstance(event, dict) and event.get("type") == "session.update":
        fmt = _dig(event, "session", "audio", "output", "format")
        if isinstance(fmt, dict) and "rate" in fmt and fmt["rate"] != DEFAULT_RATE:
            # Copy only when patching: append events are large and validated on every call.
            candidate = copy.deepcopy(event)
            candidate["session"]["audio"]["output"]["format"]["rate"] = DEFAULT_RATE
    try:
        _CLIENT_EVENT_ADAPTER.validate_python(candidate)
    except ValidationError as exc:
        return str(exc)
    return None


@dataclass
class Scenario:
    """How the stand-in behaves in a session. Read once when a connection's handshake arrives,
    so changing it affects later sessions only."""

    reply_hz: float = 880.0
    """Frequency of the sine tone that forms the reply audio."""
    reply_seconds: float = 1.0
    """Length of the reply audio; the deltas hold exactly round(reply_seconds * rate) samples."""
    reply_text: str = "Hello from the stand-in."
    """Text of the reply, split into word deltas spread over the audio deltas."""
    text_kind: Literal["output_text", "audio_transcript", "both", "none"] = "audio_transcript"
    """Which text deltas to send: ``response.output_text.*`` (as a second content part, index 1),
    ``response.output_audio_transcript.*`` (on the audio part, index 0), both, or none."""
    time_to_first_audio: float = 0.0
    """Seconds between receiving ``response.create`` and sending the first audio delta."""
    realtime_factor: float = 0.0
    """0 sends all deltas at once; otherwise chunk i is sent at
    t_first + i * chunk_ms / 1000 / realtime_factor (1.0 is real time, 2.0 twice as fast)."""
    chunk_ms: int = 100
    """Audio per delta, in milliseconds; the last delta may be shorter."""
    vad_commits: bool = True
    """With ``server_vad`` turn detection, commit by itself after speech followed by
    ``silence_duration_ms`` of near-silence, emitting speech_started/stopped, committed and the
    user item events, and clearing the buffer."""
    failure: Failure | None = None
    """Failure mode of the session, None for normal behaviour:

    - ``reject_401`` / ``reject_500``: the handshake is refused with HTTP 401 / 500.
    - ``error_on_update``: every session.update is answered by an ``invalid_request_error`` error
      event (code ``invalid_value``) instead of session.updated; the session is left unchanged.
    - ``invalid_api_key``: session.created, then an ``invalid_request_error`` error with code
      ``invalid_api_key``, then the server closes the connection (code 1008).
    - ``response_failed``: response.created, then response.done with status ``failed`` and
      ``status_details.error`` (type ``server_error``); no output.
    - ``response_incomplete``: about half the deltas, the closing events, then response.done with
      status ``incomplete`` and reason ``max_output_tokens``.
    - ``drop_before_created``: the TCP connection is aborted right after the handshake.
    - ``drop_mid_response``: the TCP connection is aborted (no close frame) after the first audio
      delta.
    - ``hang_after_create``: response.create is recorded and never answered.
    - ``hang_silent``: the server sends nothing at all after the handshake (client events are
      still recorded).
    - ``error_on_create``: response.create is answered by a ``server_error`` error event.
    """
    transcript: str | None = "What the user said."
    """Transcript sent in ``conversation.item.input_audio_transcription.completed`` after each
    commit when the session asks for input transcription (without ``usage``, as Yandex does).
    None sends no transcription events."""
    usage: bool = True
    """Include ``usage`` in ``response.done``."""
    vad_auto_response: bool = False
    """When True and the session's server_vad has ``create_response`` true (or unset), a VAD commit
    starts a response by itself, as OpenAI does. Off by default: clients are expected to turn it
    off and ask for responses themselves."""


@dataclass
class RecordedSession:
    """What one connection (or refused handshake) looked like from the server's side."""

    path: str
    """Request path with query, e.g. ``/v1/realtime?model=gpt://folder/speech-realtime-250923``."""
    headers: dict[str, str]
    """Request headers with lower-case names (repeated headers joined with ", ")."""
    client_events: list[dict[str, Any]] = field(default_factory=list)
    """Every JSON object the client sent, parsed, in order (append payloads kept as sent)."""
    event_types: list[str] = field(default_factory=list)
    """The ``type`` of each entry of `client_events`."""
    session: dict[str, Any] = field(default_factory=dict)
    """The effective session config after all session.update events."""
    input_pcm: bytearray = field(default_factory=bytearray)
    """All PCM16 bytes the client appended, decoded, in order, regardless of commits."""
    committed_chunks: int = 0
    """How many commits happened (server VAD and client commits that succeeded)."""
    invalid: list[str] = field(default_factory=list)
    """Validation errors of client events (see `validate_client_event`); normally empty."""
    t_connected: float = 0.0
    """time.perf_counter() when the handshake request arrived."""
    t_response_create: float | None = None
    """time.perf_counter() when the last response.create arrived."""
    t_response_done_sent: float | None = None
    """time.perf_counter() just before the last response.done was sent."""
    closed_by_client: bool = False
    """True when the connection ended without the server closing it (client close or drop)."""
    server_event_types: list[str] = field(default_factory=list)
    """The ``type`` of every event the server sent, in order."""
    ended: bool = False
    """True once the connection is closed (at once for refused handshakes)."""


class RealtimeStandIn:
    """A Realtime server on a free local port.

    Use ``async with RealtimeStandIn() as server:`` and connect to `url` (any path and query are
    accepted) with ``Authorization: Api-Key <api_key>`` or ``Bearer <api_key>``; anything else is
    refused with HTTP 401. `scenario` may be replaced or changed between sessions; `sessions`
    lists one `RecordedSession` per handshake, refused ones included, in arrival order.

    Behaviour worth knowing:

    - The session starts with server_vad turn detection (silence 200 ms, create_response true).
      A VAD commit starts a response only with `Scenario.vad_auto_response`; interrupt_response
      is not emulated.
    - The VAD counts a 20 ms frame as speech when its RMS exceeds 0.02 of full scale (the
      session's ``threshold`` is not used); positions in its events are on the timeline of all
      audio appended in the session.
    - Client events that fail `validate_client_event` are recorded in ``invalid`` and otherwise
      handled as well as possible; only unknown types get an ``unknown_event`` error.
      ``input_audio_buffer.clear`` and ``output_audio_buffer.clear`` get that error too, since
      Yandex does not support them.
    - A second response.create while a response runs gets
      ``conversation_already_has_active_response``; response.cancel without one gets
      ``response_cancel_not_active``.
    - The server offers no permessage-deflate, so it costs no CPU in benches; clients that ask
      for it connect uncompressed.
    """

    def __init__(
        self,
        *,
        api_key: str = "test-key",
        scenario: Scenario | None = None,
        host: str = "127.0.0.1",
    ) -> None:
        self.api_key = api_key
        self.scenario: Scenario = scenario if scenario is not None else Scenario()
        self.sessions: list[RecordedSession] = []
        self.host = host
        self.url: str = ""
        self._server: Server | None = None
        self._pending: dict[ServerConnection, tuple[RecordedSession, Scenario]] = {}
        self._ended_changed: asyncio.Event | None = None
        self._stopping = False

    async def start(self) -> None:
        """Listen on a free port and set `url` to ``ws://HOST:PORT/v1/realtime``."""
        # Created here so the event belongs to the loop that runs the server.
        self._ended_changed = asyncio.Event()
        self._stopping = False
        self._server = await serve(
            self._handle,
            self.host,
            0,
            process_request=self._process_request,
            process_response=self._process_response,
            # Append events and replies can be large; the real service has no 1 MiB limit.
            max_size=None,
            # Offering no compression saves CPU in benches; clients with or without it connect.
            compression=None,
            # A client that never answers the close frame must not hold up stop() for long.
            close_timeout=1.0,
        )
        port = self._server.sockets[0].getsockname()[1]
        self.url = f"ws://{self.host}:{port}/v1/realtime"

    async def stop(self) -> None:
        """Close all connections (code 1001) and the listener; returns within a few seconds even
        when sessions hang or clients do not answer the close frame."""
        server, self._server = self._server, None
        if server is None:
            return
        self._stopping = True
        server.close()
        try:
            async with asyncio.timeout(3.0):
                await server.wait_closed()
        except TimeoutError:
            for conn in list(server.connections):
                conn.transport.abort()
            await server.wait_closed()

    async def __aenter__(self) -> RealtimeStandIn:
        await self.start()
        return self

    async def __aexit__(self, *exc_info: object) -> None:
        await self.stop()

    async def wait_sessions(self, n: int, timeout: float = 10.0) -> None:
        """Wait until at least n sessions have ended (connection closed or handshake refused).

        Raises TimeoutError when that does not happen within timeout seconds.
        """
        if self._ended_changed is None:
            self._ended_changed = asyncio.Event()
        changed = self._ended_changed
        try:
            async with asyncio.timeout(timeout):
                while sum(1 for s in self.sessions if s.ended) < n:
                    changed.clear()
                    await changed.wait()
        except TimeoutError:
            done = sum(1 for s in self.sessions if s.ended)
            raise TimeoutError(f"only {done} of {n} sessions ended within {timeout} s") from None

    def _mark_ended(self, rec: RecordedSession) -> None:
        rec.ended = True
        if self._ended_changed is not None:
            self._ended_changed.set()

    def _process_request(self, connection: ServerConnection, request: Request) -> Response | None:
        headers: dict[str, str] = {}
        for name, value in request.headers.raw_items():
            key = name.lower()
            headers[key] = f"{headers[key]}, {value}" if key in headers else value
        rec = RecordedSession(path=request.path, headers=headers, t_connected=time.perf_counter())
        scenario = replace(self.scenario)
        self.sessions.append(rec)
        refusal: Response | None = None
        if not self._authorized(headers.get("authorization", "")) or (
            scenario.failure == "reject_401"
        ):
            refusal = connection.respond(HTTPStatus.UNAUTHORIZED, "Unauthorized\n")
        elif scenario.failure == "reject_500":
            refusal = connection.respond(HTTPStatus.INTERNAL_SERVER_ERROR, "Internal error\n")
        if refusal is not None:
            self._mark_ended(rec)
            return refusal
        self._pending[connection] = (rec, scenario)
        return None

    def _process_response(
        self, connection: ServerConnection, request: Request, response: Response
    ) -> None:
        # A handshake that fails after process_request (e.g. not an upgrade) never reaches the
        # handler; end its record here so wait_sessions() does not wait for it forever.
        if response.status_code != HTTPStatus.SWITCHING_PROTOCOLS:
            pending = self._pending.pop(connection, None)
            if pending is not None:
                self._mark_ended(pending[0])

    def _authorized(self, value: str) -> bool:
        scheme, _, credentials = value.strip().partition(" ")
        return scheme.lower() in ("api-key", "bearer") and credentials.strip() == self.api_key

    async def _handle(self, connection: ServerConnection) -> None:
        rec, scenario = self._pending.pop(connection)
        session = _Session(connection, rec, scenario)
        try:
            await session.run()
        finally:
            await session.cleanup()
            rec.closed_by_client = not (self._stopping or session.server_closed)
            self._mark_ended(rec)


def _dig(obj: Any, *keys: str) -> Any:
    """obj[k1][k2]... or None when any level is missing or not a dict."""
    for key in keys:
        if not isinstance(obj, dict):
            return None
        obj = obj.get(key)
    return obj


def _deep_merge(dst: dict[str, Any], src: dict[str, Any]) -> None:
    """Merge src into dst in place: nested dicts merge, anything else (None included) overwrites.

    A nested dict whose ``type`` changes replaces the old one, so switching e.g. turn detection
    from server_vad to semantic_vad does not keep server_vad's fields.
    """
    for key, value in src.items():
        old = dst.get(key)
        if (
            isinstance(value, dict)
            and isinstance(old, dict)
            and ("type" not in value or value.get("type") == old.get("type"))
        ):
            _deep_merge(old, value)
        else:
            dst[key] = copy.deepcopy(value)


def _split_words(text: str) -> list[str]:
    """Split text into word deltas whose concatenation is exactly the text."""
    return re.findall(r"\s*\S+|\s+$", text)


@functools.lru_cache(maxsize=32)
def _tone_chunks(hz: float, seconds: float, rate: int, chunk_ms: int) -> tuple[str, ...]:
    """Base64 PCM16 LE mono chunks of a sine tone at amplitude 0.5, cached because benches ask
    for the same reply in every session."""
    n = max(0, round(seconds * rate))
    phase = np.arange(n, dtype=np.float64) * (2.0 * math.pi * hz / rate)
    pcm = np.round(np.sin(phase) * (0.5 * 32767.0)).astype("<i2").tobytes()
    step = max(1, round(rate * chunk_ms / 1000)) * 2
    return tuple(
        base64.b64encode(pcm[i : i + step]).decode("ascii") for i in range(0, len(pcm), step)
    )


class _Vad:
    """Energy-based server VAD over 20 ms frames, vectorised per append.

    Positions are absolute byte offsets into everything the client appended, so a commit point
    can be mapped onto the input buffer whatever commits happened in between.
    """

    def __init__(self) -> None:
        self.rate = DEFAULT_RATE
        self.silence_ms = 200
        self.prefix_ms = 300
        self.done = 0  # absolute byte offset up to which frames have been analysed
        self.pending = b""  # bytes after `done` that do not fill a frame yet
        self.in_speech = False
        self.silence_frames = 0  # silent frames since the last speech frame, across appends

    @property
    def frame_bytes(self) -> int:
        return max(1, self.rate * VAD_FRAME_MS // 1000) * 2

    def configure(self, rate: int, turn_detection: dict[str, Any]) -> None:
        self.rate = rate
        silence = turn_detection.get("silence_duration_ms")
        prefix = turn_detection.get("prefix_padding_ms")
        self.silence_ms = int(silence) if silence is not None else 200
        self.prefix_ms = int(prefix) if prefix is not None else 300

    def reset(self) -> None:
        self.in_speech = False
        self.silence_frames = 0

    def skip(self, data_len: int) -> None:
        """Advance past audio appended while VAD is off."""
        self.done += len(self.pending) + data_len
        self.pending = b""
        self.reset()

    def ms_at(self, offset: int) -> int:
        return round(offset / 2 / self.rate * 1000)

    def feed(self, data: bytes) -> list[tuple[str, int]]:
        """Analyse newly appended bytes; return ("start" | "stop", absolute byte offset) events.

        "stop" offsets are commit points: the end of the silence that ended the speech.
        """
        buf = self.pending + data if self.pending else data
        fb = self.frame_bytes
        n = len(buf) // fb
        base = self.done
        self.pending = bytes(buf[n * fb :])
        self.done += n * fb
        if n == 0:
            return []
        frames = np.frombuffer(buf, dtype="<i2", count=n * fb // 2).reshape(n, fb // 2)
        power = np.square(frames.astype(np.float32) / 32768.0).mean(axis=1)
        speech = power > VAD_SPEECH_RMS**2
        need = max(1, math.ceil(self.silence_ms / VAD_FRAME_MS))
        events: list[tuple[str, int]] = []
        pos = 0
        # The loop runs once per speech start or stop, never per frame.
        while pos < n:
            seg = speech[pos:]
            hits = np.flatnonzero(seg)
            if not self.in_speech:
                if hits.size == 0:
                    break
                pos += int(hits[0])
                events.append(("start", base + pos * fb))
                self.in_speech = True
                self.silence_frames = 0
                pos += 1
                continue
            # Treat the silence carried over from earlier appends as following a virtual speech
            # frame before the segment, then look for the first gap of `need` silent frames.
            marks = np.concatenate(([-1 - self.silence_frames], hits))
            gaps = np.flatnonzero(np.diff(marks) - 1 >= need)
            if gaps.size:
                end = int(marks[gaps[0]]) + 1 + need
            else:
                tail = seg.size - 1 - int(marks[-1])
                if tail < need:
                    self.silence_frames = tail
                    break
                end = int(marks[-1]) + 1 + need
            pos += end
            events.append(("stop", base + pos * fb))
            self.reset()
        return events


@dataclass
class _Response:
    """Progress of one response, shared between its task and response.cancel handling."""

    id: str
    item_id: str
    wake: asyncio.Event = field(default_factory=asyncio.Event)
    cancel_requested: bool = False
    item_started: bool = False
    audio_chunks: int = 0
    text: list[str] = field(default_factory=list)


class _Session:
    """One accepted connection: protocol handling and recording."""

    def __init__(self, ws: ServerConnection, rec: RecordedSession, scenario: Scenario) -> None:
        self.ws = ws
        self.rec = rec
        self.scenario = scenario
        self.prefix = secrets.token_hex(4)
        self.counter = itertools.count(1)
        self.silent = scenario.failure == "hang_silent"
        self.server_closed = False
        query = parse_qs(urlsplit(rec.path).query)
        model = query.get("model", [DEFAULT_MODEL])[0]
        rec.session = self._default_session(model)
        self.buffer = bytearray()
        self.buffer_start = 0  # absolute byte offset of buffer[0]
        self.vad = _Vad()
        self._configure_vad()
        self.speech_item_id: str | None = None
        self.last_item_id: str | None = None
        self.items: dict[str, dict[str, Any]] = {}
        self.committed_ms = 0.0
        self.active: _Response | None = None
        self.tasks: set[asyncio.Task[None]] = set()

    def new_id(self, kind: str) -> str:
        return f"{kind}_{self.prefix}{next(self.counter):05d}"

    def _default_session(self, model: str) -> dict[str, Any]:
        return {
            "type": "realtime",
            "object": "realtime.session",
            "id": self.new_id("sess"),
            "model": model,
            "output_modalities": ["audio"],
            "instructions": "",
            "tools": [],
            "tool_choice": "auto",
            "max_output_tokens": "inf",
            "tracing": None,
            "truncation": "auto",
            "prompt": None,
            "include": None,
            "expires_at": int(time.time()) + 300,
            "audio": {
                "input": {
                    "format": {"type": "audio/pcm", "rate": DEFAULT_RATE},
                    "transcription": None,
                    "noise_reduction": None,
                    "turn_detection": {
                        "type": "server_vad",
                        "threshold": 0.5,
                        "prefix_padding_ms": 300,
                        "silence_duration_ms": 200,
                        "idle_timeout_ms": None,
                        "create_response": True,
                        "interrupt_response": True,
                    },
                },
                "output": {
                    "format": {"type": "audio/pcm", "rate": DEFAULT_RATE},
                    "voice": "marina",
                    "speed": 1.0,
                },
            },
        }

    # -- session config ---------------------------------------------------------------------

    @property
    def input_rate(self) -> int:
        rate = _dig(self.rec.session, "audio", "input", "format", "rate")
        return int(rate) if isinstance(rate, int | float) and rate > 0 else DEFAULT_RATE

    @property
    def output_rate(self) -> int:
        rate = _dig(self.rec.session, "audio", "output", "format", "rate")
        return int(rate) if isinstance(rate, int | float) and rate > 0 else DEFAULT_RATE

    @property
    def turn_detection(self) -> dict[str, Any] | None:
        td = _dig(self.rec.session, "audio", "input", "turn_detection")
        return td if isinstance(td, dict) else None

    @property
    def vad_active(self) -> bool:
        td = self.turn_detection
        return self.scenario.vad_commits and td is not None and td.get("type") == "server_vad"

    def _configure_vad(self) -> None:
        td = self.turn_detection
        if td is not None:
            self.vad.configure(self.input_rate, td)
        if not self.vad_active:
            self.vad.reset()

    # -- transport --------------------------------------------------------------------------

    async def send(self, event: dict[str, Any]) -> None:
        if self.silent:
            return
        event["event_id"] = self.new_id("event")
        self.rec.server_event_types.append(event["type"])
        await self.ws.send(orjson.dumps(event), text=True)

    async def error(
        self,
        err_type: str,
        code: str | None,
        message: str,
        *,
        param: str | None = None,
        client_event_id: str | None = None,
    ) -> None:
        await self.send(
            {
                "type": "error",
                "error": {
                    "type": err_type,
                    "code": code,
                    "message": message,
                    "param": param,
                    "event_id": client_event_id,
                },
            }
        )

    def abort(self) -> None:
        """Drop the TCP connection without a close frame."""
        self.server_closed = True
        self.ws.transport.abort()

    async def run(self) -> None:
        failure = self.scenario.failure
        try:
            if failure == "drop_before_created":
                self.abort()
                return
            await self.send({"type": "session.created", "session": self.rec.session})
            if failure == "invalid_api_key":
                await self.error(
                    "invalid_request_error", "invalid_api_key", "Incorrect API key provided."
                )
                self.server_closed = True
                await self.ws.close(1008, "invalid_api_key")
                return
            while True:
                message = await self.ws.recv()
                await self.on_message(message)
        except ConnectionClosed:
            # The client closed or dropped the connection; that is how sessions normally end.
            pass

    async def cleanup(self) -> None:
        for task in list(self.tasks):
            task.cancel()
        for task in list(self.tasks):
            with contextlib.suppress(asyncio.CancelledError):
                await task

    # -- client events ----------------------------------------------------------------------

    async def on_message(self, message: str | bytes) -> None:
        if isinstance(message, bytes):
            self.rec.invalid.append(f"binary frame of {len(message)} bytes")
            await self.error("invalid_request_error", "invalid_event", "Expected a text frame.")
            return
        try:
            event = orjson.loads(message)
        except orjson.JSONDecodeError as exc:
            self.rec.invalid.append(f"not JSON: {exc}")
            await self.error("invalid_request_error", "invalid_json", f"Invalid JSON: {exc}")
            return
        if not isinstance(event, dict) or not isinstance(event.get("type"), str):
            self.rec.invalid.append(f"not an event object: {message[:200]!r}")
            await self.error("invalid_request_error", "invalid_event", "Missing event type.")
            return
        etype: str = event["type"]
        self.rec.client_events.append(event)
        self.rec.event_types.append(etype)
        problem = validate_client_event(event)
        if problem is not None:
            self.rec.invalid.append(f"{etype}: {problem}")
        handler = self.handlers.get(etype)
        client_event_id = event.get("event_id")
        if handler is None:
            await self.error(
                "invalid_request_error",
                "unknown_event",
                f"Unsupported event type: '{etype}'.",
                param="type",
                client_event_id=client_event_id,
            )
            return
        await handler(self, event)

    async def on_session_update(self, event: dict[str, Any]) -> None:
        if self.scenario.failure == "error_on_update":
            await self.error(
                "invalid_request_error",
                "invalid_value",
                "Invalid session configuration.",
                param="session",
                client_event_id=event.get("event_id"),
            )
            return
        update = event.get("session")
        if isinstance(update, dict):
            _deep_merge(self.rec.session, update)
            self._configure_vad()
        await self.send({"type": "session.updated", "session": self.rec.session})

    async def on_append(self, event: dict[str, Any]) -> None:
        audio = event.get("audio")
        try:
            data = base64.b64decode(audio, validate=True) if isinstance(audio, str) else b""
        except (binascii.Error, ValueError) as exc:
            self.rec.invalid.append(f"input_audio_buffer.append: bad base64: {exc}")
            return
        self.rec.input_pcm += data
        self.buffer += data
        if not self.vad_active:
            self.vad.skip(len(data))
            return
        for kind, offset in self.vad.feed(data):
            if kind == "start":
                self.speech_item_id = self.new_id("item")
                start_ms = max(0, self.vad.ms_at(offset) - self.vad.prefix_ms)
                await self.send(
                    {
                        "type": "input_audio_buffer.speech_started",
                        "audio_start_ms": start_ms,
                        "item_id": self.speech_item_id,
                    }
                )
            else:
                item_id = self.speech_item_id or self.new_id("item")
                self.speech_item_id = None
                await self.send(
                    {
                        "type": "input_audio_buffer.speech_stopped",
                        "audio_end_ms": self.vad.ms_at(offset),
                        "item_id": item_id,
                    }
                )
                cut = offset - self.buffer_start
                if cut > 0:
                    await self.commit(cut, item_id)
                    td = self.turn_detection or {}
                    if (
                        self.scenario.vad_auto_response
                        and td.get("create_response", True) is not False
                        and self.active is None
                    ):
                        await self.start_response()

    async def on_commit(self, event: dict[str, Any]) -> None:
        have_ms = len(self.buffer) / 2 / self.input_rate * 1000
        if have_ms < MIN_COMMIT_MS:
            await self.error(
                "invalid_request_error",
                "input_audio_buffer_commit_empty",
                "Error committing input audio buffer: buffer too small. Expected at least "
                f"{MIN_COMMIT_MS:.0f}ms of audio, but buffer only has {have_ms:.2f}ms of audio.",
                client_event_id=event.get("event_id"),
            )
            return
        item_id = self.speech_item_id or self.new_id("item")
        self.speech_item_id = None
        # A manual commit ends any speech the VAD was tracking: that audio is committed now.
        self.vad.reset()
        await self.commit(len(self.buffer), item_id)

    async def commit(self, nbytes: int, item_id: str) -> None:
        """Commit the first nbytes of the buffer as a user audio item."""
        del self.buffer[:nbytes]
        self.buffer_start += nbytes
        self.committed_ms += nbytes / 2 / self.input_rate * 1000
        self.rec.committed_chunks += 1
        previous = self.last_item_id
        self.last_item_id = item_id
        item = {
            "id": item_id,
            "object": "realtime.item",
            "type": "message",
            "role": "user",
            "status": "completed",
            "content": [{"type": "input_audio", "transcript": None}],
        }
        self.items[item_id] = item
        await self.send(
            {
                "type": "input_audio_buffer.committed",
                "item_id": item_id,
                "previous_item_id": previous,
            }
        )
        await self.send(
            {"type": "conversation.item.added", "item": item, "previous_item_id": previous}
        )
        await self.send(
            {"type": "conversation.item.done", "item": item, "previous_item_id": previous}
        )
        if _dig(self.rec.session, "audio", "input", "transcription") and (
            self.scenario.transcript is not None
        ):
            # No "usage": Yandex sends this event without it.
            await self.send(
                {
                    "type": "conversation.item.input_audio_transcription.completed",
                    "item_id": item_id,
                    "content_index": 0,
                    "transcript": self.scenario.transcript,
                }
            )

    async def on_clear(self, event: dict[str, Any]) -> None:
        # Yandex documents both clear events as unsupported; a client relying on them would break.
        await self.error(
            "invalid_request_error",
            "unknown_event",
            f"Unsupported event type: '{event['type']}'.",
            param="type",
            client_event_id=event.get("event_id"),
        )

    async def on_item_create(self, event: dict[str, Any]) -> None:
        if self.scenario.failure == "reject_items":
            # A provider that does not take context items: refused, as OpenAI refuses bad ones.
            await self.error(
                "invalid_request_error", "invalid_value", "conversation items are not supported",
                param="item", client_event_id=event.get("event_id"),
            )  # fmt: skip
            return
        raw = event.get("item")
        item: dict[str, Any] = copy.deepcopy(raw) if isinstance(raw, dict) else {}
        item.setdefault("id", self.new_id("item"))
        item["object"] = "realtime.item"
        item["status"] = "completed"
        previous = event.get("previous_item_id", self.last_item_id)
        self.last_item_id = item["id"]
        self.items[item["id"]] = item
        await self.send(
            {"type": "conversation.item.added", "item": item, "previous_item_id": previous}
        )
        await self.send(
            {"type": "conversation.item.done", "item": item, "previous_item_id": previous}
        )

    async def _unknown_item(self, event: dict[str, Any]) -> bool:
        if event.get("item_id") in self.items:
            return False
        await self.error(
            "invalid_request_error",
            "item_not_found",
            f"Item with item_id not found: {event.get('item_id')}",
            param="item_id",
            client_event_id=event.get("event_id"),
        )
        return True

    async def on_item_retrieve(self, event: dict[str, Any]) -> None:
        if not await self._unknown_item(event):
            item = self.items[event["item_id"]]
            await self.send({"type": "conversation.item.retrieved", "item": item})

    async def on_item_delete(self, event: dict[str, Any]) -> None:
        if not await self._unknown_item(event):
            del self.items[event["item_id"]]
            await self.send({"type": "conversation.item.deleted", "item_id": event["item_id"]})

    async def on_item_truncate(self, event: dict[str, Any]) -> None:
        if not await self._unknown_item(event):
            await self.send(
                {
                    "type": "conversation.item.truncated",
                    "item_id": event["item_id"],
                    "content_index": event.get("content_index", 0),
                    "audio_end_ms": event.get("audio_end_ms", 0),
                }
            )

    async def on_response_create(self, event: dict[str, Any]) -> None:
        self.rec.t_response_create = time.perf_counter()
        failure = self.scenario.failure
        if failure == "hang_after_create":
            return
        if failure == "error_on_create":
            await self.error(
                "server_error",
                "server_error",
                "The server had an error while processing your request.",
                client_event_id=event.get("event_id"),
            )
            return
        if self.active is not None:
            await self.error(
                "invalid_request_error",
                "conversation_already_has_active_response",
                f"Conversation already has an active response in progress: {self.active.id}.",
                client_event_id=event.get("event_id"),
            )
            return
        await self.start_response()

    async def on_response_cancel(self, event: dict[str, Any]) -> None:
        resp = self.active
        if resp is None or resp.cancel_requested:
            await self.error(
                "invalid_request_error",
                "response_cancel_not_active",
                "Cancellation failed: no active response found.",
                client_event_id=event.get("event_id"),
            )
            return
        # The response task notices at its next chunk (or at once if it is waiting) and sends
        # response.done with status cancelled itself, so events stay in order.
        resp.cancel_requested = True
        resp.wake.set()

    handlers: ClassVar[dict[str, Callable[[_Session, dict[str, Any]], Awaitable[None]]]] = {
        "session.update": on_session_update,
        "input_audio_buffer.append": on_append,
        "input_audio_buffer.commit": on_commit,
        "input_audio_buffer.clear": on_clear,
        "output_audio_buffer.clear": on_clear,
        "conversation.item.create": on_item_create,
        "conversation.item.retrieve": on_item_retrieve,
        "conversation.item.delete": on_item_delete,
        "conversation.item.truncate": on_item_truncate,
        "response.create": on_response_create,
        "response.cancel": on_response_cancel,
    }

    # -- responses --------------------------------------------------------------------------

    async def start_response(self) -> None:
        resp = _Response(id=self.new_id("resp"), item_id=self.new_id("item"))
        self.active = resp
        await self.send(
            {"type": "response.created", "response": self.response_obj(resp, "in_progress")}
        )
        task = asyncio.create_task(self.run_response(resp))
        self.tasks.add(task)
        task.add_done_callback(self.tasks.discard)

    def response_obj(
        self,
        resp: _Response,
        status: str,
        details: dict[str, Any] | None = None,
        output: list[dict[str, Any]] | None = None,
        *,
        usage: bool = False,
    ) -> dict[str, Any]:
        obj: dict[str, Any] = {
            "id": resp.id,
            "object": "realtime.response",
            "status": status,
            "status_details": details,
            "output": output or [],
            "conversation_id": f"conv_{self.prefix}",
            "output_modalities": ["audio"],
            "max_output_tokens": "inf",
            "metadata": None,
        }
        if usage:
            obj["usage"] = self.usage(resp)
        return obj

    def usage(self, resp: _Response) -> dict[str, Any]:
        # Plausible counts: 10 audio tokens per input second, 20 per output second.
        rate = self.output_rate
        chunk_samples = max(1, round(rate * self.scenario.chunk_ms / 1000))
        out_samples = min(
            resp.audio_chunks * chunk_samples, round(self.scenario.reply_seconds * rate)
        )
        audio_out = round(out_samples / rate * 20)
        text_out = len(resp.text)
        audio_in = round(self.committed_ms / 100)
        text_in = len(str(self.rec.session.get("instructions") or "").split())
        return {
            "total_tokens": audio_in + text_in + audio_out + text_out,
            "input_tokens": audio_in + text_in,
            "output_tokens": audio_out + text_out,
            "input_token_details": {
                "text_tokens": text_in,
                "audio_tokens": audio_in,
                "cached_tokens": 0,
            },
            "output_token_details": {"text_tokens": text_out, "audio_tokens": audio_out},
        }

    async def pause_until(self, resp: _Response, deadline: float) -> None:
        """Sleep until the perf_counter deadline, waking early on response.cancel."""
        delay = deadline - time.perf_counter()
        if delay <= 0 or resp.cancel_requested:
            return
        with contextlib.suppress(TimeoutError):
            async with asyncio.timeout(delay):
                await resp.wake.wait()

    async def run_response(self, resp: _Response) -> None:
        # The client may go away mid-response; the handler then ends the session.
        with contextlib.suppress(ConnectionClosed):
            await self._run_response(resp)

    async def _run_response(self, resp: _Response) -> None:
        sc = self.scenario
        t_create = self.rec.t_response_create or time.perf_counter()
        await self.pause_until(resp, t_create + sc.time_to_first_audio)
        if resp.cancel_requested:
            await self.finish(
                resp, "cancelled", {"type": "cancelled", "reason": "client_cancelled"}
            )
            return
        if sc.failure == "response_failed":
            details = {
                "type": "failed",
                "error": {
                    "type": "server_error",
                    "code": "internal_error",
                    "message": "The server had an error while processing your request.",
                },
            }
            await self.finish(resp, "failed", details)
            return

        with_transcript = sc.text_kind in ("audio_transcript", "both")
        with_text = sc.text_kind in ("output_text", "both")
        ids = {"response_id": resp.id, "item_id": resp.item_id, "output_index": 0}
        item = {
            "id": resp.item_id,
            "object": "realtime.item",
            "type": "message",
            "role": "assistant",
            "status": "in_progress",
            "content": [],
        }
        resp.item_started = True
        await self.send(
            {
                "type": "response.output_item.added",
                "response_id": resp.id,
                "output_index": 0,
                "item": item,
            }
        )
        await self.send(
            {
                "type": "response.content_part.added",
                **ids,
                "content_index": 0,
                "part": {"type": "audio", "transcript": ""},
            }
        )
        if with_text:
            await self.send(
                {
                    "type": "response.content_part.added",
                    **ids,
                    "content_index": 1,
                    "part": {"type": "text", "text": ""},
                }
            )

        chunks = _tone_chunks(sc.reply_hz, sc.reply_seconds, self.output_rate, sc.chunk_ms)
        words = _split_words(sc.reply_text) if (with_text or with_transcript) else []
        n_chunks = len(chunks)
        if sc.failure == "response_incomplete":
            n_chunks = max(1, n_chunks // 2) if n_chunks else 0
        # Word j goes out right after audio chunk j * len(chunks) // len(words), so text keeps
        # pace with the audio; with no audio at all every word goes out at once.
        total_chunks = len(chunks)
        bounds = [
            (i * len(words)) // total_chunks if total_chunks else len(words)
            for i in range(total_chunks + 1)
        ]
        audio_delta = {"type": "response.output_audio.delta", **ids, "content_index": 0}
        transcript_delta = {
            "type": "response.output_audio_transcript.delta",
            **ids,
            "content_index": 0,
        }
        text_delta = {"type": "response.output_text.delta", **ids, "content_index": 1}
        step = sc.chunk_ms / 1000 / sc.realtime_factor if sc.realtime_factor > 0 else 0.0
        t_first = time.perf_counter()
        word_pos = 0
        for i in range(n_chunks):
            if resp.cancel_requested:
                break
            if step:
                await self.pause_until(resp, t_first + i * step)
                if resp.cancel_requested:
                    break
            elif i and i % YIELD_EVERY_CHUNKS == 0:
                await asyncio.sleep(0)
            await self.send({**audio_delta, "delta": chunks[i]})
            resp.audio_chunks += 1
            if i == 0 and sc.failure == "drop_mid_response":
                self.abort()
                return
            for word in words[word_pos : bounds[i + 1]]:
                resp.text.append(word)
                if with_transcript:
                    await self.send({**transcript_delta, "delta": word})
                if with_text:
                    await self.send({**text_delta, "delta": word})
            word_pos = bounds[i + 1]
        if total_chunks == 0 and not resp.cancel_requested:
            for word in words:
                resp.text.append(word)
                if with_transcript:
                    await self.send({**transcript_delta, "delta": word})
                if with_text:
                    await self.send({**text_delta, "delta": word})

        if resp.cancel_requested:
            await self.finish(
                resp, "cancelled", {"type": "cancelled", "reason": "client_cancelled"}
            )
        elif sc.failure == "response_incomplete":
            await self.finish(
                resp, "incomplete", {"type": "incomplete", "reason": "max_output_tokens"}
            )
        else:
            await self.finish(resp, "completed", None)

    async def finish(self, resp: _Response, status: str, details: dict[str, Any] | None) -> None:
        """Send the closing events of a response (content parts, item, response.done)."""
        # Cleared first so a response.cancel arriving from here on is answered "not active".
        self.active = None
        sc = self.scenario
        output: list[dict[str, Any]] = []
        if resp.item_started:
            with_transcript = sc.text_kind in ("audio_transcript", "both")
            with_text = sc.text_kind in ("output_text", "both")
            ids = {"response_id": resp.id, "item_id": resp.item_id, "output_index": 0}
            text = "".join(resp.text)
            await self.send({"type": "response.output_audio.done", **ids, "content_index": 0})
            if with_transcript:
                await self.send(
                    {
                        "type": "response.output_audio_transcript.done",
                        **ids,
                        "content_index": 0,
                        "transcript": text,
                    }
                )
            if with_text:
                await self.send(
                    {"type": "response.output_text.done", **ids, "content_index": 1, "text": text}
                )
            await self.send(
                {
                    "type": "response.content_part.done",
                    **ids,
                    "content_index": 0,
                    "part": {"type": "audio", "transcript": text if with_transcript else None},
                }
            )
            content: list[dict[str, Any]] = [
                {"type": "output_audio", "transcript": text if with_transcript else None}
            ]
            if with_text:
                await self.send(
                    {
                        "type": "response.content_part.done",
                        **ids,
                        "content_index": 1,
                        "part": {"type": "text", "text": text},
                    }
                )
                content.append({"type": "output_text", "text": text})
            item = {
                "id": resp.item_id,
                "object": "realtime.item",
                "type": "message",
                "role": "assistant",
                "status": "completed" if status == "completed" else "incomplete",
                "content": content,
            }
            self.items[resp.item_id] = item
            self.last_item_id = resp.item_id
            await self.send(
                {
                    "type": "response.output_item.done",
                    "response_id": resp.id,
                    "output_index": 0,
                    "item": item,
                }
            )
            output.append(item)
        done = self.response_obj(resp, status, details, output, usage=sc.usage)
        self.rec.t_response_done_sent = time.perf_counter()
        await self.send({"type": "response.done", "response": done})
