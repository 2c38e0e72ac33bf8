"""Write a synthetic Telegram Desktop channel export (result.json) of N posts, streaming to disk.

    python bench/gen_export.py 200000 bench/out/result.json

The file follows what Telegram Desktop's export_output_json.cpp writes, byte for byte in layout:
one-space indentation per level, `text` as a string or a list of strings and entity objects,
`text_entities`, `date` (local time, no zone) beside `date_unixtime`, `\\xNN` for control
characters, and a realistic mix of photos, albums, documents, polls, replies, forwards, edits and
service messages. Messages are written one at a time, so N can be in the millions.
"""

from __future__ import annotations

import argparse
import random
import re
import sys
from collections.abc import Iterable, Sequence
from datetime import UTC, datetime
from json.encoder import encode_basestring
from pathlib import Path
from typing import IO, Any

CHANNEL_ID = 1_555_000_001
CHANNEL_NAME = "Bench Wire"
START = int(datetime(2024, 1, 1, tzinfo=UTC).timestamp())

# A part of a message text: a plain string, or (type, text, extra fields).
Part = str | tuple[str, str, dict[str, Any]]

WORDS = [
    "markets",
    "rally",
    "stocks",
    "bonds",
    "yields",
    "central",
    "bank",
    "rate",
    "decision",
    "inflation",
    "data",
    "payrolls",
    "oil",
    "gas",
    "prices",
    "output",
    "OPEC",
    "sanctions",
    "election",
    "poll",
    "ballot",
    "coalition",
    "parliament",
    "vote",
    "ceasefire",
    "talks",
    "border",
    "strike",
    "drones",
    "ministry",
    "statement",
    "earnings",
    "revenue",
    "guidance",
    "shares",
    "premarket",
    "futures",
    "index",
    "crypto",
    "bitcoin",
    "ether",
    "exchange",
    "outflows",
    "regulator",
    "fine",
    "probe",
    "report",
    "sources",
    "say",
    "officials",
    "expected",
    "forecast",
    "percent",
    "million",
    "billion",
    "quarter",
]
EMOJI = ("🚨", "📈", "📉", "⚡️", "🇪🇺", "🇺🇸", "🛢", "💵", "🔴", "👨\u200d💻")
CASHTAGS = ("$AAPL", "$NVDA", "$TSLA", "$MSFT", "$XOM", "$BTC", "$JPM", "$SAP")
HASHTAGS = ("#markets", "#macro", "#energy", "#crypto", "#elections", "#earnings")
LANGUAGES = ("python", "json", "")
FILE_MEDIA = (
    # (media_type or None for a plain document, folder, extension, mime type)
    ("video_file", "video_files", "mp4", "video/mp4"),
    ("audio_file", "files", "mp3", "audio/mpeg"),
    ("voice_message", "voice_messages", "ogg", "audio/ogg"),
    ("video_message", "round_video_messages", "mp4", "video/mp4"),
    ("animation", "video_files", "mp4", "video/mp4"),
    ("sticker", "stickers", "webp", "image/webp"),
    (None, "files", "pdf", "application/pdf"),
)


# --- Telegram Desktop's JSON layout ----------------------------------------------------------


def json_string(value: str) -> str:
    """A string as Telegram Desktop's SerializeString writes it (control characters as \\xNN)."""
    return _JSON_FIXUPS.sub(_telegram_escape, encode_basestring(value))


# JSON's own escaping differs from SerializeString only here: \b, \f and \u00XX for control
# characters (Telegram writes \xNN), and U+2028/U+2029 left raw (Telegram escapes them). An
# escaped backslash is matched first so that `\\b` stays a backslash followed by "b".
_JSON_FIXUPS = re.compile(r"\\\\|\\b|\\f|\\u00([01][0-9a-f])|[\u2028\u2029]")


def _telegram_escape(match: re.Match[str]) -> str:
    found = match.group(0)
    if found == "\\b":
        return "\\x08"
    if found == "\\f":
        return "\\x0C"
    if match.group(1):
        return f"\\x{match.group(1).upper()}"
    if found in "\u2028\u2029":
        return f"\\u{ord(found):04x}"
    return found


def json_value(value: Any, depth: int) -> str:
    """`value` laid out as Telegram Desktop does, its opening line at indentation `depth`."""
    if isinstance(value, dict):
        items = [
            f"\n{' ' * (depth + 1)}{json_string(k)}: {json_value(v, depth + 1)}"
            for k, v in value.items()
        ]
        return "{" + ",".join(items) + f"\n{' ' * depth}}}"
    if isinstance(value, list):
        if not value:
            return "[]"
        items = [f"\n{' ' * (depth + 1)}{json_value(v, depth + 1)}" for v in value]
        return "[" + ",".join(items) + f"\n{' ' * depth}]"
    if isinstance(value, bool):
        return "true" if value else "false"
    if value is None:
        return "null"
    if isinstance(value, int):
        return str(value)
    return json_string(str(value))


