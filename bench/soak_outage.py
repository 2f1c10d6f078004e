"""``python -m bench.soak_outage``: voice notes through a bot killed and restarted, then Redis.

    python -m bench.soak_outage [--baseline REV] [--only baseline|current] [--spread SECONDS]
                                [--kill-at SESSIONS]

For a baseline revision (``--baseline REV``, default ``6dd39e9``, in a temporary git worktree)
and the current working tree, one after the other, each with fresh stand-ins and a fresh
redis-server (append-only persistence, in a data folder of its own):

1. one bot process, ``python -m bot`` (long polling and its worker), with ``cwd`` and PYTHONPATH
   its tree, REDIS_URL that redis-server, WORKER_NAME ``soak`` (the same name before and after
   the restart, as a supervisor restarting the process would keep it), MAX_CONCURRENT_TURNS=8
   and LOG_LEVEL=INFO; one warm-up note in a chat of its own, not counted;
2. 60 voice notes (3 s each) from 20 private chats, 3 per chat, pushed over 12 s
   (``--spread``) on a fixed schedule, the same for both trees: in three rounds, each chat's
   first note, then its second, then its third, so a chat's notes come about a third of the
   spread apart. The realtime stand-in answers each with 2 s of audio, first audio 0.3 s after
   ``response.create``, then at 4× real time;
3. at about a third of the notes, the bot is killed with SIGKILL while many turns are in
   flight: once 18 notes are pushed, as soon as as many model sessions are answering (open,
   their answer not complete: each holds a session lease) as were at any moment before (all 8
   at most), or 1.5 s later with however many are (``--kill-at N``: as soon as N are, or at the
   last push); it is started again at once with the same environment;
4. 2 s after the restarted bot polls Telegram again, redis-server is stopped (SIGTERM, so it
   writes its append-only file), and 2 s later started again on the same port with the same
   data folder;
5. the bench waits until every note is answered with a voice, or 120 s after the last push,
   then 5 s more for late duplicates, and stops the bot with SIGTERM.

Measured per tree, from what the Bot API and realtime stand-ins received:

- answered / lost: notes with at least one sendVoice replying to them / with none;
- duplicated: notes with more than one sendVoice replying to them (by chat and the reply's
  ``reply_parameters.message_id``);
- order violations: chats whose sendVoice replies, in the order they reached the stand-in,
  reply to a message older than one an earlier reply answered (a note answered twice in a row
  is a duplicate, not an order violation);
- texts sent to the soak chats instead of (or besides) voices: the bot's error messages;
- latency, push → the sendVoice request reaching the stand-in (the first, for a duplicated
  note): p50, p90 and max of the answered notes, all of them and those pushed within ±5 s of
  the kill;
- at the kill: model sessions open, and session leases left in Redis by the killed process;
- after the restart: how long until the bot polls again (and, for comparison, how long its
  first start took), until the first model session opens (the realtime stand-in receives a
  handshake) and until the first voice reply; from then on, the longest time in which no model
  session opened; the most sessions open at once in the 30 s after the restart.

The table goes to stdout, progress to stderr, everything measured (each note, reply and
session, the sessions open over time, both incarnations' logs) to
``bench/results/soak_outage.json`` (``soak_outage-spread<S>-killat<N>.json`` with another
``--spread`` or with ``--kill-at``).
A tree whose bot does not start, or fails its warm-up, is reported with the reason and its log;
the other is still measured.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import itertools
import os
import platform
import random
import subprocess
import sys
import tempfile
import time
from collections import Counter
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import redis.asyncio as aioredis

from bench.driver import (
    START_TIMEOUT,
    BenchError,
    Model,
    Polls,
    Stage,
    base_env,
    fresh_stage,
    push_voice_message,
    reply_to,
    stop_process,
)
from bench.notes import make_note
from bench.report import grid, percentile, run_meta, save_report
from bench.trees import Tree, add_tree_options, has_local_changes, measure_trees
from stand_ins.bot_api import BotAPIStandIn, Call
from stand_ins.realtime import RealtimeStandIn, RecordedSession
from stand_ins.redis import RedisServer

__all__ = ["main"]

CHATS = 20
NOTES_PER_CHAT = 3
DEFAULT_SPREAD = 12.0  # seconds from the first push to the last
SCHEDULE_SEED = 20261130  # one schedule for both trees
NOTE_SECONDS = 3.0
REPLY_SECONDS = 2.0
MODEL = Model(time_to_first_audio=0.3, realtime_factor=4.0)
MAX_CONCURRENT_TURNS = 8
WORKER_NAME = "soak"
KILL_FROM_PUSH = CHATS * NOTES_PER_CHAT * 3 // 10  # 30 %: the kill comes at about a third
KILL_WAIT = 1.5  # after that push, at most this long for the most sessions seen answering
REDIS_STOP_AFTER_UP = 2.0  # after the restarted bot polls again
REDIS_AWAY = 2.0
ANSWER_TIMEOUT = 120.0  # after the last push
LATE_DUPLICATES = 5.0  # waited after every note is answered
NEAR_KILL = 5.0  # notes pushed within this many seconds of the kill, either side
AFTER_RESTART = 30.0  # the window after the restart for the most sessions open at once
SAMPLE_EVERY = 0.01
FIRST_CHAT = 7001
WARMUP_CHAT = 7000
# Session leases in either tree's layout: the baseline keeps them as members of one sorted set
# (score = expiry in Redis milliseconds), the current tree as one key with an expiry per lease.
LEASE_ZSET = "vb:sessions"
LEASE_KEYS = "vb:session:*"


def _progress(message: str) -> None:
    print(f"[soak_outage] {message}", file=sys.stderr, flush=True)


# ----------------------------------------------------------------------------- the run


@dataclass(frozen=True)
class Note:
    """One voice note of the schedule."""

    chat: int
    offset: float
    """Seconds after the first push."""


def schedule(spread: float) -> list[Note]:
    """The 60 notes in push order: three rounds (each chat's first note, then second, then
    third), chats shuffled within a round, evenly spread over ``spread`` seconds with a little
    jitter; the same on every call with the same ``spread``."""
    rng = random.Random(SCHEDULE_SEED)
    total = CHATS * NOTES_PER_CHAT
    step = spread / (total - 1)
    chats: list[int] = []
    for _ in range(NOTES_PER_CHAT):
        round_ = list(range(FIRST_CHAT, FIRST_CHAT + CHATS))
        rng.shuffle(round_)
        chats += round_
    # Jitter under half a step keeps the offsets in order, so a chat's notes stay in order.
    offsets = [i * step + rng.uniform(-0.4, 0.4) * step * (0 < i < total - 1) for i in range(total)]
    return [Note(chat, offset) for chat, offset in zip(chats, offsets, strict=True)]


@dataclass(frozen=True)
class Plan:
    """What one soak pushes, and when it kills the bot."""

    notes: list[Note]
    kill_at: int | None
    """Model sessions answering (see `_answering`) to wait for before the kill, for as long as
    notes are still to be pushed; None: as many as were at any moment before (all
    MAX_CONCURRENT_TURNS at most), for at most KILL_WAIT."""


@dataclass(frozen=True)
class Pushed:
    """A note as pushed: its chat, its message id, ``time.perf_counter()`` at the push."""

    chat: int
    message_id: int
    t: float


@dataclass
class Outage:
    """When the kill, the restart and the Redis restart happened (``time.perf_counter()``)."""

    pushed_before_kill: int = 0
    sessions_open_at_kill: int = 0
    answering_at_kill: int = 0
    leases_left_by_kill: int | None = None
    t_kill: float = 0.0
    t_restart: float = 0.0
    t_up: float | None = None
    """When the restarted bot's first getUpdates arrived (None: it never came)."""
    t_redis_down: float | None = None
    t_redis_up: float | None = None


