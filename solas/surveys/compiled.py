"""Schema-specialised Avro record readers (a faster path than interpreting the schema).

fastavro's schemaless reader interprets the schema for every value (~0.3 us per
nullable field), which caps a ZTF alert (~1,300 nullable fields) at ~2,000 decodes/s.
:func:`compile_reader` turns one parsed writer schema into Python functions specialised
for it, once per schema (~20 ms). Runs of consecutive fixed-size fields (float, double,
boolean, nullable or not) are read with ONE ``struct.unpack_from`` call: the layout of a
run depends on which of its values are null, and rows of one light curve mostly share
that null pattern, so the two patterns seen last are tried first (each verified by its
union tag bytes) and only a miss reads the run field by field (and learns the pattern).
Varints of one or two bytes are decoded inline.

Output is identical to ``fastavro.schemaless_reader`` with the same schema (the tests
compare both on every sample alert). The generated source holds only identifiers and
integer literals made here: names, symbols and struct formats from the (untrusted)
schema live in the functions' namespace, never in the code text.
"""
from __future__ import annotations

import logging
import operator
import struct
from typing import Any, Callable

log = logging.getLogger(__name__)

Reader = Callable[[bytes, int], "tuple[Any, int]"]

_FIXED = {"float": "f", "double": "d", "boolean": "?"}
_MIN_RUN = 3
_MAX_RUN = 64
_MAX_ZERO_SIZE_ITEMS = 1 << 20


class _Corrupt(ValueError):
    """Raised by generated code for bytes that cannot be the writer schema's encoding."""


def read_long(buf: bytes, p: int) -> tuple[int, int]:
    """Zig-zag varint at ``p`` -> (value, next position)."""
    n = 0
    shift = 0
    for b in buf[p:p + 10]:
        n |= (b & 0x7F) << shift
        if b < 128:
            return (n >> 1) ^ -(n & 1), p + shift // 7 + 1
        shift += 7
    if p + 10 <= len(buf):
        raise _Corrupt("varint longer than 10 bytes")
    raise IndexError("varint beyond end of data")


def _corrupt(what: str):
    raise _Corrupt(what)


def _truncated(what: str):
    raise IndexError(what)


