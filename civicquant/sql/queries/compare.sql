-- compare_known_versions --
-- Which of the given pipeline versions have at least one extraction, anywhere.
SELECT v.pipeline_version
FROM unnest(%(versions)s::text[]) AS v(pipeline_version)
WHERE EXISTS (SELECT 1 FROM extractions e WHERE e.pipeline_version = v.pipeline_version);

-- compare_overview --
-- Posts in the window extracted by both versions, only A, only B; over the pairs, how often each field agrees, the mean entity Jaccard and the mean importance difference.
WITH a AS (
    SELECT e.raw_message_id, e.topic, e.is_breaking, e.breaking_window, e.language,
           e.importance, e.entities, e.content_sha256
    FROM extractions e
    JOIN raw_messages m ON m.id = e.raw_message_id
    WHERE e.pipeline_version = %(a)s
      AND (%(since)s::timestamptz IS NULL OR m.posted_at >= %(since)s::timestamptz)
      AND (%(until)s::timestamptz IS NULL OR m.posted_at < %(until)s::timestamptz)
      AND (%(channel_ids)s::bigint[] IS NULL OR m.channel_id = ANY(%(channel_ids)s::bigint[]))
),
b AS (
    SELECT e.raw_message_id, e.topic, e.is_breaking, e.breaking_window, e.language,
           e.importance, e.entities, e.content_sha256
    FROM extractions e
    JOIN raw_messages m ON m.id = e.raw_message_id
    WHERE e.pipeline_version = %(b)s
      AND (%(since)s::timestamptz IS NULL OR m.posted_at >= %(since)s::timestamptz)
      AND (%(until)s::timestamptz IS NULL OR m.posted_at < %(until)s::timestamptz)
      AND (%(channel_ids)s::bigint[] IS NULL OR m.channel_id = ANY(%(channel_ids)s::bigint[]))
),
coverage AS (
    SELECT count(a.raw_message_id) FILTER (WHERE b.raw_message_id IS NOT NULL) AS in_both,
           count(a.raw_message_id) FILTER (WHERE b.raw_message_id IS NULL) AS only_a,
           count(b.raw_message_id) FILTER (WHERE a.raw_message_id IS NULL) AS only_b
    FROM a FULL JOIN b ON b.raw_message_id = a.raw_message_id
),
agreement AS (
    SELECT count(*) FILTER (WHERE a.content_sha256 <> b.content_sha256) AS read_different_text,
           avg((a.topic = b.topic)::int)::float8 AS topic,
           avg((a.is_breaking = b.is_breaking)::int)::float8 AS is_breaking,
           avg((a.breaking_window IS NOT DISTINCT FROM b.breaking_window)::int)::float8
               AS breaking_window,
           avg((a.language = b.language)::int)::float8 AS language,
           avg(j.jaccard)::float8 AS entity_jaccard,
           avg(abs(a.importance::numeric - b.importance::numeric))::float8 AS importance_mae
    FROM a
    JOIN b ON b.raw_message_id = a.raw_message_id
    -- Entities as sets of (kind, lower(text)); two empty sets agree fully.
    CROSS JOIN LATERAL (
        SELECT CASE WHEN count(*) = 0 THEN 1.0::float8
                    ELSE (count(*) FILTER (WHERE s.in_a AND s.in_b))::float8 / count(*)
               END AS jaccard
        FROM (
            SELECT bool_or(x.side = 'a') AS in_a, bool_or(x.side = 'b') AS in_b
            FROM (
                SELECT 'a' AS side, ea ->> 'kind' AS kind, lower(ea ->> 'text') AS text
                FROM jsonb_array_elements(a.entities) AS ea
                UNION ALL
                SELECT 'b', eb ->> 'kind', lower(eb ->> 'text')
                FROM jsonb_array_elements(b.entities) AS eb
            ) AS x
            GROUP BY x.kind, x.text
        ) AS s
    ) AS j
)
SELECT coverage.in_both, coverage.only_a, coverage.only_b, agreement.*
FROM coverage, agreement;

