"""``python -m bench.live``: how soon a voice turn shows itself, live answers on and off.

    python -m bench.live [--private N] [--group N] [--first-audio S] [--speed X]

The current tree's bot (``python -m bot``, with ``cwd`` and PYTHONPATH this checkout, local
changes included) runs twice, each time on fresh stand-ins and a fresh redis-server:

- **live on**: LIVE_ANSWERS=true, GROUP_REACTIONS=true (the defaults);
- **live off**: LIVE_ANSWERS=false, GROUP_REACTIONS=false, the baseline.

Each run gets a warm-up turn in a private chat and one in the group (not counted), then
``--private`` (10) turns, each a 5 s voice note in a private chat of its own, then ``--group``
(5) turns, each a 5 s voice note from another member of one supergroup whose mode is ``all``
(set in its Redis settings before the bot starts). Turns run one after another. The realtime
stand-in answers every turn with 10 s of audio, the first after ``--first-audio`` (0.4 s) from
``response.create``, then at ``--speed`` (1.0) × real time, with the reply's 25 words sent as
``response.output_audio_transcript.delta`` events spread over the audio (as Yandex sends them),
so the text streams over about ten seconds.

Measured per turn, all on this process's ``time.perf_counter()`` (both stand-ins run here):

- update pushed → the first visible sign reaching the Bot API stand-in: with live answers, the
  first ``sendMessageDraft`` ("Thinking…") in a private chat and the first
  ``setMessageReaction`` 👀 in the group; without, the first ``sendChatAction`` (record_voice);
  and, in every run, the first ``sendChatAction``;
- update pushed → the first ``sendMessageDraft`` with text;
- the model's first text delta, from the moment the realtime stand-in sends it, to that first
  text draft reaching the Bot API stand-in (target: within 50 ms). The stand-in records which
  events it sent, not when, so each session's list of sent event types is swapped for one that
  also notes when each type was first sent (``_SendTimes``): the stand-in appends to it right
  before it writes the event to the socket;
- update pushed → the voice note uploaded (the ``sendVoice`` request read whole);
- Bot API calls by method (getUpdates left out), from the push until 0.5 s after the sendVoice,
  where the reaction is cleared; calls the stand-in refused are counted apart;
- the shortest time between two drafts of a turn (the bot promises at most one every 0.3 s).

Both stand-ins share this process's event loop, so a gap includes the time this process takes
to read the bot's request; the figures are an upper bound of the bot's own share.

The table goes to stdout, progress to stderr, and every turn with its figures to
``bench/results/live.json``.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import dataclasses
import itertools
import os
import platform
import statistics
import subprocess
import sys
import tempfile
import time
from collections import Counter
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

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
from bench.trees import Tree, measure_modes
from bot.storage import keys
from stand_ins.bot_api import Call
from stand_ins.realtime import RecordedSession

__all__ = ["main"]

Kind = Literal["private", "group"]
KINDS: tuple[Kind, ...] = ("private", "group")
# The two runs, by label: the bot's environment for each.
MODES = {
    "live on": {"LIVE_ANSWERS": "true", "GROUP_REACTIONS": "true"},
    "live off": {"LIVE_ANSWERS": "false", "GROUP_REACTIONS": "false"},
}
NOTE_SECONDS = 5.0
REPLY_SECONDS = 10.0
FIRST_AUDIO = 0.4
SPEED = 1.0
PRIVATE_TURNS = 10
GROUP_TURNS = 5
GROUP_CHAT = -1_001_234_567_890  # a supergroup's id, as the Bot API stand-in reads ids
GROUP_TITLE = "Bench group"
FIRST_MEMBER = 900_001
SETTLE_AFTER_SEND = 0.5  # the turn's window ends this long after sendVoice: the reaction's clear
GAP_SECONDS = 0.2  # before each push, after the previous turn's window
TURN_TIMEOUT = 60.0
TEXT_DELTAS = ("response.output_audio_transcript.delta", "response.output_text.delta")
GAP_TARGET_MS = 50.0
DRAFT_INTERVAL_MS = 300.0
# The methods listed in every table, in this order; any other the bot calls is added after them.
METHODS = (
    "getFile",
    "sendChatAction",
    "sendMessageDraft",
    "setMessageReaction",
    "sendVoice",
    "sendMessage",
)


def _progress(message: str) -> None:
    print(f"[live] {message}", file=sys.stderr, flush=True)


# ----------------------------------------------------------------------------- send times


class _SendTimes(list[str]):
    """A session's ``server_event_types`` that also notes, per event type, the
    ``time.perf_counter()`` of its first append (the stand-in appends right before sending)."""

    def __init__(self, types: list[str]) -> None:
        super().__init__(types)
        self.first: dict[str, float] = {}

    def append(self, etype: str, /) -> None:
        self.first.setdefault(etype, time.perf_counter())
        super().append(etype)


class _TimedSessions(list[RecordedSession]):
    """The realtime stand-in's ``sessions``: each session added gets a `_SendTimes`, before its
    connection sends anything (the stand-in adds a session when its handshake arrives)."""

    def append(self, session: RecordedSession, /) -> None:
        session.server_event_types = _SendTimes(session.server_event_types)
        super().append(session)


def first_sent(session: RecordedSession, types: tuple[str, ...]) -> float | None:
    """When the stand-in first sent an event of one of ``types`` in ``session``; None when it
    sent none, or the session was not recorded with send times."""
    sent = session.server_event_types
    if not isinstance(sent, _SendTimes):
        return None
    times = [sent.first[etype] for etype in types if etype in sent.first]
    return min(times, default=None)


# ----------------------------------------------------------------------------- one turn


@dataclass(frozen=True)
class LiveTurn:
    """One measured turn. Times are ms after the update was pushed, None when it did not
    happen."""

    kind: Kind
    chat: int
    sign_method: str
    """The call that counts as the first visible sign in this run and kind of chat."""
    sign_ms: float | None
    chat_action_ms: float | None
    """The first sendChatAction (record_voice)."""
    response_create_ms: float
    text_sent_ms: float | None
    """The model's first text delta leaving the realtime stand-in."""
    text_draft_ms: float | None
    """The first sendMessageDraft with text reaching the Bot API stand-in."""
    text_gap_ms: float | None
    """From `text_sent_ms` to `text_draft_ms`."""
    voice_ms: float
    """The sendVoice request read whole by the Bot API stand-in."""
    drafts: int
    text_drafts: int
    shortest_draft_gap_ms: float | None
    """The shortest time between two drafts of the turn reaching the stand-in."""
    calls: dict[str, int]
    """Answered calls by method in the turn's window (getUpdates left out)."""
    refused: dict[str, int]
    """Of `calls`, those the stand-in refused."""


