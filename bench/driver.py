"""Driving one bot process against the stand-ins: sequential turns per case, then many at once.

The stand-ins run in this process, so every time stamp below is ``time.perf_counter()`` on one
clock: the push of an update (delivered at once, since the bot is always already waiting in a
getUpdates long poll when it is pushed), ``response.create`` and ``response.done`` at the
realtime stand-in, and the end of the sendVoice upload at the Bot API stand-in.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import signal
import sys
import tempfile
import time
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import psutil
import redis

from bench.instrument import FIGURES_ENV
from bench.monitor import MemorySampler, Window, cpu_seconds
from bench.notes import dominant_hz, probe_voice
from bot.storage import keys
from stand_ins.bot_api import BotAPIStandIn, Call
from stand_ins.realtime import RealtimeStandIn, RecordedSession, Scenario
from stand_ins.redis import RedisServer

__all__ = [
    "API_KEY",
    "START_TIMEOUT",
    "BenchError",
    "BotRun",
    "Case",
    "Model",
    "Plan",
    "Polls",
    "Stage",
    "Turn",
    "TurnBatch",
    "base_env",
    "fresh_stage",
    "push_voice",
    "push_voice_message",
    "reply_to",
    "run_bot",
    "stop_process",
]

ROOT = Path(__file__).resolve().parents[1]
API_KEY = "bench-key"
MODEL_QUERY = "?model=gpt://bench/speech-realtime-250923"
REPLY_TEXT = (
    "Your order number four two seven is confirmed for seat twelve A, and the car will meet you "
    "at the north entrance at half past seven."
)
SETTLE_SECONDS = 0.05  # between sequential turns, so one turn's clean-up never overlaps the next
START_TIMEOUT = 60.0
STOP_TIMEOUT = 30.0


class BenchError(RuntimeError):
    """A bot did not do what the bench asked of it (no reply, an error reply, a crash)."""


@dataclass(frozen=True)
class Model:
    """How the realtime stand-in plays the model."""

    time_to_first_audio: float
    realtime_factor: float

    def scenario(self, reply_seconds: float) -> Scenario:
        return Scenario(
            reply_hz=180.0,
            reply_seconds=reply_seconds,
            reply_text=REPLY_TEXT,
            text_kind="output_text",
            time_to_first_audio=self.time_to_first_audio,
            realtime_factor=self.realtime_factor,
        )

    def seconds(self, reply_seconds: float) -> float:
        """The stand-in's time from response.create to response.done, roughly."""
        speed = self.realtime_factor or float("inf")
        return self.time_to_first_audio + reply_seconds / speed

    def describe(self, reply_seconds: float) -> str:
        """How the stand-in answers, for a report's heading."""
        return (
            f"the model stand-in replies {reply_seconds:g} s (first audio after "
            f"{self.time_to_first_audio:g} s, {self.realtime_factor:g}× real time)"
        )


@dataclass(frozen=True)
class Case:
    note_seconds: float
    reply_seconds: float

    @property
    def name(self) -> str:
        return f"{self.note_seconds:g}s note, {self.reply_seconds:g}s reply"

    @property
    def key(self) -> str:
        return f"{self.note_seconds:g}s-{self.reply_seconds:g}s"


@dataclass(frozen=True)
class Plan:
    cases: tuple[Case, ...]
    repeat: int
    concurrency: int
    model: Model
    idle_seconds: float
    max_concurrent_turns: int
    worker_prefetch: int
    """The worker's own cap on queue entries held at once; at least the chats sent at once."""
    notes: dict[float, bytes]
    """Voice note by length (seconds), for the sequential cases."""
    tagged_notes: list[tuple[float, bytes]]
    """(fundamental Hz, 5 s voice note) per concurrent chat: the tone tells whose a session is."""
    warmup: Case = Case(5.0, 10.0)


@dataclass
class Stage:
    """What the bots of one run share: the stand-ins, Redis, and fresh chat ids."""

    api: BotAPIStandIn
    realtime: RealtimeStandIn
    redis: RedisServer
    _chat: int = 100_000

    def next_chat(self) -> int:
        self._chat += 1
        return self._chat


