"""Varied, realistic news-channel posts for the extraction benchmarks, deterministically.

gen_export's texts are word salad (fine for parsing, not for the rules extractor, which
reads names, markers, figures and sentences). These are wire-style posts built from
templates and slots: breaking markers, central banks, countries, companies, people,
cashtags, figures, links and hashtags, in English, Russian and Ukrainian, short and long.
"""

from __future__ import annotations

import random
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta

from civicquant.ingest.posts import RawPost

MARKERS = ("", "", "", "BREAKING: ", "JUST IN: ", "🚨 ", "⚡️ FLASH: ", "UPDATE: ", "🔴 URGENT: ")
BANKS = ("Federal Reserve", "ECB", "Bank of England", "Bank of Japan", "SNB", "RBA", "PBOC")
COUNTRIES = (
    "US", "China", "Germany", "France", "Japan", "Israel", "Iran", "Ukraine", "Russia",
    "India", "Brazil", "Turkey", "Saudi Arabia", "Canada", "Mexico", "South Korea",
)  # fmt: skip
COMPANIES = (
    ("Apple", "AAPL"), ("Nvidia", "NVDA"), ("Tesla", "TSLA"), ("Microsoft", "MSFT"),
    ("Exxon Mobil", "XOM"), ("JPMorgan", "JPM"), ("SAP", "SAP"), ("Alphabet", "GOOGL"),
    ("Boeing", "BA"), ("Siemens", "SIE"), ("Toyota", "TM"), ("Shell", "SHEL"),
)  # fmt: skip
PEOPLE = (
    "Jerome Powell", "Christine Lagarde", "Andrew Bailey", "Kazuo Ueda", "Janet Yellen",
    "Olaf Scholz", "Emmanuel Macron", "Narendra Modi", "Recep Erdogan", "Ursula von der Leyen",
)  # fmt: skip
INDICES = ("S&P 500", "Nasdaq", "Dow Jones", "DAX", "FTSE 100", "Nikkei 225", "Hang Seng")
COMMODITIES = ("Brent", "WTI", "gold", "copper", "natural gas", "wheat")
COINS = ("Bitcoin", "Ether", "Solana")
TAGS = ("#macro", "#markets", "#energy", "#crypto", "#politics", "#earnings", "#geopolitics")

TEMPLATES = (
    "{marker}{bank} {moves} rates by {bps} bps to {rate}%, {first} {tail}",
    "{marker}{country} CPI rises {pct}% YoY in {month}, {vs} {pct2}% forecast",
    "{marker}{country} GDP grew {pct}% in Q{q}, {vs} expectations of {pct2}%; {person} "
    "says the economy remains resilient.",
    "{marker}{company} shares {jump} {pct}% premarket after Q{q} revenue of ${bn}bn beats "
    "estimates ${cash} {tag}",
    "{marker}{company} to cut {thousand},000 jobs as demand slows, CEO says in memo to staff",
    "{marker}OPEC+ agrees to {extend} output cuts of {mbpd} million bpd through {month}; "
    "{commodity} {jump} {pct}% to ${price}/bbl",
    "{marker}Explosions reported in {city}; {country} says air defence intercepted {n} drones "
    "overnight. Officials report {n2} injured.",
    "{marker}{country} and {country2} agree to resume ceasefire talks next week, foreign "
    "ministry says. {person} welcomes the move.",
    "{marker}{index} {closes} {pct}% at record {level}, led by tech; Treasury yields {move} "
    "to {rate}% {tag}",
    "{marker}{coin} {jump} {pct}% to ${coinprice} as ETF inflows hit ${bn}bn in a week "
    "https://example.com/{n3} {tag}",
    "{marker}{person} wins {country} election with {share}% of the vote, results show; "
    "coalition talks begin {month}.",
    "{marker}{country} parliament passes {bn}bn budget after {n}-hour debate; opposition "
    "vows to challenge it in court.",
    "{marker}EU fines {company} €{bn}bn over competition breaches, the European Commission "
    "said on {day}.",
    "{marker}{company} reports Q{q} EPS ${eps} vs ${eps2} expected; guidance {guidance}. "
    "Shares {jump} {pct}% after hours. ${cash}",
    "Morning brief: Asian shares mixed — {index} {sign}{pct}%, {index2} {sign2}{pct2}%. "
    "{commodity} ${price}. Coming up: {country} PMI at {hour}:00 UTC. {tag}",
    "{marker}SEC {approves} spot {coin} ETF applications from {n} issuers; trading to start {day}.",
    "СРОЧНО: ЦБ РФ {ru_move} ключевую ставку до {rate}% годовых. Рубль {ru_fx} к доллару.",
    "Минфин {country_ru} разместил ОФЗ на {bn} млрд рублей при спросе {bn2} млрд. "
    "Доходность {pct}%.",
    "ТЕРМІНОВО: у {city_uk} пролунали вибухи, працює ППО. Подробиці згодом.",
    "НБУ {uk_move} облікову ставку на рівні {rate}%. Інфляція в {month_uk} — {pct}%.",
)

