"""``python -m bench.hotpath``: Redis work and pre-model latency of one voice turn, before/after.

Measures a private-chat voice turn (a 5 s OGG/Opus voice note; the model stand-in answers with
3 s of audio, first audio after 0.3 s, delivered at 4× real time) for two source trees: a
baseline revision (``--baseline REV``, default ``6dd39e9``, checked out with ``git worktree add``
into a temporary folder and removed at the end) and the current working tree. Each tree's bot
gets two warm-up turns that are not counted, then two kinds of turns, one after another:

- **new user** (``--turns``, default 20): each in a private chat of its own, so each is a user's
  first turn in a rate-limit window, which creates the user's rate counter;
- **returning user** (``--returning``, default 8): all from one user in one private chat, after
  a first turn of that user that is not counted, so each finds the counter there.

The bot runs with RATE_LIMIT_TURNS=20 and RATE_LIMIT_WINDOW=60 (both trees' defaults, set
explicitly), so the returning user's turns stay under the limit. Both trees number the windows
by the clock (Unix time // 60); the returning user's turns start in a window with time enough
left for all of them (waiting for the next one if need be), and the report says if they still
crossed into another.

Printed side by side, per tree and kind of turn:

- **Redis commands before the model connection**: from the update being pushed to the moment
  the realtime stand-in receives the WebSocket handshake (window *a*);
- **Redis commands per whole turn**: from the push to the sendVoice reaching the Bot API
  stand-in plus 0.3 s for the bookkeeping written after sending (window *b*);
- **Redis round trips** in the same two windows;
- **pre-model latency**: push → handshake, push → ``response.create`` (p50 and p90);
- by name: the commands before the connection, what each round trip there carried, and the
  commands of the whole turn.

Counts are medians over the turns, after subtracting the background the bot issues while idle
(its worker polls the queue with a blocking XREADGROUP every 0.5 s, and claims abandoned entries
and renews leases on timers): an idle window (``--idle`` seconds, after the warm-up) gives a
rate per command, and rate × window length is taken off each turn's count. So a turn's count can
be fractional, and a command the background issues can come out slightly negative.

How each figure is taken:

- Commands before the connection: a ``MONITOR`` connection opened by the benchmark
  (`bench.redis_monitor`) sees every command with redis-server's wall-clock time stamp;
  commands of the benchmark's own connection (its INFO calls) are left out. MONITOR skips a few
  administrative commands, which the bot's hot path does not use. Commands a Lua script runs
  are listed with "(script)" after their name.
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
data folder; the bot is pointed at them through the environment by `bench.driver.base_env`, and
driven with the bench's own turn pieces (`bench.driver.push_voice`, `bench.driver.reply_to`).
The table goes to stdout, progress to stderr, and everything measured to
``bench/results/hotpath.json``.
"""

from __future__ import annotations

import argparse
import asyncio
import bisect
import contextlib
import dataclasses
import operator
import os
import platform
import statistics
import subprocess
import sys
import tempfile
import time
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TypeVar

import redis.asyncio as aioredis

from bench.driver import (
    START_TIMEOUT,
    BenchError,
    Model,
    Polls,
    Stage,
    base_env,
    fresh_stage,
    push_voice,
    reply_to,
    stop_process,
)
from bench.notes import make_note
from bench.redis_monitor import MonitorLog, Seen
from bench.redis_probe import PROBE_ENV, ProbeLog, RoundTrip, read_log, write_loader
from bench.report import grid, percentile, run_meta, save_report
from bench.trees import Tree, add_tree_options, measure_trees

__all__ = ["main"]

NOTE_SECONDS = 5.0
REPLY_SECONDS = 3.0
MODEL = Model(time_to_first_audio=0.3, realtime_factor=4.0)
WARMUP_TURNS = 2
RATE_LIMIT_TURNS = 20
RATE_LIMIT_WINDOW = 60
SETTLE_AFTER_SEND = 0.3  # window b ends this long after sendVoice: the marks written after it
GAP_SECONDS = 0.2  # before each push, after the previous turn's window
QUIET_BEFORE_IDLE = 1.0  # after the warm-up, so its last writes stay out of the idle window
TURN_TIMEOUT = 60.0
KINDS = {
    "new": "new users (each a first turn in a rate-limit window)",
    "returning": "a returning user (later turns in the same window)",
}