@dataclass
class Turn:
    """One voice note and its answer, on the bench's clock (seconds)."""

    chat_id: int
    note_seconds: float
    reply_seconds: float
    t_push: float
    t_connected: float
    t_create: float
    t_done_sent: float
    t_upload_start: float
    t_upload_done: float
    t_seen: float | None = None
    """When the bot's dispatcher started on the update (from the bot process, same clock)."""
    t_handled: float | None = None
    """When the dispatcher was done with it (its handlers returned)."""
    marks: dict[str, Any] | None = None

    @property
    def pre_model(self) -> float:
        return self.t_create - self.t_push

    @property
    def post_model(self) -> float:
        return self.t_upload_done - self.t_done_sent

    @property
    def model(self) -> float:
        return self.t_done_sent - self.t_create

    @property
    def end_to_end(self) -> float:
        return self.t_upload_done - self.t_push

    @property
    def added(self) -> float:
        """End-to-end latency minus the stand-in's model time."""
        return self.end_to_end - self.model

    def as_dict(self) -> dict[str, Any]:
        return {
            "chat_id": self.chat_id,
            "note_seconds": self.note_seconds,
            "reply_seconds": self.reply_seconds,
            "pre_model_ms": self.pre_model * 1000,
            "post_model_ms": self.post_model * 1000,
            "model_ms": self.model * 1000,
            "end_to_end_ms": self.end_to_end * 1000,
            "added_ms": self.added * 1000,
            "connected_after_push_ms": (self.t_connected - self.t_push) * 1000,
            "upload_ms": (self.t_upload_done - self.t_upload_start) * 1000,
            "dispatched_after_push_ms": (
                None if self.t_seen is None else (self.t_seen - self.t_push) * 1000
            ),
            "dispatcher_busy_ms": (
                None
                if self.t_seen is None or self.t_handled is None
                else (self.t_handled - self.t_seen) * 1000
            ),
            "marks": self.marks,
        }


@dataclass
class TurnBatch:
    """Turns run one after another (a case) or all at once, with what they cost the bot."""

    name: str
    turns: list[Turn]
    asked: int
    wall_s: float
    cpu_s: float
    figures_before: dict[str, Any]
    figures_after: dict[str, Any]
    rss_before: int
    rss_after: int
    memory: Window
    missing: list[int] = field(default_factory=list)

    def kind_cpu(self, kind: str) -> float:
        """CPU seconds the bot spent in ``kind`` work (decode, encode) during the batch."""
        after = self.figures_after["cpu_s"].get(kind, 0.0)
        return float(after - self.figures_before["cpu_s"].get(kind, 0.0))

    @property
    def stall_max_ms(self) -> float:
        return float(self.figures_after["stalls"]["max_ms"])

    def as_dict(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "asked": self.asked,
            "answered": len(self.turns),
            "missing_chats": self.missing,
            "wall_s": self.wall_s,
            "cpu_s": self.cpu_s,
            "decode_cpu_s": self.kind_cpu("decode"),
            "encode_cpu_s": self.kind_cpu("encode"),
            "stalls": self.figures_after["stalls"],
            "rss_before": self.rss_before,
            "rss_after": self.rss_after,
            "peak_rss": self.memory.peak_rss,
            "peak_rss_with_children": self.memory.peak_rss_with_children,
            "turns": [turn.as_dict() for turn in self.turns],
        }


