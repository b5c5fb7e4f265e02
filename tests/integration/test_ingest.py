"""Ingest on the real stack: Kafka -> worker -> Cassandra + topics ``ingested``/dead letters.

Expectations are computed independently with fastavro from the shipped files.
"""
from __future__ import annotations

import asyncio
import io
import json
import tarfile
from collections import defaultdict
from pathlib import Path

import fastavro
import pyarrow.parquet as pq
import pytest
from aiokafka import AIOKafkaProducer
from aiokafka.admin import AIOKafkaAdminClient

from solas.db import init_all
from solas.replay import messages_from_paths, produce, replay
from solas.ingest import alert_from_ingested
from solas.stores import cassandra
from solas.surveys import decode_packet, normalise
from solas.topics import DEADLETTER, INGESTED, end_offsets, read_topic, stage_topic
from solas.workers import start_worker, stop_worker, wait_for_done

pytestmark = pytest.mark.integration
TIMEOUT_S = 300


def ztf_truth(folder: Path) -> dict[str, dict[str, set]]:
    """Per objectId: candids, (jd, fid) of upper limits and of forced points, alert ids."""
    truth: dict[str, dict[str, set]] = defaultdict(lambda: defaultdict(set))
    for path in sorted(folder.rglob("*.avro")):
        with open(path, "rb") as f:
            for rec in fastavro.reader(f):
                obj = truth[rec["objectId"]]
                obj["alerts"].add(rec["candidate"]["candid"])
                obj["candids"].add(rec["candidate"]["candid"])
                for prv in rec.get("prv_candidates") or ():
                    if prv.get("candid"):
                        obj["candids"].add(prv["candid"])
                    else:
                        obj["limits"].add((prv["jd"], prv["fid"]))
                for fp in rec.get("fp_hists") or ():
                    obj["forced"].add((fp["jd"], fp["fid"]))
    return truth


def worker_env(settings) -> dict[str, str]:
    return {"SOLAS_APP_ID": settings.app_id, "SOLAS_RAW_TOPIC": settings.raw_topic}


@pytest.fixture(scope="module")
def session(ztf):
    cluster, session = cassandra.connect(ztf)
    yield session
    cluster.shutdown()


def run_until_done(settings, n: int, worker_id: int = 1):
    """Start a worker, wait until it has handled ``n`` packets, stop it."""
    worker = start_worker(settings, ["ingest"], worker_id, worker_env(settings))
    try:
        wait_for_done(worker, "ingest", n, TIMEOUT_S)
    finally:
        stop_worker(worker)


def rows(session, settings, table: str, columns: str, key: str, value) -> set:
    ks = settings.cassandra_keyspace
    return {tuple(r) for r in session.execute(
        f'SELECT {columns} FROM {ks}."{table}" WHERE "{key}"=%s', (value,))}


def test_every_ztf_alert_is_stored_and_forwarded_once(ztf, session):
    folder = ztf.data_dir / "alerts" / "ztf"
    truth = ztf_truth(folder)
    n_alerts = sum(len(t["alerts"]) for t in truth.values())
    start = asyncio.run(end_offsets(ztf, stage_topic(ztf, INGESTED)))
    stats = asyncio.run(replay(ztf, [str(folder)], progress=False))
    assert stats.alerts == n_alerts and stats.unreadable_files == 0
    run_until_done(ztf, stats.messages)

    forwarded = asyncio.run(read_topic(ztf, stage_topic(ztf, INGESTED), start, keep=lambda r: r.key.decode()))
    assert len(forwarded) == n_alerts
    assert set(forwarded) == set(truth)
    for object_id, expected in truth.items():
        assert rows(session, ztf, "candidates", "candid", "objectId", object_id) == {
            (c,) for c in expected["candids"]}, object_id
        assert rows(session, ztf, "noncandidates", "jd, fid", "objectId", object_id) == \
            expected["limits"], object_id
        assert rows(session, ztf, "forcedphot", "jd, fid", "objectId", object_id) == \
            expected["forced"], object_id
        for candid in expected["alerts"]:
            stamps = rows(session, ztf, "cutouts", '"cutoutType"', "candid", candid)
            assert stamps == {("Science",), ("Template",), ("Difference",)}


