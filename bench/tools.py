"""``python -m bench.tools``: what the model's tools cost a voice turn, and what reminders cost.

    python -m bench.tools [--turns N] [--reminders N] [--idle S] [--first-audio S]

The current tree's bot (``python -m bot``, with ``cwd`` and PYTHONPATH this checkout, local
changes included) runs twice, each time on fresh stand-ins and a fresh redis-server:

- **tools off**: TOOLS_DISABLED=web_search,clock,notes,reminders, the baseline;
- **tools on**: every tool on (the default).

Both runs play OpenAI (REALTIME_PROVIDER=openai against the realtime stand-in's ``"openai"``
profile) with SEARCH_URL pointing at a SearXNG stand-in (`stand_ins.search.SearxStandIn`), so
``web_search`` is declared as the bot's own function and every call is run on the bot's side.
LOG_LEVEL=INFO, LOG_FORMAT=json (the bench reads the bot's "tool … ran in … ms" lines); the
rest are the defaults (live answers on, REMINDER_POLL 1 s). The model stand-in answers every
response with 2 s of audio sent at once (realtime factor 0; first audio ``--first-audio``
(0 s) after each ``response.create``); a response scripted to call (`Scenario.tool_script`)
sends its calls instead of audio, and the response the bot then asks for answers.

Cases, each a 3 s voice note in a private chat of its own, one turn at a time:

- **baseline**: the tools-off run;
- **no call**: tools on, the model calls nothing;
- **get_current_time**, **remember_note** (a sentence), **set_reminder** (``in_minutes`` 60),
  **web_search** (a query; the stand-in serves three results): one call in the first response;
- **time + note**: ``get_current_time`` and ``remember_note`` in one response.

Each run gets warm-up turns (at least two, and every case of the run once; not counted), a quiet
second, ``--idle`` (10 s) with nothing to do, then ``--turns`` (8) rounds of its cases (the
cases in turn within each round, so a drift in the machine's speed touches them all alike), then
the reminders.

Measured per turn (stand-in times are this process's ``time.perf_counter()``: both stand-ins
run here):

1. update pushed → the sendVoice request read whole by the Bot API stand-in; also push → the
   realtime handshake and push → the first ``response.create``.
2. The client's share of a tool round: from the moment the realtime stand-in sends the
   ``response.done`` that lists the calls to the moment it receives the ``response.create``
   that follows the ``function_call_output`` items; and, within it, to the first
   ``function_call_output``. The stand-in records which events it sent and received, not when,
   so each session's two lists are swapped (`_TimedSessions`) for lists that also note the time
   of every append: the stand-in appends a sent event's type right before writing it to the
   socket, and a received one's right after parsing it. The bot's own log gives the time the
   tool itself took ("tool NAME ran in N ms", to a tenth of a millisecond). The outputs the
   model got are checked (an ``{"error": …}`` output is counted), and so is the voice note's
   caption: it must say what the tool did (📝 a note, ⏰ a reminder, 🔗 the pages of a search).
3. Redis commands per turn, read from a ``MONITOR`` connection of the bench
   (`bench.redis_monitor`: every command redis-server runs, with its wall-clock time stamp;
   commands run inside a Lua script count too, as INFO commandstats counts them): from the push
   to the realtime handshake, to the first ``response.create``, and to the sendVoice plus 0.3 s
   (the bookkeeping written after sending). The background the idle bot issues (the worker's
   blocking XREADGROUP, the reminder clock's look) is taken off: its rate per command in the
   idle window × the window's length, so a count can be fractional. Stand-in times go onto the
   wall clock by the offset of the two clocks read at the push. Medians over the turns.
4. Reminders: ``--reminders`` (10) are written with the bot's own `ReminderStore` on the run's
   Redis from this process, each asked by a `TurnJob` of a private chat of its own, due
   2 s + i × 1.3 s later (1.3 s: the due times fall at every phase of the clock's 1 s look). Per
   reminder: its due time → queued (the XADD its clock's script runs, seen by MONITOR) → realtime
   handshake → sendVoice read whole (on the wall clock); due → sendVoice is its lateness. The
   tools-off run does the same: its reminder clock runs too.
5. Idle cost: Redis commands per second over the idle window, and of them the reminder clock's
   (its EVALSHA on the due set and the commands its script runs).

Both stand-ins share this process's event loop, so a gap includes the time this process takes
to read the bot's request: the figures are an upper bound of the bot's own share.

The tables go to stdout (markdown), progress to stderr, and every turn and reminder with its
figures to ``bench/results/tools.json``.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import dataclasses
import math
import os
import platform
import re
import statistics
import subprocess
import sys
import tempfile
import time
from collections import Counter
from collections.abc import AsyncIterator, Callable, Iterable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import orjson
import redis.asyncio as aioredis

from bench.driver import (
    API_KEY,
    REPLY_TEXT,
    START_TIMEOUT,
    BenchError,
    Polls,
    Stage,
    base_env,
    push_voice_message,
    reply_to,
    stop_process,
)
from bench.notes import make_note
from bench.redis_monitor import MonitorLog, Seen
from bench.report import percentile, run_meta, save_report
from bench.trees import Tree, measure_modes
from bot.domain import TurnJob
from bot.storage import keys
from bot.storage.reminders import ReminderStore
from stand_ins.bot_api import BotAPIStandIn, Call
from stand_ins.realtime import RealtimeStandIn, RecordedSession, Scenario, ScriptedCall
from stand_ins.redis import RedisServer
from stand_ins.search import SearxStandIn

__all__ = ["main"]

NOTE_SECONDS = 3.0
REPLY_SECONDS = 2.0
FIRST_AUDIO = 0.0
TURNS = 8
REMINDERS = 10
IDLE_SECONDS = 10.0
WARMUP_TURNS = 2  # at least; every case of the run once
REMINDER_LEAD = 2.0  # the first reminder is due this long after it is written
REMINDER_SPACING = 1.3  # between due times
REMINDER_TIMEOUT = 30.0  # after the last due time, for the last voice note
SETTLE_AFTER_SEND = 0.3  # a turn's window ends this long after sendVoice: the bookkeeping
GAP_SECONDS = 0.2  # before each push, after the previous turn's window
QUIET_BEFORE_IDLE = 1.0  # after the warm-up, so its last writes stay out of the idle window
TURN_TIMEOUT = 60.0
OPENAI_QUERY = "?model=gpt-realtime"
ALL_TOOLS = "web_search,clock,notes,reminders"
# {"tool NAME ran in N ms"} in the bot's JSON log, and the turn label it carries.
_TOOL_RAN = re.compile(r"^tool (\S+) ran in ([\d.]+) ms$")
_TURN_CHAT = re.compile(r"\bchat=(-?\d+)")


def _progress(message: str) -> None:
    print(f"[tools] {message}", file=sys.stderr, flush=True)


# ----------------------------------------------------------------------------- what is run


FunctionCall = tuple[str, dict[str, Any]]
"""A call the model makes: the function's name and its arguments."""