def _progress(message: str) -> None:
    print(f"[hotpath] {message}", file=sys.stderr, flush=True)


# ----------------------------------------------------------------------------- what Redis ran


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
        self._seq += 1
        return Snapshot(t, self._seq - 1, calls)

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


_Stamped = TypeVar("_Stamped", Seen, RoundTrip)


def _between(items: list[_Stamped], t0: float, t1: float) -> list[_Stamped]:
    """The items stamped t0 ≤ t < t1 (wall clock; ``items`` sorted by their ``t``)."""
    key = operator.attrgetter("t")
    return items[bisect.bisect_left(items, t0, key=key) : bisect.bisect_left(items, t1, key=key)]


# ----------------------------------------------------------------------------- one bot process


@dataclass(frozen=True)
class Plan:
    """What to measure of each tree."""

    turns: int
    """New-user turns."""
    returning: int
    """Turns of the returning user, after its first."""
    idle: float
    """Seconds of idle background to measure."""


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
    turns: dict[str, list[TurnTimes]]
    """Measured turns by kind (a key of KINDS)."""
    rate_window_crossed: bool
    """Whether the returning user's turns spanned two rate-limit windows."""
    monitor: list[Seen]
    probe: ProbeLog
    exit_code: int | None
    redis_version: str


class _Bot:
    """One bot process of one tree, driven one voice turn at a time."""

    def __init__(
        self,
        stage: Stage,
        stats: CommandStats,
        process: asyncio.subprocess.Process,
        note: bytes,
    ) -> None:
        self.stage = stage
        self.stats = stats
        self.process = process
        self.note = note
        self.polls = Polls(stage.api)

    async def turn(self, chat: int) -> TurnTimes:
        """One voice turn from user ``chat`` in its private chat; returns once window b has
        ended. Raises BenchError when the turn is not answered with a voice."""
        await asyncio.sleep(GAP_SECONDS)
        await self.polls.wait(self.process, TURN_TIMEOUT)
        before = await self.stats.take()
        push_wall = time.time()
        push = push_voice(self.stage, self.polls, chat, self.note, NOTE_SECONDS)
        session, call = await reply_to(self.stage, chat, self.process, TURN_TIMEOUT, since=push)
        await asyncio.sleep(max(0.0, call.t + SETTLE_AFTER_SEND - time.perf_counter()))
        after = await self.stats.take()
        if session.t_response_create is None:
            raise BenchError(f"chat {chat}: its realtime session has no response.create")
        return TurnTimes(
            chat=chat,
            push_wall=push_wall,
            push=push,
            connected=session.t_connected,
            response_create=session.t_response_create,
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

    async def returning_user(self, turns: int, seconds_per_turn: float) -> list[TurnTimes]:
        """``turns`` + 1 turns of a user new to the bot, in its private chat; all in one rate-limit
        window when ``seconds_per_turn`` bounds a turn (it waits for the next window when this
        one has too little time left, unless they cannot fit in any)."""
        needed = (turns + 1) * seconds_per_turn
        left = RATE_LIMIT_WINDOW - time.time() % RATE_LIMIT_WINDOW
        if left < needed < RATE_LIMIT_WINDOW:
            await asyncio.sleep(left)
        user = self.stage.next_chat()
        return [await self.turn(user) for _ in range(turns + 1)]


async def run_tree(tree: Tree, note: bytes, plan: Plan) -> TreeRun:
    """Start ``tree``'s bot on fresh stand-ins and Redis, warm it up, measure its idle
    background and both kinds of turns, stop it, and return everything recorded. Raises
    BenchError when the bot fails."""
    async with contextlib.AsyncExitStack() as stack:
        stage = await stack.enter_async_context(fresh_stage(MODEL.scenario(REPLY_SECONDS)))
        stats = CommandStats(stage.redis.url)
        stack.push_async_callback(stats.aclose)
        # The stats connection is opened (and its set-up commands run) before anything is
        # watched; MONITOR then leaves its INFO calls out by address.
        monitor = MonitorLog(stage.redis.port, ignore=await stats.address())
        stack.push_async_callback(monitor.stop)
        await monitor.start()
        work = Path(stack.enter_context(tempfile.TemporaryDirectory(prefix="hotpath-")))
        loader_dir, probe_path, log_path = work / "probe", work / "trips.jsonl", work / "bot.log"
        write_loader(loader_dir)
        env = {
            **base_env(stage),
            # The tree first, so `bot` comes from it; then the folder whose sitecustomize loads
            # the round-trip probe.
            "PYTHONPATH": f"{tree.path}{os.pathsep}{loader_dir}",
            "DATA_DIR": str(work / "data"),
            "RATE_LIMIT_TURNS": str(RATE_LIMIT_TURNS),
            "RATE_LIMIT_WINDOW": str(RATE_LIMIT_WINDOW),
            PROBE_ENV: str(probe_path),
        }
        with log_path.open("wb") as log_file:
            process = await asyncio.create_subprocess_exec(
                sys.executable, "-m", "bot",
                cwd=tree.path, env=env, stdin=subprocess.DEVNULL, stdout=log_file, stderr=log_file,
            )  # fmt: skip
        bot = _Bot(stage, stats, process, note)
        failure: BenchError | None = None
        try:
            await bot.polls.wait(process, START_TIMEOUT)
            for _ in range(WARMUP_TURNS):
                await bot.turn(stage.next_chat())
            await asyncio.sleep(QUIET_BEFORE_IDLE)
            _progress(f"{tree.label}: idle for {plan.idle:g} s")
            idle = await bot.idle(plan.idle)
            _progress(f"{tree.label}: {plan.turns} new users, then a returning user")
            new = [await bot.turn(stage.next_chat()) for _ in range(plan.turns)]
            # A generous bound on a turn: the slowest so far, from the poll wait to its last INFO.
            per_turn = 1.5 * (max(t.after.t - t.push_wall for t in new) + GAP_SECONDS + 0.2)
            first, *returning = await bot.returning_user(plan.returning, per_turn)
        except BenchError as exc:
            failure = exc
        finally:
            exit_code = await stop_process(process)
            await monitor.drain()
        log_tail = log_path.read_text(errors="replace")[-3000:] or "-"
        if failure is not None:
            raise BenchError(f"{tree.label}: {failure}\n--- the bot's log ---\n{log_tail}")
        try:
            probe = read_log(probe_path)
        except (OSError, ValueError) as exc:
            raise BenchError(
                f"{tree.label}: no round-trip log from the bot (exit code {exit_code}): {exc}\n"
                f"--- the bot's log ---\n{log_tail}"
            ) from exc
        # Each turn is admitted (and counted) between its push and its realtime handshake.
        last = returning[-1]
        windows = {
            int(t // RATE_LIMIT_WINDOW) for t in (first.push_wall, last.wall(last.connected))
        }
        return TreeRun(
            tree=tree,
            idle=idle,
            turns={"new": new, "returning": returning},
            rate_window_crossed=len(windows) > 1,
            monitor=monitor.in_order(),
            probe=dataclasses.replace(
                probe, round_trips=sorted(probe.round_trips, key=operator.attrgetter("t"))
            ),
            exit_code=exit_code,
            redis_version=await stats.version(),
        )


# ----------------------------------------------------------------------------- figures

COUNTS = {
    "commands_before_connection": "Redis commands before the model connection",
    "commands_whole_turn": "Redis commands per whole turn (INFO commandstats)",
    "commands_whole_turn_monitor": "  the same window, counted by MONITOR",
    "round_trips_before_connection": "Redis round trips before the model connection",
    "round_trips_whole_turn": "Redis round trips per whole turn",
}
LATENCIES = {
    "push_to_handshake": "update pushed → realtime handshake",
    "push_to_response_create": "update pushed → response.create",
}


@dataclass(frozen=True)
class Background:
    """What the bot issues per second while idle, by each count's own source and naming."""

    seconds: float
    monitor: dict[str, float]
    """Commands by `Seen.label`, from MONITOR."""
    stats: dict[str, float]
    """Commands by name, from INFO commandstats."""
    trips: dict[str, float]
    """Round trips by `RoundTrip.shape`."""

    @classmethod
    def of(cls, run: TreeRun) -> Background:
        idle = run.idle
        span = idle.end - idle.start
        seen = _commands(run, idle.start, idle.end)
        trips = _trips(run, idle.start, idle.end)
        return cls(
            seconds=span,
            monitor={name: count / span for name, count in seen.items()},
            stats={name: count / idle.stats_seconds for name, count in idle.stats.items()},
            trips={shape: count / span for shape, count in trips.items()},
        )


def _commands(run: TreeRun, t0: float, t1: float) -> Counter[str]:
    """The commands MONITOR saw at t0 ≤ t < t1, by `Seen.label`."""
    return Counter(seen.label for seen in _between(run.monitor, t0, t1))


def _trips(run: TreeRun, t0: float, t1: float) -> Counter[str]:
    """The round trips started at t0 ≤ t < t1, by `RoundTrip.shape`."""
    return Counter(trip.shape for trip in _between(run.probe.round_trips, t0, t1))


@dataclass(frozen=True)
class Count:
    """One count of one turn's window, by name: as seen, and net of the idle background."""

    seen: dict[str, int]
    net: dict[str, float]
    """``seen`` less the background expected in the window, for every name in either."""

    @classmethod
    def of(cls, seen: Counter[str], rates: dict[str, float], seconds: float) -> Count:
        net = {name: seen[name] - rates.get(name, 0.0) * seconds for name in {*seen, *rates}}
        return cls(dict(seen), net)


@dataclass(frozen=True)
class TurnFigures:
    """One measured turn: latencies (ms), window lengths (ms) and counts (keys of COUNTS)."""

    chat: int
    latency_ms: dict[str, float]
    window_ms: dict[str, float]
    counts: dict[str, Count]

    @classmethod
    def of(cls, turn: TurnTimes, run: TreeRun, background: Background) -> TurnFigures:
        (a0, a1), (b0, b1) = turn.window_a, turn.window_b
        whole = CommandStats.delta(turn.before, turn.after)
        monitor, trips = background.monitor, background.trips
        return cls(
            chat=turn.chat,
            latency_ms={
                "push_to_handshake": (turn.connected - turn.push) * 1000,
                "push_to_response_create": (turn.response_create - turn.push) * 1000,
            },
            window_ms={"before_connection": (a1 - a0) * 1000, "whole_turn": (b1 - b0) * 1000},
            counts={
                "commands_before_connection": Count.of(_commands(run, a0, a1), monitor, a1 - a0),
                "commands_whole_turn": Count.of(
                    whole, background.stats, turn.after.t - turn.before.t
                ),
                "commands_whole_turn_monitor": Count.of(_commands(run, b0, b1), monitor, b1 - b0),
                "round_trips_before_connection": Count.of(_trips(run, a0, a1), trips, a1 - a0),
                "round_trips_whole_turn": Count.of(_trips(run, b0, b1), trips, b1 - b0),
            },
        )


@dataclass(frozen=True)
class Group:
    """The measured turns of one kind (a key of KINDS) in one tree."""

    turns: list[TurnFigures]

    def summary(self) -> dict[str, float]:
        """Per count, the median over the turns of its total net of the background; per
        latency, p50 and p90; per window, its p50 length."""
        out = {
            key: float(statistics.median(sum(t.counts[key].net.values()) for t in self.turns))
            for key in COUNTS
        }
        for key in LATENCIES:
            values = [t.latency_ms[key] for t in self.turns]
            out[f"{key}_p50_ms"] = percentile(values, 50)
            out[f"{key}_p90_ms"] = percentile(values, 90)
        for key in ("before_connection", "whole_turn"):
            out[f"window_{key}_p50_ms"] = percentile([t.window_ms[key] for t in self.turns], 50)
        return out

    def by_name(self, key: str) -> dict[str, tuple[float, float]]:
        """(median, mean) over the turns of each name's net count in ``key`` (of COUNTS), for
        the names some turn's window saw (the background alone brings in none)."""
        counts = [t.counts[key] for t in self.turns]
        out: dict[str, tuple[float, float]] = {}
        for name in set().union(*(count.seen for count in counts)):
            values = [count.net.get(name, 0.0) for count in counts]
            out[name] = (float(statistics.median(values)), statistics.fmean(values))
        return out

    def as_dict(self) -> dict[str, Any]:
        return {
            "summary": self.summary(),
            "by_name": {
                key: {
                    name: {"median": m, "mean": mean}
                    for name, (m, mean) in self.by_name(key).items()
                }
                for key in COUNTS
            },
            "turns": [dataclasses.asdict(turn) for turn in self.turns],
        }


@dataclass(frozen=True)
class TreeFigures:
    """The figures of one tree: its background, and its turns of each kind."""

    tree: Tree
    bot_file: str | None
    background: Background
    groups: dict[str, Group]
    rate_window_crossed: bool
    exit_code: int | None

    @classmethod
    def of(cls, run: TreeRun) -> TreeFigures:
        background = Background.of(run)
        return cls(
            tree=run.tree,
            bot_file=run.probe.bot,
            background=background,
            groups={
                kind: Group([TurnFigures.of(turn, run, background) for turn in turns])
                for kind, turns in run.turns.items()
            },
            rate_window_crossed=run.rate_window_crossed,
            exit_code=run.exit_code,
        )

    def as_dict(self) -> dict[str, Any]:
        return {
            "tree": {key: str(value) for key, value in dataclasses.asdict(self.tree).items()},
            "bot_imported_from": self.bot_file,
            "exit_code": self.exit_code,
            "returning_user_crossed_a_rate_window": self.rate_window_crossed,
            "background": dataclasses.asdict(self.background),
            **{kind: group.as_dict() for kind, group in self.groups.items()},
        }


# ----------------------------------------------------------------------------- the report


# The main table's rows: (name, key of a group's summary).
ROWS = [
    *((name, key) for key, name in COUNTS.items()),
    *(
        (f"{name}, {q}, ms", f"{key}_{q}_ms")
        for key, name in LATENCIES.items()
        for q in ("p50", "p90")
    ),
]


def _largest_first(tables: list[dict[str, tuple[float, float]]]) -> list[str]:
    """The names in all ``tables``, the one with the largest mean in any table first."""
    names = {name for table in tables for name in table}
    return sorted(names, key=lambda n: (-max(t.get(n, (0.0, 0.0))[1] for t in tables), n))


def render(trees: list[TreeFigures]) -> Iterator[str]:
    """The report's lines: the figures side by side for each kind of turn; by tree and kind,
    the commands and round trips before the model connection and the commands of the whole
    turn; the idle background."""
    labels = [t.tree.label for t in trees]
    both = len(trees) == 2
    header = ["per voice turn (medians; counts net of the idle background)", *labels]
    header += [f"{labels[1]} − {labels[0]}"] if both else []
    body: list[list[str]] = []
    for kind, title in KINDS.items():
        turns = len(trees[0].groups[kind].turns)
        body.append([f"{title}: {turns} turns", *[""] * (len(header) - 1)])
        summaries = [t.groups[kind].summary() for t in trees]
        for name, key in ROWS:
            values = [summary[key] for summary in summaries]
            row = [f"  {name}", *(f"{value:.1f}" for value in values)]
            if both:
                row.append(f"{round(values[1] - values[0], 1) or 0.0:+.1f}")  # no "-0.0"
            body.append(row)
    yield from grid(header, body)

    columns = [f"{t.tree.label} {kind}" for t in trees for kind in KINDS]
    for key, title in (
        ("commands_before_connection", "commands before the model connection"),
        ("round_trips_before_connection", "round trips before it, by what they carried"),
        ("commands_whole_turn", "commands per whole turn (INFO commandstats)"),
    ):
        tables = [t.groups[kind].by_name(key) for t in trees for kind in KINDS]
        yield ""
        yield from grid(
            [f"{title}: median / mean per turn", *columns],
            [
                [name, *(_pair(table.get(name)) for table in tables)]
                for name in _largest_first(tables)
            ],
        )
    yield ""
    for t in trees:
        bg = t.background
        rates = ", ".join(f"{name} {rate:.2f}" for name, rate in sorted(bg.stats.items()))
        yield (
            f"idle background of {t.tree.label} ({bg.seconds:.1f} s): {rates or 'nothing'} "
            f"commands/s; {sum(bg.trips.values()):.2f} round trips/s"
        )
    for t in trees:
        windows = [(kind, group.summary()) for kind, group in t.groups.items()]
        yield f"{t.tree.label}: {t.tree.revision}; bot imported from {t.bot_file}; " + "; ".join(
            f"windows p50, {kind}: {s['window_before_connection_p50_ms']:.1f} ms before "
            f"connection, {s['window_whole_turn_p50_ms']:.0f} ms whole turn"
            for kind, s in windows
        )
        if t.rate_window_crossed:
            yield (
                f"{t.tree.label}: the returning user's turns spanned two rate-limit windows, so "
                "one of them was its first turn in a window"
            )


def _pair(value: tuple[float, float] | None) -> str:
    if value is None:
        return "-"
    median, mean = value
    return f"{median:.1f} / {mean:.2f}"


# ----------------------------------------------------------------------------- trees and main


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="python -m bench.hotpath",
        description="Redis commands, Redis round trips and pre-model latency of a private-chat "
        "voice turn, of new users and of a returning user, for a baseline revision and the "
        "current working tree.",
    )
    parser.add_argument("--turns", type=int, default=20, help="new-user turns per tree (20)")
    parser.add_argument(
        "--returning",
        type=int,
        default=8,
        help=f"turns of the returning user after its first, per tree (8; at most "
        f"{RATE_LIMIT_TURNS - 1}, to stay under RATE_LIMIT_TURNS={RATE_LIMIT_TURNS})",
    )
    add_tree_options(parser)
    parser.add_argument(
        "--idle",
        type=float,
        default=6.0,
        help="seconds of idle background to measure before the turns (default 6)",
    )
    return parser


def main(argv: list[str] | None = None) -> int:
    parser = _parser()
    args = parser.parse_args(argv)
    if args.turns < 1:
        parser.error("--turns must be at least 1")
    if not 1 <= args.returning < RATE_LIMIT_TURNS:
        parser.error(f"--returning must be from 1 to {RATE_LIMIT_TURNS - 1}")
    if args.idle <= 0:
        parser.error("--idle must be positive")
    plan = Plan(turns=args.turns, returning=args.returning, idle=args.idle)
    started = time.perf_counter()
    note = make_note(NOTE_SECONDS)
    try:
        runs, failures = measure_trees(
            "hotpath", args.baseline, args.only, lambda tree: run_tree(tree, note, plan), _progress
        )
    except BenchError as exc:  # git could not provide the baseline tree
        print(f"hotpath failed: {exc}", file=sys.stderr)
        return 1
    if not runs:
        return 1
    results = [TreeFigures.of(run) for run in runs]
    elapsed = time.perf_counter() - started

    redis_version = ", ".join(sorted({run.redis_version for run in runs}))
    print(
        f"hotpath: per tree, after {WARMUP_TURNS} warm-up turns, {plan.turns} turns each in a "
        f"new private chat, then {plan.returning} turns of one user in one private chat after "
        f"that user's first; each a {NOTE_SECONDS:g} s voice note; "
        f"{MODEL.describe(REPLY_SECONDS)}; bot env RATE_LIMIT_TURNS={RATE_LIMIT_TURNS}, "
        f"RATE_LIMIT_WINDOW={RATE_LIMIT_WINDOW}; redis-server {redis_version}; "
        f"{os.cpu_count()} CPUs, Python {platform.python_version()}"
    )
    print()
    for line in render(results):
        print(line)
    print(f"took {elapsed:.0f} s")

    report = {
        "meta": {
            **run_meta(argv, elapsed),
            "redis_server": redis_version,
            "plan": {
                **dataclasses.asdict(plan),
                "warmup_turns": WARMUP_TURNS,
                "rate_limit_turns": RATE_LIMIT_TURNS,
                "rate_limit_window_s": RATE_LIMIT_WINDOW,
                "note_seconds": NOTE_SECONDS,
                "reply_seconds": REPLY_SECONDS,
                "time_to_first_audio_s": MODEL.time_to_first_audio,
                "realtime_factor": MODEL.realtime_factor,
                "settle_after_send_s": SETTLE_AFTER_SEND,
                "gap_s": GAP_SECONDS,
            },
        },
        "figures": [
            {
                "kind": kind,
                "name": name.strip(),
                "key": key,
                **{t.tree.label: t.groups[kind].summary()[key] for t in results},
            }
            for kind in KINDS
            for name, key in ROWS
        ],
        "trees": {t.tree.label: t.as_dict() for t in results},
        "failed": failures,
    }
    save_report("hotpath", report)
    return 1 if failures else 0


if __name__ == "__main__":
    raise SystemExit(main())
