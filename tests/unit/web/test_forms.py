"""Parameter parsing: what the lasair client and scripts send."""
from __future__ import annotations

import pytest

from web import forms
from web.config import HOURLY_LIMITS, ROW_CAPS, USER_CLASSES
from web.forms import BadRequest


@pytest.mark.parametrize("value, expected", [("True", True), ("False", False), ("1", True),
                                             ("0", False), ("on", True), (True, True),
                                             (0, False), ("", False)])
def test_booleans_as_the_client_sends_them(value, expected):
    assert forms.boolean({"lite": value}, "lite", not expected) is expected


def test_bad_boolean_names_the_parameter():
    with pytest.raises(BadRequest, match="lite: expected true or false"):
        forms.boolean({"lite": "maybe"}, "lite", False)
    assert forms.boolean({}, "lite", True) is True


def test_numbers_and_integers():
    assert forms.number({"ra": "10.5"}, "ra", low=0, high=360) == 10.5
    with pytest.raises(BadRequest, match="ra must be between 0 and 360"):
        forms.number({"ra": "400"}, "ra", low=0, high=360)
    with pytest.raises(BadRequest, match="not a number"):
        forms.number({"ra": "ten"}, "ra")
    with pytest.raises(BadRequest, match="finite"):
        forms.number({"ra": "nan"}, "ra")
    with pytest.raises(BadRequest, match="required"):
        forms.number({}, "dec")
    assert forms.integer({"limit": "25"}, "limit") == 25
    assert forms.integer({}, "limit", 1000) == 1000
    for bad in ("1.5", "1e3", "-", True):
        with pytest.raises(BadRequest):
            forms.integer({"limit": bad}, "limit")
    with pytest.raises(BadRequest, match="between"):
        forms.integer({"run": "9"}, "run", low=0, high=3)


def test_object_ids_per_survey():
    assert forms.object_id("ztf", " ZTF21abiuvdk ") == "ZTF21abiuvdk"
    assert forms.object_id("lsst", "313875416837259382") == 313875416837259382
    assert forms.object_id("lsst", 2**63 - 1) == 2**63 - 1
    for survey, bad in (("ztf", "ZTF21ABIUVDK"), ("ztf", "1 OR 1=1"), ("lsst", "2**63"),
                        ("lsst", str(2**63)), ("lsst", "-5"), ("lsst", "")):
        with pytest.raises(BadRequest):
            forms.object_id(survey, bad)


def test_text_and_choice():
    assert forms.text({"n": 5}, "n") == "5"
    with pytest.raises(BadRequest, match="required"):
        forms.text({"n": ""}, "n", required=True)
    with pytest.raises(BadRequest, match="longer than 3"):
        forms.text({"n": "abcd"}, "n", max_length=3)
    with pytest.raises(BadRequest, match="expected a string"):
        forms.text({"n": ["a"]}, "n")
    assert forms.choice({}, "requestType", ("all", "count"), "all") == "all"
    with pytest.raises(BadRequest, match="must be one of all, count"):
        forms.choice({"requestType": "some"}, "requestType", ("all", "count"), "all")


def test_limits_grow_with_the_class():
    assert [HOURLY_LIMITS[c] for c in USER_CLASSES] == [10, 100, 10_000]
    assert [ROW_CAPS[c] for c in USER_CLASSES] == [1_000, 10_000, 1_000_000]
