"""Figures from the measurements: the table (ours, baseline, ratio, target) and the JSON report."""

from __future__ import annotations

import datetime
import json
import os
import platform
import statistics
import sys
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from bench.driver import BotRun, Case, Turn, TurnBatch

__all__ = [
    "RESULTS",
    "Row",
    "codec_table",
    "figures",
    "grid",
    "percentile",
    "render",
    "run_meta",
    "save_report",
    "stage_table",
]

MiB = 1024 * 1024
RESULTS = Path(__file__).resolve().parent / "results"


def run_meta(argv: list[str] | None, elapsed: float) -> dict[str, Any]:
    """The start of a JSON report's meta: when (UTC), the arguments (``sys.argv[1:]`` when
    ``argv`` is None), the Python version, the platform, the CPU count, the run's seconds."""
    return {
        "timestamp": datetime.datetime.now(datetime.UTC).isoformat(timespec="seconds"),
        "argv": sys.argv[1:] if argv is None else argv,
        "python": platform.python_version(),
        "platform": platform.platform(),
        "cpus": os.cpu_count(),
        "elapsed_s": elapsed,
    }


def save_report(name: str, report: dict[str, Any]) -> Path:
    """``report`` written as indented JSON to ``bench/results/NAME.json``; prints the path and
    returns it."""
    RESULTS.mkdir(parents=True, exist_ok=True)
    path = RESULTS / f"{name}.json"
    path.write_text(json.dumps(report, indent=1))
    print(f"JSON: {path.relative_to(RESULTS.parent.parent)}")
    return path


def percentile(values: list[float], q: float) -> float:
    """The q-th percentile (0-100), linear between closest ranks."""
    if not values:
        return float("nan")
    ordered = sorted(values)
    rank = (len(ordered) - 1) * q / 100
    low = int(rank)
    high = min(low + 1, len(ordered) - 1)
    return ordered[low] + (ordered[high] - ordered[low]) * (rank - low)


@dataclass
class Row:
    """One figure. ``ours``/``baseline`` are None when not measured; ``section`` rows are titles."""

    name: str
    unit: str = ""
    ours: float | None = None
    baseline: float | None = None
    target: str = ""
    check: Callable[[float | None, float | None], bool | None] | None = None
    section: bool = False
    text_ours: str | None = None
    text_baseline: str | None = None
    show_ratio: bool = True

    @property
    def ratio(self) -> float | None:
        if not self.show_ratio or self.ours is None or self.baseline is None or self.ours <= 0:
            return None
        return self.baseline / self.ours

    @property
    def verdict(self) -> str:
        if self.check is None:
            return ""
        passed = self.check(self.ours, self.baseline)
        if passed is None:
            return "n/a"
        return "PASS" if passed else "MISS"

    def as_dict(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "unit": self.unit,
            "ours": self.ours,
            "baseline": self.baseline,
            "ratio": self.ratio,
            "target": self.target,
            "result": self.verdict,
        }


def _at_most(limit: float, *, lower_by: float | None = None) -> Callable[..., bool | None]:
    """ours ≤ limit, and (when given) baseline/ours ≥ lower_by; None when ours is missing."""

    def check(ours: float | None, baseline: float | None) -> bool | None:
        if ours is None:
            return None
        ok = ours <= limit
        if lower_by is not None and baseline is not None:
            ok = ok and ours > 0 and baseline / ours >= lower_by
        return ok

    return check


def _equals(expected: float) -> Callable[..., bool | None]:
    def check(ours: float | None, baseline: float | None) -> bool | None:
        return None if ours is None else ours == expected

    return check


def _turns(n: int) -> str:
    return f"{n} turn" if n == 1 else f"{n} turns"


def _median_ms(turns: list[Turn], what: str) -> float | None:
    if not turns:
        return None
    return statistics.median(getattr(turn, what) for turn in turns) * 1000


