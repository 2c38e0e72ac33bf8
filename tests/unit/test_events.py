from civicquant.events import merge as events
from civicquant.events import similarity

STORY = "BREAKING: Federal Reserve holds interest rates at 5.25%-5.5%, signals two cuts next year"


def test_band_keys_stay_those_stored_sources_hold() -> None:
    # event_sources.bands keeps these keys: a change would hide every stored source from
    # the candidate lookup until the merge window has passed, so it changes only with
    # SIMILARITY_VERSION (2: mix64 bands) and a reparse.
    assert events.bands(tuple(range(-3, 4))) == [309505961743477716, 7773517726764516858]
    keys = events.bands(similarity.sketch(STORY).signature)
    assert len(keys) == events.BANDS
    assert keys[:3] == [5049348728879730749, -1413077345632560420, -6871823612814159995]
    assert keys[-1] == -1363826913672686213
