"""Field values between pandas and PostgreSQL: the column type of each portable field type, the
parameters a write sends, and the columns a read gives back.

Writes send what :mod:`layers.values` makes for SQLite (ISO dates and times in UTC, JSON text with
sorted keys, NaN as NULL) with an explicit cast to the column's type, booleans as booleans; reads
turn psycopg's values (``date``, ``datetime``, parsed JSON) into the same pandas columns as the
GeoPackage store gives, so that both stores read back identical frames.
"""

from __future__ import annotations

from typing import Any

import pandas as pd

from layers.values import from_sql, to_sql, to_sql_column

PG_TYPES = {
    "text": "text", "integer": "bigint", "real": "double precision", "boolean": "boolean",
    "date": "date", "datetime": "timestamp", "json": "jsonb",
}
"""PostgreSQL column type of each :data:`layers.catalog.FieldType` (times are UTC, without zone)."""


def column_type(ftype: str) -> str:
    """The column type in a table's definition: text compares and sorts byte-wise (``COLLATE "C"``),
    as SQLite's does, so that ranges and orders agree with the GeoPackage's whatever the
    database's locale, and the indexes serve them."""
    return 'text COLLATE "C"' if ftype == "text" else PG_TYPES[ftype]


def placeholder(ftype: str) -> str:
    """A query parameter of field type ``ftype``, cast to its column type."""
    return f"%s::{PG_TYPES[ftype]}"


def to_pg(ftype: str, value: Any) -> Any:
    """One value as a query parameter for a :func:`placeholder` of ``ftype``."""
    out = to_sql(ftype, value)
    return bool(out) if ftype == "boolean" and out is not None else out


def to_pg_column(ftype: str, series: pd.Series) -> list[Any]:
    """:func:`to_pg` of every value of a column."""
    values = to_sql_column(ftype, series)
    if ftype == "boolean":
        return [None if v is None else bool(v) for v in values]
    return values


def from_pg(ftype: str, values: list[Any]) -> Any:
    """A pandas array of the values psycopg read from a column of field type ``ftype``."""
    if ftype in ("date", "datetime"):
        if not values:
            return pd.array([], dtype="datetime64[ns]")
        return pd.to_datetime(pd.Series(values, dtype="object")).astype("datetime64[ns]").array
    if ftype == "json":
        return pd.array(values, dtype=object)
    return from_sql(ftype, values)
