"""The rule-based extractor: an `Extraction` from a post's text, deterministically, offline.

`extract(text)` is pure: the same text always gives the same `Extraction`, with no network,
randomness, clock or hash-order dependence (sets are only ever used for membership). Bump
`RULES_VERSION` whenever a lexicon, table or formula below changes, so stored extractions
can be told apart from what the current rules would produce.

How a post is read:

1. Normalise: drop zero-width and control characters, cap the length, remember the first
   line's marker emoji (🚨 ⚡ 🔴), replace links and emoji runs with spaces.
2. Breaking markers are read off the headline's start (BREAKING, JUST IN, FLASH, URGENT,
   ALERT, DEVELOPING, UPDATE, СРОЧНО, ТЕРМІНОВО, МОЛНИЯ, БЛИСКАВКА: in capitals, or in any case when
   followed by ':', '!', '.', a dash, '|' or nothing) and removed; marker emoji count on
   the first line. An all-caps lead (three or more leading words in capitals, ten letters
   or more) is a soft marker.
3. Sentences: lines, then sentence ends followed by a capital, digit or opening quote (not
   after abbreviations). The headline is the first non-empty cleaned sentence, the summary
   the first three, each without links, edge hashtags and mentions, leading punctuation.
4. One pass over word tokens matches, longest first, multi-word phrases, exact words and
   word stems (Russian and Ukrainian inflect) from the topic lexicons and the entity tables
   (countries, central banks, institutions, known organisations). Each lexicon hit adds its
   weight to its topic, doubled inside the headline; the highest score wins, ties go to the
   earlier topic in `_TOPIC_PRIORITY`, no hit at all gives `other`.
5. People and organisations (English, Russian, Ukrainian only): runs of Capitalised words
   that are not a sentence start (unless a common given name), a title, a known place or
   entity; two or three words are a person, up to five ending in an organisation word
   (Bank, Holdings, ...) an organisation; runs in Title Case sentences are skipped.
6. Cashtags ($AAPL -> AAPL) and figures (2.5%, $1.2bn, 25 bps, 1,5 млрд, $78/bbl) by regex.

Importance, in thousandths so the sum is exact, capped at 1000:
    urgency          450 flash, 350 breaking, 150 soft only
    central banks    150 when any is named
    institutions      50 each, at most 100
    figures           50 each, at most 150
    countries         40 each, at most 120
    topic            macro/geopolitics 150, markets/energy 100, politics/companies 80,
                     crypto 60, other 0
    length            50 at 100+ characters of cleaned text, 100 at 400+

Breaking window: 15m for FLASH / МОЛНИЯ / БЛИСКАВКА, a siren with an urgent word, or a hard
marker with importance >= 0.85; 1h for any other hard marker (words or emoji); 4h for soft
markers alone (DEVELOPING, UPDATE, an all-caps lead).
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import dataclass, field

from civicquant.extraction import (
    ENTITIES_MAX,
    ENTITY_TEXT_MAX_CHARS,
    HEADLINE_MAX_CHARS,
    SUMMARY_MAX_CHARS,
    TOPICS,
    BreakingWindow,
    Entity,
    EntityKind,
    Extraction,
    Topic,
)

__all__ = ["RULES_VERSION", "extract"]

RULES_VERSION = "rules-v1"

# Only the beginning of a post is read; Telegram's own limit is 4096 characters.
_MAX_CHARS = 6000
_SUMMARY_SENTENCES = 3
_MAX_PHRASE_TOKENS = 5

# --------------------------------------------------------------------------------------
# Character classes and cleaning
# --------------------------------------------------------------------------------------


def _build_normalise_table() -> dict[int, str | None]:
    table: dict[int, str | None] = {}
    for code in (*range(0x00, 0x09), 0x0B, 0x0C, *range(0x0E, 0x20), *range(0x7F, 0xA0)):
        table[code] = None
    for code in (0x0B, 0x0C, 0x1C, 0x1D, 0x1E, 0x85, 0x2028, 0x2029, 0x0D):
        table[code] = "\n"
    for code in (*range(0x200B, 0x2010), *range(0x2060, 0x2065), 0xFEFF, 0x00AD):
        table[code] = None
    for code in range(0xD800, 0xE000):  # lone surrogates cannot be encoded as UTF-8
        table[code] = None
    return table


_NORMALISE_TABLE = _build_normalise_table()
# translate() with a big table is slow per character; most posts need none of it.
_NEEDS_NORMALISING_RE = re.compile(
    "[\x00-\x08\x0b-\x1f\x7f-\x9f\xad\u200b-\u200f\u2028\u2029\u2060-\u2064\ufeff\ud800-\udfff]"
)

_EMOJI_RE = re.compile(
    "["
    "\u203c\u2049\u2122\u2139\u2194-\u2199\u21a9\u21aa"
    "\u231a\u231b\u2328\u23cf\u23e9-\u23f3\u23f8-\u23fa\u24c2"
    "\u25a0-\u25ff\u2600-\u27bf\u2934\u2935\u2b05-\u2b07\u2b1b\u2b1c\u2b50\u2b55"
    "\u3030\u303d\u3297\u3299\u20e3\ufe0e\ufe0f"
    "\U0001f000-\U0001faff\U000e0020-\U000e007f"
    "]+"
)
_URL_RE = re.compile(
    r"(?:https?://|tg://|www\.|(?:t|telegram)\.me/)\S*",
    re.IGNORECASE,
)
_CONTENT_RE = re.compile(r"[^\W_]")
_DIGIT_RE = re.compile(r"\d")

_SIREN = "\U0001f6a8"  # 🚨
_HARD_MARKER_EMOJI = (_SIREN, "\u26a1", "\U0001f534")  # 🚨 ⚡ 🔴

_FLASH_WORDS = frozenset({"flash", "молния", "блискавка"})
_URGENT_WORDS = frozenset({"urgent", "срочно", "терміново"})
_SOFT_WORDS = frozenset({"developing", "update", "updated"})
_MARKER_WORDS = (
    r"BREAKING(?:\s+NEWS)?|JUST\s+IN|FLASH|URGENT|ALERT|DEVELOPING|UPDATED?"
    r"|СРОЧНО|ТЕРМІНОВО|МОЛНИЯ|БЛИСКАВКА"
)
_LEAD_MARKER_RE = re.compile(
    r"^[^\w$€£¥₽₴«\"“]*?"
    rf"(?:(?P<upper>{_MARKER_WORDS})(?![^\W\d_])"
    rf"|(?P<any>(?i:{_MARKER_WORDS}))\s*(?=[:!|\-–—.]|$))"
    r"[\s:!|\-–—.,)\]]*"
)
_DATELINE_RE = re.compile(
    r"^(?:[A-ZÀ-Ý][\w.'\- ]{0,40},?\s*)?"
    r"\((?:Reuters|AP|AFP|Bloomberg|Dow Jones|Interfax|TASS|Xinhua)\)\s*[-–—:]+\s*"
)
_CASED_WORD_RE = re.compile(r"[^\W\d_]+")

# Telegram footers left behind once their link is gone: "Подробнее: <link>".
_FOOTER_WORDS = frozenset(
    "подробнее подробности детальніше докладніше подписаться підписатися subscribe".split()
)
_FOOTER_LABELS = frozenset("источник джерело source читать читати more via".split())
_TAG_WORD_RE = re.compile(r"[,;|]*+(?:[#@][^\W_][\w.]*+[,;|]*+)++")
_LEADING_JUNK_RE = re.compile(r"^[^\w$€£¥₽₴«\"“„'(\[]+")
_TRAILING_JUNK = " ,;:|/-–—•·*"
_MAX_SENTENCE_CHARS = 2 * SUMMARY_MAX_CHARS

# A sentence ends at a line break, or at terminal punctuation followed by space (checked
# further in `_sentence_spans`), or after CJK terminal punctuation.
_SENTENCE_END_RE = re.compile(
    r"(?<![.!?…])(?:[.!?…]++[\"'»”’)\]]*+)? ?\n\s*"
    r"|(?<![.!?…])[.!?…]++[\"'»”’)\]]*+ "
    r"|(?<![。！？])[。！？]++"
)
# Runs of two or more blanks, or one blank that is not a plain space.
_HORIZONTAL_SPACE_RE = re.compile(r"[^\S\n]{2,}|[^\S\n ]")
_SENTENCE_OPENERS = frozenset("«\"“„'(")
_ABBREVIATIONS = frozenset(
    {
        "mr", "mrs", "ms", "dr", "prof", "gen", "gov", "sen", "rep", "st", "jr", "sr",
        "inc", "corp", "co", "ltd", "vs", "no", "jan", "feb", "mar", "apr", "jun", "jul",
        "aug", "sep", "sept", "oct", "nov", "dec", "approx", "est", "dept", "fig",
        "г", "гг", "им", "ул", "тыс", "млн", "млрд", "трлн", "руб", "долл", "ст", "см",
        "тис", "грн", "др", "пр", "проф",
    }
)  # fmt: skip

# --------------------------------------------------------------------------------------
# Tokens, lexicons and entity tables
# --------------------------------------------------------------------------------------

_TOKEN_RE = re.compile(r"(?:[^\W\d_]\.){2,}|[^\W_]+(?:['’ʼ&][^\W_]+)*")
# Applied to the whole body before tokenising; keeps every offset where it was.
_KEY_TABLE = str.maketrans({"’": "'", "ʼ": "'", "ё": "е", "Ё": "Е"})
_NEEDS_KEY_TABLE_RE = re.compile("[’ʼёЁ]")

_TOPIC_INDEX: dict[str, int] = {topic: index for index, topic in enumerate(TOPICS)}
_OTHER = _TOPIC_INDEX["other"]

# Lexicon syntax: whitespace-separated `term[:weight]`; `a_b` is the phrase "a b" (a hyphen
# in text splits tokens too, so "sell-off" is `sell_off`); `stem*` matches any word that
# starts with the stem. Matching is case-insensitive; ё is read as е.
_TOPIC_LEXICON: dict[Topic, str] = {
    "markets": """
        stock stocks:2 shares:2 equities:2 equity index indices indexes s&p:3 s&p_500:3
        nasdaq:3 dow:2 dow_jones:3 wall_street:3 ftse:3 dax:3 nikkei:3 hang_seng:3 stoxx:3
        bond bonds:2 treasuries:2 yields:2 yield futures:2 rally:2 rallies:2 rallied:2
        selloff:2 sell_off:2 investors traders:2 trading market markets volatility:2 vix:3
        forex:3 fx:2 dollar euro yen sterling record_high:2 all_time_high:2 bullish bearish
        etf etfs hedge_funds risk_appetite:2 safe_haven:2 exchange_rate:2 moex:3 imoex:3
        usd jpy eur gbp chf cny
        акци* бирж*:2 индекс* облигаци*:2 офз:2 доходност*:2 фондов*:2 рынок рынк*
        торги:2 торгах:2 торгов котировк*:2 трейдер*:2 инвестор* ралли:2 распродаж*
        мосбирж*:3 волатильн*:2 курс курса курсе курсу рубл* доллар* юан* евро фьючерс*:2
        уолл_стрит:3
        акці* бірж*:2 індекс* облігаці*:2 овдп:2 дохідніст*:2 ринок ринк* котируванн*:2
        ралі:2 розпродаж* гривн* долар* ф'ючерс*:2 торгів
    """,
    "macro": """
        inflation:3 inflationary:2 deflation:2 disinflation:2 stagflation:3 cpi:3 ppi:2
        pce:2 gdp:3 recession:3 unemployment:2 jobless:2 payrolls:3 nonfarm:3 non_farm:3
        jobs_report:3 interest_rate:3 interest_rates:3 rate_cut:3 rate_cuts:3 rate_hike:3
        rate_hikes:3 rates hike hikes cut_rates:3 cuts_rates:3 raises_rates:3 holds_rates:3
        rate_decision:3 policy_rate:3 central_bank:3 central_banks:3 monetary_policy:3
        monetary:2 quantitative_easing:2 qe:2 qt:2 tightening easing bps:2 basis_points:2
        economy:2 economic economists:2 growth deficit budget fiscal:2 debt retail_sales:2
        pmi:3 consumer_prices:3 key_rate:3 tariff:2 tariffs:2 trade_war:2 trade_deficit:2
        exports imports stimulus:2 dovish:3 hawkish:3 debt_ceiling:2 powell:2 lagarde:2
        yellen
        инфляц*:3 дефляц*:2 ипц:3 ввп:3 рецесси*:3 стагфляц*:3 безработиц*:2 ставк*:2
        процентн* денежно*:2 экономик*:2 экономич* экономист*:2 бюджет* дефицит* налог*
        пошлин*:2 госдолг*:2 минфин* росстат*:2 девальвац*:2 набиуллин*:2 экспорт*
        импорт* смягчени* ужесточени*
        інфляці*:3 дефляці*:2 рецесі*:3 безробітт*:2 обліков*:2 економік*:2 економічн*
        економіст*:2 дефіцит* податк* податок мито:2 мита:2 мит держборг*:2 мінфін*
        держстат*:2 експорт* імпорт*
    """,
    "geopolitics": """
        war:3 wars:2 warfare:2 conflict:2 military:2 troops:3 army:2 soldiers:2 missile:3
        missiles:3 rocket rockets:2 drone:2 drones:2 airstrike:3 airstrikes:3 air_strike:3
        air_strikes:3 strike strikes attack:2 attacks:2 attacked:2 invasion:3 invaded:3
        offensive:2 counteroffensive:3 ceasefire:3 cease_fire:3 truce:3 peace_talks:3
        peace_deal:2 sanctions:3 sanction:2 sanctioned:2 border shelling:3 shelled:3
        artillery:3 frontline:3 front_line:3 nuclear defense defence hostages:3 hostage:3
        hamas:3 hezbollah:3 houthis:3 houthi:3 taliban:2 isis:2 diplomat diplomats
        diplomatic embassy casualties:2 killed explosion explosions blast occupation
        occupied annexation:3 warship:3 warships:3 navy:2 red_sea:2 air_defense:3
        air_defence:3 air_raid:3 martial_law:3 geopolitical:3 mobilization:2
        mobilisation:2 gaza:2 kyiv putin zelensky zelenskyy
        войн*:3 военн*:2 военнослужащ*:2 конфликт*:2 ракет*:3 дрон*:2 бпла:3 беспилотн*:2
        удар*:2 атак*:2 обстрел*:3 вторжени*:3 наступлени*:2 контрнаступлени*:3
        перемири*:3 санкци*:3 арми*:2 войск*:3 фронт*:2 всу:3 пво:3 взрыв* оккупац*:2
        аннекс*:3 переговор* дипломат* посольств* ядерн* заложник*:3 хамас:3 хезболл*:3
        хусит*:3 мобилизац*:2 минобороны:2 сво:3 путин* зеленск*
        війн*:3 військов*:2 конфлікт*:2 безпілотн*:2 обстріл*:3 вторгненн*:3 наступ
        наступу наступом наступі контрнаступ*:3 перемир*:3 санкці*:3 армі*:2 військ*:3
        зсу:3 ппо:3 вибух* окупац*:2 окупант*:3 анекс*:3 заручник*:3 мобілізац*:2
        міноборони:2 тривог* повітряна_тривога:3 повітряну_тривогу:3
        повітряної_тривоги:3 шахед*:3 shahed:3 путін*
    """,
    "energy": """
        oil:3 crude:3 brent:3 wti:3 barrel:2 barrels:2 bbl:3 bpd:3 gas:2 lng:3
        natural_gas:3 gasoline:2 petrol:2 diesel:2 fuel:2 refinery:2 refineries:2
        pipeline:2 pipelines:2 nord_stream:3 electricity:2 power_grid:2 grid blackout
        blackouts coal:2 uranium:2 gold:2 silver:2 copper:2 commodities:3 commodity:2
        wheat:2 grain:2 corn soybeans:2 metals:2 aluminium:2 aluminum:2 nickel:2 lithium:2
        iron_ore:2 renewables:2 solar energy:2 oilfield:2 drilling shale:2 rig_count:2
        output_cut:2 output_cuts:2 bullion:2 ounce:2 oz:2
        нефт*:3 газ:2 газа газу:2 газом:2 газе газопровод*:3 нефтепровод*:3 спг:3
        бензин*:2 дизел*:2 топлив*:2 нпз:3 электроэнерг*:2 электростанц*:2
        электричеств*:2 энергет*:2 энерги* уголь:2 угля:2 углем:2 золот* серебр* медь
        меди пшениц*:2 зерн*:2 металл* баррел*:3 брент:3 урожа* сырь*:2 добыч*:2
        нафт*:3 газі газопровід*:3 нафтопровід*:3 нафтопровод*:3 пальн*:2 електроенерг*:2
        електростанц*:2 енергет*:2 енергі* енергосистем*:3 вугілл*:2 срібл* мідь міді
        метал* барел*:3 блекаут*:2 відключенн*:2 знеструмл*:2 сировин*:2 видобут*:2
    """,
    "crypto": """
        bitcoin:3 btc:3 ethereum:3 ether:2 eth:3 crypto:3 cryptocurrency:3
        cryptocurrencies:3 stablecoin:3 stablecoins:3 usdt:3 usdc:3 solana:3 xrp:3
        ripple:2 blockchain:2 defi:3 nft:2 nfts:2 altcoin:3 altcoins:3 halving:2
        dogecoin:3 doge:2 toncoin:3 memecoin:3 memecoins:3 web3:2 token tokens airdrop:2
        satoshi:2
        биткоин*:3 биткойн*:3 эфириум*:3 крипт*:3 стейблкоин*:3 блокчейн*:2 майнинг*:2
        майнер*:2 токен* альткоин*:3 халвинг*:2
        біткоїн*:3 біткойн*:3 ефіріум*:3 стейблкоїн*:3 майнінг*:2 альткоїн*:3
        халвінг*:2
    """,
    "politics": """
        election:3 elections:3 electoral:3 elected:2 vote:2 votes:2 voted:2 voting:2
        voters:3 ballot:3 ballots:3 poll polls:2 polling:2 parliament:3 parliamentary:3
        congress:2 congressional:2 senate:2 senator:2 senators:2 lawmakers:3
        legislators:2 legislation:2 president presidential:3 prime_minister:2 minister
        government cabinet:2 campaign:2 candidate:2 candidates:2 referendum:3 coalition:2
        opposition:2 party democrats:3 republicans:3 democratic republican gop:3 trump:2
        biden:2 harris:2 obama macron scholz merz starmer modi erdogan netanyahu orban
        impeachment:3 impeach:3 veto:2 inauguration:3 resign:2 resigns:2 resigned:2
        resignation:2 protest:2 protests:2 protesters:2 supreme_court:2 court governor
        mayor executive_order:3 executive_orders:3 bill law constitution:2
        constitutional:2 coup:3 politics:3 political:2 politician:2 politicians:2
        state_department:2 secretary_of_state:2
        выбор*:2 избират*:3 голосован*:3 референдум*:3 парламент*:3 дума:2 думы:2 думе:2
        депутат*:2 сенатор*:2 правительств* президент* президентск*:2 премьер*:2
        министр* кабмин* оппозиц*:2 парти* коалиц*:2 протест*:2 митинг*:2 отставк*:2
        законопроект*:2 закон закона законе песков* трамп*:2 байден*:2 инаугурац*:3
        импичмент*:3 вето:2 политик* политическ*:2 указ:2 указа:2 кремл*
        вибор*:2 виборч*:3 голосуванн*:3 верховн* рада раді нардеп*:3 уряд*
        президентськ*:2 прем'єр*:2 міністр* опозиц*:2 парті* коаліц*:2 мітинг*:2
        відставк*:2 законопроєкт*:2 закону інавгурац*:3 імпічмент*:3 політик*
        політичн*:2 указу:2 єрмак*
    """,
    "companies": """
        earnings:3 revenue:3 revenues:3 profit:2 profits:2 loss losses quarterly:2 quarter
        eps:3 guidance:2 outlook ceo:2 cfo:2 merger:3 mergers:2 acquisition:3
        acquisitions:2 acquire:2 acquires:3 acquired:2 takeover:3 buyout:3 buyback:3
        buybacks:3 dividend:3 dividends:3 ipo:3 market_cap:2 layoffs:3 job_cuts:2
        shareholders:2 shareholder:2 net_income:3 sales results q1:2 q2:2 q3:2 q4:2 inc
        corp ltd plc chief_executive:2 bankruptcy:3 bankrupt:3 chapter_11:3 antitrust:2
        company companies firm startup subsidiary stake deal annual_report:2 valuation:2
        funding:2 funding_round:3
        beat_estimates:3 estimates earnings_per_share:3 operating_profit:3 ebitda:3
        выручк*:3 прибыл*:2 убыт*:2 квартал* дивиденд*:3 отчетност*:2 мсфо:3 рсбу:3
        гендиректор*:2 слияни*:3 поглощени*:2 приобрет* банкротств*:3 акционер*:2
        капитализац*:2 компани* концерн* холдинг* корпорац*
        виручк*:3 прибут*:2 збит*:2 дивіденд*:3 звітніст*:2 мсфз:3 злитт*:3
        поглинанн*:2 придбанн* банкрутств*:3 акціонер*:2 капіталізац*:2 компані*
    """,
}

# Ties go to the earlier topic: specific subjects before the generic "markets".
_TOPIC_PRIORITY: tuple[Topic, ...] = (
    "macro",
    "geopolitics",
    "energy",
    "crypto",
    "companies",
    "politics",
    "markets",
    "other",
)
_TOPIC_RANK = {_TOPIC_INDEX[topic]: rank for rank, topic in enumerate(_TOPIC_PRIORITY)}

# Alias syntax: `Word` (the text must start with a capital), `~stem*` or `~word` (any
# case; Russian and Ukrainian adjectives are lower case), `=US` (exactly this case),
# `a_b` phrases, `stem*` stems. Optional topic weights follow the aliases after `|`.
_COUNTRIES: tuple[tuple[str, str], ...] = (
    (
        "United States",
        "=US =USA United_States America American Americans США "
        "Соединенные_Штаты Соединенных_Штатов Соединенным_Штатам Сполучені_Штати "
        "Сполучених_Штатів Америк* ~американск* ~американськ*",
    ),
    ("Russia", "Russia Russian Russians Росси* ~российск* ~россиян* Росі* ~російськ* ~росіян* =РФ"),
    (
        "Ukraine",
        "Ukraine Ukrainian Ukrainians Украин* ~украинск* ~украинц* Україн* ~українськ* ~українц*",
    ),
    ("China", "China Chinese =PRC Кита* ~китайск* ~китайськ* =КНР"),
    ("Germany", "Germany German Germans Германи* ~немецк* =ФРГ Німеччин* ~німецьк*"),
    (
        "France",
        "France French Франция Франции Францию Францией ~французск* Франція Франції "
        "Францію Францією ~французьк*",
    ),
    (
        "United Kingdom",
        "=UK United_Kingdom Britain British Great_Britain Британи* "
        "Великобритани* ~британск* Британі* Великобритані* ~британськ*",
    ),
    ("Japan", "Japan Japanese Япони* ~японск* Японі* ~японськ*"),
    (
        "India",
        "India Indian Индия Индии Индию Индией ~индийск* Індія Індії Індію Індією ~індійськ*",
    ),
    ("Israel", "Israel Israeli Israelis Израил* ~израильск* Ізраїл* ~ізраїльськ*"),
    ("Iran", "Iran Iranian Iranians Иран* ~иранск* Іран* ~іранськ*"),
    ("Iraq", "Iraq Iraqi Ирак Ирака Ираке Ираку Ираком ~иракск* Ірак Іраку Іраці Іраком ~іракськ*"),
    ("Syria", "Syria Syrian Сири* ~сирийск* Сирі* ~сирійськ*"),
    ("Turkey", "Turkey Turkish Türkiye Турци* ~турецк* Туреччин* ~турецьк*"),
    ("Saudi Arabia", "Saudi_Arabia Saudi Saudis ~саудовск* ~саудівськ*"),
    ("United Arab Emirates", "=UAE United_Arab_Emirates Emirati =ОАЭ =ОАЕ"),
    ("Qatar", "Qatar Qatari Катар* ~катарск* ~катарськ*"),
    ("Egypt", "Egypt Egyptian Египет* Египт* ~египетск* Єгипет* Єгипт* ~єгипетськ*"),
    ("Yemen", "Yemen Yemeni Йемен* ~йеменск* Ємен* ~єменськ*"),
    ("Lebanon", "Lebanon Lebanese Ливан* ~ливанск* Ліван* ~ліванськ*"),
    ("Palestine", "Palestine Palestinian Palestinians Палестин* ~палестинск* ~палестинськ*"),
    ("Poland", "Poland Polish Poles Польш* ~польск* Польщ* ~польськ*"),
    ("Belarus", "Belarus Belarusian Беларус* Белорус* ~белорусск* Білорус* ~білоруськ*"),
    ("Kazakhstan", "Kazakhstan Казахстан* ~казахстанск* ~казахстанськ*"),
    ("Georgia", "Грузия Грузии Грузию Грузией ~грузинск* Грузія Грузії Грузію ~грузинськ*"),
    ("Armenia", "Armenia Armenian Армени* ~армянск* Вірмені* ~вірменськ*"),
    ("Azerbaijan", "Azerbaijan Azerbaijani Азербайджан* ~азербайджанск* ~азербайджанськ*"),
    ("Moldova", "Moldova Moldovan Молдав* Молдов* ~молдавск* ~молдовськ*"),
    ("Italy", "Italy Italian Итали* ~итальянск* Італі* ~італійськ*"),
    ("Spain", "Spain Spanish Испани* ~испанск* Іспані* ~іспанськ*"),
    ("Portugal", "Portugal Portuguese Португали* ~португальск* Португалі* ~португальськ*"),
    ("Greece", "Greece Greek Греци* ~греческ* Греці* ~грецьк*"),
    (
        "Netherlands",
        "Netherlands Dutch Нидерланд* Голланди* ~нидерландск* Нідерланд* ~нідерландськ*",
    ),
    ("Belgium", "Belgium Belgian Бельги* ~бельгийск* Бельгі* ~бельгійськ*"),
    ("Switzerland", "Switzerland Swiss Швейцари* ~швейцарск* Швейцарі* ~швейцарськ*"),
    ("Austria", "Austria Austrian Австри* ~австрийск* Австрі* ~австрійськ*"),
    ("Sweden", "Sweden Swedish Швеци* ~шведск* Швеці* ~шведськ*"),
    ("Norway", "Norway Norwegian Норвеги* ~норвежск* Норвегі* ~норвезьк*"),
    ("Finland", "Finland Finnish Финлянди* ~финск* Фінлянді* ~фінськ*"),
    ("Denmark", "Denmark Danish Дания Дании Данию Данией ~датск* Данія Данії Данію ~данськ*"),
    ("Estonia", "Estonia Estonian Эстони* ~эстонск* Естоні* ~естонськ*"),
    ("Latvia", "Latvia Latvian Латви* ~латвийск* Латві* ~латвійськ*"),
    (
        "Lithuania",
        "Lithuania Lithuanian Литва Литвы Литве Литву Литвой Литви Литві ~литовск* ~литовськ*",
    ),
    ("Czech Republic", "Czechia Czech_Republic Czech Чехи* ~чешск* Чехі* ~чеськ*"),
    ("Slovakia", "Slovakia Slovak Словаки* ~словацк* Словаччин* ~словацьк*"),
    ("Hungary", "Hungary Hungarian Венгри* ~венгерск* Угорщин* ~угорськ*"),
    ("Romania", "Romania Romanian Румыни* ~румынск* Румуні* ~румунськ*"),
    ("Bulgaria", "Bulgaria Bulgarian Болгари* ~болгарск* Болгарі* ~болгарськ*"),
    ("Serbia", "Serbia Serbian Серби* ~сербск* Сербі* ~сербськ*"),
    ("Ireland", "Ireland Irish Ирланди* ~ирландск* Ірланді* ~ірландськ*"),
    ("Canada", "Canada Canadian Канад* ~канадск* ~канадськ*"),
    ("Mexico", "Mexico Mexican Мексик* ~мексиканск* ~мексиканськ*"),
    ("Brazil", "Brazil Brazilian Бразили* ~бразильск* Бразилі* ~бразильськ*"),
    ("Argentina", "Argentina Argentine Argentinian Аргентин* ~аргентинск* ~аргентинськ*"),
    ("Venezuela", "Venezuela Venezuelan Венесуэл* ~венесуэльск* Венесуел* ~венесуельськ*"),
    ("Chile", "Chile Chilean"),
    ("Colombia", "Colombia Colombian Колумби* ~колумбийск* Колумбі*"),
    ("Cuba", "Cuba Cuban Куба Кубы Кубе Кубу ~кубинск* Кубі ~кубинськ*"),
    (
        "South Korea",
        "South_Korea South_Korean Южная_Корея Южной_Кореи Южную_Корею "
        "Южной_Корее Південна_Корея Південної_Кореї Південній_Кореї",
    ),
    (
        "North Korea",
        "North_Korea North_Korean =DPRK =КНДР Северная_Корея Северной_Кореи "
        "Северную_Корею Північна_Корея Північної_Кореї Pyongyang Пхеньян*",
    ),
    ("Taiwan", "Taiwan Taiwanese Тайван* ~тайваньск* ~тайванськ*"),
    ("Australia", "Australia Australian Австрали* ~австралийск* Австралі* ~австралійськ*"),
    ("New Zealand", "New_Zealand Новая_Зеландия Новой_Зеландии Нова_Зеландія"),
    ("Indonesia", "Indonesia Indonesian Индонези* Індонезі*"),
    ("Vietnam", "Vietnam Vietnamese Вьетнам* В'єтнам*"),
    ("Thailand", "Thailand Thai Таиланд* Таїланд*"),
    ("Philippines", "Philippines Philippine Filipino Филиппин* Філіппін*"),
    ("Malaysia", "Malaysia Malaysian Малайзи* Малайзі*"),
    ("Singapore", "Singapore Singaporean Сингапур* Сінгапур*"),
    ("Pakistan", "Pakistan Pakistani Пакистан* ~пакистанск* ~пакистанськ*"),
    ("Afghanistan", "Afghanistan Afghan Афганистан* Афганістан*"),
    ("Uzbekistan", "Uzbekistan Uzbek Узбекистан*"),
    ("Kyrgyzstan", "Kyrgyzstan Киргизи* Кыргызстан* Киргизстан*"),
    ("Tajikistan", "Tajikistan Таджикистан*"),
    ("Turkmenistan", "Turkmenistan Туркмени* Туркменістан*"),
    ("Mongolia", "Mongolia Mongolian Монголи* Монголі*"),
    ("Nigeria", "Nigeria Nigerian Нигери* Нігері*"),
    ("South Africa", "South_Africa South_African =ЮАР =ПАР"),
    ("Ethiopia", "Ethiopia Ethiopian Эфиопи* Ефіопі*"),
    ("Libya", "Libya Libyan Ливия Ливии Ливию ~ливийск* Лівія Лівії ~лівійськ*"),
    ("Sudan", "Sudan Sudanese Судан* ~суданск*"),
    ("Algeria", "Algeria Algerian Алжир*"),
    ("Morocco", "Morocco Moroccan Марокко"),
    ("Kuwait", "Kuwait Kuwaiti Кувейт*"),
    ("Oman", "Oman Omani"),
    ("Bahrain", "Bahrain Бахрейн*"),
    ("Jordan", "Иордани* Йордані*"),
)

_CENTRAL_BANKS: tuple[tuple[str, str], ...] = (
    (
        "Federal Reserve",
        "Fed Federal_Reserve FOMC =ФРС ФРС_США Федрезерв* "
        "Федеральная_резервная_система Федеральной_резервной_системы",
    ),
    (
        "European Central Bank",
        "ECB European_Central_Bank =ЕЦБ =ЄЦБ "
        "Европейский_центральный_банк Европейского_центрального_банка "
        "Європейський_центральний_банк",
    ),
    ("Bank of England", "BoE Bank_of_England Банк_Англии Банка_Англии Банк_Англії"),
    ("Bank of Japan", "BoJ Bank_of_Japan Банк_Японии Банка_Японии Банк_Японії"),
    (
        "People's Bank of China",
        "PBoC People's_Bank_of_China Народный_банк_Китая Народного_банка_Китая Народний_банк_Китаю",
    ),
    ("Swiss National Bank", "SNB Swiss_National_Bank"),
    ("Reserve Bank of Australia", "RBA Reserve_Bank_of_Australia"),
    ("Bank of Canada", "Bank_of_Canada Банк_Канады Банка_Канады Банк_Канади"),
    ("Reserve Bank of India", "RBI Reserve_Bank_of_India"),
    ("Reserve Bank of New Zealand", "RBNZ Reserve_Bank_of_New_Zealand"),
    ("Bank of Korea", "Bank_of_Korea"),
    ("Central Bank of Turkey", "CBRT"),
    ("Riksbank", "Riksbank"),
    ("Norges Bank", "Norges_Bank"),
    (
        "Bank of Russia",
        "Bank_of_Russia =ЦБ ЦБ_РФ ЦБ_России ~центробанк* "
        "Банк_России Банка_России Банком_России Банку_России Банке_России Банк_Росії "
        "Центральный_банк_России Центрального_банка_России",
    ),
    (
        "National Bank of Ukraine",
        "NBU National_Bank_of_Ukraine =НБУ Нацбанк* "
        "Национальный_банк_Украины Национального_банка_Украины Національний_банк_України "
        "Національного_банку_України",
    ),
)

_INSTITUTIONS: tuple[tuple[str, str, str], ...] = (
    ("IMF", "IMF International_Monetary_Fund =МВФ", "macro:2"),
    (
        "World Bank",
        "World_Bank Всемирный_банк Всемирного_банка Всемирному_банку Світовий_банк Світового_банку",
        "macro:2",
    ),
    ("OPEC", "OPEC =ОПЕК", "energy:3"),
    ("NATO", "NATO =НАТО", "geopolitics:3"),
    (
        "UN Security Council",
        "UN_Security_Council Security_Council Совбез* Радбез* СБ_ООН Совет_безопасности_ООН",
        "geopolitics:2",
    ),
    ("United Nations", "=UN United_Nations =ООН", "geopolitics"),
    ("European Union", "=EU European_Union =ЕС =ЄС Евросоюз* Євросоюз*", "politics"),
    ("European Commission", "European_Commission Еврокомисси* Єврокомісі*", "politics"),
    ("WTO", "WTO World_Trade_Organization =ВТО =СОТ", "macro"),
    ("SEC", "=SEC Securities_and_Exchange_Commission", "markets companies"),
    ("CFTC", "CFTC", "markets"),
    ("IAEA", "IAEA =МАГАТЭ =МАГАТЕ", "geopolitics:2 energy"),
    ("G7", "G7 G_7 Большая_семерка Большой_семерки", "macro politics"),
    ("G20", "G20 G_20 Большая_двадцатка Большой_двадцатки", "macro politics"),
    ("BRICS", "BRICS =БРИКС", "politics geopolitics"),
    ("OSCE", "OSCE =ОБСЕ =ОБСЄ", "geopolitics"),
    ("Pentagon", "Pentagon Пентагон*", "geopolitics:2"),
    ("Kremlin", "Kremlin Кремл*", "politics geopolitics"),
    (
        "White House",
        "White_House Белый_дом Белого_дома Белом_доме Білий_дім Білого_дому Білому_домі",
        "politics:2",
    ),
    ("US Treasury", "US_Treasury Treasury_Department Минфин_США Мінфін_США", "macro"),
    ("State Duma", "Госдум* State_Duma", "politics:3"),
    (
        "Verkhovna Rada",
        "Verkhovna_Rada Верховна_Рада Верховної_Ради Верховній_Раді "
        "Верховную_Раду Верховной_Рады Верховная_Рада",
        "politics:3",
    ),
    ("European Parliament", "European_Parliament Европарламент* Європарламент*", "politics:2"),
)

_ORGANISATIONS: tuple[tuple[str, str, str], ...] = (
    ("Gazprom", "Gazprom Газпром*", "energy:2 companies"),
    ("Rosneft", "Rosneft Роснефт*", "energy:2 companies"),
    ("Lukoil", "Lukoil Лукойл*", "energy:2 companies"),
    ("Novatek", "Novatek Новатэк*", "energy:2 companies"),
    ("Saudi Aramco", "Saudi_Aramco Aramco", "energy:2 companies"),
    ("Naftogaz", "Naftogaz Нафтогаз*", "energy:2 companies"),
    ("Ukrenergo", "Ukrenergo Укренерго", "energy:3"),
    ("Sberbank", "Sberbank Сбербанк* Сбер Сбера", "companies markets"),
    ("Yandex", "Yandex Яндекс*", "companies"),
    ("Goldman Sachs", "Goldman_Sachs Goldman", "markets companies"),
    ("Morgan Stanley", "Morgan_Stanley", "markets companies"),
    ("JPMorgan", "JPMorgan JPMorgan_Chase JP_Morgan", "markets companies"),
    ("BlackRock", "BlackRock", "markets companies"),
    ("Bank of America", "Bank_of_America", "markets companies"),
    ("Citigroup", "Citigroup Citi", "markets companies"),
    ("Berkshire Hathaway", "Berkshire_Hathaway Berkshire", "companies"),
    ("Apple", "Apple", "companies"),
    ("Microsoft", "Microsoft", "companies"),
    ("Nvidia", "Nvidia", "companies"),
    ("Amazon", "Amazon", "companies"),
    ("Alphabet", "Alphabet Google", "companies"),
    ("Meta", "Meta Facebook", "companies"),
    ("Tesla", "Tesla Тесла Тесл*", "companies"),
    ("OpenAI", "OpenAI", "companies"),
    ("Binance", "Binance Бинанс* Бінанс*", "crypto:3"),
    ("Coinbase", "Coinbase", "crypto:3"),
    ("Tether", "Tether", "crypto:2"),
    ("MicroStrategy", "MicroStrategy", "crypto:2"),
    ("Hamas", "Hamas ХАМАС", ""),
    ("Hezbollah", "Hezbollah Хезболл*", ""),
)

# Multi-word place names: matched so they break name runs, but not reported.
_PLACES = """
    Hong_Kong New_York Los_Angeles San_Francisco Middle_East Gaza_Strip West_Bank
    Red_Sea Black_Sea South_China_Sea Tel_Aviv Abu_Dhabi Buenos_Aires Sao_Paulo
    New_Delhi Kuala_Lumpur Silicon_Valley Persian_Gulf Strait_of_Hormuz Latin_America
    Ближний_Восток Ближнем_Востоке Ближнего_Востока Близький_Схід Близькому_Сході
    Нью_Йорк Тель_Авив Абу_Даби Сектор_Газа Секторе_Газа Сектора_Газа Сектор_Гази
    Красное_море Красном_море Черное_море Черном_море Чорне_море Чорному_морі