@dataclass(frozen=True)
class Case:
    """One kind of voice turn: the calls the model makes in its first response."""

    key: str
    label: str
    calls: tuple[FunctionCall, ...] = ()
    mark: str = ""
    """What the voice note's caption must show when the calls did their work ("" for none)."""

    def scenario(self, first_audio: float) -> Scenario:
        script = [[ScriptedCall(name, dict(args)) for name, args in self.calls]]
        return Scenario(
            reply_hz=180.0,
            reply_seconds=REPLY_SECONDS,
            reply_text=REPLY_TEXT,
            text_kind="audio_transcript",
            time_to_first_audio=first_audio,
            realtime_factor=0.0,
            tool_script=script if self.calls else [],
        )


BASELINE = Case("baseline", "tools off (baseline)")
NOTE: FunctionCall = ("remember_note", {"text": "My daughter's name is Ada."})
CLOCK: FunctionCall = ("get_current_time", {})
REMINDER: FunctionCall = ("set_reminder", {"text": "call mum", "in_minutes": 60})
CASES_ON = (
    Case("no_call", "no call"),
    Case("get_current_time", "get_current_time", (CLOCK,)),
    Case("remember_note", "remember_note", (NOTE,), "📝 "),
    Case("set_reminder", "set_reminder", (REMINDER,), "⏰ "),
    Case("web_search", "web_search", (("web_search", {"query": "weather in Kazan"}),), "🔗 "),
    Case("time_and_note", "time + note", (CLOCK, NOTE), "📝 "),
)
CASES = (BASELINE, *CASES_ON)
# The two runs, by label: the bot's environment and the cases of each.
MODES: dict[str, tuple[dict[str, str], tuple[Case, ...]]] = {
    "tools off": ({"TOOLS_DISABLED": ALL_TOOLS}, (BASELINE,)),
    "tools on": ({}, CASES_ON),
}


@dataclass(frozen=True)
class Plan:
    turns: int
    reminders: int
    idle: float
    first_audio: float


# ----------------------------------------------------------------------------- time stamps


class _Stamped(list[str]):
    """A session's recorded event types that also notes the ``time.perf_counter()`` of each
    append, in `times` (NaN for what was there before)."""

    def __init__(self, items: Iterable[str]) -> None:
        super().__init__(items)
        self.times: list[float] = [math.nan] * len(self)

    def append(self, item: str, /) -> None:
        self.times.append(time.perf_counter())
        super().append(item)

    def when(self, etype: str) -> list[tuple[int, float]]:
        """(index, time) of every ``etype``."""
        return [(i, t) for i, (e, t) in enumerate(zip(self, self.times, strict=True)) if e == etype]


class _TimedSessions(list[RecordedSession]):
    """The realtime stand-in's ``sessions``: each session added gets `_Stamped` lists of the
    events it sends and receives, before its connection sends or reads anything (the stand-in
    adds a session when its handshake arrives)."""

    def append(self, session: RecordedSession, /) -> None:
        session.server_event_types = _Stamped(session.server_event_types)
        session.event_types = _Stamped(session.event_types)
        super().append(session)


def _stamped(events: list[str]) -> _Stamped:
    if not isinstance(events, _Stamped):
        raise BenchError("a realtime session was recorded without time stamps")
    return events


# ----------------------------------------------------------------------------- what Redis ran


