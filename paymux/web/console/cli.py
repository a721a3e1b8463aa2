"""`paymux operator create|list|unlock`: console accounts from a shell.

The password never appears on the command line (it would sit in the shell
history and the process list): it is prompted for twice, or read from stdin
with `--password-stdin` for scripts. The CLI writes the audit log too, as
source `cli` with the local user's name.
"""

from __future__ import annotations

import getpass
import sys
from typing import Annotated, Any

import typer
from rich.console import Console
from rich.table import Table

from paymux.core.errors import PaymuxError
from paymux.services import audit, operators

operator_app = typer.Typer(help="Console operators.", no_args_is_help=True)
console = Console()

DatabaseUrl = Annotated[
    str | None, typer.Option("--database-url", help="Overrides PAYMUX_DATABASE_URL.")
]


def _actor() -> audit.Actor:
    return audit.Actor("cli", getpass.getuser())


def _write(database_url: str | None, fn: Any, *args: Any) -> Any:
    """One write through the services; a refusal prints its message and exits 2."""
    from paymux.cli import open_context

    ctx = open_context(database_url)
    try:
        return ctx.store.write_sync(fn, *args)
    except PaymuxError as exc:
        console.print(f"[red]{exc.message}[/red]")
        raise typer.Exit(2) from None
    finally:
        ctx.close()


def _create(
    uow: Any, actor: audit.Actor, username: str, password_hash: str, role: str
) -> operators.Operator:
    operator = operators.create_operator(uow, username, password_hash, role)
    audit.record(
        uow,
        actor,
        "operator.create",
        target_type="operator",
        target_id=username,
        after={"role": role},
    )
    return operator


@operator_app.command("create")
def create(
    username: Annotated[str, typer.Option("--username", help="Sign-in name.")],
    role: Annotated[str, typer.Option("--role", help="admin (everything) or viewer (read-only).")],
    password_stdin: Annotated[
        bool, typer.Option("--password-stdin", help="Read the password from standard input.")
    ] = False,
    database_url: DatabaseUrl = None,
) -> None:
    """Create a console operator; the password is prompted for (or read from stdin)."""
    if password_stdin:
        password = sys.stdin.readline().rstrip("\r\n")
    else:
        password = typer.prompt("Password", hide_input=True, confirmation_prompt=True)
    try:
        password_hash = operators.hash_password(password)
    except PaymuxError as exc:
        console.print(f"[red]{exc.message}[/red]")
        raise typer.Exit(2) from None
    operator = _write(database_url, _create, _actor(), username, password_hash, role)
    console.print(f"operator [bold]{operator.username}[/bold] created with role {operator.role}")


def _unlock(uow: Any, actor: audit.Actor, username: str) -> operators.Operator:
    operator = operators.unlock_operator(uow, username)
    audit.record(uow, actor, "operator.unlock", target_type="operator", target_id=username)
    return operator


@operator_app.command("unlock")
def unlock(
    username: Annotated[str, typer.Option("--username")],
    database_url: DatabaseUrl = None,
) -> None:
    """Lift a lock-out after too many failed sign-ins."""
    _write(database_url, _unlock, _actor(), username)
    console.print(f"operator [bold]{username}[/bold] unlocked")


@operator_app.command("list")
def list_operators(database_url: DatabaseUrl = None) -> None:
    """List operators, their role and whether they are locked out."""
    from paymux.cli import open_context

    ctx = open_context(database_url)
    try:
        rows = ctx.store.read_sync(operators.list_operators)
        now = ctx.env.clock.now()
    finally:
        ctx.close()
    table = Table("username", "role", "status", "locked until (UTC)", "last sign-in (UTC)")
    for op in rows:
        locked = op.locked_until if op.locked_until and op.locked_until > now else None
        table.add_row(
            op.username,
            op.role,
            op.status,
            locked.isoformat(timespec="seconds") if locked else "",
            op.last_login_at.isoformat(timespec="seconds") if op.last_login_at else "",
        )
    console.print(table)