def sign_method(mode: str, kind: Kind) -> str:
    """The call that shows a turn first: drafts (private) or a reaction (group) with live
    answers, "recording voice…" without."""
    if MODES[mode]["LIVE_ANSWERS"] != "true":
        return "sendChatAction"
    return "sendMessageDraft" if kind == "private" else "setMessageReaction"


def _shown(call: Call) -> bool:
    """Whether a call of the first-sign methods shows something (a reaction's clear does not)."""
    if call.method == "setMessageReaction":
        return bool(call.params.get("reaction"))
    if call.method == "sendChatAction":
        return call.params.get("action") == "record_voice"
    return True


def _first(calls: list[Call], method: str, also: Callable[[Call], bool] = _shown) -> Call | None:
    return next((c for c in calls if c.method == method and c.ok and also(c)), None)


def measure_turn(
    mode: str,
    kind: Kind,
    chat: int,
    t_push: float,
    session: RecordedSession,
    voice: Call,
    calls: list[Call],
) -> LiveTurn:
    """The figures of one turn from what the stand-ins recorded; ``calls`` are the Bot API
    calls of the turn's window, in the order they reached the stand-in."""

    def ms(t: float | None) -> float | None:
        return None if t is None else (t - t_push) * 1000

    method = sign_method(mode, kind)
    sign = _first(calls, method)
    action = _first(calls, "sendChatAction")
    drafts = [c for c in calls if c.method == "sendMessageDraft" and c.ok]
    text_draft = next((c for c in drafts if c.params.get("text")), None)
    text_sent = first_sent(session, TEXT_DELTAS)
    gaps = [(b.t - a.t) * 1000 for a, b in itertools.pairwise(drafts)]
    if session.t_response_create is None:
        raise BenchError(f"chat {chat}: its realtime session has no response.create")
    return LiveTurn(
        kind=kind,
        chat=chat,
        sign_method=method,
        sign_ms=ms(sign.t if sign else None),
        chat_action_ms=ms(action.t if action else None),
        response_create_ms=(session.t_response_create - t_push) * 1000,
        text_sent_ms=ms(text_sent),
        text_draft_ms=ms(text_draft.t if text_draft else None),
        text_gap_ms=(
            (text_draft.t - text_sent) * 1000 if text_draft and text_sent is not None else None
        ),
        voice_ms=(voice.t_done - t_push) * 1000,
        drafts=len(drafts),
        text_drafts=sum(1 for c in drafts if c.params.get("text")),
        shortest_draft_gap_ms=min(gaps, default=None),
        calls=dict(Counter(c.method for c in calls)),
        refused=dict(Counter(c.method for c in calls if not c.ok)),
    )


