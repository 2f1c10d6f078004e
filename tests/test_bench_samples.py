"""The samples benchmark runs: a short scripted session of ``python -m bench.samples``, where
every press is played either from the cache or made once, and each sample made is the one
upload."""

from __future__ import annotations

import asyncio

from bench import samples


def test_every_press_is_played_from_the_cache_or_made_once() -> None:
    figures = asyncio.run(samples.run(chats=2, presses=8, seed=4))
    assert figures["cache"] + figures["sessions"] == 8
    assert figures["sessions"] >= 1 and figures["uploads"] == figures["sessions"]
    # seed 4 presses two pairs twice: the second presses are the cache's
    assert figures["cache"] == 2
