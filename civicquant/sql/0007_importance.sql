-- Importance: how much the operator trusts each channel, and which events each digest
-- window published.
--
-- `channels.weight` comes from TG_SOURCE_CHANNELS (`@reuters:2`), written when a reader
-- resolves the channel; an event's importance scales each source's reading by it
-- (refresh_events in queries/events.sql). `published_posts.event_ids` lists the events a
-- digest window showed, fixed with its parts at reservation, so a breaking queue never
-- publishes an event (or one merged into it) in a later window again.

ALTER TABLE channels
    ADD COLUMN weight real NOT NULL DEFAULT 1 CHECK (weight BETWEEN 0 AND 10);

ALTER TABLE published_posts
    ADD COLUMN event_ids bigint[] NOT NULL DEFAULT '{}';

-- "Did this queue publish the event before?" is asked per queue and chat, of few rows.
CREATE INDEX published_posts_queue_events ON published_posts USING gin (event_ids)
    WHERE event_ids <> '{}';
