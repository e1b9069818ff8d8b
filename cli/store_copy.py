"""``ecowatch store copy --to URL``: the whole store into another (GeoPackage into PostGIS, or back), checked."""

from __future__ import annotations

import click

from cli.common import JobFailed, opened_store, store_option
from config import EcowatchError


@click.command("copy")
@click.option("--to", "target", required=True, metavar="PATH|URL", help="The store to copy into (a .gpkg path or a postgresql:// URL); its layers must be empty.")
@store_option
@click.pass_context
def store_copy(ctx: click.Context, target: str, store: str | None) -> None:
    """Copy every layer into another store, then check each by its row count and a checksum
    over normalised WKB and fields (printed per layer). Exit status 1 when any layer differs."""
    from layers.store_copy import copy_store

    with opened_store(ctx, store, readonly=True) as source, opened_store(ctx, target) as dest:
        try:
            checks = copy_store(source, dest)
        except EcowatchError as err:
            raise JobFailed(str(err)) from err
        width = max(len(c.layer) for c in checks)
        click.echo(f"{'layer':<{width}}  {'rows':>9}  {'copied':>9}  sha256 (normalised WKB + fields)")
        for c in checks:
            same = "" if c.ok else f"  DIFFERS: target {c.target_checksum}"
            click.echo(f"{c.layer:<{width}}  {c.source_rows:>9}  {c.target_rows:>9}  {c.source_checksum}{same}")
        bad = [c.layer for c in checks if not c.ok]
        if bad:
            raise JobFailed(f"the copy in {dest.url} differs from {source.url} in: {', '.join(bad)}")
        total = sum(c.target_rows for c in checks)
        click.echo(f"store copy: {total} rows in {len(checks)} layers from {source.url} to {dest.url}; every checksum matches")