class _Gen:
    """Source builder for one schema."""

    def __init__(self, named: dict[str, Any]):
        self.named = named
        self.ns: dict[str, Any] = {"_rl": read_long, "_corrupt": _corrupt, "_N1": (None,),
                                   "_trunc": _truncated, "_ud": struct.Struct("<d").unpack_from,
                                   "_uf": struct.Struct("<f").unpack_from}
        self.funcs: dict[str, str] = {}
        self.lines: list[str] = []
        self.counter = 0

    def const(self, value: Any, prefix: str = "c") -> str:
        self.counter += 1
        name = f"_{prefix}{self.counter}"
        self.ns[name] = value
        return name

    def var(self) -> str:
        self.counter += 1
        return f"v{self.counter}"

    # -------------------------------------------------------------- types
    def resolve(self, t: Any) -> Any:
        while isinstance(t, str) and t in self.named:
            t = self.named[t]
        if isinstance(t, dict) and (isinstance(t.get("type"), (dict, list))
                                    or t.get("type") in self.named):
            return self.resolve(t["type"])
        if isinstance(t, dict) and t.get("type") in ("null", "boolean", "int", "long", "float",
                                                      "double", "bytes", "string"):
            return t["type"]
        return t

    def min_size(self, t: Any, seen=()) -> int:
        t = self.resolve(t)
        if t == "null":
            return 0
        if t in ("boolean", "int", "long", "bytes", "string"):
            return 1
        if t == "float":
            return 4
        if t == "double":
            return 8
        if isinstance(t, list):
            return 1
        if t["type"] == "fixed":
            return int(t["size"])
        if t["type"] in ("enum", "array", "map"):
            return 1
        if t["type"] == "record":
            if t["name"] in seen:
                return 0
            return sum(self.min_size(f["type"], seen + (t["name"],)) for f in t["fields"])
        raise NotImplementedError(str(t))

    def fixed_code(self, t: Any) -> tuple[str, int | None] | None:
        """(struct code, index of the null branch or None) of a fixed-size field type."""
        t = self.resolve(t)
        if isinstance(t, str):
            return (_FIXED[t], None) if t in _FIXED else None
        if isinstance(t, list) and len(t) == 2 and "null" in t:
            other = self.resolve(t[1 - t.index("null")])
            if isinstance(other, str) and other in _FIXED:
                return "B" + _FIXED[other], t.index("null")
        return None

    # -------------------------------------------------------------- emitters
    def emit(self, t: Any, target: str, ind: str, out: list[str]) -> None:
        """Append code reading a value of type ``t`` into ``target`` (advancing ``p``)."""
        t = self.resolve(t)
        if t == "null":
            out.append(f"{ind}{target} = None")
        elif t == "boolean":
            out.append(f"{ind}{target} = buf[p] != 0")
            out.append(f"{ind}p += 1")
        elif t in ("int", "long"):
            self.emit_long(target, ind, out)
        elif t == "float":
            out.append(f"{ind}{target} = _uf(buf, p)[0]")
            out.append(f"{ind}p += 4")
        elif t == "double":
            out.append(f"{ind}{target} = _ud(buf, p)[0]")
            out.append(f"{ind}p += 8")
        elif t in ("string", "bytes"):
            n = self.var()
            self.emit_long(n, ind, out)
            out.append(f"{ind}e = p + {n}")
            out.append(f"{ind}if {n} < 0 or e > L: _trunc('length beyond end of data')")
            suffix = ".decode()" if t == "string" else ""
            out.append(f"{ind}{target} = buf[p:e]{suffix}")
            out.append(f"{ind}p = e")
        elif isinstance(t, list):
            self.emit_union(t, target, ind, out)
        elif t["type"] == "record":
            fn = self.record_function(t)
            out.append(f"{ind}{target}, p = {fn}(buf, p, L)")
        elif t["type"] == "enum":
            symbols = self.const(tuple(t["symbols"]), "s")
            i = self.var()
            self.emit_long(i, ind, out)
            out.append(f"{ind}if {i} < 0 or {i} >= len({symbols}): _corrupt('bad enum index')")
            out.append(f"{ind}{target} = {symbols}[{i}]")
        elif t["type"] == "fixed":
            size = int(t["size"])
            out.append(f"{ind}if p + {size} > L: _trunc('fixed beyond end of data')")
            out.append(f"{ind}{target} = buf[p:p + {size}]")
            out.append(f"{ind}p += {size}")
        elif t["type"] in ("array", "map"):
            self.emit_blocks(t, target, ind, out)
        else:
            raise NotImplementedError(str(t))

    def emit_long(self, target: str, ind: str, out: list[str]) -> None:
        # 1- and 2-byte varints inline (ids and most counts fit), longer ones by _rl
        out.append(f"{ind}b = buf[p]")
        out.append(f"{ind}if b < 128:")
        out.append(f"{ind}    {target} = (b >> 1) ^ -(b & 1)")
        out.append(f"{ind}    p += 1")
        out.append(f"{ind}elif buf[p + 1] < 128:")
        out.append(f"{ind}    b = (b & 127) | (buf[p + 1] << 7)")
        out.append(f"{ind}    {target} = (b >> 1) ^ -(b & 1)")
        out.append(f"{ind}    p += 2")
        out.append(f"{ind}else:")
        out.append(f"{ind}    {target}, p = _rl(buf, p)")

    def emit_union(self, branches: list, target: str, ind: str, out: list[str]) -> None:
        if len(branches) == 2 and "null" in branches:
            null = branches.index("null")
            out.append(f"{ind}b = buf[p]")
            out.append(f"{ind}p += 1")
            out.append(f"{ind}if b == {2 * null}:")
            out.append(f"{ind}    {target} = None")
            out.append(f"{ind}elif b == {2 - 2 * null}:")
            self.emit(branches[1 - null], target, ind + "    ", out)
            out.append(f"{ind}else:")
            out.append(f"{ind}    _corrupt('bad union index')")
            return
        tag = self.var()
        self.emit_long(tag, ind, out)
        for i, branch in enumerate(branches):
            out.append(f"{ind}{'if' if i == 0 else 'elif'} {tag} == {i}:")
            self.emit(branch, target, ind + "    ", out)
        out.append(f"{ind}else:")
        out.append(f"{ind}    _corrupt('bad union index')")

    def emit_blocks(self, t: dict, target: str, ind: str, out: list[str]) -> None:
        is_map = t["type"] == "map"
        item_type = t["values"] if is_map else t["items"]
        min_size = self.min_size(item_type) + (1 if is_map else 0)
        n, item, key = self.var(), self.var(), self.var()
        out.append(f"{ind}{target} = {{}}" if is_map else f"{ind}{target} = []")
        self.emit_long(n, ind, out)
        out.append(f"{ind}while {n}:")
        inner = ind + "    "
        out.append(f"{inner}if {n} < 0:")
        out.append(f"{inner}    {n} = -{n}")
        self.emit_long("_", inner + "    ", out)
        if min_size:
            out.append(f"{inner}if {n} * {min_size} > L - p: _trunc('block beyond end of data')")
        else:
            out.append(f"{inner}if {n} > {_MAX_ZERO_SIZE_ITEMS}: _corrupt('block too long')")
        out.append(f"{inner}for _i in range({n}):")
        body = inner + "    "
        if is_map:
            self.emit("string", key, body, out)
            self.emit(item_type, item, body, out)
            out.append(f"{body}{target}[{key}] = {item}")
        else:
            self.emit(item_type, item, body, out)
            out.append(f"{body}{target}.append({item})")
        self.emit_long(n, inner, out)

    # -------------------------------------------------------------- records
    def record_function(self, t: dict) -> str:
        name = t["name"]
        fn = self.funcs.get(name)
        if fn is not None:
            return fn
        fn = self.funcs[name] = f"r{len(self.funcs)}"
        fields = t["fields"]
        body: list[str] = []
        values: list[str] = []
        i = 0
        while i < len(fields):
            j = i
            while (j < len(fields) and j - i < _MAX_RUN
                   and self.fixed_code(fields[j]["type"]) is not None):
                j += 1
            if j - i >= _MIN_RUN:
                values.append("*" + self.emit_run(fields[i:j], body))
                i = j
                continue
            target = self.var()
            self.emit(fields[i]["type"], target, "    ", body)
            values.append(target)
            i += 1
        keys = self.const(tuple(f["name"] for f in fields), "k")
        tuple_text = ", ".join(values) + ("," if len(values) == 1 else "")
        src = [f"def {fn}(buf, p, L):"] + body
        src.append(f"    return dict(zip({keys}, ({tuple_text}))), p")
        self.lines.extend(src)
        self.lines.append("")
        return fn

    def emit_run(self, fields: list[dict], out: list[str]) -> str:
        """Code for a run of fixed-size fields; returns the name of the tuple of values.

        Nullable fields make the run's layout depend on which values are null (the
        "pattern"). The two most recently seen patterns are tried with one struct unpack
        each, verified by their union tag bytes; a miss reads field by field and makes
        the pattern found the first guess for the next row.
        """
        codes = [self.fixed_code(f["type"]) for f in fields]
        group = self.var()
        nullable = [i for i, (_, null) in enumerate(codes) if null is not None]
        if not nullable:
            unpack = struct.Struct("<" + "".join(code for code, _ in codes))
            unp = self.const(unpack.unpack_from, "u")
            out.append(f"    e = p + {unpack.size}")
            out.append("    if e > L: _trunc('record beyond end of data')")
            out.append(f"    {group} = {unp}(buf, p)")
            out.append("    p = e")
            return group
        builder = _pattern_builder(codes)
        build = self.const(builder, "b")
        guesses = self.const([builder((True,) * len(nullable)),
                              builder((False,) * len(nullable))], "q")
        slow = self.slow_function(fields, nullable, build, guesses)
        for attempt in range(2):
            ind = "    " * (attempt + 1)
            out.append(f"{ind}q = {guesses}[{attempt}]")
            out.append(f"{ind}e = p + q[1]")
            out.append(f"{ind}g = q[0](buf, p) if e <= L else None")
            out.append(f"{ind}if g is not None and q[2](g) == q[3]:")
            out.append(f"{ind}    {group} = q[4](g + _N1)")
            out.append(f"{ind}    p = e")
            if attempt:
                out.append(f"{ind}    {guesses}[0], {guesses}[1] = q, {guesses}[0]")
            out.append(f"{ind}else:")
        out.append(f"{ind}    {group}, p = {slow}(buf, p, L)")
        return group

    def slow_function(self, fields: list[dict], nullable: list[int], build: str,
                      guesses: str) -> str:
        """Field-by-field reader of a run, for when no guessed pattern fits; records the
        pattern it found as the first guess."""
        self.counter += 1
        fn = f"s{self.counter}"
        body: list[str] = []
        targets = []
        for f in fields:
            target = self.var()
            self.emit(f["type"], target, "    ", body)
            targets.append(target)
        key = ", ".join(f"{targets[i]} is not None" for i in nullable)
        body.append(f"    {guesses}[1] = {guesses}[0]")
        body.append(f"    {guesses}[0] = {build}(({key},))")
        self.lines.extend([f"def {fn}(buf, p, L):"] + body
                          + [f"    return ({', '.join(targets)},), p", ""])
        return fn


