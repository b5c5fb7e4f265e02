"""The read-only account is real (issue 24, item 3): ``solas db init`` makes it with the
settings' credentials, SELECT on the tables a filter may name and nothing else, and an
account-level statement time limit, so a hand-written query past the SQL vetter still
cannot read ``users`` or run long."""
from __future__ import annotations

import dataclasses
import time

import pymysql
import pytest

from solas.db import init_all
from solas.filters.scope import filter_tables
from solas.stores import mariadb
from tests.integration.conftest import empty_database

pytestmark = pytest.mark.integration
DENIED = 1142  # ER_TABLEACCESS_DENIED_ERROR
FORBIDDEN = ("users", "api_tokens", "filters", "filter_emitted", "email_queue",
             "watchlists", "watchlist_cones", "annotators")


@pytest.fixture(scope="module")
def deployment(stack, isolate):
    """A ZTF deployment on a fresh database, its read-only statements limited to 2 s."""
    settings = dataclasses.replace(empty_database(isolate(stack, "ztf", "readonly")),
                                   readonly_statement_time_s=2.0)
    init_all(settings)
    return settings


def connect_readonly(settings) -> pymysql.connections.Connection:
    user, password = mariadb.readonly_credentials(settings)
    params = settings.mariadb
    return pymysql.connect(host=params["host"], port=params["port"], user=user,
                           password=password, database=params["db"], autocommit=True)


@pytest.mark.parametrize("table", FORBIDDEN)
def test_the_filter_account_cannot_read_the_private_tables(deployment, table):
    with connect_readonly(deployment) as conn, conn.cursor() as cursor:
        with pytest.raises(pymysql.err.OperationalError) as caught:
            cursor.execute(f"SELECT * FROM {table}")  # no vetter in the way
        assert caught.value.args[0] == DENIED
        with pytest.raises(pymysql.err.OperationalError) as caught:  # nor through a join
            cursor.execute(f"SELECT objects.objectId FROM objects JOIN {table} ON 1=1")
        assert caught.value.args[0] == DENIED


def test_the_filter_account_reads_the_filter_tables_and_writes_nothing(deployment):
    with connect_readonly(deployment) as conn, conn.cursor() as cursor:
        for table in filter_tables("ztf"):
            cursor.execute(f"SELECT COUNT(*) FROM {table}")
        with pytest.raises(pymysql.err.OperationalError) as caught:
            cursor.execute("INSERT INTO objects (objectId) VALUES ('ZTF00hand')")
        assert caught.value.args[0] == DENIED
        cursor.execute("SHOW GRANTS")
        grants = " ".join(row[0] for row in cursor.fetchall())
    assert "MAX_STATEMENT_TIME 2" in grants and "`users`" not in grants
    assert f"ON `{deployment.mariadb['db']}`.*" not in grants  # no database-wide grant


def test_the_filter_account_cannot_read_another_deployments_database(deployment, isolate):
    other = empty_database(isolate(deployment, "ztf", "readonly_other"))
    init_all(other)
    with connect_readonly(deployment) as conn, conn.cursor() as cursor:
        with pytest.raises(pymysql.err.OperationalError) as caught:
            cursor.execute(f"SELECT * FROM `{other.mariadb['db']}`.objects")
        assert caught.value.args[0] == DENIED


def test_every_statement_of_the_account_is_time_limited(deployment):
    with connect_readonly(deployment) as conn, conn.cursor() as cursor:
        cursor.execute("SELECT @@max_statement_time")
        assert float(cursor.fetchone()[0]) == 2.0
        start = time.perf_counter()
        try:
            cursor.execute("SELECT SLEEP(20)")
        except pymysql.err.OperationalError as exc:  # max_statement_time exceeded
            assert exc.args[0] == 1969
        assert time.perf_counter() - start < 6


def test_db_init_again_keeps_the_account_and_its_password(deployment):
    before = mariadb.readonly_credentials(deployment)
    init_all(deployment)
    assert mariadb.readonly_credentials(deployment) == before
    with connect_readonly(deployment) as conn, conn.cursor() as cursor:
        cursor.execute("SELECT COUNT(*) FROM objects")


def test_an_admin_that_may_not_create_accounts_gets_a_clear_error(deployment):
    user, password = mariadb.readonly_credentials(deployment)
    params = deployment.mariadb
    admin = dataclasses.replace(
        deployment, mariadb_admin_url=f"mysql://{user}:{password}@{params['host']}:"
                                      f"{params['port']}/")
    with pytest.raises(PermissionError, match=f"account {user} may not create the read-only "
                                              "account.*SOLAS_MARIADB_ADMIN_URL"):
        mariadb.init_readonly_account(admin)
