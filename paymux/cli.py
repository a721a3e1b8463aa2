"""The `paymux` command: serve, db, merchants, ledger check, demo, admin token.

Every command takes `--database-url` (or `PAYMUX_DATABASE_URL`) and the other
PAYMUX_* variables of docs/operations.md.
"""

from __future__ import annotations

import json
import os
import sys
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.table import Table

from paymux.config import Settings
from paymux.context import Context, admin_token_for, build_context
from paymux.dialects.skillpay.cli import platform_key, skill_app
from paymux.notify.cli import notify_app, worker
from paymux.terminal import console
from paymux.web.console.cli import operator_app

app = typer.Typer(
    help="paymux: a self-hosted payment platform.", no_args_is_help=True, add_completion=False
)
db_app = typer.Typer(help="Database schema.", no_args_is_help=True)
merchant_app = typer.Typer(help="Merchants and their credentials.", no_args_is_help=True)
ledger_app = typer.Typer(help="The double-entry ledger.", no_args_is_help=True)
secrets_app = typer.Typer(help="Secrets at rest and the master key.", no_args_is_help=True)
app.add_typer(db_app, name="db")
app.add_typer(merchant_app, name="merchant")
app.add_typer(ledger_app, name="ledger")
app.add_typer(secrets_app, name="secrets")
app.add_typer(notify_app, name="notify")
app.add_typer(operator_app, name="operator")
app.command()(worker)
app.add_typer(skill_app, name="skill")
app.command("platform-key")(platform_key)

DatabaseUrl = Annotated[
    str | None, typer.Option("--database-url", help="Overrides PAYMUX_DATABASE_URL.")
]


def settings_from(database_url: str | None = None, **overrides: Any) -> Settings:
    if database_url:
        os.environ["PAYMUX_DATABASE_URL"] = database_url
    return Settings.from_env().with_overrides(**overrides)


def open_context(database_url: str | None = None, *, migrate: bool = True) -> Context:
    return build_context(settings_from(database_url), migrate=migrate)


@app.command()
def serve(
    host: Annotated[str, typer.Option(help="Interface to listen on.")] = "127.0.0.1",
    port: Annotated[int, typer.Option(help="TCP port.")] = 8000,
    workers: Annotated[int, typer.Option(help="Worker processes (scale mode).")] = 1,
    database_url: DatabaseUrl = None,
) -> None:
    """Start the server; embedded mode migrates, creates the demo merchant and prints it."""
    import uvicorn

    from paymux.app import create_app
    from paymux.demo import ensure_demo, print_welcome
    from paymux.http_protocol import PROTOCOL
    from paymux.logs import configure

    configure()
    public = os.environ.get("PAYMUX_PUBLIC_URL") or f"http://{host}:{port}"
    os.environ["PAYMUX_PUBLIC_URL"] = public
    ctx = open_context(database_url)
    demo = ensure_demo(ctx) if ctx.sandbox else None
    print_welcome(console, ctx, demo)
    if workers > 1:
        from paymux.workers import serve as serve_workers

        ctx.close()
        try:
            serve_workers(
                "paymux.app:create_app_from_env",
                host=host,
                port=port,
                workers=workers,
                factory=True,
            )
        except OSError as exc:
            console.print(f"[red]cannot listen on {host}:{port}: {exc.strerror or exc}[/red]")
            raise typer.Exit(1) from None
        return
    uvicorn.run(
        create_app(ctx),
        host=host,
        port=port,
        http=PROTOCOL,
        access_log=False,
        log_level="warning",
    )


@app.command("admin-token")
def admin_token() -> None:
    """Print the admin token (PAYMUX_ADMIN_TOKEN, or the one generated on first start)."""
    typer.echo(admin_token_for(settings_from()))


@db_app.command("upgrade")
def db_upgrade(database_url: DatabaseUrl = None) -> None:
    """Apply every pending migration."""
    ctx = open_context(database_url)
    ctx.close()
    console.print("[green]database is up to date[/green]")


@merchant_app.command("create")
def merchant_create(
    name: Annotated[str, typer.Option("--name", help="Merchant name.")],
    as_json: Annotated[bool, typer.Option("--json", help="Print one JSON object.")] = False,
    database_url: DatabaseUrl = None,
) -> None:
    """Create a merchant with credentials for every dialect (secrets are shown this once)."""
    from paymux.api.admin import credentials_json
    from paymux.core.errors import PaymuxError
    from paymux.services import merchants

    ctx = open_context(database_url)
    try:
        created = ctx.store.write_sync(merchants.create_merchant, name)
    except PaymuxError as exc:
        console.print(f"[red]{exc.message}[/red]")
        raise typer.Exit(2) from None
    finally:
        ctx.close()
    data = credentials_json(created)
    if as_json:
        typer.echo(json.dumps(data, ensure_ascii=False))
        return
    console.print(f"[bold]merchant {created.merchant.id}[/bold] ({name})")
    for dialect, creds in created.credentials.items():
        console.print(f"  {dialect:<10} " + "  ".join(f"{k}={v}" for k, v in creds.items()))


