"""Events: extractions merged into stories across channels, per pipeline version.

A new extraction joins an event in two stages, or founds a new one:

1. Reposts and light edits: a source of the event within MERGE_WINDOW has an equal
   normalised-text fingerprint, or a MinHash estimate of word-shingle overlap above
   similarity.SAME_STORY_THRESHOLD (civicquant.events.similarity).
2. Paraphrases: the post's content terms (civicquant.events.terms: stemmed, weighted by
   rarity, names weighing more) are close to the event's centroid, the sum of its sources'
   terms: cosine >= JOIN_SIMILARITY, the event in the post's language, and no
   contradiction between their headlines (civicquant.events.contradiction: opposite
   directions, different figures). Candidates are the events with a
   source within MERGE_WINDOW that shares one of the post's strongest terms.

When a post is close to two events whose centroids are close to each other too
(MERGE_SIMILARITY), the two are one story: the younger merges into the older (its sources
move and it records `merged_into`). An event never spans more than MAX_EVENT_SPAN, so a
week-long thread does not chain into one event. A channel's own follow-up ("UPDATE: ...")
joins its story at FOLLOW_UP_SIMILARITY.

Merging for a version is serialised by a transaction-level advisory lock, so concurrent
workers never found two events for one story or merge the same events twice; the lock is
released at commit (PgBouncer-safe). Everything that depends only on the batch (sketches,
terms, LSH bands) is computed before the lock is taken, so the serial part is the
statements that read and write events and the matching itself.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from functools import lru_cache

import numpy as np
from pydantic import TypeAdapter

from civicquant.db import Database, Row
from civicquant.events import contradiction, importance, similarity, terms
from civicquant.extraction import Entity, Extraction

MERGE_WINDOW = timedelta(hours=6)
# The thresholds of the paraphrase stage, chosen on uci_stories_dev.csv as a stream (each
# publisher a channel) for the best B-cubed F1 with pairwise precision >= 0.90, then checked
# on the tgcontest and nyan pair files (bench/RESULTS.md, quality, has the sweep). Join 0.20
# to 0.25 and merge 0.30 sit on a plateau (B-cubed F1 0.81-0.83); lower merge thresholds
# chain stories (merge 0.20: pairwise precision 0.88).
JOIN_SIMILARITY = 0.25
MERGE_SIMILARITY = 0.30
# A channel's own follow-up needs half the evidence: it is its author saying "more on this".
# Not measured (the dev files label no follow-ups); tests/integration/test_story_matching.py
# pins a follow-up that joins at it and the same line from another channel that does not.
FOLLOW_UP_SIMILARITY = JOIN_SIMILARITY / 2
# No event spans more than this from its first post to its last: 24 h and 48 h gave the same
# figures on the UCI stream (36 h of news), and a digest reader's day is the longer bound.
MAX_EVENT_SPAN = timedelta(hours=24)
# A post is scored against at most this many candidate events, those sharing most of its
# strongest terms first: template-heavy channels (market snapshots) offer hundreds.
MAX_CANDIDATES = 30
# LSH over the 64-value MinHash signature: 21 bands of 3 rows. Two posts become candidates
# when any band is equal: at Jaccard 0.5 (the same-story threshold) that happens with
# probability 1-(1-0.5^3)^21 = 94%, at 0.7 with 99.9%, and for unrelated posts (J ~ 0.05)
# with 0.3%, so a post is compared with a handful of sources instead of every recent one.
BAND_ROWS = 3
BANDS = 21

_BAND_SEED = np.uint64(0x9E3779B97F4A7C15)
_BAND_STEP = np.uint64(0xD6E8FEB86659FD93)

# Serialises a post's entities in one call (jsonb stores them the same however spaced).
_ENTITIES_JSON = TypeAdapter(list[Entity])


@dataclass(frozen=True, slots=True)
class ExtractedPost:
    """One post's extraction with what merging needs to know about the post."""

    raw_message_id: int
    channel_id: int
    message_id: int
    posted_at: datetime
    text: str
    content_sha256: str
    extraction: Extraction
    provider: str
    model: str
    prompt_fingerprint: str
    latency_ms: float | None = None
    prompt_tokens: int | None = None
    completion_tokens: int | None = None
    # The LLM path's reuse of extractions (sql/0009_extraction_reuse.sql): the post's
    # normalised-text fingerprint, and the extraction copied instead of a provider call.
    text_fingerprint: str | None = None
    reused_from: int | None = None


