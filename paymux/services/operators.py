"""Console operators: accounts, argon2id passwords, lock-out, and console sessions.

Hashing is deliberately slow (that is its job), so it never runs inside a
transaction: on SQLite that would stall the single writer for every request.
Sign-in is therefore three steps — read the operator, verify the password in a
worker thread, then one short write that either opens a session or counts the
failure. The success write is a compare-and-set on "not locked", so a correct
guess that raced past the lock-out check is refused all the same.

The session cookie carries a random token; the table keeps only its SHA-256,
together with the session's CSRF token, its idle and absolute expiry.
"""

from __future__ import annotations

import hashlib
import re
import secrets
from dataclasses import dataclass
from datetime import datetime, timedelta
from enum import StrEnum
from functools import cache
from typing import Any

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError
from sqlalchemy import delete, insert, or_, select, update
from sqlalchemy.exc import IntegrityError

from paymux.core.errors import ErrorCode, PaymuxError
from paymux.store import tables as t
from paymux.store.uow import UnitOfWork

OP, SES = t.operators.c, t.console_sessions.c

# Lock-out: this many failures in a row lock the account for LOCK_S seconds.
MAX_FAILURES = 5
LOCK_S = 15 * 60
# A session ends after IDLE_S without a request, and after SESSION_S in any case.
IDLE_S = 30 * 60
SESSION_S = 8 * 3600
# last_seen_at is written at most this often, so reading pages costs no writes.
TOUCH_S = 60
MIN_PASSWORD = 10
USERNAME_RE = re.compile(r"^[A-Za-z0-9_.@-]{3,64}$")

_hasher = PasswordHasher()  # argon2id with the library's current recommended parameters


@cache
def _dummy_hash() -> str:
    """Verified against for unknown usernames, so a miss costs as long as a wrong password."""
    return _hasher.hash(secrets.token_urlsafe(16))


class Role(StrEnum):
    ADMIN = "admin"  # everything
    VIEWER = "viewer"  # read-only


@dataclass(frozen=True, slots=True)
class Operator:
    id: int
    username: str
    role: str
    status: str
    failed_logins: int
    locked_until: datetime | None
    last_login_at: datetime | None
    created_at: datetime

    @property
    def is_admin(self) -> bool:
        return self.role == Role.ADMIN


@dataclass(frozen=True, slots=True)
class Session:
    """A signed-in operator as a request sees it; `token` only right after sign-in."""

    operator: Operator
    csrf_token: str
    token: str = ""


@dataclass(frozen=True, slots=True)
class Candidate:
    """What sign-in reads before verifying the password outside any transaction."""

    operator_id: int | None
    password_hash: str
    locked_until: datetime | None
    active: bool


_OPERATOR_COLUMNS = [
    OP.id,
    OP.username,
    OP.role,
    OP.status,
    OP.failed_logins,
    OP.locked_until,
    OP.last_login_at,
    OP.created_at,
]


def _operator(row: Any) -> Operator:
    return Operator(**{k: row._mapping[k] for k in Operator.__slots__})


