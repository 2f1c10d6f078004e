"""``python -m bench.hotpath``: Redis work and pre-model latency of one voice turn, before/after.

Measures a private-chat voice turn (a 5 s OGG/Opus voice note; the model stand-in answers with
3 s of audio, first audio after 0.3 s, delivered at 4× real time) for two source trees: a
baseline revision (``--baseline REV``, default ``6dd39e9``, checked out with ``git worktree add``
into a temporary folder and removed at the end) and the current working tree. Turns run one
after another, each in a chat of its own (a fresh user, so no rate limit is reached), after two
warm-up turns that are not counted. Printed side by side, per tree:

- **Redis commands before the model connection**: from the update being pushed to the moment
  the realtime stand-in receives the WebSocket handshake (window *a*);
- **Redis commands per whole turn**: from the push to the sendVoice reaching the Bot API
  stand-in plus 0.3 s for the bookkeeping written after sending (window *b*);
- **Redis round trips** in the same two windows;
- **pre-model latency**: push → handshake, push → ``response.create`` (p50 and p90);
- the commands before the connection by name, and what each round trip there carried.

Counts are medians over the turns, after subtracting the background the bot issues while idle
(its worker polls the queue with a blocking XREADGROUP every 0.5 s, and claims abandoned entries
and renews leases on timers): an idle window (``--idle`` seconds, after the warm-up) gives a
rate per command, and rate × window length is taken off each turn's count. So a turn's count can
be fractional, and a command the background issues can come out slightly negative.

How each figure is taken:

- Commands before the connection: a ``MONITOR`` connection opened by the benchmark sees every
  command with redis-server's wall-clock time stamp; commands of the benchmark's own connection
  (its INFO calls) are left out. MONITOR skips a few administrative commands, which the bot's
  hot path does not use. Commands a Lua script runs are listed with "(script)" after their name.
- Commands per whole turn: ``INFO commandstats`` read just before the push and at the end of
  window *b*; the difference, less the benchmark's own INFO calls. The MONITOR count of the same
  window is printed under it: the two should agree, which checks the windows and the attribution.
  Both count a script's inner commands as well as its EVALSHA, and MULTI and EXEC as commands.
- Round trips: counted in the bot process by `bench.redis_probe`, which wraps redis-py's
  ``AbstractConnection.send_packed_command``: one call writes one request (a command, a
  pipeline, a MULTI … EXEC block, an EVALSHA) and its replies are read before the connection
  is used again, so one call is one round trip. This is exact, where grouping MONITOR lines by
  connection and time would have to guess which back-to-back commands were one write. Each
  bot process is started as ``python -m bot`` with ``cwd`` and PYTHONPATH its own tree, followed
  on PYTHONPATH by a folder holding only a ``sitecustomize.py`` that loads the probe; the probe
  also records the file the ``bot`` package came from, printed to show which tree ran.
- Windows are placed on the wall clock (``time.time()``), which this process, the bot process
  and redis-server share. The stand-ins stamp handshakes, ``response.create`` and API calls with
  ``time.perf_counter()``; those are moved to the wall clock by the offset between the two clocks
  read at the push. Latencies are differences of ``time.perf_counter()`` values alone.

Each tree gets a fresh redis-server (`stand_ins.redis.RedisServer`), fresh stand-ins and a fresh
data folder; the bot is configured through the environment as in ``bench.driver`` (Yandex
provider, ``REALTIME_URL`` of the realtime stand-in). The table goes to stdout, progress to
stderr, and everything measured to ``bench/results/hotpath.json``.
"""

from __future__ import annotations

import argparse
import asyncio
import bisect
import contextlib
import datetime
import json
import os
import platform
import re
import shutil
import signal
import statistics
import subprocess
import sys
import tempfile
import time
from collections import Counter
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import redis.asyncio as aioredis

from bench.notes import make_note
from bench.redis_probe import PROBE_ENV, ProbeLog, RoundTrip, command_name, read_log, write_loader
from stand_ins.bot_api import BotAPIStandIn, Call
from stand_ins.realtime import RealtimeStandIn, RecordedSession, Scenario
from stand_ins.redis import RedisServer

__all__ = ["main"]

ROOT = Path(__file__).resolve().parents[1]
RESULTS = ROOT / "bench" / "results"
DEFAULT_BASELINE = "6dd39e9"
API_KEY = "bench-key"
MODEL_QUERY = "?model=gpt://bench/speech-realtime-250923"
NOTE_SECONDS = 5.0
REPLY_SECONDS = 3.0
WARMUP_TURNS = 2
SETTLE_AFTER_SEND = 0.3  # window b ends this long after sendVoice: the marks written after it
GAP_SECONDS = 0.2  # between the end of one turn's window and the next push
QUIET_BEFORE_IDLE = 1.0  # after the warm-up, so its last writes stay out of the idle window
TURN_TIMEOUT = 60.0
START_TIMEOUT = 60.0
STOP_TIMEOUT = 30.0
MONITOR_DRAIN = 0.3  # after the bot stops, for the last MONITOR lines to arrive
SCENARIO = Scenario(
    reply_hz=180.0,
    reply_seconds=REPLY_SECONDS,
    reply_text="Your order number four two seven is confirmed for seat twelve A.",
    text_kind="output_text",
    time_to_first_audio=0.3,
    realtime_factor=4.0,
)
# 1700000000.123456 [0 127.0.0.1:5555] "XREADGROUP" "GROUP" ... (the client is "lua" for the
# commands a script runs, "unix:/path" for a Unix socket).
_MONITOR_LINE = re.compile(
    rb'^\+?(\d+\.\d+) \[\d+ ([^\]]*)\] "((?:[^"\\]|\\.)*)"(?: "((?:[^"\\]|\\.)*)")?'
)


