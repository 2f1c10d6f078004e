"""Taking turns from the queue: a Redis Streams consumer group, per-chat order, crash recovery.

Each entry is delivered to one worker (``XREADGROUP``). A worker first takes back its own
pending entries (a restart after a crash resumes them at once), then new ones; an entry whose
worker died is taken over by another once it has been idle for the visibility timeout
(``XAUTOCLAIM``); a live worker keeps its entries fresh with a heartbeat. Before running a turn
the worker waits at the chat's order gate until no earlier turn of that chat is unfinished, so
turns of one chat run one at a time in message order, on any worker. After the answer is sent
it writes the idempotency mark, then removes the entry: a turn is answered again only if the
worker dies between sending and marking.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import ParamSpec, TypeVar

from redis.asyncio import Redis
from redis.exceptions import RedisError, ResponseError

from bot.queue.jobs import TurnJob
from bot.storage import keys

__all__ = ["TurnWorker", "WorkerOptions"]

log = logging.getLogger(__name__)

DONE_MARK_SECONDS = 7 * 86_400
Handler = Callable[[TurnJob], Awaitable[None]]
_P = ParamSpec("_P")
_COMPARE_AND_DELETE = """
if redis.call('GET', KEYS[1]) == ARGV[1] then return redis.call('DEL', KEYS[1]) end
return 0
"""
_COMPARE_AND_EXPIRE = """
if redis.call('GET', KEYS[1]) == ARGV[1] then return redis.call('PEXPIRE', KEYS[1], ARGV[2]) end
return 0
"""
_T = TypeVar("_T")


@dataclass(frozen=True)
class WorkerOptions:
    name: str
    prefetch: int = 32  # entries held at once (most wait at their chat's gate or for a slot)
    visibility_timeout: float = 60.0
    shutdown_grace: float = 30.0
    max_deliveries: int = 5
    # A gate head that has not moved for this long is an orphan (its producer died between
    # the gate and the stream and Telegram never sent the update again).
    orphan_after: float = 900.0
    gate_poll: float = 0.25


class TurnWorker:
    """Runs ``handler`` for each queued turn. ``handler`` must not raise for a failed turn (it
    tells the user); an exception it lets out is logged and the turn counts as finished."""

    def __init__(
        self,
        redis: Redis,
        handler: Handler,
        options: WorkerOptions,
        *,
        on_give_up: Handler | None = None,
    ) -> None:
        self._redis = redis
        self._handler = handler
        self._on_give_up = on_give_up
        self.options = options
        self._tasks: dict[str, asyncio.Task[None]] = {}
        self._chat_events: dict[int, asyncio.Event] = {}
        self._locks: dict[str, str] = {}  # entry id -> chat lock key held for it
        self._compare_and_delete = redis.register_script(_COMPARE_AND_DELETE)
        self._compare_and_expire = redis.register_script(_COMPARE_AND_EXPIRE)
        self.running_turns = 0

    @property
    def held(self) -> int:
        return len(self._tasks)

    async def run(self, stop: asyncio.Event) -> None:
        """Take turns until ``stop`` is set, then finish those running (up to the grace time)."""
        await self._ensure_group()
        heartbeat = asyncio.create_task(self._heartbeat(), name="queue-heartbeat")
        try:
            await self._take(stop)
        finally:
            heartbeat.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await heartbeat
            await self._drain()

    async def _ensure_group(self) -> None:
        while True:
            try:
                await self._redis.xgroup_create(
                    keys.TURNS_STREAM, keys.TURNS_GROUP, id="0", mkstream=True
                )
                return
            except ResponseError as exc:
                if "BUSYGROUP" in str(exc):
                    return
                raise
            except (RedisError, OSError) as exc:
                log.warning("queue: Redis unavailable (%s); retrying", exc)
                await asyncio.sleep(1.0)

    async def _take(self, stop: asyncio.Event) -> None:
        # First this worker's own pending entries (a restart resumes them), then new ones.
        cursor: str | None = "0"
        loop = asyncio.get_running_loop()
        next_claim = 0.0
        while not stop.is_set():
            room = self.options.prefetch - len(self._tasks)
            if room <= 0:
                await asyncio.sleep(0.05)
                continue
            try:
                if cursor is None and loop.time() >= next_claim:
                    next_claim = loop.time() + self.options.visibility_timeout / 4
                    await self._claim_abandoned(room)
                    room = self.options.prefetch - len(self._tasks)
                    if room <= 0:
                        continue
                reply = await self._redis.xreadgroup(
                    keys.TURNS_GROUP,
                    self.options.name,
                    {keys.TURNS_STREAM: cursor or ">"},
                    count=room,
                    block=None if cursor else 500,
                )
            except (RedisError, OSError) as exc:
                log.warning("queue: Redis unavailable (%s); retrying", exc)
                await asyncio.sleep(1.0)
                if isinstance(exc, ResponseError) and "NOGROUP" in str(exc):
                    await self._ensure_group()
                continue
            entries = reply[0][1] if reply else []
            if cursor is not None:
                cursor = entries[-1][0] if len(entries) >= room else None
                entries = [e for e in entries if e[1]]  # deleted entries come back empty
                if entries:
                    log.info("queue: resuming %d turn(s) of this worker", len(entries))
            for entry_id, fields in entries:
                self._start(entry_id, fields)

    async def _claim_abandoned(self, room: int) -> None:
        reply = await self._redis.xautoclaim(
            keys.TURNS_STREAM,
            keys.TURNS_GROUP,
            self.options.name,
            min_idle_time=int(self.options.visibility_timeout * 1000),
            start_id="0-0",
            count=room,
        )
        claimed = reply[1] if len(reply) > 1 else []
        for entry_id, fields in claimed:
            if entry_id in self._tasks or not fields:
                continue
            deliveries = await self._deliveries(entry_id)
            log.info("queue: took over turn %s (delivery %d)", entry_id, deliveries)
            if deliveries > self.options.max_deliveries:
                self._start(entry_id, fields, give_up=True)
            else:
                self._start(entry_id, fields)

    async def _deliveries(self, entry_id: str) -> int:
        pending = await self._redis.xpending_range(
            keys.TURNS_STREAM, keys.TURNS_GROUP, min=entry_id, max=entry_id, count=1
        )
        return int(pending[0]["times_delivered"]) if pending else 1

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
            await self._retrying(self._ack, entry_id)
            return
        done_key = keys.turn_done(job.chat_id, job.message_id)
        await self._wait_turn_of(job)
        await self._lock_chat(job, entry_id)
        try:
            await self._run_once(job, done_key, give_up)
        finally:
            await self._retrying(self._release, keys.chat_running(job.chat_id), entry_id)
        await self._retrying(self._redis.zrem, keys.chat_order(job.chat_id), str(job.message_id))
        await self._retrying(self._ack, entry_id)
        event = self._chat_events.pop(job.chat_id, None)
        if event is not None:
            event.set()

    async def _run_once(self, job: TurnJob, done_key: str, give_up: bool) -> None:
        # Checked under the chat's lock: a duplicate entry of a turn just answered stops here.
        if await self._retrying(self._redis.exists, done_key):
            log.info("queue: %s was already answered; not again", job.label)
        else:
            if give_up:
                log.error("queue: giving up on %s after %d deliveries",
                          job.label, self.options.max_deliveries)  # fmt: skip
                if self._on_give_up is not None:
                    await self._call(self._on_give_up, job)
            else:
                self.running_turns += 1
                try:
                    await self._call(self._handler, job)
                finally:
                    self.running_turns -= 1
            await self._retrying(self._redis.set, done_key, "1", ex=DONE_MARK_SECONDS)

    async def _call(self, handler: Handler, job: TurnJob) -> None:
        try:
            await handler(job)
        except asyncio.CancelledError:
            raise
        except Exception:
            log.exception("queue: the handler of %s failed", job.label)

    async def _ack(self, entry_id: str) -> None:
        async with self._redis.pipeline(transaction=False) as pipe:
            pipe.xack(keys.TURNS_STREAM, keys.TURNS_GROUP, entry_id)
            pipe.xdel(keys.TURNS_STREAM, entry_id)
            await pipe.execute()

    async def _wait_turn_of(self, job: TurnJob) -> None:
        """Until no earlier turn of the chat is unfinished."""
        order_key = keys.chat_order(job.chat_id)
        member = str(job.message_id)
        loop = asyncio.get_running_loop()
        head_since: tuple[str, float] | None = None
        first = True
        while True:
            if first:
                # Heals an entry whose producer died between the gate and the stream.
                head = await self._retrying(self._join_gate, order_key, member, job.message_id)
                first = False
            else:
                head = await self._retrying(self._redis.zrange, order_key, 0, 0)
            if not head or head[0] == member:
                return
            now = loop.time()
            if head_since is None or head_since[0] != head[0]:
                head_since = (head[0], now)
            elif now - head_since[1] > self.options.orphan_after:
                log.warning("queue: chat %s: dropping turn %s from the order gate (orphaned)",
                            job.chat_id, head[0])  # fmt: skip
                await self._retrying(self._redis.zrem, order_key, head[0])
                continue
            event = self._chat_events.setdefault(job.chat_id, asyncio.Event())
            with contextlib.suppress(TimeoutError):
                async with asyncio.timeout(self.options.gate_poll):
                    await event.wait()

    async def _join_gate(self, order_key: str, member: str, score: int) -> list[str]:
        async with self._redis.pipeline(transaction=False) as pipe:
            pipe.zadd(order_key, {member: score}, nx=True)
            pipe.zrange(order_key, 0, 0)
            results = await pipe.execute()
        head: list[str] = results[1]
        return head

    async def _lock_chat(self, job: TurnJob, entry_id: str) -> None:
        """Take the chat's lock (one turn of a chat at a time, duplicates included)."""
        key = keys.chat_running(job.chat_id)
        ttl = int(self.options.visibility_timeout * 1000)
        while not await self._retrying(self._redis.set, key, entry_id, nx=True, px=ttl):
            if await self._retrying(self._redis.get, key) == entry_id:
                return  # ours already (this entry resumed after a restart)
            event = self._chat_events.setdefault(job.chat_id, asyncio.Event())
            with contextlib.suppress(TimeoutError):
                async with asyncio.timeout(self.options.gate_poll):
                    await event.wait()
        self._locks[entry_id] = key

    async def _release(self, key: str, entry_id: str) -> None:
        self._locks.pop(entry_id, None)
        await self._compare_and_delete(keys=[key], args=[entry_id])

    async def _heartbeat(self) -> None:
        """Keep the entries and chat locks this worker holds from looking abandoned."""
        ttl = int(self.options.visibility_timeout * 1000)
        while True:
            await asyncio.sleep(self.options.visibility_timeout / 3)
            ids = list(self._tasks)
            if not ids:
                continue
            try:
                await self._redis.xclaim(
                    keys.TURNS_STREAM, keys.TURNS_GROUP, self.options.name,
                    min_idle_time=0, message_ids=ids, justid=True,
                )  # fmt: skip
                for entry_id, key in list(self._locks.items()):
                    await self._compare_and_expire(keys=[key], args=[entry_id, ttl])
            except (RedisError, OSError) as exc:
                log.warning("queue: heartbeat failed: %s", exc)

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

    async def _retrying(
        self, call: Callable[_P, Awaitable[_T]], *args: _P.args, **kwargs: _P.kwargs
    ) -> _T:
        delay = 0.2
        while True:
            try:
                return await call(*args, **kwargs)
            except (RedisError, OSError) as exc:
                if isinstance(exc, ResponseError):
                    raise
                log.warning("queue: Redis unavailable (%s); retrying in %.1f s", exc, delay)
                await asyncio.sleep(delay)
                delay = min(delay * 2, 5.0)
