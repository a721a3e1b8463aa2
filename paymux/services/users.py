"""Wallet users: sandbox payers now, the partner dialect's app users later."""

from __future__ import annotations

import hashlib
import secrets
from dataclasses import dataclass

from sqlalchemy import insert, select

from paymux.core.errors import ErrorCode, PaymuxError
from paymux.core.ledger import AccountKind
from paymux.core.money import check_amount, check_currency
from paymux.services import ledger
from paymux.store import tables as t
from paymux.store.uow import UnitOfWork

U = t.users.c


@dataclass(frozen=True, slots=True)
class NewUser:
    user_id: str
    wallet_token: str


def token_hash(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def wallet_account_id(user_id: str, currency: str) -> str:
    return f"W:{user_id}:{currency}"


def ensure_wallet(uow: UnitOfWork, user_id: str, currency: str) -> str:
    check_currency(currency)
    account_id = wallet_account_id(user_id, currency)
    ledger.ensure_account(uow, account_id, "user", user_id, AccountKind.WALLET, currency)
    return account_id


def create_user(uow: UnitOfWork, name: str, balance: int = 0, currency: str = "CNY") -> NewUser:
    name = name.strip()
    if not name or len(name) > 64:
        raise PaymuxError(ErrorCode.INVALID_PARAMS, "name must be 1..64 characters", field="name")
    check_currency(currency)
    if balance:
        check_amount(balance, field="balance")
    user_id = "U" + uow.env.new_no()
    token = "wt_" + secrets.token_urlsafe(24)
    uow.conn.execute(
        insert(t.users).values(
            id=user_id,
            name=name,
            wallet_token_hash=token_hash(token),
            created_at=uow.env.clock.now(),
        )
    )
    wallet = ensure_wallet(uow, user_id, currency)
    if balance:
        ledger.recharge(uow, wallet, balance)
    return NewUser(user_id, token)


def user_by_token(uow: UnitOfWork, token: str) -> tuple[str, str]:
    """(user_id, name) of the wallet token's user."""
    row = uow.conn.execute(
        select(U.id, U.name).where(U.wallet_token_hash == token_hash(token))
    ).first()
    if row is None:
        raise PaymuxError(ErrorCode.UNAUTHORIZED, "unknown wallet token")
    return row.id, row.name
