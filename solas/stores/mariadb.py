"""MariaDB store: connections, the schema of the queryable database and its read-only
account."""
from __future__ import annotations

import dataclasses
import secrets

import pymysql

from solas.filters.scope import filter_tables
from solas.schema.columns import mariadb_add_columns, mariadb_create
from solas.schema.tables import mariadb_tables
from solas.secret_files import ensure_secret_file
from solas.settings import Settings


def connect(settings: Settings, database: bool = True) -> pymysql.connections.Connection:
    """A blocking autocommit connection (for the CLI and schema work)."""
    params = settings.mariadb
    return pymysql.connect(host=params["host"], port=params["port"], user=params["user"],
                           password=params["password"],
                           database=params["db"] if database else None,
                           autocommit=True, charset="utf8mb4", connect_timeout=10)


def init_schema(settings: Settings) -> list[str]:
    """Create or upgrade every table of the configured survey; returns the DDL run.

    Idempotent: existing tables are kept and only missing columns are added."""
    run: list[str] = []
    db = settings.mariadb["db"]
    with connect(settings, database=False) as conn, conn.cursor() as cur:
        cur.execute(f"CREATE DATABASE IF NOT EXISTS `{db}` CHARACTER SET utf8mb4")
        cur.execute(f"USE `{db}`")
        for spec in mariadb_tables(settings.survey):
            cur.execute("SELECT COLUMN_NAME FROM information_schema.COLUMNS "
                        "WHERE TABLE_SCHEMA=%s AND TABLE_NAME=%s", (db, spec.name))
            existing = {row[0] for row in cur.fetchall()}
            statements = mariadb_add_columns(spec, existing) if existing else [
                mariadb_create(spec)]
            for statement in statements:
                cur.execute(statement)
                run.append(statement)
    return run


def upsert_sql(table: str, columns: list[str], newer: str | None = None) -> str:
    """A multi-row ``INSERT ... ON DUPLICATE KEY UPDATE`` for ``columns`` (pymysql
    ``executemany`` expands the VALUES row).

    With ``newer`` (a time column), a stored row is only overwritten by a row whose
    ``newer`` value is at least the stored one: an alert older than an object's stored
    state never overwrites it.  ``newer`` is assigned last, because MariaDB applies the
    assignments left to right and the guard must compare with the old value."""
    names = ", ".join(f"`{c}`" for c in columns)
    marks = ", ".join(["%s"] * len(columns))
    if newer is None:
        updates = [f"`{c}`=VALUES(`{c}`)" for c in columns]
    else:
        guard = f"(`{newer}` IS NULL OR VALUES(`{newer}`) >= `{newer}`)"
        ordered = [c for c in columns if c != newer] + [newer]
        updates = [f"`{c}`=IF({guard}, VALUES(`{c}`), `{c}`)" for c in ordered]
    return (f"INSERT INTO `{table}` ({names}) VALUES ({marks}) "
            f"ON DUPLICATE KEY UPDATE {', '.join(updates)}")


async def open_pool(settings: Settings, user: str | None = None, password: str | None = None,
                    maxsize: int = 4):
    """An aiomysql pool with autocommit on (a pooled connection otherwise keeps a stale
    snapshot forever)."""
    import aiomysql

    params = settings.mariadb
    return await aiomysql.create_pool(
        host=params["host"], port=params["port"], user=user or params["user"],
        password=params["password"] if password is None else password, db=params["db"],
        autocommit=True, charset="utf8mb4", minsize=1, maxsize=maxsize, connect_timeout=10)


def readonly_password(settings: Settings, create: bool = False) -> str:
    """The read-only account's password, from its file; with ``create``, a missing file is
    made first (a random password, mode 0600).  Never logged."""
    path = settings.readonly_password_path
    if create:
        ensure_secret_file(path, lambda: secrets.token_urlsafe(24))
    try:
        password = path.read_text().strip()
    except FileNotFoundError:
        raise FileNotFoundError(
            f"{path}: no password file of the read-only MariaDB account "
            f"{settings.readonly_account}; run `solas db init` (or set "
            f"SOLAS_MARIADB_READONLY_PASSWORD_FILE)") from None
    if not password:
        raise ValueError(f"{path}: the read-only account's password file is empty")
    return password


def readonly_credentials(settings: Settings) -> tuple[str, str]:
    """(user, password) of the read-only account that runs user filter SQL."""
    return settings.readonly_account, readonly_password(settings)


def readonly_account_sql(database: str, user: str, tables: list[str], statement_time_s: float
                         ) -> list[str]:
    """The statements (pymysql templates: the password is the one parameter of the
    first two) that make ``user`` the read-only account of ``database``: SELECT on
    ``tables`` alone, every statement limited to ``statement_time_s``.  The account is
    declared on host ``%`` and any narrower one is dropped (it would be chosen first);
    everything it held is revoked before the grants (it is this database's alone)."""
    account = _account(user, "%")
    seconds = max(1, round(statement_time_s))
    return [f"CREATE USER IF NOT EXISTS {account} IDENTIFIED BY %s",
            f"ALTER USER {account} IDENTIFIED BY %s WITH MAX_STATEMENT_TIME {seconds}",
            f"DROP USER IF EXISTS {_account(user, '127.0.0.1')}, {_account(user, 'localhost')}",
            f"REVOKE ALL PRIVILEGES, GRANT OPTION FROM {account}",
            *(f"GRANT SELECT ON `{database}`.`{table}` TO {account}" for table in tables)]


def _account(user: str, host: str) -> str:
    """'user'@'host' as SQL (the names escaped; ``%`` doubled for pymysql templates)."""
    def literal(text: str) -> str:
        return "'" + text.replace("\\", "\\\\").replace("'", "''").replace("%", "%%") + "'"
    return f"{literal(user)}@{literal(host)}"


def init_readonly_account(settings: Settings) -> list[str]:
    """Create or update the read-only account (:func:`readonly_account_sql`) with the
    admin account (``mariadb_admin_url``, else the owner); returns the statements run,
    without the password."""
    database = settings.mariadb["db"]
    admin = settings
    if settings.mariadb_admin_url:
        admin = dataclasses.replace(settings, mariadb_url=settings.mariadb_admin_url
                                    ).with_database(database)
    password = readonly_password(settings, create=True)
    statements = readonly_account_sql(database, settings.readonly_account,
                                      filter_tables(settings.survey),
                                      settings.readonly_statement_time_s)
    with connect(admin) as conn, conn.cursor() as cur:
        for statement in statements:
            try:
                cur.execute(statement, (password,) if "%s" in statement else ())
            except pymysql.err.OperationalError as exc:
                if exc.args and exc.args[0] in ACCOUNT_DENIED:
                    raise PermissionError(
                        f"MariaDB account {admin.mariadb['user']} may not create the "
                        f"read-only account ({exc.args[1]}): set SOLAS_MARIADB_ADMIN_URL "
                        "to an account with CREATE USER and GRANT OPTION, or restart a "
                        "local stack started by an older Solas (`solas stack down`, then "
                        "`solas stack up` grants them)") from None
                raise
    return statements


#: MariaDB errors of an account lacking CREATE USER or GRANT OPTION.
ACCOUNT_DENIED = frozenset({1044, 1045, 1142, 1227, 1410})