"""

# Capitalised words that are not part of a name: titles, weekdays, months, function words.
_NAME_STOPWORDS = frozenset(
    """
    the a an and or but of in on at to for from by with as is are was were be been will
    would could should can may might must says said say told tells tell after before
    over under into about against amid during via per than then that this these those it
    its his her their our we they he she you i mr mrs ms dr sir lady lord president prime
    minister chair chairman chairwoman governor secretary senator rep representative ceo
    cfo chief executive head leader spokesman spokeswoman spokesperson foreign finance
    defense defence general gen king queen prince princess pope judge justice update live
    watch read breaking exclusive report reports analysis opinion latest new north south
    east west central national federal state republic street house monday tuesday
    wednesday thursday friday saturday sunday january february march april may june july
    august september october november december today yesterday tomorrow why how what when
    where who which if not no yes all some more most top big first last
    президент премьер министр глава председатель спикер генсек госсекретарь канцлер
    вице замглавы директор гендиректор губернатор мэр депутат сенатор посол
    пресс секретарь официальный представитель командующий главнокомандующий
    в во на по о об от до для из за с со к и а но или что как это не также уже еще
    понедельник вторник среда среду четверг пятница пятницу суббота субботу
    воскресенье января февраля марта апреля мая июня июля августа сентября октября
    ноября декабря сегодня вчера завтра
    президента премьера министра главы председателя прем'єр міністр голова очільник
    речник речниця посол посла у та й чи що як це також вже ще з із зі до від для
    понеділок вівторок середа середу четвер пятниця п'ятниця п'ятницю субота суботу
    неділя неділю січня лютого березня квітня травня червня липня серпня вересня
    жовтня листопада грудня сьогодні вчора завтра
    нью лос сан тель абу эр ер бен аль эль ал ель
    """.split()
)
# A sentence's first word joins a name run only when it is a common given name.
_GIVEN_NAMES = frozenset(
    """
    joe donald kamala barack hillary jerome janet christine andrew rishi keir boris
    emmanuel olaf friedrich ursula giorgia pedro benjamin recep narendra xi li elon jeff
    mark bill warren jamie larry sam satya tim sundar jensen changpeng vitalik michael
    john james robert david richard charles thomas george william joseph steven kevin
    владимир сергей дмитрий алексей андрей михаил николай александр евгений игорь антон
    максим олег павел юрий виктор рамзан эльвира мария анна елена ольга татьяна
    дональд джо камала эммануэль олаф урсула биньямин реджеп илон
    володимир сергій дмитро олексій андрій михайло микола олександр євген ігор юрій
    віктор денис кирило арсеній валерій петро юлія олена ольга тетяна ірина
    """.split()
)
_NAME_LANGUAGES = frozenset({"en", "ru", "uk"})
_ORG_WORDS = frozenset(
    """
    inc corp corporation group holdings holding bank capital partners fund funds
    airlines airways motors technologies technology systems energy petroleum oil gas
    pharma pharmaceuticals ministry agency council committee university institute
    association foundation exchange securities investments management ltd plc llc co
    ag sa gmbh nv company industries labs network networks media news intelligence
    research economics analytics advisors associates insights trust
    банк групп группа холдинг компания корпорация фонд министерство агентство
    """.split()
)

_CRYPTO_TICKERS = frozenset(
    "BTC ETH SOL XRP TON USDT USDC DOGE BNB ADA AVAX DOT LINK TRX SHIB LTC".split()
)


@dataclass(slots=True)
class _Term:
    """What one lexicon key means: topic weights and, gated by case, an entity."""

    topics: list[tuple[int, int]] = field(default_factory=list)
    entity_kind: EntityKind | None = None
    entity_text: str = ""
    entity_topics: list[tuple[int, int]] = field(default_factory=list)
    needs_capital: bool = True
    is_place: bool = False


@dataclass(slots=True)
class _Lexicon:
    phrases: dict[str, _Term] = field(default_factory=dict)
    phrase_heads: set[str] = field(default_factory=set)
    words: dict[str, _Term] = field(default_factory=dict)
    cased: dict[str, _Term] = field(default_factory=dict)
    cased_lower: set[str] = field(default_factory=set)
    stems: dict[str, _Term] = field(default_factory=dict)
    # stems by their first `_STEM_PREFIX` letters, longest first: one probe per token
    stems_by_prefix: dict[str, tuple[tuple[str, _Term], ...]] = field(default_factory=dict)


def _token_key(token: str) -> str:
    """The case-preserving key of a token: apostrophes unified, dots and 's dropped."""
    return _key_of_normalised(token.translate(_KEY_TABLE))


