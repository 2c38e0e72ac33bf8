-- enqueue_messages --
-- Add a pending job per raw message for a pipeline version, at a priority; existing jobs are left alone.
INSERT INTO extraction_jobs (raw_message_id, pipeline_version, priority)
SELECT unnest(%(raw_message_ids)s::bigint[]), %(pipeline_version)s, %(priority)s
ON CONFLICT (raw_message_id, pipeline_version) DO NOTHING;

-- requeue_messages --
-- Add or reset to pending a job per raw message for a pipeline version, at a priority.
INSERT INTO extraction_jobs (raw_message_id, pipeline_version, priority)
SELECT unnest(%(raw_message_ids)s::bigint[]), %(pipeline_version)s, %(priority)s
ON CONFLICT (raw_message_id, pipeline_version) DO UPDATE
    SET status = 'pending', attempts = 0, available_at = now(), leased_by = NULL,
        priority = EXCLUDED.priority,
        lease_expires_at = NULL, last_error = NULL, error_class = NULL,
        updated_at = now(), finished_at = NULL;

-- select_for_enqueue --
-- Raw messages in a window (and channels) with text, oldest first; with only_new, those without a job for the version.
SELECT m.id
FROM raw_messages_current m
WHERE (%(since)s::timestamptz IS NULL OR m.posted_at >= %(since)s::timestamptz)
  AND (%(until)s::timestamptz IS NULL OR m.posted_at < %(until)s::timestamptz)
  AND (%(channel_ids)s::bigint[] IS NULL OR m.channel_id = ANY(%(channel_ids)s::bigint[]))
  AND m.deleted_at IS NULL
  AND m.text <> ''
  AND (NOT %(only_new)s::boolean OR NOT EXISTS (
        SELECT 1 FROM extraction_jobs j
        WHERE j.raw_message_id = m.id AND j.pipeline_version = %(pipeline_version)s))
ORDER BY m.posted_at, m.id
LIMIT %(limit)s;

-- notify_extract --
-- Wake waiting extract workers (delivered when the transaction commits).
SELECT pg_notify(%(channel)s, %(pipeline_version)s);

-- queue_counts --
-- Jobs per pipeline version and status.
SELECT pipeline_version, status, count(*) AS jobs
FROM extraction_jobs GROUP BY pipeline_version, status ORDER BY pipeline_version, status;

-- queue_backlog --
-- Per pipeline version and status: jobs and the oldest one's age, for health's backlog and metrics in one scan.
SELECT pipeline_version, status, count(*) AS jobs,
       extract(epoch FROM now() - min(created_at))::float8 AS oldest_seconds
FROM extraction_jobs
GROUP BY pipeline_version, status
ORDER BY pipeline_version, status;

-- reclaim_expired_jobs --
-- Jobs whose worker died (lease expired while running) become claimable again.
UPDATE extraction_jobs
SET status = 'pending', leased_by = NULL, lease_expires_at = NULL, updated_at = now()
WHERE status = 'running' AND lease_expires_at < now();

-- extend_job_leases --
-- Keep the leases of the jobs this worker is still working on.
UPDATE extraction_jobs
SET lease_expires_at = now() + make_interval(secs => %(lease_seconds)s)
WHERE leased_by = %(worker)s AND status = 'running';

-- complete_jobs --
-- Mark jobs done, only those this worker still holds; returns the ids it may write results for.
UPDATE extraction_jobs
SET status = 'ok', leased_by = NULL, lease_expires_at = NULL, last_error = NULL,
    error_class = NULL, finished_at = now(), updated_at = now()
WHERE id = ANY(%(ids)s::bigint[]) AND leased_by = %(worker)s AND status = 'running'
RETURNING id, raw_message_id;

