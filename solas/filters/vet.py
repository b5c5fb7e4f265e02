"""Parse and vet the SELECT list and the conditions of a filter, rendering them anew.

The parser accepts a strict subset of MariaDB expressions: literals, column references,
allowed function calls (:mod:`solas.filters.functions`), CASE, INTERVAL, CAST/CONVERT,
unary and binary operators, comparisons, IS, [NOT] LIKE/RLIKE/REGEXP/BETWEEN/IN with a
value list, and parentheses.  There is no production for a subquery, UNION, INTO,
locking, SET, LIMIT, variables or comments, so none can get through.

The SQL it returns is re-rendered from the tokens (canonical column and function names,
single spaces, helper functions expanded, column references qualified), in the user's
token order: the server applies its own operator precedence to the same expression the
user wrote, and nothing of the user's text reaches the server except the string and
number literals the lexer delimited and output names made of ``[A-Za-z0-9_]``.
"""
from __future__ import annotations

import difflib
import re
from typing import NamedTuple, Protocol

from solas.filters.errors import FilterError
from solas.filters.functions import (AGGREGATES, ALLOWED_FUNCTIONS, CAST_LENGTHS,
                                     CAST_TYPES, FORBIDDEN_WORDS, HELPERS, KEYWORDS, UNITS)
from solas.filters.lexer import Token, tokenize
from solas.filters.scope import Scope, missing_table_hint
from solas.filters.tables_spec import TablesSpec

MAX_LENGTH = 65_535  # the filters table stores each part in a TEXT column
MAX_DEPTH = 40  # nested parentheses, calls and CASEs
RESERVED_KEYS = ("UTC", "alert")  # keys Solas adds to every output message
_ALIAS = re.compile(r"[A-Za-z_][A-Za-z0-9_]{0,63}")
_COMPARISONS = frozenset(("=", "<=>", "!=", "<>", "<", "<=", ">", ">="))
_BINARY = frozenset(("|", "&", "<<", ">>", "+", "-", "*", "/", "%", "^"))
_UNARY = frozenset(("-", "+", "~", "!"))
_PATTERN_OPS = ("LIKE", "RLIKE", "REGEXP", "BETWEEN", "IN")


class SelectItem(NamedTuple):
    """One vetted output column: its SQL expression, its output key, where it starts
    in the SELECT list, and whether the key is rendered as an alias (``AS``)."""

    expression: str
    key: str
    position: int
    aliased: bool

    def sql(self) -> str:
        """The item as it goes into the SELECT list."""
        return f"{self.expression} AS `{self.key}`" if self.aliased else self.expression


class Conditions(NamedTuple):
    """Vetted conditions: the WHERE expression (None if empty) and ORDER BY items."""

    where: str | None
    order: tuple[str, ...]


class Resolver(Protocol):
    """Turns column references into SQL: (rendered text, real column name or None)."""

    def qualified(self, parser: "Parser", table: Token, column: Token) -> tuple[str, str]:
        ...

    def bare(self, parser: "Parser", column: Token) -> tuple[str, str | None]:
        ...


