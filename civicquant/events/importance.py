"""How important an event is: its sources' readings, their channels' weights and
engagement, and corroboration by distinct channels with diminishing returns.

The arithmetic runs in SQL (`refresh_events` in sql/queries/events.sql), in the same
transaction as every join, merge and re-extraction, so an event's importance is always
that of its current sources. These are its constants, passed in as parameters:

- A source's reading `x` is the extractor's importance of its post. It is scaled as odds
  by `k = channel weight * engagement`: `s = k x / (k x + 1 - x)`. At weight 1 and the
  channel's median engagement `s = x`, so a single-source event keeps the extractor's
  reading and FLASH_MIN_IMPORTANCE / BREAKING_MIN_IMPORTANCE mean what they meant; odds
  never leave (0, 1), so a weight-2 channel's 0.9 (0.95) still ranks above its 0.6 (0.75).
- Engagement: `exp(clamp(VIEWS_EXPONENT ln((views+1)/(median+1)) + FORWARDS_EXPONENT
  ln((forwards+1)/(median+1)), -ENGAGEMENT_CAP, ENGAGEMENT_CAP))`, against the channel's
  own medians over ENGAGEMENT_DAYS up to its newest source in the event. Views are as
  stored when the post was first read (listen reads posts young, backfill and exports
  old), so they are compared only with the same channel's.
- Corroboration: a channel counts once, with its best source. The best channel's score is
  the base, and each further channel closes CORROBORATION_SHARE of its own score of the
  gap left: `1 - (1 - s_1) * prod(1 - CORROBORATION_SHARE * s_c)`.
"""

from __future__ import annotations

import math
from typing import Any

# Each further channel closes half its score of the remaining gap. At a typical reading of
# 0.6 (the demo's breaking stories read 0.6-0.8) a second channel adds 0.12 and a third
# 0.10, about the +0.1 per channel of the formula before this one, and the fifth only
# 0.06: ten channels repeating a story are not ten times the news. A 3-channel event
# outranks a 1-channel one of the same reading (tests/integration/test_importance.py).
CORROBORATION_SHARE = 0.5
# Square root of the views ratio: 4x the channel's median views doubles the odds. Not
# measured (none of the sample exports carry views); chosen so that engagement is a
# correction to the reading, not a ranking of its own.
VIEWS_EXPONENT = 0.5
# Forwards count half as much as views: they are fewer, so their ratio is noisier.
FORWARDS_EXPONENT = 0.25
# Engagement moves the odds by at most 2x either way: a viral post of a small channel
# must not outrank the news of the day (a reading of 0.3 can reach 0.46, not 0.9).
ENGAGEMENT_CAP = math.log(2.0)
# The channel's median over a week: long enough to hold a weekday and weekend rhythm,
# short enough to follow a channel that grows.
ENGAGEMENT_DAYS = 7
# Fewer posts with views than this in the week: no median worth comparing, engagement 1.
ENGAGEMENT_MIN_POSTS = 10


def refresh_parameters() -> dict[str, Any]:
    """The constants as `refresh_events` takes them."""
    return {
        "corroboration_share": CORROBORATION_SHARE,
        "views_exponent": VIEWS_EXPONENT,
        "forwards_exponent": FORWARDS_EXPONENT,
        "engagement_cap": ENGAGEMENT_CAP,
        "engagement_days": ENGAGEMENT_DAYS,
        "engagement_min_posts": ENGAGEMENT_MIN_POSTS,
    }
