"""One turn, streamed: the session opens while the input downloads and decodes, the reply is
encoded to OGG/Opus as its audio arrives, so the voice note is ready right after response.done.
"""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import logging
from collections.abc import Awaitable, Callable
from dataclasses import dataclass

from bot.audio.codec import OggOpusEncoder, decode_to_pcm
from bot.audio.pcm import duration, loudest_dbfs
from bot.core.models import Limits, Marks, TurnInput, TurnResult
from bot.errors import (
    ContextRejected,
    EmptyAudio,
    RealtimeError,
    RealtimeResponseFailed,
    RealtimeTimeout,
    SilentAudio,
)
from bot.queue.slots import LocalSlots, SessionSlots
from bot.realtime.client import RealtimeClient, RealtimeSession
from bot.realtime.protocol import INPUT_RATE, HistoryItem, SessionConfig, TurnProtocol

__all__ = ["StreamingEncoder", "TurnOptions", "TurnPipeline", "decode_checked"]

log = logging.getLogger(__name__)

MIN_INPUT_SECONDS = 0.1


@dataclass(frozen=True)
class TurnOptions:
    """How sessions are set up, the same for every chat."""

    output_rate: int = 44_100
    turn_detection: str = "server_vad"
    output_modalities: tuple[str, ...] = ("text", "audio")
    turn_timeout: float = 120.0
    transcription_model: str = ""


def decode_checked(data: bytes, limits: Limits) -> bytes:
    """Decode to PCM16 24 kHz and refuse what is too long, empty or silent. Blocks."""
    pcm = decode_to_pcm(data, rate=INPUT_RATE, max_seconds=limits.max_seconds)
    if duration(pcm, INPUT_RATE) < MIN_INPUT_SECONDS:
        raise EmptyAudio(f"only {duration(pcm, INPUT_RATE):.3f} s of audio")
    level = loudest_dbfs(pcm, INPUT_RATE)
    if level < limits.silence_dbfs:
        raise SilentAudio(f"loudest level {level:.1f} dBFS < {limits.silence_dbfs:.0f} dBFS")
    return pcm


class StreamingEncoder:
    """Feeds reply audio to an OggOpusEncoder in a worker thread, in order, as it arrives.

    ``feed`` is called on the event loop and returns at once; at most one encode job runs per
    turn, taking everything that arrived meanwhile in one call.
    """

    def __init__(self) -> None:
        self._encoder: OggOpusEncoder | None = None
        self._pending: list[bytes] = []
        self._job: asyncio.Task[None] | None = None
        self.rate = 0

    def feed(self, pcm: bytes, rate: int) -> None:
        if self._encoder is None:
            self._encoder = OggOpusEncoder(rate)
            self.rate = rate
        self._pending.append(pcm)
        if self._job is None or self._job.done():
            self._job = asyncio.create_task(self._drain(), name="encode")

    async def _drain(self) -> None:
        assert self._encoder is not None
        while self._pending:
            chunk = b"".join(self._pending)
            self._pending.clear()
            await asyncio.to_thread(self._encoder.feed, chunk)

    async def finish(self) -> tuple[bytes, float]:
        """The OGG file and its duration; empty when no audio came."""
        if self._job is not None:
            await self._job
        if self._encoder is None:
            return b"", 0.0
        voice = await asyncio.to_thread(self._encoder.finish)
        return voice, self._encoder.duration

    async def abort(self) -> None:
        if self._job is not None and not self._job.done():
            self._job.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._job


def _fetch_once(fetch: Callable[[], Awaitable[bytes]]) -> Callable[[], Awaitable[bytes]]:
    """The input downloaded once, however many attempts the turn takes."""
    data: list[bytes] = []

    async def cached() -> bytes:
        if not data:
            data.append(await fetch())
        return data[0]

    return cached


