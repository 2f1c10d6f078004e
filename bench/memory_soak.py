"""Memory soak: one bot process answers many turns, a few at a time; its RSS every 100 turns.

    python -m bench.memory_soak [--turns 2000] [--concurrency 4] [--chats 60]

Starts the Bot API and Realtime stand-ins (a 1 s reply, sent at once) and a real redis-server,
then ONE real bot process (``python -m bot``), and pushes voice notes (3 s) and texts,
alternating, ``--concurrency`` at a time from ``--chats`` private chats. Every ``--every``
answered turns it reads the bot's RSS (psutil) and splits it by /proc/PID/smaps into the main
heap (glibc's main arena), other anonymous memory (thread arenas, mmap'd blocks, thread stacks)
and file-backed pages (the libraries), with the thread count. It prints a table and the growth
per turn after ``--warmup`` turns: the least-squares slope of the samples from there on.

The soak runs twice in one go (``--variants``): ``fixed``, the bot as it is, and ``baseline``,
the same bot with ``BOT_GC_TUNING=0``, which turns off the fix (``bot/cli.py``: the freeze
covering the run command's imports, full collections every ~15 turns, and glibc's free pages
given back after each; the encoder's reference cycle is gone either way). The bot paces its
model sessions at 8 a second (Yandex's quota), so 2,000 turns take about 4.5 minutes a variant.

Finding what holds the memory:

- ``--probe`` runs the bot under this module (``--child``), which answers SIGUSR2 with its own
  view: tracemalloc's growth since the first sample, gc counts and time per generation, objects
  by type, glibc's mallinfo2 and arena count. ``--garbage`` also counts, at each sample, what
  only the cycle collector frees (it collects then, so the RSS is no longer the bot's own).
- ``--variant NAME:KEY=VALUE,...`` defines a variant by its environment: glibc's tunables
  (``MALLOC_ARENA_MAX=2``, ``MALLOC_MMAP_THRESHOLD_=65536``), ``BOT_GC_TUNING=0``, and
  ``MEMORY_SOAK_CANDIDATES=a+b`` for candidate fixes applied from outside the bot (see
  ``_apply_candidates``; e.g. ``release:BOT_GC_TUNING=0,MEMORY_SOAK_CANDIDATES=release_encoder``).

JSON goes to ``bench/results/memory_soak.json``.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import ctypes
import ctypes.util
import gc
import importlib
import json
import os
import re
import shutil
import signal
import sys
import tempfile
import threading
import time
from collections import Counter
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

# The bench's own imports (stand-ins, psutil) are made where used: the bot process this module
# also runs (``--child``) should carry nothing of the bench.
if TYPE_CHECKING:
    import psutil

    from stand_ins.bot_api import BotAPIStandIn, Call
    from stand_ins.realtime import RealtimeStandIn

ROOT = Path(__file__).resolve().parents[1]
RESULTS = ROOT / "bench" / "results" / "memory_soak.json"
MIB = 1024 * 1024
TURN_TIMEOUT = 60.0
TARGET_RSS = 250 * MIB  # the bar for the steady size
TARGET_GROWTH = 1024  # bytes per turn after the warm-up
TEXTS = (
    "What time is it in Kazan?",
    "Tell me something short about the sea.",
    "And tomorrow?",
    "How do I say thank you in Tatar?",
)
# Each variant's environment: "fixed" is the bot as it is, "baseline" the same with the fix off.
VARIANTS: dict[str, dict[str, str]] = {
    "fixed": {},
    "baseline": {"BOT_GC_TUNING": "0"},
}
PROBE_ENV = "MEMORY_SOAK_PROBE"  # the child writes its probe here on SIGUSR2
CANDIDATES_ENV = "MEMORY_SOAK_CANDIDATES"  # candidate fixes the child applies (see below)
GARBAGE_ENV = "MEMORY_SOAK_GARBAGE"  # the child's probe also collects and counts the garbage
TRACEMALLOC_ENV = "MEMORY_SOAK_TRACEMALLOC"  # "0": the probe leaves tracemalloc off


# ------------------------------------------------------------------------------ the bot side


def _mallinfo() -> dict[str, int]:
    """glibc's allocator figures, summed over every arena (mallinfo2), plus the arena count
    from malloc_info's XML; empty where there is no glibc."""
    path = ctypes.util.find_library("c")
    if path is None:
        return {}
    libc = ctypes.CDLL(path)
    if not hasattr(libc, "mallinfo2"):
        return {}

    names = (
        "arena", "ordblks", "smblks", "hblks", "hblkhd", "usmblks", "fsmblks", "uordblks",
        "fordblks", "keepcost",
    )  # fmt: skip

    class Mallinfo2(ctypes.Structure):
        _fields_ = [(name, ctypes.c_size_t) for name in names]

    libc.mallinfo2.restype = Mallinfo2
    info = libc.mallinfo2()
    out = {name: int(getattr(info, name)) for name in names}
    with tempfile.NamedTemporaryFile("rb", suffix=".xml") as tmp:
        libc.fopen.restype = ctypes.c_void_p
        libc.fopen.argtypes = [ctypes.c_char_p, ctypes.c_char_p]
        libc.malloc_info.argtypes = [ctypes.c_int, ctypes.c_void_p]
        libc.fclose.argtypes = [ctypes.c_void_p]
        fp = libc.fopen(tmp.name.encode(), b"w")
        if fp:
            libc.malloc_info(0, fp)
            libc.fclose(fp)
            xml = tmp.read().decode(errors="replace")
            out["arenas"] = len(re.findall(r"<heap nr=", xml))
            sizes = [int(x) for x in re.findall(r'<system type="current" size="(\d+)"', xml)]
            out["arena_bytes"] = sum(sizes[:-1])  # the last is the total of all
    return out