@dataclass(frozen=True)
class Session:
    """One handshake at the realtime stand-in (``time.perf_counter()``)."""

    t: float
    accepted: bool
    """Whether the session opened (it got ``session.created``); else the handshake was refused
    (HTTP 429 past the stand-in's session quota, for instance)."""
    t_done: float | None
    """When ``response.done`` was sent; None when the session gave no answer."""

    @classmethod
    def of(cls, session: RecordedSession) -> Session:
        return cls(
            t=session.t_connected,
            accepted=session.server_event_types[:1] == ["session.created"],
            t_done=session.t_response_done_sent,
        )


@dataclass(frozen=True)
class Reply:
    """A call of the bot to one of the soak chats, as the Bot API stand-in received it."""

    method: str
    chat: int
    reply_to: int | None
    t: float
    ok: bool
    text: str

    @classmethod
    def of(cls, call: Call) -> Reply:
        params = call.params.get("reply_parameters")
        reply_to = params.get("message_id") if isinstance(params, dict) else None
        if reply_to is None:
            reply_to = call.int_param("reply_to_message_id")
        return cls(
            method=call.method,
            chat=call.int_param("chat_id") or 0,
            reply_to=None if reply_to is None else int(reply_to),
            t=call.t,
            ok=call.ok,
            text=str(call.params.get("text") or ""),
        )


