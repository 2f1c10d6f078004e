"""The benchmark runs from a fresh checkout: a smoke run of `python -m bench --quick`."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def test_bench_quick_run_measures_both_bots(tmp_path: Path) -> None:
    out = tmp_path / "bench.json"
    result = subprocess.run(
        [sys.executable, "-m", "bench", "--quick", "--json", str(out)],
        cwd=ROOT, capture_output=True, text=True, timeout=600,
    )  # fmt: skip
    assert result.returncode == 0, result.stderr[-3000:]
    assert "pre-model latency" in result.stdout
    report = json.loads(out.read_text())
    figures = {f["name"]: f for f in report["figures"]}
    pre = next(f for name, f in figures.items() if name.startswith("pre-model latency, 5 s"))
    post = next(f for name, f in figures.items() if name.startswith("post-model latency, 10 s"))
    for figure in (pre, post):
        assert figure["ours"] > 0
        assert figure["baseline"] > 0
    answered = figures["answered"]
    assert answered["ours"] == answered["baseline"] > 0