class HotpathError(RuntimeError):
    """A bot did not do what the benchmark asked of it (no reply, an error reply, a crash)."""


def _progress(message: str) -> None:
    print(f"[hotpath] {message}", file=sys.stderr, flush=True)


# ----------------------------------------------------------------------------- what Redis ran


@dataclass(frozen=True)
class Seen:
    """One command as MONITOR reported it."""

    t: float
    """redis-server's wall-clock time stamp."""
    client: str
    """``ip:port`` of the connection, or ``lua`` for a command a script ran."""
    name: str

    @property
    def label(self) -> str:
        return f"{self.name} (script)" if self.client == "lua" else self.name


class MonitorLog:
    """Every command redis-server runs from the moment `start` returns, read from ``MONITOR``
    on a connection of its own, in the order the server ran them."""

    def __init__(self, port: int) -> None:
        self.port = port
        self.seen: list[Seen] = []
        self.ignored_clients: set[str] = set()
        self._writer: asyncio.StreamWriter | None = None
        self._task: asyncio.Task[None] | None = None

    async def start(self) -> None:
        # Large limit: a line holds every argument, and a queued turn is a few hundred bytes.
        reader, writer = await asyncio.open_connection("127.0.0.1", self.port, limit=1 << 24)
        writer.write(b"MONITOR\r\n")
        await writer.drain()
        answer = await reader.readline()
        if not answer.startswith(b"+OK"):
            writer.close()
            raise HotpathError(f"MONITOR refused: {answer!r}")
        self._writer = writer
        self._task = asyncio.create_task(self._read(reader), name="hotpath-monitor")

    async def _read(self, reader: asyncio.StreamReader) -> None:
        while line := await reader.readline():
            match = _MONITOR_LINE.match(line)
            if match is None:
                continue
            stamp, client, name, sub = match.groups()
            client_text = client.decode("utf-8", "replace")
            if client_text in self.ignored_clients:
                continue
            self.seen.append(Seen(float(stamp), client_text, command_name(name, sub)))

    async def stop(self) -> None:
        """Stop reading; `seen` keeps what was read."""
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
        if self._writer is not None:
            self._writer.close()
            with contextlib.suppress(OSError):
                await self._writer.wait_closed()


@dataclass(frozen=True)
class Snapshot:
    """``INFO commandstats`` at one moment: calls by command name."""

    t: float
    """Wall clock when the answer arrived."""
    seq: int
    """How many snapshots the benchmark had asked for before this one."""
    calls: dict[str, int]


class CommandStats:
    """Reads ``INFO commandstats`` on a connection of the benchmark's own."""

    def __init__(self, url: str) -> None:
        self._client = aioredis.Redis.from_url(url)
        self._seq = 0

    async def address(self) -> str:
        """The ``ip:port`` redis-server sees this connection from (as MONITOR names it)."""
        info = await self._client.client_info()
        return str(info["addr"])

    async def version(self) -> str:
        info = await self._client.info("server")
        return str(info.get("redis_version", "unknown"))

    async def take(self) -> Snapshot:
        info = await self._client.info("commandstats")
        t = time.time()
        calls = {
            key.removeprefix("cmdstat_"): int(value["calls"])
            for key, value in info.items()
            if key.startswith("cmdstat_")
        }
        snapshot = Snapshot(t, self._seq, calls)
        self._seq += 1
        return snapshot

    @staticmethod
    def delta(before: Snapshot, after: Snapshot) -> Counter[str]:
        """Calls by name between two snapshots, less the benchmark's own INFO calls.

        A command's call is counted once it has run, so ``after`` includes ``before``'s own INFO
        and not its own: the benchmark made ``after.seq - before.seq`` of them in between.
        """
        out: Counter[str] = Counter()
        for name, calls in after.calls.items():
            grown = calls - before.calls.get(name, 0)
            if name == "info":
                grown -= after.seq - before.seq
            if grown:
                out[name] = grown
        return out

    async def aclose(self) -> None:
        await self._client.aclose()


def _seen_between(seen: list[Seen], t0: float, t1: float) -> list[Seen]:
    """Commands run at t0 ≤ t < t1 (wall clock; ``seen`` sorted by time)."""
    times = [item.t for item in seen]
    return seen[bisect.bisect_left(times, t0) : bisect.bisect_left(times, t1)]


def _trips_between(trips: list[RoundTrip], t0: float, t1: float) -> list[RoundTrip]:
    """Round trips whose request was started at t0 ≤ t < t1 (``trips`` sorted by time)."""
    times = [trip.t for trip in trips]
    return trips[bisect.bisect_left(times, t0) : bisect.bisect_left(times, t1)]


# ----------------------------------------------------------------------------- one bot process


