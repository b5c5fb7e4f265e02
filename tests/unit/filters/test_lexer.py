"""The lexer: token boundaries, literals and what it refuses."""
import re

import pytest

from solas.filters import FilterError
from solas.filters.lexer import tokenize


def kinds(text):
    return [(t.kind, t.text) for t in tokenize(text, "conditions")[:-1]]


def test_tokens_and_positions():
    tokens = tokenize("objects.ra>=1.5e-3 AND `my``col` <=> 'x'", "conditions")
    assert [(t.kind, t.value, t.pos) for t in tokens] == [
        ("word", "objects", 0), ("punct", ".", 7), ("word", "ra", 8), ("op", ">=", 10),
        ("number", "1.5e-3", 12), ("word", "AND", 19), ("quoted", "my`col", 23),
        ("op", "<=>", 33), ("string", "'x'", 37), ("end", "", 40)]


@pytest.mark.parametrize("literal", [
    "'plain'", "'it''s'", '"double ""quoted"""', "'back\\\\slash'", "'tab\\tand\\n'",
    "'like \\% and \\_'", "'a \"quote\" inside'", '"an \'apostrophe\' inside"',
    "';--#/*'", "'ＳＬＥＥＰ é'", "''",
])
def test_string_literals_are_one_token(literal):
    assert kinds(f"x = {literal} AND y") == [
        ("word", "x"), ("op", "="), ("string", literal), ("word", "AND"), ("word", "y")]


@pytest.mark.parametrize("number", ["1", "1.5", ".5", "1e5", "1E+5", "2.5e-10", "007"])
def test_numbers(number):
    assert kinds(number) == [("number", number)]


@pytest.mark.parametrize("text, message, position", [
    ("1.", "malformed number", 0),
    ("1.2.3", "malformed number", 0),
    ("1e", "malformed number", 0),
    ("12abc", "malformed number", 0),
    ("0x1F", "hexadecimal", 0),
    ("x = N'abc'", "prefixed string", 4),
    ("'it\\'s'", "backslash may not escape", 3),
    ('"say \\"hi\\""', "backslash may not escape", 5),
    ("'abc\\", "not closed", 0),
    ("`abc", "not closed", 0),
    ("``", "empty quoted identifier", 0),
    ("a $ b", "unexpected character '$'", 2),
    ("a ? b", "placeholders", 2),
    ("a \\N", "backslash", 2),
    ("a\x0bb", "U+000B", 1),
    ("a && b", "write AND", 2),
])
def test_refused_text(text, message, position):
    with pytest.raises(FilterError, match=re.escape(message)) as caught:
        tokenize(text, "conditions")
    assert caught.value.position == position
    assert caught.value.field == "conditions"