class Parser:
    """Recursive-descent parser over the tokens of one part (``field``) of a filter.
    Every method consumes a construct and returns its rendered SQL."""

    def __init__(self, text: str, field: str, resolver: Resolver) -> None:
        if not isinstance(text, str):
            raise FilterError(f"must be a string, not {type(text).__name__}", field=field)
        if len(text) > MAX_LENGTH:
            raise FilterError(f"too long ({len(text)} characters, at most {MAX_LENGTH})",
                              field=field)
        self.tokens = tokenize(text, field)
        self.field, self.resolver = field, resolver
        self.i = self.depth = 0
        self.clause = "select"  # select, where or order
        self.columns: dict[tuple[int, int], tuple[str, str]] = {}  # span -> written, real

    # ------------------------------------------------------------------ helpers
    def peek(self, ahead: int = 0) -> Token:
        return self.tokens[min(self.i + ahead, len(self.tokens) - 1)]

    def next(self) -> Token:
        token = self.peek()
        self.i = min(self.i + 1, len(self.tokens) - 1)
        return token

    @staticmethod
    def is_word(token: Token, *words: str) -> bool:
        return token.kind == "word" and token.value.upper() in words

    @staticmethod
    def is_punct(token: Token, char: str) -> bool:
        return token.kind == "punct" and token.value == char

    def error(self, token: Token, problem: str) -> FilterError:
        return FilterError(problem, field=self.field, position=token.pos)

    def unexpected(self, token: Token, expected: str) -> FilterError:
        if token.kind == "word" and token.value.upper() in FORBIDDEN_WORDS:
            return self.error(token, f"{token.value.upper()}: "
                                     f"{FORBIDDEN_WORDS[token.value.upper()]}")
        if token.kind == "end":
            return self.error(token, f"unexpected end: expected {expected}")
        return self.error(token, f"expected {expected}, found {token.text!r}")

    def expect_punct(self, char: str) -> None:
        if not self.is_punct(self.peek(), char):
            raise self.unexpected(self.peek(), f"'{char}'")
        self.next()

    def expect_word(self, word: str) -> None:
        if not self.is_word(self.peek(), word):
            raise self.unexpected(self.peek(), word)
        self.next()

    def at_end(self) -> bool:
        return self.peek().kind == "end"

    # --------------------------------------------------------------- top level
    def select_list(self) -> list[SelectItem]:
        """``expr [AS alias] (, expr [AS alias])*``; each item gets its output key."""
        items: list[SelectItem] = []
        if self.at_end():
            raise self.error(self.peek(), "the SELECT list is empty")
        while True:
            first = self.peek()
            if first.kind == "op" and first.value == "*":
                raise self.error(first, "SELECT * is not supported: list the columns "
                                        "(their names are the keys of the output)")
            start = self.i
            sql = self.expr()
            column = self.columns.get((start, self.i))
            items.append(self._select_item(sql, column, first))
            if self.is_punct(self.peek(), ","):
                self.next()
            elif self.at_end():
                return items
            else:
                raise self.unexpected(self.peek(), "',', AS or the end of the list")

    def _select_item(self, sql: str, column: tuple[str, str] | None,
                     first: Token) -> SelectItem:
        if self.is_word(self.peek(), "AS"):
            self.next()
            alias = self.next()
            if alias.kind not in ("word", "quoted") or not _ALIAS.fullmatch(alias.value):
                raise self.error(alias, "an alias must be a name of letters, digits and "
                                        "'_' (at most 64, not starting with a digit)")
            return SelectItem(sql, alias.value, first.pos, True)
        if column is None:
            raise self.error(first, "give this expression a name with AS (it is the key "
                                    "of this value in the output)")
        written, real = column
        return SelectItem(sql, written, first.pos, written != real)

    def conditions(self) -> Conditions:
        """``[expr] [ORDER BY expr [ASC|DESC] (, ...)*]``."""
        where = None
        if not self.at_end() and not self.is_word(self.peek(), "ORDER"):
            self.clause = "where"
            where = self.expr()
        order: list[str] = []
        if self.is_word(self.peek(), "ORDER"):
            self.next()
            self.expect_word("BY")
            self.clause = "order"
            while True:
                item = self.expr()
                if self.is_word(self.peek(), "ASC", "DESC"):
                    item += " " + self.next().value.upper()
                order.append(item)
                if not self.is_punct(self.peek(), ","):
                    break
                self.next()
        if not self.at_end():
            raise self.unexpected(self.peek(), "an operator, AND, OR, ORDER BY or the end")
        return Conditions(where, tuple(order))

    # ------------------------------------------------------------- expressions
    def expr(self) -> str:
        self.depth += 1
        if self.depth > MAX_DEPTH:
            raise self.error(self.peek(), f"nested too deeply (more than {MAX_DEPTH} "
                                          "levels of parentheses, calls or CASE)")
        try:
            return self._chain(self._xor, "OR")
        finally:
            self.depth -= 1

    def _chain(self, operand, word: str) -> str:
        text = operand()
        while self.is_word(self.peek(), word):
            self.next()
            text = f"{text} {word} {operand()}"
        return text

    def _xor(self) -> str:
        return self._chain(self._and, "XOR")

    def _and(self) -> str:
        return self._chain(self._not, "AND")

    def _not(self) -> str:
        nots = 0
        while self.is_word(self.peek(), "NOT"):
            self.next()
            nots += 1
        return "NOT " * nots + self._predicate()

    def _predicate(self) -> str:
        text = self._bits()
        while True:
            token = self.peek()
            if token.kind == "op" and token.value in _COMPARISONS:
                self.next()
                text = f"{text} {token.value} {self._bits()}"
            elif self.is_word(token, "IS"):
                self.next()
                text = f"{text} IS {self._maybe_not()}{self._is_value()}"
            elif self.is_word(token, *_PATTERN_OPS) or (
                    self.is_word(token, "NOT") and self.is_word(self.peek(1), *_PATTERN_OPS)):
                text = f"{text} {self._maybe_not()}{self._pattern()}"
            else:
                return text

    def _maybe_not(self) -> str:
        if self.is_word(self.peek(), "NOT"):
            self.next()
            return "NOT "
        return ""

    def _is_value(self) -> str:
        token = self.next()
        if not self.is_word(token, "NULL", "TRUE", "FALSE", "UNKNOWN"):
            raise self.unexpected(token, "NULL, TRUE, FALSE or UNKNOWN after IS")
        return token.value.upper()

    def _pattern(self) -> str:
        op = self.next().value.upper()
        if op == "IN":
            self.expect_punct("(")
            values = self._list()
            self.expect_punct(")")
            return f"IN ({', '.join(values)})"
        if op == "BETWEEN":
            low = self._bits()
            self.expect_word("AND")
            return f"BETWEEN {low} AND {self._bits()}"
        text = f"{op} {self._bits()}"
        if op == "LIKE" and self.is_word(self.peek(), "ESCAPE"):
            self.next()
            text += f" ESCAPE {self._bits()}"
        return text

    def _bits(self) -> str:
        text = self._unary()
        while True:
            token = self.peek()
            if token.kind == "op" and token.value in _BINARY:
                op = token.value
            elif self.is_word(token, "DIV", "MOD"):
                op = token.value.upper()
            else:
                return text
            self.next()
            text = f"{text} {op} {self._unary()}"

    def _unary(self) -> str:
        ops = []
        while self.peek().kind == "op" and self.peek().value in _UNARY:
            ops.append(self.next().value)
        text = self._primary()
        for op in reversed(ops):  # never render '--': it would start a comment
            text = f"{op} {text}" if text.startswith(("-", "+")) else f"{op}{text}"
        return text

    def _list(self) -> list[str]:
        values = [self.expr()]
        while self.is_punct(self.peek(), ","):
            self.next()
            values.append(self.expr())
        return values

    # --------------------------------------------------------------- operands
    def _primary(self) -> str:
        token = self.peek()
        if self.is_punct(token, "("):
            self.next()
            inner = self.expr()
            self.expect_punct(")")
            return f"({inner})"
        if token.kind in ("number", "string"):
            self.next()
            return token.text
        if token.kind == "quoted":
            if self.is_punct(self.peek(1), "("):
                raise self.error(token, "function names may not be quoted (only built-in "
                                        f"functions are allowed): `{token.value}`")
            return self._column()
        if token.kind != "word":
            raise self.unexpected(token, "a value")
        return self._word(token)

    def _word(self, token: Token) -> str:
        word, call = token.value.upper(), self.is_punct(self.peek(1), "(")
        if call and word in ALLOWED_FUNCTIONS:
            return self._call()
        if word in ("NULL", "TRUE", "FALSE"):
            self.next()
            return word
        if word == "CASE":
            return self._case()
        if word == "INTERVAL":
            self.next()
            return f"INTERVAL {self.expr()} {self._unit()}"
        if word in FORBIDDEN_WORDS or word in KEYWORDS:
            raise self.unexpected(token, "a value")
        if call:
            if word in AGGREGATES:
                raise self.error(token, f"aggregate function {word} is not allowed: a "
                                        "filter returns rows per object")
            close = difflib.get_close_matches(word, ALLOWED_FUNCTIONS, n=3, cutoff=0.75)
            hint = f" (did you mean {', '.join(close)}?)" if close else ""
            raise self.error(token, f"function {word} is not allowed in filters{hint}")
        return self._column()

    def _column(self) -> str:
        start, first = self.i, self.next()
        if self.is_punct(self.peek(), "."):
            self.next()
            second = self.next()
            if second.kind == "op" and second.value == "*":
                raise self.error(first, f"{first.value}.* is not supported: list the "
                                        "columns (their names are the keys of the output)")
            if second.kind not in ("word", "quoted"):
                raise self.unexpected(second, "a column name after '.'")
            if self.is_punct(self.peek(), "."):
                raise self.error(first, "names with three parts (database.table.column) "
                                        "are not allowed")
            if self.is_punct(self.peek(), "("):
                raise self.error(first, "only built-in functions can be called, not "
                                        f"{first.value}.{second.value}()")
            text, real = self.resolver.qualified(self, first, second)
            self.columns[(start, self.i)] = (second.value, real)
            return text
        text, real = self.resolver.bare(self, first)
        if real is not None:
            self.columns[(start, self.i)] = (first.value, real)
        return text

    def _call(self) -> str:
        token = self.next()
        name = token.value.upper()
        self.next()  # '('
        if name in ("CAST", "CONVERT"):
            return self._cast(name)
        args: list[str] = []
        if name in ("TIMESTAMPDIFF", "TIMESTAMPADD"):
            args.append(self._unit())
            self.expect_punct(",")
        if not self.is_punct(self.peek(), ")"):
            args += self._list()
        self.expect_punct(")")
        least, most = ALLOWED_FUNCTIONS[name]
        if len(args) < least or (most is not None and len(args) > most):
            wanted = f"{least}" if least == most else (
                f"at least {least}" if most is None else f"{least} to {most}")
            raise self.error(token, f"{name} takes {wanted} argument(s), not {len(args)}")
        if name in HELPERS:
            return HELPERS[name].format(*args)
        return f"{name}({', '.join(args)})"

    def _cast(self, name: str) -> str:
        value = self.expr()
        if name == "CAST":
            self.expect_word("AS")
            text = f"CAST({value} AS {self._cast_type()})"
        else:
            self.expect_punct(",")
            text = f"CONVERT({value}, {self._cast_type()})"
        self.expect_punct(")")
        return text

    def _cast_type(self) -> str:
        token = self.next()
        kind = token.value.upper()
        if token.kind != "word" or kind not in CAST_TYPES:
            raise self.unexpected(token, f"a type ({', '.join(sorted(CAST_TYPES))})")
        if kind in ("SIGNED", "UNSIGNED") and self.is_word(self.peek(), "INTEGER"):
            self.next()
            return f"{kind} INTEGER"
        if kind in CAST_LENGTHS and self.is_punct(self.peek(), "("):
            self.next()
            sizes = [self._size()]
            while self.is_punct(self.peek(), ",") and len(sizes) < CAST_LENGTHS[kind]:
                self.next()
                sizes.append(self._size())
            self.expect_punct(")")
            return f"{kind}({', '.join(sizes)})"
        return kind

    def _size(self) -> str:
        token = self.next()
        if token.kind != "number" or not token.text.isdigit():
            raise self.unexpected(token, "a whole number")
        return token.text

    def _unit(self) -> str:
        token = self.next()
        if not self.is_word(token, *UNITS):
            raise self.unexpected(token, f"a time unit ({', '.join(sorted(UNITS))})")
        return token.value.upper()

    def _case(self) -> str:
        self.next()  # CASE
        parts = ["CASE"]
        if not self.is_word(self.peek(), "WHEN"):
            parts.append(self.expr())
        if not self.is_word(self.peek(), "WHEN"):
            raise self.unexpected(self.peek(), "WHEN")
        while self.is_word(self.peek(), "WHEN"):
            self.next()
            condition = self.expr()
            self.expect_word("THEN")
            parts += ["WHEN", condition, "THEN", self.expr()]
        if self.is_word(self.peek(), "ELSE"):
            self.next()
            parts += ["ELSE", self.expr()]
        self.expect_word("END")
        return " ".join(parts + ["END"])


