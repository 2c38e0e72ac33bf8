-- Extractions per (post, pipeline version), and events: stories merged across channels.

CREATE TABLE extractions (
    id                 bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    raw_message_id     bigint NOT NULL REFERENCES raw_messages (id),
    pipeline_version   text NOT NULL,
    content_sha256     text NOT NULL,             -- which version of the post was read
    topic              text NOT NULL,
    headline           text NOT NULL,
    summary            text NOT NULL,
    entities           jsonb NOT NULL DEFAULT '[]'::jsonb,
    is_breaking        boolean NOT NULL,
    breaking_window    text CHECK (breaking_window IN ('15m', '1h', '4h')),
    importance         real NOT NULL CHECK (importance BETWEEN 0 AND 1),
    language           text NOT NULL,
    provider           text NOT NULL,
    model              text NOT NULL,
    prompt_fingerprint text NOT NULL,
    latency_ms         real,
    prompt_tokens      integer,
    completion_tokens  integer,
    created_at         timestamptz NOT NULL DEFAULT now(),
    updated_at         timestamptz NOT NULL DEFAULT now(),
    UNIQUE (raw_message_id, pipeline_version)
);

CREATE TABLE events (
    id               bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    pipeline_version text NOT NULL,
    topic            text NOT NULL,
    headline         text NOT NULL,
    summary          text NOT NULL DEFAULT '',
    entities         jsonb NOT NULL DEFAULT '[]'::jsonb,
    is_breaking      boolean NOT NULL DEFAULT false,
    breaking_window  text CHECK (breaking_window IN ('15m', '1h', '4h')),
    importance       real NOT NULL DEFAULT 0,
    first_seen_at    timestamptz NOT NULL,
    last_seen_at     timestamptz NOT NULL,
    source_count     integer NOT NULL DEFAULT 0,  -- distinct channels that carried it
    created_at       timestamptz NOT NULL DEFAULT now(),
    updated_at       timestamptz NOT NULL DEFAULT now()
);

-- Digest windows select by first_seen_at; merging looks at recent events.
CREATE INDEX events_version_first_seen ON events (pipeline_version, first_seen_at);
CREATE INDEX events_version_last_seen ON events (pipeline_version, last_seen_at);

-- Each post belongs to at most one event per pipeline version.
CREATE TABLE event_sources (
    raw_message_id   bigint NOT NULL REFERENCES raw_messages (id),
    pipeline_version text NOT NULL,
    event_id         bigint NOT NULL REFERENCES events (id) ON DELETE CASCADE,
    channel_id       bigint NOT NULL,
    message_id       bigint NOT NULL,
    posted_at        timestamptz NOT NULL,
    fingerprint      text NOT NULL,               -- normalised-text hash: exact reposts
    signature        bigint[] NOT NULL,           -- MinHash of word shingles: rewordings
    bands            bigint[] NOT NULL,           -- LSH bands of the signature: candidate lookup
    added_at         timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (raw_message_id, pipeline_version)
);

CREATE INDEX event_sources_event ON event_sources (event_id);
CREATE INDEX event_sources_version_posted ON event_sources (pipeline_version, posted_at);

