"""Throwaway MariaDB 10.11 server (Debian's ``mariadb-server``) under ``$SOLAS_HOME``.

The database and owner account of the settings are (re)declared by an init file on every
start (idempotent); ``solas db init`` makes the read-only account that runs user filters.
"""
from __future__ import annotations

import os
import shutil
import subprocess
from collections.abc import Sequence
from pathlib import Path

import pymysql

from solas.settings import SURVEYS, default_database
from solas.stack.base import Service
from solas.stack.process import StackError, find_tool, tail
from solas.stack.render import write_if_changed

PACKAGES = "mariadb-server"
#: Hosts every account is declared for (TCP loopback and the Unix socket).
HOSTS = ("127.0.0.1", "localhost")
#: Longest wait for ``mariadb-install-db``, seconds.
INSTALL_DB_TIMEOUT_S = 120
#: Seconds allowed to the readiness connection.
PROBE_TIMEOUT_S = 3


def _quote(text: str) -> str:
    """SQL string literal."""
    return "'" + text.replace("\\", "\\\\").replace("'", "''") + "'"


def _ident(name: str) -> str:
    """SQL identifier in backquotes."""
    return "`" + name.replace("`", "``") + "`"


def init_sql(database: str, user: str, password: str, others: Sequence[str] = ()) -> str:
    """Idempotent SQL creating *database* and its owner *user*, with the same grants on
    the databases *others* (the other surveys' defaults).  The owner may grant what it
    holds and create accounts: ``solas db init`` makes the read-only account with it
    (:func:`solas.stores.mariadb.init_readonly_account`)."""
    lines = [f"CREATE DATABASE IF NOT EXISTS {_ident(database)} CHARACTER SET utf8mb4;"]
    names = list(dict.fromkeys([database, *others]))
    for host in HOSTS:
        account = f"{_quote(user)}@{_quote(host)}"
        lines += [f"CREATE USER IF NOT EXISTS {account} IDENTIFIED BY {_quote(password)};",
                  f"ALTER USER {account} IDENTIFIED BY {_quote(password)};"]
        for db in names:
            # and the databases of further deployments or test runs: <database>_*
            lines += [f"GRANT ALL PRIVILEGES ON {_ident(name)}.* TO {account} WITH GRANT OPTION;"
                      for name in (db, db + "_%")]
        # the filter watchdog KILLs runaway read-only queries; db init makes that account
        lines.append(f"GRANT CONNECTION ADMIN, CREATE USER ON *.* TO {account};")
    return "\n".join(lines) + "\n"


class MariaDBService(Service):
    """MariaDB server on 127.0.0.1 with its socket in ``run/`` (data in ``data/mariadb``)."""

    name = "mariadb"
    ready_timeout_s = 60.0

    @property
    def ports(self) -> dict[str, int]:
        """The SQL port."""
        return {"sql": self.settings.mariadb["port"]}

    @property
    def socket_path(self) -> Path:
        """The server's Unix socket."""
        return self.home / "run" / "mariadb.sock"

    @property
    def init_file(self) -> Path:
        """Generated init SQL run by the server on each start."""
        return self.conf_dir / "init.sql"

    def install(self) -> None:
        """Check that the server binaries are installed."""
        find_tool("mariadbd", PACKAGES, self.path)
        find_tool("mariadb-install-db", PACKAGES, self.path)

    def prepare(self) -> None:
        """Write the init SQL, clear a stale socket and pid, create the datadir once."""
        db = self.settings.mariadb
        # every survey's default database: the stack may be started for either survey
        write_if_changed(self.init_file, init_sql(db["db"], db["user"], db["password"],
                                                  [default_database(s) for s in SURVEYS]))
        self.socket_path.parent.mkdir(parents=True, exist_ok=True)
        for stale in (self.socket_path, Path(f"{self.socket_path}.lock"),
                      self.data_dir / "mariadbd.pid"):
            stale.unlink(missing_ok=True)
        if not (self.data_dir / "mysql").is_dir():
            self._install_db()

    def _install_db(self) -> None:
        """Create the system tables in a sibling folder, then move it into place."""
        staging = self.data_dir.with_name(self.data_dir.name + ".init")
        shutil.rmtree(staging, ignore_errors=True)
        cmd = [find_tool("mariadb-install-db", PACKAGES, self.path), "--no-defaults",
               *self._user_option(), f"--datadir={staging}",
               "--auth-root-authentication-method=socket", "--skip-test-db"]
        self.log_file.parent.mkdir(parents=True, exist_ok=True)
        with open(self.log_file, "ab") as log:
            code = subprocess.run(cmd, stdout=log, stderr=subprocess.STDOUT,
                                  timeout=INSTALL_DB_TIMEOUT_S).returncode
        if code != 0:
            raise StackError(f"mariadb-install-db failed (exit {code}); see its log "
                             f"{self.log_file}, last lines:\n{tail(self.log_file)}")
        shutil.rmtree(self.data_dir, ignore_errors=True)
        staging.rename(self.data_dir)

    @staticmethod
    def _user_option() -> list[str]:
        """``--user=root`` when running as root (mariadbd refuses root otherwise)."""
        return ["--user=root"] if os.geteuid() == 0 else []

    def command(self) -> list[str]:
        """``mariadbd --no-defaults ...`` bound to 127.0.0.1."""
        return [find_tool("mariadbd", PACKAGES, self.path), "--no-defaults",
                *self._user_option(),
                f"--datadir={self.data_dir}", f"--socket={self.socket_path}",
                f"--pid-file={self.data_dir / 'mariadbd.pid'}",
                f"--port={self.ports['sql']}", "--bind-address=127.0.0.1",
                f"--init-file={self.init_file}", "--skip-log-bin", "--skip-name-resolve",
                "--character-set-server=utf8mb4", "--collation-server=utf8mb4_general_ci",
                "--max-allowed-packet=64M", "--innodb-flush-log-at-trx-commit=2"]

    def ready(self) -> bool:
        """True if ``SELECT 1`` answers over TCP as the Solas user.  The server is what is
        asked, not one database: a deployment's database may not exist yet (``solas db
        init`` creates it), and a server started for another one is ready all the same."""
        if not self._port_open("sql"):
            return False
        db = self.settings.mariadb
        try:
            conn = pymysql.connect(host="127.0.0.1", port=db["port"], user=db["user"],
                                   password=db["password"],
                                   connect_timeout=PROBE_TIMEOUT_S,
                                   read_timeout=PROBE_TIMEOUT_S)
        except pymysql.MySQLError:
            return False
        try:
            with conn.cursor() as cursor:
                cursor.execute("SELECT 1")
                return cursor.fetchone() == (1,)
        except pymysql.MySQLError:
            return False
        finally:
            conn.close()
