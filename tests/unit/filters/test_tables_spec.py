"""The tables spec grammar, its errors and the privacy of watchlists, watchmaps and
annotators."""
import pytest

from solas.filters import Access, FilterError, TablesSpec, check_access, parse_tables


@pytest.mark.parametrize("spec, parsed", [
    ("objects", TablesSpec()),
    ("", TablesSpec()),
    ("  Objects ,SHERLOCK_classifications", TablesSpec(sherlock=True)),
    ("objects, sherlock_classifications, watchlist:12",
     TablesSpec(sherlock=True, watchlist=12)),
    ("crossmatch_tns, watchmap : 3 & 7, watchmap:9",
     TablesSpec(crossmatch_tns=True, watchmaps=(3, 7, 9))),
    ("annotator:fastfinder, annotator:Fink_2", TablesSpec(annotators=("fastfinder", "Fink_2"))),
])
def test_parse_tables(spec, parsed):
    assert parse_tables(spec) == parsed
    assert parse_tables(parsed.text()) == parsed


def test_canonical_text():
    spec = TablesSpec(True, True, 4, (3, 7), ("fastfinder",))
    assert spec.text() == ("objects, sherlock_classifications, crossmatch_tns, watchlist:4, "
                           "watchmap:3&7, annotator:fastfinder")
    assert spec.references() == [("watchlist", 4), ("watchmap", 3), ("watchmap", 7),
                                 ("annotator", "fastfinder")]


@pytest.mark.parametrize("spec, message, position", [
    ("objects,", "empty item", 8),
    ("objects, objects", "listed twice", 9),
    ("watchlist:1, watchlist:2", "only one watchlist", 13),
    ("watchmap:3&3", "watchmap 3 is listed twice", 11),
    ("watchmap:3&", "watchmap id must be", 11),
    ("watchlist:0", "positive integer", 10),
    ("watchlist:-1", "positive integer", 10),
    ("watchlist:99999999999", "positive integer", 10),
    ("annotator:2fast", "annotator topic", 10),
    ("annotator:objects", "clashes with a table name", 10),
    ("annotator:area_hits_3", "clashes with a table name", 10),
    ("annotator:a, annotator:A", "listed twice", 23),
    ("sherlock", "did you mean sherlock_classifications?", 0),
    ("watchlist_hits", "write watchlist:<id>", 0),
    ("annotations", "write annotator:<topic>", 0),
    ("objects JOIN users", "unknown table", 0),
])
def test_bad_specs_name_the_item_and_position(spec, message, position):
    with pytest.raises(FilterError, match=message) as caught:
        parse_tables(spec)
    assert caught.value.field == "tables"
    assert caught.value.position == position


def test_not_a_string():
    with pytest.raises(FilterError, match="must be a string"):
        parse_tables(None)


def test_access_is_asked_about_every_reference(owner_access, stranger_access):
    asked = []

    def access(kind, key):
        asked.append((kind, key))
        return Access.VISIBLE

    parse_tables("watchlist:12, watchmap:3&7, annotator:fastfinder", access)
    assert asked == [("watchlist", 12), ("watchmap", 3), ("watchmap", 7),
                     ("annotator", "fastfinder")]
    assert parse_tables("watchlist:12, watchmap:3", owner_access).watchmaps == (3,)
    assert parse_tables("watchlist:5, annotator:fastfinder", stranger_access).watchlist == 5


@pytest.mark.parametrize("spec, message", [
    ("watchlist:12", "watchlist 12 is private"),
    ("watchlist:99", "no watchlist 99"),
    ("watchmap:7&3", "watchmap 3 is private"),
    ("watchmap:404", "no watchmap 404"),
    ("annotator:secretbot", "annotator secretbot is private"),
    ("annotator:nobody", "no annotator nobody"),
])
def test_private_and_missing_references_are_refused(spec, message, stranger_access):
    with pytest.raises(FilterError, match=message):
        parse_tables(spec, stranger_access)
    with pytest.raises(FilterError, match=message):
        check_access(parse_tables(spec), stranger_access)


def test_access_must_answer_with_access():
    with pytest.raises(TypeError, match="must return an Access"):
        parse_tables("watchlist:1", lambda kind, key: True)