-- compare_topic_confusion --
-- Posts in the window extracted by both versions, counted by (A's topic, B's topic).
SELECT a.topic AS topic_a, b.topic AS topic_b, count(*) AS posts
FROM extractions a
JOIN extractions b ON b.raw_message_id = a.raw_message_id AND b.pipeline_version = %(b)s
JOIN raw_messages m ON m.id = a.raw_message_id
WHERE a.pipeline_version = %(a)s
  AND (%(since)s::timestamptz IS NULL OR m.posted_at >= %(since)s::timestamptz)
  AND (%(until)s::timestamptz IS NULL OR m.posted_at < %(until)s::timestamptz)
  AND (%(channel_ids)s::bigint[] IS NULL OR m.channel_id = ANY(%(channel_ids)s::bigint[]))
GROUP BY a.topic, b.topic
ORDER BY a.topic, b.topic;

-- compare_most_different --
-- The posts in the window whose two extractions differ most (topic 1, breaking 1, window 0.5, importance difference, 1 - entity Jaccard), at most `limit`, with a text excerpt and both readings.
WITH scored AS (
    SELECT a.raw_message_id, d.score, j.jaccard,
           a.topic AS topic_a, b.topic AS topic_b,
           a.headline AS headline_a, b.headline AS headline_b,
           a.is_breaking AS is_breaking_a, b.is_breaking AS is_breaking_b,
           a.breaking_window AS breaking_window_a, b.breaking_window AS breaking_window_b,
           a.importance::numeric::float8 AS importance_a,
           b.importance::numeric::float8 AS importance_b,
           a.language AS language_a, b.language AS language_b
    FROM extractions a
    JOIN extractions b ON b.raw_message_id = a.raw_message_id AND b.pipeline_version = %(b)s
    JOIN raw_messages m ON m.id = a.raw_message_id
    -- The same entity-set Jaccard as compare_overview.
    CROSS JOIN LATERAL (
        SELECT CASE WHEN count(*) = 0 THEN 1.0::float8
                    ELSE (count(*) FILTER (WHERE s.in_a AND s.in_b))::float8 / count(*)
               END AS jaccard
        FROM (
            SELECT bool_or(x.side = 'a') AS in_a, bool_or(x.side = 'b') AS in_b
            FROM (
                SELECT 'a' AS side, ea ->> 'kind' AS kind, lower(ea ->> 'text') AS text
                FROM jsonb_array_elements(a.entities) AS ea
                UNION ALL
                SELECT 'b', eb ->> 'kind', lower(eb ->> 'text')
                FROM jsonb_array_elements(b.entities) AS eb
            ) AS x
            GROUP BY x.kind, x.text
        ) AS s
    ) AS j
    CROSS JOIN LATERAL (
        SELECT ((a.topic <> b.topic)::int
                + (a.is_breaking <> b.is_breaking)::int
                + 0.5 * (a.breaking_window IS DISTINCT FROM b.breaking_window)::int
                + abs(a.importance::numeric - b.importance::numeric)
                + (1 - j.jaccard)::numeric)::float8 AS score
    ) AS d
    WHERE a.pipeline_version = %(a)s
      AND (%(since)s::timestamptz IS NULL OR m.posted_at >= %(since)s::timestamptz)
      AND (%(until)s::timestamptz IS NULL OR m.posted_at < %(until)s::timestamptz)
      AND (%(channel_ids)s::bigint[] IS NULL OR m.channel_id = ANY(%(channel_ids)s::bigint[]))
      AND d.score > 0
    ORDER BY d.score DESC, a.raw_message_id
    LIMIT %(limit)s
)
SELECT s.*, m.channel_id, c.username AS channel_username, m.message_id, m.posted_at,
       left(btrim(regexp_replace(m.text, '\s+', ' ', 'g')), 80) AS text
FROM scored s
JOIN raw_messages_current m ON m.id = s.raw_message_id
JOIN channels c ON c.channel_id = m.channel_id
ORDER BY s.score DESC, s.raw_message_id;

