"""Accounts: users, their class and admin role, sessions' user lookup and API tokens.

:func:`add_user` is the blocking entry point of ``solas users add``; the portal uses the
async functions on its pool.
"""
from __future__ import annotations

import re
from typing import NamedTuple

import aiomysql

from solas.settings import Settings
from solas.stores.mariadb import connect
from web import db
from web.config import USER_CLASSES
from web.security import (check_password_strength, hash_password, new_api_token,
                          verify_password)

USERNAME = re.compile(r"[A-Za-z0-9_.\-]{3,64}")
EMAIL = re.compile(r"[^@\s]{1,128}@[^@\s]{1,126}")


class AccountError(ValueError):
    """An account that cannot be created (bad name, e-mail, class or password, or
    a name already taken)."""


class User(NamedTuple):
    """A logged-in or token-authenticated user."""

    id: int
    username: str
    email: str | None
    user_class: str
    is_admin: bool


def check_account(name: str, email: str, password: str, user_class: str) -> None:
    """Raise AccountError naming the first unacceptable field."""
    if not isinstance(name, str) or not USERNAME.fullmatch(name):
        raise AccountError("the user name must be 3-64 letters, digits, '_', '.' or '-'")
    if not isinstance(email, str) or not EMAIL.fullmatch(email):
        raise AccountError(f"{email!r} is not an e-mail address")
    if user_class not in USER_CLASSES:
        raise AccountError(f"the user class must be one of {', '.join(USER_CLASSES)}")
    try:
        check_password_strength(password)
    except ValueError as err:
        raise AccountError(str(err)) from None


INSERT_USER = ("INSERT INTO users (username, email, password_hash, user_class, is_admin) "
               "SELECT %s, %s, %s, %s, %s FROM DUAL WHERE NOT EXISTS "
               "(SELECT 1 FROM users WHERE username = %s)")


def add_user(settings: Settings, name: str, email: str, password: str,
             user_class: str = "user", admin: bool = False) -> int:
    """Create an account (blocking; for ``solas users add``); returns its id.

    Raises AccountError for a bad field or a name already taken."""
    check_account(name, email, password, user_class)
    args = (name, email, hash_password(password), user_class, bool(admin), name)
    with connect(settings) as conn, conn.cursor() as cur:
        cur.execute(INSERT_USER, args)
        if cur.rowcount != 1:
            raise AccountError(f"the user name {name!r} is taken")
        return int(cur.lastrowid)


async def create_user(pool: aiomysql.Pool, name: str, email: str, password: str,
                      user_class: str = "user", admin: bool = False) -> int:
    """Create an account; returns its id (AccountError as :func:`add_user`)."""
    check_account(name, email, password, user_class)
    rows, user_id = await db.execute(pool, INSERT_USER, (
        name, email, hash_password(password), user_class, bool(admin), name))
    if rows != 1:
        raise AccountError(f"the user name {name!r} is taken")
    return int(user_id)


def _user(row: dict | None) -> User | None:
    if row is None:
        return None
    return User(int(row["id"]), row["username"], row["email"],
                row["user_class"] if row["user_class"] in USER_CLASSES else "user",
                bool(row["is_admin"]))


USER_COLUMNS = "users.id, username, email, user_class, is_admin"


async def user_by_id(pool: aiomysql.Pool, user_id: int) -> User | None:
    """The user with this id, or None."""
    return _user(await db.fetch_one(pool, f"SELECT {USER_COLUMNS} FROM users WHERE id=%s",
                                    (int(user_id),)))


async def user_by_name(pool: aiomysql.Pool, name: str) -> User | None:
    """The user with this name, or None."""
    return _user(await db.fetch_one(
        pool, f"SELECT {USER_COLUMNS} FROM users WHERE username=%s", (name,)))


async def authenticate(pool: aiomysql.Pool, name: str, password: str) -> User | None:
    """The user if name and password match, else None."""
    row = await db.fetch_one(pool, f"SELECT {USER_COLUMNS}, password_hash FROM users "
                                   "WHERE username=%s", (name,))
    if row is None or not verify_password(password, row["password_hash"]):
        return None
    return _user(row)


async def user_by_token(pool: aiomysql.Pool, token: str) -> User | None:
    """The owner of an API token, or None."""
    if not re.fullmatch(r"[0-9a-fA-F]{16,64}", token or ""):
        return None
    return _user(await db.fetch_one(
        pool, f"SELECT {USER_COLUMNS} FROM api_tokens JOIN users ON users.id = "
              "api_tokens.user WHERE token=%s", (token.lower(),)))


async def tokens_of(pool: aiomysql.Pool, user_id: int) -> list[dict]:
    """The API tokens of a user, newest first."""
    return await db.fetch_all(pool, "SELECT token, created FROM api_tokens WHERE user=%s "
                                    "ORDER BY created DESC", (user_id,))


async def create_token(pool: aiomysql.Pool, user_id: int) -> str:
    """A new API token for the user."""
    token = new_api_token()
    await db.execute(pool, "INSERT INTO api_tokens (token, user) VALUES (%s, %s)",
                     (token, user_id))
    return token


async def first_token(pool: aiomysql.Pool, user_id: int) -> str:
    """The user's oldest token, created if there is none (``/api/auth-token/``)."""
    row = await db.fetch_one(pool, "SELECT token FROM api_tokens WHERE user=%s "
                                   "ORDER BY created LIMIT 1", (user_id,))
    return row["token"] if row else await create_token(pool, user_id)


async def delete_token(pool: aiomysql.Pool, user_id: int, token: str) -> bool:
    """Revoke one of the user's tokens; False if it is not theirs."""
    rows, _ = await db.execute(pool, "DELETE FROM api_tokens WHERE user=%s AND token=%s",
                               (user_id, token))
    return rows == 1


async def set_class(pool: aiomysql.Pool, user_id: int, user_class: str,
                    admin: bool | None = None) -> None:
    """Change a user's class (and admin role); admins only."""
    if user_class not in USER_CLASSES:
        raise AccountError(f"the user class must be one of {', '.join(USER_CLASSES)}")
    await db.execute(pool, "UPDATE users SET user_class=%s WHERE id=%s", (user_class, user_id))
    if admin is not None:
        await db.execute(pool, "UPDATE users SET is_admin=%s WHERE id=%s", (admin, user_id))


__all__ = ["AccountError", "User", "add_user", "authenticate", "create_token",
           "create_user", "delete_token", "first_token", "tokens_of", "user_by_id",
           "user_by_name", "user_by_token"]
