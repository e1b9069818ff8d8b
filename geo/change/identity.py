"""Stable clearing identity across runs: a re-detected clearing keeps its id and review status.

A detection that overlaps known clearings takes the id of the one it overlaps most (each known
id goes to one detection at most). Such an update keeps the clearing's review status, its
earliest ``first_detected`` and latest ``last_observed``, and never shrinks it: its geometry is
the union of the known one and the new one. A detection that takes no id but lies mostly
(``dismissed_share``) inside clearings an analyst dismissed is a piece of them, and is not
re-created as a new clearing. A known clearing that a grown detection overlaps but whose id went
to another is *merged into* it (:func:`merged_into`): it keeps its row and review trail.
"""

from __future__ import annotations

import hashlib
import logging

import geopandas as gpd
import numpy as np
import pandas as pd
import shapely

from geo.errors import InputShapeError
from geo.metric import area_ha

logger = logging.getLogger(__name__)

DISMISSED = "dismissed"
DISMISSED_SHARE = 0.5
_SAME_AREA = 1e-9  # relative: an old geometry covered by the new one up to this is not unioned


def _status(value: object) -> str:
    return "new" if value is None or (isinstance(value, float) and np.isnan(value)) or value == "" else str(value)


def new_clearing_id(aoi: str, geom: shapely.Geometry, first_detected: pd.Timestamp) -> str:
    """A deterministic id from the AOI, the representative point (to ~1e-5 degrees) and the date."""
    p = shapely.point_on_surface(geom)
    day = "" if pd.isna(first_detected) else pd.Timestamp(first_detected).strftime("%Y%m%d")
    digest = hashlib.sha1(f"{aoi}|{p.x:.5f}|{p.y:.5f}|{day}".encode()).hexdigest()[:10]
    return f"CL-{day or 'nodate'}-{digest}"


def match_existing(detected: gpd.GeoDataFrame, existing: gpd.GeoDataFrame) -> pd.Series:
    """For each detection, the position in ``existing`` of the clearing it takes the id of, or -1.

    Pairs are taken largest overlap first; each side is used once.

    Raises
    ------
    InputShapeError
        When the frames' CRSs differ.
    """
    if len(existing) and detected.crs is not None and not detected.crs.equals(existing.crs):
        raise InputShapeError("detected and existing clearings must share a CRS")
    taken = pd.Series(-1, index=detected.index, dtype=np.int64)
    if not len(existing) or not len(detected):
        return taken
    tree = shapely.STRtree(existing.geometry.values)
    d_idx, e_idx = tree.query(detected.geometry.values, predicate="intersects")
    if not len(d_idx):
        return taken
    overlap = shapely.area(shapely.intersection(detected.geometry.values[d_idx], existing.geometry.values[e_idx]))
    used_d: set[int] = set()
    used_e: set[int] = set()
    for k in np.lexsort((e_idx, d_idx, -overlap)):
        d, e = int(d_idx[k]), int(e_idx[k])
        if overlap[k] <= 0 or d in used_d or e in used_e:
            continue
        used_d.add(d)
        used_e.add(e)
        taken.iloc[d] = e
    return taken


def assign_ids(detected: gpd.GeoDataFrame, existing: gpd.GeoDataFrame, aoi: str) -> pd.Series:
    """Ids for ``detected`` clearings: the id of the existing clearing each overlaps most, else a new one.

    Both frames must share a CRS. Returns a Series aligned with ``detected``.
    """
    taken = match_existing(detected, existing)
    ids = pd.Series([None] * len(detected), index=detected.index, dtype=object)
    for i, e in enumerate(taken.to_numpy()):
        ids.iloc[i] = existing["clearing_id"].iloc[e] if e >= 0 else new_clearing_id(aoi, detected.geometry.iloc[i], detected["first_detected"].iloc[i])
    return ids


