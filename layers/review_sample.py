"""The accuracy sample: random alerts per stratum (confidence x AOI x period), random points outside them.

:func:`draw_sample` picks, in each stratum, ``per_stratum`` alerts at random (all of them when
fewer) and, per AOI when asked, ``points_per_aoi`` random points inside the AOI and outside every
alert (the no-alert stratum, which measures what the alerts miss). The units are written to
``review_samples`` with each stratum's size and mapped area at the time, so the estimate does not
move when later runs add alerts. Analysts decide on the units in *sample* mode; :func:`strata_table`
reads those decisions only (never the risk-sorted queue's) into the table :func:`layers.accuracy.estimate`
takes.
"""

from __future__ import annotations

import datetime as dt
import logging
import uuid
from dataclasses import dataclass
from typing import Any

import geopandas as gpd
import numpy as np
import pandas as pd
import shapely

from layers.conditions import Between
from layers.errors import ReviewError
from layers.store import Store

logger = logging.getLogger(__name__)

NO_ALERT = "no_alert"
EQUAL_AREA = "EPSG:6933"  # for the AOIs' areas
LABELS = {"confirm": 1, "dismiss": 0}  # field_check: still pending
_MAX_POINT_TRIES = 50


def quarter(day: Any) -> str:
    """``2024Q1`` for a day in January-March 2024; ``undated`` for a missing day."""
    if day is None or pd.isna(day):
        return "undated"
    ts = pd.Timestamp(day)
    return f"{ts.year}Q{(ts.month - 1) // 3 + 1}"


def alert_stratum(confidence: Any, aoi: Any, first_detected: Any) -> str:
    return f"{confidence or 'unknown'}|{aoi}|{quarter(first_detected)}"


@dataclass(frozen=True)
class StratumKey:
    """A stratum's parts: ``kind`` is a confidence for alerts, :data:`NO_ALERT` for points."""

    kind: str
    aoi: str
    period: str | None

    @classmethod
    def parse(cls, text: str) -> StratumKey:
        parts = text.split("|")
        return cls(parts[0], parts[1] if len(parts) > 1 else "", parts[2] if len(parts) > 2 else None)

    @property
    def alert(self) -> bool:
        return self.kind != NO_ALERT


def _points(aoi_geom: shapely.Geometry, alerts: np.ndarray, n: int, rng: np.random.Generator) -> list[shapely.Point]:
    """``n`` uniform random points in ``aoi_geom`` outside every geometry of ``alerts``."""
    tree = shapely.STRtree(alerts) if len(alerts) else None
    w, s, e, nn = aoi_geom.bounds
    shapely.prepare(aoi_geom)
    out: list[shapely.Point] = []
    for _ in range(_MAX_POINT_TRIES):
        cand = shapely.points(rng.uniform(w, e, 4 * n), rng.uniform(s, nn, 4 * n))
        keep = shapely.contains(aoi_geom, cand)
        if tree is not None:
            hit = np.zeros(len(cand), bool)
            idx, _ = tree.query(cand, predicate="intersects")
            hit[idx] = True
            keep &= ~hit
        out += list(cand[keep][: n - len(out)])
        if len(out) >= n:
            return out
    raise ReviewError(f"could not place {n} random points outside the alerts of an AOI (is it all alerts?)")


def draw_sample(
    store: Store,
    *,
    per_stratum: int,
    points_per_aoi: int = 0,
    aoi: str | None = None,
    first: dt.date | None = None,
    last: dt.date | None = None,
    seed: int | None = None,
    now: dt.datetime | None = None,
) -> str:
    """Draw a sample over the alerts (clearings not merged into others) in scope; returns its id.

    Raises
    ------
    ReviewError
        When ``per_stratum`` is below 2 (no interval could be had), there are no alerts in
        scope, or the random points cannot be placed.
    """
    if per_stratum < 2:
        raise ReviewError("a stratum needs at least 2 sampled units for a confidence interval")
    where: dict[str, Any] = {"merged_into": None}
    if aoi is not None:
        where["aoi"] = aoi
    if first is not None or last is not None:
        where["first_detected"] = Between(first, last)
    alerts = store.read("clearings", where=where, columns=["clearing_id", "aoi", "confidence", "first_detected", "area_ha"])
    if alerts.empty:
        raise ReviewError("no alerts in scope to sample")
    rng = np.random.default_rng(seed)
    sample_id = f"S-{(now or dt.datetime.now(dt.UTC)).strftime('%Y%m%d%H%M%S')}-{uuid.uuid4().hex[:6]}"
    drawn = pd.Timestamp(now or dt.datetime.now(dt.UTC))
    alerts["stratum"] = [alert_stratum(c, a, d) for c, a, d in zip(alerts["confidence"], alerts["aoi"], alerts["first_detected"], strict=True)]
    rows: list[dict[str, Any]] = []
    for stratum, group in alerts.groupby("stratum", sort=True):
        take = rng.choice(len(group), size=min(per_stratum, len(group)), replace=False)
        area = float(group["area_ha"].fillna(0).sum())
        for i in sorted(take.tolist()):
            cid = str(group["clearing_id"].iloc[i])
            rows.append({"unit_id": cid, "stratum": stratum, "clearing_id": cid, "stratum_units": len(group), "stratum_area_ha": area})
    if points_per_aoi:
        rows += _point_units(store, alerts, points_per_aoi, rng, sample_id)
    frame = pd.DataFrame(rows).assign(sample_id=sample_id, drawn=drawn)
    store.upsert("review_samples", frame)
    logger.info("sample %s: %d unit(s) in %d strata", sample_id, len(frame), frame["stratum"].nunique())
    return sample_id


