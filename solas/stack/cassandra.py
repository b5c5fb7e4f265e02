"""Cassandra 5.0 single node from Maven jars, on JDK 17."""
from __future__ import annotations

from pathlib import Path

from cassandra import DriverException, OperationTimedOut
from cassandra.cluster import EXEC_PROFILE_DEFAULT, Cluster, ExecutionProfile, NoHostAvailable
from cassandra.policies import DCAwareRoundRobinPolicy

from solas.stack.jvm import JvmService
from solas.stack.render import render_yaml, write_if_changed

#: Module exports/opens of upstream ``conf/jvm17-server.options`` (Cassandra 5.0).
JDK17_OPTIONS = (
    "-Djdk.attach.allowAttachSelf=true",
    *(f"--add-exports={m}=ALL-UNNAMED" for m in (
        "java.base/jdk.internal.misc", "java.management.rmi/com.sun.jmx.remote.internal.rmi",
        "java.rmi/sun.rmi.registry", "java.rmi/sun.rmi.server", "java.sql/java.sql",
        "java.base/java.lang.ref", "jdk.unsupported/sun.misc", "jdk.attach/sun.tools.attach")),
    *(f"--add-opens={m}=ALL-UNNAMED" for m in (
        "java.base/java.lang.module", "java.base/jdk.internal.loader",
        "java.base/jdk.internal.ref", "java.base/jdk.internal.reflect",
        "java.base/jdk.internal.math", "java.base/jdk.internal.module",
        "java.base/jdk.internal.util.jar", "jdk.management/com.sun.management.internal",
        "java.base/sun.nio.ch", "java.base/java.io", "java.base/java.lang.reflect",
        "java.base/java.lang", "java.base/java.util")),
    "-Dio.netty.tryReflectionSetAccessible=true",
    "-Dio.netty.allocator.useCacheForAllThreads=true",
    "-Dio.netty.allocator.maxOrder=11",
)
#: Single-node development speed-ups: no gossip settling, short ring delay, system
#: keyspace writes without fsync.
DEV_OPTIONS = (
    "-Dcassandra.skip_wait_for_gossip_to_settle=0",
    "-Dcassandra.ring_delay_ms=100",
    "-Dcassandra.unsafesystem=true",
)
LOGBACK = """\
<configuration scan="false">
  <appender name="STDOUT" class="ch.qos.logback.core.ConsoleAppender">
    <encoder><pattern>%-5level [%thread] %date{ISO8601} %logger{0} - %msg%n</pattern></encoder>
  </appender>
  <root level="INFO"><appender-ref ref="STDOUT"/></root>
</configuration>
"""
#: Seconds allowed to each step of the CQL readiness probe.
PROBE_TIMEOUT_S = 3.0


