"""The raw log: every post as first seen, edits as revisions, deletions as marks.

Everything else civicquant knows is derived from here and can be replayed from here.
Storing a batch commits its new posts, their extraction jobs (added through
`civicquant.queue`, the one owner of extraction_jobs) and the channel's high-water mark in
one transaction, and the revisions of posts it already held with their jobs
(a second transaction, only when there are such posts), so a crash never leaves a post
without its job or a mark ahead of what is stored.
"""

from __future__ import annotations

import copy
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import TYPE_CHECKING, Any

from civicquant import queue
from civicquant.db import Database
from civicquant.ingest.channels import ChannelSpec
from civicquant.ingest.posts import Channel, RawPost, Source

if TYPE_CHECKING:  # `health` reads the raw log: no structlog (leases) on its start-up path
    from civicquant.runtime.leases import Fence


@dataclass(frozen=True, slots=True)
class ChannelState:
    """A stored channel with its high-water mark."""

    channel_id: int
    username: str | None
    title: str | None
    last_message_id: int | None
    last_message_at: datetime | None
    last_parsed_at: datetime | None

    @property
    def channel(self) -> Channel:
        return Channel(self.channel_id, self.username, self.title)


@dataclass
class StoreResult:
    """What storing a batch did."""

    inserted: int = 0
    unchanged: int = 0
    revised: int = 0
    enqueued: int = 0

    def add(self, other: StoreResult) -> None:
        self.inserted += other.inserted
        self.unchanged += other.unchanged
        self.revised += other.revised
        self.enqueued += other.enqueued


