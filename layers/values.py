"""Field values between pandas and SQLite: dates as ISO text, JSON as text, booleans as 0/1, NaN as NULL."""

from __future__ import annotations

from typing import Any

import numpy as np
import orjson
import pandas as pd

SQL_TYPES = {
    "text": "TEXT", "integer": "INTEGER", "real": "REAL", "boolean": "BOOLEAN",
    "date": "DATE", "datetime": "DATETIME", "json": "TEXT",
}


def is_null(value: Any) -> bool:
    if value is None or value is pd.NaT:
        return True
    if isinstance(value, float) and np.isnan(value):
        return True
    return value is pd.NA


def to_sql(ftype: str, value: Any) -> Any:
    if is_null(value):
        return None
    if ftype == "json":
        return orjson.dumps(value, option=orjson.OPT_SORT_KEYS | orjson.OPT_SERIALIZE_NUMPY).decode()
    if ftype == "date":
        return pd.Timestamp(value).date().isoformat()
    if ftype == "datetime":
        ts = pd.Timestamp(value)
        ts = ts.tz_convert("UTC").tz_localize(None) if ts.tzinfo else ts
        return ts.isoformat(timespec="seconds") + "Z"
    if ftype == "boolean":
        return int(bool(value))
    if ftype == "integer":
        return int(value)
    if ftype == "real":
        return float(value)
    return str(value)


def to_sql_column(ftype: str, series: pd.Series) -> list[Any]:
    return [to_sql(ftype, v) for v in series.tolist()]


def from_sql(ftype: str, values: list[Any]) -> Any:
    if ftype in ("date", "datetime"):
        if not values:
            return pd.array([], dtype="datetime64[ns]")
        parsed = pd.to_datetime(pd.Series(values, dtype="object"), utc=True, format="ISO8601")
        return parsed.dt.tz_localize(None).astype("datetime64[ns]").array
    if ftype == "json":
        return pd.array([None if v is None else orjson.loads(v) for v in values], dtype=object)
    if ftype == "boolean":
        return pd.array([None if v is None else bool(v) for v in values], dtype="boolean")
    if ftype == "integer":
        return pd.array(values, dtype="Int64")
    if ftype == "real":
        return pd.array([np.nan if v is None else v for v in values], dtype="float64")
    return pd.array(values, dtype=object)
