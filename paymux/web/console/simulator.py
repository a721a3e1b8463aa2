"""The sandbox simulator (sandbox mode only): a skillpay voice device and the sandbox payers.

The device asks a skill for an order exactly like the skillpay dialect's
simulator API (`place_order`: paymux calls the skill's create-order URL and
keeps only a verified reply); a screen device then gets a QR code to the
hosted cashier, a screenless one a "confirm by voice" button. Payers are
sandbox wallet users: create one (its wallet token is shown once), top it up,
pay an order from its wallet.

`place_order` commits the order itself, so its audit row follows in the next
transaction; every other simulator action is audited in its own transaction.
"""

from __future__ import annotations

from typing import Any

from litestar import Request, Response, get, post
from litestar.params import FromPath
from litestar.response import Redirect

from paymux.core.errors import ErrorCode, PaymuxError
from paymux.core.models import Order
from paymux.core.money import parse_decimal
from paymux.dialects.skillpay import device, wire
from paymux.services import audit, ledger, orders, skills, users
from paymux.services import console_queries as q
from paymux.store.uow import UnitOfWork
from paymux.web.console.auth import Act, action, signed_in
from paymux.web.console.common import CURRENCIES, amount, page, text
from paymux.web.templating import qr_svg_data_uri

MAX_LINES = 20


def _sandbox(ctx: Any) -> None:
    if not ctx.sandbox:
        raise PaymuxError(ErrorCode.SANDBOX_ONLY, "the simulator exists in sandbox mode only")


async def _page(act_or_request: Request | Act, status: int = 200, **extra: Any) -> Response[str]:
    if isinstance(act_or_request, Act):
        ctx, session = act_or_request.ctx, act_or_request.session
    else:
        ctx, session = await signed_in(act_or_request)
    _sandbox(ctx)
    return page(
        ctx,
        session,
        "simulator.html",
        status,
        section="simulator",
        done=extra.pop("done", ""),
        skills=await ctx.store.read(skills.list_skills),
        payers=await ctx.store.read(q.sandbox_payers, 50),
        currencies=CURRENCIES,
        **{"order": None, "qr": "", "error": "", "token": None, **extra},  # nosec B105
    )


@get("/simulator")
async def simulator(request: Request) -> Response[str]:
    return await _page(request, done=request.query_params.get("done", ""))


def parse_items(raw: str) -> list[dict[str, Any]]:
    """Lines of "itemId, quantity, amount in yuan" into skillpay `details` (amounts in fen)."""
    lines = []
    for number, line in enumerate(raw.splitlines()[:MAX_LINES], start=1):
        if not line.strip():
            continue
        parts = [p.strip() for p in line.split(",")]
        if len(parts) != 3 or not parts[1].isdigit():
            raise PaymuxError(
                ErrorCode.INVALID_PARAMS,
                f"item line {number}: write itemId, quantity, amount (e.g. coins-100, 1, 6.00)",
                field="items",
            )
        fen = parse_decimal(parts[2], wire.CURRENCY, field="items")
        lines.append({"itemId": parts[0], "quantity": int(parts[1]), "amount": fen})
    return wire.details(lines, "items")


@post("/simulator/skillpay")
async def simulator_skillpay(request: Request) -> Response[str]:
    """The voice device orders through a skill; the skill's refusal is shown, not an order."""
    act = await action(request)
    _sandbox(act.ctx)
    skill_id = text(act.form, "skill_id", max_len=32, required=True)
    user_token = text(act.form, "user_token", max_len=256, required=True)
    lines = parse_items(text(act.form, "items", max_len=4000, required=True))
    screen = act.form.get("screen") == "1"
    try:
        order = await device.place_order(
            act.ctx, skill_id, user_token, lines, wire.lines_total(lines, "items"), screen
        )
    except wire.SkillCallFailed as exc:
        return await _page(act, 502, error=f"The skill refused: {exc.message} ({exc.code})")
    await act.ctx.store.write(_log_order, act.actor, order.order_no, skill_id)
    qr = qr_svg_data_uri(f"{act.ctx.settings.public_base_url}/cashier/{order.order_no}")
    return await _page(act, order=order, qr=qr if screen else "")


def _log_order(uow: UnitOfWork, actor: audit.Actor, order_no: str, skill_id: str) -> None:
    audit.record(
        uow,
        actor,
        "simulator.skillpay_order",
        target_type="order",
        target_id=order_no,
        after=q.order_snapshot(uow, order_no),
        detail=f"skill {skill_id}",
    )


def _pay(uow: UnitOfWork, order_no: str, user_id: str) -> Order:
    """Pay from a payer's wallet, or from outside (the sandbox channel) without a payer."""
    if not user_id:
        return orders.pay_order(uow, order_no)
    order = orders.get_by_no(uow, order_no)
    wallet = users.ensure_wallet(uow, user_id, order.currency)
    return orders.pay_order(uow, order_no, payer_account_id=wallet, payer=user_id)


@post("/simulator/pay")
async def simulator_pay(request: Request) -> Redirect:
    """Confirm by voice (no payer), or pay from a sandbox payer's wallet."""
    act = await action(request)
    _sandbox(act.ctx)
    order_no = text(act.form, "order_no", max_len=32, required=True)
    user_id = text(act.form, "user_id", max_len=32)
    await act.ctx.store.write(
        audit.audited,
        act.actor,
        "simulator.pay",
        "order",
        order_no,
        q.order_snapshot,
        _pay,
        order_no,
        user_id,
    )
    return Redirect(
        f"/console/simulator?done={'paid' if user_id else 'confirmed'}", status_code=303
    )


def _new_payer(
    uow: UnitOfWork, actor: audit.Actor, name: str, balance: int, currency: str
) -> users.NewUser:
    created = users.create_user(uow, name, balance, currency)
    audit.record(
        uow,
        actor,
        "simulator.create_payer",
        target_type="user",
        target_id=created.user_id,
        after={"name": name, "balance": balance, "currency": currency},
    )
    return created


@post("/simulator/payers")
async def simulator_payer(request: Request) -> Response[str]:
    """A funded sandbox payer; its wallet token (for the cashier and wallet app) is shown once."""
    act = await action(request)
    _sandbox(act.ctx)
    currency = text(act.form, "currency", max_len=8) or "CNY"
    name = text(act.form, "name", max_len=64, required=True)
    balance = amount(act.form, "balance", currency, required=False) or 0
    created = await act.ctx.store.write(_new_payer, act.actor, name, balance, currency)
    return await _page(act, token=created)


@post("/simulator/accounts/{account_id:str}/topup")
async def simulator_topup(request: Request, account_id: FromPath[str]) -> Redirect:
    act = await action(request)
    _sandbox(act.ctx)
    account = await act.ctx.store.read(ledger.get_account, account_id)
    if account.owner_type != "user":
        raise PaymuxError(ErrorCode.INVALID_PARAMS, "only sandbox payers' wallets are topped up")
    minor = amount(act.form, "amount", account.currency, required=True)
    await act.ctx.store.write(
        audit.audited,
        act.actor,
        "simulator.top_up",
        "account",
        account_id,
        _balance_snapshot,
        ledger.recharge,
        account_id,
        minor,
    )
    return Redirect("/console/simulator?done=topped_up", status_code=303)


def _balance_snapshot(uow: UnitOfWork, account_id: str) -> dict[str, Any]:
    account = ledger.get_account(uow, account_id)
    return {"balance": account.balance, "frozen": account.frozen}
