"""Events: extractions merged into stories across channels, per pipeline version.

A new extraction joins the event whose sources tell the same story within the merge
window (an equal normalised-text fingerprint, or a MinHash estimate of word-shingle
overlap above the threshold), or founds a new event. Merging for a version is serialised
by a transaction-level advisory lock, so concurrent workers never found two events for
one story; the lock is released at commit (PgBouncer-safe).
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Sequence
from dataclasses import dataclass, field, replace
from datetime import datetime, timedelta

from civicquant import similarity
from civicquant.db import Database
from civicquant.extraction import Extraction

MERGE_WINDOW = timedelta(hours=6)
# LSH over the 64-value MinHash signature: 21 bands of 3 rows. Two posts become candidates
# when any band is equal: at Jaccard 0.5 (the same-story threshold) that happens with
# probability 1-(1-0.5^3)^21 = 94%, at 0.7 with 99.9%, and for unrelated posts (J ~ 0.05)
# with 0.3%, so a post is compared with a handful of sources instead of every recent one.
BAND_ROWS = 3
BANDS = 21


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
    keys = []
    for band in range(min(BANDS, len(signature) // BAND_ROWS)):
        rows = signature[band * BAND_ROWS : (band + 1) * BAND_ROWS]
        digest = hashlib.blake2b(
            repr((band, rows)).encode("ascii"), digest_size=8, person=b"cq-lsh-band"
        ).digest()
        keys.append(int.from_bytes(digest, "big", signed=True))
    return keys


@dataclass(frozen=True, slots=True)
class _Source:
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
            "entities": [
                json.dumps([e.model_dump() for e in p.extraction.entities], ensure_ascii=False)
                for p in posts
            ],
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
    db.execute("lock_events", {"pipeline_version": pipeline_version})
    mergeable = sorted(
        (p for p in posts if p.extraction.headline.strip()),
        key=lambda p: (p.posted_at, p.raw_message_id),
    )
    if mergeable:
        sketches = [similarity.sketch(post.text) for post in mergeable]
        post_bands = [bands(sketch.signature) for sketch in sketches]
        sources = _Candidates(
            _recent_sources(db, mergeable, sketches, post_bands, pipeline_version)
        )
        # New events get provisional negative ids while matching, so later posts in the
        # batch can join them; real ids are reserved and the events created in one go.
        founders: list[tuple[int, ExtractedPost]] = []
        attached: list[tuple[ExtractedPost, _Source]] = []
        for post, sketch, keys in zip(mergeable, sketches, post_bands, strict=True):
            fingerprint, signature = sketch.fingerprint, sketch.signature
            # Nothing left after normalising (emoji, a bare link): match nothing by it.
            nearby = [] if sketch.empty else sources.near(fingerprint, keys)
            event_id = _best_match(nearby, post.posted_at, fingerprint, signature)
            if event_id is None:
                event_id = -(len(founders) + 1)
                founders.append((event_id, post))
            source = _Source(
                event_id,
                post.posted_at,
                fingerprint,
                signature,
                () if sketch.empty else tuple(keys),
            )
            sources.add(source)
            attached.append((post, source))
        real = _create_events(db, founders, pipeline_version)
        attached = [
            (post, replace(source, event_id=real.get(source.event_id, source.event_id)))
            for post, source in attached
        ]
        result.created = sorted(real.values())
        result.joined = sorted({s.event_id for _, s in attached} - set(result.created))
    left = _detach(db, posts, pipeline_version)
    if mergeable:
        _attach(db, pipeline_version, attached)
    touched = sorted({*result.created, *result.joined, *left})
    if touched:
        db.execute("refresh_events", {"event_ids": touched})
    if left:
        db.execute("delete_empty_events", {"event_ids": sorted(left)})
    return result


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


def _create_events(
    db: Database, founders: Sequence[tuple[int, ExtractedPost]], pipeline_version: str
) -> dict[int, int]:
    """Create the batch's new events; returns {provisional id: real id}."""
    if not founders:
        return {}
    ids = [int(row["id"]) for row in db.fetch_all("reserve_event_ids", {"count": len(founders)})]
    db.execute(
        "create_events",
        {
            "pipeline_version": pipeline_version,
            "ids": ids,
            "topics": [post.extraction.topic for _, post in founders],
            "posted_at": [post.posted_at for _, post in founders],
        },
    )
    return {provisional: real for (provisional, _), real in zip(founders, ids, strict=True)}


def _recent_sources(
    db: Database,
    posts: Sequence[ExtractedPost],
    sketches: Sequence[similarity.Sketch],
    post_bands: Sequence[Sequence[int]],
    pipeline_version: str,
) -> list[_Source]:
    rows = db.fetch_all(
        "candidate_sources",
        {
            "pipeline_version": pipeline_version,
            "window_start": posts[0].posted_at - MERGE_WINDOW,
            "window_end": posts[-1].posted_at + MERGE_WINDOW,
            "fingerprints": sorted({s.fingerprint for s in sketches if not s.empty}),
            "bands": sorted(
                {
                    band
                    for s, keys in zip(sketches, post_bands, strict=True)
                    if not s.empty
                    for band in keys
                }
            ),
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
    db: Database, pipeline_version: str, attached: Sequence[tuple[ExtractedPost, _Source]]
) -> None:
    db.execute(
        "attach_sources",
        {
            "pipeline_version": pipeline_version,
            "raw_message_ids": [p.raw_message_id for p, _ in attached],
            "event_ids": [s.event_id for _, s in attached],
            "channel_ids": [p.channel_id for p, _ in attached],
            "message_ids": [p.message_id for p, _ in attached],
            "posted_at": [p.posted_at for p, _ in attached],
            "fingerprints": [s.fingerprint for _, s in attached],
            "signatures": [",".join(map(str, s.signature)) for _, s in attached],
            "bands": [",".join(map(str, s.bands)) for _, s in attached],
        },
    )
