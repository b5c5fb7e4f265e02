"""The statements that make the read-only account: SELECT on the filter tables alone,
an account-level statement time limit, nothing it held before kept."""
import pytest

from solas.filters.scope import FILTER_TABLES, filter_tables
from solas.settings import load_settings
from solas.stores.mariadb import readonly_account_sql, readonly_password


def test_only_the_tables_a_filter_can_name_are_granted():
    assert filter_tables("ztf") == ["objects", "sherlock_classifications", "crossmatch_tns",
                                    "watchlist_hits", "area_hits", "annotations"]
    assert filter_tables("lsst")[-2:] == ["ss_objects", "ss_sources"]
    for private in ("users", "api_tokens", "filters", "filter_emitted", "email_queue",
                    "filter_quota", "watchlists", "watchlist_cones", "annotators"):
        assert private not in FILTER_TABLES


def test_the_account_statements():
    sql = readonly_account_sql("solas_lsst", "solas_lsst_ro", ["objects", "ss_objects"], 59.6)
    assert sql == [
        "CREATE USER IF NOT EXISTS 'solas_lsst_ro'@'%%' IDENTIFIED BY %s",
        "ALTER USER 'solas_lsst_ro'@'%%' IDENTIFIED BY %s WITH MAX_STATEMENT_TIME 60",
        "DROP USER IF EXISTS 'solas_lsst_ro'@'127.0.0.1', 'solas_lsst_ro'@'localhost'",
        "REVOKE ALL PRIVILEGES, GRANT OPTION FROM 'solas_lsst_ro'@'%%'",
        "GRANT SELECT ON `solas_lsst`.`objects` TO 'solas_lsst_ro'@'%%'",
        "GRANT SELECT ON `solas_lsst`.`ss_objects` TO 'solas_lsst_ro'@'%%'"]


def test_a_quote_in_the_user_name_stays_inside_its_literal():
    sql = readonly_account_sql("db", "o'neil", ["objects"], 10)
    assert sql[0] == "CREATE USER IF NOT EXISTS 'o''neil'@'%%' IDENTIFIED BY %s"


def test_the_account_is_per_database_unless_named():
    assert load_settings({}).readonly_account == "solas_ro"
    assert load_settings({"SOLAS_SURVEY": "lsst"}).readonly_account == "solas_lsst_ro"
    assert load_settings({"SOLAS_MARIADB_READONLY_USER": "filters"}).readonly_account == "filters"


def test_the_password_file_is_made_once_and_kept(tmp_path):
    settings = load_settings({"SOLAS_HOME": str(tmp_path)})
    first = readonly_password(settings, create=True)
    assert len(first) >= 24 and readonly_password(settings, create=True) == first
    path = tmp_path / "mariadb-readonly.password"
    assert oct(path.stat().st_mode & 0o777) == "0o600"


def test_a_missing_password_file_says_to_run_db_init(tmp_path):
    settings = load_settings({"SOLAS_HOME": str(tmp_path)})
    with pytest.raises(FileNotFoundError, match="solas_ro; run `solas db init`"):
        readonly_password(settings)
