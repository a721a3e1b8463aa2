"""`paymux notify list|show|retry` and `paymux worker`.

They talk to the database directly, like the rest of the CLI; a running
dispatcher picks redelivered rows up within its poll interval.
"""

from __future__ import annotations

import getpass
import json
from collections.abc import Callable
from typing import TYPE_CHECKING, Annotated, TypeVar

import typer
import uvloop
from rich.table import Table

from paymux.terminal import console

if TYPE_CHECKING:
    from paymux.context import Context
    from paymux.notify.outbox import NotificationFilter

T = TypeVar("T")

notify_app = typer.Typer(
    help="The notification outbox: list, show, redeliver.", no_args_is_help=True
)

DatabaseUrl = Annotated[
    str | None, typer.Option("--database-url", help="Overrides PAYMUX_DATABASE_URL.")
]
Merchant = Annotated[str | None, typer.Option("--merchant", help="Merchant id.")]
Dialect = Annotated[str | None, typer.Option("--dialect", help="vpay, partner, gateway, ...")]
Since = Annotated[
    str | None, typer.Option("--since", help="Created at or after (ISO 8601; naive: local tz).")
]
Until = Annotated[str | None, typer.Option("--until", help="Created before.")]
AsJson = Annotated[bool, typer.Option("--json", help="Print JSON (the admin API's shape).")]


def _run(database_url: str | None, action: Callable[[Context], T]) -> T:
    """Open a context, run `action(ctx)`, close; a PaymuxError is printed, exit code 2.

    Imports are late, as in paymux.cli: `paymux --help` stays fast.
    """
    from paymux.cli import open_context
    from paymux.core.errors import PaymuxError

    ctx = open_context(database_url)
    try:
        return action(ctx)
    except PaymuxError as exc:
        console.print(f"[red]{exc.message}[/red]")
        raise typer.Exit(2) from None
    finally:
        ctx.close()


def _filter(
    ctx: Context, status: str, ids: tuple[int, ...] = (), **params: str | None
) -> NotificationFilter:
    from paymux.api.notifications import parse_filter

    return parse_filter(
        {k: v for k, v in params.items() if v}, ctx.settings.tz, ids=ids, status=status
    )


@notify_app.command("list")
def list_cmd(
    merchant: Merchant = None,
    dialect: Dialect = None,
    status: Annotated[str, typer.Option(help="PENDING, DELIVERED or EXHAUSTED.")] = "",
    since: Since = None,
    until: Until = None,
    limit: Annotated[int, typer.Option(min=1, max=1000)] = 50,
    as_json: AsJson = False,
    database_url: DatabaseUrl = None,
) -> None:
    """List notifications, newest first."""
    from paymux.api.notifications import notification_json
    from paymux.notify import outbox

    def action(ctx: Context) -> list[outbox.NotificationView]:
        flt = _filter(ctx, status, merchant_id=merchant, dialect=dialect, since=since, until=until)
        return ctx.store.read_sync(outbox.list_notifications, flt, limit)

    rows = _run(database_url, action)
    if as_json:
        typer.echo(json.dumps([notification_json(r) for r in rows], ensure_ascii=False))
        return
    table = Table("id", "merchant", "dialect", "event", "ref", "status", "tries", "last error")
    for r in rows:
        table.add_row(
            str(r.id), r.merchant_id, r.dialect, r.event, r.ref, r.status, str(r.attempts),
            r.last_error[:60],
        )  # fmt: skip
    console.print(table)


@notify_app.command("show")
def show_cmd(
    notification_id: Annotated[int, typer.Argument(help="Notification id.")],
    as_json: AsJson = False,
    database_url: DatabaseUrl = None,
) -> None:
    """One notification: its bytes, its headers and every attempt."""
    from paymux.api.notifications import detail_json
    from paymux.notify import outbox

    detail = _run(
        database_url, lambda ctx: ctx.store.read_sync(outbox.get_notification, notification_id)
    )
    data = detail_json(detail)
    if as_json:
        typer.echo(json.dumps(data, ensure_ascii=False))
        return
    attempt_log = data.pop("attempt_log")
    for key, value in data.items():
        console.print(f"[bold]{key:<16}[/bold] {value}", highlight=False, markup=False)
    table = Table("#", "started (UTC)", "status", "ms", "ok", "error", "response")
    for a in attempt_log:
        table.add_row(
            str(a["attempt_no"]), a["started_at"], str(a["status_code"] or ""),
            str(a["latency_ms"]), "yes" if a["success"] else "no", a["error"][:50],
            a["response_excerpt"][:40],
        )  # fmt: skip
    console.print(table)


@notify_app.command("retry")
def retry_cmd(
    ids: Annotated[list[int] | None, typer.Argument(help="Notification ids.")] = None,
    merchant: Merchant = None,
    dialect: Dialect = None,
    status: Annotated[
        str, typer.Option(help="Status to redeliver when no ids are given.")
    ] = "EXHAUSTED",
    since: Since = None,
    until: Until = None,
    database_url: DatabaseUrl = None,
) -> None:
    """Redeliver by id, or by filter (default: every EXHAUSTED one matching the filter)."""
    from paymux.notify import outbox
    from paymux.services import audit

    def action(ctx: Context) -> int:
        flt = _filter(
            ctx,
            "" if ids else status,
            tuple(ids or ()),
            merchant_id=merchant,
            dialect=dialect,
            since=since,
            until=until,
        )
        actor = audit.Actor("cli", getpass.getuser())
        return ctx.store.write_sync(outbox.redeliver_audited, actor, flt)

    count = _run(database_url, action)
    console.print(f"{count} notification(s) due for redelivery now")


def worker(
    concurrency: Annotated[
        int | None, typer.Option(help="Deliveries in flight (PAYMUX_NOTIFY_CONCURRENCY).")
    ] = None,
    metrics_port: Annotated[
        int, typer.Option(help="Serve Prometheus metrics on this port (0: off).")
    ] = 0,
    database_url: DatabaseUrl = None,
) -> None:
    """Deliver notifications and run timed jobs (scale mode); start as many as you like."""
    from paymux.app import register_notifiers
    from paymux.cli import settings_from
    from paymux.context import build_context
    from paymux.logs import configure
    from paymux.notify.config import NotifyConfig
    from paymux.notify.worker import run_worker

    configure()
    settings = settings_from(database_url)
    ctx = build_context(settings, migrate=False, single_process=False)
    try:
        register_notifiers(ctx)
        config = NotifyConfig.from_settings(settings).with_overrides(concurrency=concurrency)
        # uvloop, like `paymux serve` under uvicorn: the loop's own cost per delivery halves.
        uvloop.run(run_worker(ctx, config, metrics_port=metrics_port))
    finally:
        ctx.close()
