"""``ecowatch accuracy``: what the sample-mode reviews say about the alerts, with 95 % intervals."""

from __future__ import annotations

import datetime as dt

import click

from config import EcowatchError, Settings
from layers.accuracy import AccuracyReport, Estimate, estimate
from layers.review_sample import latest_sample, sample_units, strata_table
from layers.store import open_store


def _date(ctx: click.Context, param: click.Parameter, value: str | None) -> dt.date | None:
    if value is None:
        return None
    try:
        return dt.date.fromisoformat(value)
    except ValueError:
        raise click.BadParameter(f"{value!r} is not a date (YYYY-MM-DD)") from None


def _pct(e: Estimate | None) -> str:
    if e is None:
        return "-"
    return f"{100 * e.value:.1f} %" + ("" if e.half_width is None else f" +- {100 * e.half_width:.1f}")


def format_report(sample_id: str, table: object, report: AccuracyReport) -> str:
    """The report as text: one line per stratum, then the estimates over all of them, then notes."""
    lines = [f"accuracy sample {sample_id} (stratified estimators, Olofsson et al. 2014; 95 % intervals; sample-mode decisions only)",
             f"{'stratum':<28} {'alerts':>7} {'area ha':>10} {'sampled':>7} {'decided':>7} {'clearings':>9}  user's accuracy"]
    for row, res in zip(table.to_dict("records"), report.strata, strict=True):  # type: ignore[attr-defined]
        ua = _pct(res.accuracy) if row["alert"] else "(omission stratum)"
        alerts = str(row["units"]) if row["alert"] else ""
        lines.append(f"{row['stratum']:<28} {alerts:>7} {row['area_ha']:>10.1f} {row['sampled']:>7} {row['decided']:>7} {row['confirmed']:>9}  {ua}")
    lines.append(f"user's accuracy, all alerts: {_pct(report.users_accuracy)}")
    lines.append(f"producer's accuracy (1 - omission): {_pct(report.producers_accuracy)}")
    area = report.area_ha
    lines.append("area of clearing: " + ("-" if area is None else f"{area.value:.1f} ha" + ("" if area.half_width is None else f" +- {area.half_width:.1f}")))
    lines += [f"note: {n}" for n in report.notes]
    return "\n".join(lines)


@click.command("accuracy")
@click.option("--aoi", help="Only the strata of this AOI.")
@click.option("--from", "date_from", callback=_date, help="Only strata of periods ending on or after this day (YYYY-MM-DD).")
@click.option("--to", "date_to", callback=_date, help="Only strata of periods starting on or before this day.")
@click.option("--sample", "sample_id", help="Sample id (default: the latest drawn).")
@click.option("--store", metavar="PATH|URL", help="Store to use (default: from settings).")
@click.pass_context
def accuracy(ctx: click.Context, aoi: str | None, date_from: dt.date | None, date_to: dt.date | None, sample_id: str | None, store: str | None) -> None:
    """User's accuracy per stratum (and area and omission with a no-alert stratum), from the review sample."""
    settings = ctx.find_object(Settings)
    assert settings is not None
    try:
        with open_store(store or settings.store_url, create=False) as st:
            sid = sample_id or latest_sample(st)
            if sid is None:
                raise click.ClickException("no accuracy sample has been drawn: draw one on the review desk's sample page")
            table = strata_table(sample_units(st, sid), aoi=aoi, first=date_from, last=date_to)
    except EcowatchError as err:
        raise click.ClickException(str(err)) from err
    if table.empty:
        raise click.ClickException(f"sample {sid} has no stratum for these filters")
    click.echo(format_report(sid, table, estimate(table)))