def _clock_look(seen: Seen) -> bool:
    """Whether ``seen`` is the reminder clock's look: ``ReminderStore.fire_due``'s script, whose
    first key is the due set (the other reminder scripts start with a chat's hash)."""
    return (
        not seen.in_script
        and seen.name in ("evalsha", "eval")
        and seen.args[2:3] == (keys.REMINDERS_DUE,)
    )


def _in_clock_script(seen: Seen) -> bool:
    """Whether ``seen`` is a command only the clock's script runs on the due set when nothing is
    due."""
    return (
        seen.in_script
        and seen.name in ("zrangebyscore", "zrange")
        and seen.args[:1] == (keys.REMINDERS_DUE,)
    )


# ----------------------------------------------------------------------------- raw records


@dataclass(frozen=True)
class RawTurn:
    """One turn as recorded while it ran; its figures are worked out after the run."""

    case: Case
    chat: int
    push_wall: float
    push: float
    session: RecordedSession
    voice: Call

    def wall(self, perf: float) -> float:
        """A ``time.perf_counter()`` value of this turn on the wall clock."""
        return perf - self.push + self.push_wall


@dataclass(frozen=True)
class RawReminder:
    chat: int
    text: str
    due_at: float
    """Wall clock."""


@dataclass
class RawRun:
    mode: str
    revision: str
    offset: float
    """time.time() − time.perf_counter(), read at the start of the reminders."""
    idle: tuple[float, float]
    turns: list[RawTurn]
    reminders: list[RawReminder]
    sessions: list[RecordedSession]
    voices: list[Call]
    errors: list[Call]
    monitor: list[Seen]
    log_lines: list[dict[str, Any]]
    invalid_events: list[str]
    exit_code: int | None


# ----------------------------------------------------------------------------- the stage


@contextlib.asynccontextmanager
async def tool_stage(scenario: Scenario) -> AsyncIterator[tuple[Stage, SearxStandIn]]:
    """A fresh redis-server, a Bot API stand-in, a realtime stand-in playing OpenAI (its
    sessions recorded with time stamps) and a SearXNG stand-in; all stopped on the way out."""
    server = RedisServer()
    server.start()
    try:
        async with (
            BotAPIStandIn() as api,
            RealtimeStandIn(profile="openai", api_key=API_KEY, scenario=scenario) as realtime,
            SearxStandIn() as searx,
        ):
            realtime.sessions = _TimedSessions()
            yield Stage(api=api, realtime=realtime, redis=server), searx
    finally:
        server.stop()


class _Bot:
    """One bot process, driven one voice turn at a time."""

    def __init__(
        self, stage: Stage, process: asyncio.subprocess.Process, note: bytes, plan: Plan
    ) -> None:
        self.stage = stage
        self.process = process
        self.note = note
        self.plan = plan
        self.polls = Polls(stage.api)

    async def turn(self, case: Case) -> RawTurn:
        """One voice turn of ``case`` in a new private chat; returns once its window has ended.
        Raises BenchError when it is not answered with a voice."""
        chat = self.stage.next_chat()
        self.stage.realtime.scenario = case.scenario(self.plan.first_audio)
        await asyncio.sleep(GAP_SECONDS)
        await self.polls.wait(self.process, TURN_TIMEOUT)
        push_wall = time.time()
        push, _ = push_voice_message(self.stage, self.polls, chat, self.note, NOTE_SECONDS)
        try:
            session, voice = await reply_to(
                self.stage, chat, self.process, TURN_TIMEOUT, since=push
            )
        except BenchError as exc:
            raise BenchError(f"{case.label}: {exc}") from exc
        await asyncio.sleep(max(0.0, voice.t + SETTLE_AFTER_SEND - time.perf_counter()))
        return RawTurn(case, chat, push_wall, push, session, voice)

    async def reminders(self, count: int) -> tuple[float, list[RawReminder]]:
        """``count`` reminders written with the bot's ReminderStore, each in a private chat of
        its own, due REMINDER_LEAD + i × REMINDER_SPACING seconds from now; returns once each
        has its voice note, or REMINDER_TIMEOUT after the last due time. Returns the offset of
        the wall clock to ``time.perf_counter()`` and the reminders."""
        self.stage.realtime.scenario = BASELINE.scenario(self.plan.first_audio)
        client = aioredis.Redis.from_url(self.stage.redis.url, decode_responses=True)
        store = ReminderStore(client)
        offset = time.time() - time.perf_counter()
        since = time.perf_counter()
        written: list[RawReminder] = []
        try:
            now = time.time()
            for i in range(count):
                chat = self.stage.next_chat()
                asking = TurnJob(chat_id=chat, message_id=1, user_id=chat, enqueued_at=now)
                text = f"bench reminder {chat}"
                due_at = now + REMINDER_LEAD + i * REMINDER_SPACING
                reminder = await store.add(asking, text, due_at, now=now)
                written.append(RawReminder(chat, text, reminder.due_at))
        finally:
            await client.aclose()
        wanted = {r.chat for r in written}
        deadline = max(r.due_at for r in written) - offset + REMINDER_TIMEOUT
        while time.perf_counter() < deadline:
            answered = {
                call.int_param("chat_id")
                for call in self.stage.api.calls_of("sendVoice")
                if call.ok and call.t >= since
            }
            if wanted <= answered:
                break
            if self.process.returncode is not None:
                raise BenchError(f"the bot exited with code {self.process.returncode}")
            await asyncio.sleep(0.05)
        return offset, written