@dataclass
class TreeRun:
    """What one tree's bot did during the soak, on the bench's clock."""

    tree: Tree
    t0: float
    """``time.perf_counter()`` at the first push."""
    pushed: list[Pushed]
    outage: Outage
    replies: list[Reply]
    """sendVoice and sendMessage calls to the soak chats, in arrival order."""
    sessions: list[Session]
    """Every handshake the realtime stand-in received after the warm-up."""
    open_sessions: list[tuple[float, int]]
    """(time, model sessions open), sampled every SAMPLE_EVERY while the notes were answered."""
    first_start: float
    """Seconds from starting the first incarnation to its first getUpdates."""
    all_answered_at: float | None
    exit_code: int | None
    """Of the restarted bot, stopped with SIGTERM at the end (None: it had to be killed)."""
    exited_early: int | None
    """The restarted bot's exit code when it exited by itself before the end."""
    logs: dict[str, str] = field(default_factory=dict)
    """Each incarnation's log, by file name."""


def _open_sessions(realtime: RealtimeStandIn) -> int:
    return sum(not session.ended for session in realtime.sessions)


def _answering(realtime: RealtimeStandIn) -> int:
    """Open sessions whose answer is not complete: each is a turn holding a session lease (an
    answered one may have given its lease back while its connection closes)."""
    return sum(
        not session.ended and session.t_response_done_sent is None for session in realtime.sessions
    )


async def leases_held(url: str) -> int:
    """Session leases in Redis now, in either tree's layout (LEASE_ZSET or LEASE_KEYS)."""
    client = aioredis.Redis.from_url(url)
    try:
        seconds, micros = await client.time()
        now_ms = seconds * 1000 + micros // 1000
        held = int(await client.zcount(LEASE_ZSET, f"({now_ms}", "+inf"))
        async for _ in client.scan_iter(match=LEASE_KEYS, count=100):
            held += 1
        return held
    finally:
        await client.aclose()


async def _start_bot(tree: Tree, env: dict[str, str], log_path: Path) -> asyncio.subprocess.Process:
    """``python -m bot`` from ``tree``, its output appended to ``log_path``."""
    with log_path.open("ab") as log:
        return await asyncio.create_subprocess_exec(
            sys.executable, "-m", "bot",
            cwd=tree.path, env=env, stdin=subprocess.DEVNULL, stdout=log, stderr=log,
        )  # fmt: skip


