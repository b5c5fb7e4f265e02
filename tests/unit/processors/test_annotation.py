"""Parsing annotation messages: what is stored, what is refused and why."""
import orjson
import pytest

from solas.processors.annotation import AnnotationError, Annotator, parse_annotation

ANNOTATORS = {"fastfinder": Annotator("fastfinder", True, True),
              "retired": Annotator("retired", False, False)}


def message(**fields) -> bytes:
    return orjson.dumps({"topic": "fastfinder", "classification": "SN", "version": "0.1",
                         "classdict": {"p": 0.9}, **fields})


def test_a_rubin_annotation_becomes_a_row_with_an_exact_64_bit_id():
    row = parse_annotation(message(diaObjectId=1998903343203755338), "lsst", ANNOTATORS)
    assert row["diaObjectId"] == 1998903343203755338 and row["topic"] == "fastfinder"
    assert orjson.loads(row["classdict"]) == {"p": 0.9} and row["timestamp"] is not None


@pytest.mark.parametrize("value, reason", [
    (b"not json", "not JSON"),
    (b"[1, 2]", "JSON object"),
    (orjson.dumps({"topic": "fastfinder"}), "no object id"),
    (message(objectId="ZTF21abiuvdk", topic="unknown"), "no active annotator 'unknown'"),
    (message(objectId="ZTF21abiuvdk", topic="retired"), "no active annotator 'retired'"),
])
def test_bad_annotations_are_refused_with_a_reason(value, reason):
    with pytest.raises(AnnotationError, match=reason):
        parse_annotation(value, "ztf", ANNOTATORS)


def test_a_non_integer_rubin_id_is_refused():
    with pytest.raises(AnnotationError, match="not an integer"):
        parse_annotation(message(diaObjectId="ZTF21abiuvdk"), "lsst", ANNOTATORS)