@dataclass(frozen=True)
class Tree:
    """A source tree whose ``bot`` package is measured."""

    label: str
    path: Path
    revision: str
    """What the tree holds, for the report: a commit, and whether bot/ has local changes."""


@dataclass(frozen=True)
class TurnTimes:
    """When one measured turn's events happened, and INFO commandstats around it."""

    chat: int
    push_wall: float
    """Wall clock at the push; read next to `push`, it gives the offset between the clocks."""
    push: float
    connected: float
    """``time.perf_counter()`` when the realtime stand-in received the handshake."""
    response_create: float
    sent: float
    """``time.perf_counter()`` when the sendVoice request reached the Bot API stand-in."""
    before: Snapshot
    after: Snapshot

    def wall(self, perf: float) -> float:
        """A ``time.perf_counter()`` value of this turn on the wall clock."""
        return perf - self.push + self.push_wall

    @property
    def window_a(self) -> tuple[float, float]:
        return self.push_wall, self.wall(self.connected)

    @property
    def window_b(self) -> tuple[float, float]:
        return self.push_wall, self.wall(self.sent) + SETTLE_AFTER_SEND


@dataclass(frozen=True)
class Idle:
    """The idle window: its bounds on the wall clock, and INFO commandstats across it."""

    start: float
    end: float
    stats: Counter[str]
    stats_seconds: float
    """The time between the two INFO answers, which the `stats` difference covers."""


@dataclass
class TreeRun:
    """The raw measurements of one tree's bot process."""

    tree: Tree
    idle: Idle
    turns: list[TurnTimes]
    monitor: list[Seen]
    probe: ProbeLog
    exit_code: int | None
    redis_version: str
    log_tail: str = ""


class _Polls:
    """Whether the bot has a getUpdates long poll waiting at the Bot API stand-in, so a pushed
    update is delivered at once. The stand-in counts polls as they arrive (a private counter,
    read when present) and records them when answered."""

    def __init__(self, api: BotAPIStandIn) -> None:
        self.api = api
        self.answered = 0

    async def wait(self, process: asyncio.subprocess.Process, timeout: float) -> None:
        deadline = time.perf_counter() + timeout
        while True:
            answered = len(self.api.calls_of("getUpdates"))
            arrived = getattr(self.api, "_poll_generation", None)
            if arrived is not None and int(arrived) > answered:
                return
            if arrived is None and answered > self.answered:
                await asyncio.sleep(0.05)  # a poll was answered; the next one follows at once
                return
            if process.returncode is not None:
                raise HotpathError(f"the bot exited with code {process.returncode}")
            if time.perf_counter() > deadline:
                raise HotpathError(f"no getUpdates long poll within {timeout:g} s")
            await asyncio.sleep(0.002)

    def pushed(self) -> None:
        self.answered = len(self.api.calls_of("getUpdates"))


def _push_voice(api: BotAPIStandIn, chat: int, note: bytes) -> None:
    """Queue a private-chat voice note from user ``chat``, with whichever push method the
    stand-in has (``push_voice``, or ``push_message(kind="voice", ...)``)."""
    fields: dict[str, Any] = {
        "chat_id": chat,
        "user_id": chat,
        "data": note,
        "duration": round(NOTE_SECONDS),
    }
    push_voice = getattr(api, "push_voice", None)
    if push_voice is not None:
        push_voice(**fields)
        return
    push_message = getattr(api, "push_message", None)
    if push_message is None:
        raise HotpathError("the Bot API stand-in has neither push_voice nor push_message")
    push_message(kind="voice", **fields)


async def _wait_voice(
    api: BotAPIStandIn, chat: int, process: asyncio.subprocess.Process, timeout: float
) -> Call:
    """The bot's sendVoice to ``chat``. Raises HotpathError when it answers with a text (its
    error message), exits, or sends nothing within ``timeout``."""
    deadline = time.perf_counter() + timeout
    while True:
        for call in api.calls_of("sendVoice"):
            if call.int_param("chat_id") == chat and call.ok:
                return call
        for call in api.calls_of("sendMessage"):
            if call.int_param("chat_id") == chat:
                raise HotpathError(f"chat {chat} got a text instead: {call.params.get('text')!r}")
        if process.returncode is not None:
            raise HotpathError(f"the bot exited with code {process.returncode}")
        remaining = deadline - time.perf_counter()
        if remaining <= 0:
            raise HotpathError(f"no voice reply for chat {chat} within {timeout:g} s")
        with contextlib.suppress(TimeoutError):
            await api.wait_for(
                "sendVoice", count=len(api.calls_of("sendVoice")) + 1, timeout=min(remaining, 0.5)
            )


