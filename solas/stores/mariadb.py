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
