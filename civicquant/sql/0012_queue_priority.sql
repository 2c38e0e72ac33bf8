-- Queue priority: live posts before backfill before reparse.
--
-- Each job carries a `priority` (higher first; civicquant.queue.PRIORITIES names them:
-- live 30, backfill 20, reparse 10); claims take the highest first and FIFO within it.
-- Jobs queued before this migration get the backfill priority. The claimable index is
-- rebuilt with the priority first, so a claim still reads only the head of one index.

ALTER TABLE extraction_jobs ADD COLUMN priority smallint NOT NULL DEFAULT 20;

DROP INDEX extraction_jobs_claimable;
CREATE INDEX extraction_jobs_claimable
    ON extraction_jobs (pipeline_version, priority DESC, available_at, id)
    WHERE status IN ('pending', 'failed');
