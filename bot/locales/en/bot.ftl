start =
    Hi! I am a voice assistant: I answer with a voice note and the same answer as text.
    { $where ->
        [all] In this group I answer every voice note, texts that reply to my messages or mention me (@{ $bot }), and a voice note you reply to with /ask.
        [replies] In this group I answer voice notes and texts that reply to my messages, texts that mention me (@{ $bot }), and a voice note you reply to with /ask. Other voice notes I leave alone, unless an admin turns on /mode all.
       *[private] Send me a voice note (or an audio file, a video note, or just text).
    }

    Current voice: { $voice }.
    /settings shows this chat's settings, /help tells more.
greeting =
    Hi! I am a voice assistant: I answer with a voice note and the same answer as text. Three things to know:
    1. To ask me, reply to one of my messages or mention me (@{ $bot }) in a text; reply to someone's voice note with /ask to have it answered. Admins can make me answer every voice note with /mode all.
    2. The group's admins choose my voice and instructions in /settings.
    3. /help tells what else I can do.
help =
    { $where ->
        [all] <b>How to talk to me.</b> Here I answer every voice note, texts that reply to my messages or mention me (@{ $bot }), and a voice note you reply to with /ask.
        [replies] <b>How to talk to me.</b> Here I answer when you reply to my message or mention me (@{ $bot }) in a text; reply to a voice note with /ask to have me answer it.
       *[private] <b>How to talk to me.</b> Send a voice note, an audio file, a video note or a text: I answer with a voice note and its text.
    }
    <b>What I can do</b>: { TOOL($can) }. For example: { $search ->
        [yes] “What's the weather in Kazan?”
       *[no] “What day is it today?”
    } or “Remind me in twenty minutes to call mum.”
    { $use }
