"""`quality` (on request: `--only quality`): story matching measured through the real pipeline.

Labelled data is stored through `RawLog` (which enqueues the extraction jobs), extracted in
this process by the extract `Worker` with the rules extractor, and what the pipeline made is
read back from `event_sources` and `extractions` (`bench/pipeline.py`); the scores are in
`bench/clustering.py`. Each dataset works in a scratch database of its own.

- **UCI stream**: every headline of `uci_stories_dev.csv` a post (each publisher a channel,
  at the row's timestamp); the events against the gold STORY, pairwise and B-cubed.
- **Pair sets**: each labelled pair of `tgcontest_ru_pairs_dev.tsv` and
  `nyan_telegram_pairs_dev.tsv` two posts in two channels, 10 minutes apart, each pair 30
  days after the one before (no merge window reaches the next pair); predicted "same
  event" when both posts are in one event. On each text's first 300 characters and on the
  whole text, each in a database of its own.
- **Demo digest**: the demo's sample exports imported as `scripts/demo.sh` does, extracted,
  and the vip window 2026-11-20 08:00-12:00 UTC selected as `civicquant digest` selects it;
  bullets whose story (`bench/data/demo_stories.json`) an earlier bullet already told.
- **Speed**: posts/s of extraction plus matching, one process, over Telegram-length posts;
  beside it the CPU-only loop (rules.extract + similarity.sketch), as a breakdown.
- **Language**: the share of posts whose stored language is the file's language.
- **Topics** (`bench/topics.py`): the rules extractor's topic on AG News and the tgcontest
  category files under written-down mappings: accuracy, macro-F1, the share of
  out-of-scope news given a finance or politics topic, and a confusion matrix section.

The labelled files live outside the repository, in ../shared/data/quality/; a part whose
file is absent gives one `not yet measured` row and the others still run.
"""

from __future__ import annotations

import csv
import hashlib
import json
import sys
import time
import traceback
from collections import Counter
from collections.abc import Callable, Hashable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from functools import partial
from pathlib import Path

from bench import breaking_quality, clustering, corpus, pipeline, topics
from bench.context import Context
from bench.pg import scratch_database
from bench.pipeline import PostKey
from bench.processes import REPO_ROOT
from bench.results import Row, verdict
from civicquant.config import Settings
from civicquant.events import similarity
from civicquant.extract import rules
from civicquant.ingest.export_import import import_export
from civicquant.ingest.posts import Channel, RawPost
from civicquant.ingest.rawlog import RawLog
from civicquant.publish.digest import Window, render_selection, select_events, window_events
from civicquant.publish.render import DigestEvent, SourceLink

DATA = REPO_ROOT.parent / "shared" / "data" / "quality"
SHOWN_DATA = "../shared/data/quality"  # how rows and notes name it
UCI_FILE = "uci_stories_dev.csv"
SAMPLES = REPO_ROOT / "civicquant" / "samples"
DEMO_EXPORTS = (
    ("demo_wirewatch.json", "wirewatch_demo"),
    ("demo_marketpulse.json", "marketpulse_demo"),
)
DEMO_LABELS = Path(__file__).resolve().parent / "data" / "demo_stories.json"
DEMO_WINDOW = Window(datetime(2026, 11, 20, 8, tzinfo=UTC), datetime(2026, 11, 20, 12, tzinfo=UTC))
VERSION = "v1"  # the default EXTRACTION_PIPELINE_VERSION

# Targets, from the issue.
PAIRWISE_PRECISION_TARGET = 0.90
BCUBED_F1_TARGET = 0.80
PAIR_F1_TARGET = 0.85
REPEATED_BULLETS_TARGET = 0
SPEED_TARGET_POSTS_PER_SECOND = 2_000.0

# Sizes: (full, --quick).
UCI_ROWS_QUICK = 800
PAIRS_QUICK = 60
SPEED_POSTS = (20_000, 4_000)

LEAD_CHARS = 300  # a post-sized lead of a long article
ARTICLE_CUT_CHARS = 1_000  # the speed posts' article pieces: Telegram length
PAIR_SPACING = timedelta(days=30)
PAIR_GAP = timedelta(minutes=10)
PAIR_BASE = datetime(2020, 1, 6, 9, 0, tzinfo=UTC)
PAIR_CHANNELS = (
    Channel(1_777_300_001, None, "pairs: first"),
    Channel(1_777_300_002, None, "pairs: second"),
)
SPEED_CHANNEL = Channel(1_777_300_010, None, "quality speed")
LANGUAGE = "quality language"  # the prefix of the language rows, listed last


