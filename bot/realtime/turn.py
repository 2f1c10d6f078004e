"""One turn, streamed: the session opens while the input downloads and decodes, the reply is
encoded to OGG/Opus as its audio arrives, so the voice note is ready right after response.done.

When the chat has tools, the model may call them: each call runs within ``tool_timeout`` (a
call that fails or times out is answered with an error the model tells the user), and the
audio of every response of the turn goes into the one voice note.

A turn set up ``text_only`` (a typed question in a chat that takes text for text) asks the model
for text only, in the session and in each response: its answer is the text, with no audio.
"""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import logging
from collections.abc import AsyncIterator
from dataclasses import dataclass
from typing import Any, TypeVar

from bot import metrics
from bot.audio.codec import OggOpusEncoder, decode_chunks, in_codec_thread
from bot.audio.pcm import SAMPLE_WIDTH, PauseCap, loudest_dbfs
from bot.audio.tempo import TempoChanger
from bot.domain import (
    Limits,
    Marks,
    SetupLoader,
    ToolBox,
    ToolCall,
    TurnInput,
    TurnResult,
    TurnSetup,
    tool_error,
    tool_refused,
)
from bot.errors import (
    ContextRejected,
    EmptyAudio,
    RealtimeError,
    RealtimeResponseFailed,
    RealtimeTimeout,
    SilentAudio,
    TurnStopped,
)
from bot.provider_profiles import PROFILES, Profile
from bot.realtime.client import RealtimeClient, RealtimeSession, ToolRunner
from bot.realtime.protocol import (
    INPUT_RATE,
    SessionConfig,
    TurnProtocol,
    encode_appends,
)
from bot.realtime.providers import place_voice_options

__all__ = [
    "InputStream",
    "StreamingEncoder",
    "TurnOptions",
    "TurnPipeline",
]

log = logging.getLogger(__name__)

_T = TypeVar("_T")
MIN_INPUT_SECONDS = 0.1
# How long a late input transcript is waited for after response.done.
TRANSCRIPT_WAIT = 2.0
# Reply audio is handed to the encoder in pieces of at least this long: fewer thread hand-offs,
# and still only a fraction of a frame of work left after response.done.
ENCODE_BATCH_SECONDS = 0.5
# After a stop, how long the server gets to end the cancelled response before the turn ends
# without it (a server that ignores response.cancel would otherwise speak on).
STOP_GRACE = 2.0
# Sessions are closed in the background: the close handshake is no part of the answer.
_closing: set[asyncio.Task[None]] = set()


@dataclass(frozen=True)
class TurnOptions:
    """How sessions are set up, the same for every chat."""

    output_rate: int = 44_100
    turn_detection: str = "server_vad"
    output_modalities: tuple[str, ...] = ("text", "audio")
    turn_timeout: float = 120.0
    transcription_model: str = ""
    tool_timeout: float = 10.0
    tool_rounds: int = 4
    # Pauses inside a note are shortened to this many seconds before sending (0: kept whole).
    max_pause: float = 0.6
    vad_silence_ms: int = 1500
    # How memory is given: native items, or quoted in one user item (assistant items refused)
    history_form: str = "items"
    # Seconds to wait for the input's transcripts before asking for the response (0: none)
    await_transcript: float = 0.0
    # The reply's audio is cut at this many seconds (0: no cap): what a turn reserves
    max_reply_seconds: float = 0.0
    # The provider's profile: where the chats' voice options go in the session, which roles
    # each voice takes, whether the bot makes the speed itself.
    profile: Profile = dataclasses.field(default_factory=lambda: PROFILES["yandex"])


@dataclass(frozen=True)
class _Chunk:
    nbytes: int
    payloads: list[str]  # base64 of the append events
    loud: bool


_DONE = object()


