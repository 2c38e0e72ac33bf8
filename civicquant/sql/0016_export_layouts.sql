-- Group posts keep their sender. In a supergroup every member posts, and Telegram Desktop's
-- export writes who as `from` (the name shown) and `from_id` (the peer: "user123",
-- "channel456"). A post by the chat itself (every channel post, an anonymous admin's group
-- post) leaves both NULL: the channel is its sender. `author` stays the post's signature.
ALTER TABLE raw_messages ADD COLUMN sender text, ADD COLUMN sender_id text;

-- missing_messages also holds the ids of an export's service messages (a pin, a join, a
-- title change): they are ids without a post, so gap counting no longer takes them for
-- missing posts. Only ids inside the stored range count (see channel_gaps, gap_counts).
COMMENT ON TABLE missing_messages IS
    'Ids without a post: asked for and absent, or service messages read from an export.';
