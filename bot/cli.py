"""Command line: ``python -m bot`` runs the bot; ``python -m bot ask FILE`` answers one file;
``python -m bot probe`` measures the configured provider's live service; ``python -m bot check``
checks every part the bot needs (``bot.check``).

All read the environment and ``.env``. Configuration problems end the process with exit code 2
and a list naming each variable, all of them at once (``check`` reports them among its lines).
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import ctypes
import ctypes.util
import gc
import importlib
import logging
import os
import socket
import sys
from collections.abc import AsyncIterator
from pathlib import Path
from typing import TYPE_CHECKING

from bot import __version__

# Imports that cost time (aiogram above all) happen inside the commands that need them:
# ``--version`` and ``ask`` never load Telegram's side.
if TYPE_CHECKING:
    from bot.config import Settings
    from bot.domain import Reply

__all__ = ["main"]

log = logging.getLogger("bot")


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="python -m bot",
        description="Telegram voice assistant on a realtime speech model.",
        epilog="Settings come from the environment and from .env in the current folder "
        "(.env.example lists them all); python -m bot check tells what is missing.",
    )
    parser.add_argument("--version", action="version", version=f"%(prog)s {__version__}")
    commands = parser.add_subparsers(dest="command")
    parser.add_argument(
        "--webhook",
        action="store_true",
        help="serve a webhook instead of long polling (as BOT_MODE=webhook)",
    )
    commands.add_parser("run", help="run the bot: receiver and worker in one process (default)")
    commands.add_parser("worker", help="only a worker, taking turns from the shared Redis queue")
    ask = commands.add_parser(
        "ask", help="one turn from an audio file (or --text), without Telegram"
    )
    ask.add_argument("file", type=Path, nargs="?", help="any audio file FFmpeg reads")
    ask.add_argument(
        "-o",
        "--output",
        type=Path,
        default=Path("reply.ogg"),
        help="where to write the voice note (default: reply.ogg)",
    )
    ask.add_argument("--voice", help="voice (default: DEFAULT_VOICE)")
    ask.add_argument("--instructions", help="instructions (default: DEFAULT_INSTRUCTIONS)")
    ask.add_argument("--text", help="ask with this text instead of a file", default=None)
    probe = commands.add_parser(
        "probe",
        help="measure the provider's live service where its docs leave questions open "
        "(bills a few seconds of audio)",
    )
    probe.add_argument("--yes", action="store_true", help="go on without asking")
    probe.add_argument(
        "--no-store", action="store_true", help="print the findings only, store nothing in Redis"
    )
    check = commands.add_parser(
        "check",
        help="check the settings, the Telegram token, the model's endpoint, Redis and the "
        "webhook, one line each (exit 1 if any fails)",
    )
    check.add_argument(
        "--once",
        action="store_true",
        help="do nothing when a check passed before with the very same settings",
    )
    return parser


class FileInput:
    """The ``ask`` command's input: a file on disk."""

    def __init__(self, path: Path, max_bytes: int) -> None:
        self.path = path
        self.max_bytes = max_bytes

    async def fetch(self) -> bytes:
        from bot.errors import TooLarge

        size = await asyncio.to_thread(lambda: self.path.stat().st_size)
        if size > self.max_bytes:
            raise TooLarge(size, self.max_bytes)
        return await asyncio.to_thread(self.path.read_bytes)


class FileReplies:
    """The ``ask`` command's reply: the voice note to a file, the text to stdout, notices to
    stderr."""

    def __init__(self, output: Path) -> None:
        self.output = output

    @contextlib.asynccontextmanager
    async def progress(self, live: bool, stop: asyncio.Event) -> AsyncIterator[None]:
        yield

    def draft(self, text: str) -> None:
        """A terminal has no drafts: the text is printed once the answer is done."""

    async def send_reply(self, reply: Reply) -> None:
        if reply.voice:
            await asyncio.to_thread(self.output.write_bytes, reply.voice)
        print(reply.text)
        print(f"[voice note: {self.output} ({reply.voice_seconds:.1f} s)]", file=sys.stderr)

    async def send_notice(self, text: str) -> None:
        print(text, file=sys.stderr)


