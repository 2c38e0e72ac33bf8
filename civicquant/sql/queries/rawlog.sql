-- upsert_channel --
-- Record a channel, keeping a known username, title or weight when the caller did not give one.
INSERT INTO channels (channel_id, username, title, weight)
VALUES (%(channel_id)s, %(username)s, %(title)s, coalesce(%(weight)s::real, 1))
ON CONFLICT (channel_id) DO UPDATE
    SET username = coalesce(EXCLUDED.username, channels.username),
        title = coalesce(EXCLUDED.title, channels.title),
        weight = coalesce(%(weight)s::real, channels.weight),
        updated_at = now()
RETURNING channel_id, username, title, last_message_id, last_message_at, last_parsed_at;

-- get_channel --
-- One channel's state.
SELECT channel_id, username, title, last_message_id, last_message_at, last_parsed_at
FROM channels WHERE channel_id = %(channel_id)s;

-- find_channels --
-- Channels by id or username (case-insensitive).
SELECT channel_id, username, title, last_message_id, last_message_at, last_parsed_at
FROM channels
WHERE channel_id = ANY(%(channel_ids)s::bigint[])
   OR lower(username) = ANY(%(usernames)s::text[])
ORDER BY channel_id;

-- all_channels --
-- Every known channel.
SELECT channel_id, username, title, last_message_id, last_message_at, last_parsed_at
FROM channels ORDER BY channel_id;

-- store_new_posts --
-- One statement: insert the batch's posts not stored yet and move the channel's high-water mark to the batch's newest post (with advance_mark, never back). Returns the message ids inserted, and the raw ids of those with text (for the queue); the batch's other posts were stored already.
WITH inserted AS (
    INSERT INTO raw_messages (channel_id, message_id, text, entities, media, views, forwards,
                              reply_to, grouped_id, forwarded_from, author, posted_at,
                              edit_date, content_sha256, source, sender, sender_id)
    SELECT * FROM unnest(
        %(channel_id)s::bigint[], %(message_id)s::bigint[], %(text)s::text[],
        %(entities)s::jsonb[], %(media)s::jsonb[], %(views)s::integer[], %(forwards)s::integer[],
        %(reply_to)s::bigint[], %(grouped_id)s::bigint[], %(forwarded_from)s::text[],
        %(author)s::text[], %(posted_at)s::timestamptz[], %(edit_date)s::timestamptz[],
        %(content_sha256)s::text[], %(source)s::text[], %(sender)s::text[],
        %(sender_id)s::text[])
    ON CONFLICT (channel_id, message_id) DO NOTHING
    RETURNING id, message_id, text <> '' AS has_text
), mark AS (
    UPDATE channels
    SET last_message_at = CASE WHEN %(newest_id)s::bigint >= coalesce(last_message_id, 0)
                               THEN %(newest_at)s::timestamptz ELSE last_message_at END,
        last_message_id = greatest(coalesce(last_message_id, 0), %(newest_id)s::bigint),
        updated_at = now()
    WHERE channel_id = %(mark_channel_id)s::bigint AND %(advance_mark)s::boolean
    RETURNING channel_id
)
SELECT ARRAY(SELECT message_id FROM inserted) AS inserted,
       ARRAY(SELECT id FROM inserted WHERE has_text ORDER BY id) AS with_text,
       (SELECT count(*) FROM mark) AS marked;

-- advance_mark --
-- Move a channel's high-water mark to a stored post (never back): for posts stored without it.
UPDATE channels
SET last_message_at = CASE WHEN %(newest_id)s::bigint >= coalesce(last_message_id, 0)
                           THEN %(newest_at)s::timestamptz ELSE last_message_at END,
    last_message_id = greatest(coalesce(last_message_id, 0), %(newest_id)s::bigint),
    updated_at = now()
WHERE channel_id = %(channel_id)s;

-- current_versions --
-- What the stored posts of one channel say now (latest revision, else the original).
SELECT id, message_id, text, content_sha256, edit_date FROM raw_messages_current
WHERE channel_id = %(channel_id)s AND message_id = ANY(%(message_ids)s::bigint[]);

-- insert_revisions --
-- Add new versions of edited posts.
INSERT INTO raw_message_revisions (raw_message_id, text, entities, media, edit_date,
                                   content_sha256, source)
SELECT * FROM unnest(
    %(raw_message_id)s::bigint[], %(text)s::text[], %(entities)s::jsonb[], %(media)s::jsonb[],
    %(edit_date)s::timestamptz[], %(content_sha256)s::text[], %(source)s::text[]);

-- mark_parsed --
-- Note that a reader caught this channel up just now.
UPDATE channels SET last_parsed_at = now(), updated_at = now()
WHERE channel_id = %(channel_id)s;

