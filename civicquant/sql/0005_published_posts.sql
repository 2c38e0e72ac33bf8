-- Publications: every digest window and alert posted to Telegram, reserved before the
-- first send so that each is published exactly once.

CREATE TABLE published_posts (
    id               bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    queue            text NOT NULL,          -- vip, breaking_15m, breaking_1h, breaking_4h, flash, ops
    chat_id          text NOT NULL,
    window_start     timestamptz NOT NULL,
    window_end       timestamptz NOT NULL,
    event_id         bigint,                 -- the event of a flash alert; NULL for a window
    item_key         text NOT NULL DEFAULT '',  -- what else identifies it (ops alerts: job and streak)
    pipeline_version text,
    content_sha256   text NOT NULL,
    parts            text[] NOT NULL,        -- the rendered messages, fixed at reservation
    message_ids      bigint[] NOT NULL DEFAULT '{}',  -- Telegram ids of the parts sent, in order
    sending_part     integer,                -- the part being sent right now (crash diagnosis)
    status           text NOT NULL CHECK (status IN ('reserved', 'sent', 'failed')),
    error            text,
    reserved_by      text NOT NULL,
    reserved_at      timestamptz NOT NULL DEFAULT now(),
    sent_at          timestamptz,
    updated_at       timestamptz NOT NULL DEFAULT now()
);

CREATE UNIQUE INDEX published_posts_once
    ON published_posts (queue, chat_id, window_start, coalesce(event_id, 0), item_key);
CREATE INDEX published_posts_status ON published_posts (status, reserved_at);
CREATE INDEX published_posts_queue_sent ON published_posts (queue, sent_at DESC);
