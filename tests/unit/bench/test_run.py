"""``solas bench``'s one entry point: every stage is reachable, and flags a stage does not
take are refused before anything runs."""
import dataclasses

import pytest

from solas.bench.run import STAGES, check_flags, run_bench
from solas.cli import build_parser
from solas.settings import get_settings


@pytest.fixture
def ztf():
    return dataclasses.replace(get_settings(), survey="ztf")


def test_every_stage_is_a_choice_of_the_command():
    parser = build_parser()
    for stage in STAGES:
        assert parser.parse_args(["bench", "--stage", stage]).stage == stage
    with pytest.raises(SystemExit):
        parser.parse_args(["bench", "--stage", "everything"])


def test_an_unknown_stage_is_refused_with_the_list(ztf):
    with pytest.raises(SystemExit, match="unknown stage 'everything'; available: ingest, "
                                         "sherlock, filter, features, all, portal, decode"):
        check_flags(ztf, "everything", 1, False, None, None)


@pytest.mark.parametrize("stage", ["portal", "decode", "sherlock"])
def test_the_stages_that_clone_no_alerts_take_no_mix(ztf, stage):
    with pytest.raises(SystemExit, match=f"--mix shapes .*--stage {stage} clones no alerts"):
        run_bench(dataclasses.replace(ztf, survey="lsst"), stage, 10, None, None, mix="wide")


def test_the_decode_stage_measures_the_shipped_alerts(ztf, tmp_path, capsys):
    out = tmp_path / "decode.json"
    assert run_bench(ztf, "decode", 0, None, str(out)) == 0
    text = out.read_text()
    assert '"stage": "decode"' in text and '"lsst_decode"' in text
    assert text.strip() in capsys.readouterr().out
