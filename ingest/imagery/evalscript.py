"""The evalscript the ``sentinelhub`` provider sends with every Process API request.

It returns one 9-band UINT16 image: the eight bands of the cache layout as digital numbers —
harmonised reflectance x 10 000 (the request sets ``harmonizeValues``, so products of
processing baseline 04.00 and later carry no -1 000 offset) and SCL codes — then ``dataMask``
(1 where there is data, 0 elsewhere), which the provider turns into SCL 0 (no data).
"""

from __future__ import annotations

import logging

from ingest.imagery.cog import BANDS

logger = logging.getLogger(__name__)

OUTPUT_BANDS = (*BANDS, "dataMask")

EVALSCRIPT = f"""//VERSION=3
// ecowatch: Sentinel-2 L2A {" ".join(BANDS)} as harmonised DN (reflectance x 10000) and SCL codes, then dataMask
function setup() {{
  return {{
    input: [{{bands: [{", ".join(f'"{b}"' for b in OUTPUT_BANDS)}], units: "DN"}}],
    output: {{id: "default", bands: {len(OUTPUT_BANDS)}, sampleType: "UINT16"}}
  }};
}}
function evaluatePixel(s) {{
  return [{", ".join(f"s.{b}" for b in OUTPUT_BANDS)}];
}}
"""
