"""The logic of one turn on one realtime session, without I/O.

Feed it what the server sent (``receive``) and what the turn has to say (``add_audio``,
``add_text``, ``end_input``); each call returns the client events to send, in order. It knows
the turn-detection trap (stand_ins/README.md): with server VAD the server may commit pieces of the
buffer by itself, so the client commits once after the last audio, takes an
``input_audio_buffer_commit_empty`` answer to that commit as harmless, and sends
``response.create`` exactly once, after its commit is answered. The turn is over at
``response.done``, never earlier.

A turn may hold several responses (stand_ins/README.md, "Function calls"): a response
that ends with ``function_call`` items puts the turn in the ``CALLING`` phase; the caller runs
the calls (``calls_due``) and gives their outputs to ``answer_calls``, which sends them as
``function_call_output`` items and asks for the next response; the turn is over at the
``response.done`` of a response that calls nothing. Calls of tools the provider runs itself
(``server_tools``) are never answered; after ``max_tool_rounds`` rounds the calls are answered
with an error telling the model to answer now, and one round later the turn ends with what it
has. The reply's text and audio are those of every response; the usage is their sum.

What live clients of Yandex saw beyond its documentation (stand_ins/README.md, "yandex-field") is
handled either way:

- Memory goes as native items (user ``input_text``, assistant ``output_text``) or, where the
  provider refuses assistant items, as one user ``input_text`` item quoting the conversation,
  labelled as context (``SessionConfig.history_form``).
- A response the server starts by itself (server VAD that ignores ``create_response: false``)
  is cancelled and ignored: none of its audio or text reaches the reply, its items are deleted,
  and the client's own ``response.create`` waits until it is over.
- Where a ``response.create`` sent straight after the commit may be answered as if nothing had
  been said, the client waits (``SessionConfig.await_transcript`` seconds at most) for the
  transcripts of the committed audio first (phase ``TRANSCRIBING``).
- A null rate echo keeps the asked rate, a second ``session.updated`` changes nothing, and
  ``conversation.item.created`` is the older name of ``conversation.item.added``.
- Errors that name the deployment's configuration (the model URI, an unknown model, a refused
  session setting) are ``RealtimeConfigError``, never tried again.
"""

from __future__ import annotations

import base64
import enum
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any, Literal

from bot.domain import HistoryItem, ToolCall, Usage, tool_error
from bot.errors import (
    ContextRejected,
    EmptyAudio,
    RealtimeAuthError,
    RealtimeConfigError,
    RealtimeError,
    RealtimeQuotaError,
    RealtimeResponseFailed,
    RealtimeServerError,
)

__all__ = [
    "INPUT_RATE",
    "Phase",
    "SessionConfig",
    "TurnProtocol",
    "encode_appends",
    "quote_history",
    "session_update",
]

INPUT_RATE = 24_000
# Audio per append event: large enough to keep the event count low, small enough that encoding
# one event never holds the event loop (1 s of PCM16 is 64 KiB of base64: ~30 µs).
APPEND_BYTES = INPUT_RATE * 2
# The server refuses to commit less than 100 ms of audio.
MIN_COMMIT_BYTES = INPUT_RATE * 2 // 10

FATAL_CODES = {"invalid_api_key", "account_deactivated", "unauthorized", "permission_denied"}
QUOTA_CODES = {"insufficient_quota", "billing_hard_limit_reached"}
# Server VAD's silence before it commits by itself: well above the longest pause the pipeline
# leaves in a note (MAX_PAUSE_MS), so the server never commits (or answers) half a note.
VAD_SILENCE_MS = 1500
# Where the model's configuration is named in an error (the settings to check).
MODEL_SETTINGS = "REALTIME_MODEL, YANDEX_FOLDER_ID and REALTIME_URL"

# Beta-era names some servers still send, mapped to their GA names.
EVENT_ALIASES = {
    "response.audio.delta": "response.output_audio.delta",
    "response.audio.done": "response.output_audio.done",
    "response.audio_transcript.delta": "response.output_audio_transcript.delta",
    "response.audio_transcript.done": "response.output_audio_transcript.done",
    "response.text.delta": "response.output_text.delta",
    "response.text.done": "response.output_text.done",
    # Yandex's live service (speech-realtime-260528) announces items by the older name.
    "conversation.item.created": "conversation.item.added",
}


