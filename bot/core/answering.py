"""Answering: the worker's side of a turn, from a queued job to the reply delivered.

The chat's settings and memory are read while the model's connection opens (the setup loader
gives the turn its ``TurnContext``); the model's turn runs (a ``TurnRunner``, tried again, up
to ``retries`` times with backoff, when it failed for a passing reason); the reply goes to the
``ReplySink`` (its delivery tried again on its own, so a reply that exists is never asked of the
model twice); memory and usage are written; every failure becomes one message in the user's
language (``bot.i18n.render``).

With tools (a ``ToolKitFactory``), the chat's enabled tools go to the model with the turn, the
text of the answer says what they did ("⏰ 18:40 — call mum") and lists the sources of a search.
A reminder that came due is a turn of its own: the model speaks it in the chat's voice, as a
reply to the message that asked for it.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass, field
from typing import Any, TypeVar

from bot import metrics
from bot.chat_options import OPTIONS, ChatOption, session_options, settings_from
from bot.core.ports import (
    ChatStatusStore,
    InputSource,
    LastAnswers,
    MemoryStore,
    OwnerAlerts,
    ReplySink,
    SettingsStore,
    SpokenStore,
    ToolKitFactory,
    TurnRunner,
    UsageStore,
)
from bot.core.voices import VoiceChoice
from bot.domain import (
    Budgets,
    ChatSettings,
    Defaults,
    HistoryItem,
    LastAnswer,
    Note,
    Outcome,
    Reply,
    TurnContext,
    TurnInput,
    TurnJob,
    TurnResult,
    TurnSetup,
    TurnUsage,
    budget_checks,
)
from bot.errors import (
    BotError,
    ChatUnreachable,
    ContextRejected,
    InputError,
    RealtimeAuthError,
    RealtimeConfigError,
    RealtimeConnectError,
    RealtimeConnectionLost,
    RealtimeError,
    RealtimeQuotaError,
    RealtimeResponseFailed,
    RealtimeServerError,
    RealtimeTimeout,
    SendFailed,
    StorageError,
    TurnStopped,
)
from bot.i18n import Catalogue, render
from bot.logging import turn_context
from bot.retry import Attempts

__all__ = ["Answering", "TurnStores"]

log = logging.getLogger(__name__)

RETRY_BASE_DELAY = 1.0
_T = TypeVar("_T")
# What the model is asked when a reminder is due (it answers in the reminder's language).
REMINDER_PROMPT = (
    "It is time for a reminder this chat asked you for earlier. Say it to them now, in one or "
    "two short, warm sentences, in the language of the reminder: «{text}»"
)
# The ``type`` of ``voicebot_realtime_errors_total`` for each failure of the model, the most
# particular first (a failure of a kind not named here counts as ``RealtimeError``).
REALTIME_ERROR_TYPES: tuple[tuple[type[RealtimeError], str], ...] = (
    (RealtimeAuthError, "RealtimeAuthError"),
    (RealtimeQuotaError, "RealtimeQuotaError"),
    (RealtimeConfigError, "RealtimeConfigError"),
    (RealtimeConnectError, "RealtimeConnectError"),
    (RealtimeConnectionLost, "RealtimeConnectionLost"),
    (RealtimeTimeout, "RealtimeTimeout"),
    (ContextRejected, "ContextRejected"),
    (RealtimeServerError, "RealtimeServerError"),
    (RealtimeResponseFailed, "RealtimeResponseFailed"),
)


@dataclass(frozen=True)
class TurnStores:
    """The chat's state a turn reads and writes."""

    settings_store: SettingsStore
    memory: MemoryStore
    ledger: UsageStore
    chat_status: ChatStatusStore
    budgets: Budgets = field(default_factory=Budgets)  # a due reminder over them: text only
    owners: frozenset[int] = frozenset()  # exempt from budgets
    last_answers: LastAnswers | None = None  # each chat's last answer, for /again
    spoken: SpokenStore | None = None  # each person's last language, for a voice note's voice


