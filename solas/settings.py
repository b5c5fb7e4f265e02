"""Solas settings: the only module that reads the environment.

Every setting is typed, has a working default for the local stack started by
``solas stack up``, and a docstring.  Read them through :func:`get_settings`;
nothing else in Solas touches ``os.environ``.
"""
from __future__ import annotations

import os
from dataclasses import dataclass, field, fields, replace
from functools import lru_cache
from pathlib import Path
from urllib.parse import urlparse

SURVEYS = ("ztf", "lsst")


def _doc(text: str, default, env: str | None = None):
    """Declare a setting with its default, docstring and environment variable."""
    return field(default=default, metadata={"doc": text, "env": env})


@dataclass(frozen=True)
class Settings:
    """Typed settings for one Solas deployment (one survey per deployment)."""

    survey: str = _doc("Survey of this deployment: 'ztf' or 'lsst'.", "ztf", "SOLAS_SURVEY")
    home: Path = _doc(
        "State directory of the local stack (service data, logs, pids, jar cache).",
        Path(".solas"), "SOLAS_HOME")
    app_id: str = _doc("Faust application id (the consumer group of the workers).",
                       "solas", "SOLAS_APP_ID")
    raw_topic_name: str = _doc("Raw alert topic; empty means alerts-<survey>.", "",
                               "SOLAS_RAW_TOPIC")
    schema_registry: str = _doc(
        "URL of a Confluent schema registry for framed packets; empty: Rubin schemas from "
        "lsst-alert-packet.", "", "SOLAS_SCHEMA_REGISTRY")
    upstream_kafka: str = _doc(
        "Bootstrap servers of the survey's own Kafka (host:port[,host:port]) from which the "
        "ingest stage reads the alert stream, as the community brokers do; empty: the raw "
        "topic of this deployment's Kafka (SOLAS_KAFKA), as `solas replay` fills it.", "",
        "SOLAS_UPSTREAM_KAFKA")
    upstream_topic: str = _doc(
        "Alert topic on the upstream Kafka; empty: the raw topic name (alerts-<survey>).",
        "", "SOLAS_UPSTREAM_TOPIC")
    upstream_security_protocol: str = _doc(
        "Security protocol of the upstream Kafka: PLAINTEXT, SSL, SASL_PLAINTEXT or "
        "SASL_SSL (Rubin: SASL_SSL).", "SASL_SSL", "SOLAS_UPSTREAM_SECURITY_PROTOCOL")
    upstream_sasl_mechanism: str = _doc(
        "SASL mechanism of the upstream Kafka: SCRAM-SHA-512 (Rubin), SCRAM-SHA-256 or "
        "PLAIN.", "SCRAM-SHA-512", "SOLAS_UPSTREAM_SASL_MECHANISM")
    upstream_username: str = _doc("SASL user name the survey gave this broker.", "",
                                  "SOLAS_UPSTREAM_USERNAME")
    upstream_password_file: str = _doc(
        "File holding that user's SASL password (one line; the password itself is never "
        "an environment variable, never logged).", "", "SOLAS_UPSTREAM_PASSWORD_FILE")
    upstream_ca_file: str = _doc(
        "PEM file of the CA(s) that signed the upstream Kafka's TLS certificates; empty: "
        "the system's CAs.", "", "SOLAS_UPSTREAM_CA_FILE")
    upstream_group_id: str = _doc(
        "Consumer group of the ingest stage on the upstream Kafka (Rubin expects it to "
        "start with the user name); empty: <username>-<app id>, or <app id>-upstream "
        "without a user name.", "", "SOLAS_UPSTREAM_GROUP_ID")
    upstream_offset_reset: str = _doc(
        "Where a new upstream consumer group starts: 'earliest' (everything the survey "
        "still holds) or 'latest'.", "earliest", "SOLAS_UPSTREAM_OFFSET_RESET")
    lsst_schema_dir: str = _doc(
        "Folder of Rubin alert schemas newer than the installed lsst-alert-packet "
        "(lsst.vM_m.alert.avsc, with its sibling .avsc files if it refers to them); empty: "
        "none.  Confluent frames with id M*100+m decode with them when no registry is set, "
        "and their new fields become columns (run `solas db init`, restart the workers).",
        "", "SOLAS_LSST_SCHEMA_DIR")
    kafka: str = _doc("Kafka bootstrap servers, host:port[,host:port].",
                      "127.0.0.1:9092", "SOLAS_KAFKA")
    kafka_controller_port: int = _doc("Port of the local KRaft controller listener.",
                                      9093, "SOLAS_KAFKA_CONTROLLER_PORT")
    kafka_public: str = _doc(
        "Kafka's user-facing listener without credentials (host:port as users reach it): "
        "public filters' topics, for the PyPI lasair_consumer.  The local broker listens "
        "on its port (127.0.0.1).", "127.0.0.1:9094", "SOLAS_KAFKA_PUBLIC")
    kafka_users: str = _doc(
        "Kafka's user-facing SASL SCRAM listener (host:port as users reach it): each "
        "user's private filter topics, with the credentials of /api/kafka/.  The local "
        "broker listens on its port (127.0.0.1).", "127.0.0.1:9095", "SOLAS_KAFKA_USERS")
    kafka_users_security_protocol: str = _doc(
        "Security protocol of the SCRAM listener as users see it: SASL_PLAINTEXT (local "
        "stack) or SASL_SSL (a cluster's TLS external listener).", "SASL_PLAINTEXT",
        "SOLAS_KAFKA_USERS_SECURITY_PROTOCOL")
    kafka_users_sasl_mechanism: str = _doc(
        "SASL mechanism shown to users: SCRAM-SHA-512 or SCRAM-SHA-256 (the local broker "
        "takes both with the same password).", "SCRAM-SHA-512",
        "SOLAS_KAFKA_USERS_SASL_MECHANISM")
    mariadb_url: str = _doc(
        "MariaDB URL mysql://user[:password]@host:port/[database]; without a database, "
        "the survey's own (solas for ztf, solas_lsst for lsst: one survey per database).",
        "mysql://solas:solas@127.0.0.1:3307/", "SOLAS_MARIADB_URL")
    mariadb_admin_url: str = _doc(
        "MariaDB URL of the account `solas db init` creates the read-only account with "
        "(it needs CREATE USER and GRANT OPTION); empty: the account of SOLAS_MARIADB_URL "
        "(the local stack grants it both).", "", "SOLAS_MARIADB_ADMIN_URL")
    readonly_user: str = _doc(
        "MariaDB account that runs user filter SQL, SELECT on the filter tables only; "
        "empty: <database>_ro (one per database, so `solas db init` of one deployment "
        "never changes another's).", "", "SOLAS_MARIADB_READONLY_USER")
    readonly_password_file: str = _doc(
        "File holding the read-only account's password; empty: "
        "<home>/mariadb-readonly.password, made with a random password by `solas db init`.",
        "", "SOLAS_MARIADB_READONLY_PASSWORD_FILE")
    readonly_statement_time_s: float = _doc(
        "Longest statement of the read-only account, s (MariaDB MAX_STATEMENT_TIME on the "
        "account: a wall behind the per-query limits of the filter stage and the portal).",
        60.0, "SOLAS_MARIADB_READONLY_STATEMENT_TIME")
    cassandra_hosts: str = _doc("Comma-separated Cassandra contact points.",
                                "127.0.0.1", "SOLAS_CASSANDRA_HOSTS")
    cassandra_port: int = _doc("Cassandra native-protocol (CQL) port.", 9042,
                               "SOLAS_CASSANDRA_PORT")
    cassandra_storage_port: int = _doc("Cassandra inter-node storage port.", 7000,
                                       "SOLAS_CASSANDRA_STORAGE_PORT")
    cassandra_keyspace_name: str = _doc(
        "Cassandra keyspace of light curves and cutouts; empty means solas_<survey>.", "",
        "SOLAS_CASSANDRA_KEYSPACE")
    cutout_ttl_s: int = _doc("Time to live of stored cutouts, seconds (default 30 days).",
                             30 * 86400, "SOLAS_CUTOUT_TTL")
    written_cache_objects: int = _doc(
        "Objects whose stored light-curve points an ingest worker remembers, so the "
        "history each alert repeats is not rewritten (about 5 kB per object).", 20_000,
        "SOLAS_WRITTEN_CACHE_OBJECTS")
    sherlock_cache_objects: int = _doc(
        "Objects whose sky context a sherlock worker keeps (recomputed when the "
        "catalogues change).", 200_000, "SOLAS_SHERLOCK_CACHE_OBJECTS")
    sherlock_refresh_s: float = _doc(
        "How often a sherlock worker checks whether the catalogues or TNS changed, s.",
        60.0, "SOLAS_SHERLOCK_REFRESH")
    filter_refresh_s: float = _doc(
        "How often the filter stage re-reads the active filters from MariaDB, s.", 5.0,
        "SOLAS_FILTER_REFRESH")
    filter_time_limit_s: float = _doc("Longest run of one filter on one batch, s.", 10.0,
                                      "SOLAS_FILTER_TIME_LIMIT")
    filter_row_limit: int = _doc("Most rows one filter may return for one batch.", 10_000,
                                 "SOLAS_FILTER_ROW_LIMIT")
    filter_connections: int = _doc(
        "Read-only MariaDB connections per filter worker: filters run this many at once.",
        8, "SOLAS_FILTER_CONNECTIONS")
    filter_transaction_timeout_s: float = _doc(
        "Kafka transaction timeout of a filter worker, s: the broker aborts a batch's "
        "transaction left open this long, and another worker waits this long (plus the "
        "broker's clean-up interval) before resending a match such a transaction may have "
        "sent.", 60.0, "SOLAS_FILTER_TRANSACTION_TIMEOUT")
    features_min_rate_interval_s: float = _doc(
        "Shortest interval between two detections, s, that a rate (ZTF dmdt_g, dmdt_r "
        "and their errors, mag/day) is computed over; a closer pair gives NULL, not a "
        "huge rate from a near-zero interval (ZTF takes consecutive exposures about a "
        "minute apart).", 300.0, "SOLAS_FEATURES_MIN_RATE_INTERVAL")
    digest_interval_s: float = _doc("How often e-mail digests of matches are sent, s.",
                                    86400.0, "SOLAS_DIGEST_INTERVAL")
    digest_retry_s: float = _doc(
        "Wait before sending e-mail digests again after a failed send, s.", 300.0,
        "SOLAS_DIGEST_RETRY")
    ledger_horizon_s: float = _doc(
        "Replay horizon of the filter stage, s: entries of the filter_emitted ledger older "
        "than this are pruned.  At least the retention of the topics the filter stage "
        "reads (sherlocked and upstream: Kafka's default is 7 days), since an alert "
        "replayed from them must still find its entry.", 7 * 86400.0,
        "SOLAS_LEDGER_HORIZON")
    ledger_prune_interval_s: float = _doc("How often the filter_emitted ledger is pruned, s.",
                                          3600.0, "SOLAS_LEDGER_PRUNE_INTERVAL")
    housekeeping_poll_s: float = _doc(
        "How often each filter worker checks for due periodic tasks (digests, ledger "
        "pruning) and renews the leases it holds, s.", 30.0, "SOLAS_HOUSEKEEPING_POLL")
    housekeeping_lease_s: float = _doc(
        "Lease of a periodic task, s: another worker takes the task over this long after "
        "its holder stopped renewing it.", 300.0, "SOLAS_HOUSEKEEPING_LEASE")
    smtp_sender: str = _doc("From address of Solas e-mails.", "solas@localhost",
                            "SOLAS_SMTP_SENDER")
    prometheus_port: int = _doc("Port of the local Prometheus server.", 9090,
                                "SOLAS_PROMETHEUS_PORT")
    metrics_port: int = _doc(
        "First port on which workers serve /metrics (worker n uses metrics_port + n).",
        9150, "SOLAS_METRICS_PORT")
    metrics_bind: str = _doc(
        "Address the workers' and the portal's /metrics listen on (0.0.0.0 in a "
        "cluster, so Prometheus can scrape the pods).", "127.0.0.1", "SOLAS_METRICS_BIND")
    worker_id: int = _doc(
        "Index of this worker process on the host: offsets its ports and RocksDB dir.",
        0, "SOLAS_WORKER_ID")
    worker_web_port: int = _doc(
        "First port of the Faust workers' own web servers (worker n uses + n).", 6066,
        "SOLAS_WORKER_WEB_PORT")
    topic_namespace: str = _doc(
        "Prefix of every pipeline topic name (ingested, sherlocked, live, ...): lets "
        "several deployments or test runs share one Kafka cluster.", "",
        "SOLAS_TOPIC_NAMESPACE")
    topic_prefix: str = _doc("Prefix of per-filter output topics.", "solas_filter_",
                             "SOLAS_TOPIC_PREFIX")
    kafka_replication: int = _doc(
        "Replication factor of the topics Solas creates (3 on a production cluster).", 1,
        "SOLAS_KAFKA_REPLICATION")
    cassandra_dc: str = _doc("Cassandra data centre the workers write to (local DC).",
                             "datacenter1", "SOLAS_CASSANDRA_DC")
    cassandra_replication: str = _doc(
        "CQL replication map of the keyspace, e.g. {'class': 'NetworkTopologyStrategy', "
        "'dc1': 3} on a cluster.", "{'class': 'SimpleStrategy', 'replication_factor': 1}",
        "SOLAS_CASSANDRA_REPLICATION")
    topic_partitions: int = _doc("Partitions of the alert and ingested topics.", 4,
                                 "SOLAS_TOPIC_PARTITIONS")
    filter_topic_partitions: int = _doc(
        "Partitions of each filter's output topic. One keeps a filter's matches in order "
        "for its subscribers, and each filter-stage transaction then writes one commit "
        "marker per filter topic it touched instead of one per partition.", 1,
        "SOLAS_FILTER_TOPIC_PARTITIONS")
    smtp: str = _doc("SMTP server for email output, host:port.", "127.0.0.1:25",
                     "SOLAS_SMTP")
    batch_size: int = _doc("Alerts per agent batch (stream.take).", 500, "SOLAS_BATCH_SIZE")
    ingest_concurrency: int = _doc(
        "Concurrent ingest actors per worker: batches decode while others wait for "
        "Cassandra and Kafka. Two left the worker waiting with CPU to spare at 333 "
        "alerts/s.", 4, "SOLAS_INGEST_CONCURRENCY")
    gc_young_threshold: int = _doc(
        "Allocations between runs of Python's garbage collector on its youngest generation "
        "in a worker (Python's default is 700). A batch of alerts allocates millions of "
        "short-lived dicts; at 700 the collector took a fifth of the ingest worker's "
        "main thread.", 50_000, "SOLAS_GC_YOUNG_THRESHOLD")
    batch_timeout_s: float = _doc("Longest wait to fill a batch, seconds.", 1.0,
                                  "SOLAS_BATCH_TIMEOUT")
    consumer_fetch_min_bytes: int = _doc(
        "Bytes a worker's Kafka fetch waits for before the broker answers (faust asks for "
        "1: a fetch per few alerts cost a fifth of the ingest worker's CPU).", 512 * 1024,
        "SOLAS_CONSUMER_FETCH_MIN_BYTES")
    consumer_fetch_max_bytes: int = _doc(
        "Most bytes one Kafka fetch of a worker returns (a larger single message still "
        "comes whole): the response is buffered in Python before it is parsed, and "
        "buffering tens of MB of a backlog cost the ingest worker a fifth of its time.",
        4 * 1024 * 1024, "SOLAS_CONSUMER_FETCH_MAX_BYTES")
    consumer_fetch_max_wait_ms: int = _doc(
        "Longest wait of a worker's Kafka fetch for those bytes, ms: bounds the latency "
        "this adds to each stage when alerts are few.", 250, "SOLAS_CONSUMER_FETCH_MAX_WAIT_MS")
    max_message_bytes: int = _doc("Largest Kafka message (an alert with cutouts), bytes.",
                                  16 * 1024 * 1024, "SOLAS_MAX_MESSAGE_BYTES")
    web_port: int = _doc("Port of the portal, REST API and WebSocket feed.", 8080,
                         "SOLAS_WEB_PORT")
    web_secret_file: str = _doc(
        "File holding the portal's session/CSRF signing key; empty means "
        "<home>/web-secret.key, created with a random key on first start.", "",
        "SOLAS_WEB_SECRET_FILE")
    web_public_url: str = _doc("URL of the portal as users reach it (links in e-mails).",
                               "http://127.0.0.1:8080", "SOLAS_WEB_PUBLIC_URL")
    data_dir: Path = _doc("Folder of the shared real sample data.",
                          Path(__file__).resolve().parent.parent.parent / "shared" / "data",
                          "SOLAS_DATA")
    # Limits against hostile users (issue 32).
    web_metrics_port: int = _doc(
        "Port on which the portal serves /metrics for Prometheus (on metrics_bind); the "
        "public web port does not serve them.", 9149, "SOLAS_WEB_METRICS_PORT")
    result_max_bytes: int = _doc(
        "Most bytes of values one portal or API query may return (rows are streamed and "
        "counted; past it the query is stopped with an error naming this cap).",
        100 * 2**20, "SOLAS_RESULT_MAX_BYTES")

    @property
    def raw_topic(self) -> str:
        """Topic receiving raw Avro alerts for this survey."""
        return self.raw_topic_name or f"alerts-{self.survey}"

    @property
    def upstream_topic_name(self) -> str:
        """Alert topic the ingest stage reads on the upstream Kafka."""
        return self.upstream_topic or self.raw_topic

    @property
    def upstream_group(self) -> str:
        """Consumer group of the ingest stage on the upstream Kafka."""
        if self.upstream_group_id:
            return self.upstream_group_id
        if self.upstream_username:
            return f"{self.upstream_username}-{self.app_id}"
        return f"{self.app_id}-upstream"

    def upstream_password(self) -> str:
        """The upstream SASL password, read from :attr:`upstream_password_file` now
        (empty when no file is set); see :func:`read_secret`."""
        if not self.upstream_password_file:
            return ""
        return read_secret(self.upstream_password_file, "SOLAS_UPSTREAM_PASSWORD_FILE")

    @property
    def cassandra_keyspace(self) -> str:
        """Keyspace of light curves and cutouts (one per survey by default)."""
        return self.cassandra_keyspace_name or f"solas_{self.survey}"

    @property
    def logs_dir(self) -> Path:
        """Folder of per-service log files."""
        return self.home / "logs"

    @property
    def worker_dir(self) -> Path:
        """State of this worker process (faust's RocksDB tables, the sky cache): per
        application id, so a deployment or bench with another id never meets state whose
        changelog offsets belong to other topics."""
        return self.home / "workers" / self.app_id / str(self.worker_id)

    @property
    def mariadb(self) -> dict:
        """Connection keywords parsed from :attr:`mariadb_url` (the database: its path,
        else :func:`default_database` of the survey)."""
        url = urlparse(self.mariadb_url)
        return {"host": url.hostname or "127.0.0.1", "port": url.port or 3306,
                "user": url.username or "root", "password": url.password or "",
                "db": url.path.strip("/") or default_database(self.survey)}

    def with_database(self, database: str) -> Settings:
        """These settings on the MariaDB database ``database`` of the same server."""
        url = urlparse(self.mariadb_url)
        return replace(self, mariadb_url=url._replace(path=f"/{database}").geturl())

    @property
    def readonly_account(self) -> str:
        """User name of the read-only account (:attr:`readonly_user` or <database>_ro)."""
        return self.readonly_user or f"{self.mariadb['db']}_ro"

    @property
    def readonly_password_path(self) -> Path:
        """File of the read-only account's password."""
        return Path(self.readonly_password_file) if self.readonly_password_file else (
            self.home / "mariadb-readonly.password")

    @property
    def cassandra_contact_points(self) -> list[str]:
        """Cassandra hosts as a list."""
        return [h.strip() for h in self.cassandra_hosts.split(",") if h.strip()]


