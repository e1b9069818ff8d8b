"""Scoring a detector's alerts against an evaluation scene's truth.

The rules are those the issue states for the real Romania series, applied to the generator's
truth, so that synthetic and real figures mean the same thing:

* a truth **clearing is found** when at least 30 % of its pixels lie inside alerts; recall is
  given for clearings of at least 1 ha and for smaller ones separately;
* an **alert is right** when at least 20 % of its pixels lie on pixels of any loss event of the
  monitoring year (clearing, logging gap or skid trail) or their 8 neighbours; object precision is
  right alerts over all alerts;
* **pixel F1**: alert pixels against the monitoring year's clearing pixels; logging pixels count
  neither way;
* **false-positive hectares** are the alert pixels on no loss event (nor next to one), each put to
  the first confounder of :data:`synthetic.evaluation.scenes.CONFOUNDERS` that touched it, else
  "other";
* **degradation recall**: logging gaps found (>= 30 % of their pixels in alerts) over all gaps.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from dataclasses import dataclass, field

import numpy as np
from numpy.typing import NDArray
from rasterio.features import rasterize

from synthetic.evaluation.landscape import PIXEL_HA
from synthetic.evaluation.scenes import CONFOUNDERS, EvalScene

logger = logging.getLogger(__name__)

FOUND_SHARE = 0.30
RIGHT_SHARE = 0.20
BIG_HA = 1.0


@dataclass
class SceneScore:
    """Counts for one scene and one set of alerts."""

    name: str
    seed: int
    n_alerts: int = 0
    right_alerts: int = 0
    big_truth: int = 0
    big_found: int = 0
    small_truth: int = 0
    small_found: int = 0
    gaps: int = 0
    gaps_found: int = 0
    pix_tp: int = 0
    pix_fp: int = 0
    pix_fn: int = 0
    alert_ha: float = 0.0
    fp_ha: dict[str, float] = field(default_factory=dict)

    @property
    def fp_total_ha(self) -> float:
        return sum(self.fp_ha.values())


def alert_labels(scene: EvalScene, geometries: Sequence[object]) -> NDArray[np.int32]:
    """Rasterise alert polygons (in the scene's CRS) to ids 1..n on the scene grid (all touched: no)."""
    shape = scene.landcover.shape
    if not len(geometries):
        return np.zeros(shape, np.int32)
    return rasterize([(g, i) for i, g in enumerate(geometries, start=1)], out_shape=shape, transform=scene.transform, dtype="int32")


def _grow(mask: NDArray[np.bool_]) -> NDArray[np.bool_]:
    out = mask.copy()
    out[1:] |= mask[:-1]
    out[:-1] |= mask[1:]
    row = out.copy()
    out[:, 1:] |= row[:, :-1]
    out[:, :-1] |= row[:, 1:]
    return out


def score_alerts(scene: EvalScene, labels: NDArray[np.int32]) -> SceneScore:
    """Score alerts given as a label raster on the scene grid (0 = no alert, 1..n = alert id)."""
    s = SceneScore(scene.name, scene.seed)
    ev = scene.events
    mon_ids = set(ev.loc[ev["monitoring"], "id"].astype(int))
    truth = scene.event_labels
    loss = np.isin(truth, list(mon_ids)) if mon_ids else np.zeros(truth.shape, bool)
    near_loss = _grow(loss)
    n_alerts = int(labels.max(initial=0))
    alerted = labels > 0
    if n_alerts:
        size = np.bincount(labels.ravel(), minlength=n_alerts + 1)
        on = np.bincount(labels[near_loss].ravel(), minlength=n_alerts + 1)
        present = size[1:] > 0
        s.n_alerts = int(present.sum())
        s.right_alerts = int(((on[1:] >= RIGHT_SHARE * size[1:]) & present).sum())
    n_ids = int(max(truth.max(initial=0), ev["id"].max() if len(ev) else 0)) + 1
    covered = np.bincount(truth[alerted].ravel(), minlength=n_ids)
    total = np.bincount(truth.ravel(), minlength=n_ids)
    for row in ev.itertuples():
        if not row.monitoring:
            continue
        found = bool(total[row.id]) and covered[row.id] >= FOUND_SHARE * total[row.id]
        if row.kind == "clearing":
            if row.area_ha >= BIG_HA:
                s.big_truth += 1
                s.big_found += int(found)
            else:
                s.small_truth += 1
                s.small_found += int(found)
        elif row.kind == "gap":
            s.gaps += 1
            s.gaps_found += int(found)
    cleared_ids = list(ev.loc[ev["monitoring"] & (ev["kind"] == "clearing"), "id"].astype(int))
    cleared = np.isin(truth, cleared_ids) if cleared_ids else np.zeros(truth.shape, bool)
    logging_px = loss & ~cleared
    s.pix_tp = int((alerted & cleared).sum())
    s.pix_fp = int((alerted & ~cleared & ~logging_px).sum())
    s.pix_fn = int((~alerted & cleared).sum())
    s.alert_ha = float(alerted.sum() * PIXEL_HA)
    false = alerted & ~near_loss
    left = false.copy()
    for name in CONFOUNDERS:
        hit = left & scene.confounder_mask(name)
        if hit.any():
            s.fp_ha[name] = float(hit.sum() * PIXEL_HA)
            left &= ~hit
    if left.any():
        s.fp_ha["other"] = float(left.sum() * PIXEL_HA)
    return s


@dataclass(frozen=True)
class Pooled:
    """Figures pooled over scenes."""

    precision: float
    recall_big: float
    recall_small: float
    pixel_f1: float
    degradation_recall: float
    n_alerts: int
    big_truth: int
    fp_ha: dict[str, float]


def pool(scores: Sequence[SceneScore]) -> Pooled:
    """Pool counts over ``scores`` (precision is 1 when there is no alert at all)."""
    n = sum(s.n_alerts for s in scores)
    right = sum(s.right_alerts for s in scores)
    tp, fp, fn = (sum(getattr(s, f) for s in scores) for f in ("pix_tp", "pix_fp", "pix_fn"))
    big, big_f = sum(s.big_truth for s in scores), sum(s.big_found for s in scores)
    small, small_f = sum(s.small_truth for s in scores), sum(s.small_found for s in scores)
    gaps, gaps_f = sum(s.gaps for s in scores), sum(s.gaps_found for s in scores)
    fp_ha: dict[str, float] = {}
    for s in scores:
        for k, v in s.fp_ha.items():
            fp_ha[k] = fp_ha.get(k, 0.0) + v
    return Pooled(right / n if n else 1.0, big_f / big if big else float("nan"), small_f / small if small else float("nan"),
                  2 * tp / (2 * tp + fp + fn) if tp + fp + fn else 1.0, gaps_f / gaps if gaps else float("nan"), n, big, fp_ha)
