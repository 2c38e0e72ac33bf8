"""Comparison of two pipeline versions run on the same raw posts: coverage, agreement, cost.

A reparse (`enqueue --pipeline-version B`, then `extract --pipeline-version B
--no-side-effects`) leaves two extractions per post. This module reads both in one window
of posting times (and channels) and says how far they agree: per field, as a topic
confusion table, and post by post for the ones that differ most. The aggregation happens
in SQL (`sql/queries/compare.sql`); only bounded results come back (a handful of rows, the
confusion cells, and the side-by-side list, which is LIMITed in the query).
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from civicquant.db import Database, Row
from civicquant.errors import UsageError
from civicquant.extraction import TOPICS
from civicquant.textual import aligned

DEFAULT_TOP = 10


@dataclass(frozen=True, slots=True)
class VersionSummary:
    """What one version did in the window: who extracted, at what cost, what failed."""

    pipeline_version: str
    extractions: int
    providers: tuple[str, ...]
    models: tuple[str, ...]
    prompt_fingerprints: tuple[str, ...]
    mean_latency_ms: float | None
    prompt_tokens: int | None  # None: the provider reported no token counts
    completion_tokens: int | None
    # Extractions copied from a repost's earlier extraction: provider calls not made.
    calls_saved: int
    failed_jobs: int  # status failed: waiting for a retry
    dead_jobs: int  # status dead: out of attempts


@dataclass(frozen=True, slots=True)
class Coverage:
    """Posts in the window with an extraction from both versions, or from only one."""

    in_both: int
    only_a: int
    only_b: int
    read_different_text: int  # pairs whose versions read different revisions of the post


@dataclass(frozen=True, slots=True)
class Agreement:
    """Over the posts in both: the fraction of equal fields, entity overlap, importance gap.

    Every value is None when no post was extracted by both versions.
    """

    topic: float | None
    is_breaking: float | None
    breaking_window: float | None
    language: float | None
    entity_jaccard: float | None  # mean Jaccard of the (kind, lower(text)) sets
    importance_mae: float | None  # mean |importance A - importance B|


@dataclass(frozen=True, slots=True)
class Reading:
    """One version's extraction of a post, as shown side by side."""

    topic: str
    headline: str
    is_breaking: bool
    breaking_window: str | None
    importance: float
    language: str


@dataclass(frozen=True, slots=True)
class PostDifference:
    """A post whose two extractions differ, with its disagreement score and both readings."""

    raw_message_id: int
    channel_id: int
    channel_username: str | None
    message_id: int
    posted_at: datetime
    text: str  # the first 80 characters, whitespace collapsed
    score: float
    entity_jaccard: float
    a: Reading
    b: Reading


@dataclass(frozen=True, slots=True)
class MovedPost:
    """A post the two versions grouped differently: its story-mates in A are not those in B."""

    raw_message_id: int
    channel_id: int
    channel_username: str | None
    message_id: int
    text: str  # the first 80 characters, whitespace collapsed
    with_in_a: int  # how many other compared posts shared its event in A
    with_in_b: int


@dataclass(frozen=True, slots=True)
class Grouping:
    """How each version grouped the posts in both into events, and which posts moved."""

    events_a: int  # events holding the compared posts, in A
    events_b: int
    moved: int  # posts whose story-mates differ between the versions
    examples: tuple[MovedPost, ...]


@dataclass(frozen=True, slots=True)
class Comparison:
    """Everything `civicquant compare A B` reports."""

    a: VersionSummary
    b: VersionSummary
    since: datetime | None
    until: datetime | None
    channel_ids: tuple[int, ...] | None
    coverage: Coverage
    agreement: Agreement
    confusion: dict[str, dict[str, int]]  # A's topic -> B's topic -> posts; no zero cells
    most_different: tuple[PostDifference, ...]
    grouping: Grouping


