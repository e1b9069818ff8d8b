"""A 0-100 risk score for each clearing, from configurable weights, stored with its reasons."""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import numpy as np
import pandas as pd

DEFAULT_WEIGHTS: Mapping[str, int] = {
    "protected_area": 45, "concession_not_valid": 35, "outside_concessions": 30, "purpose_mismatch": 25,
    "spills_over_concession": 20, "near_border": 10, "near_crossing": 10, "near_corridor": 5,
    "no_concession_data": 5, "inside_concession": 0, "high_confidence": 10, "per_log2_ha": 2,
}


def risk_scores(
    flags: Sequence[Sequence[str]],
    confidence: Sequence[str],
    area_ha: Sequence[float],
    weights: Mapping[str, int] = DEFAULT_WEIGHTS,
) -> pd.DataFrame:
    """Risk 0-100 and its reasons ("protected_area +45", ...) per clearing.

    The score adds the weight of each flag, ``high_confidence`` when the clearing is confirmed,
    and ``per_log2_ha`` points per doubling of its area (``log2(1 + ha)``), capped at 100.
    Flags without a weight add nothing.
    """
    risks, why = [], []
    for codes, conf, ha in zip(flags, confidence, area_ha, strict=True):
        parts = [(c, int(weights.get(c, 0))) for c in codes]
        if conf == "high":
            parts.append(("high confidence", int(weights.get("high_confidence", 0))))
        size = float(weights.get("per_log2_ha", 0)) * float(np.log2(1.0 + max(float(ha or 0.0), 0.0)))
        parts.append((f"{float(ha or 0):.1f} ha", int(round(size))))
        parts = [(c, w) for c, w in parts if w]
        total = sum(w for _, w in parts)
        risks.append(int(min(100, max(0, total))))
        why.append([f"{c} {w:+d}" for c, w in parts] + ([f"capped at 100 (sum {total})"] if total > 100 else []))
    return pd.DataFrame({"risk": risks, "risk_reasons": why})
