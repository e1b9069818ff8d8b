"""Legality flags of clearings, each with a sentence a planner can read.

Flag codes (each comes with one sentence in ``reasons``, in the same order):

``protected_area``          overlaps a protected area (which, how many ha, what share).
``inside_concession``       at least 5 % of it lies in a concession.
``concession_not_valid``    it lies in a concession that was not valid on ``first_detected``:
                            cancelled, before its contract began or after it ended.
``purpose_mismatch``        it lies in a concession whose purpose category allows no forest
                            clearing (a setting, e.g. tourism).
``spills_over_concession``  it overlaps a concession and at least ``spill_min_ha`` of it lies
                            outside every concession within ``spill_max_distance_m`` of that one.
``outside_concessions``     at least half of it lies outside every concession, inside the
                            coverage of the concession data (where the data are complete).
``no_concession_data``      mostly outside that coverage and in no known concession: whether it
                            is outside every concession cannot be said.
``near_corridor``, ``near_border``, ``near_crossing``
                            within the set distance of an economic corridor, a national border
                            (a line shared by two countries, not a coast) or a border crossing.

Distances and areas are computed in each clearing's own UTM zone (:mod:`geo.metric`).
"""

from __future__ import annotations

from dataclasses import dataclass

import geopandas as gpd
import numpy as np
import pandas as pd
import shapely

from geo.metric import near_window, utm_groups

MIN_CONCESSION_SHARE = 0.05
# flags that make a clearing suspicious on their own (the others give context)
SUSPICIOUS = frozenset({"protected_area", "concession_not_valid", "purpose_mismatch", "spills_over_concession", "outside_concessions", "near_corridor", "near_border", "near_crossing"})
MIN_OUTSIDE_SHARE = 0.5


@dataclass(frozen=True)
class FlagParams:
    """Thresholds of the flags (the job fills them from the settings of the same names)."""

    coverage_min_share: float = 0.5
    near_corridor_km: float = 5.0
    near_border_km: float = 5.0
    near_crossing_km: float = 10.0
    spill_min_ha: float = 0.1
    spill_max_distance_m: float = 1000.0
    no_clearing_purposes: tuple[str, ...] = ("tourism",)


@dataclass
class References:
    """The reference layers the flags are judged against (any CRS each; empty frames are fine).

    ``protected_areas``: name, designation. ``concessions``: holder, purpose, purpose_category,
    valid_from, valid_to, cancelled. ``concession_coverage``: source. ``corridors``: name,
    sub_corridor. ``borders``: name (lines). ``crossings``: name.
    """

    protected_areas: gpd.GeoDataFrame
    concessions: gpd.GeoDataFrame
    concession_coverage: gpd.GeoDataFrame
    corridors: gpd.GeoDataFrame
    borders: gpd.GeoDataFrame
    crossings: gpd.GeoDataFrame


def national_borders(countries: gpd.GeoDataFrame, tolerance_m: float = 200.0) -> gpd.GeoDataFrame:
    """Lines shared by two countries (land borders, not coasts), named "A–B", in EPSG:4326.

    Parts of each country's boundary within ``tolerance_m`` of another country count as shared
    (generalised boundaries of neighbours rarely coincide exactly).
    """
    if countries.empty:
        return gpd.GeoDataFrame({"name": []}, geometry=[], crs="EPSG:4326")
    c = countries.to_crs("EPSG:3857").reset_index(drop=True)
    tree = shapely.STRtree(c.geometry.values)
    names, lines = [], []
    for i, j in zip(*tree.query(c.geometry.values, predicate="dwithin", distance=tolerance_m), strict=True):
        if i >= j:
            continue
        shared = shapely.intersection(c.geometry.values[i].boundary, shapely.buffer(c.geometry.values[j], tolerance_m))
        shared = shapely.line_merge(shapely.union_all([p for p in shapely.get_parts(shared) if p.geom_type in ("LineString", "MultiLineString")]))
        if not shared.is_empty and shared.length > 0:
            a, b = sorted((str(c["name"].iloc[i]), str(c["name"].iloc[j])))
            names.append(f"{a}–{b}")
            lines.append(shared)
    return gpd.GeoDataFrame({"name": names}, geometry=lines, crs="EPSG:3857").to_crs("EPSG:4326")


def _ha(v: float) -> str:
    return f"{v:,.1f} ha" if v >= 0.995 else f"{v:.2f} ha"


