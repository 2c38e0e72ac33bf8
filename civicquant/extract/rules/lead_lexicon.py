"""Word lists for reading a post's lead: what is not a headline, and what makes news breaking.

Data only; `civicquant.extract.rules.lead` (headline choice) and
`civicquant.extract.rules.breaking` (the breaking decision) compile them once at import.
Every entry is lower case. A phrase is matched at word boundaries; an entry ending in `*`
is a stem (any ending: Russian and Ukrainian inflect). Changing any value changes what
`extract()` returns, so `RULES_VERSION` in `extractor.py` must move with it.

Where the lists came from: the greetings, religious formulas and decoration lines found on
an English/Arabic channel (87 of 500 headlines on old main were "Hello everyone",
"Salam everyone", the basmala or a "━━━ INDEX ━━━" line), the demo export's sign-off
("That's the morning desk signing off."), the job advert sent as breaking ("🚨 Opportunity
for Future Graduates"), and the usual openings and closings of Russian and Ukrainian news
channels. `bench/breaking_quality.py` measures what they change.
"""

from __future__ import annotations

__all__ = [
    "ADVERT_CUES",
    "CHATTER_CUES",
    "EVENT_WORDS",
    "FIGURE_ABBREVIATIONS",
    "GREETINGS",
    "NAME_ABBREVIATIONS",
    "NUMBERED_WIRE_SLUGS",
    "RELIGIOUS_FORMULAS",
    "SIGN_OFFS",
    "VOCATIVES",
    "WIRE_SLUGS",
]

# --------------------------------------------------------------------------------------
# Not a headline
# --------------------------------------------------------------------------------------

# Greetings that open a post. One is dropped from the start of the first sentence, with the
# words of address after it (VOCATIVES); a sentence left with nothing else is skipped.
# Transliterated Arabic salutations are spelled several ways on Latin-script channels.
GREETINGS = (
    "hello", "hi", "hey", "greetings", "good morning", "good afternoon", "good evening",
    "good day", "good night", "morning", "evening", "welcome", "welcome back",
    "salam", "salaam", "salam alaikum", "salam aleikum", "salaam alaikum", "salamu alaikum",
    "assalamu alaikum", "assalamualaikum", "assalam alaikum", "assalamu alaykum",
    "as-salamu alaykum", "as salamu alaikum", "asalamu alaikum", "asalaam alaikum",
    "marhaba", "ahlan", "shalom",
    "السلام عليكم", "السلام عليكم ورحمة الله وبركاته", "صباح الخير", "مساء الخير", "مرحبا",
    "привет", "всем привет", "приветствуем", "здравствуйте", "добрый день", "доброе утро",
    "добрый вечер", "доброй ночи", "спокойной ночи", "доброго утра", "доброго дня",
    "доброго вечера", "приветствую",
    "привіт", "всім привіт", "вітаю", "вітаємо", "доброго ранку", "добрий ранок",
    "добрий день", "добрий вечір", "доброго вечора", "на добраніч", "доброї ночі",
)  # fmt: skip
# Words of address that follow a greeting ("Hello everyone", "Доброе утро, друзья").
VOCATIVES = (
    "everyone", "everybody", "all", "friends", "folks", "guys", "team", "there", "again",
    "dear", "dear friends", "dear readers", "dear subscribers", "dear followers",
    "dear all", "ladies and gentlemen", "readers", "subscribers", "followers", "family",
    "brothers", "sisters", "brothers and sisters", "world", "and welcome", "to all",
    "друзья", "дорогие друзья", "дорогие подписчики", "уважаемые подписчики", "подписчики",
    "дорогие", "уважаемые", "всем", "коллеги", "дорогі друзі", "друзі", "шановні",
    "дорогі", "підписники", "шановні підписники", "всім", "колеги",
)  # fmt: skip
# Religious and patriotic formulas that open posts and say nothing about the news: the
# basmala (Latin transliterations, the English rendering and the Arabic), blessings, and
# Ukrainian channels' greeting and reply. Matched like greetings (a sentence left empty
# after one is skipped).
RELIGIOUS_FORMULAS = (
    "bismillah", "bismillahir rahmanir rahim", "bismillah ir rahman ir rahim",
    "bismillahirrahmanirrahim", "bismillah al rahman al rahim",
    "bismillah hir rahman nir raheem", "bismillahi rahmani rahim",
    "in the name of allah", "in the name of allah the most gracious the most merciful",
    "in the name of allah the most beneficent the most merciful",
    "in the name of allah the most merciful the most compassionate",
    "in the name of god the most gracious the most merciful",
    "in the name of god the compassionate the merciful",
    "بسم الله", "بسم الله الرحمن الرحيم", "الحمد لله", "الله أكبر",
    "alhamdulillah", "subhanallah", "mashallah", "inshallah", "allahu akbar",
    "jumma mubarak", "jummah mubarak", "juma mubarak", "eid mubarak", "ramadan mubarak",
    "ramadan kareem", "peace be upon you", "peace be with you", "may allah bless you",
    "слава украине", "героям слава", "слава україні", "слава нації", "смерть ворогам",
    "христос воскрес", "воистину воскрес", "воістину воскрес",
)  # fmt: skip
# A sentence holding one of these is a sign-off: never a headline nor part of a summary,
# and a post whose first sentence is one is housekeeping (the desk's last post, a
# schedule, a link), which gets no headline at all.
SIGN_OFFS = (
    "signing off", "signs off", "sign off for", "that's all for today", "that is all for today",
    "that's all for now", "that's it for today", "that's it for now", "that's a wrap",
    "that's all from", "that's it from", "see you tomorrow", "see you next week",
    "see you on monday", "see you all tomorrow", "until next time",
    "thanks for reading", "thank you for reading", "thanks for following",
    "thank you for following", "thanks for joining us", "have a nice day",
    "have a great day", "have a good weekend", "have a great weekend", "have a nice weekend",
    "end of the morning brief", "end of brief",
    "на этом всё", "на этом все", "на сегодня всё", "на сегодня все",
    "всем хорошего дня", "хорошего вечера", "хороших выходных",
    "спасибо, что читаете", "спасибо что читаете", "спасибо, что с нами",
    "на цьому все", "на сьогодні все", "на сьогодні всё",
    "гарного дня", "гарного вечора", "гарних вихідних", "дякуємо, що читаєте",
    "дякуємо що читаєте", "дякуємо, що з нами",
)  # fmt: skip

