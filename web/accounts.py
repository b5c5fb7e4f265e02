"""Accounts: users, their class and admin role, sessions' user lookup and API tokens.

:func:`add_user` is the blocking entry point of ``solas users add``; the portal uses the
async functions on its pool.
"""
from __future__ import annotations

import datetime
import re
from typing import NamedTuple

import aiomysql

from solas.settings import Settings
from solas.stores.mariadb import connect
from web import db
from web.config import USER_CLASSES
from web.security import (TOKEN_DIGEST_CHARS, ApiTokens, check_password,
                          check_password_strength, hash_password, token_digest)

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
    # an unknown name costs one scrypt too (check_password): no timing oracle
    if not check_password(password, row["password_hash"] if row else None) or row is None:
        return None
    return _user(row)


async def user_by_token(pool: aiomysql.Pool, token: str) -> User | None:
    """The owner of an API token, or None (tokens are looked up by their digest)."""
    if not re.fullmatch(r"[0-9a-fA-F]{16,64}", token or ""):
        return None
    return _user(await db.fetch_one(
        pool, f"SELECT {USER_COLUMNS} FROM api_tokens JOIN users ON users.id = "
              "api_tokens.user WHERE token=%s", (token_digest(token),)))


async def hash_clear_tokens(pool: aiomysql.Pool) -> int:
    """Replace tokens stored in clear (before digests) by their digests; idempotent.
    Returns how many were replaced: their owners keep using them, and see them as
    hidden on their profile."""
    rows, _ = await db.execute(
        pool, "UPDATE api_tokens SET token = SHA2(LOWER(token), 256) "
              f"WHERE CHAR_LENGTH(token) <> {TOKEN_DIGEST_CHARS}")
    return int(rows)


async def tokens_of(pool: aiomysql.Pool, keys: ApiTokens, user_id: int) -> list[dict]:
    """The API tokens of a user, newest first: ``id`` (the digest, to revoke it),
    ``created``, and ``token`` (None for a token made before digests: not shown)."""
    rows = await db.fetch_all(pool, "SELECT token AS id, created FROM api_tokens "
                                    "WHERE user=%s ORDER BY created DESC", (user_id,))
    for row in rows:
        token = keys.derive(user_id, row["created"])
        row["token"] = token if token_digest(token) == row["id"] else None
    return rows


async def create_token(pool: aiomysql.Pool, keys: ApiTokens, user_id: int) -> str:
    """A new API token for the user (only its digest is stored)."""
    for _ in range(5):  # two in the same microsecond: the key repeats, try again
        created = datetime.datetime.now(datetime.timezone.utc).replace(tzinfo=None)
        token = keys.derive(user_id, created)
        rows, _ = await db.execute(
            pool, "INSERT IGNORE INTO api_tokens (token, user, created) VALUES (%s, %s, %s)",
            (token_digest(token), user_id, created))
        if rows == 1:
            return token
    raise RuntimeError("could not create an API token")


async def first_token(pool: aiomysql.Pool, keys: ApiTokens, user_id: int) -> str:
    """The user's oldest token that can be shown, created if there is none
    (``/api/auth-token/``: the same token each time)."""
    shown = [t["token"] for t in await tokens_of(pool, keys, user_id) if t["token"]]
    return shown[-1] if shown else await create_token(pool, keys, user_id)


async def delete_token(pool: aiomysql.Pool, user_id: int, token_id: str) -> bool:
    """Revoke one of the user's tokens, given by its id (digest) or the token itself;
    False if it is not theirs."""
    rows, _ = await db.execute(
        pool, "DELETE FROM api_tokens WHERE user=%s AND token IN (%s, %s)",
        (user_id, token_id, token_digest(token_id)))
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