async def run_mode(tree: Tree, note: bytes, plan: Plan) -> RawRun:
    """``tree``'s bot with the environment MODES gives ``tree.label``, on a fresh stage:
    warm-up, idle window, the measured turns, the reminders. Raises BenchError (with the bot's
    log) when the bot fails a turn."""
    env_mode, cases = MODES[tree.label]
    async with contextlib.AsyncExitStack() as stack:
        stage, searx = await stack.enter_async_context(tool_stage(cases[0].scenario(0.0)))
        monitor = MonitorLog(stage.redis.port)
        stack.push_async_callback(monitor.stop)
        await monitor.start()
        work = Path(stack.enter_context(tempfile.TemporaryDirectory(prefix="tools-")))
        log_path = work / "bot.log"
        env = {
            **base_env(stage),
            "PYTHONPATH": str(tree.path),
            "DATA_DIR": str(work / "data"),
            "REALTIME_PROVIDER": "openai",
            "REALTIME_URL": stage.realtime.url + OPENAI_QUERY,
            "SEARCH_URL": searx.url,
            "LOG_LEVEL": "INFO",
            "LOG_FORMAT": "json",
            **env_mode,
        }
        env.pop("YANDEX_FOLDER_ID", None)
        with log_path.open("wb") as log:
            process = await asyncio.create_subprocess_exec(
                sys.executable, "-m", "bot",
                cwd=tree.path, env=env, stdin=subprocess.DEVNULL, stdout=log, stderr=log,
            )  # fmt: skip
        bot = _Bot(stage, process, note, plan)
        turns: list[RawTurn] = []
        reminders: list[RawReminder] = []
        offset = time.time() - time.perf_counter()
        idle = (0.0, 0.0)
        failure: BenchError | None = None
        try:
            await bot.polls.wait(process, START_TIMEOUT)
            for i in range(max(WARMUP_TURNS, len(cases))):
                await bot.turn(cases[i % len(cases)])
            await asyncio.sleep(QUIET_BEFORE_IDLE)
            _progress(f"{tree.label}: idle for {plan.idle:g} s")
            start = time.time()
            await asyncio.sleep(plan.idle)
            idle = (start, time.time())
            _progress(f"{tree.label}: {plan.turns} rounds of {len(cases)} case(s)")
            for _ in range(plan.turns):
                for case in cases:
                    turns.append(await bot.turn(case))
            if plan.reminders:
                _progress(f"{tree.label}: {plan.reminders} reminders")
                offset, reminders = await bot.reminders(plan.reminders)
        except BenchError as exc:
            failure = exc
        finally:
            exit_code = await stop_process(process)
            await monitor.drain()
        text = log_path.read_text(errors="replace")
        if failure is not None:
            raise BenchError(f"{tree.label}: {failure}\n--- the bot's log ---\n{text[-3000:]}")
        return RawRun(
            mode=tree.label,
            revision=tree.revision,
            offset=offset,
            idle=idle,
            turns=turns,
            reminders=reminders,
            sessions=list(stage.realtime.sessions),
            voices=[c for c in stage.api.calls_of("sendVoice") if c.ok],
            errors=list(stage.api.calls_of("sendMessage")),
            monitor=monitor.in_order(),
            log_lines=list(_json_lines(text)),
            invalid_events=stage.realtime.invalid_events(),
            exit_code=exit_code,
        )


def _json_lines(text: str) -> Iterator[dict[str, Any]]:
    for line in text.splitlines():
        if line.startswith("{"):
            with contextlib.suppress(orjson.JSONDecodeError):
                entry = orjson.loads(line)
                if isinstance(entry, dict):
                    yield entry


# ----------------------------------------------------------------------------- figures


@dataclass(frozen=True)
class Round:
    """One tool round of a turn, as the realtime stand-in saw it."""

    calls: tuple[str, ...]
    done_to_create_ms: float
    """``response.done`` (listing the calls) sent → the next ``response.create`` received."""
    done_to_first_output_ms: float | None
    """The same ``response.done`` → the first ``function_call_output`` received."""


@dataclass(frozen=True)
class ToolTurn:
    """One measured turn. Times are ms."""

    case: str
    chat: int
    voice_ms: float
    """Push → the sendVoice request read whole."""
    handshake_ms: float
    response_create_ms: float
    """Push → the first response.create."""
    rounds: list[Round]
    tool_run_ms: list[tuple[str, float]]
    """From the bot's log: each call's own time (ms, to a tenth)."""
    tool_errors: list[str]
    """The outputs the model got that were ``{"error": …}``."""
    caption: str
    redis_before_handshake: float
    redis_before_create: float
    redis_whole_turn: float
    """Commands in each window less the idle background (see the module docstring)."""
    redis_raw: dict[str, dict[str, int]]
    """The commands of each window by name, background included."""