def _pooled(
    run: BotRun | None, *, note: float | None = None, reply: float | None = None
) -> list[Turn]:
    """The turns of every sequential case with this note (or reply) length."""
    if run is None:
        return []
    return [
        turn
        for batch in run.cases.values()
        for turn in batch.turns
        if (note is None or turn.note_seconds == note)
        and (reply is None or turn.reply_seconds == reply)
    ]


def _pick(run: BotRun | None, note: float | None, reply: float | None) -> TurnBatch | None:
    """The first case with this note (or reply) length, preferring the shortest other length."""
    if run is None:
        return None
    candidates = [
        batch
        for key, batch in run.cases.items()
        if (note is None or key.startswith(f"{note:g}s-"))
        and (reply is None or key.endswith(f"-{reply:g}s"))
    ]
    return candidates[0] if candidates else None


def _cpu_split(run: BotRun, batch: TurnBatch) -> dict[str, float]:
    """CPU ms per turn: total, decode, encode, idle (probe and polling, measured before the first
    turn, times the batch's wall time) and protocol & other (the rest)."""
    n = len(batch.turns) or 1
    total = batch.cpu_s / n * 1000
    decode = batch.kind_cpu("decode") / n * 1000
    encode = batch.kind_cpu("encode") / n * 1000
    idle = run.idle_cpu_rate * batch.wall_s / n * 1000
    return {
        "total": total,
        "decode": decode,
        "encode": encode,
        "idle": idle,
        "protocol": max(0.0, total - decode - encode - idle),
    }


