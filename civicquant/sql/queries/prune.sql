-- prune_now --
-- The database's clock: retention cut-offs are measured against it, not the host's.
SELECT now() AS now;

-- prune_job_runs_keep --
-- The latest success of each job: kept whatever its age, so health can still say when it last succeeded.
SELECT DISTINCT ON (job_name) id
FROM job_runs
WHERE status = 'success'
ORDER BY job_name, started_at DESC, id DESC;

-- prune_job_runs_summary --
-- Job runs started before the cut-off (but the kept latest successes): how many, oldest, newest, days.
SELECT count(*) AS rows, min(started_at) AS oldest, max(started_at) AS newest,
       count(DISTINCT (started_at AT TIME ZONE 'UTC')::date) AS days, 0::bigint AS revisions
FROM job_runs
WHERE started_at < %(cutoff)s AND id <> ALL(%(keep_ids)s::bigint[]);

-- prune_job_runs_batch --
-- The next prunable job runs after a key, in key order, each as its archive line and UTC day.
SELECT j.id AS key, (j.started_at AT TIME ZONE 'UTC')::date AS day, to_jsonb(j)::text AS line
FROM job_runs j
WHERE j.id > %(after)s AND j.started_at < %(cutoff)s AND j.id <> ALL(%(keep_ids)s::bigint[])
ORDER BY j.id
LIMIT %(limit)s;

-- prune_job_runs_delete --
-- Delete archived job runs by key, only those still prunable.
DELETE FROM job_runs
WHERE id = ANY(%(ids)s::bigint[]) AND started_at < %(cutoff)s
  AND id <> ALL(%(keep_ids)s::bigint[]);

-- prune_job_runs_delete_next --
-- Delete the next batch of prunable job runs after a key (no archive); returns how many and the last key.
WITH batch AS (
    SELECT id FROM job_runs
    WHERE id > %(after)s AND started_at < %(cutoff)s AND id <> ALL(%(keep_ids)s::bigint[])
    ORDER BY id
    LIMIT %(limit)s
    FOR UPDATE
), deleted AS (
    DELETE FROM job_runs j USING batch b WHERE j.id = b.id RETURNING j.id
)
SELECT count(*) AS rows, max(id) AS last_key, 0::bigint AS revisions FROM deleted;

-- prune_job_runs_restore --
-- Put archived job runs back under their own ids; a row whose id or run id is present is skipped.
INSERT INTO job_runs (id, run_id, job_name, host, pid, started_at, finished_at, status, counts,
                      error)
OVERRIDING SYSTEM VALUE
SELECT id, run_id, job_name, host, pid, started_at, finished_at, status, counts, error
FROM jsonb_populate_recordset(NULL::job_runs, %(rows)s::jsonb)
ON CONFLICT DO NOTHING
RETURNING id;

-- prune_job_runs_vacuum --
-- Reclaim the space of deleted job runs and refresh the planner's statistics.
VACUUM (ANALYZE) job_runs;

-- prune_extraction_jobs_summary --
-- Finished jobs (ok, dead) of retired pipeline versions finished before the cut-off.
SELECT count(*) AS rows, min(coalesce(finished_at, updated_at)) AS oldest,
       max(coalesce(finished_at, updated_at)) AS newest,
       count(DISTINCT (coalesce(finished_at, updated_at) AT TIME ZONE 'UTC')::date) AS days,
       0::bigint AS revisions
FROM extraction_jobs
WHERE status IN ('ok', 'dead') AND pipeline_version <> %(pipeline_version)s
  AND coalesce(finished_at, updated_at) < %(cutoff)s;

-- prune_extraction_jobs_batch --
-- The next prunable extraction jobs after a key, in key order, each as its archive line and UTC day.
SELECT j.id AS key, (coalesce(j.finished_at, j.updated_at) AT TIME ZONE 'UTC')::date AS day,
       to_jsonb(j)::text AS line
FROM extraction_jobs j
WHERE j.id > %(after)s AND j.status IN ('ok', 'dead')
  AND j.pipeline_version <> %(pipeline_version)s
  AND coalesce(j.finished_at, j.updated_at) < %(cutoff)s
ORDER BY j.id
LIMIT %(limit)s;

-- prune_extraction_jobs_delete --
-- Delete archived extraction jobs by key, only those still finished, retired and old (a requeued one stays).
DELETE FROM extraction_jobs
WHERE id = ANY(%(ids)s::bigint[]) AND status IN ('ok', 'dead')
  AND pipeline_version <> %(pipeline_version)s
  AND coalesce(finished_at, updated_at) < %(cutoff)s;