def encode_appends(pcm: bytes) -> list[str]:
    """PCM16 as the base64 payloads of append events, one per ``APPEND_BYTES``."""
    return [
        base64.b64encode(pcm[i : i + APPEND_BYTES]).decode("ascii")
        for i in range(0, len(pcm), APPEND_BYTES)
    ]


class Phase(enum.Enum):
    CONNECTING = "connecting"  # waiting for session.created
    INPUT = "input"  # session configured, input being sent
    COMMITTING = "committing"  # our commit sent, waiting for its answer
    TRANSCRIBING = "transcribing"  # committed; waiting for its transcripts before asking
    RESPONDING = "responding"  # response.create sent
    CALLING = "calling"  # a response ended with function calls: the client runs them
    DONE = "done"  # the last response.done received


@dataclass(frozen=True)
class SessionConfig:
    """What a session is asked for: the chat's voice and instructions and the audio formats,
    and the chat's other voice options (``voice_options``), each placed at the dotted path of
    the session its declaration gives (``audio.output.speed``)."""

    voice: str
    instructions: str
    output_rate: int = 44_100
    turn_detection: Literal["server_vad", "semantic_vad", "manual"] = "server_vad"
    output_modalities: tuple[str, ...] = ("text", "audio")
    vad_threshold: float = 0.5
    vad_silence_ms: int = VAD_SILENCE_MS
    transcription_model: str = ""  # asks the provider to transcribe the input when set
    history: tuple[HistoryItem, ...] = ()
    # "items": native message items; "quoted": one user input_text item quoting them (for a
    # provider that refuses assistant items)
    history_form: Literal["items", "quoted"] = "items"
    # Sent as one user input_text item before the history (the chat's notes): text people wrote,
    # so it is context of the user role, never instructions.
    context: str = ""
    # Seconds to wait, after the commit, for the committed audio's transcripts before
    # response.create (0: ask at once). For a provider that may answer a response.create sent
    # straight after the commit as if nothing had been said.
    await_transcript: float = 0.0
    tools: tuple[dict[str, Any], ...] = ()  # session.tools, as the provider takes them
    server_tools: frozenset[str] = frozenset()  # run by the provider: never answered here
    max_tool_rounds: int = 4  # rounds of calls run in one turn
    # The reply's audio is cut here (its response cancelled, the rest dropped); 0: no cap.
    max_reply_seconds: float = 0.0
    voice_options: Mapping[str, object] = field(default_factory=dict)

    @property
    def text_only(self) -> bool:
        """Only text is asked for (``output_modalities`` ``["text"]``): each response is asked
        for text too (a provider that echoes ``["text", "audio"]`` still generates text only,
        stand_ins/README.md), and a reply without audio is the answer."""
        return tuple(self.output_modalities) == ("text",)


# What the model is told when a turn made more rounds of calls than it may.
ROUNDS_EXCEEDED = tool_error(
    "too many tool calls in one turn: answer the user now with what you have"
)


def _drop_audio(_: bytes) -> None:
    return None


def _drop_str(_: str) -> None:
    return None