def _pattern_builder(codes: list[tuple[str, int | None]]) -> Callable:
    """Cached builder: pattern (presence of each nullable field) -> (unpack_from, size,
    tag getter, expected tags, value getter over ``g + (None,)``)."""
    cache: dict[tuple[bool, ...], tuple] = {}

    def build(present: tuple[bool, ...]) -> tuple:
        guess = cache.get(present)
        if guess is not None:
            return guess
        fmt, tag_pos, expected, val_pos = ["<"], [], [], []
        k, j = 0, 0
        for code, null in codes:
            if null is None:
                fmt.append(code)
                val_pos.append(k)
                k += 1
                continue
            here = present[j]
            j += 1
            fmt.append("B" + (code[1:] if here else ""))
            tag_pos.append(k)
            expected.append(2 - 2 * null if here else 2 * null)
            k += 1
            if here:
                val_pos.append(k)
                k += 1
            else:
                val_pos.append(-1)  # the appended None
        unpack = struct.Struct("".join(fmt))
        tags = operator.itemgetter(*tag_pos)
        guess = (unpack.unpack_from, unpack.size, tags,
                 tuple(expected) if len(tag_pos) > 1 else expected[0],
                 operator.itemgetter(*val_pos))
        if len(cache) < 1024:
            cache[present] = guess
        return guess
    return build