-- prune_extraction_jobs_delete_next --
-- Delete the next batch of prunable extraction jobs after a key (no archive); returns how many and the last key.
WITH batch AS (
    SELECT id FROM extraction_jobs
    WHERE id > %(after)s AND status IN ('ok', 'dead')
      AND pipeline_version <> %(pipeline_version)s
      AND coalesce(finished_at, updated_at) < %(cutoff)s
    ORDER BY id
    LIMIT %(limit)s
    FOR UPDATE
), deleted AS (
    DELETE FROM extraction_jobs j USING batch b WHERE j.id = b.id RETURNING j.id
)
SELECT count(*) AS rows, max(id) AS last_key, 0::bigint AS revisions FROM deleted;

-- prune_extraction_jobs_restore --
-- Put archived extraction jobs back under their own ids; a row whose id or (post, version) is present is skipped.
INSERT INTO extraction_jobs (id, raw_message_id, pipeline_version, status, attempts, available_at,
                             leased_by, lease_expires_at, last_error, error_class, created_at,
                             updated_at, finished_at)
OVERRIDING SYSTEM VALUE
SELECT id, raw_message_id, pipeline_version, status, attempts, available_at, leased_by,
       lease_expires_at, last_error, error_class, created_at, updated_at, finished_at
FROM jsonb_populate_recordset(NULL::extraction_jobs, %(rows)s::jsonb)
ON CONFLICT DO NOTHING
RETURNING id;

-- prune_extraction_jobs_vacuum --
-- Reclaim the space of deleted extraction jobs and refresh the planner's statistics.
VACUUM (ANALYZE) extraction_jobs;

-- prune_published_posts_summary --
-- Publications sent before the cut-off (reserved and failed ones are never pruned).
SELECT count(*) AS rows, min(sent_at) AS oldest, max(sent_at) AS newest,
       count(DISTINCT (sent_at AT TIME ZONE 'UTC')::date) AS days, 0::bigint AS revisions
FROM published_posts
WHERE status = 'sent' AND sent_at < %(cutoff)s;

-- prune_published_posts_batch --
-- The next prunable publications after a key, in key order, each as its archive line and UTC day.
SELECT p.id AS key, (p.sent_at AT TIME ZONE 'UTC')::date AS day, to_jsonb(p)::text AS line
FROM published_posts p
WHERE p.id > %(after)s AND p.status = 'sent' AND p.sent_at < %(cutoff)s
ORDER BY p.id
LIMIT %(limit)s;

-- prune_published_posts_delete --
-- Delete archived publications by key, only those still sent before the cut-off.
DELETE FROM published_posts
WHERE id = ANY(%(ids)s::bigint[]) AND status = 'sent' AND sent_at < %(cutoff)s;

-- prune_published_posts_delete_next --
-- Delete the next batch of prunable publications after a key (no archive); returns how many and the last key.
WITH batch AS (
    SELECT id FROM published_posts
    WHERE id > %(after)s AND status = 'sent' AND sent_at < %(cutoff)s
    ORDER BY id
    LIMIT %(limit)s
    FOR UPDATE
), deleted AS (
    DELETE FROM published_posts p USING batch b WHERE p.id = b.id RETURNING p.id
)
SELECT count(*) AS rows, max(id) AS last_key, 0::bigint AS revisions FROM deleted;

-- prune_published_posts_restore --
-- Put archived sent publications back under their own ids; a row whose id or window/alert is present, or that was never sent (prune archives only sent ones), is skipped.
INSERT INTO published_posts (id, queue, chat_id, window_start, window_end, event_id, item_key,
                             pipeline_version, content_sha256, parts, message_ids, sending_part,
                             status, error, reserved_by, reserved_at, sent_at, updated_at,
                             event_ids)
OVERRIDING SYSTEM VALUE
SELECT id, queue, chat_id, window_start, window_end, event_id, item_key, pipeline_version,
       content_sha256, parts, message_ids, sending_part, status, error, reserved_by, reserved_at,
       sent_at, updated_at,
       -- Archives written before 0007_importance have no event_ids.
       coalesce(event_ids, '{}')
FROM jsonb_populate_recordset(NULL::published_posts, %(rows)s::jsonb)
WHERE status = 'sent' AND sent_at IS NOT NULL
ON CONFLICT DO NOTHING
RETURNING id;

-- prune_published_posts_vacuum --
-- Reclaim the space of deleted publications and refresh the planner's statistics.
VACUUM (ANALYZE) published_posts;

