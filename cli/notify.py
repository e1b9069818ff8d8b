"""``ecowatch notify``: send the due watch-area digests (see :mod:`jobs.notify`).

Run it from cron (daily and weekly subscriptions) and after each analysis run (``after_run``
ones). Exit status 0 when the run completed — digests that could not be delivered this time stay
pending and are counted — and 1 when the store could not be used.
"""

from __future__ import annotations

import click

from cli.common import JobFailed, opened_store, settings_of, store_option
from config import EcowatchError


@click.command("notify")
@store_option
@click.pass_context
def notify(ctx: click.Context, store: str | None) -> None:
    """Send due watch-area digests by e-mail and webhook."""
    from jobs.notify import notify as run_notify

    with opened_store(ctx, store) as st:
        try:
            result = run_notify(st, settings_of(ctx))
        except EcowatchError as err:
            raise JobFailed(str(err)) from err
    for error in result.errors:
        click.echo(f"warning: {error}", err=True)
    click.echo(f"notify: {result.summary()}")
