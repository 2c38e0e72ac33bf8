-- Pausing a job: `civicquant pause JOB` keeps a row here; while it is active (no `until`,
-- or `until` still ahead) every cron run of the job exits 0 at once as `paused`, recorded
-- in job_runs, and `health` shows the job as paused (who, when, why, until when) instead of
-- stale or down. Past its `until` the pause no longer applies: the job runs again, and
-- health judges it from the pause's end. `civicquant resume JOB` deletes the row.

CREATE TABLE job_pauses (
    job_name  text PRIMARY KEY,
    paused_by text NOT NULL,
    paused_at timestamptz NOT NULL DEFAULT now(),
    until     timestamptz,
    reason    text
);

-- A paused run is recorded as such ('abandoned' is a crashed run found later).
ALTER TABLE job_runs DROP CONSTRAINT job_runs_status_check;
ALTER TABLE job_runs ADD CONSTRAINT job_runs_status_check
    CHECK (status IN ('running', 'success', 'failed', 'skipped', 'paused', 'abandoned'));
