start =
    Привет! Я голосовой ассистент: отвечаю голосом и дублирую ответ текстом.
    { $where ->
        [all] В этой группе я отвечаю на каждое голосовое, на тексты в ответ на мои сообщения или с упоминанием (@{ $bot }) и на голосовое, на которое ответили командой /ask.
        [replies] В этой группе я отвечаю на голосовые и тексты в ответ на мои сообщения, на тексты с упоминанием (@{ $bot }) и на голосовое, на которое ответили командой /ask. На остальные голосовые я не отвечаю, пока администратор не включит /mode all.
       *[private] Пришлите голосовое сообщение (или аудиофайл, кружок или просто текст).
    }

    Текущий голос: { $voice }.
    /settings — настройки чата, /help — подробнее.
greeting =
    Привет! Я голосовой ассистент: отвечаю голосом и дублирую ответ текстом. Три вещи, которые стоит знать:
    1. Чтобы спросить меня, ответьте на моё сообщение или упомяните меня (@{ $bot }) в тексте; чтобы я ответил на чьё-то голосовое, ответьте на него командой /ask. Администраторы могут включить ответы на каждое голосовое командой /mode all.
    2. Голос и инструкции выбирают администраторы группы в /settings.
    3. Что ещё я умею, расскажет /help.
help =
    { $where ->
        [all] <b>Как со мной говорить.</b> Здесь я отвечаю на каждое голосовое, на тексты в ответ на мои сообщения или с упоминанием (@{ $bot }) и на голосовое, на которое ответили командой /ask.
        [replies] <b>Как со мной говорить.</b> Здесь я отвечаю, когда вы отвечаете на моё сообщение или упоминаете меня (@{ $bot }) в тексте; ответьте командой /ask на голосовое — и я на него отвечу.
       *[private] <b>Как со мной говорить.</b> Пришлите голосовое, аудиофайл, кружок или текст — я отвечу голосовым сообщением и его текстом.
    }
    <b>Что я умею</b>: { TOOL($can) }. Например: { $search ->
        [yes] «Какая погода в Казани?»
       *[no] «Какое сегодня число?»
    } или «Напомни через двадцать минут позвонить маме».
    { $use }
help-more =
    <b>Настройки</b> (администраторы чата)
    { $settings }
help-privacy = Режим приватности Telegram скрывает от ботов обычные сообщения группы: чтобы работал /mode all, владелец бота отключает его в @BotFather (/setprivacy → Disable), а затем заново добавляет меня в группу или делает администратором.
help-more-button = Ещё ▾
# /help's lines, one a command (bot.telegram.commands: the table says which and where).
help-use-tools = /tools — какие инструменты включены
help-use-settings = /settings — настройки чата
help-use-notes = /notes — что я помню (/notes forget НОМЕР)
help-use-reminders = /reminders — о чём я напомню (/reminders cancel ID)
help-use-usage = /usage — сколько израсходовали вы и этот чат
help-settings-voice = /voice — выбрать голос
help-settings-instructions = /instructions ТЕКСТ — каким мне быть
help-settings-mode = /mode all|replies — на какие сообщения группы отвечать
help-settings-reset = /reset — начать новый разговор; /reset settings — вернуть все настройки по умолчанию
help-settings-forget = /forget — забыть разговор
help-settings-memory = /memory on|off — помнить прошлые реплики
help-settings-transcript = /transcript on|off — показывать услышанное над ответом
help-settings-live = /live on|off — показывать ответ по мере появления (черновик с кнопкой «стоп» в личном чате, реакция в группах)
help-settings-tools = /tools ИМЯ on|off — включить или выключить инструмент
help-settings-timezone = /timezone ЗОНА — часовой пояс чата, для времени и напоминаний
help-settings-notes = /notes clear, /reminders clear — забыть все заметки, отменить все напоминания
settings =
    <b>Настройки чата</b>
    { $lines }