def _key_of_normalised(key: str) -> str:
    if "." in key:
        key = key.replace(".", "")
    if len(key) > 3 and key[-2] == "'" and key[-1] in "sS":
        key = key[:-2]
    return key


def _parse_weights(spec: str) -> list[tuple[int, int]]:
    weights: list[tuple[int, int]] = []
    for item in spec.split():
        name, _, weight = item.partition(":")
        weights.append((_TOPIC_INDEX[name], int(weight) if weight else 1))
    return weights


def _slot(lexicon: _Lexicon, alias: str) -> tuple[dict[str, _Term], str]:
    """Which table an alias belongs in, and its key there."""
    if alias.startswith("="):
        return lexicon.cased, _token_key(alias[1:])
    if "_" in alias:
        key = " ".join(_token_key(part).lower() for part in alias.split("_"))
        lexicon.phrase_heads.add(key.split(" ", 1)[0])
        return lexicon.phrases, key
    if alias.endswith("*"):
        return lexicon.stems, _token_key(alias[:-1]).lower()
    return lexicon.words, _token_key(alias).lower()


def _term_for(lexicon: _Lexicon, alias: str) -> _Term:
    table, key = _slot(lexicon, alias)
    term = table.get(key)
    if term is None:
        term = table[key] = _Term()
    return term


