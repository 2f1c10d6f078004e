"""The tempo benchmark runs: a smoke run of ``python -m bench.tempo`` on a second of audio."""

from __future__ import annotations

import pytest

from bench import tempo


def test_the_tempo_benchmark_prints_a_row_per_rate_and_speed(
    capsys: pytest.CaptureFixture[str],
) -> None:
    code = tempo.main(
        ["--seconds", "1", "--repeat", "1", "--libraries", "atempo (PyAV)", "--rates", "24000",
         "44100"]
    )  # fmt: skip
    assert code == 0
    lines = capsys.readouterr().out.splitlines()
    assert any("CPU ms/s" in line and "between harmonics" in line for line in lines)
    rows = {}
    for line in lines:
        fields = line.split()
        if len(fields) > 3 and fields[0].isdigit():
            rows[(int(fields[0]), float(fields[1]))] = line
    assert set(rows) == {(rate, speed) for rate in (24_000, 44_100) for speed in tempo.SPEEDS}
    for (_, speed), line in rows.items():
        assert ("atempo (PyAV)" in line) == (speed != 1.0)
        cpu, ratio = (float(x) for x in line.split(")")[-1].split()[:2])
        assert cpu > 0
        if speed == 1.0:
            assert ratio == 1.0
        length, pitch = (float(x.rstrip("%")) for x in line.split()[-4:-2])
        assert abs(length) < 3 and abs(pitch) < 2