def _day(ts: object) -> str:
    return pd.Timestamp(ts).date().isoformat()


def _validity(row: pd.Series, first: pd.Timestamp | None) -> str:
    """Why a concession was not valid on ``first`` ("" when it was, or when it cannot be said)."""
    if bool(row.get("cancelled")) is True:
        return "cancelled"
    if first is None or pd.isna(first):
        return ""
    start, end = row.get("valid_from"), row.get("valid_to")
    if start is not None and not pd.isna(start) and first < pd.Timestamp(start):
        return f"before its contract began on {_day(start)}"
    if end is not None and not pd.isna(end) and first > pd.Timestamp(end):
        return f"after its contract ended on {_day(end)}"
    return ""


def _nearest(geoms: np.ndarray, targets: gpd.GeoDataFrame, km: float) -> tuple[np.ndarray, np.ndarray]:
    """For each geometry: index of the nearest target within ``km`` (-1 if none) and its distance in km."""
    idx = np.full(len(geoms), -1)
    dist = np.full(len(geoms), np.nan)
    if len(targets) and len(geoms) and km > 0:
        tree = shapely.STRtree(targets.geometry.values)
        (gi, ti), d = tree.query_nearest(geoms, max_distance=km * 1000.0, return_distance=True, all_matches=False)
        idx[gi], dist[gi] = ti, d / 1000.0
    return idx, dist


class _Zone:
    """The reference layers projected into one UTM zone, with their spatial indexes."""

    def __init__(self, refs: References, crs: str, bounds: tuple[float, float, float, float], margin_m: float) -> None:
        window = shapely.buffer(shapely.box(*bounds), margin_m)

        def take(frame: gpd.GeoDataFrame) -> gpd.GeoDataFrame:
            return near_window(frame, window, crs)

        self.pa = take(refs.protected_areas)
        self.conc = take(refs.concessions)
        self.cover = take(refs.concession_coverage)
        self.corridors = take(refs.corridors)
        self.borders = take(refs.borders)
        self.crossings = take(refs.crossings)
        self.conc_union = shapely.union_all(self.conc.geometry.values) if len(self.conc) else shapely.Polygon()
        self.cover_union = shapely.union_all(self.cover.geometry.values) if len(self.cover) else shapely.Polygon()
        self.pa_tree = shapely.STRtree(self.pa.geometry.values)
        self.conc_tree = shapely.STRtree(self.conc.geometry.values)
        self.sources = ", ".join(sorted(set(self.cover["source"]))) if "source" in self.cover else ""


def legality_flags(clearings: gpd.GeoDataFrame, refs: References, params: FlagParams = FlagParams()) -> pd.DataFrame:
    """Flags and reasons for each clearing.

    Parameters
    ----------
    clearings
        Clearing polygons (any CRS) with ``first_detected`` (datetime64).
    refs
        The reference layers.
    params
        Thresholds.

    Returns
    -------
    DataFrame aligned with ``clearings``: ``flags`` (sorted list of codes) and ``reasons`` (one
    sentence per flag, in the order of ``flags``). The result does not depend on row order.
    """
    found: list[dict[str, str]] = [{} for _ in range(len(clearings))]
    margin = 1000.0 * max(params.near_corridor_km, params.near_border_km, params.near_crossing_km) + params.spill_max_distance_m
    first_all = pd.to_datetime(clearings["first_detected"]) if "first_detected" in clearings else pd.Series(pd.NaT, index=clearings.index)
    for crs, pos in utm_groups(clearings.geometry):
        geoms = clearings.geometry.iloc[pos].to_crs(crs).to_numpy()
        zone = _Zone(refs, crs, tuple(shapely.total_bounds(geoms)), margin)
        for g, i in zip(geoms, pos, strict=True):
            found[i] = _judge(g, first_all.iloc[i], zone, params)
        for code, layer, km in (
            ("near_corridor", zone.corridors, params.near_corridor_km),
            ("near_border", zone.borders, params.near_border_km),
            ("near_crossing", zone.crossings, params.near_crossing_km),
        ):
            idx, dist = _nearest(geoms, layer, km)
            for k in np.flatnonzero(idx >= 0):
                row = layer.iloc[int(idx[k])]
                if code == "near_corridor":
                    text = f"{dist[k]:.1f} km from the {row['name']} ({row['sub_corridor']})."
                elif code == "near_border":
                    text = f"{dist[k]:.1f} km from the {row['name']} border."
                else:
                    text = f"{dist[k]:.1f} km from the {row['name']} border crossing."
                found[int(pos[k])][code] = text
    flags = [sorted(f) for f in found]
    reasons = [[f[c] for c in codes] for f, codes in zip(found, flags, strict=True)]
    return pd.DataFrame({"flags": flags, "reasons": reasons}, index=clearings.index)


