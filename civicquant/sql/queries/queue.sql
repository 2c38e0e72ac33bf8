-- enqueue_messages --
-- Add a pending job per raw message for a pipeline version; existing jobs are left alone.
INSERT INTO extraction_jobs (raw_message_id, pipeline_version)
SELECT unnest(%(raw_message_ids)s::bigint[]), %(pipeline_version)s
ON CONFLICT (raw_message_id, pipeline_version) DO NOTHING;

-- requeue_messages --
-- Add or reset to pending a job per raw message for a pipeline version.
INSERT INTO extraction_jobs (raw_message_id, pipeline_version)
SELECT unnest(%(raw_message_ids)s::bigint[]), %(pipeline_version)s
ON CONFLICT (raw_message_id, pipeline_version) DO UPDATE
    SET status = 'pending', attempts = 0, available_at = now(), leased_by = NULL,
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
SELECT pg_notify('civicquant_extract', %(pipeline_version)s);

-- queue_counts --
-- Jobs per pipeline version and status.
SELECT pipeline_version, status, count(*) AS jobs
FROM extraction_jobs GROUP BY pipeline_version, status ORDER BY pipeline_version, status;

-- queue_backlog --
-- Per pipeline version: pending jobs, the oldest one's age, running, dead.
SELECT pipeline_version,
       count(*) FILTER (WHERE status IN ('pending', 'failed')) AS pending,
       count(*) FILTER (WHERE status = 'running') AS running,
       count(*) FILTER (WHERE status = 'dead') AS dead,
       extract(epoch FROM now() - min(created_at) FILTER (WHERE status IN ('pending', 'failed')))
           ::float8 AS oldest_pending_seconds
FROM extraction_jobs
WHERE status <> 'ok'
GROUP BY pipeline_version
ORDER BY pipeline_version;
