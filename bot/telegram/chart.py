"""The owners' usage chart: audio minutes and answers per day for the last 30 days, as a PNG."""

from __future__ import annotations

import datetime as dt
import io

__all__ = ["usage_chart"]


def usage_chart(
    days: list[tuple[dt.date, float, int]],
    title: str,
    *,
    minutes: str = "audio, minutes",
    answers: str = "answers",
) -> bytes:
    """PNG of (date, audio minutes, answers) per day, its title and axes (``minutes``,
    ``answers``) in the reader's language. Blocks for ~0.1 s: run it in a thread."""
    # Imported here: matplotlib takes a while to load and only owners asking /stats need it.
    # A Figure of our own (no pyplot state machine) is safe in a worker thread.
    from matplotlib.figure import Figure

    figure = Figure(figsize=(8, 4), dpi=100)
    axes = figure.add_subplot()
    labels = [d.strftime("%d.%m") for d, _, _ in days]
    axes.bar(labels, [used for _, used, _ in days], color="#3b82f6", label=minutes)
    axes.set_title(title)
    axes.set_ylabel(minutes)
    turns_axes = axes.twinx()
    turns_axes.plot(labels, [turns for _, _, turns in days], color="#f97316", marker="o",
                    markersize=3, label=answers)  # fmt: skip
    turns_axes.set_ylabel(answers)
    turns_axes.set_ylim(bottom=0)
    for index, label in enumerate(axes.get_xticklabels()):
        label.set_visible(index % 5 == 0 or index == len(labels) - 1)
    figure.tight_layout()
    buffer = io.BytesIO()
    figure.savefig(buffer, format="png")
    return buffer.getvalue()
