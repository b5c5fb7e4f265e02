"""``solas bench --stage features`` on clones of the shipped Rubin alerts (no services)."""
from __future__ import annotations

import dataclasses

import pytest

from solas.bench.features import history_sizes, run_features_bench, time_features
from solas.cli import build_parser
from solas.settings import get_settings
from solas.surveys import Alert


@pytest.fixture(scope="module")
def rubin():
    return dataclasses.replace(get_settings(), survey="lsst", batch_size=100)


def test_the_feature_bench_reports_rates_fits_and_the_mix_it_measured(rubin):
    lines: list[str] = []
    result = run_features_bench(rubin, 400, None, None, log=lines.append)
    assert result["survey"] == "lsst" and result["mix"] == "wide"
    assert 0 < result["alerts"] <= 400  # solar-system alerts have no features
    assert 0 < result["accepted_fits"] < result["alerts"]
    assert result["alerts_per_cpu_s"] > 0 and result["fit_cpu_ms_per_alert"] >= 0
    assert 1 <= result["mean_detections"] <= result["max_detections"]
    assert any("alerts_per_cpu_s" in line for line in lines)


def test_history_sizes_count_the_triggering_detection_and_forced_points():
    alert = Alert("lsst", 1, 1, 0.0, 0.0, 60000.0, "test", {}, [{}, {}, {}], [{}], [], {})
    single = alert._replace(detections=[{}], forced=[])
    assert history_sizes([alert, single]) == {"mean_detections": 2.0, "max_detections": 3,
                                              "mean_forced": 0.5, "max_forced": 1}


def test_timing_of_no_alerts_counts_no_fit():
    assert time_features([], "lsst", 100, True, "none").fitted == 0


def test_the_bench_command_has_a_features_stage():
    args = build_parser().parse_args(["bench", "--stage", "features", "--alerts", "1000"])
    assert args.stage == "features" and args.alerts == 1000