def figures(
    ours: BotRun | None, baseline: BotRun | None, cases: tuple[Case, ...], concurrency: int
) -> list[Row]:
    runs = [run for run in (ours, baseline) if run is not None]
    # Pre-model latency does not depend on the reply, nor post-model latency on the note: each
    # median pools every sequential case with that note (or reply) length.
    rows: list[Row] = [Row("Latency: medians of the sequential turns", section=True)]
    for note in sorted({c.note_seconds for c in cases}):
        ours_turns, base_turns = _pooled(ours, note=note), _pooled(baseline, note=note)
        n = max(len(ours_turns), len(base_turns))
        row = Row(
            f"pre-model latency, {note:g} s note ({_turns(n)})",
            "ms",
            _median_ms(ours_turns, "pre_model"),
            _median_ms(base_turns, "pre_model"),
        )
        if note == 5:
            row.target, row.check = "≤ 30 ms, ≥ 4× lower", _at_most(30, lower_by=4)
        rows.append(row)
    for reply in sorted({c.reply_seconds for c in cases}):
        ours_turns, base_turns = _pooled(ours, reply=reply), _pooled(baseline, reply=reply)
        n = max(len(ours_turns), len(base_turns))
        row = Row(
            f"post-model latency, {reply:g} s reply ({_turns(n)})",
            "ms",
            _median_ms(ours_turns, "post_model"),
            _median_ms(base_turns, "post_model"),
        )
        if reply == 10:
            row.target, row.check = "≤ 20 ms, ≥ 8× lower", _at_most(20, lower_by=8)
        rows.append(row)

    if concurrency:
        o, b = (ours.concurrent if ours else None), (baseline.concurrent if baseline else None)
        cap = max((run.max_concurrent_turns for run in runs), default=concurrency)
        rows.append(
            Row(
                f"{concurrency} chats at once (5 s note, 10 s reply each; "
                f"MAX_CONCURRENT_TURNS={cap})",
                section=True,
            )
        )
        rows.append(
            Row(
                "answered",
                "",
                float(len(o.turns)) if o else None,
                float(len(b.turns)) if b else None,
                "all",
                _equals(concurrency),
                text_ours=f"{len(o.turns)}/{o.asked}" if o else None,
                text_baseline=f"{len(b.turns)}/{b.asked}" if b else None,
                show_ratio=False,
            )
        )

        def added(batch: TurnBatch | None, q: float) -> float | None:
            if batch is None or not batch.turns:
                return None
            return percentile([t.added * 1000 for t in batch.turns], q)

        rows.append(Row("added latency p50 (end-to-end − model)", "ms", added(o, 50), added(b, 50)))
        rows.append(
            Row(
                "added latency p95",
                "ms",
                added(o, 95),
                added(b, 95),
                "≤ 250 ms",
                _at_most(250),
            )
        )
        rows.append(Row("added latency max", "ms", added(o, 100), added(b, 100)))
        rows.append(
            Row(
                "longest event-loop stall",
                "ms",
                o.stall_max_ms if o else None,
                b.stall_max_ms if b else None,
                "≤ 20 ms",
                _at_most(20),
            )
        )
        rows.append(
            Row(
                "CPU per turn",
                "ms",
                o.cpu_s / max(1, len(o.turns)) * 1000 if o else None,
                b.cpu_s / max(1, len(b.turns)) * 1000 if b else None,
            )
        )
        rows.append(
            Row(
                "peak RSS during the batch (baseline: with ffmpeg)",
                "MiB",
                o.memory.peak_rss / MiB if o else None,
                b.memory.peak_rss_with_children / MiB if b else None,
                "report",
            )
        )

    rows.append(Row("CPU per turn: decode, encode, protocol & other", section=True))
    for case in cases:
        o_batch, b_batch = (
            _pick(ours, case.note_seconds, case.reply_seconds),
            _pick(baseline, case.note_seconds, case.reply_seconds),
        )
        o_split = _cpu_split(ours, o_batch) if ours and o_batch else {}
        b_split = _cpu_split(baseline, b_batch) if baseline and b_batch else {}
        for part, label in (
            ("total", "total"),
            ("decode", "decode"),
            ("encode", "encode"),
            ("protocol", "protocol & other"),
            ("idle", "idle share (stall probe, polling)"),
        ):
            rows.append(
                Row(
                    f"{case.name}: {label}",
                    "ms",
                    o_split.get(part),
                    b_split.get(part),
                    "report" if part in ("decode", "encode", "protocol") else "",
                )
            )
    rows.append(
        Row(
            "idle CPU rate (stall probe + long polling)",
            "ms/s",
            ours.idle_cpu_rate * 1000 if ours else None,
            baseline.idle_cpu_rate * 1000 if baseline else None,
        )
    )

    rows.append(Row("Memory and stalls", section=True))
    rows.append(
        Row(
            "idle RSS before the first turn",
            "MiB",
            ours.idle_rss / MiB if ours else None,
            baseline.idle_rss / MiB if baseline else None,
            "report",
        )
    )
    rows.append(
        Row(
            "RSS growth, first turn",
            "MiB",
            (ours.rss_after_warmup - ours.idle_rss) / MiB if ours else None,
            (baseline.rss_after_warmup - baseline.idle_rss) / MiB if baseline else None,
            "report",
        )
    )
    rows.append(
        Row(
            f"RSS growth per turn, {cases[0].name} repeated",
            "KiB",
            _same_case_growth(ours),
            _same_case_growth(baseline),
            "report",
        )
    )
    rows.append(
        Row(
            "RSS growth per turn, all sequential turns",
            "KiB",
            ours.rss_growth_per_turn / 1024 if ours else None,
            baseline.rss_growth_per_turn / 1024 if baseline else None,
            "report",
        )
    )
    rows.append(
        Row(
            "RSS after the sequential cases",
            "MiB",
            ours.rss_after_sequential / MiB if ours else None,
            baseline.rss_after_sequential / MiB if baseline else None,
        )
    )
    rows.append(
        Row(
            "peak RSS, sequential cases (baseline: with ffmpeg)",
            "MiB",
            _peak_sequential(ours),
            _peak_sequential(baseline),
            "report",
        )
    )
    rows.append(
        Row(
            "longest event-loop stall, sequential cases",
            "ms",
            _stall_sequential(ours),
            _stall_sequential(baseline),
        )
    )
    rows.append(
        Row(
            "start-up to first long poll",
            "s",
            ours.startup_s if ours else None,
            baseline.startup_s if baseline else None,
        )
    )
    return rows


def _same_case_growth(run: BotRun | None) -> float | None:
    """KiB per turn over the first case's turns (the same input again and again)."""
    if run is None or not run.cases:
        return None
    batch = next(iter(run.cases.values()))
    return (batch.rss_after - batch.rss_before) / max(1, len(batch.turns)) / 1024


