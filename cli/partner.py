"""The ``--from-ogcapi URL --collection ID [--token-env NAME]`` options of ``ecowatch ingest``.

The token is read from the environment variable the command names, never from the command line
(where other users of the machine could read it in the process list); the FILE argument is then
left out.
"""

from __future__ import annotations

import logging
import os
from collections.abc import Callable
from pathlib import Path
from typing import Any

import click

logger = logging.getLogger(__name__)


def partner_options(func: Callable[..., Any]) -> Callable[..., Any]:
    """Add ``--from-ogcapi``, ``--collection`` and ``--token-env`` to an ingest command."""
    func = click.option("--token-env", metavar="NAME", help="Environment variable holding the partner's API token (Authorization: Bearer).")(func)
    func = click.option("--collection", metavar="ID", help="The partner's collection id (with --from-ogcapi).")(func)
    return click.option("--from-ogcapi", metavar="URL", help="A partner's OGC API - Features landing page, instead of FILE.")(func)


def partner_source(file: Path | None, url: str | None, collection: str | None, token_env: str | None) -> tuple[str, str, str | None]:
    """(URL, collection, token) of a ``--from-ogcapi`` ingest; usage errors for a missing or extra piece."""
    if url is None:
        raise click.UsageError("give FILE, or --from-ogcapi URL --collection ID")
    if file is not None:
        raise click.UsageError("give either FILE or --from-ogcapi, not both")
    if not collection:
        raise click.UsageError("--from-ogcapi needs --collection ID (the partner's /collections lists them)")
    token = None
    if token_env is not None:
        # the one read of the environment outside config/: the variable is named by the user, per run
        token = os.environ.get(token_env)
        if not token:
            raise click.UsageError(f"--token-env {token_env}: the environment variable {token_env} is not set or empty")
    return url, collection, token