# ---------------------------------------------------------------- resolvers

class SchemaResolver:
    """Resolves column references against the tables of a filter (case-insensitive,
    rendered with the real names); a bare column is qualified when exactly one table
    has it; in ORDER BY a bare name may be an alias given with AS in the SELECT list."""

    def __init__(self, scope: Scope, spec: TablesSpec,
                 aliases: dict[str, str] | None = None) -> None:
        self.scope, self.spec, self.aliases = scope, spec, aliases or {}

    def qualified(self, parser: Parser, table: Token, column: Token) -> tuple[str, str]:
        ref = self.scope.tables.get(table.value.lower())
        if ref is None:
            raise parser.error(table, missing_table_hint(table.value, self.spec))
        real = ref.columns.get(column.value.lower())
        if real is None:
            raise parser.error(column, self._unknown(f"{ref.name}.{column.value}",
                                                     column.value, [ref]))
        return f"{ref.sql}.{real}", real

    def bare(self, parser: Parser, column: Token) -> tuple[str, str | None]:
        lower = column.value.lower()
        if parser.clause == "order" and lower in self.aliases:
            return f"`{self.aliases[lower]}`", None
        owners = [ref for ref in self.scope.tables.values() if lower in ref.columns]
        if len(owners) == 1:
            real = owners[0].columns[lower]
            return f"{owners[0].sql}.{real}", real
        if owners:
            names = " or ".join(f"{ref.name}.{ref.columns[lower]}" for ref in owners)
            raise parser.error(column, f"column {column.value} is ambiguous: write {names}")
        if lower in self.aliases:
            raise parser.error(column, f"{column.value} is an alias of the SELECT list, "
                                       "which the conditions cannot use: repeat the "
                                       "expression (ORDER BY can use it)")
        raise parser.error(column, self._unknown(column.value, column.value,
                                                 list(self.scope.tables.values())))

    @staticmethod
    def _unknown(shown: str, name: str, refs: list) -> str:
        candidates = {real.lower(): f"{ref.name}.{real}"
                      for ref in refs for real in ref.columns.values()}
        close = difflib.get_close_matches(name.lower(), candidates, n=3, cutoff=0.7)
        hint = f"; did you mean {', '.join(candidates[c] for c in close)}?" if close else ""
        return f"unknown column {shown}{hint}"