def text_fields(parts: Sequence[Part]) -> dict[str, Any]:
    """The `text` and `text_entities` fields Telegram Desktop writes for a message's parts."""
    objects = [
        {"type": "plain", "text": part}
        if isinstance(part, str)
        else {"type": part[0], "text": part[1], **part[2]}
        for part in parts
    ]
    if not parts:
        text: Any = ""
    elif len(parts) == 1 and isinstance(parts[0], str):
        text = parts[0]
    else:
        text = [
            part if isinstance(part, str) else obj for part, obj in zip(parts, objects, strict=True)
        ]
    return {"text": text, "text_entities": objects}


def local_date(unixtime: int) -> str:
    """The `date` field: the exporting machine's local time without a zone (UTC here)."""
    return datetime.fromtimestamp(unixtime, tz=UTC).strftime("%Y-%m-%dT%H:%M:%S")


def write_export(
    out: IO[str],
    *,
    name: str,
    channel_id: int,
    messages: Iterable[dict[str, Any]],
    chat_type: str = "public_channel",
) -> None:
    """Write a whole export: the header, then each message as it comes, then the closing lines."""
    out.write("{\n")
    out.write(f' "name": {json_string(name)},\n')
    out.write(f' "type": {json_string(chat_type)},\n')
    out.write(f' "id": {channel_id},\n')
    out.write(' "messages": [')
    first = True
    for message in messages:
        out.write("\n  " if first else ",\n  ")
        out.write(json_value(message, 2))
        first = False
    out.write("\n ]\n}")


def post(
    message_id: int,
    unixtime: int,
    parts: Sequence[Part],
    /,
    *,
    channel: tuple[str, int],
    **fields: Any,
) -> dict[str, Any]:
    """A channel post in Telegram Desktop's key order; `fields` go between sender and text."""
    name, channel_id = channel
    message: dict[str, Any] = {
        "id": message_id,
        "type": "message",
        "date": local_date(unixtime),
        "date_unixtime": str(unixtime),
    }
    edited = fields.pop("edited_unixtime", None)
    if edited is not None:
        message["edited"] = local_date(edited)
        message["edited_unixtime"] = str(edited)
    message["from"] = name
    message["from_id"] = f"channel{channel_id}"
    message.update(fields)
    message.update(text_fields(parts))
    return message


def service(
    message_id: int, unixtime: int, /, *, channel: tuple[str, int], action: str, **fields: Any
) -> dict[str, Any]:
    """A service message (pin, photo change, ...), which importers skip."""
    name, channel_id = channel
    return {
        "id": message_id,
        "type": "service",
        "date": local_date(unixtime),
        "date_unixtime": str(unixtime),
        "actor": name,
        "actor_id": f"channel{channel_id}",
        "action": action,
        **fields,
        "text": "",
        "text_entities": [],
    }


# --- synthetic content -----------------------------------------------------------------------


def _sentence(rng: random.Random, words: int) -> str:
    return " ".join(rng.choice(WORDS) for _ in range(words))


def _parts(rng: random.Random) -> list[Part]:
    """A post text: a plain string half the time, otherwise plain text mixed with entities."""
    if rng.random() < 0.5:
        text = f"{rng.choice(EMOJI)} {_sentence(rng, rng.randint(8, 60))}"
        if rng.random() < 0.02:
            text += "\x0b"  # a control character: written as \x0B
        return [text]
    parts: list[Part] = [("bold", f"{rng.choice(('BREAKING', 'JUST IN', 'UPDATE'))}:", {})]
    for _ in range(rng.randint(1, 6)):
        parts.append(f" {_sentence(rng, rng.randint(3, 25))} {rng.choice(EMOJI)} ")
        roll = rng.random()
        if roll < 0.3:
            parts.append(
                (
                    "text_link",
                    _sentence(rng, 2),
                    {"href": f"https://example.com/{rng.randrange(10**6)}"},
                )
            )
        elif roll < 0.5:
            parts.append(("cashtag", rng.choice(CASHTAGS), {}))
        elif roll < 0.65:
            parts.append(("hashtag", rng.choice(HASHTAGS), {}))
        elif roll < 0.75:
            parts.append(("italic", _sentence(rng, 3), {}))
        elif roll < 0.82:
            parts.append(("code", f"{rng.uniform(0, 100):.2f}%", {}))
        elif roll < 0.88:
            parts.append(("blockquote", _sentence(rng, 12), {"collapsed": rng.random() < 0.2}))
        elif roll < 0.92:
            parts.append(("pre", '{"rate": 4.25}\n', {"language": rng.choice(LANGUAGES)}))
        elif roll < 0.96:
            parts.append(("mention", "@bench_source", {}))
        else:
            parts.append(("link", f"https://example.org/{rng.randrange(10**6)}", {}))
    return parts