@dataclass(frozen=True)
class ReminderTurn:
    """One reminder. Times are ms after its due time; None when it did not happen."""

    chat: int
    queued_ms: float | None
    handshake_ms: float | None
    voice_ms: float | None
    caption: str | None


@dataclass(frozen=True)
class Idle:
    seconds: float
    per_second: dict[str, float]
    """Commands a second by `Seen.label`."""
    clock_looks: float
    """The clock's looks a second."""
    clock_commands: float
    """Commands a second of those looks: the EVALSHA and what its script ran."""


def idle_figures(run: RawRun) -> Idle:
    t0, t1 = run.idle
    seconds = t1 - t0
    seen = [s for s in run.monitor if t0 <= s.t < t1]
    per_second = {k: v / seconds for k, v in Counter(s.label for s in seen).most_common()}
    looks = sum(1 for s in seen if _clock_look(s))
    # A look with nothing due runs its EVALSHA, one ZRANGEBYSCORE and one ZRANGE.
    inner = sum(1 for s in seen if _in_clock_script(s))
    return Idle(seconds, per_second, looks / seconds, (looks + inner) / seconds)


def _net(seen: list[Seen], idle: Idle, seconds: float) -> float:
    """Commands seen less the idle background over ``seconds``."""
    return len(seen) - sum(idle.per_second.values()) * seconds


def tool_rounds(session: RecordedSession) -> list[Round]:
    """Every ``response.done`` of the session that was followed by a ``response.create``."""
    sent, received = _stamped(session.server_event_types), _stamped(session.event_types)
    creates = [t for _, t in received.when("response.create")]
    outputs = [
        t
        for i, t in received.when("conversation.item.create")
        if (session.client_events[i].get("item") or {}).get("type") == "function_call_output"
    ]
    names = iter(output["name"] for output in session.tool_outputs)
    rounds = []
    for _, done in sent.when("response.done"):
        after = [t for t in creates if t > done]
        if not after:
            continue
        mine = [t for t in outputs if done < t <= after[0]]
        rounds.append(
            Round(
                calls=tuple(next(names, "?") for _ in mine),
                done_to_create_ms=(after[0] - done) * 1000,
                done_to_first_output_ms=(mine[0] - done) * 1000 if mine else None,
            )
        )
    return rounds


def _tool_errors(session: RecordedSession) -> list[str]:
    errors = []
    for output in session.tool_outputs:
        with contextlib.suppress(orjson.JSONDecodeError):
            value = orjson.loads(output["output"])
            if isinstance(value, dict) and "error" in value:
                errors.append(f"{output['name']}: {value['error']}")
    return errors


def _tool_runs(lines: list[dict[str, Any]]) -> dict[int, list[tuple[str, float]]]:
    """Per chat, each "tool NAME ran in N ms" of the bot's log."""
    out: dict[int, list[tuple[str, float]]] = {}
    for entry in lines:
        ran = _TOOL_RAN.match(str(entry.get("msg", "")))
        chat = _TURN_CHAT.search(str(entry.get("turn", "")))
        if ran and chat:
            out.setdefault(int(chat.group(1)), []).append((ran.group(1), float(ran.group(2))))
    return out


def turn_figures(run: RawRun, idle: Idle) -> list[ToolTurn]:
    runs = _tool_runs(run.log_lines)
    out = []
    for raw in run.turns:
        session = raw.session
        creates = _stamped(session.event_types).when("response.create")
        if not creates:
            raise BenchError(f"chat {raw.chat}: its realtime session has no response.create")
        first_create = creates[0][1]
        a1, c1 = raw.wall(session.t_connected), raw.wall(first_create)
        b1 = raw.wall(raw.voice.t) + SETTLE_AFTER_SEND
        t0 = raw.push_wall
        whole = [s for s in run.monitor if t0 <= s.t < b1]
        windows = {
            "before_handshake": [s for s in whole if s.t < a1],
            "before_create": [s for s in whole if s.t < c1],
            "whole_turn": whole,
        }
        out.append(
            ToolTurn(
                case=raw.case.key,
                chat=raw.chat,
                voice_ms=(raw.voice.t_done - raw.push) * 1000,
                handshake_ms=(session.t_connected - raw.push) * 1000,
                response_create_ms=(first_create - raw.push) * 1000,
                rounds=tool_rounds(session),
                tool_run_ms=runs.get(raw.chat, []),
                tool_errors=_tool_errors(session),
                caption=str(raw.voice.params.get("caption") or ""),
                redis_before_handshake=_net(windows["before_handshake"], idle, a1 - t0),
                redis_before_create=_net(windows["before_create"], idle, c1 - t0),
                redis_whole_turn=_net(whole, idle, b1 - t0),
                redis_raw={
                    name: dict(Counter(s.label for s in seen).most_common())
                    for name, seen in windows.items()
                },
            )
        )
    return out


