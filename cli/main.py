"""The ``ecowatch`` command line: each command parses its arguments, calls one function and reports.

Exit status: 0 when the run completed (rejected records are counted in the summary and kept in
the rejects file), 1 when it failed and the store is unchanged, 2 for a usage error.
"""

from __future__ import annotations

import datetime as dt
import logging
import os
import sys
from pathlib import Path
from typing import TYPE_CHECKING, Any

import click
import pandas as pd

from cli.common import (
    JobFailed,
    opened_store,
    progress_bar,
    report,
    run_job,
    settings_of,
    store_option,
)
from cli.partner import partner_options, partner_source
from cli.tokens import tokens
from cli.users import users
from config import EcowatchError, SettingsError, load_settings

if TYPE_CHECKING:
    from ingest.mapping import FieldMapping

logger = logging.getLogger(__name__)


def _date(ctx: click.Context, param: click.Parameter, value: str | None) -> dt.date | None:
    if value is None:
        return None
    try:
        return dt.date.fromisoformat(value)
    except ValueError:
        raise click.BadParameter(f"{value!r} is not a date (YYYY-MM-DD)") from None


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
@click.option("-v", "--verbose", is_flag=True, help="Log more detail.")
@click.option("-q", "--quiet", is_flag=True, help="No progress bars and no log lines below warnings; summaries and errors still print.")
@click.pass_context
def cli(ctx: click.Context, verbose: bool, quiet: bool) -> None:
    """ecowatch: flag suspected illegal logging from Sentinel-2, match it with seizures, map it.

    Settings come from config/defaults.toml and ECOWATCH_* environment variables.
    """
    try:
        settings = load_settings(os.environ)
    except SettingsError as err:
        raise click.UsageError(str(err)) from err
    level = logging.DEBUG if verbose else logging.WARNING if quiet else getattr(logging, settings.log_level)
    logging.basicConfig(level=level, format="%(levelname)s %(name)s: %(message)s", stream=sys.stderr)
    ctx.meta["ecowatch.quiet"] = quiet
    ctx.obj = settings


@cli.group()
def ingest() -> None:
    """Load boundaries, seizure records and imagery into the store."""


@ingest.command("boundaries")
@click.argument("kind", type=click.Choice(["aoi", "concessions", "protected-areas", "corridors", "border-crossings", "countries"]))
@click.argument("file", type=click.Path(path_type=Path), required=False)
@partner_options
@click.option("--crs", help="CRS of a file that has none (e.g. a Shapefile without .prj), e.g. EPSG:32648.")
@click.option("--mapping", type=click.Path(exists=True, dir_okay=False, path_type=Path), help="Field mapping file (TOML).")
@click.option("--map", "pairs", multiple=True, metavar="FIELD=COLUMN", help="Map a layer field to a column (repeatable).")
@click.option("--sheet", metavar="NAME", help="Layer to read from a file (or dataset from a zip) that holds several.")
@click.option("--strict", is_flag=True, help="Fail the run if any feature is rejected.")
@store_option
@click.pass_context
def ingest_boundaries_cmd(
    ctx: click.Context, kind: str, file: Path | None, from_ogcapi: str | None, collection: str | None, token_env: str | None,
    crs: str | None, mapping: Path | None, pairs: tuple[str, ...], sheet: str | None, strict: bool, store: str | None
) -> None:
    """Load a boundary FILE as KIND: GeoJSON, Shapefile (.shp or zipped), GeoPackage, KML/KMZ or FlatGeobuf;
    or a partner's OGC API - Features collection (--from-ogcapi URL --collection ID)."""
    from jobs.ingest_boundaries import ingest_boundaries

    fm = _field_mapping(mapping, pairs)
    if from_ogcapi is not None or file is None:
        from jobs.ingest_partner import ingest_partner_boundaries

        url, name, token = partner_source(file, from_ogcapi, collection, token_env)
        with opened_store(ctx, store) as st, progress_bar(ctx, f"{kind} {name}", "feature") as progress:
            run = run_job(lambda: ingest_partner_boundaries(st, settings_of(ctx), kind, url, name, token=token, mapping=fm, progress=progress))
        report(run)
        return
    with opened_store(ctx, store) as st, progress_bar(ctx, f"{kind} {file.name}", "feature") as progress:
        run = run_job(lambda: ingest_boundaries(st, settings_of(ctx), kind, file, mapping=fm, crs=crs, strict=strict, layer_name=sheet, progress=progress))
    report(run)


def _field_mapping(mapping: Path | None, pairs: tuple[str, ...]) -> FieldMapping:
    """The mapping file (if any) with the ``--map FIELD=COLUMN`` overrides; a bad file fails the
    run, a bad pair is a usage error on ``--map``."""
    from ingest.mapping import FieldMapping

    try:
        return (FieldMapping.from_file(mapping) if mapping else FieldMapping()).with_overrides(pairs)
    except EcowatchError as err:
        raise JobFailed(str(err)) from err
    except ValueError as err:
        raise click.BadParameter(str(err), param_hint="--map") from err


