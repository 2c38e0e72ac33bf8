-- upsert_extraction --
-- Store (or replace, on re-extraction) one post's extraction for a pipeline version.
INSERT INTO extractions (raw_message_id, pipeline_version, content_sha256, topic, headline,
                         summary, entities, is_breaking, breaking_window, importance, language,
                         provider, model, prompt_fingerprint, latency_ms, prompt_tokens,
                         completion_tokens, text_fingerprint, reused_from)
SELECT * FROM unnest(
    %(raw_message_id)s::bigint[], %(pipeline_version)s::text[], %(content_sha256)s::text[],
    %(topic)s::text[], %(headline)s::text[], %(summary)s::text[], %(entities)s::jsonb[],
    %(is_breaking)s::boolean[], %(breaking_window)s::text[], %(importance)s::real[],
    %(language)s::text[], %(provider)s::text[], %(model)s::text[],
    %(prompt_fingerprint)s::text[], %(latency_ms)s::real[], %(prompt_tokens)s::integer[],
    %(completion_tokens)s::integer[], %(text_fingerprint)s::text[], %(reused_from)s::bigint[])
ON CONFLICT (raw_message_id, pipeline_version) DO UPDATE
    SET content_sha256 = EXCLUDED.content_sha256, topic = EXCLUDED.topic,
        headline = EXCLUDED.headline, summary = EXCLUDED.summary, entities = EXCLUDED.entities,
        is_breaking = EXCLUDED.is_breaking, breaking_window = EXCLUDED.breaking_window,
        importance = EXCLUDED.importance, language = EXCLUDED.language,
        provider = EXCLUDED.provider, model = EXCLUDED.model,
        prompt_fingerprint = EXCLUDED.prompt_fingerprint, latency_ms = EXCLUDED.latency_ms,
        prompt_tokens = EXCLUDED.prompt_tokens, completion_tokens = EXCLUDED.completion_tokens,
        text_fingerprint = EXCLUDED.text_fingerprint, reused_from = EXCLUDED.reused_from,
        updated_at = now();

-- reusable_extractions --
-- For each fingerprint, the newest extraction of that normalised text under the pipeline version that was itself read by the provider (not a copy).
SELECT DISTINCT ON (e.text_fingerprint)
       e.raw_message_id, e.text_fingerprint, e.topic, e.headline, e.summary, e.entities, e.is_breaking,
       e.breaking_window, e.importance, e.language
FROM extractions e
WHERE e.pipeline_version = %(pipeline_version)s
  AND e.text_fingerprint = ANY(%(fingerprints)s::text[])
  AND e.reused_from IS NULL
ORDER BY e.text_fingerprint, e.id DESC;

-- lock_events --
-- Serialise event merging for one pipeline version until this transaction ends.
SELECT pg_advisory_xact_lock(hashtext('civicquant-events:' || %(pipeline_version)s));

-- detach_sources --
-- Take re-extracted posts out of their events; returns the events they left.
DELETE FROM event_sources
WHERE pipeline_version = %(pipeline_version)s AND raw_message_id = ANY(%(raw_message_ids)s::bigint[])
RETURNING event_id;

-- candidate_sources --
-- Recent sources sharing an LSH band with the new posts, each with the bands it shares.
-- An exact repost has the same signature, so it shares every band: no fingerprint branch is
-- needed. The bands of the window's sources are unnested once, in the select list (a lateral
-- unnest became a loop that rebuilt the batch's hash for every source), and hash-joined.
WITH recent AS MATERIALIZED (
    SELECT raw_message_id, event_id, posted_at, fingerprint, signature, bands FROM event_sources
    WHERE pipeline_version = %(pipeline_version)s
      AND posted_at BETWEEN %(window_start)s AND %(window_end)s
), shared AS (
    SELECT recent_band.raw_message_id, array_agg(recent_band.band) AS bands
    FROM (SELECT raw_message_id, unnest(bands) AS band FROM recent) AS recent_band
    JOIN (SELECT DISTINCT unnest(string_to_array(%(bands)s, ',')::bigint[]) AS band) AS wanted
      USING (band)
    GROUP BY recent_band.raw_message_id
)
SELECT r.event_id, r.posted_at, r.fingerprint, r.signature, shared.bands
FROM recent r JOIN shared USING (raw_message_id)
ORDER BY r.event_id;

