-- Crash leftovers: a `running` job run whose process is gone (SIGKILL, OOM, a reboot) is
-- marked `abandoned` by the next run started on its host, and counts as a failure for
-- health and ALERT_AFTER_FAILURES.

ALTER TABLE job_runs DROP CONSTRAINT job_runs_status_check;
ALTER TABLE job_runs ADD CONSTRAINT job_runs_status_check
    CHECK (status IN ('running', 'success', 'failed', 'skipped', 'abandoned'));

-- Every run start looks for its host's running rows: a handful among all the runs kept.
CREATE INDEX job_runs_running_on_host ON job_runs (host) WHERE status = 'running';