@ingest.command("seizures")
@click.argument("file", type=click.Path(path_type=Path), required=False)
@partner_options
@click.option("--mapping", type=click.Path(exists=True, dir_okay=False, path_type=Path), help="Mapping file (TOML): columns, date format, value tables, encoding.")
@click.option("--map", "pairs", multiple=True, metavar="FIELD=COLUMN", help="Map a schema field to a column (repeatable).")
@click.option("--sheet", metavar="NAME", help="Sheet of an XLSX workbook that holds several.")
@click.option("--strict", is_flag=True, help="Fail the run if any row is rejected.")
@store_option
@click.pass_context
def ingest_seizures_cmd(
    ctx: click.Context, file: Path | None, from_ogcapi: str | None, collection: str | None, token_env: str | None,
    mapping: Path | None, pairs: tuple[str, ...], sheet: str | None, strict: bool, store: str | None,
) -> None:
    """Load timber and wildlife seizure records from a CSV, XLSX or GeoJSON FILE (schema: README, "Seizure records"),
    or a partner's shared seizures (--from-ogcapi URL --collection ID: README, "A partner's ecowatch")."""
    from jobs.ingest_seizures import ingest_seizures

    if from_ogcapi is not None or file is None:
        from jobs.ingest_partner import ingest_partner_seizures

        url, name, token = partner_source(file, from_ogcapi, collection, token_env)
        with opened_store(ctx, store) as st, progress_bar(ctx, f"seizures {name}", "stage") as progress:
            run = run_job(lambda: ingest_partner_seizures(st, settings_of(ctx), url, name, token=token, progress=progress))
        report(run)
        return
    fm = _field_mapping(mapping, pairs)
    with opened_store(ctx, store) as st, progress_bar(ctx, f"seizures {file.name}", "stage") as progress:
        run = run_job(lambda: ingest_seizures(st, settings_of(ctx), file, mapping=fm, strict=strict, sheet=sheet, progress=progress))
    report(run)


@ingest.command("imagery")
@click.option("--provider", type=click.Choice(["sentinelhub", "stac", "local"]), required=True,
              help="Sentinel Hub (or Copernicus Data Space) account, a public STAC API, or GeoTIFFs in --path.")
@click.option("--path", "path", type=click.Path(path_type=Path), help="Folder of GeoTIFFs (local provider).")
@click.option("--aoi", required=True, help="AOI name (from the aoi layer).")
@click.option("--from", "date_from", required=True, callback=_date, help="First date, YYYY-MM-DD.")
@click.option("--to", "date_to", required=True, callback=_date, help="Last date, YYYY-MM-DD.")
@click.option("--max-cloud", type=click.FloatRange(0, 100), default=100.0, show_default=True, help="Skip scenes cloudier than this over the AOI, %.")
@click.option("--refresh", is_flag=True, help="Fetch again what the imagery cache already holds.")
@store_option
@click.pass_context
def ingest_imagery_cmd(
    ctx: click.Context, provider: str, path: Path | None, aoi: str, date_from: dt.date, date_to: dt.date, max_cloud: float, refresh: bool, store: str | None
) -> None:
    """Fetch Sentinel-2 L2A acquisitions over an AOI and period onto the AOI's grid and register them.

    Remote scenes are kept as COGs in the imagery cache: a second run downloads nothing.
    """
    from jobs.ingest_imagery import ingest_imagery

    if provider == "local" and path is None:
        raise click.UsageError("--provider local needs --path DIR")
    if provider != "local" and path is not None:
        raise click.UsageError(f"--path is for --provider local; --provider {provider} fetches into the imagery cache")
    if date_to < date_from:
        raise click.BadParameter("--to is before --from", param_hint="--to")
    with opened_store(ctx, store) as st, progress_bar(ctx, f"{provider} {aoi}", "scene") as progress:
        run = run_job(lambda: ingest_imagery(
            st, settings_of(ctx), provider=provider, path=path, aoi=aoi, date_from=date_from, date_to=date_to,
            max_cloud=max_cloud, refresh=refresh, progress=progress,
        ))
    report(run)


def _period(ctx: click.Context, param: click.Parameter, value: str) -> Any:
    from jobs.detect import Period

    try:
        return Period.parse(value)
    except ValueError as err:
        raise click.BadParameter(str(err)) from None