def _add_entity(
    lexicon: _Lexicon, kind: EntityKind | None, text: str, aliases: str, topics: str
) -> None:
    weights = _parse_weights(topics)
    for alias in aliases.split():
        any_case = alias.startswith("~")
        term = _term_for(lexicon, alias.lstrip("~"))
        if term.entity_kind is not None or term.is_place:
            raise ValueError(f"entity alias {alias!r} is defined twice")
        if kind is None:
            term.is_place = True
        else:
            term.entity_kind, term.entity_text = kind, text
            term.entity_topics = weights
            term.needs_capital = not any_case and not alias.startswith("=")


def _build_lexicon() -> _Lexicon:
    lexicon = _Lexicon()
    for topic, entries in _TOPIC_LEXICON.items():
        index = _TOPIC_INDEX[topic]
        for entry in entries.split():
            alias, _, weight = entry.partition(":")
            term = _term_for(lexicon, alias)
            if any(existing == index for existing, _ in term.topics):
                raise ValueError(f"lexicon term {alias!r} is listed twice under {topic}")
            term.topics.append((index, int(weight) if weight else 1))
    for text, aliases in _COUNTRIES:
        _add_entity(lexicon, "country", text, aliases, "")
    for text, aliases in _CENTRAL_BANKS:
        _add_entity(lexicon, "central_bank", text, aliases, "macro:3")
    for text, aliases, topics in _INSTITUTIONS:
        _add_entity(lexicon, "institution", text, aliases, topics)
    for text, aliases, topics in _ORGANISATIONS:
        _add_entity(lexicon, "organisation", text, aliases, topics)
    _add_entity(lexicon, None, "", _PLACES, "")
    for key in lexicon.cased:
        if key.lower() in lexicon.words:
            raise ValueError(f"cased alias {key!r} shadows the lexicon word {key.lower()!r}")
        lexicon.cased_lower.add(key.lower())
    grouped: dict[str, list[tuple[str, _Term]]] = {}
    for stem, term in lexicon.stems.items():
        if len(stem) < _STEM_PREFIX:
            raise ValueError(f"stem {stem!r} is shorter than {_STEM_PREFIX} letters")
        grouped.setdefault(stem[:_STEM_PREFIX], []).append((stem, term))
    lexicon.stems_by_prefix = {
        prefix: tuple(sorted(entries, key=lambda entry: (-len(entry[0]), entry[0])))
        for prefix, entries in grouped.items()
    }
    return lexicon


