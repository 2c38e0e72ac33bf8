import pytest

from civicquant.queries import all_queries, parse


def test_parse_reads_named_blocks_without_descriptions() -> None:
    text = "-- one --\n-- the first\nSELECT 1;\n\n-- two --\n-- the second\nSELECT %(x)s\n"
    assert parse(text) == {"one": "SELECT 1", "two": "SELECT %(x)s"}


def test_parse_rejects_a_duplicate_name() -> None:
    with pytest.raises(ValueError, match="twice"):
        parse("-- one --\nSELECT 1;\n-- one --\nSELECT 2;\n")


def test_shipped_queries_load_and_use_named_parameters_only() -> None:
    queries = all_queries()
    assert "acquire_lease" in queries
    for name, statement in queries.items():
        assert "%s" not in statement, name
        assert "{" not in statement.replace("'{}'", ""), name