class _Soak:
    """One tree's bot, the notes pushed at it, and the outage around its restart."""

    def __init__(
        self,
        tree: Tree,
        stage: Stage,
        redis_server: RedisServer,
        env: dict[str, str],
        work: Path,
        note: bytes,
    ) -> None:
        self.tree = tree
        self.stage = stage
        self.redis_server = redis_server
        self.env = env
        self.work = work
        self.note = note
        self.polls = Polls(stage.api)
        self.pushed: list[Pushed] = []
        self.outage = Outage()
        self.open_sessions: list[tuple[float, int]] = []
        self.most_answering = 0
        """The most sessions answering at once so far (see `_answering`)."""
        self.kill_window = asyncio.Event()
        self.process: asyncio.subprocess.Process | None = None
        """The bot running now: the first incarnation, then the restarted one."""
        self.restarted: asyncio.subprocess.Process | None = None
        self.first_start = 0.0
        """Seconds from starting the first incarnation to its first getUpdates."""

    def log_path(self, incarnation: int) -> Path:
        return self.work / f"bot-{incarnation}.log"

    def logs(self) -> dict[str, str]:
        """Each incarnation's whole log (a few hundred lines at INFO), by file name."""
        return {
            path.name: path.read_text(errors="replace")
            for path in sorted(self.work.glob("bot-*.log"))
        }

    def failure(self, what: str) -> BenchError:
        """``what`` with the end of each incarnation's log, for the report."""
        logs = "\n".join(f"--- {name} ---\n{text[-3000:]}" for name, text in self.logs().items())
        return BenchError(f"{self.tree.label}: {what}\n{logs}")

    async def start(self) -> asyncio.subprocess.Process:
        """The bot started and through its warm-up note. Raises BenchError when it fails."""
        t_spawn = time.perf_counter()
        process = await _start_bot(self.tree, self.env, self.log_path(1))
        self.process = process
        try:
            await self.polls.wait(process, START_TIMEOUT)
            self.first_start = time.perf_counter() - t_spawn
            await asyncio.sleep(0.2)
            t_push, _ = push_voice_message(
                self.stage, self.polls, WARMUP_CHAT, self.note, NOTE_SECONDS
            )
            await reply_to(self.stage, WARMUP_CHAT, process, 60.0, since=t_push)
        except BenchError as exc:
            await stop_process(process)
            raise self.failure(str(exc)) from exc
        return process

    async def push_all(self, notes: list[Note]) -> None:
        """Push the notes on schedule, whatever the bot is doing (users do not wait for it)."""
        t0 = time.perf_counter()
        for i, note in enumerate(notes):
            await asyncio.sleep(max(0.0, t0 + note.offset - time.perf_counter()))
            t, message_id = push_voice_message(
                self.stage, self.polls, note.chat, self.note, NOTE_SECONDS
            )
            self.pushed.append(Pushed(note.chat, message_id, t))
            if i + 1 == KILL_FROM_PUSH:
                self.kill_window.set()

    async def interrupt(self, plan: Plan) -> None:
        """Kill the bot once KILL_FROM_PUSH notes are pushed, as soon as ``plan.kill_at``
        model sessions are answering (or when the last note is pushed); by default as soon as
        as many are as were at any moment before (all MAX_CONCURRENT_TURNS at most), or
        KILL_WAIT later with however many are. Start it again at once; restart Redis once it is
        up. Raises BenchError when Redis does not start again."""
        process = self.process
        if process is None:
            raise BenchError("the bot was not started")
        realtime = self.stage.realtime
        await self.kill_window.wait()
        if plan.kill_at is None:
            target = min(MAX_CONCURRENT_TURNS, self.most_answering)
            deadline = time.perf_counter() + KILL_WAIT
        else:
            target, deadline = plan.kill_at, float("inf")
        while (
            _answering(realtime) < target
            and time.perf_counter() < deadline
            and len(self.pushed) < len(plan.notes)
        ):
            await asyncio.sleep(SAMPLE_EVERY)
        self.outage.sessions_open_at_kill = _open_sessions(realtime)
        self.outage.answering_at_kill = _answering(realtime)
        self.outage.pushed_before_kill = len(self.pushed)
        self.outage.t_kill = time.perf_counter()
        process.kill()
        await process.wait()
        # A few milliseconds, read before the new process can free anything.
        self.outage.leases_left_by_kill = await leases_held(self.redis_server.url)
        polls = Polls(self.stage.api)  # made now, it counts the killed bot's cut-off poll out
        self.restarted = await _start_bot(self.tree, self.env, self.log_path(2))
        self.process = self.restarted
        self.outage.t_restart = time.perf_counter()
        _progress(
            f"{self.tree.label}: killed with {self.outage.answering_at_kill} model sessions "
            f"answering after {self.outage.pushed_before_kill} pushes; started again"
        )
        # Redis goes away once the bot is up again, so its outage is not hidden in the start-up
        # (which itself waits for Redis) and both trees meet it in the same state.
        try:
            await polls.wait(self.restarted, START_TIMEOUT)
            self.outage.t_up = time.perf_counter()
        except BenchError as exc:
            _progress(f"{self.tree.label}: the restarted bot: {exc}")
        await asyncio.sleep(REDIS_STOP_AFTER_UP)
        # RedisServer's stop and start block while the process ends or starts answering; the
        # stand-ins in this event loop must keep serving meanwhile.
        await asyncio.to_thread(self.redis_server.stop)
        self.outage.t_redis_down = time.perf_counter()
        _progress(f"{self.tree.label}: Redis stopped")
        await asyncio.sleep(REDIS_AWAY)
        try:
            await asyncio.to_thread(self.redis_server.start)
        except RuntimeError as exc:
            raise self.failure(f"Redis did not start again: {exc}") from exc
        self.outage.t_redis_up = time.perf_counter()
        _progress(f"{self.tree.label}: Redis started again")

    async def sample(self) -> None:
        """Record how many model sessions are open, and the most answering at once, until
        cancelled."""
        realtime = self.stage.realtime
        while True:
            self.open_sessions.append((time.perf_counter(), _open_sessions(realtime)))
            self.most_answering = max(self.most_answering, _answering(realtime))
            await asyncio.sleep(SAMPLE_EVERY)

    def answered(self) -> set[tuple[int, int]]:
        return {
            (reply.chat, reply.reply_to)
            for reply in _soak_replies(self.stage.api)
            if reply.method.lower() == "sendvoice" and reply.ok and reply.reply_to is not None
        }

    async def wait_answers(self, total: int, done_pushing: asyncio.Task[None]) -> float | None:
        """Until every pushed note has a voice reply (when that happened), ANSWER_TIMEOUT after
        the last push (None), or the restarted bot exits (None)."""
        await done_pushing
        deadline = time.perf_counter() + ANSWER_TIMEOUT
        while time.perf_counter() < deadline:
            wanted = {(p.chat, p.message_id) for p in self.pushed}
            if len(self.pushed) == total and wanted <= self.answered():
                return time.perf_counter()
            if self.restarted is not None and self.restarted.returncode is not None:
                return None
            await asyncio.sleep(0.1)
        return None