# Short words that, followed by '.' and a figure, do not end a sentence: the forecast and
# prior readings of market posts ("Japan core CPI +2.9% y/y (exp. 3.0%, prior 3.1%)").
FIGURE_ABBREVIATIONS = frozenset(
    {
        "exp", "est", "prev", "cons", "fcst", "f'cast", "avg", "rev", "approx", "appr", "ca",
        "incl", "excl", "ytd", "yoy", "mom", "qoq", "vs", "v", "ref", "tgt", "max", "min",
        "ex", "прогн", "пред", "ож", "ок", "ср", "прибл", "мин", "макс", "вкл", "искл",
        "очік", "попер", "сер",
        # chapters, articles, numbers: "Sbarro files for Ch. 11" (UCI titles cut there)
        "ch", "chap", "art", "sec", "vol", "pp", "nos", "op", "ст", "гл", "п",
    }
)  # fmt: skip
# Words that, followed by '.', never end a sentence, whatever follows: titles and place
# words before a name, beside the extractor's own ABBREVIATIONS ("Mt. Gox" cut UCI titles).
NAME_ABBREVIATIONS = frozenset(
    {
        "mt", "ft", "pt", "sgt", "lt", "col", "cpl", "capt", "adm", "cmdr", "hon", "messrs",
        "mme", "mlle", "gov", "atty", "supt", "insp",
    }
)  # fmt: skip

# Wire-service slugs before a headline ("UPDATE 1-Fed holds rates", "REFILE-", "RPT-"):
# the desk's revision notes, stripped from the headline and never a breaking marker.
# Numbered ones carry the revision number before the dash; all are written in capitals.
NUMBERED_WIRE_SLUGS = ("UPDATE", "WRAPUP")
WIRE_SLUGS = (
    "REFILE", "RPT", "CORRECTED", "CORRECTION", "EXCLUSIVE", "INSIGHT", "ANALYSIS",
    "FACTBOX", "EXPLAINER", "COLUMN", "BREAKINGVIEWS", "PREVIEW", "TIMELINE", "GRAPHIC",
)  # fmt: skip