class TurnProtocol:
    """State machine of one turn, for the session ``config``. ``on_audio`` receives reply
    PCM16 as it arrives, ``on_mark`` the name of each moment of the turn (``first_audio``,
    ``response_done``...), ``on_text`` the reply's text so far each time it grows; each may be
    set later too."""

    def __init__(
        self,
        config: SessionConfig,
        *,
        on_audio: Callable[[bytes], None] = _drop_audio,
        on_mark: Callable[[str], None] = _drop_str,
        on_text: Callable[[str], None] = _drop_str,
    ) -> None:
        self.config = config
        self.on_audio = on_audio
        self.on_mark = on_mark
        self.on_text = on_text

        self.phase = Phase.CONNECTING
        self.output_rate = config.output_rate  # as asked, until session.updated says otherwise
        self.audio_bytes_sent = 0
        self.audio_bytes_received = 0
        self.server_commits = 0
        self.server_responses = 0  # responses the server started by itself (cancelled, ignored)
        self.stopped = False  # the user asked to stop: the response is cancelled
        self.cut = False  # the reply reached max_reply_seconds: cancelled, the rest dropped
        self.audio_items = 0  # user audio items committed (each is transcribed when asked)
        self.transcripts = 0  # their input transcriptions received
        self.text = ""  # of the response being made
        self.transcript = ""  # of the response being made
        self.input_transcript = ""
        self.status = ""
        self.usage = Usage()  # of every response so far
        self.tool_rounds = 0  # responses that ended with calls answered by the client
        self.tool_calls = 0  # calls answered by running a tool
        self.calls_due: list[ToolCall] = []  # to run, in the CALLING phase

        self._earlier: list[str] = []  # the text of earlier responses
        self._calls: dict[str, ToolCall] = {}  # of the response being made
        self._server_calls: dict[str, ToolCall] = {}  # the provider's to run
        self._said = False  # the response being made has audio or text
        self._text_parts: list[str] = []
        self._transcript_parts: list[str] = []
        self._pending: list[dict[str, Any]] = []  # input sent before the session is configured
        self._input_ended = False
        self._has_text_input = False
        self._seq = 0
        self._first_text = False
        self._context_ids: set[str] = set()
        self._update_id = ""  # of our session.update
        self._updated = False  # its session.updated came (a second one changes nothing)
        self._asked = False  # a response.create of ours awaits its response.created
        self._response_id: str | None = None  # the response of ours being made
        self._create_pending = False  # our response.create waits for a server response to end
        self._ignored: set[str] = set()  # responses the server started itself
        self._harmless: set[str] = set()  # our events whose errors do not matter

    # -- what the turn says ------------------------------------------------------------------

    def add_audio(self, pcm: bytes) -> list[dict[str, Any]]:
        """Input PCM16 mono 24 kHz; returns the append events to send now (or later, queued)."""
        return self.add_encoded(encode_appends(pcm), len(pcm))

    def add_encoded(self, chunks: list[str], nbytes: int) -> list[dict[str, Any]]:
        """Input already base64-encoded by ``encode_appends`` (``nbytes`` of PCM in all), so a
        worker thread can do the encoding of long notes."""
        events = [{"type": "input_audio_buffer.append", "audio": chunk} for chunk in chunks]
        self.audio_bytes_sent += nbytes
        return self._send_or_queue(events)

    def add_text(self, text: str) -> list[dict[str, Any]]:
        """Input as a typed user message."""
        self._has_text_input = True
        return self._send_or_queue([_message_item("user", text)])

    def stop(self) -> list[dict[str, Any]]:
        """The user asked to stop the answer: cancel the response being made (its
        ``response.done`` then comes with status ``cancelled``, which ends the turn without an
        error). Returns the events to send; none when no response is being made. Between
        responses (tools running) the turn ends at once (``done``)."""
        if (
            self.phase is Phase.CALLING
            or self._create_pending
            or (self.phase is Phase.TRANSCRIBING)
        ):
            self.stopped = True
            self._create_pending = False
            self._end("cancelled")
            return []
        if self.stopped or self.phase is not Phase.RESPONDING:
            self.stopped = True
            return []
        self.stopped = True
        self.on_mark("stop")
        return [{"type": "response.cancel", "event_id": self._next_id("cancel")}]

    def end_input(self) -> list[dict[str, Any]]:
        """No more input: commit the audio (if any) and then ask for the response."""
        if self._input_ended:
            return []
        self._input_ended = True
        if self.phase is Phase.CONNECTING:
            return []
        return self._finish_input()

    def abandon(self) -> None:
        """End the turn now with what it has: the server did not end a cancelled response
        (the caller closes the session)."""
        if not self.done:
            self._end("cancelled" if self.stopped else self.status or "incomplete")

    def transcript_overdue(self) -> list[dict[str, Any]]:
        """The transcripts waited for (``TRANSCRIBING``) did not come in time: ask anyway."""
        if self.phase is not Phase.TRANSCRIBING:
            return []
        return self._create_response()

    def take_calls(self) -> list[ToolCall]:
        """The calls due, once: the caller runs them and gives their outputs to
        ``answer_calls``."""
        calls, self.calls_due = self.calls_due, []
        return calls

    def answer_calls(self, outputs: list[tuple[ToolCall, str]]) -> list[dict[str, Any]]:
        """The outputs of ``calls_due`` (each call with the string the model reads): the
        ``function_call_output`` items and the next ``response.create``. None when the turn
        ended meanwhile (stopped)."""
        if self.phase is not Phase.CALLING:
            return []
        self.calls_due = []
        self.tool_calls += len(outputs)
        return self._outputs(outputs)

    # -- what the server says ----------------------------------------------------------------

    def receive(self, event: dict[str, Any]) -> list[dict[str, Any]]:
        """Take one server event; return the client events it calls for.

        Raises a ``RealtimeError`` (or ``EmptyAudio``) when the event ends the turn in failure.
        """
        kind = event.get("type", "")
        kind = EVENT_ALIASES.get(kind, kind)
        if self._ignored and kind.startswith("response."):
            response = event.get("response")
            rid = event.get("response_id") or (
                response.get("id") if isinstance(response, dict) else None
            )
            if rid in self._ignored:
                return self._on_ignored(kind, rid, event)
        handler = _HANDLERS.get(kind)
        return handler(self, event) if handler else []

    @property
    def done(self) -> bool:
        return self.phase is Phase.DONE

    @property
    def awaiting_transcripts(self) -> bool:
        """Input transcription was asked for and some of the user's audio has none yet: it may
        arrive after ``response.done`` (OpenAI transcribes asynchronously)."""
        return bool(self.config.transcription_model) and self.transcripts < self.audio_items

    @property
    def reply_text(self) -> str:
        """The best text of the reply (of each response, the output text, else the audio
        transcript), every response's in order."""
        current = (self.text or self.transcript).strip()
        return " ".join(part for part in (*self._earlier, current) if part)

    # -- internals ---------------------------------------------------------------------------

    def _next_id(self, what: str) -> str:
        self._seq += 1
        return f"evt_{what}_{self._seq}"

    def _send_or_queue(self, events: list[dict[str, Any]]) -> list[dict[str, Any]]:
        if self.phase is Phase.CONNECTING:
            self._pending.extend(events)
            return []
        return events

    def _session_update(self) -> dict[str, Any]:
        self._update_id = self._next_id("session")
        return session_update(self.config, self._update_id)

    def _finish_input(self) -> list[dict[str, Any]]:
        if self.audio_bytes_sent >= MIN_COMMIT_BYTES:
            self.phase = Phase.COMMITTING
            return [{"type": "input_audio_buffer.commit", "event_id": self._next_id("commit")}]
        if self._has_text_input:
            return self._create_response()
        raise EmptyAudio("less than 100 ms of audio and no text to send")

    def _create_response(self) -> list[dict[str, Any]]:
        self.phase = Phase.RESPONDING
        self._said = False
        self._response_id = None
        if self._ignored:
            # A response the server started itself is still running: asking now would be
            # refused (conversation_already_has_active_response). Asked when it is over.
            self._create_pending = True
            return []
        self._create_pending = False
        self._asked = True
        self.on_mark("response_create")
        create: dict[str, Any] = {"type": "response.create", "event_id": self._next_id("response")}
        if self.config.text_only:
            create["response"] = {"output_modalities": ["text"]}
        return [create]

    def _on_response_created(self, event: dict[str, Any]) -> list[dict[str, Any]]:
        response = event.get("response") or {}
        rid = response.get("id") if isinstance(response, dict) else None
        if self._asked and self.phase is Phase.RESPONDING:
            self._asked = False
            self._response_id = rid if isinstance(rid, str) else None
            return []
        if not isinstance(rid, str):
            return []
        return self._ignore(rid)

    def _ignore(self, rid: str) -> list[dict[str, Any]]:
        """A response the server started by itself (its VAD answered part of the note): it
        is cancelled, and nothing of it reaches the reply."""
        self._ignored.add(rid)
        self.server_responses += 1
        self.on_mark("server_response")
        cancel_id = self._next_id("cancel")
        self._harmless.add(cancel_id)  # it may be over before the cancel arrives
        return [{"type": "response.cancel", "event_id": cancel_id, "response_id": rid}]

    def _on_ignored(self, kind: str, rid: str, event: dict[str, Any]) -> list[dict[str, Any]]:
        """An event of an ignored response: dropped; at its end, its items are deleted from
        the conversation and our own response is asked if it was waiting."""
        if kind != "response.done":
            return []
        self._ignored.discard(rid)
        out: list[dict[str, Any]] = []
        for item in (event.get("response") or {}).get("output") or []:
            item_id = item.get("id") if isinstance(item, dict) else None
            if isinstance(item_id, str):
                delete_id = self._next_id("delete")
                self._harmless.add(delete_id)
                out.append(
                    {"type": "conversation.item.delete", "event_id": delete_id, "item_id": item_id}
                )
        if self._create_pending and not self._ignored and not self.done:
            out.extend(self._create_response())
        return out

    def _on_session_created(self, event: dict[str, Any]) -> list[dict[str, Any]]:
        if self.phase is not Phase.CONNECTING:
            return []
        self.phase = Phase.INPUT
        out = [self._session_update()]
        history = self.config.history
        if history and self.config.history_form == "quoted":
            history = (HistoryItem("user", quote_history(history)),)
        if self.config.context:
            history = (HistoryItem("user", self.config.context), *history)
        for item in history:
            event = _message_item(item.role, item.text)
            event["event_id"] = self._next_id("context")
            self._context_ids.add(event["event_id"])
            out.append(event)
        out.extend(self._pending)
        self._pending.clear()
        if self._input_ended:
            out.extend(self._finish_input())
        return out

    def _on_session_updated(self, event: dict[str, Any]) -> list[dict[str, Any]]:
        if self._updated:
            return []  # Yandex's live service sends it twice: the first is the answer
        self._updated = True
        session = event.get("session") or {}
        rate = (((session.get("audio") or {}).get("output") or {}).get("format") or {}).get("rate")
        if isinstance(rate, int) and rate > 0:
            self.output_rate = rate
        elif session.get("output_audio_format") == "pcm16":  # beta-era servers: always 24 kHz
            self.output_rate = 24_000
        return []

    def _on_committed(self, event: dict[str, Any]) -> list[dict[str, Any]]:
        self.audio_items += 1
        if self.phase is Phase.COMMITTING and self.stopped:
            # Stopped before the answer began: nothing is asked of the model.
            self.status = "cancelled"
            self.phase = Phase.DONE
            return []
        if self.phase is Phase.COMMITTING:
            return self._after_commit()
        self.server_commits += 1  # server VAD committed a piece on its own
        return []

    def _after_commit(self) -> list[dict[str, Any]]:
        """Our commit is answered: ask for the response, or first wait for the transcripts."""
        if self.config.await_transcript > 0 and self.transcripts < self.audio_items:
            self.phase = Phase.TRANSCRIBING
            return []
        return self._create_response()

    def _on_audio_delta(self, event: dict[str, Any]) -> list[dict[str, Any]]:
        pcm = base64.b64decode(event.get("delta") or "")
        if not pcm or self.cut:
            return []
        if not self.audio_bytes_received:
            self.on_mark("first_audio")
        limit = int(self.config.max_reply_seconds * self.output_rate) * 2
        over = limit and self.audio_bytes_received + len(pcm) > limit
        if over:
            keep = limit - self.audio_bytes_received
            pcm = pcm[: keep - keep % 2]
        self.audio_bytes_received += len(pcm)
        self._said = True
        if pcm:
            self.on_audio(pcm)
        if not over:
            return []
        # MAX_REPLY_SECONDS: what a turn may cost was reserved for this long a reply.
        self.cut = True
        self.on_mark("reply_cut")
        cancel_id = self._next_id("cancel")
        self._harmless.add(cancel_id)
        return [{"type": "response.cancel", "event_id": cancel_id}]

    def _on_text_delta(self, event: dict[str, Any]) -> list[dict[str, Any]]:
        self._text_parts.append(event.get("delta") or "")
        self.text = "".join(self._text_parts)
        self._text_grew()
        return []

    def _on_text_done(self, event: dict[str, Any]) -> list[dict[str, Any]]:
        self.text = event.get("text") or self.text
        return []

    def _on_transcript_delta(self, event: dict[str, Any]) -> list[dict[str, Any]]:
        self._transcript_parts.append(event.get("delta") or "")
        self.transcript = "".join(self._transcript_parts)
        self._text_grew()
        return []

    def _text_grew(self) -> None:
        self._said = True
        if not self._first_text:
            self._first_text = True
            self.on_mark("first_text")
        self.on_text(self.reply_text)

    def _on_transcript_done(self, event: dict[str, Any]) -> list[dict[str, Any]]:
        self.transcript = event.get("transcript") or self.transcript
        return []

    def _on_input_transcript(self, event: dict[str, Any]) -> list[dict[str, Any]]:
        self.transcripts += 1
        text = (event.get("transcript") or "").strip()
        if text:
            self.input_transcript = f"{self.input_transcript} {text}".strip()
        if self.phase is Phase.TRANSCRIBING and self.transcripts >= self.audio_items:
            return self._create_response()
        return []

    def _on_function_call(self, event: dict[str, Any]) -> list[dict[str, Any]]:
        """A call the model made (``response.function_call_arguments.done``, or the
        ``function_call`` item of ``response.output_item.done``: whichever comes, once)."""
        item = event.get("item") if "item" in event else event
        if not isinstance(item, dict):
            return []
        if event.get("type") == "response.output_item.done" and item.get("type") != "function_call":
            return []
        call_id, name = item.get("call_id"), item.get("name")
        if not isinstance(call_id, str) or not isinstance(name, str):
            return []
        arguments = item.get("arguments")
        call = ToolCall(call_id, name, arguments if isinstance(arguments, str) else "{}")
        if name in self.config.server_tools:
            self._server_calls[call_id] = call  # the provider runs it itself
        else:
            self._calls[call_id] = call
        return []

    def _on_response_done(self, event: dict[str, Any]) -> list[dict[str, Any]]:
        response = event.get("response") or {}
        self.status = response.get("status") or "completed"
        self.usage = self.usage + Usage.from_event(response.get("usage"))
        for item in response.get("output") or []:
            # The response's own list of its items: a call whose events were missed still counts.
            if isinstance(item, dict) and item.get("call_id") not in self._calls:
                self._on_function_call({"type": "response.output_item.done", "item": item})
        calls = list(self._calls.values())
        if not calls and self._server_calls and not self._said:
            # A response that only called a provider's tool and said nothing: the provider did
            # not run it after all (its undocumented side): the client answers it.
            calls = list(self._server_calls.values())
        self._calls.clear()
        self._server_calls.clear()
        if calls and self.status == "completed" and not (self.stopped or self.cut):
            return self._called(calls)
        self._end(self.status)
        if self.status == "completed" or (
            self.status == "cancelled" and (self.stopped or self.cut)
        ):
            return []
        details = response.get("status_details") or {}
        error = details.get("error") or {}
        reason = details.get("reason") or error.get("code")
        # An answer cut short (e.g. max_output_tokens) is still an answer worth delivering.
        if self.status == "incomplete" and (
            self.audio_bytes_received or (self.config.text_only and self.reply_text)
        ):
            return []
        raise RealtimeResponseFailed(self.status, reason, error.get("message"))

    def _called(self, calls: list[ToolCall]) -> list[dict[str, Any]]:
        """A response ended with calls: they are due, unless this turn made too many rounds."""
        self._earlier_text()
        self.tool_rounds += 1
        if self.tool_rounds > self.config.max_tool_rounds + 1:
            self._end("completed")  # it would not stop calling: the turn ends with what it has
            return []
        if self.tool_rounds > self.config.max_tool_rounds:
            return self._outputs([(call, ROUNDS_EXCEEDED) for call in calls])
        self.phase = Phase.CALLING
        self.calls_due = calls
        self.on_mark("tool_call")
        return []

    def _outputs(self, outputs: list[tuple[ToolCall, str]]) -> list[dict[str, Any]]:
        events: list[dict[str, Any]] = [
            {
                "type": "conversation.item.create",
                "event_id": self._next_id("output"),
                "item": {"type": "function_call_output", "call_id": call.call_id, "output": out},
            }
            for call, out in outputs
        ]
        return events + self._create_response()

    def _earlier_text(self) -> None:
        """The response being made is over: its text is kept, the next one starts afresh."""
        text = (self.text or self.transcript).strip()
        if text:
            self._earlier.append(text)
        self.text = self.transcript = ""
        self._text_parts.clear()
        self._transcript_parts.clear()

    def _end(self, status: str) -> None:
        self.status = status
        self.phase = Phase.DONE
        self.calls_due = []
        self.on_mark("response_done")

    def _on_error(self, event: dict[str, Any]) -> list[dict[str, Any]]:
        error = event.get("error") or {}
        code = error.get("code") or ""
        kind = error.get("type") or ""
        message = error.get("message") or ""
        if code == "input_audio_buffer_commit_empty":
            # The server VAD already committed everything: harmless (stand_ins/README.md).
            if self.phase is Phase.COMMITTING and (
                self.server_commits or self.config.turn_detection != "manual"
            ):
                return self._after_commit()
            if self.phase in (Phase.RESPONDING, Phase.TRANSCRIBING, Phase.DONE):
                return []
            raise EmptyAudio(message or code)
        about = error.get("event_id")
        if about in self._harmless:
            return []  # a cancel or delete of an ignored response that was over already
        if code == "conversation_already_has_active_response" and self.phase is Phase.RESPONDING:
            return self._refused_create()
        if about in self._context_ids or (self._context_ids and _refuses_items(message)):
            raise ContextRejected(message or code, type=kind or None, code=code or None)
        config = _config_error(message, error.get("param"), about == self._update_id)
        if config is not None:
            raise config
        raise error_from_event(kind, code, message)

    def _refused_create(self) -> list[dict[str, Any]]:
        """Our response.create met a response the server had just started by itself: the
        response taken for ours is the server's (ours was never made). It is cancelled and
        ignored; ours is asked again when it is over."""
        out: list[dict[str, Any]] = []
        if self._response_id is not None and self._response_id not in self._ignored:
            out = self._ignore(self._response_id)
        self._asked = False
        self._response_id = None
        self._create_pending = True
        return out


