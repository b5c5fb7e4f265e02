"""The C Avro reader on hostile data and programs: specific errors, never a crash."""
from __future__ import annotations

import gc
import io
import sys

import fastavro
import pytest

from solas.surveys.avro import write_long
from solas.surveys.compiled import compile_reader, reader_program
from solas.surveys._avro_reader import Reader


def reader(schema):
    return compile_reader(fastavro.parse_schema(schema))


ARRAY_OF_LONGS = {"type": "array", "items": "long"}
ARRAY_OF_NULLS = {"type": "array", "items": "null"}
ENUM = {"type": "enum", "name": "E", "symbols": ["A", "B"]}


def test_blocks_with_byte_sizes_and_several_blocks() -> None:
    """Writers may split arrays and maps into blocks, a negative count giving the block's
    size in bytes: fastavro reads them, and so do we."""
    array = (write_long(-2) + write_long(2) + write_long(5) + write_long(-6)
             + write_long(1) + write_long(7) + write_long(0))
    assert reader(ARRAY_OF_LONGS)(array, 0) == ([5, -6, 7], len(array))
    assert fastavro.schemaless_reader(io.BytesIO(array), ARRAY_OF_LONGS) == [5, -6, 7]
    items = write_long(1) + b"a" + write_long(3)
    mapping = write_long(-1) + write_long(len(items)) + items + write_long(0)
    schema = {"type": "map", "values": "long"}
    assert reader(schema)(mapping, 0) == ({"a": 3}, len(mapping))
    assert fastavro.schemaless_reader(io.BytesIO(mapping), schema) == {"a": 3}


@pytest.mark.parametrize("schema, data, error, message", [
    ("long", b"\xff" * 9 + b"\x81\x01", ValueError, "varint longer than 10 bytes"),
    ("long", b"\xff" * 9 + b"\x7f", ValueError, "varint does not fit in 64 bits"),
    ("long", b"\xff\xff", IndexError, "varint beyond end of data"),
    ("string", write_long(-1), ValueError, "negative length"),
    ("bytes", write_long(5) + b"abc", IndexError, "length beyond end of data"),
    ("string", write_long(2) + b"\xff\xfe", UnicodeDecodeError, "utf-8"),
    ("double", b"\0" * 7, IndexError, "double beyond end of data"),
    ("float", b"", IndexError, "float beyond end of data"),
    ("boolean", b"", IndexError, "boolean beyond end of data"),
    ({"type": "fixed", "name": "F", "size": 4}, b"abc", IndexError, "fixed beyond end"),
    (["null", "long"], write_long(2), ValueError, "bad union index"),
    (["null", "long"], write_long(-1), ValueError, "bad union index"),
    (["null", "long"], write_long(200), ValueError, "bad union index"),
    (ENUM, write_long(2), ValueError, "bad enum index"),
    (ARRAY_OF_LONGS, write_long(10**12), IndexError, "block beyond end of data"),
    (ARRAY_OF_NULLS, write_long(10**12), ValueError, "block too long"),
    (ARRAY_OF_LONGS, write_long(-2**63), ValueError, "block count out of range"),
])
def test_hostile_data_gets_a_specific_error(schema, data, error, message) -> None:
    with pytest.raises(error, match=message):
        reader(schema)(data, 0)


def test_items_taking_no_bytes_are_capped_over_all_blocks() -> None:
    """An array of nulls costs no data per item: a million of them may come, split into
    blocks or not, but not one more."""
    million = 1 << 20
    whole = write_long(million) + write_long(0)
    assert len(reader(ARRAY_OF_NULLS)(whole, 0)[0]) == million
    split = write_long(million // 2) * 2 + write_long(0)
    assert len(reader(ARRAY_OF_NULLS)(split, 0)[0]) == million
    for data in (write_long(million) + write_long(1) + write_long(0),
                 write_long(million // 2) * 3 + write_long(0)):
        with pytest.raises(ValueError, match="block too long"):
            reader(ARRAY_OF_NULLS)(data, 0)


def test_start_position_outside_the_data() -> None:
    read = reader("long")
    assert read(b"\x00\x04", 1) == (2, 2)
    for pos in (-1, 3):
        with pytest.raises(IndexError, match="start position beyond end of data"):
            read(b"\x00\x04", pos)


def test_deep_nesting_is_a_recursion_error_not_a_crash() -> None:
    schema = {"type": "record", "name": "Node", "fields": [
        {"name": "next", "type": ["null", "Node"]}]}
    depth = 200_000
    data = write_long(1) * depth + write_long(0)
    with pytest.raises(RecursionError, match="nested deeper than 1000 levels"):
        reader(schema)(data, 0)
    limit = sys.getrecursionlimit()
    sys.setrecursionlimit(10 * depth)  # the C stack is guarded whatever Python's limit is
    try:
        with pytest.raises(RecursionError, match="nested deeper than 1000 levels"):
            reader(schema)(data, 0)
    finally:
        sys.setrecursionlimit(limit)
    shallow = write_long(1) * 3 + write_long(0)
    assert reader(schema)(shallow, 0)[0] == {"next": {"next": {"next": {"next": None}}}}
    deepest = write_long(1) * 999 + write_long(0)
    assert reader(schema)(deepest, 0)[1] == len(deepest)


def test_no_references_leak() -> None:
    """Repeated reads and failed reads leave the symbols' and names' counts as they were."""
    schema = fastavro.parse_schema({"type": "record", "name": "R", "fields": [
        {"name": "e", "type": ENUM}, {"name": "m", "type": {"type": "map", "values": "long"}},
        {"name": "u", "type": ["null", "string"]}]})
    read = compile_reader(schema)
    good = write_long(1) + write_long(1) + write_long(1) + b"k" + write_long(4) + write_long(0)
    good += write_long(1) + write_long(2) + b"hi"
    assert read(good, 0) == ({"e": "B", "m": {"k": 4}, "u": "hi"}, len(good))
    symbol = read(good, 0)[0]["e"]
    gc.collect()
    before = sys.getrefcount(symbol)
    for _ in range(1000):
        read(good, 0)
        with pytest.raises(IndexError):
            read(good[:-1], 0)
    gc.collect()
    assert sys.getrefcount(symbol) == before


@pytest.mark.parametrize("program, error, message", [
    ((), ValueError, "no nodes"),
    (((99,),), ValueError, "out of range"),
    (((8, ("a",), (5,)),), ValueError, "out of range"),
    (((8, ("a", "b"), (0,)),), ValueError, "one name per field"),
    (((8, (1,), (0,)),), TypeError, "names must be str"),
    (((12, ()),), ValueError, "a union needs a branch"),
    (((10, 0),), ValueError, "malformed node"),
    (("long",), TypeError, "non-empty tuple"),
])
def test_malformed_programs_are_refused(program, error, message) -> None:
    with pytest.raises(error, match=message):
        Reader(program)


def test_program_shares_one_node_per_named_record() -> None:
    schema = fastavro.parse_schema({"type": "record", "name": "P", "fields": [
        {"name": "a", "type": {"type": "record", "name": "Q", "fields": [
            {"name": "x", "type": "double"}]}},
        {"name": "b", "type": "Q"}]})
    program = reader_program(schema)
    assert program[0][1] == ("a", "b")
    assert program[0][2][0] == program[0][2][1]
