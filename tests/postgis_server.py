"""The PostGIS server the tests use: the one scripts/postgis.sh starts, named by POSTGIS_TEST_URL.

Each test gets a schema of its own (created here, dropped after it), so tests never see each
other's rows and need no database of their own. Without a server the test is skipped with the
reason; with CI=true it fails, so that CI never passes without its PostGIS leg.
"""

from __future__ import annotations

import os
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from urllib.parse import quote

import pytest

URL_VARIABLE = "POSTGIS_TEST_URL"
"""Not an ``ECOWATCH_*`` name: the settings refuse ``ECOWATCH_*`` variables they do not know."""


def server_url() -> str:
    """The test server's URL; skips (or, with CI=true, fails) the test without one."""
    url = os.environ.get(URL_VARIABLE, "")
    if url:
        return url
    why = f"PostGIS: no test server ({URL_VARIABLE} unset); run the tests under `bash scripts/postgis.sh`"
    if os.environ.get("CI") == "true":
        pytest.fail(why + " (CI=true: the PostGIS leg must run)")
    pytest.skip(why)


def schema_url(url: str, schema: str) -> str:
    """``url`` with ``schema`` first on its search path (PostGIS's ``public`` after it)."""
    options = quote(f"-csearch_path={schema},public", safe="")
    return f"{url}{'&' if '?' in url else '?'}options={options}"


@contextmanager
def fresh_schema() -> Iterator[str]:
    """The URL of a new, empty schema in the test server, dropped (with all in it) afterwards."""
    import psycopg

    url = server_url()
    schema = f"test_{uuid.uuid4().hex[:12]}"
    with psycopg.connect(url, autocommit=True) as admin:
        admin.execute(f'CREATE SCHEMA "{schema}"')
    try:
        yield schema_url(url, schema)
    finally:
        with psycopg.connect(url, autocommit=True) as admin:
            admin.execute(f'DROP SCHEMA "{schema}" CASCADE')