def _soak_replies(api: BotAPIStandIn) -> list[Reply]:
    """The bot's sendVoice and sendMessage calls to the soak chats (not the warm-up chat)."""
    chats = range(FIRST_CHAT, FIRST_CHAT + CHATS)
    return [
        reply
        for call in api.calls
        if call.method.lower() in ("sendvoice", "sendmessage")
        and (reply := Reply.of(call)).chat in chats
    ]


async def run_tree(tree: Tree, note: bytes, plan: Plan) -> TreeRun:
    """The soak of ``tree``'s bot on fresh stand-ins and a fresh Redis. Raises BenchError when
    the bot does not start or fails its warm-up."""
    async with contextlib.AsyncExitStack() as stack:
        work = Path(stack.enter_context(tempfile.TemporaryDirectory(prefix="soak-outage-")))
        (work / "redis").mkdir()
        # A data folder of its own: the server is stopped and started again on it midway.
        redis_server = RedisServer(work / "redis")
        stage = await stack.enter_async_context(
            fresh_stage(MODEL.scenario(REPLY_SECONDS), redis_server)
        )
        api, realtime = stage.api, stage.realtime
        env = {
            **base_env(stage),
            "PYTHONPATH": str(tree.path),
            "DATA_DIR": str(work / "data"),
            "WORKER_NAME": WORKER_NAME,
            "MAX_CONCURRENT_TURNS": str(MAX_CONCURRENT_TURNS),
            "LOG_LEVEL": "INFO",  # the logs say what each incarnation resumed or freed
        }
        soak = _Soak(tree, stage, redis_server, env, work, note)
        await soak.start()
        first_session = len(realtime.sessions)
        sampler = asyncio.create_task(soak.sample(), name="soak-sampler")
        pushing = asyncio.create_task(soak.push_all(plan.notes), name="soak-push")
        outage = asyncio.create_task(soak.interrupt(plan), name="soak-outage")
        try:
            all_answered_at = await soak.wait_answers(len(plan.notes), pushing)
            await outage  # done long before, unless the restarted bot exited at once
            if all_answered_at is not None:
                await asyncio.sleep(LATE_DUPLICATES)
        finally:
            tasks = (sampler, pushing, outage)
            for task in tasks:
                task.cancel()
            # Whatever one of them raised has been raised above already.
            await asyncio.gather(*tasks, return_exceptions=True)
            process = soak.process
            exited_early = None if process is None else process.returncode
            exit_code = None if process is None else await stop_process(process)
        return TreeRun(
            tree=tree,
            t0=soak.pushed[0].t,
            pushed=soak.pushed,
            outage=soak.outage,
            replies=_soak_replies(api),
            sessions=[Session.of(session) for session in realtime.sessions[first_session:]],
            open_sessions=soak.open_sessions,
            first_start=soak.first_start,
            all_answered_at=all_answered_at,
            exit_code=exit_code,
            exited_early=exited_early,
            logs=soak.logs(),
        )


# ----------------------------------------------------------------------------- figures


def _latency(values: list[float]) -> dict[str, float | None]:
    """p50, p90 and max of ``values`` (seconds); None for each when there are none."""
    if not values:
        return {"p50": None, "p90": None, "max": None}
    return {"p50": percentile(values, 50), "p90": percentile(values, 90), "max": max(values)}


