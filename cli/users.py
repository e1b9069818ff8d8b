"""``ecowatch users``: add, list, disable, enable accounts and change their role.

Each command parses, calls one function of :mod:`layers.accounts` and reports. Passwords are
read from ``--password-file`` (first line) or prompted for twice without echo; they are never
taken from the command line, where other users of the machine could read them.
"""

from __future__ import annotations

import logging
from pathlib import Path

import click

from cli.common import JobFailed, opened_store, settings_of, store_option
from config import EcowatchError, Settings
from layers.accounts import HashParams, add_account, list_accounts, set_disabled, set_role
from layers.redaction import ROLES

logger = logging.getLogger(__name__)


def hash_params(settings: Settings) -> HashParams:
    """The Argon2id cost the settings ask for."""
    return HashParams(settings.password_hash_time_cost, settings.password_hash_memory_kib, settings.password_hash_parallelism)


def read_password_file(path: Path) -> str:
    """The first line of ``path`` (without its line ending)."""
    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as err:
        raise JobFailed(f"{path}: cannot read the password file: {err}") from err
    lines = text.splitlines()
    if not lines or not lines[0]:
        raise JobFailed(f"{path}: the first line (the password) is empty")
    return lines[0]


@click.group()
def users() -> None:
    """Manage user accounts: who may log in to the map and review desk, with which role."""


@users.command("add")
@click.argument("name")
@click.option("--role", type=click.Choice(list(ROLES)), required=True, help="viewer, planner, analyst, ngo or admin (see README, 'Roles').")
@click.option("--email", metavar="E", help="E-mail address.")
@click.option("--password-file", type=click.Path(dir_okay=False, path_type=Path), help="Read the password from the first line of this file (else: prompt).")
@store_option
@click.pass_context
def add_cmd(ctx: click.Context, name: str, role: str, email: str | None, password_file: Path | None, store: str | None) -> None:
    """Add the account NAME with a role and a password."""
    settings = settings_of(ctx)
    if password_file is not None:
        password = read_password_file(password_file)
    else:
        password = click.prompt(f"Password for {name}", hide_input=True, confirmation_prompt=True)
    with opened_store(ctx, store) as st:
        try:
            account = add_account(st, name, role, password, params=hash_params(settings), min_length=settings.password_min_length, email=email)
        except EcowatchError as err:
            raise JobFailed(str(err)) from err
    click.echo(f"users: added {account.username} ({account.role})")


@users.command("list")
@store_option
@click.pass_context
def list_cmd(ctx: click.Context, store: str | None) -> None:
    """List the accounts: name, role, state, e-mail, last login."""
    with opened_store(ctx, store) as st:
        accounts = list_accounts(st)
    if not accounts:
        click.echo("no accounts yet: `ecowatch users add NAME --role admin`")
        return
    width = max(len(a.username) for a in accounts)
    for a in accounts:
        last = a.last_login.strftime("%Y-%m-%d %H:%M UTC") if a.last_login else "never"
        state = "disabled" if a.disabled else "active"
        click.echo(f"{a.username:<{width}}  {a.role:<7}  {state:<8}  last login {last}  {a.email or ''}".rstrip())


@users.command("disable")
@click.argument("name")
@store_option
@click.pass_context
def disable_cmd(ctx: click.Context, name: str, store: str | None) -> None:
    """Disable the account NAME: it can no longer log in, and its open sessions end now."""
    with opened_store(ctx, store) as st:
        try:
            set_disabled(st, name, True)
        except EcowatchError as err:
            raise JobFailed(str(err)) from err
    click.echo(f"users: {name} disabled")


@users.command("enable")
@click.argument("name")
@store_option
@click.pass_context
def enable_cmd(ctx: click.Context, name: str, store: str | None) -> None:
    """Enable the disabled account NAME again."""
    with opened_store(ctx, store) as st:
        try:
            set_disabled(st, name, False)
        except EcowatchError as err:
            raise JobFailed(str(err)) from err
    click.echo(f"users: {name} enabled")


@users.command("set-role")
@click.argument("name")
@click.argument("role", type=click.Choice(list(ROLES)))
@store_option
@click.pass_context
def set_role_cmd(ctx: click.Context, name: str, role: str, store: str | None) -> None:
    """Give the account NAME another ROLE (its open sessions end: it logs in again)."""
    with opened_store(ctx, store) as st:
        try:
            account = set_role(st, name, role)
        except EcowatchError as err:
            raise JobFailed(str(err)) from err
    click.echo(f"users: {account.username} is now {account.role}")
