"""The rule-based extractor's data: word lists, lexicons and entity tables, no code.

`civicquant.extract.rules.extractor` builds its lookup index from these at import time and
scans posts with it. Everything here is read-only data; changing any value changes what
`extract()` returns, so bump `RULES_VERSION` in `extractor.py` with every edit.

Word sets hold lower-case words (crypto tickers excepted). The syntax of the topic lexicon
strings is described above `TOPIC_LEXICON`, that of entity aliases above `COUNTRIES`.
"""

from __future__ import annotations

from civicquant.extract.rules.topic_words import OUT_OF_SCOPE_LEXICON
from civicquant.extraction import Topic

__all__ = [
    "ABBREVIATIONS",
    "CENTRAL_BANKS",
    "COUNTRIES",
    "COUNTRY_TOPICS",
    "CRYPTO_TICKERS",
    "FLASH_WORDS",
    "FOOTER_LABELS",
    "FOOTER_WORDS",
    "GIVEN_NAMES",
    "HARD_MARKER_EMOJI",
    "INSTITUTIONS",
    "LATIN_STOPWORDS",
    "NAME_STOPWORDS",
    "ORGANISATIONS",
    "ORG_WORDS",
    "PLACES",
    "SIREN",
    "SOFT_WORDS",
    "TOPIC_LEXICON",
    "TOPIC_POINTS",
    "TOPIC_PRIORITY",
    "URGENT_WORDS",
]

# --------------------------------------------------------------------------------------
# Breaking markers
# --------------------------------------------------------------------------------------

# Marker emoji: any of these on a post's first line is a hard breaking marker; the siren
# with an urgent word makes a post 15-minute news.
SIREN = "\U0001f6a8"  # 🚨
HARD_MARKER_EMOJI = (SIREN, "\u26a1", "\U0001f534")  # 🚨 ⚡ 🔴

# Lead marker words (lower case, as read off the headline) that decide the breaking window:
# flash words always mean 15 minutes, an urgent word does with a siren, and soft words
# alone (no hard marker) mean 4 hours.
FLASH_WORDS = frozenset({"flash", "молния", "блискавка"})
URGENT_WORDS = frozenset({"urgent", "срочно", "терміново"})
SOFT_WORDS = frozenset({"developing", "update", "updated"})

# --------------------------------------------------------------------------------------
# Sentences and footers
# --------------------------------------------------------------------------------------

# Telegram footers left behind once their link is gone: "Подробнее: <link>".
FOOTER_WORDS = frozenset(
    "подробнее подробности детальніше докладніше подписаться підписатися subscribe".split()
)
FOOTER_LABELS = frozenset("источник джерело source читать читати more via".split())
# Words that, followed by '.', do not end a sentence (lower case, without the dot).
ABBREVIATIONS = frozenset(
    {
        "mr", "mrs", "ms", "dr", "prof", "gen", "gov", "sen", "rep", "st", "jr", "sr",
        "inc", "corp", "co", "ltd", "vs", "no", "jan", "feb", "mar", "apr", "jun", "jul",
        "aug", "sep", "sept", "oct", "nov", "dec", "approx", "est", "dept", "fig",
        "г", "гг", "им", "ул", "тыс", "млн", "млрд", "трлн", "руб", "долл", "ст", "см",
        "тис", "грн", "др", "пр", "проф",
    }
)  # fmt: skip

# --------------------------------------------------------------------------------------
# Topics
# --------------------------------------------------------------------------------------