class InputStream:
    """Decodes the input in a worker thread and hands it over in 1 s chunks as they are ready,
    base64-encoded there too, each marked loud or not (the silence check, chunk by chunk)."""

    def __init__(self, data: bytes, limits: Limits, max_pause: float = 0.0) -> None:
        self._data = data
        self._limits = limits
        self._cap = PauseCap(INPUT_RATE, max_pause) if max_pause > 0 else None
        self.decoded_bytes = 0
        self._queue: asyncio.Queue[object] = asyncio.Queue()
        self._loop = asyncio.get_running_loop()
        self._task = asyncio.create_task(in_codec_thread(self._produce), name="decode")

    def _produce(self) -> None:
        def hand_over(pcm: bytes) -> None:
            if not pcm:
                return
            loud = loudest_dbfs(pcm, INPUT_RATE) >= self._limits.silence_dbfs
            chunk = _Chunk(len(pcm), encode_appends(pcm), loud)
            self._loop.call_soon_threadsafe(self._queue.put_nowait, chunk)

        def on_chunk(pcm: bytes) -> None:
            self.decoded_bytes += len(pcm)
            hand_over(self._cap.feed(pcm) if self._cap is not None else pcm)

        try:
            decode_chunks(
                self._data, on_chunk, rate=INPUT_RATE, max_seconds=self._limits.max_seconds
            )
            if self._cap is not None:
                hand_over(self._cap.finish())
            self._loop.call_soon_threadsafe(self._queue.put_nowait, _DONE)
        except BaseException as exc:
            self._loop.call_soon_threadsafe(self._queue.put_nowait, exc)

    @property
    def removed_seconds(self) -> float:
        """Seconds of pauses left out (not sent, not billed)."""
        removed = self._cap.removed_bytes if self._cap is not None else 0
        return removed / SAMPLE_WIDTH / INPUT_RATE

    async def chunks(self) -> AsyncIterator[_Chunk]:
        while True:
            item = await self._queue.get()
            if item is _DONE:
                return
            if isinstance(item, BaseException):
                raise item
            assert isinstance(item, _Chunk)
            yield item

    async def close(self) -> None:
        await _outcome_of(self._task)


class StreamingEncoder:
    """Feeds reply audio to an OggOpusEncoder in a worker thread, in order, as it arrives.

    ``feed`` is called on the event loop and returns at once; at most one encode job runs per
    turn, taking everything that arrived meanwhile in one call. At a ``speed`` other than 1 the
    audio's tempo is changed first (its pitch kept), in the same job: a chat's speed the
    provider does not take.
    """

    def __init__(self, speed: float = 1.0) -> None:
        self._encoder: OggOpusEncoder | None = None
        self._tempo: TempoChanger | None = None
        self._speed = speed
        self._pending: list[bytes] = []
        self._job: asyncio.Task[None] | None = None
        self._pending_bytes = 0
        self._batch = 0

    @property
    def speed(self) -> float:
        return self._speed

    def feed(self, pcm: bytes, rate: int) -> None:
        if self._encoder is None:
            self._encoder = OggOpusEncoder(rate)
            if self._speed != 1.0:
                self._tempo = TempoChanger(rate, self._speed)
            self._batch = int(rate * ENCODE_BATCH_SECONDS) * SAMPLE_WIDTH
        self._pending.append(pcm)
        self._pending_bytes += len(pcm)
        if self._pending_bytes >= self._batch and (self._job is None or self._job.done()):
            self._job = asyncio.create_task(self._drain(), name="encode")

    async def _drain(self) -> None:
        while self._pending:
            chunk = b"".join(self._pending)
            self._pending.clear()
            self._pending_bytes = 0
            await in_codec_thread(self._encode, chunk)

    def _encode(self, pcm: bytes) -> None:
        """On a codec thread: the tempo changed (when it is), then encoded."""
        assert self._encoder is not None
        self._encoder.feed(self._tempo.feed(pcm) if self._tempo is not None else pcm)

    async def finish(self) -> tuple[bytes, float]:
        """The OGG file and its duration; empty when no audio came."""
        if self._job is not None:
            await self._job
        if self._encoder is None:
            return b"", 0.0
        encoder, tempo = self._encoder, self._tempo
        tail = b"".join(self._pending)
        self._pending.clear()

        def finish() -> bytes:
            if tail:
                self._encode(tail)
            if tempo is not None:
                encoder.feed(tempo.finish())
            return encoder.finish()

        voice = await in_codec_thread(finish)
        self._encoder = self._tempo = None
        return voice, encoder.duration

    async def abort(self) -> None:
        if self._job is not None and not self._job.done():
            self._job.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._job
        self._encoder = self._tempo = None
        self._pending.clear()


def _drop_audio(_pcm: bytes) -> None:
    """A spent turn's audio callback: late audio goes nowhere."""


def _close_later(session: RealtimeSession) -> None:
    task = asyncio.create_task(session.close(), name="realtime-close")
    _closing.add(task)
    task.add_done_callback(_closing.discard)