class CassandraService(JvmService):
    """Cassandra node on 127.0.0.1 (data in ``data/cassandra``)."""

    name = "cassandra"
    heap_min = "2g"
    heap = "2g"
    ready_timeout_s = 180.0
    stop_timeout_s = 60.0

    @property
    def ports(self) -> dict[str, int]:
        """Native-protocol (CQL) and inter-node storage ports."""
        return {"native": self.settings.cassandra_port,
                "storage": self.settings.cassandra_storage_port}

    @property
    def tables_dir(self) -> Path:
        """The node's ``data_file_directories``: ``<keyspace>/<table>-<id>/`` below."""
        return self.data_dir / "data"

    @property
    def yaml_file(self) -> Path:
        """Generated ``cassandra.yaml``."""
        return self.conf_dir / "cassandra.yaml"

    def cassandra_yaml(self) -> dict[str, object]:
        """The node configuration derived from the settings."""
        data = self.data_dir
        return {
            "cluster_name": "Solas",
            "num_tokens": 1,
            "partitioner": "org.apache.cassandra.dht.Murmur3Partitioner",
            "commitlog_sync": "periodic",
            "commitlog_sync_period": "10000ms",
            "seed_provider": [{
                "class_name": "org.apache.cassandra.locator.SimpleSeedProvider",
                "parameters": [{"seeds": f"127.0.0.1:{self.ports['storage']}"}]}],
            "listen_address": "127.0.0.1",
            "rpc_address": "127.0.0.1",
            "storage_port": self.ports["storage"],
            "native_transport_port": self.ports["native"],
            "start_native_transport": True,
            "endpoint_snitch": "SimpleSnitch",
            "storage_compatibility_mode": "NONE",
            "data_file_directories": [str(self.tables_dir)],
            "commitlog_directory": str(data / "commitlog"),
            "saved_caches_directory": str(data / "saved_caches"),
            "hints_directory": str(data / "hints"),
            "cdc_raw_directory": str(data / "cdc_raw"),
            # Alerts bring tens of MB/s of light curves and cutouts: large off-heap trie
            # memtables flush less often, so far less CPU goes to flushing and compaction.
            "memtable": {"configurations": {"trie": {"class_name": "TrieMemtable"},
                                            "default": {"inherits": "trie"}}},
            "memtable_allocation_type": "offheap_objects",
            "memtable_heap_space": "512MiB",
            "memtable_offheap_space": "2048MiB",
            # Dropping or truncating a table snapshots it first (the bench drops its own
            # keyspace on every run, and removes that snapshot itself): such snapshots are
            # deleted after a day, not kept forever.
            "auto_snapshot": True,
            "auto_snapshot_ttl": "1d",
            # One object's light curve (up to ~2,000 Rubin points) is one unlogged batch.
            "batch_size_warn_threshold": "512KiB",
            "batch_size_fail_threshold": "16MiB",
            # The ingest batches many partitions that share replicas into one unlogged
            # batch (one request instead of one per partition): expected, not a warning.
            "unlogged_batch_across_partitions_warn_threshold": 100000,
        }

    def prepare(self) -> None:
        """Write ``cassandra.yaml`` and ``logback.xml``."""
        self.data_dir.mkdir(parents=True, exist_ok=True)
        write_if_changed(self.yaml_file, render_yaml(self.cassandra_yaml()))
        write_if_changed(self.conf_dir / "logback.xml", LOGBACK)

    def command(self) -> list[str]:
        """``java ... org.apache.cassandra.service.CassandraDaemon`` in the foreground."""
        jamm = sorted(self.jars_dir.glob("jamm-*.jar"))
        options = (
            "-XX:+UseG1GC", "-XX:+ParallelRefProcEnabled", "-XX:MaxGCPauseMillis=300",
            "-XX:+ExitOnOutOfMemoryError",
            "-Djava.net.preferIPv4Stack=true", *JDK17_OPTIONS, *DEV_OPTIONS,
            *(f"-javaagent:{jar}" for jar in jamm[-1:]),
            f"-Dcassandra.config=file://{self.yaml_file}",
            "-Dcassandra-foreground=yes",
            f"-Dcassandra.storagedir={self.data_dir}",
            f"-Dcassandra.logdir={self.log_file.parent}",
            f"-Dlogback.configurationFile={self.conf_dir / 'logback.xml'}",
        )
        return self.java_command("org.apache.cassandra.service.CassandraDaemon",
                                 jvm_options=options)

    def ready(self) -> bool:
        """True if ``SELECT release_version FROM system.local`` answers over CQL."""
        if not self._port_open("native"):
            return False
        profile = ExecutionProfile(
            load_balancing_policy=DCAwareRoundRobinPolicy(local_dc="datacenter1"),
            request_timeout=PROBE_TIMEOUT_S)
        cluster = Cluster(["127.0.0.1"], port=self.ports["native"], protocol_version=5,
                          connect_timeout=PROBE_TIMEOUT_S,
                          control_connection_timeout=PROBE_TIMEOUT_S,
                          execution_profiles={EXEC_PROFILE_DEFAULT: profile})
        try:
            row = cluster.connect().execute("SELECT release_version FROM system.local").one()
            return bool(row and row.release_version)
        except (NoHostAvailable, OperationTimedOut, DriverException, OSError):
            return False
        finally:
            cluster.shutdown()
