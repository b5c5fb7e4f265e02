"""Consumer options for the survey's own Kafka: SASL, TLS, the group, no secret shown."""
import ssl

import pytest

from solas.settings import load_settings
from solas.upstream import consumer_options, tls_context, upstream_kafka


def rubin_like(tmp_path, **extra):
    secret = tmp_path / "password"
    secret.write_text("pw-123\n")
    settings = load_settings({"SOLAS_SURVEY": "lsst", "SOLAS_UPSTREAM_KAFKA": "k1:9094,k2:9094",
                              "SOLAS_UPSTREAM_TOPIC": "alerts-simulated",
                              "SOLAS_UPSTREAM_USERNAME": "solas",
                              "SOLAS_UPSTREAM_PASSWORD_FILE": str(secret), **extra})
    return upstream_kafka(settings, settings.upstream_password())


def test_rubin_style_options_authenticate_with_scram_over_tls(tmp_path):
    upstream = rubin_like(tmp_path)
    context = ssl.create_default_context()
    options = consumer_options(upstream, 16 * 2**20, context)
    assert options["security_protocol"] == "SASL_SSL"
    assert options["sasl_mechanism"] == "SCRAM-SHA-512"
    assert options["sasl_plain_username"] == "solas"
    assert options["sasl_plain_password"] == "pw-123"
    assert options["ssl_context"] is context
    assert options["group_id"] == "solas-solas" and options["enable_auto_commit"] is False
    assert options["max_partition_fetch_bytes"] == 16 * 2**20
    assert "pw-123" not in repr(upstream) and "pw-123" not in upstream.describe()
    assert "alerts-simulated on k1:9094,k2:9094" in upstream.describe()


def test_plaintext_needs_neither_sasl_nor_tls(tmp_path):
    settings = load_settings({"SOLAS_UPSTREAM_KAFKA": "127.0.0.1:9092",
                              "SOLAS_UPSTREAM_SECURITY_PROTOCOL": "PLAINTEXT"})
    upstream = upstream_kafka(settings, "")
    options = consumer_options(upstream, 1024)
    assert "sasl_mechanism" not in options and "ssl_context" not in options
    assert tls_context(upstream) is None


def test_a_ca_file_that_is_not_pem_is_a_clear_error(tmp_path):
    bad = tmp_path / "ca.pem"
    bad.write_text("not a certificate")
    upstream = rubin_like(tmp_path, SOLAS_UPSTREAM_CA_FILE=str(bad))
    with pytest.raises(ValueError, match="SOLAS_UPSTREAM_CA_FILE .*ca.pem"):
        tls_context(upstream)