def reminder_figures(run: RawRun) -> list[ReminderTurn]:
    out = []
    for reminder in run.reminders:
        queued = next(
            (s.t for s in run.monitor if s.name == "xadd" and s.chat == reminder.chat), None
        )
        session = next(
            (
                s
                for s in run.sessions
                if any(
                    e.get("type") == "conversation.item.create"
                    and reminder.text in orjson.dumps(e).decode()
                    for e in s.client_events
                )
            ),
            None,
        )
        voice = next((c for c in run.voices if c.int_param("chat_id") == reminder.chat), None)

        def ms(wall: float | None, due: float = reminder.due_at) -> float | None:
            return None if wall is None else (wall - due) * 1000

        out.append(
            ReminderTurn(
                chat=reminder.chat,
                queued_ms=ms(queued),
                handshake_ms=ms(session.t_connected + run.offset) if session else None,
                voice_ms=ms(voice.t_done + run.offset) if voice else None,
                caption=str(voice.params.get("caption") or "") if voice else None,
            )
        )
    return out


# ----------------------------------------------------------------------------- summaries


def _stats(values: list[float]) -> dict[str, Any]:
    return {
        "p50": percentile(values, 50) if values else None,
        "p90": percentile(values, 90) if values else None,
        "max": max(values, default=None),
        "n": len(values),
    }


def turn_summary(case: Case, turns: list[ToolTurn]) -> dict[str, Any]:
    rounds = [r for t in turns for r in t.rounds]
    return {
        "turns": len(turns),
        "captions_with_mark": (
            sum(1 for t in turns if case.mark in t.caption) if case.mark else None
        ),
        "voice_ms": _stats([t.voice_ms for t in turns]),
        "handshake_ms": _stats([t.handshake_ms for t in turns]),
        "response_create_ms": _stats([t.response_create_ms for t in turns]),
        "rounds_per_turn": statistics.fmean(len(t.rounds) for t in turns) if turns else None,
        "round_ms": _stats([r.done_to_create_ms for r in rounds]),
        "round_to_first_output_ms": _stats(
            [r.done_to_first_output_ms for r in rounds if r.done_to_first_output_ms is not None]
        ),
        # A round's calls run together: the slowest of a turn is its share of the round.
        "tool_run_ms": _stats([max(ms for _, ms in t.tool_run_ms) for t in turns if t.tool_run_ms]),
        "tool_errors": sum(len(t.tool_errors) for t in turns),
        "redis_before_handshake": _median([t.redis_before_handshake for t in turns]),
        "redis_before_create": _median([t.redis_before_create for t in turns]),
        "redis_whole_turn": _median([t.redis_whole_turn for t in turns]),
    }


def reminder_summary(reminders: list[ReminderTurn]) -> dict[str, Any]:
    def gaps(a: str | None, b: str) -> list[float]:
        return [
            getattr(r, b) - (getattr(r, a) if a else 0.0)
            for r in reminders
            if getattr(r, b) is not None and (a is None or getattr(r, a) is not None)
        ]

    return {
        "written": len(reminders),
        "delivered": sum(1 for r in reminders if r.voice_ms is not None),
        "due_to_queued_ms": _stats(gaps(None, "queued_ms")),
        "queued_to_handshake_ms": _stats(gaps("queued_ms", "handshake_ms")),
        "handshake_to_voice_ms": _stats(gaps("handshake_ms", "voice_ms")),
        "lateness_ms": _stats(gaps(None, "voice_ms")),
    }


def _median(values: list[float]) -> float | None:
    return statistics.median(values) if values else None


# ----------------------------------------------------------------------------- the tables


def _ms(value: float | None) -> str:
    if value is None:
        return "—"
    return f"{value:,.0f}" if abs(value) >= 100 else f"{value:.1f}"


def _pair(figure: dict[str, Any]) -> str:
    return "—" if not figure["n"] else f"{_ms(figure['p50'])} / {_ms(figure['p90'])}"


def _triple(figure: dict[str, Any]) -> str:
    if not figure["n"]:
        return "—"
    return f"{_ms(figure['p50'])} / {_ms(figure['p90'])} / {_ms(figure['max'])}"


def _count(value: float | None) -> str:
    return "—" if value is None else f"{value:.1f}"


def _delta(value: float | None, base: float | None, fmt: str = "{:+.1f}") -> str:
    if value is None or base is None:
        return "—"
    return fmt.format(value - base)


def markdown(header: list[str], body: list[list[str]]) -> list[str]:
    """A markdown table, padded to fixed widths: the first column left-aligned, the rest
    right-aligned."""
    widths = [max(len(row[i]) for row in [header, *body]) for i in range(len(header))]

    def line(cells: list[str]) -> str:
        padded = [cells[0].ljust(widths[0])]
        padded += [c.rjust(w) for c, w in zip(cells[1:], widths[1:], strict=True)]
        return "| " + " | ".join(padded) + " |"

    rule = "|" + "|".join(["-" * (widths[0] + 2), *("-" * (w + 1) + ":" for w in widths[1:])])
    return [line(header), rule + "|", *(line(row) for row in body)]