-- prune_raw_messages_summary --
-- Posts before the cut-off that no extraction job, extraction or event source (of any version) refers to, and their revisions.
SELECT count(*) AS rows, min(m.posted_at) AS oldest, max(m.posted_at) AS newest,
       count(DISTINCT (m.posted_at AT TIME ZONE 'UTC')::date) AS days,
       coalesce(sum((SELECT count(*) FROM raw_message_revisions r
                     WHERE r.raw_message_id = m.id)), 0)::bigint AS revisions
FROM raw_messages m
WHERE m.posted_at < %(cutoff)s
  AND NOT EXISTS (SELECT 1 FROM extraction_jobs j WHERE j.raw_message_id = m.id)
  AND NOT EXISTS (SELECT 1 FROM extractions x WHERE x.raw_message_id = m.id)
  AND NOT EXISTS (SELECT 1 FROM event_sources s WHERE s.raw_message_id = m.id);

-- prune_raw_messages_batch --
-- The next prunable posts after a key, in key order, each as its archive line and UTC day.
SELECT m.id AS key, (m.posted_at AT TIME ZONE 'UTC')::date AS day, to_jsonb(m)::text AS line
FROM raw_messages m
WHERE m.id > %(after)s AND m.posted_at < %(cutoff)s
  AND NOT EXISTS (SELECT 1 FROM extraction_jobs j WHERE j.raw_message_id = m.id)
  AND NOT EXISTS (SELECT 1 FROM extractions x WHERE x.raw_message_id = m.id)
  AND NOT EXISTS (SELECT 1 FROM event_sources s WHERE s.raw_message_id = m.id)
ORDER BY m.id
LIMIT %(limit)s;

-- prune_raw_message_revisions_of --
-- The revisions of some posts, by post then revision, each as its archive line and its post's UTC day.
SELECT r.id AS key, r.raw_message_id, (m.posted_at AT TIME ZONE 'UTC')::date AS day,
       to_jsonb(r)::text AS line
FROM raw_message_revisions r
JOIN raw_messages m ON m.id = r.raw_message_id
WHERE r.raw_message_id = ANY(%(ids)s::bigint[])
ORDER BY r.raw_message_id, r.id;

-- prune_raw_messages_delete --
-- Delete archived posts with their archived revisions in one statement; a post still referred to, or with a revision the archive lacks, stays.
WITH locked AS (
    SELECT m.id FROM raw_messages m
    WHERE m.id = ANY(%(ids)s::bigint[]) AND m.posted_at < %(cutoff)s
      AND NOT EXISTS (SELECT 1 FROM extraction_jobs j WHERE j.raw_message_id = m.id)
      AND NOT EXISTS (SELECT 1 FROM extractions x WHERE x.raw_message_id = m.id)
      AND NOT EXISTS (SELECT 1 FROM event_sources s WHERE s.raw_message_id = m.id)
    FOR UPDATE
), complete AS (
    SELECT l.id FROM locked l
    WHERE NOT EXISTS (
        SELECT 1 FROM raw_message_revisions r
        WHERE r.raw_message_id = l.id AND r.id <> ALL(%(revision_ids)s::bigint[]))
), revisions AS (
    DELETE FROM raw_message_revisions r USING complete c
    WHERE r.raw_message_id = c.id RETURNING r.id
), deleted AS (
    DELETE FROM raw_messages m USING complete c WHERE m.id = c.id RETURNING m.id
)
SELECT (SELECT count(*) FROM deleted) AS rows, (SELECT count(*) FROM revisions) AS revisions;

-- prune_raw_messages_delete_next --
-- Delete the next batch of prunable posts after a key with all their revisions (no archive); returns how many and the last key.
WITH batch AS (
    SELECT m.id FROM raw_messages m
    WHERE m.id > %(after)s AND m.posted_at < %(cutoff)s
      AND NOT EXISTS (SELECT 1 FROM extraction_jobs j WHERE j.raw_message_id = m.id)
      AND NOT EXISTS (SELECT 1 FROM extractions x WHERE x.raw_message_id = m.id)
      AND NOT EXISTS (SELECT 1 FROM event_sources s WHERE s.raw_message_id = m.id)
    ORDER BY m.id
    LIMIT %(limit)s
    FOR UPDATE
), revisions AS (
    DELETE FROM raw_message_revisions r USING batch b
    WHERE r.raw_message_id = b.id RETURNING r.id
), deleted AS (
    DELETE FROM raw_messages m USING batch b WHERE m.id = b.id RETURNING m.id
)
SELECT count(*) AS rows, max(id) AS last_key, (SELECT count(*) FROM revisions) AS revisions
FROM deleted;

-- prune_raw_messages_restore --
-- Put archived posts back under their own ids; a post whose id or (channel, message id) is present is skipped.
INSERT INTO raw_messages (id, channel_id, message_id, text, entities, media, views, forwards,
                          reply_to, grouped_id, forwarded_from, author, posted_at, edit_date,
                          content_sha256, source, ingested_at, deleted_at, sender, sender_id)