class _Probe:
    """In the bot process: Python's view of its memory, written on SIGUSR2. tracemalloc starts
    at the first request (after start-up, which it would slow down a lot), so its figures are
    what was allocated since then and is still held."""

    def __init__(self, path: Path) -> None:
        import tracemalloc

        self.path = path
        self.tracemalloc = tracemalloc
        self.base: Any = None  # tracemalloc's snapshot at the first sample
        self.base_types: Counter[str] = Counter()
        self.seq = 0
        # Collections by generation: how many, and their time (ms) in all and at the most.
        self.collections = [[0, 0.0, 0.0] for _ in range(3)]
        self._started = 0.0
        gc.callbacks.append(self._timed)

    def _timed(self, phase: str, info: dict[str, int]) -> None:
        if phase == "start":
            self._started = time.perf_counter()
            return
        ms = (time.perf_counter() - self._started) * 1000
        entry = self.collections[info["generation"]]
        entry[0] += 1
        entry[1] += ms
        entry[2] = max(entry[2], ms)

    def write(self) -> None:
        tm = self.tracemalloc
        # No gc.collect() here: what waits for the collector is part of what is measured.
        types = Counter(type(o).__name__ for o in gc.get_objects())
        top: list[dict[str, Any]] = []
        traced = os.environ.get(TRACEMALLOC_ENV) != "0"
        if self.seq == 0:
            self.collections = [[0, 0.0, 0.0] for _ in range(3)]  # from here, not from start
            if traced:
                tm.start(4)
            self.base, self.base_types = tm.take_snapshot() if traced else None, types
        elif traced:
            snapshot = tm.take_snapshot()
            top = [
                {
                    "where": str(stat.traceback[0]),
                    "size_diff": stat.size_diff,
                    "count": stat.count_diff,
                }
                for stat in snapshot.compare_to(self.base, "lineno")[:12]
            ]
        grown = {k: types[k] - self.base_types[k] for k in types}
        garbage: dict[str, int] = {}
        if os.environ.get(GARBAGE_ENV):
            # What only the cycle collector frees: collected here, counted by type.
            gc.set_debug(gc.DEBUG_SAVEALL)
            gc.collect()
            gc.set_debug(0)
            garbage = dict(Counter(type(o).__name__ for o in gc.garbage).most_common(25))
            gc.garbage.clear()
        self.seq += 1
        data = {
            "seq": self.seq,
            "traced": tm.get_traced_memory()[0],
            "gc_count": gc.get_count(),
            "gc_stats": gc.get_stats(),
            "gc_times": self.collections,
            "gc_frozen": gc.get_freeze_count(),
            "gc_objects": sum(types.values()),
            "types_grown": dict(Counter(grown).most_common(8)),
            "threads": [t.name for t in threading.enumerate()],
            "tasks": len(os.listdir("/proc/self/task")),
            "malloc": _mallinfo(),
            "top": top,
            "garbage": garbage,
        }
        tmp = self.path.with_suffix(".tmp")
        tmp.write_text(json.dumps(data))
        tmp.replace(self.path)