def figures_of(run: TreeRun) -> dict[str, Any]:
    """The soak's figures for one tree (times in seconds), by key of FIGURES."""
    outage = run.outage
    voices = [r for r in run.replies if r.method.lower() == "sendvoice" and r.ok]
    per_note = Counter((r.chat, r.reply_to) for r in voices)
    first_reply: dict[tuple[int, int | None], float] = {}
    for reply in voices:
        first_reply.setdefault((reply.chat, reply.reply_to), reply.t)
    keys = [(p.chat, p.message_id) for p in run.pushed]
    latencies = {
        (p.chat, p.message_id): first_reply[(p.chat, p.message_id)] - p.t
        for p in run.pushed
        if (p.chat, p.message_id) in first_reply
    }
    near = [
        latencies[(p.chat, p.message_id)]
        for p in run.pushed
        if abs(p.t - outage.t_kill) <= NEAR_KILL and (p.chat, p.message_id) in latencies
    ]
    near_pushed = sum(abs(p.t - outage.t_kill) <= NEAR_KILL for p in run.pushed)
    order_broken = 0
    for chat in {p.chat for p in run.pushed}:
        answered = [r.reply_to or 0 for r in voices if r.chat == chat]
        order_broken += any(b < a for a, b in itertools.pairwise(answered))
    opened = [s for s in run.sessions if s.accepted]
    after = sorted(s.t for s in opened if s.t >= outage.t_restart)
    voices_after = [r.t for r in voices if r.t >= outage.t_restart]
    window = [
        n for t, n in run.open_sessions if outage.t_restart <= t < outage.t_restart + AFTER_RESTART
    ]
    texts = [r for r in run.replies if r.method.lower() == "sendmessage"]
    everything = _latency(list(latencies.values()))
    close = _latency(near)
    return {
        "pushed": len(keys),
        "answered": sum(per_note[key] >= 1 for key in keys),
        "lost": sum(per_note[key] == 0 for key in keys),
        "duplicated": sum(per_note[key] > 1 for key in keys),
        "order_violations": order_broken,
        "texts_sent": len(texts),
        "latency_p50": everything["p50"],
        "latency_p90": everything["p90"],
        "latency_max": everything["max"],
        "near_kill_pushed": near_pushed,
        "near_kill_answered": len(near),
        "near_kill_p50": close["p50"],
        "near_kill_p90": close["p90"],
        "near_kill_max": close["max"],
        "pushed_before_kill": outage.pushed_before_kill,
        "sessions_open_at_kill": outage.sessions_open_at_kill,
        "answering_at_kill": outage.answering_at_kill,
        "leases_left_by_kill": outage.leases_left_by_kill,
        "first_start_to_poll": run.first_start,
        "restart_to_first_poll": None if outage.t_up is None else outage.t_up - outage.t_restart,
        "restart_to_first_session": min(after) - outage.t_restart if after else None,
        "restart_to_first_voice": min(voices_after) - outage.t_restart if voices_after else None,
        "longest_gap_after_restart": max(
            (b - a for a, b in itertools.pairwise(after)), default=None
        ),
        "most_sessions_after_restart": max(window, default=0),
        "redis_down_after_restart": (
            None if outage.t_redis_down is None else outage.t_redis_down - outage.t_restart
        ),
        "redis_away": (
            None
            if outage.t_redis_down is None or outage.t_redis_up is None
            else outage.t_redis_up - outage.t_redis_down
        ),
        "model_sessions": len(opened),
        "handshakes_refused": len(run.sessions) - len(opened),
        "all_answered_after_last_push": (
            None if run.all_answered_at is None else run.all_answered_at - run.pushed[-1].t
        ),
        "exit_code": run.exit_code,
    }


