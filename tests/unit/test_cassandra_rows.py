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


def test_batches_keep_each_within_its_budget_and_send_a_lone_statement_bare():
    from cassandra.query import BatchStatement, SimpleStatement
    from solas.stores.cassandra import _batches

    statements = [(SimpleStatement(f"INSERT {i}"), size) for i, size in
                  enumerate([100, 100, 50, 300, 10])]
    batches = list(_batches(statements, 250))
    assert [len(b._statements_and_parameters) if isinstance(b, BatchStatement) else 1
            for b in batches] == [3, 1, 1]
    assert batches[1] is statements[3][0] and batches[2] is statements[4][0]


def test_only_a_busy_connection_on_every_host_means_wait_and_send_again():
    from cassandra import OperationTimedOut
    from cassandra.cluster import NoHostAvailable
    from cassandra.connection import ConnectionBusy
    from solas.stores.cassandra import _all_busy

    assert _all_busy(NoHostAvailable("x", {"h1": ConnectionBusy("busy"),
                                           "h2": ConnectionBusy("busy")}))
    assert not _all_busy(NoHostAvailable("x", {"h1": ConnectionBusy("busy"),
                                               "h2": OperationTimedOut("slow")}))
    assert not _all_busy(NoHostAvailable("x", {}))


def _prepared(types):
    from cassandra.protocol import ColumnMetadata
    from cassandra.query import PreparedStatement

    columns = [ColumnMetadata("ks", "t", f"c{i}", t) for i, t in enumerate(types)]
    return PreparedStatement(columns, b"id", [0], "INSERT ...", "ks", 4, None, None)


def test_bound_values_are_the_bytes_the_driver_binds_for_every_column_type():
    from cassandra import cqltypes
    from solas.stores.cassandra import Insert, bind_values, packers_of

    types = [cqltypes.LongType, cqltypes.DoubleType, cqltypes.FloatType, cqltypes.Int32Type,
             cqltypes.ShortType, cqltypes.ByteType, cqltypes.BooleanType, cqltypes.UTF8Type,
             cqltypes.BytesType]
    values = [2**62 + 3, float("nan"), -1.25, -7, 300, -5, True, "ZTF21abc", b"\x00FITS"]
    prepared = _prepared(types)
    ours = bind_values(Insert(prepared, packers_of(prepared)), values)
    theirs = prepared.bind(values)
    assert ours.values == theirs.values and ours.routing_key == theirs.routing_key
    assert ours.raw_values == values


def test_a_value_its_column_cannot_hold_gets_the_drivers_error_naming_the_column():
    import pytest
    from cassandra import cqltypes
    from solas.stores.cassandra import Insert, PERMANENT_WRITE_ERRORS, bind_values, packers_of

    prepared = _prepared([cqltypes.LongType, cqltypes.Int32Type])
    with pytest.raises(PERMANENT_WRITE_ERRORS, match='column "c1"'):
        bind_values(Insert(prepared, packers_of(prepared)), [1, 2**40])


def test_a_rows_size_is_its_values_and_a_per_cell_overhead():
    from cassandra import cqltypes
    from solas.stores.cassandra import (CELL_OVERHEAD_BYTES, Insert, bind_values, packers_of,
                                        row_bytes)

    prepared = _prepared([cqltypes.LongType, cqltypes.UTF8Type])
    bound = bind_values(Insert(prepared, packers_of(prepared)), [1, '{"rcid":12}'])
    assert row_bytes(bound) == 8 + 11 + 2 * CELL_OVERHEAD_BYTES