_STEM_PREFIX = 3
_LEXICON = _build_lexicon()

# Resolved single tokens (lexicon terms are immutable after import, so caching a lookup
# never changes a result); cleared when full so memory stays bounded.
_UNSEEN = _Term()
_WORD_CACHE: dict[str, _Term | None] = {}
_WORD_CACHE_SIZE = 100_000

# --------------------------------------------------------------------------------------
# Cashtags and figures
# --------------------------------------------------------------------------------------

_CASHTAG_RE = re.compile(r"(?<![\w$])\$([A-Za-z][A-Za-z0-9]{0,5}(?:\.[A-Za-z]{1,2})?)(?!\w)")
_FIGURE_RE = re.compile(
    r"""
    (?<![\w.,/%])
    (?:[+\-−±](?=[\d$€£¥₽₴₹]))?
    (?P<cur>(?:US|C|A|HK|NZ)?\$|€|£|¥|₽|₴|₹)?\s?
    (?P<num>\d{1,3}(?:(?:,\d{3})+|(?:[\u00a0\u202f\ ]\d{3})+)(?:\.\d+)?(?!\d)|\d+(?:[.,]\d+)?)
    (?:[\s\-]?(?P<scale>trillions?|billions?|millions?|thousands?|трлн|млрд|млн|тыс|тис
        |триллион\w*|миллиард\w*|миллион\w*|тысяч\w*|трильйон\w*|мільярд\w*|мільйон\w*
        |тисяч\w*|tn|trn|bn|mln|mn|(?(cur)[kmbKMB]|(?!)))\.?(?![^\W\d_]))?
    (?:[\s\-]?(?P<unit>%|percent|per\s?cent|pct|bps|bp|basis\s+points?|pp|p\.p\.
        |п\.\s?п\.|б\.\s?п\.|бп|процент(?:а|ов|ных\s+пункт(?:а|ов))?
        |відсот(?:ок|ки|ків|кових\s+пункт(?:и|ів))
        |dollars?|euros?|pounds?|yen|yuan|roubles?|rubles?|hryvnias?
        |долл(?:ар(?:а|ов|ы)?|\.)|долар(?:а|ів|и)?|рубл(?:ь|я|ей|и)|руб\.|евро|євро
        |гривн(?:а|ы|ю|і)|гривень|грн\.?|юан(?:ь|я|ей|і|ів)
        |barrels?|bbl|баррел(?:ь|я|ей|и)|барел(?:ь|я|ів|і)|тонн\w*|tonnes?|tons?|oz|ounces?)
        (?![^\W\d_]))?
    (?P<per>/(?:bbl|barrel|oz|t|MWh|mwh|MMBtu|mmbtu|тонну|т|баррель)(?![^\W\d_]))?
    """,
    re.VERBOSE,
)
_MAX_FIGURE_CHARS = 60