class SecretError(ValueError):
    """A secret file that cannot be used; the message names the file, never its text."""


def read_secret(path: str, setting: str) -> str:
    """The secret in the file ``path`` (named by setting ``setting``): its text without
    the trailing newline.  A missing, unreadable or empty file is a :class:`SecretError`
    naming the setting and the file; the secret itself is never in a message."""
    try:
        text = Path(path).read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        reason = exc.strerror if isinstance(exc, OSError) and exc.strerror else "not UTF-8 text"
        raise SecretError(f"{setting}: cannot read the secret file {path}: {reason}") from None
    secret = text.rstrip("\r\n")
    if not secret:
        raise SecretError(f"{setting}: the secret file {path} is empty")
    return secret


UPSTREAM_PROTOCOLS = ("PLAINTEXT", "SSL", "SASL_PLAINTEXT", "SASL_SSL")
UPSTREAM_MECHANISMS = ("SCRAM-SHA-512", "SCRAM-SHA-256", "PLAIN")


def _check_kafka_users(settings: Settings) -> None:
    """Clear errors for user-facing Kafka settings that cannot work."""
    if settings.kafka_users_security_protocol not in ("SASL_PLAINTEXT", "SASL_SSL"):
        raise ValueError("SOLAS_KAFKA_USERS_SECURITY_PROTOCOL must be SASL_PLAINTEXT or "
                         f"SASL_SSL, not {settings.kafka_users_security_protocol!r}")
    if settings.kafka_users_sasl_mechanism not in ("SCRAM-SHA-512", "SCRAM-SHA-256"):
        raise ValueError("SOLAS_KAFKA_USERS_SASL_MECHANISM must be SCRAM-SHA-512 or "
                         f"SCRAM-SHA-256, not {settings.kafka_users_sasl_mechanism!r}")