def compare(
    db: Database,
    a: str,
    b: str,
    *,
    since: datetime | None = None,
    until: datetime | None = None,
    channel_ids: Sequence[int] | None = None,
    top: int = DEFAULT_TOP,
) -> Comparison:
    """Compare versions `a` and `b` over the posts posted in [since, until) in the channels.

    Raises UsageError when the two are the same or either has no extraction at all.
    """
    if a == b:
        raise UsageError(f"compare needs two different pipeline versions, got {a!r} twice")
    known = {
        row["pipeline_version"]
        for row in db.fetch_all("compare_known_versions", {"versions": [a, b]})
    }
    unknown = [version for version in (a, b) if version not in known]
    if unknown:
        names = " and ".join(repr(version) for version in unknown)
        raise UsageError(f"no extractions for pipeline version {names}")
    window = {
        "since": since,
        "until": until,
        "channel_ids": list(channel_ids) if channel_ids is not None else None,
    }
    pair = {"a": a, "b": b, **window}
    stats = {
        row["pipeline_version"]: _version_summary(row)
        for row in db.fetch_all("compare_version_stats", {"versions": [a, b], **window})
    }
    overview = db.fetch_one("compare_overview", pair)
    assert overview is not None  # an aggregate always returns its one row
    confusion: dict[str, dict[str, int]] = {}
    for row in db.fetch_all("compare_topic_confusion", pair):
        confusion.setdefault(row["topic_a"], {})[row["topic_b"]] = int(row["posts"])
    differences = db.fetch_all("compare_most_different", {**pair, "limit": top})
    return Comparison(
        a=stats[a],
        b=stats[b],
        since=since,
        until=until,
        channel_ids=tuple(channel_ids) if channel_ids is not None else None,
        coverage=Coverage(
            in_both=int(overview["in_both"]),
            only_a=int(overview["only_a"]),
            only_b=int(overview["only_b"]),
            read_different_text=int(overview["read_different_text"]),
        ),
        agreement=Agreement(
            topic=_fraction(overview["topic"]),
            is_breaking=_fraction(overview["is_breaking"]),
            breaking_window=_fraction(overview["breaking_window"]),
            language=_fraction(overview["language"]),
            entity_jaccard=_fraction(overview["entity_jaccard"]),
            importance_mae=_fraction(overview["importance_mae"]),
        ),
        confusion=confusion,
        most_different=tuple(_difference(row) for row in differences),
        grouping=grouping(db.fetch_all("compare_event_membership", pair), top),
    )


def grouping(rows: Sequence[Row], top: int = DEFAULT_TOP) -> Grouping:
    """Events per version and the posts that moved, from each post's event in A and in B.

    A post without an event (no headline) is alone in its group. A post moved when the set
    of compared posts sharing its event in A differs from the set sharing it in B.
    """
    mates_a = _mates(rows, "event_a")
    mates_b = _mates(rows, "event_b")
    moved = [
        row for row in rows if mates_a[row["raw_message_id"]] != mates_b[row["raw_message_id"]]
    ]
    return Grouping(
        events_a=len({row["event_a"] for row in rows if row["event_a"] is not None}),
        events_b=len({row["event_b"] for row in rows if row["event_b"] is not None}),
        moved=len(moved),
        examples=tuple(
            MovedPost(
                raw_message_id=int(row["raw_message_id"]),
                channel_id=int(row["channel_id"]),
                channel_username=row["channel_username"],
                message_id=int(row["message_id"]),
                text=str(row["text"]),
                with_in_a=len(mates_a[row["raw_message_id"]]) - 1,
                with_in_b=len(mates_b[row["raw_message_id"]]) - 1,
            )
            for row in moved[:top]
        ),
    )


def _mates(rows: Sequence[Row], column: str) -> dict[int, frozenset[int]]:
    """Each post -> the compared posts in its event under one version (itself included)."""
    members: dict[int, set[int]] = {}
    for row in rows:
        if row[column] is not None:
            members.setdefault(int(row[column]), set()).add(int(row["raw_message_id"]))
    return {
        int(row["raw_message_id"]): frozenset(members[int(row[column])])
        if row[column] is not None
        else frozenset({int(row["raw_message_id"])})
        for row in rows
    }


def _version_summary(row: Row) -> VersionSummary:
    return VersionSummary(
        pipeline_version=str(row["pipeline_version"]),
        extractions=int(row["extractions"]),
        providers=tuple(row["providers"]),
        models=tuple(row["models"]),
        prompt_fingerprints=tuple(row["prompt_fingerprints"]),
        mean_latency_ms=_fraction(row["mean_latency_ms"]),
        prompt_tokens=_count(row["prompt_tokens"]),
        completion_tokens=_count(row["completion_tokens"]),
        calls_saved=int(row["calls_saved"]),
        failed_jobs=int(row["failed_jobs"]),
        dead_jobs=int(row["dead_jobs"]),
    )


