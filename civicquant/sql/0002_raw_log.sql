-- The raw log: every post as first seen, never overwritten; edits are revisions beside it.

CREATE TABLE channels (
    channel_id      bigint PRIMARY KEY,          -- Telegram's bare channel id
    username        text,                        -- public @name, for t.me links
    title           text,
    last_message_id bigint,                      -- the high-water mark
    last_message_at timestamptz,
    last_parsed_at  timestamptz,                 -- when a reader last caught this channel up
    created_at      timestamptz NOT NULL DEFAULT now(),
    updated_at      timestamptz NOT NULL DEFAULT now()
);

CREATE TABLE raw_messages (
    id             bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    channel_id     bigint NOT NULL REFERENCES channels (channel_id),
    message_id     bigint NOT NULL,
    text           text NOT NULL DEFAULT '',
    entities       jsonb NOT NULL DEFAULT '[]'::jsonb,
    media          jsonb,                       -- {kind, file_name, mime_type, size}; no files
    views          integer,
    forwards       integer,
    reply_to       bigint,
    grouped_id     bigint,                      -- albums
    forwarded_from text,
    author         text,
    posted_at      timestamptz NOT NULL,
    edit_date      timestamptz,
    content_sha256 text NOT NULL,
    source         text NOT NULL CHECK (source IN ('live', 'backfill', 'export')),
    ingested_at    timestamptz NOT NULL DEFAULT now(),
    deleted_at     timestamptz,
    UNIQUE (channel_id, message_id)
);

CREATE INDEX raw_messages_posted_at ON raw_messages (posted_at);
CREATE INDEX raw_messages_channel_posted_at ON raw_messages (channel_id, posted_at);

-- An edit that changes the text: the original row stays, each new version is added here.
CREATE TABLE raw_message_revisions (
    id             bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    raw_message_id bigint NOT NULL REFERENCES raw_messages (id),
    text           text NOT NULL,
    entities       jsonb NOT NULL DEFAULT '[]'::jsonb,
    media          jsonb,
    edit_date      timestamptz,
    content_sha256 text NOT NULL,
    source         text NOT NULL CHECK (source IN ('live', 'backfill', 'export')),
    seen_at        timestamptz NOT NULL DEFAULT now()
);

CREATE INDEX raw_message_revisions_message ON raw_message_revisions (raw_message_id, id DESC);

-- What a post says now: the latest revision, else the original.
CREATE VIEW raw_messages_current AS
SELECT m.id, m.channel_id, m.message_id, m.posted_at, m.deleted_at, m.source,
       coalesce(r.text, m.text) AS text,
       coalesce(r.entities, m.entities) AS entities,
       coalesce(r.content_sha256, m.content_sha256) AS content_sha256,
       coalesce(r.edit_date, m.edit_date) AS edit_date,
       m.media, m.forwarded_from, m.reply_to, m.grouped_id
FROM raw_messages m
LEFT JOIN LATERAL (
    SELECT text, entities, content_sha256, edit_date FROM raw_message_revisions
    WHERE raw_message_id = m.id ORDER BY id DESC LIMIT 1
) r ON true;

-- Ids inside a channel's range that were asked for and do not exist: not fetched again.
CREATE TABLE missing_messages (
    channel_id bigint NOT NULL REFERENCES channels (channel_id),
    message_id bigint NOT NULL,
    checked_at timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (channel_id, message_id)
);

-- FloodWaits Telegram asked of us, for health.
CREATE TABLE flood_waits (
    id         bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    job_name   text NOT NULL,
    seconds    integer NOT NULL,
    slept      boolean NOT NULL,
    created_at timestamptz NOT NULL DEFAULT now()
);