def test_corrupt_packets_are_dead_lettered_with_reason_and_bytes(ztf):
    good = next((ztf.data_dir / "alerts" / "ztf" / "ztf-avro-alert" / "data").iterdir())
    packets = [b"", b"not an alert at all", good.read_bytes()[:5000],
               b"Obj\x01" + bytes(range(256))]
    start = asyncio.run(end_offsets(ztf, stage_topic(ztf, DEADLETTER)))

    asyncio.run(send_packets(ztf, packets))
    run_until_done(ztf, len(packets), worker_id=2)
    dead = asyncio.run(read_topic(ztf, stage_topic(ztf, DEADLETTER), start,
                                  keep=lambda r: (r.value, dict(r.headers))))
    assert sorted(v for v, _ in dead) == sorted(packets)
    for value, headers in dead:
        assert headers["solas-reason"], value[:20]
        assert headers["solas-stage"] == b"decode"
        assert headers["solas-origin"].decode().startswith(ztf.raw_topic + "/")


def _plain_records(path: Path) -> list[dict]:
    """The records of one shipped Rubin file, read without Solas: Avro containers and
    JSON with fastavro/json, the broker Parquet renderings with pyarrow (rows repeating a
    diaSourceId within a file once), the tar of bare datums with fastavro and its
    schema.json."""
    if path.suffix == ".avro":
        with open(path, "rb") as f:
            return list(fastavro.reader(f))
    if path.suffix == ".json":
        return [json.loads(path.read_text())]
    if path.suffix == ".parquet":
        rows = {r["diaSource"]["diaSourceId"]: r for r in pq.read_table(path).to_pylist()}
        return list(rows.values())
    if path.name.endswith(".tar.gz"):
        with tarfile.open(path) as tar:
            members = {m.name: tar.extractfile(m).read() for m in tar if m.isfile()}
        schema = fastavro.parse_schema(json.loads(members.pop(next(
            n for n in members if n.endswith("schema.json")))))
        return [fastavro.schemaless_reader(io.BytesIO(data), schema)
                for _, data in sorted(members.items())]
    return []


def lsst_valid_ids(folder: Path) -> list[int]:
    """diaSourceIds of the Rubin alerts that a plain read (:func:`_plain_records`) finds
    complete: a diaSource with id and position, and a diaObject with an id or, for a
    solar-system object without a diaObject, a diaSource.ssObjectId (those are alerts
    too)."""
    ids = []
    for path in sorted(folder.rglob("*")):
        for rec in _plain_records(path):
            if "DiaSourceList" in rec:  # DP0.2 rendering: the latest source triggers
                rec = {"diaObject": rec.get("DiaObject"), "diaSource": max(
                    rec["DiaSourceList"], key=lambda s: s["midPointTai"], default=None)}
            source, obj = rec.get("diaSource") or {}, rec.get("diaObject") or {}
            if source.get("diaSourceId") and source.get("ra") is not None and \
                    (obj.get("diaObjectId") or source.get("ssObjectId")):
                ids.append(source["diaSourceId"])
    return ids


def unstorable_rubin_alert(folder: Path) -> bytes:
    """A real Rubin JSON alert whose flux is text: it decodes, Cassandra refuses it."""
    body = json.loads((folder / "lasair-json" / "schema10.0" / "alert.json").read_text())
    body["diaSource"]["diaSourceId"] += 1
    body["diaSource"]["psfFlux"] = "bright"
    return json.dumps(body).encode()


async def send_packets(settings, packets: list[bytes]) -> None:
    kafka = AIOKafkaProducer(bootstrap_servers=settings.kafka)
    await kafka.start()
    try:
        for packet in packets:
            await kafka.send_and_wait(settings.raw_topic, packet)
    finally:
        await kafka.stop()


