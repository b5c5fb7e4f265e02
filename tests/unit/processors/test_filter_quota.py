"""The per-filter daily byte quota shared by every worker: what other workers (and
earlier batches) sent today counts, what the batch sends is added in one statement."""
import datetime as dt

from solas.processors.filter import QuotaBook, outgoing, quota_filters, usage_sql
from tests.unit.processors.test_filter_outgoing import parsed_for, run

DAY = dt.date(2026, 3, 1)
ROWS = [(f"ZTF21a{i:05d}", f"ZTF21a{i:05d}", i) for i in range(10)]


def sent_to_topic(out) -> list[bytes]:
    return [m.value for m in out.kafka if m.topic == "solas_filter_7"]


def test_bytes_sent_today_by_other_workers_count_against_the_quota():
    parsed = parsed_for(*(r[0] for r in ROWS))
    alone = sent_to_topic(outgoing([run(2, ROWS, quota=1000)], parsed, QuotaBook(DAY), "live"))
    size = len(alone[0])
    assert len(alone) == 10 and 10 * size <= 1000
    book = QuotaBook(DAY, {7: 1000 - 3 * size})
    out = outgoing([run(2, ROWS, quota=1000)], parsed, book, "live")
    assert len(sent_to_topic(out)) == 3
    assert sum(1 for m in out.kafka if m.topic == "live") == 10  # the live feed is not capped
    assert book.usage_rows() == [(7, DAY, 3 * size)]


def test_a_filter_at_its_quota_sends_nothing_and_adds_no_usage():
    book = QuotaBook(DAY, {7: 300})
    out = outgoing([run(2, ROWS, quota=300)], parsed_for(*(r[0] for r in ROWS)), book, "live")
    assert sent_to_topic(out) == [] and book.usage_rows() == []


def test_usage_of_filters_without_quota_is_recorded_too():
    book = QuotaBook(DAY, {7: 10 ** 9})
    out = outgoing([run(2, ROWS[:2])], parsed_for(*(r[0] for r in ROWS[:2])), book, "live")
    assert book.usage_rows() == [(7, DAY, sum(map(len, sent_to_topic(out))))]


def test_usage_is_read_only_for_matching_filters_with_a_quota_on_a_topic():
    runs = [run(2, ROWS, quota=100, fid=1), run(2, [], quota=100, fid=2),
            run(2, ROWS, fid=3), run(1, ROWS, quota=100, fid=4), run(3, ROWS, quota=5, fid=5)]
    assert quota_filters(runs) == [1, 5]


def test_the_batch_usage_is_one_multi_row_upsert():
    sql = usage_sql(3)
    assert sql.count("(%s, %s, %s)") == 3 and sql.startswith("INSERT INTO filter_quota")
    assert sql.endswith("ON DUPLICATE KEY UPDATE bytes = bytes + VALUES(bytes)")
