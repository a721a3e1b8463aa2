"""Partner OAuth: user consent, auth codes, session keys, openids, and wallet sign-ins.

A user's consent to a partner is an *authorization* row carrying the user's
`openid` for that partner; the row survives revocation, so the openid stays
stable per (user, partner) for ever and differs between partners. Codes and
session keys are random tokens kept only as SHA-256 hashes (a leaked table
hands out nothing usable). "Use once" and "invalidate" are compare-and-sets,
so two racing exchanges of one code, or two racing refreshes of one key,
produce exactly one new session.
"""

from __future__ import annotations

import secrets
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import delete, insert, select, update

from paymux.core.errors import ErrorCode, PaymuxError
from paymux.services.merchants import get_merchant
from paymux.services.users import token_hash, user_by_token
from paymux.store import tables as t
from paymux.store.engine import one_statement
from paymux.store.sql import insert_ignore
from paymux.store.uow import UnitOfWork

AUT, COD, SES, WS = (
    t.oauth_authorizations.c,
    t.oauth_codes.c,
    t.oauth_sessions.c,
    t.wallet_sessions.c,
)

CODE_TTL_S = 300  # spec 3.1 / 12.1: five minutes, single use
SESSION_TTL_S = 7200  # spec 3.2 / 5.2: two hours
WALLET_SESSION_TTL_S = 12 * 3600
# The cookie the wallet pages set and endpoint 3.1 also accepts as the user's proof of login.
WALLET_COOKIE = "paymux_wallet"


@dataclass(frozen=True, slots=True)
class Authorization:
    id: int
    merchant_id: str
    merchant_name: str
    user_id: str
    openid: str
    status: str
    bound_at: datetime


@dataclass(frozen=True, slots=True)
class SessionKey:
    session_key: str
    expires_in: int


@dataclass(frozen=True, slots=True)
class UserInfo:
    openid: str
    nickname: str
    bound_at: datetime


@dataclass(frozen=True, slots=True)
class WalletUser:
    user_id: str
    name: str
    csrf_token: str


@dataclass(frozen=True, slots=True)
class WalletSignIn:
    token: str
    user: WalletUser


def _invalid(message: str) -> PaymuxError:
    return PaymuxError(ErrorCode.SESSION_INVALID, message)


# -- consent -------------------------------------------------------------------------------------


def authorize(uow: UnitOfWork, user_id: str, merchant_id: str) -> Authorization:
    """Record the user's consent to the partner; an earlier, revoked one revives with its openid."""
    if not get_merchant(uow, merchant_id).active:
        raise PaymuxError(ErrorCode.MERCHANT_DISABLED, "the partner is disabled")
    now = uow.env.clock.now()
    inserted = insert_ignore(
        uow.conn,
        t.oauth_authorizations,
        {
            "merchant_id": merchant_id,
            "user_id": user_id,
            "openid": "oid_" + secrets.token_urlsafe(18),
            "status": "active",
            "bound_at": now,
            "revoked_at": None,
            "created_at": now,
        },
    )
    if not inserted:
        uow.conn.execute(
            update(t.oauth_authorizations)
            .where(AUT.merchant_id == merchant_id, AUT.user_id == user_id, AUT.status == "revoked")
            .values(status="active", bound_at=now, revoked_at=None)
        )
    return _authorization(uow, merchant_id, user_id)


def _authorization(uow: UnitOfWork, merchant_id: str, user_id: str) -> Authorization:
    row = uow.conn.execute(
        select(t.oauth_authorizations, t.merchants.c.name.label("merchant_name"))
        .join(t.merchants, t.merchants.c.id == AUT.merchant_id)
        .where(AUT.merchant_id == merchant_id, AUT.user_id == user_id)
    ).one()
    return _to_authorization(row)


def _to_authorization(row: Any) -> Authorization:
    return Authorization(**{name: getattr(row, name) for name in Authorization.__slots__})