@dataclass
class BotRun:
    """Everything measured about one bot process."""

    name: str
    command: list[str]
    max_concurrent_turns: int
    startup_s: float = 0.0
    idle_rss: int = 0
    idle_cpu_rate: float = 0.0
    warmup: TurnBatch | None = None
    cases: dict[str, TurnBatch] = field(default_factory=dict)
    concurrent: TurnBatch | None = None
    memory: Window | None = None
    rss_after_warmup: int = 0
    rss_after_sequential: int = 0
    final_figures: dict[str, Any] = field(default_factory=dict)
    voice_check: dict[str, Any] = field(default_factory=dict)
    invalid_events: int = 0
    exit_code: int | None = None
    log_tail: str = ""

    @property
    def sequential_turns(self) -> int:
        return sum(len(batch.turns) for batch in self.cases.values())

    @property
    def rss_growth_per_turn(self) -> float:
        turns = self.sequential_turns
        return (self.rss_after_sequential - self.rss_after_warmup) / turns if turns else 0.0

    def as_dict(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "command": self.command,
            "max_concurrent_turns": self.max_concurrent_turns,
            "startup_s": self.startup_s,
            "idle_rss": self.idle_rss,
            "idle_cpu_rate": self.idle_cpu_rate,
            "rss_after_warmup": self.rss_after_warmup,
            "rss_after_sequential": self.rss_after_sequential,
            "rss_growth_per_turn": self.rss_growth_per_turn,
            "peak_rss": self.memory.peak_rss if self.memory else None,
            "peak_rss_with_children": self.memory.peak_rss_with_children if self.memory else None,
            "warmup": self.warmup.as_dict() if self.warmup else None,
            "cases": {key: batch.as_dict() for key, batch in self.cases.items()},
            "concurrent": self.concurrent.as_dict() if self.concurrent else None,
            "final_figures": {k: v for k, v in self.final_figures.items() if k != "turns"},
            "voice_check": self.voice_check,
            "invalid_client_events": self.invalid_events,
            "exit_code": self.exit_code,
        }


class Polls:
    """Whether the bot has a getUpdates long poll waiting at the Bot API stand-in.

    The stand-in counts polls as they arrive (``_poll_generation``) and records them when
    answered; more arrivals than answers means one is waiting. Polls cut off when an earlier bot
    process stopped are counted out at the start.
    """

    def __init__(self, api: BotAPIStandIn) -> None:
        self.api = api
        self.precise = hasattr(api, "_poll_generation")
        self.base = self._backlog()
        self.answered = len(api.calls_of("getUpdates"))

    def _backlog(self) -> int:
        arrived = int(getattr(self.api, "_poll_generation", 0))
        return arrived - len(self.api.calls_of("getUpdates"))

    async def wait(self, process: asyncio.subprocess.Process, timeout: float = 30.0) -> None:
        deadline = time.perf_counter() + timeout
        while True:
            if self.precise and self._backlog() > self.base:
                return
            if not self.precise and len(self.api.calls_of("getUpdates")) > self.answered:
                # Without the stand-in's counter: a poll was answered; give the next one time.
                await asyncio.sleep(0.05)
                self.answered = len(self.api.calls_of("getUpdates"))
                return
            if process.returncode is not None:
                raise BenchError(f"the bot exited with code {process.returncode}")
            if time.perf_counter() > deadline:
                raise BenchError(f"no getUpdates long poll within {timeout:g} s")
            await asyncio.sleep(0.002)

    def pushed(self) -> None:
        self.answered = len(self.api.calls_of("getUpdates"))


class _FiguresFile:
    """Asks the bot process for a snapshot of its own figures (SIGUSR1) and reads it."""

    def __init__(self, path: Path, process: asyncio.subprocess.Process) -> None:
        self.path = path
        self.process = process
        self.seq = 0

    def read(self) -> dict[str, Any] | None:
        try:
            data: dict[str, Any] = json.loads(self.path.read_text())
        except (OSError, ValueError):
            return None
        return data

    async def take(self, timeout: float = 15.0) -> dict[str, Any]:
        deadline = time.perf_counter() + timeout
        asked = 0.0
        while True:
            data = self.read()
            if data is not None and data["seq"] > self.seq:
                self.seq = data["seq"]
                return data
            now = time.perf_counter()
            if self.process.returncode is not None:
                raise BenchError(f"the bot exited with code {self.process.returncode}")
            if now > deadline:
                raise BenchError("the bot did not write its figures")
            if now - asked > 1.0:  # asked too early, before the loop's handler: ask again
                self.process.send_signal(signal.SIGUSR1)
                asked = now
            await asyncio.sleep(0.005)


