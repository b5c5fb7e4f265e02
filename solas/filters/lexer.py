"""A small SQL lexer for user filter text (a strict subset of MariaDB's lexical rules).

Tokens are words (unquoted identifiers and keywords), backtick-quoted identifiers,
string literals (single or double quotes), decimal numbers, operators and the
punctuation ``( ) , .``.  Everything that could change how the server splits the text
into statements or hides text from the vetter is refused here, at its position:
comments of every kind (``--``, ``#``, ``/* */``, ``/*! */``), ``;``, user and system
variables (``@x``, ``@@x``), placeholders, ODBC escapes, hexadecimal, bit and
charset-prefixed literals, and any character that is not printable ASCII outside a
string literal (which rules out Unicode look-alike letters and spaces).

String literals keep MariaDB's rules in its default SQL mode (a backslash escapes the
next character, a doubled quote is a quote), except that a backslash may not escape the
literal's own quote character (write ``''`` instead): with that rule a literal ends at
the same place whether or not the server runs with ``NO_BACKSLASH_ESCAPES``, so the
token boundaries the vetter sees are the server's whatever its mode.
"""
from __future__ import annotations

import re
from typing import NamedTuple

from solas.filters.errors import FilterError

WHITESPACE = " \t\r\n"
# Longest first: the lexer takes the first that matches.
OPERATORS = ("<=>", "<<", ">>", "<=", ">=", "<>", "!=", "=", "<", ">", "+", "-", "*",
             "/", "%", "&", "|", "^", "~", "!")
PUNCTUATION = "(),."
_WORD = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")
_NUMBER = re.compile(r"(?:\d+(?:\.\d+)?|\.\d+)(?:[eE][+-]?\d+)?")
_IDENT_CHAR = re.compile(r"[A-Za-z0-9_$.]")

# Character (or pair) -> why it is refused outside a string literal.
_REFUSED = {
    "--": "comments are not allowed ('--'); write '- -' for a double minus",
    "#": "comments are not allowed ('#')",
    "/*": "comments are not allowed ('/* */', including '/*! */' executable comments)",
    ";": "only one statement: ';' is not allowed outside a string literal",
    "@": "user and system variables (@x, @@x) are not allowed",
    "?": "placeholders ('?') are not allowed",
    "{": "ODBC escapes ('{...}') are not allowed",
    "}": "ODBC escapes ('{...}') are not allowed",
    ":": "':' is not allowed (no ':=' assignments)",
    "||": "'||' is not allowed: write OR",
    "&&": "'&&' is not allowed: write AND",
    "\\": "a backslash is only allowed inside a string literal",
}


class Token(NamedTuple):
    """One token: ``kind`` is word, quoted (a backtick identifier), string, number, op,
    punct or end; ``text`` is the source text; ``value`` the identifier name (words and
    quoted identifiers), else the text; ``pos`` the 0-based offset in the source."""

    kind: str
    text: str
    value: str
    pos: int


def tokenize(text: str, field: str) -> list[Token]:
    """Split filter text into tokens, ending with an ``end`` token.

    Raises :class:`FilterError` (with ``field`` and the offending position) for
    anything the lexer refuses (see the module docstring).
    """
    tokens: list[Token] = []
    i, n = 0, len(text)
    while i < n:
        c = text[i]
        if c in WHITESPACE:
            i += 1
        elif c in "'\"":
            i = _string(text, i, field, tokens)
        elif c == "`":
            i = _quoted(text, i, field, tokens)
        elif c.isascii() and (c.isdigit() or (c == "." and text[i + 1:i + 2].isdigit())):
            i = _number(text, i, field, tokens)
        elif c.isascii() and (c.isalpha() or c == "_"):
            i = _word(text, i, field, tokens)
        else:
            i = _symbol(text, i, field, tokens)
    tokens.append(Token("end", "", "", n))
    return tokens


def _string(text: str, start: int, field: str, tokens: list[Token]) -> int:
    quote, i, n = text[start], start + 1, len(text)
    while i < n:
        c = text[i]
        if c == "\\":
            if i + 1 < n and text[i + 1] == quote:
                raise FilterError(f"a backslash may not escape the quote ({quote}) of a "
                                  f"string: double it instead ({quote}{quote})",
                                  field=field, position=i)
            i += 2
        elif c == quote:
            if text[i + 1:i + 2] == quote:
                i += 2
            else:
                tokens.append(Token("string", text[start:i + 1], text[start:i + 1], start))
                return i + 1
        else:
            i += 1
    raise FilterError("the string literal starting here is not closed", field=field,
                      position=start)


def _quoted(text: str, start: int, field: str, tokens: list[Token]) -> int:
    i, n = start + 1, len(text)
    while i < n:
        if text[i] == "`":
            if text[i + 1:i + 2] == "`":
                i += 2
                continue
            raw = text[start:i + 1]
            name = raw[1:-1].replace("``", "`")
            if not name:
                raise FilterError("empty quoted identifier ``", field=field, position=start)
            tokens.append(Token("quoted", raw, name, start))
            return i + 1
        i += 1
    raise FilterError("the quoted identifier starting here is not closed", field=field,
                      position=start)


def _number(text: str, start: int, field: str, tokens: list[Token]) -> int:
    if text[start] == "0" and text[start + 1:start + 2] in ("x", "X", "b", "B"):
        raise FilterError("hexadecimal and binary literals (0x.., 0b..) are not allowed",
                          field=field, position=start)
    match = _NUMBER.match(text, start)
    assert match is not None  # the caller saw a digit or '.' + digit
    end = match.end()
    if end < len(text) and _IDENT_CHAR.match(text, end):
        raise FilterError(f"malformed number {text[start:end + 1]!r}", field=field,
                          position=start)
    tokens.append(Token("number", text[start:end], text[start:end], start))
    return end


def _word(text: str, start: int, field: str, tokens: list[Token]) -> int:
    match = _WORD.match(text, start)
    assert match is not None  # the caller saw a letter or '_'
    end = match.end()
    if text[end:end + 1] in ("'", '"'):
        raise FilterError(f"prefixed string literals ({match.group()}'...': hexadecimal, "
                          "bit, national or character-set strings) are not allowed",
                          field=field, position=start)
    tokens.append(Token("word", match.group(), match.group(), start))
    return end


def _symbol(text: str, start: int, field: str, tokens: list[Token]) -> int:
    c = text[start]
    pair = text[start:start + 2]
    if pair in _REFUSED:
        raise FilterError(_REFUSED[pair], field=field, position=start)
    if c in _REFUSED:
        raise FilterError(_REFUSED[c], field=field, position=start)
    if c in PUNCTUATION:
        tokens.append(Token("punct", c, c, start))
        return start + 1
    for op in OPERATORS:
        if text.startswith(op, start):
            tokens.append(Token("op", op, op, start))
            return start + len(op)
    if not c.isascii() or not c.isprintable():
        raise FilterError(f"character {c!r} (U+{ord(c):04X}) is not allowed outside a "
                          "string literal (only printable ASCII)", field=field, position=start)
    raise FilterError(f"unexpected character {c!r}", field=field, position=start)