class RawLog:
    """Writes and reads the raw log for one pipeline version's queue."""

    def __init__(
        self,
        db: Database,
        *,
        pipeline_version: str,
        enqueue: bool = True,
        fence: Fence | None = None,
        priority: int | None = None,
    ) -> None:
        self.db = db
        self.pipeline_version = pipeline_version
        self.enqueue = enqueue
        # The queue priority of the jobs it adds; None: by the posts' source (live posts
        # `live`, backfilled and imported ones `backfill`).
        self.priority = priority
        # The writing job's lease: every batch is stored only while it is still ours.
        self.fence = fence

    def at_priority(self, priority: int) -> RawLog:
        """The same raw log, enqueueing its jobs at `priority` whatever the posts' source."""
        other = copy.copy(self)
        other.priority = priority
        return other

    # -- channels ---------------------------------------------------------------------

    def save_channel(self, channel: Channel, *, weight: float | None = None) -> ChannelState:
        """Record a channel (keeping known names) and return its state.

        `weight` is the operator's trust in it (TG_SOURCE_CHANNELS `@name:2`); None keeps
        the stored weight (1 for a new channel).
        """
        row = self.db.fetch_one(
            "upsert_channel",
            {
                "channel_id": channel.channel_id,
                "username": channel.username,
                "title": channel.title,
                "weight": weight,
            },
        )
        assert row is not None
        return ChannelState(**row)

    def channel_state(self, channel_id: int) -> ChannelState | None:
        row = self.db.fetch_one("get_channel", {"channel_id": channel_id})
        return ChannelState(**row) if row else None

    def channels(self) -> list[ChannelState]:
        return [ChannelState(**row) for row in self.db.fetch_all("all_channels")]

    def find_channels(
        self, channel_ids: Sequence[int], usernames: Sequence[str]
    ) -> list[ChannelState]:
        rows = self.db.fetch_all(
            "find_channels",
            {"channel_ids": list(channel_ids), "usernames": [name.lower() for name in usernames]},
        )
        return [ChannelState(**row) for row in rows]

    def stored_channel_ids(self, specs: Sequence[ChannelSpec]) -> list[int]:
        """The ids of the stored channels the specs name (by id or @name); unknown ones drop."""
        found = self.find_channels(
            [spec.channel_id for spec in specs if spec.channel_id is not None],
            [spec.username for spec in specs if spec.username is not None],
        )
        return [state.channel_id for state in found]

    def unknown_specs(self, specs: Sequence[ChannelSpec]) -> list[ChannelSpec]:
        """The specs that name no stored channel (by id, or @name whatever its case)."""
        found = self.find_channels(
            [spec.channel_id for spec in specs if spec.channel_id is not None],
            [spec.username for spec in specs if spec.username is not None],
        )
        ids = {state.channel_id for state in found}
        names = {state.username.lower() for state in found if state.username}
        return [
            spec
            for spec in specs
            if spec.channel_id not in ids and (spec.username or "").lower() not in names
        ]

    def mark_parsed(self, channel_id: int) -> None:
        self.db.execute("mark_parsed", {"channel_id": channel_id})

    # -- posts ------------------------------------------------------------------------

    def store(
        self,
        channel_id: int,
        posts: Sequence[RawPost],
        source: Source,
        *,
        force_enqueue: bool = False,
        advance_mark: bool = True,
    ) -> StoreResult:
        """Store one channel's posts; idempotent.

        New posts are inserted and enqueued, and the channel's high-water mark moves to the
        newest post (never back), in one statement: one round trip and one commit, however
        many posts. A post stored before whose text changed gets a revision and is
        re-enqueued, together in a second transaction, run only when the batch held stored
        posts; with `force_enqueue` unchanged posts are re-enqueued too.
        """
        return self.store_columns(
            channel_id,
            post_columns(posts, source),
            force_enqueue=force_enqueue,
            advance_mark=advance_mark,
        )

    def store_columns(
        self,
        channel_id: int,
        columns: PostColumns,
        *,
        force_enqueue: bool = False,
        advance_mark: bool = True,
    ) -> StoreResult:
        """`store` for a batch already turned into columns by `post_columns`.

        An import builds the columns in its reading thread, so the thread that stores only
        waits on the database.
        """
        result = StoreResult()
        if not columns.posts:
            return result
        newest = columns.posts[-1]
        # The posts and their jobs commit together: a crash between them loses no job.
        with self.db.transaction():
            if self.fence is not None:
                self.fence.check(self.db)
            row = self.db.fetch_one(
                "store_new_posts",
                {
                    **columns.values,
                    "mark_channel_id": channel_id,
                    "advance_mark": advance_mark,
                    "newest_id": newest.message_id,
                    "newest_at": newest.posted_at,
                },
                binary=True,
            )
            assert row is not None  # an aggregate row, always
            if self.enqueue and row["with_text"]:
                result.enqueued = queue.enqueue(
                    self.db,
                    row["with_text"],
                    self.pipeline_version,
                    priority=self._priority(columns.source),
                )
        inserted = set(row["inserted"])
        result.inserted = len(inserted)
        existing = [post for post in columns.posts if post.message_id not in inserted]
        if existing:
            with self.db.transaction():
                if self.fence is not None:
                    self.fence.check(self.db)
                revised_ids, unchanged_ids = self._revise(channel_id, existing, columns.source)
                result.revised = len(revised_ids)
                result.unchanged = len(unchanged_ids)
                to_enqueue = revised_ids + (unchanged_ids if force_enqueue else [])
                if self.enqueue and to_enqueue:
                    result.enqueued += queue.enqueue(
                        self.db,
                        to_enqueue,
                        self.pipeline_version,
                        force=force_enqueue or bool(revised_ids),
                        priority=self._priority(columns.source),
                    )
        if columns.repeats:
            self._store_repeats(channel_id, columns, result)
        return result

    def _priority(self, source: Source) -> int:
        if self.priority is not None:
            return self.priority
        return queue.PRIORITIES["live" if source == "live" else "backfill"]

    def _store_repeats(self, channel_id: int, columns: PostColumns, result: StoreResult) -> None:
        """The later posts of an id the batch held more than once, each a revision if it differs.

        An export can hold two messages with one id; the first is stored as the post, every
        later one as it would be had it arrived later (a revision when its text differs),
        in file order, so no text is lost and the last is current.
        """
        with self.db.transaction():
            for round_ in _rounds(columns.repeats):
                revised_ids, unchanged_ids = self._revise(channel_id, round_, columns.source)
                result.revised += len(revised_ids)
                result.unchanged += len(unchanged_ids)
                if self.enqueue and revised_ids:
                    result.enqueued += queue.enqueue(
                        self.db,
                        revised_ids,
                        self.pipeline_version,
                        force=True,
                        priority=self._priority(columns.source),
                    )

    def advance_mark(self, channel_id: int, newest_id: int, newest_at: datetime) -> None:
        """Move the channel's high-water mark to a post stored with `advance_mark=False`.

        Only over a stretch stored without a hole: the mark says everything up to it is stored.
        """
        self.db.execute(
            "advance_mark",
            {"channel_id": channel_id, "newest_id": newest_id, "newest_at": newest_at},
        )

    def _revise(
        self, channel_id: int, posts: Sequence[RawPost], source: Source
    ) -> tuple[list[int], list[int]]:
        current = {
            row["message_id"]: row
            for row in self.db.fetch_all(
                "current_versions",
                {"channel_id": channel_id, "message_ids": [post.message_id for post in posts]},
            )
        }
        revised: list[tuple[int, RawPost]] = []
        unchanged: list[int] = []
        for post in posts:
            row = current.get(post.message_id)
            if row is None:
                continue
            if post.text != row["text"] and not _older_copy(post.edit_date, row["edit_date"]):
                revised.append((row["id"], post))
            else:
                unchanged.append(row["id"])
        if revised:
            stored = [post.stored_form() for _, post in revised]
            self.db.execute(
                "insert_revisions",
                {
                    "raw_message_id": [raw_id for raw_id, _ in revised],
                    "text": [post.text for _, post in revised],
                    "entities": [form.entities for form in stored],
                    "media": [form.media for form in stored],
                    "edit_date": [post.edit_date for _, post in revised],
                    "content_sha256": [form.content_sha256 for form in stored],
                    "source": [source] * len(revised),
                },
                binary=True,
            )
        return [raw_id for raw_id, post in revised if post.text], unchanged

    def mark_deleted(self, channel_id: int, message_ids: Sequence[int]) -> int:
        """Mark posts deleted (seen live); returns how many were newly marked."""
        return self.db.execute(
            "mark_deleted", {"channel_id": channel_id, "message_ids": list(message_ids)}
        )

    # -- gaps -------------------------------------------------------------------------

    def gaps(self, channel_id: int) -> list[tuple[int, int]]:
        """Inclusive id ranges missing between the channel's first and last stored post."""
        rows = self.db.fetch_all("channel_gaps", {"channel_id": channel_id})
        return [(int(row["first_id"]), int(row["last_id"])) for row in rows]

    def record_missing(self, channel_id: int, message_ids: Sequence[int]) -> None:
        """Remember ids that do not exist, so gap healing does not ask again."""
        if message_ids:
            self.db.execute(
                "record_missing", {"channel_id": channel_id, "message_ids": list(message_ids)}
            )

    def gap_counts(self) -> list[dict[str, Any]]:
        """Per channel: missing ids and high-water mark, for health."""
        return self.db.fetch_all("gap_counts")

    def record_flood_wait(
        self,
        job_name: str,
        seconds: int,
        slept: bool,
        *,
        session: str | None = None,
        method: str | None = None,
    ) -> None:
        self.db.execute(
            "record_flood_wait",
            {
                "job_name": job_name,
                "seconds": seconds,
                "slept": slept,
                "session": session,
                "method": method,
            },
        )

    def active_flood_waits(self, session: str | None = None) -> list[dict[str, Any]]:
        """FloodWaits not yet over (of one session, or all), per session and method."""
        return self.db.fetch_all("active_flood_waits", {"session": session})