class TurnPipeline:
    """Runs turns against one realtime endpoint, holding one of ``slots`` per session (by
    default a cap of ``concurrency`` in this process)."""

    def __init__(
        self,
        client: RealtimeClient,
        *,
        limits: Limits,
        options: TurnOptions,
        slots: SessionSlots | None = None,
        concurrency: int = 8,
    ) -> None:
        self.client = client
        self.limits = limits
        self.options = options
        self._slots = slots or LocalSlots(concurrency)
        self.in_flight = 0

    async def run(
        self,
        turn: TurnInput,
        *,
        voice: str,
        instructions: str,
        history: tuple[HistoryItem, ...] = (),
    ) -> TurnResult:
        """Answer one turn. Raises InputError, RealtimeError or StorageError subclasses.

        ``history`` (earlier turns) goes to the model first; if the provider refuses it, the
        turn is answered without it and the log says why.
        """
        if turn.fetch is None and not turn.text:
            raise EmptyAudio("no audio and no text")
        if turn.fetch is not None:
            turn = dataclasses.replace(turn, fetch=_fetch_once(turn.fetch))
        async with self._slots.hold():
            self.in_flight += 1
            try:
                try:
                    return await self._attempt(turn, voice, instructions, history)
                except ContextRejected as exc:
                    log.warning("the provider refused the conversation memory (%s); "
                                "answering %s without it", exc, turn.label)  # fmt: skip
                    return await self._attempt(turn, voice, instructions, ())
            finally:
                self.in_flight -= 1

    async def _attempt(
        self,
        turn: TurnInput,
        voice: str,
        instructions: str,
        history: tuple[HistoryItem, ...],
    ) -> TurnResult:
        marks = Marks()
        config = SessionConfig(
            voice=voice,
            instructions=instructions,
            output_rate=self.options.output_rate,
            turn_detection=self.options.turn_detection,  # type: ignore[arg-type]
            output_modalities=self.options.output_modalities,
            transcription_model=self.options.transcription_model,
            history=history,
        )
        encoder = StreamingEncoder()
        protocol = TurnProtocol(config, on_mark=marks)
        protocol.on_audio = lambda pcm: encoder.feed(pcm, protocol.output_rate)
        try:
            result = await self._run(turn, protocol, encoder, marks)
        except ContextRejected:
            raise
        except RealtimeError as exc:
            if protocol.audio_bytes_received:
                # Part of the answer was produced (and billed): trying again would pay twice.
                exc.transient = False
            raise
        finally:
            await encoder.abort()
        result.used_history = bool(history)
        return result

    async def _run(
        self, turn: TurnInput, protocol: TurnProtocol, encoder: StreamingEncoder, marks: Marks
    ) -> TurnResult:
        opening = asyncio.create_task(self._open(protocol, marks), name="realtime-open")
        session: RealtimeSession | None = None
        try:
            input_seconds = 0.0
            if turn.fetch is not None:
                data = await turn.fetch()
                marks("downloaded")
                pcm = await asyncio.to_thread(decode_checked, data, self.limits)
                marks("decoded")
                input_seconds = duration(pcm, INPUT_RATE)
            session = await opening
            if turn.fetch is not None:
                session.send(protocol.add_audio(pcm))
            if turn.text:
                session.send(protocol.add_text(turn.text))
            session.send(protocol.end_input())
            try:
                async with asyncio.timeout(self.options.turn_timeout):
                    await session.wait_done()
            except TimeoutError:
                raise RealtimeTimeout(
                    f"no response.done within {self.options.turn_timeout:.0f} s"
                ) from None
            voice, voice_seconds = await encoder.finish()
            marks("encoded")
        finally:
            if session is None:
                opening.cancel()
                with contextlib.suppress(BaseException):
                    session = await opening
            if session is not None:
                await session.close()
        if not voice:
            raise RealtimeResponseFailed(protocol.status or "empty", "no audio in the response")
        log.info(
            "turn done %s: in %.1f s, out %.1f s, %d chars, status %s",
            turn.label,
            input_seconds,
            voice_seconds,
            len(protocol.reply_text),
            protocol.status,
        )
        return TurnResult(
            text=protocol.reply_text,
            voice=voice,
            voice_seconds=voice_seconds,
            input_seconds=input_seconds,
            input_transcript=protocol.input_transcript,
            status=protocol.status,
            usage=protocol.usage,
            marks=marks,
        )

    async def _open(self, protocol: TurnProtocol, marks: Marks) -> RealtimeSession:
        session = await self.client.connect()
        marks("connected")
        session.run(protocol)
        return session