@dataclass(frozen=True, slots=True)
class PairFile:
    """A file of labelled pairs: its columns, its gold column and the language of its texts."""

    name: str
    file: str
    gold_column: str
    same_label: str  # the gold value that means same event; the other is "bad"
    title_columns: tuple[str, str] | None  # post text = title + "\n\n" + text when given
    language: str


PAIR_FILES = (
    PairFile(
        "tgcontest_ru",
        "tgcontest_ru_pairs_dev.tsv",
        "GOLDEN:quality",
        "ok",
        ("INPUT:first_title", "INPUT:second_title"),
        "ru",
    ),
    PairFile("nyan", "nyan_telegram_pairs_dev.tsv", "GOLDEN:result", "ok", None, "ru"),
)
PAIR_VARIANTS = ((f"first {LEAD_CHARS} chars", LEAD_CHARS), ("whole text", None))


@dataclass(frozen=True, slots=True)
class Headline:
    """One UCI row as civicquant sees it: a post of its publisher's channel."""

    title: str
    publisher: str
    story: str
    at: datetime


@dataclass(frozen=True, slots=True)
class LabelledPair:
    """Two post texts and whether they tell the same event."""

    first: str
    second: str
    same: bool


@dataclass(frozen=True, slots=True)
class Stream:
    """Posts to store, their channels, and each post's gold label."""

    channels: list[Channel]
    posts: list[RawPost]
    labels: dict[PostKey, str]


# -- the benchmark -------------------------------------------------------------------------


def run(ctx: Context) -> list[Row]:
    """Every part's rows; a part that raised is one error row and the others still run."""
    with pipeline.quiet_logs():
        rows = _guarded("quality uci", lambda: _uci(ctx))
        for spec in PAIR_FILES:
            rows += _guarded(f"quality {spec.name} pairs", partial(_pairs, ctx, spec))
        rows += _guarded("quality demo digest", lambda: _demo(ctx))
        rows += _guarded("quality speed", lambda: _speed(ctx))
        rows += _guarded("quality topics", topics.rows)
        rows += _guarded("quality breaking", breaking_quality.rows)
    return [r for r in rows if not r.name.startswith(LANGUAGE)] + [
        r for r in rows if r.name.startswith(LANGUAGE)
    ]


def datasets(quick: bool) -> list[str]:
    """One line per input file for the results: where it is, its rows, how many were used."""
    lines = [_uci_dataset(quick), *(_pair_dataset(spec, quick) for spec in PAIR_FILES)]
    for file, username in DEMO_EXPORTS:
        texts = sum(1 for m in _export_messages(SAMPLES / file) if _message_text(m))
        lines.append(f"`civicquant/samples/{file}` (@{username}): {texts} messages with text")
    labels = len(_demo_labels())
    lines.append(f"`bench/data/demo_stories.json`: {labels} hand-written story labels")
    return lines + topics.datasets()


def sections() -> list[str]:
    """Markdown sections after the notes: the topics' confusion matrices."""
    return topics.confusion_lines()


def _guarded(part: str, measure: Callable[[], list[Row]]) -> list[Row]:
    """The part's rows, or one error row when it raised."""
    try:
        return measure()
    except Exception as exc:
        traceback.print_exc()
        return [Row(part, None, "", "", None, "", "error", note=f"{type(exc).__name__}: {exc}")]


def _absent(part: str, file: str) -> list[Row]:
    """The row of a part whose labelled file is not there."""
    where = f"{SHOWN_DATA}/{file}"
    note = f"{where} is absent (the labelled data lives outside the repository): skipped"
    return [Row(part, None, "", "", None, "", f"not yet measured: needs {where}", note=note)]


# -- UCI stream ------------------------------------------------------------------------------