# (key, label, kind): kind "n" a count, "s" seconds, "code" an exit code, "" a section title.
FIGURES: list[tuple[str, str, str]] = [
    ("", "notes", ""),
    ("pushed", "voice notes pushed", "n"),
    ("answered", "answered with a voice", "n"),
    ("lost", "lost (never answered)", "n"),
    ("duplicated", "duplicated (answered more than once)", "n"),
    ("order_violations", "chats with replies out of order", "n"),
    ("texts_sent", "texts sent to the soak chats (error or progress)", "n"),
    ("", "latency, push → sendVoice at the stand-in", ""),
    ("latency_p50", "all notes p50", "s"),
    ("latency_p90", "all notes p90", "s"),
    ("latency_max", "all notes max", "s"),
    ("near_kill_pushed", f"notes pushed within ±{NEAR_KILL:g} s of the kill", "n"),
    ("near_kill_answered", "  of them answered", "n"),
    ("near_kill_p50", "  p50", "s"),
    ("near_kill_p90", "  p90", "s"),
    ("near_kill_max", "  max", "s"),
    ("", "the kill and the restart", ""),
    ("pushed_before_kill", "notes pushed before the kill", "n"),
    ("sessions_open_at_kill", "model sessions open at the kill", "n"),
    ("answering_at_kill", "  of them still answering (holding a lease)", "n"),
    ("leases_left_by_kill", "session leases the killed bot left in Redis", "n"),
    ("first_start_to_poll", "first start → first getUpdates, for comparison", "s"),
    ("restart_to_first_poll", "restart → first getUpdates (the bot is up again)", "s"),
    ("restart_to_first_session", "restart → first model session opens", "s"),
    ("restart_to_first_voice", "restart → first voice reply", "s"),
    ("longest_gap_after_restart", "longest time no model session opened, after that", "s"),
    (
        "most_sessions_after_restart",
        f"most model sessions open at once, {AFTER_RESTART:g} s after the restart",
        "n",
    ),
    ("redis_down_after_restart", "Redis stopped, after the restart", "s"),
    ("redis_away", "Redis away for", "s"),
    ("model_sessions", "model sessions opened in all", "n"),
    ("handshakes_refused", "model handshakes refused (the stand-in's quota)", "n"),
    ("all_answered_after_last_push", "every note answered, after the last push", "s"),
    ("exit_code", "exit code of the restarted bot on SIGTERM", "code"),
]


def _cell(value: Any, kind: str) -> str:
    if value is None:
        return "—"
    if kind == "s":
        return f"{value:.2f} s"
    return str(value)


def render(results: dict[str, dict[str, Any]]) -> list[str]:
    """The figures of each tree side by side, in FIGURES order."""
    labels = list(results)
    body: list[list[str]] = []
    for key, label, kind in FIGURES:
        if not key:
            body.append([label, *[""] * len(labels)])
            continue
        body.append([f"  {label}", *(_cell(results[t][key], kind) for t in labels)])
    return grid(["figure", *labels], body)


def _details(run: TreeRun, figures: dict[str, Any]) -> dict[str, Any]:
    """Everything of one run for the JSON, times in seconds after the first push."""

    def rel(t: float | None) -> float | None:
        return None if t is None else t - run.t0

    outage = run.outage
    return {
        "tree": {key: str(value) for key, value in asdict(run.tree).items()},
        "figures": figures,
        "outage": {
            "pushed_before_kill": outage.pushed_before_kill,
            "sessions_open_at_kill": outage.sessions_open_at_kill,
            "answering_at_kill": outage.answering_at_kill,
            "leases_left_by_kill": outage.leases_left_by_kill,
            "kill_s": rel(outage.t_kill),
            "restart_s": rel(outage.t_restart),
            "up_again_s": rel(outage.t_up),
            "redis_down_s": rel(outage.t_redis_down),
            "redis_up_s": rel(outage.t_redis_up),
        },
        "notes": [
            {"chat": p.chat, "message_id": p.message_id, "pushed_s": rel(p.t)} for p in run.pushed
        ],
        "replies": [{**asdict(r), "t": rel(r.t), "text": r.text[:200]} for r in run.replies],
        "sessions": [
            {"t": rel(s.t), "accepted": s.accepted, "response_done": rel(s.t_done)}
            for s in run.sessions
        ],
        # Only the samples where the count changed: the whole curve, a fraction of the size.
        "open_sessions": [
            [rel(t), n]
            for i, (t, n) in enumerate(run.open_sessions)
            if i == 0 or n != run.open_sessions[i - 1][1]
        ],
        "restarted_bot_exited_by_itself": run.exited_early,
        "logs": run.logs,
    }


# ----------------------------------------------------------------------------- main


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="python -m bench.soak_outage",
        description="60 voice notes from 20 chats through one bot process that is killed and "
        "started again midway, then a Redis restart; a baseline revision and the current "
        "working tree side by side.",
    )
    add_tree_options(parser)
    parser.add_argument(
        "--spread",
        type=float,
        default=DEFAULT_SPREAD,
        metavar="SECONDS",
        help=f"seconds from the first push to the last (default {DEFAULT_SPREAD:g}); shorter "
        "means more turns in flight at the kill",
    )
    parser.add_argument(
        "--kill-at",
        type=int,
        metavar="SESSIONS",
        help="kill once this many model sessions are answering (waiting while notes are still "
        "to be pushed); by default as many as were at any moment before, waiting at most "
        f"{KILL_WAIT:g} s",
    )
    return parser


