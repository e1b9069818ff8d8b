"""An evaluation generator for forest-loss detectors, written from the phenomena, not from any detector.

It judges the change detector, so it shares nothing with it: no constants, masks, thresholds or
dating rules, and nothing here imports ``geo``. The truth of a scene (every loss event's footprint
and the day its canopy was cut, selective-logging gaps and trails, and per pixel which confounder
touched it) is drawn first and rendered afterwards.

What a scene holds, and how strong each confounder is (``spectra``, ``landscape``, ``sky``,
``scenes`` hold the numbers):

* **Spectra vary per seed**: every class's value in every band is multiplied by its own factor,
  uniform in 1 ± 0.25; per pixel a fixed texture (lognormal, sd ~6 %) and per date noise (sd
  2.5 %) and a scene-wide illumination factor (0.94-1.06).
* **Seasons shift between years**: each year moves leaf-off, crop calendars and floods by up to
  ± 35 days. Evergreen forest dips by up to 11 % in canopy in the dry season; deciduous forest
  loses 45-75 % of its canopy for ~100 days; rubber 55-85 % for ~45 days (wintering).
* **Multi-year and one-year baselines**: 1, 2 or 3 baseline years and one monitoring year, 8 (or
  12, monsoon scene) acquisitions a year at irregular dates; 10 % of dates miss a corner (no data).
* **Crops and shifting cultivation**: rectangular parcels (two cycles a year, bare soil between),
  parcels inside the forest, swidden plots inside what a baseline calls forest (slash and burn
  down to 5 % canopy for ~3 months each dry season, green fallow otherwise).
* **Water**: a lake and a river whose level rises 0.5-1.1 m in the wet season; in flood scenes
  the monitoring year adds 0.6-1.2 m (riparian forest stands in water: 55 % water in the pixel's
  spectrum) and, in the water control, the dry season recedes 0.5-1.0 m below any baseline level
  (bed laid bare). Margin and river water is turbid on 60 % of dates.
* **Sky**: opaque clouds with thin rims (opacity 0-1), their shadows cast 8-40 px away (a full
  shadow keeps 25 % of the light), haze with a gradient across the scene (depth up to 0.3-0.9:
  + 0.085 blue ... + 0.003 B12 per unit, direct beam - 30 % blue ... - 2 % B12).
* **SCL errors, both ways**: cloud of opacity < 0.35 and all haze labelled clear; shadows labelled
  3 on only 45 % of dates (else vegetation, or dark); turbid water labelled bare or vegetation
  (60 % of such pixels on a date); flooded vegetation labelled vegetation or dark (70 %); bright
  ground (roads, settlements, bare crops) labelled cloud on ~1 date in 5 (every other date in the
  SCL control).
* **Roads and settlements**: 1-2.5 px roads wandering across, with settlements and grass.
* **Loss**: clearings (log-uniform sizes per scene, 0.1-6 ha), felled over 0-25 days, 30 % burnt
  (dark for 60 days), then bare slash regrowing to 20-70 % grass over 150-400 days; selective
  logging: 10 m skid trails (canopy 25-45 % opened) with 0.05-0.3 ha gaps (60-90 % of the canopy
  taken) every so often along them, closing slowly.
* **Controls**: one scene per confounder (``control_crops``, ``control_water``,
  ``control_haze``, ``control_shadow``, ``control_scl``, ``control_leaf_off``,
  ``control_roads``), with no loss at all.

Tuning and test cases are fixed in :mod:`synthetic.evaluation.scenes` (:data:`TUNING_CASES`,
:data:`TEST_CASES`); the test seeds are never used to choose a threshold. Scenes default to
256 x 256 pixels (the test run); benchmarks render 1024 x 1024. :mod:`synthetic.evaluation.scoring`
scores any detector's alerts against the truth.
"""

from synthetic.evaluation.scenes import (
    CONFOUNDERS,
    CONTROL_SCENES,
    MAIN_SCENES,
    SCENES,
    TEST_CASES,
    TEST_SEEDS,
    TUNING_CASES,
    EvalScene,
    generate,
)

__all__ = ["CONFOUNDERS", "CONTROL_SCENES", "MAIN_SCENES", "SCENES", "TEST_CASES", "TEST_SEEDS", "TUNING_CASES", "EvalScene", "generate"]
