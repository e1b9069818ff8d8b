import datetime as dt

import numpy as np
import pandas as pd
import pytest

from layers.values import to_sql, to_sql_column

NAIVE = pd.Series(pd.to_datetime(["2024-03-05 23:30:59.7", None, "1969-12-31 23:59:59.5", "2001-01-01 00:00:00.0"]))
COLUMNS = [
    ("text", pd.Series(["a", None, "ü <b>", ""], dtype="str")),
    ("text", pd.Series(["a", None, np.nan, 3, 2.5, pd.NaT, "x"], dtype=object)),
    ("text", pd.Series([1, 2, 3])),
    ("real", pd.Series([1.5, np.nan, -0.0, np.inf, 1e300])),
    ("real", pd.Series([1.5, None, 2.0], dtype="Float64")),
    ("real", pd.Series([1, 2, 2**60])),
    ("real", pd.Series([1, None], dtype="Int64")),
    ("real", pd.Series([1.5, None, "2"], dtype=object)),
    ("integer", pd.Series([1, -2, 2**62])),
    ("integer", pd.Series([1, None, 3], dtype="Int64")),
    ("integer", pd.Series([1.7, np.nan, -2.2])),
    ("integer", pd.Series([True, False])),
    ("integer", pd.Series([1, 2], dtype="uint64")),
    ("boolean", pd.Series([True, False, True])),
    ("boolean", pd.Series([True, None, False], dtype="boolean")),
    ("boolean", pd.Series([0, 2, 1])),
    ("boolean", pd.Series([True, None, 0.0], dtype=object)),
    ("date", NAIVE),
    ("date", NAIVE.dt.tz_localize("UTC").dt.tz_convert("Asia/Bangkok")),
    ("date", pd.Series([dt.date(2024, 3, 5), None, dt.date(1900, 1, 1), dt.datetime(2020, 1, 2, 23, 0), pd.Timestamp("2021-06-07"), np.nan])),
    ("date", pd.Series([pd.NaT, pd.NaT], dtype="datetime64[ns]")),
    ("date", pd.Series(np.array(["0999-05-06", "2024-01-01"], dtype="datetime64[s]"))),
    ("datetime", NAIVE),
    ("datetime", NAIVE.dt.tz_localize("America/La_Paz")),
    ("datetime", pd.Series([dt.datetime(2024, 3, 5, 10, 0, tzinfo=dt.UTC), None], dtype=object)),
    ("json", pd.Series([["a"], None, {"b": 1}, []], dtype=object)),
]


@pytest.mark.parametrize(("ftype", "series"), COLUMNS, ids=[f"{t}-{s.dtype}-{i}" for i, (t, s) in enumerate(COLUMNS)])
def test_column_conversion_is_the_per_value_one(ftype, series):
    series = pd.concat([series] * 40, ignore_index=True)  # long enough to be converted column-wise
    expected = [to_sql(ftype, v) for v in series.tolist()]
    got = to_sql_column(ftype, series)
    assert got == expected
    assert [type(v) for v in got] == [type(v) for v in expected]
