-- upsert_extraction --
-- Store (or replace, on re-extraction) one post's extraction for a pipeline version.
INSERT INTO extractions (raw_message_id, pipeline_version, content_sha256, topic, headline,
                         summary, entities, is_breaking, breaking_window, importance, language,
                         provider, model, prompt_fingerprint, latency_ms, prompt_tokens,
                         completion_tokens)
SELECT * FROM unnest(
    %(raw_message_id)s::bigint[], %(pipeline_version)s::text[], %(content_sha256)s::text[],
    %(topic)s::text[], %(headline)s::text[], %(summary)s::text[], %(entities)s::jsonb[],
    %(is_breaking)s::boolean[], %(breaking_window)s::text[], %(importance)s::real[],
    %(language)s::text[], %(provider)s::text[], %(model)s::text[],
    %(prompt_fingerprint)s::text[], %(latency_ms)s::real[], %(prompt_tokens)s::integer[],
    %(completion_tokens)s::integer[])
ON CONFLICT (raw_message_id, pipeline_version) DO UPDATE
    SET content_sha256 = EXCLUDED.content_sha256, topic = EXCLUDED.topic,
        headline = EXCLUDED.headline, summary = EXCLUDED.summary, entities = EXCLUDED.entities,
        is_breaking = EXCLUDED.is_breaking, breaking_window = EXCLUDED.breaking_window,
        importance = EXCLUDED.importance, language = EXCLUDED.language,
        provider = EXCLUDED.provider, model = EXCLUDED.model,
        prompt_fingerprint = EXCLUDED.prompt_fingerprint, latency_ms = EXCLUDED.latency_ms,
        prompt_tokens = EXCLUDED.prompt_tokens, completion_tokens = EXCLUDED.completion_tokens,
        updated_at = now();

-- lock_events --
-- Serialise event merging for one pipeline version until this transaction ends.
SELECT pg_advisory_xact_lock(hashtext('civicquant-events:' || %(pipeline_version)s));

-- detach_sources --
-- Take re-extracted posts out of their events; returns the events they left.
DELETE FROM event_sources
WHERE pipeline_version = %(pipeline_version)s AND raw_message_id = ANY(%(raw_message_ids)s::bigint[])
RETURNING event_id;

-- candidate_sources --
-- Sources of recent events sharing a fingerprint or an LSH band with the new posts (hash joins, fast under generic plans too).
WITH recent AS MATERIALIZED (
    SELECT event_id, fingerprint, signature, posted_at, bands FROM event_sources
    WHERE pipeline_version = %(pipeline_version)s
      AND posted_at BETWEEN %(window_start)s AND %(window_end)s
), hits AS (
    SELECT r.event_id, r.fingerprint, r.signature, r.posted_at, r.bands
    FROM recent r JOIN unnest(%(fingerprints)s::text[]) AS f(fingerprint) USING (fingerprint)
    UNION
    SELECT r.event_id, r.fingerprint, r.signature, r.posted_at, r.bands
    FROM recent r CROSS JOIN LATERAL unnest(r.bands) AS rb(band)
    JOIN (SELECT DISTINCT unnest(%(bands)s::bigint[]) AS band) AS wanted USING (band)
)
SELECT event_id, fingerprint, signature, posted_at, bands FROM hits ORDER BY event_id;

-- reserve_event_ids --
-- Take ids for new events up front, so a batch's events are created in one statement.
SELECT nextval(pg_get_serial_sequence('events', 'id')) AS id
FROM generate_series(1, %(count)s);

-- create_events --
-- New events under reserved ids; refresh_events fills them in from their sources.
INSERT INTO events (id, pipeline_version, topic, headline, first_seen_at, last_seen_at)
OVERRIDING SYSTEM VALUE
SELECT i, %(pipeline_version)s, t, '', p, p
FROM unnest(%(ids)s::bigint[], %(topics)s::text[], %(posted_at)s::timestamptz[]) AS u(i, t, p);

-- attach_sources --
-- Add posts to events.
INSERT INTO event_sources (raw_message_id, pipeline_version, event_id, channel_id, message_id,
                           posted_at, fingerprint, signature, bands)
SELECT r, %(pipeline_version)s, e, c, m, p, f, string_to_array(s, ',')::bigint[],
       string_to_array(b, ',')::bigint[]
FROM unnest(%(raw_message_ids)s::bigint[], %(event_ids)s::bigint[], %(channel_ids)s::bigint[],
            %(message_ids)s::bigint[], %(posted_at)s::timestamptz[], %(fingerprints)s::text[],
            %(signatures)s::text[], %(bands)s::text[]) AS u(r, e, c, m, p, f, s, b);

-- refresh_events --
-- Recompute events from their sources: importance rises with independent channels.
UPDATE events e
SET source_count = s.channels,
    first_seen_at = s.first_seen_at,
    last_seen_at = s.last_seen_at,
    is_breaking = s.is_breaking,
    breaking_window = s.breaking_window,
    importance = least(1.0, s.max_importance + 0.1 * (s.channels - 1)),
    topic = s.topic,
    headline = s.headline,
    summary = s.summary,
    entities = s.entities,
    updated_at = now()
FROM (
    SELECT es.event_id,
           count(DISTINCT es.channel_id) AS channels,
           min(es.posted_at) AS first_seen_at,
           max(es.posted_at) AS last_seen_at,
           bool_or(x.is_breaking) AS is_breaking,
           (array_agg(x.breaking_window ORDER BY
                CASE x.breaking_window WHEN '15m' THEN 1 WHEN '1h' THEN 2 ELSE 3 END)
                FILTER (WHERE x.is_breaking AND x.breaking_window IS NOT NULL))[1]
               AS breaking_window,
           max(x.importance) AS max_importance,
           (array_agg(x.topic ORDER BY x.importance DESC, es.posted_at, es.raw_message_id))[1] AS topic,
           (array_agg(x.headline ORDER BY x.importance DESC, es.posted_at, es.raw_message_id))[1] AS headline,
           (array_agg(x.summary ORDER BY x.importance DESC, es.posted_at, es.raw_message_id))[1] AS summary,
           (array_agg(x.entities ORDER BY x.importance DESC, es.posted_at, es.raw_message_id))[1] AS entities
    FROM event_sources es
    JOIN extractions x
      ON x.raw_message_id = es.raw_message_id AND x.pipeline_version = es.pipeline_version
    WHERE es.event_id = ANY(%(event_ids)s::bigint[])
    GROUP BY es.event_id
) s
WHERE e.id = s.event_id;

-- delete_empty_events --
-- Events left with no source (all their posts moved on re-extraction).
DELETE FROM events e
WHERE e.id = ANY(%(event_ids)s::bigint[])
  AND NOT EXISTS (SELECT 1 FROM event_sources s WHERE s.event_id = e.id);