@contextlib.asynccontextmanager
async def fresh_stage(
    scenario: Scenario, redis_server: RedisServer | None = None
) -> AsyncIterator[Stage]:
    """A stage of its own: ``redis_server`` (else a new one in a temporary folder) started, a
    Bot API stand-in and a realtime stand-in answering with ``scenario``; all stopped on the
    way out."""
    server = redis_server or RedisServer()
    server.start()
    try:
        async with (
            BotAPIStandIn() as api,
            RealtimeStandIn(api_key=API_KEY, scenario=scenario) as realtime,
        ):
            yield Stage(api=api, realtime=realtime, redis=server)
    finally:
        server.stop()


def base_env(stage: Stage) -> dict[str, str]:
    """The environment that points a bot process at the stage (the Yandex provider on the
    realtime stand-in, the Bot API stand-in, the stage's Redis), and nothing else of the
    caller's but PATH and HOME."""
    return {
        "PATH": os.environ.get("PATH", "/usr/local/bin:/usr/bin:/bin"),
        "HOME": os.environ.get("HOME", "/tmp"),
        "LANG": "C.UTF-8",
        "BOT_TOKEN": stage.api.token,
        "TELEGRAM_API_URL": stage.api.url,
        "REALTIME_PROVIDER": "yandex",
        "REALTIME_API_KEY": API_KEY,
        "REALTIME_URL": stage.realtime.url + MODEL_QUERY,
        "YANDEX_FOLDER_ID": "bench",
        "REDIS_URL": stage.redis.url,
        "LOG_LEVEL": "WARNING",
    }


def bot_env(stage: Stage, plan: Plan, figures: Path, instructions: str) -> dict[str, str]:
    return {
        **base_env(stage),
        "PYTHONPATH": str(ROOT),
        "OUTPUT_SAMPLE_RATE": "44100",
        "MAX_CONCURRENT_TURNS": str(plan.max_concurrent_turns),
        "WORKER_PREFETCH": str(plan.worker_prefetch),
        "DEFAULT_INSTRUCTIONS": instructions,
        FIGURES_ENV: str(figures),
    }


def push_voice(stage: Stage, polls: Polls, chat: int, note: bytes, seconds: float) -> float:
    """Queue a voice note from user ``chat`` in its private chat; returns
    ``time.perf_counter()`` at the push. Delivered at once when the bot has a long poll waiting
    (`Polls.wait` first)."""
    return push_voice_message(stage, polls, chat, note, seconds)[0]


def push_voice_message(
    stage: Stage, polls: Polls, chat: int, note: bytes, seconds: float
) -> tuple[float, int]:
    """`push_voice`, also returning the voice message's id (what the bot's reply replies to)."""
    t_push = time.perf_counter()
    update = stage.api.push_message(
        "voice", chat_id=chat, user_id=chat, data=note, duration=round(seconds)
    )
    polls.pushed()
    return t_push, int(update["message"]["message_id"])


async def _wait_replies(
    stage: Stage,
    chats: list[int],
    process: asyncio.subprocess.Process,
    timeout: float,
    *,
    since: float,
) -> dict[int, Call]:
    """The sendVoice of each chat that reached the stand-in at or after ``since``
    (``time.perf_counter()``), as they come; stops at ``timeout`` with what it has.

    Raises BenchError when the bot answers a chat with a text (its error message) or exits.
    """
    api = stage.api
    wanted = set(chats)
    deadline = time.perf_counter() + timeout
    while True:
        # Only calls since the push: a chat that had turns before has replies from them.
        voices = {
            chat: call
            for call in api.calls_of("sendVoice")
            if (chat := call.int_param("chat_id")) in wanted and call.ok and call.t >= since
        }
        if len(voices) == len(wanted):
            return voices
        for call in api.calls_of("sendMessage"):
            if call.int_param("chat_id") in wanted and call.t >= since:
                raise BenchError(f"chat {call.params.get('chat_id')}: {call.params.get('text')!r}")
        if process.returncode is not None:
            raise BenchError(f"the bot exited with code {process.returncode}")
        remaining = deadline - time.perf_counter()
        if remaining <= 0:
            return voices
        with contextlib.suppress(TimeoutError):
            await api.wait_for(
                "sendVoice", count=len(api.calls_of("sendVoice")) + 1, timeout=min(remaining, 0.5)
            )