settings-voice = Голос: { $value }
settings-mode = Режим: { $value }
settings-live = Живые ответы: { $value }
settings-tools = Инструменты: { TOOL($value) }
settings-timezone = Часовой пояс: { $value }
settings-instructions = Инструкции: { $value }
settings-instructions-default = по умолчанию: коротко и понятно на слух
mode-all = каждое голосовое
mode-replies = ответы и упоминания
voice-set = Голос установлен: { $voice }.
voice-unknown = Я не знаю голоса «{ $voice }». Голоса: { $voices }.
voice-pick = Выберите голос (сейчас: { $voice }). ▶ — послушать, как он звучит.
voice-only-admins = Менять голос могут только администраторы чата.
instructions-show =
    Текущие инструкции:
    { $instructions }

    Чтобы изменить: /instructions и новый текст (до { $limit } символов) или ответьте командой /instructions на сообщение.
instructions-set = Инструкции обновлены.
instructions-too-long = В этих инструкциях { $length } символов, а можно не больше { $limit }. Сократите их, пожалуйста.
mode-set = Режим установлен: { $mode }.
mode-usage = Использование: /mode all или /mode replies. Сейчас: { $mode }.
mode-private = В личном чате я отвечаю на каждое сообщение; /mode нужен для групп.
reset-done = Настройки сброшены к значениям по умолчанию.
reset-new = Начнём заново: я забыл наш разговор. Настройки остались прежними (/reset settings вернёт их к значениям по умолчанию).
reset-confirm = Вернуть все настройки чата к значениям по умолчанию? Голос, инструкции, режим, инструменты, часовой пояс и остальное станут такими, как по умолчанию; заметки и напоминания останутся.
reset-confirm-yes = Да, сбросить настройки
reset-confirm-no = Отмена
reset-cancelled = Ничего не изменилось: настройки остались прежними.
not-admin = Менять мои настройки могут только администраторы чата.
not-allowed = Извините, это частный бот: владелец не разрешил этот чат.
unsupported = Я отвечаю на голосовые, аудиофайлы, кружки и тексты. Пришлите, пожалуйста, что-то из этого.
unknown-command = Я не знаю команды /{ $command }. Что я умею, расскажет /help.
ask-usage = Ответьте командой /ask на голосовое или аудио — и я на него отвечу.
error-empty = Файл пустой — слушать нечего. Запишите голосовое ещё раз, пожалуйста.
error-corrupt = Не получилось прочитать файл: похоже, он повреждён. Пришлите его ещё раз.
error-not-audio = В этом файле нет звука, который я могу послушать. Пришлите голосовое или аудиофайл.
error-silent = Я ничего не услышал: запись беззвучная. Проверьте микрофон и попробуйте ещё раз.
error-too-long = Запись слишком длинная ({ $seconds } с). Я слушаю до { $limit } с — разделите её, пожалуйста.
error-too-large = Файл слишком большой ({ $size } МБ). Я принимаю до { $limit } МБ.
error-model = Речевая модель сейчас не смогла ответить. Попробуйте ещё раз.
error-model-auth = У бота проблема с настройкой, и сейчас он не может ответить. Владелец уже знает; попробуйте позже.
error-model-config = У бота проблема с настройкой (модель или голос, которые он запрашивает), и сейчас он не может ответить. Владелец уже знает; попробуйте позже.
error-model-quota = Квота речевой модели исчерпана. Попробуйте позже.
error-model-unavailable = Речевая модель сейчас недоступна. Попробуйте через минуту.
error-model-timeout = Речевая модель слишком долго отвечала. Попробуйте ещё раз.
error-storage = У меня проблемы с хранилищем. Попробуйте через минуту.
error-internal = Что-то пошло не так с моей стороны. Попробуйте ещё раз.
busy = В очереди уже { $limit } { $limit ->
        [one] сообщение
        [few] сообщения
       *[other] сообщений
    } — больше я сразу не беру, поэтому это сообщение не принял. Пришлите его, пожалуйста, ещё раз через минуту.