def _judge(g: shapely.Geometry, first: pd.Timestamp, z: _Zone, p: FlagParams) -> dict[str, str]:
    """The protected-area and concession flags of one clearing (metres, in its UTM zone)."""
    found: dict[str, str] = {}
    area = float(g.area) / 10_000.0 or 1e-12
    hits = z.pa_tree.query(g, predicate="intersects")
    parts = []
    for j in sorted(hits, key=lambda j: (-shapely.intersection(g, z.pa.geometry.values[j]).area, j)):
        ha = shapely.intersection(g, z.pa.geometry.values[j]).area / 10_000.0
        if ha > 0:
            row = z.pa.iloc[j]
            parts.append(f"{row['name']} ({row['designation'] or 'protected area'}): {_ha(ha)}, {100 * ha / area:.0f} % of the clearing")
    if parts:
        found["protected_area"] = "Inside protected area " + "; ".join(parts) + "."
    inside, invalid, mismatch, spills = [], [], [], []
    for j in sorted(z.conc_tree.query(g, predicate="intersects")):
        cg = z.conc.geometry.values[j]
        ha = shapely.intersection(g, cg).area / 10_000.0
        if ha < MIN_CONCESSION_SHARE * area:
            continue
        row = z.conc.iloc[j]
        name = row.get("holder") or "unnamed concession"
        inside.append((ha, f"{name} ({row.get('purpose') or 'purpose unknown'}): {_ha(ha)}, {100 * ha / area:.0f} %"))
        why = _validity(row, first)
        if why:
            invalid.append(f"{name}, {why} (clearing first detected {_day(first) if not pd.isna(first) else 'on an unknown date'})")
        category = row.get("purpose_category")
        if category in p.no_clearing_purposes:
            mismatch.append(f"{name}, whose purpose ({category}: {row.get('purpose') or 'not stated'}) allows no forest clearing")
        outside = shapely.difference(shapely.intersection(g, shapely.buffer(cg, p.spill_max_distance_m)), z.conc_union)
        out_ha = outside.area / 10_000.0
        if out_ha >= p.spill_min_ha:
            far = _max_distance_outside(outside, cg)
            spills.append(f"{_ha(out_ha)} over the boundary of {name}, up to {far:,.0f} m outside it")
    if inside:
        found["inside_concession"] = "Inside concession " + "; ".join(t for _, t in sorted(inside, key=lambda x: -x[0])) + "."
    if invalid:
        found["concession_not_valid"] = "In a concession that was not valid then: " + "; ".join(invalid) + "."
    if mismatch:
        found["purpose_mismatch"] = "Inside concession " + "; ".join(mismatch) + "."
    if spills:
        found["spills_over_concession"] = "Spills " + "; ".join(spills) + "."
    in_cover = shapely.intersection(g, z.cover_union).area / 10_000.0
    if in_cover >= p.coverage_min_share * area:
        out_in_cover = shapely.difference(shapely.intersection(g, z.cover_union), z.conc_union).area / 10_000.0
        if out_in_cover >= MIN_OUTSIDE_SHARE * area:
            found["outside_concessions"] = (
                f"Outside every concession: {_ha(out_in_cover)}, {100 * out_in_cover / area:.0f} % of the clearing"
                + (f" (concession data: {z.sources})." if z.sources else ".")
            )
    elif "inside_concession" not in found:
        found["no_concession_data"] = (
            f"No concession data here: {100 * (1 - in_cover / area):.0f} % of the clearing is outside the coverage of every concession source."
        )
    return found


def _max_distance_outside(outside: shapely.Geometry, concession: shapely.Geometry) -> float:
    """Largest distance (m) from a concession to a vertex of the part of a clearing outside it."""
    pts = shapely.points(shapely.get_coordinates(outside))
    return float(shapely.distance(pts, concession).max()) if len(pts) else 0.0