def _uci(ctx: Context) -> list[Row]:
    """Pairwise and B-cubed scores of the UCI stream's events, events made, language."""
    path = DATA / UCI_FILE
    if not path.exists():
        return _absent("quality uci", UCI_FILE)
    headlines = read_uci(path)
    headlines = headlines[: ctx.size(len(headlines), UCI_ROWS_QUICK)]
    stream = uci_stream(headlines)
    events, languages = _through_pipeline(ctx, "quality_uci", stream)
    size = f"{len(stream.posts):,} posts, {len(stream.channels):,} channels"
    return [
        *_uci_scores(events, stream.labels, size),
        _language_row("uci", "en", languages, size),
    ]


def read_uci(path: Path) -> list[Headline]:
    """The file's rows in file order (which is time order)."""
    with path.open(encoding="utf-8", newline="") as handle:
        return [
            Headline(
                title=row["TITLE"],
                publisher=row["PUBLISHER"].strip() or f"(no publisher: {row['HOSTNAME']})",
                story=row["STORY"],
                at=datetime.fromtimestamp(int(row["TIMESTAMP"]) / 1000, UTC),
            )
            for row in csv.DictReader(handle)
        ]


def uci_stream(headlines: Sequence[Headline]) -> Stream:
    """Each publisher a channel (id from its name), message ids counting up per channel."""
    channels: dict[str, Channel] = {}
    posts: list[RawPost] = []
    labels: dict[PostKey, str] = {}
    next_id: Counter[int] = Counter()
    for headline in headlines:
        channel = channels.get(headline.publisher)
        if channel is None:
            channel = Channel(channel_id(headline.publisher), None, headline.publisher)
            channels[headline.publisher] = channel
        next_id[channel.channel_id] += 1
        post = RawPost(channel.channel_id, next_id[channel.channel_id], headline.at, headline.title)
        posts.append(post)
        labels[(post.channel_id, post.message_id)] = headline.story
    if len({c.channel_id for c in channels.values()}) != len(channels):
        raise RuntimeError("two publishers hash to one channel id")
    return Stream(list(channels.values()), posts, labels)


def channel_id(name: str) -> int:
    """A stable channel id for a publisher's name: positive, below 2^62."""
    digest = hashlib.sha256(name.encode("utf-8")).digest()
    return (int.from_bytes(digest[:8], "big") >> 2) or 1


def clusters(events: Mapping[PostKey, int | None]) -> dict[PostKey, Hashable]:
    """Each post's cluster: its event, or a cluster of its own when it joined none."""
    return {
        key: ("event", event) if event is not None else ("alone", key)
        for key, event in events.items()
    }


def _uci_scores(
    events: Mapping[PostKey, int | None], gold: Mapping[PostKey, str], size: str
) -> list[Row]:
    """Pairwise and B-cubed rows of the events against the gold stories, and events made."""
    predicted = clusters(events)
    pairs = clustering.pairwise(predicted, gold)
    pair_scores = pairs.scores()
    cubed = clustering.bcubed(predicted, gold)
    stories = clustering.cluster_count(gold)
    reference = f"gold STORY ({stories} stories)"
    pair_note = (
        f"{size}; {pairs.claimed:,} pairs in one event, {pairs.both:,} of them in one story; "
        f"{pairs.true:,} pairs in one story"
    )
    return [
        _score(
            "quality uci pairwise precision",
            pair_scores.precision,
            reference,
            PAIRWISE_PRECISION_TARGET,
            pair_note,
        ),
        _score("quality uci pairwise recall", pair_scores.recall, reference, None, pair_note),
        _score("quality uci pairwise F1", pair_scores.f1, reference, None, size),
        _score("quality uci B-cubed precision", cubed.precision, reference, None, size),
        _score("quality uci B-cubed recall", cubed.recall, reference, None, size),
        _score("quality uci B-cubed F1", cubed.f1, reference, BCUBED_F1_TARGET, size),
        _events_made(events, stories, size),
    ]


def _events_made(events: Mapping[PostKey, int | None], stories: int, size: str) -> Row:
    """Events the pipeline made against the gold stories; posts in no event are noted."""
    made = len({event for event in events.values() if event is not None})
    alone = sum(1 for event in events.values() if event is None)
    return Row(
        name="quality uci events made vs gold stories",
        measured=made,
        unit="events",
        reference=f"{stories} gold stories",
        ratio=made / stories if stories else None,
        target="",
        verdict="report",
        note=f"{size}; {alone:,} posts joined no event (no headline): each scored as its own",
    )


# -- pair sets -------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class PairOutcome:
    """One variant's "same event" counts and the posts' extracted languages."""

    counts: clustering.Counts
    languages: dict[PostKey, str | None]


