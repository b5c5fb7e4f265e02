"""What a filter expression can cost the server, bounded before MariaDB sees it.

MariaDB folds constant expressions while it *optimises* a statement, and neither
``max_statement_time`` nor ``KILL QUERY`` interrupts that: a filter such as
``REPLACE(REPLACE(REPLACE('<60,000 a>', 'a', 'aaaaaaaaaa'), ...), ...) IS NULL`` keeps
one server thread at 100% CPU for minutes after the client gave up.  Deeply nested
operators (``~~~~...``) overrun the server's thread stack.  The vetter therefore gives
every expression an :class:`Expr` with an upper bound on the bytes of its value as text
and the depth of its expression tree, computed by the pure rules below, and refuses a
filter that goes over a limit (:data:`LIMITS`), naming the limit.

The bounds are worst cases: a column counts as its declared width (``varchar(n)``: 4n
bytes; TEXT and JSON: 64 KiB), a number as :data:`NUMERIC_BYTES`, ``REPLACE(s, f, t)``
as ``s * ceil(t / len(f))`` when ``f`` is a non-empty string literal and ``s * t``
otherwise, ``CONCAT`` as the sum of its arguments.
"""
from __future__ import annotations

import math
from typing import NamedTuple

#: Longest string (or number) literal, bytes.
MAX_LITERAL_BYTES = 4096
#: Largest value, in bytes, that any expression of a filter can produce as text.
MAX_VALUE_BYTES = 1 << 20
#: String-growing functions (:data:`GROWING`) inside one another.
MAX_GROWING_NESTING = 3
#: Bytes the string-growing functions of *constant* expressions of one part of a filter
#: (SELECT list, conditions) can produce together: work MariaDB does while optimising,
#: out of reach of its time limit.
MAX_CONSTANT_WORK_BYTES = 4 << 20
#: Operators, calls and CASEs inside one another (the server's expression tree depth;
#: AND/OR chains count once, as the server flattens them).
MAX_TREE_DEPTH = 100

LIMITS = {
    "MAX_LITERAL_BYTES": MAX_LITERAL_BYTES, "MAX_VALUE_BYTES": MAX_VALUE_BYTES,
    "MAX_GROWING_NESTING": MAX_GROWING_NESTING,
    "MAX_CONSTANT_WORK_BYTES": MAX_CONSTANT_WORK_BYTES, "MAX_TREE_DEPTH": MAX_TREE_DEPTH,
}

#: Upper bound of a number, boolean, date or time rendered as text, bytes.
NUMERIC_BYTES = 80
#: Bound taken for a TEXT/JSON/BLOB column's value, bytes.
TEXT_COLUMN_BYTES = 65_535
#: Depth of JSON documents MariaDB accepts: a wildcard path can return a value per level.
JSON_MAX_DEPTH = 32
#: Functions that can return a string longer than their longest argument.
GROWING = frozenset(("CONCAT", "CONCAT_WS", "REPLACE", "REGEXP_REPLACE", "DATE_FORMAT",
                     "FROM_UNIXTIME"))
#: Functions whose value is at most as long as their longest argument.
PRESERVING = frozenset((
    "LOWER", "UPPER", "LCASE", "UCASE", "TRIM", "LTRIM", "RTRIM", "REVERSE", "LEFT", "RIGHT",
    "SUBSTRING", "SUBSTR", "SUBSTRING_INDEX", "REGEXP_SUBSTR", "IF", "IFNULL", "NULLIF",
    "COALESCE", "GREATEST", "LEAST", "JSON_UNQUOTE", "JSON_VALUE", "JSON_KEYS"))
#: JSON functions that can return several parts of their document at once.
JSON_GATHERING = frozenset(("JSON_EXTRACT", "JSON_QUERY"))
#: Longest text FORMAT(x, d[, locale]) can give: 309 digits, separators, 38 decimals.
FORMAT_BYTES = 512
#: Longest expansion of one DATE_FORMAT specifier (two characters: %W -> 'Wednesday').
DATE_FORMAT_GROWTH = 5


class Expr(NamedTuple):
    """A vetted expression: its SQL, an upper bound of its value's length as text
    (``size``, bytes), its expression-tree ``depth``, the nesting of string-growing
    functions in it (``growing``), whether it is ``constant`` (no column: the server
    evaluates it once, while optimising) and, for a plain string literal, its text."""

    sql: str
    size: int
    depth: int = 1
    growing: int = 0
    constant: bool = True
    literal: str | None = None


def column_bytes(kind: str) -> int:
    """Upper bound of a column's value as text, bytes, from its portable kind."""
    if kind.startswith("varchar("):
        return 4 * int(kind[len("varchar("):-1])
    if kind in ("text", "json", "bytes"):
        return TEXT_COLUMN_BYTES
    return NUMERIC_BYTES


def combined(sql: str, parts: list[Expr] | tuple[Expr, ...], size: int = NUMERIC_BYTES,
             deeper: int = 1) -> Expr:
    """An expression made of ``parts`` (operands or arguments), ``deeper`` levels above
    the deepest of them, whose value is at most ``size`` bytes."""
    return Expr(sql, size, max((p.depth for p in parts), default=0) + deeper,
                max((p.growing for p in parts), default=0),
                all(p.constant for p in parts))


def call_size(name: str, args: list[Expr]) -> int:
    """Upper bound, bytes, of the value of the allowed function ``name`` on ``args``."""
    sizes = [a.size for a in args]
    if name == "CONCAT":
        return sum(sizes)
    if name == "CONCAT_WS":
        return sum(sizes[1:]) + sizes[0] * max(0, len(sizes) - 2)
    if name == "REPLACE":
        subject, old, new = args
        if old.literal is not None:
            if not old.literal:
                return subject.size  # MariaDB returns the subject unchanged
            return subject.size * max(1, math.ceil(new.size / len(old.literal)))
        return subject.size * max(1, new.size)
    if name == "REGEXP_REPLACE":
        # (s + 1) matches at most (empty ones included), each replaced by the
        # replacement, whose back-references add the matched text: at most s in all
        # per back-reference, and there are fewer back-references than its bytes.
        length, replacement = sizes[0], max(1, sizes[2])
        return (2 * length + 2) * replacement + length
    if name == "DATE_FORMAT" or (name == "FROM_UNIXTIME" and len(args) == 2):
        return DATE_FORMAT_GROWTH * sizes[-1] + NUMERIC_BYTES
    if name == "FORMAT":
        return FORMAT_BYTES
    if name in JSON_GATHERING:
        paths = args[1:]
        plain = all(p.literal is not None and "*" not in p.literal for p in paths)
        return sizes[0] * len(paths) * (1 if plain else JSON_MAX_DEPTH) + 2 * len(paths)
    if name in PRESERVING:
        return max(sizes, default=NUMERIC_BYTES)
    return NUMERIC_BYTES


def literal_bytes(token_text: str) -> int:
    """Bytes of a string literal's value (at most: escapes only shorten it)."""
    return len(token_text.encode("utf-8")) - 2


def literal_text(token_text: str) -> str:
    """A string literal's value, at its shortest: a backslash escape and a doubled
    quote count as the one character they stand for (with ``NO_BACKSLASH_ESCAPES`` the
    server's value is longer, never shorter)."""
    body, quote, out, i = token_text[1:-1], token_text[0], [], 0
    while i < len(body):
        if body[i] == "\\" or body[i:i + 2] == quote * 2:
            out.append(body[i + 1:i + 2])
            i += 2
        else:
            out.append(body[i])
            i += 1
    return "".join(out)