# ----------------------------------------------------------------------------- one run


@dataclass
class ModeRun:
    """One run of the bot (one entry of MODES): its measured turns by kind of chat."""

    mode: str
    revision: str
    turns: dict[Kind, list[LiveTurn]]
    exit_code: int | None


@dataclass(frozen=True)
class Plan:
    private: int
    group: int
    model: Model


class _Bot:
    """One bot process, driven one voice turn at a time."""

    def __init__(
        self, mode: str, stage: Stage, process: asyncio.subprocess.Process, note: bytes
    ) -> None:
        self.mode = mode
        self.stage = stage
        self.process = process
        self.note = note
        self.polls = Polls(stage.api)
        self.members = FIRST_MEMBER

    def _push(self, kind: Kind, chat: int) -> float:
        """Push a voice note in ``chat`` (a new private chat, or the group from a new member);
        ``time.perf_counter()`` at the push."""
        if kind == "private":
            return push_voice_message(self.stage, self.polls, chat, self.note, NOTE_SECONDS)[0]
        self.members += 1
        t_push = time.perf_counter()
        self.stage.api.push_message(
            "voice",
            chat_id=chat,
            user_id=self.members,
            data=self.note,
            duration=round(NOTE_SECONDS),
            chat_type="supergroup",
            chat_title=GROUP_TITLE,
        )
        self.polls.pushed()
        return t_push

    async def turn(self, kind: Kind) -> LiveTurn:
        """One voice turn of ``kind``; returns once its window has ended. Raises BenchError when
        it is not answered with a voice."""
        chat = self.stage.next_chat() if kind == "private" else GROUP_CHAT
        await asyncio.sleep(GAP_SECONDS)
        await self.polls.wait(self.process, TURN_TIMEOUT)
        t_push = self._push(kind, chat)
        session, voice = await reply_to(self.stage, chat, self.process, TURN_TIMEOUT, since=t_push)
        end = voice.t_done + SETTLE_AFTER_SEND
        await asyncio.sleep(max(0.0, end - time.perf_counter()))
        calls = sorted(
            (
                c
                for c in self.stage.api.calls
                if t_push <= c.t < end and c.method.lower() != "getupdates"
            ),
            key=lambda c: c.t,
        )
        return measure_turn(self.mode, kind, chat, t_push, session, voice, calls)


async def _group_mode_all(stage: Stage) -> None:
    """The group's settings in Redis say mode ``all``, as ``/mode all`` would store them."""
    client = aioredis.Redis.from_url(stage.redis.url)
    try:
        await client.hset(keys.chat_settings(GROUP_CHAT), "mode", "all")
    finally:
        await client.aclose()