def _difference(row: Row) -> PostDifference:
    def reading(side: str) -> Reading:
        return Reading(
            topic=str(row[f"topic_{side}"]),
            headline=str(row[f"headline_{side}"]),
            is_breaking=bool(row[f"is_breaking_{side}"]),
            breaking_window=row[f"breaking_window_{side}"],
            importance=float(row[f"importance_{side}"]),
            language=str(row[f"language_{side}"]),
        )

    return PostDifference(
        raw_message_id=int(row["raw_message_id"]),
        channel_id=int(row["channel_id"]),
        channel_username=row["channel_username"],
        message_id=int(row["message_id"]),
        posted_at=row["posted_at"],
        text=str(row["text"]),
        score=float(row["score"]),
        entity_jaccard=float(row["jaccard"]),
        a=reading("a"),
        b=reading("b"),
    )


def _fraction(value: Any) -> float | None:
    return None if value is None else float(value)


def _count(value: Any) -> int | None:
    return None if value is None else int(value)


# -- rendering ------------------------------------------------------------------------


def render_json(c: Comparison) -> str:
    """The comparison as one JSON document (times in ISO 8601)."""
    return json.dumps(as_dict(c), indent=2, ensure_ascii=False) + "\n"


def as_dict(c: Comparison) -> dict[str, Any]:
    """The comparison as plain JSON-ready values."""

    def version(v: VersionSummary) -> dict[str, Any]:
        return {
            "pipeline_version": v.pipeline_version,
            "extractions": v.extractions,
            "providers": list(v.providers),
            "models": list(v.models),
            "prompt_fingerprints": list(v.prompt_fingerprints),
            "mean_latency_ms": v.mean_latency_ms,
            "prompt_tokens": v.prompt_tokens,
            "completion_tokens": v.completion_tokens,
            "calls_saved": v.calls_saved,
            "failed_jobs": v.failed_jobs,
            "dead_jobs": v.dead_jobs,
        }

    def reading(r: Reading) -> dict[str, Any]:
        return {
            "topic": r.topic,
            "headline": r.headline,
            "is_breaking": r.is_breaking,
            "breaking_window": r.breaking_window,
            "importance": r.importance,
            "language": r.language,
        }

    return {
        "a": version(c.a),
        "b": version(c.b),
        "window": {
            "since": c.since.isoformat() if c.since else None,
            "until": c.until.isoformat() if c.until else None,
            "channel_ids": list(c.channel_ids) if c.channel_ids is not None else None,
        },
        "coverage": {
            "in_both": c.coverage.in_both,
            "only_a": c.coverage.only_a,
            "only_b": c.coverage.only_b,
            "read_different_text": c.coverage.read_different_text,
        },
        "agreement": {
            "topic": c.agreement.topic,
            "is_breaking": c.agreement.is_breaking,
            "breaking_window": c.agreement.breaking_window,
            "language": c.agreement.language,
            "entity_jaccard": c.agreement.entity_jaccard,
            "importance_mae": c.agreement.importance_mae,
        },
        "confusion": c.confusion,
        "events": {
            "a": c.grouping.events_a,
            "b": c.grouping.events_b,
            "posts_moved": c.grouping.moved,
            "moved_examples": [
                {
                    "raw_message_id": m.raw_message_id,
                    "channel_id": m.channel_id,
                    "channel_username": m.channel_username,
                    "message_id": m.message_id,
                    "text": m.text,
                    "story_mates_in_a": m.with_in_a,
                    "story_mates_in_b": m.with_in_b,
                }
                for m in c.grouping.examples
            ],
        },
        "most_different": [
            {
                "raw_message_id": d.raw_message_id,
                "channel_id": d.channel_id,
                "channel_username": d.channel_username,
                "message_id": d.message_id,
                "posted_at": d.posted_at.isoformat(),
                "text": d.text,
                "score": d.score,
                "entity_jaccard": d.entity_jaccard,
                "a": reading(d.a),
                "b": reading(d.b),
            }
            for d in c.most_different
        ],
    }