def compile_reader(parsed: dict) -> Reader | None:
    """A reader ``(buf, pos) -> (record, end)`` for a fastavro-parsed schema, or ``None``
    if the schema uses something this compiler does not handle (fastavro is used then)."""
    try:
        gen = _Gen(parsed.get("__named_schemas", {}) if isinstance(parsed, dict) else {})
        body: list[str] = []
        gen.emit(parsed, "v", "    ", body)
        source = "\n".join(gen.lines + ["def top(buf, p):", "    L = len(buf)"] + body
                           + ["    return v, p", ""])
        code = compile(source, "<solas.surveys.compiled>", "exec")
        exec(code, gen.ns)  # noqa: S102 - generated from a fixed template, see module doc
        return gen.ns["top"]
    except (NotImplementedError, KeyError, TypeError, ValueError, RecursionError) as exc:
        log.warning("no compiled Avro reader for %s (%s: %s); using fastavro",
                    parsed.get("name") if isinstance(parsed, dict) else parsed,
                    type(exc).__name__, exc)
        return None


# ============================================================================ writers
Writer = Callable[[dict], bytes]
_MISSING = object()


def write_long(v: int) -> bytes:
    """Zig-zag varint encoding of a 64-bit integer."""
    n = (v << 1) ^ (v >> 63)
    out = bytearray()
    while n > 127:
        out.append((n & 0x7F) | 0x80)
        n >>= 7
    out.append(n)
    return bytes(out)