def main(argv: list[str] | None = None) -> int:
    parser = _parser()
    args = parser.parse_args(argv)
    if args.spread <= 0:
        parser.error("--spread must be positive")
    if args.kill_at is not None and not 1 <= args.kill_at <= MAX_CONCURRENT_TURNS:
        parser.error(f"--kill-at must be from 1 to {MAX_CONCURRENT_TURNS}")
    started = time.perf_counter()
    note = make_note(NOTE_SECONDS)
    notes = schedule(args.spread)
    plan = Plan(notes, args.kill_at)
    try:
        runs, failures = measure_trees(
            "soak_outage",
            args.baseline,
            args.only,
            lambda tree: run_tree(tree, note, plan),
            _progress,
        )
    except BenchError as exc:  # git could not provide the baseline tree
        print(f"soak_outage failed: {exc}", file=sys.stderr)
        return 1
    elapsed = time.perf_counter() - started
    results = {run.tree.label: figures_of(run) for run in runs}

    print(
        f"soak_outage: {len(notes)} voice notes of {NOTE_SECONDS:g} s from {CHATS} private "
        f"chats ({NOTES_PER_CHAT} each, in order) over {args.spread:g} s; "
        f"{MODEL.describe(REPLY_SECONDS)}; one `python -m bot` with "
        f"MAX_CONCURRENT_TURNS={MAX_CONCURRENT_TURNS}, WORKER_NAME={WORKER_NAME}, killed "
        f"(SIGKILL) from the {KILL_FROM_PUSH}th push on"
        + ("" if args.kill_at is None else f" once {args.kill_at} model sessions are answering")
        + f", and started again at once; Redis stopped "
        f"{REDIS_STOP_AFTER_UP:g} s after the restarted bot polls, for {REDIS_AWAY:g} s; "
        f"{os.cpu_count()} CPUs, Python {platform.python_version()}"
    )
    for run in runs:
        print(f"{run.tree.label}: {run.tree.revision}")
    # Both trees run against this checkout's stand-ins, whichever revision the bot comes from.
    stand_ins_changed = has_local_changes("stand_ins")
    print(
        "stand-ins: this checkout's stand_ins/"
        + (", which has local changes" if stand_ins_changed else "")
    )
    if results:
        print()
        for line in render(results):
            print(line)
    print(f"took {elapsed:.0f} s")

    report = {
        "meta": {
            **run_meta(argv, elapsed),
            "plan": {
                "chats": CHATS,
                "notes_per_chat": NOTES_PER_CHAT,
                "spread_s": args.spread,
                "stand_ins_local_changes": stand_ins_changed,
                "schedule_seed": SCHEDULE_SEED,
                "note_seconds": NOTE_SECONDS,
                "reply_seconds": REPLY_SECONDS,
                "time_to_first_audio_s": MODEL.time_to_first_audio,
                "realtime_factor": MODEL.realtime_factor,
                "max_concurrent_turns": MAX_CONCURRENT_TURNS,
                "worker_name": WORKER_NAME,
                "kill_from_push": KILL_FROM_PUSH,
                "kill_wait_s": KILL_WAIT,
                "kill_at_sessions": args.kill_at,
                "redis_stop_after_up_s": REDIS_STOP_AFTER_UP,
                "redis_away_s": REDIS_AWAY,
                "answer_timeout_s": ANSWER_TIMEOUT,
                "near_kill_s": NEAR_KILL,
            },
        },
        "figures": [
            {"key": key, "name": label.strip(), **{t: results[t][key] for t in results}}
            for key, label, _ in FIGURES
            if key
        ],
        "trees": {run.tree.label: _details(run, results[run.tree.label]) for run in runs},
        "failed": failures,
    }
    suffix = "" if args.spread == DEFAULT_SPREAD else f"-spread{args.spread:g}"
    suffix += "" if args.kill_at is None else f"-killat{args.kill_at}"
    save_report(f"soak_outage{suffix}", report)
    return 1 if failures or not runs else 0


if __name__ == "__main__":
    raise SystemExit(main())
