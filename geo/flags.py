"""Legality flags of clearings, each with a sentence a planner can read, and a first risk score.

Flag codes:

``protected_area``
    The clearing overlaps a protected area.
``inside_concession``
    At least ``MIN_CONCESSION_SHARE`` of the clearing lies in a concession.
``outside_concessions``
    At least half of the clearing lies outside every concession, inside the coverage of the
    concession data (where the data are complete).
``no_concession_data``
    The clearing lies mostly outside the concession data's coverage and in no known concession:
    whether it is outside every concession cannot be said.
"""

from __future__ import annotations

from collections.abc import Mapping

import geopandas as gpd
import numpy as np
import pandas as pd
import shapely

EQUAL_AREA_CRS = "EPSG:6933"
MIN_CONCESSION_SHARE = 0.05
MIN_OUTSIDE_SHARE = 0.5
RISK_WEIGHTS: Mapping[str, int] = {
    "protected_area": 50,
    "outside_concessions": 30,
    "no_concession_data": 10,
    "inside_concession": 5,
}


def _overlaps(clearings: gpd.GeoSeries, zones: gpd.GeoDataFrame) -> pd.DataFrame:
    """All (clearing position, zone position, overlap ha) pairs with a positive overlap."""
    if zones.empty or clearings.empty:
        return pd.DataFrame({"c": [], "z": [], "ha": []})
    tree = shapely.STRtree(zones.geometry.values)
    ci, zi = tree.query(clearings.values, predicate="intersects")
    ha = shapely.area(shapely.intersection(clearings.values[ci], zones.geometry.values[zi])) / 10_000.0
    keep = ha > 0
    return pd.DataFrame({"c": ci[keep], "z": zi[keep], "ha": ha[keep]})


def _fmt_ha(value: float) -> str:
    return f"{value:,.1f} ha" if value >= 1 else f"{value:.2f} ha"


def legality_flags(
    clearings: gpd.GeoDataFrame,
    protected_areas: gpd.GeoDataFrame,
    concessions: gpd.GeoDataFrame,
    concession_coverage: gpd.GeoDataFrame,
    *,
    coverage_min_share: float = 0.5,
) -> pd.DataFrame:
    """Flags, reasons and a risk score for each clearing.

    Parameters
    ----------
    clearings
        Clearing polygons (any CRS) with ``confidence``.
    protected_areas
        With ``name`` and ``designation``.
    concessions
        With ``holder``, ``purpose`` and ``source``.
    concession_coverage
        Where the concession sources are complete (one polygon per source).
    coverage_min_share
        Share of a clearing that must lie in the coverage before "outside every concession" is said.

    Returns
    -------
    DataFrame aligned with ``clearings``: ``flags`` (sorted list of codes), ``reasons`` (one
    sentence per flag, in the order of ``flags``) and ``risk`` (0-100).
    """
    geoms = clearings.geometry.to_crs(EQUAL_AREA_CRS).reset_index(drop=True)
    area = shapely.area(geoms.values) / 10_000.0
    pa = protected_areas.to_crs(EQUAL_AREA_CRS).reset_index(drop=True)
    conc = concessions.to_crs(EQUAL_AREA_CRS).reset_index(drop=True)
    cover = concession_coverage.to_crs(EQUAL_AREA_CRS).reset_index(drop=True)
    pa_hits = _overlaps(geoms, pa)
    conc_hits = _overlaps(geoms, conc)
    conc_union = shapely.union_all(conc.geometry.values) if len(conc) else shapely.Polygon()
    cover_union = shapely.union_all(cover.geometry.values) if len(cover) else shapely.Polygon()
    in_cover = shapely.area(shapely.intersection(geoms.values, cover_union)) / 10_000.0
    outside_in_cover = shapely.area(shapely.difference(shapely.intersection(geoms.values, cover_union), conc_union)) / 10_000.0
    sources = ", ".join(sorted(set(cover["source"]))) if "source" in cover else ""

    flags: list[list[str]] = []
    reasons: list[list[str]] = []
    risks: list[int] = []
    for i in range(len(geoms)):
        found: dict[str, str] = {}
        a = float(area[i]) or 1e-12
        hits = pa_hits[pa_hits["c"] == i].sort_values(["ha", "z"], ascending=[False, True])
        if len(hits):
            parts = [
                f"{pa.at[int(r.z), 'name']} ({pa.at[int(r.z), 'designation'] or 'protected area'}): {_fmt_ha(r.ha)}, {100 * r.ha / a:.0f} % of the clearing"
                for r in hits.itertuples()
            ]
            found["protected_area"] = "Inside protected area " + "; ".join(parts) + "."
        hits = conc_hits[conc_hits["c"] == i].sort_values(["ha", "z"], ascending=[False, True])
        hits = hits[hits["ha"] >= MIN_CONCESSION_SHARE * a]
        if len(hits):
            parts = [
                f"{conc.at[int(r.z), 'holder']} ({conc.at[int(r.z), 'purpose'] or 'purpose unknown'}): {_fmt_ha(r.ha)}, {100 * r.ha / a:.0f} %"
                for r in hits.itertuples()
            ]
            found["inside_concession"] = "Inside concession " + "; ".join(parts) + "."
        if in_cover[i] >= coverage_min_share * a:
            if outside_in_cover[i] >= MIN_OUTSIDE_SHARE * a:
                found["outside_concessions"] = (
                    f"Outside every concession: {_fmt_ha(outside_in_cover[i])}, {100 * outside_in_cover[i] / a:.0f} % of the clearing"
                    + (f" (concession data: {sources})." if sources else ".")
                )
        elif "inside_concession" not in found:
            found["no_concession_data"] = (
                f"No concession data here: {100 * (1 - in_cover[i] / a):.0f} % of the clearing is outside the coverage of every concession source."
            )
        codes = sorted(found)
        flags.append(codes)
        reasons.append([found[c] for c in codes])
        conf = clearings["confidence"].iloc[i] if "confidence" in clearings else "low"
        score = sum(RISK_WEIGHTS[c] for c in codes) + (10 if conf == "high" else 0) + min(10, int(np.log2(1 + area[i]) * 2))
        risks.append(int(min(100, score)))
    return pd.DataFrame({"flags": flags, "reasons": reasons, "risk": risks}, index=clearings.index)
