"""Filling a scratch database with posts through the library, the way ingest stores them."""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from itertools import islice

from bench import corpus
from civicquant.db import Database
from civicquant.ingest.posts import Channel, RawPost
from civicquant.ingest.rawlog import RawLog

CHANNEL_ID = 1_777_000_001
PIPELINE_VERSION = "v1"  # the default EXTRACTION_PIPELINE_VERSION the CLI runs with
BATCH = 500  # what ingest stores per transaction


def store_posts(url: str, count: int, *, seed: int = 0, enqueue: bool = True) -> int:
    """Store `count` corpus posts in one channel via RawLog (enqueued); returns jobs added."""
    with Database.connect(url, application_name="civicquant bench seed") as db:
        rawlog = RawLog(db, pipeline_version=PIPELINE_VERSION, enqueue=enqueue)
        rawlog.save_channel(Channel(CHANNEL_ID, "bench_wire", "Bench Wire"))
        enqueued = 0
        for batch in _batches(corpus.posts(CHANNEL_ID, count, seed=seed), BATCH):
            enqueued += rawlog.store(CHANNEL_ID, batch, "backfill").enqueued
        # What autovacuum does soon after a bulk load; the tables extract fills are left as
        # a fresh database has them (never analyzed), so plans start where production does.
        db.connection.execute("ANALYZE raw_messages, extraction_jobs")
    return enqueued


def _batches(posts: Iterable[RawPost], size: int) -> Iterator[list[RawPost]]:
    it = iter(posts)
    while batch := list(islice(it, size)):
        yield batch