def render_text(c: Comparison) -> str:
    """Aligned tables for people: versions, coverage, agreement, topics, the worst posts."""
    a, b = c.a.pipeline_version, c.b.pipeline_version
    lines = [f"civicquant compare {a} {b}: {_describe_window(c)}", ""]

    lines += aligned(
        [
            (
                "VERSION",
                "EXTRACTIONS",
                "PROVIDER",
                "MODEL",
                "PROMPT",
                "MEAN LATENCY",
                "TOKENS IN",
                "TOKENS OUT",
                "CALLS SAVED",
                "FAILED",
                "DEAD",
            ),
            *(
                (
                    v.pipeline_version,
                    str(v.extractions),
                    ", ".join(v.providers) or "-",
                    ", ".join(v.models) or "-",
                    ", ".join(fp[:12] for fp in v.prompt_fingerprints) or "-",
                    "-" if v.mean_latency_ms is None else f"{v.mean_latency_ms:.1f} ms",
                    _optional(v.prompt_tokens),
                    _optional(v.completion_tokens),
                    str(v.calls_saved),
                    str(v.failed_jobs),
                    str(v.dead_jobs),
                )
                for v in (c.a, c.b)
            ),
        ]
    )

    cov = c.coverage
    lines += [
        "",
        f"posts: {cov.in_both} in both, {cov.only_a} only in {a}, {cov.only_b} only in {b}",
    ]
    if cov.read_different_text:
        lines.append(f"  ({cov.read_different_text} of them read a different revision of the post)")

    agree = c.agreement
    lines += ["", f"AGREEMENT over {cov.in_both} posts in both", ""]
    lines += aligned(
        [
            ("FIELD", "AGREEMENT"),
            ("topic", _percent(agree.topic)),
            ("is_breaking", _percent(agree.is_breaking)),
            ("breaking_window", _percent(agree.breaking_window)),
            ("language", _percent(agree.language)),
            ("entities (mean Jaccard)", _decimal(agree.entity_jaccard)),
            ("importance (mean |diff|)", _decimal(agree.importance_mae)),
        ]
    )

    if c.confusion:
        topics = _topic_order({*c.confusion, *(t for row in c.confusion.values() for t in row)})
        lines += ["", f"TOPICS (rows {a}, columns {b})", ""]
        lines += aligned(
            [
                (f"{a} \\ {b}", *topics),
                *(
                    (row, *(str(c.confusion.get(row, {}).get(column, 0)) for column in topics))
                    for row in topics
                ),
            ],
            right_from=1,
        )

    g = c.grouping
    lines += [
        "",
        f"EVENTS: {g.events_a} in {a}, {g.events_b} in {b}; "
        f"{g.moved} of {cov.in_both} posts grouped differently",
    ]
    if g.examples:
        lines += [""]
        lines += aligned(
            [
                ("POST", f"WITH IN {a}", f"WITH IN {b}", "TEXT"),
                *(
                    (
                        f"@{m.channel_username}/{m.message_id}"
                        if m.channel_username
                        else f"{m.channel_id}/{m.message_id}",
                        str(m.with_in_a),
                        str(m.with_in_b),
                        m.text,
                    )
                    for m in g.examples
                ),
            ]
        )

    if c.most_different:
        lines += ["", f"MOST DIFFERENT ({len(c.most_different)} posts, worst first)"]
        readings = aligned(
            [
                (
                    label,
                    reading.topic,
                    f"breaking {reading.breaking_window}" if reading.is_breaking else "-",
                    f"{reading.importance:.2f}",
                    reading.language,
                    reading.headline,
                )
                for d in c.most_different
                for label, reading in ((a, d.a), (b, d.b))
            ]
        )
        for rank, d in enumerate(c.most_different):
            channel = f"@{d.channel_username}" if d.channel_username else str(d.channel_id)
            lines += [
                "",
                f"#{rank + 1}  score {d.score:.2f}  {channel}/{d.message_id}  "
                f"{d.posted_at:%Y-%m-%d %H:%M} UTC  entities J={d.entity_jaccard:.2f}",
                f"    post  {d.text}",
                f"    {readings[2 * rank]}",
                f"    {readings[2 * rank + 1]}",
            ]
    return "\n".join(lines) + "\n"


def _describe_window(c: Comparison) -> str:
    since = f"{c.since:%Y-%m-%d %H:%M} UTC" if c.since else "the first post"
    until = f"{c.until:%Y-%m-%d %H:%M} UTC" if c.until else "now"
    where = (
        "all channels"
        if c.channel_ids is None
        else "channels " + (", ".join(str(i) for i in c.channel_ids) or "(none found)")
    )
    return f"posts from {since} until {until}, {where}"


def _topic_order(topics: set[str]) -> list[str]:
    """Topics in the extraction model's order; any unknown ones after, alphabetically."""
    known = [t for t in TOPICS if t in topics]
    return known + sorted(topics - set(known))


def _percent(value: float | None) -> str:
    return "-" if value is None else f"{value:.1%}"


def _decimal(value: float | None) -> str:
    return "-" if value is None else f"{value:.3f}"


def _optional(value: int | None) -> str:
    return "-" if value is None else str(value)
