-- The flash outbox: breaking events waiting for their flash alerts. The extract worker
-- queues a row for each breaking event a batch touched, in the very transaction that
-- stores the batch's extractions and events, so an alert is never lost between the commit
-- and its send (a crash right after the commit leaves the row for the next drain). A
-- drainer (extract's background drainer, or `civicquant digest --queue FLASH_ROUTE` from
-- cron) sends each row through the publication ledger, once per flash route and chat; the
-- ledger, not this table, says what was sent. Touching the event again refreshes
-- `queued_at`; rows not refreshed for an hour (civicquant.outbox.KEEP_FOR) are no
-- longer flash news and are deleted by the next drain (and by `prune`).

CREATE TABLE flash_outbox (
    event_id        bigint PRIMARY KEY REFERENCES events (id) ON DELETE CASCADE,
    first_queued_at timestamptz NOT NULL DEFAULT now(),
    queued_at       timestamptz NOT NULL DEFAULT now()  -- the latest extraction touching it
);

CREATE INDEX flash_outbox_queued_at ON flash_outbox (queued_at);
