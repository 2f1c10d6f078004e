"""From a fresh clone to the first answer: the operator's steps, whether they need root, and the
seconds they take, for two revisions side by side.

    python -m bench.first_answer [--revs REV,REV]      (default: the first parent of HEAD~N, HEAD)

For each revision it does what README's quick start says, as a new operator would, in a new
folder: ``git clone``; ``cp .env.example .env`` and the three values filled in (and, here, the
stand-ins' addresses as ``TELEGRAM_API_URL`` and ``REALTIME_URL``); ``scripts/run``. Then a user
sends a voice note (the Bot API stand-in) and the seconds until the answer arrives are measured.

Root: before timing, ``scripts/setup`` is run once on a machine that lacks ffmpeg and
redis-server (a PATH without them) and whose ``apt-get``/``sudo`` only record that they were
called: a revision that asks for them cannot be set up without root on such a machine.

Phases: clone, install (``scripts/setup``: a new virtual environment, every package from the
index), first start (``scripts/run`` until the first answer: for newer revisions this includes
``python -m bot check``), total. The package index is this machine's; on a slow network the
install phase grows. JSON goes to ``bench/results/first_answer.json``.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
RESULTS = ROOT / "bench" / "results" / "first_answer.json"
HIDDEN = {"ffmpeg", "ffprobe", "redis-server", "apt-get", "sudo"}
SHIM = '#!/bin/sh\necho "$(basename "$0") $*" >> "{log}"\nexit 1\n'


@dataclass
class Run:
    rev: str
    steps: list[str] = field(default_factory=list)
    root_needed: list[str] = field(default_factory=list)  # what setup asked apt-get/sudo for
    clone_s: float = 0.0
    install_s: float = 0.0
    first_answer_s: float = 0.0
    total_s: float = 0.0
    answered: bool = False


def _bare_path(folder: Path, log: Path) -> str:
    """A PATH like this machine's without ffmpeg and redis-server, where apt-get and sudo only
    write down how they were called."""
    folder.mkdir()
    for directory in os.environ.get("PATH", "/usr/bin:/bin").split(":"):
        if not Path(directory).is_dir():
            continue
        for entry in Path(directory).iterdir():
            target = folder / entry.name
            if entry.name in HIDDEN or target.exists() or not os.access(entry, os.X_OK):
                continue
            target.symlink_to(entry)
    for name in ("apt-get", "sudo"):
        shim = folder / name
        shim.write_text(SHIM.format(log=log))
        shim.chmod(0o755)
    return str(folder)


def _operator_env() -> dict[str, str]:
    """The operator's shell: PATH, HOME (their pip configuration with it) and pip's variables;
    nothing of this process (no PYTHONPATH, no virtual environment)."""
    keep = {k: v for k, v in os.environ.items() if k.startswith("PIP_")}
    return {**keep, "PATH": os.environ.get("PATH", "/usr/bin:/bin"),
            "HOME": os.environ.get("HOME", "/root"), "LANG": "C.UTF-8"}  # fmt: skip


async def _measure(rev: str, work: Path) -> Run:
    from stand_ins.bot_api import BotAPIStandIn
    from stand_ins.media import make
    from stand_ins.realtime import RealtimeStandIn, Scenario

    run = Run(rev=rev)
    clone = work / "voice-bot"
    started = time.perf_counter()
    subprocess.run(["git", "clone", "-q", str(ROOT), str(clone)], check=True)
    subprocess.run(["git", "-C", str(clone), "checkout", "-q", rev], check=True)
    run.clone_s = time.perf_counter() - started
    run.steps.append("git clone …")

    # Root: setup on a machine without ffmpeg and redis-server, apt-get and sudo recorded.
    log = work / "asked.log"
    bare = _bare_path(work / "bare-bin", log)
    env = {**_operator_env(), "PATH": bare}
    probe = subprocess.run(
        ["scripts/setup"], cwd=clone, env=env, capture_output=True, text=True, timeout=900
    )
    run.root_needed = log.read_text().splitlines() if log.exists() else []
    if probe.returncode == 0:
        shutil.rmtree(clone / ".venv")  # timed below, from nothing

    audio = make(work / "audio")
    async with BotAPIStandIn() as api, RealtimeStandIn() as realtime:
        realtime.scenario = Scenario(reply_seconds=1.0, reply_text="Hello.")
        dotenv = (clone / ".env.example").read_text()
        filled = {
            "BOT_TOKEN": api.token,
            "REALTIME_API_KEY": "test-key",
            "YANDEX_FOLDER_ID": "folder",
            "TELEGRAM_API_URL": api.url,
            "REALTIME_URL": realtime.url + "?model=gpt://folder/speech-realtime-250923",
        }
        lines = [
            line for line in dotenv.splitlines() if line.split("=", 1)[0].strip() not in filled
        ]
        lines += [f"{name}={value}" for name, value in filled.items()]
        (clone / ".env").write_text("\n".join(lines) + "\n")
        run.steps.append(
            "cp .env.example .env; fill in BOT_TOKEN, REALTIME_API_KEY, YANDEX_FOLDER_ID"
        )

        env = _operator_env()
        began = time.perf_counter()
        subprocess.run(["scripts/setup"], cwd=clone, env=env, check=True, timeout=900)
        run.install_s = time.perf_counter() - began
        run.steps.append("scripts/run")

        api.push_message(
            "voice", chat_id=5, user_id=5, data=audio["voice.ogg"].read_bytes(), duration=3
        )
        began = time.perf_counter()
        process = await asyncio.create_subprocess_exec(
            "scripts/run", cwd=clone, env=env,
            stdout=asyncio.subprocess.DEVNULL, stderr=asyncio.subprocess.PIPE,
            start_new_session=True,
        )  # fmt: skip
        try:
            await api.wait_for("sendVoice", timeout=120)
            run.answered = True
        except TimeoutError:
            run.answered = False
        run.first_answer_s = time.perf_counter() - began
        os.killpg(process.pid, 15)
        try:
            await asyncio.wait_for(process.communicate(), 30)
        except TimeoutError:
            os.killpg(process.pid, 9)
    run.total_s = run.clone_s + run.install_s + run.first_answer_s
    return run


async def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--revs", default="efdf792,HEAD", help="two revisions, comma-separated")
    args = parser.parse_args()
    runs = []
    for rev in args.revs.split(","):
        sha = subprocess.run(
            ["git", "-C", str(ROOT), "rev-parse", "--short", rev],
            check=True, capture_output=True, text=True,
        ).stdout.strip()  # fmt: skip
        with tempfile.TemporaryDirectory(prefix="vb-first-") as work:
            runs.append(await _measure(sha, Path(work)))
    print(f"{'':28}" + "".join(f"{r.rev:>14}" for r in runs))
    rows = [
        ("steps typed", lambda r: str(len(r.steps))),
        ("needs root (apt-get/sudo)", lambda r: "yes" if r.root_needed else "no"),
        ("clone, s", lambda r: f"{r.clone_s:.1f}"),
        ("install (scripts/setup), s", lambda r: f"{r.install_s:.1f}"),
        ("start to first answer, s", lambda r: f"{r.first_answer_s:.1f}"),
        ("total, s", lambda r: f"{r.total_s:.1f}"),
        ("answered", lambda r: "yes" if r.answered else "no"),
    ]
    for label, value in rows:
        print(f"{label:28}" + "".join(f"{value(r):>14}" for r in runs))
    for r in runs:
        if r.root_needed:
            print(f"{r.rev} asked: {'; '.join(r.root_needed)}")
    RESULTS.parent.mkdir(parents=True, exist_ok=True)
    RESULTS.write_text(json.dumps([asdict(r) for r in runs], indent=2))
    return 0 if all(r.answered for r in runs) else 1


if __name__ == "__main__":
    sys.exit(asyncio.run(main()))
