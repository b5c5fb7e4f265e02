"""The pure parts of ``solas bench --stage all``: lag, percentiles, rates and the plots."""
import numpy as np
import pytest
from PIL import Image

from solas.bench.end_to_end import bench_all
from solas.bench.filter import bench_filter
from solas.bench.plot import plot_run, stage_rate_series
from solas.bench.timeline import (Sample, kept_up, lag_growth, percentiles, stage_lag,
                                  stage_rates, windowed_p99)
from solas.settings import load_settings


def sample(t, produced, ingest, sherlock, filter_):
    return Sample(t, produced, {"ingest": ingest, "sherlock": sherlock, "filter": filter_},
                  {"worker-filter": 50.0}, {"worker-filter": 300.0})


def test_lag_is_what_the_stage_upstream_finished_and_this_one_did_not():
    assert stage_lag(sample(1.0, 1000, 900, 700, 400)) == {
        "ingest": 100.0, "sherlock": 200.0, "filter": 300.0}


def test_a_stage_ahead_of_its_sampled_upstream_counts_no_negative_lag():
    assert stage_lag(sample(1.0, 10, 12, 12, 12))["ingest"] == 0.0


def test_percentiles_match_numpy_and_are_none_without_data():
    values = np.random.default_rng(3).exponential(2.0, 10_001)
    got = percentiles(values)
    assert got["p99"] == round(float(np.percentile(values, 99)), 3)
    assert got["p50"] < got["p95"] < got["p99"]
    assert percentiles(np.array([])) == {"p50": None, "p95": None, "p99": None}


def test_windowed_p99_takes_each_window_on_its_own():
    arrival = np.concatenate([np.linspace(0, 9.9, 100), np.linspace(10, 19.9, 100)])
    latency = np.concatenate([np.full(100, 1.0), np.full(100, 5.0)])
    assert windowed_p99(arrival, latency) == [(5.0, 1.0), (15.0, 5.0)]
    assert windowed_p99(np.array([]), np.array([])) == []


def test_stage_rate_is_the_smoothed_derivative_of_the_finished_count():
    samples = [sample(float(t), 300 * t, 300 * t, 300 * t, 300 * t) for t in range(30)]
    t, rate = stage_rate_series(samples, "filter")
    assert len(t) == 25 and np.allclose(rate, 300.0)


def test_plot_run_writes_a_png(tmp_path):
    samples = [sample(float(t), 300 * t, 290 * t, 280 * t, 270 * t) for t in range(20)]
    arrival = np.linspace(0, 19, 200)
    plot_run(tmp_path / "run.png", 300.0, samples, arrival, 1 + arrival / 10)
    with Image.open(tmp_path / "run.png") as image:
        assert image.format == "PNG" and image.width > 500 and image.height > 800


def test_stage_rates_use_what_each_stage_finished_even_if_it_did_not_finish_all():
    samples = [sample(float(t), 300 * t, 300 * t, 200 * t, 0) for t in range(41)]
    rates = stage_rates(samples)
    assert abs(rates["ingest"] - 300) < 1 and abs(rates["sherlock"] - 200) < 1
    assert np.isnan(rates["filter"])


def test_a_run_whose_backlog_grows_did_not_keep_up_even_with_a_good_p99():
    steady = [sample(float(t), 250 * t, 250 * t - 500 * (t % 2), 250 * t - 600, 250 * t - 900)
              for t in range(2, 80)]
    growing = [sample(float(t), 333 * t, 270 * t, 270 * t, 270 * t) for t in range(80)]
    assert abs(lag_growth(steady, 80.0)) < 5
    assert abs(lag_growth(growing, 80.0) - 63) < 1
    assert kept_up(lag_growth(steady, 80.0), 250.0, 9.5)
    assert not kept_up(lag_growth(growing, 80.0), 333.0, 21.0)
    assert not kept_up(0.0, 333.0, 31.0) and not kept_up(0.0, 333.0, None)
    assert not kept_up(float("nan"), 333.0, 5.0)


def test_a_rubin_history_mix_is_refused_for_ztf_before_anything_is_touched(tmp_path):
    ztf = load_settings({"SOLAS_HOME": str(tmp_path), "SOLAS_SURVEY": "ztf"})
    for run in (lambda: bench_all(ztf, 10, 333.0, [], mix="wide"),
                lambda: bench_filter(ztf, 10, [], mix="deep")):
        with pytest.raises(ValueError, match="history mix shapes Rubin .* ztf alerts are "
                                             "cloned as they are"):
            run()  # no database, keyspace or topic is made first
