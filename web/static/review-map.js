/* The small map of a clearing's page: its outline (from the page's data attribute), no basemap. */
(function () {
  "use strict";
  const el = document.getElementById("ew-mini-map");
  if (!el || !window.L) return;
  const feature = JSON.parse(el.dataset.geojson);
  const map = L.map(el, {zoomControl: true, attributionControl: false, maxZoom: 19});
  const layer = L.geoJSON(feature, {
    style: {color: "#d50000", weight: 2, fillColor: "#ff1744", fillOpacity: 0.35},
    pointToLayer: (f, latlng) => L.circleMarker(latlng, {radius: 7, color: "#d50000", weight: 2, fillOpacity: 0.4}),
  }).addTo(map);
  const bounds = layer.getBounds();
  if (bounds.isValid()) map.fitBounds(bounds.pad(1.5), {maxZoom: 16});
  L.control.scale({imperial: false}).addTo(map);
  window.ecowatchReviewMap = map;
})();
