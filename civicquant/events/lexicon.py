"""Word lists of story matching: what a headline says about the direction of a change.

Data apart from the code that reads it (civicquant.events.contradiction). Lower case, the
forms news headlines use (English, Russian, Ukrainian), written for this module: a rise and
a fall of the same thing are two stories ("Brent rises 2%" / "Brent falls 5%"), however many
other words they share.
"""

from __future__ import annotations

# A quantity went up, or was raised.
UP_WORDS = frozenset(
    """
    rise rises rose risen rising up gain gains gained jump jumps jumped climb climbs climbed
    surge surges surged soar soars soared raise raises raised hike hikes hiked higher
    increase increases increased rally rallies rallied advance advances advanced tops
    повысил повысила повысило повысили повышает повышение вырос выросла выросло выросли
    растет растёт рост подорожал подорожала подорожало подорожали увеличил увеличила
    увеличили превысил превысила превысило
    підвищив підвищила підвищило підвищили зріс зросла зросло зросли зростання
    подорожчав подорожчала подорожчало подорожчали збільшив збільшила
    """.split()
)

# A quantity went down, or was cut.
DOWN_WORDS = frozenset(
    """
    fall falls fell fallen falling down drop drops dropped decline declines declined slump
    slumps slumped slide slides slid plunge plunges plunged tumble tumbles tumbled cut cuts
    lower lowers lowered decrease decreases decreased sink sinks sank
    снизил снизила снизило снизили снижает снижение понизил понизила понизили упал упала
    упало упали подешевел подешевела подешевело подешевели опустился опустилась
    опустилось опустились сократил сократила сократили
    знизив знизила знизило знизили впав впала впало впали подешевшав подешевшала
    подешевшали скоротив скоротила
    """.split()
)

# A channel's own follow-up of a story it posted: "UPDATE: ...", "UPD", "Обновлено".
UPDATE_MARKERS = frozenset(
    """
    update updated upd обновлено обновление апдейт доповнено оновлено оновлення
    """.split()
)