def _apply_candidates(names: list[str]) -> None:
    """Candidate fixes applied from outside the bot (``--child`` only), to measure each:

    - ``freeze_all``: the run command's imports made and frozen before the bot starts, and the
      collector's count of long-lived objects set to the few left (what ``bot/cli.py`` does;
      combine with ``BOT_GC_TUNING=0`` to try it alone);
    - ``full_gc_often``: ``gc.set_threshold`` from ``MEMORY_SOAK_GC`` ("700;2;1");
    - ``release_encoder``: ``OggOpusEncoder.finish`` drops its container and stream, so the
      codec context goes at once even if a cycle keeps the encoder;
    - ``trim_after_gc``: ``malloc_trim(0)`` after every full collection;
    - ``trim_after_turn``: ``malloc_trim(0)`` in the codec thread after each reply's encoding.
    """
    path = ctypes.util.find_library("c")
    libc = ctypes.CDLL(path) if path else None
    if "freeze_all" in names:
        importlib.import_module("bot.run")
        gc.collect()
        gc.freeze()
        gc.collect()
    if "full_gc_often" in names:
        threshold = os.environ.get("MEMORY_SOAK_GC", "700;2;1")
        gc.set_threshold(*(int(n) for n in threshold.split(";")))
    if "release_encoder" in names or "trim_after_turn" in names:
        import bot.audio.codec as codec

        finish = codec.OggOpusEncoder.finish
        release, trim = "release_encoder" in names, "trim_after_turn" in names

        def finish_then(self: codec.OggOpusEncoder) -> bytes:
            try:
                return finish(self)
            finally:
                if release:
                    del self._stream, self._container
                if trim and libc is not None:
                    libc.malloc_trim(0)

        codec.OggOpusEncoder.finish = finish_then  # type: ignore[method-assign]
    if "trim_after_gc" in names and libc is not None:
        malloc_trim = libc.malloc_trim

        def trim_after(phase: str, info: dict[str, int]) -> None:
            if phase == "stop" and info["generation"] == 2:
                malloc_trim(0)

        gc.callbacks.append(trim_after)


def child() -> int:
    """The bot (``bot.cli.main(["run"])``) with the probe on SIGUSR2, and the candidates named
    in MEMORY_SOAK_CANDIDATES applied."""
    _apply_candidates(os.environ.get(CANDIDATES_ENV, "").split("+"))
    if os.environ.get(PROBE_ENV):
        probe = _Probe(Path(os.environ[PROBE_ENV]))
        signal.signal(signal.SIGUSR2, lambda *_: probe.write())
    from bot.cli import main as bot_main

    return bot_main(["run"])


# --------------------------------------------------------------------------- the bench side


@dataclass
class Sample:
    turns: int
    t: float
    rss: int
    heap: int  # glibc's main arena ([heap], brk)
    anon: int  # other anonymous memory: thread arenas, Python's object arenas, mmap'd blocks
    files: int  # file-backed: code and data of the libraries
    threads: int
    probe: dict[str, Any] | None = None