class Answering:
    """Answers queued turns. Without ``stores`` (the ``ask`` command) every turn uses the
    defaults and nothing is remembered or counted."""

    def __init__(
        self,
        pipeline: TurnRunner,
        catalogue: Catalogue,
        *,
        defaults: Defaults,
        stores: TurnStores | None = None,
        retries: int = 2,
        retry_delay: float = RETRY_BASE_DELAY,
        deadline: float = 150.0,
        slow_after: float = 33.0,
        live_default: bool = True,
        tools: ToolKitFactory | None = None,
        alerts: OwnerAlerts | None = None,
        options: Sequence[ChatOption[Any]] = OPTIONS,
        voices: VoiceChoice | None = None,
    ) -> None:
        self.pipeline = pipeline
        self.catalogue = catalogue
        self.defaults = defaults
        self.stores = stores
        self.retries = retries
        self.retry_delay = retry_delay
        self.deadline = deadline
        self.slow_after = slow_after
        self.live_default = live_default
        self.tools = tools
        self.alerts = alerts  # set by the adapter that can reach the owners
        self.options = tuple(options)  # the chat settings' declarations: the voice options
        self.voices = voices  # a voice per language, where the chat keeps several

    async def answer(self, job: TurnJob, source: InputSource, sink: ReplySink) -> Outcome:
        """Answer ``job``; returns the outcome (answered, stopped, skipped, refused, failed).
        Never raises for a failed turn: the user is told."""
        token = turn_context.set(job.label)
        try:
            outcome = await self._answer(job, source, sink)
        finally:
            turn_context.reset(token)
        metrics.TURNS.labels(outcome=outcome).inc()
        return outcome

    async def give_up(self, job: TurnJob, sink: ReplySink) -> None:
        """A turn that kept failing (its worker died every time): tell the user once (what it
        held on its budgets is let go)."""
        metrics.TURNS.labels(outcome=Outcome.ABANDONED).inc()
        await self._release(job)
        await sink.send_notice(render(self.catalogue, job.lang, BotError()))

    async def _answer(self, job: TurnJob, source: InputSource, sink: ReplySink) -> Outcome:
        if job.kind == "reminder" and await self._over_budget(job):
            # Said by the model it would cost what the budget no longer allows: written.
            try:
                await self._with_retries(lambda: sink.send_reply(Reply(b"", 0.0, f"⏰ {job.text}")))
            except ChatUnreachable as exc:
                log.info("skipping the reminder: %s", exc)
                await self._release(job)
                return Outcome.SKIPPED
            except Exception as exc:
                return await self._fail(job, sink, exc)
            log.info("reminder sent as text: a budget is used up")
            await self._release(job)
            return Outcome.ANSWERED
        stop = asyncio.Event()
        # Downloaded once per turn, however many tries the model needs.
        fetch = fetch_once(source.fetch) if job.file_id else None
        text = REMINDER_PROMPT.format(text=job.text) if job.kind == "reminder" else job.text
        told: list[asyncio.Task[None]] = []
        slow = asyncio.get_running_loop().call_later(
            self.slow_after, _tell_slow, self.catalogue, job, sink, told
        )
        try:
            try:
                async with asyncio.timeout(self.deadline):
                    result, context = await self._with_retries(
                        lambda: self._run_model(job, fetch, text, sink, stop)
                    )
            except TimeoutError:
                raise RealtimeTimeout(f"no answer within {self.deadline:.0f} s") from None
            finally:
                slow.cancel()
                for notice in told:
                    await notice  # the slow notice is sent before the outcome edits it
            text = self._text(job, context, result)
            if result.stopped or context.setup.text_only:
                # What the user saw streamed stays, as a message: no voice note of an answer
                # they stopped (the draft would vanish once anything is sent). A turn asked in
                # text only is answered in text (any audio a provider made anyway is dropped).
                reply = Reply(b"", 0.0, text)
            elif context.settings.answer == "voice":
                # The voice note alone: under it only what is not the answer's words (what was
                # heard, when shown; what the tools did).
                reply = Reply(
                    result.voice,
                    result.voice_seconds,
                    self._text(job, context, result, answer=False),
                    fallback=text,
                )
            else:
                reply = Reply(result.voice, result.voice_seconds, text)
            started = time.perf_counter()
            acted = bool(context.tools and context.tools.summary())  # a stopped turn's did act
            voice_id = None
            delivered = bool(reply.voice or result.text or acted)
            if delivered:
                voice_id = await self._with_retries(lambda: sink.send_reply(reply))
            if told:
                await sink.send_notice(self.catalogue.get(job.lang, "slow-model-done"))
        except ChatUnreachable as exc:
            log.info("skipping the turn: %s", exc)
            await self._release(job)
            return Outcome.SKIPPED
        except TurnStopped as exc:
            log.info("the user stopped the turn: %s", exc)
            await self._release(job)
            return Outcome.STOPPED
        except Exception as exc:
            return await self._fail(job, sink, exc)
        _observe(result, upload=time.perf_counter() - started)
        if delivered:
            again = self._text(job, context, result, heard=False)
            await self._keep(
                job, LastAnswer(again, voice_id, reply.voice_seconds if voice_id else 0.0)
            )
        await self._remember(job, context.settings, result)
        return Outcome.STOPPED if result.stopped else Outcome.ANSWERED

    async def _run_model(
        self,
        job: TurnJob,
        fetch: Callable[[], Awaitable[bytes]] | None,
        text: str | None,
        sink: ReplySink,
        stop: asyncio.Event,
    ) -> tuple[TurnResult, TurnContext]:
        """One try of the model: the turn, and the chat's context its setup loader read."""
        loaded: asyncio.Future[TurnContext] = asyncio.get_running_loop().create_future()

        def draft(so_far: str) -> None:
            # The live draft shows what the tools did too, as the answer will.
            tools = loaded.result().tools if loaded.done() else None
            summary = tools.summary() if tools is not None else ""
            sink.draft(f"{so_far}\n\n{summary}" if summary else so_far)

        turn = TurnInput(fetch=fetch, text=text, label=job.label, on_text=draft, stop=stop)
        async with contextlib.AsyncExitStack() as progress:

            async def setup() -> TurnSetup:
                context = await self._load(job, sink, stop, progress)
                loaded.set_result(context)
                return context.setup

            result = await self.pipeline.run(turn, setup)
        return result, loaded.result()

    async def _load(
        self,
        job: TurnJob,
        sink: ReplySink,
        stop: asyncio.Event,
        progress: contextlib.AsyncExitStack,
    ) -> TurnContext:
        """The turn's setup loader, called once the model's connection is open: the chat's
        settings, memory, notes and tools, and from then on the progress the chat sees."""
        settings, history, notes = await self._read_state(job)
        voice = await self._voice(job, settings)
        instructions = settings.instructions
        tools = None
        context = ""
        if self.tools is not None and job.kind == "message":
            tools = self.tools.prepare(job, settings, notes)
        if tools is not None:
            instructions = f"{instructions}\n\n{tools.instructions}"
            context = tools.context  # the chat's notes: a user item, not instructions
        # Shown once the chat's choice is known (right after the model's connection opens):
        # drafts or a reaction with live answers on, "recording voice…" else. A reminder is no
        # answer being made for someone waiting: no drafts.
        live = settings.live if settings.live is not None else self.live_default
        live = live and job.kind == "message"
        await progress.enter_async_context(sink.progress(live, stop))
        voice_options = session_options(settings, self.options)
        # A typed question in a chat that takes text for text: the model is asked for text only.
        text_only = settings.answer == "text_for_text" and job.kind == "message" and not job.file_id
        setup = TurnSetup(voice, instructions, history, tools, context, voice_options, text_only)
        return TurnContext(settings=settings, setup=setup, tools=tools)

    async def _voice(self, job: TurnJob, settings: ChatSettings) -> str:
        """The turn's voice: the chat's, or the one it keeps for the turn's language (the one it
        listens for; a typed text's own; the language the person spoke last). Nothing more is
        read or guessed for a chat that keeps one voice."""
        choice = self.voices
        if choice is None or not choice.follows(settings):
            return settings.voice
        language = choice.fixed(settings)
        if language is None and job.text and not job.file_id:
            # In a thread: the first guess of a process loads the model (about a second).
            language = await asyncio.to_thread(choice.language_of, job.text, settings)
        spoken = self.stores.spoken if self.stores is not None else None
        if language is None and spoken is not None and job.payer is not None:
            language = await spoken.last(job.chat_id, job.payer)
        voice = choice.voice_for(settings, language)
        if voice != settings.voice:
            metrics.VOICE_FOLLOWED.inc()
            log.info("answering %s in %s's voice %s", job.label, language, voice)
        return voice

    async def _read_state(
        self, job: TurnJob
    ) -> tuple[ChatSettings, tuple[HistoryItem, ...], list[Note] | None]:
        """The chat's settings, memory and notes."""
        if self.stores is None:
            return settings_from({}, self.defaults, self.options), (), []
        stores = self.stores
        # Read together, once the model's connection is open (the server is creating the session).
        tools = self.tools if job.kind == "message" else None  # a reminder uses no tools
        blocked_since, settings, history, notes = await asyncio.gather(
            stores.chat_status.blocked_since(job.chat_id),
            stores.settings_store.get(job.chat_id),
            stores.memory.history(job.chat_id),
            tools.read_notes(job.chat_id) if tools is not None else _nothing(),
        )
        if blocked_since is not None:
            if blocked_since >= job.enqueued_at:
                raise ChatUnreachable("the chat blocked or removed the bot")
            # They wrote after blocking: they unblocked the bot.
            await stores.chat_status.mark_reachable(job.chat_id)
        return settings, history if settings.memory and job.kind == "message" else (), notes

    async def _over_budget(self, job: TurnJob) -> bool:
        """A budget of the payer or chat, or the bot's spend cap, is used up (reminders are not
        admitted when due, so their turn checks here; one charged when it was set holds its
        share already, which is not counted against it)."""
        stores = self.stores
        if stores is None or job.user_id in stores.owners:
            return False
        budgets = budget_checks(stores.budgets, job.chat_id, job.payer)
        try:
            return await stores.ledger.used_up(budgets, own=job) is not None
        except StorageError as exc:
            log.warning("cannot read the budgets (%s); the reminder is spoken", exc)
            return False

    async def _with_retries(self, step: Callable[[], Awaitable[_T]]) -> _T:
        async for attempt in Attempts(
            "turn failed",
            when=_transient,
            first=self.retry_delay,
            tries=self.retries + 1,
            logger=log,
        ):
            with attempt:
                return await step()
        raise AssertionError("Attempts with a limit end in success or the last failure")

    def _text(
        self,
        job: TurnJob,
        context: TurnContext,
        result: TurnResult,
        *,
        answer: bool = True,
        heard: bool = True,
    ) -> str:
        """The reply's text: what was heard (when the chat shows it and ``heard``), the answer's
        words (with ``answer``), what the tools did."""
        parts = [result.text if answer else ""]
        if job.kind == "reminder":
            parts.insert(0, f"⏰ {job.text}")
        said = self._heard(job, result) if heard else ""
        if said and job.file_id and context.settings.shows_transcript(job.chat_type):
            parts.insert(0, self.catalogue.get(job.lang, "heard", text=said))
        if context.tools is not None:
            parts.append(context.tools.summary())  # what the tools did, and the sources
        return "\n\n".join(part for part in parts if part).strip()

    def _heard(self, job: TurnJob, result: TurnResult) -> str:
        return result.input_transcript if job.file_id else (job.text or "")

    async def _keep(self, job: TurnJob, answer: LastAnswer) -> None:
        """The chat's last answer, for /again (never fails the turn: the store logs)."""
        if self.stores is not None and self.stores.last_answers is not None and answer.text:
            await self.stores.last_answers.keep(job.chat_id, answer)

    async def _remember(self, job: TurnJob, chat: ChatSettings, result: TurnResult) -> None:
        if self.stores is None:
            return
        await self._keep_language(job, chat, result)
        if chat.memory and job.kind == "message":
            heard = self._heard(job, result)
            question = heard or self.catalogue.get(job.lang, "memory-voice-without-transcript")
            await self.stores.memory.remember(job.chat_id, question, result.text)
        # What it used counts, and what it held on its budgets since admission goes: one step.
        await self.stores.ledger.record(
            job.chat_id,
            job.payer,
            TurnUsage(result.input_seconds, result.output_seconds, result.usage),
            settles=job,
        )

    async def _keep_language(self, job: TurnJob, chat: ChatSettings, result: TurnResult) -> None:
        """The language the person spoke in this turn, for the voice of their next voice note
        (only where the chat keeps voices for several languages)."""
        stores, choice = self.stores, self.voices
        if stores is None or stores.spoken is None or choice is None or job.payer is None:
            return
        if job.kind != "message" or not choice.follows(chat):
            return
        language = await asyncio.to_thread(choice.language_of, self._heard(job, result), chat)
        if language is not None:
            await stores.spoken.keep(job.chat_id, job.payer, language)

    async def _fail(self, job: TurnJob, sink: ReplySink, exc: Exception) -> Outcome:
        if self.stores is not None:
            await self.stores.ledger.record(
                job.chat_id, job.payer, TurnUsage(failed=True), settles=job
            )
        if isinstance(exc, RealtimeError):
            metrics.REALTIME_ERRORS.labels(type=_error_type(exc)).inc()
        outcome = Outcome.FAILED
        if isinstance(exc, InputError):
            log.info("turn refused: %s: %s", exc.__class__.__name__, exc)
            outcome = Outcome.REFUSED
        elif isinstance(exc, RealtimeConfigError):
            log.error("turn failed: RealtimeConfigError: %s (the speech model refused the "
                      "configuration: check %s)", exc, exc.setting)  # fmt: skip
            await self._tell_owners("config", "owner-alert-config", detail=str(exc),
                                    setting=exc.setting)  # fmt: skip
        elif isinstance(exc, RealtimeAuthError):
            log.error("turn failed: RealtimeAuthError: %s (the speech model refused the key: "
                      "check REALTIME_API_KEY or YANDEX_IAM_TOKEN)", exc)  # fmt: skip
            await self._tell_owners("auth", "owner-alert-auth", detail=str(exc))
        elif isinstance(exc, SendFailed):
            log.warning("turn failed on the chat's side: %s", exc)
        elif isinstance(exc, BotError):
            log.warning("turn failed: %s: %s", exc.__class__.__name__, exc)
        else:
            log.error("turn failed unexpectedly", exc_info=exc)
        await sink.send_notice(render(self.catalogue, job.lang, exc))
        return outcome

    async def _release(self, job: TurnJob) -> None:
        """The turn ended with nothing to count: what it held on its budgets goes."""
        if self.stores is not None:
            await self.stores.ledger.release(job)

    async def _tell_owners(self, kind: str, key: str, **args: object) -> None:
        """Owners hear of it once a day, in both languages (theirs is not known)."""
        if self.alerts is None:
            return
        text = "\n\n".join(self.catalogue.get(lang, key, **args) for lang in ("ru", "en"))
        await self.alerts.tell_owners(kind, text)


