"""``python -m bench.memory_form``: what memory costs per turn in each form, and how fast the
first and second turns are with the form the bot takes for Yandex.

Memory of six turns (Russian and English, as a family chat has) goes to the Realtime stand-in
as native items (user ``input_text`` + assistant ``output_text``, what OpenAI takes) and quoted
in one user item (what the bot sends Yandex, whose live service refuses assistant items). Text
input tokens are the stand-in's count: words of the instructions and of the client's text items
plus 4 per item (what roles and separators cost on real models); characters sent are counted
too. Latency: a first turn (no memory) and a second turn (with memory) through the real
pipeline, against the documented yandex profile (native items) and the field profile (quoted,
with the wait for the input's transcript that the live service may need), median of a few runs.
"""

from __future__ import annotations

import argparse
import asyncio
import statistics
import sys
import tempfile
import time
from pathlib import Path

import orjson

from bot.app import build_pipeline
from bot.config import load_settings
from bot.domain import HistoryItem, TurnInput, TurnResult, TurnSetup
from bot.realtime.protocol import quote_history
from bot.realtime.turn import TurnPipeline
from stand_ins.media import make
from stand_ins.realtime import RealtimeStandIn, Scenario

API_KEY = "bench-key"
TURNS = [
    ("Какая завтра погода в Казани?", "Завтра в Казани облачно, около плюс двенадцати."),
    ("А зонт брать?", "Да, после обеда возможен небольшой дождь, зонт лучше взять."),
    ("Напомни, как зовут нашего ветеринара?", "Вы говорили, что ветеринара зовут Анна Петровна."),
    ("What time does the pharmacy close?", "The pharmacy on Lenin Street closes at nine pm."),
    ("Запиши: купить корм для кошки.", "Записала: купить корм для кошки."),
    ("Сколько будет двенадцать процентов от двух тысяч?",
     "Двенадцать процентов от двух тысяч — двести сорок."),
]  # fmt: skip
HISTORY = tuple(
    item for q, a in TURNS for item in (HistoryItem("user", q), HistoryItem("assistant", a))
)


def _settings(server: RealtimeStandIn, **extra: object):
    return load_settings(
        realtime_provider="yandex", realtime_api_key=API_KEY, yandex_folder_id="bench",
        realtime_url=server.url + "?model=gpt://bench/speech-realtime-250923",
        redis_url="", bot_token=None, _env_file=None, **extra,
    )  # fmt: skip


async def _turn(
    pipeline: TurnPipeline, ogg: bytes, history: tuple[HistoryItem, ...]
) -> tuple[float, TurnResult]:
    async def fetch() -> bytes:
        return ogg

    started = time.perf_counter()
    result = await pipeline.run(
        TurnInput(fetch=fetch, label="bench"),
        TurnSetup("marina", "Отвечай кратко.", history=history),
    )
    return time.perf_counter() - started, result


async def _tokens(form: str, ogg: bytes, history: tuple[HistoryItem, ...]) -> tuple[int, int]:
    """(text input tokens the stand-in counted, bytes of the memory events sent)."""
    async with RealtimeStandIn(api_key=API_KEY, profile="yandex") as server:
        server.scenario = Scenario(reply_seconds=0.5)
        pipeline = build_pipeline(_settings(server))
        pipeline.adopt(form, 0.0)
        _, result = await _turn(pipeline, ogg, history)
        await server.wait_sessions(1)
        session = server.sessions[0]
    events = [e for e in session.client_events if e["type"] == "conversation.item.create"]
    return result.usage.input_text_tokens, sum(len(orjson.dumps(e)) for e in events)


async def _latency(
    profile: str, form: str, wait: float, ogg: bytes, runs: int
) -> tuple[float, float]:
    firsts, seconds = [], []
    async with RealtimeStandIn(
        api_key=API_KEY,
        profile=profile,
        max_creations_per_second=None,  # type: ignore[arg-type]
    ) as server:
        server.scenario = Scenario(reply_seconds=1.0)
        pipeline = build_pipeline(_settings(server))
        pipeline.adopt(form, wait)
        for _ in range(runs):
            firsts.append((await _turn(pipeline, ogg, ()))[0])
            seconds.append((await _turn(pipeline, ogg, HISTORY))[0])
    return statistics.median(firsts), statistics.median(seconds)


async def run(runs: int) -> None:
    with tempfile.TemporaryDirectory() as tmp:
        ogg = make(Path(tmp))["voice.ogg"].read_bytes()
        base_tokens, _ = await _tokens("items", ogg, ())
        native_tokens, native_chars = await _tokens("items", ogg, HISTORY)
        quoted_tokens, quoted_chars = await _tokens("quoted", ogg, HISTORY)
        native = await _latency("yandex", "items", 0.0, ogg, runs)
        quoted_now = await _latency("yandex", "quoted", 0.0, ogg, runs)
        quoted = await _latency("yandex-field", "quoted", 1.5, ogg, runs)
    quoted_text = quote_history(HISTORY)
    print(f"Memory of {len(TURNS)} turns ({len(HISTORY)} messages); quoted text is "
          f"{len(quoted_text)} characters")  # fmt: skip
    print(f"{'form':<30} {'text tokens in':>14} {'of it memory':>12} {'bytes sent':>11}")
    print(f"{'no memory':<30} {base_tokens:>14} {0:>12} {0:>11}")
    for label, tokens, sent in (
        ("native items (openai)", native_tokens, native_chars),
        ("one quoted user item (yandex)", quoted_tokens, quoted_chars),
    ):
        print(f"{label:<30} {tokens:>14} {tokens - base_tokens:>12} {sent:>11}")
    ratio = (quoted_tokens - base_tokens) / (native_tokens - base_tokens)
    print(f"memory in the quoted form costs {ratio:.2f}× the native items' tokens")
    print(f"\nLatency, median of {runs} (turn start → voice note encoded, stand-in at once):")
    print(f"{'path':<44} {'first turn':>10} {'second turn':>12}")
    print(
        f"{'yandex documented, native items, no wait':<44} {native[0]:>9.3f}s {native[1]:>11.3f}s"
    )
    print(f"{'yandex documented, quoted, no wait':<44} {quoted_now[0]:>9.3f}s "
          f"{quoted_now[1]:>11.3f}s")  # fmt: skip
    print(f"{'yandex field, quoted, transcript wait ≤1.5 s':<44} {quoted[0]:>9.3f}s "
          f"{quoted[1]:>11.3f}s")  # fmt: skip


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.memory_form", description=__doc__)
    parser.add_argument("--runs", type=int, default=5)
    args = parser.parse_args(argv)
    asyncio.run(run(args.runs))
    return 0


if __name__ == "__main__":
    sys.exit(main())