-- complete_and_claim_jobs --
-- Mark the jobs this worker finished done (none: a plain claim) and lease the next runnable ones, skipping rows other workers hold: one statement, one commit. Rows with done = true are the completed jobs this worker still held; the others are the claimed jobs with their post's current text.
WITH finished AS (
    UPDATE extraction_jobs
    SET status = 'ok', leased_by = NULL, lease_expires_at = NULL, last_error = NULL,
        error_class = NULL, finished_at = now(), updated_at = now()
    WHERE id = ANY(%(done_ids)s::bigint[]) AND leased_by = %(worker)s AND status = 'running'
    RETURNING id, raw_message_id
), claimed AS (
    -- `id = ANY(ARRAY(...))` makes every plan fetch the claimed rows by primary key: joined
    -- to the candidates instead, a plan for 100 rows hash-joins a scan of the whole table.
    UPDATE extraction_jobs j
    SET status = 'running', attempts = j.attempts + 1, leased_by = %(worker)s,
        lease_expires_at = now() + make_interval(secs => %(lease_seconds)s), updated_at = now()
    FROM raw_messages_current m
    WHERE j.id = ANY(ARRAY(
            SELECT id FROM extraction_jobs
            WHERE pipeline_version = %(pipeline_version)s
              AND status IN ('pending', 'failed')
              AND available_at <= now()
            ORDER BY priority DESC, available_at, id
            LIMIT %(limit)s
            FOR UPDATE SKIP LOCKED))
      AND m.id = j.raw_message_id
    RETURNING j.id, j.raw_message_id, j.attempts, m.text, m.content_sha256, m.channel_id,
              m.message_id, m.posted_at
)
SELECT true AS done, id, raw_message_id, NULL::integer AS attempts, NULL::text AS text,
       NULL::text AS content_sha256, NULL::bigint AS channel_id, NULL::bigint AS message_id,
       NULL::timestamptz AS posted_at
FROM finished
UNION ALL
SELECT false, id, raw_message_id, attempts, text, content_sha256, channel_id, message_id,
       posted_at
FROM claimed;

-- fail_jobs --
-- Record failures: retry later with backoff, or dead after the last attempt.
UPDATE extraction_jobs j
SET status = CASE WHEN j.attempts >= %(max_attempts)s THEN 'dead' ELSE 'failed' END,
    available_at = now() + make_interval(secs => f.delay_seconds),
    leased_by = NULL, lease_expires_at = NULL, last_error = f.error, error_class = f.error_class,
    finished_at = CASE WHEN j.attempts >= %(max_attempts)s THEN now() END,
    updated_at = now()
FROM unnest(%(ids)s::bigint[], %(errors)s::text[], %(error_classes)s::text[],
            %(delays)s::float8[]) AS f(id, error, error_class, delay_seconds)
WHERE j.id = f.id AND j.leased_by = %(worker)s AND j.status = 'running'
RETURNING j.id, j.status;

-- release_jobs --
-- Give jobs back untouched (shutdown before they were worked on): not counted as an attempt.
UPDATE extraction_jobs
SET status = 'pending', attempts = greatest(attempts - 1, 0), leased_by = NULL,
    lease_expires_at = NULL, updated_at = now()
WHERE id = ANY(%(ids)s::bigint[]) AND leased_by = %(worker)s AND status = 'running';

-- use_generic_plans --
-- For a connection that runs only the queue's statements: plan each prepared statement once. Their plans do not depend on the values (one index, fetches by key), and planning a claim costs twice what running it does.
SET plan_cache_mode = force_generic_plan;

-- use_custom_plans --
-- Back to PostgreSQL's default choice between custom and generic plans.
RESET plan_cache_mode;

-- waiting_jobs --
-- How many jobs of a pipeline version wait to be worked (pending, or failed awaiting retry), counting no further than at_most (listen's catch-up asks whether the backlog is above its watermark).
SELECT count(*) AS jobs FROM (
    SELECT 1 FROM extraction_jobs
    WHERE pipeline_version = %(pipeline_version)s AND status IN ('pending', 'failed')
    LIMIT %(at_most)s
) waiting;