async def reply_to(
    stage: Stage, chat: int, process: asyncio.subprocess.Process, timeout: float, *, since: float
) -> tuple[RecordedSession, Call]:
    """The turn of ``chat`` pushed at ``since`` (``time.perf_counter()``): the realtime session
    that answered it and the bot's sendVoice. Raises BenchError when the chat gets a text, the
    bot exits, no voice comes within ``timeout``, or not exactly one session was answered."""
    replies = await _wait_replies(stage, [chat], process, timeout, since=since)
    if chat not in replies:
        raise BenchError(f"no voice reply for chat {chat} within {timeout:g} s")
    answered = [
        s for s in stage.realtime.sessions if s.t_connected >= since and s.t_response_done_sent
    ]
    if len(answered) != 1:
        raise BenchError(f"chat {chat}: {len(answered)} answered realtime sessions for one turn")
    return answered[0], replies[chat]


def _turn(
    chat: int,
    case: Case,
    t_push: float,
    session: RecordedSession,
    call: Call,
    figures: dict[str, Any],
) -> Turn:
    if session.t_response_create is None or session.t_response_done_sent is None:
        raise BenchError(f"chat {chat}: its realtime session has no response")
    return Turn(
        chat_id=chat,
        note_seconds=case.note_seconds,
        reply_seconds=case.reply_seconds,
        t_push=t_push,
        t_connected=session.t_connected,
        t_create=session.t_response_create,
        t_done_sent=session.t_response_done_sent,
        t_upload_start=call.t,
        t_upload_done=call.t_done,
        t_seen=figures.get("seen", {}).get(str(chat)),
        t_handled=figures.get("handled", {}).get(str(chat)),
        marks=_marks_by_chat(figures).get(chat),
    )


def _marks_by_chat(figures: dict[str, Any]) -> dict[int, dict[str, Any]]:
    """The bot's own stage marks of each turn (only the bot records them), by chat id."""
    out: dict[int, dict[str, Any]] = {}
    for record in figures.get("turns", []):
        label = str(record.get("label", ""))
        for part in label.split():
            if part.startswith("chat="):
                with contextlib.suppress(ValueError):
                    out[int(part[5:])] = record
    return out