refused-marked = Если я поставлю 🙈 на ваши следующие сообщения, значит, их я тоже не принял: пришлите и их ещё раз.
rate-limited = Слишком много сообщений подряд. Попробуйте ещё раз через { $seconds } с.
heard = 🗣 { $text }
live-stopped-mark = (остановлено)
memory-voice-without-transcript = (голосовое сообщение)
voice-forbidden = Ваши настройки приватности запрещают голосовые сообщения, поэтому ответ пришлю аудиофайлом. Чтобы получать голосовые, разрешите их этому боту в Настройках → Конфиденциальность.
forget-done = Я забыл наш разговор.
memory-usage = Память разговора { $state }. Администраторы включают и выключают её командой /memory on или /memory off.
memory-set = Память разговора теперь { $state }.
transcript-usage = Показ услышанного { $state }. Администраторы включают и выключают его командой /transcript on или /transcript off.
transcript-set = Показ услышанного теперь { $state }.
live-state-on = включены
live-state-off = выключены
memory-state-on = включена
memory-state-off = выключена
transcript-state-on = включён
transcript-state-off = выключен
budget-user-day = Вы исчерпали дневной лимит. Он обновится { $resets }.
budget-user-month = Вы исчерпали месячный лимит. Он обновится { $resets }.
budget-chat-day = Этот чат исчерпал дневной лимит. Он обновится { $resets }.
budget-chat-month = Этот чат исчерпал месячный лимит. Он обновится { $resets }.
budget-bot-day = Бот исчерпал дневной лимит расходов и сейчас не может ответить. Лимит обновится { $resets }.
reminder-rate-limited = Слишком много сообщений подряд (каждое напоминание считается сообщением). Попросите ещё раз через { $seconds } с.
reminder-budget-user-day = Вы исчерпали дневной лимит, поэтому напоминание поставить нельзя. Он обновится { $resets }.
reminder-budget-user-month = Вы исчерпали месячный лимит, поэтому напоминание поставить нельзя. Он обновится { $resets }.
reminder-budget-chat-day = Этот чат исчерпал дневной лимит, поэтому напоминание поставить нельзя. Он обновится { $resets }.
reminder-budget-chat-month = Этот чат исчерпал месячный лимит, поэтому напоминание поставить нельзя. Он обновится { $resets }.
reminder-budget-bot-day = Бот исчерпал дневной лимит расходов, поэтому напоминание поставить нельзя. Лимит обновится { $resets }.
usage-title = Расход (аудио в обе стороны):
usage-line = { $label }: { $turns } { $turns ->
        [one] ответ
        [few] ответа
       *[other] ответов
    }, { $minutes } мин, ≈{ $cost }