def _peak_sequential(run: BotRun | None) -> float | None:
    if run is None or not run.cases:
        return None
    return max(batch.memory.peak_rss_with_children for batch in run.cases.values()) / MiB


def _stall_sequential(run: BotRun | None) -> float | None:
    if run is None or not run.cases:
        return None
    return max(batch.stall_max_ms for batch in run.cases.values())


def _fmt(value: float | None, unit: str) -> str:
    if value is None:
        return "—"
    if unit in ("ms", "ms/s", "KiB"):
        return f"{value:,.0f} {unit}" if abs(value) >= 100 else f"{value:.1f} {unit}"
    if unit == "MiB":
        return f"{value:.1f} MiB"
    if unit == "s":
        return f"{value:.2f} s"
    return f"{value:g}"


def _ratio(row: Row) -> str:
    ratio = row.ratio
    if ratio is None:
        return ""
    return f"×{ratio:.1f}" if ratio < 100 else f"×{ratio:,.0f}"


def render(rows: list[Row]) -> str:
    """The figures as a fixed-width table, sections as headings."""
    header = ("figure", "ours", "baseline", "base/ours", "target", "")
    body: list[tuple[str, ...] | str] = []
    for row in rows:
        if row.section:
            body.append(row.name)
            continue
        body.append(
            (
                "  " + row.name,
                row.text_ours or _fmt(row.ours, row.unit),
                row.text_baseline or _fmt(row.baseline, row.unit),
                _ratio(row),
                row.target,
                row.verdict,
            )
        )
    cells = [header, *(r for r in body if isinstance(r, tuple))]
    widths = [max(len(r[i]) for r in cells) for i in range(len(header))]

    def fmt(cells: tuple[str, ...]) -> str:
        return "  ".join(
            [
                cells[0].ljust(widths[0]),
                *(cells[i].rjust(widths[i]) for i in range(1, 4)),
                cells[4].ljust(widths[4]),
                cells[5],
            ]
        ).rstrip()

    lines = [fmt(header), "-" * (sum(widths) + 2 * (len(widths) - 1))]
    for item in body:
        lines.extend(["", item] if isinstance(item, str) else [fmt(item)])
    return "\n".join(lines)


def grid(header: list[str], body: list[list[str]]) -> list[str]:
    """Rows as fixed-width lines: the first column left-aligned, the rest right-aligned."""
    widths = [max(len(r[i]) for r in [header, *body]) for i in range(len(header))]
    lines = []
    for i, row in enumerate([header, *body]):
        cells = [row[0].ljust(widths[0])]
        cells += [c.rjust(w) for c, w in zip(row[1:], widths[1:], strict=True)]
        lines.append("  ".join(cells).rstrip())
        if i == 0:
            lines.append("-" * (sum(widths) + 2 * (len(widths) - 1)))
    return lines


def codec_table(micro: dict[str, dict[str, dict[str, Any]]]) -> str:
    """Medians of wall time per path and input, the fastest path marked."""
    lines: list[str] = []
    for kind in ("decode", "encode"):
        inputs = micro.get(kind, {})
        if not inputs:
            continue
        paths = list(next(iter(inputs.values())))
        what = "note → 24 kHz PCM16" if kind == "decode" else "44.1 kHz reply → OGG/Opus"
        header = [f"{kind} ({what})", *paths]
        body: list[list[str]] = []
        for name, cells in inputs.items():
            fastest = min(cells, key=lambda p: cells[p]["wall_ms"])
            body.append(
                [
                    name,
                    *(
                        f"{cells[p]['wall_ms']:.0f} ms" + ("*" if p == fastest else "")
                        for p in paths
                    ),
                ]
            )
            if kind == "encode" and "tail_ms" in cells.get(paths[0], {}):
                tail = cells[paths[0]]
                body.append(
                    [
                        f"  {paths[0]}: after the last chunk / longest chunk",
                        f"{tail['tail_ms']:.1f} / {tail['longest_chunk_ms']:.1f} ms",
                        *([""] * (len(paths) - 1)),
                    ]
                )
        lines.extend(grid(header, body))
        lines.append("")
    cpu_lines = []
    for kind in ("decode", "encode"):
        for name, cells in micro.get(kind, {}).items():
            parts = ", ".join(f"{p} {c['cpu_ms']:.0f}" for p, c in cells.items())
            cpu_lines.append(f"  {kind} {name}: {parts}")
    if cpu_lines:
        lines.append("CPU ms (this process + its ffmpeg children), same medians:")
        lines.extend(cpu_lines)
    return "\n".join(lines).rstrip()


