"""Clearings of a hard synthetic series: sizes 0.2-200 ha, growth in stages, a new road with
clearings along it, and two old clearings made early in the baseline year.
"""

from __future__ import annotations

import math

import numpy as np
import shapely
from rasterio.features import rasterize

from synthetic.fields import dilate, star_blob
from synthetic.hard_land import DECIDUOUS, EVERGREEN, RES, SIZE, Land


def plant_clearings(b: Land) -> None:
    """Plant the series' clearings into ``b`` (after its landscape), appearing at known dates."""
    rng, shape = b.rng, b.shape
    n = len(b.dates)
    forest = np.isin(b.cover, (EVERGREEN, DECIDUOUS)) & (b.rho > 1.15)
    b.allowed = ~dilate(~forest, 3)
    b.allowed[:4], b.allowed[-4:], b.allowed[:, :4], b.allowed[:, -4:] = False, False, False, False
    b.blocked = np.zeros(shape, bool)
    last = n - 3
    if not b.no_change:
        _road(b, int(rng.integers(b.n_base, last - 8)))
        sizes = [rng.uniform(0.2, 0.45) for _ in range(2)]
        sizes += list(np.exp(rng.uniform(math.log(0.5), math.log(25.0), int(rng.integers(8, 12)))))
        sizes += list(np.exp(rng.uniform(math.log(30.0), math.log(200.0), int(rng.integers(1, 3)))))
        sizes.sort(reverse=True)
        big = [i for i, s in enumerate(sizes) if s >= 2.0]
        growing = set(rng.choice(big, size=min(3, len(big)), replace=False).tolist())
        for i, ha in enumerate(sizes):
            day = int(rng.integers(b.n_base, last + 1))
            _blob(b, ha, day, growing=i in growing, last=last)
    for _ in range(2):  # cleared early in the baseline year: old, never new
        _blob(b, float(np.exp(rng.uniform(0.0, math.log(10.0)))), int(rng.integers(2, 16)), growing=False, last=last, old=True)


def _place(b: Land, blob: np.ndarray, touching: np.ndarray | None = None) -> tuple[int, int] | None:
    ok = b.allowed & ~b.blocked
    cand = np.flatnonzero(ok if touching is None else ok & touching)
    h, w = blob.shape
    for pick in b.rng.choice(cand, size=min(300, cand.size), replace=False) if cand.size else []:
        r, c = divmod(int(pick), SIZE)
        r0, c0 = r - h // 2, c - w // 2
        if r0 < 0 or c0 < 0 or r0 + h > SIZE or c0 + w > SIZE:
            continue
        if ok[r0:r0 + h, c0:c0 + w][blob].all():
            return r0, c0
    return None


def _blob(b: Land, ha: float, day: int, *, growing: bool, last: int, old: bool = False, touching: np.ndarray | None = None) -> np.ndarray | None:
    px = max(1, round(ha * 10_000 / RES**2))
    for _ in range(6):
        blob = star_blob(b.rng, px)
        spot = _place(b, blob, touching)
        if spot is not None:
            break
        px = max(1, int(px * 0.7))
    else:
        return None
    r0, c0 = spot
    rr, cc = np.nonzero(blob)
    rr, cc = rr + r0, cc + c0
    when = np.full(rr.size, day, np.int16)
    if growing:  # three stages spreading from one side
        k = b.rng.integers(rr.size)
        order = np.argsort(np.hypot(rr - rr[k], cc - cc[k]), kind="stable")
        d1 = min(day + int(b.rng.integers(1, 4)), last)
        d2 = min(d1 + int(b.rng.integers(1, 4)), last)
        when[order[int(0.35 * rr.size):]] = d1
        when[order[int(0.7 * rr.size):]] = d2
    b.cleared_at[rr, cc] = when
    b.burnt[rr, cc] = b.rng.random() < 0.3
    b.regrow[rr, cc] = b.rng.random() < 0.4
    b.old[rr, cc] = old
    halo = np.zeros(b.shape, bool)
    halo[rr, cc] = True
    b.blocked |= dilate(halo, 4)
    return halo


def _road(b: Land, day: int) -> None:
    rng = b.rng
    side = int(rng.integers(4))
    t = rng.uniform(0.2, 0.8) * SIZE
    start = [(t, 2.0), (t, SIZE - 3.0), (2.0, t), (SIZE - 3.0, t)][side]
    heading = [0.0, math.pi, math.pi / 2, -math.pi / 2][side] + rng.uniform(-0.4, 0.4)
    pts = [start]
    for _ in range(int(rng.integers(10, 22))):
        heading += rng.uniform(-0.35, 0.35)
        y, x = pts[-1]
        pts.append((y + 10 * math.sin(heading), x + 10 * math.cos(heading)))
    keep = [pts[0]]
    for y, x in pts[1:]:
        if not (3 <= y < SIZE - 3 and 3 <= x < SIZE - 3) or b.cover[int(y), int(x)] not in (EVERGREEN, DECIDUOUS) or b.rho[int(y), int(x)] < 1.2:
            break
        keep.append((y, x))
    if len(keep) < 5:
        return
    world = [b.transform @ (x + 0.5, y + 0.5) for y, x in keep]
    n_seg = 3
    cuts = np.linspace(0, len(world) - 1, n_seg + 1).round().astype(int)
    when = day
    road = np.zeros(b.shape, bool)
    for s in range(n_seg):
        line = shapely.LineString(world[cuts[s]:cuts[s + 1] + 1])
        seg = rasterize([(line.buffer(RES * 0.9, cap_style="flat"), 1)], out_shape=b.shape, transform=b.transform).astype(bool)
        seg &= ~road
        b.cleared_at[seg] = when
        road |= seg
        when += int(rng.integers(1, 3))
    b.is_road |= road
    b.blocked |= road
    touching = dilate(road, 5) & ~dilate(road, 2)
    last = len(b.dates) - 3
    for _ in range(int(rng.integers(2, 5))):  # clearings opening along the road, joined to it by a track
        later = min(int(b.cleared_at[road].max()) + int(rng.integers(1, 6)), last)
        blob = _blob(b, float(rng.uniform(1.0, 8.0)), later, growing=False, last=last, touching=touching)
        if blob is None:
            continue
        br, bc = np.nonzero(blob)
        rr, rc = np.nonzero(road)
        dist = np.hypot(br[:, None] - rr[None, :], bc[:, None] - rc[None, :])
        i, j = np.unravel_index(np.argmin(dist), dist.shape)
        a, z = b.transform @ (bc[i] + 0.5, br[i] + 0.5), b.transform @ (rc[j] + 0.5, rr[j] + 0.5)
        track = rasterize([(shapely.LineString([a, z]).buffer(RES * 0.75), 1)], out_shape=b.shape, transform=b.transform).astype(bool)
        track &= b.cleared_at < 0
        b.cleared_at[track] = later
        b.blocked |= dilate(track, 4)
    b.blocked |= dilate(road, 4)