@dataclass
class Series:
    name: str
    env: dict[str, str]
    samples: list[Sample] = field(default_factory=list)
    idle_rss: int = 0
    answered: int = 0
    failed: int = 0
    voice: int = 0
    text: int = 0
    seconds: float = 0.0
    exit_code: int | None = None
    log_tail: str = ""

    def slope(self, warmup: int) -> float:
        """Least-squares growth of RSS per turn (bytes) over the samples from ``warmup`` on."""
        points = [(s.turns, s.rss) for s in self.samples if s.turns >= warmup]
        if len(points) < 2:
            return float("nan")
        n = len(points)
        mx = sum(x for x, _ in points) / n
        my = sum(y for _, y in points) / n
        sxx = sum((x - mx) ** 2 for x, _ in points)
        return sum((x - mx) * (y - my) for x, y in points) / sxx

    def steady(self, warmup: int) -> int:
        """The highest RSS sampled from ``warmup`` turns on (the idle sample at the end left
        out)."""
        return max((s.rss for s in self.samples if s.turns >= warmup), default=0)


def smaps(pid: int) -> tuple[int, int, int]:
    """RSS of ``pid`` split into the main heap, other anonymous memory and file-backed pages."""
    heap = anon = files = 0
    kind = "anon"
    with open(f"/proc/{pid}/smaps") as f:
        for line in f:
            if line[0] in "0123456789abcdef" and "-" in line.split(" ", 1)[0]:
                parts = line.split()
                name = parts[5] if len(parts) > 5 else ""
                kind = "heap" if name == "[heap]" else "file" if name.startswith("/") else "anon"
            elif line.startswith("Rss:"):
                kb = int(line.split()[1]) * 1024
                if kind == "heap":
                    heap += kb
                elif kind == "file":
                    files += kb
                else:
                    anon += kb
    return heap, anon, files


class _Replies:
    """The bot's answers, by (chat, message id) of the message they reply to, as they come."""

    def __init__(self, api: BotAPIStandIn) -> None:
        self.api = api
        self.waiting: dict[tuple[int, int], asyncio.Future[str]] = {}
        self._task = asyncio.create_task(self._watch())

    def expect(self, chat: int, message: int) -> asyncio.Future[str]:
        future: asyncio.Future[str] = asyncio.get_running_loop().create_future()
        self.waiting[(chat, message)] = future
        return future

    def _resolve(self, call: Call) -> None:
        method = call.method.lower()
        if method not in ("sendvoice", "sendmessage"):
            return
        reply = call.params.get("reply_parameters")
        if isinstance(reply, str):
            reply = json.loads(reply)
        if not isinstance(reply, dict) or call.int_param("chat_id") is None:
            return
        key = (int(call.params["chat_id"]), int(reply["message_id"]))
        future = self.waiting.pop(key, None)
        if future is None or future.done():
            return
        if method == "sendvoice" and call.ok:
            future.set_result("voice")
        else:
            future.set_result(f"{method}: {str(call.params.get('text'))[:120]}")

    async def _watch(self) -> None:
        signal_ = self.api._calls_signal
        while True:
            calls, self.api.calls[:] = list(self.api.calls), []  # nothing grows in the bench
            for call in calls:
                self._resolve(call)
            await signal_.wait(0.2)
            signal_ = self.api._calls_signal

    async def close(self) -> None:
        self._task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await self._task