class TurnPipeline:
    """Runs turns against one realtime endpoint, one session per turn. How many run at once is
    for the caller to cap (the worker takes a session lease with each turn)."""

    def __init__(self, client: RealtimeClient, *, limits: Limits, options: TurnOptions) -> None:
        self.client = client
        self.limits = limits
        self.options = options
        self.history_form = options.history_form
        self.in_flight = 0  # turns of this pipeline running (the gauge counts the process's)

    def adopt(self, history_form: str, await_transcript: float) -> None:
        """Take the path that fits the provider's live service (``providers.live_path``)."""
        self.options = dataclasses.replace(
            self.options, history_form=history_form, await_transcript=await_transcript
        )
        self.history_form = history_form

    async def run(self, turn: TurnInput, setup: SetupLoader) -> TurnResult:
        """Answer one turn. Raises InputError, RealtimeError or StorageError subclasses, or what
        ``setup`` raises.

        The download and the connection start together. ``setup`` (the chat's voice,
        instructions and memory; a ``TurnSetup`` known in advance is its own loader) is called
        once the connection is up, while the server creates the session, so reading the chat's
        state never delays the model and nothing but the turn's own admission touches Redis
        before the model is connected. The memory goes to the model first; if the provider
        refuses it, the turn is answered without it and the log says why.
        """
        if turn.fetch is None and not turn.text:
            raise EmptyAudio("no audio and no text")
        marks = Marks()
        download: asyncio.Future[bytes] | None = None
        if turn.fetch is not None:
            download = asyncio.ensure_future(turn.fetch())
        connecting = asyncio.create_task(self._connect(marks), name="realtime-connect")
        self.in_flight += 1
        metrics.IN_FLIGHT.inc()
        try:
            try:
                await asyncio.wait({connecting})  # up, or failed: its error comes below
                chat = await setup()
            except BaseException:
                await _abandon(connecting)
                raise
            form = self.history_form
            try:
                return await self._attempt(turn, chat, connecting, marks, download, form)
            except ContextRejected as exc:
                if form == "items":
                    # Yandex's live service refuses assistant items (stand_ins/README.md): from
                    # now on this process quotes the conversation in one user item instead.
                    log.warning("the provider refused the conversation memory as items (%s); "
                                "quoting it from now on", exc)  # fmt: skip
                    self.history_form = form = "quoted"
                else:
                    log.warning("the provider refused the conversation memory (%s); "
                                "answering %s without it", exc, turn.label)  # fmt: skip
                    chat = dataclasses.replace(chat, history=(), context="")
                marks = Marks()
                connecting = asyncio.create_task(self._connect(marks), name="realtime-connect")
                return await self._attempt(turn, chat, connecting, marks, download, form)
        finally:
            self.in_flight -= 1
            metrics.IN_FLIGHT.dec()
            if download is not None:
                await _settle(download)

    async def _attempt(
        self,
        turn: TurnInput,
        chat: TurnSetup,
        connecting: asyncio.Task[RealtimeSession],
        marks: Marks,
        download: asyncio.Future[bytes] | None,
        history_form: str,
    ) -> TurnResult:
        profile = self.options.profile
        speed = chat.voice_options.get("speed", 1.0)
        local_speed = float(speed) if profile.local_speed and isinstance(speed, float) else 1.0
        config = SessionConfig(
            voice=chat.voice,
            instructions=chat.instructions,
            output_rate=self.options.output_rate,
            turn_detection=self.options.turn_detection,  # type: ignore[arg-type]
            # A turn answered in text only asks the model for text: no audio is made or billed.
            output_modalities=("text",) if chat.text_only else self.options.output_modalities,
            transcription_model=self.options.transcription_model,
            history=chat.history,
            history_form="quoted" if history_form == "quoted" else "items",
            context=chat.context,
            vad_silence_ms=self.options.vad_silence_ms,
            await_transcript=self.options.await_transcript,
            max_reply_seconds=self.options.max_reply_seconds,
            tools=chat.tools.declarations if chat.tools else (),
            server_tools=chat.tools.server_side if chat.tools else frozenset(),
            max_tool_rounds=self.options.tool_rounds,
            voice_options=place_voice_options(profile, chat.voice, chat.voice_options),
        )
        encoder = StreamingEncoder(local_speed)
        cut = asyncio.Event()

        def mark(name: str) -> None:
            marks(name)
            if name == "reply_cut":
                cut.set()

        protocol = TurnProtocol(config, on_mark=mark)
        protocol.on_audio = lambda pcm: encoder.feed(pcm, protocol.output_rate)
        if turn.on_text is not None:
            protocol.on_text = turn.on_text
        # The protocol reads the session's events as soon as it is connected, while the input
        # is still downloading: session.update goes out at once.
        runner = _bounded(chat.tools, self.options.tool_timeout) if chat.tools else None
        opening = asyncio.create_task(_start(connecting, protocol, runner), name="realtime-open")
        try:
            result = await self._run(turn, protocol, encoder, marks, opening, download, cut)
        except ContextRejected:
            raise
        except RealtimeError as exc:
            if protocol.audio_bytes_received or protocol.tool_calls:
                # Part of the answer was produced (and billed), or a tool acted (a reminder set):
                # trying again would pay twice, or act twice.
                exc.transient = False
            raise
        finally:
            await encoder.abort()
            # The callback holds the protocol that holds it: a cycle that would keep this
            # turn's encoder until a full collection.
            protocol.on_audio = _drop_audio
        return result

    async def _run(
        self,
        turn: TurnInput,
        protocol: TurnProtocol,
        encoder: StreamingEncoder,
        marks: Marks,
        opening: asyncio.Task[RealtimeSession],
        download: asyncio.Future[bytes] | None,
        cut: asyncio.Event,
    ) -> TurnResult:
        session: RealtimeSession | None = None
        stream: InputStream | None = None
        try:
            input_seconds = 0.0
            if download is not None:
                data = await download
                marks("downloaded")
                stream = InputStream(data, self.limits, self.options.max_pause)
                session, input_seconds = await self._send_input(stream, opening, protocol)
                marks("decoded")
            if session is None:
                session = await opening
            if turn.stop is not None and turn.stop.is_set():
                raise TurnStopped("stopped before the model was asked")
            if turn.text:
                session.send(protocol.add_text(turn.text))
            session.send(protocol.end_input())
            try:
                async with asyncio.timeout(self.options.turn_timeout):
                    await _until_done(session, protocol, turn.stop, cut)
            except TimeoutError:
                raise RealtimeTimeout(
                    f"no response.done within {self.options.turn_timeout:.0f} s"
                ) from None
            # The voice note's last frame is encoded while any late transcript of the user's
            # words arrives (OpenAI's may come after response.done): memory and the 🗣 line.
            encoded, _ = await asyncio.gather(
                encoder.finish(), session.wait_transcripts(TRANSCRIPT_WAIT)
            )
            voice, voice_seconds = encoded
            marks("encoded")
            if stream is not None and stream.removed_seconds:
                log.info("pauses shortened in %s: %.1f s not sent", turn.label,
                         stream.removed_seconds)  # fmt: skip
            if protocol.server_responses:
                log.info("the server answered part of %s by itself %d time(s); ignored",
                         turn.label, protocol.server_responses)  # fmt: skip
        finally:
            if stream is not None:
                await stream.close()
            if session is None:
                opening.cancel()
                session = await _outcome_of(opening)
            if session is not None:
                _close_later(session)
        if protocol.config.text_only:
            if not protocol.reply_text and not protocol.stopped:
                raise RealtimeResponseFailed(protocol.status or "empty", "no text in the response")
        elif not voice and not protocol.stopped:
            raise RealtimeResponseFailed(protocol.status or "empty", "no audio in the response")
        log.info(
            "turn done %s: in %.1f s, out %.1f s, %d chars, status %s",
            turn.label,
            input_seconds,
            voice_seconds,
            len(protocol.reply_text),
            protocol.status,
        )
        # The seconds the model made (billed), where the bot changed their tempo.
        made = protocol.audio_bytes_received / SAMPLE_WIDTH / protocol.output_rate
        return TurnResult(
            text=protocol.reply_text,
            voice=voice,
            voice_seconds=voice_seconds,
            model_seconds=made if encoder.speed != 1.0 else None,
            input_seconds=input_seconds,
            input_transcript=protocol.input_transcript,
            status=protocol.status,
            usage=protocol.usage,
            marks=marks,
            stopped=protocol.stopped,
            tool_calls=protocol.tool_calls,
        )

    async def _send_input(
        self,
        stream: InputStream,
        opening: asyncio.Task[RealtimeSession],
        protocol: TurnProtocol,
    ) -> tuple[RealtimeSession | None, float]:
        """Send the audio as it is decoded, from its first loud chunk on: a silent note never
        reaches the model. Returns the session (None when nothing was sent) and the seconds."""
        session: RealtimeSession | None = None
        held: list[_Chunk] = []
        total = 0
        async for chunk in stream.chunks():
            total += chunk.nbytes
            if session is None:
                held.append(chunk)
                if not chunk.loud:
                    continue
                session = await opening
                for waiting in held:
                    session.send(protocol.add_encoded(waiting.payloads, waiting.nbytes))
                held.clear()
            else:
                session.send(protocol.add_encoded(chunk.payloads, chunk.nbytes))
        seconds = total / SAMPLE_WIDTH / INPUT_RATE
        if seconds < MIN_INPUT_SECONDS:
            raise EmptyAudio(f"only {seconds:.3f} s of audio")
        if session is None:
            raise SilentAudio(f"nothing louder than {self.limits.silence_dbfs:.0f} dBFS")
        return session, seconds

    async def _connect(self, marks: Marks) -> RealtimeSession:
        session = await self.client.connect()
        marks("connected")
        return session


