"""The publication ledger: each digest window and alert is posted to a chat exactly once.

A publication is reserved in `published_posts` before its first message is sent, with
its rendered parts fixed at that moment. Each part's Telegram message id is recorded as
soon as Telegram accepts it, and the part about to be sent is noted first. So:

- a window already `sent` is never sent again, even if its events changed since;
- a send that failed (Telegram refused, or stayed unreachable) is `failed`, and the next
  run resumes from the next unsent part;
- a run that crashed *between* parts left every attempted part recorded, and the next
  run resumes from the next part;
- a run that crashed *while sending a part* left it unknown whether that part went out.
  That row stays `reserved`: it is not resent by default (a duplicate in the chat is worse
  than a late digest), `health` reports it, and `--force` resends from that part;
- a send whose answer was lost (PublishOutcomeUnknown: the request may have reached
  Telegram) is the same case, recorded at once: the row stays `reserved` with the part
  noted and the reason in `error`, and the run fails with that reason.
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Literal

import structlog

from civicquant.db import Database
from civicquant.errors import CivicquantError
from civicquant.publish.publisher import Publisher, PublishOutcomeUnknown
from civicquant.runtime.leases import Fence

log = structlog.get_logger("civicquant.publish.ledger")

Outcome = Literal["sent", "already_sent", "in_doubt", "empty"]


@dataclass(frozen=True, slots=True)
class Item:
    """What is being published: a queue's window to a chat, or one event's alert."""

    queue: str
    chat_id: str
    window_start: datetime
    window_end: datetime
    event_id: int | None = None
    item_key: str = ""
    pipeline_version: str | None = None
    # The events a digest window shows: a breaking queue never shows them again.
    event_ids: tuple[int, ...] = ()

    def key(self) -> dict[str, Any]:
        return {
            "queue": self.queue,
            "chat_id": self.chat_id,
            "window_start": self.window_start,
            "window_end": self.window_end,
            "event_id": self.event_id,
            "item_key": self.item_key,
        }


def content_hash(parts: Sequence[str]) -> str:
    """SHA-256 of the rendered parts."""
    digest = hashlib.sha256()
    for part in parts:
        digest.update(part.encode("utf-8"))
        digest.update(b"\x00")
    return digest.hexdigest()


async def publish_once(
    db: Database,
    publisher: Publisher,
    item: Item,
    parts: Sequence[str],
    *,
    holder: str,
    force: bool = False,
    exclusive: bool = True,
    part_interval: float = 0.0,
    fence: Fence | None = None,
) -> tuple[Outcome, dict[str, Any]]:
    """Reserve `item` and send its parts, or resume or skip it as its ledger row says.

    `exclusive` says the caller holds the lease for this queue, so a `reserved` row can
    only be a dead run's. Without it (alerts sent by concurrent extract workers) an
    existing row is always left to whoever made it. `fence` is that lease: the
    reservation and each part's send are made only while it is still ours (LeaseLost
    otherwise). Returns the outcome and the ledger row; raises the publisher's error
    after recording the row as `failed`.
    """
    if not parts:
        return "empty", {}
    with _fenced(db, fence):
        row = db.fetch_one(
            "reserve_publication",
            {
                **item.key(),
                "pipeline_version": item.pipeline_version,
                "event_ids": list(item.event_ids),
                "content_sha256": content_hash(parts),
                "parts": list(parts),
                "reserved_by": holder,
            },
        )
    if row is None:
        row = db.fetch_one("find_publication", item.key())
        assert row is not None, "a conflicting publication vanished"
        if row["status"] == "sent" or (not exclusive and row["status"] != "failed"):
            # Without the lease, a reserved row is another worker's (or in doubt): leave it.
            return "already_sent", row
        in_doubt = row["status"] == "reserved" and row["sending_part"] is not None
        crashed_between_parts = row["status"] == "reserved" and row["sending_part"] is None
        if in_doubt and not force:
            log.warning(
                "publication_in_doubt",
                queue=item.queue,
                chat_id=item.chat_id,
                window_start=item.window_start.isoformat(),
                part=row["sending_part"] + 1,
                parts=len(row["parts"]),
                hint="a crash happened while sending this part; --force resends it",
            )
            return "in_doubt", row
        statuses = (
            ["failed", "reserved"] if exclusive and (force or crashed_between_parts) else ["failed"]
        )
        with _fenced(db, fence):
            taken = db.fetch_one(
                "take_over_publication",
                {"id": row["id"], "reserved_by": holder, "from_statuses": statuses},
            )
        if taken is None:
            return "already_sent", row
        log.info(
            "publication_resumed",
            queue=item.queue,
            window_start=item.window_start.isoformat(),
            from_part=len(row["message_ids"]) + 1,
            previous_status=row["status"],
        )
    await _deliver(db, publisher, row, item, part_interval, fence)
    return "sent", row


@contextlib.contextmanager
def _fenced(db: Database, fence: Fence | None) -> Iterator[None]:
    """A transaction that first checks the caller's lease is still its own."""
    with db.transaction():
        if fence is not None:
            fence.check(db)
        yield


async def _deliver(
    db: Database,
    publisher: Publisher,
    row: dict[str, Any],
    item: Item,
    part_interval: float,
    fence: Fence | None,
) -> None:
    parts: list[str] = list(row["parts"])
    sent = len(row["message_ids"])
    for index in range(sent, len(parts)):
        if index > sent and part_interval > 0:
            # Telegram throttles bursts to one chat; a pause also keeps the parts in order.
            await asyncio.sleep(part_interval)
        with _fenced(db, fence):  # a run that lost its lease sends no further part
            db.execute("mark_sending", {"id": row["id"], "part": index})
        try:
            message = await publisher.send(item.chat_id, parts[index])
        except PublishOutcomeUnknown as exc:
            db.execute("mark_in_doubt", {"id": row["id"], "error": str(exc)[:2000]})
            log.error(
                "publication_in_doubt",
                queue=item.queue,
                chat_id=item.chat_id,
                window_start=item.window_start.isoformat(),
                part=index + 1,
                parts=len(parts),
                error=str(exc),
                hint="the part may be in the chat; check it, then --force resends it",
            )
            raise
        except CivicquantError as exc:
            db.execute("mark_failed", {"id": row["id"], "error": str(exc)[:2000]})
            log.error(
                "publication_failed",
                queue=item.queue,
                chat_id=item.chat_id,
                window_start=item.window_start.isoformat(),
                part=index + 1,
                parts=len(parts),
                error=str(exc),
            )
            raise
        db.execute("record_part", {"id": row["id"], "message_id": message.message_id})
    db.execute("mark_sent", {"id": row["id"]})
    log.info(
        "publication_sent",
        queue=item.queue,
        chat_id=item.chat_id,
        window_start=item.window_start.isoformat(),
        event_id=item.event_id,
        parts=len(parts),
    )
