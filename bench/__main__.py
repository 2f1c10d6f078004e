"""``python -m bench``: the bot against the reference-flow baseline, on local stand-ins.

Starts the Bot API and Realtime stand-ins in this process and a real redis-server, runs the bot
(``python -m bench.bot_process``) and the baseline (``python -m bench.bot_process --baseline``)
one after the other as subprocesses, and measures for each: pre-model latency (update delivered →
``response.create``) for 5, 30 and 120 s voice notes, post-model latency (``response.done`` →
voice note uploaded) for 10 and 60 s replies, CPU per turn split into decode, encode and the rest,
memory, event-loop stalls, and many chats at once. Then it times the candidate audio paths.
Prints a table and writes JSON to ``bench/results/``.
"""

from __future__ import annotations

import argparse
import asyncio
import datetime
import json
import os
import platform
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import av

from bench.codecs import run_codecs
from bench.driver import API_KEY, BenchError, BotRun, Case, Model, Plan, Stage, run_bot
from bench.notes import make_note, make_notes
from bench.report import codec_table, figures, render, stage_table
from bot.config import DEFAULT_INSTRUCTIONS
from stand_ins.bot_api import BotAPIStandIn
from stand_ins.realtime import RealtimeStandIn
from stand_ins.redis import RedisServer

RESULTS = Path(__file__).resolve().parent / "results"
FULL_CASES = (Case(5, 10), Case(30, 10), Case(120, 10), Case(5, 60))
QUICK_CASES = (Case(5, 10),)
TAG_BASE_HZ, TAG_STEP_HZ = 200.0, 8.0
COMMANDS = {"ours": ["bench.bot_process"], "baseline": ["bench.bot_process", "--baseline"]}


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="python -m bench",
        description="Latency, CPU, memory and stalls of the bot against the reference-flow "
        "baseline, on local stand-ins; then the audio path micro-benchmark.",
    )
    parser.add_argument(
        "--quick",
        action="store_true",
        help="smoke run: one turn per case, the 5 s note / 10 s reply case only, "
        "10 chats at once, one run per codec cell",
    )
    parser.add_argument("--repeat", type=int, default=5, help="turns per case (default 5)")
    parser.add_argument(
        "--concurrency", type=int, default=None, help="chats at once (default 50; 10 with --quick)"
    )
    parser.add_argument("--only", choices=("ours", "baseline"), help="measure one bot only")
    parser.add_argument(
        "--json",
        type=Path,
        help="write the JSON report here (default: bench/results/bench-<timestamp>.json "
        "and bench/results/latest.json)",
    )
    parser.add_argument(
        "--time-to-first-audio",
        type=float,
        default=0.3,
        help="the model stand-in's delay before the first audio delta, s (default 0.3)",
    )
    parser.add_argument(
        "--realtime-factor",
        type=float,
        default=4.0,
        help="the model stand-in's delivery speed, × real time; 0 = all at once (default 4)",
    )
    parser.add_argument(
        "--codec-runs", type=int, default=None, help="runs per codec cell (default 3; 1 quick)"
    )
    return parser


def _tool_version(tool: str) -> str:
    try:
        out = subprocess.run([tool, "-version"], capture_output=True, text=True, check=True)
    except (OSError, subprocess.CalledProcessError):
        return "unknown"
    first = out.stdout.splitlines()[0] if out.stdout else ""
    return first.split(" Copyright")[0].removeprefix(f"{tool} version ").strip()


def _progress(message: str) -> None:
    print(f"[bench] {message}", file=sys.stderr, flush=True)


async def _run_bots(args: argparse.Namespace, plan: Plan) -> dict[str, BotRun]:
    runs: dict[str, BotRun] = {}
    redis_server = RedisServer()
    redis_server.start()
    try:
        async with (
            BotAPIStandIn() as api,
            # No quotas: fifty chats at once is past Yandex's, and the bench compares the bots.
            RealtimeStandIn(
                api_key=API_KEY,
                scenario=plan.model.scenario(10),
                max_sessions=None,
                max_creations_per_second=None,
            ) as realtime,
        ):
            stage = Stage(api=api, realtime=realtime, redis=redis_server)
            for name in ("ours", "baseline"):
                if args.only and args.only != name:
                    continue
                _progress(
                    f"{name}: {len(plan.cases)} case(s) × {plan.repeat} turn(s), then "
                    f"{plan.concurrency} chats at once"
                )
                started = time.perf_counter()
                runs[name] = await run_bot(
                    name, COMMANDS[name], stage, plan, instructions=DEFAULT_INSTRUCTIONS
                )
                _progress(f"{name}: done in {time.perf_counter() - started:.0f} s")
    finally:
        redis_server.stop()
    return runs