# Lexicon syntax: whitespace-separated `term[:weight]`; `a_b` is the phrase "a b" (a hyphen
# in text splits tokens too, so "sell-off" is `sell_off`); `stem*` matches any word that
# starts with the stem. Matching is case-insensitive; ё is read as е.
TOPIC_LEXICON: dict[Topic, str] = {
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
        уолл_стрит:3 stock_market:3 stock_exchange:3 share_price:3 share_prices:3
        stocks_fell:3 stocks_rose:3 dollar_hits:3 nyse:3 blue_chip:3 blue_chips:3 oil_prices
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
        yellen economists_say:3 greenspan:3 trade_talks:2 trade_deal:2 wto:2 currency:2
        subsidies:2 imf:1 central_bankers:3 interest:1 fed_chairman:3 paris_club:3
        debt_relief:3 sugar
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
        mobilisation:2 gaza:2 kyiv putin zelensky zelenskyy gaza_strip:3 west_bank:3
        strikes_on:3 strike_on:3 launches_strikes:3 launched_strikes:3 drone_strike:3
        militants:3 militant:2 insurgents:3 insurgent:3 insurgency:3 rebels:3 rebel:2
        bomb:2 bombs:2 bombing:3 bombings:3 bomber:2 suicide_bomber:3 car_bomb:3
        roadside_bomb:3 captors:3 intifada:3 peacekeepers:3 peacekeeping:3 foreign_minister:3
        foreign_ministers:3 defence_minister:3 defense_minister:3 envoy:2 ambassador:2
        summit:2 talks regime:2 junta:3 jihadists:3 jihadist:3 terrorist:2 terrorists:2
        terrorism:2 terror:2 guerrillas:3 weapons:2 nuclear_programme:3 nuclear_program:3
        enrichment:2 palestinian:2 palestinians:2 israeli:1 iraqi:1 afghan:1 kashmir:2
        darfur:2 troop:2 marines:2 genocide:3 refugee_camp:2 sectarian:3
        сектор_газа:3 секторе_газа:3 сектора_газа:3 сектор_гази:3 секторі_гази:3
        боевик*:3 террорист*:3 теракт*:3 джихадист*:3 боеприпас*:3 оруж*:2 вооружен*:2
        вмс:3 ввс:2 флот*:2 корабл* подлодк*:3 пограничник*:2 defense_secretary:3
        defence_secretary:3 forces саммит*:2 посол:2 посла:2 министр_иностранных_дел:3
        мид:2 лавров*:2 блинкен*:2
        бойовик*:3 терорист*:3 зброї:2 зброя:2 зброю:2 озброєнн*:2 саміт*:2 мзс:2
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
        blackouts coal:2 uranium:2 gold silver copper:2 commodities:3 commodity:2
        wheat:2 grain corn soybeans:2 metals:2 aluminium:2 aluminum:2 nickel:2 lithium:2
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
        state_department:2 secretary_of_state:2 ministers:2 officials authorities
        lawmaker:3 mps:2 legislature:3 legislative:2 democrat:2 liberal conservative
        conservatives:2 labour_party:3 nominee:2 nomination:2 kerry:2 bush:2 blair:2
        chancellor:2 premier:2 cabinet_minister:3 human_rights:2 dissident:3 dissidents:3
        activists:2 activist:2 demonstrators:3 demonstration:2 rally:1 ruling_party:3
        мвд:2 фсб:2 губернатор*:2 мэр*:1 чиновник*:2 власт* госдеп*:2 сенат*:2
        депутатов:2 единая_россия:3 навальн*:2 оппозиционер*:3 правозащит*:2
        посадов*:2 влада влади владу владі мер:1 міськ* облрад*:2 зеленськ*
        порошенк*:2
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
        eps:3 guidance:2 outlook ceo:2 cfo:2 merger:3 mergers:2 acquisition:3 workforce:2
        acquisitions:2 acquire:3 acquires:3 acquired:2 takeover:3 buyout:3 buyback:3
        buybacks:3 dividend:3 dividends:3 ipo:3 market_cap:2 layoffs:3 job_cuts:2
        shareholders:2 shareholder:2 net_income:3 sales results q1:2 q2:2 q3:2 q4:2 inc
        corp ltd plc chief_executive:2 bankruptcy:3 bankrupt:3 chapter_11:3 antitrust:2
        company companies firm startup subsidiary stake deal annual_report:2 valuation:2
        funding:2 funding_round:3 analysts:2 analyst:2 forecast forecasts profit_warning:3
        retailer:2 retailers:2 retail sales_fell:3 airline:2 airlines:2 carrier carmaker:3
        carmakers:3 automaker:3 automakers:3 lender:2 lenders:2 insurer:3 insurers:3
        drugmaker:3 drugmakers:3 pharmaceutical:2 pharmaceuticals:2 bank banks
        lawsuit:2 settlement regulators:2 regulator:2 customers:2 consumers:2 stores:2
        store brand brands:2 billion million chief_executive_officer:3 executives:2
        executive board business:2 businesses:2 industry:2 manufacturer:3 manufacturers:3
        supplier:2 suppliers:2 shares_rose:3 shares_fell:3 stock_options:3 investment:2
        investor:2 prices price jobs:1 workers union:1 wal_mart:3 walmart:3 boeing:3
        airbus:3 general_motors:3 ford:1 toyota:3 exxon:3 pfizer:3 merck:3 nokia:2
        sony:1 bid:2 offer rival:1 profit_rose:3 reported
        бизнес*:2 предпринимател*:2 завод*:2 производств*:2 предприяти*:2 продаж*:2
        банк банка банков банки:1 авиакомпани*:3 ритейлер*:3 розничн*:2 инвест*:2
        оао:2 зао:2 ооо:2 пао:2 ао:1 бізнес*:2 підприєм*:2 виробництв*:2
        інвест*:2 тов:1 пат:1 tax:2 taxes:2 car:1 cars:2 auto:2 vehicles automotive:3
        factory:2 factories:2 mortgage:2 mortgages:2 loans:2 loan financing:2
        restructuring:2 weak_results:3 sales_fall:3
        beat_estimates:3 estimates earnings_per_share:3 operating_profit:3 ebitda:3
        выручк*:3 прибыл*:2 убыт*:2 квартал* дивиденд*:3 отчетност*:2 мсфо:3 рсбу:3
        гендиректор*:2 слияни*:3 поглощени*:2 приобрет* банкротств*:3 акционер*:2
        капитализац*:2 компани* концерн* холдинг* корпорац*
        виручк*:3 прибут*:2 збит*:2 дивіденд*:3 звітніст*:2 мсфз:3 злитт*:3
        поглинанн*:2 придбанн* банкрутств*:3 акціонер*:2 капіталізац*:2 компані*
    """,
    **OUT_OF_SCOPE_LEXICON,
}

# Ties go to the earlier topic: specific subjects before the generic "markets".
# The out-of-scope topics come before the finance and politics ones: on a tie the narrower
# subject wins (a sports or technology story that also touches business words is a sports
# or technology story), then the older order.
TOPIC_PRIORITY: tuple[Topic, ...] = (
    "sports",
    "entertainment",
    "science",
    "technology",
    "crypto",
    "macro",
    "geopolitics",
    "energy",
    "companies",
    "society",
    "politics",
    "markets",
    "other",
)

# Importance points (in thousandths) for the winning topic; see the extractor's docstring.
# The rules-v2 topics by judgement, not measured (no importance labels): society (crime,
# disasters) below politics, technology and science lower, sports and entertainment 0
# like `other`, which they were before: a markets-and-news reader's digest ranks them low.
TOPIC_POINTS: dict[Topic, int] = {
    "macro": 150,
    "geopolitics": 150,
    "markets": 100,
    "energy": 100,
    "politics": 80,
    "companies": 80,
    "crypto": 60,
    "society": 60,
    "technology": 40,
    "science": 20,
    "sports": 0,
    "entertainment": 0,
    "other": 0,
}

# --------------------------------------------------------------------------------------
# Entity tables
# --------------------------------------------------------------------------------------

# Alias syntax: `Word` (the text must start with a capital), `~stem*` or `~word` (any
# case; Russian and Ukrainian adjectives are lower case), `=US` (exactly this case),
# `a_b` phrases, `stem*` stems. In the three-field tables, the third field holds topic
# weights (`topic[:weight]`, space-separated) that a match adds to its topics.

# Countries, (name reported, aliases): each match is a `country` entity.
COUNTRIES: tuple[tuple[str, str], ...] = (
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

# What a named country adds to the topics: a generic geopolitics cue, which counts only
# beside a specific one (`topics.py`). bench/topics.py, first half of AG News: World news
# given `other` fell by a fifth, out-of-scope news given a finance/politics topic rose
# by under a point.
COUNTRY_TOPICS = "geopolitics:1"

# Central banks, (name reported, aliases): each match is a `central_bank` entity and adds
# macro:3.
CENTRAL_BANKS: tuple[tuple[str, str], ...] = (
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

# International and state institutions, (name reported, aliases, topic weights): each match
# is an `institution` entity.
INSTITUTIONS: tuple[tuple[str, str, str], ...] = (
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

# Known companies and groups, (name reported, aliases, topic weights): each match is an
# `organisation` entity.
ORGANISATIONS: tuple[tuple[str, str, str], ...] = (
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
PLACES = """
    Hong_Kong New_York Los_Angeles San_Francisco Middle_East Gaza_Strip West_Bank
    Red_Sea Black_Sea South_China_Sea Tel_Aviv Abu_Dhabi Buenos_Aires Sao_Paulo
    New_Delhi Kuala_Lumpur Silicon_Valley Persian_Gulf Strait_of_Hormuz Latin_America
    Ближний_Восток Ближнем_Востоке Ближнего_Востока Близький_Схід Близькому_Сході
    Нью_Йорк Тель_Авив Абу_Даби Сектор_Газа Секторе_Газа Сектора_Газа Сектор_Гази
    Красное_море Красном_море Черное_море Черном_море Чорне_море Чорному_морі
"""

# --------------------------------------------------------------------------------------
# People and organisations by capitalisation
# --------------------------------------------------------------------------------------

# Capitalised words that are not part of a name: titles, weekdays, months, function words.
NAME_STOPWORDS = frozenset(
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
GIVEN_NAMES = frozenset(
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
# A run of Capitalised words containing one of these (lower case) is an organisation.
ORG_WORDS = frozenset(
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

# --------------------------------------------------------------------------------------
# Cashtags
# --------------------------------------------------------------------------------------

# Cashtags ($BTC) that count towards crypto rather than markets.
CRYPTO_TICKERS = frozenset(
    "BTC ETH SOL XRP TON USDT USDC DOGE BNB ADA AVAX DOT LINK TRX SHIB LTC".split()
)

# --------------------------------------------------------------------------------------
# Language
# --------------------------------------------------------------------------------------

# Common function words of Latin-script languages, word -> ISO 639-1 code: a post is
# German, French or Spanish when that language has two or more hits and more than English.
LATIN_STOPWORDS: dict[str, str] = {
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
