"""``python -m bench.bot_process [--baseline]``: a bot process with measurements, for the bench.

Runs the bot (``bot.cli.main(["run"])``), or with ``--baseline`` the baseline bot, after wrapping
its codec work so the CPU it costs is counted apart from the rest:

- the bot: ``decode_chunks`` (in ``bot.audio.codec`` and as imported by ``bot.realtime.turn``)
  as decode (with the level check and base64 of each chunk, which run inside it);
  ``OggOpusEncoder.__init__``, ``feed`` and ``finish`` as encode (thread CPU time of
  the worker threads that run them). ``TurnPipeline.run`` is wrapped to keep each turn's stage
  marks, so the benchmark can place them on its own clock;
- the baseline: its ffmpeg children (decode or encode by their arguments) plus reading the
  converted WAV (decode) and writing the reply WAV (encode).

In both, aiogram's ``Dispatcher.feed_update`` notes when the dispatcher starts and finishes each
update, and an event-loop probe records stalls. The figures (`bench.instrument.Figures`) go to
the JSON file named by ``BENCH_FIGURES`` on SIGUSR1 and when the bot exits (after SIGTERM).
Nothing of this is used outside the bench.
"""

from __future__ import annotations

import argparse
import os
import signal
import time
from pathlib import Path
from typing import Any

from bench.instrument import FIGURES_ENV, Figures, install_probe, timed, timed_children


def instrument_dispatcher(figures: Figures) -> None:
    """Note when aiogram starts on each update (after getUpdates and parsing, before filters,
    middlewares and handlers), by chat."""
    from aiogram import Bot, Dispatcher
    from aiogram.types import Update

    feed = Dispatcher.feed_update

    async def feed_update(self: Dispatcher, bot: Bot, update: Update, **kwargs: Any) -> Any:
        chat = update.message.chat.id if update.message is not None else None
        if chat is not None:
            figures.update_seen(chat)
        try:
            return await feed(self, bot, update, **kwargs)
        finally:
            if chat is not None:
                figures.update_handled(chat)

    Dispatcher.feed_update = feed_update  # type: ignore[method-assign]


def instrument_bot(figures: Figures) -> None:
    import bot.audio.codec as codec
    import bot.realtime.turn as pipeline
    from bot.domain import TurnResult, TurnSetup

    decode = timed(figures, "decode", codec.decode_chunks)
    codec.decode_chunks = decode
    pipeline.decode_chunks = decode  # the name InputStream calls (in its worker thread)
    encoder = codec.OggOpusEncoder
    encoder.__init__ = timed(figures, "encode", encoder.__init__)  # type: ignore[method-assign]
    encoder.feed = timed(figures, "encode", encoder.feed)  # type: ignore[method-assign]
    encoder.finish = timed(figures, "encode", encoder.finish)  # type: ignore[method-assign]

    run = pipeline.TurnPipeline.run

    async def run_with_marks(
        self: pipeline.TurnPipeline,
        turn: pipeline.TurnInput,
        setup: TurnSetup | pipeline.SetupLoader,
    ) -> TurnResult:
        seen: list[TurnSetup] = []

        async def load() -> TurnSetup:
            chat = setup if isinstance(setup, TurnSetup) else await setup()
            seen.append(chat)
            return chat

        result = await run(self, turn, load)
        figures.turn(
            {
                "label": turn.label,
                "instructions": seen[0].instructions if seen else None,
                "start": result.marks.start,
                "at": dict(result.marks.at),
                "returned": time.perf_counter(),
            }
        )
        return result

    pipeline.TurnPipeline.run = run_with_marks  # type: ignore[method-assign]


def instrument_baseline(figures: Figures) -> None:
    from bench import baseline_bot

    def kind(*args: Any) -> str:
        return "encode" if "libopus" in args else "decode"

    baseline_bot.run_ffmpeg = timed_children(figures, kind, baseline_bot.run_ffmpeg)
    baseline_bot.read_wav = timed(figures, "decode", baseline_bot.read_wav)
    baseline_bot.write_wav = timed(figures, "encode", baseline_bot.write_wav)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.bot_process")
    parser.add_argument("--baseline", action="store_true", help="run the baseline bot instead")
    args = parser.parse_args(argv)
    path = os.environ.get(FIGURES_ENV)
    figures = Figures(Path(path) if path else None)
    # A snapshot asked for before the event loop runs is answered by the loop's handler later.
    signal.signal(signal.SIGUSR1, signal.SIG_IGN)
    install_probe(figures)
    instrument_dispatcher(figures)
    try:
        if args.baseline:
            from bench import baseline_bot

            instrument_baseline(figures)
            return baseline_bot.main()
        from bot.cli import main as bot_main

        instrument_bot(figures)
        return bot_main(["run"])
    finally:
        figures.write(final=True)


if __name__ == "__main__":
    raise SystemExit(main())