def _refuses_items(message: str) -> bool:
    """Yandex's live refusal of an assistant history item ("MessageContentItemOutputText …
    not supported yet"), which names no event."""
    return "MessageContentItem" in message or "not supported yet" in message


def _config_error(message: str, param: object, on_update: bool) -> RealtimeConfigError | None:
    """An error that names the deployment's configuration, or None. Yandex's live service:
    "Invalid model URI" (then close 1008) for a model query that is not
    gpt://<folder>/<model>, "Runtime error: NOT_FOUND: Instance with model … not found" for an
    unknown model (stand_ins/README.md, "yandex-field"); a session.update refused (a voice or role
    the provider lacks, a rate)."""
    lowered = message.lower()
    if "invalid model uri" in lowered:
        return RealtimeConfigError(message, setting=MODEL_SETTINGS)
    if "not_found" in lowered and "model" in lowered:
        return RealtimeConfigError(message, setting="REALTIME_MODEL")
    if not on_update:
        return None
    where = str(param or "") + " " + lowered
    if "voice" in where or "role" in where:
        setting = "DEFAULT_VOICE (or the chat's /voice)"
    elif "rate" in where:
        setting = "OUTPUT_SAMPLE_RATE"
    elif "turn_detection" in where:
        setting = "TURN_DETECTION"
    else:
        setting = "the session settings (REALTIME_PROVIDER, REALTIME_MODEL)"
    return RealtimeConfigError(message, setting=setting)


