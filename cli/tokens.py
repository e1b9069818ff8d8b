"""``ecowatch tokens``: make, list and revoke API tokens (``Authorization: Bearer`` for the API).

Each command parses, calls one function of :mod:`layers.api_tokens` and reports. ``tokens add``
prints the token once, on standard output alone (so ``TOKEN=$(ecowatch tokens add ...)`` works);
only its hash is stored, so a lost token is revoked and replaced, never shown again.
"""

from __future__ import annotations

import logging

import click

from cli.common import JobFailed, opened_store, store_option
from config import EcowatchError
from layers.api_tokens import MAX_EXPIRY_DAYS, add_token, list_tokens, revoke_token
from layers.redaction import ROLES

logger = logging.getLogger(__name__)


@click.group()
def tokens() -> None:
    """Manage API tokens: programs (QGIS, GDAL, a partner's ecowatch) reading the API as a role."""


@tokens.command("add")
@click.argument("name")
@click.option("--role", type=click.Choice(list(ROLES)), required=True, help="The role the token reads as (ngo for partners: see README, 'Roles').")
@click.option("--expires", "days", type=click.FloatRange(min=0, min_open=True, max=MAX_EXPIRY_DAYS), metavar="DAYS",
              help="Stop working after DAYS days (default: until revoked).")
@store_option
@click.pass_context
def add_cmd(ctx: click.Context, name: str, role: str, days: float | None, store: str | None) -> None:
    """Make the token NAME and print it (once: only its hash is kept)."""
    with opened_store(ctx, store) as st:
        try:
            token = add_token(st, name, role, expires_days=days)
        except EcowatchError as err:
            raise JobFailed(str(err)) from err
    until = f"for {days:g} day(s)" if days is not None else "until revoked"
    click.echo(f"tokens: added {name} ({role}), valid {until}; copy it now, it is not shown again:", err=True)
    click.echo(token)


@tokens.command("list")
@store_option
@click.pass_context
def list_cmd(ctx: click.Context, store: str | None) -> None:
    """List the tokens: name, id, role, state, expiry, last use (never the token)."""
    with opened_store(ctx, store) as st:
        found = list_tokens(st)
    if not found:
        click.echo("no tokens yet: `ecowatch tokens add NAME --role ngo`")
        return
    width = max(len(t.name) for t in found)

    def when(value: object) -> str:
        return value.strftime("%Y-%m-%d %H:%M UTC") if hasattr(value, "strftime") else "never"

    for t in found:
        click.echo(f"{t.name:<{width}}  {t.token_id}  {t.role:<7}  {t.state():<7}  expires {when(t.expires)}  last used {when(t.last_used)}")


@tokens.command("revoke")
@click.argument("name")
@store_option
@click.pass_context
def revoke_cmd(ctx: click.Context, name: str, store: str | None) -> None:
    """Revoke the token NAME now: the next request made with it is refused (401)."""
    with opened_store(ctx, store) as st:
        try:
            revoke_token(st, name)
        except EcowatchError as err:
            raise JobFailed(str(err)) from err
    click.echo(f"tokens: {name} revoked")