async def run_mode(tree: Tree, note: bytes, plan: Plan) -> ModeRun:
    """``tree``'s bot with the environment MODES gives ``tree.label``, on fresh stand-ins and
    Redis: warm-up turns, then the private turns and the group turns. Raises BenchError (with
    the bot's log) when the bot fails a turn."""
    scenario = dataclasses.replace(plan.model.scenario(REPLY_SECONDS), text_kind="audio_transcript")
    async with contextlib.AsyncExitStack() as stack:
        stage = await stack.enter_async_context(fresh_stage(scenario))
        stage.realtime.sessions = _TimedSessions()
        await _group_mode_all(stage)
        work = Path(stack.enter_context(tempfile.TemporaryDirectory(prefix="live-")))
        log_path = work / "bot.log"
        env = {
            **base_env(stage),
            "PYTHONPATH": str(tree.path),
            "DATA_DIR": str(work / "data"),
            **MODES[tree.label],
        }
        with log_path.open("wb") as log:
            process = await asyncio.create_subprocess_exec(
                sys.executable, "-m", "bot",
                cwd=tree.path, env=env, stdin=subprocess.DEVNULL, stdout=log, stderr=log,
            )  # fmt: skip
        bot = _Bot(tree.label, stage, process, note)
        turns: dict[Kind, list[LiveTurn]] = {"private": [], "group": []}
        failure: BenchError | None = None
        try:
            await bot.polls.wait(process, START_TIMEOUT)
            for kind in KINDS:
                await bot.turn(kind)  # warm-up: first imports, first connections
            for kind, count in zip(KINDS, (plan.private, plan.group), strict=True):
                _progress(f"{tree.label}: {_count(count, f'{kind} turn')}")
                turns[kind] = [await bot.turn(kind) for _ in range(count)]
        except BenchError as exc:
            failure = exc
        finally:
            exit_code = await stop_process(process)
        if failure is not None:
            tail = log_path.read_text(errors="replace")[-3000:] or "-"
            raise BenchError(f"{tree.label}: {failure}\n--- the bot's log ---\n{tail}")
        return ModeRun(tree.label, tree.revision, turns, exit_code)


# ----------------------------------------------------------------------------- figures

# Latencies of a summary: (key of LiveTurn, what it is).
LATENCIES = {
    "sign_ms": "push → first visible sign ¹",
    "chat_action_ms": "push → first sendChatAction (record_voice)",
    "text_draft_ms": "push → first draft with text",
    "voice_ms": "push → voice note uploaded (sendVoice)",
    "response_create_ms": "push → response.create at the model",
    "text_sent_ms": "push → model's first text delta sent",
    "text_gap_ms": "first text delta sent → first text draft received",
}


def _values(turns: list[LiveTurn], key: str) -> list[float]:
    return [value for turn in turns if (value := getattr(turn, key)) is not None]


def summary(turns: list[LiveTurn]) -> dict[str, Any]:
    """Per latency: p50, p90, max and how many turns had it; per method: calls per turn (mean,
    least, most); refused calls per turn; text gaps within the target; the shortest draft gap."""
    out: dict[str, Any] = {"turns": len(turns)}
    for key in LATENCIES:
        values = _values(turns, key)
        out[key] = {
            "p50": percentile(values, 50) if values else None,
            "p90": percentile(values, 90) if values else None,
            "max": max(values, default=None),
            "n": len(values),
        }
    methods = sorted({m for t in turns for m in t.calls}, key=_method_order)
    out["calls_per_turn"] = {
        m: {
            "mean": statistics.fmean(t.calls.get(m, 0) for t in turns),
            "min": min(t.calls.get(m, 0) for t in turns),
            "max": max(t.calls.get(m, 0) for t in turns),
        }
        for m in methods
    }
    out["calls_per_turn_total"] = statistics.fmean(sum(t.calls.values()) for t in turns)
    out["refused_per_turn"] = {
        m: statistics.fmean(t.refused.get(m, 0) for t in turns)
        for m in sorted({m for t in turns for m in t.refused}, key=_method_order)
    }
    gaps = _values(turns, "text_gap_ms")
    out["text_gap_within_target"] = sum(1 for gap in gaps if gap <= GAP_TARGET_MS)
    out["shortest_draft_gap_ms"] = min(_values(turns, "shortest_draft_gap_ms"), default=None)
    return out