def _bot_env(
    tree: Tree,
    api: BotAPIStandIn,
    realtime: RealtimeStandIn,
    redis_url: str,
    work: Path,
    loader_dir: Path,
) -> dict[str, str]:
    return {
        "PATH": os.environ.get("PATH", "/usr/local/bin:/usr/bin:/bin"),
        "HOME": os.environ.get("HOME", "/tmp"),
        "LANG": "C.UTF-8",
        # The tree first, so `bot` comes from it; then the folder whose sitecustomize loads the
        # round-trip probe.
        "PYTHONPATH": f"{tree.path}{os.pathsep}{loader_dir}",
        "BOT_TOKEN": api.token,
        "TELEGRAM_API_URL": api.url,
        "REALTIME_PROVIDER": "yandex",
        "REALTIME_API_KEY": API_KEY,
        "REALTIME_URL": realtime.url + MODEL_QUERY,
        "YANDEX_FOLDER_ID": "bench",
        "REDIS_URL": redis_url,
        "DATA_DIR": str(work / "data"),
        "WORKER_NAME": f"hotpath-{tree.label}",
        "LOG_LEVEL": "WARNING",
        PROBE_ENV: str(work / "round-trips.jsonl"),
    }


class _Session:
    """One bot process of one tree against its own stand-ins and redis-server."""

    def __init__(
        self,
        api: BotAPIStandIn,
        realtime: RealtimeStandIn,
        stats: CommandStats,
        process: asyncio.subprocess.Process,
        note: bytes,
    ) -> None:
        self.api = api
        self.realtime = realtime
        self.stats = stats
        self.process = process
        self.note = note
        self.polls = _Polls(api)
        self._chat = 700_000

    async def turn(self) -> TurnTimes:
        """One voice turn in a new private chat; returns once window b has ended."""
        self._chat += 1
        chat = self._chat
        await self.polls.wait(self.process, TURN_TIMEOUT)
        first = len(self.realtime.sessions)
        before = await self.stats.take()
        push_wall, push = time.time(), time.perf_counter()
        _push_voice(self.api, chat, self.note)
        self.polls.pushed()
        call = await _wait_voice(self.api, chat, self.process, TURN_TIMEOUT)
        await asyncio.sleep(max(0.0, call.t + SETTLE_AFTER_SEND - time.perf_counter()))
        after = await self.stats.take()
        connected, response_create = _model_times(self.realtime.sessions[first:], chat)
        return TurnTimes(
            chat=chat,
            push_wall=push_wall,
            push=push,
            connected=connected,
            response_create=response_create,
            sent=call.t,
            before=before,
            after=after,
        )

    async def idle(self, seconds: float) -> Idle:
        """Watch the bot for ``seconds`` with nothing to do."""
        before = await self.stats.take()
        start = time.time()
        await asyncio.sleep(seconds)
        end = time.time()
        after = await self.stats.take()
        return Idle(start, end, CommandStats.delta(before, after), after.t - before.t)


def _model_times(sessions: list[RecordedSession], chat: int) -> tuple[float, float]:
    """(handshake, response.create) of the turn's realtime session, on ``time.perf_counter()``;
    HotpathError unless exactly one session of the turn got a response."""
    answered = [
        (s.t_connected, s.t_response_create) for s in sessions if s.t_response_create is not None
    ]
    if len(answered) != 1:
        raise HotpathError(f"chat {chat}: {len(answered)} realtime sessions with a response")
    return answered[0]


async def _stop(process: asyncio.subprocess.Process) -> int | None:
    if process.returncode is None:
        process.send_signal(signal.SIGTERM)
    try:
        return await asyncio.wait_for(process.wait(), STOP_TIMEOUT)
    except TimeoutError:
        process.kill()
        await process.wait()
        return None


async def run_tree(tree: Tree, note: bytes, turns: int, idle_seconds: float) -> TreeRun:
    """Start ``tree``'s bot on fresh stand-ins and Redis, warm it up, measure its idle
    background and ``turns`` voice turns, stop it, and return everything recorded."""
    redis_server = RedisServer()
    redis_server.start()
    try:
        async with (
            BotAPIStandIn() as api,
            RealtimeStandIn(api_key=API_KEY, scenario=SCENARIO) as realtime,
        ):
            stats = CommandStats(redis_server.url)
            monitor = MonitorLog(redis_server.port)
            try:
                # The stats connection is opened (and its set-up commands run) before anything
                # is watched; MONITOR then leaves its INFO calls out by address.
                monitor.ignored_clients.add(await stats.address())
                await monitor.start()
                with tempfile.TemporaryDirectory(prefix=f"hotpath-{tree.label}-") as tmp:
                    return await _run_process(
                        tree, api, realtime, redis_server.url, stats, monitor, Path(tmp),
                        note=note, turns=turns, idle_seconds=idle_seconds,
                    )  # fmt: skip
            finally:
                await monitor.stop()
                await stats.aclose()
    finally:
        redis_server.stop()