# --------------------------------------------------------------------------------------
# Language
# --------------------------------------------------------------------------------------

_SCRIPT_RE = re.compile(
    r"(?P<latin>[A-Za-z\u00c0-\u024f]+)"
    r"|(?P<cyrillic>[\u0400-\u04ff]+)"
    r"|(?P<kana>[\u3040-\u30ff]+)"
    r"|(?P<han>[\u3400-\u4dbf\u4e00-\u9fff]+)"
    r"|(?P<hangul>[\uac00-\ud7af\u1100-\u11ff]+)"
    r"|(?P<arabic>[\u0600-\u06ff\u0750-\u077f]+)"
    r"|(?P<hebrew>[\u0590-\u05ff]+)"
    r"|(?P<greek>[\u0370-\u03ff]+)"
)
_LATIN_RUN_RE = re.compile("[A-Za-z\u00c0-\u024f]+")
_CYRILLIC_RUN_RE = re.compile("[\u0400-\u04ff]+")
_OTHER_SCRIPT_RE = re.compile(
    "[\u0370-\u03ff\u0590-\u06ff\u0750-\u077f\u1100-\u11ff\u3040-\u30ff"
    "\u3400-\u4dbf\u4e00-\u9fff\uac00-\ud7af]"
)
_UKRAINIAN_LETTERS_RE = re.compile("[іїєґІЇЄҐ]")
_RUSSIAN_LETTERS_RE = re.compile("[ыэъёЫЭЪЁ]")
_LATIN_WORD_RE = re.compile(r"[a-zà-ÿß]+")
_LATIN_STOPWORDS: dict[str, str] = {
    word: language
    for language, words in (
        ("en", "the and of to in is for on with that by from at as says said will has was are"),
        (
            "de",
            "die das und nicht ist mit für auf den dem eine einen sich auch wird wurde bei "
            "nach zum zur über",
        ),
        (
            "fr",
            "le les des du est une dans pour avec qui sur pas sont aux au cette ont été et il elle",
        ),
        ("es", "el los las del por una para con es se al su sus más está como pero fue según"),
    )
    for word in words.split()
}
_LANGUAGE_SAMPLE_CHARS = 800

_TOPIC_POINTS: dict[Topic, int] = {
    "macro": 150,
    "geopolitics": 150,
    "markets": 100,
    "energy": 100,
    "politics": 80,
    "companies": 80,
    "crypto": 60,
    "other": 0,
}
_FIFTEEN_MINUTE_IMPORTANCE = 850


# --------------------------------------------------------------------------------------
# The extractor
# --------------------------------------------------------------------------------------


