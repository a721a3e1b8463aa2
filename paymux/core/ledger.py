"""Ledger rules: double-entry journal entries whose postings sum to zero per currency."""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass
from enum import StrEnum

from paymux.core.errors import ErrorCode, PaymuxError


class EntryType(StrEnum):
    PAY = "pay"
    REFUND = "refund"
    RECHARGE = "recharge"
    WITHDRAW = "withdraw"
    TRANSFER = "transfer"
    FEE = "fee"


class AccountKind(StrEnum):
    SETTLEMENT = "settlement"  # a merchant's receivable balance
    WALLET = "wallet"  # a user's / sandbox payer's wallet, or a vpay virtual account
    FEES = "fees"  # the platform's fee income
    WORLD = "world"  # money outside paymux (channels, banks); may go negative


@dataclass(frozen=True, slots=True)
class Posting:
    account_id: str
    amount: int  # positive = credit (money in), negative = debit (money out)
    currency: str


def check_balanced(postings: list[Posting]) -> None:
    """Refuse an entry that would create or destroy money, or mix currencies in one account."""
    if len(postings) < 2:
        raise PaymuxError(ErrorCode.INTERNAL, "a journal entry needs at least two postings")
    sums: dict[str, int] = defaultdict(int)
    for posting in postings:
        if posting.amount == 0:
            raise PaymuxError(ErrorCode.INTERNAL, "a posting cannot be zero")
        sums[posting.currency] += posting.amount
    unbalanced = {cur: total for cur, total in sums.items() if total != 0}
    if unbalanced:
        raise PaymuxError(ErrorCode.INTERNAL, f"unbalanced journal entry: {unbalanced}")


def split_fee(amount: int, fee_rate_bp: int) -> int:
    """The platform fee on `amount` at `fee_rate_bp` basis points, rounded down to the minor unit.

    Rounding down means the merchant never receives less than the rate promises.
    """
    return amount * fee_rate_bp // 10_000
