"""The bench runs apart from the deployment it measures."""
import dataclasses
import subprocess
import sys
from contextlib import contextmanager
from pathlib import Path

import pytest
from prometheus_client import CollectorRegistry, Gauge, start_http_server

from solas.bench.common import (bench_settings, default_mix, default_source,
                                empty_bench_keyspace, history_summary, make_messages,
                                remove_dropped_snapshots, throughput, wait_for_assignment)
from solas.bench.ingest import _rows_written, bench_ingest
from solas.bench.run import run_bench
from solas.cli import build_parser
from solas.settings import get_settings, load_settings
from solas.surveys import decode_packet, iter_alert_paths, normalise, read_alert_file
from solas.topics import INGESTED, stage_topic
from solas.workers import WorkerProcess
from tests.unit.test_workers import free_port


@pytest.fixture
def deployment(tmp_path):
    return load_settings({"SOLAS_HOME": str(tmp_path), "SOLAS_SURVEY": "ztf"})


def test_bench_settings_move_every_store_and_topic_away_from_the_deployment(deployment):
    s = bench_settings(deployment)
    assert s.mariadb["db"] == f"{deployment.mariadb['db']}_bench"
    assert s.cassandra_keyspace == f"{deployment.cassandra_keyspace}_bench"
    assert s.raw_topic != deployment.raw_topic and s.raw_topic.startswith("bench-")
    assert stage_topic(s, INGESTED) != stage_topic(deployment, INGESTED)
    assert stage_topic(s, INGESTED).startswith("bench-")
    assert s.app_id != deployment.app_id and s.topic_prefix.startswith("bench-")


def test_only_a_bench_keyspace_is_ever_dropped(deployment):
    with pytest.raises(ValueError, match="not a bench keyspace"):
        empty_bench_keyspace(deployment)  # refused before any connection is made


@pytest.mark.parametrize("workers", [0, 5])
def test_ingest_workers_are_refused_beyond_the_raw_topics_partitions(deployment, workers):
    with pytest.raises(ValueError, match=f"--workers must be 1 to 4 .* not {workers}"):
        bench_ingest(deployment, 100, None, workers=workers)  # before any connection


def test_a_preloaded_backlog_takes_no_rate(deployment):
    with pytest.raises(ValueError, match="--preload .* no --rate"):
        bench_ingest(deployment, 100, 333.0, preload=True)  # before any connection


def test_throughput_of_a_run_sampled_from_its_start():
    # idle for 2 s, then 100 alerts/s; samples once a second
    samples = [(float(t), max(0, 100 * (t - 1))) for t in range(12)]
    rates = throughput(samples, 1000)
    assert rates.steady == pytest.approx(100.0)
    assert rates.seconds == pytest.approx(9.0)  # from the first sample with alerts done
    assert rates.overall == pytest.approx(1000 / 9)


def test_throughput_of_a_run_sampled_from_its_middle():
    # a preloaded backlog: 400 alerts were done (by one worker, fast) before sampling began
    samples = [(10.0 + t, 400 + 100 * t) for t in range(7)]
    rates = throughput(samples, 1000)
    assert rates.steady == pytest.approx(100.0)  # the 400 done before do not count
    assert rates.overall == pytest.approx(100.0)
    assert rates.seconds == pytest.approx(6.0)


def test_rows_written_add_up_over_the_workers():
    written = "solas_cassandra_written_rows_total"
    first = {(written, (("table", "candidates"),)): 10.0, ("other", ()): 3.0}
    second = {(written, (("table", "candidates"),)): 5.0,
              (written, (("table", "cutouts"),)): 6.0}
    assert _rows_written([first, second]) == {"candidates": 15, "cutouts": 6}


def test_only_the_dropped_bench_keyspaces_snapshots_are_removed(tmp_path):
    def file(path: str, size: int) -> None:
        (tmp_path / path).parent.mkdir(parents=True, exist_ok=True)
        (tmp_path / path).write_bytes(b"x" * size)

    file("ks_bench/cutouts-1/snapshots/dropped-17-cutouts/nb-1-big-Data.db", 300)
    file("ks_bench/cutouts-1/snapshots/dropped-17-cutouts/manifest.json", 20)
    file("ks_bench/candidates-1/snapshots/dropped-17-candidates/nb-1-big-Data.db", 100)
    file("ks_bench/candidates-2/snapshots/backup-before-upgrade/nb-1-big-Data.db", 50)
    file("ks_bench/candidates-2/nb-2-big-Data.db", 70)
    file("ks/cutouts-3/snapshots/dropped-9-cutouts/nb-1-big-Data.db", 40)
    assert remove_dropped_snapshots(tmp_path, "ks_bench") == 420
    left = sorted(str(f.relative_to(tmp_path)) for f in tmp_path.rglob("*.db"))
    assert left == ["ks/cutouts-3/snapshots/dropped-9-cutouts/nb-1-big-Data.db",
                    "ks_bench/candidates-2/nb-2-big-Data.db",
                    "ks_bench/candidates-2/snapshots/backup-before-upgrade/nb-1-big-Data.db"]
    assert remove_dropped_snapshots(tmp_path / "elsewhere", "ks_bench") == 0