def extract(text: str) -> Extraction:
    """Read a post's text into an `Extraction`; never raises for any string."""
    raw = text[:_MAX_CHARS]
    if _NEEDS_NORMALISING_RE.search(raw):
        raw = raw.translate(_NORMALISE_TABLE)
    first_line = raw.lstrip()[:200].split("\n", 1)[0]
    emoji_markers = [mark for mark in _HARD_MARKER_EMOJI if mark in first_line]
    body = _EMOJI_RE.sub(" ", _remove_links(raw))
    body = _HORIZONTAL_SPACE_RE.sub(" ", body).strip()

    lead = _read_lead(body)
    if not lead.sentences:
        return _empty_extraction()
    headline = _trim(lead.sentences[0], HEADLINE_MAX_CHARS)
    summary = _trim(" ".join(lead.sentences), SUMMARY_MAX_CHARS)

    language = _detect_language(body)
    scan = _scan(body, lead.headline_end, find_names=language in _NAME_LANGUAGES)
    topic = _pick_topic(scan.scores)

    markers = lead.markers
    hard = bool(emoji_markers) or any(word not in _SOFT_WORDS for word in markers)
    flash = any(word in _FLASH_WORDS for word in markers)
    siren_urgent = _SIREN in emoji_markers and any(word in _URGENT_WORDS for word in markers)
    soft = bool(markers) or _all_caps_lead(lead.sentences[0])
    points = _importance_points(scan, topic, len(body), flash=flash, hard=hard, soft=soft)

    window: BreakingWindow | None = None
    if flash or siren_urgent or (hard and points >= _FIFTEEN_MINUTE_IMPORTANCE):
        window = "15m"
    elif hard:
        window = "1h"
    elif soft:
        window = "4h"

    return Extraction(
        topic=topic,
        headline=headline,
        summary=summary,
        entities=[Entity(kind=kind, text=value) for kind, value in scan.entities],
        is_breaking=window is not None,
        breaking_window=window,
        importance=points / 1000,
        language=language,
    )


def _remove_links(text: str) -> str:
    """`text` with every link replaced by a space (a substring check skips most posts)."""
    lowered = text.lower()
    if "://" in lowered or "www." in lowered or ".me/" in lowered:
        return _URL_RE.sub(" ", text)
    return text


def _empty_extraction() -> Extraction:
    return Extraction(
        topic="other",
        headline="",
        summary="",
        entities=[],
        is_breaking=False,
        breaking_window=None,
        importance=0.0,
        language="und",
    )


@dataclass(slots=True)
class _Lead:
    """The opening of a post: cleaned sentences (headline first), markers, headline end."""

    sentences: list[str] = field(default_factory=list)
    markers: list[str] = field(default_factory=list)
    headline_end: int = 0


def _read_lead(body: str) -> _Lead:
    """The first three non-empty cleaned sentences; breaking markers come off the headline."""
    lead = _Lead()
    for start, end in _sentence_spans(body):
        sentence = _clean_sentence(body[start : min(end, start + _MAX_SENTENCE_CHARS)])
        if sentence and not lead.sentences:
            sentence, markers = _strip_lead_markers(sentence)
            lead.markers.extend(markers)
            sentence = _LEADING_JUNK_RE.sub("", _DATELINE_RE.sub("", sentence, count=1))
            sentence = sentence if _CONTENT_RE.search(sentence) else ""
            lead.headline_end = end
        if sentence:
            lead.sentences.append(sentence)
            if len(lead.sentences) == _SUMMARY_SENTENCES:
                break
    return lead


def _strip_lead_markers(sentence: str) -> tuple[str, list[str]]:
    """The sentence without its leading breaking markers, and the markers (lower case)."""
    markers: list[str] = []
    for _ in range(4):
        match = _LEAD_MARKER_RE.match(sentence)
        if match is None:
            break
        word = match.group("upper") or match.group("any")
        markers.append(" ".join(word.lower().split()))
        sentence = sentence[match.end() :]
    return sentence, markers


def _all_caps_lead(headline: str) -> bool:
    """True when the headline opens with three or more words in capitals (10+ letters)."""
    words = 0
    letters = 0
    for word in _CASED_WORD_RE.findall(headline[:160]):
        if not word.isupper():
            break
        words += 1
        letters += len(word)
    return words >= 3 and letters >= 10


def _sentence_spans(body: str) -> Iterator[tuple[int, int]]:
    """(start, end) of each sentence: line breaks, or ends followed by a capital or digit."""
    start = 0
    for match in _SENTENCE_END_RE.finditer(body):
        end_text = match.group()
        if "\n" not in end_text and end_text[0] not in "。！？":
            following = body[match.end() : match.end() + 1]
            if not (following.isupper() or following.isdigit() or following in _SENTENCE_OPENERS):
                continue
            if end_text[0] == ".":
                before = body[max(start, match.start() - 40) : match.start()].rsplit(None, 1)
                word = before[-1] if before else ""
                if "." in word or len(word) == 1 or word.lower() in _ABBREVIATIONS:
                    continue
        yield start, match.end()
        start = match.end()
    if start < len(body):
        yield start, len(body)


def _clean_sentence(sentence: str) -> str:
    """One line without links, edge hashtags and mentions, or edge punctuation; '' if empty."""
    words = _remove_links(sentence).split()
    while words and (_TAG_WORD_RE.fullmatch(words[-1]) or _is_footer(words[-1])):
        words.pop()
    first = 0
    while first < len(words) and _TAG_WORD_RE.fullmatch(words[first]):
        first += 1
    text = " ".join(
        word[1:] if word[0] == "#" and word[1:2].isalnum() else word for word in words[first:]
    )
    text = _LEADING_JUNK_RE.sub("", text).rstrip(_TRAILING_JUNK)
    return text if _CONTENT_RE.search(text) else ""


def _is_footer(word: str) -> bool:
    """A trailing "Подробнее" / "Source:" whose link has been removed."""
    bare = word.rstrip(":→>»-–—.").lower()
    return bare in _FOOTER_WORDS or (word.endswith(":") and bare in _FOOTER_LABELS)


def _trim(text: str, limit: int) -> str:
    """`text` cut at a word boundary to at most `limit` characters, ending in '…'."""
    if len(text) <= limit:
        return text
    cut = text[: limit - 1]
    space = cut.rfind(" ")
    if space >= limit // 2:
        cut = cut[:space]
    return cut.rstrip(" ,;:|/-–—") + "…"


@dataclass(slots=True)
class _Scan:
    scores: list[int]
    entities: list[tuple[EntityKind, str]]
    central_banks: int = 0
    institutions: int = 0
    figures: int = 0
    countries: int = 0


_SKIP_BACK = frozenset(" \t\u00a0\"'«»“”„‘’([—–-*•·")
_SENTENCE_BREAKS = frozenset(".!?…\n:|。！？")


def _is_sentence_start(body: str, position: int) -> bool:
    index = position - 1
    while index >= 0 and body[index] in _SKIP_BACK:
        index -= 1
    return index < 0 or body[index] in _SENTENCE_BREAKS


def _is_name_word(token: str, key: str) -> bool:
    return (
        len(token) >= 2
        and token[0].isupper()
        and not token.isupper()
        and token.replace("'", "").isalpha()
        and key not in _NAME_STOPWORDS
    )


def _scan(body: str, lead_end: int, *, find_names: bool) -> _Scan:
    """Topic scores and entities (in order of first appearance) from one pass over tokens.

    `find_names` turns on the Capitalised-run heuristic for people and organisations,
    which only holds in languages that do not capitalise common nouns.
    """
    lexicon = _LEXICON
    word_cache = _WORD_CACHE
    normalised = body  # same length after translate: offsets stay valid in `body`
    if _NEEDS_KEY_TABLE_RE.search(body):
        normalised = body.translate(_KEY_TABLE)
    spans = [match.span() for match in _TOKEN_RE.finditer(normalised)]
    tokens = [normalised[start:end] for start, end in spans]
    lowered = [
        (_key_of_normalised(token) if "." in token or "'" in token else token).lower()
        for token in tokens
    ]
    breakers = [False] * len(tokens) if find_names else None
    scores = [0] * len(TOPICS)
    found: list[tuple[int, EntityKind, str]] = []

    count = len(tokens)
    index = 0
    while index < count:
        key = lowered[index]
        term: _Term | None = None
        size = 1
        if key in lexicon.phrase_heads:
            term, size = _match_phrase(normalised, spans, lowered, index)
        if term is None:
            term = word_cache.get(key, _UNSEEN)
            if term is _UNSEEN:
                term = _lookup_word(key)
                if len(word_cache) >= _WORD_CACHE_SIZE:
                    word_cache.clear()
                word_cache[key] = term
            if term is None and key in lexicon.cased_lower:
                term = lexicon.cased.get(_key_of_normalised(tokens[index]))
        if term is not None:
            start = spans[index][0]
            weight = 2 if start < lead_end else 1
            for topic_index, points in term.topics:
                scores[topic_index] += points * weight
            is_entity = term.entity_kind is not None and (
                tokens[index][0].isupper() or not term.needs_capital
            )
            if is_entity and term.entity_kind is not None:
                for topic_index, points in term.entity_topics:
                    scores[topic_index] += points * weight
                text = term.entity_text
                last_end = spans[index + size - 1][1]
                if text == "OPEC" and normalised[last_end : last_end + 1] == "+":
                    text = "OPEC+"
                found.append((start, term.entity_kind, text))
            if breakers is not None and (is_entity or term.is_place or size > 1):
                for covered in range(index, index + size):
                    breakers[covered] = True
        index += size

    if breakers is not None:
        found.extend(_name_runs(body, spans, tokens, lowered, breakers))
    for match in _CASHTAG_RE.finditer(body) if "$" in body else ():
        ticker = match.group(1).upper()
        found.append((match.start(), "ticker", ticker))
        scores[_TOPIC_INDEX["crypto" if ticker in _CRYPTO_TICKERS else "markets"]] += 1
    if _DIGIT_RE.search(body):
        for match in _FIGURE_RE.finditer(body):
            if match.group("cur") or match.group("scale") or match.group("unit"):
                figure = " ".join(match.group().split())
                if len(figure) <= _MAX_FIGURE_CHARS:
                    found.append((match.start(), "figure", figure))
            elif match.group("per"):
                found.append((match.start(), "figure", match.group()))

    return _collect(scores, found)


