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
from typing import Callable, NamedTuple, Protocol

from solas.filters.cost import (GROWING, MAX_CONSTANT_WORK_BYTES, MAX_GROWING_NESTING,
                                MAX_LITERAL_BYTES, MAX_TREE_DEPTH, MAX_VALUE_BYTES,
                                NUMERIC_BYTES, TEXT_COLUMN_BYTES, Expr, call_size,
                                column_bytes, combined, literal_bytes, literal_text)
from solas.filters.errors import FilterError
from solas.filters.functions import (AGGREGATES, ALLOWED_FUNCTIONS, CAST_LENGTHS,
                                     CAST_TYPES, FORBIDDEN_WORDS, HELPERS, KEYWORDS, UNITS)
from solas.filters.lexer import Token, tokenize
from solas.filters.scope import Scope, TableRef, missing_table_hint, table_kinds
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
    """Turns column references into SQL: (rendered text, real column name or None,
    upper bound of the column's value as text in bytes)."""

    def qualified(self, parser: "Parser", table: Token,
                  column: Token) -> tuple[str, str, int]:
        ...

    def bare(self, parser: "Parser", column: Token) -> tuple[str, str | None, int]:
        ...


class Parser:
    """Recursive-descent parser over the tokens of one part (``field``) of a filter.
    Every method consumes a construct and returns it as an :class:`Expr` (its rendered
    SQL and what it can cost, checked against :mod:`solas.filters.cost`'s limits)."""

    def __init__(self, text: str, field: str, resolver: Resolver) -> None:
        if not isinstance(text, str):
            raise FilterError(f"must be a string, not {type(text).__name__}", field=field)
        if len(text) > MAX_LENGTH:
            raise FilterError(f"too long ({len(text)} characters, at most {MAX_LENGTH})",
                              field=field)
        self.tokens = tokenize(text, field)
        self.field, self.resolver = field, resolver
        self.i = self.depth = 0
        self.constant_work = 0  # bytes the constant string-growing calls can produce
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

    def checked(self, at: Token, expr: Expr, what: str = "this expression") -> Expr:
        """``expr`` if it is within the cost limits, else a FilterError at ``at``
        naming the limit."""
        if expr.depth > MAX_TREE_DEPTH:
            raise self.error(at, f"{what} is nested too deeply: more than "
                                 f"{MAX_TREE_DEPTH} operators, calls or CASEs inside one "
                                 f"another (limit MAX_TREE_DEPTH = {MAX_TREE_DEPTH})")
        if expr.size > MAX_VALUE_BYTES:
            raise self.error(at, f"{what} can make a value of up to {expr.size:,} bytes: "
                                 f"values are limited to {MAX_VALUE_BYTES:,} bytes "
                                 f"(limit MAX_VALUE_BYTES)")
        if expr.growing > MAX_GROWING_NESTING:
            raise self.error(at, f"{what} nests more than {MAX_GROWING_NESTING} "
                                 "string-growing functions (CONCAT, CONCAT_WS, REPLACE, "
                                 "REGEXP_REPLACE, DATE_FORMAT) inside one another (limit "
                                 f"MAX_GROWING_NESTING = {MAX_GROWING_NESTING})")
        return expr

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
            sql = self.expr().sql
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
            where = self.expr().sql
        order: list[str] = []
        if self.is_word(self.peek(), "ORDER"):
            self.next()
            self.expect_word("BY")
            self.clause = "order"
            while True:
                item = self.expr().sql
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
    def expr(self) -> Expr:
        self.depth += 1
        if self.depth > MAX_DEPTH:
            raise self.error(self.peek(), f"nested too deeply (more than {MAX_DEPTH} "
                                          "levels of parentheses, calls or CASE)")
        try:
            return self._chain(self._xor, "OR")
        finally:
            self.depth -= 1

    def _chain(self, operand: Callable[[], Expr], word: str) -> Expr:
        """``operand (word operand)*``: the server flattens an AND or OR chain into
        one node (depth + 1 for the whole chain); XOR is binary (+ 1 a link)."""
        first = self.peek()
        parts = [operand()]
        while self.is_word(self.peek(), word):
            self.next()
            parts.append(operand())
            if word == "XOR":
                parts = [self.checked(first, combined(
                    f"{parts[0].sql} XOR {parts[1].sql}", parts))]
        if len(parts) == 1:
            return parts[0]
        return self.checked(first, combined(f" {word} ".join(p.sql for p in parts), parts))

    def _xor(self) -> Expr:
        return self._chain(self._and, "XOR")

    def _and(self) -> Expr:
        return self._chain(self._not, "AND")

    def _not(self) -> Expr:
        first, nots = self.peek(), 0
        while self.is_word(self.peek(), "NOT"):
            self.next()
            nots += 1
        inner = self._predicate()
        if not nots:
            return inner
        return self.checked(first, combined("NOT " * nots + inner.sql, [inner], deeper=nots))

    def _predicate(self) -> Expr:
        first = self.peek()
        left = self._bits()
        while True:
            token = self.peek()
            if token.kind == "op" and token.value in _COMPARISONS:
                self.next()
                right = self._bits()
                left = combined(f"{left.sql} {token.value} {right.sql}", [left, right])
            elif self.is_word(token, "IS"):
                self.next()
                text = f"{left.sql} IS {self._maybe_not()}{self._is_value()}"
                left = combined(text, [left])
            elif self.is_word(token, *_PATTERN_OPS) or (
                    self.is_word(token, "NOT") and self.is_word(self.peek(1), *_PATTERN_OPS)):
                negation = self._maybe_not()
                text, parts = self._pattern()
                left = combined(f"{left.sql} {negation}{text}", [left, *parts])
            else:
                return left
            self.checked(first, left)

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

    def _pattern(self) -> tuple[str, list[Expr]]:
        op = self.next().value.upper()
        if op == "IN":
            self.expect_punct("(")
            values = self._list()
            self.expect_punct(")")
            return f"IN ({', '.join(v.sql for v in values)})", values
        if op == "BETWEEN":
            low = self._bits()
            self.expect_word("AND")
            high = self._bits()
            return f"BETWEEN {low.sql} AND {high.sql}", [low, high]
        pattern = self._bits()
        text, parts = f"{op} {pattern.sql}", [pattern]
        if op == "LIKE" and self.is_word(self.peek(), "ESCAPE"):
            self.next()
            escape = self._bits()
            text += f" ESCAPE {escape.sql}"
            parts.append(escape)
        return text, parts

    def _bits(self) -> Expr:
        first = self.peek()
        left = self._unary()
        while True:
            token = self.peek()
            if token.kind == "op" and token.value in _BINARY:
                op = token.value
            elif self.is_word(token, "DIV", "MOD"):
                op = token.value.upper()
            else:
                return left
            self.next()
            right = self._unary()
            left = self.checked(first, combined(f"{left.sql} {op} {right.sql}",
                                                [left, right]))

    def _unary(self) -> Expr:
        first, ops = self.peek(), []
        while self.peek().kind == "op" and self.peek().value in _UNARY:
            ops.append(self.next().value)
            if len(ops) > MAX_TREE_DEPTH:
                raise self.error(first, f"more than {MAX_TREE_DEPTH} unary operators in a "
                                        f"row (limit MAX_TREE_DEPTH = {MAX_TREE_DEPTH})")
        inner = self._primary()
        text = inner.sql
        for op in reversed(ops):  # never render '--': it would start a comment
            text = f"{op} {text}" if text.startswith(("-", "+")) else f"{op}{text}"
        if not ops:
            return inner
        return self.checked(first, combined(text, [inner], deeper=len(ops)))

    def _list(self) -> list[Expr]:
        values = [self.expr()]
        while self.is_punct(self.peek(), ","):
            self.next()
            values.append(self.expr())
        return values

    # --------------------------------------------------------------- operands
    def _primary(self) -> Expr:
        token = self.peek()
        if self.is_punct(token, "("):
            self.next()
            inner = self.expr()
            self.expect_punct(")")
            return inner._replace(sql=f"({inner.sql})")
        if token.kind in ("number", "string"):
            self.next()
            size = literal_bytes(token.text) if token.kind == "string" else len(token.text)
            if size > MAX_LITERAL_BYTES:
                raise self.error(token, f"this {token.kind} literal is {size:,} bytes long: "
                                        f"literals are limited to {MAX_LITERAL_BYTES:,} "
                                        "bytes (limit MAX_LITERAL_BYTES)")
            text = literal_text(token.text) if token.kind == "string" else None
            return Expr(token.text, size, literal=text)
        if token.kind == "quoted":
            if self.is_punct(self.peek(1), "("):
                raise self.error(token, "function names may not be quoted (only built-in "
                                        f"functions are allowed): `{token.value}`")
            return self._column()
        if token.kind != "word":
            raise self.unexpected(token, "a value")
        return self._word(token)

    def _word(self, token: Token) -> Expr:
        word, call = token.value.upper(), self.is_punct(self.peek(1), "(")
        if call and word in ALLOWED_FUNCTIONS:
            return self._call()
        if word in ("NULL", "TRUE", "FALSE"):
            self.next()
            return Expr(word, len(word))
        if word == "CASE":
            return self._case()
        if word == "INTERVAL":
            self.next()
            amount = self.expr()
            return self.checked(token, combined(f"INTERVAL {amount.sql} {self._unit()}",
                                                [amount]))
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

    def _column(self) -> Expr:
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
            text, real, width = self.resolver.qualified(self, first, second)
            self.columns[(start, self.i)] = (second.value, real)
            return Expr(text, width, constant=False)
        text, maybe_real, width = self.resolver.bare(self, first)
        if maybe_real is not None:
            self.columns[(start, self.i)] = (first.value, maybe_real)
        return Expr(text, width, constant=False)

    def _call(self) -> Expr:
        token = self.next()
        name = token.value.upper()
        self.next()  # '('
        if name in ("CAST", "CONVERT"):
            return self._cast(name, token)
        args: list[Expr] = []
        unit = ""
        if name in ("TIMESTAMPDIFF", "TIMESTAMPADD"):
            unit = self._unit()
            self.expect_punct(",")
        if not self.is_punct(self.peek(), ")"):
            args += self._list()
        self.expect_punct(")")
        least, most = ALLOWED_FUNCTIONS[name]
        count = len(args) + bool(unit)
        if count < least or (most is not None and count > most):
            wanted = f"{least}" if least == most else (
                f"at least {least}" if most is None else f"{least} to {most}")
            raise self.error(token, f"{name} takes {wanted} argument(s), not {count}")
        texts = ([unit] if unit else []) + [a.sql for a in args]
        sql = HELPERS[name].format(*texts) if name in HELPERS else \
            f"{name}({', '.join(texts)})"
        expr = combined(sql, args, call_size(name, args))
        if name in GROWING:
            expr = expr._replace(growing=expr.growing + 1)
        expr = self.checked(token, expr, f"this call of {name}")
        if name in GROWING and expr.constant:
            self.constant_work += expr.size
            if self.constant_work > MAX_CONSTANT_WORK_BYTES:
                raise self.error(token, "the constant string functions of this part of the "
                                        f"filter can make up to {self.constant_work:,} "
                                        f"bytes together: the limit is "
                                        f"{MAX_CONSTANT_WORK_BYTES:,} (limit "
                                        "MAX_CONSTANT_WORK_BYTES)")
        return expr

    def _cast(self, name: str, token: Token) -> Expr:
        value = self.expr()
        if name == "CAST":
            self.expect_word("AS")
            kind = self._cast_type()
            text = f"CAST({value.sql} AS {kind})"
        else:
            self.expect_punct(",")
            kind = self._cast_type()
            text = f"CONVERT({value.sql}, {kind})"
        self.expect_punct(")")
        size = max(value.size, NUMERIC_BYTES) if kind.startswith("CHAR") else NUMERIC_BYTES
        return self.checked(token, combined(text, [value], size))

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

    def _case(self) -> Expr:
        token = self.next()  # CASE
        parts, results = ["CASE"], []
        operands: list[Expr] = []
        if not self.is_word(self.peek(), "WHEN"):
            operands.append(self.expr())
            parts.append(operands[-1].sql)
        if not self.is_word(self.peek(), "WHEN"):
            raise self.unexpected(self.peek(), "WHEN")
        while self.is_word(self.peek(), "WHEN"):
            self.next()
            condition = self.expr()
            self.expect_word("THEN")
            results.append(self.expr())
            operands.append(condition)
            parts += ["WHEN", condition.sql, "THEN", results[-1].sql]
        if self.is_word(self.peek(), "ELSE"):
            self.next()
            results.append(self.expr())
            parts += ["ELSE", results[-1].sql]
        self.expect_word("END")
        size = max(r.size for r in results)
        return self.checked(token, combined(" ".join(parts + ["END"]),
                                            operands + results, size), "this CASE")