def _pairs(ctx: Context, spec: PairFile) -> list[Row]:
    """F1 of "same event" on each variant (P and R in the note), and the language share."""
    path = DATA / spec.file
    if not path.exists():
        return _absent(f"quality {spec.name} pairs", spec.file)
    pairs = read_pairs(path, spec)
    pairs = pairs[: ctx.size(len(pairs), PAIRS_QUICK)]
    gold = [pair.same for pair in pairs]
    reference = f"{sum(gold)} same of {len(pairs)} pairs"
    rows: list[Row] = []
    outcomes: dict[str, PairOutcome] = {}
    for variant, cut in PAIR_VARIANTS:
        outcome = _measure_pairs(ctx, f"quality_{spec.name}_{cut or 'whole'}", pairs, cut)
        outcomes[variant] = outcome
        scores = outcome.counts.scores()
        note = (
            f"precision {scores.precision:.1%}, recall {scores.recall:.1%}; "
            f"{outcome.counts.claimed} pairs predicted same, {outcome.counts.both} of them truly"
        )
        rows.append(
            _score(
                f"quality {spec.name} pairs F1, {variant}",
                scores.f1,
                reference,
                PAIR_F1_TARGET,
                note,
            )
        )
    whole, lead = outcomes["whole text"], outcomes[PAIR_VARIANTS[0][0]]
    lead_share = _share(lead.languages, spec.language)
    rows.append(
        _language_row(
            spec.name,
            spec.language,
            whole.languages,
            f"{2 * len(pairs)} posts, whole text; on the first {LEAD_CHARS} chars {lead_share:.1%}",
        )
    )
    return rows


def read_pairs(path: Path, spec: PairFile) -> list[LabelledPair]:
    """The file's pairs in file order, each text as the post carries it."""
    csv.field_size_limit(sys.maxsize)  # whole articles in one field
    with path.open(encoding="utf-8", newline="") as handle:
        return [_pair(row, spec) for row in csv.DictReader(handle, delimiter="\t")]


def _pair(row: Mapping[str, str], spec: PairFile) -> LabelledPair:
    """One row as a pair of post texts with its gold label (an unknown label raises)."""
    label = row[spec.gold_column].strip().lower()
    if label not in {spec.same_label, "bad"}:
        raise ValueError(f"{spec.file}: unknown {spec.gold_column} {label!r}")
    texts = [row["INPUT:first_text"], row["INPUT:second_text"]]
    if spec.title_columns is not None:
        texts = [
            f"{row[title]}\n\n{text}" for title, text in zip(spec.title_columns, texts, strict=True)
        ]
    return LabelledPair(texts[0], texts[1], label == spec.same_label)


def pair_stream(pairs: Sequence[LabelledPair], cut: int | None) -> Stream:
    """Pair i: message i+1 of the first channel, then of the second 10 minutes later."""
    first, second = PAIR_CHANNELS
    posts: list[RawPost] = []
    for index, pair in enumerate(pairs):
        at = PAIR_BASE + index * PAIR_SPACING
        posts.append(RawPost(first.channel_id, index + 1, at, pair.first[:cut]))
        posts.append(RawPost(second.channel_id, index + 1, at + PAIR_GAP, pair.second[:cut]))
    return Stream(list(PAIR_CHANNELS), posts, {})


def predicted_same(events: Mapping[PostKey, int | None], count: int) -> list[bool]:
    """For each pair, whether both its posts are in one event."""
    first, second = (channel.channel_id for channel in PAIR_CHANNELS)
    return [
        (event := events[(first, i + 1)]) is not None and event == events[(second, i + 1)]
        for i in range(count)
    ]


def _measure_pairs(
    ctx: Context, label: str, pairs: Sequence[LabelledPair], cut: int | None
) -> PairOutcome:
    """The pairs (texts cut to `cut` chars, or whole) through the pipeline in a database of
    their own; the counts of "same event" and each post's language."""
    events, languages = _through_pipeline(ctx, label, pair_stream(pairs, cut))
    counts = clustering.pair_set(predicted_same(events, len(pairs)), [pair.same for pair in pairs])
    return PairOutcome(counts, languages)


# -- demo digest -----------------------------------------------------------------------------