async def _ask(settings: Settings, args: argparse.Namespace) -> int:
    from bot.app import build_answering
    from bot.domain import Outcome, TurnJob
    from bot.i18n import Catalogue

    settings.require_realtime()
    overrides = {"default_voice": args.voice, "default_instructions": args.instructions}
    settings = settings.model_copy(update={k: v for k, v in overrides.items() if v})
    answering = build_answering(settings, Catalogue())
    job = TurnJob(
        chat_id=0,
        message_id=0,
        text=args.text,
        file_id=None if args.text is not None else str(args.file),
        media_kind="file",
    )
    outcome = await answering.answer(
        job,
        FileInput(args.file or Path(), settings.max_input_bytes),  # unread with --text
        FileReplies(args.output),
    )
    return 0 if outcome is Outcome.ANSWERED else 1


def _secrets(settings: Settings) -> list[str]:
    return [
        secret.get_secret_value()
        for secret in (
            settings.bot_token,
            settings.realtime_api_key,
            settings.yandex_iam_token,
            settings.webhook_secret,
        )
        if secret is not None
    ]


async def _probe(settings: Settings, args: argparse.Namespace) -> int:
    """The cost first, then (asked, or ``--yes``) the probe, its table, and its findings
    stored in Redis for the provider and model."""
    from urllib.parse import urlsplit

    from bot.app import prices_from
    from bot.realtime.probe import Unreachable, cost_line, format_report, probe
    from bot.realtime.providers import endpoint_from_settings, profile_for

    def scrub(text: str) -> str:
        for secret in _secrets(settings):
            if len(secret) >= 6:
                text = text.replace(secret, "***")
        return text

    endpoint = endpoint_from_settings(settings)
    profile = profile_for(settings)
    prices = prices_from(settings)
    provider, model = endpoint.provider, settings.realtime_model
    print(cost_line(provider, prices), flush=True)
    if not args.yes:
        if not sys.stdin.isatty():
            print("error: not a terminal: pass --yes to run the probe", file=sys.stderr)
            return 1
        try:
            answer = await asyncio.to_thread(input, "Go on? [y/N] ")
        except EOFError:
            answer = ""
        if answer.strip().lower() not in ("y", "yes"):
            print("Nothing probed.")
            return 1
    host = urlsplit(endpoint.url).hostname or "?"
    print(f"probing {provider} {model} at {host}", file=sys.stderr, flush=True)
    try:
        report = await probe(
            endpoint,
            profile,
            model=model,
            voice=settings.default_voice,
            transcription_model=settings.input_transcription_model,
            turn_detection=settings.turn_detection,
            on_step=lambda step: print(f"  {scrub(step)}", file=sys.stderr, flush=True),
        )
    except Unreachable as exc:
        print(f"error: {provider} cannot be reached: {scrub(str(exc))}", file=sys.stderr)
        return 1
    print(scrub(format_report(report)), flush=True)
    if args.no_store:
        return 0
    from bot.storage import keys
    from bot.storage.findings import ProviderFindings
    from bot.storage.redis import open_redis

    async with open_redis(settings.redis_url, settings.data_dir) as redis:
        await ProviderFindings(redis).put(report.traits)
    print(f"stored in Redis as {keys.probe_findings(provider, model)}")
    return 0


def default_worker_name(settings: Settings, command: str) -> str:
    """``WORKER_NAME``, else the host name and the kind of process ("bot" or "worker"): a bot and
    a worker on one host never share a consumer name (a restarted process takes back what its
    predecessor of the same name held, so two live processes must not share one)."""
    kind = "worker" if command == "worker" else "bot"
    return settings.worker_name or f"{socket.gethostname()}-{kind}"


async def _run(settings: Settings, command: str) -> int:
    from bot.run import run

    settings.require_telegram()
    settings = settings.model_copy(update={"worker_name": default_worker_name(settings, command)})
    settings.require_realtime()
    await run(settings, command)
    return 0