async def _run_process(
    tree: Tree,
    api: BotAPIStandIn,
    realtime: RealtimeStandIn,
    redis_url: str,
    stats: CommandStats,
    monitor: MonitorLog,
    work: Path,
    *,
    note: bytes,
    turns: int,
    idle_seconds: float,
) -> TreeRun:
    loader_dir = work / "probe"
    write_loader(loader_dir)
    env = _bot_env(tree, api, realtime, redis_url, work, loader_dir)
    log_path = work / "bot.log"
    with log_path.open("wb") as log_file:
        process = await asyncio.create_subprocess_exec(
            sys.executable, "-m", "bot",
            cwd=tree.path, env=env, stdin=subprocess.DEVNULL, stdout=log_file, stderr=log_file,
        )  # fmt: skip
    session = _Session(api, realtime, stats, process, note)
    measured: list[TurnTimes] = []
    failure: HotpathError | None = None
    exit_code: int | None = None
    try:
        await session.polls.wait(process, START_TIMEOUT)
        for _ in range(WARMUP_TURNS):
            await session.turn()
            await asyncio.sleep(GAP_SECONDS)
        await asyncio.sleep(QUIET_BEFORE_IDLE)
        _progress(f"{tree.label}: idle for {idle_seconds:g} s")
        idle = await session.idle(idle_seconds)
        _progress(f"{tree.label}: {turns} turn(s)")
        for _ in range(turns):
            await asyncio.sleep(GAP_SECONDS)
            measured.append(await session.turn())
    except HotpathError as exc:
        failure = exc
    finally:
        exit_code = await _stop(process)
        await asyncio.sleep(MONITOR_DRAIN)
    log_tail = log_path.read_text(errors="replace")[-3000:]
    if failure is not None:
        raise HotpathError(f"{tree.label}: {failure}\n--- the bot's log ---\n{log_tail or '-'}")
    try:
        probe = read_log(Path(env[PROBE_ENV]))
    except (OSError, ValueError) as exc:
        raise HotpathError(
            f"{tree.label}: no round-trip log from the bot (exit code {exit_code}): {exc}\n"
            f"--- the bot's log ---\n{log_tail or '-'}"
        ) from exc
    trips = sorted(probe.round_trips, key=lambda trip: trip.t)
    return TreeRun(
        tree=tree,
        idle=idle,
        turns=measured,
        monitor=sorted(monitor.seen, key=lambda seen: seen.t),
        probe=ProbeLog(pid=probe.pid, bot=probe.bot, round_trips=trips),
        exit_code=exit_code,
        redis_version=await stats.version(),
        log_tail=log_tail,
    )


# ----------------------------------------------------------------------------- figures


@dataclass(frozen=True)
class Background:
    """What the bot issues per second while idle, by the three counts' own sources."""

    seconds: float
    monitor: dict[str, float]
    """Commands by `Seen.label`, from MONITOR."""
    stats: dict[str, float]
    """Commands by name, from INFO commandstats."""
    round_trips: float

    def as_dict(self) -> dict[str, Any]:
        return {
            "seconds": self.seconds,
            "monitor_per_s": self.monitor,
            "commandstats_per_s": self.stats,
            "round_trips_per_s": self.round_trips,
        }


def _net(raw: Counter[str], rates: dict[str, float], seconds: float) -> dict[str, float]:
    """``raw`` less the background expected in ``seconds``, for every name in either."""
    return {name: raw.get(name, 0) - rates.get(name, 0.0) * seconds for name in {*raw, *rates}}


@dataclass(frozen=True)
class TurnFigures:
    """One measured turn: latencies, and counts both as seen and net of the background."""

    chat: int
    to_handshake_ms: float
    to_create_ms: float
    window_a_ms: float
    window_b_ms: float
    before_raw: Counter[str]
    before: dict[str, float]
    whole_raw: Counter[str]
    whole: dict[str, float]
    whole_monitor_raw: int
    whole_monitor: float
    trips_before_raw: int
    trips_before: float
    trips_whole_raw: int
    trips_whole: float
    shapes_before: Counter[str]

    def as_dict(self) -> dict[str, Any]:
        return {
            "chat": self.chat,
            "push_to_handshake_ms": self.to_handshake_ms,
            "push_to_response_create_ms": self.to_create_ms,
            "window_before_connection_ms": self.window_a_ms,
            "window_whole_turn_ms": self.window_b_ms,
            "commands_before_connection": dict(self.before_raw),
            "commands_before_connection_net": _rounded(self.before),
            "commands_whole_turn": dict(self.whole_raw),
            "commands_whole_turn_net": _rounded(self.whole),
            "commands_whole_turn_monitor": self.whole_monitor_raw,
            "commands_whole_turn_monitor_net": self.whole_monitor,
            "round_trips_before_connection": self.trips_before_raw,
            "round_trips_before_connection_net": self.trips_before,
            "round_trips_whole_turn": self.trips_whole_raw,
            "round_trips_whole_turn_net": self.trips_whole,
            "round_trips_before_connection_by_shape": dict(self.shapes_before),
        }


def _rounded(values: dict[str, float]) -> dict[str, float]:
    return {name: round(value, 4) for name, value in sorted(values.items())}


def _background(run: TreeRun) -> Background:
    idle = run.idle
    span = idle.end - idle.start
    monitor = Counter(seen.label for seen in _seen_between(run.monitor, idle.start, idle.end))
    trips = _trips_between(run.probe.round_trips, idle.start, idle.end)
    return Background(
        seconds=span,
        monitor={name: count / span for name, count in monitor.items()},
        stats={name: count / idle.stats_seconds for name, count in idle.stats.items()},
        round_trips=len(trips) / span,
    )


