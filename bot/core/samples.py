"""Voice samples: hear a voice (and a role) before choosing it. A sample is a short phrase in
the voice's own language, made once by the model (one session, as a text turn that asks for the
phrase read aloud) and sent as a voice note; Telegram's file_id for it is kept
(``SampleCache``), so every later press, in any chat, sends that file_id: no model session, no
upload. While one process makes a sample, a press elsewhere waits for its file_id instead of
making it again.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable
from dataclasses import dataclass

from bot import metrics
from bot.core.ports import SampleCache, TurnRunner
from bot.domain import TurnInput, TurnSetup
from bot.errors import SampleBusy, SendFailed

__all__ = ["SAMPLE_PHRASES", "SampleSend", "VoiceSamples"]

log = logging.getLogger(__name__)

# What each voice says, in its own language ("": a voice of any language says the English).
SAMPLE_PHRASES = {
    "ru": "Здравствуйте! Вот так звучит мой голос. Я отвечу на ваши голосовые сообщения.",
    "kk": "Сәлеметсіз бе! Менің дауысым осылай естіледі. Мен сіздің сұрақтарыңызға жауап беремін.",
    "uz": "Assalomu alaykum! Mening ovozim shunday eshitiladi. Savollaringizga javob beraman.",
    "en": "Hello! This is how my voice sounds. I will answer your voice messages.",
    "de": "Hallo! So klingt meine Stimme. Ich beantworte gern Ihre Sprachnachrichten.",
    "he": "שלום! כך נשמע הקול שלי. אני אענה להודעות הקוליות שלכם.",
}
SAMPLE_INSTRUCTIONS = (
    "You are recording a short sample of your voice. Read the user's text aloud exactly as it "
    "is written, in its language, calmly and naturally. Say nothing else: no greeting of your "
    "own, no comment, no question."
)
# How long one process may take to make a sample before another may try.
CLAIM_SECONDS = 90.0
# How often a press that waits for another process's sample looks for it.
POLL_SECONDS = 0.5

# Sends a sample: the OGG bytes (an upload) or a file_id, with its seconds; gives back the
# file_id Telegram has for what was sent (None when it said none).
SampleSend = Callable[[bytes | str, float], Awaitable[str | None]]


@dataclass
class VoiceSamples:
    """Plays samples: from the cache by file_id, else made by the model (``runner``) once."""

    cache: SampleCache
    runner: TurnRunner
    wait: float = 30.0  # how long a press waits for a sample another process is making

    async def play(self, voice: str, role: str, language: str, send: SampleSend) -> bool:
        """Send the sample of ``voice`` in ``role`` ("" its default); True when it came from
        the cache. Raises ``SampleBusy``, ``SendFailed``, ``StorageError`` or what making it
        raises (``RealtimeError``)."""
        if await self._from_cache(voice, role, send):
            return True
        token = await self.cache.claim(voice, role, CLAIM_SECONDS)
        if token is None:
            return await self._wait_for(voice, role, send)
        try:
            phrase = SAMPLE_PHRASES.get(language, SAMPLE_PHRASES["en"])
            options = {"role": role} if role else {}
            setup = TurnSetup(voice, SAMPLE_INSTRUCTIONS, voice_options=options)
            result = await self.runner.run(
                TurnInput(text=phrase, label=f"sample {voice}/{role or '-'}"), setup
            )
            file_id = await send(result.voice, result.voice_seconds)
            metrics.VOICE_SAMPLES.labels(source="made").inc()
            log.info("voice sample made: %s/%s, %.1f s", voice, role or "-", result.voice_seconds)
            if file_id:
                await self.cache.keep(voice, role, file_id)
        finally:
            await self.cache.release(voice, role, token)
        return False

    async def _from_cache(self, voice: str, role: str, send: SampleSend) -> bool:
        file_id = await self.cache.file_id(voice, role)
        if file_id is None:
            return False
        try:
            await send(file_id, 0.0)
        except SendFailed as exc:
            # Telegram no longer takes it (another bot token, a file gone): made again.
            log.warning("the sample of %s/%s was refused by its file_id (%s); making it again",
                        voice, role or "-", exc)  # fmt: skip
            await self.cache.forget(voice, role)
            return False
        metrics.VOICE_SAMPLES.labels(source="cache").inc()
        return True

    async def _wait_for(self, voice: str, role: str, send: SampleSend) -> bool:
        loop = asyncio.get_running_loop()
        until = loop.time() + self.wait
        while loop.time() < until:
            await asyncio.sleep(POLL_SECONDS)
            if await self._from_cache(voice, role, send):
                return True
        raise SampleBusy(f"the sample of {voice}/{role or '-'} is still being made")