def _demo(ctx: Context) -> list[Row]:
    """Bullets of the demo's vip digest that repeat a story, and how many bullets."""
    labels = _demo_labels()
    bullets = _demo_bullets(ctx)
    # The digest as sent: DIGEST_MAX_EVENTS (default) and no more than fit one message.
    parts, shown = render_selection(
        select_events(bullets, Settings().digest_max_events), title="Digest", window=DEMO_WINDOW
    )
    stories = [story_of(bullet, labels) for bullet in bullets]
    repeats = repeated(stories)
    window = f"vip {DEMO_WINDOW.start:%Y-%m-%d %H:%M}-{DEMO_WINDOW.end:%H:%M} UTC"
    repeats_count = len(bullets) - len(repeats)  # every bullet after its story's first
    return [
        Row(
            name="quality demo digest repeated bullets",
            measured=repeats_count,
            unit="bullets",
            reference=f"{len(repeats)} stories told in {len(bullets)} bullets",
            ratio=None,
            target=f"= {REPEATED_BULLETS_TARGET}",
            verdict=verdict(repeats_count <= REPEATED_BULLETS_TARGET),
            note=_repeat_note(repeats, bullets) or "no story told twice",
        ),
        Row(
            name="quality demo digest bullets",
            measured=len(bullets),
            unit="bullets",
            reference=f"{len(set(labels.values()))} labelled stories in the sample",
            ratio=None,
            target="",
            verdict="report",
            note=f"{window}, every event of the window (window_events, before the cap); "
            + (_mixed_note(bullets, labels) or "no bullet mixes stories"),
        ),
        Row(
            name="quality demo digest messages",
            measured=len(parts),
            unit="messages",
            reference=f"{len(shown.shown)} bullets shown, {sum(shown.more.values())} more",
            ratio=None,
            target="= 1",
            verdict=verdict(len(parts) == 1),
            note=f"{window} as `civicquant digest` renders it (DIGEST_MAX_EVENTS "
            f"{Settings().digest_max_events}, one message); shown stories repeated: "
            f"{len(shown.shown) - len({story_of(b, labels) for b in shown.shown})}",
        ),
    ]


def _demo_bullets(ctx: Context) -> list[DigestEvent]:
    """The demo's vip window as the digest selects it, after import and extraction."""
    with scratch_database(ctx.server, "quality_demo") as url, pipeline.connect(url) as db:
        config = pipeline.settings(url, ctx.workdir)
        version = config.pipeline_version()
        job = pipeline.job_context(db, config, "backfill")
        rawlog = RawLog(db, pipeline_version=version)
        for file, username in DEMO_EXPORTS:
            import_export(job, rawlog, SAMPLES / file, username=username)
        pipeline.extract(db, config, version)
        events = window_events(db, config, "vip", DEMO_WINDOW, version, None)
    return [event for event in events if event.headline.strip()]


def story_of(event: DigestEvent, labels: Mapping[str, str]) -> str:
    """The majority label of the event's sources (a tie: the earliest source's label).

    A source without a label is a story of its own, so it never counts as a repeat.
    """
    votes = Counter(
        labels.get(_source_key(s), f"unlabelled {_source_key(s)}") for s in event.sources
    )
    return votes.most_common(1)[0][0] if votes else f"no sources {event.event_id}"


def repeated(stories: Sequence[str]) -> dict[str, list[int]]:
    """Each story with the indexes of the bullets telling it (more than one: a repeat)."""
    found: dict[str, list[int]] = {}
    for index, story in enumerate(stories):
        found.setdefault(story, []).append(index)
    return found


def _repeat_note(repeats: Mapping[str, list[int]], bullets: Sequence[DigestEvent]) -> str:
    """Each story told more than once, with its bullets' headlines ("" when none is)."""
    parts = [
        f"{story}: " + " / ".join(f"«{_short(bullets[i].headline)}»" for i in indexes)
        for story, indexes in repeats.items()
        if len(indexes) > 1
    ]
    return "; ".join(parts)


def _mixed_note(bullets: Sequence[DigestEvent], labels: Mapping[str, str]) -> str:
    """The bullets whose sources carry more than one story label, with those labels."""
    mixed = []
    for bullet in bullets:
        stories = sorted({labels.get(_source_key(s), _source_key(s)) for s in bullet.sources})
        if len(stories) > 1:
            mixed.append(f"«{_short(bullet.headline, 60)}» mixes {' + '.join(stories)}")
    return f"{len(mixed)} bullet(s) mix stories: " + "; ".join(mixed) if mixed else ""