class _WriterGen(_Gen):
    """Source builder for a schema's writer (the mirror image of the reader).

    Only nullable unions (``["null", X]``/``[X, "null"]``) are compiled: choosing a
    branch of a general union follows fastavro's matching rules, so schemas with one are
    left to fastavro.
    """

    def __init__(self, named: dict[str, Any]):
        super().__init__(named)
        self.ns.update({"_wl": write_long, "_pd": struct.Struct("<d").pack,
                        "_pf": struct.Struct("<f").pack, "_MISSING": _MISSING})

    def emit(self, t: Any, v: str, ind: str, out: list[str]) -> None:
        """Append code writing the value in variable ``v`` of type ``t`` to ``out``."""
        t = self.resolve(t)
        if t == "null":
            out.append(f"{ind}if {v} is not None: raise TypeError('null field is not None')")
        elif t == "boolean":
            out.append(f"{ind}out.append(1 if {v} else 0)")
        elif t in ("int", "long"):
            self.emit_long(v, ind, out)
        elif t == "float":
            out.append(f"{ind}out += _pf({v})")
        elif t == "double":
            out.append(f"{ind}out += _pd({v})")
        elif t in ("string", "bytes"):
            data = self.var()
            out.append(f"{ind}{data} = {v}.encode()" if t == "string" else f"{ind}{data} = {v}")
            self.emit_long(f"len({data})", ind, out)
            out.append(f"{ind}out += {data}")
        elif isinstance(t, list):
            if not (len(t) == 2 and "null" in t):
                raise NotImplementedError("general unions are left to fastavro")
            null = t.index("null")
            out.append(f"{ind}if {v} is None:")
            out.append(f"{ind}    out.append({2 * null})")
            out.append(f"{ind}else:")
            out.append(f"{ind}    out.append({2 - 2 * null})")
            self.emit(t[1 - null], v, ind + "    ", out)
        elif t["type"] == "record":
            out.append(f"{ind}{self.record_function(t)}({v}, out)")
        elif t["type"] == "enum":
            index = self.const({s: i for i, s in enumerate(t["symbols"])}, "e")
            self.emit_long(f"{index}[{v}]", ind, out)
        elif t["type"] == "fixed":
            out.append(f"{ind}if len({v}) != {int(t['size'])}: raise ValueError('fixed size')")
            out.append(f"{ind}out += {v}")
        elif t["type"] in ("array", "map"):
            is_map = t["type"] == "map"
            item, key = self.var(), self.var()
            out.append(f"{ind}if {v}:")
            self.emit_long(f"len({v})", ind + "    ", out)
            loop = f"for {key}, {item} in {v}.items():" if is_map else f"for {item} in {v}:"
            out.append(f"{ind}    {loop}")
            if is_map:
                self.emit("string", key, ind + "        ", out)
            self.emit(t["values"] if is_map else t["items"], item, ind + "        ", out)
            out.append(f"{ind}out.append(0)")
        else:
            raise NotImplementedError(str(t))

    def emit_long(self, v: str, ind: str, out: list[str]) -> None:
        n = self.var()
        out.append(f"{ind}{n} = {v}")
        out.append(f"{ind}if 0 <= {n} < 64:")
        out.append(f"{ind}    out.append({n} << 1)")
        out.append(f"{ind}else:")
        out.append(f"{ind}    out += _wl({n})")

    def record_function(self, t: dict) -> str:
        name = t["name"]
        fn = self.funcs.get(name)
        if fn is not None:
            return fn
        fn = self.funcs[name] = f"w{len(self.funcs)}"
        fields = t["fields"]
        names = tuple(f["name"] for f in fields)
        defaults = tuple(f.get("default", None if self.nullable(f["type"]) else _MISSING)
                         for f in fields)
        targets = [self.var() for _ in fields]
        body = [f"def {fn}(rec, out):"]
        if fields:
            getter = self.const(operator.itemgetter(*names) if len(names) > 1
                                else (lambda r, k=names[0]: (r[k],)), "i")
            keys, dflt = self.const(names, "k"), self.const(defaults, "d")
            body += ["    try:", f"        {', '.join(targets)}, = {getter}(rec)",
                     "    except KeyError:",
                     f"        {', '.join(targets)}, = map(rec.get, {keys}, {dflt})"]
        else:
            body.append("    pass")
        i = 0
        while i < len(fields):
            j = i
            while (j < len(fields) and j - i < _MAX_RUN
                   and self.fixed_code(fields[j]["type"]) is not None):
                j += 1
            if j - i >= _MIN_RUN:
                self.emit_run(fields[i:j], targets[i:j], body)
                i = j
                continue
            self.emit(fields[i]["type"], targets[i], "    ", body)
            i += 1
        self.lines.extend(body + [""])
        return fn

    def nullable(self, t: Any) -> bool:
        t = self.resolve(t)
        return t == "null" or (isinstance(t, list) and "null" in t)

    def emit_run(self, fields: list[dict], targets: list[str], out: list[str]) -> None:
        """One ``struct.pack`` for a run of fixed-size fields when none of them is null."""
        codes = [self.fixed_code(f["type"]) for f in fields]
        pack = self.const(struct.Struct("<" + "".join(c for c, _ in codes)).pack, "p")
        args = []
        for (code, null), target in zip(codes, targets):
            if null is not None:
                args.append(str(2 - 2 * null))
            args.append(target)
        nullable = [t for (_, null), t in zip(codes, targets) if null is not None]
        if not nullable:
            out.append(f"    out += {pack}({', '.join(args)})")
            return
        out.append(f"    if None not in ({', '.join(nullable)},):")
        out.append(f"        out += {pack}({', '.join(args)})")
        out.append("    else:")
        for f, target in zip(fields, targets):
            self.emit(f["type"], target, "        ", out)


def compile_writer(parsed: dict) -> Writer | None:
    """A writer ``record -> schemaless Avro bytes`` for a fastavro-parsed schema, byte for
    byte what ``fastavro.schemaless_writer`` writes, or ``None`` if the schema uses
    something this compiler leaves to fastavro (general unions)."""
    try:
        gen = _WriterGen(parsed.get("__named_schemas", {}) if isinstance(parsed, dict) else {})
        body: list[str] = []
        gen.emit(parsed, "rec", "    ", body)
        source = "\n".join(gen.lines + ["def top(rec):", "    out = bytearray()"] + body
                           + ["    return bytes(out)", ""])
        code = compile(source, "<solas.surveys.compiled writer>", "exec")
        exec(code, gen.ns)  # noqa: S102 - generated from a fixed template, see module doc
        return gen.ns["top"]
    except (NotImplementedError, KeyError, TypeError, ValueError, RecursionError) as exc:
        log.info("no compiled Avro writer for %s (%s: %s); using fastavro",
                 parsed.get("name") if isinstance(parsed, dict) else parsed,
                 type(exc).__name__, exc)
        return None