def list_authorizations(uow: UnitOfWork, user_id: str) -> list[Authorization]:
    """The partners the user currently authorizes (the wallet's "authorized apps" page)."""
    rows = uow.conn.execute(
        select(t.oauth_authorizations, t.merchants.c.name.label("merchant_name"))
        .join(t.merchants, t.merchants.c.id == AUT.merchant_id)
        .where(AUT.user_id == user_id, AUT.status == "active")
        .order_by(AUT.bound_at.desc(), AUT.id)
    ).all()
    return [_to_authorization(r) for r in rows]


def revoke_authorization(uow: UnitOfWork, user_id: str, merchant_id: str) -> None:
    """Withdraw consent: every session key of the pair stops working at once (spec FAQ 11.2)."""
    row = uow.conn.execute(
        select(AUT.id).where(
            AUT.user_id == user_id, AUT.merchant_id == merchant_id, AUT.status == "active"
        )
    ).first()
    if row is None:
        raise PaymuxError(ErrorCode.NOT_FOUND, "this partner is not authorized")
    now = uow.env.clock.now()
    uow.conn.execute(
        update(t.oauth_authorizations)
        .where(AUT.id == row.id, AUT.status == "active")
        .values(status="revoked", revoked_at=now)
    )
    uow.conn.execute(
        update(t.oauth_sessions)
        .where(SES.authorization_id == row.id, SES.revoked_at.is_(None))
        .values(revoked_at=now)
    )


@one_statement
def user_for_openid(uow: UnitOfWork, merchant_id: str, openid: str) -> str:
    """The user behind a partner's openid; another partner's openid is no user of this one.

    A revoked authorization still names its user: revocation ends the partner's
    access to the user's data, not payments or payouts that name the user.
    """
    user_id = uow.conn.execute(
        select(AUT.user_id).where(AUT.openid == openid, AUT.merchant_id == merchant_id)
    ).scalar_one_or_none()
    if user_id is None:
        raise PaymuxError(
            ErrorCode.USER_NOT_FOUND, f"openid {openid} is not a user of this partner"
        )
    return str(user_id)


# -- auth codes and session keys -----------------------------------------------------------------


def issue_code(uow: UnitOfWork, user_id: str, merchant_id: str) -> str:
    """The user consents and gets a code for the partner: valid five minutes, single use."""
    grant = authorize(uow, user_id, merchant_id)
    code = secrets.token_urlsafe(24)
    now = uow.env.clock.now()
    uow.conn.execute(
        insert(t.oauth_codes).values(
            code_hash=token_hash(code),
            authorization_id=grant.id,
            expires_at=now + timedelta(seconds=CODE_TTL_S),
            used_at=None,
            created_at=now,
        )
    )
    return code


def exchange_code(uow: UnitOfWork, merchant_id: str, code: str) -> SessionKey:
    """Spend the code (once, before it expires) on a new session key for the partner."""
    digest = token_hash(code)
    row = uow.conn.execute(
        select(COD.used_at, COD.expires_at, AUT.id, AUT.merchant_id, AUT.status)
        .join(t.oauth_authorizations, AUT.id == COD.authorization_id)
        .where(COD.code_hash == digest)
    ).first()
    if row is None or row.merchant_id != merchant_id:
        raise _invalid("the auth code is not valid for this partner")
    now = uow.env.clock.now()
    spent = uow.conn.execute(
        update(t.oauth_codes)
        .where(COD.code_hash == digest, COD.used_at.is_(None), COD.expires_at > now)
        .values(used_at=now)
    ).rowcount
    if spent != 1:
        if row.expires_at <= now:
            raise _invalid(f"the auth code expired (codes are valid {CODE_TTL_S // 60} minutes)")
        raise _invalid("the auth code was already used")
    if row.status != "active":
        raise _invalid("the user revoked the authorization")
    return _new_session(uow, row.id)


def _new_session(uow: UnitOfWork, authorization_id: int) -> SessionKey:
    key = "sk_" + secrets.token_urlsafe(32)
    now = uow.env.clock.now()
    uow.conn.execute(
        insert(t.oauth_sessions).values(
            key_hash=token_hash(key),
            authorization_id=authorization_id,
            expires_at=now + timedelta(seconds=SESSION_TTL_S),
            revoked_at=None,
            created_at=now,
        )
    )
    return SessionKey(key, SESSION_TTL_S)


