"""Source trees a before/after benchmark runs the bot from: a baseline revision and this one.

The baseline is checked out (detached) with ``git worktree add`` into a temporary folder and
removed again afterwards; the current tree is this checkout as it is on disk, local changes
included. Each bot is then started as ``python -m bot`` with ``cwd`` and PYTHONPATH its tree's
folder, so the ``bot`` package comes from that tree. A benchmark of the current tree alone in
several modes (a bot set up one way, then another) runs it once per mode (`measure_modes`).
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import dataclasses
import shutil
import subprocess
import sys
import tempfile
import time
from collections.abc import Awaitable, Callable, Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import TypeVar

from bench.driver import BenchError

__all__ = [
    "DEFAULT_BASELINE",
    "ROOT",
    "Tree",
    "add_tree_options",
    "current_tree",
    "each_tree",
    "has_local_changes",
    "measure_modes",
    "measure_trees",
    "worktree",
]

ROOT = Path(__file__).resolve().parents[1]
DEFAULT_BASELINE = "6dd39e9"
_R = TypeVar("_R")


@dataclass(frozen=True)
class Tree:
    """A source tree whose ``bot`` package is measured."""

    label: str
    path: Path
    revision: str
    """What the tree holds, for the report: a commit, and whether bot/ has local changes."""


def _git(*args: str) -> str:
    """``git -C ROOT ARGS``'s output, stripped; BenchError with git's message when it fails."""
    done = subprocess.run(
        ["git", "-C", str(ROOT), *args], capture_output=True, text=True, check=False
    )
    if done.returncode != 0:
        raise BenchError(f"git {' '.join(args)}: {done.stderr.strip()}")
    return done.stdout.strip()


def has_local_changes(folder: str) -> bool:
    """Whether ``folder`` of this checkout differs from HEAD (untracked files included)."""
    return bool(_git("status", "--porcelain", "--", folder))


def current_tree() -> Tree:
    """This checkout, labelled "current", its revision saying whether bot/ has local changes."""
    head = _git("rev-parse", "--short", "HEAD")
    changed = has_local_changes("bot")
    revision = f"{head} + the working tree" + (" (bot/ has local changes)" if changed else "")
    return Tree("current", ROOT, revision)


@contextlib.contextmanager
def worktree(rev: str, *, prefix: str = "bench-baseline-") -> Iterator[Tree]:
    """``rev`` checked out (detached) in a temporary folder, labelled "baseline"; removed again
    on the way out. Raises BenchError when git cannot resolve or check out ``rev``."""
    commit = _git("rev-parse", "--verify", f"{rev}^{{commit}}")
    folder = Path(tempfile.mkdtemp(prefix=prefix))
    path = folder / "tree"
    _git("worktree", "add", "--detach", "--quiet", str(path), commit)
    try:
        yield Tree("baseline", path, f"{rev} ({commit[:12]}), in a temporary worktree")
    finally:
        # --force: the bot's run leaves __pycache__ folders, which git counts as changes.
        with contextlib.suppress(BenchError):
            _git("worktree", "remove", "--force", str(path))
        shutil.rmtree(folder, ignore_errors=True)
        with contextlib.suppress(BenchError):
            _git("worktree", "prune")


async def each_tree(
    trees: list[Tree],
    run: Callable[[Tree], Awaitable[_R]],
    progress: Callable[[str], None],
) -> tuple[list[_R], dict[str, str]]:
    """``run`` for each tree in turn: what the runs returned, and by label the reason of each
    that raised BenchError (a tree in the middle of an edit may not even start); the other
    trees are still measured."""
    runs: list[_R] = []
    failures: dict[str, str] = {}
    for tree in trees:
        progress(f"{tree.label}: starting the bot from {tree.path}")
        started = time.perf_counter()
        try:
            runs.append(await run(tree))
        except BenchError as exc:
            failures[tree.label] = str(exc)
            progress(f"{tree.label}: failed")
            continue
        progress(f"{tree.label}: done in {time.perf_counter() - started:.0f} s")
    return runs, failures


def add_tree_options(parser: argparse.ArgumentParser) -> None:
    """``--baseline REV`` (default DEFAULT_BASELINE) and ``--only baseline|current``, as
    `measure_trees` takes them."""
    parser.add_argument(
        "--baseline",
        default=DEFAULT_BASELINE,
        metavar="REV",
        help=f"the revision to compare with (default {DEFAULT_BASELINE})",
    )
    parser.add_argument("--only", choices=("baseline", "current"), help="measure one tree only")


def measure_trees(
    bench: str,
    baseline: str,
    only: str | None,
    run: Callable[[Tree], Awaitable[_R]],
    progress: Callable[[str], None],
) -> tuple[list[_R], dict[str, str]]:
    """``run`` (in a fresh event loop) on ``baseline`` checked out in a temporary worktree,
    then on the current tree, or only on the one ``only`` names ("baseline" or "current").
    Returns what the runs returned and, by label, the reason of each that failed, which is also
    printed to stderr as ``BENCH: LABEL failed: REASON``. Raises BenchError when git cannot
    provide the baseline."""
    with contextlib.ExitStack() as stack:
        trees: list[Tree] = []
        if only != "current":
            trees.append(stack.enter_context(worktree(baseline, prefix=f"{bench}-baseline-")))
        if only != "baseline":
            trees.append(current_tree())
        runs, failures = asyncio.run(each_tree(trees, run, progress))
    _print_failures(bench, failures)
    return runs, failures


def measure_modes(
    bench: str,
    modes: Iterable[str],
    run: Callable[[Tree], Awaitable[_R]],
    progress: Callable[[str], None],
) -> tuple[Tree, list[_R], dict[str, str]]:
    """``run`` (in a fresh event loop) on the current tree once per mode, the tree labelled
    with the mode each time (``run`` sets the bot up as its label says). Returns the tree, what
    the runs returned and, by mode, the reason of each that failed (printed to stderr as with
    `measure_trees`). Raises BenchError when git cannot describe the checkout."""
    tree = current_tree()
    trees = [dataclasses.replace(tree, label=mode) for mode in modes]
    runs, failures = asyncio.run(each_tree(trees, run, progress))
    _print_failures(bench, failures)
    return tree, runs, failures


def _print_failures(bench: str, failures: dict[str, str]) -> None:
    for label, reason in failures.items():
        print(f"{bench}: {label} failed: {reason}", file=sys.stderr)
