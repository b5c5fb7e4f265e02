"""Which MariaDB errors mean "the server is away" (retry the batch) and which are the
filter's own (recorded for its owner)."""
import pymysql
import pytest

from solas.processors.filters import is_connection_error


@pytest.mark.parametrize("exc", [
    pymysql.err.OperationalError(2003, "Can't connect to MySQL server on '127.0.0.1'"),
    pymysql.err.OperationalError(2013, "Lost connection to MySQL server during query"),
    pymysql.err.OperationalError(2006, "MySQL server has gone away"),
    pymysql.err.OperationalError(1927, "Connection was killed"),
    pymysql.err.OperationalError(1053, "Server shutdown in progress"),
    pymysql.err.InterfaceError(0, ""),
    ConnectionRefusedError(111, "Connection refused"),
    ConnectionResetError(104, "Connection reset by peer"),
])
def test_the_server_being_away_is_retried(exc):
    assert is_connection_error(exc)


@pytest.mark.parametrize("exc", [
    pymysql.err.OperationalError(1969, "Query execution was interrupted (max_statement_time "
                                       "exceeded)"),
    pymysql.err.OperationalError(1317, "Query execution was interrupted"),
    pymysql.err.ProgrammingError(1064, "You have an error in your SQL syntax"),
    pymysql.err.OperationalError(1054, "Unknown column 'objects.nothing' in 'where clause'"),
    pymysql.err.OperationalError(),
    ValueError("bad value"),
])
def test_the_filters_own_errors_are_not(exc):
    assert not is_connection_error(exc)
