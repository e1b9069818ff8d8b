"""The change detector on the independent evaluation generator (synthetic/evaluation/).

Prints, per case and pooled over the main scenes: every alert (low and high) and confirmed (high)
alerts only — object precision, recall of clearings >= 1 ha and < 1 ha, pixel F1 — the false-
positive hectares per confounder, each control scene's alert hectares, and degradation recall.
Run from the repository root::

    python benchmarks/bench_accuracy.py --quick      # the test cases at 128 px (CI)
    python benchmarks/bench_accuracy.py              # the test cases at 256 px (what the tests pin)
    python benchmarks/bench_accuracy.py --full       # the test cases at 1024 px
    python benchmarks/bench_accuracy.py --tuning     # the tuning cases (the only ones to tune on)
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from synthetic.evaluation import TEST_CASES, TUNING_CASES
from synthetic.evaluation.scoring import pool
from synthetic.evaluation_run import CaseScore, run_cases


def report(scores: list[CaseScore]) -> None:
    print(f"{'case':34s} {'alerts':>6s} {'P':>5s} {'R>=1':>5s} {'R<1':>5s} {'pxF1':>5s} {'FP ha':>6s} | high: {'P':>5s} {'R>=1':>5s} {'FP ha':>6s}  FP by cause (all alerts)")
    for c in scores:
        e, h = pool([c.every]), pool([c.high])
        causes = ", ".join(f"{k} {v:.1f}" for k, v in sorted(c.every.fp_ha.items(), key=lambda kv: -kv[1]))
        name = f"{c.case[0]} s{c.case[1]} {c.case[2]}y"
        print(f"{name:34s} {e.n_alerts:6d} {e.precision:5.2f} {e.recall_big:5.2f} {e.recall_small:5.2f} {e.pixel_f1:5.2f} {c.every.fp_total_ha:6.1f} | "
              f"      {h.precision:5.2f} {h.recall_big:5.2f} {c.high.fp_total_ha:6.1f}  {causes}")
    main = [c for c in scores if not c.case[0].startswith("control_")]
    controls = [c for c in scores if c.case[0].startswith("control_")]
    for label, pick in (("all alerts", "every"), ("confirmed (high)", "high")):
        p = pool([getattr(c, pick) for c in main])
        fp = ", ".join(f"{k} {v:.1f}" for k, v in sorted(p.fp_ha.items(), key=lambda kv: -kv[1])) or "none"
        print(f"main scenes, {label}: precision {p.precision:.3f} ({p.n_alerts} alerts), recall >= 1 ha {p.recall_big:.3f} "
              f"({p.big_truth} clearings), recall < 1 ha {p.recall_small:.3f}, pixel F1 {p.pixel_f1:.3f}, "
              f"degradation recall {p.degradation_recall:.3f}; FP ha by cause: {fp}")
    for c in controls:
        print(f"control {c.case[0]:18s}: all alerts {c.every.alert_ha:6.2f} ha, confirmed {c.high.alert_ha:6.2f} ha")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--quick", action="store_true", help="128 px scenes")
    parser.add_argument("--full", action="store_true", help="1024 px scenes")
    parser.add_argument("--tuning", action="store_true", help="the tuning cases instead of the test cases")
    args = parser.parse_args()
    n = 128 if args.quick else 1024 if args.full else 256
    cases = list(TUNING_CASES if args.tuning else TEST_CASES)
    t0 = time.perf_counter()
    scores = run_cases(cases, n=n)
    report(scores)
    print(f"{len(cases)} {'tuning' if args.tuning else 'test'} cases at {n} px in {time.perf_counter() - t0:.1f} s")


if __name__ == "__main__":
    main()
