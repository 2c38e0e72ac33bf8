-- A publication is keyed by its window's end too, so a route whose cadence changes
-- (VIP_DIGEST_HOURS, a routes file's `every`) never takes one window for another: a
-- 08:00-10:00 window is not the 08:00-12:00 one. Digest windows also chain: a scheduled
-- run starts its window where the route's last published window ended (see
-- civicquant.publish.digest), so no stretch of time is skipped or published twice.

DROP INDEX published_posts_once;
CREATE UNIQUE INDEX published_posts_once
    ON published_posts (queue, chat_id, window_start, window_end, coalesce(event_id, 0),
                        item_key);
CREATE INDEX published_posts_window_end ON published_posts (queue, chat_id, window_end DESC)
    WHERE event_id IS NULL;
