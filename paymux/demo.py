"""The demo merchant and payer of embedded mode, and `paymux demo`'s guided vpay walk."""

from __future__ import annotations

import json
import time
from typing import Any

import httpx
from rich.console import Console

from paymux.context import Context
from paymux.services import merchants, platform, users


def _create_demo(uow: Any) -> dict[str, Any]:
    existing = platform.get_setting(uow, "demo_credentials")
    if existing is not None:
        return json.loads(uow.env.box.open(existing))
    created = merchants.create_merchant(uow, "paymux demo merchant")
    payer = users.create_user(uow, "demo payer", 1_000_000, "CNY")
    data = {
        "merchant_id": created.merchant.id,
        **created.credentials,
        "payer": {
            "user_id": payer.user_id,
            "wallet_token": payer.wallet_token,
            "wallet_account_id": users.wallet_account_id(payer.user_id, "CNY"),
        },
    }
    platform.put_setting(uow, "demo_credentials", uow.env.box.seal(json.dumps(data)))
    return data


def demo_merchant_id(uow: Any) -> str | None:
    """The demo merchant's id, once embedded mode made it (the sandbox's default caller)."""
    sealed = platform.get_setting(uow, "demo_credentials")
    return None if sealed is None else json.loads(uow.env.box.open(sealed))["merchant_id"]


def ensure_demo(ctx: Context) -> dict[str, Any]:
    """Create the demo merchant (every dialect) and a funded sandbox payer on first start."""
    return ctx.store.write_sync(_create_demo)


def print_welcome(console: Console, ctx: Context, demo: dict[str, Any] | None) -> None:
    base = ctx.settings.public_base_url
    console.rule("[bold]paymux[/bold]")
    console.print(f"mode        {ctx.settings.mode}")
    console.print(f"database    {ctx.settings.effective_database_url.split('@')[-1]}")
    console.print(f"admin token {ctx.admin_token}")
    console.print(f"vpay        {base}/api/v1")
    console.print(f"sandbox API {base}/sandbox/v1   admin API {base}/admin/v1")
    if demo:
        console.print("\n[bold]demo merchant[/bold] " + demo["merchant_id"])
        for dialect in ("vpay", "partner", "gateway", "paymodule"):
            creds = demo.get(dialect, {})
            console.print(f"  {dialect:<10} " + "  ".join(f"{k}={v}" for k, v in creds.items()))
        payer = demo["payer"]
        console.print(
            f"  payer      wallet_token={payer['wallet_token']}  "
            f"account={payer['wallet_account_id']}"
        )
        console.print(
            "\nTry it: in another terminal run [bold]make demo[/bold] "
            "(or `.venv/bin/paymux demo`) to walk a whole payment."
        )
    console.rule()


def run_demo(console: Console, ctx: Context, base_url: str) -> int:
    """Create → pay → query → refund → check, printing each request and reply."""
    from paymux.dialects.vpay.client import VpayClient, VpayError

    demo = ensure_demo(ctx)
    creds = demo["vpay"]
    client = VpayClient(base_url, creds["app_id"], creds["secret_key"])
    admin = {"Authorization": f"Bearer {ctx.admin_token}"}
    order_no = f"DEMO-{int(time.time() * 1000)}"

    def step(title: str, value: Any) -> None:
        console.print(f"\n[bold cyan]▶ {title}[/bold cyan]")
        console.print_json(json.dumps(value, ensure_ascii=False, default=str))

    try:
        order = client.create_order(order_no, 1999, "QR_CODE", product_desc="demo coffee")
        step("create order (signed HMAC-SHA256 POST /api/v1/orders/create)", order)
        console.print(f"cashier page: {order['pay_url']}")
        paid = client.pay_order(
            order["order_id"], demo["payer"]["wallet_account_id"], f"S:{demo['merchant_id']}:CNY"
        )
        step("pay it from the demo payer's wallet (sandbox POST /api/v1/orders/pay)", paid)
        step("query it (POST /api/v1/orders/query)", client.query_order(merchant_order_id=order_no))
        step(
            "refund 5.00 of it (POST /api/v1/orders/refund)",
            client.refund(order_no + "-R1", 500, order_id=order["order_id"], reason="demo"),
        )
        step(
            "payer's wallet history (GET /api/v1/accounts/{id}/transactions)",
            client.transactions(demo["payer"]["wallet_account_id"], page_size=3),
        )
        check = httpx.get(f"{base_url}/admin/v1/ledger/check", headers=admin, timeout=10).json()
        step("ledger check (GET /admin/v1/ledger/check)", check)
    except VpayError as exc:
        console.print(f"[red]{exc.code}: {exc.message}[/red]")
        return 1
    except httpx.HTTPError as exc:
        console.print(
            f"[red]cannot reach paymux at {base_url}: {exc}[/red] — is `make serve` running?"
        )
        return 1
    console.print(
        "\n[green]done[/green]: a signed order was created, paid, refunded, and the "
        "ledger is clean."
    )
    return 0