class _BotUnderTest:
    """One running bot process and the tools to measure it."""

    def __init__(
        self,
        stage: Stage,
        plan: Plan,
        process: asyncio.subprocess.Process,
        figures: _FiguresFile,
        sampler: MemorySampler,
        polls: Polls,
    ) -> None:
        self.stage = stage
        self.plan = plan
        self.process = process
        self.figures = figures
        self.sampler = sampler
        self.polls = polls
        self.psutil = psutil.Process(process.pid)

    async def sequential(self, case: Case, repeat: int, *, name: str) -> TurnBatch:
        stage = self.stage
        stage.realtime.scenario = self.plan.model.scenario(case.reply_seconds)
        note = self.plan.notes[case.note_seconds]
        timeout = case.note_seconds + self.plan.model.seconds(case.reply_seconds) + 60
        await self.polls.wait(self.process)
        before = await self.figures.take()
        cpu0, rss0, t0 = cpu_seconds(self.psutil), self.sampler.rss(), time.perf_counter()
        pending: list[tuple[int, float, RecordedSession, Call]] = []
        for _ in range(repeat):
            chat = stage.next_chat()
            await asyncio.sleep(SETTLE_SECONDS)
            await self.polls.wait(self.process)
            t_push = push_voice(stage, self.polls, chat, note, case.note_seconds)
            try:
                session, call = await reply_to(stage, chat, self.process, timeout, since=t_push)
            except BenchError as exc:
                raise BenchError(f"{name}: {exc}") from exc
            pending.append((chat, t_push, session, call))
        t1, cpu1 = time.perf_counter(), cpu_seconds(self.psutil)
        after = await self.figures.take()
        turns = [
            _turn(chat, case, t_push, session, call, after)
            for chat, t_push, session, call in pending
        ]
        return TurnBatch(
            name=name,
            turns=turns,
            asked=repeat,
            wall_s=t1 - t0,
            cpu_s=cpu1 - cpu0,
            figures_before=before,
            figures_after=after,
            rss_before=rss0,
            rss_after=self.sampler.rss(),
            memory=self.sampler.window(t0, t1),
        )

    async def concurrent(self, *, per_chat_instructions: bool) -> TurnBatch:
        """Every chat sends one 5 s voice note at the same moment; a 10 s reply each."""
        stage, plan = self.stage, self.plan
        case = Case(5.0, 10.0)
        stage.realtime.scenario = plan.model.scenario(case.reply_seconds)
        tagged = plan.tagged_notes[: plan.concurrency]
        chats = [stage.next_chat() for _ in tagged]
        if per_chat_instructions:
            # The chat's own instructions (as /instructions would store them) name the chat, so
            # each realtime session tells whose it is.
            client = redis.Redis.from_url(stage.redis.url)
            try:
                with client.pipeline() as pipe:
                    for chat in chats:
                        pipe.hset(keys.chat_settings(chat), "instructions", f"chat-{chat}")
                    pipe.execute()
            finally:
                client.close()
        await asyncio.sleep(SETTLE_SECONDS)
        await self.polls.wait(self.process)
        before = await self.figures.take()
        cpu0, rss0, t0 = cpu_seconds(self.psutil), self.sampler.rss(), time.perf_counter()
        first = len(stage.realtime.sessions)
        pushed = {
            chat: push_voice(stage, self.polls, chat, note, case.note_seconds)
            for chat, (_, note) in zip(chats, tagged, strict=True)
        }
        timeout = case.note_seconds + plan.model.seconds(case.reply_seconds) * 3 + 90
        replies = await _wait_replies(stage, chats, self.process, timeout, since=t0)
        t1, cpu1 = time.perf_counter(), cpu_seconds(self.psutil)
        after = await self.figures.take()
        sessions = _sessions_by_chat(
            stage.realtime.sessions[first:], dict(zip(chats, (hz for hz, _ in tagged), strict=True))
        )
        turns = [
            _turn(chat, case, pushed[chat], sessions[chat], replies[chat], after)
            for chat in chats
            if chat in replies and chat in sessions
        ]
        return TurnBatch(
            name=f"{len(chats)} chats at once",
            turns=turns,
            asked=len(chats),
            wall_s=t1 - t0,
            cpu_s=cpu1 - cpu0,
            figures_before=before,
            figures_after=after,
            rss_before=rss0,
            rss_after=self.sampler.rss(),
            memory=self.sampler.window(t0, t1),
            missing=[chat for chat in chats if chat not in replies],
        )


def _sessions_by_chat(
    sessions: list[RecordedSession], tones: dict[int, float]
) -> dict[int, RecordedSession]:
    """Whose each answered session is: by its instructions (``chat-<id>``) when the bot took
    them from the chat's settings, else by the fundamental of the audio it was sent."""
    out: dict[int, RecordedSession] = {}
    for session in sessions:
        if session.t_response_done_sent is None:
            continue
        instructions = str(session.session.get("instructions") or "")
        if instructions.startswith("chat-"):
            # The chat's own instructions come first (the tools' notes may follow them).
            with contextlib.suppress(ValueError):
                out[int(instructions[5:].split("\n", 1)[0])] = session
            continue
        hz = dominant_hz(session.input_pcm[: 5 * 24000 * 2], 24000)
        chat, tone = min(tones.items(), key=lambda item: abs(item[1] - hz))
        if abs(tone - hz) < 2.0:
            out[chat] = session
    return out