usage-you-today = Вы, сегодня
usage-you-month = Вы, в этом месяце
usage-chat-today = Этот чат, сегодня
usage-chat-month = Этот чат, в этом месяце
usage-today = Сегодня
usage-month = В этом месяце
stats-title = Статистика бота
stats-failures = Неудачных ответов в этом месяце: { $failures }
stats-model = Сейчас отвечает: { $model } (каждый ответ оценён по ценам своей модели)
stats-top-chats = Топ чатов за месяц
stats-top-users = Топ пользователей за месяц
stats-chart = Минуты аудио и ответы за 30 дней
stats-chart-minutes = аудио, минуты
stats-chart-answers = ответы
stats-top-line = { $who }: { $minutes } мин
stats-owners-only = /stats доступна только владельцам бота.
error-download = Не удалось получить ваш файл из Telegram. Попробуйте через минуту.
menu-start = Что умеет бот
menu-help = Как им пользоваться
menu-settings = Настройки чата
menu-ask = Ответить на голосовое, на которое вы отвечаете
menu-voice = Выбрать голос
menu-instructions = Показать или задать инструкции
menu-mode = Режим группы: отвечать на всё или только на ответы
menu-reset = Начать новый разговор
menu-forget = Забыть этот разговор
menu-memory = Память разговора: включить или выключить
menu-transcript = Показывать ли, что я услышал
menu-usage = Ваш расход и расход чата
menu-stats = Владельцам: итоги, топ чатов и людей, график
slow-model = Речевая модель отвечает медленно; я всё ещё пытаюсь.
slow-model-done = Готово: ответ ниже.
voice-no-rights = Мне нельзя отправлять голосовые в этот чат, поэтому ответ пришлю аудиофайлом. Администратор может разрешить голосовые сообщения в правах участников группы.
live-usage = Живые ответы { $state }. Администраторы включают и выключают их командой /live on или /live off.
live-set = Живые ответы теперь { $state }.
menu-live = Живые ответы: включить или выключить
menu-tools = Инструменты: какие включены, переключить
menu-timezone = Часовой пояс чата
menu-notes = Что я помню в этом чате
menu-reminders = Напоминания, которые ждут
tools-title = Инструменты в этом чате:
tools-line = { $mark } { $tool } — { $description }
tool-web_search = поиск в интернете
tool-clock = дата и время
tool-notes = заметки: запоминаю то, что вы попросите
tool-reminders = напоминания в назначенное время
tool-name-web_search = поиск в интернете
tool-name-clock = дата и время
tool-name-notes = заметки
tool-name-reminders = напоминания
tools-how = Администраторы включают и выключают инструмент командой /tools ИМЯ on или /tools ИМЯ off, например /tools { $example } off.
tools-none = У этого бота нет инструментов: я просто отвечаю.
tools-none-on = нет
tools-set-on = Инструмент «{ TOOL($tool) }» включён.
tools-set-off = Инструмент «{ TOOL($tool) }» выключен.
tools-unknown = Я не знаю инструмента «{ $tool }». Инструменты: { $tools }.
tools-unavailable = Инструмент «{ $tool }» недоступен в этом боте. Инструменты: { $tools }.
timezone-show =
    Часовой пояс: { $zone } ({ $offset }). Время там: { $time }.
    Администраторы задают его командой /timezone с названием пояса, например Europe/Berlin, или смещением, например UTC+3; /timezone reset возвращает пояс по умолчанию.
timezone-set = Часовой пояс установлен: { $zone }. Время там: { $time }.
timezone-reset = Часовой пояс снова по умолчанию: { $zone }. Время там: { $time }.
timezone-unknown = Я не знаю часового пояса «{ $zone }». Укажите название, например Europe/Berlin, или смещение в целых часах, например UTC+3.
weekday = { $day ->
    [0] Пн
    [1] Вт
    [2] Ср
    [3] Чт
    [4] Пт
    [5] Сб
   *[6] Вс
}
notes-title = Что я помню в этом чате:
notes-line = { $id }. { $text }
notes-how = /notes forget НОМЕР — забыть заметку, которую просили запомнить вы (администраторы — любую); администраторы: /notes clear — забыть все.
notes-empty = В этом чате у меня пока нет заметок. Скажите «запомни, что …» — и я запомню.
notes-forgotten = Забыл: { $text }
notes-not-found = Заметки { $id } нет. /notes покажет их с номерами.
notes-not-yours = Заметку { $id } просил запомнить кто-то другой: забыть её могу только по его просьбе или по просьбе администратора.
notes-cleared = { $count ->
    [0] Заметок не было.
    [1] Забыл единственную заметку.
   *[other] Забыл все заметки ({ $count }).
}
reminders-title = Напоминания, которые ждут (часовой пояс { $zone }):
reminders-line = #{ $id } { $when } — { $text }
reminders-how = /reminders cancel ID — отменить своё напоминание (администраторы — любое); администраторы: /reminders clear — отменить все.
reminders-empty = Напоминаний нет. Скажите, например: «напомни через двадцать минут позвонить маме».
reminders-not-found = Напоминания { $id } нет среди ожидающих. /reminders покажет их.
reminders-not-yours = Отменить это напоминание может только тот, кто его попросил, или администратор.
reminders-cancelled = Отменено: { $line }
reminders-cleared = { $count ->
    [0] Напоминаний не было.
    [1] Отменил единственное напоминание.
   *[other] Отменил все напоминания ({ $count }).
}