@merchant_app.command("list")
def merchant_list(database_url: DatabaseUrl = None) -> None:
    """List merchants."""
    from paymux.services import merchants

    ctx = open_context(database_url)
    try:
        rows = ctx.store.read_sync(merchants.list_merchants)
    finally:
        ctx.close()
    table = Table("merchant_id", "name", "status", "created_at (UTC)")
    for m in rows:
        table.add_row(m.id, m.name, m.status, m.created_at.isoformat(timespec="seconds"))
    console.print(table)


@ledger_app.command("check")
def ledger_check(database_url: DatabaseUrl = None) -> None:
    """Recompute every balance from the journal; exit 1 and report on any difference."""
    report_ledger(open_context(database_url))


def report_ledger(ctx: Context) -> None:
    """Run the ledger check on `ctx` (closing it) and print the result; exit 1 if not clean."""
    from paymux.services import ledger

    try:
        problems = ctx.store.read_sync(ledger.check_ledger)
    finally:
        ctx.close()
    if not problems:
        console.print(
            "[green]ledger clean[/green]: every cached balance matches the journal, "
            "every entry sums to zero"
        )
        return
    for problem in problems:
        console.print(f"[red]{problem.what}[/red] {problem.detail}")
    raise typer.Exit(1)


@app.command()
def backup(
    destination: Annotated[Path, typer.Argument(help="A new (or empty) directory.")],
    with_master_key: Annotated[
        bool, typer.Option(help="Also copy the master key (keep such a backup doubly safe).")
    ] = False,
    database_url: DatabaseUrl = None,
) -> None:
    """Copy the database while paymux runs (consistent: one snapshot) into DESTINATION."""
    from paymux import backup as backups

    try:
        made = backups.backup(
            settings_from(database_url), destination, with_master_key=with_master_key
        )
    except backups.BackupError as exc:
        console.print(f"[red]{exc}[/red]")
        raise typer.Exit(2) from None
    console.print(
        f"[green]backup written[/green] to {destination}: {made.database} at revision "
        f"{made.revision}, secrets sealed with master key {made.master_key_id}"
        + ("" if made.master_key_included else " (not included: keep it safe separately)")
    )


@app.command()
def restore(
    source: Annotated[Path, typer.Argument(help="A directory made by `paymux backup`.")],
    force: Annotated[bool, typer.Option(help="Replace an existing database.")] = False,
    database_url: DatabaseUrl = None,
) -> None:
    """Restore a backup into this data directory (or empty database), then check the ledger."""
    from paymux import backup as backups

    settings = settings_from(database_url)
    try:
        made = backups.restore(settings, source, force=force)
    except backups.BackupError as exc:
        console.print(f"[red]{exc}[/red]")
        raise typer.Exit(2) from None
    console.print(f"restored the {made.database} backup of {made.created_at}")
    report_ledger(build_context(settings))


@secrets_app.command("rotate-master-key")
def rotate_master_key(
    drop_previous: Annotated[
        bool, typer.Option(help="Forget the old key once nothing at rest needs it.")
    ] = False,
    database_url: DatabaseUrl = None,
) -> None:
    """Re-seal every secret at rest under a new master key, while paymux keeps running.

    With a key file: a new key goes in front of the old one (both open, the new one
    seals), running processes pick the file up within a second, then everything is
    re-sealed. With PAYMUX_MASTER_KEY: set the new key there and the old one in
    PAYMUX_MASTER_KEY_PREVIOUS on every process first; this re-seals under the new one.
    """
    import time

    from paymux.context import master_box
    from paymux.secretbox import RELOAD_S, SecretBox, new_master_key, write_key_file
    from paymux.services import keys

    settings = settings_from(database_url)
    box = master_box(settings)
    if not settings.master_key:
        write_key_file(settings.master_key_path, [new_master_key(), *box.keys])
        time.sleep(2 * RELOAD_S)  # every process now seals with the new key
    ctx = build_context(settings)
    try:
        counts = ctx.store.write_sync(keys.reseal_all)
        current = ctx.env.box.keys[0]
        left = ctx.store.read_sync(keys.unopenable, SecretBox([current]))
    finally:
        ctx.close()
    console.print(
        f"re-sealed under master key {ctx.env.box.key_id}: "
        + ", ".join(f"{n} {kind}" for kind, n in counts.items())
    )
    if left:
        console.print(f"[red]{left} values still need an older key: run the command again[/red]")
        raise typer.Exit(1)
    if drop_previous and not settings.master_key:
        write_key_file(settings.master_key_path, [current])
        console.print("previous master keys forgotten")
    elif settings.master_key:
        if settings.master_key_previous:
            console.print("nothing needs the old key now: remove PAYMUX_MASTER_KEY_PREVIOUS")
    elif len(ctx.env.box.keys) > 1:
        console.print("the old key still opens secrets until you forget it (--drop-previous)")


@app.command()
def demo(
    base_url: Annotated[str, typer.Option(help="A running paymux.")] = "http://127.0.0.1:8000",
) -> None:
    """Walk a whole vpay flow against a running server and print each step."""
    from paymux.demo import run_demo

    ctx = open_context()
    try:
        code = run_demo(console, ctx, base_url)
    finally:
        ctx.close()
    sys.exit(code)
