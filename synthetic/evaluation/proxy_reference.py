"""Scoring alerts against a proxy reference of cut patches on a real series (e.g. Romania).

The rules the issue fixes for the real Romania series, on any label grid:

* a **patch** is a group of 8-connected proxy-cut pixels (codes ``cut_codes``, 1-2 in the
  Romania reference) of at least ``min_patch_px`` pixels (50 at 10 m: 0.5 ha); it is **found**
  when at least 30 % of its pixels lie inside alerts;
* an alert is **on cut pixels** when at least 20 % of its pixels lie on proxy-cut pixels or their
  8 neighbours;
* pixel F1 of alert pixels against proxy-cut pixels.

No detector code is used: alerts come in as a label raster (0 none, 1..n alert ids) on the
reference's grid.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
from numpy.typing import NDArray

PATCH_FOUND_SHARE = 0.30
ALERT_ON_CUT_SHARE = 0.20


def components8(mask: NDArray[np.bool_]) -> NDArray[np.int32]:
    """Labels 1..n of the 8-connected groups of ``mask`` (0 elsewhere); a plain flood fill."""
    labels = np.zeros(mask.shape, np.int32)
    rows, cols = mask.shape
    n = 0
    for r0, c0 in zip(*np.nonzero(mask), strict=True):
        if labels[r0, c0]:
            continue
        n += 1
        labels[r0, c0] = n
        stack = [(int(r0), int(c0))]
        while stack:
            r, c = stack.pop()
            for dr in (-1, 0, 1):
                for dc in (-1, 0, 1):
                    rr, cc = r + dr, c + dc
                    if 0 <= rr < rows and 0 <= cc < cols and mask[rr, cc] and not labels[rr, cc]:
                        labels[rr, cc] = n
                        stack.append((rr, cc))
    return labels


@dataclass(frozen=True)
class ProxyScore:
    """Patches found, alerts on cut pixels, pixel F1."""

    patches: int
    patches_found: int
    alerts: int
    alerts_on_cut: int
    pixel_f1: float

    @property
    def on_cut_share(self) -> float:
        return self.alerts_on_cut / self.alerts if self.alerts else 1.0

    def line(self) -> str:
        return (f"patches found {self.patches_found} of {self.patches}, alerts on cut pixels {self.alerts_on_cut} of {self.alerts} "
                f"({100 * self.on_cut_share:.0f} %), pixel F1 {self.pixel_f1:.2f}")


def score_proxy(reference: NDArray[np.integer], alerts: NDArray[np.integer], cut_codes: Sequence[int] = (1, 2),
                min_patch_px: int = 50) -> ProxyScore:
    """Score an alert label raster against a proxy reference on the same grid."""
    if reference.shape != alerts.shape:
        raise ValueError(f"reference {reference.shape} and alerts {alerts.shape} are not on one grid")
    cut = np.isin(reference, list(cut_codes))
    patches = components8(cut)
    sizes = np.bincount(patches.ravel())
    big = [i for i in range(1, sizes.size) if sizes[i] >= min_patch_px]
    inside = np.bincount(patches[alerts > 0].ravel(), minlength=sizes.size)
    found = sum(inside[i] >= PATCH_FOUND_SHARE * sizes[i] for i in big)
    near = cut.copy()
    near[1:] |= cut[:-1]
    near[:-1] |= cut[1:]
    row = near.copy()
    near[:, 1:] |= row[:, :-1]
    near[:, :-1] |= row[:, 1:]
    n_alerts = int(alerts.max(initial=0))
    a_size = np.bincount(alerts.ravel(), minlength=n_alerts + 1)
    a_on = np.bincount(alerts[near].ravel(), minlength=n_alerts + 1)
    present = [i for i in range(1, n_alerts + 1) if a_size[i] > 0]
    on = sum(a_on[i] >= ALERT_ON_CUT_SHARE * a_size[i] for i in present)
    flagged = alerts > 0
    tp = int((flagged & cut).sum())
    denom = int(flagged.sum() + cut.sum())
    return ProxyScore(len(big), int(found), len(present), int(on), 2 * tp / denom if denom else 1.0)
