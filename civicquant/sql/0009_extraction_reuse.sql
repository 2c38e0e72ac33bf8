-- Reusing an extraction for a repost: a post whose normalised text was already read under
-- the same pipeline version is not sent to the LLM again (reposts are common on Telegram).
--
-- `text_fingerprint` is the SHA-256 of the post's normalised text (the fingerprint story
-- matching uses for reposts, civicquant.events.similarity.fingerprint); it is stored by
-- the LLM path, where a lookup costs less than a call. `reused_from` names the post whose
-- extraction (under the same pipeline version) was copied, so `compare` counts calls saved.

ALTER TABLE extractions
    ADD COLUMN text_fingerprint text,
    ADD COLUMN reused_from      bigint REFERENCES raw_messages (id);

CREATE INDEX extractions_text_fingerprint ON extractions (pipeline_version, text_fingerprint)
    WHERE text_fingerprint IS NOT NULL AND reused_from IS NULL;
