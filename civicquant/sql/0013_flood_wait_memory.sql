-- A FloodWait is remembered: when Telegram asks a session to wait longer than
-- FLOODWAIT_MAX_SECONDS, the wait's end is kept per session and method, and a cron start
-- before it ends exits at once as `skipped` instead of reconnecting into the same wait.
--
-- `session` names the Telegram session without its secret: the session file's path, or a
-- hash of TG_SESSION_STRING (civicquant.ingest.reader.session_key).

ALTER TABLE flood_waits
    ADD COLUMN session    text,
    ADD COLUMN method     text,
    ADD COLUMN wait_until timestamptz;

CREATE INDEX flood_waits_until ON flood_waits (session, wait_until) WHERE wait_until IS NOT NULL;