def _point_units(store: Store, alerts: gpd.GeoDataFrame, n: int, rng: np.random.Generator, sample_id: str) -> list[dict[str, Any]]:
    rows: list[dict[str, Any]] = []
    for name, group in alerts.groupby("aoi", sort=True):
        aois = store.read("aoi", where={"name": name}, columns=["name"])
        if aois.empty:
            raise ReviewError(f"AOI {name!r} of the alerts is not in the aoi layer: no points can be drawn in it")
        geom = shapely.union_all(aois.geometry.values)
        aoi_ha = float(gpd.GeoSeries([geom], crs=aois.crs).to_crs(EQUAL_AREA).area.iloc[0]) / 10_000.0
        outside = max(aoi_ha - float(group["area_ha"].fillna(0).sum()), 0.0)
        for k, p in enumerate(_points(geom, group.geometry.values, n, rng)):
            rows.append({"unit_id": f"PT-{sample_id[2:]}-{name}-{k:03d}", "stratum": f"{NO_ALERT}|{name}", "clearing_id": None,
                         "stratum_units": n, "stratum_area_ha": outside, "lon": p.x, "lat": p.y})
    return rows


def latest_sample(store: Store) -> str | None:
    """The id of the most recently drawn sample, or ``None``."""
    rows = store.read("review_samples", columns=["sample_id", "drawn"], order_by=["-drawn"], limit=1)
    return None if rows.empty else str(rows["sample_id"].iloc[0])


def sample_units(store: Store, sample_id: str) -> pd.DataFrame:
    """The units of a sample with their latest applied sample-mode decision (``decision``, ``user``)."""
    units = store.read("review_samples", where={"sample_id": sample_id},
                       columns=["unit_id", "stratum", "clearing_id", "stratum_units", "stratum_area_ha", "lon", "lat"])
    if units.empty:
        raise ReviewError(f"no sample {sample_id[:60]!r}")
    decisions = store.read("reviews", where={"mode": "sample", "sample_id": sample_id, "outcome": "applied"},
                           columns=["clearing_id", "decision", "user", "decided"], order_by=["decided"])
    last = decisions.drop_duplicates("clearing_id", keep="last").set_index("clearing_id")
    out = units.reset_index(drop=True)
    out["decision"] = out["unit_id"].map(last["decision"]) if len(last) else None
    out["user"] = out["unit_id"].map(last["user"]) if len(last) else None
    return out


def strata_table(units: pd.DataFrame, *, aoi: str | None = None, first: dt.date | None = None, last: dt.date | None = None) -> pd.DataFrame:
    """Per stratum: alert or not, N_h, A_h, decided and confirmed units (:func:`layers.accuracy.estimate`'s input).

    ``aoi``, ``first`` and ``last`` keep the strata of that AOI and of periods that meet the dates.
    """
    rows = []
    for stratum, group in units.groupby("stratum", sort=True):
        key = StratumKey.parse(str(stratum))
        if aoi is not None and key.aoi != aoi:
            continue
        if key.alert and key.period not in (None, "undated") and (first or last):
            p0 = pd.Period(key.period, freq="Q")
            if (last and p0.start_time.date() > last) or (first and p0.end_time.date() < first):
                continue
        labels = group["decision"].map(LABELS).dropna()
        rows.append({
            "stratum": stratum, "alert": key.alert, "units": int(group["stratum_units"].iloc[0]),
            "area_ha": float(group["stratum_area_ha"].iloc[0]), "sampled": len(group),
            "decided": len(labels), "confirmed": int(labels.sum()),
            "pending": int(group["decision"].eq("field_check").sum()),
        })
    return pd.DataFrame(rows, columns=["stratum", "alert", "units", "area_ha", "sampled", "decided", "confirmed", "pending"])
