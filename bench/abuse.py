"""``python -m bench.abuse``: the ways around the limits, measured on a baseline and this tree.

    python -m bench.abuse [--baseline REV] [--only baseline|current] [--window S]

Each tree's bot (``python -m bot``, see `bench.trees`) runs on fresh stand-ins and a fresh
redis-server, twice:

- **reminder storm**: ``RATE_LIMIT_TURNS=2`` a ``RATE_LIMIT_WINDOW`` of 600 s, no budgets (the
  default). One user sends two voice notes; the model (a stand-in that obeys whatever it is
  asked) answers each by calling ``set_reminder`` 25 times, ``in_minutes`` 0.02 to 0.04 (1 to
  2.4 s ahead). Counted over ``--window`` seconds (45): model sessions opened and voice notes
  sent to the user.
- **budget burst**: ``USER_DAILY_SECONDS=5`` (one 3 s note with its 1 s answer fits, two do
  not). The user sends five voice notes at once. Counted: voice notes answered, refusal messages
  (a chat hears the same refusal once in a while, not once per note), and the audio seconds
  billed (what the model heard plus what it said, from the stand-in's sessions).

The baseline is checked out with ``git worktree`` (``--baseline``, default the revision before
the limits were closed); the current tree is this checkout, local changes included.
"""

from __future__ import annotations

import argparse
import asyncio
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

from bench.driver import BenchError, Polls, Stage, base_env, fresh_stage, push_voice
from bench.trees import Tree, measure_trees
from stand_ins.media import make
from stand_ins.realtime import Scenario, ScriptedCall

DEFAULT_BASELINE = "876defa"
STORM_CALLS = 25


@dataclass
class Figures:
    label: str
    storm_sessions: int = 0
    storm_voices: int = 0
    burst_answered: int = 0
    burst_refused: int = 0
    burst_billed: float = 0.0


def _progress(message: str) -> None:
    print(message, file=sys.stderr, flush=True)


async def _start(tree: Tree, stage: Stage, **env: str) -> asyncio.subprocess.Process:
    environ = {**base_env(stage), "PYTHONPATH": str(tree.path), **env}
    return await asyncio.create_subprocess_exec(
        sys.executable, "-m", "bot", cwd=tree.path, env=environ,
        stdout=asyncio.subprocess.DEVNULL, stderr=asyncio.subprocess.DEVNULL,
    )  # fmt: skip


async def _stop(process: asyncio.subprocess.Process) -> None:
    if process.returncode is None:
        process.terminate()
        try:
            await asyncio.wait_for(process.wait(), 30)
        except TimeoutError:
            process.kill()
            await process.wait()


def _voices(stage: Stage, chat: int) -> int:
    return sum(
        1 for c in stage.api.calls_of("sendVoice") if c.ok and c.int_param("chat_id") == chat
    )


async def storm(tree: Tree, note: bytes, window: float) -> tuple[int, int]:
    calls = [
        ScriptedCall("set_reminder", {"text": f"storm {i}", "in_minutes": 0.02 + i * 0.0008})
        for i in range(STORM_CALLS)
    ]
    scenario = Scenario(reply_seconds=1.0, tool_script=[calls])
    async with fresh_stage(scenario) as stage:
        process = await _start(tree, stage, RATE_LIMIT_TURNS="2", RATE_LIMIT_WINDOW="600")
        try:
            polls = Polls(stage.api)
            chat = stage.next_chat()
            started = time.perf_counter()
            for _ in range(2):
                await polls.wait(process, 30)
                push_voice(stage, polls, chat, note, 3.0)
                before = _voices(stage, chat)
                deadline = time.perf_counter() + 30
                while _voices(stage, chat) == before and time.perf_counter() < deadline:
                    await asyncio.sleep(0.05)
            while time.perf_counter() - started < window:
                if process.returncode is not None:
                    raise BenchError(f"the bot exited with code {process.returncode}")
                await asyncio.sleep(0.2)
            sessions = sum(1 for s in stage.realtime.sessions if s.handshake_status == 101)
            return sessions, _voices(stage, chat)
        finally:
            await _stop(process)


async def burst(tree: Tree, note: bytes) -> tuple[int, int, float]:
    async with fresh_stage(Scenario(reply_seconds=1.0)) as stage:
        process = await _start(tree, stage, USER_DAILY_SECONDS="5")
        try:
            polls = Polls(stage.api)
            chat = stage.next_chat()
            await polls.wait(process, 30)
            for _ in range(5):
                push_voice(stage, polls, chat, note, 3.0)
            deadline = time.perf_counter() + 40
            while time.perf_counter() < deadline:
                answered = _voices(stage, chat)
                refused = sum(
                    1 for c in stage.api.calls_of("sendMessage")
                    if c.ok and c.int_param("chat_id") == chat
                )  # fmt: skip
                if answered + refused >= 5:
                    break
                await asyncio.sleep(0.1)
            await asyncio.sleep(2.0)  # anything still queued shows now
            answered = _voices(stage, chat)
            refused = sum(
                1 for c in stage.api.calls_of("sendMessage")
                if c.ok and c.int_param("chat_id") == chat
            )  # fmt: skip
            billed = 0.0
            for s in stage.realtime.sessions:
                if s.handshake_status == 101:
                    billed += len(s.input_pcm) / 2 / 24_000 + s.responses * 1.0
            return answered, refused, billed
        finally:
            await _stop(process)


async def measure(tree: Tree, note: bytes, window: float) -> Figures:
    figures = Figures(tree.label)
    _progress(f"{tree.label}: reminder storm ({window:.0f} s)")
    figures.storm_sessions, figures.storm_voices = await storm(tree, note, window)
    _progress(f"{tree.label}: budget burst")
    figures.burst_answered, figures.burst_refused, figures.burst_billed = await burst(tree, note)
    return figures


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.abuse", description=__doc__)
    parser.add_argument("--baseline", default=DEFAULT_BASELINE, metavar="REV")
    parser.add_argument("--only", choices=("baseline", "current"))
    parser.add_argument("--window", type=float, default=45.0)
    args = parser.parse_args(argv)
    with tempfile.TemporaryDirectory() as tmp:
        note = make(Path(tmp))["voice.ogg"].read_bytes()

        async def run(tree: Tree) -> Figures:
            return await measure(tree, note, args.window)

        runs, _failures = measure_trees("abuse", args.baseline, args.only, run, _progress)
    print("| run | storm: model sessions | storm: voice notes | burst: answered | "
          "burst: refusal messages | burst: audio seconds billed |")  # fmt: skip
    print("|---|---|---|---|---|---|")
    for f in runs:
        print(f"| {f.label} | {f.storm_sessions} | {f.storm_voices} | {f.burst_answered} | "
              f"{f.burst_refused} | {f.burst_billed:.1f} |")  # fmt: skip
    return 0


if __name__ == "__main__":
    sys.exit(main())