help-more =
    <b>Settings</b> (the chat's admins)
    { $settings }
help-privacy = Telegram's privacy mode hides ordinary group messages from bots: for /mode all, the bot's owner turns it off in @BotFather (/setprivacy → Disable), then adds me to the group again or makes me an admin.
help-more-button = More ▾
# /help's lines, one a command (bot.telegram.commands: the table says which and where).
help-use-tools = /tools — which tools are on
help-use-settings = /settings — this chat's settings
help-use-notes = /notes — what I remember (/notes forget NUMBER)
help-use-reminders = /reminders — what I will remind of (/reminders cancel ID)
help-use-usage = /usage — how much you and this chat used
help-settings-voice = /voice — choose the voice
help-settings-instructions = /instructions TEXT — what I should be like
help-settings-mode = /mode all|replies — which group messages I answer
help-settings-reset = /reset — start a new conversation; /reset settings — every setting back to its default
help-settings-forget = /forget — forget the conversation so far
help-settings-memory = /memory on|off — remember what we said before
help-settings-transcript = /transcript on|off — show what I heard above the answer
help-settings-live = /live on|off — show answers as they are made (a draft with a stop button in private chats, a reaction in groups)
help-settings-tools = /tools NAME on|off — switch a tool
help-settings-timezone = /timezone ZONE — the chat's time zone, for the time and reminders
help-settings-notes = /notes clear, /reminders clear — forget every note, cancel every reminder
settings =
    <b>Settings of this chat</b>
    { $lines }
settings-voice = Voice: { $value }
settings-mode = Mode: { $value }
settings-live = Live answers: { $value }
settings-tools = Tools on: { TOOL($value) }
settings-timezone = Time zone: { $value }
settings-instructions = Instructions: { $value }
settings-instructions-default = the default: short answers, easy to follow by ear
mode-all = every voice note
mode-replies = replies and mentions
voice-set = Voice set: { $voice }.
voice-unknown = I don't know the voice “{ $voice }”. Voices: { $voices }.
voice-pick = Choose a voice (now: { $voice }). ▶ plays how it sounds.
voice-only-admins = Only the chat's admins can change the voice.
instructions-show =
    Current instructions:
    { $instructions }

    To change them: /instructions followed by the new text (up to { $limit } characters), or reply to a message with /instructions.
instructions-set = Instructions updated.
instructions-too-long = These instructions are { $length } characters long; the limit is { $limit }. Please shorten them.
mode-set = Mode set: { $mode }.
mode-usage = Usage: /mode all or /mode replies. Now: { $mode }.
mode-private = In a private chat I answer every message; /mode is for groups.
reset-done = Settings are back to defaults.
reset-new = Let's start over: I have forgotten our conversation so far. The settings stay as they are (/reset settings puts them back to defaults).
reset-confirm = Put every setting of this chat back to its default? The voice, the instructions, the mode, the tools, the time zone and the rest go back to the defaults; notes and reminders stay.
reset-confirm-yes = Yes, reset the settings
reset-confirm-no = Cancel
reset-cancelled = Nothing changed: the settings stay as they are.
not-admin = Only the chat's admins can change my settings.
not-allowed = Sorry, this bot is private: its owner has not allowed this chat.
unsupported = I answer voice notes, audio files, video notes and texts. Please send one of those.
unknown-command = I don't know the command /{ $command }. /help tells what I can do.
ask-usage = Reply with /ask to a voice note or an audio message and I will answer it.
error-empty = The file is empty: there is nothing to listen to. Please record the voice note again.
error-corrupt = I could not read this file: it seems damaged. Please send it again.
error-not-audio = This file has no sound I can listen to. Please send a voice note or an audio file.
error-silent = I could not hear anything: the recording is silent. Please check the microphone and try again.
error-too-long = This recording is too long ({ $seconds } s). I listen to up to { $limit } s: please split it.
error-too-large = This file is too large ({ $size } MB). I accept up to { $limit } MB.
error-model = The speech model could not answer this time. Please try again.
error-model-auth = The bot has a setup problem and cannot answer right now. Its owner has been told; please try again later.
error-model-config = The bot has a setup problem (the model or the voice it asks for) and cannot answer right now. Its owner has been told; please try again later.
error-model-quota = The speech model's quota is used up. Please try again later.
error-model-unavailable = The speech model is not reachable right now. Please try again in a minute.
error-model-timeout = The speech model took too long to answer. Please try again.
error-storage = I am having trouble with my storage. Please try again in a minute.
error-internal = Something went wrong on my side. Please try again.
busy = I already have { $limit ->
        [one] a message
       *[other] { $limit } messages
    } to answer here, as many as I take at a time, so I did not take this one. Please send it again in a minute.
refused-marked = If I put 🙈 on your next messages, that means I did not take them either: send them again too.
rate-limited = You are sending a lot right now. Please try again in { $seconds } s.
heard = 🗣 { $text }
live-stopped-mark = (stopped)
memory-voice-without-transcript = (a voice message)
voice-forbidden = Your privacy settings do not allow voice messages, so here is the answer as an audio file. To get voice notes, allow voice messages from this bot in Settings → Privacy.
forget-done = I have forgotten our conversation so far.
memory-usage = Conversation memory is { $state }. Admins switch it with /memory on or /memory off.
memory-set = Conversation memory is { $state } now.
transcript-usage = Showing what I heard is { $state }. Admins switch it with /transcript on or /transcript off.
transcript-set = Showing what I heard is { $state } now.
live-state-on = on
live-state-off = off
memory-state-on = on
memory-state-off = off
transcript-state-on = on
transcript-state-off = off
budget-user-day = You have used today's limit. It resets at { $resets }.
budget-user-month = You have used this month's limit. It resets at { $resets }.
budget-chat-day = This chat has used today's limit. It resets at { $resets }.
budget-chat-month = This chat has used this month's limit. It resets at { $resets }.
budget-bot-day = The bot has reached today's spending limit, so it cannot answer now. It resets at { $resets }.
reminder-rate-limited = You are sending a lot right now (each reminder counts as a message). Please ask again in { $seconds } s.
reminder-budget-user-day = You have used today's limit, so I cannot set the reminder. It resets at { $resets }.
reminder-budget-user-month = You have used this month's limit, so I cannot set the reminder. It resets at { $resets }.
reminder-budget-chat-day = This chat has used today's limit, so I cannot set the reminder. It resets at { $resets }.
reminder-budget-chat-month = This chat has used this month's limit, so I cannot set the reminder. It resets at { $resets }.
reminder-budget-bot-day = The bot has reached today's spending limit, so I cannot set the reminder. It resets at { $resets }.
usage-title = Usage (audio both ways):
usage-line = { $label }: { $turns ->
        [one] { $turns } answer
       *[other] { $turns } answers
    }, { $minutes } min, ≈{ $cost }
usage-you-today = You, today
usage-you-month = You, this month
usage-chat-today = This chat, today
usage-chat-month = This chat, this month
usage-today = Today
usage-month = This month
stats-title = Bot statistics
stats-failures = Failed answers this month: { $failures }
stats-model = Answering now: { $model } (each answer is priced as its model charged)
stats-top-chats = Top chats this month
stats-top-users = Top users this month
stats-chart = Audio minutes and answers, last 30 days
stats-chart-minutes = audio, minutes
stats-chart-answers = answers
stats-top-line = { $who }: { $minutes } min
stats-owners-only = /stats is for the bot's owners.
error-download = I could not fetch your file from Telegram. Please try again in a minute.
menu-start = What this bot does
menu-help = How to use it
menu-settings = This chat's settings
menu-ask = Answer the voice note you reply to
menu-voice = Choose the voice
menu-instructions = Show or set the instructions
menu-mode = Group mode: all or replies
menu-reset = Start a new conversation
menu-forget = Forget this conversation
menu-memory = Conversation memory: on or off
menu-transcript = Show what was heard: on or off
menu-usage = Your and this chat's usage
menu-stats = Owners: totals, top chats and users, chart
slow-model = The speech model is slow to answer; I am still trying.
slow-model-done = Done: the answer is below.
voice-no-rights = I may not send voice notes in this chat, so here is the answer as an audio file. An admin can allow voice messages for members in the group's permissions.
live-usage = Live answers are { $state }. Admins switch them with /live on or /live off.
live-set = Live answers are { $state } now.
menu-live = Live answers: on or off
menu-tools = Tools: which are on, switch them
menu-timezone = The chat's time zone
menu-notes = What I remember in this chat
menu-reminders = Reminders waiting in this chat
tools-title = Tools in this chat:
tools-line = { $mark } { $tool } — { $description }
tool-web_search = search the web
tool-clock = date and time
tool-notes = notes: remember what you ask me to
tool-reminders = reminders at the time you say
tool-name-web_search = web search
tool-name-clock = date and time
tool-name-notes = notes
tool-name-reminders = reminders
tools-how = Admins switch a tool with /tools NAME on or /tools NAME off, for example /tools { $example } off.
tools-none = This bot has no tools: I just answer.
tools-none-on = none
tools-set-on = The tool “{ TOOL($tool) }” is on now.
tools-set-off = The tool “{ TOOL($tool) }” is off now.
tools-unknown = I don't know the tool “{ $tool }”. Tools: { $tools }.
tools-unavailable = The tool “{ $tool }” is not available in this bot. Tools: { $tools }.
timezone-show =
    Time zone: { $zone } ({ $offset }). The time there: { $time }.
    Admins set it with /timezone and a zone such as Europe/Berlin or an offset such as UTC+3; /timezone reset goes back to the default.
timezone-set = Time zone set: { $zone }. The time there: { $time }.
timezone-reset = The time zone is back to the default: { $zone }. The time there: { $time }.
timezone-unknown = I don't know the time zone “{ $zone }”. Give a name such as Europe/Berlin, or a whole-hour offset such as UTC+3.
weekday = { $day ->
    [0] Mon
    [1] Tue
    [2] Wed
    [3] Thu
    [4] Fri
    [5] Sat
   *[6] Sun
}
notes-title = What I remember in this chat:
notes-line = { $id }. { $text }
notes-how = /notes forget NUMBER forgets one you asked me to keep (admins: any); admins: /notes clear forgets them all.
notes-empty = I have no notes in this chat yet. Say “remember that …” and I will keep it.
notes-forgotten = Forgotten: { $text }
notes-not-found = There is no note { $id }. /notes lists them with their numbers.
notes-not-yours = Note { $id } was kept at someone else's request: only they, or an admin, can make me forget it.
notes-cleared = { $count ->
    [0] There were no notes to forget.
    [one] I have forgotten the one note.
   *[other] I have forgotten all { $count } notes.
}
reminders-title = Waiting reminders (time zone { $zone }):
reminders-line = #{ $id } { $when } — { $text }
reminders-how = /reminders cancel ID cancels one of yours (admins: any); admins: /reminders clear cancels them all.
reminders-empty = No reminders are waiting. Say, for example, “remind me in twenty minutes to call mum”.
reminders-not-found = No reminder { $id } is waiting. /reminders lists them.
reminders-not-yours = Only the one who asked for this reminder, or an admin, can cancel it.
reminders-cancelled = Cancelled: { $line }
reminders-cleared = { $count ->
    [0] No reminders were waiting.
    [one] I have cancelled the one waiting reminder.
   *[other] I have cancelled all { $count } waiting reminders.
}

owner-alert-config = ⚠️ The speech model refused this bot's configuration: { $detail }
    Check { $setting } (then restart the bot). Users are told the bot is misconfigured until then.
owner-alert-auth = ⚠️ The speech model refused this bot's key: { $detail }
    Check REALTIME_API_KEY (or YANDEX_IAM_TOKEN) and the service account's role ai.models.user, then restart the bot.
owner-alert-bot-budget = ⚠️ The bot has reached today's spending limit (BOT_DAILY_COST { $limit } { $currency }, used and reserved by answers under way): new messages are refused until { $resets }. Raise BOT_DAILY_COST (0 = no limit) and restart the bot to answer again today.
# The /settings menu (bot.telegram.handlers.settings): a button a setting, given $value (a
# switch's or a choice's stored word, else the value as shown).
settings-menu-voice = 🗣 Voice: { $value }
settings-menu-mode = 👥 I answer: { $value ->
    [all] every voice note
   *[replies] replies and mentions
}
settings-menu-live = ⚡ Live answers: { $value ->
    [on] on
   *[off] off
}
settings-menu-tools = 🧰 Tools: { $value }
settings-menu-tools-count = { $on } of { $all } on
settings-menu-timezone = 🕒 Time zone: { $value }
settings-menu-instructions = 📝 Instructions: { $value }
settings-menu-memory = 🧠 Memory: { $value ->
    [on] on
   *[off] off
}
settings-menu-transcript = 📄 Show what I heard: { $value ->
    [on] on
   *[off] off
}
settings-menu-back = « Back
settings-menu-stale = This button is out of date: send /settings again.
settings-menu-how-timezone = Send /timezone with a zone, for example /timezone Europe/Berlin or /timezone UTC+3; /timezone reset goes back to the default.
settings-menu-write-own = ✏️ Write your own
settings-menu-own-how = Send /instructions followed by your text (up to { $limit } characters), or reply to a message with /instructions.
instructions-preset-brief = brief
instructions-preset-friendly = friendly
instructions-preset-formal = formal
instructions-preset-own = your own
instructions-preset-brief-button = Brief (the default)
instructions-preset-friendly-button = Friendly and detailed
instructions-preset-formal-button = Formal
instructions-preset-friendly-text = You are a friendly voice assistant. Answer warmly and in some detail, with an example where it helps, in simple sentences that are easy to follow by ear: no lists, tables, links or markup. Answer in the user's language.
instructions-preset-formal-text = You are a voice assistant. Answer politely and formally, precisely and to the point, in simple sentences that are easy to follow by ear: no lists, tables, links or markup. Answer in the user's language.
# Answer forms (/answer) and the last answer again (/again): bot.telegram.handlers.answer.
menu-answer = How I answer: voice, voice and text, or text for text
menu-again = The last answer again
help-settings-answer = /answer voice_text|voice|text — how I answer: a voice note with its text, the voice note alone, or typed questions in text
help-use-again = /again — the last answer again (/again text, /again voice)
settings-answer = Answers: { $value }
answer-voice_text = a voice note with its text
answer-voice = a voice note only
answer-text_for_text = text to typed questions, a voice note to voice notes
settings-menu-answer = 💬 Answers: { $value ->
    [voice] voice only
    [text_for_text] text for text
   *[voice_text] voice and text
}
answer-set = From now on I answer with { $form }.
answer-usage = I answer with { $form }. Admins change it with /answer voice_text, /answer voice or /answer text (typed questions in text only).
again-none = I have no answer to repeat here yet (or it has been forgotten).
again-no-voice = The last answer was text only, so there is no voice note to send again. /again text sends its text.
again-usage = Usage: /again, /again text or /again voice.

# The voice studio (/voice, /voices, /speed) and the language listened for (/language):
# bot.telegram.handlers.voice and .language.
menu-voices = Every voice, by language
menu-speed = How fast the voice speaks
menu-language = The language I listen for
help-settings-voices = /voices — every voice by language; /voice plays samples
help-settings-speed = /speed 0.8|1|1.25|1.5 — how fast I speak
help-settings-language = /language auto|ru-RU|en-US… — the language I listen for
voice-studio =
    Voice: { $voice }
    Manner: { $role }
    Speed: { $speed }×
voice-kept = Voices by language: { $kept }. Each language is answered in its own voice.
voice-all = « All voices
voice-keep-one = Use { $voice } for every language
voice-one-set = { $voice } now answers in every language.
voice-sample-coming = ▶ Playing the sample…
voice-sample-busy = The sample is still being made: press ▶ again in a moment.
voice-sample-failed = I could not play that sample right now. Please try again later.
voices-title = Voices (✓ this chat's; in italics: the ones it keeps for other languages):
voices-any-language = Any language
voices-hint = An admin chooses with /voice, where ▶ plays each voice.
role-set = Manner set: { $role }.
role-neutral = neutral
role-good = cheerful
role-evil = irritated
role-friendly = friendly
role-strict = strict
role-whisper = whisper
role-modern = modern
role-classic = classic
role-none = the voice's own
speed-set = Speed set: { $speed }×.
speed-how = I speak at { $speed }×. Admins choose one of { $speeds } with /speed, for example /speed 1.25.
settings-role = Manner: { $value }
settings-speed = Speed: { $value }×
settings-language = I listen for: { $value }
settings-voices = Voices by language: { $value }
settings-menu-speed = 🐢 Speed: { $value }×
settings-menu-language = 🌐 I listen for: { $value ->
    [auto] any language
   *[other] { $value }
}
language-pick = Which language should I listen for? Now: { $language }. A fixed language helps with short voice notes.
language-set = I now listen for: { $language }.
language-unknown = I don't know the language “{ $language }”. Languages: { $languages }.
language-auto = any language (auto)
language-ru-RU = Russian
language-kk-KZ = Kazakh
language-uz-UZ = Uzbek
language-en-US = English
language-de-DE = German
language-he-IL = Hebrew
language-uk-UA = Ukrainian
language-fr-FR = French
language-es-ES = Spanish
language-it-IT = Italian
language-pt-BR = Portuguese
language-tr-TR = Turkish
language-pl-PL = Polish
voice-role-unknown = The voice { $voice } has no manner “{ $role }”. Its manners: { $roles }.