@dataclass
class MergeResult:
    """Which events a batch touched."""

    created: list[int] = field(default_factory=list)
    joined: list[int] = field(default_factory=list)
    merged: list[int] = field(default_factory=list)  # stored events merged into others

    @property
    def touched(self) -> list[int]:
        return sorted({*self.created, *self.joined})


def bands(signature: tuple[int, ...]) -> list[int]:
    """The LSH band keys of a signature, as signed 64-bit ints (a bigint[] column).

    Band i of BAND_ROWS slots is mix64 folded over i and its slots: equal bands give equal
    keys, and one numpy expression computes them all (a BLAKE2b per band took 90 µs a post).
    """
    count = min(BANDS, len(signature) // BAND_ROWS)
    if not count:
        return []
    rows = np.array(signature[: count * BAND_ROWS], dtype=np.int64).view(np.uint64)
    rows = rows.reshape(count, BAND_ROWS)
    combined = np.arange(count, dtype=np.uint64) * _BAND_SEED
    for column in range(BAND_ROWS):
        combined = similarity.mix64(combined ^ rows[:, column]) + _BAND_STEP
    keys: list[int] = similarity.mix64(combined).view(np.int64).tolist()
    return keys


def _decimal(values: tuple[int, ...]) -> list[str]:
    """The values as decimal text, converted in one repr of the tuple rather than one by one."""
    if len(values) < 2:
        return [str(value) for value in values]
    return repr(values)[1:-1].split(", ")


@dataclass(frozen=True, slots=True)
class _Incoming:
    """A post to merge, with its sketch, LSH bands and content terms, and their stored form."""

    post: ExtractedPost
    sketch: similarity.Sketch
    bands: tuple[int, ...]
    signature_text: str  # comma-separated, as attach_sources takes them
    bands_text: str
    terms: terms.Terms
    index_terms: tuple[int, ...]  # its strongest terms: what finds it and what it finds
    language: str
    headline: contradiction.Headline  # what the guard reads of it
    headline_score: float  # how informative its headline is: the weight of its terms
    follow_up: bool  # opens with "UPDATE:" and the like
    norm: float  # the length of its term vector


@dataclass(frozen=True, slots=True)
class _Source:
    """A post already in an event (or in one of this batch's new events, id < 0).

    `bands` are the keys it is found by: all of its own for a post of this batch, only the
    ones it shares with the batch for a stored source (the others cannot match).
    """

    event_id: int
    posted_at: datetime
    fingerprint: str
    signature: tuple[int, ...]
    bands: tuple[int, ...]


@dataclass
class _Event:
    """An event as the paraphrase stage sees it while a batch is matched."""

    id: int  # stored (> 0) or one of this batch's new events (< 0)
    language: str
    first_seen_at: datetime
    last_seen_at: datetime
    centroid: dict[int, float]
    headline_score: float
    channels: set[int]
    # Its lead's headline as the guard reads it; for a stored event read from `lead` only
    # when a post scores high enough to need the guard (most candidates never do).
    _headline: contradiction.Headline | None = None
    lead: str = ""
    changed: bool = False  # its centroid must be written back
    _norm: float | None = None  # the centroid's length, while it is unchanged

    @property
    def headline(self) -> contradiction.Headline:
        if self._headline is None:
            self._headline = _lead_reading(self.lead)
        return self._headline

    @headline.setter
    def headline(self, reading: contradiction.Headline) -> None:
        self._headline = reading

    @property
    def norm(self) -> float:
        if self._norm is None:
            self._norm = terms.norm(self.centroid)
        return self._norm

    @property
    def order(self) -> int:
        """Stored events by id (creation order), then this batch's new ones."""
        return self.id if self.id > 0 else (1 << 62) - self.id

    def within_span(self, moment: datetime) -> bool:
        """Whether a post at `moment` may join: near a source, inside the bounded span."""
        return (
            self.first_seen_at - MERGE_WINDOW <= moment <= self.last_seen_at + MERGE_WINDOW
            and moment - self.first_seen_at <= MAX_EVENT_SPAN
            and self.last_seen_at - moment <= MAX_EVENT_SPAN
        )

    def absorb(self, item: _Incoming) -> None:
        """Add a post to the event: its terms, its time, its channel, maybe its headline."""
        terms.add(self.centroid, item.terms.weights)
        self.first_seen_at = min(self.first_seen_at, item.post.posted_at)
        self.last_seen_at = max(self.last_seen_at, item.post.posted_at)
        self.channels.add(item.post.channel_id)
        if item.headline_score > self.headline_score:
            self.headline = item.headline
            self.headline_score = item.headline_score
        self.changed = True
        self._norm = None


class _Candidates:
    """Sources a post may join, looked up by fingerprint and by LSH band.

    Only the sources sharing the post's fingerprint or one of its bands are compared with
    it, so the cost per post follows the handful of likely matches, not the window.
    """

    def __init__(self, sources: Sequence[_Source]) -> None:
        self._by_fingerprint: dict[str, list[_Source]] = {}
        self._by_band: dict[int, list[_Source]] = {}
        for source in sources:
            self.add(source)

    def add(self, source: _Source) -> None:
        self._by_fingerprint.setdefault(source.fingerprint, []).append(source)
        for band in source.bands:
            self._by_band.setdefault(band, []).append(source)

    def event_ids(self) -> set[int]:
        """The stored events these sources belong to."""
        return {
            source.event_id
            for found in self._by_fingerprint.values()
            for source in found
            if source.event_id > 0
        }

    def near(self, fingerprint: str, post_bands: Sequence[int]) -> list[_Source]:
        seen: dict[int, _Source] = {}
        for source in self._by_fingerprint.get(fingerprint, ()):
            seen[id(source)] = source
        for band in post_bands:
            for source in self._by_band.get(band, ()):
                seen[id(source)] = source
        return list(seen.values())


@lru_cache(maxsize=8192)
def _lead_reading(headline: str) -> contradiction.Headline:
    """The guard's reading of a stored event's headline: the same events are candidates
    batch after batch, so their readings are kept rather than normalised each time."""
    return contradiction.read_headline(similarity.normalise(headline))


def store_extractions(db: Database, posts: Sequence[ExtractedPost], pipeline_version: str) -> None:
    """Upsert the extractions of a batch (inside the caller's transaction)."""
    if not posts:
        return
    db.execute(
        "upsert_extraction",
        {
            "raw_message_id": [p.raw_message_id for p in posts],
            "pipeline_version": [pipeline_version] * len(posts),
            "content_sha256": [p.content_sha256 for p in posts],
            "topic": [p.extraction.topic for p in posts],
            "headline": [p.extraction.headline for p in posts],
            "summary": [p.extraction.summary for p in posts],
            "entities": [_ENTITIES_JSON.dump_json(p.extraction.entities).decode() for p in posts],
            "is_breaking": [p.extraction.is_breaking for p in posts],
            "breaking_window": [p.extraction.breaking_window for p in posts],
            "importance": [p.extraction.importance for p in posts],
            "language": [p.extraction.language for p in posts],
            "provider": [p.provider for p in posts],
            "model": [p.model for p in posts],
            "prompt_fingerprint": [p.prompt_fingerprint for p in posts],
            "latency_ms": [p.latency_ms for p in posts],
            "prompt_tokens": [p.prompt_tokens for p in posts],
            "completion_tokens": [p.completion_tokens for p in posts],
            "text_fingerprint": [p.text_fingerprint for p in posts],
            "reused_from": [p.reused_from for p in posts],
        },
        binary=True,  # quoting headlines and summaries as array text costs more than the insert
    )


def merge(db: Database, posts: Sequence[ExtractedPost], pipeline_version: str) -> MergeResult:
    """Put each post into an event (inside the caller's transaction, whose lock it takes).

    Posts with an empty headline (nothing newsworthy was read) join no event. A post that
    already belongs to an event (re-extracted: a reparse, or after an edit) is matched
    while its old source still stands, so an unchanged or lightly edited post stays in its
    event (which keeps its id, and is not alerted twice) and an edit that changes the
    story moves it. Then its old source row is replaced.
    """
    result = MergeResult()
    # Sketches and terms are most of the CPU time of merging and depend only on the posts:
    # made before the lock, concurrent workers make them in parallel and hold the lock for
    # the statements and the matching, which needs what the statements read.
    incoming = _sketched(posts)
    db.execute("lock_events", {"pipeline_version": pipeline_version})
    matching = _Matching(db, incoming, pipeline_version)
    attached = [(item, matching.place(item)) for item in incoming]
    left = _detach(db, posts, pipeline_version)
    merged = matching.stored_merges()
    if merged:
        db.execute(
            "merge_events",
            {"merged_ids": list(merged), "survivor_ids": [merged[key] for key in merged]},
        )
        result.merged = sorted(merged)
    if attached:
        resolved = [(item, matching.resolve(event_id)) for item, event_id in attached]
        founders = sorted({event_id for _, event_id in resolved if event_id < 0}, reverse=True)
        renumber = {old: -number for number, old in enumerate(founders, start=1)}
        final = [(item, renumber.get(event_id, event_id)) for item, event_id in resolved]
        founding = [next(item for item, e in resolved if e == old) for old in founders]
        created = _attach(db, pipeline_version, final, founding)
        result.created = created
        result.joined = sorted({event_id for _, event_id in final if event_id > 0})
        matching.store_centroids(dict(zip(founders, created, strict=True)))
    touched = sorted({*result.created, *result.joined, *left} - set(merged))
    if touched:
        # Importance too: a source joining (or leaving) recomputes it in this transaction.
        db.execute("refresh_events", {"event_ids": touched, **importance.refresh_parameters()})
    if left:
        db.execute("delete_empty_events", {"event_ids": sorted(left)})
    return result


def _sketched(posts: Sequence[ExtractedPost]) -> list[_Incoming]:
    """The posts to merge (those with a headline), oldest first, with sketches and terms."""
    mergeable = sorted(
        (p for p in posts if p.extraction.headline.strip()),
        key=lambda p: (p.posted_at, p.raw_message_id),
    )
    incoming: list[_Incoming] = []
    for post in mergeable:
        sketch = similarity.sketch(post.text)
        slots = _decimal(sketch.signature)
        keys = () if sketch.empty else tuple(bands(sketch.signature))
        language = post.extraction.language
        post_terms = terms.content_terms(sketch.normalised, post.text, language)
        headline = similarity.normalise(post.extraction.headline)
        weights = post_terms.weights
        incoming.append(
            _Incoming(
                post,
                sketch,
                keys,
                signature_text=",".join(slots),
                bands_text=",".join(map(str, keys)),
                terms=post_terms,
                index_terms=tuple(post_terms.strongest()),
                language=language,
                headline=contradiction.read_headline(headline),
                headline_score=round(
                    terms.text_weight(headline, post.extraction.headline, language), 3
                ),
                follow_up=contradiction.is_update(sketch.normalised),
                norm=terms.norm(weights),
            )
        )
    return incoming


class _Matching:
    """One batch's matching: candidates read once, then each post placed in turn.

    Events founded by the batch get provisional negative ids (-1, -2, ...), so later posts
    of the batch can join them; merges are kept as redirections and resolved at the end.
    """

    def __init__(self, db: Database, incoming: Sequence[_Incoming], pipeline_version: str) -> None:
        self._db = db
        self._version = pipeline_version
        self._sources = _Candidates(_recent_sources(db, incoming, pipeline_version))
        self._events: dict[int, _Event] = {}
        self._by_term: dict[int, set[int]] = {}
        self._redirect: dict[int, int] = {}
        self._founded = 0
        self._absorbed: int | None = None  # the event the paraphrase stage added the post to
        self._load_candidates(incoming)

    # -- reading ----------------------------------------------------------------------

    def _load_candidates(self, incoming: Sequence[_Incoming]) -> None:
        """The stored events the batch may join: by a shared term, or by a shared band."""
        wanted = sorted({key for item in incoming for key in item.index_terms})
        hits = (
            self._db.fetch_all(
                "candidate_events",
                {
                    "pipeline_version": self._version,
                    "window_start": incoming[0].post.posted_at - MERGE_WINDOW,
                    "window_end": incoming[-1].post.posted_at + MERGE_WINDOW,
                    "terms": ",".join(map(str, wanted)),
                },
            )
            if wanted
            else []
        )
        for row in hits:
            for key in row["terms"]:
                self._by_term.setdefault(int(key), set()).add(int(row["id"]))
            self._add_event(row)
        missing = sorted(self._sources.event_ids() - self._events.keys())
        if missing:
            for row in self._db.fetch_all("events_for_matching", {"event_ids": missing}):
                self._add_event(row)

    def _add_event(self, row: Row) -> None:
        """A stored candidate event, as the rows of candidate_events give it."""
        self._events[int(row["id"])] = _Event(
            id=int(row["id"]),
            language=str(row["language"]),
            first_seen_at=row["first_seen_at"],
            last_seen_at=row["last_seen_at"],
            centroid=dict(zip(row["centroid_terms"], row["centroid_weights"], strict=True)),
            lead=str(row["headline"]),
            headline_score=0.0,
            # The channels of its sources in the window (enough to know a follow-up).
            channels=set(row["channel_ids"]),
        )

    # -- placing ----------------------------------------------------------------------

    def place(self, item: _Incoming) -> int:
        """The event the post joins (perhaps a new one), merging events it shows are one."""
        post, sketch = item.post, item.sketch
        # Nothing left after normalising (emoji, a bare link): match nothing by it.
        nearby = [] if sketch.empty else self._sources.near(sketch.fingerprint, item.bands)
        found = _best_match(nearby, post.posted_at, sketch.fingerprint, sketch.signature)
        event_id = self.resolve(found) if found is not None else None
        if event_id in self._events and not self._events[event_id].within_span(post.posted_at):
            event_id = None  # a repost, but of a story older than an event may span
        if event_id is None or event_id not in self._events:
            paraphrase = self._paraphrase(item)
            event_id = paraphrase if paraphrase is not None else event_id
        if event_id is None:
            self._founded += 1
            event_id = -self._founded
            self._events[event_id] = _Event(
                id=event_id,
                language=item.language,
                first_seen_at=post.posted_at,
                last_seen_at=post.posted_at,
                centroid={},
                _headline=item.headline,
                headline_score=item.headline_score,
                channels=set(),
            )
        event = self._events.get(event_id)
        if event is not None and self._absorbed != event_id:
            event.absorb(item)
        self._absorbed = None
        for key in item.index_terms:
            self._by_term.setdefault(key, set()).add(event_id)
        self._sources.add(
            _Source(event_id, post.posted_at, sketch.fingerprint, sketch.signature, item.bands)
        )
        return event_id

    def _paraphrase(self, item: _Incoming) -> int | None:
        """The event whose centroid the post's terms are close to; merges what it bridges."""
        if item.terms.empty:
            return None
        scored: list[tuple[float, _Event]] = []
        for event_id in self._candidates(item):
            event = self._events.get(event_id)
            if event is None or not self._may_join(item, event):
                continue
            score = terms.cosine_with_norms(
                item.terms.weights, item.norm, event.centroid, event.norm
            )
            threshold = (
                FOLLOW_UP_SIMILARITY
                if item.follow_up and item.post.channel_id in event.channels
                else JOIN_SIMILARITY
            )
            if score < threshold or contradiction.contradicts(item.headline, event.headline):
                continue
            scored.append((score, event))
        if not scored:
            return None
        # Highest score wins; among equals, the oldest event, for determinism.
        scored.sort(key=lambda pair: (-pair[0], pair[1].order))
        best = scored[0][1]
        # The post joins first, so the events are compared as it shows them: bridged by it.
        # (On the UCI stream, comparing them before it joins: B-cubed F1 0.805, after: 0.817.)
        best.absorb(item)
        for score, other in scored[1:]:
            if score >= JOIN_SIMILARITY and self._same_story(best, other):
                best = self._merge(best, other)
        self._absorbed = best.id
        return best.id

    def _candidates(self, item: _Incoming) -> list[int]:
        """The events sharing the post's strongest terms, those sharing most first, capped."""
        shared: dict[int, int] = {}
        for key in item.index_terms:
            for found in self._by_term.get(key, ()):
                event_id = self.resolve(found)
                shared[event_id] = shared.get(event_id, 0) + 1
        ranked = sorted(shared, key=lambda event_id: (-shared[event_id], event_id))
        return ranked[:MAX_CANDIDATES]

    def _may_join(self, item: _Incoming, event: _Event) -> bool:
        return (
            bool(event.language)
            and event.language == item.language
            and event.within_span(item.post.posted_at)
        )

    def _same_story(self, a: _Event, b: _Event) -> bool:
        """Whether two events the post is close to are one story, within one bounded span."""
        first = min(a.first_seen_at, b.first_seen_at)
        last = max(a.last_seen_at, b.last_seen_at)
        if last - first > MAX_EVENT_SPAN:
            return False
        closeness = terms.cosine_with_norms(a.centroid, a.norm, b.centroid, b.norm)
        return closeness >= MERGE_SIMILARITY and not contradiction.contradicts(
            a.headline, b.headline
        )

    def _merge(self, a: _Event, b: _Event) -> _Event:
        """Merge the younger event into the older; returns the one that remains."""
        survivor, merged = (a, b) if a.order <= b.order else (b, a)
        terms.add(survivor.centroid, merged.centroid)
        survivor.first_seen_at = min(survivor.first_seen_at, merged.first_seen_at)
        survivor.last_seen_at = max(survivor.last_seen_at, merged.last_seen_at)
        survivor.channels |= merged.channels
        if merged.headline_score > survivor.headline_score:
            survivor.headline = merged.headline
            survivor.headline_score = merged.headline_score
        survivor.changed = True
        survivor._norm = None
        self._redirect[merged.id] = survivor.id
        del self._events[merged.id]
        return survivor

    def resolve(self, event_id: int) -> int:
        """The event `event_id` is now part of (itself unless it was merged)."""
        while event_id in self._redirect:
            event_id = self._redirect[event_id]
        return event_id

    # -- writing ----------------------------------------------------------------------

    def stored_merges(self) -> dict[int, int]:
        """Stored events merged by this batch -> the stored event they were merged into.

        A stored event always survives a merge with a new one (it is older), so the target
        of a stored event is stored too.
        """
        return {merged: self.resolve(merged) for merged in sorted(self._redirect) if merged > 0}

    def store_centroids(self, created: dict[int, int]) -> None:
        """Write back the centroids that changed; `created` maps provisional ids to new ones."""
        rows = [
            (created.get(event.id, event.id), event)
            for event in self._events.values()
            if event.changed and created.get(event.id, event.id) > 0
        ]
        if not rows:
            return
        kept = [terms.strongest(event.centroid) for _, event in rows]
        self._db.execute(
            "store_centroids",
            {
                "event_ids": [event_id for event_id, _ in rows],
                "languages": [event.language for _, event in rows],
                "terms": [",".join(map(str, centroid)) for centroid in kept],
                "weights": [",".join(f"{w:.3f}" for w in centroid.values()) for centroid in kept],
            },
        )


def _detach(db: Database, posts: Sequence[ExtractedPost], pipeline_version: str) -> set[int]:
    """Remove the posts' current sources; returns the events they were in."""
    rows = db.fetch_all(
        "detach_sources",
        {
            "pipeline_version": pipeline_version,
            "raw_message_ids": [p.raw_message_id for p in posts],
        },
    )
    return {int(row["event_id"]) for row in rows}


def _recent_sources(
    db: Database, incoming: Sequence[_Incoming], pipeline_version: str
) -> list[_Source]:
    """Stored sources within the window of the batch that share an LSH band with it."""
    if not any(item.bands for item in incoming):
        return []  # only empty sketches: they match nothing
    rows = db.fetch_all(
        "candidate_sources",
        {
            "pipeline_version": pipeline_version,
            "window_start": incoming[0].post.posted_at - MERGE_WINDOW,
            "window_end": incoming[-1].post.posted_at + MERGE_WINDOW,
            # The stored form, joined: some 2,000 bands as one string, which the server
            # splits (adapting them as a list of ints took milliseconds per batch).
            "bands": ",".join(item.bands_text for item in incoming if item.bands),
        },
    )
    return [
        _Source(
            int(r["event_id"]),
            r["posted_at"],
            r["fingerprint"],
            tuple(r["signature"]),
            tuple(r["bands"]),
        )
        for r in rows
    ]


def _best_match(
    sources: Sequence[_Source], posted_at: datetime, fingerprint: str, signature: tuple[int, ...]
) -> int | None:
    """The event of the most similar source within the window; exact fingerprints win."""
    best: tuple[float, int, int] | None = None
    for source in sources:
        if abs(source.posted_at - posted_at) > MERGE_WINDOW:
            continue
        if source.fingerprint == fingerprint:
            score = 2.0  # an exact repost beats any estimate
        else:
            score = similarity.estimate_jaccard(source.signature, signature)
            if score < similarity.SAME_STORY_THRESHOLD:
                continue
        # Highest score wins; among equals, the oldest event for determinism (stored events
        # have positive ids in creation order, this batch's new ones negative ids after them).
        order = source.event_id if source.event_id > 0 else (1 << 62) - source.event_id
        if best is None or (score, -order) > (best[0], -best[2]):
            best = (score, source.event_id, order)
    return best[1] if best else None


def _attach(
    db: Database,
    pipeline_version: str,
    attached: Sequence[tuple[_Incoming, int]],
    founders: Sequence[_Incoming],
) -> list[int]:
    """Create the new events and add the posts to their events; returns the new events' ids."""
    rows = db.fetch_all(
        "attach_sources",
        {
            "pipeline_version": pipeline_version,
            "founder_ids": [-number for number in range(1, len(founders) + 1)],
            "founder_topics": [item.post.extraction.topic for item in founders],
            "founder_posted_at": [item.post.posted_at for item in founders],
            "raw_message_ids": [item.post.raw_message_id for item, _ in attached],
            "event_ids": [event_id for _, event_id in attached],
            "channel_ids": [item.post.channel_id for item, _ in attached],
            "message_ids": [item.post.message_id for item, _ in attached],
            "posted_at": [item.post.posted_at for item, _ in attached],
            "fingerprints": [item.sketch.fingerprint for item, _ in attached],
            "signatures": [item.signature_text for item, _ in attached],
            "bands": [item.bands_text for item, _ in attached],
            "terms": [",".join(map(str, item.index_terms)) for item, _ in attached],
            "headline_scores": [item.headline_score for item, _ in attached],
        },
        binary=True,
    )
    return sorted(int(row["id"]) for row in rows)