def _older_copy(incoming: datetime | None, current: datetime | None) -> bool:
    """Whether a post read now is an older copy than the stored version (by edit date).

    History read beside the live stream (a catch-up, a recheck, an old export) can bring a
    post's text from before an edit already stored: it must not become the current text.
    A copy with no edit date is the original, older than any edit.
    """
    return current is not None and (incoming is None or incoming < current)


@dataclass(frozen=True, slots=True)
class PostColumns:
    """A batch of one channel's posts as `store_new_posts` takes them: a list per column."""

    posts: list[RawPost]  # by message id, each id once: the first post of each id
    source: Source
    values: dict[str, list[Any]]
    # The later posts of an id the batch held more than once, in batch order: stored after
    # `posts`, as revisions when their text differs.
    repeats: list[RawPost] = field(default_factory=list)


def post_columns(posts: Sequence[RawPost], source: Source) -> PostColumns:
    """The batch sorted by message id, as columns; a repeated id's later posts kept apart."""
    by_id: dict[int, RawPost] = {}
    repeats = [post for post in posts if by_id.setdefault(post.message_id, post) is not post]
    batch = sorted(by_id.values(), key=lambda post: post.message_id)
    return PostColumns(batch, source, _columns(batch, source), repeats)


def _rounds(posts: Sequence[RawPost]) -> Iterator[list[RawPost]]:
    """`posts` in file order, cut into lists that hold each message id at most once."""
    pending = list(posts)
    while pending:
        seen: set[int] = set()
        round_: list[RawPost] = []
        later: list[RawPost] = []
        for post in pending:
            (later if post.message_id in seen else round_).append(post)
            seen.add(post.message_id)
        yield round_
        pending = later


def _columns(posts: Sequence[RawPost], source: Source) -> dict[str, list[Any]]:
    stored = [post.stored_form() for post in posts]
    return {
        "channel_id": [post.channel_id for post in posts],
        "message_id": [post.message_id for post in posts],
        "text": [post.text for post in posts],
        "entities": [form.entities for form in stored],
        "media": [form.media for form in stored],
        "views": [post.views for post in posts],
        "forwards": [post.forwards for post in posts],
        "reply_to": [post.reply_to for post in posts],
        "grouped_id": [post.grouped_id for post in posts],
        "forwarded_from": [post.forwarded_from for post in posts],
        "author": [post.author for post in posts],
        "posted_at": [post.posted_at for post in posts],
        "edit_date": [post.edit_date for post in posts],
        "content_sha256": [form.content_sha256 for form in stored],
        "source": [source] * len(posts),
        "sender": [post.sender for post in posts],
        "sender_id": [post.sender_id for post in posts],
    }
