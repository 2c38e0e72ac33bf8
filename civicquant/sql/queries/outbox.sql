-- queue_flash_alerts --
-- Queue (or refresh) the breaking events among those a batch touched; run in the batch's own transaction. Returns the events queued.
INSERT INTO flash_outbox (event_id)
SELECT e.id FROM events e
WHERE e.id = ANY(%(event_ids)s::bigint[])
  AND e.is_breaking AND e.merged_into IS NULL AND e.headline <> ''
ON CONFLICT (event_id) DO UPDATE SET queued_at = now()
RETURNING event_id;

-- prune_flash_outbox --
-- Events not refreshed since a moment: no longer flash news (a failed alert is not tried again).
DELETE FROM flash_outbox WHERE queued_at < %(older_than)s;

-- flash_outbox_alerts --
-- Outbox events a flash route may alert a chat about: breaking, important enough, refreshed since retry_since, and not sent, being sent or in doubt under the route to that chat, as themselves or under an event merged into them. A failed alert is one again, and so is one reserved by a drainer that died before sending it (a lease holder resumes it). With event_id, that event alone, queued or not; with resend_in_doubt, its alert even in doubt (`--force`). `alerted_*` is the event's ledger row's window, which keys its alert once reserved.
SELECT e.id, e.topic, e.headline, e.importance, e.first_seen_at, e.source_count,
       e.is_breaking, e.breaking_window, e.language, e.summary,
       coalesce(src.sources, '[]'::jsonb) AS sources,
       alerted.window_start AS alerted_window_start, alerted.window_end AS alerted_window_end
FROM events e
LEFT JOIN LATERAL (
    SELECT jsonb_agg(jsonb_build_object('channel_id', s.channel_id, 'username', c.username,
                                        'message_id', s.message_id)
                     ORDER BY s.posted_at, s.channel_id) AS sources
    FROM event_sources s
    JOIN channels c ON c.channel_id = s.channel_id
    WHERE s.event_id = e.id
) src ON true
LEFT JOIN LATERAL (
    SELECT p.window_start, p.window_end FROM published_posts p
    WHERE p.queue = %(queue)s AND p.chat_id = %(chat_id)s AND p.event_id = e.id
    ORDER BY p.id DESC
    LIMIT 1
) alerted ON true
WHERE e.id IN (SELECT o.event_id FROM flash_outbox o
               WHERE o.queued_at >= %(retry_since)s AND %(event_id)s::bigint IS NULL
               UNION ALL
               SELECT %(event_id)s::bigint)
  AND e.is_breaking AND e.importance >= %(min_importance)s AND e.headline <> ''
  AND e.merged_into IS NULL
  AND NOT EXISTS (
        SELECT 1 FROM published_posts p
        WHERE p.queue = %(queue)s AND p.chat_id = %(chat_id)s AND p.status <> 'failed'
          AND NOT (p.event_id = e.id AND p.status = 'reserved'
                   AND (p.sending_part IS NULL OR %(resend_in_doubt)s))
          AND (p.event_id = e.id
               OR p.event_id IN (SELECT m.id FROM events m WHERE m.merged_into = e.id)))
ORDER BY e.importance DESC, e.id;