MONTHS = ("January", "March", "May", "July", "September", "October", "November", "December")
CITIES = ("Kyiv", "Tehran", "Tel Aviv", "Odesa", "Kharkiv", "Beirut", "Damascus", "Taipei")


def _slots(rng: random.Random) -> dict[str, str]:
    company, cash = rng.choice(COMPANIES)
    country, country2 = rng.sample(COUNTRIES, 2)
    index, index2 = rng.sample(INDICES, 2)
    return {
        "marker": rng.choice(MARKERS),
        "bank": rng.choice(BANKS),
        "moves": rng.choice(("cuts", "raises", "holds")),
        "bps": str(rng.choice((25, 50, 75))),
        "rate": f"{rng.uniform(0.1, 19.0):.2f}",
        "first": rng.choice(("first move since 2020", "as expected", "surprising markets")),
        "tail": rng.choice(("", "https://reut.rs/3xYz", "#macro", "— statement")),
        "country": country,
        "country2": country2,
        "pct": f"{rng.uniform(0.1, 12.0):.1f}",
        "pct2": f"{rng.uniform(0.1, 12.0):.1f}",
        "month": rng.choice(MONTHS),
        "vs": rng.choice(("above", "below", "in line with")),
        "person": rng.choice(PEOPLE),
        "q": str(rng.randint(1, 4)),
        "company": company,
        "cash": cash,
        "jump": rng.choice(("jump", "fall", "surge", "slump", "rise")),
        "bn": f"{rng.uniform(1, 120):.1f}",
        "bn2": f"{rng.uniform(120, 400):.0f}",
        "tag": rng.choice(TAGS),
        "thousand": str(rng.randint(1, 40)),
        "extend": rng.choice(("extend", "deepen", "unwind")),
        "mbpd": f"{rng.uniform(0.5, 3.5):.1f}",
        "commodity": rng.choice(COMMODITIES),
        "price": f"{rng.uniform(40, 120):.2f}",
        "city": rng.choice(CITIES),
        "n": str(rng.randint(2, 60)),
        "n2": str(rng.randint(0, 40)),
        "n3": str(rng.randrange(10**6)),
        "index": index,
        "index2": index2,
        "closes": rng.choice(("closes up", "ends", "finishes up")),
        "level": f"{rng.uniform(4000, 42000):,.0f}",
        "move": rng.choice(("rise", "fall", "edge up")),
        "coin": rng.choice(COINS),
        "coinprice": f"{rng.uniform(100, 110000):,.0f}",
        "share": f"{rng.uniform(35, 70):.1f}",
        "day": rng.choice(("Monday", "Tuesday", "Wednesday", "Thursday", "Friday")),
        "eps": f"{rng.uniform(0.1, 9):.2f}",
        "eps2": f"{rng.uniform(0.1, 9):.2f}",
        "guidance": rng.choice(("raised", "cut", "maintained")),
        "sign": rng.choice("+-"),
        "sign2": rng.choice("+-"),
        "hour": f"{rng.randint(6, 18):02d}",
        "approves": rng.choice(("approves", "rejects", "delays decision on")),
        "ru_move": rng.choice(("повысил", "снизил", "сохранил")),
        "ru_fx": rng.choice(("укрепился", "ослаб")),
        "country_ru": rng.choice(("России", "Казахстана")),
        "city_uk": rng.choice(("Києві", "Одесі", "Харкові", "Дніпрі")),
        "uk_move": rng.choice(("зберіг", "знизив", "підвищив")),
        "month_uk": rng.choice(("жовтні", "листопаді", "грудні")),
    }


def text(rng: random.Random) -> str:
    """One post: a template filled in, sometimes followed by a second paragraph."""
    body = rng.choice(TEMPLATES).format(**_slots(rng))
    if rng.random() < 0.3:
        body += "\n\n" + rng.choice(TEMPLATES).format(**_slots(rng)).removeprefix("BREAKING: ")
    return body


def posts(channel_id: int, count: int, *, seed: int = 0, first_id: int = 1) -> Iterator[RawPost]:
    """`count` posts of one channel, ids from `first_id`, a minute or so apart."""
    rng = random.Random(seed)
    at = datetime(2026, 1, 5, 6, 0, tzinfo=UTC)
    for offset in range(count):
        at += timedelta(seconds=rng.randint(5, 120))
        yield RawPost(channel_id, first_id + offset, at, text(rng))