def _source_key(source: SourceLink) -> str:
    """A source as the labels name it: "<username>/<message_id>"."""
    return f"{source.channel_username}/{source.message_id}"


def _demo_labels() -> dict[str, str]:
    """The hand-written story labels: "<username>/<message_id>" to a story slug."""
    stories: dict[str, str] = json.loads(DEMO_LABELS.read_text(encoding="utf-8"))["stories"]
    return stories


def _short(text: str, limit: int = 90) -> str:
    """`text` on one line, cut to `limit` chars with an ellipsis."""
    line = " ".join(text.split())
    return line if len(line) <= limit else line[: limit - 1] + "…"


# -- speed -----------------------------------------------------------------------------------


def _speed(ctx: Context) -> list[Row]:
    """Posts/s of extraction plus matching in one process, and the CPU-only breakdown."""
    count = ctx.size(*SPEED_POSTS)
    articles = _article_pieces()
    texts = speed_texts(count, articles)
    posts = [
        RawPost(SPEED_CHANNEL.channel_id, post.message_id, post.posted_at, text)
        for post, text in zip(corpus.posts(SPEED_CHANNEL.channel_id, count), texts, strict=True)
    ]
    with scratch_database(ctx.server, "quality_speed") as url, pipeline.connect(url) as db:
        pipeline.store(db, VERSION, [SPEED_CHANNEL], posts)
        db.connection.execute("ANALYZE raw_messages, extraction_jobs")  # as after a bulk load
        done = pipeline.extract(db, pipeline.settings(url, ctx.workdir), VERSION)
    if done.counts["ok"] != count:
        raise RuntimeError(f"extract finished {done.counts['ok']} of {count} jobs")
    mean = sum(map(len, texts)) / len(texts)
    source = (
        f"bench.corpus posts, every other one an article piece of <= {ARTICLE_CUT_CHARS:,} chars "
        f"({len(articles)} pieces from the pair files)"
        if articles
        else f"bench.corpus posts only ({SHOWN_DATA} absent)"
    )
    rate = count / done.seconds
    cpu = cpu_rates(texts)
    return [
        Row(
            name="quality speed: rules extraction + matching, one process",
            measured=rate,
            unit="posts/s",
            reference="",
            ratio=None,
            target=f">= {SPEED_TARGET_POSTS_PER_SECOND:,.0f} posts/s",
            verdict=verdict(rate >= SPEED_TARGET_POSTS_PER_SECOND),
            note=f"{count:,} posts, mean {mean:,.0f} chars: {source}; Worker.run "
            f"{done.seconds:.1f} s (oneshot, default concurrency, in this process)",
        ),
        Row(
            name="quality speed breakdown: CPU only (rules.extract + sketch, no database)",
            measured=cpu.total,
            unit="posts/s",
            reference="",
            ratio=None,
            target="",
            verdict="report",
            note=f"the same {count:,} texts in a loop: rules.extract alone {cpu.extract:,.0f} "
            f"posts/s, sketch alone {cpu.sketch:,.0f} posts/s; the rest of the pipeline row's "
            "time is the queue, the database, matching's statements and the worker",
        ),
    ]


