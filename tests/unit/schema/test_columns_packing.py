"""Fields the column spec does not declare (a newer schema's) are packed, not dropped."""
from solas.schema.columns import Column, TableSpec, packed_row, unpacked_row

SPEC = TableSpec("diaSources", (Column("diaObjectId", "bigint"), Column("band", "text"),
                                Column("extra", "json")), ("diaObjectId",),
                 packed=(Column("visit", "bigint"),))


def test_an_undeclared_field_goes_into_the_packed_column_and_comes_back():
    row = {"diaObjectId": 1, "band": "g", "visit": 7, "newField": 2.5, "newNull": None,
           "newStamp": b"\x00\x01"}
    names, values = packed_row(row, ("diaObjectId", "band"))
    assert names == ("diaObjectId", "band", "extra")
    assert values[-1] == '{"visit":7,"newField":2.5,"newStamp":"AAE="}'
    point = unpacked_row(SPEC, dict(zip(names, values)))
    assert point == {"diaObjectId": 1, "band": "g", "visit": 7, "newField": 2.5,
                     "newStamp": "AAE="}


def test_a_row_of_only_typed_columns_has_no_packed_column():
    assert packed_row({"diaObjectId": 1, "band": None}, ("diaObjectId", "band")) == (
        ("diaObjectId",), [1])