-- candidate_events --
-- Events with a source in the window sharing one of the batch's strongest content terms,
-- with what the paraphrase stage needs of them: the terms shared, the channels of those
-- recent sources (a channel's own follow-up), centroid, span and lead headline. Like
-- candidate_sources: the window's terms unnested once and hash-joined with the wanted ones.
WITH recent AS MATERIALIZED (
    SELECT event_id, channel_id, terms FROM event_sources
    WHERE pipeline_version = %(pipeline_version)s
      AND posted_at BETWEEN %(window_start)s AND %(window_end)s
      AND terms <> '{}'
), hit AS (
    SELECT recent_term.event_id, array_agg(DISTINCT recent_term.term) AS terms,
           array_agg(DISTINCT recent_term.channel_id) AS channel_ids
    FROM (SELECT event_id, channel_id, unnest(terms) AS term FROM recent) AS recent_term
    JOIN (SELECT DISTINCT unnest(string_to_array(%(terms)s, ',')::bigint[]) AS term) AS wanted
      USING (term)
    GROUP BY recent_term.event_id
)
SELECT e.id, hit.terms, hit.channel_ids, e.language, e.headline, e.first_seen_at,
       e.last_seen_at, e.centroid_terms, e.centroid_weights
FROM hit JOIN events e ON e.id = hit.event_id
WHERE e.merged_into IS NULL
ORDER BY e.id;

-- events_for_matching --
-- Candidate events found by a repost's LSH bands only: centroid, span and lead headline.
SELECT e.id, e.language, e.headline, e.first_seen_at, e.last_seen_at, e.centroid_terms,
       e.centroid_weights, '{}'::bigint[] AS channel_ids
FROM events e
WHERE e.id = ANY(%(event_ids)s::bigint[]) AND e.merged_into IS NULL
ORDER BY e.id;

-- merge_events --
-- Merge events found to be one story: their sources move to the older event, and each
-- merged event records where they went (it is never published again). A data-modifying
-- CTE runs whether or not the statement reads it; both see the table as it was, so the
-- sources and the merged rows are each updated once.
WITH pairs AS (
    SELECT merged, survivor
    FROM unnest(%(merged_ids)s::bigint[], %(survivor_ids)s::bigint[]) AS u(merged, survivor)
), moved AS (
    UPDATE event_sources s SET event_id = pairs.survivor
    FROM pairs WHERE s.event_id = pairs.merged
)
UPDATE events e
SET merged_into = pairs.survivor, updated_at = now()
FROM pairs
-- The merged events, and those merged into them before: merged_into always names a live
-- event, so "was this story published?" is one lookup.
WHERE e.id = pairs.merged OR e.merged_into = pairs.merged;

-- store_centroids --
-- Write back the centroids (and languages) of the events a batch changed.
UPDATE events e
SET centroid_terms = string_to_array(u.terms, ',')::bigint[],
    centroid_weights = string_to_array(u.weights, ',')::real[],
    language = u.language
FROM unnest(%(event_ids)s::bigint[], %(languages)s::text[], %(terms)s::text[],
            %(weights)s::text[]) AS u(id, language, terms, weights)
WHERE e.id = u.id;

-- attach_sources --
-- Found the batch's new events and add posts to events; returns the new events' ids.
-- A post joining a new event carries its provisional id (-1, -2, ...); ids are taken in that
-- order, so events keep their creation order. Foreign keys are checked at the statement's
-- end, when the new events exist.
WITH founded AS MATERIALIZED (
    SELECT provisional, nextval(pg_get_serial_sequence('events', 'id')) AS id, topic, posted_at
    FROM unnest(%(founder_ids)s::bigint[], %(founder_topics)s::text[],
                %(founder_posted_at)s::timestamptz[]) AS u(provisional, topic, posted_at)
), created AS (
    INSERT INTO events (id, pipeline_version, topic, headline, first_seen_at, last_seen_at)
    OVERRIDING SYSTEM VALUE
    SELECT id, %(pipeline_version)s::text, topic, '', posted_at, posted_at FROM founded
), attached AS (
    INSERT INTO event_sources (raw_message_id, pipeline_version, event_id, channel_id,
                               message_id, posted_at, fingerprint, signature, bands, terms,
                               headline_score)
    SELECT u.r, %(pipeline_version)s::text, coalesce(founded.id, u.e), u.c, u.m, u.p, u.f,
           string_to_array(u.s, ',')::bigint[], string_to_array(u.b, ',')::bigint[],
           string_to_array(u.t, ',')::bigint[], u.h
    FROM unnest(%(raw_message_ids)s::bigint[], %(event_ids)s::bigint[],
                %(channel_ids)s::bigint[], %(message_ids)s::bigint[],
                %(posted_at)s::timestamptz[], %(fingerprints)s::text[], %(signatures)s::text[],
                %(bands)s::text[], %(terms)s::text[], %(headline_scores)s::real[])
         AS u(r, e, c, m, p, f, s, b, t, h)
    LEFT JOIN founded ON founded.provisional = u.e
)
SELECT id FROM founded;

-- refresh_events --
-- Recompute events from their sources: importance from each channel's reading, its weight, its engagement, with diminishing returns for corroboration.
-- The text is the lead source's: the most informative headline (the weight of its content
-- terms), then the most important, then the earliest: one sort per event
-- of source ids, and one extraction read per event for its text. Every table is read through
-- an index by the ids at hand: as plain joins the planner may hash a whole table instead (it
-- does while the tables have no statistics), a cost that grows with the table.
--
-- Importance (civicquant/events/importance.py has the formula and its constants):
--   a source's reading x scaled as odds by k = channel weight * engagement,
--   s = k x / (k x + 1 - x); engagement from views and forwards against the channel's own
--   medians; each channel once, with its best source; the event
--   1 - (1 - s_1) * prod over the other channels (1 - corroboration_share * s_c).
WITH sources AS MATERIALIZED (
    SELECT es.event_id, es.pipeline_version, es.raw_message_id, es.channel_id, es.posted_at,
           es.headline_score, x.importance, x.is_breaking, x.breaking_window,
           c.weight, m.views, m.forwards
    FROM event_sources es
    CROSS JOIN LATERAL (
        SELECT importance, is_breaking, breaking_window FROM extractions x
        WHERE x.raw_message_id = es.raw_message_id AND x.pipeline_version = es.pipeline_version
        LIMIT 1
    ) AS x
    CROSS JOIN LATERAL (
        SELECT weight FROM channels c WHERE c.channel_id = es.channel_id
    ) AS c
    CROSS JOIN LATERAL (
        SELECT views, forwards FROM raw_messages m WHERE m.id = es.raw_message_id
    ) AS m
    WHERE es.event_id = ANY(%(event_ids)s::bigint[])
), medians AS MATERIALIZED (
    SELECT ch.channel_id, med.views, med.forwards, med.posts
    FROM (SELECT channel_id, max(posted_at) AS until FROM sources GROUP BY channel_id) AS ch
    CROSS JOIN LATERAL (
        SELECT percentile_cont(0.5) WITHIN GROUP (ORDER BY m.views) AS views,
               percentile_cont(0.5) WITHIN GROUP (ORDER BY coalesce(m.forwards, 0))
                   AS forwards,
               count(*) AS posts
        FROM raw_messages m
        WHERE m.channel_id = ch.channel_id
          AND m.posted_at > ch.until - make_interval(days => %(engagement_days)s::integer)
          AND m.posted_at <= ch.until
          AND m.views IS NOT NULL
    ) AS med
), scored AS (
    SELECT s.event_id, s.channel_id,
           s.importance::float8 * s.weight
               * CASE WHEN s.views IS NULL OR md.posts < %(engagement_min_posts)s::integer
                      THEN 1.0
                      ELSE exp(greatest(-%(engagement_cap)s::float8, least(
                               %(engagement_cap)s::float8,
                               %(views_exponent)s::float8
                                   * ln((s.views + 1) / (md.views + 1))
                               + %(forwards_exponent)s::float8
                                   * ln((coalesce(s.forwards, 0) + 1) / (md.forwards + 1)))))
                 END AS odds_scaled,
           s.importance::float8 AS reading
    FROM sources s
    JOIN medians md ON md.channel_id = s.channel_id
), per_channel AS (
    SELECT event_id, channel_id,
           max(CASE WHEN odds_scaled <= 0 THEN 0.0
                    ELSE odds_scaled / (odds_scaled + 1.0 - reading) END) AS score
    FROM scored
    GROUP BY event_id, channel_id
), ranked_channels AS (
    SELECT event_id, score,
           row_number() OVER (PARTITION BY event_id ORDER BY score DESC, channel_id) AS place
    FROM per_channel
), corroborated AS (
    SELECT event_id,
           1.0 - (1.0 - max(score))
                 * exp(coalesce(sum(ln(1.0 - %(corroboration_share)s::float8 * score))
                                FILTER (WHERE place > 1), 0.0))
               AS importance
    FROM ranked_channels
    GROUP BY event_id
), summary AS (
    SELECT event_id,
           pipeline_version,
           count(DISTINCT channel_id) AS channels,
           min(posted_at) AS first_seen_at,
           max(posted_at) AS last_seen_at,
           bool_or(is_breaking) AS is_breaking,
           (array_agg(breaking_window ORDER BY
                CASE breaking_window WHEN '15m' THEN 1 WHEN '1h' THEN 2 ELSE 3 END)
                FILTER (WHERE is_breaking AND breaking_window IS NOT NULL))[1]
               AS breaking_window,
           (array_agg(raw_message_id
                      ORDER BY headline_score DESC, importance DESC, posted_at, raw_message_id))[1]
               AS lead_id
    FROM sources
    GROUP BY event_id, pipeline_version
)
UPDATE events e
SET source_count = s.channels,
    first_seen_at = s.first_seen_at,
    last_seen_at = s.last_seen_at,
    is_breaking = s.is_breaking,
    breaking_window = s.breaking_window,
    importance = greatest(0.0, least(1.0, c.importance)),
    topic = lead.topic,
    headline = lead.headline,
    summary = lead.summary,
    entities = lead.entities,
    updated_at = now()
FROM summary s
JOIN corroborated c USING (event_id)
CROSS JOIN LATERAL (
    SELECT topic, headline, summary, entities FROM extractions x
    WHERE x.raw_message_id = s.lead_id AND x.pipeline_version = s.pipeline_version
    LIMIT 1
) AS lead
WHERE e.id = ANY(%(event_ids)s::bigint[]) AND e.id = s.event_id;

-- delete_empty_events --
-- Events left with no source (all their posts moved on re-extraction).
DELETE FROM events e
WHERE e.id = ANY(%(event_ids)s::bigint[])
  AND e.merged_into IS NULL
  AND NOT EXISTS (SELECT 1 FROM event_sources s WHERE s.event_id = e.id);
