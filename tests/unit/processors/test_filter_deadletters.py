"""The dead letters of the filter stage: each refused alert's own record, with the stage,
step, reason and origin in its headers."""
import pymysql
from aiokafka import TopicPartition

from solas.processors.filter import Record, dead_letter, origin_of, refused_letters
from solas.processors.retry import PermanentFailure, Refused
from solas.stores.faults import classify_fault


def record(offset: int) -> Record:
    return Record(f"ZTF{offset}".encode(), b'{"objectId": "ZTF%d"}' % offset, {},
                  TopicPartition("sherlocked", 2), offset)


def test_a_dead_letter_keeps_the_record_and_says_why_and_where_from():
    message = dead_letter("alerts-deadletter", record(7), "filter", "store", "DataError: x")
    assert (message.topic, message.key, message.value) == (
        "alerts-deadletter", b"ZTF7", b'{"objectId": "ZTF7"}')
    assert dict(message.headers) == {
        "solas-stage": b"filter", "solas-step": b"store", "solas-reason": b"DataError: x",
        "solas-origin": b"sherlocked/2/7"}


def test_refused_positions_map_back_to_their_records():
    records = [record(i) for i in range(10, 15)]
    origins = [origin_of(r) for r in records if r.offset != 11]  # 11 was not an alert
    error = pymysql.err.DataError(1406, "Data too long for column 'tns_name' at row 1")
    failure = PermanentFailure("filter", "store", classify_fault(error), error)
    letters = refused_letters("dl", records, origins, [Refused([0, 2], failure)], "filter")
    assert [m.key for m in letters] == [b"ZTF10", b"ZTF13"]
    assert all(dict(m.headers)["solas-reason"].startswith(b"DataError (1406)")
               for m in letters)