def _live_session(uow: UnitOfWork, merchant_id: str, session_key: str) -> Any:
    row = uow.conn.execute(
        select(
            SES.key_hash,
            SES.expires_at,
            SES.revoked_at,
            AUT.id,
            AUT.merchant_id,
            AUT.user_id,
            AUT.openid,
            AUT.status,
            AUT.bound_at,
        )
        .join(t.oauth_authorizations, AUT.id == SES.authorization_id)
        .where(SES.key_hash == token_hash(session_key))
    ).first()
    if row is None or row.merchant_id != merchant_id:
        raise _invalid("unknown session_key")
    if row.status != "active":
        raise _invalid("the user revoked the authorization; authorize again")
    if row.revoked_at is not None:
        raise _invalid("the session_key was replaced by a refresh or revoked")
    if row.expires_at <= uow.env.clock.now():
        raise _invalid("the session_key expired; authorize again")
    return row


def refresh_session(uow: UnitOfWork, merchant_id: str, session_key: str) -> SessionKey:
    """A new key for a still-valid one; the old key stops working in the same transaction."""
    row = _live_session(uow, merchant_id, session_key)
    retired = uow.conn.execute(
        update(t.oauth_sessions)
        .where(SES.key_hash == row.key_hash, SES.revoked_at.is_(None))
        .values(revoked_at=uow.env.clock.now())
    ).rowcount
    if retired != 1:
        raise _invalid("the session_key was replaced by a refresh or revoked")
    return _new_session(uow, row.id)


def session_user(uow: UnitOfWork, merchant_id: str, session_key: str) -> UserInfo:
    row = _live_session(uow, merchant_id, session_key)
    name = uow.conn.execute(select(t.users.c.name).where(t.users.c.id == row.user_id)).scalar_one()
    return UserInfo(row.openid, name, row.bound_at)


# -- wallet app sign-in --------------------------------------------------------------------------


def sign_in(uow: UnitOfWork, wallet_token: str) -> WalletSignIn:
    """Trade a wallet token for a browser session (cookie token + its CSRF token)."""
    user_id, name = user_by_token(uow, wallet_token)
    token, csrf = secrets.token_urlsafe(32), secrets.token_urlsafe(24)
    now = uow.env.clock.now()
    uow.conn.execute(
        insert(t.wallet_sessions).values(
            token_hash=token_hash(token),
            user_id=user_id,
            csrf_token=csrf,
            expires_at=now + timedelta(seconds=WALLET_SESSION_TTL_S),
            created_at=now,
        )
    )
    return WalletSignIn(token, WalletUser(user_id, name, csrf))


def wallet_user(uow: UnitOfWork, session_token: str) -> WalletUser:
    row = uow.conn.execute(
        select(WS.user_id, WS.csrf_token, t.users.c.name)
        .join(t.users, t.users.c.id == WS.user_id)
        .where(WS.token_hash == token_hash(session_token), WS.expires_at > uow.env.clock.now())
    ).first()
    if row is None:
        raise PaymuxError(ErrorCode.UNAUTHORIZED, "not signed in to the wallet, or signed out")
    return WalletUser(row.user_id, row.name, row.csrf_token)


def sign_out(uow: UnitOfWork, session_token: str) -> None:
    uow.conn.execute(delete(t.wallet_sessions).where(WS.token_hash == token_hash(session_token)))


def sign_out_everywhere(uow: UnitOfWork, user_id: str) -> None:
    """Spec 5.2: logging out everywhere ends every wallet sign-in and every partner session key."""
    now = uow.env.clock.now()
    uow.conn.execute(delete(t.wallet_sessions).where(WS.user_id == user_id))
    grants = select(AUT.id).where(AUT.user_id == user_id).scalar_subquery()
    uow.conn.execute(
        update(t.oauth_sessions)
        .where(SES.authorization_id.in_(grants), SES.revoked_at.is_(None))
        .values(revoked_at=now)
    )