@contextmanager
def worker_owning(partitions: int):
    """A live process beside a real /metrics endpoint that reports owning ``partitions``
    of topic ``raw``, as an ingest worker does."""
    registry = CollectorRegistry()
    Gauge("solas_kafka_assigned_partitions", "owned", ["topic"],
          registry=registry).labels("raw").set(partitions)
    port = free_port()
    server, thread = start_http_server(port, addr="127.0.0.1", registry=registry)
    process = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(60)"])
    try:
        yield WorkerProcess(process, Path("worker.log"), port)
    finally:
        process.kill()
        process.wait()
        server.shutdown()
        thread.join()


def test_the_bench_waits_until_every_worker_owns_part_of_the_raw_topic():
    with worker_owning(4) as alone, worker_owning(2) as first, worker_owning(0) as idle:
        wait_for_assignment([alone], "raw", 4, 5)
        wait_for_assignment([first, idle], "raw", 4, 5, first=True)  # one is consuming
        with pytest.raises(TimeoutError, match="did not share the 4 partitions of raw"):
            wait_for_assignment([first, idle], "raw", 4, 0.5)
        idle.process.kill()
        idle.process.wait()
        with pytest.raises(RuntimeError, match="bench worker exited"):
            wait_for_assignment([first, idle], "raw", 4, 5)


@pytest.mark.parametrize("flags", [{"workers": 2}, {"preload": True}])
def test_ingest_only_flags_are_refused_for_other_stages(deployment, flags):
    with pytest.raises(SystemExit, match="--workers and --preload are for --stage ingest"):
        run_bench(deployment, "filter", 100, None, None, **flags)


def test_the_warm_up_is_refused_for_the_single_stages(deployment):
    with pytest.raises(SystemExit, match="--warmup is for --stage all"):
        run_bench(deployment, "ingest", 100, None, None, warmup=1000)


@pytest.fixture(scope="module")
def rubin():
    return dataclasses.replace(get_settings(), survey="lsst")


def test_the_rubin_bench_clones_the_packets_and_renderings_not_the_json(rubin):
    source = default_source(rubin)
    assert {p.name for p in source} == {"real-v10", "fink-transfer-v10", "fink-v10-samples",
                                        "ampel-v9"}
    assert {p.name[-4:] for p in iter_alert_paths(source)} == {"avro", "quet", "r.gz"}
    assert default_mix("lsst") == "wide" and default_mix("ztf") == "asis"


def test_rubin_bench_messages_carry_the_wide_mix_and_are_reproducible(rubin, capsys):
    folder = rubin.data_dir / "alerts" / "lsst"
    source = [folder / "real-v10", folder / "fink-v10-samples", folder / "ampel-v9"]
    messages = make_messages(rubin, 1500, source, seed=4)
    assert len(messages) == 1500 and all(m.key for m in messages)
    assert make_messages(rubin, 1500, source, seed=4) == messages
    assert make_messages(rubin, 1500, source, seed=5) != messages
    summary = history_summary(messages, "wide")
    assert summary["mix"] == "wide" and summary["alerts_counted"] == 1500
    # this sample's longest prior history is 391 detections: the tail is cut there
    assert 6 < summary["mean_dia_sources_per_alert"] < 14.5
    assert summary["max_dia_sources"] == 392
    assert "history mix wide: " in capsys.readouterr().out
    for m in messages[:300]:
        raw = decode_packet(m.value, "lsst")
        assert raw.schema_id in (900, 1000)
        assert m.dia_sources == len(raw.record["prvDiaSources"] or []) + 1
        assert m.forced == len(raw.record["prvDiaForcedSources"] or [])
        assert str(normalise(raw, "lsst").object_id).encode() == m.key


def test_the_asis_mix_keeps_each_alerts_history(rubin):
    source = [rubin.data_dir / "alerts" / "lsst" / "real-v10"]
    messages = make_messages(rubin, 10, source, mix="asis")
    real = {len(r.record["prvDiaSources"] or []) + 1
            for r in read_alert_file(source[0] / "part-2-918301.avro")}
    assert {m.dia_sources for m in messages} <= real and max(real) == 392
    assert max(m.dia_sources for m in messages) == 392


def test_a_history_mix_is_refused_for_ztf_and_the_sherlock_stage(deployment, rubin):
    with pytest.raises(SystemExit, match="--mix wide: .*shapes Rubin .*ztf alerts are cloned "
                                         "as they are"):
        run_bench(deployment, "ingest", 100, None, None, mix="wide")
    with pytest.raises(SystemExit, match="--mix shapes .*--stage sherlock"):
        run_bench(rubin, "sherlock", 100, None, None, mix="deep")
    with pytest.raises(ValueError, match="deep history mix shapes Rubin"):
        make_messages(deployment, 10, [deployment.data_dir / "alerts" / "ztf"], mix="deep")


def test_the_bench_command_takes_a_mix():
    parser = build_parser()
    assert parser.parse_args(["bench", "--mix", "deep"]).mix == "deep"
    assert parser.parse_args(["bench"]).mix is None  # the survey's default
    with pytest.raises(SystemExit):
        parser.parse_args(["bench", "--mix", "narrow"])