def _turn_figures(turn: TurnTimes, run: TreeRun, background: Background) -> TurnFigures:
    a0, a1 = turn.window_a
    b0, b1 = turn.window_b
    before_raw = Counter(seen.label for seen in _seen_between(run.monitor, a0, a1))
    whole_monitor_raw = len(_seen_between(run.monitor, b0, b1))
    whole_raw = CommandStats.delta(turn.before, turn.after)
    stats_span = turn.after.t - turn.before.t
    trips_a = _trips_between(run.probe.round_trips, a0, a1)
    trips_b = _trips_between(run.probe.round_trips, b0, b1)
    monitor_rate = sum(background.monitor.values())
    return TurnFigures(
        chat=turn.chat,
        to_handshake_ms=(turn.connected - turn.push) * 1000,
        to_create_ms=(turn.response_create - turn.push) * 1000,
        window_a_ms=(a1 - a0) * 1000,
        window_b_ms=(b1 - b0) * 1000,
        before_raw=before_raw,
        before=_net(before_raw, background.monitor, a1 - a0),
        whole_raw=whole_raw,
        whole=_net(whole_raw, background.stats, stats_span),
        whole_monitor_raw=whole_monitor_raw,
        whole_monitor=whole_monitor_raw - monitor_rate * (b1 - b0),
        trips_before_raw=len(trips_a),
        trips_before=len(trips_a) - background.round_trips * (a1 - a0),
        trips_whole_raw=len(trips_b),
        trips_whole=len(trips_b) - background.round_trips * (b1 - b0),
        shapes_before=Counter(trip.shape for trip in trips_a),
    )


def percentile(values: list[float], q: float) -> float:
    """The q-th percentile (0-100), linear between closest ranks."""
    if not values:
        return float("nan")
    ordered = sorted(values)
    rank = (len(ordered) - 1) * q / 100
    low = int(rank)
    high = min(low + 1, len(ordered) - 1)
    return ordered[low] + (ordered[high] - ordered[low]) * (rank - low)


@dataclass
class TreeFigures:
    """The figures of one tree: per turn, and summed up over the turns."""

    tree: Tree
    bot_file: str | None
    background: Background
    turns: list[TurnFigures]
    exit_code: int | None
    summary: dict[str, float] = field(default_factory=dict)

    def __post_init__(self) -> None:
        turns = self.turns

        def median(values: Iterable[float]) -> float:
            return float(statistics.median(list(values)))

        handshake = [t.to_handshake_ms for t in turns]
        create = [t.to_create_ms for t in turns]
        self.summary = {
            "commands_before_connection": median(sum(t.before.values()) for t in turns),
            "commands_whole_turn": median(sum(t.whole.values()) for t in turns),
            "commands_whole_turn_monitor": median(t.whole_monitor for t in turns),
            "round_trips_before_connection": median(t.trips_before for t in turns),
            "round_trips_whole_turn": median(t.trips_whole for t in turns),
            "push_to_handshake_p50_ms": percentile(handshake, 50),
            "push_to_handshake_p90_ms": percentile(handshake, 90),
            "push_to_response_create_p50_ms": percentile(create, 50),
            "push_to_response_create_p90_ms": percentile(create, 90),
            "raw_commands_before_connection": median(t.before_raw.total() for t in turns),
            "raw_commands_whole_turn": median(t.whole_raw.total() for t in turns),
            "raw_round_trips_before_connection": median(t.trips_before_raw for t in turns),
            "raw_round_trips_whole_turn": median(t.trips_whole_raw for t in turns),
            "window_before_connection_p50_ms": percentile([t.window_a_ms for t in turns], 50),
            "window_whole_turn_p50_ms": percentile([t.window_b_ms for t in turns], 50),
        }

    def before_by_name(self) -> dict[str, tuple[float, float]]:
        """Each command before the connection: (median, mean) per turn, net of the background;
        only commands seen in some turn's window."""
        return _by_name([(t.before_raw, t.before) for t in self.turns])

    def whole_by_name(self) -> dict[str, tuple[float, float]]:
        """The same for the whole turn (from INFO commandstats)."""
        return _by_name([(t.whole_raw, t.whole) for t in self.turns])

    def shapes_before(self) -> dict[str, float]:
        """What the round trips before the connection carried: mean count per turn, as seen."""
        total: Counter[str] = Counter()
        for t in self.turns:
            total.update(t.shapes_before)
        return {shape: count / len(self.turns) for shape, count in total.items()}

    def as_dict(self) -> dict[str, Any]:
        return {
            "tree": {
                "label": self.tree.label,
                "path": str(self.tree.path),
                "revision": self.tree.revision,
            },
            "bot_imported_from": self.bot_file,
            "exit_code": self.exit_code,
            "summary": self.summary,
            "background": self.background.as_dict(),
            "commands_before_connection_by_name": {
                name: {"median": median, "mean": mean}
                for name, (median, mean) in sorted(self.before_by_name().items())
            },
            "commands_whole_turn_by_name": {
                name: {"median": median, "mean": mean}
                for name, (median, mean) in sorted(self.whole_by_name().items())
            },
            "round_trips_before_connection_by_shape": self.shapes_before(),
            "turns": [t.as_dict() for t in self.turns],
        }


def _by_name(
    turns: list[tuple[Counter[str], dict[str, float]]],
) -> dict[str, tuple[float, float]]:
    """(median, mean) per turn of each command's net count, for the commands some turn saw."""
    names = {name for raw, _ in turns for name in raw}
    out: dict[str, tuple[float, float]] = {}
    for name in names:
        values = [net.get(name, 0.0) for _, net in turns]
        out[name] = (float(statistics.median(values)), statistics.fmean(values))
    return out