def _check_upstream(settings: Settings) -> None:
    """Clear errors for upstream Kafka settings that cannot work."""
    if settings.upstream_security_protocol not in UPSTREAM_PROTOCOLS:
        raise ValueError(f"SOLAS_UPSTREAM_SECURITY_PROTOCOL must be one of "
                         f"{UPSTREAM_PROTOCOLS}, not {settings.upstream_security_protocol!r}")
    if settings.upstream_sasl_mechanism not in UPSTREAM_MECHANISMS:
        raise ValueError(f"SOLAS_UPSTREAM_SASL_MECHANISM must be one of "
                         f"{UPSTREAM_MECHANISMS}, not {settings.upstream_sasl_mechanism!r}")
    if settings.upstream_offset_reset not in ("earliest", "latest"):
        raise ValueError("SOLAS_UPSTREAM_OFFSET_RESET must be 'earliest' or 'latest', not "
                         f"{settings.upstream_offset_reset!r}")
    sasl = settings.upstream_security_protocol.startswith("SASL_")
    if settings.upstream_kafka and sasl and not (settings.upstream_username
                                                 and settings.upstream_password_file):
        raise ValueError(f"SOLAS_UPSTREAM_KAFKA uses {settings.upstream_security_protocol}: "
                         "set SOLAS_UPSTREAM_USERNAME and SOLAS_UPSTREAM_PASSWORD_FILE")