# --------------------------------------------------------------------------------------
# Breaking: news content, and what is not news
# --------------------------------------------------------------------------------------

# Verbs and nouns of an event: with a marker, one of them in the headline is news even
# without a figure or a name ("🚨 Explosions heard downtown"). English forms are listed
# as written; Russian and Ukrainian as stems. "announces" of an event is news; the base
# form "announce" is left out, being the advert's ("we are excited to announce").
EVENT_WORDS = (
    # English: violence and disasters
    "killed", "kills", "kill", "dead", "dies", "died", "death", "deaths", "wounded",
    "injured", "injures", "hurt", "casualties", "struck", "strikes", "strike", "hit", "hits",
    "attack", "attacks", "attacked", "explosion", "explosions", "explodes", "exploded",
    "blast", "blasts", "bomb", "bombs", "bombing", "bombed", "shelling", "shelled", "shot",
    "shooting", "gunfire", "missile", "missiles", "drone", "drones", "rocket", "rockets",
    "airstrike", "airstrikes", "crash", "crashes", "crashed", "collapse", "collapses",
    "collapsed", "earthquake", "quake", "tsunami", "flood", "floods", "flooding", "wildfire",
    "fire", "fires", "evacuate", "evacuated", "evacuation", "sirens", "intercepted",
    "invades", "invaded", "invasion", "seized", "seizes", "captured", "captures", "hostage",
    "hostages", "coup", "clashes", "riot", "riots", "protests", "ceasefire", "truce",
    # English: people and institutions acting
    "resigns", "resigned", "resignation", "quits", "ousted", "fired", "sacked", "dismissed",
    "arrested", "arrest", "detained", "charged", "indicted", "sentenced", "convicted",
    "acquitted", "elected", "wins", "won", "defeated", "concedes", "sworn", "impeached",
    "assassinated", "announces", "announced", "declares", "declared", "launches",
    "launched", "approves", "approved", "rejects", "rejected", "passes", "passed", "vetoes",
    "signs", "signed", "agrees", "agreed", "bans", "banned", "sanctions", "sanctioned",
    "halts", "halted", "suspends", "suspended", "closes", "closed", "shuts", "blocks",
    "blocked", "confirms", "confirmed", "warns", "orders", "ordered", "deploys", "deployed",
    # English: markets and companies
    "cuts", "cut", "raises", "raised", "hikes", "hiked", "holds", "lowers", "lowered",
    "default", "defaults", "defaulted", "bankrupt", "bankruptcy", "downgrades",
    "downgraded", "upgrades", "plunges", "plunged", "plummets", "soars", "soared", "surges",
    "surged", "jumps", "jumped", "tumbles", "tumbled", "slumps", "crashes", "sinks",
    "rallies", "acquire", "acquires", "acquired", "merger", "buyout", "hacked", "hack",
    "breach", "drained", "outage", "recall", "recalls", "delisted", "sues", "sued", "fined",
    # Russian stems
    "убит*", "убил*", "погиб*", "гибел*", "ранен*", "пострадал*", "взрыв*", "удар*",
    "атак*", "атаков*", "обстрел*", "сбит*", "сбил*", "ракет*", "беспилотник*", "дрон*",
    "задержан*", "задержал*", "арестова*", "арест*", "отставк*", "уволен*", "уволил*",
    "объявил*", "ввел*", "ввёл*", "запрет*", "запретил*", "приостанов*", "повысил*",
    "снизил*", "сохранил*", "подписал*", "утвердил*", "принял*", "скончал*", "умер*",
    "землетрясен*", "пожар*", "авари*", "крушени*", "эвакуац*", "тревог*", "захват*",
    "освобожд*", "перемири*", "санкци*", "обвал*", "рухнул*", "дефолт*", "банкрот*",
    "взлом*", "утечк*", "отключен*", "сообщил*", "заявил*", "избран*", "победил*",
    # Ukrainian stems
    "загин*", "вбит*", "вбив*", "поранен*", "постраждал*", "вибух*", "удари*", "атакув*",
    "обстріл*", "збит*", "збив*", "ракет*", "безпілотник*", "затриман*", "затримал*",
    "заарештован*", "арешт*", "звільн*", "оголосив*", "оголосил*", "запровад*",
    "заборон*", "призупин*", "підвищив*", "підвищил*", "знизив*", "знизил*", "зберіг*",
    "зберегл*", "підписав*", "підписал*", "ухвалив*", "ухвалил*", "помер*", "землетрус*",
    "пожеж*", "аварі*", "евакуац*", "тривог*", "захопил*", "захопив*", "звільнил*",
    "перемир*", "санкці*", "дефолт*", "банкрут*", "відключен*", "знеструмлен*",
    "повідомил*", "заявив*", "заявил*", "обран*", "переміг*",
)  # fmt: skip