def token_hash(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def hash_password(password: str) -> str:
    """The argon2id hash of a new password, after the length check (call outside a transaction)."""
    if len(password) < MIN_PASSWORD or len(password) > 1024:
        raise PaymuxError(
            ErrorCode.INVALID_PARAMS,
            f"the password must be {MIN_PASSWORD} to 1024 characters",
            field="password",
        )
    return _hasher.hash(password)


def verify_password(password_hash: str, password: str) -> bool:
    """Constant-time argon2 verification; any malformed hash is simply a mismatch."""
    try:
        return _hasher.verify(password_hash, password)
    except (VerificationError, InvalidHashError):
        return False


def create_operator(uow: UnitOfWork, username: str, password_hash: str, role: str) -> Operator:
    """A new operator; the password arrives already hashed (see `hash_password`)."""
    if not USERNAME_RE.match(username):
        raise PaymuxError(
            ErrorCode.INVALID_PARAMS,
            "username must be 3..64 letters, digits or _ . @ -",
            field="username",
        )
    if role not in Role.__members__.values():
        raise PaymuxError(ErrorCode.INVALID_PARAMS, "role must be admin or viewer", field="role")
    try:
        with uow.conn.begin_nested():
            uow.conn.execute(
                insert(t.operators).values(
                    username=username,
                    password_hash=password_hash,
                    role=role,
                    status="active",
                    failed_logins=0,
                    created_at=uow.env.clock.now(),
                )
            )
    except IntegrityError:
        raise PaymuxError(
            ErrorCode.INVALID_PARAMS, f"operator {username} already exists", field="username"
        ) from None
    return get_operator(uow, username)


def get_operator(uow: UnitOfWork, username: str) -> Operator:
    row = uow.conn.execute(select(*_OPERATOR_COLUMNS).where(OP.username == username)).first()
    if row is None:
        raise PaymuxError(ErrorCode.NOT_FOUND, f"no operator {username}")
    return _operator(row)


def list_operators(uow: UnitOfWork) -> list[Operator]:
    rows = uow.conn.execute(select(*_OPERATOR_COLUMNS).order_by(OP.username)).all()
    return [_operator(r) for r in rows]


def unlock_operator(uow: UnitOfWork, username: str) -> Operator:
    """Clear a lock-out before it runs out (the CLI, for an admin who locked themselves out)."""
    get_operator(uow, username)
    uow.conn.execute(
        update(t.operators)
        .where(OP.username == username)
        .values(failed_logins=0, locked_until=None)
    )
    return get_operator(uow, username)


# -- sign-in --------------------------------------------------------------------------------------


def sign_in_candidate(uow: UnitOfWork, username: str) -> Candidate:
    """Step one of sign-in (a read): the hash to verify, or a dummy one for unknown names."""
    row = uow.conn.execute(
        select(OP.id, OP.password_hash, OP.locked_until, OP.status).where(OP.username == username)
    ).first()
    if row is None:
        return Candidate(None, _dummy_hash(), None, False)
    return Candidate(row.id, row.password_hash, row.locked_until, row.status == "active")


def is_locked(candidate: Candidate, now: datetime) -> bool:
    return candidate.locked_until is not None and candidate.locked_until > now


def record_failure(uow: UnitOfWork, operator_id: int) -> bool:
    """Count a failed password; returns whether the account is locked now.

    The counter is incremented in SQL, so concurrent guesses each count.
    """
    now = uow.env.clock.now()
    uow.conn.execute(
        update(t.operators).where(OP.id == operator_id).values(failed_logins=OP.failed_logins + 1)
    )
    locked = uow.conn.execute(
        update(t.operators)
        .where(
            OP.id == operator_id,
            OP.failed_logins >= MAX_FAILURES,
            or_(OP.locked_until.is_(None), OP.locked_until <= now),
        )
        .values(locked_until=now + timedelta(seconds=LOCK_S), failed_logins=0)
    ).rowcount
    return locked == 1


def open_session(uow: UnitOfWork, operator_id: int, ip: str, new_hash: str | None) -> Session:
    """Step three of a good password: reset the failure count and start a session.

    Refused (UNAUTHORIZED) if the account got locked or disabled meanwhile.
    `new_hash` replaces the stored hash when the hashing parameters were raised.
    """
    now = uow.env.clock.now()
    values: dict[str, Any] = {"failed_logins": 0, "locked_until": None, "last_login_at": now}
    if new_hash:
        values["password_hash"] = new_hash
    changed = uow.conn.execute(
        update(t.operators)
        .where(
            OP.id == operator_id,
            OP.status == "active",
            or_(OP.locked_until.is_(None), OP.locked_until <= now),
        )
        .values(**values)
    ).rowcount
    if changed != 1:
        raise PaymuxError(ErrorCode.UNAUTHORIZED, "the account is locked or disabled")
    token, csrf = secrets.token_urlsafe(32), secrets.token_urlsafe(32)
    uow.conn.execute(
        insert(t.console_sessions).values(
            token_hash=token_hash(token),
            operator_id=operator_id,
            csrf_token=csrf,
            ip=ip[:64],
            created_at=now,
            last_seen_at=now,
            expires_at=now + timedelta(seconds=SESSION_S),
        )
    )
    # Expired sessions of this operator go when a new one starts: the table stays small.
    uow.conn.execute(
        delete(t.console_sessions).where(
            SES.operator_id == operator_id,
            or_(SES.expires_at <= now, SES.last_seen_at <= now - timedelta(seconds=IDLE_S)),
        )
    )
    operator = uow.conn.execute(select(*_OPERATOR_COLUMNS).where(OP.id == operator_id)).one()
    return Session(_operator(operator), csrf, token)


def needs_rehash(password_hash: str) -> bool:
    return _hasher.check_needs_rehash(password_hash)


# -- sessions -------------------------------------------------------------------------------------


def _live_session(uow: UnitOfWork, token: str) -> tuple[Session, datetime] | None:
    now = uow.env.clock.now()
    row = uow.conn.execute(
        select(*_OPERATOR_COLUMNS, SES.csrf_token, SES.last_seen_at)
        .select_from(t.console_sessions.join(t.operators, SES.operator_id == OP.id))
        .where(
            SES.token_hash == token_hash(token),
            SES.expires_at > now,
            SES.last_seen_at > now - timedelta(seconds=IDLE_S),
            OP.status == "active",
        )
    ).first()
    if row is None:
        return None
    return Session(_operator(row), row.csrf_token), row.last_seen_at


def session_for(uow: UnitOfWork, token: str) -> tuple[Session | None, bool]:
    """The session of a cookie token (a read), and whether its idle clock needs a touch."""
    found = _live_session(uow, token)
    if found is None:
        return None, False
    session, last_seen = found
    stale = last_seen <= uow.env.clock.now() - timedelta(seconds=TOUCH_S)
    return session, stale


def touch_session(uow: UnitOfWork, token: str) -> None:
    uow.conn.execute(
        update(t.console_sessions)
        .where(SES.token_hash == token_hash(token))
        .values(last_seen_at=uow.env.clock.now())
    )


def end_session(uow: UnitOfWork, token: str) -> None:
    uow.conn.execute(delete(t.console_sessions).where(SES.token_hash == token_hash(token)))
