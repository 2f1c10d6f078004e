"""Watching a bot process from outside: its CPU time and its memory, sampled every 10 ms."""

from __future__ import annotations

import contextlib
import threading
import time
from dataclasses import dataclass
from pathlib import Path

import psutil

__all__ = ["MemorySampler", "Window", "cpu_seconds"]

SAMPLE_INTERVAL = 0.01


def cpu_seconds(process: psutil.Process) -> float:
    """User and system CPU of the process and of its reaped children (the baseline's ffmpeg)."""
    t = process.cpu_times()
    return t.user + t.system + t.children_user + t.children_system


def _children(pid: int) -> list[int]:
    # The children file of the main thread lists processes it started (asyncio spawns from it);
    # one small read, unlike psutil's children(), which scans every process.
    try:
        text = Path(f"/proc/{pid}/task/{pid}/children").read_text()
    except OSError:
        return [child.pid for child in psutil.Process(pid).children()]
    return [int(part) for part in text.split()]


@dataclass(frozen=True)
class Window:
    """Memory over a span of time: RSS of the process, and with its live children added."""

    peak_rss: int
    peak_rss_with_children: int
    samples: int


class MemorySampler:
    """A thread sampling a process's RSS (and its children's) every 10 ms until stopped."""

    def __init__(self, pid: int, interval: float = SAMPLE_INTERVAL) -> None:
        self.pid = pid
        self.interval = interval
        self.samples: list[tuple[float, int, int]] = []
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="bench-rss", daemon=True)

    def start(self) -> None:
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        self._thread.join(5)

    def rss(self) -> int:
        """The RSS right now."""
        return int(psutil.Process(self.pid).memory_info().rss)

    def window(self, t0: float, t1: float) -> Window:
        inside = [s for s in self.samples if t0 <= s[0] <= t1]
        return Window(
            peak_rss=max((s[1] for s in inside), default=0),
            peak_rss_with_children=max((s[2] for s in inside), default=0),
            samples=len(inside),
        )

    def _run(self) -> None:
        process = psutil.Process(self.pid)
        while not self._stop.wait(self.interval):
            try:
                rss = int(process.memory_info().rss)
                children = 0
                for pid in _children(self.pid):
                    with contextlib.suppress(psutil.Error):  # it may have just exited
                        children += int(psutil.Process(pid).memory_info().rss)
            except (psutil.Error, OSError):
                return
            self.samples.append((time.perf_counter(), rss, rss + children))