-- mark_deleted --
-- Mark posts deleted; nothing is removed.
UPDATE raw_messages SET deleted_at = now()
WHERE channel_id = %(channel_id)s AND message_id = ANY(%(message_ids)s::bigint[])
  AND deleted_at IS NULL;

-- channel_gaps --
-- Ranges of ids between a channel's first and last stored post that are neither stored nor known missing. Negative ids (a supergroup's basic-group past, from exports) are another peer's and Telegram cannot be asked for them: only positive ids count. Known ids outside the stored range (a service message before the first post) do not widen it. While the channel catches up (channel_catchup unfinished), only ids up to the mark it began from count: the stretch above is the catch-up's to read, not a gap.
WITH catching_up AS (
    SELECT from_id FROM channel_catchup
    WHERE channel_id = %(channel_id)s AND finished_at IS NULL
), stored AS (
    SELECT message_id FROM raw_messages
    WHERE channel_id = %(channel_id)s AND message_id > 0
      AND message_id <= coalesce((SELECT from_id FROM catching_up), message_id)
), bounds AS (
    SELECT min(message_id) AS first_id, max(message_id) AS last_id FROM stored
), known AS (
    SELECT message_id FROM stored
    UNION ALL
    SELECT m.message_id FROM missing_messages m, bounds b
    WHERE m.channel_id = %(channel_id)s AND m.message_id BETWEEN b.first_id AND b.last_id
), ordered AS (
    SELECT message_id, lead(message_id) OVER (ORDER BY message_id) AS next_id FROM known
)
SELECT message_id + 1 AS first_id, next_id - 1 AS last_id
FROM ordered WHERE next_id > message_id + 1
ORDER BY first_id;

-- gap_counts --
-- Missing ids per channel, for health: the positive id range between the first and last stored post minus what is stored or known missing inside it (index-only counts, no per-row window); negative ids, and the stretch a channel still catches up, are as in channel_gaps.
SELECT c.channel_id, c.username, c.title, c.last_message_id, c.last_message_at, c.last_parsed_at,
       c.weight,
       coalesce(r.last_id - r.first_id + 1 - r.stored - coalesce(m.known_missing, 0), 0)::bigint
           AS missing_ids
FROM channels c
LEFT JOIN LATERAL (
    SELECT min(message_id) AS first_id, max(message_id) AS last_id, count(*) AS stored
    FROM raw_messages
    WHERE channel_id = c.channel_id AND message_id > 0
      AND message_id <= coalesce(
          (SELECT u.from_id FROM channel_catchup u
           WHERE u.channel_id = c.channel_id AND u.finished_at IS NULL), message_id)
) r ON true
LEFT JOIN LATERAL (
    SELECT count(*) AS known_missing FROM missing_messages mm
    WHERE mm.channel_id = c.channel_id AND mm.message_id BETWEEN r.first_id AND r.last_id
) m ON true
ORDER BY c.channel_id;

-- record_missing --
-- Remember ids that hold no post: asked for and not there, or an export's service messages.
INSERT INTO missing_messages (channel_id, message_id)
SELECT %(channel_id)s, unnest(%(message_ids)s::bigint[])
ON CONFLICT DO NOTHING;

-- record_flood_wait --
-- Remember a FloodWait Telegram asked of us; one not slept keeps the moment it ends, per session and method.
INSERT INTO flood_waits (job_name, seconds, slept, session, method, wait_until)
VALUES (%(job_name)s, %(seconds)s, %(slept)s, %(session)s, %(method)s,
        CASE WHEN %(slept)s THEN NULL ELSE now() + make_interval(secs => %(seconds)s) END);

-- active_flood_waits --
-- FloodWaits not yet over, the latest-ending first, per session and method (one session, or all when null).
SELECT DISTINCT ON (session, method) session, job_name, method, wait_until,
       extract(epoch FROM wait_until - now())::float8 AS seconds_left
FROM flood_waits
WHERE wait_until > now() AND (%(session)s::text IS NULL OR session = %(session)s::text)
ORDER BY session, method, wait_until DESC;

-- flood_waits_since --
-- FloodWaits asked of us since a moment, per job, for health.
SELECT job_name, count(*) AS waits, sum(seconds) AS seconds, bool_or(NOT slept) AS any_too_long
FROM flood_waits WHERE created_at >= %(since)s GROUP BY job_name ORDER BY job_name;

-- posts_per_channel_source --
-- Posts in the raw log per channel and source (live, backfill, export), for health's metrics.
SELECT c.channel_id, c.username, r.source, r.posts
FROM (
    SELECT channel_id, source, count(*) AS posts FROM raw_messages GROUP BY channel_id, source
) r
JOIN channels c ON c.channel_id = r.channel_id
ORDER BY c.channel_id, r.source;