@cli.command()
@click.option("--aoi", required=True, help="AOI name.")
@click.option("--baseline", required=True, callback=_period, metavar="FROM/TO", help="Baseline period, e.g. 2023-01-01/2023-12-31.")
@click.option("--monitor", required=True, callback=_period, metavar="FROM/TO", help="Monitoring period.")
@click.option("--scheduler", metavar="ADDRESS", help="Dask scheduler to run the windows on, e.g. tcp://10.0.0.5:8786 (default: settings' scheduler; empty: local threads).")
@store_option
@click.pass_context
def detect(ctx: click.Context, aoi: str, baseline: Any, monitor: Any, scheduler: str | None, store: str | None) -> None:
    """Detect clearings over an AOI: cloud-masked NDVI and NBR drops against a seasonal baseline, confirmed by the next observation."""
    from jobs.detect import detect as run_detect

    with opened_store(ctx, store) as st, progress_bar(ctx, f"detect {aoi}", "window") as progress:
        run = run_job(lambda: run_detect(st, settings_of(ctx), aoi=aoi, baseline=baseline, monitor=monitor, scheduler=scheduler, progress=progress))
    report(run)


@cli.command()
@store_option
@click.pass_context
def analyse(ctx: click.Context, store: str | None) -> None:
    """Flag clearings (protected area, concessions) with reasons and risk; match them with seizures."""
    from jobs.analyse import analyse as run_analyse

    with opened_store(ctx, store) as st, progress_bar(ctx, "analyse", "stage") as progress:
        run = run_job(lambda: run_analyse(st, settings_of(ctx), progress=progress))
    report(run)


@cli.command()
@click.argument("layer")
@click.option("--format", "fmt", type=click.Choice(["geojson", "gpkg", "csv", "xlsx", "kml"]), default="geojson", show_default=True, help="Output format.")
@click.option("-o", "--output", type=click.Path(dir_okay=False, path_type=Path), help="Output file (default: stdout; gpkg and xlsx need a file).")
@click.option("--bbox", metavar="W,S,E,N", help="Only features intersecting this lon/lat box.")
@click.option("--from", "date_from", metavar="DATE", help="The map's filter: first detected (clearings) or seized (seizures) on or after DATE.")
@click.option("--to", "date_to", metavar="DATE", help="... on or before DATE.")
@click.option("--filter", "filters", multiple=True, metavar="NAME=VALUE",
              help="The map's filters (repeatable): period, confidence, flag, risk, status, aoi, commodity, country (README, 'Exports').")
@click.option("--where", "wheres", multiple=True, metavar="FIELD=VALUE", help="Only features whose FIELD equals VALUE (repeatable).")
@click.option("--role", type=click.Choice(["viewer", "planner", "analyst", "ngo", "admin"]), default="ngo", show_default=True,
              help="Export what this role may see: ngo (the default, safe to share: no law-enforcement detail, seizures generalised), viewer (public layers only) or planner/analyst/admin (everything).")
@store_option
@click.pass_context
def export(ctx: click.Context, layer: str, fmt: str, output: Path | None, bbox: str | None, date_from: str | None, date_to: str | None,
           filters: tuple[str, ...], wheres: tuple[str, ...], role: str, store: str | None) -> None:
    """Export LAYER as GeoJSON (RFC 7946), GeoPackage, CSV, XLSX or KML, with its provenance."""
    from layers.bbox import parse_bbox
    from layers.errors import FilterError
    from layers.export import export_layer, parse_where
    from layers.filters import MAP_FILTER_NAMES, parse_filters
    from layers.opaque_ids import load_id_key
    from layers.redaction import Access, check_role

    asked: dict[str, list[str]] = {}
    pairs = [("from", date_from or ""), ("to", date_to or "")] + [(p.partition("=")[0], p.partition("=")[2]) for p in filters]
    for name, value in pairs:
        if value:
            asked.setdefault(name, []).append(value)
    try:
        box = parse_bbox(bbox) if bbox else None
        where = parse_where(layer, wheres, role)
        chosen = parse_filters(asked, names=MAP_FILTER_NAMES) if asked else None
    except (ValueError, FilterError) as err:
        raise click.BadParameter(str(err)) from None
    access = Access(check_role(role))
    with opened_store(ctx, store, readonly=True) as st:
        try:
            if access.generalised:
                access = Access(access.role, load_id_key(settings_of(ctx)))
            n = export_layer(st, layer, output, fmt=fmt, bbox=box, where=where, filters=chosen, role=access)
        except EcowatchError as err:
            raise JobFailed(str(err)) from err
    _log_export(ctx, store, layer, role, f"{n} feature(s) as {fmt} to {output or 'stdout'}")
    if output is not None:
        click.echo(f"export {layer}: {n} feature(s) written to {output}")


