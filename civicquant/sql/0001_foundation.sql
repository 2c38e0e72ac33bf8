-- Foundation: leases that coordinate cron-started processes, and one row per job run.

CREATE TABLE leases (
    name         text PRIMARY KEY,
    holder       text NOT NULL,
    acquired_at  timestamptz NOT NULL DEFAULT now(),
    heartbeat_at timestamptz NOT NULL DEFAULT now(),
    expires_at   timestamptz NOT NULL
);

CREATE TABLE job_runs (
    id          bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    run_id      uuid NOT NULL UNIQUE,
    job_name    text NOT NULL,
    host        text NOT NULL,
    pid         integer NOT NULL,
    started_at  timestamptz NOT NULL DEFAULT now(),
    finished_at timestamptz,
    status      text NOT NULL CHECK (status IN ('running', 'success', 'failed', 'skipped')),
    counts      jsonb NOT NULL DEFAULT '{}'::jsonb,
    error       text
);

-- health and `civicquant runs` read the latest runs of each job.
CREATE INDEX job_runs_job_name_started_at ON job_runs (job_name, started_at DESC);
CREATE INDEX job_runs_started_at ON job_runs (started_at DESC);
