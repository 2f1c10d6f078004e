"""Measurements taken inside a bot process under benchmark.

`Figures` adds up CPU and wall time spent in named kinds of work (``decode``, ``encode``), keeps
the event loop's stalls (from a probe task that sleeps 5 ms in a loop and records how late it
wakes), per-turn stage marks and when the dispatcher took each chat's update. It writes them as
JSON to the file named by ``BENCH_FIGURES`` on SIGUSR1 (a snapshot; stalls, marks and updates
then start a new window) and at exit.

Times are ``time.perf_counter()``, which on Linux is CLOCK_MONOTONIC: the benchmark process reads
the same clock, so marks can be placed on its timeline.
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
import json
import os
import resource
import signal
import threading
import time
from collections.abc import Callable, Coroutine
from pathlib import Path
from typing import Any, ParamSpec, TypeVar

__all__ = [
    "FIGURES_ENV",
    "STALL_BUCKETS_MS",
    "Figures",
    "install_probe",
    "timed",
    "timed_children",
]

FIGURES_ENV = "BENCH_FIGURES"
PROBE_INTERVAL = 0.005
# Upper bounds of the stall histogram's buckets, in ms; one more bucket holds everything above.
STALL_BUCKETS_MS = (1, 2, 5, 10, 20, 50, 100, 250)

P = ParamSpec("P")
R = TypeVar("R")


def _children_cpu() -> float:
    """CPU seconds of this process's terminated and reaped children (ffmpeg, for the baseline)."""
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


class _Stalls:
    def __init__(self) -> None:
        self.max_ms = 0.0
        self.ticks = 0
        self.histogram = [0] * (len(STALL_BUCKETS_MS) + 1)

    def add(self, lag_ms: float) -> None:
        self.ticks += 1
        self.max_ms = max(self.max_ms, lag_ms)
        for i, bound in enumerate(STALL_BUCKETS_MS):
            if lag_ms < bound:
                self.histogram[i] += 1
                return
        self.histogram[-1] += 1

    def as_dict(self) -> dict[str, Any]:
        return {"max_ms": round(self.max_ms, 3), "ticks": self.ticks, "histogram": self.histogram}


class Figures:
    """What one bot process measured about itself. Thread-safe: codec work runs in threads."""

    def __init__(self, path: Path | None) -> None:
        self.path = path
        self._lock = threading.Lock()
        self.cpu: dict[str, float] = {}
        self.wall: dict[str, float] = {}
        self.calls: dict[str, int] = {}
        self.window = _Stalls()
        self.total = _Stalls()
        self.turns: list[dict[str, Any]] = []
        self.seen: dict[str, float] = {}
        self.handled: dict[str, float] = {}
        self.seq = 0
        self._children_seen = _children_cpu()

    def add(self, kind: str, cpu: float, wall: float) -> None:
        with self._lock:
            self.cpu[kind] = self.cpu.get(kind, 0.0) + cpu
            self.wall[kind] = self.wall.get(kind, 0.0) + wall
            self.calls[kind] = self.calls.get(kind, 0) + 1

    def add_children(self, kind: str, wall: float) -> None:
        """Count the children's CPU reaped since the last call as ``kind``.

        Exact when one child runs at a time; with several at once the total stays exact and a
        child finishing at the same moment as another may be counted under the other's kind.
        """
        with self._lock:
            now = _children_cpu()
            grown, self._children_seen = now - self._children_seen, now
        self.add(kind, grown, wall)

    def stall(self, lag_ms: float) -> None:
        self.window.add(lag_ms)
        self.total.add(lag_ms)

    def turn(self, record: dict[str, Any]) -> None:
        with self._lock:
            self.turns.append(record)

    def update_seen(self, chat_id: int) -> None:
        """The dispatcher started on an update of this chat (the first one of the window)."""
        with self._lock:
            self.seen.setdefault(str(chat_id), time.perf_counter())

    def update_handled(self, chat_id: int) -> None:
        """The dispatcher is done with that update (handlers returned)."""
        with self._lock:
            self.handled.setdefault(str(chat_id), time.perf_counter())

    def snapshot(self, *, final: bool) -> dict[str, Any]:
        """Cumulative CPU and wall figures; stalls and turns of the window since the last one."""
        with self._lock:
            self.seq += 1
            data = {
                "seq": self.seq,
                "final": final,
                "pid": os.getpid(),
                "t": time.perf_counter(),
                "process_cpu_s": time.process_time(),
                "children_cpu_s": _children_cpu(),
                "cpu_s": dict(self.cpu),
                "wall_s": dict(self.wall),
                "calls": dict(self.calls),
                "stalls": self.window.as_dict(),
                "stalls_total": self.total.as_dict(),
                "stall_buckets_ms": list(STALL_BUCKETS_MS),
                "turns": self.turns,
                "seen": self.seen,
                "handled": self.handled,
            }
            self.window = _Stalls()
            self.turns = []
            self.seen = {}
            self.handled = {}
        return data

    def write(self, *, final: bool = False) -> None:
        if self.path is None:
            return
        data = self.snapshot(final=final)
        tmp = self.path.with_name(self.path.name + ".tmp")
        tmp.write_text(json.dumps(data))
        tmp.replace(self.path)