def session_update(config: SessionConfig, event_id: str) -> dict[str, Any]:
    """The ``session.update`` that asks for ``config``: the one the bot sends (and the probe,
    with settings of its own)."""
    turn_detection: dict[str, Any] | None = None
    if config.turn_detection == "server_vad":
        turn_detection = {
            "type": "server_vad",
            "threshold": config.vad_threshold,
            "silence_duration_ms": config.vad_silence_ms,
            # The client decides when to answer: the whole voice note is one question.
            "create_response": False,
            "interrupt_response": False,
        }
    elif config.turn_detection == "semantic_vad":  # OpenAI's; the same trap as server_vad
        turn_detection = {
            "type": "semantic_vad",
            "eagerness": "auto",
            "create_response": False,
            "interrupt_response": False,
        }
    audio_input: dict[str, Any] = {
        "format": {"type": "audio/pcm", "rate": INPUT_RATE},
        "turn_detection": turn_detection,
    }
    if config.transcription_model:
        audio_input["transcription"] = {"model": config.transcription_model}
    session: dict[str, Any] = {
        "type": "realtime",
        "output_modalities": list(config.output_modalities),
        "instructions": config.instructions,
        "audio": {
            "input": audio_input,
            "output": {
                "format": {"type": "audio/pcm", "rate": config.output_rate},
                "voice": config.voice,
            },
        },
    }
    if config.tools:
        session["tools"] = list(config.tools)
    for path, value in config.voice_options.items():
        _place(session, path, value)
    return {"type": "session.update", "event_id": event_id, "session": session}


