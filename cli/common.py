"""What every command shares: settings, opening (and closing) the store, running a job and
reporting it, progress bars.

Commands live in modules of their own and are registered on the group in :mod:`cli.main`;
they import this module, never :mod:`cli.main`.
"""

from __future__ import annotations

import logging
import shutil
import sys
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any

import click

from config import EcowatchError, Settings
from jobs.progress import Progress
from layers.store import Store

logger = logging.getLogger(__name__)


class JobFailed(click.ClickException):
    """A run failed; the message is shown as ``error: ...`` and the exit status is 1."""

    exit_code = 1


def settings_of(ctx: click.Context) -> Settings:
    settings = ctx.find_object(Settings)
    assert settings is not None
    return settings


def is_quiet(ctx: click.Context) -> bool:
    """Whether ``--quiet`` was given to the group."""
    root = ctx.find_root()
    return bool(root.meta.get("ecowatch.quiet", False))


@contextmanager
def opened_store(ctx: click.Context, store: str | None, *, readonly: bool = False, create: bool = True) -> Iterator[Store]:
    """The store named by ``--store`` (or the settings'), closed when the command ends.

    ``readonly``: read through read-only connections (no lock, no schema statement; a store that
    needs a migration is an error naming ``ecowatch store migrate``). ``create``: a writer creates
    a missing store.
    """
    from layers.store import open_store

    try:
        st = open_store(store or settings_of(ctx).store_url, create=create and not readonly, readonly=readonly)
    except EcowatchError as err:
        raise JobFailed(str(err)) from err
    with st:
        yield st


def store_option(func: Callable[..., Any]) -> Callable[..., Any]:
    return click.option("--store", metavar="PATH|URL", help="Store to use (default: from settings, a GeoPackage under the data folder).")(func)


def run_job(job: Callable[[], Any]) -> Any:
    """Call a job and return its run; ecowatch errors become exit status 1. The caller reports
    the run (:func:`report`) once its progress bar is closed."""
    try:
        return job()
    except EcowatchError as err:
        raise JobFailed(str(err)) from err


def report(run: Any) -> None:
    """Print a finished run's one-line summary."""
    if run is not None and getattr(run, "message", None):
        click.echo(f"{run.command}: {run.message}")


@contextmanager
def progress_bar(ctx: click.Context, label: str, unit: str = "it") -> Iterator[Progress | None]:
    """A :data:`jobs.progress.Progress` drawing a bar on standard error when it is a terminal.

    Yields ``None`` (the job then logs its progress) with ``--quiet`` or when standard error is
    not a terminal (a pipe, a file, CI), so logs stay free of bar redraws.
    """
    if is_quiet(ctx) or not sys.stderr.isatty():
        yield None
        return
    from tqdm import tqdm

    bars: list[Any] = []

    def update(done: int, total: int, what: str) -> None:
        if not bars:
            # a terminal that reports no size (a fresh pseudo-terminal) would get no bar at all:
            # tqdm hides a bar whose position is not above the terminal's last row
            size = shutil.get_terminal_size((80, 24))
            bars.append(tqdm(total=total, desc=label, unit=unit, file=sys.stderr, ncols=size.columns, nrows=size.lines, leave=True))
        bar = bars[0]
        if bar.total != total:
            bar.total = total
        bar.update(done - bar.n)
        bar.set_postfix_str(what, refresh=True)

    try:
        yield update
    finally:
        for bar in bars:
            bar.close()
