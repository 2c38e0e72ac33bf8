-- The extraction work queue: one job per (raw message, pipeline version).

CREATE TABLE extraction_jobs (
    id               bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    raw_message_id   bigint NOT NULL REFERENCES raw_messages (id),
    pipeline_version text NOT NULL,
    status           text NOT NULL DEFAULT 'pending'
                     CHECK (status IN ('pending', 'running', 'ok', 'failed', 'dead')),
    attempts         integer NOT NULL DEFAULT 0,
    available_at     timestamptz NOT NULL DEFAULT now(),
    leased_by        text,
    lease_expires_at timestamptz,
    last_error       text,
    error_class      text CHECK (error_class IN ('provider_error', 'validation_error', 'persistence_error')),
    created_at       timestamptz NOT NULL DEFAULT now(),
    updated_at       timestamptz NOT NULL DEFAULT now(),
    finished_at      timestamptz,
    UNIQUE (raw_message_id, pipeline_version)
);

-- Claiming looks only at jobs that can run: millions of `ok` rows never enter this index.
CREATE INDEX extraction_jobs_claimable
    ON extraction_jobs (pipeline_version, available_at, id)
    WHERE status IN ('pending', 'failed');
-- Jobs whose worker died are found by their expired lease.
CREATE INDEX extraction_jobs_running
    ON extraction_jobs (lease_expires_at)
    WHERE status = 'running';