def reconcile(detected: gpd.GeoDataFrame, existing: gpd.GeoDataFrame, aoi: str, *, dismissed_share: float = DISMISSED_SHARE) -> tuple[gpd.GeoDataFrame, int]:
    """Detections made ready to write over the known clearings of the same AOI.

    Parameters
    ----------
    detected
        This run's clearings: geometry, ``first_detected``, ``last_observed``, ``area_ha`` and
        any other attributes, in the store's CRS.
    existing
        The known clearings of the AOI: ``clearing_id``, ``review_status``, ``first_detected``,
        ``last_observed`` and geometry, same CRS.
    aoi
        AOI name (part of new ids).
    dismissed_share
        Share of an unmatched detection's area inside dismissed clearings from which it is
        dropped as a piece of them.

    Returns
    -------
    tuple
        The detections kept, with ``clearing_id``, ``review_status`` and ``known`` (True for
        updates of existing clearings), growth and dates merged and ``area_ha`` recomputed; and
        the number dropped as pieces of dismissed clearings.

    Raises
    ------
    InputShapeError
        When the frames' CRSs differ.
    """
    out = detected.copy()
    taken = match_existing(out, existing).to_numpy()
    known = taken >= 0
    out["known"] = known
    out["clearing_id"] = [existing["clearing_id"].iloc[e] if e >= 0 else None for e in taken]
    out["review_status"] = [_status(existing["review_status"].iloc[e]) if e >= 0 else "new" for e in taken]
    geoms = out.geometry.to_numpy().copy()
    for i in np.flatnonzero(known):
        old_row = existing.iloc[taken[i]]
        old = old_row.geometry
        if old is not None and not old.is_empty and shapely.area(shapely.difference(old, geoms[i])) > _SAME_AREA * max(shapely.area(old), 1e-30):
            geoms[i] = shapely.make_valid(shapely.union(geoms[i], old))
        for column, pick in (("first_detected", min), ("last_observed", max)):
            before, now = old_row.get(column), out[column].iloc[i]
            if before is not None and not pd.isna(before) and not pd.isna(now):
                out.iloc[i, out.columns.get_loc(column)] = pick(pd.Timestamp(before), pd.Timestamp(now))
    out = out.set_geometry(gpd.GeoSeries(geoms, index=out.index, crs=out.crs))
    if known.any():
        out.loc[known, "area_ha"] = area_ha(out.geometry[known]).round(3).to_numpy()
    drop = np.zeros(len(out), bool)
    gone = existing[existing["review_status"] == DISMISSED] if len(existing) else existing
    if len(gone) and (~known).any():
        union = shapely.union_all(gone.geometry.values)
        fresh = np.flatnonzero(~known)
        areas = shapely.area(geoms[fresh])
        inside = shapely.area(shapely.intersection(geoms[fresh], union))
        drop[fresh] = inside >= dismissed_share * np.maximum(areas, 1e-30)
    for i in np.flatnonzero(~known & ~drop):
        out.iloc[i, out.columns.get_loc("clearing_id")] = new_clearing_id(aoi, geoms[i], out["first_detected"].iloc[i])
    if drop.any():
        logger.info("%d detection(s) lie inside dismissed clearings and are not re-created", int(drop.sum()))
    return out[~drop], int(drop.sum())


def merged_into(kept: gpd.GeoDataFrame, existing: gpd.GeoDataFrame) -> pd.Series:
    """Known clearings that a grown detection swallowed: their id -> the id of the detection.

    A detection that overlaps several known clearings takes the id of one (:func:`match_existing`);
    every other known clearing it overlaps, not already merged, is merged into it (the one it
    overlaps most, when several detections overlap it). ``kept`` is :func:`reconcile`'s output;
    ``existing`` may carry ``merged_into`` (those already merged are left alone). Same CRS.
    """
    out = pd.Series(dtype=object)
    if not len(kept) or not len(existing):
        return out
    taken = set(kept["clearing_id"])
    already = existing["merged_into"].notna().to_numpy() if "merged_into" in existing.columns else np.zeros(len(existing), bool)
    free = np.flatnonzero(~existing["clearing_id"].isin(taken).to_numpy() & ~already)
    if not len(free):
        return out
    tree = shapely.STRtree(kept.geometry.values)
    e_idx, k_idx = tree.query(existing.geometry.values[free], predicate="intersects")
    if not len(e_idx):
        return out
    overlap = shapely.area(shapely.intersection(existing.geometry.values[free][e_idx], kept.geometry.values[k_idx]))
    best: dict[int, tuple[float, int]] = {}
    for e, k, a in zip(e_idx.tolist(), k_idx.tolist(), overlap.tolist(), strict=True):
        if a > 0 and a > best.get(e, (0.0, -1))[0]:
            best[e] = (a, k)
    ids = {str(existing["clearing_id"].iloc[free[e]]): str(kept["clearing_id"].iloc[k]) for e, (_, k) in sorted(best.items())}
    if ids:
        logger.info("%d known clearing(s) merged into grown detections", len(ids))
    return pd.Series(ids, dtype=object)