async def soak(name: str, args: argparse.Namespace, voice: bytes) -> Series:
    import psutil

    from bench.driver import API_KEY, START_TIMEOUT, Polls, Stage, base_env, stop_process
    from stand_ins.bot_api import BotAPIStandIn
    from stand_ins.realtime import RealtimeStandIn, Scenario
    from stand_ins.redis import RedisServer

    series = Series(name=name, env=VARIANTS[name])
    redis_server = RedisServer()
    redis_server.start()
    scenario = Scenario(
        reply_hz=180.0,
        reply_seconds=args.reply_seconds,
        reply_text="Fine, thank you: the sea is calm today.",
        text_kind="output_text",
        time_to_first_audio=0.0,
        realtime_factor=0.0,
    )
    work = Path(tempfile.mkdtemp(prefix=f"vb-memsoak-{name}-"))  # removed at the end
    try:
        async with (
            BotAPIStandIn(flood_limits=None) as api,
            RealtimeStandIn(
                api_key=API_KEY,
                scenario=scenario,
                max_sessions=None,
                max_creations_per_second=None,
            ) as realtime,
        ):
            stage = Stage(api=api, realtime=realtime, redis=redis_server)
            env = {
                **base_env(stage),
                "PYTHONPATH": str(ROOT),
                "OUTPUT_SAMPLE_RATE": "44100",
                "RATE_LIMIT_TURNS": "0",
                "MAX_CHAT_BACKLOG": "1000",
                **series.env,
            }
            command = [sys.executable, "-m", "bot"]
            probe_path = work / "probe.json"
            if args.probe or args.garbage or CANDIDATES_ENV in env:
                command = [sys.executable, "-m", "bench.memory_soak", "--child"]
            if args.probe or args.garbage:
                env[PROBE_ENV] = str(probe_path)
                env[TRACEMALLOC_ENV] = "0" if args.no_tracemalloc else "1"
                if args.garbage:
                    env[GARBAGE_ENV] = "1"
            log_path = work / "bot.log"
            with log_path.open("wb") as log:
                process = await asyncio.create_subprocess_exec(
                    *command, env=env, cwd=work,
                    stdin=asyncio.subprocess.DEVNULL, stdout=log, stderr=log,
                )  # fmt: skip
            bot = psutil.Process(process.pid)
            replies: _Replies | None = None
            try:
                await Polls(api).wait(process, START_TIMEOUT)
                replies = _Replies(api)
                await asyncio.sleep(1.0)
                series.idle_rss = bot.memory_info().rss
                await _drive(series, args, api, realtime, replies, process, bot, voice, probe_path)
            finally:
                if replies is not None:
                    await replies.close()
                series.exit_code = await stop_process(process)
                series.log_tail = log_path.read_text(errors="replace")[-2000:]
    finally:
        redis_server.stop()
        shutil.rmtree(work, ignore_errors=True)
    return series


async def _sample(
    series: Series,
    turns: int,
    bot: psutil.Process,
    process: asyncio.subprocess.Process,
    probe_path: Path | None,
) -> Sample:
    heap, anon, files = smaps(bot.pid)
    sample = Sample(
        turns=turns,
        t=time.perf_counter(),
        rss=bot.memory_info().rss,
        heap=heap,
        anon=anon,
        files=files,
        threads=bot.num_threads(),
    )
    if probe_path is not None:
        seen = series.samples[-1].probe if series.samples else None
        last = seen["seq"] if seen else 0
        process.send_signal(signal.SIGUSR2)
        deadline = time.perf_counter() + 30
        while time.perf_counter() < deadline:
            await asyncio.sleep(0.05)
            with contextlib.suppress(OSError, ValueError):
                data = json.loads(probe_path.read_text())
                if data["seq"] > last:
                    sample.probe = data
                    break
    series.samples.append(sample)
    return sample


