"""Clouds, their shadows and when each clearing appears.

The sky of a date is a uint8 ``(row, col)`` array: 0 clear, 1 cloud shadow, 2..255 cloud
thickness (SCL 9 from :data:`~synthetic.radiometry.SKY_THICK`, SCL 8 below). Only
cloudy dates have one. Every cloud casts a shadow, offset towards the west-north-west (the
sun stands east-south-east at the 10:30 overpass) by 400-900 m.

Scheduling puts clearings that must be hidden on their first date under a cloud planted on
that date, with the next acquisition clear over them; the others appear on a date that is
clear over them. Appearance dates are stratified over the monitoring period and never fall
on its last two acquisitions.
"""

from __future__ import annotations

import datetime as dt
import logging
import math
from collections import defaultdict

import numpy as np

from synthetic.clearings import Planted
from synthetic.fields import paste, shift, smooth_field
from synthetic.radiometry import SKY_SHADOW

logger = logging.getLogger(__name__)

CLOUDY_SHARE = (0.20, 0.32)  # share of dates with natural clouds (covers for hidden clearings add a few)
CLOUD_COVER = (0.05, 0.30)  # share of the AOI under cloud on a cloudy date
WINDOW_MARGIN = 2  # pixels around a clearing's bounding box that must share its sky
Window = tuple[slice, slice]


def shadow_offsets(rng: np.random.Generator, n_dates: int, resolution: float) -> np.ndarray:
    """Per date, the ``(rows, cols)`` offset from a cloud to its shadow (int, shape ``(date, 2)``)."""
    distance = rng.uniform(400.0, 900.0, n_dates) / resolution
    azimuth = np.radians(rng.uniform(155.0, 175.0, n_dates))  # from east, counter-clockwise: WNW
    return np.column_stack([-distance * np.sin(azimuth), distance * np.cos(azimuth)]).round().astype(int)


def _add_shadow(sky: np.ndarray, cloud: np.ndarray, offset: np.ndarray) -> None:
    shadow = shift(cloud, int(offset[0]), int(offset[1])) & (sky == 0)
    sky[shadow] = SKY_SHADOW


def natural_clouds(
    rng: np.random.Generator, shape: tuple[int, int], dates: list[dt.date], offsets: np.ndarray
) -> dict[int, np.ndarray]:
    """Skies of the naturally cloudy dates, more of them in the wet season (May-October).

    Each cloudy date gets a few smooth blobs covering 5-30 % of the grid (a smooth field over
    its quantile), thick in their cores, and their shadows.
    """
    n = len(dates)
    share = rng.uniform(*CLOUDY_SHARE)
    doy = np.array([d.timetuple().tm_yday for d in dates], dtype=float)
    weight = 1.0 + 0.8 * np.cos(2 * math.pi * (doy - 243.0) / 365.25)
    chosen = rng.choice(n, size=min(n, max(1, round(share * n))), replace=False, p=weight / weight.sum())
    pad = int(np.abs(offsets).max()) + 1  # clouds beyond the edge cast shadows into the grid
    padded = (shape[0] + 2 * pad, shape[1] + 2 * pad)
    skies: dict[int, np.ndarray] = {}
    for index in sorted(int(i) for i in chosen):
        field = smooth_field(rng, padded, max(shape) / 10.0) + 0.35 * smooth_field(rng, padded, max(shape) / 40.0)
        level = np.quantile(field[pad:-pad, pad:-pad], 1.0 - rng.uniform(*CLOUD_COVER))
        cloud = field > level
        sky = np.zeros(padded, dtype=np.uint8)
        sky[cloud] = 2 + np.rint(253 * np.clip(field[cloud] - level, 0.0, 1.0)).astype(np.uint8)
        _add_shadow(sky, cloud, offsets[index])
        skies[index] = sky[pad:-pad, pad:-pad].copy()
    return skies