def figures_of(run: TreeRun) -> TreeFigures:
    background = _background(run)
    return TreeFigures(
        tree=run.tree,
        bot_file=run.probe.bot,
        background=background,
        turns=[_turn_figures(turn, run, background) for turn in run.turns],
        exit_code=run.exit_code,
    )


# ----------------------------------------------------------------------------- the report

ROWS = (
    ("Redis commands before the model connection", "commands_before_connection", "{:.1f}"),
    ("Redis commands per whole turn (INFO commandstats)", "commands_whole_turn", "{:.1f}"),
    ("  the same window, counted by MONITOR", "commands_whole_turn_monitor", "{:.1f}"),
    ("Redis round trips before the model connection", "round_trips_before_connection", "{:.1f}"),
    ("Redis round trips per whole turn", "round_trips_whole_turn", "{:.1f}"),
    ("update pushed → realtime handshake, p50, ms", "push_to_handshake_p50_ms", "{:.1f}"),
    ("update pushed → realtime handshake, p90, ms", "push_to_handshake_p90_ms", "{:.1f}"),
    ("update pushed → response.create, p50, ms", "push_to_response_create_p50_ms", "{:.1f}"),
    ("update pushed → response.create, p90, ms", "push_to_response_create_p90_ms", "{:.1f}"),
)


def _grid(header: list[str], body: list[list[str]]) -> list[str]:
    """Rows padded into columns: the first left-aligned, the rest right-aligned."""
    widths = [max(len(row[i]) for row in [header, *body]) for i in range(len(header))]

    def line(cells: list[str]) -> str:
        first = cells[0].ljust(widths[0])
        rest = [cell.rjust(width) for cell, width in zip(cells[1:], widths[1:], strict=True)]
        return "  ".join([first, *rest]).rstrip()

    return [line(header), line(["-" * w for w in widths]), *(line(row) for row in body)]


def render(trees: list[TreeFigures]) -> Iterator[str]:
    """The report's lines: the figures side by side, then the per-command and per-round-trip
    breakdown before the model connection, then the idle background."""
    labels = [t.tree.label for t in trees]
    both = len(trees) == 2
    header = ["per voice turn (medians; counts net of the idle background)", *labels]
    if both:
        header.append(f"{labels[1]} − {labels[0]}")
    body = []
    for name, key, fmt in ROWS:
        values = [t.summary[key] for t in trees]
        row = [name, *(fmt.format(v) for v in values)]
        if both:
            row.append(f"{round(values[1] - values[0], 1) or 0.0:+.1f}")  # no "-0.0"
        body.append(row)
    yield from _grid(header, body)
    yield ""

    by_name = [t.before_by_name() for t in trees]
    names = sorted(
        {n for b in by_name for n in b},
        key=lambda n: (-max(b.get(n, (0, 0))[1] for b in by_name), n),
    )
    yield from _grid(
        ["commands before the model connection: median / mean per turn", *labels],
        [[name, *(_pair(b.get(name)) for b in by_name)] for name in names],
    )
    yield ""

    shapes = [t.shapes_before() for t in trees]
    kinds = sorted(
        {k for s in shapes for k in s}, key=lambda k: (-max(s.get(k, 0.0) for s in shapes), k)
    )
    yield from _grid(
        ["round trips before the model connection, by what they carried: per turn", *labels],
        [[kind, *(f"{s.get(kind, 0.0):.2f}" for s in shapes)] for kind in kinds],
    )
    yield ""
    for t in trees:
        bg = t.background
        rates = ", ".join(f"{name} {rate:.2f}" for name, rate in sorted(bg.stats.items()))
        yield (
            f"idle background of {t.tree.label} ({bg.seconds:.1f} s): {rates or 'nothing'} "
            f"commands/s; {bg.round_trips:.2f} round trips/s"
        )
    for t in trees:
        yield (
            f"{t.tree.label}: {t.tree.revision}; bot imported from {t.bot_file}; windows p50: "
            f"before connection {t.summary['window_before_connection_p50_ms']:.1f} ms, whole "
            f"turn {t.summary['window_whole_turn_p50_ms']:.0f} ms"
        )


def _pair(value: tuple[float, float] | None) -> str:
    if value is None:
        return "-"
    median, mean = value
    return f"{median:.1f} / {mean:.2f}"


# ----------------------------------------------------------------------------- trees and main


def _git(*args: str) -> str:
    done = subprocess.run(
        ["git", "-C", str(ROOT), *args], capture_output=True, text=True, check=False
    )
    if done.returncode != 0:
        raise HotpathError(f"git {' '.join(args)}: {done.stderr.strip()}")
    return done.stdout.strip()


def _current_tree() -> Tree:
    head = _git("rev-parse", "--short", "HEAD")
    changed = _git("status", "--porcelain", "--", "bot")
    revision = f"{head} + the working tree" + (" (bot/ has local changes)" if changed else "")
    return Tree("current", ROOT, revision)