def speed_texts(count: int, articles: Sequence[str]) -> list[str]:
    """`count` texts: corpus posts, with every other one an article piece when there are any."""
    texts = [post.text for post in corpus.posts(SPEED_CHANNEL.channel_id, count)]
    if articles:
        for index in range(1, count, 2):
            texts[index] = articles[(index // 2) % len(articles)]
    return texts


@dataclass(frozen=True, slots=True)
class CpuRates:
    """Posts/s of the CPU-only loop, and of each of its two calls alone."""

    total: float
    extract: float
    sketch: float


def cpu_rates(texts: Sequence[str]) -> CpuRates:
    """Posts/s of `rules.extract(text)` plus `similarity.sketch(text)` over the texts."""
    extracting = sketching = 0.0
    for text in texts:
        started = time.perf_counter()
        rules.extract(text)
        extracted = time.perf_counter()
        similarity.sketch(text)
        extracting += extracted - started
        sketching += time.perf_counter() - extracted
    count = len(texts)
    return CpuRates(count / (extracting + sketching), count / extracting, count / sketching)


def _article_pieces() -> list[str]:
    """The pair files' distinct texts, cut into pieces of at most 1,000 chars at spaces."""
    seen: dict[str, None] = {}
    for spec in PAIR_FILES:
        path = DATA / spec.file
        if path.exists():
            for pair in read_pairs(path, spec):
                seen.update(dict.fromkeys((pair.first, pair.second)))
    return [piece for text in seen for piece in cut_pieces(text, ARTICLE_CUT_CHARS)]


def cut_pieces(text: str, limit: int) -> Iterator[str]:
    """`text` in consecutive pieces of at most `limit` chars, cut at the last space."""
    rest = text.strip()
    while rest:
        if len(rest) <= limit:
            yield rest
            return
        cut = rest.rfind(" ", 0, limit + 1)
        cut = cut if cut > 0 else limit
        yield rest[:cut].strip()
        rest = rest[cut:].strip()


# -- shared ----------------------------------------------------------------------------------


def _through_pipeline(
    ctx: Context, label: str, stream: Stream
) -> tuple[dict[PostKey, int | None], dict[PostKey, str | None]]:
    """Store and extract the stream in a scratch database; each post's event and language."""
    with scratch_database(ctx.server, label) as url, pipeline.connect(url) as db:
        pipeline.store(db, VERSION, stream.channels, stream.posts)
        pipeline.extract(db, pipeline.settings(url, ctx.workdir), VERSION)
        return pipeline.events(db, VERSION), pipeline.languages(db, VERSION)


def _score(name: str, value: float, reference: str, target: float | None, note: str) -> Row:
    """A score as a percentage, held against `target` when there is one."""
    return Row(
        name=name,
        measured=100 * value,
        unit="%",
        reference=reference,
        ratio=None,
        target=f">= {target:.0%}" if target is not None else "",
        verdict=verdict(value >= target) if target is not None else "report",
        note=note,
    )


def _language_row(name: str, language: str, found: Mapping[PostKey, str | None], size: str) -> Row:
    """The share of posts whose stored language is `language`, with what else was found."""
    seen = Counter(code or "(none)" for code in found.values())
    others = ", ".join(f"{code} {n}" for code, n in seen.most_common() if code != language)
    return Row(
        name=f"{LANGUAGE} {name} ({language})",
        measured=100 * _share(found, language),
        unit="%",
        reference="",
        ratio=None,
        target="",
        verdict="report",
        note=f"{size}; others: {others or 'none'}",
    )


def _share(found: Mapping[PostKey, str | None], language: str) -> float:
    """The fraction of posts whose language is `language` (0 when there are none)."""
    return sum(1 for code in found.values() if code == language) / len(found) if found else 0.0


def _uci_dataset(quick: bool) -> str:
    """The UCI file's line for the results: its rows and how many were used."""
    path = DATA / UCI_FILE
    if not path.exists():
        return f"`{SHOWN_DATA}/{UCI_FILE}`: absent, skipped"
    total = len(read_uci(path))
    used = min(total, UCI_ROWS_QUICK) if quick else total
    return f"`{SHOWN_DATA}/{UCI_FILE}`: {total:,} rows, {used:,} used"


def _pair_dataset(spec: PairFile, quick: bool) -> str:
    """A pair file's line for the results: its pairs and how many were used."""
    path = DATA / spec.file
    if not path.exists():
        return f"`{SHOWN_DATA}/{spec.file}`: absent, skipped"
    total = len(read_pairs(path, spec))
    used = min(total, PAIRS_QUICK) if quick else total
    return f"`{SHOWN_DATA}/{spec.file}`: {total:,} pairs, {used:,} used (the speed posts take all)"


def _export_messages(path: Path) -> list[dict[str, object]]:
    """The messages of a Telegram Desktop export file."""
    messages: list[dict[str, object]] = json.loads(path.read_text(encoding="utf-8"))["messages"]
    return messages


def _message_text(message: Mapping[str, object]) -> str:
    """An export message's text: a string, or a list of strings and {text: ...} parts."""
    text = message.get("text", "")
    if isinstance(text, list):
        return "".join(
            part if isinstance(part, str) else str(part.get("text", "")) for part in text
        )
    return str(text)