def cover_cloud(rng: np.random.Generator, window: Window, resolution: float) -> tuple[int, int, np.ndarray]:
    """A cloud that covers ``window`` whole: an irregular ellipse 1.3-1.8 times its size.

    Returns
    -------
    tuple
        ``(row, col, thickness)``: the top-left grid position and the uint8 local thickness
        (0 outside the cloud, 2..255 inside).
    """
    rows, cols = window
    half_h, half_w = (rows.stop - rows.start) / 2, (cols.stop - cols.start) / 2
    centre_r, centre_c = (rows.start + rows.stop) / 2, (cols.start + cols.stop) / 2
    least = 250.0 / resolution
    extra = rng.uniform(1.3, 1.8)
    a = max(half_w * math.sqrt(2) * extra, least)
    b = max(half_h * math.sqrt(2) * extra, least)
    reach = int(math.ceil(1.2 * max(a, b))) + 1
    row, col = int(math.floor(centre_r)) - reach, int(math.floor(centre_c)) - reach
    yy, xx = np.mgrid[0 : 2 * reach + 1, 0 : 2 * reach + 1].astype(np.float64)
    dy, dx = (yy + row + 0.5 - centre_r) / b, (xx + col + 0.5 - centre_c) / a
    orders = np.arange(2, 6)
    amplitudes = rng.dirichlet(np.ones(orders.size)) * 0.2
    phases = rng.uniform(0.0, 2 * math.pi, orders.size)
    outline = 1.0 + np.tensordot(amplitudes, np.cos(orders[:, None, None] * np.arctan2(dy, dx) + phases[:, None, None]), axes=1)
    rho = np.hypot(dx, dy) / outline
    thickness = np.where(rho <= 1.0, 2 + np.rint(253 * np.clip((1.0 - rho) / 0.5, 0.0, 1.0)), 0).astype(np.uint8)
    inside = thickness[rows.start - row : rows.stop - row, cols.start - col : cols.stop - col]
    np.maximum(inside, 2, out=inside)  # the window is covered whatever the outline
    return row, col, thickness


def _with_cover(sky: np.ndarray, cloud: tuple[int, int, np.ndarray], offset: np.ndarray) -> np.ndarray:
    """A copy of ``sky`` with ``cloud`` and its shadow added."""
    row, col, thickness = cloud
    out = sky.copy()
    rs, cs, part = paste(out, thickness, row, col)
    np.maximum(out[rs, cs], part, out=out[rs, cs])
    shadow = np.zeros(sky.shape, dtype=bool)
    rs, cs, part = paste(shadow, thickness > 0, row + int(offset[0]), col + int(offset[1]))
    shadow[rs, cs] = part
    out[shadow & (out == 0)] = SKY_SHADOW
    return out


def _clear(skies: dict[int, np.ndarray], index: int, window: Window) -> bool:
    sky = skies.get(index)
    return sky is None or not sky[window].any()


def schedule(
    rng: np.random.Generator,
    planted: list[Planted],
    skies: dict[int, np.ndarray],
    offsets: np.ndarray,
    shape: tuple[int, int],
    first_monitor: int,
    hidden_share: float,
    resolution: float,
) -> list[int]:
    """Choose each clearing's appearance date index; add cover clouds to ``skies`` in place.

    About ``hidden_share`` of the clearings (rounded) are hidden by a cloud on their first
    date and seen clear on the next one; a clearing that finds no such date is scheduled as
    a visible one instead. Appearance indices lie in ``[first_monitor, n_dates - 3]``.

    Returns
    -------
    list of int
        The appearance date index of each planted clearing, in ``planted`` order.
    """
    n_dates, count = len(offsets), len(planted)
    last = n_dates - 3
    span = last - first_monitor + 1
    strata = (np.arange(count) + rng.uniform(0.0, 1.0, count)) / max(count, 1)
    targets = first_monitor + np.floor(rng.permutation(strata) * span)
    hidden = set(int(i) for i in rng.choice(count, size=round(count * hidden_share), replace=False))
    windows = [p.window(shape, WINDOW_MARGIN) for p in planted]
    reserved: dict[int, list[Window]] = defaultdict(list)  # windows that must stay clear on a date
    appears = [-1] * count

    def ordered(target: float, stop: int, prefer_cloudy: bool) -> list[int]:
        days = np.arange(first_monitor, stop + 1)
        key = np.abs(days - target) + rng.uniform(0.0, 0.1, days.size)
        if prefer_cloudy:
            key += np.array([0.0 if int(d) in skies else 2.5 for d in days])
        return [int(d) for d in days[np.argsort(key)]]

    for j in sorted(hidden):
        for day in ordered(targets[j], last - 1, prefer_cloudy=True):
            if not _clear(skies, day + 1, windows[j]):
                continue
            sky = skies.get(day, np.zeros(shape, dtype=np.uint8))
            proposal = _with_cover(sky, cover_cloud(rng, windows[j], resolution), offsets[day])
            if any(proposal[w].any() for w in reserved[day]):
                continue
            skies[day] = proposal
            reserved[day + 1].append(windows[j])
            appears[j] = day
            break
        else:
            logger.debug("clearing %d: no date to hide it on; scheduled as visible", j)
    for j in range(count):
        if appears[j] >= 0:
            continue
        days = ordered(targets[j], last, prefer_cloudy=False)
        clear = [d for d in days if _clear(skies, d, windows[j])]
        if clear:
            appears[j] = clear[0]
        else:  # every candidate date is cloudy over it: open a hole in the cloud
            appears[j] = days[0]
            skies[days[0]][windows[j]] = 0
            logger.debug("clearing %d: cleared the sky over it on date %d", j, days[0])
    return appears