async def _start(
    connecting: asyncio.Task[RealtimeSession], protocol: TurnProtocol, tools: ToolRunner | None
) -> RealtimeSession:
    try:
        session = await connecting
    except asyncio.CancelledError:
        await _abandon(connecting)
        raise
    session.run(protocol, tools)
    return session


def _bounded(tools: ToolBox, seconds: float) -> ToolRunner:
    """``tools.run`` within ``seconds``; a call that overruns or fails is answered with an
    error the model can tell the user about."""

    async def run(call: ToolCall) -> str:
        started = asyncio.get_running_loop().time()
        try:
            async with asyncio.timeout(seconds):
                output = await tools.run(call)
        except TimeoutError:
            log.warning("tool %s did not finish within %.0f s", call.name, seconds)
            metrics.TOOL_CALLS.labels(tool=call.name, outcome="timeout").inc()
            return tool_error("the tool did not answer in time; it may work if tried later")
        except Exception:
            log.exception("tool %s failed", call.name)
            metrics.TOOL_CALLS.labels(tool=call.name, outcome="error").inc()
            return tool_error("the tool failed")
        log.info("tool %s ran in %.1f ms", call.name,
                 (asyncio.get_running_loop().time() - started) * 1000)  # fmt: skip
        refused = tool_refused(output)  # the tool's own refusal, told to the model
        metrics.TOOL_CALLS.labels(tool=call.name, outcome="error" if refused else "ok").inc()
        return output

    return run


