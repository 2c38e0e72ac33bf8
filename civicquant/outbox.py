"""The flash outbox: breaking events waiting for their flash alerts (sql/0018).

The extract worker queues the breaking events of each batch here, inside the batch's own
transaction (`queue_breaking`), so the alert is as durable as the extraction: a crash
right after the commit leaves the row for the next drain. The drainers in
`civicquant.publish.flash` read it and prune it; what was sent is the publication
ledger's business, not this table's. This module owns the table's writes.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime, timedelta

from civicquant.db import Database

# How long an event stays in the outbox after an extraction last touched it: while it does,
# every drain tries its alert again if it failed before it was sent. Older, it is no longer
# flash news (the breaking digests still carry it), and drains and `prune` delete the row.
KEEP_FOR = timedelta(hours=1)


def queue_breaking(db: Database, event_ids: Sequence[int]) -> list[int]:
    """Queue (or refresh) the breaking events among `event_ids`; return those queued.

    Run it inside the transaction that stored the events, so both commit together.
    """
    if not event_ids:
        return []
    rows = db.fetch_all("queue_flash_alerts", {"event_ids": sorted(set(event_ids))})
    return [int(row["event_id"]) for row in rows]


def prune(db: Database, older_than: datetime) -> int:
    """Delete the events not queued again since `older_than`; return how many."""
    return db.execute("prune_flash_outbox", {"older_than": older_than})
