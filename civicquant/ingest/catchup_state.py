"""`channel_catchup` (migration 0017): where each channel's catch-up stands, read and written.

`civicquant.ingest.catchup` does the reading; `health` shows the positions. Nothing here
logs, so `health` starts without the logging libraries.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from civicquant.db import Database


@dataclass(frozen=True, slots=True)
class CatchUp:
    """A channel's catch-up as `channel_catchup` holds it (see migration 0017)."""

    channel_id: int
    from_id: int
    from_at: datetime
    to_at: datetime
    position: datetime
    chunk_after_id: int | None
    posts_read: int
    paused_at: datetime | None
    recheck_since: datetime | None
    recheck_until: datetime | None
    started_at: datetime
    updated_at: datetime
    finished_at: datetime | None

    @property
    def finished(self) -> bool:
        return self.finished_at is not None


class CatchUpLog:
    """Reads and writes `channel_catchup`, the one owner of its rows."""

    def __init__(self, db: Database) -> None:
        self.db = db

    def get(self, channel_id: int) -> CatchUp | None:
        row = self.db.fetch_one("get_catchup", {"channel_id": channel_id})
        return CatchUp(**row) if row else None

    def start(
        self,
        channel_id: int,
        *,
        from_id: int,
        from_at: datetime,
        position: datetime,
        finished: bool,
        recheck: tuple[datetime, datetime] | None,
    ) -> None:
        """Begin a catch-up; `position` is where its newest chunk begins (nothing read yet)."""
        self.db.execute(
            "start_catchup",
            {
                "channel_id": channel_id,
                "from_id": from_id,
                "from_at": from_at,
                "to_at": position,
                "position": position,
                "finished": finished,
                "recheck_since": recheck[0] if recheck else None,
                "recheck_until": recheck[1] if recheck else None,
            },
        )

    def resume(
        self,
        channel_id: int,
        *,
        restart_at: datetime | None,
        recheck: tuple[datetime, datetime] | None,
    ) -> None:
        """Take up an unfinished catch-up; with `restart_at`, walk again from there down."""
        self.db.execute(
            "resume_catchup",
            {
                "channel_id": channel_id,
                "to_at": restart_at,
                "position": restart_at,
                "recheck_since": recheck[0] if recheck else None,
                "recheck_until": recheck[1] if recheck else None,
            },
        )

    def read(self, channel_id: int, posts: int, *, after_id: int | None = None) -> None:
        self.db.execute(
            "catchup_read", {"channel_id": channel_id, "posts": posts, "after_id": after_id}
        )

    def walked(self, channel_id: int, position: datetime) -> None:
        self.db.execute("catchup_walked", {"channel_id": channel_id, "position": position})

    def followed(self, channel_id: int, to_at: datetime) -> None:
        self.db.execute("catchup_followed", {"channel_id": channel_id, "to_at": to_at})

    def paused(self, channel_id: int, paused: bool) -> None:
        self.db.execute("catchup_paused", {"channel_id": channel_id, "paused": paused})

    def finish(self, channel_id: int) -> None:
        self.db.execute("catchup_finished", {"channel_id": channel_id})

    def rechecked(self, channel_id: int) -> None:
        self.db.execute("catchup_rechecked", {"channel_id": channel_id})

    def newest_stored(self, channel_id: int) -> tuple[int, datetime] | None:
        row = self.db.fetch_one("newest_stored_post", {"channel_id": channel_id})
        return (int(row["message_id"]), row["posted_at"]) if row else None

    def stored_ids_between(self, channel_id: int, since: datetime, until: datetime) -> list[int]:
        rows = self.db.fetch_all(
            "stored_ids_between", {"channel_id": channel_id, "since": since, "until": until}
        )
        return [int(row["message_id"]) for row in rows]

    def positions(self) -> list[dict[str, Any]]:
        """Every channel's catch-up, for health."""
        return self.db.fetch_all("catchup_positions")