def default_database(survey: str) -> str:
    """The MariaDB database of a survey when the URL names none: ``solas`` for ZTF (the
    database ZTF deployments have always used) and ``solas_<survey>`` for the others, so
    a Rubin deployment on the same server never meets the ZTF schema."""
    return "solas" if survey == "ztf" else f"solas_{survey}"


def _convert(kind, raw: str):
    if kind in (int, "int"):
        return int(raw)
    if kind in (float, "float"):
        return float(raw)
    if kind in (Path, "Path"):
        return Path(raw)
    return raw


def load_settings(environ: dict | None = None) -> Settings:
    """Build settings from an environment mapping (default ``os.environ``)."""
    environ = os.environ if environ is None else environ
    values = {}
    for f in fields(Settings):
        env = f.metadata.get("env")
        if env and environ.get(env, "") != "":
            values[f.name] = _convert(f.type, environ[env])
    settings = Settings(**values)
    if settings.survey not in SURVEYS:
        raise ValueError(f"SOLAS_SURVEY must be one of {SURVEYS}, not {settings.survey!r}")
    _check_upstream(settings)
    _check_kafka_users(settings)
    interval = settings.features_min_rate_interval_s
    if not (interval >= 0 and interval != float("inf")):
        raise ValueError("SOLAS_FEATURES_MIN_RATE_INTERVAL must be a number of seconds "
                         f">= 0, not {interval!r}")
    return settings


@lru_cache(maxsize=1)
def get_settings() -> Settings:
    """The process-wide settings, read once from the environment."""
    return load_settings()
