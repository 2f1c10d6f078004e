"""The voice samples' cache over a scripted session: people in several chats open the voice
studio and press ▶ on the voices and roles they are curious about (a few voices are tried far
more often than the rest), and the bot answers each press. Prints how many presses were played
from the cache (by Telegram file_id: no model session, no upload) against how many the model
had to make, and the time a press took either way.

The whole bot runs in this process (dispatcher, worker, a real redis-server) against the Bot
API and Realtime stand-ins, as the tests do.

    python -m bench.samples [--chats 6] [--presses 60] [--seed 1]
"""

from __future__ import annotations

import argparse
import asyncio
import random
import statistics
import sys
import time
from typing import Any

from bot.provider_profiles import PROFILES
from stand_ins.realtime import RealtimeStandIn, Scenario
from stand_ins.redis import RedisServer
from tests.bot_harness import RunningBot, running_bot
from tests.conftest import API_KEY

FIRST_CHAT = 7000


def _choices() -> tuple[list[tuple[str, str]], list[float]]:
    """Every (voice, role) a Yandex chat can hear, weighted as people try them: the voices
    listed first (the studio's top rows) and their default role far more often (1/rank)."""
    profile = PROFILES["yandex"]
    pairs = [(voice, role) for voice in profile.voices for role in ("", *profile.roles(voice)[1:])]
    return pairs, [1.0 / (rank + 1) for rank in range(len(pairs))]


async def _press(
    app: RunningBot, chat: int, message: dict[str, Any], pair: tuple[str, str]
) -> float:
    before = len([c for c in app.api.calls_of("sendVoice") if c.ok])
    started = time.perf_counter()
    app.api.push_callback(chat_id=chat, user_id=chat, data=f"vs:h:{pair[0]}:{pair[1]}",
                          message=message)  # fmt: skip
    await app.api.wait_for("sendVoice", count=before + 1, timeout=60, predicate=lambda c: c.ok)
    return time.perf_counter() - started


async def run(chats: int, presses: int, seed: int) -> dict[str, float]:
    rng = random.Random(seed)
    pairs, weights = _choices()
    server = RedisServer()
    server.start()
    try:
        async with RealtimeStandIn(api_key=API_KEY, profile="yandex") as realtime:
            realtime.scenario = Scenario(reply_text="sample", reply_seconds=4.0)
            async with running_bot(realtime, server.url) as app:
                pickers = {}
                for n in range(chats):
                    chat = FIRST_CHAT + n
                    app.api.push_message("text", chat_id=chat, user_id=chat, text="/voice")
                    calls = await app.api.wait_for("sendMessage", count=n + 1, timeout=20)
                    pickers[chat] = calls[n].result
                made_times: list[float] = []
                cached_times: list[float] = []
                for _ in range(presses):
                    chat = rng.choice(list(pickers))
                    pair = rng.choices(pairs, weights)[0]
                    sessions = len(realtime.sessions)
                    took = await _press(app, chat, pickers[chat], pair)
                    (made_times if len(realtime.sessions) > sessions else cached_times).append(took)
                uploads = sum(1 for c in app.api.calls_of("sendVoice") if c.ok and c.files)
    finally:
        server.stop()
    return {
        "presses": presses,
        "distinct": len(made_times),
        "cache": len(cached_times),
        "uploads": uploads,
        "sessions": len(made_times),
        "made_ms": statistics.median(made_times) * 1000 if made_times else 0.0,
        "cached_ms": statistics.median(cached_times) * 1000 if cached_times else 0.0,
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--chats", type=int, default=6)
    parser.add_argument("--presses", type=int, default=60)
    parser.add_argument("--seed", type=int, default=1)
    args = parser.parse_args(argv)
    figures = asyncio.run(run(args.chats, args.presses, args.seed))
    rate = figures["cache"] / figures["presses"]
    print(f"{args.presses} presses of ▶ in {args.chats} chats (seed {args.seed})")
    print(f"  from the cache (file_id): {figures['cache']:.0f}  hit rate {rate:.0%}, "
          f"median {figures['cached_ms']:.0f} ms a press")  # fmt: skip
    made, uploads = figures["sessions"], figures["uploads"]
    print(f"  made by the model:        {made:.0f}  model sessions, {uploads:.0f} uploads, "
          f"median {figures['made_ms']:.0f} ms a press")  # fmt: skip
    return 0


if __name__ == "__main__":
    sys.exit(main())
