"""Taking turns from the queue: a Redis Streams consumer group, per-chat order, crash recovery.

Each entry is delivered to one worker. A worker first takes back its own pending entries (a
restart after a crash resumes them at once), then new ones; an entry whose worker died is taken
over by another once it has been idle for the visibility timeout; a live worker keeps its
entries, locks and leases fresh with a heartbeat. A turn runs when one atomic step
(``TurnQueue.take``) finds it at the head of its chat's order gate, takes the chat's lock and a
session lease; after the answer is sent another (``TurnQueue.finish``) marks it done, frees
both and acknowledges the entry: a turn is answered again only if its worker dies between
sending and finishing. Every Redis call goes through ``bot.storage``.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import uuid
from collections.abc import Awaitable, Callable
from dataclasses import dataclass

from bot.domain import TurnJob
from bot.storage.retry import Attempts, is_failure, retrying
from bot.storage.turn_queue import Taken, TurnQueue

__all__ = ["TurnWorker", "WorkerOptions"]

log = logging.getLogger(__name__)

Handler = Callable[[TurnJob], Awaitable[None]]

# What ``TurnQueue.take`` says of a turn whose entry is queued but whose chat's order gate has
# no place for it: never "answered" (an answered turn's entry leaves with its done mark).
LOST_FROM_GATE = frozenset({"lost", "gone"})


@dataclass(frozen=True)
class WorkerOptions:
    name: str
    prefetch: int = 32  # entries held at once (most wait at their chat's gate or for a slot)
    visibility_timeout: float = 60.0
    shutdown_grace: float = 30.0
    max_deliveries: int = 5
    # A gate head that has not moved for this long is an orphan (its entry is gone: a Redis
    # that lost data in a crash), and is dropped so the chat's later turns can go on.
    orphan_after: float = 900.0
    gate_poll: float = 0.25
    slot_poll: float = 0.05


class TurnWorker:
    """Runs ``handler`` for each queued turn. ``handler`` must not raise for a failed turn (it
    tells the user); an exception it lets out is logged and the turn counts as finished."""

    def __init__(
        self,
        turn_queue: TurnQueue,
        handler: Handler,
        options: WorkerOptions,
        *,
        on_give_up: Handler | None = None,
    ) -> None:
        self._queue = turn_queue
        self._handler = handler
        self._on_give_up = on_give_up
        self.options = options
        self._tasks: dict[str, asyncio.Task[None]] = {}
        self._chat_events: dict[int, asyncio.Event] = {}
        self._held: dict[str, Taken] = {}  # entry id -> the lock and lease its turn holds
        # Tokens of this process start with it: a restarted worker (same name) knows its dead
        # predecessor's locks and leases and frees them at once.
        self.incarnation = f"{options.name}:{uuid.uuid4().hex[:12]}:"

    async def run(self, stop: asyncio.Event) -> None:
        """Take turns until ``stop`` is set, then finish those running (up to the grace time)."""
        await retrying(self._queue.ensure_group)
        freed = await retrying(
            self._queue.free_dead_incarnation, f"{self.options.name}:", self.incarnation
        )
        if freed:
            log.info("queue: freed %d session lease(s) of this worker's previous run", freed)
        heartbeat = asyncio.create_task(self._heartbeat(), name="queue-heartbeat")
        try:
            await self._take_entries(stop)
        finally:
            heartbeat.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await heartbeat
            await self._drain()

    async def _take_entries(self, stop: asyncio.Event) -> None:
        # First this worker's own pending entries (a restart resumes them), then new ones.
        own: str | None = "0"
        loop = asyncio.get_running_loop()
        next_claim = 0.0
        while not stop.is_set():
            if self.options.prefetch - len(self._tasks) <= 0:
                await asyncio.sleep(0.05)
                continue
            entries: list[tuple[str, dict[str, str], int]] = []
            room = 0
            # Any Redis failure is waited out here, and this loop sees ``stop`` meanwhile.
            async for attempt in Attempts("queue", first=1.0, most=1.0, when=is_failure, stop=stop):
                with attempt:
                    if attempt.again:
                        # A read whose answer was lost may have delivered entries to this
                        # consumer all the same: they are read again from its own pending ones.
                        own = "0"
                    room = self.options.prefetch - len(self._tasks)
                    if own is None and loop.time() >= next_claim:
                        next_claim = loop.time() + self.options.visibility_timeout / 4
                        await self._claim_abandoned(room)
                        room = self.options.prefetch - len(self._tasks)
                    if room > 0:
                        entries = await self._queue.read(
                            self.options.name, room, own=own, block_ms=500
                        )
            if room <= 0 or stop.is_set():
                continue
            if own is not None:
                own = entries[-1][0] if len(entries) >= room else None
                # Deleted entries come back empty; running ones are this worker's already.
                entries = [e for e in entries if e[1] and e[0] not in self._tasks]
                if entries:
                    log.info("queue: resuming %d turn(s) of this worker", len(entries))
            for entry_id, fields, deliveries in entries:
                # A turn that keeps killing its worker is set aside, resumed or taken over.
                self._start(entry_id, fields, give_up=deliveries > self.options.max_deliveries)

    async def _claim_abandoned(self, room: int) -> None:
        claimed = await self._queue.claim_abandoned(
            self.options.name, room, self.options.visibility_timeout
        )
        for entry_id, fields, deliveries in claimed:
            if entry_id in self._tasks:
                continue
            log.info("queue: took over turn %s (delivery %d)", entry_id, deliveries)
            self._start(entry_id, fields, give_up=deliveries > self.options.max_deliveries)

    def _start(self, entry_id: str, fields: dict[str, str], *, give_up: bool = False) -> None:
        if entry_id in self._tasks:
            return
        task = asyncio.create_task(
            self._process(entry_id, fields, give_up), name=f"turn-{entry_id}"
        )
        self._tasks[entry_id] = task
        task.add_done_callback(lambda _: self._tasks.pop(entry_id, None))

    async def _process(self, entry_id: str, fields: dict[str, str], give_up: bool) -> None:
        try:
            job = TurnJob.loads(fields["job"])
        except (KeyError, ValueError) as exc:
            log.error("queue: dropping malformed entry %s: %s", entry_id, exc)
            await retrying(self._queue.drop, entry_id)
            return
        taken = await self._take(job, entry_id)
        try:
            await self._run(job, taken, give_up)
        except asyncio.CancelledError:
            # Stopping mid-turn (or the turn was lost to another worker): the entry stays queued,
            # the chat's lock and the session lease, if still this take's, are freed.
            self._held.pop(entry_id, None)
            if taken is not None:
                await self._queue.release(taken)
            raise
        self._held.pop(entry_id, None)
        await retrying(self._queue.finish, job, entry_id, taken)
        event = self._chat_events.pop(job.chat_id, None)
        if event is not None:
            event.set()

    async def _run(self, job: TurnJob, taken: Taken | None, give_up: bool) -> None:
        if taken is None:
            log.info("queue: %s was already answered; not again", job.label)
        elif taken.state in LOST_FROM_GATE:
            # Its entry is here, so it was never finished: an evicting Redis (or one that lost
            # data) dropped its place in the chat's order. Answering it now could break the
            # chat's order, and dropping it would leave the user waiting for nothing.
            what = "order gate is gone" if taken.state == "lost" else "order gate lost this turn"
            log.error(
                "queue: %s: the chat's %s (Redis evicted or lost keys: see maxmemory-policy); "
                "not answered, the user is told",
                job.label,
                what,
            )
            if self._on_give_up is not None:
                await self._call(self._on_give_up, job)
        elif give_up:
            log.error("queue: giving up on %s after %d deliveries",
                      job.label, self.options.max_deliveries)  # fmt: skip
            if self._on_give_up is not None:
                await self._call(self._on_give_up, job)
        else:
            await self._call(self._handler, job)

    async def _take(self, job: TurnJob, entry_id: str) -> Taken | None:
        """Wait until the turn is the chat's next, its lock and a session lease are free, and
        take them; None when the turn was already answered (a duplicate entry); a take in a
        ``LOST_FROM_GATE`` state (holding nothing) when the gate no longer has the turn."""
        token = f"{self.incarnation}{entry_id}"
        lock_ms = int(self.options.visibility_timeout * 1000)
        loop = asyncio.get_running_loop()
        head_since: tuple[str, float] | None = None
        while True:
            taken = await retrying(
                self._queue.take,
                job,
                worker=f"{self.options.name}:",
                incarnation=self.incarnation,
                token=token,
                lock_ms=lock_ms,
            )
            if taken.state == "go":
                self._held[entry_id] = taken
                return taken
            if taken.state == "done":
                return None
            if taken.state in LOST_FROM_GATE:
                return taken
            if taken.state == "no_slot":
                await asyncio.sleep(self.options.slot_poll)
                continue
            if taken.state == "wait":
                now = loop.time()
                if head_since is None or head_since[0] != taken.head:
                    head_since = (taken.head, now)
                elif now - head_since[1] > self.options.orphan_after:
                    log.warning("queue: chat %s: dropping turn %s from the order gate (orphaned)",
                                job.chat_id, taken.head)  # fmt: skip
                    await retrying(self._queue.drop_from_gate, job.chat_id, taken.head)
                    continue
            event = self._chat_events.setdefault(job.chat_id, asyncio.Event())
            with contextlib.suppress(TimeoutError):
                async with asyncio.timeout(self.options.gate_poll):
                    await event.wait()

    async def _call(self, handler: Handler, job: TurnJob) -> None:
        try:
            await handler(job)
        except asyncio.CancelledError:
            raise
        except Exception:
            log.exception("queue: the handler of %s failed", job.label)

    async def _heartbeat(self) -> None:
        """Keep the entries, chat locks and session leases this worker holds from looking
        abandoned; stop a turn this worker lost (after a stall, another took it over)."""
        lock_ms = int(self.options.visibility_timeout * 1000)
        beat = min(lock_ms, self._queue.lease_ms) / 3000
        while True:
            await asyncio.sleep(beat)
            lost: list[str] = []
            # A failed beat is tried again a beat later, with what is held by then.
            async for attempt in Attempts(
                "queue heartbeat", first=beat, most=beat, when=is_failure
            ):
                with attempt:
                    held = {entry_id: self._held.get(entry_id) for entry_id in self._tasks}
                    lost = await self._queue.keep_alive(self.options.name, held, lock_ms)
            for entry_id in lost:
                task = self._tasks.get(entry_id)
                if task is not None and not task.done():
                    log.warning("queue: turn %s was taken over by another worker; stopping it",
                                entry_id)  # fmt: skip
                    task.cancel()

    async def _drain(self) -> None:
        if not self._tasks:
            return
        log.info("queue: finishing %d turn(s) in flight (up to %.0f s)",
                 len(self._tasks), self.options.shutdown_grace)  # fmt: skip
        tasks = list(self._tasks.values())
        _, pending = await asyncio.wait(tasks, timeout=self.options.shutdown_grace)
        for task in pending:
            task.cancel()
        for task in pending:
            with contextlib.suppress(asyncio.CancelledError):
                await task
        if pending:
            log.warning("queue: %d turn(s) left in the queue for the next start", len(pending))
