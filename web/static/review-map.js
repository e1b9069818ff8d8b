/* The small map of a clearing's page: its outline (from the page's data attribute), no basemap. */
(function () {
  "use strict";
  const el = document.getElementById("ew-mini-map");
  if (!el || !window.L) return;
  const data = JSON.parse(el.dataset.geojson);
  const styles = {
    clearing: {color: "#d50000", weight: 2, fillColor: "#ff1744", fillOpacity: 0.35},
    concessions: {color: "#b8860b", weight: 1.5, fillColor: "#f0c040", fillOpacity: 0.15},
    protected_areas: {color: "#2e7d32", weight: 1.5, fillColor: "#66bb6a", fillOpacity: 0.15},
  };
  const kind = (f) => (f.properties && f.properties.kind) || "clearing";
  const map = L.map(el, {zoomControl: true, attributionControl: false, maxZoom: 19});
  const all = (data.features || [data]);
  // what it touches under, the clearing on top
  L.geoJSON(all.filter((f) => kind(f) !== "clearing"), {style: (f) => styles[kind(f)] || styles.concessions}).addTo(map);
  const layer = L.geoJSON(all.filter((f) => kind(f) === "clearing"), {
    style: styles.clearing,
    pointToLayer: (f, latlng) => L.circleMarker(latlng, {radius: 7, color: "#d50000", weight: 2, fillOpacity: 0.4}),
  }).addTo(map);
  const bounds = layer.getBounds();
  if (bounds.isValid()) map.fitBounds(bounds.pad(1.5), {maxZoom: 16});
  L.control.scale({imperial: false}).addTo(map);
  window.ecowatchReviewMap = map;
})();