def render_turns(sums: dict[str, dict[str, Any]]) -> Iterator[str]:
    """The per-turn table: a column per case, the baseline first."""
    cases = [case for case in CASES if case.key in sums]
    base = sums.get(BASELINE.key)

    def versus(key: str, pick: str | None = "p50") -> Callable[[dict[str, Any]], str]:
        def cell(s: dict[str, Any]) -> str:
            if base is None:
                return "—"
            value, reference = (
                (s[key], base[key]) if pick is None else (s[key][pick], base[key][pick])
            )
            return _delta(value, reference)

        return cell

    def marks(case: Case, s: dict[str, Any]) -> str:
        return "—" if not case.mark else f"{s['captions_with_mark']}/{s['turns']}"

    rows: list[tuple[str, Callable[[dict[str, Any]], str]]] = [
        ("turns", lambda s: str(s["turns"])),
        ("push → sendVoice, p50 / p90 (ms)", lambda s: _pair(s["voice_ms"])),
        ("  Δ p50 vs baseline (ms)", versus("voice_ms")),
        ("push → realtime handshake, p50 / p90", lambda s: _pair(s["handshake_ms"])),
        ("push → first response.create, p50 / p90", lambda s: _pair(s["response_create_ms"])),
        ("  Δ p50 vs baseline (ms)", versus("response_create_ms")),
        ("tool round ¹, p50 / p90 (ms)", lambda s: _pair(s["round_ms"])),
        ("  response.done → first output", lambda s: _pair(s["round_to_first_output_ms"])),
        ("  the tool itself (bot's log ²)", lambda s: _pair(s["tool_run_ms"])),
        ("tool outputs that were errors", lambda s: str(s["tool_errors"])),
        (
            "Redis commands ³, median: before handshake",
            lambda s: _count(s["redis_before_handshake"]),
        ),
        ("  before first response.create", lambda s: _count(s["redis_before_create"])),
        ("  whole turn", lambda s: _count(s["redis_whole_turn"])),
        ("  whole turn, Δ vs baseline", versus("redis_whole_turn", None)),
    ]
    body = [[name, *(cell(sums[case.key]) for case in cases)] for name, cell in rows]
    body.insert(
        10,
        ["caption shows what the tool did", *(marks(case, sums[case.key]) for case in cases)],
    )
    yield from markdown(["per voice turn", *(case.label for case in cases)], body)


def render_clock(runs: dict[str, dict[str, Any]]) -> Iterator[str]:
    """Reminders and the idle cost: a column per run, the baseline last."""
    labels = [label for label in ("tools on", "tools off") if label in runs]

    def reminders(key: str) -> Callable[[dict[str, Any]], str]:
        return lambda c: _triple(c["reminders"][key])

    def idle(key: str) -> Callable[[dict[str, Any]], str]:
        return lambda c: f"{c['idle'][key]:.2f}"

    rows: list[tuple[str, Callable[[dict[str, Any]], str]]] = [
        (
            "reminders delivered",
            lambda c: f"{c['reminders']['delivered']}/{c['reminders']['written']}",
        ),
        ("due → queued by the clock, p50 / p90 / max (ms)", reminders("due_to_queued_ms")),
        ("queued → realtime handshake", reminders("queued_to_handshake_ms")),
        ("handshake → sendVoice", reminders("handshake_to_voice_ms")),
        ("due → sendVoice (lateness)", reminders("lateness_ms")),
        ("idle: Redis commands / s, all", lambda c: f"{sum(c['idle']['per_second'].values()):.2f}"),
        ("  the reminder clock's looks / s", idle("clock_looks")),
        ("  the reminder clock's commands / s ⁴", idle("clock_commands")),
    ]
    body = [[name, *(cell(runs[label]) for label in labels)] for name, cell in rows]
    header = [
        "reminders and idle",
        *(label + (" (baseline)" if label == "tools off" else "") for label in labels),
    ]
    yield from markdown(header, body)


FOOTNOTES = (
    "¹ from the stand-in sending the response.done that lists the calls to its receiving the "
    "response.create after the function_call_output items (the client's share of the round)",
    '² the bot\'s own "tool NAME ran in N ms"; with two calls, the slower one',
    "³ every command redis-server ran (those inside scripts too), seen by MONITOR, less the idle "
    "background rate × the window; whole turn: push → sendVoice + 0.3 s",
    "⁴ its EVALSHA on the due set and the commands its script runs (ZRANGEBYSCORE, ZRANGE)",
)


def heading(tree: Tree, plan: Plan) -> str:
    return (
        f"tools: the current tree ({tree.revision}); provider openai (the realtime stand-in's "
        f"openai profile), SEARCH_URL a SearXNG stand-in; {plan.turns} rounds of the cases, "
        f"each turn a {NOTE_SECONDS:g} s voice note in a private chat of its own, after warm-up; "
        f"the model stand-in replies {REPLY_SECONDS:g} s of audio at once (first audio after "
        f"{plan.first_audio:g} s); {plan.reminders} reminders per run, REMINDER_POLL 1 s; idle "
        f"{plan.idle:g} s; {os.cpu_count()} CPUs, Python {platform.python_version()}"
    )


# ----------------------------------------------------------------------------- main


@dataclass
class Figures:
    mode: str
    turns: list[ToolTurn]
    reminders: list[ReminderTurn]
    idle: Idle
    run: RawRun
    problems: list[str] = field(default_factory=list)