OVERRIDING SYSTEM VALUE
SELECT id, channel_id, message_id, text, entities, media, views, forwards, reply_to, grouped_id,
       forwarded_from, author, posted_at, edit_date, content_sha256, source, ingested_at,
       deleted_at, sender, sender_id
FROM jsonb_populate_recordset(NULL::raw_messages, %(rows)s::jsonb)
ON CONFLICT DO NOTHING
RETURNING id;

-- prune_raw_message_revisions_restore --
-- Put archived revisions back under their own ids (their posts first); a present id is skipped.
INSERT INTO raw_message_revisions (id, raw_message_id, text, entities, media, edit_date,
                                   content_sha256, source, seen_at)
OVERRIDING SYSTEM VALUE
SELECT id, raw_message_id, text, entities, media, edit_date, content_sha256, source, seen_at
FROM jsonb_populate_recordset(NULL::raw_message_revisions, %(rows)s::jsonb)
ON CONFLICT DO NOTHING
RETURNING id;

-- prune_raw_messages_vacuum --
-- Reclaim the space of deleted posts and refresh the planner's statistics.
VACUUM (ANALYZE) raw_messages;

-- prune_raw_message_revisions_vacuum --
-- Reclaim the space of deleted revisions and refresh the planner's statistics.
VACUUM (ANALYZE) raw_message_revisions;

-- prune_job_runs_present --
-- Which of these ids a job_runs row has (a restored row skipped for its id, not another key).
SELECT id FROM job_runs WHERE id = ANY(%(ids)s::bigint[]);

-- prune_job_runs_advance_ids --
-- Move the id sequence past the highest id, so rows put back under their own ids never collide with new ones.
SELECT setval(seq, top)
FROM (SELECT pg_get_serial_sequence('job_runs', 'id')::regclass AS seq) s,
     (SELECT max(id) AS top FROM job_runs) m
WHERE top > coalesce(pg_sequence_last_value(seq), 0);

-- prune_extraction_jobs_present --
-- Which of these ids a extraction_jobs row has (a restored row skipped for its id, not another key).
SELECT id FROM extraction_jobs WHERE id = ANY(%(ids)s::bigint[]);

-- prune_extraction_jobs_advance_ids --
-- Move the id sequence past the highest id, so rows put back under their own ids never collide with new ones.
SELECT setval(seq, top)
FROM (SELECT pg_get_serial_sequence('extraction_jobs', 'id')::regclass AS seq) s,
     (SELECT max(id) AS top FROM extraction_jobs) m
WHERE top > coalesce(pg_sequence_last_value(seq), 0);

-- prune_published_posts_present --
-- Which of these ids a published_posts row has (a restored row skipped for its id, not another key).
SELECT id FROM published_posts WHERE id = ANY(%(ids)s::bigint[]);

-- prune_published_posts_advance_ids --
-- Move the id sequence past the highest id, so rows put back under their own ids never collide with new ones.
SELECT setval(seq, top)
FROM (SELECT pg_get_serial_sequence('published_posts', 'id')::regclass AS seq) s,
     (SELECT max(id) AS top FROM published_posts) m
WHERE top > coalesce(pg_sequence_last_value(seq), 0);

-- prune_raw_messages_present --
-- Which of these ids a raw_messages row has (a restored row skipped for its id, not another key).
SELECT id FROM raw_messages WHERE id = ANY(%(ids)s::bigint[]);

-- prune_raw_messages_advance_ids --
-- Move the id sequence past the highest id, so rows put back under their own ids never collide with new ones.
SELECT setval(seq, top)
FROM (SELECT pg_get_serial_sequence('raw_messages', 'id')::regclass AS seq) s,
     (SELECT max(id) AS top FROM raw_messages) m
WHERE top > coalesce(pg_sequence_last_value(seq), 0);

-- prune_raw_message_revisions_present --
-- Which of these ids a raw_message_revisions row has (a restored row skipped for its id, not another key).
SELECT id FROM raw_message_revisions WHERE id = ANY(%(ids)s::bigint[]);

-- prune_raw_message_revisions_advance_ids --
-- Move the id sequence past the highest id, so rows put back under their own ids never collide with new ones.
SELECT setval(seq, top)
FROM (SELECT pg_get_serial_sequence('raw_message_revisions', 'id')::regclass AS seq) s,
     (SELECT max(id) AS top FROM raw_message_revisions) m
WHERE top > coalesce(pg_sequence_last_value(seq), 0);
