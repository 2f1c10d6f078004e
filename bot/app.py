"""The composition root: every service built from the settings, once, in one place.

The Telegram bot, the workers and the ``ask`` command all get their core from here, so they
answer a turn the same way. The core (``bot.core``) gets every store and service it uses as an
object that fits one of its ports (``bot.core.ports``): this is the one place both sides meet.
Nothing here imports aiogram or redis; ``bot.run`` adds Telegram on top.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass

from bot.config import Settings
from bot.core.admission import Admission, AdmissionRules
from bot.core.answering import Answering, TurnStores
from bot.core.samples import VoiceSamples
from bot.core.voices import VoiceChoice
from bot.domain import Budgets, Defaults, Limits, Prices, ProviderTraits, ReminderCharge, TurnJob
from bot.errors import StorageError
from bot.i18n import Catalogue
from bot.language import guess_language
from bot.queue.clock import ReminderClock
from bot.queue.worker import Handler, TurnWorker, WorkerOptions
from bot.realtime.client import RealtimeClient
from bot.realtime.providers import PROFILES, endpoint_from_settings, live_path, profile_for
from bot.realtime.turn import TurnOptions, TurnPipeline
from bot.storage.admins import AdminCache
from bot.storage.chat_settings import ChatSettingsStore
from bot.storage.chat_status import ChatStatus
from bot.storage.connection import Connection
from bot.storage.findings import ProviderFindings
from bot.storage.last_answer import LastAnswerStore
from bot.storage.memory import ConversationMemory
from bot.storage.notes import NotesStore
from bot.storage.queue_admission import QueueAdmission
from bot.storage.reminders import ReminderStore
from bot.storage.spoken import SpokenLanguages
from bot.storage.stops import StopBus
from bot.storage.tool_quota import ToolQuota
from bot.storage.turn_queue import TurnQueue
from bot.storage.usage import UsageLedger
from bot.storage.voice_samples import VoiceSampleStore
from bot.tools import ToolKit
from bot.tools.search import SearxSearch

__all__ = [
    "Services",
    "adopt_findings",
    "build_answering",
    "build_clock",
    "build_pipeline",
    "build_services",
    "build_tool_kit",
    "build_worker",
    "defaults_from",
    "limits_from",
]

log = logging.getLogger(__name__)


@dataclass
class Services:
    """Long-lived services of one process; the Telegram side hands them to handlers by name."""

    settings: Settings
    catalogue: Catalogue
    redis: Connection
    settings_store: ChatSettingsStore
    chat_status: ChatStatus
    admins: AdminCache
    memory: ConversationMemory
    ledger: UsageLedger
    turn_queue: TurnQueue
    admission: Admission
    answering: Answering
    stop_bus: StopBus
    notes: NotesStore
    reminders: ReminderStore
    tool_kit: ToolKit
    pipeline: TurnPipeline  # the answering's, which takes the path the probe's findings fit
    search: SearxSearch | None = None
    last_answers: LastAnswerStore | None = None  # each chat's last answer (/again)
    spoken: SpokenLanguages | None = None  # each person's last language (a voice per language)
    voice_samples: VoiceSamples | None = None  # the voice picker's samples

    async def close(self) -> None:
        """Free what the services hold besides Redis (the search back end's connections)."""
        if self.search is not None:
            await self.search.close()


def limits_from(settings: Settings) -> Limits:
    return Limits(
        max_seconds=settings.max_input_seconds,
        max_bytes=settings.max_input_bytes,
        silence_dbfs=settings.silence_threshold_dbfs,
    )


def defaults_from(settings: Settings) -> Defaults:
    return Defaults(voice=settings.default_voice, instructions=settings.default_instructions)


def build_pipeline(settings: Settings) -> TurnPipeline:
    """The turn pipeline for these settings, as the provider's profile allows."""
    profile = profile_for(settings)
    # Until the probe's findings are read (bot.run), the path that works either way.
    path = live_path(profile, None)
    client = RealtimeClient(
        endpoint_from_settings(settings),
        connect_timeout=settings.connect_timeout,
        event_timeout=settings.event_timeout,
        sessions_per_second=profile.sessions_per_second,
        tool_calls_per_response=settings.tool_calls_per_response,
    )
    return TurnPipeline(
        client,
        limits=limits_from(settings),
        options=TurnOptions(
            output_rate=settings.output_sample_rate or profile.default_output_rate,
            turn_detection=settings.turn_detection,
            output_modalities=profile.output_modalities,
            turn_timeout=settings.turn_timeout,
            transcription_model=settings.input_transcription_model,
            tool_timeout=settings.tool_timeout,
            tool_rounds=settings.tool_rounds,
            max_pause=settings.max_pause_seconds,
            vad_silence_ms=settings.vad_silence_ms,
            history_form=path.history_form,
            await_transcript=path.await_transcript,
            # A turn reserves this long a reply against the budgets: it is never longer.
            max_reply_seconds=settings.max_reply_seconds,
            profile=profile,
        ),
    )


def prices_from(settings: Settings) -> Prices:
    """The prices of the model answering (``REALTIME_MODEL``, as its provider's profile lists
    them), each ``PRICE_*`` setting given replacing its own."""
    model = PROFILES[settings.realtime_provider].prices(settings.realtime_model)

    def given(setting: float | None, published: float) -> float:
        return published if setting is None else setting

    return Prices(
        input_per_minute=given(settings.price_input_audio_per_minute, model.input_per_minute),
        output_per_minute=given(settings.price_output_audio_per_minute, model.output_per_minute),
        currency=settings.price_currency or model.currency,
        text_input_per_1k=given(settings.price_input_text_per_1k, model.text_input_per_1k),
        text_output_per_1k=given(settings.price_output_text_per_1k, model.text_output_per_1k),
    )


def build_answering(
    settings: Settings,
    catalogue: Catalogue,
    stores: TurnStores | None = None,
    tools: ToolKit | None = None,
    pipeline: TurnPipeline | None = None,
) -> Answering:
    """The worker's side of a turn; without ``stores`` (no Redis) chats get the defaults, and
    without ``tools`` the model only talks. ``pipeline``: the one built for these settings
    unless given."""
    return Answering(
        pipeline or build_pipeline(settings),
        catalogue,
        defaults=defaults_from(settings),
        stores=stores,
        retries=settings.turn_retries,
        deadline=settings.turn_deadline,
        # A hung model is noticed after EVENT_TIMEOUT of silence: the user hears of it then.
        slow_after=settings.event_timeout + 3,
        live_default=settings.live_answers,
        tools=tools,
        voices=voice_choice(settings),
    )


def voice_choice(settings: Settings) -> VoiceChoice:
    """The provider's voices by language, and the language guess that picks among them."""
    return VoiceChoice(PROFILES[settings.realtime_provider].voice_languages, guess_language)


def build_tool_kit(
    settings: Settings,
    notes: NotesStore,
    reminders: ReminderStore,
    search: SearxSearch | None,
    *,
    quota: ToolQuota | None = None,
    charge: Callable[[TurnJob], ReminderCharge | None] | None = None,
) -> ToolKit:
    """The tools; ``charge`` says what setting a reminder costs the turn's payer (admission's
    rules: ``AdmissionRules.reminder_charge``), ``quota`` counts each person's reminders a day."""
    return ToolKit(
        notes=notes,
        reminders=reminders,
        search=search,
        provider_search=profile_for(settings).web_search,
        disabled=settings.tools_disabled,
        default_timezone=settings.default_timezone,
        reminders_per_turn=settings.reminders_per_turn,
        reminders_per_user_day=settings.reminders_per_user_day,
        searches_per_turn=settings.searches_per_turn,
        quota=quota,
        charge=charge,
    )


class _AnsweringsOwners:
    """Admission's way to the owners: the one the answering side was given
    (``Answering.alerts``, set by the adapter that can reach them, ``bot.run``), so the
    receiver tells them the same way, once a day per kind, without a wiring of its own."""

    def __init__(self, answering: Answering) -> None:
        self._answering = answering

    async def tell_owners(self, kind: str, text: str) -> None:
        alerts = self._answering.alerts
        if alerts is None:
            log.warning("no way to tell the owners yet: %s", kind)
            return
        await alerts.tell_owners(kind, text)


def build_services(settings: Settings, redis: Connection) -> Services:
    catalogue = Catalogue()
    settings_store = ChatSettingsStore(redis, defaults_from(settings))
    chat_status = ChatStatus(redis)
    memory = ConversationMemory(redis, turns=settings.memory_turns, ttl=settings.memory_ttl)
    prices = prices_from(settings)
    ledger = UsageLedger(redis, prices)
    # The session cap is global: every worker on this Redis shares its leases.
    turn_queue = TurnQueue(redis, session_cap=settings.max_concurrent_turns)
    budgets = Budgets(**{name: getattr(settings, name) for name in Budgets.__dataclass_fields__})
    rules = AdmissionRules(
        limits=limits_from(settings),
        budgets=budgets,
        prices=prices,
        owners=settings.admin_ids,
        max_backlog=settings.max_chat_backlog,
        rate_limit=settings.rate_limit_turns,
        rate_window=settings.rate_limit_window,
        max_reply_seconds=settings.max_reply_seconds,
    )
    last_answers = LastAnswerStore(redis, ttl=settings.memory_ttl)
    spoken = SpokenLanguages(redis, ttl=settings.memory_ttl)
    stores = TurnStores(
        settings_store,
        memory,
        ledger,
        chat_status,
        budgets=budgets,
        owners=settings.admin_ids,
        last_answers=last_answers,
        spoken=spoken,
    )
    notes = NotesStore(
        redis,
        max_notes=settings.notes_max,
        max_chars=settings.notes_max_chars,
        max_note_chars=settings.note_max_chars,
        max_per_user=settings.notes_per_user,
    )
    reminders = ReminderStore(
        redis,
        max_per_chat=settings.reminders_max,
        horizon_seconds=settings.reminders_horizon_days * 86400,
    )
    search = SearxSearch(settings.search_url) if settings.search_url else None
    # A reminder pays when it is set, by admission's rules (rate limit, budgets, owners).
    tool_kit = build_tool_kit(
        settings, notes, reminders, search, quota=ToolQuota(redis), charge=rules.reminder_charge
    )
    pipeline = build_pipeline(settings)
    answering = build_answering(settings, catalogue, stores, tool_kit, pipeline)
    admission = Admission(
        QueueAdmission(turn_queue), rules, alerts=_AnsweringsOwners(answering), catalogue=catalogue
    )
    return Services(
        settings=settings,
        catalogue=catalogue,
        redis=redis,
        settings_store=settings_store,
        chat_status=chat_status,
        admins=AdminCache(redis),
        memory=memory,
        ledger=ledger,
        turn_queue=turn_queue,
        admission=admission,
        answering=answering,
        stop_bus=StopBus(redis),
        notes=notes,
        reminders=reminders,
        tool_kit=tool_kit,
        pipeline=pipeline,
        search=search,
        last_answers=last_answers,
        spoken=spoken,
        voice_samples=VoiceSamples(
            VoiceSampleStore(
                redis, provider=settings.realtime_provider, model=settings.realtime_model
            ),
            pipeline,
        ),
    )


def build_worker(services: Services, handler: Handler, give_up: Handler) -> TurnWorker:
    """A worker taking turns from the shared queue and answering each with ``handler``."""
    settings = services.settings
    return TurnWorker(
        services.turn_queue,
        handler,
        WorkerOptions(
            name=settings.worker_name,
            prefetch=settings.worker_prefetch,
            visibility_timeout=settings.visibility_timeout,
            shutdown_grace=settings.shutdown_grace,
        ),
        on_give_up=give_up,
    )


async def adopt_findings(services: Services) -> ProviderTraits | None:
    """Read what ``python -m bot probe`` found of the configured provider's model and take the
    path that fits it (e.g. native history items where assistant items are accepted); without
    findings, the path that works whichever way the service behaves."""
    settings = services.settings
    provider, model = settings.realtime_provider, settings.realtime_model
    try:
        traits = await ProviderFindings(services.redis).get(provider, model)
    except StorageError as exc:
        log.warning("cannot read the probe's findings (%s); taking the safe path", exc)
        traits = None
    path = live_path(profile_for(settings), traits)
    services.pipeline.adopt(path.history_form, path.await_transcript)
    if traits is None:
        log.info("no probe findings for %s %s (run `python -m bot probe` once): memory %s, "
                 "transcript wait %.1f s", provider, model, path.history_form,
                 path.await_transcript)  # fmt: skip
    else:
        log.info("probe findings for %s %s taken: memory %s, transcript wait %.1f s",
                 provider, model, path.history_form, path.await_transcript)  # fmt: skip
    return traits


def build_clock(services: Services) -> ReminderClock:
    """The reminder clock every worker process runs."""
    return ReminderClock(services.reminders, poll=services.settings.reminder_poll)
