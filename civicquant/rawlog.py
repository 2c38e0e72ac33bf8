"""The raw log: every post as first seen, edits as revisions, deletions as marks.

Everything else civicquant knows is derived from here and can be replayed from here.
Storing a batch is one transaction: the posts, their revisions, their extraction jobs and
the channel's high-water mark commit together, so a crash never leaves a post without its
job or a mark ahead of what is stored.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from civicquant import queue
from civicquant.db import Database
from civicquant.posts import Channel, RawPost, Source


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

    def __init__(self, db: Database, *, pipeline_version: str, enqueue: bool = True) -> None:
        self.db = db
        self.pipeline_version = pipeline_version
        self.enqueue = enqueue

    # -- channels ---------------------------------------------------------------------

    def save_channel(self, channel: Channel) -> ChannelState:
        """Record a channel (keeping known names) and return its state."""
        row = self.db.fetch_one(
            "upsert_channel",
            {
                "channel_id": channel.channel_id,
                "username": channel.username,
                "title": channel.title,
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
        """Store one channel's posts in one transaction; idempotent.

        New posts are inserted and enqueued. A stored post whose text changed gets a
        revision and is re-enqueued. With `force_enqueue` unchanged posts are re-enqueued
        too. The channel's high-water mark moves to the newest post (never back).
        """
        result = StoreResult()
        if not posts:
            return result
        by_id = {post.message_id: post for post in posts}  # a batch may repeat an id
        batch = sorted(by_id.values(), key=lambda post: post.message_id)
        with self.db.transaction():
            inserted = self.db.fetch_all(
                "insert_raw_messages", _columns(batch, source), binary=True
            )
            result.inserted = len(inserted)
            new_ids = {row["message_id"] for row in inserted}
            to_enqueue = [row["id"] for row in inserted if row["text"]]

            existing = [post for post in batch if post.message_id not in new_ids]
            if existing:
                revised_ids, unchanged_ids = self._revise(channel_id, existing, source)
                result.revised = len(revised_ids)
                result.unchanged = len(unchanged_ids)
                to_enqueue.extend(revised_ids)
                if force_enqueue:
                    to_enqueue.extend(unchanged_ids)

            if self.enqueue and to_enqueue:
                result.enqueued = queue.enqueue(
                    self.db,
                    to_enqueue,
                    self.pipeline_version,
                    force=force_enqueue or bool(result.revised),
                )
            if advance_mark:
                newest = batch[-1]
                self.db.execute(
                    "advance_high_water_mark",
                    {
                        "channel_id": channel_id,
                        "message_id": newest.message_id,
                        "posted_at": newest.posted_at,
                    },
                )
        return result

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
            if post.text != row["text"]:
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

    def record_flood_wait(self, job_name: str, seconds: int, slept: bool) -> None:
        self.db.execute(
            "record_flood_wait", {"job_name": job_name, "seconds": seconds, "slept": slept}
        )


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
    }