def _trim_after_full_collections() -> None:
    """After each full collection, glibc's ``malloc_trim`` returns the heap's free pages to the
    system; where the C library has no such call (musl, macOS) nothing is done."""
    path = ctypes.util.find_library("c")
    try:
        trim = ctypes.CDLL(path).malloc_trim if path else None
    except (OSError, AttributeError):
        trim = None
    if trim is None:
        return
    trim.argtypes = [ctypes.c_size_t]
    trim.restype = ctypes.c_int

    def after(phase: str, info: dict[str, int]) -> None:
        if phase == "stop" and info["generation"] == 2:
            trim(0)

    gc.callbacks.append(after)


def main(argv: list[str] | None = None) -> int:
    """Entry point of the console script and of ``python -m bot``."""
    args = _parser().parse_args(argv)  # --version ends here, having imported nothing
    from bot.config import Need, load_settings
    from bot.errors import BotError, ConfigError, InputError
    from bot.logging import SecretMask, setup_logging

    if args.command == "ask" and args.text is None:
        if args.file is None:
            print("error: give an audio file, or --text", file=sys.stderr)
            return 2
        if not args.file.is_file():
            print(f"error: no such file: {args.file}", file=sys.stderr)
            return 2
    if args.command == "check":
        from bot.check import main as check

        return check(webhook=args.webhook, once=args.once)
    # What the command needs is checked with the values' shapes: every problem in one list.
    needs: tuple[Need, ...] = ("telegram", "realtime")
    if args.command in ("ask", "probe"):
        needs = ("realtime",)
    try:
        settings = load_settings(needs=needs, **({"bot_mode": "webhook"} if args.webhook else {}))
    except ConfigError as exc:
        print(f"configuration error: {exc}", file=sys.stderr)
        return 2
    setup_logging(settings.log_level, settings.log_format, secrets=_secrets(settings))
    for notice in settings.notices:
        log.warning("settings: %s", notice)
    # The ~220k objects the imports made live as long as the process; a full collection walking
    # them took ~125-160 ms on a 2-core machine: an event-loop stall at a random moment of some
    # turn. Frozen, they are never walked again. The run commands import aiogram and most of the
    # bot (~190k of them) only inside _run, so they are imported here first, or the freeze
    # would miss them.
    tuned = os.environ.get("BOT_GC_TUNING") != "0"  # "0": as before (bench.memory_soak)
    if tuned and args.command in (None, "run", "worker"):
        importlib.import_module("bot.run")
    gc.collect()
    gc.freeze()
    if tuned:
        # A full collection comes once a quarter more objects than the last one kept have piled
        # up: against ~200k unfrozen, every few hundred turns, and glibc kept the pile's pages
        # (216 MiB idle, 300-350 MiB after 1,000 turns). A collection now resets that count to
        # the few left unfrozen, and a full collection at every second middle one (default:
        # tenth) comes every ~15 turns, walking ~20k objects; after each, glibc gives its free
        # heap pages back (without it the main heap still grew ~1.4 KiB a turn). 2,000 turns:
        # ~230 MiB, flat (python -m bench.memory_soak).
        gc.collect()
        gc.set_threshold(700, 2, 1)
        _trim_after_full_collections()
    try:
        if args.command == "ask":
            return asyncio.run(_ask(settings, args))
        if args.command == "probe":
            return asyncio.run(_probe(settings, args))
        return asyncio.run(_run(settings, args.command or "run"))
    except ConfigError as exc:
        # A network error's text may carry a URL with the token in it: masked like the log.
        print(f"configuration error: {SecretMask(_secrets(settings)).mask(str(exc))}",
              file=sys.stderr)  # fmt: skip
        return 2
    except InputError as exc:
        print(f"cannot answer this input: {exc.__class__.__name__}: {exc}", file=sys.stderr)
        return 1
    except BotError as exc:
        print(f"error: {exc.__class__.__name__}: {exc}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        return 130
