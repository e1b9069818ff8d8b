"""Field values between pandas and SQLite: dates as ISO text, JSON as text, booleans as 0/1, NaN as NULL."""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
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


_COLUMN_WISE_FROM = 64  # rows; below, the per-value path is the quicker one


def to_sql_column(ftype: str, series: pd.Series) -> list[Any]:
    """:func:`to_sql` of every value of a column, converted column-wise where its dtype allows."""
    convert = _COLUMN_CONVERTERS.get(ftype) if len(series) >= _COLUMN_WISE_FROM else None
    out = convert(series) if convert is not None else None
    return [to_sql(ftype, v) for v in series.tolist()] if out is None else out


def _nulls_to_none(values: list[Any], missing: np.ndarray) -> list[Any]:
    for i in np.flatnonzero(missing).tolist():
        values[i] = None
    return values


def _text_column(series: pd.Series) -> list[Any] | None:
    if isinstance(series.dtype, pd.StringDtype):
        return list(series.to_numpy(dtype=object, na_value=None))
    if series.dtype == object:
        return [v if type(v) is str or v is None else to_sql("text", v) for v in series.tolist()]
    return None


def _real_column(series: pd.Series) -> list[Any] | None:
    if not (pd.api.types.is_float_dtype(series.dtype) or pd.api.types.is_integer_dtype(series.dtype)):
        return None
    values = series.to_numpy(dtype=np.float64, na_value=np.nan)
    return _nulls_to_none(values.tolist(), np.isnan(values))


def _integer_column(series: pd.Series) -> list[Any] | None:
    dtype = series.dtype
    if not (pd.api.types.is_integer_dtype(dtype) or pd.api.types.is_bool_dtype(dtype)) or (dtype.kind == "u" and dtype.itemsize == 8):
        return None
    return _nulls_to_none(series.to_numpy(dtype=np.int64, na_value=0).tolist(), series.isna().to_numpy())


def _boolean_column(series: pd.Series) -> list[Any] | None:
    return _integer_column(series) if pd.api.types.is_bool_dtype(series.dtype) else None


def _days_column(series: pd.Series, ftype: str) -> list[Any] | None:
    """ISO dates (``date``) or UTC times to the second with a ``Z`` (``datetime``) of a datetime64 column."""
    if not pd.api.types.is_datetime64_any_dtype(series.dtype):
        return None
    times = series
    if times.dt.tz is not None:
        # a date is the one on the local calendar; a time is written in UTC
        times = times.dt.tz_localize(None) if ftype == "date" else times.dt.tz_convert("UTC").dt.tz_localize(None)
    missing = times.isna().to_numpy()
    years = times.dt.year.to_numpy(dtype=np.float64, na_value=np.nan)[~missing]
    if len(years) and not (years.min() >= 1000 and years.max() <= 9999):  # ISO text of four-digit years only
        return None
    unit = "datetime64[D]" if ftype == "date" else "datetime64[s]"
    text = times.to_numpy(dtype=unit).astype(str).tolist()
    if ftype == "datetime":
        text = [t + "Z" for t in text]
    return _nulls_to_none(text, missing)


def _date_column(series: pd.Series) -> list[Any] | None:
    if series.dtype != object:
        return _days_column(series, "date")
    return [v.isoformat() if type(v) is dt.date else None if v is None else to_sql("date", v) for v in series.tolist()]


_COLUMN_CONVERTERS: dict[str, Callable[[pd.Series], list[Any] | None]] = {
    "text": _text_column,
    "real": _real_column,
    "integer": _integer_column,
    "boolean": _boolean_column,
    "date": _date_column,
    "datetime": lambda series: _days_column(series, "datetime"),
}


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
