-- reserve_publication --
-- Reserve a window or an alert before the first send; returns the row only when this call created it.
INSERT INTO published_posts (queue, chat_id, window_start, window_end, event_id, item_key,
                             pipeline_version, content_sha256, parts, status, reserved_by,
                             event_ids)
VALUES (%(queue)s, %(chat_id)s, %(window_start)s, %(window_end)s, %(event_id)s, %(item_key)s,
        %(pipeline_version)s, %(content_sha256)s, %(parts)s, 'reserved', %(reserved_by)s,
        %(event_ids)s::bigint[])
ON CONFLICT (queue, chat_id, window_start, window_end, coalesce(event_id, 0), item_key)
DO NOTHING
RETURNING id, queue, chat_id, window_start, window_end, event_id, parts, message_ids,
          sending_part, status, error, reserved_at, sent_at;

-- find_publication --
-- The publication of a window or alert, if any.
SELECT id, queue, chat_id, window_start, window_end, event_id, parts, message_ids,
       sending_part, status, error, reserved_at, sent_at
FROM published_posts
WHERE queue = %(queue)s AND chat_id = %(chat_id)s AND window_start = %(window_start)s
  AND window_end = %(window_end)s
  AND coalesce(event_id, 0) = coalesce(%(event_id)s::bigint, 0) AND item_key = %(item_key)s;

-- published_window_at --
-- The window a route published (or reserved) to a chat that holds a moment: `digest --at` inside it addresses that very window.
SELECT window_start, window_end
FROM published_posts
WHERE queue = %(queue)s AND chat_id = %(chat_id)s AND event_id IS NULL
  AND window_start <= %(at)s AND window_end > %(at)s
ORDER BY id DESC
LIMIT 1;

-- last_published_window --
-- A route's latest window to a chat ending at or before a moment (and after a bound): where its next window starts, and what it showed when it was fixed, for late events.
SELECT window_start, window_end, reserved_at, event_ids
FROM published_posts
WHERE queue = %(queue)s AND chat_id = %(chat_id)s AND event_id IS NULL
  AND window_end <= %(before)s AND window_end > %(after)s
ORDER BY window_end DESC, id DESC
LIMIT 1;

-- window_backlog --
-- Posts inside a window still waiting for extraction under the version: a window closes only once they are done (or DIGEST_MAX_WAIT has passed).
SELECT count(*) AS pending
FROM extraction_jobs j
JOIN raw_messages m ON m.id = j.raw_message_id
WHERE j.pipeline_version = %(pipeline_version)s
  AND j.status IN ('pending', 'running', 'failed')
  AND m.posted_at >= %(window_start)s AND m.posted_at < %(window_end)s;

-- take_over_publication --
-- Resume a failed (or, with --force, a crashed) publication as this run.
UPDATE published_posts
SET status = 'reserved', reserved_by = %(reserved_by)s, error = NULL, updated_at = now()
WHERE id = %(id)s AND status = ANY(%(from_statuses)s::text[])
RETURNING id;

-- mark_sending --
-- Note which part is about to be sent (a crash now leaves it unknown whether it went).
UPDATE published_posts SET sending_part = %(part)s, updated_at = now() WHERE id = %(id)s;

-- record_part --
-- A part was accepted by Telegram: keep its message id.
UPDATE published_posts
SET message_ids = message_ids || %(message_id)s::bigint, sending_part = NULL, updated_at = now()
WHERE id = %(id)s;

-- mark_sent --
-- Every part went out.
UPDATE published_posts SET status = 'sent', sent_at = now(), updated_at = now() WHERE id = %(id)s;

-- mark_failed --
-- Sending stopped on an error; the next run resumes from the next unsent part.
UPDATE published_posts
SET status = 'failed', error = %(error)s, sending_part = NULL, updated_at = now()
WHERE id = %(id)s;

-- mark_in_doubt --
-- Telegram may have posted the part, but its answer was lost: the row stays `reserved` with the part noted, as after a crash mid-send, and says why.
UPDATE published_posts SET error = %(error)s, updated_at = now() WHERE id = %(id)s;

-- stale_reservations --
-- Publications left `reserved` by a crash, or in doubt after a lost answer (at once), for health.
SELECT id, queue, chat_id, window_start, window_end, event_id, reserved_by, reserved_at,
       cardinality(parts) AS parts_total, cardinality(message_ids) AS parts_sent, sending_part,
       error