class FreeResolver:
    """Accepts any column reference as written (for reading output keys without a
    schema); never used to build SQL."""

    def qualified(self, parser: Parser, table: Token, column: Token) -> tuple[str, str]:
        return f"{table.value}.{column.value}", column.value

    def bare(self, parser: Parser, column: Token) -> tuple[str, str | None]:
        return column.value, column.value


# --------------------------------------------------------------- entry points

def vet_select(selected: str, resolver: Resolver) -> list[SelectItem]:
    """Vet a SELECT list: rendered items with distinct, non-reserved output keys."""
    parser = Parser(selected, "selected", resolver)
    items = parser.select_list()
    seen: dict[str, str] = {}
    for item in items:
        lower = item.key.lower()
        if lower in (key.lower() for key in RESERVED_KEYS):
            raise FilterError(f"the output key {item.key!r} is reserved for Solas: choose "
                              "another name with AS", field="selected",
                              position=item.position)
        if lower in seen:
            raise FilterError(f"the output key {item.key!r} appears twice: give one "
                              "another name with AS", field="selected",
                              position=item.position)
        seen[lower] = item.key
    return items


def vet_conditions(conditions: str, resolver: Resolver) -> Conditions:
    """Vet the conditions (WHERE expression and optional ORDER BY)."""
    return Parser(conditions, "conditions", resolver).conditions()