def _lookup_word(key: str) -> _Term | None:
    """The lexicon term for one lower-case token: an exact word, else its longest stem."""
    term = _LEXICON.words.get(key)
    if term is None:
        for stem, candidate in _LEXICON.stems_by_prefix.get(key[:_STEM_PREFIX], ()):
            if key.startswith(stem):
                return candidate
    return term


def _match_phrase(
    normalised: str, spans: list[tuple[int, int]], lowered: list[str], index: int
) -> tuple[_Term | None, int]:
    """The longest lexicon phrase starting at token `index` on one line, and its length."""
    for size in range(min(_MAX_PHRASE_TOKENS, len(lowered) - index), 1, -1):
        if "\n" in normalised[spans[index][0] : spans[index + size - 1][0]]:
            continue
        term = _LEXICON.phrases.get(" ".join(lowered[index : index + size]))
        if term is not None:
            return term, size
    return None, 1


def _name_runs(
    body: str,
    spans: list[tuple[int, int]],
    tokens: list[str],
    lowered: list[str],
    breakers: list[bool],
) -> list[tuple[int, EntityKind, str]]:
    """People and organisations: runs of 2-5 Capitalised words, conservatively.

    A run is broken by anything else: a lower-case word, punctuation other than a space or
    hyphen, a sentence start, a title or function word, a known entity or place. A run's
    first word is dropped when it starts a sentence, unless it is a common given name. Runs
    inside Title Case sentences are ignored: there, capitals say nothing.
    """
    runs: list[list[int]] = []
    run: list[int] = []
    for index, token in enumerate(tokens):
        if not token[0].isupper() or breakers[index] or not _is_name_word(token, lowered[index]):
            continue
        if run and run[-1] == index - 1 and _joins(body[spans[run[-1]][1] : spans[index][0]]):
            run.append(index)
            continue
        if len(run) >= 2:
            runs.append(run)
        run = [index]
    if len(run) >= 2:
        runs.append(run)
    if not runs:
        return []

    starts = [_is_sentence_start(body, start) for start, _ in spans]
    title_case = _title_case_flags(tokens, starts)
    names: list[tuple[int, EntityKind, str]] = []
    for candidate in runs:
        # a sentence start inside a run splits it; its first word needs to be a given name
        pieces: list[list[int]] = [[]]
        for index in candidate:
            if starts[index] and pieces[-1]:
                pieces.append([])
            pieces[-1].append(index)
        for piece in pieces:
            if starts[piece[0]] and lowered[piece[0]] not in _GIVEN_NAMES:
                piece = piece[1:]
            if not 2 <= len(piece) <= 5 or title_case[piece[0]]:
                continue
            kind = _name_kind([lowered[index] for index in piece])
            if kind is None:
                continue
            start, end = spans[piece[0]][0], spans[piece[-1]][1]
            text = body[start:end]
            if text[-2:] in ("'s", "’s"):
                text = text[:-2]
            names.append((start, kind, text))
    return names


def _title_case_flags(tokens: list[str], starts: list[bool]) -> list[bool]:
    """Per token: does it sit in a sentence of four or more words, mostly Capitalised?"""
    flags = [False] * len(tokens)
    first = 0
    for boundary in [*(i for i in range(1, len(tokens)) if starts[i]), len(tokens)]:
        words = [token for token in tokens[first:boundary] if token[0].isalpha()]
        capitals = sum(1 for word in words if word[0].isupper())
        if len(words) >= 4 and capitals * 10 >= len(words) * 6:
            flags[first:boundary] = [True] * (boundary - first)
        first = boundary
    return flags


def _joins(gap: str) -> bool:
    """True when two capitalised words separated by `gap` can belong to one name."""
    return gap == " " or gap == "-" or (gap != "" and gap.strip(" \t\u00a0") == "")


def _name_kind(words: list[str]) -> EntityKind | None:
    """organisation if a word says so, person for two or three words, else nothing."""
    if any(word in _ORG_WORDS for word in words):
        return "organisation"
    if len(words) <= 3:
        return "person"
    return None


def _collect(scores: list[int], found: list[tuple[int, EntityKind, str]]) -> _Scan:
    found.sort(key=lambda item: item[0])
    seen: set[tuple[EntityKind, str]] = set()
    scan = _Scan(scores=scores, entities=[])
    for _, kind, text in found:
        text = text[:ENTITY_TEXT_MAX_CHARS]
        if (kind, text) in seen or not text:
            continue
        seen.add((kind, text))
        if len(scan.entities) < ENTITIES_MAX:
            scan.entities.append((kind, text))
        if kind == "central_bank":
            scan.central_banks += 1
        elif kind == "institution":
            scan.institutions += 1
        elif kind == "figure":
            scan.figures += 1
        elif kind == "country":
            scan.countries += 1
    return scan


def _pick_topic(scores: list[int]) -> Topic:
    best = max(range(len(scores)), key=lambda i: (scores[i], -_TOPIC_RANK[i]))
    return TOPICS[best] if scores[best] > 0 else TOPICS[_OTHER]


def _importance_points(
    scan: _Scan, topic: Topic, length: int, *, flash: bool, hard: bool, soft: bool
) -> int:
    """Importance in thousandths; the table is in the module docstring."""
    points = 450 if flash else 350 if hard else 150 if soft else 0
    points += 150 if scan.central_banks else 0
    points += min(scan.institutions * 50, 100)
    points += min(scan.figures * 50, 150)
    points += min(scan.countries * 40, 120)
    points += _TOPIC_POINTS[topic]
    points += 100 if length >= 400 else 50 if length >= 100 else 0
    return min(points, 1000)


def _detect_language(body: str) -> str:
    """ISO 639-1 code from the dominant script (and Latin stopwords), or 'und'."""
    sample = body[:_LANGUAGE_SAMPLE_CHARS]
    counts: dict[str, int] = {}
    if _OTHER_SCRIPT_RE.search(sample) is None:  # the common case: Latin and Cyrillic only
        counts["latin"] = sum(map(len, _LATIN_RUN_RE.findall(sample)))
        counts["cyrillic"] = sum(map(len, _CYRILLIC_RUN_RE.findall(sample)))
    else:
        for match in _SCRIPT_RE.finditer(sample):
            script = match.lastgroup or ""
            counts[script] = counts.get(script, 0) + match.end() - match.start()
    script = max(counts, key=lambda name: (counts[name], name))
    if counts[script] < 2:
        return "und"
    if script == "cyrillic":
        ukrainian = len(_UKRAINIAN_LETTERS_RE.findall(sample))
        russian = len(_RUSSIAN_LETTERS_RE.findall(sample))
        return "uk" if ukrainian > russian else "ru"
    if script in ("han", "kana"):
        return "ja" if counts.get("kana", 0) else "zh"
    if script == "latin":
        return _latin_language(sample)
    return {"hangul": "ko", "arabic": "ar", "hebrew": "he", "greek": "el"}[script]


def _latin_language(sample: str) -> str:
    votes = {"en": 0, "de": 0, "fr": 0, "es": 0}
    for word in _LATIN_WORD_RE.findall(sample.lower()):
        language = _LATIN_STOPWORDS.get(word)
        if language is not None:
            votes[language] += 1
    best = max(("de", "fr", "es"), key=lambda language: (votes[language], language))
    if votes[best] >= 2 and votes[best] > votes["en"]:
        return best
    return "en"
