"""Schema-specialised Avro readers and writers (faster than interpreting the schema).

fastavro's schemaless reader interprets the schema for every value (~0.3 us per
nullable field), which caps a ZTF alert (~1,300 nullable fields) at ~2,000 decodes/s.

Readers: :func:`reader_program` flattens one parsed writer schema into a tuple of nodes,
once per schema, and :func:`compile_reader` hands it to the C decoder
``solas.surveys._avro_reader`` (built with the package), which walks the nodes over the
bytes and builds the Python values directly, bounds-checking every read.  Data that ends
early raises ``IndexError``; data that cannot be the schema's encoding raises
``ValueError``.

Writers: :func:`compile_writer` generates Python source specialised for the schema.
Runs of consecutive fixed-size fields (float, double, boolean, nullable or not) are
packed with ONE ``struct.pack`` call.  The generated source holds only identifiers and
integer literals made here: names, symbols and struct formats from the (untrusted)
schema live in the functions' namespace, never in the code text.

Output is identical to fastavro's with the same schema (the tests compare both on every
sample alert).
"""
from __future__ import annotations

import logging
import operator
import struct
from typing import Any, Callable

from solas.surveys._avro_reader import Reader as _CReader

log = logging.getLogger(__name__)

Reader = Callable[[bytes, int], "tuple[Any, int]"]

_FIXED = {"float": "f", "double": "d", "boolean": "?"}
_MIN_RUN = 3
_MAX_RUN = 64
#: Node kinds of a reader program, in the order of ``_avro_reader.c``'s enum.
_KINDS = {name: i for i, name in enumerate((
    "null", "boolean", "int", "long", "float", "double", "bytes", "string",
    "record", "enum", "array", "map", "union", "fixed"))}
_PRIMITIVES = ("null", "boolean", "int", "long", "float", "double", "bytes", "string")


class _Gen:
    """What the reader program and the writer source builder share: named types resolved,
    and the namespace of generated code."""

    def __init__(self, named: dict[str, Any]):
        self.named = named
        self.ns: dict[str, Any] = {}
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

    def resolve(self, t: Any) -> Any:
        while isinstance(t, str) and t in self.named:
            t = self.named[t]
        if isinstance(t, dict) and (isinstance(t.get("type"), (dict, list))
                                    or t.get("type") in self.named):
            return self.resolve(t["type"])
        if isinstance(t, dict) and t.get("type") in _PRIMITIVES:
            return t["type"]
        return t

    def min_size(self, t: Any, seen=()) -> int:
        """Fewest bytes a value of type ``t`` can take."""
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


# ============================================================================ readers
class _Program(_Gen):
    """Builder of a reader program: a list of node tuples, children named by index.

    Nodes: ``(kind,)`` for the primitives; ``(record, field names, field nodes)``;
    ``(enum, symbols)``; ``(array | map, item node, fewest bytes of one item)`` (a map
    item includes its key); ``(union, branch nodes)``; ``(fixed, size)``.  A named
    record is one node however often it is used, so recursive schemas need nothing
    special."""

    def __init__(self, named: dict[str, Any]):
        super().__init__(named)
        self.nodes: list[tuple] = []
        self.records: dict[str, int] = {}

    def node(self, t: Any) -> int:
        """Index of the node reading type ``t`` (added to the program if new)."""
        t = self.resolve(t)
        if isinstance(t, str):
            if t not in _PRIMITIVES:
                raise NotImplementedError(f"unknown Avro type {t!r}")
            return self.add((_KINDS[t],))
        if isinstance(t, list):
            at = self.add(None)
            self.nodes[at] = (_KINDS["union"], tuple(self.node(b) for b in t))
            return at
        kind = t["type"]
        if kind == "record":
            return self.record(t)
        if kind == "enum":
            return self.add((_KINDS["enum"], tuple(str(s) for s in t["symbols"])))
        if kind == "fixed":
            return self.add((_KINDS["fixed"], int(t["size"])))
        if kind in ("array", "map"):
            item = t["values"] if kind == "map" else t["items"]
            at = self.add(None)
            self.nodes[at] = (_KINDS[kind], self.node(item),
                              self.min_size(item) + (kind == "map"))
            return at
        raise NotImplementedError(f"unknown Avro type {kind!r}")

    def record(self, t: dict) -> int:
        at = self.records.get(t["name"])
        if at is None:
            at = self.records[t["name"]] = self.add(None)
            fields = t["fields"]
            self.nodes[at] = (_KINDS["record"], tuple(str(f["name"]) for f in fields),
                              tuple(self.node(f["type"]) for f in fields))
        return at

    def add(self, node: tuple | None) -> int:
        self.nodes.append(node)
        return len(self.nodes) - 1


def reader_program(parsed: Any) -> tuple[tuple, ...]:
    """The node program of a fastavro-parsed schema; node 0 reads the whole value."""
    program = _Program(parsed.get("__named_schemas", {}) if isinstance(parsed, dict) else {})
    program.node(parsed)
    return tuple(program.nodes)


def compile_reader(parsed: Any) -> Reader | None:
    """A reader ``(buf, pos) -> (record, end)`` for a fastavro-parsed schema, or ``None``
    if the schema uses something this compiler does not handle (fastavro is used then)."""
    try:
        return _CReader(reader_program(parsed)).read
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