def main(argv: list[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    if args.repeat < 1:
        _parser().error("--repeat must be at least 1")
    started = time.perf_counter()
    quick = bool(args.quick)
    repeat = 1 if quick else args.repeat
    concurrency = args.concurrency if args.concurrency is not None else (10 if quick else 50)
    codec_runs = args.codec_runs or (1 if quick else 3)
    cases = QUICK_CASES if quick else FULL_CASES

    _progress("making the voice notes (ffmpeg, cached in bench/results/cache)")
    tones = [TAG_BASE_HZ + TAG_STEP_HZ * i for i in range(concurrency)]
    plan = Plan(
        cases=cases,
        repeat=repeat,
        concurrency=concurrency,
        model=Model(args.time_to_first_audio, args.realtime_factor),
        idle_seconds=1.0 if quick else 2.0,
        max_concurrent_turns=max(concurrency, 8),
        worker_prefetch=max(concurrency, 32),
        notes={s: make_note(s) for s in sorted({c.note_seconds for c in cases} | {5.0})},
        tagged_notes=list(zip(tones, make_notes(5.0, tones), strict=True)),
    )
    try:
        runs = asyncio.run(_run_bots(args, plan))
    except BenchError as exc:
        print(f"bench failed: {exc}", file=sys.stderr)
        return 1
    ours, baseline = runs.get("ours"), runs.get("baseline")

    _progress(f"audio paths: {codec_runs} run(s) per cell")
    micro = run_codecs(
        sorted({c.note_seconds for c in cases}) if not quick else [5.0],
        sorted({c.reply_seconds for c in cases}) if not quick else [10.0],
        codec_runs,
        _progress,
    )
    elapsed = time.perf_counter() - started

    rows = figures(ours, baseline, cases, concurrency)
    meta: dict[str, Any] = {
        "timestamp": datetime.datetime.now(datetime.UTC).isoformat(timespec="seconds"),
        "argv": sys.argv[1:] if argv is None else argv,
        "quick": quick,
        "python": platform.python_version(),
        "platform": platform.platform(),
        "cpus": os.cpu_count(),
        "ffmpeg": _tool_version("ffmpeg"),
        "pyav": av.__version__,
        "elapsed_s": elapsed,
        "plan": {
            "cases": [c.key for c in cases],
            "repeat": repeat,
            "concurrency": concurrency,
            "max_concurrent_turns": plan.max_concurrent_turns,
            "worker_prefetch": plan.worker_prefetch,
            "time_to_first_audio_s": plan.model.time_to_first_audio,
            "realtime_factor": plan.model.realtime_factor,
            "codec_runs": codec_runs,
        },
    }
    print(
        f"bench: {meta['cpus']} CPUs, Python {meta['python']}, ffmpeg {meta['ffmpeg']}, "
        f"PyAV {meta['pyav']}; model stand-in: first audio after "
        f"{plan.model.time_to_first_audio:g} s, delivered at {plan.model.realtime_factor:g}× "
        f"real time; {repeat} turn(s) per case (after one warm-up turn); bot env "
        f"MAX_CONCURRENT_TURNS={plan.max_concurrent_turns}, "
        f"WORKER_PREFETCH={plan.worker_prefetch}"
    )
    print()
    print(render(rows))
    print()
    for run in runs.values():
        table = stage_table(run)
        if table:
            print(table)
            print()
    print(codec_table(micro))
    print()
    misses = [row.name for row in rows if row.verdict == "MISS"]
    print(
        f"targets: {sum(r.verdict == 'PASS' for r in rows)} PASS, {len(misses)} MISS"
        + (f" ({'; '.join(misses)})" if misses else "")
        + f"; took {elapsed:.0f} s"
    )

    report = {
        "meta": meta,
        "figures": [row.as_dict() for row in rows if not row.section],
        "bots": {name: run.as_dict() for name, run in runs.items()},
        "codecs": micro,
    }
    text = json.dumps(report, indent=1, default=str)
    if args.json is not None:
        args.json.parent.mkdir(parents=True, exist_ok=True)
        args.json.write_text(text)
        print(f"JSON: {args.json}")
    else:
        RESULTS.mkdir(parents=True, exist_ok=True)
        stamp = datetime.datetime.now().strftime("%Y%m%d-%H%M%S")
        path = RESULTS / f"bench-{stamp}.json"
        path.write_text(text)
        (RESULTS / "latest.json").write_text(text)
        print(f"JSON: {path.relative_to(RESULTS.parent.parent)} (and bench/results/latest.json)")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