owner-alert-config = ⚠️ Речевая модель не приняла настройки бота: { $detail }
    Проверьте { $setting } (и перезапустите бота). До тех пор пользователи слышат, что бот настроен неверно.
owner-alert-auth = ⚠️ Речевая модель не приняла ключ бота: { $detail }
    Проверьте REALTIME_API_KEY (или YANDEX_IAM_TOKEN) и роль сервисного аккаунта ai.models.user, затем перезапустите бота.
owner-alert-bot-budget = ⚠️ Бот исчерпал дневной лимит расходов (BOT_DAILY_COST { $limit } { $currency }, с учётом резерва под ответы в работе): новые сообщения отклоняются до { $resets }. Чтобы бот снова отвечал сегодня, поднимите BOT_DAILY_COST (0 = без лимита) и перезапустите бота.
# Меню /settings (bot.telegram.handlers.settings): кнопка на каждую настройку, $value — слово
# переключателя или выбора, как оно хранится, иначе значение как есть.
settings-menu-voice = 🗣 Голос: { $value }
settings-menu-mode = 👥 Отвечаю: { $value ->
    [all] на каждое голосовое
   *[replies] на ответы и упоминания
}
settings-menu-live = ⚡ Живые ответы: { $value ->
    [on] включены
   *[off] выключены
}
settings-menu-tools = 🧰 Инструменты: { $value }
settings-menu-tools-count = включено { $on } из { $all }
settings-menu-timezone = 🕒 Часовой пояс: { $value }
settings-menu-instructions = 📝 Инструкции: { $value }
settings-menu-memory = 🧠 Память: { $value ->
    [on] включена
   *[off] выключена
}
settings-menu-transcript = 📄 Показ услышанного: { $value ->
    [on] включён
   *[off] выключен
}
settings-menu-back = « Назад
settings-menu-stale = Эта кнопка устарела: отправьте /settings ещё раз.
settings-menu-how-timezone = Отправьте /timezone и часовой пояс, например /timezone Europe/Berlin или /timezone UTC+3; /timezone reset вернёт пояс по умолчанию.
settings-menu-write-own = ✏️ Написать свои
settings-menu-own-how = Отправьте /instructions и текст инструкций (до { $limit } символов) или ответьте командой /instructions на сообщение с ними.
instructions-preset-brief = кратко
instructions-preset-friendly = дружелюбно
instructions-preset-formal = официально
instructions-preset-own = свои
instructions-preset-brief-button = Кратко (по умолчанию)
instructions-preset-friendly-button = Дружелюбно и подробно
instructions-preset-formal-button = Официально
instructions-preset-friendly-text = Ты — дружелюбный голосовой ассистент. Отвечай тепло и подробно, где нужно — с примером, но простыми фразами, которые легко воспринимать на слух: без списков, таблиц, ссылок и разметки. Отвечай на языке пользователя.
instructions-preset-formal-text = Ты — голосовой ассистент. Отвечай вежливо и официально, обращайся к пользователю на «вы», говори точно и по существу, простыми фразами, которые легко воспринимать на слух: без списков, таблиц, ссылок и разметки. Отвечай на языке пользователя.
# Форма ответов (/answer) и последний ответ ещё раз (/again): bot.telegram.handlers.answer.
menu-answer = Как отвечать: голосом, голосом с текстом или текстом на текст
menu-again = Повторить последний ответ
help-settings-answer = /answer voice_text|voice|text — как я отвечаю: голосовым сообщением с текстом, только голосовым или текстом на текстовые вопросы
help-use-again = /again — повторить последний ответ (/again text, /again voice)
settings-answer = Ответы: { $value }
answer-voice_text = голосовое сообщение с текстом
answer-voice = только голосовое сообщение
answer-text_for_text = текст на текстовые вопросы, голосовое на голосовые
settings-menu-answer = 💬 Ответы: { $value ->
    [voice] только голос
    [text_for_text] текст на текст
   *[voice_text] голос и текст
}
answer-set = Теперь я отвечаю так: { $form }.
answer-usage = Сейчас я отвечаю так: { $form }. Администраторы меняют это командой /answer voice_text, /answer voice или /answer text (на текстовые вопросы — только текстом).
again-none = Мне пока нечего повторить: в этом чате ещё не было ответа (или он уже забыт).
again-no-voice = Последний ответ был только текстом, голосового сообщения у него нет. Команда /again text пришлёт его текст ещё раз.
again-usage = Использование: /again, /again text или /again voice.

