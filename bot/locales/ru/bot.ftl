start =
    Привет! Я голосовой ассистент. Пришлите голосовое сообщение (или аудиофайл, кружок или просто текст) — я отвечу голосом и продублирую ответ текстом.

    Текущий голос: { $voice }.
    /settings — настройки чата, /help — подробнее.
help =
    <b>Как со мной говорить</b>
    Пришлите голосовое, аудиофайл, кружок или текст. Я отвечу голосовым сообщением и его текстом.

    <b>В группах</b>
    Я отвечаю на голосовые и тексты, которые отвечают на мои сообщения, и на тексты с упоминанием (@{ $bot }). В режиме /mode all я отвечаю на каждое голосовое в группе. Ответьте командой /ask на чужое голосовое — и я на него отвечу.
    Режим приватности Telegram скрывает от ботов обычные сообщения группы: чтобы работал /mode all, отключите его в @BotFather (/setprivacy → Disable) и добавьте меня в группу заново или сделайте администратором.

    <b>Что я умею</b>
    Кроме ответов, я умею пользоваться инструментами: { $can }. Просто скажите, например:
    { $search ->
        [yes] «Какая погода в Казани?»
       *[no] «Какое сегодня число?»
    }
    «Запомни, что мою дочь зовут Ада».
    «Напомни через двадцать минут позвонить маме».
    { $use }

    <b>Настройки</b> (администраторы чата)
    { $settings }

    Текущий голос: { $voice }.
# /help's lines, one a command (bot.telegram.commands: the table says which and where).
help-use-tools = /tools — какие инструменты включены
help-use-notes = /notes — что я помню (/notes forget НОМЕР)
help-use-reminders = /reminders — о чём я напомню (/reminders cancel ID)
help-settings-voice = /voice — выбрать голос
help-settings-instructions = /instructions ТЕКСТ — каким мне быть
help-settings-mode = /mode all|replies — на какие сообщения группы отвечать
help-settings-reset = /reset — вернуть настройки по умолчанию
help-settings-settings = /settings — показать настройки
help-settings-forget = /forget — забыть разговор
help-settings-memory = /memory on|off — помнить прошлые реплики
help-settings-transcript = /transcript on|off — показывать услышанное над ответом
help-settings-live = /live on|off — показывать ответ по мере появления (черновик с кнопкой «стоп» в личном чате, реакция в группах)
help-settings-tools = /tools ИМЯ on|off — включить или выключить инструмент
help-settings-timezone = /timezone ЗОНА — часовой пояс чата, для времени и напоминаний
help-settings-notes = /notes clear, /reminders clear — забыть все заметки, отменить все напоминания
help-settings-usage = /usage — сколько израсходовали вы и этот чат
settings =
    <b>Настройки чата</b>
    { $lines }
settings-voice = Голос: { $value }
settings-mode = Режим: { $value }
settings-live = Живые ответы: { $value }
settings-tools = Инструменты: { $value }
settings-timezone = Часовой пояс: { $value }
settings-instructions = Инструкции: { $value }
mode-all = каждое голосовое
mode-replies = ответы и упоминания
voice-set = Голос установлен: { $voice }.
voice-unknown = Я не знаю голоса «{ $voice }». Голоса: { $voices }.
voice-pick = Выберите голос (сейчас: { $voice }):
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
not-admin = Менять мои настройки могут только администраторы чата.
not-allowed = Извините, это частный бот: владелец не разрешил этот чат.
unsupported = Я отвечаю на голосовые, аудиофайлы, кружки и тексты. Пришлите, пожалуйста, что-то из этого.
ask-usage = Ответьте командой /ask на голосовое или аудио — и я на него отвечу.
error-empty = Файл пустой — слушать нечего. Запишите голосовое ещё раз, пожалуйста.
error-corrupt = Не получилось прочитать файл: похоже, он повреждён. Пришлите его ещё раз.
error-not-audio = В этом файле нет звука, который я могу послушать. Пришлите голосовое или аудиофайл.
error-silent = Я ничего не услышал: запись беззвучная. Проверьте микрофон и попробуйте ещё раз.
error-too-long = Запись слишком длинная ({ $seconds } с). Я слушаю до { $limit } с — разделите её, пожалуйста.
error-too-large = Файл слишком большой ({ $size } МБ). Я принимаю до { $limit } МБ.
error-model = Речевая модель сейчас не смогла ответить. Попробуйте ещё раз.
error-model-auth = Речевая модель не приняла ключ бота. Владелец уже знает; попробуйте позже.
error-model-config = Бот настроен на модель или голос, которые речевая модель не принимает. Владелец уже знает; попробуйте позже.
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
memory-voice-without-transcript = (голосовое сообщение)
voice-forbidden = Ваши настройки приватности запрещают голосовые сообщения, поэтому ответ пришлю аудиофайлом. Чтобы получать голосовые, разрешите их этому боту в Настройках → Конфиденциальность.
forget-done = Я забыл наш разговор.
memory-usage = Память разговора: { $state }. Администраторы меняют её командой /memory on или /memory off.
memory-set = Память разговора теперь: { $state }.
transcript-usage = Показ услышанного: { $state }. Администраторы меняют его командой /transcript on или /transcript off.
transcript-set = Показ услышанного теперь: { $state }.
state-on = включена
state-off = выключена
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
usage-line = { $label }: ходов { $turns }, { $minutes } мин, ≈{ $cost } { $currency }
usage-you-today = Вы, сегодня
usage-you-month = Вы, в этом месяце
usage-chat-today = Этот чат, сегодня
usage-chat-month = Этот чат, в этом месяце
usage-today = Сегодня
usage-month = В этом месяце
stats-title = Статистика бота
stats-failures = Неудачных ходов в этом месяце: { $failures }
stats-top-chats = Топ чатов за месяц
stats-top-users = Топ пользователей за месяц
stats-chart = Минуты аудио и ходы за 30 дней
stats-owners-only = /stats доступна только владельцам бота.
error-download = Не удалось получить ваш файл из Telegram. Попробуйте через минуту.
menu-start = Что умеет бот
menu-help = Как им пользоваться
menu-settings = Настройки чата
menu-ask = Ответить на голосовое, на которое вы отвечаете
menu-voice = Выбрать голос
menu-instructions = Показать или задать инструкции
menu-mode = Режим группы: all или replies
menu-reset = Сбросить настройки
menu-forget = Забыть этот разговор
menu-memory = Память разговора: on или off
menu-transcript = Показывать, что услышано: on или off
menu-usage = Ваш расход и расход чата
menu-stats = Владельцам: итоги, топ чатов и людей, график
slow-model = Речевая модель отвечает медленно; я всё ещё пытаюсь.
slow-model-done = Готово: ответ ниже.
voice-no-rights = Мне нельзя отправлять голосовые в этот чат, поэтому ответ пришлю аудиофайлом. Администратор может разрешить голосовые сообщения в правах участников группы.
live-usage = Живые ответы: { $state }. Администраторы меняют их командой /live on или /live off.
live-set = Живые ответы теперь: { $state }.
menu-live = Живые ответы: on или off
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
tools-how = Администраторы включают и выключают инструмент командой /tools ИМЯ on или /tools ИМЯ off, например /tools { $example } off.
tools-none = У этого бота нет инструментов: я просто отвечаю.
tools-none-on = нет
tools-set-on = Инструмент { $tool } включён.
tools-set-off = Инструмент { $tool } выключен.
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