def _method_order(method: str) -> tuple[int, str]:
    return (METHODS.index(method) if method in METHODS else len(METHODS), method)


def _ms(value: float | None) -> str:
    if value is None:
        return "—"
    return f"{value:,.0f}" if abs(value) >= 100 else f"{value:.1f}"


def _p50_p90(figure: dict[str, Any]) -> str:
    if not figure["n"]:
        return "—"
    return f"{_ms(figure['p50'])} / {_ms(figure['p90'])}"


def _per_turn(figure: dict[str, Any] | None) -> str:
    if figure is None:
        return "0"
    if figure["min"] == figure["max"]:
        return f"{figure['mean']:g}"
    return f"{figure['mean']:.1f} ({figure['min']}–{figure['max']})"


def render(runs: list[ModeRun]) -> Iterator[str]:
    """The table: a column per run and kind of chat; latencies (p50 / p90 ms), the text gap
    against its target, drafts, Bot API calls per turn by method; then the footnote."""
    columns = [(run, kind) for kind in KINDS for run in runs]
    sums = [summary(run.turns[kind]) for run, kind in columns]
    header = ["per voice turn", *(f"{kind}, {run.mode}" for run, kind in columns)]
    width = len(header) - 1
    body: list[list[str]] = [
        ["turns", *(str(s["turns"]) for s in sums)],
        ["latency, p50 / p90 (ms)", *[""] * width],
    ]
    body += [[f"  {name}", *(_p50_p90(s[key]) for s in sums)] for key, name in LATENCIES.items()]
    body.append(
        [
            f"  text gap, max (ms; target ≤ {GAP_TARGET_MS:g})",
            *(_ms(s["text_gap_ms"]["max"]) for s in sums),
        ]
    )
    body.append(
        [
            f"  text gaps within {GAP_TARGET_MS:g} ms",
            *(
                f"{s['text_gap_within_target']}/{s['text_gap_ms']['n']}"
                if s["text_gap_ms"]["n"]
                else "—"
                for s in sums
            ),
        ]
    )
    body.append(
        [
            f"  shortest gap between drafts (ms; ≥ {DRAFT_INTERVAL_MS:g} promised)",
            *(_ms(s["shortest_draft_gap_ms"]) for s in sums),
        ]
    )
    body.append(
        [
            "  drafts with text per turn",
            *(
                f"{statistics.fmean(t.text_drafts for t in run.turns[kind]):.1f}"
                if run.turns[kind]
                else "—"
                for run, kind in columns
            ),
        ]
    )
    body.append(["Bot API calls per turn (mean; least–most)", *[""] * width])
    methods = sorted({*METHODS, *(m for s in sums for m in s["calls_per_turn"])}, key=_method_order)
    body += [[f"  {m}", *(_per_turn(s["calls_per_turn"].get(m)) for s in sums)] for m in methods]
    body.append(["  all", *(f"{s['calls_per_turn_total']:.1f}" for s in sums)])
    refused = sorted({m for s in sums for m in s["refused_per_turn"]}, key=_method_order)
    body += [
        [f"  refused {m}", *(f"{s['refused_per_turn'].get(m, 0.0):g}" for s in sums)]
        for m in refused
    ]
    yield from grid(header, body)
    yield ""
    yield (
        '¹ first visible sign: live on, sendMessageDraft ("Thinking…") in private chats and '
        "setMessageReaction 👀 in the group; live off, sendChatAction record_voice"
    )
    yield "calls: from the push to 0.5 s after sendVoice, getUpdates left out"


def _count(n: int, what: str) -> str:
    return f"{n} {what}" if n == 1 else f"{n} {what}s"