-- compare_version_stats --
-- Per version, in the window: extractions, providers, models, prompt fingerprints, mean latency, token totals, provider calls saved by reuse, failed and dead jobs.
WITH versions AS (
    SELECT v.pipeline_version FROM unnest(%(versions)s::text[]) AS v(pipeline_version)
),
extracted AS (
    SELECT e.pipeline_version, count(*) AS extractions,
           array_agg(DISTINCT e.provider ORDER BY e.provider) AS providers,
           array_agg(DISTINCT e.model ORDER BY e.model) AS models,
           array_agg(DISTINCT e.prompt_fingerprint ORDER BY e.prompt_fingerprint)
               AS prompt_fingerprints,
           avg(e.latency_ms::numeric)::float8 AS mean_latency_ms,
           sum(e.prompt_tokens) AS prompt_tokens,
           sum(e.completion_tokens) AS completion_tokens,
           count(*) FILTER (WHERE e.reused_from IS NOT NULL) AS calls_saved
    FROM extractions e
    JOIN raw_messages m ON m.id = e.raw_message_id
    WHERE e.pipeline_version = ANY(%(versions)s::text[])
      AND (%(since)s::timestamptz IS NULL OR m.posted_at >= %(since)s::timestamptz)
      AND (%(until)s::timestamptz IS NULL OR m.posted_at < %(until)s::timestamptz)
      AND (%(channel_ids)s::bigint[] IS NULL OR m.channel_id = ANY(%(channel_ids)s::bigint[]))
    GROUP BY e.pipeline_version
),
jobs AS (
    SELECT j.pipeline_version,
           count(*) FILTER (WHERE j.status = 'failed') AS failed_jobs,
           count(*) FILTER (WHERE j.status = 'dead') AS dead_jobs
    FROM extraction_jobs j
    JOIN raw_messages m ON m.id = j.raw_message_id
    WHERE j.pipeline_version = ANY(%(versions)s::text[])
      AND j.status IN ('failed', 'dead')
      AND (%(since)s::timestamptz IS NULL OR m.posted_at >= %(since)s::timestamptz)
      AND (%(until)s::timestamptz IS NULL OR m.posted_at < %(until)s::timestamptz)
      AND (%(channel_ids)s::bigint[] IS NULL OR m.channel_id = ANY(%(channel_ids)s::bigint[]))
    GROUP BY j.pipeline_version
)
SELECT v.pipeline_version,
       coalesce(x.extractions, 0) AS extractions,
       coalesce(x.providers, ARRAY[]::text[]) AS providers,
       coalesce(x.models, ARRAY[]::text[]) AS models,
       coalesce(x.prompt_fingerprints, ARRAY[]::text[]) AS prompt_fingerprints,
       x.mean_latency_ms, x.prompt_tokens, x.completion_tokens,
       coalesce(x.calls_saved, 0) AS calls_saved,
       coalesce(jb.failed_jobs, 0) AS failed_jobs,
       coalesce(jb.dead_jobs, 0) AS dead_jobs
FROM versions v
LEFT JOIN extracted x ON x.pipeline_version = v.pipeline_version
LEFT JOIN jobs jb ON jb.pipeline_version = v.pipeline_version;

-- compare_event_membership --
-- For the window's posts extracted by both versions: the event each version put the post in (NULL: none).
SELECT m.id AS raw_message_id, m.channel_id, c.username AS channel_username, m.message_id,
       left(regexp_replace(m.text, '\s+', ' ', 'g'), 80) AS text,
       sa.event_id AS event_a, sb.event_id AS event_b
FROM raw_messages m
JOIN channels c ON c.channel_id = m.channel_id
JOIN extractions xa ON xa.raw_message_id = m.id AND xa.pipeline_version = %(a)s
JOIN extractions xb ON xb.raw_message_id = m.id AND xb.pipeline_version = %(b)s
LEFT JOIN event_sources sa ON sa.raw_message_id = m.id AND sa.pipeline_version = %(a)s
LEFT JOIN event_sources sb ON sb.raw_message_id = m.id AND sb.pipeline_version = %(b)s
WHERE (%(since)s::timestamptz IS NULL OR m.posted_at >= %(since)s::timestamptz)
  AND (%(until)s::timestamptz IS NULL OR m.posted_at < %(until)s::timestamptz)
  AND (%(channel_ids)s::bigint[] IS NULL OR m.channel_id = ANY(%(channel_ids)s::bigint[]))
ORDER BY m.posted_at, m.id;