def _media_fields(rng: random.Random, message_id: int, unixtime: int) -> dict[str, Any]:
    roll = rng.random()
    stamp = datetime.fromtimestamp(unixtime, tz=UTC).strftime("%d-%m-%Y_%H-%M-%S")
    if roll < 0.40:
        return {
            "photo": f"photos/photo_{message_id}@{stamp}.jpg",
            "photo_file_size": rng.randint(20_000, 400_000),
            "width": 1280,
            "height": 720,
        }
    if roll < 0.50:
        media_type, folder, extension, mime = rng.choice(FILE_MEDIA)
        file_name = f"file_{message_id}.{extension}"
        fields: dict[str, Any] = {"file": f"{folder}/{file_name}"}
        if media_type in (None, "audio_file", "sticker"):
            fields["file_name"] = file_name
        fields["file_size"] = rng.randint(10_000, 50_000_000)
        if media_type is not None:
            fields["media_type"] = media_type
        fields["mime_type"] = mime
        return fields
    if roll < 0.505:
        return {
            "poll": {
                "question": f"{_sentence(rng, 6)}?",
                "closed": False,
                "total_voters": 120,
                "answers": [
                    {"text": "Yes", "voters": 70, "chosen": False},
                    {"text": "No", "voters": 50, "chosen": False},
                ],
            }
        }
    return {}


def messages(n: int, seed: int = 0) -> Iterable[dict[str, Any]]:
    """N synthetic posts, one at a time, with a service message about every fifty posts."""
    rng = random.Random(seed)
    channel = (CHANNEL_NAME, CHANNEL_ID)
    message_id = 1
    unixtime = START
    yield service(
        message_id, unixtime, channel=channel, action="create_channel", title=CHANNEL_NAME
    )
    written = 0
    while written < n:
        message_id += rng.choice((1, 1, 1, 2, 5))  # deleted posts leave gaps
        unixtime += rng.randint(20, 900)
        if rng.random() < 0.02:
            yield service(
                message_id,
                unixtime,
                channel=channel,
                action="pin_message",
                message_id=message_id - 1,
            )
            continue
        if rng.random() < 0.03 and n - written >= 3:
            # An album: several photos with one timestamp; the caption rides on the first.
            for position in range(rng.randint(2, 4)):
                parts = _parts(rng) if position == 0 else []
                yield post(
                    message_id,
                    unixtime,
                    parts,
                    channel=channel,
                    photo=f"photos/photo_{message_id}@album.jpg",
                    photo_file_size=rng.randint(20_000, 400_000),
                    width=1280,
                    height=960,
                )
                message_id += 1
                written += 1
                if written == n:
                    return
            continue
        extra: dict[str, Any] = {}
        if rng.random() < 0.6:
            extra["edited_unixtime"] = unixtime + rng.randint(5, 3_600)
        if rng.random() < 0.3:
            extra["author"] = rng.choice(("Desk A", "Desk B", "Night editor"))
        if rng.random() < 0.05:
            extra["forwarded_from"] = rng.choice(("Other Wire", None))
        if rng.random() < 0.08 and message_id > 10:
            extra["reply_to_message_id"] = message_id - rng.randint(1, 9)
        extra.update(_media_fields(rng, message_id, unixtime))
        yield post(message_id, unixtime, _parts(rng), channel=channel, **extra)
        written += 1


def generate(n: int, path: Path, seed: int = 0) -> None:
    """Write a synthetic export of `n` posts (plus service messages) to `path`."""
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("w", encoding="utf-8", newline="\n") as out:
        write_export(out, name=CHANNEL_NAME, channel_id=CHANNEL_ID, messages=messages(n, seed))


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("n", type=int, help="number of posts")
    parser.add_argument("out", type=Path, help="where to write result.json")
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args(argv)
    generate(args.n, args.out, args.seed)
    print(f"wrote {args.n} posts to {args.out} ({args.out.stat().st_size} bytes)", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
