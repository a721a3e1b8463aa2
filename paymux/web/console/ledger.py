"""Accounts and the ledger: balances, an account's journal, the ledger check, daily statements.

The ledger check is the same `check_ledger` as `paymux ledger check`; running
it changes nothing, so viewers may run it too (it is still audited). A daily
statement is read from the journal of the merchant's settlement account and
carries its own proof: the closing balance summed from the lines must equal
the balance summed straight from the postings.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import date
from functools import partial

from litestar import Request, Response, get, post
from litestar.params import FromPath
from litestar.response import Stream

from paymux.core.errors import ErrorCode, PaymuxError
from paymux.core.money import format_decimal
from paymux.services import audit, ledger
from paymux.services import console_queries as q
from paymux.store.uow import UnitOfWork
from paymux.web.console.auth import action, reader_actor, signed_in
from paymux.web.console.common import (
    CURRENCIES,
    HEADERS,
    Fmt,
    csv_line,
    day,
    day_bounds,
    page,
    text,
    today,
)

PAGE_SIZE = 50
OWNER_TYPES = ("merchant", "user", "platform", "sandbox")


@get("/accounts")
async def account_list(request: Request) -> Response[str]:
    ctx, session = await signed_in(request)
    params = dict(request.query_params)
    owner_type = text(params, "owner_type", max_len=16)
    search = text(params, "q", max_len=64)
    after = text(params, "after", max_len=32) or None
    rows = await ctx.store.read(q.list_accounts, owner_type, search, PAGE_SIZE, after)
    return page(
        ctx,
        session,
        "accounts.html",
        section="ledger",
        rows=rows,
        owner_type=owner_type,
        owner_types=OWNER_TYPES,
        search=search,
        next_after=rows[-1].id if len(rows) == PAGE_SIZE else "",
    )


@get("/accounts/{account_id:str}")
async def account_detail(request: Request, account_id: FromPath[str]) -> Response[str]:
    ctx, session = await signed_in(request)
    number = text(dict(request.query_params), "page", max_len=6)
    page_no = int(number) if number.isdigit() and int(number) > 0 else 1
    account = await ctx.store.read(ledger.get_account, account_id)
    # Store.read passes positional arguments only; the service takes keywords.
    total, lines = await ctx.store.read(
        partial(
            ledger.account_lines,
            entry_type=None,
            start=None,
            end=None,
            page=page_no,
            page_size=PAGE_SIZE,
        ),
        account_id,
    )
    return page(
        ctx,
        session,
        "account.html",
        section="ledger",
        account=account,
        lines=lines,
        total=total,
        page_no=page_no,
        more=page_no * PAGE_SIZE < total,
    )


@get("/ledger")
async def ledger_page(request: Request) -> Response[str]:
    ctx, session = await signed_in(request)
    names = await ctx.store.read(q.merchant_names, None)
    return page(
        ctx,
        session,
        "ledger.html",
        section="ledger",
        problems=None,
        names=names,
        currencies=CURRENCIES,
        day=today(ctx),
    )


def _check(uow: UnitOfWork, actor: audit.Actor) -> list[ledger.LedgerProblem]:
    problems = ledger.check_ledger(uow)
    audit.record(
        uow,
        actor,
        "ledger.check",
        target_type="ledger",
        after={"clean": not problems, "problems": len(problems)},
    )
    return problems


@post("/ledger/check")
async def ledger_check(request: Request) -> Response[str]:
    """Recompute every balance from the journal; allowed to viewers (it changes nothing)."""
    act = await action(request, admin=False)
    problems = await act.ctx.store.write(_check, act.actor)
    names = await act.ctx.store.read(q.merchant_names, None)
    return page(
        act.ctx,
        act.session,
        "ledger.html",
        section="ledger",
        problems=problems,
        names=names,
        currencies=CURRENCIES,
        day=today(act.ctx),
    )


def _statement_args(request: Request) -> tuple[str, str, date]:
    ctx = request.app.state.ctx
    params = dict(request.query_params)
    merchant_id = text(params, "merchant_id", max_len=32, required=True)
    currency = text(params, "currency", max_len=8) or "CNY"
    if currency not in CURRENCIES:
        raise PaymuxError(ErrorCode.INVALID_PARAMS, f"unsupported currency {currency}")
    return merchant_id, currency, day(params, "day", today(ctx))


@get("/statements")
async def statement_page(request: Request) -> Response[str]:
    ctx, session = await signed_in(request)
    merchant_id, currency, when = _statement_args(request)
    since, until = day_bounds(when, ctx.settings.tz)
    report = await ctx.store.read(q.statement, merchant_id, currency, since, until)
    return page(
        ctx,
        session,
        "statement.html",
        section="ledger",
        report=report,
        day=when,
    )


def statement_rows(report: q.Statement, fmt: Fmt) -> list[list[str]]:
    """The reconciliation file: a header, one line per movement, then the totals."""
    cur = report.currency

    def money(minor: int) -> str:
        return format_decimal(minor, cur)

    rows = [
        [
            "time",
            "type",
            "order_no",
            "merchant_order_no",
            "ref",
            "dialect",
            "channel",
            "gross",
            "fee",
            "net",
            "currency",
            "entry_id",
        ]
    ]
    for line in report.lines:
        rows.append(
            [
                fmt.time(line.at),
                line.kind,
                line.order_no,
                line.merchant_order_no,
                line.ref,
                line.dialect,
                line.channel,
                money(line.gross),
                money(line.fee),
                money(line.net),
                cur,
                str(line.entry_id),
            ]
        )
    totals = report.totals
    summary = [
        ("opening_balance", report.opening),
        *((name, value) for name, value in sorted(totals.items())),
        ("closing_balance", report.closing),
        ("closing_balance_ledger", report.closing_ledger),
    ]
    rows.append([])
    for name, value in summary:
        rows.append(["TOTAL", name, "", "", "", "", "", "", "", money(value), cur, ""])
    rows.append(
        [
            "TOTAL",
            "matches_ledger",
            "",
            "",
            "",
            "",
            "",
            "",
            "",
            str(report.matches_ledger).lower(),
            cur,
            "",
        ]
    )
    return rows


@get("/statements.csv")
async def statement_export(request: Request) -> Stream:
    ctx, session = await signed_in(request)
    merchant_id, currency, when = _statement_args(request)
    since, until = day_bounds(when, ctx.settings.tz)
    report = await ctx.store.read(q.statement, merchant_id, currency, since, until)
    await ctx.store.write(
        partial(
            audit.record,
            target_type="merchant",
            target_id=merchant_id,
            detail=f"statement {when.isoformat()} {currency}",
        ),
        reader_actor(request, session),
        "statement.export",
    )
    rows = statement_rows(report, Fmt(ctx.settings.tz))

    async def lines() -> AsyncIterator[str]:
        for row in rows:
            yield csv_line(row)

    filename = f"statement-{merchant_id}-{when.isoformat()}-{currency}.csv"
    return Stream(
        lines(),
        media_type="text/csv; charset=utf-8",
        headers={**HEADERS, "Content-Disposition": f'attachment; filename="{filename}"'},
    )
