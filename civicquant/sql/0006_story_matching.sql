-- Story matching: events as clusters of posts that tell one story, found by paraphrase too.
--
-- Every source keeps its post's content terms (hashed word stems, most distinctive first)
-- and an event keeps the sum of its sources' term weights (its centroid, cut to its
-- strongest terms), so a post is scored against an event as a whole, not against one of
-- its posts. When a post shows two events to be one story they are merged: the younger
-- event's sources move to the older one and it records where they went (`merged_into`);
-- a merged event is never published again. `headline_score` is how informative the
-- source's headline is; an event's headline is its most informative source's.

ALTER TABLE events
    ADD COLUMN merged_into      bigint REFERENCES events (id),
    ADD COLUMN language         text NOT NULL DEFAULT '',
    ADD COLUMN centroid_terms   bigint[] NOT NULL DEFAULT '{}',
    ADD COLUMN centroid_weights real[] NOT NULL DEFAULT '{}';

ALTER TABLE event_sources
    ADD COLUMN terms          bigint[] NOT NULL DEFAULT '{}',  -- the post's strongest content terms
    ADD COLUMN headline_score real NOT NULL DEFAULT 0;

CREATE INDEX events_merged_into ON events (merged_into) WHERE merged_into IS NOT NULL;