async def _until_done(
    session: RealtimeSession,
    protocol: TurnProtocol,
    stop: asyncio.Event | None,
    cut: asyncio.Event,
) -> None:
    """Until ``response.done``. When ``stop`` is set first, the response is cancelled and its
    (cancelled) ``response.done`` awaited: what was produced so far is kept. When the reply was
    cut at its length cap (``cut``), its cancel is already sent; either way a server that does
    not end the cancelled response within STOP_GRACE is left (the session is closed)."""
    done = asyncio.ensure_future(session.wait_done())
    waits: set[asyncio.Future[Any]] = {done, asyncio.ensure_future(cut.wait())}
    if stop is not None:
        waits.add(asyncio.ensure_future(stop.wait()))
    try:
        await asyncio.wait(waits, return_when=asyncio.FIRST_COMPLETED)
        if not done.done():
            if stop is not None and stop.is_set():
                log.info("the user stopped the answer; cancelling the response")
                session.send(protocol.stop())
                session.settle(protocol)  # stopped between responses: over at once
            else:
                log.info("the reply reached MAX_REPLY_SECONDS; cancelling the rest")
            try:
                async with asyncio.timeout(STOP_GRACE):
                    await asyncio.shield(done)
            except TimeoutError:
                # The server speaks on (it did not honour the cancel): the turn ends with what
                # it has, and closing the session stops the rest.
                log.info("the server did not end the cancelled response; leaving it")
                protocol.abandon()
                session.settle(protocol)
        await done
    finally:
        for wait in waits:
            if not wait.done():
                wait.cancel()


async def _outcome_of(task: asyncio.Future[_T]) -> _T | None:
    """``task``'s result once it is over; None when it failed or was cancelled (its failure
    taken). The caller's own cancellation is not swallowed: when the task running this is
    being cancelled, the cancellation goes on."""
    try:
        return await task
    except asyncio.CancelledError:
        current = asyncio.current_task()
        if current is not None and current.cancelling():
            raise
        return None
    except Exception:
        return None


async def _settle(task: asyncio.Future[bytes]) -> None:
    """A download no longer awaited: stopped if running, its failure (if any) taken."""
    task.cancel()
    await _outcome_of(task)


async def _abandon(connecting: asyncio.Task[RealtimeSession]) -> None:
    """Stop opening a session that is no longer wanted, closing it if it opened meanwhile."""
    connecting.cancel()
    session = await _outcome_of(connecting)  # None: cancelled or failed, nothing was opened
    if session is not None:
        _close_later(session)
