"""The rule-based extractor: an `Extraction` from a post's text, deterministically, offline.

Use it as `from civicquant.extract import rules`, then `rules.extract(text)`; `RULES_VERSION`
names the current rules, so stored extractions can be told apart from what they would give
now. The algorithm lives in `extractor`, its word lists and tables in `lexicon`; the
headline's choice in `lead`, the breaking decision in `breaking`, their word lists in
`lead_lexicon`.
"""

from civicquant.extract.rules.extractor import RULES_VERSION, extract

__all__ = ["RULES_VERSION", "extract"]