@contextlib.contextmanager
def _worktree(rev: str) -> Iterator[Tree]:
    """``rev`` checked out (detached) in a temporary folder; removed again on the way out."""
    commit = _git("rev-parse", "--verify", f"{rev}^{{commit}}")
    folder = Path(tempfile.mkdtemp(prefix="hotpath-baseline-"))
    path = folder / "tree"
    _git("worktree", "add", "--detach", "--quiet", str(path), commit)
    try:
        yield Tree("baseline", path, f"{rev} ({commit[:12]}), in a temporary worktree")
    finally:
        # --force: the bot's run leaves __pycache__ folders, which git counts as changes.
        with contextlib.suppress(HotpathError):
            _git("worktree", "remove", "--force", str(path))
        shutil.rmtree(folder, ignore_errors=True)
        with contextlib.suppress(HotpathError):
            _git("worktree", "prune")


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="python -m bench.hotpath",
        description="Redis commands, Redis round trips and pre-model latency of a private-chat "
        "voice turn, for a baseline revision and the current working tree.",
    )
    parser.add_argument("--turns", type=int, default=20, help="measured turns per tree (20)")
    parser.add_argument(
        "--baseline",
        default=DEFAULT_BASELINE,
        metavar="REV",
        help=f"the revision to compare with (default {DEFAULT_BASELINE})",
    )
    parser.add_argument("--only", choices=("baseline", "current"), help="measure one tree only")
    parser.add_argument(
        "--idle",
        type=float,
        default=6.0,
        help="seconds of idle background to measure before the turns (default 6)",
    )
    return parser


async def _measure(
    trees: list[Tree], note: bytes, turns: int, idle: float
) -> tuple[list[TreeRun], dict[str, str]]:
    """Each tree in turn; a tree whose bot fails (a tree in the middle of an edit may not even
    start) is reported by label with the reason, and the others are still measured."""
    runs: list[TreeRun] = []
    failures: dict[str, str] = {}
    for tree in trees:
        _progress(f"{tree.label}: starting the bot from {tree.path}")
        started = time.perf_counter()
        try:
            runs.append(await run_tree(tree, note, turns, idle))
        except HotpathError as exc:
            failures[tree.label] = str(exc)
            _progress(f"{tree.label}: failed")
            continue
        _progress(f"{tree.label}: done in {time.perf_counter() - started:.0f} s")
    return runs, failures


def main(argv: list[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    if args.turns < 1:
        _parser().error("--turns must be at least 1")
    if args.idle <= 0:
        _parser().error("--idle must be positive")
    started = time.perf_counter()
    note = make_note(NOTE_SECONDS)
    try:
        with contextlib.ExitStack() as stack:
            trees: list[Tree] = []
            if args.only != "current":
                trees.append(stack.enter_context(_worktree(args.baseline)))
            if args.only != "baseline":
                trees.append(_current_tree())
            runs, failures = asyncio.run(_measure(trees, note, args.turns, args.idle))
    except HotpathError as exc:  # git could not provide the baseline tree
        print(f"hotpath failed: {exc}", file=sys.stderr)
        return 1
    for label, reason in failures.items():
        print(f"hotpath: {label} failed: {reason}", file=sys.stderr)
    if not runs:
        return 1
    results = [figures_of(run) for run in runs]
    elapsed = time.perf_counter() - started

    redis_version = ", ".join(sorted({run.redis_version for run in runs}))
    print(
        f"hotpath: {args.turns} turn(s) per tree after {WARMUP_TURNS} warm-up turns, each a "
        f"{NOTE_SECONDS:g} s voice note in a new private chat; the model stand-in replies "
        f"{REPLY_SECONDS:g} s (first audio after {SCENARIO.time_to_first_audio:g} s, "
        f"{SCENARIO.realtime_factor:g}× real time); redis-server {redis_version}; "
        f"{os.cpu_count()} CPUs, Python {platform.python_version()}"
    )
    print()
    for line in render(results):
        print(line)
    print(f"took {elapsed:.0f} s")

    report = {
        "meta": {
            "timestamp": datetime.datetime.now(datetime.UTC).isoformat(timespec="seconds"),
            "argv": sys.argv[1:] if argv is None else argv,
            "python": platform.python_version(),
            "platform": platform.platform(),
            "cpus": os.cpu_count(),
            "redis_server": redis_version,
            "elapsed_s": elapsed,
            "plan": {
                "turns": args.turns,
                "warmup_turns": WARMUP_TURNS,
                "idle_s": args.idle,
                "note_seconds": NOTE_SECONDS,
                "reply_seconds": REPLY_SECONDS,
                "time_to_first_audio_s": SCENARIO.time_to_first_audio,
                "realtime_factor": SCENARIO.realtime_factor,
                "settle_after_send_s": SETTLE_AFTER_SEND,
                "gap_s": GAP_SECONDS,
            },
        },
        "figures": [
            {"name": name, "key": key, **{t.tree.label: t.summary[key] for t in results}}
            for name, key, _fmt in ROWS
        ],
        "trees": {t.tree.label: t.as_dict() for t in results},
        "failed": failures,
    }
    RESULTS.mkdir(parents=True, exist_ok=True)
    path = RESULTS / "hotpath.json"
    path.write_text(json.dumps(report, indent=1))
    print(f"JSON: {path.relative_to(ROOT)}")
    return 1 if failures else 0


if __name__ == "__main__":
    raise SystemExit(main())