def heading(tree: Tree, plan: Plan) -> str:
    """What was run, for the line above the table."""
    return (
        f"live: the current tree ({tree.revision}); {_count(plan.private, 'private turn')} "
        f"(each a new chat) and {_count(plan.group, 'turn')} in a supergroup in mode all, one "
        f"after another, after one warm-up turn of each; each a {NOTE_SECONDS:g} s voice note; "
        f"{plan.model.describe(REPLY_SECONDS)}, its text as transcript deltas; "
        f"{os.cpu_count()} CPUs, Python {platform.python_version()}"
    )


def report(
    argv: list[str] | None,
    elapsed: float,
    tree: Tree,
    plan: Plan,
    runs: list[ModeRun],
    failures: dict[str, str],
) -> dict[str, Any]:
    """The JSON report: what was run, each run's summaries and turns by kind of chat, and the
    runs that failed with their reasons."""
    return {
        "meta": {
            **run_meta(argv, elapsed),
            "tree": str(tree.path),
            "revision": tree.revision,
            "plan": {
                "private_turns": plan.private,
                "group_turns": plan.group,
                "note_seconds": NOTE_SECONDS,
                "reply_seconds": REPLY_SECONDS,
                "time_to_first_audio_s": plan.model.time_to_first_audio,
                "realtime_factor": plan.model.realtime_factor,
                "text_deltas": "response.output_audio_transcript.delta",
                "settle_after_send_s": SETTLE_AFTER_SEND,
                "gap_s": GAP_SECONDS,
                "text_gap_target_ms": GAP_TARGET_MS,
                "modes": MODES,
            },
        },
        "runs": {
            run.mode: {
                "exit_code": run.exit_code,
                **{
                    kind: {
                        "summary": summary(run.turns[kind]),
                        "turns": [dataclasses.asdict(t) for t in run.turns[kind]],
                    }
                    for kind in KINDS
                },
            }
            for run in runs
        },
        "failed": failures,
    }


# ----------------------------------------------------------------------------- main


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="python -m bench.live",
        description="Time to the first visible sign of a voice turn, to the first text draft "
        "and to the voice note, and Bot API calls per turn, with live answers on and off.",
    )
    parser.add_argument(
        "--private", type=int, default=PRIVATE_TURNS, help=f"private turns ({PRIVATE_TURNS})"
    )
    parser.add_argument(
        "--group", type=int, default=GROUP_TURNS, help=f"group turns ({GROUP_TURNS})"
    )
    parser.add_argument(
        "--first-audio",
        type=float,
        default=FIRST_AUDIO,
        help=f"seconds from response.create to the first audio ({FIRST_AUDIO:g})",
    )
    parser.add_argument(
        "--speed",
        type=float,
        default=SPEED,
        help=f"the reply's delivery, × real time ({SPEED:g})",
    )
    return parser


def main(argv: list[str] | None = None) -> int:
    parser = _parser()
    args = parser.parse_args(argv)
    if args.private < 1 or args.group < 1:
        parser.error("--private and --group must be at least 1")
    if args.first_audio < 0 or args.speed <= 0:
        parser.error("--first-audio must be at least 0 and --speed positive")
    plan = Plan(args.private, args.group, Model(args.first_audio, args.speed))
    started = time.perf_counter()
    note = make_note(NOTE_SECONDS)
    try:
        # The same tree twice, labelled by the run; a run that fails leaves the other measured.
        tree, runs, failures = measure_modes(
            "live", MODES, lambda mode: run_mode(mode, note, plan), _progress
        )
    except BenchError as exc:  # git could not describe the checkout
        print(f"live failed: {exc}", file=sys.stderr)
        return 1
    if not runs:
        return 1
    elapsed = time.perf_counter() - started
    print("\n".join([heading(tree, plan), "", *render(runs), f"took {elapsed:.0f} s"]))
    save_report("live", report(argv, elapsed, tree, plan, runs, failures))
    return 1 if failures else 0


if __name__ == "__main__":
    raise SystemExit(main())
