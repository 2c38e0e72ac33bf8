-- get_catchup --
-- One channel's catch-up: where it stands, what is left, what recheck is owed.
SELECT channel_id, from_id, from_at, to_at, position, chunk_after_id, posts_read, paused_at,
       recheck_since, recheck_until, started_at, updated_at, finished_at
FROM channel_catchup WHERE channel_id = %(channel_id)s;

-- start_catchup --
-- Begin a channel's catch-up (replacing a finished one): the stretch above from_id posted since from_at, its newest chunk from position on; finished at once when that is the whole stretch. A recheck owed widens one still owed.
INSERT INTO channel_catchup (channel_id, from_id, from_at, to_at, position, chunk_after_id,
                             posts_read, paused_at, recheck_since, recheck_until, started_at,
                             updated_at, finished_at)
VALUES (%(channel_id)s, %(from_id)s, %(from_at)s, %(to_at)s, %(position)s, NULL, 0, NULL,
        %(recheck_since)s, %(recheck_until)s, now(), now(),
        CASE WHEN %(finished)s::boolean THEN now() END)
ON CONFLICT (channel_id) DO UPDATE
    SET from_id = EXCLUDED.from_id, from_at = EXCLUDED.from_at, to_at = EXCLUDED.to_at,
        position = EXCLUDED.position, chunk_after_id = NULL, posts_read = 0, paused_at = NULL,
        recheck_since = least(channel_catchup.recheck_since, EXCLUDED.recheck_since),
        recheck_until = greatest(channel_catchup.recheck_until, EXCLUDED.recheck_until),
        started_at = now(), updated_at = now(), finished_at = EXCLUDED.finished_at;

-- resume_catchup --
-- A new run takes up an unfinished catch-up; with to_at and position, the walk starts again from there (down again for longer than a chunk). A recheck now owed widens the one still owed.
UPDATE channel_catchup
SET to_at = coalesce(%(to_at)s::timestamptz, to_at),
    position = coalesce(%(position)s::timestamptz, position),
    chunk_after_id = CASE WHEN %(position)s::timestamptz IS NULL THEN chunk_after_id END,
    recheck_since = least(recheck_since, %(recheck_since)s::timestamptz),
    recheck_until = greatest(recheck_until, %(recheck_until)s::timestamptz),
    updated_at = now()
WHERE channel_id = %(channel_id)s;

-- catchup_read --
-- Count posts a catch-up read and stored (in the transaction that stored them); with after_id, the walk's chunk in hand is stored up to that id.
UPDATE channel_catchup
SET posts_read = posts_read + %(posts)s,
    chunk_after_id = coalesce(%(after_id)s::bigint, chunk_after_id),
    updated_at = now()
WHERE channel_id = %(channel_id)s;

-- catchup_walked --
-- The walk has read everything posted from position on: the next chunk starts below it.
UPDATE channel_catchup
SET position = %(position)s, chunk_after_id = NULL, updated_at = now()
WHERE channel_id = %(channel_id)s;

-- catchup_followed --
-- Listen has followed the channel live up to to_at: a later run's head read starts there (never back).
UPDATE channel_catchup
SET to_at = greatest(to_at, %(to_at)s), updated_at = now()
WHERE channel_id = %(channel_id)s AND finished_at IS NULL;

-- catchup_paused --
-- Note that the walk stopped for the extraction backlog, or (paused false) that it goes on.
UPDATE channel_catchup
SET paused_at = CASE WHEN %(paused)s::boolean THEN coalesce(paused_at, now()) END,
    updated_at = now()
WHERE channel_id = %(channel_id)s;

-- catchup_finished --
-- The walk reached the high-water mark it began from: the catch-up is over.
UPDATE channel_catchup
SET position = from_at, chunk_after_id = NULL, paused_at = NULL, finished_at = now(),
    updated_at = now()
WHERE channel_id = %(channel_id)s;

-- catchup_rechecked --
-- The recheck owed after a downtime is done.
UPDATE channel_catchup
SET recheck_since = NULL, recheck_until = NULL, updated_at = now()
WHERE channel_id = %(channel_id)s;

-- newest_stored_post --
-- A channel's newest stored post (by id), where the high-water mark goes when its catch-up ends.
SELECT message_id, posted_at FROM raw_messages
WHERE channel_id = %(channel_id)s ORDER BY message_id DESC LIMIT 1;

-- stored_ids_between --
-- The ids of a channel's stored, not deleted posts posted in [since, until): what a recheck expects Telegram to return.
SELECT message_id FROM raw_messages
WHERE channel_id = %(channel_id)s AND message_id > 0
  AND posted_at >= %(since)s AND posted_at < %(until)s AND deleted_at IS NULL
ORDER BY message_id;

-- catchup_positions --
-- Every channel's catch-up, for health.
SELECT c.channel_id, c.username, u.from_id, u.from_at, u.to_at, u.position, u.posts_read,
       u.paused_at, u.started_at, u.finished_at, u.recheck_since IS NOT NULL AS recheck_owed
FROM channels c JOIN channel_catchup u ON u.channel_id = c.channel_id
ORDER BY c.channel_id;