async def run_bot(
    name: str, command: list[str], stage: Stage, plan: Plan, *, instructions: str
) -> BotRun:
    """Start a bot process, measure it idle, warm it up, run the cases and the concurrent batch,
    stop it with SIGTERM. Raises BenchError when the bot fails a turn."""
    result = BotRun(name=name, command=command, max_concurrent_turns=plan.max_concurrent_turns)
    with tempfile.TemporaryDirectory(prefix=f"bench-{name}-") as tmp:
        folder = Path(tmp)
        figures_path, log_path = folder / "figures.json", folder / "bot.log"
        env = bot_env(stage, plan, figures_path, instructions)
        polls = Polls(stage.api)
        sessions_before = len(stage.realtime.sessions)
        t_start = time.perf_counter()
        with log_path.open("wb") as log:
            process = await asyncio.create_subprocess_exec(
                sys.executable, "-m", *command, env=env, cwd=folder,
                stdin=asyncio.subprocess.DEVNULL, stdout=log, stderr=log,
            )  # fmt: skip
        sampler = MemorySampler(process.pid)
        sampler.start()
        figures = _FiguresFile(figures_path, process)
        bot = _BotUnderTest(stage, plan, process, figures, sampler, polls)
        failure: BenchError | None = None
        try:
            await polls.wait(process, START_TIMEOUT)
            result.startup_s = time.perf_counter() - t_start
            # Idle CPU from the process's own clock: psutil counts in 10 ms ticks.
            idle0 = await figures.take()
            await asyncio.sleep(plan.idle_seconds)
            idle1 = await figures.take()
            result.idle_cpu_rate = (idle1["process_cpu_s"] - idle0["process_cpu_s"]) / (
                idle1["t"] - idle0["t"]
            )
            result.idle_rss = sampler.rss()
            result.warmup = await bot.sequential(plan.warmup, 1, name="warm-up")
            result.rss_after_warmup = result.warmup.rss_after
            result.voice_check = _check_voice(stage, result.warmup)
            for case in plan.cases:
                result.cases[case.key] = await bot.sequential(case, plan.repeat, name=case.name)
            result.rss_after_sequential = sampler.rss()
            if plan.concurrency:
                result.concurrent = await bot.concurrent(per_chat_instructions=name == "ours")
        except BenchError as exc:
            failure = exc
        finally:
            result.exit_code = await stop_process(process)
            sampler.stop()
            result.memory = sampler.window(t_start, time.perf_counter())
            final = figures.read()
            if final is not None and final.get("final"):
                result.final_figures = final
            result.log_tail = log_path.read_text(errors="replace")[-3000:]
        if failure is not None:
            tail = result.log_tail.strip() or "(empty)"
            raise BenchError(f"{name}: {failure}\n--- the bot's log, last lines ---\n{tail}")
        result.invalid_events = sum(
            len(s.invalid) for s in stage.realtime.sessions[sessions_before:]
        )
    return result


def _check_voice(stage: Stage, batch: TurnBatch) -> dict[str, Any]:
    """ffprobe the first reply: an OGG/Opus mono 48 kHz voice note of the right length, or fail."""
    turn = batch.turns[0]
    call = next(
        c for c in stage.api.calls_of("sendVoice") if c.int_param("chat_id") == turn.chat_id
    )
    voice = call.files.get("voice", b"")
    check = probe_voice(voice)
    problems = check.problems(turn.reply_seconds)
    if call.int_param("duration") != round(turn.reply_seconds):
        problems.append(f"duration parameter {call.params.get('duration')}")
    if problems:
        raise BenchError(f"the reply is not a proper voice note: {', '.join(problems)}")
    return {
        "codec": check.codec,
        "channels": check.channels,
        "sample_rate": check.sample_rate,
        "format": check.format,
        "duration": check.duration,
        "bytes": len(voice),
        "duration_param": call.int_param("duration"),
        "caption": call.params.get("caption"),
        "ok": True,
    }


async def stop_process(process: asyncio.subprocess.Process) -> int | None:
    """SIGTERM, then SIGKILL after STOP_TIMEOUT; the exit code (None when it had to be killed)."""
    if process.returncode is None:
        process.send_signal(signal.SIGTERM)
    try:
        return await asyncio.wait_for(process.wait(), STOP_TIMEOUT)
    except TimeoutError:
        process.kill()
        await process.wait()
        return None