# Cues of an advert or an invitation: anywhere in the lead they veto breaking, whatever
# the marker (the job advert "🚨 Opportunity for Future Graduates" went out as breaking).
ADVERT_CUES = (
    "opportunity", "opportunities", "vacancy", "vacancies", "we're hiring", "we are hiring",
    "now hiring", "job offer", "job opening", "internship", "internships",
    "scholarship", "scholarships", "fellowship", "apply now", "apply here",
    "apply today", "apply by", "how to apply", "apply before", "applications open",
    "register now", "register here", "registration", "sign up", "signup", "enrol", "enroll",
    "webinar", "masterclass", "bootcamp", "online course", "free course",
    "giveaway", "chance to win", "promo", "promo code", "promocode", "discount",
    "% off", "coupon", "free trial", "limited offer", "limited time", "special offer",
    "advertisement", "#ad", "partner post",
    "use code", "buy now", "order now", "shop now", "dm us", "dm me", "link in bio",
    "вакансия", "вакансии", "вакансій", "ищем сотрудник*",
    "приглашаем", "розыгрыш*", "вебинар*", "мастер-класс*", "интенсив",
    "курс для", "онлайн-курс*", "скидк*", "промокод*", "реклама", "на правах рекламы",
    "партнерский материал", "партнёрский материал", "регистрац*", "записывайтесь",
    "запишитесь", "бесплатный урок", "бесплатн* вебинар*", "стажировк*",
    "вакансія", "вакансії", "шукаємо", "запрошуємо", "розіграш*", "вебінар*",
    "майстер-клас*", "знижк*", "промокод", "реєстрац*", "записуйтесь", "стажуванн*",
    "на правах реклами",
)  # fmt: skip
# Cues of a channel talking about itself or to its readers: they veto breaking when they are
# in the headline (footers further down carry them under real news too).
CHATTER_CUES = (
    "subscribe", "subscribers", "join us", "join our", "follow us", "our channel",
    "our telegram", "our new", "stay tuned", "coming soon", "don't miss", "do not miss",
    "excited to announce", "pleased to announce", "happy to announce", "proud to announce",
    "thank you", "congratulations", "happy birthday", "happy new year",
    "merry christmas", "live stream", "livestream", "watch live", "tune in", "poll",
    "quiz", "ama", "q&a", "what do you think", "your thoughts", "share your", "vote now",
    "подписывайтесь", "подпишитесь", "подписаться", "присоединяйтесь", "наш канал",
    "нашем канале", "наш новый", "следите за", "скоро", "не пропустите", "анонс",
    "прямой эфир", "стрим", "опрос", "поздравляем", "с днем рождения", "с новым годом",
    "спасибо", "а вы как думаете", "ваше мнение", "голосуйте",
    "підписуйтесь", "підпишіться", "приєднуйтесь", "наш канал", "нашому каналі",
    "слідкуйте за", "незабаром", "не пропустіть", "прямий ефір", "опитування", "вітаємо з",
    "з днем народження", "з новим роком", "дякуємо", "а ви як думаєте", "ваша думка",
    # live coverage, reminders and shows: a programme note, not the news itself
    "live:", "live now", "live updates", "live blog", "reminder", "don't forget",
    "podcast", "new episode", "трансляция", "онлайн-трансляция", "прямая трансляция",
    "напоминаем", "не забудьте", "трансляція", "пряма трансляція", "нагадуємо",
    "не забудьте",
    # round-ups of the day: a summary of what was news, never news breaking now
    "morning brief", "evening brief", "daily brief", "roundup", "round-up", "recap",
    "what you need to know", "week ahead", "week-ahead", "digest", "дайджест",
    "итоги дня", "итоги недели", "главное за день", "главное за неделю", "главное к утру",
    "главное за ночь", "підсумки дня", "підсумки тижня", "головне за день", "головне за ніч",
)  # fmt: skip