async def _drive(
    series: Series,
    args: argparse.Namespace,
    api: BotAPIStandIn,
    realtime: RealtimeStandIn,
    replies: _Replies,
    process: asyncio.subprocess.Process,
    bot: psutil.Process,
    voice: bytes,
    probe_path: Path,
) -> None:
    probe = probe_path if args.probe or args.garbage else None
    await _sample(series, 0, bot, process, probe)
    next_turn = 0
    done = 0
    started = time.perf_counter()
    sampling = asyncio.Lock()

    async def one(n: int) -> None:
        chat = 700_000 + n % args.chats
        if n % 2 == 0:
            update = api.push_message(
                "voice", chat_id=chat, user_id=chat, data=voice, duration=round(args.note_seconds)
            )
            series.voice += 1
        else:
            update = api.push_message(
                "text", chat_id=chat, user_id=chat, text=TEXTS[n // 2 % len(TEXTS)]
            )
            series.text += 1
        answer = replies.expect(chat, int(update["message"]["message_id"]))
        try:
            outcome = await asyncio.wait_for(answer, TURN_TIMEOUT)
        except TimeoutError:
            outcome = "timed out"
        if outcome == "voice":
            series.answered += 1
        else:
            series.failed += 1
            if series.failed <= 5:
                print(f"  {series.name}: turn {n} (chat {chat}): {outcome}", file=sys.stderr)

    async def slot() -> None:
        nonlocal next_turn, done
        while next_turn < args.turns:
            n = next_turn
            next_turn += 1
            await one(n)
            done += 1
            if done % args.every == 0 or done == args.turns:
                async with sampling:
                    s = await _sample(series, done, bot, process, probe)
                print(
                    f"  {series.name}: {done:5d} turns, RSS {s.rss / MIB:6.1f} MiB "
                    f"({time.perf_counter() - started:5.0f} s)",
                    file=sys.stderr,
                )
            # Sessions ended are of no further use to the bench: keep its own memory flat.
            if done % 50 == 0:
                realtime.sessions[:] = [s for s in realtime.sessions if not s.ended]
            if process.returncode is not None:
                raise RuntimeError(f"the bot exited with code {process.returncode}")

    await asyncio.gather(*(slot() for _ in range(args.concurrency)))
    series.seconds = time.perf_counter() - started
    # Quiet for a moment: what the bot keeps with nothing to do.
    await asyncio.sleep(args.settle)
    await _sample(series, done, bot, process, probe)
    series.samples[-1].turns = -1  # marks the idle sample after the last turn


# ----------------------------------------------------------------------------- the report


def _mib(n: float) -> str:
    return f"{n / MIB:.1f}"


def report(runs: list[Series], args: argparse.Namespace) -> str:
    lines = [
        f"Memory soak: {args.turns} turns ({args.concurrency} at a time, voice and text "
        f"alternating, {args.chats} chats), one bot process; the model stand-in replies "
        f"{args.reply_seconds:g} s at once. RSS in MiB; heap: glibc's main arena; anon: other "
        "anonymous memory (thread arenas, Python's object arenas, mmap'd blocks, stacks); "
        "files: the libraries' pages; thr: threads",
        "",
    ]
    header = f"{'turns':>6}"
    for run in runs:
        header += f" | {run.name + ' RSS':>13} {'heap':>6} {'anon':>6} {'files':>6} {'thr':>3}"
    lines.append(header)
    lines.append("-" * len(header))
    counts = [s.turns for s in runs[0].samples]
    for i, turns in enumerate(counts):
        label = "idle" if turns == -1 else str(turns)
        row = f"{label:>6}"
        for run in runs:
            if i >= len(run.samples):
                row += " |" + " " * 38
                continue
            s = run.samples[i]
            row += (
                f" | {_mib(s.rss):>13} {_mib(s.heap):>6} {_mib(s.anon):>6} {_mib(s.files):>6} "
                f"{s.threads:>3}"
            )
        lines.append(row)
    lines.append("")
    width = max(len(run.name) for run in runs)
    for run in runs:
        slope, steady = run.slope(args.warmup), run.steady(args.warmup)
        verdict = "ok" if steady < TARGET_RSS and slope < TARGET_GROWTH else "over the target"
        lines.append(
            f"{run.name:>{width}}: idle {_mib(run.idle_rss)} MiB; from turn {args.warmup} on: "
            f"at most {_mib(steady)} MiB, growth {slope / 1024:+.2f} KiB/turn ({verdict}); "
            f"{run.answered} answered ({run.voice} voice, {run.text} text), {run.failed} failed, "
            f"{run.seconds:.0f} s, exit code {run.exit_code}"
        )
    lines.append(
        f"{'':>{width}}  target: under {_mib(TARGET_RSS)} MiB, under "
        f"{TARGET_GROWTH / 1024:g} KiB/turn (least-squares slope of the samples)"
    )
    if args.probe or args.garbage:
        lines.append("")
        for run in runs:
            lines.append(f"{run.name}: the bot's own view (probe), per sample")
            for s in run.samples:
                if not s.probe:
                    continue
                p, m = s.probe, s.probe.get("malloc", {})
                lines.append(
                    f"  {s.turns:>5}: traced {_mib(p['traced'])} MiB, gc objects "
                    f"{p['gc_objects']}, threads {len(p['threads'])}, arenas "
                    f"{m.get('arenas')}, malloc in use {_mib(m.get('uordblks', 0))} MiB, free "
                    f"{_mib(m.get('fordblks', 0))} MiB, mmap {_mib(m.get('hblkhd', 0))} MiB, "
                    f"arena system {_mib(m.get('arena_bytes', 0))} MiB"
                )
            last = next((s.probe for s in reversed(run.samples) if s.probe), None)
            if last:
                lines.append(f"  threads: {', '.join(last['threads'])}")
                lines.append(f"  objects grown since turn 0: {last['types_grown']}")
                times = [f"{n} in {a:.0f} ms, longest {m:.1f}" for n, a, m in last["gc_times"]]
                lines.append(
                    f"  {last['gc_frozen']} objects frozen; collections by generation: "
                    + "; ".join(times)
                )
                if last["garbage"]:
                    lines.append(
                        f"  cyclic garbage of the last {args.every} turns: {last['garbage']}"
                    )
                for top in last["top"][:8]:
                    lines.append(f"  {top['size_diff'] / 1024:+9.1f} KiB {top['where']}")
    return "\n".join(lines)


async def main_async(args: argparse.Namespace) -> list[Series]:
    from stand_ins.media import make

    with tempfile.TemporaryDirectory(prefix="vb-memsoak-") as work:
        voice = make(Path(work))["voice.ogg"].read_bytes()
    runs = []
    for name in args.variants.split(","):
        runs.append(await soak(name, args, voice))
    return runs


def main() -> None:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--turns", type=int, default=2000)
    parser.add_argument("--concurrency", type=int, default=4)
    parser.add_argument("--chats", type=int, default=60)
    parser.add_argument("--every", type=int, default=100, help="turns between RSS samples")
    parser.add_argument("--warmup", type=int, default=500, help="growth is measured from here")
    parser.add_argument("--reply-seconds", type=float, default=1.0)
    parser.add_argument("--note-seconds", type=float, default=3.0)
    parser.add_argument("--settle", type=float, default=3.0, help="idle seconds at the end")
    parser.add_argument(
        "--variants", default="fixed,baseline", help="comma-separated names, run in this order"
    )
    parser.add_argument(
        "--variant",
        action="append",
        default=[],
        metavar="NAME:KEY=VALUE,...",
        help="define a variant by its environment (e.g. arena2:MALLOC_ARENA_MAX=2)",
    )
    parser.add_argument("--probe", action="store_true", help="tracemalloc, gc and malloc stats")
    parser.add_argument(
        "--garbage",
        action="store_true",
        help="with the probe: collect at each sample and count what only the collector freed",
    )
    parser.add_argument(
        "--no-tracemalloc",
        action="store_true",
        help="with the probe: leave tracemalloc off (it slows allocation, and so collections)",
    )
    parser.add_argument("--child", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        raise SystemExit(child())
    for spec in args.variant:
        name, _, assignments = spec.partition(":")
        VARIANTS[name] = dict(item.split("=", 1) for item in assignments.split(",") if "=" in item)
    for name in args.variants.split(","):
        if name not in VARIANTS:
            parser.error(f"unknown variant {name!r}")
    runs = asyncio.run(main_async(args))
    text = report(runs, args)
    print(text)
    RESULTS.parent.mkdir(parents=True, exist_ok=True)
    RESULTS.write_text(
        json.dumps(
            {
                "args": {k: v for k, v in vars(args).items() if k != "child"},
                "runs": [
                    {
                        **{k: v for k, v in asdict(run).items() if k != "samples"},
                        "growth_per_turn_bytes": run.slope(args.warmup),
                        "samples": [asdict(s) for s in run.samples],
                    }
                    for run in runs
                ],
            },
            indent=1,
        )
    )
    for run in runs:
        if run.failed:
            print(f"{run.name}: {run.failed} turns failed; the bot's log ends:\n{run.log_tail}")


if __name__ == "__main__":
    main()
