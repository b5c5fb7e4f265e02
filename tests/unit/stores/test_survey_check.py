"""Which survey's schema a database or keyspace holds, and the refusal naming both."""
import pytest

from solas.settings import load_settings
from solas.stores.survey_check import (
    SurveyMismatch,
    check_survey,
    objects_key,
    survey_of_columns,
    survey_of_tables,
)


def test_the_objects_key_tells_the_surveys_apart():
    assert (objects_key("ztf"), objects_key("lsst")) == ("objectId", "diaObjectId")
    assert survey_of_columns(["objectId", "ncand", "ramean"]) == "ztf"
    assert survey_of_columns(["diaObjectId", "ra", "decl"]) == "lsst"
    assert survey_of_columns([]) is None


def test_the_light_curve_tables_tell_the_keyspaces_apart():
    assert survey_of_tables(["candidates", "noncandidates", "cutouts"]) == "ztf"
    assert survey_of_tables(["diasources", "diaforcedsources", "cutouts"]) == "lsst"
    assert survey_of_tables(["cutouts"]) is None and survey_of_tables([]) is None


def test_another_surveys_schema_is_refused_naming_both():
    ztf = load_settings({"SOLAS_SURVEY": "ztf"})
    with pytest.raises(SurveyMismatch) as caught:
        check_survey("MariaDB database solas", "lsst", ztf, "another database")
    text = str(caught.value)
    assert "MariaDB database solas holds the Rubin (lsst) schema" in text
    assert "this deployment's survey is ZTF (ztf" in text
    assert "SOLAS_SURVEY=lsst" in text


def test_the_own_schema_or_none_passes():
    ztf = load_settings({"SOLAS_SURVEY": "ztf"})
    check_survey("MariaDB database solas", "ztf", ztf, "another database")
    check_survey("MariaDB database solas", None, ztf, "another database")
