"""The realtime client: owns the WebSocket, its timeouts, and turns I/O failures into typed errors.

One session per turn, as the reference flow does::

    async with await client.connect() as session:
        session.run(protocol)                 # reads events; sends what the protocol asks
        session.send(protocol.add_audio(pcm))
        session.send(protocol.end_input())
        await session.wait_done()

Events go out through one queue, in the order the protocol produced them: a reply the reader
sends (session.update on session.created) can never be overtaken by the turn's own appends.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Awaitable, Callable
from types import TracebackType
from typing import Any

import orjson
from websockets.asyncio.client import ClientConnection, connect
from websockets.exceptions import ConnectionClosed, InvalidHandshake, InvalidStatus

from bot.domain import ToolCall, tool_error
from bot.errors import (
    RealtimeAuthError,
    RealtimeConfigError,
    RealtimeConnectError,
    RealtimeConnectionLost,
    RealtimeTimeout,
)
from bot.realtime.protocol import MODEL_SETTINGS, Phase, TurnProtocol
from bot.realtime.providers import Endpoint
from bot.retry import Attempts

__all__ = ["HandshakeRefused", "RealtimeClient", "RealtimeSession", "ToolRunner", "open_websocket"]

# Runs one call the model made; returns the output the model reads. Bounded in time and never
# raising: the caller (the pipeline) sees to both.
ToolRunner = Callable[[ToolCall], Awaitable[str]]

log = logging.getLogger(__name__)

# The websockets default (1 MiB) breaks on large server events; OpenAI allows 15 MiB appends.
MAX_MESSAGE = 16 * 1024 * 1024
# Close code of a session the server ended for its policy: Yandex's live service closes with it
# after "Invalid model URI" (stand_ins/README.md, "yandex-field"): a configuration error.
POLICY_CLOSE = 1008
# A handshake refused with 429 is tried this many times, BUSY_DELAY seconds apart and more.
BUSY_TRIES = 5
BUSY_DELAY = 0.3
# Calls of one response run at most (TOOL_CALLS_PER_RESPONSE); the rest are answered with an
# error the model reads, so one response cannot fan out into a hundred searches.
TOOL_CALLS_PER_RESPONSE = 8


class _Pace:
    """At most ``per_second`` session openings a second from this process (a provider's quota
    of new sessions: past it the handshake gets 429)."""

    def __init__(self, per_second: float | None) -> None:
        self._interval = 1.0 / per_second if per_second else 0.0
        self._next = 0.0
        self._lock = asyncio.Lock()

    async def wait(self) -> None:
        if not self._interval:
            return
        async with self._lock:
            loop = asyncio.get_running_loop()
            delay = self._next - loop.time()
            if delay > 0:
                await asyncio.sleep(delay)
            self._next = max(self._next, loop.time()) + self._interval


class RealtimeClient:
    """Opens sessions to one endpoint, at most ``sessions_per_second`` a second from this
    process; a handshake refused with 429 (the provider's session quota) is tried again a few
    times, a moment later, before it counts as a failure. A session runs at most
    ``tool_calls_per_response`` of the calls one response makes."""

    def __init__(
        self,
        endpoint: Endpoint,
        *,
        connect_timeout: float = 10.0,
        event_timeout: float = 30.0,
        sessions_per_second: float | None = None,
        busy_tries: int = BUSY_TRIES,
        tool_calls_per_response: int = TOOL_CALLS_PER_RESPONSE,
    ) -> None:
        self.endpoint = endpoint
        self.connect_timeout = connect_timeout
        self.event_timeout = event_timeout
        self.busy_tries = busy_tries
        self.tool_calls_per_response = tool_calls_per_response
        self._pace = _Pace(sessions_per_second)

    async def connect(self) -> RealtimeSession:
        """Open a WebSocket; handshake failures become typed errors (401/403 are fatal)."""
        # A 429 is tried again BUSY_DELAY seconds later, and more each time; jittered, so
        # sessions refused together do not come back together.
        attempts = Attempts(
            "opening a realtime session failed",
            when=_busy,
            first=BUSY_DELAY,
            linear=True,
            jitter=0.5,
            tries=self.busy_tries,
            level=logging.DEBUG,
            logger=log,
        )
        try:
            async for attempt in attempts:
                await self._pace.wait()
                with attempt:
                    return await self._connect()
        except _Busy:
            raise RealtimeConnectError(
                f"handshake refused with HTTP 429 (quota), {self.busy_tries} times"
            ) from None
        raise AssertionError("Attempts with a limit end in success or the last failure")

    async def _connect(self) -> RealtimeSession:
        try:
            ws = await open_websocket(self.endpoint, open_timeout=self.connect_timeout)
        except HandshakeRefused as exc:
            if exc.status in (401, 403):
                raise RealtimeAuthError(f"handshake refused with HTTP {exc.status}") from None
            if exc.status == 429:
                # Too many sessions at once, or created too fast (Yandex: 10 concurrent, 10 new
                # a second per cloud): a moment later there is room.
                raise _Busy() from None
            raise RealtimeConnectError(f"handshake refused with HTTP {exc.status}") from None
        return RealtimeSession(
            ws,
            event_timeout=self.event_timeout,
            tool_calls_per_response=self.tool_calls_per_response,
        )


class HandshakeRefused(Exception):
    """The server answered the WebSocket handshake with HTTP ``status``."""

    def __init__(self, status: int) -> None:
        super().__init__(f"handshake refused with HTTP {status}")
        self.status = status


async def open_websocket(endpoint: Endpoint, *, open_timeout: float) -> ClientConnection:
    """Open the WebSocket to ``endpoint`` as every session does (its auth headers; the bot's
    sessions and the probe's alike). Raises ``HandshakeRefused`` when the server answers the
    handshake with an HTTP status, ``RealtimeConnectError`` when it cannot be reached (or not
    within ``open_timeout`` seconds)."""
    try:
        return await connect(
            endpoint.url,
            additional_headers=endpoint.headers,
            # base64 PCM barely compresses; deflate would only cost CPU.
            compression=None,
            max_size=MAX_MESSAGE,
            open_timeout=open_timeout,
            # No keepalive pings: Yandex's live service was seen leaving them unanswered
            # (stand_ins/README.md), and a missing pong must not end a long answer. A server
            # that goes silent is caught by the event timeout instead.
            ping_interval=None,
            close_timeout=2,
        )
    except InvalidStatus as exc:
        raise HandshakeRefused(exc.response.status_code) from None
    except TimeoutError:
        raise RealtimeConnectError(f"no handshake within {open_timeout:g} s") from None
    except (OSError, InvalidHandshake) as exc:
        raise RealtimeConnectError(f"cannot connect: {exc.__class__.__name__}: {exc}") from None


class _Busy(Exception):
    """The handshake was refused with 429."""

    def __init__(self) -> None:
        super().__init__("handshake refused with HTTP 429")


def _busy(exc: BaseException) -> bool:
    return isinstance(exc, _Busy)


class RealtimeSession:
    """One connected session driven by a ``TurnProtocol``."""

    def __init__(
        self,
        ws: ClientConnection,
        *,
        event_timeout: float,
        tool_calls_per_response: int = TOOL_CALLS_PER_RESPONSE,
    ) -> None:
        self._ws = ws
        self._event_timeout = event_timeout
        self._calls_per_response = max(1, tool_calls_per_response)
        self._tasks: list[asyncio.Task[None]] = []
        self._tools: ToolRunner | None = None
        self._outbox: asyncio.Queue[dict[str, Any]] = asyncio.Queue()
        self._done: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        self._settled: asyncio.Future[None] = asyncio.get_running_loop().create_future()

    async def __aenter__(self) -> RealtimeSession:
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self.close()

    def run(self, protocol: TurnProtocol, tools: ToolRunner | None = None) -> None:
        """Start reading server events into ``protocol`` and writing queued client events;
        calls the model makes are run with ``tools`` (all of a response's at once) and their
        outputs sent while the reader goes on."""
        self._tools = tools
        self._tasks = [
            asyncio.create_task(self._read(protocol), name="realtime-reader"),
            asyncio.create_task(self._write(), name="realtime-writer"),
        ]

    def settle(self, protocol: TurnProtocol) -> None:
        """The protocol ended the turn by itself (stopped between responses): done."""
        if protocol.done and not self._done.done():
            self._done.set_result(None)

    def send(self, events: list[dict[str, Any]]) -> None:
        """Queue client events; they are sent in the order queued."""
        for event in events:
            self._outbox.put_nowait(event)

    async def wait_done(self) -> None:
        """Until ``response.done``; raises the turn's error."""
        await asyncio.shield(self._done)

    async def wait_transcripts(self, seconds: float) -> None:
        """After ``response.done``: until every input transcription asked for has arrived, the
        connection ends, or ``seconds`` pass."""
        with contextlib.suppress(TimeoutError, asyncio.CancelledError):
            async with asyncio.timeout(seconds):
                await asyncio.shield(self._settled)

    async def close(self) -> None:
        for task in self._tasks:
            task.cancel()
        for task in self._tasks:
            with contextlib.suppress(asyncio.CancelledError):
                await task
        if not self._done.done():
            self._done.cancel()
        if not self._settled.done():
            self._settled.cancel()
        await self._ws.close()

    def _fail(self, exc: BaseException) -> None:
        if not self._settled.done():
            self._settled.set_result(None)
        if not self._done.done():
            self._done.set_exception(exc)
            # Mark it retrieved: nobody may be waiting any more (the turn timed out, say).
            self._done.exception()

    async def _write(self) -> None:
        try:
            while True:
                event = await self._outbox.get()
                await self._ws.send(orjson.dumps(event), text=True)
        except ConnectionClosed as exc:
            self._fail(RealtimeConnectionLost(f"connection closed while sending: {exc}"))

    async def _call(self, protocol: TurnProtocol, calls: list[ToolCall]) -> None:
        """Run a response's calls together, at most ``tool_calls_per_response`` of them (the
        rest are answered with an error the model reads), and send their outputs (and the next
        response)."""
        runner = self._tools
        if runner is None:
            outputs = [tool_error("no tools are available")] * len(calls)
        else:
            cap = self._calls_per_response
            run, skipped = calls[:cap], calls[cap:]
            outputs = list(await asyncio.gather(*(runner(call) for call in run)))
            if skipped:
                log.warning("realtime: the model made %d calls in one response; ran the "
                            "first %d", len(calls), cap)  # fmt: skip
                refused = tool_error(
                    f"too many tool calls at once; only the first {cap} of this response were "
                    "run, not this one: answer with what they gave, and tell the user what was "
                    "left undone"
                )
                outputs += [refused] * len(skipped)
        self.send(protocol.answer_calls(list(zip(calls, outputs, strict=True))))
        self.settle(protocol)

    async def _read(self, protocol: TurnProtocol) -> None:
        try:
            loop = asyncio.get_running_loop()
            transcribing_until: float | None = None
            # Read up to response.done, and on while transcripts of the input are still due.
            while not protocol.done or protocol.awaiting_transcripts:
                timeout = self._event_timeout
                if protocol.phase is Phase.TRANSCRIBING:
                    if transcribing_until is None:
                        transcribing_until = loop.time() + protocol.config.await_transcript
                    timeout = max(0.0, min(timeout, transcribing_until - loop.time()))
                try:
                    async with asyncio.timeout(timeout):
                        raw = await self._ws.recv()
                except TimeoutError:
                    if protocol.phase is Phase.TRANSCRIBING:
                        log.info("realtime: no transcript of the input in time; asking anyway")
                        self.send(protocol.transcript_overdue())
                        continue
                    if protocol.phase is Phase.CALLING:
                        continue  # the server waits for our tools: their time is bounded
                    raise RealtimeTimeout(
                        f"no event from the server for {self._event_timeout:.0f} s "
                        f"(phase {protocol.phase.value})"
                    ) from None
                except ConnectionClosed as exc:
                    if exc.rcvd is not None and exc.rcvd.code == POLICY_CLOSE:
                        raise RealtimeConfigError(
                            f"the server closed the session ({exc.rcvd.code} "
                            f"{exc.rcvd.reason or 'policy violation'})",
                            setting=MODEL_SETTINGS,
                        ) from None
                    raise RealtimeConnectionLost(
                        f"connection closed in phase {protocol.phase.value}: {exc}"
                    ) from None
                try:
                    event = orjson.loads(raw)
                except orjson.JSONDecodeError:
                    log.warning("realtime: ignoring a message that is not JSON")
                    continue
                if not isinstance(event, dict):
                    continue
                self.send(protocol.receive(event))
                if protocol.calls_due:
                    calls = protocol.take_calls()
                    self._tasks.append(
                        asyncio.create_task(self._call(protocol, calls), name="realtime-tools")
                    )
                if protocol.done and not self._done.done():
                    self._done.set_result(None)
            if not self._done.done():
                self._done.set_result(None)
            if not self._settled.done():
                self._settled.set_result(None)
        except ConnectionClosed as exc:
            self._fail(RealtimeConnectionLost(f"connection closed: {exc}"))
        except Exception as exc:  # RealtimeError, or an input error the protocol raised
            self._fail(exc)
