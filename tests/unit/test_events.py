from civicquant.events import merge as events
from civicquant.events import similarity

STORY = "BREAKING: Federal Reserve holds interest rates at 5.25%-5.5%, signals two cuts next year"


def test_band_keys_stay_those_stored_sources_hold() -> None:
    # event_sources.bands keeps these keys: a change would hide every stored source from
    # the candidate lookup until the merge window has passed.
    assert events.bands(tuple(range(-3, 4))) == [1352262450235589059, 1761519346265598521]
    keys = events.bands(similarity.sketch(STORY).signature)
    assert len(keys) == events.BANDS
    assert keys[:3] == [-5156962061344593217, -2412069257977720388, 4852996370561356087]
    assert keys[-1] == 374236259334169396