def _ours_stages(turn: Turn) -> dict[str, float] | None:
    """Where a turn of the bot spends its time, from its own marks and the stand-ins' clocks."""
    marks = turn.marks
    if not marks:
        return None
    start, at = float(marks["start"]), marks["at"]
    if not {"downloaded", "decoded", "connected", "response_done", "encoded"} <= set(at):
        return None
    seen = turn.t_seen if turn.t_seen is not None else start
    return {
        "update pushed → dispatcher has it (getUpdates answer, parsing)": seen - turn.t_push,
        "dispatcher → turn starts (middleware, Redis, handler)": start - seen,
        "turn start → downloaded": at["downloaded"],
        "turn start → session open (in parallel)": at["connected"],
        "decode": at["decoded"] - at["downloaded"],
        "decoded → response.create (appends, commit)": turn.t_create - (start + at["decoded"]),
        "= pre-model": turn.pre_model,
        "response.done sent → read by the bot": start + at["response_done"] - turn.t_done_sent,
        "encode tail after response.done": at["encoded"] - at["response_done"],
        "session close": marks["returned"] - (start + at["encoded"]),
        "turn returned → sendVoice upload starts": turn.t_upload_start - marks["returned"],
        "upload": turn.t_upload_done - turn.t_upload_start,
        "= post-model": turn.post_model,
        "(not in the sums) dispatcher busy with the update": _busy(turn),
    }


def _busy(turn: Turn) -> float:
    if turn.t_seen is None or turn.t_handled is None:
        return float("nan")
    return turn.t_handled - turn.t_seen


def _baseline_stages(turn: Turn) -> dict[str, float]:
    seen = turn.t_seen if turn.t_seen is not None else turn.t_push
    return {
        "update pushed → dispatcher has it (getUpdates answer, parsing)": seen - turn.t_push,
        "dispatcher → session opens (download, ffmpeg → WAV)": turn.t_connected - seen,
        "session opens → response.create (appends, commit)": turn.t_create - turn.t_connected,
        "= pre-model": turn.pre_model,
        "response.done → upload starts (WAV, ffmpeg → OGG)": turn.t_upload_start - turn.t_done_sent,
        "upload": turn.t_upload_done - turn.t_upload_start,
        "= post-model": turn.post_model,
    }


def stage_table(run: BotRun) -> str:
    """Medians per stage for each sequential case; p50 and p95 for the concurrent batch."""
    stages = _ours_stages if run.name == "ours" else _baseline_stages
    columns: list[tuple[str, list[dict[str, float]], float]] = []
    for key, batch in run.cases.items():
        found = [s for t in batch.turns if (s := stages(t)) is not None]
        columns.append((key, found, 50))
    if run.concurrent is not None:
        found = [s for t in run.concurrent.turns if (s := stages(t)) is not None]
        columns.append((f"{run.concurrent.asked} at once p50", found, 50))
        columns.append((f"{run.concurrent.asked} at once p95", found, 95))
    columns = [c for c in columns if c[1]]
    if not columns:
        return ""
    names = list(columns[0][1][0])
    header = [f"{run.name}: where the time goes (ms)", *(c[0] for c in columns)]
    body = [
        [name, *(f"{percentile([s[name] * 1000 for s in c[1]], c[2]):.1f}" for c in columns)]
        for name in names
    ]
    return "\n".join(grid(header, body))
