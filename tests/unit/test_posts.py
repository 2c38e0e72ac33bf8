"""civicquant.ingest.posts: the stored form of a raw post and its content hash."""

from __future__ import annotations

import hashlib
import json
from datetime import UTC, datetime
from typing import Any

from hypothesis import given
from hypothesis import strategies as st

from civicquant.ingest.posts import Media, RawPost

T0 = datetime(2026, 11, 20, 8, 0, tzinfo=UTC)


def hash_by_definition(post: RawPost) -> str:
    """The content hash as stored rows have always had it: canonical JSON of the three parts."""
    payload = {
        "text": post.text,
        "entities": post.entities,
        "media": post.media.as_dict() if post.media else None,
    }
    encoded = json.dumps(payload, sort_keys=True, ensure_ascii=False, separators=(",", ":"))
    return hashlib.sha256(encoded.encode("utf-8")).hexdigest()


def test_stored_form_serialises_entities_and_media_as_json() -> None:
    post = RawPost(
        1,
        2,
        T0,
        text="Ölpreis steigt «stark»",
        entities=[{"type": "bold", "offset": 0, "length": 8}],
        media=Media("photo", "a.jpg", size=10),
    )

    form = post.stored_form()

    assert json.loads(form.entities) == post.entities
    assert form.media is not None
    assert json.loads(form.media) == {
        "kind": "photo",
        "file_name": "a.jpg",
        "mime_type": None,
        "size": 10,
    }
    assert form.content_sha256 == post.content_hash() == hash_by_definition(post)


def test_a_post_without_media_or_entities() -> None:
    form = RawPost(1, 2, T0, text="plain").stored_form()
    assert (form.entities, form.media) == ("[]", None)
    assert form.content_sha256 == (
        hashlib.sha256(b'{"entities":[],"media":null,"text":"plain"}').hexdigest()
    )


storable_text = st.text(alphabet=st.characters(blacklist_categories=["Cs"]))
entity = st.fixed_dictionaries(
    {"type": st.sampled_from(["bold", "text_link", "pre"]), "offset": st.integers(0, 99)},
    optional={"url": storable_text, "length": st.integers(0, 99), "collapsed": st.booleans()},
)
media = st.none() | st.builds(
    Media,
    kind=st.sampled_from(["photo", "document", "poll"]),
    file_name=st.none() | storable_text,
    mime_type=st.none() | storable_text,
    size=st.none() | st.integers(0, 2**40),
)


@given(text=storable_text, entities=st.lists(entity, max_size=4), media=media)
def test_content_hash_is_the_hash_of_canonical_json_whatever_the_post(
    text: str, entities: list[dict[str, Any]], media: Media | None
) -> None:
    post = RawPost(1, 2, T0, text=text, entities=entities, media=media)
    assert post.stored_form().content_sha256 == hash_by_definition(post)


# Every character a stored text can hold, control characters and line separators included.
any_storable_char = st.characters(blacklist_categories=["Cs"]) | st.sampled_from(
    '\x01\x07\x1f\x7f\u2028\u2029\ufeff"\\/'
)
telegram_entity = st.fixed_dictionaries(
    {
        "type": st.sampled_from(["mention_name", "custom_emoji", "blockquote"]),
        "offset": st.integers(0, 99),
    },
    optional={
        "user_id": st.integers(1, 2**63 - 1),
        "document_id": st.integers(-(2**63), 2**64 - 1),
        "language": st.text(alphabet=any_storable_char),
        "collapsed": st.booleans(),
        "extra": st.none() | st.lists(st.integers(0, 3) | st.text(alphabet=any_storable_char)),
    },
)


@given(
    text=st.text(alphabet=any_storable_char),
    entities=st.lists(telegram_entity, max_size=4),
    media=media,
)
def test_content_hash_holds_for_any_character_and_any_64_bit_id(
    text: str, entities: list[dict[str, Any]], media: Media | None
) -> None:
    post = RawPost(1, 2, T0, text=text, entities=entities, media=media)
    form = post.stored_form()
    assert form.content_sha256 == hash_by_definition(post)
    assert json.loads(form.entities) == entities


def test_values_beyond_64_bits_are_written_by_the_standard_encoder() -> None:
    post = RawPost(1, 2, T0, text="x", entities=[{"type": "bold", "offset": 2**70, "length": 1}])
    form = post.stored_form()
    assert form.entities == '[{"length":1,"offset":1180591620717411303424,"type":"bold"}]'
    assert form.content_sha256 == hash_by_definition(post)
