"""The generic retry loop (``bot.retry.Attempts``): the waits it chooses, the tries it allows,
and what it logs."""

from __future__ import annotations

import asyncio
import logging

import pytest

from bot.retry import Attempts


class Flooded(Exception):
    def __init__(self, retry_after: float) -> None:
        super().__init__(f"retry after {retry_after}")
        self.retry_after = retry_after


class Broken(Exception):
    pass


def _retry_after(exc: BaseException) -> float | None:
    return exc.retry_after if isinstance(exc, Flooded) else None


def _any(exc: BaseException) -> bool:
    return isinstance(exc, Flooded | Broken)


def test_the_backoff_doubles_up_to_its_cap_or_grows_by_its_first_delay() -> None:
    doubling = Attempts("test", when=_any, first=0.5, most=3.0)
    assert [doubling.delay(n, Broken()) for n in range(5)] == [0.5, 1.0, 2.0, 3.0, 3.0]
    linear = Attempts("test", when=_any, first=0.3, linear=True)
    assert [linear.delay(n, Broken()) for n in range(4)] == pytest.approx([0.3, 0.6, 0.9, 1.2])
    # Forever failing: the doubling stops at the cap, never overflows.
    assert doubling.delay(100_000, Broken()) == 3.0


def test_jitter_spreads_each_wait_within_its_bounds() -> None:
    attempts = Attempts("test", when=_any, first=0.3, linear=True, jitter=0.5)
    for number in range(4):
        base = 0.3 * (number + 1)
        delays = [attempts.delay(number, Broken()) for _ in range(300)]
        assert all(0.5 * base <= d <= 1.5 * base for d in delays)
        assert max(delays) - min(delays) > 0.25 * base  # spread, not one value


def test_a_wait_the_server_names_replaces_the_backoff_as_it_is() -> None:
    attempts = Attempts("test", when=_any, first=0.5, most=1.0, jitter=0.5, after=_retry_after)
    assert attempts.delay(0, Flooded(30)) == 30  # neither capped nor spread
    assert 0.25 <= attempts.delay(0, Broken()) <= 0.75


async def test_the_server_named_wait_is_waited_and_logged(
    caplog: pytest.LogCaptureFixture,
) -> None:
    tries = 0
    loop = asyncio.get_running_loop()
    started = loop.time()
    with caplog.at_level(logging.INFO, logger="bot.retry"):
        async for attempt in Attempts(
            "sending failed", when=_any, first=10.0, after=_retry_after, level=logging.INFO
        ):
            with attempt:
                tries += 1
                if tries == 1:
                    raise Flooded(0.2)
    assert tries == 2
    assert 0.2 <= loop.time() - started < 5  # the server's 0.2 s, not the 10 s backoff
    (record,) = caplog.records
    assert record.levelno == logging.INFO
    assert record.getMessage() == (
        "sending failed (Flooded: retry after 0.2); trying again in 0.2 s"
    )


async def test_tries_end_with_the_last_failure_and_may_depend_on_its_kind(
    caplog: pytest.LogCaptureFixture,
) -> None:
    failures: list[Exception] = [Broken("a"), Flooded(0), Broken("b"), Broken("c")]
    seen: list[int] = []

    def tries(exc: BaseException) -> int:
        return 3 if isinstance(exc, Flooded) else 4

    async def run() -> None:
        async for attempt in Attempts(
            "step", when=_any, first=0.0, after=_retry_after, tries=tries
        ):
            with attempt:
                seen.append(attempt.number)
                raise failures[attempt.number]

    with caplog.at_level(logging.WARNING, logger="bot.retry"), pytest.raises(Broken, match="c"):
        await run()
    assert seen == [0, 1, 2, 3]  # a flood on the second try still allows it a third
    assert [r.getMessage().rsplit(";", 1)[1] for r in caplog.records] == [
        " try 2 of 4 in 0.0 s",
        " try 3 of 3 in 0.0 s",
        " try 4 of 4 in 0.0 s",
    ]

    failures[2] = Flooded(0)  # a flood on the third try: its three are used up
    seen.clear()
    with pytest.raises(Flooded):
        await run()
    assert seen == [0, 1, 2]


async def test_other_errors_and_cancellation_pass_at_once() -> None:
    tries = 0

    async def refused() -> None:
        nonlocal tries
        async for attempt in Attempts("step", when=_any, first=0.0):
            with attempt:
                tries += 1
                raise ValueError("not passing")

    with pytest.raises(ValueError, match="not passing"):
        await refused()
    assert tries == 1

    async def waiting() -> None:
        async for attempt in Attempts("step", when=_any, first=60.0):
            with attempt:
                raise Broken()

    task = asyncio.create_task(waiting())
    await asyncio.sleep(0.05)  # in its 60 s wait
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await asyncio.wait_for(task, 5)


async def test_a_level_per_failure_and_the_callers_logger(
    caplog: pytest.LogCaptureFixture,
) -> None:
    mine = logging.getLogger("tests.retry")
    failures: list[Exception] = [Flooded(0), Broken("x")]

    def level(exc: BaseException) -> int:
        return logging.DEBUG if isinstance(exc, Flooded) else logging.WARNING

    with caplog.at_level(logging.DEBUG, logger="tests.retry"):
        async for attempt in Attempts(
            "step", when=_any, first=0.0, after=_retry_after, level=level, logger=mine
        ):
            with attempt:
                if attempt.number < len(failures):
                    raise failures[attempt.number]
    assert [(r.name, r.levelno) for r in caplog.records] == [
        ("tests.retry", logging.DEBUG),
        ("tests.retry", logging.WARNING),
    ]
