"""Replay messages: survey framing, clones that stay objects, unreadable files verbatim."""
import pytest

from solas.replay import messages_from_paths
from solas.surveys import decode_packet, normalise


def alerts(messages, survey):
    return [normalise(decode_packet(m.value, survey), survey) for m in messages]


def test_clones_of_successive_alerts_of_one_object_form_one_clone_object(settings_data_dir):
    folder = settings_data_dir / "alerts" / "ztf" / "pittgoogle-ZTF21abiuvdk"
    originals = alerts(messages_from_paths([folder], "ztf"), "ztf")
    clones = alerts(messages_from_paths([folder], "ztf", clone=3), "ztf")
    assert len(clones) == 3 * len(originals) and len({a.object_id for a in originals}) == 1
    by_object: dict = {}
    for alert in clones:
        by_object.setdefault(alert.object_id, []).append(alert)
    assert len(by_object) == 3 and originals[0].object_id not in by_object
    for series in by_object.values():
        offsets = {round(c.mjd - o.mjd, 9) for c, o in zip(series, originals)}
        assert len(offsets) == 1  # one time shift per clone object
        assert len({a.source_id for a in series}) == len(originals)


def test_rubin_avro_goes_out_confluent_framed(settings_data_dir):
    folder = settings_data_dir / "alerts" / "lsst" / "real-v10"
    first = next(messages_from_paths([folder], "lsst"))
    assert first.value[0] == 0 and int.from_bytes(first.value[1:5], "big") == 1000


def test_an_unreadable_file_is_sent_as_it_is(tmp_path):
    bad = tmp_path / "broken.avro"
    bad.write_bytes(b"Obj\\x01 truncated")
    counts: dict = {}
    assert [m.value for m in messages_from_paths([bad], "ztf", counts=counts)] == [
        bad.read_bytes()]
    assert counts == {"files": 1, "alerts": 0, "unreadable_files": 1, "duplicate_alerts": 0}


def test_clones_go_out_in_rounds_of_the_whole_sample(settings_data_dir):
    folders = [settings_data_dir / "alerts" / "ztf" / name
               for name in ("pittgoogle-ZTF21abiuvdk", "pittgoogle-labelled")]
    originals = alerts(messages_from_paths(folders, "ztf"), "ztf")
    counts: dict = {}
    clones = alerts(messages_from_paths(folders, "ztf", clone=2, counts=counts), "ztf")
    n = len(originals)
    assert counts["alerts"] == n and len(clones) == 2 * n
    shape = [(len(a.detections), len(a.nondetections)) for a in originals]
    for round_ in (clones[:n], clones[n:]):  # each round is the sample in its own order
        assert [(len(a.detections), len(a.nondetections)) for a in round_] == shape
    assert not {a.object_id for a in clones[:n]} & {a.object_id for a in clones[n:]}


def test_rubin_clones_with_a_history_mix_go_out_once_per_alert_on_average(settings_data_dir):
    folder = settings_data_dir / "alerts" / "lsst"
    counts: dict = {}
    messages = list(messages_from_paths([folder / "fink-v10-samples", folder / "real-v10"],
                                        "lsst", clone=4, counts=counts, mix="wide"))
    distinct = counts["alerts"] - counts["duplicate_alerts"]
    assert (counts["alerts"], counts["duplicate_alerts"]) == (52 + 7, 5)
    assert len(messages) == 4 * distinct
    for m in messages[:100]:
        raw = decode_packet(m.value, "lsst")
        assert m.dia_sources == len(raw.record["prvDiaSources"] or []) + 1
    assert max(m.dia_sources for m in messages) <= 392  # the sample's longest history
    assert sum(m.dia_sources for m in messages) < 0.2 * 4 * distinct * 392  # trimmed


def test_a_rubin_history_mix_is_refused_for_ztf(settings_data_dir):
    folder = settings_data_dir / "alerts" / "ztf" / "pittgoogle-ZTF21abiuvdk"
    with pytest.raises(ValueError, match="wide history mix shapes Rubin"):
        next(messages_from_paths([folder], "ztf", clone=2, mix="wide"))