# ---------------------------------------------------------------- resolvers

class SchemaResolver:
    """Resolves column references against the tables of a filter (case-insensitive,
    rendered with the real names); a bare column is qualified when exactly one table
    has it; in ORDER BY a bare name may be an alias given with AS in the SELECT list."""

    def __init__(self, scope: Scope, spec: TablesSpec,
                 aliases: dict[str, str] | None = None) -> None:
        self.scope, self.spec, self.aliases = scope, spec, aliases or {}

    def qualified(self, parser: Parser, table: Token, column: Token) -> tuple[str, str, int]:
        ref = self.scope.tables.get(table.value.lower())
        if ref is None:
            raise parser.error(table, missing_table_hint(table.value, self.spec))
        real = ref.columns.get(column.value.lower())
        if real is None:
            raise parser.error(column, self._unknown(f"{ref.name}.{column.value}",
                                                     column.value, [ref]))
        return f"{ref.sql}.{real}", real, self._width(ref, real)

    def bare(self, parser: Parser, column: Token) -> tuple[str, str | None, int]:
        lower = column.value.lower()
        if parser.clause == "order" and lower in self.aliases:
            return f"`{self.aliases[lower]}`", None, NUMERIC_BYTES  # ORDER BY: no value
        owners = [ref for ref in self.scope.tables.values() if lower in ref.columns]
        if len(owners) == 1:
            real = owners[0].columns[lower]
            return f"{owners[0].sql}.{real}", real, self._width(owners[0], real)
        if owners:
            names = " or ".join(f"{ref.name}.{ref.columns[lower]}" for ref in owners)
            raise parser.error(column, f"column {column.value} is ambiguous: write {names}")
        if lower in self.aliases:
            raise parser.error(column, f"{column.value} is an alias of the SELECT list, "
                                       "which the conditions cannot use: repeat the "
                                       "expression (ORDER BY can use it)")
        raise parser.error(column, self._unknown(column.value, column.value,
                                                 list(self.scope.tables.values())))

    def _width(self, ref: TableRef, real: str) -> int:
        return column_bytes(table_kinds(self.scope.survey)[ref.table][real])

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

    def qualified(self, parser: Parser, table: Token, column: Token) -> tuple[str, str, int]:
        return f"{table.value}.{column.value}", column.value, TEXT_COLUMN_BYTES

    def bare(self, parser: Parser, column: Token) -> tuple[str, str | None, int]:
        return column.value, column.value, TEXT_COLUMN_BYTES


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
