"""The upstream reader's pure parts: packets, offsets to commit, error kinds."""
import ssl

from aiokafka import TopicPartition
from aiokafka.errors import (
    KafkaConnectionError,
    SaslAuthenticationFailed,
    TopicAuthorizationFailedError,
)
from aiokafka.structs import ConsumerRecord

from solas.processors.upstream import (
    UpstreamError,
    error_kind,
    next_offsets,
    packets_of,
)
from solas.upstream import UpstreamKafka


def record(partition, offset, value=b"avro"):
    return ConsumerRecord("alerts", partition, offset, 1700000000123, 0, b"k", value, None,
                          1, len(value), [])


def test_packets_keep_value_key_timestamp_and_origin():
    [packet] = packets_of([record(2, 41)])
    assert packet == (b"avro", b"k", 1700000000123, "alerts/2/41")


def test_the_offsets_committed_follow_the_last_record_of_each_partition():
    batches = {TopicPartition("alerts", 0): [record(0, 5), record(0, 6)],
               TopicPartition("alerts", 1): [record(1, 0)],
               TopicPartition("alerts", 2): []}
    assert next_offsets(batches).offsets == {TopicPartition("alerts", 0): 7,
                                             TopicPartition("alerts", 1): 1}


def test_errors_are_named_by_what_failed():
    assert error_kind(SaslAuthenticationFailed("bad")) == "authentication"
    assert error_kind(TopicAuthorizationFailedError()) == "authorization"
    assert error_kind(ssl.SSLCertVerificationError("self signed")) == "tls"
    assert error_kind(ConnectionRefusedError()) == "unreachable"
    assert error_kind(KafkaConnectionError("x")) == "kafka"


def test_an_upstream_error_names_cluster_user_and_cause_but_not_the_password():
    upstream = UpstreamKafka("k:9096", "alerts-lsst", "solas-g", "SASL_SSL", "SCRAM-SHA-512",
                             "solas", "", "earliest", "pw-123")
    error = UpstreamError(upstream, "authentication", "SaslAuthenticationFailed: bad")
    assert str(error) == ("upstream Kafka topic alerts-lsst on k:9096 [SASL_SSL as solas "
                          "(SCRAM-SHA-512), group solas-g]: authentication failed (user name or "
                          "password): "
                          "SaslAuthenticationFailed: bad")
    assert "pw-123" not in str(error)


def test_a_missing_password_file_is_waited_for_not_fatal(tmp_path, monkeypatch):
    import asyncio

    from solas import metrics
    from solas.processors import upstream
    from solas.settings import load_settings

    settings = load_settings({"SOLAS_UPSTREAM_KAFKA": "127.0.0.1:9",
                              "SOLAS_UPSTREAM_USERNAME": "u",
                              "SOLAS_UPSTREAM_PASSWORD_FILE": str(tmp_path / "later")})
    monkeypatch.setattr(upstream, "CONFIG_RETRY_S", 0.05)
    before = metrics.UPSTREAM_ERRORS.labels("configuration")._value.get()

    async def arrive_later():
        task = asyncio.ensure_future(upstream.configured_upstream(settings))
        await asyncio.sleep(0.12)
        assert not task.done()
        (tmp_path / "later").write_text("pw\n")
        return await asyncio.wait_for(task, 2)

    assert asyncio.run(arrive_later()).password == "pw"
    assert metrics.UPSTREAM_ERRORS.labels("configuration")._value.get() - before >= 2
