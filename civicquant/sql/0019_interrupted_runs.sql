-- An interrupted run: SIGINT or SIGTERM ended it before its work was done (an operator's
-- Ctrl-C, a shutdown). Its counts say how far it got; what it stored is kept. It is not a
-- success (health's freshness does not count it) and not a failure (it never counts toward
-- ALERT_AFTER_FAILURES, so a Ctrl-C never pages the ops chat, nor ends a failure streak).

ALTER TABLE job_runs DROP CONSTRAINT job_runs_status_check;
ALTER TABLE job_runs ADD CONSTRAINT job_runs_status_check
    CHECK (status IN ('running', 'success', 'failed', 'skipped', 'paused', 'abandoned',
                      'interrupted'));