def test_every_rubin_alert_is_stored_and_forwarded(stack, isolate):
    lsst = isolate(stack, "lsst")
    init_all(lsst)
    folder = lsst.data_dir / "alerts" / "lsst"
    expected = lsst_valid_ids(folder)
    start = asyncio.run(end_offsets(lsst, stage_topic(lsst, INGESTED)))
    dead_start = asyncio.run(end_offsets(lsst, stage_topic(lsst, DEADLETTER)))
    stats = asyncio.run(replay(lsst, [str(folder)], progress=False))
    unstorable = unstorable_rubin_alert(folder)
    asyncio.run(send_packets(lsst, [unstorable]))
    run_until_done(lsst, stats.messages + 1, worker_id=3)

    forwarded = asyncio.run(read_topic(lsst, stage_topic(lsst, INGESTED), start, keep=lambda r: r.value))
    alerts = [alert_from_ingested(v)[0] for v in forwarded]
    assert sorted(a.source_id for a in alerts) == sorted(expected)
    dead = asyncio.run(read_topic(lsst, stage_topic(lsst, DEADLETTER), dead_start,
                                  keep=lambda r: (r.value, dict(r.headers))))
    stages = sorted(h["solas-stage"].decode() for _, h in dead)
    assert stages == ["store", "validate"]  # solar-system alerts are forwarded
    assert [v for v, h in dead if h["solas-stage"] == b"store"] == [unstorable]
    cluster, session = cassandra.connect(lsst)
    try:
        for alert in alerts:
            if alert.is_solar_system:  # its detection is keyed by its ssObjectId
                assert rows(session, lsst, "ssSources", '"diaSourceId"', "ssObjectId",
                            alert.ss_object_id) >= {(alert.source_id,)}
                continue
            sources = {d["diaSourceId"] for d in alert.detections}
            assert rows(session, lsst, "diaSources", '"diaSourceId"', "diaObjectId",
                        alert.object_id) >= {(s,) for s in sources}
    finally:
        cluster.shutdown()


async def _group_lag(settings) -> int:
    admin = AIOKafkaAdminClient(bootstrap_servers=settings.kafka)
    await admin.start()
    try:
        committed = await admin.list_consumer_group_offsets(settings.app_id)
    finally:
        await admin.close()
    end = await end_offsets(settings, settings.raw_topic)
    return sum(offset - (committed[tp].offset if tp in committed else 0)
               for tp, offset in end.items())


def test_kill_9_mid_stream_loses_nothing_and_duplicates_nothing(ztf, session):
    folder = ztf.data_dir / "alerts" / "ztf" / "pittgoogle-labelled"
    messages = list(messages_from_paths([folder], "ztf", clone=40))
    alerts = [normalise(decode_packet(m.value, "ztf"), "ztf") for m in messages]
    start = asyncio.run(end_offsets(ztf, stage_topic(ztf, INGESTED)))
    asyncio.run(produce(ztf, messages, ztf.raw_topic, progress=False))

    worker = start_worker(ztf, ["ingest"], 1, worker_env(ztf))
    wait_for_done(worker, "ingest", len(alerts) // 5, TIMEOUT_S)
    stop_worker(worker, kill=True)
    worker = start_worker(ztf, ["ingest"], 1, worker_env(ztf))
    try:
        for _ in range(TIMEOUT_S):
            if asyncio.run(_group_lag(ztf)) == 0:
                break
            assert worker.process.poll() is None, "restarted worker died"
            asyncio.run(asyncio.sleep(1))
        assert asyncio.run(_group_lag(ztf)) == 0
    finally:
        stop_worker(worker)

    forwarded = set(asyncio.run(read_topic(ztf, stage_topic(ztf, INGESTED), start,
                                           keep=lambda r: r.key.decode())))
    assert forwarded >= {a.object_id for a in alerts}
    candids: dict[str, set] = defaultdict(set)
    for alert in alerts:
        candids[alert.object_id] |= {(d["candid"],) for d in alert.detections}
    for object_id, expected in candids.items():
        assert rows(session, ztf, "candidates", "candid", "objectId", object_id) == expected
