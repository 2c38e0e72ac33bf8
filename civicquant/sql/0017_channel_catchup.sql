-- Catch-up that never skips a post: listen's progress through the stretch a channel was
-- left unread (civicquant down, a cron gap), kept here so the next run resumes it.
--
-- One row per channel, rewritten by each listen run (civicquant.ingest.catchup owns it).
-- A catch-up reads the posts above `from_id` (the high-water mark when it began) posted
-- since `from_at`: first the newest chunk (from `position` on, live priority), then walking
-- back chunk by chunk to `from_at` (backfill priority). Everything posted in
-- [position, to_at) is stored, and listen follows the channel live from `to_at` on; within
-- the chunk below `position`, read oldest first, every post up to `chunk_after_id` is
-- stored. Each batch of posts commits with the row, so a killed run resumes exactly. The
-- high-water mark stays at `from_id` until the walk reaches `from_at`.
CREATE TABLE channel_catchup (
    channel_id     bigint PRIMARY KEY REFERENCES channels (channel_id),
    from_id        bigint NOT NULL,
    from_at        timestamptz NOT NULL,
    to_at          timestamptz NOT NULL,
    position       timestamptz NOT NULL,
    chunk_after_id bigint,
    posts_read     bigint NOT NULL DEFAULT 0,
    -- When the walk stopped feeding old chunks because the extraction backlog was above
    -- CATCHUP_QUEUE_HIGH_WATERMARK (NULL: not paused).
    paused_at      timestamptz,
    -- Posts of the last RECHECK_HOURS to read again after a downtime (edits, deletions):
    -- the span still to re-read, NULL when none is owed.
    recheck_since  timestamptz,
    recheck_until  timestamptz,
    started_at     timestamptz NOT NULL DEFAULT now(),
    updated_at     timestamptz NOT NULL DEFAULT now(),
    finished_at    timestamptz
);