def figures(run: RawRun) -> Figures:
    idle = idle_figures(run)
    turns = turn_figures(run, idle)
    reminders = reminder_figures(run)
    problems = [f"the realtime stand-in refused: {line[:300]}" for line in run.invalid_events]
    problems += [
        f"sendMessage to chat {c.params.get('chat_id')}: {str(c.params.get('text'))[:200]!r}"
        for c in run.errors
    ]
    problems += [
        f"bot log {entry.get('level')}: {str(entry.get('msg'))[:200]} [{entry.get('turn', '')}]"
        for entry in run.log_lines
        if entry.get("level") in ("warning", "error", "critical")
    ]
    problems += [f"chat {t.chat} ({t.case}): {e}" for t in turns for e in t.tool_errors]
    return Figures(run.mode, turns, reminders, idle, run, problems)


def report(
    argv: list[str] | None, elapsed: float, tree: Tree, plan: Plan, done: list[Figures],
    failures: dict[str, str],
) -> dict[str, Any]:  # fmt: skip
    return {
        "meta": {
            **run_meta(argv, elapsed),
            "tree": str(tree.path),
            "revision": tree.revision,
            "plan": {
                **dataclasses.asdict(plan),
                "note_seconds": NOTE_SECONDS,
                "reply_seconds": REPLY_SECONDS,
                "realtime_factor": 0.0,
                "reminder_lead_s": REMINDER_LEAD,
                "reminder_spacing_s": REMINDER_SPACING,
                "settle_after_send_s": SETTLE_AFTER_SEND,
                "gap_s": GAP_SECONDS,
                "modes": {label: env for label, (env, _) in MODES.items()},
                "cases": {case.key: [list(call) for call in case.calls] for case in CASES},
            },
        },
        "runs": {
            f.mode: {
                "exit_code": f.run.exit_code,
                "idle": dataclasses.asdict(f.idle),
                "cases": {
                    case.key: turn_summary(case, [t for t in f.turns if t.case == case.key])
                    for case in CASES
                    if any(t.case == case.key for t in f.turns)
                },
                "reminders": {
                    "summary": reminder_summary(f.reminders),
                    "each": [dataclasses.asdict(r) for r in f.reminders],
                },
                "turns": [dataclasses.asdict(t) for t in f.turns],
                "problems": f.problems,
            }
            for f in done
        },
        "failed": failures,
    }


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="python -m bench.tools",
        description="What the model's tools add to a voice turn (latency, the client's share of "
        "a tool round, Redis commands), how late reminders come, and what the reminder clock "
        "costs an idle worker; tools on beside tools off.",
    )
    parser.add_argument(
        "--turns", type=int, default=TURNS, help=f"measured turns of each case ({TURNS})"
    )
    parser.add_argument(
        "--reminders", type=int, default=REMINDERS, help=f"reminders per run ({REMINDERS})"
    )
    parser.add_argument(
        "--idle", type=float, default=IDLE_SECONDS, help=f"idle seconds watched ({IDLE_SECONDS:g})"
    )
    parser.add_argument(
        "--first-audio",
        type=float,
        default=FIRST_AUDIO,
        help=f"seconds from each response.create to its first audio or call ({FIRST_AUDIO:g})",
    )
    return parser


def main(argv: list[str] | None = None) -> int:
    parser = _parser()
    args = parser.parse_args(argv)
    if args.turns < 1 or args.reminders < 0 or args.idle <= 0 or args.first_audio < 0:
        parser.error("--turns ≥ 1, --reminders ≥ 0, --idle > 0 and --first-audio ≥ 0")
    plan = Plan(args.turns, args.reminders, args.idle, args.first_audio)
    started = time.perf_counter()
    # Other work on the machine shows in every figure: the load is reported beside them.
    load_before = os.getloadavg()[0]
    note = make_note(NOTE_SECONDS)
    try:
        # The same tree twice, labelled by the run; a run that fails leaves the other measured.
        tree, runs, failures = measure_modes(
            "tools", MODES, lambda mode: run_mode(mode, note, plan), _progress
        )
    except BenchError as exc:  # git could not describe the checkout
        print(f"tools failed: {exc}", file=sys.stderr)
        return 1
    if not runs:
        return 1
    done = [figures(run) for run in runs]
    elapsed = time.perf_counter() - started
    data = report(argv, elapsed, tree, plan, done, failures)
    load_after = os.getloadavg()[0]
    data["meta"]["load_average_1min"] = {"before": load_before, "after": load_after}
    sums = {key: s for f in data["runs"].values() for key, s in f["cases"].items()}
    clock = {
        label: {"reminders": f["reminders"]["summary"], "idle": f["idle"]}
        for label, f in data["runs"].items()
    }
    lines = [heading(tree, plan), "", *render_turns(sums), "", *render_clock(clock), ""]
    lines += [*FOOTNOTES, ""]
    for f in done:
        for problem in f.problems[:10]:
            lines.append(f"note ({f.mode}): {problem}")
        if len(f.problems) > 10:
            lines.append(f"note ({f.mode}): … {len(f.problems) - 10} more in the JSON")
    lines.append(
        f"took {elapsed:.0f} s; load average (1 min) before / after: "
        f"{load_before:.2f} / {load_after:.2f}"
    )
    print("\n".join(lines))
    save_report("tools", data)
    return 1 if failures else 0


if __name__ == "__main__":
    raise SystemExit(main())