def _log_export(ctx: click.Context, store: str | None, layer: str, role: str, detail: str) -> None:
    """An export from the command line, in the access log (the OS user stands for the account).

    A store that cannot be written here (a read-only file system) has still been exported; a
    warning says that the export went unrecorded.
    """
    import getpass

    from layers.access_log import record_event
    from layers.errors import StoreBusyError, StoreError, StoreFullError
    from layers.store import open_store

    try:
        with open_store(store or settings_of(ctx).store_url, create=False) as writer:
            record_event(writer, "export", username=f"cli:{getpass.getuser()}", role=role, method="cli", path=f"export {layer}", detail=detail)
    except (StoreBusyError, StoreFullError) as err:
        raise JobFailed(f"exported, but the access log could not record it: {err}") from err
    except StoreError as err:
        logger.warning("export of %s not recorded in the access log (the store cannot be written here): %s", layer, err)


@cli.command()
@click.option("--limit", type=click.IntRange(1), default=20, show_default=True, help="How many of the latest runs.")
@store_option
@click.pass_context
def runs(ctx: click.Context, limit: int, store: str | None) -> None:
    """List the latest ingest and analysis runs."""
    with opened_store(ctx, store, readonly=True) as st:
        frame = st.read("ingest_runs").sort_values("started").tail(limit)
    for r in frame.itertuples():
        click.echo(
            f"{r.run_id}  {r.status:<9}  {_duration(r.started, r.finished):>8}  {r.command}  "
            f"read {r.n_read} written {r.n_written} rejected {r.n_rejected}  {r.message or ''}"
        )
    if frame.empty:
        click.echo("no runs yet")


def _duration(started: Any, finished: Any) -> str:
    """``1.2 s``, ``3 min 04 s``, ``1 h 02 min``; ``-`` when a time is missing."""
    if started is None or finished is None or pd.isna(started) or pd.isna(finished):
        return "-"
    seconds = (pd.Timestamp(finished) - pd.Timestamp(started)).total_seconds()
    if seconds < 60:
        return f"{seconds:.1f} s"
    if seconds < 3600:
        return f"{int(seconds // 60)} min {int(seconds % 60):02d} s"
    return f"{int(seconds // 3600)} h {int(seconds % 3600 // 60):02d} min"


@cli.group("store")
def store_group() -> None:
    """Look after the store itself."""


@store_group.command("migrate")
@store_option
@click.pass_context
def store_migrate(ctx: click.Context, store: str | None) -> None:
    """Bring the store's schema up to date with this version of ecowatch (readers refuse an older one)."""
    with opened_store(ctx, store, create=False) as st:
        changes = st.migrated
    click.echo(f"store {st.url}: " + ("; ".join(changes) + ": migrated" if changes else "up to date"))


@cli.command()
@click.option("--no-serve", is_flag=True, help="Build the demo store and stop; do not serve the map.")
@click.option("--seed", type=int, default=None, help="Seed of the synthetic scenes and seizures (default: the region's).")
@store_option
@click.pass_context
def demo(ctx: click.Context, no_serve: bool, seed: int | None, store: str | None) -> None:
    """Build the bundled demo region's store (boundaries, synthetic imagery, detection, analysis), then serve the map."""
    from cli.demo import run_demo

    settings = settings_of(ctx)
    try:
        run_demo(settings, store or settings.store_url, seed=seed, serve=not no_serve,
                 bars=lambda label, unit: progress_bar(ctx, label, unit))
    except EcowatchError as err:
        raise JobFailed(str(err)) from err


@cli.command()
@click.option("--host", help="Address to bind (default from settings: 127.0.0.1, this machine only).")
@click.option("--port", type=click.IntRange(1, 65535), help="Port (default from settings).")
@click.option("--debug", is_flag=True, help="Werkzeug's development server instead of waitress (not for production).")
@store_option
@click.pass_context
def serve(ctx: click.Context, host: str | None, port: int | None, debug: bool, store: str | None) -> None:
    """Serve the map of the store under waitress (offline: every asset is served by the app; every page asks for a login)."""
    from web import serve as serve_map

    settings = settings_of(ctx)
    try:
        serve_map(settings, host, port, store_url=store or settings.store_url, debug=debug)
    except EcowatchError as err:
        raise JobFailed(str(err)) from err
    except OSError as err:
        raise JobFailed(f"cannot serve on {host or settings.host}:{port or settings.port}: {err}") from err


from cli.accuracy import accuracy as _accuracy  # noqa: E402 - a command in its own module
from cli.notify import notify as _notify  # noqa: E402 - a command in its own module
from cli.report import report as _report  # noqa: E402 - a command in its own module

cli.add_command(_accuracy)
cli.add_command(_report)
cli.add_command(_notify)
from cli.store_copy import store_copy as _store_copy  # noqa: E402 - a command in its own module

store_group.add_command(_store_copy)
cli.add_command(users)
cli.add_command(tokens)


def main() -> None:
    """Console-script entry point."""
    cli(prog_name="ecowatch")


if __name__ == "__main__":
    main()