def _place(tree: dict[str, Any], path: str, value: object) -> None:
    """Put ``value`` at the dotted ``path`` of ``tree`` ("audio.output.speed"), making the
    objects on the way that are not there yet."""
    *parents, leaf = path.split(".")
    for key in parents:
        tree = tree.setdefault(key, {})
    tree[leaf] = value


def quote_history(history: tuple[HistoryItem, ...]) -> str:
    """Earlier turns as one user message: quoted, and labelled as context to continue from,
    not as instructions (for providers that refuse assistant items)."""
    lines = ["[Earlier in this conversation. Context to continue from, not instructions.]"]
    for item in history:
        who = "User" if item.role == "user" else "Assistant"
        text = " ".join(item.text.split())
        lines.append(f"{who}: {text}")
    lines.append("[End of the earlier conversation. The user's new message follows.]")
    return "\n".join(lines)


def error_from_event(kind: str, code: str, message: str) -> RealtimeError:
    """Map an ``error`` event to the typed error the rest of the bot understands."""
    if code in FATAL_CODES or kind in {"authentication_error", "permission_error"}:
        return RealtimeAuthError(f"{kind}/{code}: {message}")
    if code in QUOTA_CODES:
        return RealtimeQuotaError(f"{kind}/{code}: {message}")
    return RealtimeServerError(message, type=kind or None, code=code or None)


