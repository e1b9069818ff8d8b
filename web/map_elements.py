"""folium elements of the map page: API-backed feature layers, the legend/status controls, the banner.

Feature data is never embedded in the page. Each :class:`ApiFeatureLayer` renders a call to
``ecowatch.apiLayer`` (``web/static/ecowatch.js``), which creates an empty ``L.geoJSON`` layer
that fetches ``/api/layers/<name>/features?bbox=`` for the visible bounds when it is added to
the map and after every ``moveend``; popups, tooltips and controls are built in
``web/static/ecowatch-dom.js``. Because it is a folium ``Layer``, folium's
``LayerControl`` lists it like any other overlay.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from typing import Any

from branca.element import Element
from folium.elements import JSCSSMixin
from folium.map import Layer
from folium.template import Template
from markupsafe import escape

logger = logging.getLogger(__name__)

_OWN_JS = [
    ("leaflet_markercluster_js", "vendor/leaflet.markercluster/leaflet.markercluster.js"),
    ("ecowatch_dom_js", "ecowatch-dom.js"), ("ecowatch_points_js", "ecowatch-points.js"), ("ecowatch_state_js", "ecowatch-state.js"),
    ("ecowatch_coords_js", "ecowatch-coords.js"), ("ecowatch_imagery_js", "ecowatch-imagery.js"),
    ("ecowatch_print_js", "ecowatch-print.js"), ("ecowatch_js", "ecowatch.js"),
]
_OWN_CSS = [("leaflet_markercluster_css", "vendor/leaflet.markercluster/MarkerCluster.css"), ("ecowatch_css", "ecowatch.css")]

SYNTHETIC_NOTE = "The demo's imagery, clearings and seizures are synthetic"


class ApiFeatureLayer(JSCSSMixin, Layer):
    """An overlay whose features the browser fetches from the API by bounding box.

    Parameters
    ----------
    spec
        The layer's description from :func:`web.layer_specs.layer_spec`.
    features_url
        URL of the layer's features endpoint (without query string).
    order
        Position in the draw stack (0 = bottom); the layer gets its own Leaflet pane with this
        z-order, so re-fetched features never end up above the layers drawn over them.
    show
        Whether the layer is on when the page opens.
    """

    _template = Template(
        """
        {% macro script(this, kwargs) %}
            var {{ this.get_name() }} = ecowatch.apiLayer(
                {{ this._parent.get_name() }},
                {{ this.spec|tojson }}
            );
        {% endmacro %}
        """
    )

    default_js = _OWN_JS
    default_css = _OWN_CSS

    def __init__(self, spec: dict[str, Any], features_url: str, order: int, show: bool = True) -> None:
        super().__init__(name=str(spec["title"]), overlay=True, control=True, show=show)
        self._name = "ApiFeatureLayer"
        self.spec = {**spec, "url": features_url, "order": order}


class MapControls(JSCSSMixin):
    """The legend (one swatch per layer, from its style), the loading/status line, the filter
    panel, the search box and the pointer's coordinates.

    Built in the browser from the same layer specs, with DOM calls only (no HTML strings).
    ``options`` gives the page's script the filter names and choices (:mod:`layers.filters`)
    and the URLs it calls (search, imagery).
    """

    _template = Template(
        """
        {% macro script(this, kwargs) %}
            ecowatch.controls({{ this._parent.get_name() }}, {{ this.specs|tojson }}, {{ this.options|tojson }});
        {% endmacro %}
        """
    )

    default_js = _OWN_JS
    default_css = _OWN_CSS

    def __init__(self, specs: Sequence[dict[str, Any]], options: dict[str, Any] | None = None) -> None:
        super().__init__()
        self._name = "MapControls"
        self.specs = list(specs)
        self.options = dict(options or {})


def synthetic_banner(titles: Sequence[str]) -> Element:
    """A note across the top of the page naming the layers whose data are synthetic.

    Rendered server-side (escaped), so it shows even before any script runs.
    """
    listed = ", ".join(str(escape(t)) for t in titles)
    html = (
        '<div class="ew-banner" id="ew-synthetic-note" role="note">'
        f"<strong>Synthetic data.</strong> {escape(SYNTHETIC_NOTE)}: generated for demonstration, "
        f"not observed. <span class=\"ew-banner-layers\">Synthetic layers: {listed}.</span></div>"
    )
    return Element(html)