async def _nothing() -> list[Note]:
    return []


def _transient(exc: BaseException) -> bool:
    """A failure of the turn that trying it again may mend."""
    return isinstance(exc, BotError) and exc.transient


def _error_type(exc: RealtimeError) -> str:
    """The failure's ``type`` label (``REALTIME_ERROR_TYPES``)."""
    for kind, label in REALTIME_ERROR_TYPES:
        if isinstance(exc, kind):
            return label
    return "RealtimeError"


def fetch_once(fetch: Callable[[], Awaitable[bytes]]) -> Callable[[], Awaitable[bytes]]:
    """The input downloaded once, however many tries the turn takes (a failed download is tried
    again)."""
    data: list[bytes] = []

    async def cached() -> bytes:
        if not data:
            data.append(await fetch())
        return data[0]

    return cached


def _tell_slow(
    catalogue: Catalogue, job: TurnJob, sink: ReplySink, told: list[asyncio.Task[None]]
) -> None:
    """The model has not answered after a while: say so now (the outcome edits this notice)."""
    log.info("the model is slow; telling the user")
    text = catalogue.get(job.lang, "slow-model")
    told.append(asyncio.create_task(sink.send_notice(text), name="slow-notice"))


def _observe(result: TurnResult, *, upload: float) -> None:
    stages = {
        "download": result.marks.span_from_start("downloaded"),
        "decode": result.marks.span("downloaded", "decoded"),
        "model": result.marks.span("response_create", "response_done"),
        "encode": result.marks.span("response_done", "encoded"),
        "upload": upload,
    }
    for stage, seconds in stages.items():
        if seconds is not None:
            metrics.TURN_STAGE_SECONDS.labels(stage=stage).observe(seconds)