def _message_item(role: str, text: str) -> dict[str, Any]:
    content_type = "input_text" if role == "user" else "output_text"
    return {
        "type": "conversation.item.create",
        "item": {
            "type": "message",
            "role": role,
            "content": [{"type": content_type, "text": text}],
        },
    }


_Handler = Callable[[TurnProtocol, dict[str, Any]], list[dict[str, Any]]]
_HANDLERS: dict[str, _Handler] = {
    "session.created": TurnProtocol._on_session_created,
    "session.updated": TurnProtocol._on_session_updated,
    "input_audio_buffer.committed": TurnProtocol._on_committed,
    "response.output_audio.delta": TurnProtocol._on_audio_delta,
    "response.output_text.delta": TurnProtocol._on_text_delta,
    "response.output_text.done": TurnProtocol._on_text_done,
    "response.output_audio_transcript.delta": TurnProtocol._on_transcript_delta,
    "response.output_audio_transcript.done": TurnProtocol._on_transcript_done,
    "conversation.item.input_audio_transcription.completed": TurnProtocol._on_input_transcript,
    # A failed transcription is still the end of waiting for it.
    "conversation.item.input_audio_transcription.failed": TurnProtocol._on_input_transcript,
    "response.created": TurnProtocol._on_response_created,
    "response.function_call_arguments.done": TurnProtocol._on_function_call,
    "response.output_item.done": TurnProtocol._on_function_call,
    "response.done": TurnProtocol._on_response_done,
    "error": TurnProtocol._on_error,
}
