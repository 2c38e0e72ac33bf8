-- start_job_run --
-- Record a job run as it starts.
INSERT INTO job_runs (run_id, job_name, host, pid, status, finished_at)
VALUES (%(run_id)s, %(job_name)s, %(host)s, %(pid)s, %(status)s,
        CASE WHEN %(status)s = 'running' THEN NULL ELSE now() END);

-- record_skipped_run --
-- Record a run that found its job's lease held by a live process.
INSERT INTO job_runs (run_id, job_name, host, pid, status, finished_at, counts)
VALUES (%(run_id)s, %(job_name)s, %(host)s, %(pid)s, 'skipped', now(), %(counts)s);

-- finish_job_run --
-- Record how a job run ended.
UPDATE job_runs
SET status = %(status)s, finished_at = now(), counts = %(counts)s, error = %(error)s
WHERE run_id = %(run_id)s;

-- recent_job_runs --
-- The latest job runs, newest first, optionally for one job.
SELECT run_id, job_name, host, pid, started_at, finished_at, status, counts, error
FROM job_runs
WHERE %(job_name)s::text IS NULL OR job_name = %(job_name)s::text
ORDER BY started_at DESC, id DESC
LIMIT %(limit)s;

-- job_freshness --
-- Per monitored job: its last success, its last run, and failures since the last success.
WITH jobs AS (SELECT unnest(%(jobs)s::text[]) AS job_name)
SELECT jobs.job_name,
       last_ok.finished_at AS last_success_at,
       last_run.status AS last_status,
       last_run.started_at AS last_started_at,
       last_run.error AS last_error,
       (SELECT count(*) FROM job_runs f
         WHERE f.job_name = jobs.job_name AND f.status = 'failed'
           AND f.started_at > coalesce(last_ok.started_at, '-infinity')) AS consecutive_failures
FROM jobs
LEFT JOIN LATERAL (
    SELECT started_at, finished_at FROM job_runs r
    WHERE r.job_name = jobs.job_name AND r.status = 'success'
    ORDER BY r.started_at DESC LIMIT 1
) last_ok ON true
LEFT JOIN LATERAL (
    SELECT status, started_at, error FROM job_runs r
    WHERE r.job_name = jobs.job_name AND r.status <> 'skipped'
    ORDER BY r.started_at DESC LIMIT 1
) last_run ON true
ORDER BY jobs.job_name;

-- failure_streak --
-- Failed runs of a job since its last success, not counting the given run; the first failure's start and the latest error.
SELECT count(*) AS failures, min(f.started_at) AS streak_started_at,
       (array_agg(f.error ORDER BY f.started_at DESC))[1] AS last_error
FROM job_runs f
WHERE f.job_name = %(job_name)s AND f.status = 'failed' AND f.run_id <> %(run_id)s
  AND f.started_at > coalesce(
        (SELECT max(s.started_at) FROM job_runs s
         WHERE s.job_name = %(job_name)s AND s.status = 'success' AND s.run_id <> %(run_id)s),
        '-infinity');

-- pause_job --
-- Pause a job (or change its pause): who, until when, why.
INSERT INTO job_pauses (job_name, paused_by, until, reason)
VALUES (%(job_name)s, %(paused_by)s, %(until)s, %(reason)s)
ON CONFLICT (job_name) DO UPDATE
    SET paused_by = EXCLUDED.paused_by, paused_at = now(), until = EXCLUDED.until,
        reason = EXCLUDED.reason
RETURNING job_name, paused_by, paused_at, until, reason, true AS active;

-- resume_job --
-- Lift a job's pause; returns it, if there was one.
DELETE FROM job_pauses WHERE job_name = %(job_name)s
RETURNING job_name, paused_by, paused_at, until, reason, (until IS NULL OR until > now()) AS active;

-- job_pauses --
-- Pauses of the given jobs (every job when null), with whether each still applies.
SELECT job_name, paused_by, paused_at, until, reason, (until IS NULL OR until > now()) AS active
FROM job_pauses
WHERE %(jobs)s::text[] IS NULL OR job_name = ANY(%(jobs)s::text[])
ORDER BY job_name;

-- record_paused_run --
-- Record a run that did nothing because its job is paused.
INSERT INTO job_runs (run_id, job_name, host, pid, status, finished_at, counts)
VALUES (%(run_id)s, %(job_name)s, %(host)s, %(pid)s, 'paused', now(), %(counts)s);