def timed(figures: Figures, kind: str, fn: Callable[P, R]) -> Callable[P, R]:
    """``fn`` (synchronous) with its thread CPU time and wall time counted as ``kind``."""

    @functools.wraps(fn)
    def wrapper(*args: P.args, **kwargs: P.kwargs) -> R:
        cpu, wall = time.thread_time(), time.perf_counter()
        try:
            return fn(*args, **kwargs)
        finally:
            figures.add(kind, time.thread_time() - cpu, time.perf_counter() - wall)

    return wrapper


def timed_children(
    figures: Figures, kind: Callable[..., str], fn: Callable[P, Coroutine[Any, Any, R]]
) -> Callable[P, Coroutine[Any, Any, R]]:
    """``fn`` (a coroutine function running a child process) with the child's CPU counted under
    ``kind(*args)``. Only the children's CPU: awaiting, the event loop runs other work."""

    @functools.wraps(fn)
    async def wrapper(*args: P.args, **kwargs: P.kwargs) -> R:
        wall = time.perf_counter()
        try:
            return await fn(*args, **kwargs)
        finally:
            figures.add_children(kind(*args), time.perf_counter() - wall)

    return wrapper


async def _probe(figures: Figures) -> None:
    loop = asyncio.get_running_loop()
    while True:
        due = loop.time() + PROBE_INTERVAL
        await asyncio.sleep(PROBE_INTERVAL)
        figures.stall(max(0.0, loop.time() - due) * 1000)


class _ProbePolicy(asyncio.DefaultEventLoopPolicy):
    """Every new event loop starts the stall probe and answers SIGUSR1 with a snapshot."""

    def __init__(self, figures: Figures) -> None:
        super().__init__()
        self.figures = figures
        self.tasks: set[asyncio.Task[None]] = set()

    def new_event_loop(self) -> asyncio.AbstractEventLoop:
        loop = super().new_event_loop()
        loop.call_soon(self._start, loop)
        return loop

    def _start(self, loop: asyncio.AbstractEventLoop) -> None:
        task = loop.create_task(_probe(self.figures), name="bench-stall-probe")
        self.tasks.add(task)
        task.add_done_callback(self.tasks.discard)
        with contextlib.suppress(RuntimeError, ValueError):  # not the main thread
            loop.add_signal_handler(signal.SIGUSR1, self.figures.write)


def install_probe(figures: Figures) -> None:
    """Make the loops that ``asyncio.run`` creates from now on run the stall probe."""
    asyncio.set_event_loop_policy(_ProbePolicy(figures))
