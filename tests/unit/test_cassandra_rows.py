"""Light-curve rows get their keys before they reach Cassandra."""
from solas.stores.cassandra import _with_keys


def test_object_id_is_set_and_old_key_spellings_are_used():
    point = {"midPointTai": 59000.5, "diaSourceId": 7, "psfFlux": 1.0}
    row = _with_keys(point, ("diaObjectId", "midpointMjdTai", "diaSourceId"), 42)
    assert row == {**point, "diaObjectId": 42, "midpointMjdTai": 59000.5}


def test_the_current_spelling_wins_and_missing_keys_stay_missing():
    point = {"midpointMjdTai": 1.0, "midPointTai": 2.0}
    assert _with_keys(point, ("diaObjectId", "midpointMjdTai"), 1)["midpointMjdTai"] == 1.0
    assert "band" not in _with_keys({}, ("diaObjectId", "band"), 1)


def test_written_points_forget_the_least_recently_seen_object():
    from solas.stores.cassandra import WrittenPoints
    written = WrittenPoints(max_objects=2)
    written.add("a", [("detections", (1.0, 1))])
    written.add("b", [("detections", (2.0, 2))])
    assert written.known("a") == {("detections", (1.0, 1))}  # "a" is now the most recent
    written.add("c", [])
    assert written.known("b") == set() and written.known("a") and written.known("c") == set()
