"""MariaDB store: connections and the schema of the queryable database."""
from __future__ import annotations

import pymysql

from solas.schema.columns import mariadb_add_columns, mariadb_create
from solas.schema.tables import mariadb_tables
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