# Голосовая студия (/voice, /voices, /speed) и язык, который я слушаю (/language):
# bot.telegram.handlers.voice и .language.
menu-voices = Все голоса по языкам
menu-speed = Как быстро говорит голос
menu-language = Язык, который я слушаю
help-settings-voices = /voices — все голоса по языкам; в /voice можно послушать каждый
help-settings-speed = /speed 0.8|1|1.25|1.5 — как быстро я говорю
help-settings-language = /language auto|ru-RU|en-US… — язык, который я слушаю
voice-studio =
    Голос: { $voice }
    Манера: { $role }
    Скорость: { $speed }×
voice-kept = Голоса по языкам: { $kept }. На каждом языке отвечает свой голос.
voice-all = « Все голоса
voice-keep-one = { $voice } для всех языков
voice-one-set = Теперь { $voice } отвечает на всех языках.
voice-sample-coming = ▶ Включаю образец…
voice-sample-busy = Образец ещё готовится: нажмите ▶ ещё раз чуть позже.
voice-sample-failed = Не получилось включить образец. Попробуйте позже.
voices-title = Голоса (✓ — голос этого чата; курсивом — голоса, которые он хранит для других языков):
voices-any-language = Любой язык
voices-hint = Администратор выбирает голос командой /voice, там же ▶ включает образец каждого.
role-set = Манера: { $role }.
role-neutral = нейтральная
role-good = радостная
role-evil = раздражённая
role-friendly = дружелюбная
role-strict = строгая
role-whisper = шёпот
role-modern = современная
role-classic = классическая
role-none = своя у голоса
speed-set = Скорость речи: { $speed }×.
speed-how = Я говорю со скоростью { $speed }×. Администраторы выбирают одну из { $speeds } командой /speed, например /speed 1.25.
settings-role = Манера: { $value }
settings-speed = Скорость речи: { $value }×
settings-language = Я слушаю: { $value }
settings-voices = Голоса по языкам: { $value }
settings-menu-speed = 🐢 Скорость: { $value }×
settings-menu-language = 🌐 Слушаю: { $value ->
    [auto] любой язык
   *[other] { $value }
}
language-pick = Какой язык мне слушать? Сейчас: { $language }. Заданный язык помогает с короткими голосовыми.
language-set = Теперь я слушаю: { $language }.
language-unknown = Я не знаю языка «{ $language }». Языки: { $languages }.
language-auto = любой язык (сам определю)
language-ru-RU = русский
language-kk-KZ = казахский
language-uz-UZ = узбекский
language-en-US = английский
language-de-DE = немецкий
language-he-IL = иврит
language-uk-UA = украинский
language-fr-FR = французский
language-es-ES = испанский
language-it-IT = итальянский
language-pt-BR = португальский
language-tr-TR = турецкий
language-pl-PL = польский
voice-role-unknown = У голоса { $voice } нет манеры «{ $role }». Его манеры: { $roles }.
