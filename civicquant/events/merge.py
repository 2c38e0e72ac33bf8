"""Events: extractions merged into stories across channels, per pipeline version.

A new extraction joins the event whose sources tell the same story within the merge
window (an equal normalised-text fingerprint, or a MinHash estimate of word-shingle
overlap above the threshold), or founds a new event. Merging for a version is serialised
by a transaction-level advisory lock, so concurrent workers never found two events for
one story; the lock is released at commit (PgBouncer-safe). Everything that depends only
on the batch (sketches, LSH bands) is computed before the lock is taken, so the serial
part is the statements that read and write events.
"""

from __future__ import annotations

import hashlib
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from pydantic import TypeAdapter

from civicquant.db import Database
from civicquant.events import similarity
from civicquant.extraction import Entity, Extraction

MERGE_WINDOW = timedelta(hours=6)
# LSH over the 64-value MinHash signature: 21 bands of 3 rows. Two posts become candidates
# when any band is equal: at Jaccard 0.5 (the same-story threshold) that happens with
# probability 1-(1-0.5^3)^21 = 94%, at 0.7 with 99.9%, and for unrelated posts (J ~ 0.05)
# with 0.3%, so a post is compared with a handful of sources instead of every recent one.
BAND_ROWS = 3
BANDS = 21

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


@dataclass
class MergeResult:
    """Which events a batch touched."""

    created: list[int] = field(default_factory=list)
    joined: list[int] = field(default_factory=list)

    @property
    def touched(self) -> list[int]:
        return sorted({*self.created, *self.joined})


def bands(signature: tuple[int, ...]) -> list[int]:
    """The LSH band keys of a signature, as signed 64-bit ints (a bigint[] column)."""
    return _band_keys(_decimal(signature))


def _band_keys(slots: Sequence[str]) -> list[int]:
    """The band keys of a signature given as decimal text (see `_decimal`)."""
    keys = []
    for band in range(min(BANDS, len(slots) // BAND_ROWS)):
        rows = ", ".join(slots[band * BAND_ROWS : (band + 1) * BAND_ROWS])
        # The text of repr((band, rows)) (BAND_ROWS > 1), which is what stored keys hash.
        digest = hashlib.blake2b(
            f"({band}, ({rows}))".encode("ascii"), digest_size=8, person=b"cq-lsh-band"
        ).digest()
        keys.append(int.from_bytes(digest, "big", signed=True))
    return keys


def _decimal(values: tuple[int, ...]) -> list[str]:
    """The values as decimal text, converted in one repr of the tuple rather than one by one."""
    if len(values) < 2:
        return [str(value) for value in values]
    return repr(values)[1:-1].split(", ")


@dataclass(frozen=True, slots=True)
class _Incoming:
    """A post to merge, with its sketch, its LSH bands (none if empty) and their stored form."""

    post: ExtractedPost
    sketch: similarity.Sketch
    bands: tuple[int, ...]
    signature_text: str  # comma-separated, as attach_sources takes them
    bands_text: str


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

    def near(self, fingerprint: str, post_bands: Sequence[int]) -> list[_Source]:
        seen: dict[int, _Source] = {}
        for source in self._by_fingerprint.get(fingerprint, ()):
            seen[id(source)] = source
        for band in post_bands:
            for source in self._by_band.get(band, ()):
                seen[id(source)] = source
        return list(seen.values())


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
    # Sketches are most of the CPU time of merging and depend only on the posts: made
    # before the lock, concurrent workers make them in parallel and hold the lock for the
    # statements and the matching, which needs what the statements read.
    incoming = _sketched(posts)
    db.execute("lock_events", {"pipeline_version": pipeline_version})
    # New events get provisional negative ids while matching, so later posts in the batch
    # can join them; attach_sources creates them under real ids.
    founders: list[_Incoming] = []
    attached: list[tuple[_Incoming, int]] = []
    if incoming:
        sources = _Candidates(_recent_sources(db, incoming, pipeline_version))
        for item in incoming:
            post, sketch = item.post, item.sketch
            # Nothing left after normalising (emoji, a bare link): match nothing by it.
            nearby = [] if sketch.empty else sources.near(sketch.fingerprint, item.bands)
            event_id = _best_match(nearby, post.posted_at, sketch.fingerprint, sketch.signature)
            if event_id is None:
                founders.append(item)
                event_id = -len(founders)
            sources.add(
                _Source(event_id, post.posted_at, sketch.fingerprint, sketch.signature, item.bands)
            )
            attached.append((item, event_id))
    left = _detach(db, posts, pipeline_version)
    if attached:
        result.created = _attach(db, pipeline_version, attached, founders)
        result.joined = sorted({event_id for _, event_id in attached if event_id > 0})
    touched = sorted({*result.created, *result.joined, *left})
    if touched:
        db.execute("refresh_events", {"event_ids": touched})
    if left:
        db.execute("delete_empty_events", {"event_ids": sorted(left)})
    return result


def _sketched(posts: Sequence[ExtractedPost]) -> list[_Incoming]:
    """The posts to merge (those with a headline), oldest first, with sketches and bands."""
    mergeable = sorted(
        (p for p in posts if p.extraction.headline.strip()),
        key=lambda p: (p.posted_at, p.raw_message_id),
    )
    incoming: list[_Incoming] = []
    for post in mergeable:
        sketch = similarity.sketch(post.text)
        slots = _decimal(sketch.signature)
        keys = () if sketch.empty else tuple(_band_keys(slots))
        incoming.append(
            _Incoming(
                post,
                sketch,
                keys,
                signature_text=",".join(slots),
                bands_text=",".join(map(str, keys)),
            )
        )
    return incoming


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
        },
        binary=True,
    )
    return sorted(int(row["id"]) for row in rows)