FROM published_posts
WHERE status = 'reserved'
  AND (reserved_at < now() - make_interval(secs => %(older_than_seconds)s)
       OR (sending_part IS NOT NULL AND error IS NOT NULL))
ORDER BY reserved_at;

-- last_sent_per_queue --
-- When each queue last published, for health.
SELECT queue, max(sent_at) AS last_sent_at FROM published_posts
WHERE status = 'sent' GROUP BY queue ORDER BY queue;

-- window_events --
-- Events first seen in a window, with their live sources, filtered for a digest route
-- (its other filters, on language, channels and keywords, are applied to these rows).
SELECT e.id, e.topic, e.headline, e.importance, e.first_seen_at, e.last_seen_at,
       e.source_count, e.is_breaking, e.breaking_window, e.language, e.summary,
       e.first_seen_at < %(window_start)s AS late,
       coalesce(src.sources, '[]'::jsonb) AS sources
FROM events e
LEFT JOIN LATERAL (
    SELECT jsonb_agg(jsonb_build_object('channel_id', s.channel_id, 'username', c.username,
                                        'message_id', s.message_id)
                     ORDER BY s.posted_at, s.channel_id) AS sources
    FROM event_sources s
    JOIN raw_messages m ON m.id = s.raw_message_id
    JOIN channels c ON c.channel_id = s.channel_id
    WHERE s.event_id = e.id AND m.deleted_at IS NULL
) src ON true
WHERE e.pipeline_version = %(pipeline_version)s
  AND (e.first_seen_at >= %(window_start)s AND e.first_seen_at < %(window_end)s
       -- Late: first seen in the route's previous window, but extracted only after that
       -- window was fixed (every source's first extraction after it), and not shown there.
       -- An event edited after it was published keeps its first extraction: never late.
       OR (%(late_start)s::timestamptz IS NOT NULL
           AND e.first_seen_at >= %(late_start)s::timestamptz
           AND e.first_seen_at < %(late_end)s::timestamptz
           AND NOT (e.id = ANY(%(late_shown)s::bigint[]))
           AND NOT EXISTS (
                 SELECT 1 FROM event_sources s
                 JOIN extractions x ON x.raw_message_id = s.raw_message_id
                                   AND x.pipeline_version = s.pipeline_version
                 WHERE s.event_id = e.id AND x.created_at <= %(late_fixed_at)s::timestamptz)))
  AND e.headline <> '' AND e.merged_into IS NULL
  AND (%(topics)s::text[] IS NULL OR e.topic = ANY(%(topics)s::text[]))
  AND NOT (e.topic = ANY(%(exclude_topics)s::text[]))
  AND e.importance >= %(min_importance)s
  AND (%(breaking_window)s::text IS NULL
       OR (e.is_breaking AND e.breaking_window = %(breaking_window)s::text))
  -- Nor is an event whose story was flashed under an event since merged into it.
  AND (%(skip_flashed_chat)s::text IS NULL OR NOT EXISTS (
        SELECT 1 FROM published_posts p
        WHERE p.queue = ANY(%(flash_queues)s::text[]) AND p.chat_id = %(skip_flashed_chat)s::text
          AND p.status = 'sent'
          AND (p.event_id = e.id
               OR p.event_id IN (SELECT m.id FROM events m WHERE m.merged_into = e.id))))
  -- A breaking queue never shows an event again that it showed in another window, under
  -- its id or under one merged into it since (a reserved or failed window may yet be sent).
  AND (%(skip_published_queue)s::text IS NULL OR NOT EXISTS (
        SELECT 1 FROM published_posts p
        WHERE p.queue = %(skip_published_queue)s::text AND p.chat_id = %(chat_id)s::text
          AND p.window_start <> %(window_start)s AND p.event_ids <> '{}'
          AND p.event_ids && (ARRAY[e.id]
                              || ARRAY(SELECT m.id FROM events m WHERE m.merged_into = e.id))))
ORDER BY e.importance DESC, e.first_seen_at, e.id;

-- messages_sent_per_queue --
-- Telegram messages sent per queue (a route, or ops), counted over sent publications, for health's metrics.
SELECT queue, sum(cardinality(message_ids))::bigint AS messages
FROM published_posts
WHERE status = 'sent'
GROUP BY queue
ORDER BY queue;
