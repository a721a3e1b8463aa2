"""The ledger: accounts, balanced journal entries, holds, and the consistency check.

Every checked balance change is a conditional UPDATE (a debit only succeeds
while `balance - frozen >= amount`), applied in account-id order so concurrent
transfers on PostgreSQL cannot deadlock each other.

Pooled accounts — merchant settlement, platform fees, the world — receive
money from many concurrent payments. A posting that needs no check on such an
account (a credit, or any posting to the world account, which may go below
zero) is journaled as *pending* instead of updating the account row, so those
payments never queue on one row lock. Pending postings are folded into the
cached balance in batches (`apply_pending`): by the timed job, and always
before a checked debit or hold of the account, in the same transaction.
Balances read through `get_account` include them, so nobody sees the lag.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from datetime import datetime
from functools import partial

from sqlalchemy import BigInteger, String, and_, bindparam, case, func, insert, select, text, update

from paymux.core.errors import ErrorCode, PaymuxError
from paymux.core.ledger import AccountKind, EntryType, Posting, check_balanced
from paymux.core.models import Account, JournalLine
from paymux.core.money import check_currency
from paymux.services import paging
from paymux.store import tables as t
from paymux.store.sql import Prepared, insert_ignore
from paymux.store.uow import UnitOfWork

A = t.accounts.c


def world_account_id(currency: str) -> str:
    return f"world:{currency}"


def fees_account_id(currency: str) -> str:
    return f"fees:{currency}"


def settlement_account_id(merchant_id: str, currency: str) -> str:
    return f"S:{merchant_id}:{currency}"


def ensure_account(
    uow: UnitOfWork,
    account_id: str,
    owner_type: str,
    owner_id: str,
    kind: AccountKind,
    currency: str,
    *,
    allow_negative: bool = False,
) -> str:
    """Create the account unless it exists (accounts with well-known ids are made lazily)."""
    made = uow.env.accounts_made
    if account_id in made:
        return account_id
    insert_ignore(
        uow.conn,
        t.accounts,
        {
            "id": account_id,
            "owner_type": owner_type,
            "owner_id": owner_id,
            "kind": kind.value,
            "currency": currency,
            "balance": 0,
            "frozen": 0,
            "allow_negative": allow_negative,
            "created_at": uow.env.clock.now(),
        },
    )
    uow.after_commit(partial(made.add, account_id))
    return account_id


def ensure_world_account(uow: UnitOfWork, currency: str) -> str:
    return ensure_account(
        uow,
        world_account_id(currency),
        "platform",
        "",
        AccountKind.WORLD,
        currency,
        allow_negative=True,
    )


def ensure_fees_account(uow: UnitOfWork, currency: str) -> str:
    return ensure_account(
        uow, fees_account_id(currency), "platform", "", AccountKind.FEES, currency
    )


def ensure_settlement_account(uow: UnitOfWork, merchant_id: str, currency: str) -> str:
    return ensure_account(
        uow,
        settlement_account_id(merchant_id, currency),
        "merchant",
        merchant_id,
        AccountKind.SETTLEMENT,
        currency,
    )


def open_account(
    uow: UnitOfWork,
    owner_type: str,
    owner_id: str,
    currency: str = "CNY",
    kind: AccountKind = AccountKind.WALLET,
) -> Account:
    check_currency(currency)
    account_id = "A" + uow.env.new_no()
    ensure_account(uow, account_id, owner_type, owner_id, kind, currency)
    return get_account(uow, account_id)


POOLED_PREFIXES = ("S:", "fees:", "world:")
P = t.postings.c
# Pending postings are found through the partial index ix_postings_pending (`WHERE
# pending`), which holds only them; any other index on account_id walks the account's
# whole history, and on a hot account that grows with every payment. A planner uses a
# partial index only for a query stating its condition as declared (`pending IS true`
# or `pending = 1` do not), and SQLite without statistics still prefers another index,
# so there it is named (`INDEXED BY`).
IS_PENDING = text("postings.pending")
_GET_ACCOUNT = Prepared(select(t.accounts).where(A.id == bindparam("a")))
_PENDING_SUM = Prepared(
    select(func.coalesce(func.sum(P.amount), 0)).where(P.account_id == bindparam("a"), IS_PENDING),
    sqlite=text(
        "SELECT coalesce(sum(amount), 0) AS total FROM postings"
        " INDEXED BY ix_postings_pending WHERE account_id = :a AND pending"
    ).columns(total=BigInteger),
)
_FLIP_PENDING = Prepared(
    update(t.postings)
    .where(P.account_id == bindparam("a"), IS_PENDING)
    .values(pending=False)
    .returning(P.amount),
    sqlite=text(
        "UPDATE postings INDEXED BY ix_postings_pending SET pending = 0"
        " WHERE account_id = :a AND pending RETURNING amount"
    ).columns(amount=BigInteger),
)
_PENDING_ACCOUNTS = Prepared(
    select(P.account_id).where(IS_PENDING).distinct().limit(bindparam("n")),
    sqlite=text(
        "SELECT DISTINCT account_id FROM postings INDEXED BY ix_postings_pending"
        " WHERE pending LIMIT :n"
    ).columns(account_id=String),
)
_ADD_BALANCE = Prepared(
    update(t.accounts).where(A.id == bindparam("a")).values(balance=A.balance + bindparam("d"))
)
_INSERT_ENTRIES = Prepared(
    insert(t.journal_entries).returning(t.journal_entries.c.id, t.journal_entries.c.ref)
)
_INSERT_POSTING = Prepared(insert(t.postings))
_CREDIT = Prepared(
    update(t.accounts)
    .where(A.id == bindparam("a"), A.currency == bindparam("c"))
    .values(balance=A.balance + bindparam("d"))
)
# A debit: only while the available balance covers it (or the account may go negative).
_DEBIT = Prepared(
    update(t.accounts)
    .where(
        A.id == bindparam("a"),
        A.currency == bindparam("c"),
        A.allow_negative | (A.balance - A.frozen >= bindparam("need")),
    )
    .values(balance=A.balance + bindparam("d"))
)


def is_pooled(account_id: str) -> bool:
    return account_id.startswith(POOLED_PREFIXES)


def _deferred(posting: Posting) -> bool:
    """A posting that can wait: no balance check could refuse it."""
    return is_pooled(posting.account_id) and (
        posting.amount > 0 or posting.account_id.startswith("world:")
    )


def get_account(uow: UnitOfWork, account_id: str) -> Account:
    """The account with its balance as the journal says, pending postings included."""
    row = _GET_ACCOUNT.first(uow.conn, {"a": account_id})
    if row is None:
        raise PaymuxError(ErrorCode.ACCOUNT_NOT_FOUND, f"account {account_id} not found")
    account = Account.from_mapping(row)
    if is_pooled(account_id):
        pending = int(_PENDING_SUM.scalar(uow.conn, {"a": account_id}))
        if pending:
            account = replace(account, balance=account.balance + pending)
    return account


def apply_pending(uow: UnitOfWork, account_id: str) -> int:
    """Fold the account's pending postings into its cached balance; returns the amount.

    Flipping the rows with UPDATE … RETURNING makes the folded set exact: two
    concurrent appliers lock disjoint rows, and a posting committed meanwhile
    is either flipped and counted here or left for the next run.
    """
    total = sum(r["amount"] for r in _FLIP_PENDING.rows(uow.conn, {"a": account_id}))
    if total:
        _ADD_BALANCE.run(uow.conn, {"a": account_id, "d": total})
    return total


def apply_all_pending(uow: UnitOfWork, limit: int = 100) -> int:
    """The timed job: fold pending postings of up to `limit` accounts; returns how many."""
    accounts = _PENDING_ACCOUNTS.rows(uow.conn, {"n": limit})
    for row in accounts:
        apply_pending(uow, row["account_id"])
    return len(accounts)


@dataclass(frozen=True, slots=True)
class Entry:
    """A journal entry to write: its postings must balance."""

    type: EntryType
    postings: list[Posting]
    order_no: str | None = None
    ref: str = ""


def post(
    uow: UnitOfWork,
    entry_type: EntryType,
    postings: list[Posting],
    *,
    order_no: str | None = None,
    ref: str = "",
) -> int:
    """Write one balanced journal entry and apply it to the cached balances."""
    return post_many(uow, [Entry(entry_type, postings, order_no, ref)], uow.env.clock.now())[0]


def post_many(uow: UnitOfWork, entries: list[Entry], now: datetime) -> list[int]:
    """Write balanced journal entries and apply them to the cached balances; their ids.

    A batch of payments posts its entries together: the entries in one multi-row
    INSERT, their postings in another, where one entry at a time took two statements
    per entry and a step per posting. The entries are told apart by their `ref`,
    which must differ between them: RETURNING gives the ids in no promised order.
    """
    refs = {entry.ref for entry in entries}
    if len(refs) != len(entries):
        raise ValueError("entries posted together need distinct refs")
    for entry in entries:
        check_balanced(entry.postings)
        for posting in sorted(entry.postings, key=lambda p: p.account_id):
            if _deferred(posting):
                continue
            if is_pooled(posting.account_id):
                apply_pending(uow, posting.account_id)
            _apply(uow, posting)
    rows = [
        {"type": e.type.value, "order_no": e.order_no, "ref": e.ref, "created_at": now}
        for e in entries
    ]
    ids = {row["ref"]: int(row["id"]) for row in _INSERT_ENTRIES.inserted(uow.conn, rows)}
    _INSERT_POSTING.many(
        uow.conn,
        [
            {
                "entry_id": ids[entry.ref],
                "account_id": p.account_id,
                "amount": p.amount,
                "currency": p.currency,
                "pending": _deferred(p),
                "created_at": now,
            }
            for entry in entries
            for p in entry.postings
        ],
    )
    return [ids[entry.ref] for entry in entries]


def _apply(uow: UnitOfWork, posting: Posting) -> None:
    change = {"a": posting.account_id, "c": posting.currency, "d": posting.amount}
    if posting.amount >= 0:
        done = _CREDIT.run(uow.conn, change)
    else:
        done = _DEBIT.run(uow.conn, {**change, "need": -posting.amount})
    if done == 1:
        return
    account = get_account(uow, posting.account_id)
    if account.currency != posting.currency:
        raise PaymuxError(
            ErrorCode.CURRENCY_MISMATCH,
            f"account {account.id} holds {account.currency}, not {posting.currency}",
        )
    raise PaymuxError(
        ErrorCode.INSUFFICIENT_BALANCE, f"account {account.id} has insufficient available balance"
    )


def transfer(
    uow: UnitOfWork,
    entry_type: EntryType,
    from_id: str,
    to_id: str,
    amount: int,
    currency: str,
    *,
    order_no: str | None = None,
    ref: str = "",
) -> int:
    if from_id == to_id:
        raise PaymuxError(ErrorCode.SAME_ACCOUNT, "cannot transfer to the same account")
    return post(
        uow,
        entry_type,
        [Posting(from_id, -amount, currency), Posting(to_id, amount, currency)],
        order_no=order_no,
        ref=ref,
    )


def account_transfer(
    uow: UnitOfWork, from_id: str, to_id: str, amount: int, owner_id: str | None = None
) -> tuple[int, Account]:
    """A transfer between two accounts of the same currency (the vpay transfer endpoint)."""
    source = get_account(uow, from_id)
    target = get_account(uow, to_id)
    for account in (source, target):
        _check_owner(account, owner_id)
    if source.currency != target.currency:
        raise PaymuxError(ErrorCode.CURRENCY_MISMATCH, "accounts hold different currencies")
    entry = transfer(uow, EntryType.TRANSFER, from_id, to_id, amount, source.currency)
    return entry, get_account(uow, from_id)


def _move_with_world(
    uow: UnitOfWork, account_id: str, amount: int, owner_id: str | None, kind: EntryType
) -> tuple[int, Account]:
    """Money in from (RECHARGE) or out to (WITHDRAW) the world outside paymux, at once."""
    account = get_account(uow, account_id)
    _check_owner(account, owner_id)
    world = ensure_world_account(uow, account.currency)
    source, target = (world, account_id) if kind is EntryType.RECHARGE else (account_id, world)
    entry = transfer(uow, kind, source, target, amount, account.currency)
    return entry, get_account(uow, account_id)


def recharge(
    uow: UnitOfWork, account_id: str, amount: int, owner_id: str | None = None
) -> tuple[int, Account]:
    """Money arrives from outside (sandbox top-up): the world account pays it in."""
    return _move_with_world(uow, account_id, amount, owner_id, EntryType.RECHARGE)


def withdraw_now(
    uow: UnitOfWork, account_id: str, amount: int, owner_id: str | None = None
) -> tuple[int, Account]:
    """Money leaves to the outside at once (vpay's account withdraw)."""
    return _move_with_world(uow, account_id, amount, owner_id, EntryType.WITHDRAW)


def _check_owner(account: Account, owner_id: str | None) -> None:
    if owner_id is not None and account.owner_id != owner_id:
        raise PaymuxError(
            ErrorCode.ACCOUNT_ACCESS_DENIED,
            f"account {account.id} does not belong to this merchant",
        )


# -- holds (frozen money) ------------------------------------------------------------------------


def hold(uow: UnitOfWork, account_id: str, amount: int, ref: str) -> int:
    if is_pooled(account_id):
        apply_pending(uow, account_id)
    done = uow.conn.execute(
        update(t.accounts)
        .where(A.id == account_id, A.balance - A.frozen >= amount)
        .values(frozen=A.frozen + amount)
    ).rowcount
    if done != 1:
        get_account(uow, account_id)
        raise PaymuxError(
            ErrorCode.INSUFFICIENT_BALANCE,
            f"account {account_id} has insufficient available balance",
        )
    return int(
        uow.conn.execute(
            insert(t.holds).values(
                account_id=account_id,
                amount=amount,
                status="active",
                ref=ref,
                created_at=uow.env.clock.now(),
            )
        ).inserted_primary_key[0]
    )


def _end_hold(uow: UnitOfWork, hold_id: int, status: str) -> tuple[str, int]:
    row = uow.conn.execute(select(t.holds).where(t.holds.c.id == hold_id)).one()
    done = uow.conn.execute(
        update(t.holds)
        .where(t.holds.c.id == hold_id, t.holds.c.status == "active")
        .values(status=status)
    ).rowcount
    if done != 1:
        raise PaymuxError(ErrorCode.INTERNAL, f"hold {hold_id} is no longer active")
    uow.conn.execute(
        update(t.accounts).where(A.id == row.account_id).values(frozen=A.frozen - row.amount)
    )
    return row.account_id, int(row.amount)


def release_hold(uow: UnitOfWork, hold_id: int) -> None:
    _end_hold(uow, hold_id, "released")


def capture_hold(
    uow: UnitOfWork,
    hold_id: int,
    entry_type: EntryType,
    to_id: str,
    currency: str,
    *,
    order_no: str | None = None,
    ref: str = "",
) -> int:
    """Move held money out: unfreeze it and debit it in one step, so it cannot be spent twice."""
    account_id, amount = _end_hold(uow, hold_id, "captured")
    return transfer(
        uow, entry_type, account_id, to_id, amount, currency, order_no=order_no, ref=ref
    )


# -- history and check ---------------------------------------------------------------------------


def account_lines(
    uow: UnitOfWork,
    account_id: str,
    *,
    entry_type: str | None,
    start: datetime | None,
    end: datetime | None,
    page: int,
    page_size: int,
) -> tuple[int, list[JournalLine]]:
    """One account's movements, newest first, from the newest LIST_WINDOW of them.

    The total is capped like every growing list (services/paging.py): a hot
    settlement account gains a posting per payment, and counting all of them
    on every call is what the window avoids. Without a type filter the count
    walks only the postings' (account, id) index, never the journal.
    """
    p, e = t.postings.c, t.journal_entries.c
    conds = [p.account_id == account_id]
    if start:
        conds.append(p.created_at >= start)
    if end:
        conds.append(p.created_at <= end)
    joined = t.postings.join(t.journal_entries, p.entry_id == e.id)
    matching = select(p.id).where(*conds)
    if entry_type:
        conds.append(e.type == entry_type)
        matching = select(p.id).select_from(joined).where(*conds)
    key = ("account_lines", account_id, entry_type, start, end)
    window = paging.window_page(uow, key, matching, page, page_size)
    if not window.limit:
        return window.total, []
    rows = uow.conn.execute(
        select(p.entry_id, e.type, e.order_no, p.amount, p.currency, p.created_at)
        .select_from(joined)
        .where(and_(*conds))
        .order_by(p.id.desc())
        .limit(window.limit)
        .offset(window.offset)
    ).all()
    return window.total, [
        JournalLine(r.entry_id, r.type, r.order_no, r.amount, r.currency, r.created_at)
        for r in rows
    ]


@dataclass(frozen=True, slots=True)
class LedgerProblem:
    what: str
    detail: str


def check_ledger(uow: UnitOfWork) -> list[LedgerProblem]:
    """Recompute every balance and frozen amount from history and compare with the cache.

    Balances, postings and holds are read in one statement: on PostgreSQL each statement
    of a READ COMMITTED read sees its own snapshot, so sums read apart from the accounts
    could straddle a concurrent fold or payment and report a difference that never was.
    """
    problems: list[LedgerProblem] = []
    p, h = t.postings.c, t.holds.c
    sums = (
        select(
            p.account_id,
            func.sum(case((p.pending.is_(False), p.amount), else_=0)).label("applied"),
            func.sum(case((p.pending.is_(True), p.amount), else_=0)).label("pending"),
        )
        .group_by(p.account_id)
        .subquery()
    )
    held = (
        select(h.account_id, func.sum(h.amount).label("held"))
        .where(h.status == "active")
        .group_by(h.account_id)
        .subquery()
    )
    accounts = uow.conn.execute(
        select(
            A.id, A.balance, A.frozen, A.allow_negative, sums.c.applied, sums.c.pending, held.c.held
        ).select_from(
            t.accounts.outerjoin(sums, sums.c.account_id == A.id).outerjoin(
                held, held.c.account_id == A.id
            )
        )
    ).all()
    for row in accounts:
        journal = int(row.applied or 0)
        waiting = int(row.pending or 0)
        frozen = int(row.held or 0)
        if journal != row.balance:
            problems.append(
                LedgerProblem(
                    "balance", f"{row.id}: cached {row.balance}, applied journal {journal}"
                )
            )
        if waiting and not is_pooled(row.id):
            problems.append(LedgerProblem("pending", f"{row.id}: pending postings {waiting}"))
        if frozen != row.frozen:
            problems.append(
                LedgerProblem("frozen", f"{row.id}: cached {row.frozen}, holds {frozen}")
            )
        available = row.balance + waiting - row.frozen
        if not row.allow_negative and available < 0:
            problems.append(LedgerProblem("negative", f"{row.id}: available {available}"))
    unbalanced = uow.conn.execute(
        select(p.entry_id, p.currency, func.sum(p.amount))
        .group_by(p.entry_id, p.currency)
        .having(func.sum(p.amount) != 0)
    ).all()
    for entry_id, currency, total in unbalanced:
        problems.append(LedgerProblem("entry", f"entry {entry_id} sums to {total} {currency}"))
    mixed = uow.conn.execute(
        select(p.id)
        .select_from(t.postings.join(t.accounts, p.account_id == A.id))
        .where(p.currency != A.currency)
        .limit(10)
    ).all()
    for (posting_id,) in mixed:
        problems.append(LedgerProblem("currency", f"posting {posting_id} in a foreign currency"))
    return problems
