"""`paymux skill register|update|list` and `paymux platform-key`: the skill registry from a shell.

Like the rest of the CLI they open the database directly (`--database-url` or
PAYMUX_DATABASE_URL); a running server sees the change on its next request.
`paymux.cli` is imported inside the commands because it imports this module.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer
from rich.console import Console
from rich.table import Table

if TYPE_CHECKING:
    from paymux.context import Context

skill_app = typer.Typer(help="skillpay skills: keys and URLs.", no_args_is_help=True)
console = Console()

DatabaseUrl = Annotated[
    str | None, typer.Option("--database-url", help="Overrides PAYMUX_DATABASE_URL.")
]
KeyFile = Annotated[
    Path,
    typer.Option(
        "--public-key",
        exists=True,
        dir_okay=False,
        help="The skill's RSA public key: a PEM file, or a file holding the bare base64 body.",
    ),
]


def _run(database_url: str | None, fn: Any, *args: Any) -> Any:
    """One write through the services, with a service error printed and exit status 2."""
    from paymux.cli import open_context
    from paymux.core.errors import PaymuxError

    ctx: Context = open_context(database_url)
    try:
        return ctx.store.write_sync(fn, *args)
    except PaymuxError as exc:
        console.print(f"[red]{exc.message}[/red]")
        raise typer.Exit(2) from None
    finally:
        ctx.close()


@skill_app.command("register")
def register(
    merchant: Annotated[str, typer.Option("--merchant", help="The merchant id the skill is.")],
    public_key: KeyFile,
    create_order_url: Annotated[str, typer.Option("--create-order-url")],
    ship_url: Annotated[str, typer.Option("--ship-url")],
    refund_notify_url: Annotated[str, typer.Option("--refund-notify-url")],
    as_json: Annotated[bool, typer.Option("--json", help='Print {"skillId": ...}.')] = False,
    database_url: DatabaseUrl = None,
) -> None:
    """Register a merchant's skill: its public key and its three URLs; prints the new skillId."""
    from paymux.services import skills

    def _register(uow: Any) -> skills.Skill:
        return skills.register_skill(
            uow,
            merchant,
            public_key=public_key.read_text(),
            create_order_url=create_order_url,
            ship_url=ship_url,
            refund_notify_url=refund_notify_url,
        )

    skill = _run(database_url, _register)
    if as_json:
        typer.echo(json.dumps({"skillId": skill.skill_id}))
    else:
        console.print(f"skill [bold]{skill.skill_id}[/bold] registered for merchant {merchant}")


@skill_app.command("update")
def update(
    skill_id: Annotated[str, typer.Option("--skill-id")],
    public_key: Annotated[
        Path | None, typer.Option("--public-key", exists=True, dir_okay=False)
    ] = None,
    create_order_url: Annotated[str | None, typer.Option("--create-order-url")] = None,
    ship_url: Annotated[str | None, typer.Option("--ship-url")] = None,
    refund_notify_url: Annotated[str | None, typer.Option("--refund-notify-url")] = None,
    status: Annotated[str | None, typer.Option("--status", help="active or disabled")] = None,
    sandbox_refund: Annotated[
        str | None, typer.Option("--sandbox-refund", help="SUCCESS, FAIL or HOLD")
    ] = None,
    database_url: DatabaseUrl = None,
) -> None:
    """Rotate a skill's key, move its URLs, disable it, or set how the sandbox settles refunds."""
    from paymux.services import skills

    changes: dict[str, Any] = {
        "public_key": public_key.read_text() if public_key else None,
        "create_order_url": create_order_url,
        "ship_url": ship_url,
        "refund_notify_url": refund_notify_url,
        "status": status,
        "sandbox_refund": sandbox_refund,
    }
    changes = {k: v for k, v in changes.items() if v is not None}
    skill = _run(database_url, skills.update_skill, skill_id, changes)
    console.print(
        f"skill [bold]{skill.skill_id}[/bold] updated ({', '.join(changes) or 'no change'})"
    )


@skill_app.command("list")
def list_skills(
    as_json: Annotated[bool, typer.Option("--json", help="Print a JSON array.")] = False,
    database_url: DatabaseUrl = None,
) -> None:
    """List skills with their merchant, status and URLs."""
    from paymux.cli import open_context
    from paymux.services import skills

    ctx = open_context(database_url)
    try:
        rows = ctx.store.read_sync(skills.list_skills)
    finally:
        ctx.close()
    if as_json:
        keys = ("merchant_id", "status", "sandbox_refund", *skills.URL_FIELDS)
        items = [{"skillId": s.skill_id, **{k: getattr(s, k) for k in keys}} for s in rows]
        typer.echo(json.dumps(items))
        return
    table = Table("skillId", "merchant", "status", "create order / ship / refund notify")
    for s in rows:
        urls = "\n".join((s.create_order_url, s.ship_url, s.refund_notify_url))
        table.add_row(s.skill_id, s.merchant_id, s.status, urls)
    console.print(table)


def platform_key(database_url: DatabaseUrl = None) -> None:
    """Print the platform's public key (PEM): skills verify paymux's TSK-RSA2 signatures with it."""
    from paymux.cli import open_context

    ctx = open_context(database_url)
    try:
        typer.echo(ctx.platform_public_pem, nl=False)
    finally:
        ctx.close()
